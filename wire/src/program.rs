//! What a child does, as data: a program of steps and one ending. Any
//! implementation interprets it in its own language; the clause never ships code.

use crate::ipc::IpcOp;
use crate::sync::SyncOp;
use crate::value::{Handle, PyError, Value};
use serde::{Deserialize, Serialize};

/// A child's behaviour: its steps in order, then its ending.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Program {
    pub steps: Vec<Step>,
    #[serde(default)]
    pub end: Ending,
}

impl Program {
    pub fn new(steps: Vec<Step>, end: Ending) -> Self {
        Program { steps, end }
    }

    /// A program that ends with `end` and does nothing before.
    pub fn ending(end: Ending) -> Self {
        Program {
            steps: Vec::new(),
            end,
        }
    }

    /// A program that runs `steps` and returns normally.
    pub fn steps(steps: Vec<Step>) -> Self {
        Program {
            steps,
            end: Ending::Return,
        }
    }
}

/// One step of a child program.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Step {
    /// Evaluate `probe` and send its value (or the error it raised) to the
    /// clause over the report channel, under `label`.
    Report { label: String, probe: Probe },
    /// Block until the clause opens the gate.
    WaitGate { gate: Handle },
    /// Create and start a child process from `spec`; report its pid, or the
    /// error `start()` raised, under `label`.
    Start {
        label: String,
        spec: Box<ProcessSpec>,
    },
    /// Start a process object inherited from the parent (created there, not
    /// here); report None, or the error `start()` raised, under `label`.
    StartInherited { label: String, process: Handle },
    /// Fork a bare OS child (`os.fork`) that inherits every descriptor, waits
    /// at `gate`, then ends with `os._exit(0)`; report its pid under `label`
    /// and go on at once.
    ForkHolder { label: String, gate: Handle },
    /// Register an exit handler (`atexit`) that reports `label`.
    AtexitReport { label: String },
    /// Write `text` to standard output as `print(text, end='')` does:
    /// through the stream's buffer, not flushed.
    Print { text: String },
    /// Bind `name` to `value` in this process's main module, as a function
    /// that declares it `global` does.
    SetMainGlobal { name: String, value: Value },
    /// Close a descriptor this process inherited.
    CloseFd { fd: Handle },
    /// Write bytes to a descriptor this process inherited.
    WriteFd { fd: Handle, data: Vec<u8> },
    /// Perform `op` on a queue or connection. With a label, report its value
    /// (or the error it raised) under it; without, an error ends the program
    /// as an uncaught exception.
    Ipc {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        label: Option<String>,
        op: IpcOp,
    },
    /// Perform `op` on a lock, event, shared value or manager the parent
    /// made. With a label, report its value (or the error it raised) under
    /// it; without, an error ends the program as an uncaught exception.
    Sync {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        label: Option<String>,
        op: SyncOp,
    },
    /// Start a `threading.Thread(daemon=daemon)` that runs `steps` in this
    /// process, and go on at once. A program that ends waits for its
    /// non-daemonic threads before the process exits, as the interpreter's
    /// shutdown does; daemonic ones end with the process.
    Thread { daemon: bool, steps: Vec<Step> },
    /// Loop on `get()` (a queue) or `recv()` (a connection) until an item
    /// equal to `stop` arrives, calling `task_done()` after each get when
    /// `task_done` is set; then report the items before `stop`, in order,
    /// under `label`. An error ends the program as an uncaught exception.
    Drain {
        label: String,
        from: Handle,
        stop: Value,
        #[serde(default)]
        task_done: bool,
    },
}

/// Something a child can observe about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "probe", content = "arg", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Probe {
    /// A constant: shows that the step ran, and where.
    Text(String),
    /// `os.getpid()`.
    Pid,
    /// `os.getppid()`.
    ParentPid,
    /// `current_process().name`.
    Name,
    /// `parent_process()`: its pid, or None.
    ParentProcessPid,
    /// `parent_process().name`.
    ParentProcessName,
    /// What `os.fork()` returned in this process (bare fork children only).
    ForkReturn,
    /// Call `sys.exit(arg)` and catch what it raises.
    TrySysExit(ExitArg),
    /// How many threads this process has (`len(os.listdir('/proc/self/task'))`).
    OsThreads,
    /// The value bound to this name in the main module, as code there sees
    /// it: a `NameError` ("name 'x' is not defined") when unbound.
    MainGlobal(String),
}

/// How a child program ends.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "end", content = "arg", rename_all = "snake_case")]
pub enum Ending {
    /// The target returns normally.
    #[default]
    Return,
    /// `raise SystemExit(arg)` (`sys.exit(arg)`).
    SysExit(ExitArg),
    /// An uncaught exception of this kind and message.
    Raise(PyError),
    /// `os._exit(n)`.
    OsExit(i32),
}

/// The argument of `SystemExit`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "arg", content = "value", rename_all = "snake_case")]
pub enum ExitArg {
    /// `SystemExit()`, `sys.exit()`.
    Missing,
    /// `SystemExit(None)`.
    None,
    Int(i64),
    Str(String),
}

/// How to make a process object: `Process(target=...)`, a context's
/// `Process`, or a subclass.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcessSpec {
    /// What the target callable does.
    pub target: Program,
    /// A subclass of the process class with this name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subclass: Option<String>,
    /// The subclass overrides `run()` with this program (needs `subclass`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_override: Option<Program>,
    /// Take the class from `get_context(method)` instead of the module.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// The `name=` argument.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The `daemon=` argument.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daemon: Option<bool>,
    /// Send the child's standard error (fd 2) to a capture the clause can read.
    #[serde(default)]
    pub capture_stderr: bool,
    /// Send the child's standard output (fd 1) to a capture the clause can
    /// read; its own children inherit it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub capture_stdout: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl ProcessSpec {
    pub fn target(target: Program) -> Self {
        ProcessSpec {
            target,
            ..Default::default()
        }
    }
}

/// The class `get_context(method).Process` names its processes after.
pub fn context_class_name(method: &str) -> String {
    match method {
        "fork" => "ForkProcess".into(),
        "spawn" => "SpawnProcess".into(),
        "forkserver" => "ForkServerProcess".into(),
        other => format!("{other}Process"),
    }
}
