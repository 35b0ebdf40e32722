//! What a clause sees for itself in the operating system, outside the trait:
//! process states in /proc, process exit through a pidfd, descriptors. These
//! never use the machinery under test, so a broken implementation cannot hide
//! its own breakage.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

/// The state letter of a process in /proc (`R`, `S`, `Z`, ...), or None when
/// no such process exists.
pub fn process_state(pid: i64) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: the state follows the last ')'.
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().next()?.chars().next()
}

/// Whether `pid` is a zombie: exited, and not yet reaped.
pub fn is_zombie(pid: i64) -> bool {
    process_state(pid) == Some('Z')
}

/// Wait until process `pid` has exited (it may still be a zombie), without
/// reaping it. True if it exited within `timeout`; a pid that no longer
/// exists counts as exited.
pub fn wait_exit(pid: i64, timeout: Duration) -> bool {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return true;
    }
    // SAFETY: the syscall just returned this descriptor and nobody else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let ms = left.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n > 0 {
            return true;
        }
        if n == 0 {
            return false;
        }
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return false;
        }
    }
}

/// Whether `pid` is a child of this very process (the clause's process is a
/// subreaper, so orphans of the implementation's children come here). Reaps
/// it if it is an exited one.
pub fn is_child_of_clause_process(pid: i64) -> bool {
    let mut status = 0;
    // SAFETY: waitpid with WNOHANG on a specific pid and a valid status pointer.
    let r = unsafe { libc::waitpid(pid as libc::pid_t, &mut status, libc::WNOHANG) };
    r >= 0
}

/// What descriptor `fd` of process `pid` refers to (`pipe:[1234]`), or None
/// when it is not open.
pub fn fd_target(pid: i64, fd: i64) -> Option<String> {
    std::fs::read_link(format!("/proc/{pid}/fd/{fd}"))
        .ok()
        .map(|p| p.display().to_string())
}
