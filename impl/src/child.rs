//! Life inside a child: what a process started by multiprocessing does after
//! fork (`BaseProcess._bootstrap`, then `popen_fork`'s exit path), and the
//! interpreter of child programs shared with bare fork children and run().

use crate::faults::Fault;
use crate::process::ProcessObject;
use crate::sys::{exit_now, os_error, write_all};
use crate::{CurrentProcess, RefImpl};
use mpconform_spec::{CallError, Ending, ErrorKind, ExitArg, Handle, Probe, PyError, Step, Value};
use nix::unistd::ForkResult;
use std::os::fd::{AsFd, OwnedFd};

/// How a program ended, as `_bootstrap` sees it.
enum Outcome {
    Returned,
    SystemExit(ExitArg),
    Error(PyError),
}

fn pid() -> i32 {
    nix::unistd::getpid().as_raw()
}

impl RefImpl {
    /// Runs in the forked child of `start()` and never returns.
    pub(crate) fn become_child(
        &mut self,
        h: Handle,
        sentinel_write_end: OwnedFd,
        captures: Captures,
    ) -> ! {
        // The write end stays open for the child's whole life: it is the sentinel.
        std::mem::forget(sentinel_write_end);
        captures.install();
        let ignores_override = self.faults.has(Fault::RunOverrideIgnored);
        // Taken, not cloned: this process's copy of the object is never used
        // again, and a program can be long.
        let object: &mut ProcessObject = self.processes.get_mut(&h).expect("started object");
        let worker = object.pool_worker.take();
        let program = match (object.run_override.take(), ignores_override) {
            (Some(run), false) => run,
            _ => object.target.take().unwrap_or_default(),
        };
        self.current = self.child_identity(h, nix::unistd::getppid().as_raw());
        self.children.clear();
        if !self.faults.has(Fault::ParentAtexitInForkChild) {
            self.atexit.clear();
        }
        self.bare_children.clear();
        self.fork_return = None;
        if self.faults.has(Fault::ForkChildFreshMain) {
            self.main_globals.clear();
        }
        self.reset_queues_after_fork();
        self.sync_after_fork();
        self.threads.clear();
        match worker {
            Some(setup) => self.run_worker(setup),
            None => self.run_child(program),
        }
    }

    /// What `current_process()` is in the child that runs object `h`, whose
    /// parent is `parent_pid`.
    pub(crate) fn child_identity(&self, h: Handle, parent_pid: i32) -> CurrentProcess {
        let object: &ProcessObject = &self.processes[&h];
        let counter = if self.faults.has(Fault::ChildCounterNotReset) {
            self.current.counter
        } else if self.faults.has(Fault::NamesCountFromZero) {
            0
        } else {
            1
        };
        CurrentProcess {
            name: object.name.clone(),
            identity: object.identity.clone(),
            daemon: object.daemon,
            counter,
            parent: Some((self.current.name.clone(), parent_pid)),
        }
    }

    /// `_bootstrap` and the start method's exit path, in a child that is
    /// ready to run `program` (forked or spawned); never returns.
    pub(crate) fn run_child(&mut self, program: mpconform_spec::Program) -> ! {
        let outcome = match self.run_steps(&program.steps) {
            Err(e) => Outcome::Error(e),
            Ok(()) => match program.end {
                Ending::Return => Outcome::Returned,
                Ending::SysExit(arg) => Outcome::SystemExit(arg),
                Ending::Raise(e) => Outcome::Error(e),
                Ending::OsExit(code) => self.os_exit(code),
            },
        };
        let code = self.bootstrap_exitcode(outcome);
        // _bootstrap's `finally`: util._flush_std_streams().
        flush_std_streams();
        // popen_fork: atexit handlers, _exit_function among them (registered
        // first, so it runs last), then os._exit.
        self.run_atexit();
        self.exit_function();
        self.join_threads();
        exit_now(code)
    }

    /// `_bootstrap`'s mapping from how run() ended to the exit code.
    fn bootstrap_exitcode(&self, outcome: Outcome) -> i32 {
        let from_args = self.faults.has(Fault::SysexitFromArgs);
        match outcome {
            Outcome::Returned => 0,
            Outcome::SystemExit(ExitArg::Missing) => i32::from(from_args),
            Outcome::SystemExit(ExitArg::None) if from_args => {
                self.stderr("None\n");
                1
            }
            Outcome::SystemExit(ExitArg::None) => 0,
            Outcome::SystemExit(ExitArg::Int(n)) => {
                if self.faults.has(Fault::SysexitOutOfRangeIsOne) && !(0..=255).contains(&n) {
                    1
                } else {
                    n as i32
                }
            }
            Outcome::SystemExit(ExitArg::Str(text)) => {
                if !self.faults.has(Fault::SysexitStrNotPrinted) {
                    self.stderr(&format!("{text}\n"));
                }
                1
            }
            Outcome::Error(e) => {
                if !self.faults.has(Fault::ErrorReportMissing) {
                    let last = if e.message.is_empty() {
                        format!("{}", e.kind)
                    } else {
                        format!("{}: {}", e.kind, e.message)
                    };
                    self.stderr(&format!(
                        "Process {}:\nTraceback (most recent call last):\n  \
                         File \"<mpconform-ref>\", line 1, in run\n{last}\n",
                        self.current.name
                    ));
                }
                1
            }
        }
    }

    fn stderr(&self, text: &str) {
        let _ = write_all(std::io::stderr(), text.as_bytes());
    }

    /// `os._exit(code)`: no handler runs (unless the fault says otherwise).
    fn os_exit(&mut self, code: i32) -> ! {
        if self.faults.has(Fault::OsExitRunsAtexit) {
            self.run_atexit();
        }
        exit_now(code)
    }

    /// The handlers this process registered, last first.
    pub(crate) fn run_atexit(&mut self) {
        for label in std::mem::take(&mut self.atexit).iter().rev() {
            let _ = self.reports.send(label, Value::None);
        }
    }

    /// Runs in a bare `os.fork()` child and never returns.
    pub(crate) fn become_bare_child(&mut self, steps: &[Step], end: &Ending) -> ! {
        self.fork_return = Some(if self.faults.has(Fault::ForkChildSeesOwnPid) {
            pid()
        } else {
            0
        });
        self.bare_children.clear();
        self.atexit.clear();
        if self.faults.has(Fault::ForkChildClosesInheritedFds) {
            self.fds.clear();
        }
        let code = match self.run_steps(steps) {
            Err(e) => self.bootstrap_exitcode(Outcome::Error(e)),
            Ok(()) => match end {
                Ending::Return => 0,
                Ending::SysExit(arg) => self.bootstrap_exitcode(Outcome::SystemExit(arg.clone())),
                Ending::Raise(e) => self.bootstrap_exitcode(Outcome::Error(e.clone())),
                Ending::OsExit(code) => self.os_exit(*code),
            },
        };
        self.run_atexit();
        exit_now(code)
    }

    /// Interprets steps in this process; the first error stops them.
    pub(crate) fn run_steps(&mut self, steps: &[Step]) -> Result<(), PyError> {
        for step in steps {
            self.run_step(step)?;
        }
        Ok(())
    }

    fn run_step(&mut self, step: &Step) -> Result<(), PyError> {
        match step {
            Step::Report { label, probe } => {
                let value = self.probe(probe).unwrap_or_else(Value::Error);
                self.reports.send(label, value)
            }
            Step::WaitGate { gate } => self
                .gates
                .get(gate)
                .ok_or_else(|| missing("gate", *gate))?
                .wait(),
            Step::Start { label, spec } => {
                let h = self.new_process(spec);
                let value = match self.start(h) {
                    Ok(pid) => Value::Int(pid as i64),
                    Err(e) => Value::Error(raised(e)),
                };
                self.reports.send(label, value)
            }
            Step::StartInherited { label, process } => {
                let value = match self.start(*process) {
                    Ok(_) => Value::None,
                    Err(e) => Value::Error(raised(e)),
                };
                self.reports.send(label, value)
            }
            Step::ForkHolder { label, gate } => {
                // SAFETY: other threads (queue feeders, a test harness's) may run, as
                // they may in CPython. After fork the child touches no lock another
                // thread could hold: queue state that a feeder shares is forgotten, not
                // used (reset_queues_after_fork), output goes through raw write(2), and
                // glibc's malloc is made fork-safe by its own atfork handlers.
                match unsafe { nix::unistd::fork() }.map_err(os_error)? {
                    ForkResult::Child => {
                        if let Some(g) = self.gates.get(gate) {
                            let _ = g.wait();
                        }
                        exit_now(0)
                    }
                    ForkResult::Parent { child } => {
                        self.reports.send(label, Value::Int(child.as_raw() as i64))
                    }
                }
            }
            Step::AtexitReport { label } => {
                self.atexit.push(label.clone());
                Ok(())
            }
            Step::Print { text } => {
                use std::io::Write;
                // Through std's buffer, as print() goes through sys.stdout's;
                // a text without a newline stays there until a flush.
                std::io::stdout()
                    .write_all(text.as_bytes())
                    .map_err(|e| PyError::new(ErrorKind::OSError, e.to_string()))
            }
            Step::CloseFd { fd } => self.fds.remove(fd).map(drop).ok_or_else(bad_fd),
            Step::WriteFd { fd, data } => write_all(self.fds.get(fd).ok_or_else(bad_fd)?, data),
            Step::Ipc { label, op } => {
                let result = self.ipc(op).map_err(raised);
                self.report_or_raise(label.as_deref(), result)
            }
            Step::Sync { label, op } => {
                let result = self.sync_op(op).map_err(raised);
                self.report_or_raise(label.as_deref(), result)
            }
            Step::Thread { daemon, steps } => self.start_thread(*daemon, steps),
            Step::SetMainGlobal { name, value } => {
                self.main_globals.insert(name.clone(), value.clone());
                Ok(())
            }
            Step::Drain {
                label,
                from,
                stop,
                task_done,
            } => {
                let mut got = Vec::new();
                loop {
                    let item = self.take_one(*from)?;
                    if *task_done {
                        self.queue_task_done(*from)?;
                    }
                    if item == *stop {
                        break;
                    }
                    got.push(item);
                }
                self.reports.send(label, Value::List(got))
            }
            other => Err(unknown(format!("{other:?}"))),
        }
    }

    /// A step's result: reported under its label, or, without one, an error
    /// that ends the program as an uncaught exception.
    fn report_or_raise(
        &self,
        label: Option<&str>,
        result: Result<Value, PyError>,
    ) -> Result<(), PyError> {
        match label {
            Some(label) => self
                .reports
                .send(label, result.unwrap_or_else(Value::Error)),
            None => result.map(drop),
        }
    }

    pub(crate) fn probe(&self, probe: &Probe) -> Result<Value, PyError> {
        Ok(match probe {
            Probe::Text(text) => Value::Str(text.clone()),
            Probe::Pid => Value::Int(pid() as i64),
            Probe::ParentPid => Value::Int(nix::unistd::getppid().as_raw() as i64),
            Probe::Name => Value::Str(self.current.name.clone()),
            Probe::ParentProcessPid => self.parent_process_pid(),
            Probe::ParentProcessName => match &self.current.parent {
                Some((name, _)) => Value::Str(name.clone()),
                None => {
                    return Err(PyError::new(
                        ErrorKind::AttributeError,
                        "'NoneType' object has no attribute 'name'",
                    ))
                }
            },
            Probe::ForkReturn => match self.fork_return {
                Some(r) => Value::Int(r as i64),
                None => {
                    return Err(PyError::new(
                        ErrorKind::RuntimeError,
                        "not a bare fork child",
                    ))
                }
            },
            Probe::OsThreads => Value::Int(
                std::fs::read_dir("/proc/self/task")
                    .map_err(|e| PyError::new(ErrorKind::OSError, e.to_string()))?
                    .count() as i64,
            ),
            Probe::MainGlobal(name) => match self.main_globals.get(name) {
                Some(v) => v.clone(),
                None => {
                    return Err(PyError::new(
                        ErrorKind::Other("NameError".into()),
                        format!("name '{name}' is not defined"),
                    ))
                }
            },
            Probe::TrySysExit(arg) => {
                Value::Error(PyError::new(ErrorKind::SystemExit, exit_arg_str(arg)))
            }
            other => return Err(unknown(format!("{other:?}"))),
        })
    }
}

/// `util._flush_std_streams()`.
pub(crate) fn flush_std_streams() {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
}

/// Where a child's standard output and error go, when the clause captures them.
#[derive(Default)]
pub(crate) struct Captures {
    pub stdout: Option<OwnedFd>,
    pub stderr: Option<OwnedFd>,
}

impl Captures {
    /// Puts the captures on fds 1 and 2 (std's stdout is flushed first, so
    /// nothing of the parent's lands in them).
    pub(crate) fn install(self) {
        if let Some(capture) = self.stdout {
            use std::io::Write;
            let _ = std::io::stdout().flush();
            let _ = nix::unistd::dup2_stdout(capture.as_fd());
        }
        if let Some(capture) = self.stderr {
            let _ = nix::unistd::dup2_stderr(capture.as_fd());
        }
    }
}

/// `str(SystemExit(arg))`.
fn exit_arg_str(arg: &ExitArg) -> String {
    match arg {
        ExitArg::Missing => String::new(),
        ExitArg::None => "None".into(),
        ExitArg::Int(n) => n.to_string(),
        ExitArg::Str(s) => s.clone(),
    }
}

fn raised(e: CallError) -> PyError {
    match e {
        CallError::Raised(e) => e,
        other => PyError::new(ErrorKind::RuntimeError, other.to_string()),
    }
}

fn missing(what: &str, h: Handle) -> PyError {
    PyError::new(ErrorKind::RuntimeError, format!("no {what} {h}"))
}

fn bad_fd() -> PyError {
    os_error(nix::errno::Errno::EBADF)
}

/// A step or probe of a later wire version than this reference knows: the
/// child says so, as a raised error its report carries.
fn unknown(what: String) -> PyError {
    PyError::new(
        mpconform_spec::ErrorKind::RuntimeError,
        format!("the reference does not know {what}"),
    )
}
