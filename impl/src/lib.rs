//! The reference implementation: a minimal Rust port of CPython 3.13's process
//! semantics (fork start method) on nix, driven through the spec's
//! [`Implementation`] trait, with fault switches that break it the way real
//! ports break.
//!
//! It runs inside the clause's process. Children interpret their programs in
//! plain Rust after fork, and the only threads it starts are queue feeders,
//! whose state a child forgets rather than uses.

mod arena;
mod channels;
mod child;
mod connection;
mod context;
pub mod faults;
mod futex;
mod ipc;
mod locks;
mod manager;
mod os_layer;
mod pool;
mod pool_codec;
mod process;
mod queues;
mod ring;
mod shared;
mod shared_values;
pub mod spawn;
mod status;
mod sync;
mod sys;
mod threads;
mod wire;

use channels::{Gate, ReportChannel};
use connection::Connection;
use mpconform_spec::{
    Call, CallError, Capability, ErrorKind, Handle, ImplInfo, Implementation, PyError, Reply, Value,
};
use queues::QueueObject;
use std::collections::{BTreeMap, BTreeSet};
use std::os::fd::OwnedFd;

pub use faults::{Fault, FaultSet};
use process::ProcessObject;
pub use spawn::init;

/// What multiprocessing knows of the process it runs in (`current_process()`).
#[derive(Debug, Clone)]
struct CurrentProcess {
    name: String,
    identity: Vec<u32>,
    daemon: bool,
    /// The next number `Process-N` gets.
    counter: u32,
    /// Name and pid of the process that started this one.
    parent: Option<(String, i32)>,
}

/// The reference implementation.
pub struct RefImpl {
    faults: FaultSet,
    next_handle: u64,
    current: CurrentProcess,
    processes: BTreeMap<Handle, ProcessObject>,
    /// `process._children`: started, not yet known to have been reaped.
    children: BTreeSet<Handle>,
    gates: BTreeMap<Handle, Gate>,
    fds: BTreeMap<Handle, OwnedFd>,
    reports: ReportChannel,
    /// What os.fork returned in this process, if it is a bare fork child.
    fork_return: Option<i32>,
    /// Labels of the exit handlers registered in this process.
    atexit: Vec<String>,
    /// Bare fork children, oldest first.
    bare_children: Vec<i32>,
    /// Descriptors a fault keeps open on purpose.
    leaked: Vec<OwnedFd>,
    queues: BTreeMap<Handle, QueueObject>,
    connections: BTreeMap<Handle, Connection>,
    /// Modules this process has loaded (where functions defined at run time
    /// live); unpickling a function from any other module fails.
    modules: BTreeSet<String>,
    /// The unfinished-task count, under a fault that keeps it per process.
    local_unfinished: i64,
    /// The default context's actual start method, once fixed.
    start_method: Option<String>,
    /// What code under `if __name__ == '__main__':` bound in this process.
    main_globals: BTreeMap<String, Value>,
    /// Locks, events, shared values, managers and proxies.
    sync: BTreeMap<Handle, sync::SyncObject>,
    /// This process's connections to managers' servers.
    links: manager::Links,
    /// Threads a child program started, and whether each is daemonic.
    threads: Vec<(bool, std::thread::JoinHandle<()>)>,
    /// Pools this process made, and the results their `apply_async` gave.
    pools: BTreeMap<Handle, pool::PoolObject>,
    pool_results: BTreeMap<Handle, pool::ResultHandle>,
}

impl RefImpl {
    pub fn new(faults: FaultSet) -> Result<RefImpl, PyError> {
        arena::open()?;
        let reports = ReportChannel::new()?;
        let mut imp = RefImpl::with_channel(faults, reports);
        if imp.fault(Fault::DefaultFixedTooEarly) {
            imp.fixed_method();
        }
        imp.ignore_sigchld_if_faulty()?;
        Ok(imp)
    }

    fn ignore_sigchld_if_faulty(&self) -> Result<(), PyError> {
        let faults = &self.faults;
        if faults.has(Fault::SigchldIgnored) {
            // SAFETY: setting a signal's disposition to SIG_IGN installs no handler code.
            unsafe {
                nix::sys::signal::signal(
                    nix::sys::signal::Signal::SIGCHLD,
                    nix::sys::signal::SigHandler::SigIgn,
                )
            }
            .map_err(sys::os_error)?;
        }
        Ok(())
    }

    /// A fresh implementation over an existing report channel.
    fn with_channel(faults: FaultSet, reports: ReportChannel) -> RefImpl {
        let first = if faults.has(Fault::NamesCountFromZero) {
            0
        } else {
            1
        };
        RefImpl {
            faults,
            next_handle: 1,
            current: CurrentProcess {
                name: "MainProcess".into(),
                identity: Vec::new(),
                daemon: false,
                counter: first,
                parent: None,
            },
            processes: BTreeMap::new(),
            children: BTreeSet::new(),
            gates: BTreeMap::new(),
            fds: BTreeMap::new(),
            reports,
            fork_return: None,
            atexit: Vec::new(),
            bare_children: Vec::new(),
            leaked: Vec::new(),
            queues: BTreeMap::new(),
            connections: BTreeMap::new(),
            modules: BTreeSet::new(),
            local_unfinished: 0,
            start_method: None,
            main_globals: BTreeMap::new(),
            sync: BTreeMap::new(),
            links: manager::Links::default(),
            threads: Vec::new(),
            pools: BTreeMap::new(),
            pool_results: BTreeMap::new(),
        }
    }

    fn fault(&self, fault: Fault) -> bool {
        self.faults.has(fault)
    }

    fn handle(&mut self) -> Handle {
        let h = Handle(self.next_handle);
        self.next_handle += 1;
        h
    }

    fn gate(&self, gate: Handle) -> Result<&Gate, CallError> {
        self.gates
            .get(&gate)
            .ok_or_else(|| CallError::Broken(format!("no gate {gate}")))
    }

    fn fd(&self, fd: Handle) -> Result<&OwnedFd, CallError> {
        self.fds.get(&fd).ok_or_else(|| {
            CallError::Raised(PyError::os(
                ErrorKind::OSError,
                libc::EBADF,
                "Bad file descriptor",
            ))
        })
    }
}

impl Implementation for RefImpl {
    fn describe(&mut self) -> ImplInfo {
        ImplInfo {
            name: "mpconform-ref".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            start_methods: self.start_methods(),
            capabilities: vec![
                Capability::ProcessClose,
                Capability::ProcessKill,
                Capability::ParentProcess,
                Capability::WaitstatusToExitcode,
                Capability::OsFork,
            ],
        }
    }

    fn call(&mut self, call: &Call) -> Reply {
        use Call::*;
        match call {
            UseStartMethod { method } => self.use_start_method(method),
            SetStartMethod { method, force } => self.set_start_method(method.as_deref(), *force),
            GetStartMethod { allow_none } => Ok(self.get_start_method(*allow_none)),
            GetAllStartMethods => {
                let mut methods = self.start_methods();
                if self.fault(Fault::StartMethodsDefaultLast) {
                    methods.reverse();
                }
                Ok(Value::List(methods.into_iter().map(Value::Str).collect()))
            }
            ContextStartMethod { method } => self.context_start_method(method.as_deref()),
            SetMainGlobal { name, value } => {
                self.main_globals.insert(name.clone(), value.clone());
                Ok(Value::None)
            }
            AtexitRegister { label } => {
                self.atexit.push(label.clone());
                Ok(Value::None)
            }
            GateNew => {
                let gate = Gate::new()?;
                let h = self.handle();
                self.gates.insert(h, gate);
                Ok(Value::Handle(h))
            }
            GateOpen { gate } => {
                self.gate(*gate)?.open()?;
                Ok(Value::None)
            }
            AwaitReport { label, timeout } => {
                let v = self.reports.take(label, sys::seconds(*timeout))?;
                Ok(v)
            }
            ReportsSoFar => Ok(Value::List(
                self.reports.labels()?.into_iter().map(Value::Str).collect(),
            )),
            ProcessNew { spec } => Ok(Value::Handle(self.new_process(spec))),
            ProcessStart { process } => self.start(*process).map(|_| Value::None),
            ProcessRun { process } => self.run_in_caller(*process),
            ProcessJoin { process, timeout } => self.join(*process, *timeout),
            ProcessIsAlive { process } => self.is_alive(*process).map(Value::Bool),
            ProcessPid { process } => self.pid(*process),
            ProcessExitcode { process } => self.exitcode(*process),
            ProcessName { process } => Ok(Value::Str(self.object(*process)?.name.clone())),
            ProcessDaemon { process } => Ok(Value::Bool(self.object(*process)?.daemon)),
            ProcessRepr { process } => self.repr(*process).map(Value::Str),
            ProcessTerminate { process } => self.terminate(*process),
            ProcessKill { process } => self.kill(*process),
            ProcessClose { process } => self.close(*process),
            ProcessSentinel { process } => self.sentinel(*process),
            ProcessSentinelReady { process, timeout } => {
                self.sentinel_ready(*process, *timeout).map(Value::Bool)
            }
            ProcessHoldsTarget { process } => {
                Ok(Value::Bool(self.object(*process)?.target.is_some()))
            }
            ProcessStderr { process } => self.captured_stderr(*process),
            ProcessStdout { process } => self.captured_stdout(*process),
            ActiveChildren => Ok(handles(self.active_children())),
            ChildrenSet => Ok(handles(self.children.iter().copied().collect())),
            CurrentProcessName => Ok(Value::Str(self.current.name.clone())),
            ParentProcessPid => Ok(self.parent_process_pid()),
            OsGetpid => Ok(Value::Int(nix::unistd::getpid().as_raw() as i64)),
            OsFork { child } => self.os_fork(child),
            OsWait => self.os_waitpid(-1, false, true),
            OsWaitpid { pid, nohang } => self.os_waitpid(*pid, *nohang, false),
            OsWaitstatusToExitcode { status } => {
                Ok(Value::Int(status::to_exitcode(*status, &self.faults)?))
            }
            OsPipe => self.os_pipe(),
            OsClose { fd } => self.os_close(*fd),
            OsWrite { fd, data } => {
                sys::write_all(self.fd(*fd)?, data)?;
                Ok(Value::Int(data.len() as i64))
            }
            OsRead { fd, max, timeout } => self.os_read(*fd, *max, *timeout),
            OsReadable { fd, timeout } => {
                use std::os::fd::AsFd;
                let ready = sys::readable(self.fd(*fd)?.as_fd(), Some(sys::seconds(*timeout)))?;
                Ok(Value::Bool(ready))
            }
            OsKill { pid, signal } => self.os_kill(*pid, *signal),
            Ipc(op) => self.ipc(op),
            Sync(op) => self.sync_op(op),
            Pool(op) => self.pool_op(op),
            other => Err(CallError::Unsupported(format!(
                "the reference does not know {other:?}"
            ))),
        }
    }
}

impl Drop for RefImpl {
    /// The main process's end (`util._exit_function`, run by atexit):
    /// daemonic children are terminated, the others awaited. Children never
    /// get here: they leave through `_exit`.
    fn drop(&mut self) {
        if self.current.parent.is_none() {
            self.run_atexit();
            self.exit_function();
            arena::close();
        }
    }
}

fn handles(list: Vec<Handle>) -> Value {
    Value::List(list.into_iter().map(Value::Handle).collect())
}
