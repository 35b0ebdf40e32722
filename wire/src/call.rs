//! Every request a clause can make of an implementation, and its reply.
//! One enum, so that an adapter (loopback, out-of-process driver) translates
//! each call mechanically and a transcript records each one as it was made.

use crate::ipc::IpcOp;
use crate::pool::PoolOp;
use crate::program::{ProcessSpec, Program};
use crate::sync::SyncOp;
use crate::value::{Handle, PyError, Value};
use serde::{Deserialize, Serialize};

/// One trait call. Timeouts are in seconds, as Python takes them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "call", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Call {
    /// Make `method` the start method of every process created from now on.
    UseStartMethod {
        method: String,
    },
    /// `set_start_method(method, force=force)`; `None` with force resets it.
    SetStartMethod {
        method: Option<String>,
        force: bool,
    },
    /// `get_start_method(allow_none=allow_none)`: a name, or None.
    GetStartMethod {
        allow_none: bool,
    },
    /// `get_all_start_methods()`, in the order the target gives.
    GetAllStartMethods,
    /// `get_context(method).get_start_method()`.
    ContextStartMethod {
        method: Option<String>,
    },
    /// Bind `name` to `value` in the main module, as code under
    /// `if __name__ == '__main__':` does.
    SetMainGlobal {
        name: String,
        value: Value,
    },
    /// Register, in the implementation's own process, an exit handler
    /// (`atexit`) that reports `label`.
    AtexitRegister {
        label: String,
    },

    /// A new gate, closed; children inherit it and wait at it.
    GateNew,
    /// Open the gate: every waiter, present and future, passes.
    GateOpen {
        gate: Handle,
    },
    /// The next report a child sent under `label` (a `Value::Error` when the
    /// probe raised); fails with `Timeout` if none comes within `timeout`.
    AwaitReport {
        label: String,
        timeout: f64,
    },
    /// The labels of every report received so far, in order, without waiting.
    ReportsSoFar,

    /// Create a process object (`Process(...)`); returns its handle.
    ProcessNew {
        spec: ProcessSpec,
    },
    ProcessStart {
        process: Handle,
    },
    /// `p.run()` in the calling process.
    ProcessRun {
        process: Handle,
    },
    ProcessJoin {
        process: Handle,
        timeout: Option<f64>,
    },
    ProcessIsAlive {
        process: Handle,
    },
    ProcessPid {
        process: Handle,
    },
    ProcessExitcode {
        process: Handle,
    },
    ProcessName {
        process: Handle,
    },
    ProcessDaemon {
        process: Handle,
    },
    ProcessRepr {
        process: Handle,
    },
    ProcessTerminate {
        process: Handle,
    },
    ProcessKill {
        process: Handle,
    },
    ProcessClose {
        process: Handle,
    },
    /// The sentinel's descriptor number, in the implementation's process.
    ProcessSentinel {
        process: Handle,
    },
    /// `multiprocessing.connection.wait([p.sentinel], timeout)` is non-empty.
    ProcessSentinelReady {
        process: Handle,
        timeout: f64,
    },
    /// Whether the process object still references its target and arguments.
    ProcessHoldsTarget {
        process: Handle,
    },
    /// What the child wrote to its captured standard error.
    ProcessStderr {
        process: Handle,
    },
    /// What the child (and its own children) wrote to its captured standard
    /// output.
    ProcessStdout {
        process: Handle,
    },
    /// `active_children()`.
    ActiveChildren,
    /// The children set as it stands (`process._children`), without reaping.
    ChildrenSet,
    /// `current_process().name`.
    CurrentProcessName,
    /// `parent_process()`: its pid, or None.
    ParentProcessPid,

    /// `os.getpid()` of the process the implementation runs in.
    OsGetpid,
    /// `os.fork()`: the child runs `child` and the parent gets its pid.
    OsFork {
        child: Program,
    },
    /// `os.wait()`: `[pid, status]`.
    OsWait,
    /// `os.waitpid(pid, WNOHANG if nohang else 0)`: `[pid, status]`.
    OsWaitpid {
        pid: i64,
        nohang: bool,
    },
    /// `os.waitstatus_to_exitcode(status)`.
    OsWaitstatusToExitcode {
        status: i64,
    },
    /// `os.pipe()`: `[read end, write end]`.
    OsPipe,
    OsClose {
        fd: Handle,
    },
    OsWrite {
        fd: Handle,
        data: Vec<u8>,
    },
    /// `os.read(fd, max)` once the descriptor is readable or `timeout` passed
    /// (then `Timeout`).
    OsRead {
        fd: Handle,
        max: usize,
        timeout: f64,
    },
    /// Whether a read on `fd` would not block (data or end of file).
    OsReadable {
        fd: Handle,
        timeout: f64,
    },
    OsKill {
        pid: i64,
        signal: i32,
    },

    /// An operation on a queue or connection, in the implementation's process.
    Ipc(IpcOp),
    /// An operation on a lock, event, shared value or manager, in the
    /// implementation's process.
    Sync(SyncOp),
    /// An operation on a pool or on one of its results, in the
    /// implementation's process.
    Pool(PoolOp),
}

/// Why a call gave no Python-level answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum CallError {
    /// The call raised, as Python code would see it: this is the answer.
    Raised(PyError),
    /// The implementation does not offer what the call needs.
    Unsupported(String),
    /// The implementation, adapter or protocol broke: not a verdict on
    /// the behaviour.
    Broken(String),
    /// The process that runs the implementation (an out-of-process driver)
    /// died before it answered.
    Died(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Raised(e) => write!(f, "raised {e}"),
            CallError::Unsupported(why) => write!(f, "unsupported: {why}"),
            CallError::Broken(why) => write!(f, "broken: {why}"),
            CallError::Died(why) => write!(f, "died: {why}"),
        }
    }
}

impl std::error::Error for CallError {}

/// The reply to a call.
pub type Reply = Result<Value, CallError>;

impl From<PyError> for CallError {
    fn from(e: PyError) -> Self {
        CallError::Raised(e)
    }
}
