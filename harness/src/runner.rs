//! The runner: each clause runs in its own process (a re-exec of this binary)
//! in its own process group, with a time limit. A clause that hangs is killed
//! with its whole group and gets `timeout`; one whose process dies without an
//! outcome gets `crash`; the run always goes on.

use crate::error::HarnessError;
use crate::target::Target;
use crate::verdict::{ClauseMessage, Outcome, Verdict};
use mpconform_ref::Fault;
use mpconform_spec::{Clause, TranscriptEntry};
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What to run.
pub struct Plan {
    pub target: Target,
    pub fault: Option<Fault>,
    pub clauses: Vec<&'static Clause>,
    pub jobs: usize,
    pub limit: Duration,
}

/// What a run came to.
pub struct Run {
    pub outcomes: Vec<Outcome>,
    pub wall: Duration,
}

/// Runs every clause of the plan under every start method the target has;
/// `progress` sees each outcome as it arrives.
pub fn run(plan: &Plan, progress: &(dyn Fn(&Outcome) + Sync)) -> Result<Run, HarnessError> {
    let started = Instant::now();
    // What a killed clause leaves behind comes here to be reaped, not to init.
    // SAFETY: prctl with PR_SET_CHILD_SUBREAPER takes an integer flag.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    let exe = std::env::current_exe()?;
    let methods = plan.target.open(None)?.describe().start_methods;
    let work: Vec<(&'static Clause, &str)> = plan
        .clauses
        .iter()
        .flat_map(|c| methods.iter().map(move |m| (*c, m.as_str())))
        .collect();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Outcome>>> = Mutex::new(vec![None; work.len()]);
    let failure: Mutex<Option<HarnessError>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..plan.jobs.min(work.len()).max(1) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some((clause, method)) = work.get(i) else {
                    break;
                };
                match run_one(&exe, plan, clause, method) {
                    Ok(outcome) => {
                        progress(&outcome);
                        results.lock().expect("no panics while held")[i] = Some(outcome);
                    }
                    Err(e) => {
                        *failure.lock().expect("no panics while held") = Some(e);
                        break;
                    }
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().expect("threads joined") {
        return Err(e);
    }
    let outcomes = results
        .into_inner()
        .expect("threads joined")
        .into_iter()
        .flatten()
        .collect();
    Ok(Run {
        outcomes,
        wall: started.elapsed(),
    })
}

/// Runs one clause in a new process and turns whatever happens into an outcome.
fn run_one(
    exe: &std::path::Path,
    plan: &Plan,
    clause: &Clause,
    method: &str,
) -> Result<Outcome, HarnessError> {
    let mut command = Command::new(exe);
    command
        .arg("__clause")
        .args(["--target", &plan.target.to_string()])
        .args(["--clause", clause.id])
        .args(["--method", method])
        .args(["--timeout", &plan.limit.as_secs_f64().to_string()]);
    if let Some(fault) = plan.fault {
        command.args(["--fault", fault.name()]);
    }
    command
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = command.spawn()?;
    let pid = child.id() as i32;
    let mut out = Stream::new(child.stdout.take().expect("piped"));
    let mut err = Stream::new(child.stderr.take().expect("piped"));
    let exit = pidfd(pid)?;
    let deadline = started + plan.limit;
    let mut timed_out = false;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut fds = [out.pollfd(), err.pollfd(), pollfd(exit.as_raw_fd())];
        // SAFETY: three valid pollfd entries (a negative fd is skipped).
        let n = unsafe {
            libc::poll(
                fds.as_mut_ptr(),
                3,
                left.as_millis().min(i32::MAX as u128) as i32,
            )
        };
        out.drain();
        err.drain();
        if n > 0 && fds[2].revents != 0 {
            break;
        }
        if Instant::now() >= deadline {
            timed_out = true;
            // SAFETY: kill with a negative pid signals the clause's process group.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
            break;
        }
    }
    let status = child.wait()?;
    // SAFETY: as above; whatever is left of the group is killed.
    let stray_group = unsafe { libc::kill(-pid, libc::SIGKILL) } == 0;
    if stray_group || timed_out {
        reap_group(pid);
    }
    out.drain();
    err.drain();
    let millis = started.elapsed().as_secs_f64() * 1000.0;
    let stderr = tail(&String::from_utf8_lossy(&err.data));
    let mut entries = Vec::new();
    let mut reported = None;
    for line in String::from_utf8_lossy(&out.data).lines() {
        match serde_json::from_str(line) {
            Ok(ClauseMessage::Entry(entry)) => entries.push(entry),
            Ok(ClauseMessage::Outcome(outcome)) => reported = Some(*outcome),
            Err(_) => {}
        }
    }
    let mut outcome = match (timed_out, reported) {
        (true, _) => bare(
            clause,
            method,
            Verdict::Timeout,
            format!(
                "no verdict within the {:?} limit: the clause's process group was killed",
                plan.limit
            ),
            entries,
        ),
        (false, Some(outcome)) => outcome,
        (false, None) => bare(
            clause,
            method,
            Verdict::Crash,
            match status.signal() {
                Some(signal) => {
                    format!("the clause's process died of signal {signal} without a verdict")
                }
                None => format!(
                    "the clause's process exited with status {} without a verdict",
                    status.code().unwrap_or(-1)
                ),
            },
            entries,
        ),
    };
    if outcome.verdict != Verdict::Pass {
        outcome.stderr = stderr;
    }
    if stray_group {
        outcome.reason = Some(match outcome.reason.take() {
            Some(r) => format!("{r}; processes left in the clause's group were killed"),
            None => "processes left in the clause's group were killed".into(),
        });
    }
    outcome.millis = millis;
    Ok(outcome)
}

/// Reaps the members of process group `group` that were orphaned to this
/// process, until none is left; other workers' clause processes (each in a
/// group of its own) are never touched.
fn reap_group(group: i32) {
    let me = std::process::id() as i32;
    loop {
        let orphans: Vec<i32> = std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .filter_map(|entry| {
                let pid: i32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
                let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace().skip(1);
                let ppid: i32 = fields.next()?.parse().ok()?;
                let pgrp: i32 = fields.next()?.parse().ok()?;
                (ppid == me && pgrp == group).then_some(pid)
            })
            .collect();
        if orphans.is_empty() {
            return;
        }
        for pid in orphans {
            let mut status = 0;
            // SAFETY: the group was killed; waitpid on our own child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
        }
    }
}

fn bare(
    clause: &Clause,
    method: &str,
    verdict: Verdict,
    reason: String,
    transcript: Vec<TranscriptEntry>,
) -> Outcome {
    Outcome {
        clause: clause.id.to_string(),
        method: method.to_string(),
        verdict,
        reason: Some(reason),
        violation: None,
        transcript,
        leftover_processes: Vec::new(),
        leaked_fds: Vec::new(),
        stderr: String::new(),
        millis: 0.0,
        body_millis: 0.0,
    }
}

/// The last lines of a process's standard error, enough to diagnose it.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

fn pidfd(pid: i32) -> Result<OwnedFd, HarnessError> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(HarnessError::Spawn(std::io::Error::last_os_error()));
    }
    // SAFETY: the descriptor was just returned to us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

fn pollfd(fd: i32) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}

/// One of the clause process's output pipes, read without blocking.
struct Stream<R> {
    reader: Option<R>,
    data: Vec<u8>,
}

impl<R: Read + AsRawFd> Stream<R> {
    fn new(reader: R) -> Self {
        // SAFETY: setting O_NONBLOCK on a descriptor we own.
        unsafe {
            let fd = reader.as_raw_fd();
            let flags = libc::fcntl(fd, libc::F_GETFL);
            libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
        }
        Stream {
            reader: Some(reader),
            data: Vec::new(),
        }
    }

    fn pollfd(&self) -> libc::pollfd {
        pollfd(self.reader.as_ref().map_or(-1, |r| r.as_raw_fd()))
    }

    /// Reads whatever is there; forgets the pipe at end of file.
    fn drain(&mut self) {
        let Some(reader) = self.reader.as_mut() else {
            return;
        };
        let mut buf = [0u8; 65536];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => {
                    self.reader = None;
                    return;
                }
                Ok(n) => self.data.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => return,
            }
        }
    }
}
