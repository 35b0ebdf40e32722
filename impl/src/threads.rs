//! Threads a child program starts (`threading.Thread`): each runs its steps
//! beside the program, on its own copies of the gates and of the report
//! channel's sending side. A thread interprets the steps a thread of a
//! clause needs: waiting at a gate and reporting its text or pid.

use crate::channels::{wait_on, ReportSender};
use crate::RefImpl;
use mpconform_spec::{Handle, Probe, PyError, Step, Value};
use std::collections::BTreeMap;
use std::os::fd::OwnedFd;

/// What a thread's steps use.
struct Kit {
    gates: BTreeMap<Handle, OwnedFd>,
    reports: ReportSender,
}

impl Kit {
    fn run(&self, steps: &[Step]) -> Result<(), String> {
        for step in steps {
            match step {
                Step::WaitGate { gate } => {
                    let waiter = self.gates.get(gate).ok_or(format!("no gate {gate}"))?;
                    wait_on(waiter).map_err(|e| e.to_string())?;
                }
                Step::Report { label, probe } => {
                    let value = match probe {
                        Probe::Text(text) => Value::Str(text.clone()),
                        Probe::Pid => Value::Int(nix::unistd::getpid().as_raw() as i64),
                        other => return Err(format!("a thread cannot probe {other:?}")),
                    };
                    self.reports.send(label, value).map_err(|e| e.to_string())?;
                }
                other => return Err(format!("a thread cannot run {other:?}")),
            }
        }
        Ok(())
    }
}

impl RefImpl {
    /// `threading.Thread(target=steps, daemon=daemon).start()`.
    pub(crate) fn start_thread(&mut self, daemon: bool, steps: &[Step]) -> Result<(), PyError> {
        let mut gates = BTreeMap::new();
        for (h, gate) in &self.gates {
            gates.insert(*h, gate.waiter()?);
        }
        let kit = Kit {
            gates,
            reports: self.reports.sender()?,
        };
        let steps = steps.to_vec();
        let thread = std::thread::spawn(move || {
            if let Err(why) = kit.run(&steps) {
                let line = format!("Exception in thread: {why}\n");
                let _ = crate::sys::write_all(std::io::stderr(), line.as_bytes());
            }
        });
        self.threads.push((daemon, thread));
        Ok(())
    }

    /// `threading._shutdown()`: waits for every non-daemonic thread; the
    /// daemonic ones end with the process.
    pub(crate) fn join_threads(&mut self) {
        if self.fault(crate::faults::Fault::ChildThreadsNotJoined) {
            return;
        }
        for (daemon, thread) in std::mem::take(&mut self.threads) {
            if !daemon {
                let _ = thread.join();
            }
        }
    }
}
