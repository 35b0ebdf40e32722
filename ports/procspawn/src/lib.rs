//! The procspawn crate (crates.io 1.0.2) as an `mpconform_spec::Implementation`:
//! each call maps onto what procspawn really offers (spawn, JoinHandle's pid,
//! join, join_timeout and kill), and everything else is answered
//! `Unsupported` with the reason (`scope`). Children report and wait at
//! gates over ipc-channel channels of their own, passed in procspawn's
//! serialized arguments (`wire`).

mod child;
mod gates;
mod process;
mod reports;
mod scope;
mod wire;

use gates::Gate;
use mpconform_spec::{Call, CallError, Capability, Handle, ImplInfo, Implementation, Reply, Value};
use process::ProcessObject;
use reports::Reports;
use std::collections::BTreeMap;
use std::time::Duration;

/// procspawn in the clause's process.
pub struct ProcspawnImpl {
    next: u64,
    gates: BTreeMap<Handle, Gate>,
    processes: BTreeMap<Handle, ProcessObject>,
    reports: Reports,
}

/// A fresh implementation; `procspawn::init` must have run first in `main`.
pub fn open() -> Result<ProcspawnImpl, String> {
    Ok(ProcspawnImpl {
        next: 0,
        gates: BTreeMap::new(),
        processes: BTreeMap::new(),
        reports: Reports::new().map_err(|e| format!("cannot make the report channel: {e}"))?,
    })
}

fn unsupported(why: &str) -> Reply {
    Err(CallError::Unsupported(why.to_string()))
}

fn broken(what: impl std::fmt::Display) -> CallError {
    CallError::Broken(what.to_string())
}

fn seconds(timeout: f64) -> Duration {
    Duration::try_from_secs_f64(timeout.max(0.0)).unwrap_or(Duration::MAX)
}

impl ProcspawnImpl {
    fn handle(&mut self) -> Handle {
        self.next += 1;
        Handle(self.next)
    }

    fn process(&mut self, h: Handle) -> Result<&mut ProcessObject, CallError> {
        self.processes
            .get_mut(&h)
            .ok_or_else(|| broken(format!("no process object {h}")))
    }

    fn start(&mut self, h: Handle) -> Reply {
        let gates = self.gates.iter().map(|(h, g)| (h.0, g.sender())).collect();
        let reports = self.reports.sender();
        let object = self.process(h)?;
        if !object.is_new() {
            return unsupported(scope::NO_RESTART);
        }
        let spec = &object.spec;
        let handle = child::spawn(&spec.target, spec.capture_stderr, reports, gates);
        object.started(handle)?;
        Ok(Value::None)
    }
}

impl Implementation for ProcspawnImpl {
    fn describe(&mut self) -> ImplInfo {
        ImplInfo {
            name: "procspawn".into(),
            version: "1.0.2".into(),
            // A fresh image of the current executable (proc.rs:210-222): spawn-like.
            start_methods: vec!["spawn".into()],
            capabilities: vec![Capability::ProcessKill],
        }
    }

    fn call(&mut self, call: &Call) -> Reply {
        use Call::*;
        match call {
            UseStartMethod { method } if method == "spawn" => Ok(Value::None),
            UseStartMethod { method } => {
                unsupported(&format!("procspawn has no start method {method:?}"))
            }

            GateNew => {
                let gate = Gate::new().map_err(broken)?;
                let h = self.handle();
                self.gates.insert(h, gate);
                Ok(Value::Handle(h))
            }
            GateOpen { gate } => {
                self.gates
                    .get(gate)
                    .ok_or_else(|| broken(format!("no gate {gate}")))?
                    .open();
                Ok(Value::None)
            }
            AwaitReport { label, timeout } => match self.reports.take(label, seconds(*timeout)) {
                Ok(Ok(v)) => Ok(v),
                Ok(Err(e)) => Err(CallError::Raised(e)),
                Err(e) => Err(broken(e)),
            },
            ReportsSoFar => Ok(Value::List(
                self.reports
                    .labels()
                    .map_err(broken)?
                    .into_iter()
                    .map(Value::Str)
                    .collect(),
            )),

            ProcessNew { spec } => {
                if let Err(why) = scope::check_spec(spec, false) {
                    return unsupported(why);
                }
                let h = self.handle();
                self.processes.insert(h, ProcessObject::new(spec.clone()));
                Ok(Value::Handle(h))
            }
            ProcessStart { process } => self.start(*process),
            ProcessJoin { process, timeout } => self.process(*process)?.join(*timeout),
            ProcessIsAlive { process } => self.process(*process)?.is_alive(),
            ProcessPid { process } => self.process(*process)?.pid(),
            ProcessExitcode { process } => self.process(*process)?.exitcode(),
            ProcessKill { process } => self.process(*process)?.kill(),
            ProcessStderr { process } => self.process(*process)?.stderr(),
            ProcessRun { .. } => unsupported(scope::NO_RUN),
            ProcessName { .. } | ProcessRepr { .. } | CurrentProcessName => {
                unsupported(scope::NO_NAMES)
            }
            ProcessDaemon { .. } => unsupported(scope::NO_DAEMON),
            ProcessTerminate { .. } => unsupported(scope::NO_TERMINATE),
            ProcessClose { .. } => unsupported(scope::NO_CLOSE),
            ProcessSentinel { .. } | ProcessSentinelReady { .. } => unsupported(scope::NO_SENTINEL),
            ProcessHoldsTarget { .. } => unsupported(scope::NO_HELD_TARGET),
            ActiveChildren | ChildrenSet => unsupported(scope::NO_CHILDREN),
            ParentProcessPid => unsupported(scope::NO_PARENT),

            // The process the implementation runs in, which procspawn does not change.
            OsGetpid => Ok(Value::Int(i64::from(std::process::id()))),
            OsFork { .. }
            | OsWait
            | OsWaitpid { .. }
            | OsWaitstatusToExitcode { .. }
            | OsPipe
            | OsClose { .. }
            | OsWrite { .. }
            | OsRead { .. }
            | OsReadable { .. }
            | OsKill { .. } => unsupported(scope::NO_OS_LAYER),

            Ipc(_) => unsupported(scope::NO_IPC),
            // Call is non_exhaustive in newer wire versions.
            #[allow(unreachable_patterns)]
            _ => unsupported(scope::UNKNOWN),
        }
    }
}

impl Drop for ProcspawnImpl {
    /// Processes first: dropping a JoinHandle kills its child (proc.rs:572),
    /// which is procspawn's own end of a parent; then the gate servers.
    fn drop(&mut self) {
        self.processes.clear();
        self.gates.clear();
    }
}
