//! Queues and connections as data: what a clause or a child asks of a
//! `Queue`, `SimpleQueue`, `JoinableQueue`, `queue.Queue` or `Pipe()` end, and
//! the objects it puts or sends. One vocabulary serves the clause's own
//! process (through [`crate::Call::Ipc`]) and children (through
//! [`crate::Step::Ipc`]).

use crate::value::{Handle, Value};
use serde::{Deserialize, Serialize};

/// Which queue class to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueKind {
    /// `multiprocessing.Queue`.
    Queue,
    /// `multiprocessing.JoinableQueue`.
    Joinable,
    /// `multiprocessing.SimpleQueue`.
    Simple,
    /// The standard library's thread queue, `queue.Queue`.
    Thread,
}

impl QueueKind {
    /// The class name, as `type(q).__name__` gives it.
    pub fn class_name(self) -> &'static str {
        match self {
            QueueKind::Queue => "Queue",
            QueueKind::Joinable => "JoinableQueue",
            QueueKind::Simple => "SimpleQueue",
            QueueKind::Thread => "Queue",
        }
    }
}

/// An object to put on a queue or send over a connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "item", content = "arg", rename_all = "snake_case")]
pub enum Item {
    /// Plain data; it arrives equal to itself.
    Data(Value),
    /// `b'x' * len`, to fill a pipe without a large request.
    Filler(usize),
    /// A fresh `object()`; it arrives as `Value::Opaque("object")`.
    Object,
    /// Something pickle refuses (a lambda).
    Unpicklable,
    /// A function `name` defined, in the sending process, in a module
    /// `module` that only that process has loaded (it is created on the spot
    /// and is not importable elsewhere). It arrives as
    /// `Value::Opaque("function MODULE.NAME")` where the module is loaded.
    Function { module: String, name: String },
    /// The queue or connection behind this handle, itself.
    Itself(Handle),
}

/// One operation on a queue or a connection. The reply is its return value
/// (`None` for the ones that return nothing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
#[non_exhaustive]
pub enum IpcOp {
    /// Make a queue; `maxsize` is passed only when given. Returns its handle.
    QueueNew {
        kind: QueueKind,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        maxsize: Option<i64>,
    },
    /// `q.put(item[, block=][, timeout=])`: each keyword only when given.
    Put {
        queue: Handle,
        item: Item,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        block: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout: Option<f64>,
    },
    PutNowait {
        queue: Handle,
        item: Item,
    },
    /// `q.get([block=][, timeout=])`: each keyword only when given.
    Get {
        queue: Handle,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        block: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout: Option<f64>,
    },
    GetNowait {
        queue: Handle,
    },
    Qsize {
        queue: Handle,
    },
    Empty {
        queue: Handle,
    },
    Full {
        queue: Handle,
    },
    /// `q.close()`.
    Close {
        queue: Handle,
    },
    JoinThread {
        queue: Handle,
    },
    CancelJoinThread {
        queue: Handle,
    },
    TaskDone {
        queue: Handle,
    },
    /// `JoinableQueue.join()`.
    Join {
        queue: Handle,
    },
    /// `repr(q)` or `repr(conn)`.
    Repr {
        object: Handle,
    },
    /// Whether the module offers a class or function of this name
    /// (`hasattr(multiprocessing, name)`).
    ModuleHas {
        name: String,
    },

    /// `Pipe([duplex])`: `[first end, second end]`.
    PipeNew {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duplex: Option<bool>,
    },
    Send {
        conn: Handle,
        item: Item,
    },
    /// `conn.recv()`; blocks until a message, the end of the pipe, or an error.
    Recv {
        conn: Handle,
    },
    /// `conn.poll(timeout)`.
    Poll {
        conn: Handle,
        timeout: f64,
    },
    /// `conn.close()`.
    CloseConn {
        conn: Handle,
    },
}
