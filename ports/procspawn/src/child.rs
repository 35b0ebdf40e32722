//! Life in a procspawn child: the fn every spawned process runs, which
//! interprets the child's Program, and how such a process is spawned (from
//! the clause's process or from a child).

use crate::gates;
use crate::wire::{ChildArgs, GateRequest, Report};
use ipc_channel::ipc::IpcSender;
use mpconform_spec::{Ending, ErrorKind, ExitArg, Probe, Program, PyError, Step, Value};
use procspawn::serde::Json;
use procspawn::JoinHandle;
use std::collections::HashMap;
use std::process::Stdio;

/// Spawns a process that runs `target`, with the test channels.
pub fn spawn(
    target: &Program,
    capture_stderr: bool,
    reports: IpcSender<String>,
    gates: Vec<(u64, IpcSender<GateRequest>)>,
) -> JoinHandle<()> {
    let mut builder = procspawn::Builder::new();
    if capture_stderr {
        builder.stderr(Stdio::piped());
    }
    let args = ChildArgs {
        program: Json(target.clone()),
        reports,
        gates,
    };
    builder.spawn(args, run)
}

/// The spawned fn. A program's error (and `Raise`) is a panic, the one way a
/// procspawn fn fails that its parent sees (core.rs:369).
fn run(args: ChildArgs) {
    let ChildArgs {
        program: Json(program),
        reports,
        gates,
    } = args;
    let mut child = Child {
        reports,
        gates: gates.into_iter().collect(),
        spawned: Vec::new(),
    };
    if let Err(e) = child.steps(&program.steps) {
        panic!("{}: {}", e.kind, e.message);
    }
    match program.end {
        // Returning drops `child.spawned`: procspawn kills every child whose
        // JoinHandle is dropped (proc.rs:572), and that is what happens here.
        Ending::Return => {}
        Ending::SysExit(arg) => std::process::exit(exit_code(&arg)),
        Ending::Raise(e) => panic!("{}: {}", e.kind, e.message),
        // SAFETY: _exit only ends the process, as os._exit does.
        Ending::OsExit(code) => unsafe { libc::_exit(code) },
    }
}

/// The status SystemExit(arg) stands for. procspawn has no bootstrap that
/// would print a text argument, so nothing is printed.
fn exit_code(arg: &ExitArg) -> i32 {
    match arg {
        ExitArg::Missing | ExitArg::None => 0,
        ExitArg::Int(n) => *n as i32,
        ExitArg::Str(_) => 1,
    }
}

struct Child {
    reports: IpcSender<String>,
    gates: HashMap<u64, IpcSender<GateRequest>>,
    /// Children this child spawned, held until it ends.
    spawned: Vec<JoinHandle<()>>,
}

impl Child {
    fn steps(&mut self, steps: &[Step]) -> Result<(), PyError> {
        steps.iter().try_for_each(|step| self.step(step))
    }

    fn report(&self, label: &str, value: Value) -> Result<(), PyError> {
        self.reports
            .send(Report::encode(label, value))
            .map_err(|e| runtime(format!("report channel: {e:?}")))
    }

    fn step(&mut self, step: &Step) -> Result<(), PyError> {
        match step {
            Step::Report { label, probe } => {
                let value = probe_value(probe).unwrap_or_else(Value::Error);
                self.report(label, value)
            }
            Step::WaitGate { gate } => {
                let sender = self
                    .gates
                    .get(&gate.0)
                    .ok_or_else(|| runtime(format!("no gate {gate}")))?;
                gates::wait(sender).map_err(runtime)
            }
            Step::Start { label, spec } => {
                let handing_on = self.gates.iter().map(|(h, s)| (*h, s.clone())).collect();
                let handle = spawn(&spec.target, false, self.reports.clone(), handing_on);
                let value = match handle.pid() {
                    Some(pid) => Value::Int(i64::from(pid)),
                    None => Value::Error(runtime("procspawn spawned no process".into())),
                };
                self.spawned.push(handle);
                self.report(label, value)
            }
            // scope::check_spec turned these away before anything was spawned.
            other => Err(runtime(format!("not runnable under procspawn: {other:?}"))),
        }
    }
}

fn probe_value(probe: &Probe) -> Result<Value, PyError> {
    Ok(match probe {
        Probe::Text(text) => Value::Str(text.clone()),
        Probe::Pid => Value::Int(i64::from(std::process::id())),
        Probe::ParentPid => Value::Int(i64::from(std::os::unix::process::parent_id())),
        Probe::OsThreads => Value::Int(
            std::fs::read_dir("/proc/self/task")
                .map_err(|e| PyError::new(ErrorKind::OSError, e.to_string()))?
                .count() as i64,
        ),
        other => return Err(runtime(format!("not observable under procspawn: {other:?}"))),
    })
}

fn runtime(message: String) -> PyError {
    PyError::new(ErrorKind::RuntimeError, message)
}
