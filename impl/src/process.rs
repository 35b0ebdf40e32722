//! Process objects as CPython 3.13's `BaseProcess` and `popen_fork.Popen`
//! keep them: start once, sentinel, poll / wait / join, signals, close, repr.

use crate::child::Captures;
use crate::faults::Fault;
use crate::sys::{self, os_error, readable};
use crate::RefImpl;
use mpconform_spec::{CallError, ErrorKind, Handle, ProcessSpec, Program, PyError, Value};
use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::unistd::{ForkResult, Pid};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

/// One process object (`Process(...)`).
pub(crate) struct ProcessObject {
    /// The target; dropped by start() (bpo-30775).
    pub target: Option<Program>,
    pub run_override: Option<Program>,
    pub class_name: String,
    pub name: String,
    pub identity: Vec<u32>,
    pub daemon: bool,
    /// The pid of the process that created the object.
    pub creator: i32,
    pub capture_stderr: bool,
    pub capture_stdout: bool,
    /// `get_context(method)` the class came from; None for the module's own.
    pub context: Option<String>,
    pub popen: Option<Popen>,
    pub closed: bool,
    /// Set for a pool's worker: it runs the worker loop, not a program.
    pub pool_worker: Option<crate::pool::WorkerSetup>,
}

/// A started child as the parent sees it.
pub(crate) struct Popen {
    pub pid: i32,
    pub sentinel: OwnedFd,
    pub returncode: Option<i64>,
    pub stderr: Option<OwnedFd>,
    pub stdout: Option<OwnedFd>,
}

fn closed_error() -> CallError {
    PyError::new(ErrorKind::ValueError, "process object is closed").into()
}

fn assertion(message: &str) -> PyError {
    PyError::new(ErrorKind::AssertionError, message)
}

fn my_pid() -> i32 {
    nix::unistd::getpid().as_raw()
}

impl RefImpl {
    pub(crate) fn object(&self, h: Handle) -> Result<&ProcessObject, CallError> {
        self.processes
            .get(&h)
            .ok_or_else(|| CallError::Broken(format!("no process object {h}")))
    }

    fn object_mut(&mut self, h: Handle) -> Result<&mut ProcessObject, CallError> {
        self.processes
            .get_mut(&h)
            .ok_or_else(|| CallError::Broken(format!("no process object {h}")))
    }

    /// The object, refusing a closed one (`_check_closed`).
    fn open_object(&self, h: Handle) -> Result<&ProcessObject, CallError> {
        let object = self.object(h)?;
        if object.closed {
            return Err(closed_error());
        }
        Ok(object)
    }

    pub(crate) fn new_process(&mut self, spec: &ProcessSpec) -> Handle {
        let count = self.current.counter;
        self.current.counter += 1;
        let mut identity = self.current.identity.clone();
        identity.push(count);
        let class_name = if self.fault(Fault::NameIgnoresClass) {
            "Process".to_string()
        } else if let Some(subclass) = &spec.subclass {
            subclass.clone()
        } else if let Some(method) = &spec.context {
            mpconform_spec::program::context_class_name(method)
        } else {
            "Process".to_string()
        };
        let numbers: Vec<String> = identity.iter().map(|n| n.to_string()).collect();
        let name = spec
            .name
            .clone()
            .unwrap_or_else(|| format!("{class_name}-{}", numbers.join(":")));
        let object = ProcessObject {
            target: Some(spec.target.clone()),
            run_override: spec.run_override.clone(),
            class_name,
            name,
            identity,
            daemon: spec.daemon.unwrap_or(self.current.daemon),
            creator: my_pid(),
            capture_stderr: spec.capture_stderr,
            capture_stdout: spec.capture_stdout,
            context: spec.context.clone(),
            popen: None,
            closed: false,
            pool_worker: None,
        };
        let h = self.handle();
        self.processes.insert(h, object);
        h
    }

    /// `BaseProcess.start`, checks in CPython's order.
    pub(crate) fn start(&mut self, h: Handle) -> Result<i32, CallError> {
        let object = self.object(h)?;
        if object.closed && !self.fault(Fault::StartIgnoresClosed) {
            return Err(closed_error());
        }
        if object.popen.is_some() && !self.fault(Fault::StartTwiceForksAgain) {
            return Err(assertion("cannot start a process twice").into());
        }
        if object.creator != my_pid() && !self.fault(Fault::StartFromAnyProcess) {
            return Err(
                assertion("can only start a process object created by current process").into(),
            );
        }
        if self.current.daemon && !self.fault(Fault::DaemonMayHaveChildren) {
            return Err(assertion("daemonic processes are not allowed to have children").into());
        }
        if !self.fault(Fault::StartSkipsCleanup) {
            self.cleanup();
        }
        let popen = self.launch(h)?;
        let pid = popen.pid;
        let keep_target = self.fault(Fault::StartKeepsTarget);
        let object = self.object_mut(h)?;
        object.popen = Some(popen);
        object.closed = false;
        if !keep_target {
            object.target = None;
        }
        self.children.insert(h);
        Ok(pid)
    }

    /// `Popen(process_obj)` of the method the object starts by: the
    /// default context's for the module's Process (fixing it), its own for a
    /// context's.
    fn launch(&mut self, h: Handle) -> Result<Popen, CallError> {
        let context = self.object(h)?.context.clone();
        let method = self.method_for(context.as_deref());
        // popen_fork.Popen.__init__ (which popen_spawn_posix inherits):
        // util._flush_std_streams(), so no buffered text is copied.
        if !self.fault(Fault::NoFlushBeforeFork) {
            crate::child::flush_std_streams();
        }
        let captures = self.captures(h)?;
        match method.as_str() {
            "spawn" => self.launch_spawn(h, captures),
            _ => self.launch_fork(h, captures),
        }
    }

    /// Fresh captures for the object's standard output and error.
    fn captures(&self, h: Handle) -> Result<Captures, CallError> {
        let object = self.object(h)?;
        let capture = |wanted: bool, name: &str| -> Result<Option<OwnedFd>, CallError> {
            if !wanted {
                return Ok(None);
            }
            let fd = nix::sys::memfd::memfd_create(name, nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
                .map_err(os_error)?;
            Ok(Some(fd))
        };
        Ok(Captures {
            stdout: capture(object.capture_stdout, "mpconform-stdout")?,
            stderr: capture(object.capture_stderr, "mpconform-stderr")?,
        })
    }

    /// `popen_fork.Popen._launch`: a sentinel pipe whose write end only the
    /// child keeps, then fork.
    fn launch_fork(&mut self, h: Handle, captures: Captures) -> Result<Popen, CallError> {
        let (sentinel, child_end) = sys::pipe()?;
        // SAFETY: other threads (queue feeders, a test harness's) may run, as
        // they may in CPython. After fork the child touches no lock another
        // thread could hold: queue state that a feeder shares is forgotten, not
        // used (reset_queues_after_fork), output goes through raw write(2), and
        // glibc's malloc is made fork-safe by its own atfork handlers.
        match unsafe { nix::unistd::fork() }.map_err(os_error)? {
            ForkResult::Child => {
                drop(sentinel);
                self.become_child(h, child_end, captures)
            }
            ForkResult::Parent { child } => Ok(self.started(child, sentinel, child_end, captures)),
        }
    }

    /// The parent's side once `child` runs: it drops its copy of the
    /// sentinel's write end (but under a fault) and keeps the rest.
    pub(crate) fn started(
        &mut self,
        child: Pid,
        sentinel: OwnedFd,
        child_end: OwnedFd,
        captures: Captures,
    ) -> Popen {
        if self.fault(Fault::SentinelWriteEndLeaked) {
            self.leaked.push(child_end);
        } else {
            drop(child_end);
        }
        Popen {
            pid: child.as_raw(),
            sentinel,
            returncode: None,
            stderr: captures.stderr,
            stdout: captures.stdout,
        }
    }

    /// `_cleanup`: forget the children that have ended, reaping them.
    pub(crate) fn cleanup(&mut self) {
        let children: Vec<Handle> = self.children.iter().copied().collect();
        for h in children {
            if let Ok(Some(_)) = self.poll(h, true) {
                self.children.remove(&h);
            }
        }
    }

    /// `Popen.poll`: the exit code if the child has ended (reaping it).
    fn poll(&mut self, h: Handle, nohang: bool) -> Result<Option<i64>, CallError> {
        let zero_while_running = self.fault(Fault::ExitcodeZeroWhileRunning);
        let faults = self.faults.clone();
        let Some(popen) = self.object_mut(h)?.popen.as_mut() else {
            return Ok(None);
        };
        if popen.returncode.is_some() {
            return Ok(popen.returncode);
        }
        let flags = if nohang { libc::WNOHANG } else { 0 };
        let status = match sys::waitpid(popen.pid, flags) {
            Ok(Some((_, status))) => status,
            Ok(None) => return Ok(zero_while_running.then_some(0)),
            // CPython swallows the OSError (ECHILD when someone else reaped it).
            Err(_) => return Ok(None),
        };
        popen.returncode = Some(crate::status::to_exitcode(status as i64, &faults)?);
        Ok(popen.returncode)
    }

    /// `Popen.wait(timeout)`.
    fn wait(&mut self, h: Handle, timeout: Option<f64>) -> Result<Option<i64>, CallError> {
        let popen = self.object(h)?.popen.as_ref().expect("started");
        if popen.returncode.is_some() {
            return Ok(popen.returncode);
        }
        let timeout = timeout.filter(|_| !self.fault(Fault::JoinIgnoresTimeout));
        if let Some(t) = timeout {
            if self.fault(Fault::JoinTimeoutPollsPid) {
                if let Some(code) = self.poll(h, true)? {
                    return Ok(Some(code));
                }
            }
            let popen = self.object(h)?.popen.as_ref().expect("started");
            if !readable(popen.sentinel.as_fd(), Some(sys::seconds(t)))? {
                return Ok(None);
            }
        } else if self.fault(Fault::JoinDoesNotReap) {
            let popen = self.object(h)?.popen.as_ref().expect("started");
            readable(popen.sentinel.as_fd(), None)?;
            return Ok(None);
        }
        self.poll(h, timeout == Some(0.0))
    }

    pub(crate) fn join(&mut self, h: Handle, timeout: Option<f64>) -> Result<Value, CallError> {
        let object = self.open_object(h)?;
        if object.creator != my_pid() {
            return Err(assertion("can only join a child process").into());
        }
        if object.popen.is_none() {
            return Err(assertion("can only join a started process").into());
        }
        if self.wait(h, timeout)?.is_some() {
            self.children.remove(&h);
        }
        Ok(Value::None)
    }

    pub(crate) fn is_alive(&mut self, h: Handle) -> Result<bool, CallError> {
        let object = self.open_object(h)?;
        if object.creator != my_pid() {
            return Err(assertion("can only test a child process").into());
        }
        if object.popen.is_none() {
            return Ok(false);
        }
        if self.fault(Fault::IsAliveMeansStarted) {
            return Ok(true);
        }
        if self.poll(h, true)?.is_none() {
            return Ok(true);
        }
        self.children.remove(&h);
        Ok(false)
    }

    pub(crate) fn pid(&self, h: Handle) -> Result<Value, CallError> {
        let object = self.open_object(h)?;
        Ok(object
            .popen
            .as_ref()
            .map_or(Value::None, |p| Value::Int(p.pid as i64)))
    }

    pub(crate) fn exitcode(&mut self, h: Handle) -> Result<Value, CallError> {
        self.open_object(h)?;
        Ok(self.poll(h, true)?.map_or(Value::None, Value::Int))
    }

    /// `BaseProcess.__repr__` of 3.8+.
    pub(crate) fn repr(&mut self, h: Handle) -> Result<String, CallError> {
        let object = self.object(h)?;
        let (status, exitcode) = if object.closed {
            ("closed", None)
        } else if object.creator != my_pid() {
            ("unknown", None)
        } else if object.popen.is_none() {
            ("initial", None)
        } else {
            match self.poll(h, true)? {
                Some(code) => ("stopped", Some(code)),
                None => ("started", None),
            }
        };
        let object = self.object(h)?;
        let mut info = vec![object.class_name.clone(), format!("name='{}'", object.name)];
        if let Some(popen) = &object.popen {
            info.push(format!("pid={}", popen.pid));
        }
        info.push(format!("parent={}", object.creator));
        info.push(status.to_string());
        if let Some(code) = exitcode {
            info.push(format!("exitcode={}", exitcode_name(code)));
        }
        if object.daemon {
            info.push("daemon".into());
        }
        Ok(format!("<{}>", info.join(" ")))
    }

    pub(crate) fn terminate(&mut self, h: Handle) -> Result<Value, CallError> {
        let signal = if self.fault(Fault::TerminateSendsSigkill) {
            Signal::SIGKILL
        } else {
            Signal::SIGTERM
        };
        self.send_signal(h, signal, "terminate")?;
        if self.fault(Fault::TerminateSetsExitcode) {
            if let Some(popen) = self.object_mut(h)?.popen.as_mut() {
                popen.returncode = Some(-15);
            }
        }
        Ok(Value::None)
    }

    pub(crate) fn kill(&mut self, h: Handle) -> Result<Value, CallError> {
        self.send_signal(h, Signal::SIGKILL, "kill")?;
        Ok(Value::None)
    }

    /// `Popen._send_signal`: nothing once the exit code is known; a child
    /// that is already gone is no error.
    fn send_signal(&mut self, h: Handle, signal: Signal, method: &str) -> Result<(), CallError> {
        let object = self.open_object(h)?;
        let Some(popen) = &object.popen else {
            return Err(PyError::new(
                ErrorKind::AttributeError,
                format!("'NoneType' object has no attribute '{method}'"),
            )
            .into());
        };
        if popen.returncode.is_some() {
            return Ok(());
        }
        match nix::sys::signal::kill(Pid::from_raw(popen.pid), signal) {
            Ok(()) | Err(Errno::ESRCH) => Ok(()),
            Err(e) => {
                if self.wait(h, Some(0.1))?.is_none() {
                    return Err(os_error(e).into());
                }
                Ok(())
            }
        }
    }

    pub(crate) fn close(&mut self, h: Handle) -> Result<Value, CallError> {
        if self.object(h)?.popen.is_some() {
            if self.poll(h, true)?.is_none() && !self.fault(Fault::CloseRunningAllowed) {
                return Err(PyError::new(
                    ErrorKind::ValueError,
                    "Cannot close a process while it is still running. You should first call join() or terminate().",
                )
                .into());
            }
            let keep = self.fault(Fault::CloseKeepsSentinel);
            if let Some(popen) = self.object_mut(h)?.popen.take() {
                if keep {
                    self.leaked.push(popen.sentinel);
                }
            }
            self.children.remove(&h);
        }
        self.object_mut(h)?.closed = true;
        Ok(Value::None)
    }

    pub(crate) fn sentinel(&self, h: Handle) -> Result<Value, CallError> {
        let object = self.open_object(h)?;
        match &object.popen {
            Some(popen) => Ok(Value::Int(popen.sentinel.as_raw_fd() as i64)),
            None => Err(PyError::new(ErrorKind::ValueError, "process not started").into()),
        }
    }

    pub(crate) fn sentinel_ready(&self, h: Handle, timeout: f64) -> Result<bool, CallError> {
        let object = self.open_object(h)?;
        let Some(popen) = &object.popen else {
            return Err(PyError::new(ErrorKind::ValueError, "process not started").into());
        };
        Ok(readable(
            popen.sentinel.as_fd(),
            Some(sys::seconds(timeout)),
        )?)
    }

    pub(crate) fn captured_stderr(&self, h: Handle) -> Result<Value, CallError> {
        let object = self.object(h)?;
        let Some(fd) = object.popen.as_ref().and_then(|p| p.stderr.as_ref()) else {
            return Err(CallError::Broken("stderr was not captured".into()));
        };
        read_capture(fd)
    }

    pub(crate) fn captured_stdout(&self, h: Handle) -> Result<Value, CallError> {
        let object = self.object(h)?;
        let Some(fd) = object.popen.as_ref().and_then(|p| p.stdout.as_ref()) else {
            return Err(CallError::Broken("stdout was not captured".into()));
        };
        read_capture(fd)
    }

    /// `active_children()`: reap the ended ones first.
    pub(crate) fn active_children(&mut self) -> Vec<Handle> {
        if !self.fault(Fault::ActiveChildrenNoReap) {
            self.cleanup();
        }
        self.children.iter().copied().collect()
    }

    pub(crate) fn parent_process_pid(&self) -> Value {
        match &self.current.parent {
            None => Value::None,
            Some(_) if self.fault(Fault::ParentProcessIsSelf) => Value::Int(my_pid() as i64),
            Some((_, pid)) => Value::Int(*pid as i64),
        }
    }

    /// `p.run()` in this process: the override, else the target if still held.
    pub(crate) fn run_in_caller(&mut self, h: Handle) -> Result<Value, CallError> {
        let consume = self.fault(Fault::RunConsumesTarget);
        let object = self.object_mut(h)?;
        let program = match (&object.run_override, consume) {
            (Some(run), _) => Some(run.clone()),
            (None, true) => object.target.take(),
            (None, false) => object.target.clone(),
        };
        let Some(program) = program else {
            return Ok(Value::None);
        };
        self.run_steps(&program.steps)?;
        Ok(Value::None)
    }

    /// `util._exit_function` for this process's children: terminate the
    /// daemonic ones, then join every one.
    pub(crate) fn exit_function(&mut self) {
        self.shutdown_own_managers();
        self.queues_close_at_exit();
        if !self.fault(Fault::ExitDoesNotTerminateDaemons) {
            for h in self.active_children() {
                if self.processes.get(&h).is_some_and(|p| p.daemon) {
                    let _ = self.send_signal(h, Signal::SIGTERM, "terminate");
                }
            }
        }
        if !self.fault(Fault::ExitDoesNotAwaitChildren) {
            for h in self.active_children() {
                let _ = self.join(h, None);
            }
        }
        self.queues_join_at_exit();
    }
}

/// Everything written to a capture so far, from its start.
fn read_capture(fd: &OwnedFd) -> Result<Value, CallError> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = nix::sys::uio::pread(fd, &mut buf, out.len() as i64).map_err(os_error)?;
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    Ok(Value::Bytes(out))
}

/// `_exitcode_to_name`: -15 -> '-SIGTERM'.
fn exitcode_name(code: i64) -> String {
    if code < 0 {
        if let Ok(signal) = Signal::try_from(-code as i32) {
            return format!("-{}", signal.as_str());
        }
    }
    code.to_string()
}
