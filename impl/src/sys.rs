//! Thin helpers over the system calls the reference implementation makes,
//! with errors turned into the Python exceptions CPython raises for them.

use mpconform_spec::{ErrorKind, PyError};
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

/// The exception CPython raises for `errno` (PEP 3151's subclasses).
pub fn os_error(errno: Errno) -> PyError {
    let kind = match errno {
        Errno::ECHILD => ErrorKind::ChildProcessError,
        Errno::ESRCH => ErrorKind::ProcessLookupError,
        _ => ErrorKind::OSError,
    };
    PyError::os(kind, errno as i32, errno.desc())
}

/// Whether `fd` is readable (data or end of file) within `timeout`; None waits
/// for ever.
pub fn readable(fd: BorrowedFd<'_>, timeout: Option<Duration>) -> Result<bool, PyError> {
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        let wait = match deadline {
            None => PollTimeout::NONE,
            Some(d) => {
                // Rounded up: a wait must never end before its timeout.
                let left = d.saturating_duration_since(Instant::now());
                let millis = left.as_nanos().div_ceil(1_000_000);
                PollTimeout::try_from(millis.min(i32::MAX as u128) as i32)
                    .unwrap_or(PollTimeout::MAX)
            }
        };
        let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
        match poll(&mut fds, wait) {
            Ok(0) => return Ok(false),
            Ok(_) => return Ok(true),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(os_error(e)),
        }
    }
}

/// Seconds as Python passes them, to a duration (negative counts as zero).
pub fn seconds(timeout: f64) -> Duration {
    Duration::from_secs_f64(timeout.max(0.0))
}

/// A pipe whose ends are closed on exec (as `os.pipe()` makes them).
pub fn pipe() -> Result<(OwnedFd, OwnedFd), PyError> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(os_error)
}

/// Writes all of `data`, as one write when it fits a pipe's atomic size.
pub fn write_all(fd: impl AsFd, mut data: &[u8]) -> Result<(), PyError> {
    while !data.is_empty() {
        match nix::unistd::write(fd.as_fd(), data) {
            Ok(n) => data = &data[n..],
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(os_error(e)),
        }
    }
    Ok(())
}

/// One read of at most `max` bytes.
pub fn read_some(fd: impl AsFd, max: usize) -> Result<Vec<u8>, PyError> {
    let mut buf = vec![0u8; max];
    loop {
        match nix::unistd::read(fd.as_fd(), &mut buf) {
            Ok(n) => {
                buf.truncate(n);
                return Ok(buf);
            }
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(os_error(e)),
        }
    }
}

/// waitpid(2), retried on EINTR: `Some((pid, raw status))` for a reaped
/// child, None while none has ended (with WNOHANG).
pub fn waitpid(pid: i32, flags: i32) -> Result<Option<(i32, i32)>, Errno> {
    loop {
        let mut status = 0;
        // SAFETY: a valid status pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, flags) };
        match r {
            0 => return Ok(None),
            r if r > 0 => return Ok(Some((r, status))),
            _ if Errno::last() == Errno::EINTR => continue,
            _ => return Err(Errno::last()),
        }
    }
}

/// Ends this process at once with `code`, as `os._exit` does.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit only ends the process.
    unsafe { libc::_exit(code) }
}
