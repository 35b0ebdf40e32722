//! Session shorthands for the queue and connection calls the clauses of
//! pipes, queues and joinable queues make.

use crate::call::Call;
use crate::ipc::{IpcOp, Item, QueueKind};
use crate::program::{ProcessSpec, Program, Step};
use crate::session::{expect_eq, handle, handles, Session};
use crate::value::{ErrorKind, Handle, PyError, Value};
use crate::Stop;

/// A plain string item.
pub(crate) fn text(s: &str) -> Item {
    Item::Data(Value::Str(s.to_string()))
}

/// A string value.
pub(crate) fn str_value(s: &str) -> Value {
    Value::Str(s.to_string())
}

/// A child step performing `op`, reporting its result under `label`.
pub(crate) fn ipc_step(label: &str, op: IpcOp) -> Step {
    Step::Ipc {
        label: Some(label.to_string()),
        op,
    }
}

/// A child step performing `op`; an error ends the child.
pub(crate) fn ipc_do(op: IpcOp) -> Step {
    Step::Ipc { label: None, op }
}

pub(crate) fn put(queue: Handle, item: Item) -> IpcOp {
    IpcOp::Put {
        queue,
        item,
        block: None,
        timeout: None,
    }
}

/// Starts a child that runs `steps` and returns.
pub(crate) fn child(s: &mut Session, steps: Vec<Step>) -> Result<Handle, Stop> {
    let p = s.new_process(ProcessSpec::target(Program::steps(steps)))?;
    s.start(p)?;
    Ok(p)
}

/// Joins a child and checks that it ended with 0.
pub(crate) fn join_ok(s: &mut Session, p: Handle) -> Result<(), Stop> {
    s.join(p)?;
    expect_eq("the child's exit code", &Some(0), &s.exitcode(p)?)
}

impl Session<'_> {
    /// An operation that must succeed.
    pub(crate) fn ipc(&mut self, check: &str, op: IpcOp) -> Result<Value, Stop> {
        self.ok(check, Call::Ipc(op))
    }

    /// An operation that must raise; returns what it raised.
    pub(crate) fn ipc_raises(&mut self, check: &str, op: IpcOp) -> Result<PyError, Stop> {
        self.raises(check, Call::Ipc(op))
    }

    /// An operation's result, error or not.
    pub(crate) fn ipc_result(&mut self, op: IpcOp) -> Result<Result<Value, PyError>, Stop> {
        self.call(Call::Ipc(op))
    }

    pub(crate) fn new_queue(
        &mut self,
        kind: QueueKind,
        maxsize: Option<i64>,
    ) -> Result<Handle, Stop> {
        let v = self.ipc(
            &format!("create a {}", kind.class_name()),
            IpcOp::QueueNew { kind, maxsize },
        )?;
        handle("queue handle", &v)
    }

    pub(crate) fn pipe(&mut self, duplex: Option<bool>) -> Result<(Handle, Handle), Stop> {
        let v = self.ipc("Pipe()", IpcOp::PipeNew { duplex })?;
        match handles("Pipe() ends", &v)?.as_slice() {
            [a, b] => Ok((*a, *b)),
            other => Err(Stop::Broken(format!(
                "Pipe() returned {} ends",
                other.len()
            ))),
        }
    }

    pub(crate) fn put(&mut self, queue: Handle, item: Item) -> Result<(), Stop> {
        self.ipc("put()", put(queue, item)).map(drop)
    }

    /// `get(timeout=hang)`: an item that does not come is a violation.
    pub(crate) fn get(&mut self, queue: Handle) -> Result<Value, Stop> {
        let timeout = self.hang_secs();
        self.ipc(
            "get() of an item that was put",
            IpcOp::Get {
                queue,
                block: None,
                timeout: Some(timeout),
            },
        )
    }

    pub(crate) fn get_nowait(&mut self, queue: Handle) -> Result<Result<Value, PyError>, Stop> {
        self.ipc_result(IpcOp::GetNowait { queue })
    }

    pub(crate) fn send(&mut self, conn: Handle, item: Item) -> Result<(), Stop> {
        self.ipc("send()", IpcOp::Send { conn, item }).map(drop)
    }

    /// `recv()` once `poll(hang)` says a message (or the end) is there.
    pub(crate) fn recv(&mut self, conn: Handle) -> Result<Result<Value, PyError>, Stop> {
        let timeout = self.hang_secs();
        let ready = self.ipc("poll() before recv()", IpcOp::Poll { conn, timeout })?;
        if ready != Value::Bool(true) {
            return Err(Stop::violation(
                "a message to receive",
                "poll() true",
                format!("poll({timeout}) returned {ready}"),
            ));
        }
        self.ipc_result(IpcOp::Recv { conn })
    }

    /// `recv()` that must give a value.
    pub(crate) fn recv_ok(&mut self, conn: Handle) -> Result<Value, Stop> {
        self.recv(conn)?
            .map_err(|e| Stop::violation("recv()", "a message", format!("raised {e}")))
    }

    pub(crate) fn close_queue(&mut self, queue: Handle) -> Result<(), Stop> {
        self.ipc("close()", IpcOp::Close { queue }).map(drop)
    }

    pub(crate) fn join_thread(&mut self, queue: Handle) -> Result<(), Stop> {
        self.ipc("join_thread()", IpcOp::JoinThread { queue })
            .map(drop)
    }

    pub(crate) fn repr(&mut self, object: Handle) -> Result<String, Stop> {
        let v = self.ipc("repr()", IpcOp::Repr { object })?;
        crate::session::string("repr()", &v)
    }

    /// Waits up to `timeout` for a report that must not come yet.
    pub(crate) fn no_report_within(&mut self, label: &str, timeout: f64) -> Result<(), Stop> {
        match self.call(Call::AwaitReport {
            label: label.to_string(),
            timeout,
        })? {
            Err(e) if e.kind == ErrorKind::Timeout => Ok(()),
            Err(e) => Err(Stop::Broken(format!("waiting for report {label:?}: {e}"))),
            Ok(v) => Err(Stop::violation(
                format!("no report {label:?} yet"),
                "nothing",
                format!("{v}"),
            )),
        }
    }
}
