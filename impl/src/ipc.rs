//! The queue and connection operations of the spec's [`IpcOp`], dispatched to
//! the queue and connection objects, for the clause's process and children
//! alike.

use crate::RefImpl;
use mpconform_spec::{CallError, ErrorKind, Handle, IpcOp, PyError, Value};

/// What `multiprocessing` offers by these names (`hasattr`).
const MODULE_NAMES: &[&str] = &[
    "Process",
    "Queue",
    "JoinableQueue",
    "SimpleQueue",
    "Pipe",
    "current_process",
    "parent_process",
    "active_children",
    "get_context",
];

impl RefImpl {
    pub(crate) fn ipc(&mut self, op: &IpcOp) -> Result<Value, CallError> {
        use IpcOp::*;
        Ok(match op {
            QueueNew { kind, maxsize } => {
                // The module's Queue classes take ctx=get_context(), fixing
                // the default; queue.Queue is not the module's.
                if *kind != mpconform_spec::QueueKind::Thread {
                    self.fixed_method();
                }
                return self.queue_new(*kind, *maxsize);
            }
            Put {
                queue,
                item,
                block,
                timeout,
            } => self.queue_put(*queue, item, *block, *timeout)?,
            PutNowait { queue, item } => self.queue_put(*queue, item, Some(false), None)?,
            Get {
                queue,
                block,
                timeout,
            } => self.queue_get(*queue, *block, *timeout)?,
            GetNowait { queue } => self.queue_get(*queue, Some(false), None)?,
            Qsize { queue } => self.queue_qsize(*queue)?,
            Empty { queue } => self.queue_empty(*queue)?,
            Full { queue } => self.queue_full(*queue)?,
            Close { queue } => self.queue_close(*queue)?,
            JoinThread { queue } => self.queue_join_thread(*queue)?,
            CancelJoinThread { queue } => self.queue_cancel_join_thread(*queue)?,
            TaskDone { queue } => self.queue_task_done(*queue)?,
            Join { queue } => self.queue_join(*queue)?,
            Repr { object } => Value::Str(self.repr_of(*object)?),
            ModuleHas { name } => Value::Bool(self.module_has(name)),
            PipeNew { duplex } => return self.pipe_new(*duplex),
            Send { conn, item } => self.conn_send(*conn, item)?,
            Recv { conn } => self.conn_recv(*conn)?,
            Poll { conn, timeout } => self.conn_poll(*conn, *timeout)?,
            CloseConn { conn } => self.conn_close(*conn)?,
            other => {
                return Err(CallError::Unsupported(format!(
                    "the reference does not know {other:?}"
                )))
            }
        })
    }

    fn repr_of(&self, h: Handle) -> Result<String, PyError> {
        if self.queues.contains_key(&h) {
            self.queue_repr(h)
        } else {
            self.conn_repr(h)
        }
    }

    fn module_has(&self, name: &str) -> bool {
        MODULE_NAMES.contains(&name)
            || (self.fault(crate::Fault::ModuleOffersLifoQueue) && name == "LifoQueue")
    }

    /// One `get()` or `recv()`, whichever `from` is.
    pub(crate) fn take_one(&mut self, from: Handle) -> Result<Value, PyError> {
        if self.queues.contains_key(&from) {
            self.queue_get(from, None, None)
        } else if self.connections.contains_key(&from) {
            self.conn_recv(from)
        } else {
            Err(PyError::new(
                ErrorKind::RuntimeError,
                format!("no queue or connection {from}"),
            ))
        }
    }
}
