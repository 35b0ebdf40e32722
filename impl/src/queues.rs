//! `Queue`, `JoinableQueue` and `SimpleQueue` as CPython 3.13's
//! `multiprocessing.queues` builds them, and `queue.Queue` for contrast: a
//! one-way pipe, a bounded slot count and read / write locks shared across
//! fork, and for `Queue` a feeder thread, started by the first put, that
//! writes the buffer to the pipe until the queue's private sentinel.

use crate::connection::fake_address;
use crate::faults::Fault;
use crate::ring::Ring;
use crate::shared::SharedSem;
use crate::sys::{readable, seconds, write_all};
use crate::wire::{frame, read_frame, Wire};
use crate::RefImpl;
use mpconform_spec::{CallError, ErrorKind, Handle, Item, PyError, QueueKind, Value};
use std::collections::VecDeque;
use std::os::fd::{BorrowedFd, FromRawFd, IntoRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

/// `SEM_VALUE_MAX` on Linux: the bound of a queue made with maxsize <= 0.
pub const SEM_VALUE_MAX: i64 = i32::MAX as i64;

/// The pipe's two ends, closed by whoever takes them first: the queue's
/// close path, the feeder at the sentinel, or the last owner's drop.
struct Ends {
    reader: AtomicI32,
    writer: AtomicI32,
}

impl Ends {
    fn borrow(end: &AtomicI32) -> Option<BorrowedFd<'_>> {
        let fd = end.load(Ordering::Acquire);
        // SAFETY: the descriptor stays open until swapped out of `end`, and
        // it is swapped out only by a close that no borrower races (a closed
        // queue refuses get and put before borrowing).
        (fd >= 0).then(|| unsafe { BorrowedFd::borrow_raw(fd) })
    }

    fn close(end: &AtomicI32) {
        let fd = end.swap(-1, Ordering::AcqRel);
        if fd >= 0 {
            // SAFETY: swapped out, so this is the only owner.
            drop(unsafe { OwnedFd::from_raw_fd(fd) });
        }
    }
}

impl Drop for Ends {
    fn drop(&mut self) {
        Ends::close(&self.reader);
        Ends::close(&self.writer);
    }
}

/// What the feeder takes from the buffer.
enum Buffered {
    /// A message, or the error pickling it raised.
    Item(Result<Vec<u8>, PyError>),
    /// The queue's own sentinel: nothing else stops the feeder.
    Sentinel,
}

struct Feeder {
    buffer: Sender<Buffered>,
    thread: Option<JoinHandle<()>>,
    /// The process the thread runs in: a copy inherited by fork names a
    /// thread that does not exist here and must never be joined.
    owner: i32,
}

/// The locks every process holding the queue shares.
struct SharedState {
    /// Where Queue's and JoinableQueue's messages travel.
    ring: Option<Ring>,
    slots: SharedSem,
    read_lock: SharedSem,
    write_lock: SharedSem,
    /// JoinableQueue's count of unfinished tasks.
    unfinished: Option<SharedSem>,
}

/// One queue object, as this process sees it.
pub(crate) struct QueueObject {
    kind: QueueKind,
    maxsize: i64,
    ends: Arc<Ends>,
    shared: Arc<SharedState>,
    feeder: Option<Feeder>,
    closed: bool,
    join_cancelled: bool,
    /// `queue.Queue`'s items: in this process's memory only.
    local: VecDeque<Vec<u8>>,
}

fn full() -> PyError {
    PyError::new(ErrorKind::Full, "")
}

fn empty() -> PyError {
    PyError::new(ErrorKind::Empty, "")
}

fn type_error(message: String) -> PyError {
    PyError::new(ErrorKind::TypeError, message)
}

impl RefImpl {
    fn queue(&self, h: Handle) -> Result<&QueueObject, PyError> {
        self.queues
            .get(&h)
            .ok_or_else(|| PyError::new(ErrorKind::RuntimeError, format!("no queue {h}")))
    }

    fn queue_mut(&mut self, h: Handle) -> Result<&mut QueueObject, PyError> {
        self.queues
            .get_mut(&h)
            .ok_or_else(|| PyError::new(ErrorKind::RuntimeError, format!("no queue {h}")))
    }

    pub(crate) fn queue_new(
        &mut self,
        kind: QueueKind,
        maxsize: Option<i64>,
    ) -> Result<Value, CallError> {
        if kind == QueueKind::Simple && maxsize.is_some() {
            return Err(type_error(
                "SimpleQueue.__init__() got an unexpected keyword argument 'maxsize'".into(),
            )
            .into());
        }
        let kind = if kind == QueueKind::Thread && self.fault(Fault::ThreadQueueShared) {
            QueueKind::Queue
        } else {
            kind
        };
        let requested = maxsize.unwrap_or(0);
        let maxsize = if requested <= 0 && !self.fault(Fault::NonpositiveMaxsizeLiteral) {
            SEM_VALUE_MAX
        } else {
            requested.max(0)
        };
        // SimpleQueue writes and reads its pipe directly; the others carry
        // their messages through the shared-memory pipe (see ring.rs) but
        // still hold a pipe's two ends, as CPython's do, so the descriptor
        // table shows what CPython's shows: two descriptors from Queue() on,
        // closed by the feeder once it has written everything before the
        // sentinel (Q08).
        let (reader, writer, ring) = match kind {
            QueueKind::Simple => {
                let (r, w) = crate::sys::pipe()?;
                (r.into_raw_fd(), w.into_raw_fd(), None)
            }
            QueueKind::Queue | QueueKind::Joinable => {
                let (r, w) = crate::sys::pipe()?;
                (r.into_raw_fd(), w.into_raw_fd(), Some(Ring::new()?))
            }
            QueueKind::Thread => (-1, -1, Some(Ring::new()?)),
        };
        let shared = SharedState {
            ring,
            slots: SharedSem::new(maxsize, maxsize)?,
            read_lock: SharedSem::new(1, 1)?,
            write_lock: SharedSem::new(1, 1)?,
            unfinished: match kind {
                QueueKind::Joinable => Some(SharedSem::new(0, SEM_VALUE_MAX)?),
                _ => None,
            },
        };
        let mut object = QueueObject {
            kind,
            maxsize,
            ends: Arc::new(Ends {
                reader: AtomicI32::new(reader),
                writer: AtomicI32::new(writer),
            }),
            shared: Arc::new(shared),
            feeder: None,
            closed: false,
            join_cancelled: false,
            local: VecDeque::new(),
        };
        let h = self.handle();
        if self.fault(Fault::FeederStartedEagerly)
            && matches!(kind, QueueKind::Queue | QueueKind::Joinable)
        {
            object.feeder = Some(self.start_feeder(&object));
        }
        self.queues.insert(h, object);
        Ok(Value::Handle(h))
    }

    /// Pickles `item` into a framed message.
    pub(crate) fn encode(&mut self, item: &Item) -> Result<Vec<u8>, PyError> {
        let wire = match item {
            Item::Data(v) => Wire::Data(v.clone()),
            Item::Filler(len) => Wire::Data(Value::Bytes(vec![b'x'; *len])),
            Item::Object => Wire::Object,
            Item::Unpicklable => {
                return Err(PyError::new(
                    ErrorKind::PicklingError,
                    "Can't pickle <function <lambda> at 0x7f5e00000000>: attribute lookup <lambda> on __main__ failed",
                ))
            }
            Item::Function { module, name } => {
                self.modules.insert(module.clone());
                if self.fault(Fault::FunctionsTravelByValue) {
                    Wire::FunctionByValue {
                        module: module.clone(),
                        name: name.clone(),
                    }
                } else {
                    Wire::Function {
                        module: module.clone(),
                        name: name.clone(),
                    }
                }
            }
            Item::Itself(h) => {
                let class = match self.queues.get(h) {
                    Some(q) if !self.fault(Fault::QueuePicklableAnywhere) => q.kind.class_name(),
                    Some(_) => return Ok(frame(&Wire::Data(Value::Opaque("queue".into())))),
                    None => {
                        // CPython sends a connection through its resource
                        // sharer; the reference does not.
                        return Err(PyError::new(
                            ErrorKind::Other("NotImplementedError".into()),
                            "the reference implementation cannot send a Connection",
                        ));
                    }
                };
                return Err(PyError::new(
                    ErrorKind::RuntimeError,
                    format!("{class} objects should only be shared between processes through inheritance"),
                ));
            }
        };
        Ok(frame(&wire))
    }

    pub(crate) fn decode(&self, payload: &[u8]) -> Result<Value, PyError> {
        crate::wire::decode(payload, &self.modules)
    }

    fn start_feeder(&self, q: &QueueObject) -> Feeder {
        let (tx, rx) = channel();
        let ends = Arc::clone(&q.ends);
        let shared = Arc::clone(&q.shared);
        let faults = FeederFaults {
            dies_on_error: self.fault(Fault::FeederDiesOnUnserializable),
            keeps_slot: self.fault(Fault::UnserializableKeepsSlot),
            reverses_batches: self.fault(Fault::FeederReversesBatches),
            drops_tail: self.fault(Fault::CloseDropsBufferedTail),
            leaves_reader_open: self.fault(Fault::FeederLeavesReaderOpen),
        };
        let thread = std::thread::Builder::new()
            .name("QueueFeederThread".into())
            .spawn(move || feed(rx, &ends, &shared, faults))
            .expect("a thread can be started");
        Feeder {
            buffer: tx,
            thread: Some(thread),
            owner: nix::unistd::getpid().as_raw(),
        }
    }

    /// `self!r`.
    pub(crate) fn queue_repr(&self, h: Handle) -> Result<String, PyError> {
        let q = self.queue(h)?;
        let module = if q.kind == QueueKind::Thread {
            "queue"
        } else {
            "multiprocessing.queues"
        };
        Ok(format!(
            "<{module}.{} object at {}>",
            q.kind.class_name(),
            fake_address(h)
        ))
    }

    fn check_open(&self, h: Handle) -> Result<(), PyError> {
        let q = self.queue(h)?;
        if q.closed && !(self.fault(Fault::PutOnClosedQueueSucceeds)) {
            return Err(PyError::new(
                ErrorKind::ValueError,
                format!("Queue {} is closed", self.queue_repr(h)?),
            ));
        }
        Ok(())
    }

    fn simple_no_keywords(
        &self,
        h: Handle,
        method: &str,
        block: Option<bool>,
        timeout: Option<f64>,
    ) -> Result<(), PyError> {
        if self.queue(h)?.kind != QueueKind::Simple || self.fault(Fault::SimpleQueueTakesTimeout) {
            return Ok(());
        }
        let keyword = match (block, timeout) {
            (Some(_), _) => "block",
            (None, Some(_)) => "timeout",
            (None, None) => return Ok(()),
        };
        Err(type_error(format!(
            "SimpleQueue.{method}() got an unexpected keyword argument '{keyword}'"
        )))
    }

    pub(crate) fn queue_put(
        &mut self,
        h: Handle,
        item: &Item,
        block: Option<bool>,
        timeout: Option<f64>,
    ) -> Result<Value, PyError> {
        self.simple_no_keywords(h, "put", block, timeout)?;
        let kind = self.queue(h)?.kind;
        match kind {
            QueueKind::Thread => {
                let message = self.encode(item)?;
                self.queue_mut(h)?.local.push_back(message);
                return Ok(Value::None);
            }
            QueueKind::Simple => {
                let message = self.encode(item)?;
                let q = self.queue(h)?;
                q.shared.write_lock.acquire(true, None);
                let written = match Ends::borrow(&q.ends.writer) {
                    Some(fd) => write_all(fd, &message),
                    None => Err(PyError::new(ErrorKind::OSError, "handle is closed")),
                };
                q.shared.write_lock.release()?;
                return written.map(|_| Value::None);
            }
            QueueKind::Queue | QueueKind::Joinable => {}
        }
        self.check_open(h)?;
        let block = block.unwrap_or(true);
        let timeout = if self.fault(Fault::TimeoutsNotWaited) {
            timeout.map(|_| 0.0)
        } else {
            timeout
        };
        let q = self.queue(h)?;
        if !q.shared.slots.acquire(block, timeout.map(seconds)) {
            return Err(full());
        }
        // Pickled here, reported by the feeder: the error surfaces only there.
        let message = self.encode(item);
        if self.queue(h)?.feeder.is_none() {
            let feeder = self.start_feeder(self.queue(h)?);
            self.queue_mut(h)?.feeder = Some(feeder);
        }
        let per_process = self.fault(Fault::UnfinishedCountPerProcess)
            || self.fault(Fault::UnfinishedCountCopiedWakeShared);
        let puts_no_task = self.fault(Fault::PutAddsNoTask);
        let q = self.queue_mut(h)?;
        if let Some(unfinished) = &q.shared.unfinished {
            if !puts_no_task {
                unfinished.release()?;
            }
        }
        if per_process {
            self.local_unfinished += i64::from(kind == QueueKind::Joinable && !puts_no_task);
        }
        let lookalike = self.fault(Fault::FeederStopsAtLookalike) && *item == Item::Object;
        let q = self.queue(h)?;
        if let Some(feeder) = &q.feeder {
            let buffered = if lookalike {
                Buffered::Sentinel
            } else {
                Buffered::Item(message)
            };
            // A feeder that has gone (the pipe closed) takes no more items.
            let _ = feeder.buffer.send(buffered);
        }
        Ok(Value::None)
    }

    pub(crate) fn queue_get(
        &mut self,
        h: Handle,
        block: Option<bool>,
        timeout: Option<f64>,
    ) -> Result<Value, PyError> {
        self.simple_no_keywords(h, "get", block, timeout)?;
        let kind = self.queue(h)?.kind;
        if kind == QueueKind::Thread {
            let message = self.queue_mut(h)?.local.pop_front();
            return match message {
                Some(m) => self.decode(&m[4..]),
                None if block.unwrap_or(true) && timeout.is_none() => Err(PyError::new(
                    ErrorKind::RuntimeError,
                    "get() on an empty queue.Queue would block for ever in this single thread",
                )),
                None => {
                    if block.unwrap_or(true) {
                        std::thread::sleep(seconds(timeout.unwrap_or(0.0)));
                    }
                    Err(empty())
                }
            };
        }
        if kind != QueueKind::Simple {
            self.check_open(h)?;
        }
        let block = block.unwrap_or(true);
        let ignores_timeout = self.fault(Fault::TimeoutsNotWaited);
        let q = self.queue(h)?;
        let payload = if block && timeout.is_none() {
            q.shared.read_lock.acquire(true, None);
            let payload = q.read_frame();
            q.shared.read_lock.release()?;
            payload?
        } else {
            let timeout = if ignores_timeout { Some(0.0) } else { timeout };
            let deadline = timeout.map(|t| Instant::now() + seconds(t));
            if !q.shared.read_lock.acquire(block, timeout.map(seconds)) {
                return Err(empty());
            }
            let left = match (block, deadline) {
                (true, Some(d)) => d.saturating_duration_since(Instant::now()),
                _ => std::time::Duration::ZERO,
            };
            let payload = match q.readable(Some(left)) {
                Ok(true) => q.read_frame(),
                Ok(false) => Err(empty()),
                Err(e) => Err(e),
            };
            q.shared.read_lock.release()?;
            payload?
        };
        if kind != QueueKind::Simple {
            self.queue(h)?.shared.slots.release()?;
        }
        self.decode(&payload)
    }

    pub(crate) fn queue_qsize(&self, h: Handle) -> Result<Value, PyError> {
        let q = self.queue(h)?;
        match q.kind {
            QueueKind::Thread => Ok(Value::Int(q.local.len() as i64)),
            QueueKind::Simple => Err(PyError::new(
                ErrorKind::AttributeError,
                "'SimpleQueue' object has no attribute 'qsize'",
            )),
            _ if self.fault(Fault::QsizeNotImplemented) => Err(PyError::new(
                ErrorKind::Other("NotImplementedError".into()),
                "",
            )),
            _ => Ok(Value::Int(q.maxsize - q.shared.slots.value())),
        }
    }

    pub(crate) fn queue_empty(&self, h: Handle) -> Result<Value, PyError> {
        let q = self.queue(h)?;
        if q.kind == QueueKind::Thread {
            return Ok(Value::Bool(q.local.is_empty()));
        }
        Ok(Value::Bool(!q.readable(Some(std::time::Duration::ZERO))?))
    }

    pub(crate) fn queue_full(&self, h: Handle) -> Result<Value, PyError> {
        let q = self.queue(h)?;
        match q.kind {
            QueueKind::Thread => Ok(Value::Bool(false)),
            QueueKind::Simple => Err(PyError::new(
                ErrorKind::AttributeError,
                "'SimpleQueue' object has no attribute 'full'",
            )),
            _ => Ok(Value::Bool(q.shared.slots.value() == 0)),
        }
    }

    pub(crate) fn queue_close(&mut self, h: Handle) -> Result<Value, PyError> {
        let no_sentinel = self.fault(Fault::CloseSendsNoSentinel);
        let close_closes_reader = self.fault(Fault::CloseClosesReader);
        let q = self.queue_mut(h)?;
        match q.kind {
            QueueKind::Simple => {
                Ends::close(&q.ends.reader);
                Ends::close(&q.ends.writer);
            }
            QueueKind::Thread => {
                return Err(PyError::new(
                    ErrorKind::AttributeError,
                    "'Queue' object has no attribute 'close'",
                ))
            }
            _ => {
                q.closed = true;
                if close_closes_reader {
                    Ends::close(&q.ends.reader);
                }
                match &q.feeder {
                    Some(feeder) if !no_sentinel => {
                        let _ = feeder.buffer.send(Buffered::Sentinel);
                    }
                    Some(_) => {}
                    // No feeder ever started: nothing to flush, the
                    // ends go with the object.
                    None => {}
                }
            }
        }
        Ok(Value::None)
    }

    pub(crate) fn queue_join_thread(&mut self, h: Handle) -> Result<Value, PyError> {
        let lenient = self.fault(Fault::JoinThreadBeforeCloseAllowed);
        let repr = self.queue_repr(h)?;
        let q = self.queue_mut(h)?;
        if !q.closed && !lenient {
            return Err(PyError::new(
                ErrorKind::AssertionError,
                format!("Queue {repr} not closed"),
            ));
        }
        if !q.closed {
            return Ok(Value::None);
        }
        let me = nix::unistd::getpid().as_raw();
        if !q.join_cancelled {
            if let Some(f) = q.feeder.as_mut().filter(|f| f.owner == me) {
                if let Some(thread) = f.thread.take() {
                    let _ = thread.join();
                }
            }
        }
        Ok(Value::None)
    }

    pub(crate) fn queue_cancel_join_thread(&mut self, h: Handle) -> Result<Value, PyError> {
        self.queue_mut(h)?.join_cancelled = true;
        Ok(Value::None)
    }

    pub(crate) fn queue_task_done(&mut self, h: Handle) -> Result<Value, PyError> {
        let unbounded = self.fault(Fault::TaskDoneUnbounded);
        let per_process = self.fault(Fault::UnfinishedCountPerProcess);
        let wake_shared = self.fault(Fault::UnfinishedCountCopiedWakeShared);
        let q = self.queue(h)?;
        let Some(unfinished) = &q.shared.unfinished else {
            return Err(PyError::new(
                ErrorKind::AttributeError,
                format!(
                    "'{}' object has no attribute 'task_done'",
                    q.kind.class_name()
                ),
            ));
        };
        let too_many = || PyError::new(ErrorKind::ValueError, "task_done() called too many times");
        if per_process || wake_shared {
            if self.local_unfinished <= 0 && !unbounded {
                return Err(too_many());
            }
            self.local_unfinished -= 1;
            if wake_shared && self.local_unfinished == 0 {
                // notify_all() on the shared condition.
                if let Some(unfinished) = &self.queue(h)?.shared.unfinished {
                    unfinished.announce_zero();
                }
            }
            return Ok(Value::None);
        }
        if !unfinished.acquire(false, None) && !unbounded {
            return Err(too_many());
        }
        Ok(Value::None)
    }

    pub(crate) fn queue_join(&mut self, h: Handle) -> Result<Value, PyError> {
        let q = self.queue(h)?;
        let Some(unfinished) = &q.shared.unfinished else {
            return Err(PyError::new(
                ErrorKind::AttributeError,
                format!("'{}' object has no attribute 'join'", q.kind.class_name()),
            ));
        };
        if self.fault(Fault::UnfinishedCountPerProcess) {
            if self.local_unfinished > 0 {
                // Nothing in this process can lower the count: a real hang.
                loop {
                    std::thread::park();
                }
            }
            return Ok(Value::None);
        }
        if self.fault(Fault::UnfinishedCountCopiedWakeShared) {
            if self.local_unfinished > 0 {
                // `if`, not `while`: one wake-up from any process will do.
                unfinished.wait_next_zero();
            }
            return Ok(Value::None);
        }
        if self.fault(Fault::JoinReturnsBeforeZero) {
            return Ok(Value::None);
        }
        if self.fault(Fault::JoinWaitsWithoutChecking) && unfinished.value() == 0 {
            // The wake-up came before this join began; none will come again.
            loop {
                std::thread::park();
            }
        }
        unfinished.wait_zero();
        Ok(Value::None)
    }

    /// What a child started by multiprocessing does to its copies of the
    /// queues (`Queue._after_fork`): a new buffer, no feeder, not closed.
    pub(crate) fn reset_queues_after_fork(&mut self) {
        if self.fault(Fault::QueueNotResetAfterFork) {
            return;
        }
        for q in self.queues.values_mut() {
            if let Some(feeder) = q.feeder.take() {
                // The parent's feeder thread does not exist here, and its
                // channel may have been mid-operation at fork: never touch it.
                std::mem::forget(feeder);
            }
            q.closed = false;
            q.join_cancelled = false;
        }
    }

    /// At a process's end (`util._exit_function`): every feeder gets its
    /// sentinel (`_finalize_close`, priority 10, before children are awaited)
    /// and is then joined (`_finalize_join`, priority -5) unless cancelled.
    pub(crate) fn queues_close_at_exit(&mut self) {
        for q in self.queues.values() {
            if let Some(feeder) = &q.feeder {
                let _ = feeder.buffer.send(Buffered::Sentinel);
            }
        }
    }

    pub(crate) fn queues_join_at_exit(&mut self) {
        if self.fault(Fault::NoFlushAtExit) {
            return;
        }
        for q in self.queues.values_mut() {
            if q.join_cancelled {
                continue;
            }
            let me = nix::unistd::getpid().as_raw();
            match q.feeder.as_mut() {
                Some(f) if f.owner == me => {
                    if let Some(thread) = f.thread.take() {
                        let _ = thread.join();
                    }
                }
                Some(f) => std::mem::forget(f.thread.take()),
                None => {}
            }
        }
    }
}

#[derive(Clone, Copy)]
struct FeederFaults {
    dies_on_error: bool,
    keeps_slot: bool,
    reverses_batches: bool,
    drops_tail: bool,
    leaves_reader_open: bool,
}

/// Writes gathered messages to the pipe under the queue's write lock.
fn flush(out: &mut Vec<u8>, ends: &Ends, shared: &SharedState) -> Result<(), PyError> {
    if out.is_empty() {
        return Ok(());
    }
    shared.write_lock.acquire(true, None);
    let written = match &shared.ring {
        Some(ring) => {
            ring.write_all(out);
            Ok(())
        }
        None => match Ends::borrow(&ends.writer) {
            Some(fd) => write_all(fd, out),
            None => Err(PyError::new(ErrorKind::OSError, "handle is closed")),
        },
    };
    shared.write_lock.release()?;
    out.clear();
    written
}

impl QueueObject {
    /// One whole message from the queue's pipe.
    fn read_frame(&self) -> Result<Vec<u8>, PyError> {
        match &self.shared.ring {
            Some(ring) => Ok(ring.read_frame()),
            None => {
                let reader = Ends::borrow(&self.ends.reader)
                    .ok_or_else(|| PyError::new(ErrorKind::OSError, "handle is closed"))?;
                read_frame(reader).map_err(|e| e.to_py())
            }
        }
    }

    /// Whether a message waits, within `timeout` (the pipe's poll).
    fn readable(&self, timeout: Option<std::time::Duration>) -> Result<bool, PyError> {
        match &self.shared.ring {
            Some(ring) => Ok(ring.readable(timeout)),
            None => {
                let reader = Ends::borrow(&self.ends.reader)
                    .ok_or_else(|| PyError::new(ErrorKind::OSError, "handle is closed"))?;
                readable(reader, timeout)
            }
        }
    }
}

fn report_feeder_error(e: &PyError) {
    let text = format!(
        "Traceback (most recent call last):\n  File \"<mpconform-ref>\", line 1, in _feed\n{}: {}\n",
        e.kind, e.message
    );
    let _ = write_all(std::io::stderr(), text.as_bytes());
}

/// The feeder thread (`Queue._feed`): takes what is buffered, in order, and
/// writes it; whatever is buffered together goes out in one write.
fn feed(buffer: Receiver<Buffered>, ends: &Ends, shared: &SharedState, faults: FeederFaults) {
    let mut out = Vec::new();
    while let Ok(first) = buffer.recv() {
        let mut batch = vec![first];
        while batch.len() < 1024 {
            match buffer.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        if faults.reverses_batches {
            batch.reverse();
        }
        let sentinel_at = batch.iter().position(|b| matches!(b, Buffered::Sentinel));
        if faults.drops_tail {
            if let Some(at) = sentinel_at {
                batch.drain(..at);
            }
        }
        for buffered in batch {
            match buffered {
                Buffered::Item(Ok(message)) => out.extend_from_slice(&message),
                Buffered::Item(Err(e)) => {
                    if flush(&mut out, ends, shared).is_err() {
                        return;
                    }
                    if !faults.keeps_slot {
                        let _ = shared.slots.release();
                    }
                    report_feeder_error(&e);
                    if faults.dies_on_error {
                        return;
                    }
                }
                Buffered::Sentinel => {
                    let _ = flush(&mut out, ends, shared);
                    if !faults.leaves_reader_open {
                        Ends::close(&ends.reader);
                    }
                    Ends::close(&ends.writer);
                    return;
                }
            }
        }
        if let Err(e) = flush(&mut out, ends, shared) {
            // The reading side has gone (EPIPE): reported, as CPython does,
            // and the messages are lost.
            report_feeder_error(&e);
        }
    }
}

/// A queue as a spawned child is handed it: its kind and bound, its pipe's
/// descriptors (numbers valid in the child, which inherits them across
/// exec) and where its semaphores and ring are in the arena. The feeder and
/// its buffer stay with the parent, as a fork child forgets them.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct QueueHandOver {
    kind: QueueKind,
    maxsize: i64,
    reader: i32,
    writer: i32,
    ring: Option<usize>,
    slots: usize,
    read_lock: usize,
    write_lock: usize,
    unfinished: Option<usize>,
}

impl QueueObject {
    /// What a spawned child needs of this queue; its open pipe ends are
    /// added to `fds`.
    pub(crate) fn handover(&self, fds: &mut Vec<i32>) -> QueueHandOver {
        let mut end = |fd: i32| {
            if fd >= 0 {
                fds.push(fd);
            }
            fd
        };
        let shared = &self.shared;
        QueueHandOver {
            kind: self.kind,
            maxsize: self.maxsize,
            reader: end(self.ends.reader.load(Ordering::Acquire)),
            writer: end(self.ends.writer.load(Ordering::Acquire)),
            ring: shared.ring.as_ref().map(Ring::offset),
            slots: shared.slots.offset(),
            read_lock: shared.read_lock.offset(),
            write_lock: shared.write_lock.offset(),
            unfinished: shared.unfinished.as_ref().map(SharedSem::offset),
        }
    }

    /// The child's queue over what the parent handed over; `owned` takes
    /// each pipe end.
    pub(crate) fn from_handover(
        h: QueueHandOver,
        owned: impl Fn(i32) -> OwnedFd,
    ) -> Result<QueueObject, PyError> {
        let end = |fd: i32| if fd >= 0 { owned(fd).into_raw_fd() } else { -1 };
        let shared = SharedState {
            ring: h.ring.map(Ring::at).transpose()?,
            slots: SharedSem::at(h.slots)?,
            read_lock: SharedSem::at(h.read_lock)?,
            write_lock: SharedSem::at(h.write_lock)?,
            unfinished: h.unfinished.map(SharedSem::at).transpose()?,
        };
        Ok(QueueObject {
            kind: h.kind,
            maxsize: h.maxsize,
            ends: Arc::new(Ends {
                reader: AtomicI32::new(end(h.reader)),
                writer: AtomicI32::new(end(h.writer)),
            }),
            shared: Arc::new(shared),
            feeder: None,
            closed: false,
            join_cancelled: false,
            local: VecDeque::new(),
        })
    }
}
