//! What a clause (and the harness) sees for itself in the operating system,
//! outside the trait: process states in /proc, process exit through a pidfd,
//! descriptors. These never use the machinery under test, so a broken
//! implementation cannot hide its own breakage.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// The fields of /proc/PID/stat the suite reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    pub pid: i32,
    /// `R`, `S`, `D`, `Z`, ...
    pub state: char,
    pub ppid: i32,
    pub pgrp: i32,
}

/// /proc/PID/stat of `pid`, or None when no such process exists.
pub fn stat(pid: i64) -> Option<ProcStat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: the fields follow the last ')'.
    let mut fields = text[text.rfind(')')? + 1..].split_whitespace();
    Some(ProcStat {
        pid: pid as i32,
        state: fields.next()?.chars().next()?,
        ppid: fields.next()?.parse().ok()?,
        pgrp: fields.next()?.parse().ok()?,
    })
}

/// The state letter of a process, or None when no such process exists.
pub fn process_state(pid: i64) -> Option<char> {
    stat(pid).map(|s| s.state)
}

/// Every process in /proc whose stat satisfies `keep`.
pub fn processes_where(keep: impl Fn(&ProcStat) -> bool) -> Vec<ProcStat> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i64>().ok())
        .filter_map(stat)
        .filter(|s| keep(s))
        .collect()
}

/// The direct children of `parent`, zombies included.
pub fn children_of(parent: i64) -> Vec<ProcStat> {
    processes_where(|s| i64::from(s.ppid) == parent)
}

/// A pidfd for `pid`: Ok(None) when no such process exists any more.
pub fn pidfd_open(pid: i64) -> std::io::Result<Option<OwnedFd>> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        let e = std::io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::ESRCH) => Ok(None),
            _ => Err(e),
        };
    }
    // SAFETY: the syscall just returned this descriptor and nobody else owns it.
    Ok(Some(unsafe { OwnedFd::from_raw_fd(fd as i32) }))
}

/// Waits until process `pid` has exited (it may still be a zombie), without
/// reaping it: true if it exited within `timeout`. A pid that no longer
/// exists has exited; a pidfd that cannot be had is an error.
pub fn wait_exit(pid: i64, timeout: Duration) -> std::io::Result<bool> {
    let Some(fd) = pidfd_open(pid)? else {
        return Ok(true);
    };
    readable(&fd, timeout)
}

/// Whether `fd` becomes readable within `timeout`.
pub fn readable(fd: &impl AsRawFd, timeout: Duration) -> std::io::Result<bool> {
    let deadline = Instant::now() + timeout;
    loop {
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let left = deadline.saturating_duration_since(Instant::now());
        let ms = left.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd.
        match unsafe { libc::poll(&mut pfd, 1, ms) } {
            0 => return Ok(false),
            n if n > 0 => return Ok(true),
            _ => {
                let e = std::io::Error::last_os_error();
                if e.kind() != std::io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
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

/// How many threads `pid` has (its entries under /proc/PID/task).
pub fn thread_count(pid: i64) -> std::io::Result<usize> {
    Ok(std::fs::read_dir(format!("/proc/{pid}/task"))?.count())
}

/// The open descriptors of `pid`, each with what it refers to
/// (`(5, "pipe:[1234]")`): a descriptor closed and its number reused for
/// something else shows as a different pair. The directory's own descriptor
/// (when `pid` is this process) is closed before the links are read, so it
/// is not among them.
pub fn descriptors(pid: i64) -> std::io::Result<std::collections::BTreeSet<(i64, String)>> {
    let numbers: Vec<i64> = std::fs::read_dir(format!("/proc/{pid}/fd"))?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    Ok(numbers
        .into_iter()
        .filter_map(|fd| Some((fd, fd_target(pid, fd)?)))
        .collect())
}

/// The arguments of `pid`'s command line (/proc/PID/cmdline), or None when
/// no such process exists. A forked child shows its parent's; an exec'd one
/// its own.
pub fn command_line(pid: i64) -> Option<Vec<String>> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(
        raw.split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect(),
    )
}

/// Whether `pid`'s main thread is asleep in the futex system call: where a
/// process blocked on a lock, semaphore or event waits, whatever the
/// implementation (glibc's sem_wait and pthread locks, a Rust port's own
/// futex). /proc/PID/syscall names the call a sleeping thread is in; where
/// it cannot be read, the kernel's wait channel (`futex_*`) tells the same.
pub fn blocked_in_futex(pid: i64) -> bool {
    let state = process_state(pid);
    if state != Some('S') {
        return false;
    }
    if let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/syscall")) {
        if let Some(number) = text
            .split_whitespace()
            .next()
            .and_then(|n| n.parse::<i64>().ok())
        {
            return number == libc::SYS_futex;
        }
    }
    std::fs::read_to_string(format!("/proc/{pid}/wchan")).is_ok_and(|w| w.contains("futex"))
}

/// The inode of the listening Unix socket bound at `path`, from
/// /proc/net/unix (whose last column is the bound path).
pub fn unix_socket_inode(path: &str) -> Option<u64> {
    let table = std::fs::read_to_string("/proc/net/unix").ok()?;
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        (fields.len() >= 8 && fields[7] == path)
            .then(|| fields[6].parse().ok())
            .flatten()
    })
}

/// Whether `pid` holds the socket with this inode open.
pub fn holds_socket(pid: i64, inode: u64) -> bool {
    let wanted = format!("socket:[{inode}]");
    descriptors(pid).is_ok_and(|fds| fds.iter().any(|(_, target)| *target == wanted))
}
