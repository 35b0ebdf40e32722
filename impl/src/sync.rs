//! The operations of the spec's [`SyncOp`] on this process's locks, events,
//! shared values, managers and proxies, and what a spawned child is handed
//! of them.

use crate::faults::Fault;
use crate::locks::{EventObject, LockHandOver, LockObject, LockRules};
use crate::manager::{self, ManagerObject, ProxyObject, Referent, Request};
use crate::shared_values::{IntsHandOver, SharedInts};
use crate::RefImpl;
use mpconform_spec::{CallError, ErrorKind, Handle, PyError, SyncOp, Value};
use serde::{Deserialize, Serialize};

/// One synchronisation or shared-state object, as this process holds it.
pub enum SyncObject {
    Lock(LockObject),
    Event(EventObject),
    Value(SharedInts),
    Array(SharedInts),
    Manager(ManagerObject),
    Proxy(ProxyObject),
}

/// What a spawned child is handed of one object.
#[derive(Debug, Serialize, Deserialize)]
pub enum SyncHandOver {
    Lock(LockHandOver),
    Event(usize),
    Value(IntsHandOver),
    Array(IntsHandOver),
    Manager(ManagerObject),
    Proxy(ProxyObject),
}

impl SyncObject {
    pub fn handover(&self) -> SyncHandOver {
        match self {
            SyncObject::Lock(l) => SyncHandOver::Lock(l.handover()),
            SyncObject::Event(e) => SyncHandOver::Event(e.offset()),
            SyncObject::Value(v) => SyncHandOver::Value(v.handover()),
            SyncObject::Array(a) => SyncHandOver::Array(a.handover()),
            SyncObject::Manager(m) => SyncHandOver::Manager(m.clone()),
            SyncObject::Proxy(p) => SyncHandOver::Proxy(p.clone()),
        }
    }

    pub fn from_handover(h: SyncHandOver) -> Result<SyncObject, PyError> {
        Ok(match h {
            SyncHandOver::Lock(l) => SyncObject::Lock(LockObject::from_handover(l)?),
            SyncHandOver::Event(offset) => SyncObject::Event(EventObject::at(offset)?),
            SyncHandOver::Value(v) => SyncObject::Value(SharedInts::from_handover(v)?),
            SyncHandOver::Array(a) => SyncObject::Array(SharedInts::from_handover(a)?),
            SyncHandOver::Manager(m) => SyncObject::Manager(m),
            SyncHandOver::Proxy(p) => SyncObject::Proxy(p),
        })
    }
}

fn wrong(h: Handle, what: &str) -> CallError {
    CallError::Broken(format!("{h} is not a live {what}"))
}

impl RefImpl {
    fn lock_rules(&self) -> LockRules {
        LockRules {
            any_release: self.fault(Fault::RlockAnyRelease),
            plain_reenters: self.fault(Fault::PlainLockReenters),
        }
    }

    fn lock_mut(&mut self, h: Handle) -> Result<&mut LockObject, CallError> {
        match self.sync.get_mut(&h) {
            Some(SyncObject::Lock(l)) => Ok(l),
            _ => Err(wrong(h, "lock")),
        }
    }

    fn event(&self, h: Handle) -> Result<&EventObject, CallError> {
        match self.sync.get(&h) {
            Some(SyncObject::Event(e)) => Ok(e),
            _ => Err(wrong(h, "event")),
        }
    }

    fn ints(&self, h: Handle, array: bool) -> Result<&SharedInts, CallError> {
        match (self.sync.get(&h), array) {
            (Some(SyncObject::Value(v)), false) => Ok(v),
            (Some(SyncObject::Array(a)), true) => Ok(a),
            _ => Err(wrong(h, if array { "array" } else { "value" })),
        }
    }

    fn add(&mut self, h: Handle, value: Handle, obj: SyncObject) -> Value {
        self.sync.insert(h, obj);
        Value::Handle(value)
    }

    pub(crate) fn sync_op(&mut self, op: &SyncOp) -> Result<Value, CallError> {
        use SyncOp::*;
        match op {
            LockNew { kind } => {
                let lock = LockObject::new(*kind, self.fault(Fault::LockPerProcess))?;
                if self.fault(Fault::SemaphoreLeftInShm) {
                    self.leave_named_semaphore()?;
                }
                let h = self.handle();
                Ok(self.add(h, h, SyncObject::Lock(lock)))
            }
            Acquire {
                lock,
                block,
                timeout,
            } => {
                let rules = self.lock_rules();
                let taken = self
                    .lock_mut(*lock)?
                    .acquire(block.unwrap_or(true), *timeout, rules);
                Ok(Value::Bool(taken))
            }
            Release { lock } => {
                let rules = self.lock_rules();
                self.lock_mut(*lock)?.release(rules)?;
                Ok(Value::None)
            }
            EventNew => {
                let event = EventObject::new()?;
                let h = self.handle();
                Ok(self.add(h, h, SyncObject::Event(event)))
            }
            EventSet { event } => {
                let one = self.fault(Fault::EventWakesOne);
                self.event(*event)?.set(one);
                Ok(Value::None)
            }
            EventClear { event } => {
                self.event(*event)?.clear();
                Ok(Value::None)
            }
            EventIsSet { event } => Ok(Value::Bool(self.event(*event)?.is_set())),
            EventWait { event, timeout } => Ok(Value::Bool(self.event(*event)?.wait(*timeout))),
            ValueNew { typecode, init } => {
                let v = SharedInts::new(typecode, &[*init], self.fault(Fault::ValueCopied))?;
                let h = self.handle();
                Ok(self.add(h, h, SyncObject::Value(v)))
            }
            ValueGet { value } => Ok(Value::Int(self.ints(*value, false)?.get(0))),
            ValueSet { value, to } => {
                self.ints(*value, false)?.set(0, *to);
                Ok(Value::None)
            }
            ValueAdd {
                value,
                delta,
                times,
                lock,
            } => {
                self.ints(*value, false)?;
                let rules = self.lock_rules();
                for _ in 0..*times {
                    if let Some(l) = lock {
                        self.lock_mut(*l)?.acquire(true, None, rules);
                    }
                    let v = self.ints(*value, false)?;
                    v.set(0, v.get(0) + delta);
                    if let Some(l) = lock {
                        self.lock_mut(*l)?.release(rules)?;
                    }
                }
                Ok(Value::None)
            }
            ArrayNew { typecode, init } => {
                let a = SharedInts::new(typecode, init, false)?;
                let h = self.handle();
                Ok(self.add(h, h, SyncObject::Array(a)))
            }
            ArrayGet { array } => Ok(Value::List(
                self.ints(*array, true)?
                    .all()
                    .into_iter()
                    .map(Value::Int)
                    .collect(),
            )),
            ArraySet { array, index, to } => {
                let a = self.ints(*array, true)?;
                let i = a.index(*index)?;
                a.set(i, *to);
                Ok(Value::None)
            }
            ManagerNew => {
                let m = manager::start(!self.fault(Fault::ManagerOutlivesOwner))?;
                let h = self.handle();
                Ok(self.add(h, h, SyncObject::Manager(m)))
            }
            ManagerNewAddress => {
                let m = manager::start(!self.fault(Fault::ManagerOutlivesOwner))?;
                let address = Value::Str(m.address.clone());
                let h = self.handle();
                self.sync.insert(h, SyncObject::Manager(m));
                Ok(address)
            }
            ManagerAddress { manager } => Ok(Value::Str(self.manager(*manager)?.address.clone())),
            ManagerShutdown { manager } => {
                let mut m = self.manager(*manager)?.clone();
                let result = self.links.shutdown(&mut m);
                self.sync.insert(*manager, SyncObject::Manager(m));
                result?;
                Ok(Value::None)
            }
            ProxyNew { manager, kind } => {
                let m = self.manager(*manager)?;
                if m.shut_down {
                    return Err(
                        PyError::new(ErrorKind::AssertionError, "server not yet started").into(),
                    );
                }
                let address = m.address.clone();
                let id = match self.links.ask(&address, &Request::Create(*kind))? {
                    Value::Int(id) => id,
                    other => {
                        return Err(CallError::Broken(format!(
                            "the manager answered {other} to a create"
                        )))
                    }
                };
                let local = self
                    .fault(Fault::ManagerLocalCopies)
                    .then(|| Referent::new(*kind));
                let proxy = ProxyObject {
                    address,
                    id,
                    kind: *kind,
                    local,
                };
                let h = self.handle();
                Ok(self.add(h, h, SyncObject::Proxy(proxy)))
            }
            ProxyAppend { proxy, item } => self.on_proxy(*proxy, |id| Request::Append {
                id,
                item: item.clone(),
            }),
            ProxySetItem { proxy, key, item } => self.on_proxy(*proxy, |id| Request::SetItem {
                id,
                key: key.clone(),
                item: item.clone(),
            }),
            ProxyGetItem { proxy, key } => self.on_proxy(*proxy, |id| Request::GetItem {
                id,
                key: key.clone(),
            }),
            ProxyContents { proxy } => self.on_proxy(*proxy, |id| Request::Contents { id }),
            other => Err(CallError::Unsupported(format!(
                "the reference does not know {other:?}"
            ))),
        }
    }

    fn manager(&self, h: Handle) -> Result<&ManagerObject, CallError> {
        match self.sync.get(&h) {
            Some(SyncObject::Manager(m)) => Ok(m),
            _ => Err(wrong(h, "manager")),
        }
    }

    /// Sends the proxy's request to its server, or, under a fault, applies
    /// it to the proxy's own copy.
    fn on_proxy(
        &mut self,
        h: Handle,
        request: impl FnOnce(i64) -> Request,
    ) -> Result<Value, CallError> {
        let Some(SyncObject::Proxy(p)) = self.sync.get_mut(&h) else {
            return Err(wrong(h, "proxy"));
        };
        let request = request(p.id);
        if let Some(local) = &mut p.local {
            let answer = match request {
                Request::Append { item, .. } => local.append(item),
                Request::SetItem { key, item, .. } => local.set_item(key, item),
                Request::GetItem { key, .. } => local.get_item(&key),
                Request::Contents { .. } => Ok(local.contents()),
                Request::Create(_) | Request::Shutdown => Ok(Value::None),
            };
            return Ok(answer?);
        }
        let address = p.address.clone();
        Ok(self.links.ask(&address, &request)?)
    }

    /// The manager finalizers of this process's exit path (priority 0, run
    /// first by `util._exit_function`): each manager it made is shut down.
    pub(crate) fn shutdown_own_managers(&mut self) {
        if self.fault(Fault::ManagerOutlivesOwner) {
            return;
        }
        let me = nix::unistd::getpid().as_raw();
        let handles: Vec<Handle> = self
            .sync
            .iter()
            .filter(|(_, o)| matches!(o, SyncObject::Manager(m) if m.owner == me && !m.shut_down))
            .map(|(h, _)| *h)
            .collect();
        for h in handles {
            if let Some(SyncObject::Manager(m)) = self.sync.get_mut(&h) {
                let _ = self.links.shutdown(m);
            }
        }
    }

    /// In a child after fork: locks are not held here, whatever the parent
    /// held (`SemLock._after_fork`).
    pub(crate) fn sync_after_fork(&mut self) {
        for o in self.sync.values_mut() {
            if let SyncObject::Lock(l) = o {
                l.after_fork();
            }
        }
    }

    /// A fault: a POSIX named semaphore as a port without `unlink_now`
    /// makes one, left in /dev/shm and held open.
    fn leave_named_semaphore(&mut self) -> Result<(), PyError> {
        let name = format!(
            "/sem.mp-ref-{}-{}",
            nix::unistd::getpid().as_raw(),
            self.next_handle
        );
        let fd = nix::sys::mman::shm_open(
            name.as_str(),
            nix::fcntl::OFlag::O_CREAT | nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_EXCL,
            nix::sys::stat::Mode::from_bits_truncate(0o600),
        )
        .map_err(crate::sys::os_error)?;
        self.leaked.push(fd);
        Ok(())
    }
}
