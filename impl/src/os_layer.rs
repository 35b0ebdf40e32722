//! The bare os calls the O clauses drive: fork, wait / waitpid, pipe, read,
//! write, close, kill.

use crate::faults::Fault;
use crate::sys::{self, os_error};
use crate::RefImpl;
use mpconform_spec::{CallError, ErrorKind, Handle, Program, PyError, Value};
use nix::errno::Errno;
use nix::unistd::ForkResult;
use std::os::fd::AsFd;

fn pair(a: i64, b: i64) -> Value {
    Value::List(vec![Value::Int(a), Value::Int(b)])
}

impl RefImpl {
    pub(crate) fn os_fork(&mut self, child: &Program) -> Result<Value, CallError> {
        use std::io::Write;
        let _ = std::io::stdout().flush();
        // SAFETY: other threads (queue feeders, a test harness's) may run, as
        // they may in CPython. After fork the child touches no lock another
        // thread could hold: queue state that a feeder shares is forgotten, not
        // used (reset_queues_after_fork), output goes through raw write(2), and
        // glibc's malloc is made fork-safe by its own atfork handlers.
        match unsafe { nix::unistd::fork() }.map_err(os_error)? {
            ForkResult::Child => self.become_bare_child(&child.steps, &child.end),
            ForkResult::Parent { child } => {
                self.bare_children.push(child.as_raw());
                Ok(Value::Int(child.as_raw() as i64))
            }
        }
    }

    /// `os.waitpid(pid, flags)`, or `os.wait()` when `plain_wait`.
    pub(crate) fn os_waitpid(
        &mut self,
        pid: i64,
        nohang: bool,
        plain_wait: bool,
    ) -> Result<Value, CallError> {
        let pid = i32::try_from(pid).map_err(|_| {
            PyError::new(
                ErrorKind::Other("OverflowError".into()),
                "signed integer is greater than maximum",
            )
        })?;
        let result = if self.fault(Fault::WaitpidNoReap) {
            peek(pid, nohang)
        } else {
            reap(pid, nohang)
        };
        match result {
            Ok(None) if self.fault(Fault::WnohangReturnsNone) && !plain_wait => Ok(Value::None),
            Ok(None) => Ok(pair(0, 0)),
            Ok(Some((child, status))) => {
                let status = if self.fault(Fault::WaitReturnsExitcode) {
                    crate::status::to_exitcode(status as i64, &self.faults)?
                } else {
                    status as i64
                };
                Ok(pair(child as i64, status))
            }
            Err(Errno::ECHILD) if self.fault(Fault::EchildAsZeroTuple) => Ok(pair(0, 0)),
            Err(Errno::ECHILD) if self.fault(Fault::WaitpidAbortsOnEchild) => std::process::abort(),
            Err(e) => Err(os_error(e).into()),
        }
    }

    pub(crate) fn os_pipe(&mut self) -> Result<Value, CallError> {
        let (read, write) = sys::pipe()?;
        let r = self.handle();
        self.fds.insert(r, read);
        let w = self.handle();
        self.fds.insert(w, write);
        Ok(Value::List(vec![Value::Handle(r), Value::Handle(w)]))
    }

    pub(crate) fn os_close(&mut self, fd: Handle) -> Result<Value, CallError> {
        self.fd(fd)?;
        self.fds.remove(&fd);
        Ok(Value::None)
    }

    pub(crate) fn os_read(
        &mut self,
        fd: Handle,
        max: usize,
        timeout: f64,
    ) -> Result<Value, CallError> {
        let fd = self.fd(fd)?;
        if !sys::readable(fd.as_fd(), Some(sys::seconds(timeout)))? {
            return Err(PyError::new(
                ErrorKind::Timeout,
                format!("nothing to read within {timeout} s"),
            )
            .into());
        }
        Ok(Value::Bytes(sys::read_some(fd, max)?))
    }

    pub(crate) fn os_kill(&mut self, pid: i64, signal: i32) -> Result<Value, CallError> {
        let signal = nix::sys::signal::Signal::try_from(signal)
            .map_err(|_| PyError::os(ErrorKind::OSError, libc::EINVAL, "Invalid argument"))?;
        // A pid beyond pid_t must not wrap round to -1 ("every process").
        let pid = i32::try_from(pid).map_err(|_| overflow())?;
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal).map_err(os_error)?;
        Ok(Value::None)
    }
}

fn reap(pid: i32, nohang: bool) -> Result<Option<(i32, i32)>, Errno> {
    sys::waitpid(pid, if nohang { libc::WNOHANG } else { 0 })
}

/// What CPython raises for a pid beyond a C int.
fn overflow() -> PyError {
    PyError::new(
        ErrorKind::Other("OverflowError".into()),
        "signed integer is greater than maximum",
    )
}

/// waitid(2) with WNOWAIT: reports an ended child but leaves it a zombie.
fn peek(pid: i32, nohang: bool) -> Result<Option<(i32, i32)>, Errno> {
    let (idtype, id) = if pid == -1 {
        (libc::P_ALL, 0)
    } else {
        (libc::P_PID, pid as libc::id_t)
    };
    let mut flags = libc::WEXITED | libc::WNOWAIT;
    if nohang {
        flags |= libc::WNOHANG;
    }
    loop {
        // SAFETY: zeroed siginfo is a valid out-parameter for waitid.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let r = unsafe { libc::waitid(idtype, id, &mut info, flags) };
        if r < 0 {
            if Errno::last() == Errno::EINTR {
                continue;
            }
            return Err(Errno::last());
        }
        // SAFETY: waitid filled in a SIGCHLD siginfo.
        let (child, code, status) = unsafe { (info.si_pid(), info.si_code, info.si_status()) };
        if child == 0 {
            return Ok(None);
        }
        let raw = if code == libc::CLD_EXITED {
            (status & 0xff) << 8
        } else {
            status & 0x7f
        };
        return Ok(Some((child, raw)));
    }
}
