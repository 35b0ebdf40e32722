//! What a clause run may leave behind besides processes and descriptors:
//! POSIX named semaphores and shared-memory segments (files in /dev/shm) and
//! temporary files and directories (`pymp-*`, `mpconform-*`). Each is a
//! verdict like a leftover process, and the harness removes what it names, so
//! that it never leaves one itself, even when it kills a clause.
//!
//! Attribution has to hold while other clause runs (`-j`) make their own:
//! - temporary files: every clause run gets a private temporary directory
//!   (`$TMPDIR/mpconform-clause-PID`, PID the clause process's), which the
//!   target sees as its TMPDIR; whatever is in it at the end is the run's;
//! - /dev/shm: a name is the run's when one of the run's processes has it
//!   mapped or open (/proc/PID/maps, /proc/PID/fd) at the end of the clause,
//!   and it is still there once every process of the run has ended.

use mpconform_spec::observe::{children_of, processes_where};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Where POSIX named semaphores and shared memory live on Linux.
pub const SHM_DIR: &str = "/dev/shm";

/// How long helpers a target started for itself (a forkserver, a resource
/// tracker, loky's executor manager, ...) may take to end on their own once
/// the implementation has ended. Measured here: CPython 3.13's forkserver
/// and resource tracker end within 5-30 ms of the driver (`mpconform run
/// --format json`, field `grace_millis`); 2 s leaves room for a loaded
/// machine and still bounds a helper that never ends.
pub const HELPER_GRACE: Duration = Duration::from_secs(2);

/// The private temporary directory of the clause process `pid`.
pub fn clause_tmpdir_of(pid: u32) -> PathBuf {
    std::env::temp_dir().join(format!("mpconform-clause-{pid}"))
}

static THIS_CLAUSE_TMPDIR: OnceLock<PathBuf> = OnceLock::new();

/// The private temporary directory of the clause running in this process,
/// once `ClauseTmp::create` has made it: what a target gets as TMPDIR.
pub fn this_clause_tmpdir() -> Option<&'static Path> {
    THIS_CLAUSE_TMPDIR.get().map(PathBuf::as_path)
}

static PROBE_TMPDIR: std::sync::Mutex<Option<PathBuf>> = std::sync::Mutex::new(None);

/// The temporary directory a target gets: the clause run's, or the runner's
/// probe's while it reads a target's hello.
pub fn target_tmpdir() -> Option<PathBuf> {
    this_clause_tmpdir().map(Path::to_path_buf).or_else(|| {
        PROBE_TMPDIR
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    })
}

/// Runs `probe` (the runner's open of a target, for its hello) with a
/// private temporary directory of its own; returns what it returned and the
/// names it left there (removed).
pub fn with_probe_tmpdir<T>(probe: impl FnOnce() -> T) -> (T, Vec<String>) {
    let path = std::env::temp_dir().join(format!("mpconform-probe-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&path);
    let made = std::fs::create_dir(&path).is_ok();
    if made {
        *PROBE_TMPDIR.lock().unwrap_or_else(|e| e.into_inner()) = Some(path.clone());
    }
    let result = probe();
    *PROBE_TMPDIR.lock().unwrap_or_else(|e| e.into_inner()) = None;
    (result, remove_clause_tmpdir(&path))
}

/// A clause run's private temporary directory.
pub struct ClauseTmp {
    path: PathBuf,
}

impl ClauseTmp {
    /// Makes this process's private temporary directory.
    pub fn create() -> std::io::Result<ClauseTmp> {
        let path = clause_tmpdir_of(std::process::id());
        // A stale one of a killed earlier process with this pid goes first.
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir(&path)?;
        let _ = THIS_CLAUSE_TMPDIR.set(path.clone());
        Ok(ClauseTmp { path })
    }

    /// Removes the directory; returns the names that were left in it.
    pub fn finish(self) -> Vec<String> {
        remove_clause_tmpdir(&self.path)
    }
}

/// Removes a clause's private temporary directory and returns the entries
/// that were in it (sorted), each as `$TMPDIR/NAME`.
pub fn remove_clause_tmpdir(path: &Path) -> Vec<String> {
    let mut left: Vec<String> = match std::fs::read_dir(path) {
        Ok(dir) => dir
            .filter_map(|e| e.ok())
            .map(|e| format!("$TMPDIR/{}", e.file_name().to_string_lossy()))
            .collect(),
        Err(_) => return Vec::new(),
    };
    left.sort();
    let _ = std::fs::remove_dir_all(path);
    left
}

/// Every descendant of `root` (not `root` itself), by walking /proc.
pub fn descendants(root: i64) -> Vec<i32> {
    let mut found = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for child in children_of(parent) {
            found.push(child.pid);
            frontier.push(i64::from(child.pid));
        }
    }
    found
}

/// The members of process group `group`.
pub fn group_members(group: i32) -> Vec<i32> {
    processes_where(|s| s.pgrp == group)
        .into_iter()
        .map(|s| s.pid)
        .collect()
}

/// The files of /dev/shm (by inode) that any of `pids` has mapped or open.
/// By inode, not by name: glibc's sem_open maps a temporary `sem.XXXXXX`,
/// links it to the semaphore's name and unlinks the temporary, so a
/// process's maps show `/dev/shm/sem.XXXXXX (deleted)` for `sem.mp-...`.
pub fn shm_in_use(pids: &[i32]) -> BTreeSet<u64> {
    use std::os::unix::fs::MetadataExt;
    let mut inodes = BTreeSet::new();
    let prefix = format!("{SHM_DIR}/");
    for pid in pids {
        if let Ok(maps) = std::fs::read_to_string(format!("/proc/{pid}/maps")) {
            for line in maps.lines().filter(|l| l.contains(&prefix)) {
                // address perms offset dev inode path
                if let Some(inode) = line.split_whitespace().nth(4).and_then(|i| i.parse().ok()) {
                    inodes.insert(inode);
                }
            }
        }
        if let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
            for fd in fds.filter_map(|e| e.ok()) {
                let on_shm = std::fs::read_link(fd.path())
                    .is_ok_and(|t| t.display().to_string().starts_with(&prefix));
                if on_shm {
                    if let Ok(meta) = std::fs::metadata(fd.path()) {
                        inodes.insert(meta.ino());
                    }
                }
            }
        }
    }
    inodes
}

/// The entries of /dev/shm whose inode is in `seen`: removed, and their
/// paths returned.
pub fn remove_left_shm(seen: &BTreeSet<u64>) -> Vec<String> {
    use std::os::unix::fs::MetadataExt;
    if seen.is_empty() {
        return Vec::new();
    }
    let Ok(dir) = std::fs::read_dir(SHM_DIR) else {
        return Vec::new();
    };
    let mut removed: Vec<String> = dir
        .filter_map(|e| e.ok())
        .filter(|e| e.metadata().is_ok_and(|m| seen.contains(&m.ino())))
        .filter(|e| std::fs::remove_file(e.path()).is_ok())
        .map(|e| e.path().display().to_string())
        .collect();
    removed.sort();
    removed
}

/// The names in /dev/shm now (for a run's own before-and-after check).
pub fn shm_names() -> BTreeSet<String> {
    match std::fs::read_dir(SHM_DIR) {
        Ok(dir) => dir
            .filter_map(|e| e.ok())
            .map(|e| format!("{SHM_DIR}/{}", e.file_name().to_string_lossy()))
            .collect(),
        Err(_) => BTreeSet::new(),
    }
}

/// A process still running after the grace: its pid and command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lingering {
    pub pid: i32,
    pub command: String,
}

impl std::fmt::Display for Lingering {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.pid, self.command)
    }
}

/// The command line of `pid`, its arguments joined by spaces.
pub fn command_line(pid: i32) -> String {
    match std::fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(raw) if !raw.is_empty() => raw
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect::<Vec<_>>()
            .join(" "),
        _ => "?".to_string(),
    }
}

/// Reaps this process's children as they end, until none is left running or
/// `grace` has passed; returns how long it took. Orphans of the
/// implementation come here (the clause process is a subreaper), so this is
/// where helpers that end on their own are awaited.
pub fn await_children(grace: Duration) -> Duration {
    let me = i64::from(std::process::id());
    let started = Instant::now();
    let deadline = started + grace;
    loop {
        let mut running = Vec::new();
        for child in children_of(me) {
            if child.state == 'Z' {
                let mut status = 0;
                // SAFETY: waitpid on our own exited child with a valid pointer.
                unsafe { libc::waitpid(child.pid, &mut status, libc::WNOHANG) };
            } else {
                running.push(child.pid);
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if running.is_empty() || left.is_zero() {
            return started.elapsed();
        }
        // Wait for any of them to end (a pidfd becomes readable at exit);
        // a new orphan arriving meanwhile is seen on the next round.
        let fds: Vec<_> = running
            .iter()
            .filter_map(|pid| {
                mpconform_spec::observe::pidfd_open(i64::from(*pid))
                    .ok()
                    .flatten()
            })
            .collect();
        if fds.is_empty() {
            continue;
        }
        let mut polls: Vec<libc::pollfd> = fds
            .iter()
            .map(|fd| libc::pollfd {
                fd: std::os::fd::AsRawFd::as_raw_fd(fd),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        // A short slice, so that orphans re-parented here meanwhile (whose
        // pidfds we do not hold yet) are not waited past the deadline.
        let slice = left.min(Duration::from_millis(50));
        // SAFETY: a valid array of pollfd of the given length.
        unsafe {
            libc::poll(
                polls.as_mut_ptr(),
                polls.len() as libc::nfds_t,
                slice.as_millis() as i32,
            )
        };
    }
}

/// Kills every process left below this one and reaps them all (zombies of
/// orphans included); returns the pids that were still alive.
pub fn kill_descendants() -> Vec<i32> {
    let me = i64::from(std::process::id());
    let mut killed = Vec::new();
    loop {
        let children = children_of(me);
        if children.is_empty() {
            break;
        }
        for child in &children {
            if child.state != 'Z' {
                killed.push(child.pid);
                // SAFETY: kill takes a pid and a signal number.
                unsafe { libc::kill(child.pid, libc::SIGKILL) };
            }
        }
        for child in children {
            let mut status = 0;
            // SAFETY: waitpid on our own child with a valid status pointer.
            unsafe { libc::waitpid(child.pid, &mut status, 0) };
        }
    }
    killed
}
