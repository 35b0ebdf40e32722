//! What procspawn does not offer, in one place: the reasons given for every
//! `Unsupported` answer, and the check that a process spec (with the
//! programs of its children, children's children, ...) uses only what a
//! procspawn child can do, made before anything is spawned.

use mpconform_spec::{Ending, Probe, ProcessSpec, Program, Step};

pub const NO_NAMES: &str = "procspawn processes have no name (JoinHandle holds only the \
                            child, proc.rs:448; no current_process())";
pub const NO_DAEMON: &str = "procspawn has no daemon flag: every JoinHandle kills its \
                             child when dropped (proc.rs:572)";
pub const NO_SUBCLASS: &str = "procspawn has no process class to subclass or override run() \
                               of: spawn() runs a plain fn(A) -> R (proc.rs:592)";
pub const NO_CONTEXT: &str = "procspawn has no contexts: one spawn() (proc.rs:592)";
pub const NO_RESTART: &str = "procspawn has no process object that outlives its start: \
                              spawn() creates and starts a process in one call (proc.rs:592)";
pub const NO_RUN: &str = "procspawn has no run(): the spawned fn runs only in a new process";
pub const NO_HELD_TARGET: &str = "procspawn has no process object holding a target: \
                                  spawn() takes the fn and its argument and returns only a \
                                  JoinHandle (proc.rs:592)";
pub const NO_TERMINATE: &str = "procspawn has no terminate(): JoinHandle::kill sends SIGKILL \
                                (proc.rs:337, 377), nothing sends SIGTERM";
pub const NO_CLOSE: &str = "procspawn has no close(): dropping a JoinHandle kills the child \
                            (proc.rs:572)";
pub const NO_SENTINEL: &str = "procspawn exposes no sentinel: its only view of a child is \
                               the result channel inside JoinHandle (proc.rs:357)";
pub const NO_CHILDREN: &str = "procspawn keeps no registry of children (no \
                               active_children(), no children set)";
pub const NO_PARENT: &str = "procspawn has no parent_process()";
pub const NO_OS_LAYER: &str = "procspawn has no os layer (fork, waitpid, pipe): it only \
                               spawns a fresh image of the executable (proc.rs:222)";
pub const NO_IPC: &str = "procspawn has no queues or pipes: its only channel is a spawned \
                          fn's argument and return value (proc.rs:292-299)";
pub const NO_UNSTARTED_JOIN: &str = "procspawn has no unstarted process object to join, \
                                     kill or signal: spawn() returns a started JoinHandle";
pub const JOINED_HANDLE_GONE: &str = "procspawn's JoinHandle::join consumes the handle \
                                      (proc.rs:525): nothing is left to kill";
pub const NO_STATUS: &str = "procspawn does not expose the exit status of a child that ended \
                             without returning its result: join gives only 'remote side \
                             closed' (proc.rs:402-406, error.rs:243) and ProcessHandle::wait \
                             discards the status (proc.rs:395)";

pub const UNKNOWN: &str = "a call or step newer than this port, which maps it to nothing \
                           procspawn offers";

/// Why procspawn cannot run a process made from `spec`, if it cannot.
pub fn check_spec(spec: &ProcessSpec, nested: bool) -> Result<(), &'static str> {
    if spec.subclass.is_some() || spec.run_override.is_some() {
        return Err(NO_SUBCLASS);
    }
    if spec.context.is_some() {
        return Err(NO_CONTEXT);
    }
    if spec.name.is_some() {
        return Err(NO_NAMES);
    }
    if spec.daemon.is_some() {
        return Err(NO_DAEMON);
    }
    if nested && spec.capture_stderr {
        return Err("only the clause's process reads a captured stderr");
    }
    check_program(&spec.target)
}

fn check_program(program: &Program) -> Result<(), &'static str> {
    for step in &program.steps {
        check_step(step)?;
    }
    match program.end {
        Ending::Return | Ending::SysExit(_) | Ending::Raise(_) | Ending::OsExit(_) => Ok(()),
    }
}

fn check_step(step: &Step) -> Result<(), &'static str> {
    match step {
        Step::Report { probe, .. } => check_probe(probe),
        Step::WaitGate { .. } => Ok(()),
        Step::Start { spec, .. } => check_spec(spec, true),
        Step::StartInherited { .. } => Err("procspawn has no process object a child can \
                                            inherit: a JoinHandle cannot be sent (proc.rs:448)"),
        Step::ForkHolder { .. } | Step::CloseFd { .. } | Step::WriteFd { .. } => Err(NO_OS_LAYER),
        Step::AtexitReport { .. } => Err("procspawn has no exit handlers: a child ends with \
                                          process::exit (core.rs:300)"),
        Step::Ipc { .. } | Step::Drain { .. } => Err(NO_IPC),
        // Step is non_exhaustive in newer wire versions: a step this port
        // does not know is one it cannot run.
        #[allow(unreachable_patterns)]
        _ => Err(UNKNOWN),
    }
}

fn check_probe(probe: &Probe) -> Result<(), &'static str> {
    match probe {
        Probe::Text(_) | Probe::Pid | Probe::ParentPid | Probe::OsThreads => Ok(()),
        Probe::Name => Err(NO_NAMES),
        Probe::ParentProcessPid | Probe::ParentProcessName => Err(NO_PARENT),
        Probe::ForkReturn => Err(NO_OS_LAYER),
        Probe::TrySysExit(_) => Err("procspawn has no SystemExit to catch: a child ends the \
                                     process itself (std::process::exit)"),
        #[allow(unreachable_patterns)]
        _ => Err(UNKNOWN),
    }
}
