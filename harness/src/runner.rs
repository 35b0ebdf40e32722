//! The runner: each clause runs in its own process (the command the
//! [`Subject`] gives: a re-exec of `mpconform`, or of a port's test binary)
//! in its own process group, with a time limit. A clause that hangs is killed
//! with its whole group and gets `timeout`; one whose process dies without an
//! outcome gets `crash`; the run always goes on.

use crate::groups;
use crate::isolate::{ClauseRun, Request, REQUEST_VAR};
use crate::residue;
use crate::subject::{OpenError, Subject};
use crate::verdict::{ClauseMessage, Finding, Outcome, Verdict};
use mpconform_spec::{Clause, ImplInfo};
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Why a run could not be carried out (its verdicts are something else).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error("{target} has no start method {asked} (it has: {has})")]
    NoSuchMethod {
        target: String,
        asked: String,
        has: String,
    },
    #[error("cannot start a clause's process: {0}")]
    Spawn(std::io::Error),
    #[error("cannot watch a clause's process: {0}")]
    Watch(std::io::Error),
}

/// What to run.
pub struct Plan<'a> {
    /// What the clauses run against, and how a clause's process starts.
    pub subject: &'a dyn Subject,
    pub clauses: Vec<&'static Clause>,
    pub jobs: usize,
    pub limit: Duration,
    /// Only these start methods (of those the target has); empty: all.
    pub methods: Vec<String>,
}

/// What a run came to.
pub struct Run {
    /// What the target said of itself.
    pub info: ImplInfo,
    pub outcomes: Vec<Outcome>,
    pub wall: Duration,
    /// Names that appeared in /dev/shm or as `pymp-*` / `mpconform-*` in the
    /// temporary directory during the run and are still there, that no
    /// outcome names (another program's, or a leak no clause run could be
    /// held to): shown, never removed.
    pub unattributed: Vec<String>,
}

/// /dev/shm's names and the temporary directory's `pymp-*` and
/// `mpconform-*` ones (the harness's own driver copies aside).
fn residue_names() -> std::collections::BTreeSet<String> {
    let mut names = residue::shm_names();
    if let Ok(dir) = std::fs::read_dir(std::env::temp_dir()) {
        for entry in dir.filter_map(|e| e.ok()) {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("pymp-") || name.starts_with("mpconform-clause-") {
                names.insert(entry.path().display().to_string());
            }
        }
    }
    names
}

/// What the runner learnt by opening the subject once in its own process.
pub struct Probe {
    pub info: ImplInfo,
    /// Names its start left in /dev/shm or the temporary directory, removed.
    pub left: Vec<String>,
}

/// Opens the subject once, in a process of its own, to learn its name,
/// version and start methods; installs the run's stop-signal guard first.
pub fn probe(subject: &dyn Subject, limit: std::time::Duration) -> Result<Probe, RunError> {
    groups::guard_run();
    describe(subject, limit)
}

/// The (clause, start method) runs of `clauses` on a target with `methods`
/// (already narrowed to those asked for), in order.
pub fn runs_of(clauses: &[&'static Clause], methods: &[String]) -> Vec<(&'static Clause, String)> {
    clauses
        .iter()
        .flat_map(|c| -> Vec<(&'static Clause, String)> {
            let under: Vec<&String> = match c.methods {
                mpconform_spec::Methods::Each => methods.iter().collect(),
                mpconform_spec::Methods::Any => methods.iter().take(1).collect(),
                mpconform_spec::Methods::Only(only) => methods
                    .iter()
                    .filter(|m| only.contains(&m.as_str()))
                    .collect(),
                mpconform_spec::Methods::Unchosen => {
                    return vec![(*c, mpconform_spec::clause::UNCHOSEN.to_string())];
                }
            };
            under.into_iter().map(move |m| (*c, m.clone())).collect()
        })
        .collect()
}

/// The target's start methods that `asked` keeps (all when it is empty).
pub fn methods_asked(
    subject: &dyn Subject,
    info: &ImplInfo,
    asked: &[String],
) -> Result<Vec<String>, RunError> {
    let methods: Vec<String> = info
        .start_methods
        .iter()
        .filter(|m| asked.is_empty() || asked.contains(m))
        .cloned()
        .collect();
    if methods.is_empty() {
        return Err(RunError::NoSuchMethod {
            target: subject.name(),
            asked: asked.join(", "),
            has: info.start_methods.join(", "),
        });
    }
    Ok(methods)
}

/// Runs every clause of the plan under every start method the target has;
/// `progress` sees each outcome as it arrives.
pub fn run(plan: &Plan, progress: &(dyn Fn(&Outcome) + Sync)) -> Result<Run, RunError> {
    let started = Instant::now();
    let names_before = residue_names();
    let Probe {
        info,
        left: probe_left,
    } = probe(plan.subject, plan.limit)?;
    let methods = methods_asked(plan.subject, &info, &plan.methods)?;
    let work = runs_of(&plan.clauses, &methods);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Outcome>>> = Mutex::new(vec![None; work.len()]);
    let failure: Mutex<Option<RunError>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..plan.jobs.min(work.len()).max(1) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some((clause, method)) = work.get(i) else {
                    break;
                };
                match run_one(plan.subject, clause, method, plan.limit) {
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
    let outcomes: Vec<Outcome> = results
        .into_inner()
        .expect("threads joined")
        .into_iter()
        .flatten()
        .collect();
    let named: std::collections::BTreeSet<&String> = outcomes
        .iter()
        .flat_map(|o: &Outcome| &o.leaked_names)
        .collect();
    let mut unattributed: Vec<String> = probe_left
        .into_iter()
        .map(|n| format!("{n} (left by the target's start, removed)"))
        .collect();
    unattributed.extend(
        residue_names()
            .difference(&names_before)
            .filter(|n| !named.contains(n))
            .cloned(),
    );
    Ok(Run {
        info,
        outcomes,
        wall: started.elapsed(),
        unattributed,
    })
}

/// What became of one request's process.
struct Launched {
    messages: Vec<ClauseMessage>,
    /// Killed at the time limit.
    timed_out: bool,
    status: std::process::ExitStatus,
    /// Its standard error's last lines.
    stderr: String,
    /// Other members of its group still running when it ended, killed.
    stray: usize,
    /// Names its processes left that the harness removed.
    removed: Vec<String>,
    started: Instant,
}

impl Launched {
    /// `; N other processes of its group were killed`, when there were.
    fn killed(&self) -> String {
        if self.stray > 0 {
            format!("; {} other processes of its group were killed", self.stray)
        } else {
            String::new()
        }
    }

    /// How the process ended without a word, as a sentence.
    fn ended(&self, what: &str) -> String {
        match self.status.signal() {
            Some(signal) => format!(
                "{what} died of signal {signal} without a verdict{}",
                self.killed()
            ),
            None => format!(
                "{what} exited with status {} without a verdict{}",
                self.status.code().unwrap_or(-1),
                self.killed()
            ),
        }
    }
}

/// Starts `request`'s process in a group of its own, reads what it says
/// until it ends or its limit passes, then kills what is left of the group
/// and removes what it left; `None` once the run is stopping.
fn launch(subject: &dyn Subject, request: &Request) -> Result<Option<Launched>, RunError> {
    let mut command: Command = subject.clause_process().map_err(RunError::Spawn)?;
    crate::environment::apply(&mut command);
    command
        .env(REQUEST_VAR, request.encode())
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let Some(mut child) = groups::spawn(&mut command).map_err(RunError::Spawn)? else {
        return Ok(None);
    };
    let pid = child.id() as i32;
    let mut out = Stream::new(child.stdout.take().expect("piped"));
    let mut err = Stream::new(child.stderr.take().expect("piped"));
    let watched = watch(pid, started + request.limit(), &mut out, &mut err);
    out.drain();
    let messages: Vec<ClauseMessage> = String::from_utf8_lossy(&out.data)
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let finished = messages
        .iter()
        .any(|m| !matches!(m, ClauseMessage::Entry(_)));
    // A process that reported has already killed and reaped all it made;
    // only a killed or crashed one leaves a group to clean up. Either way
    // the leader is unreaped here, so its group id is still its own.
    let clean = matches!(watched, Ok(false)) && finished;
    // What a killed run's processes hold in /dev/shm, seen before they die.
    let shm = if clean {
        Default::default()
    } else {
        residue::shm_in_use(&residue::group_members(pid))
    };
    let stray = groups::kill(pid, clean);
    let status = child.wait();
    groups::release(pid, clean);
    let mut removed = residue::remove_left_shm(&shm);
    removed.extend(residue::remove_clause_tmpdir(&residue::clause_tmpdir_of(
        pid as u32,
    )));
    let timed_out = watched.map_err(RunError::Watch)?;
    let status = status.map_err(RunError::Watch)?;
    err.drain();
    Ok(Some(Launched {
        messages,
        timed_out,
        status,
        stderr: tail(&String::from_utf8_lossy(&err.data)),
        stray,
        removed,
        started,
    }))
}

/// Opens `subject` in a process of its own, like a clause's, and returns
/// what it says of itself.
fn describe(subject: &dyn Subject, limit: std::time::Duration) -> Result<Probe, RunError> {
    let opened = |why: String| RunError::Open(OpenError(why));
    let Some(launched) = launch(subject, &Request::Describe { limit })? else {
        return Err(opened("the run was stopped".into()));
    };
    let described = launched.messages.iter().find_map(|m| match m {
        ClauseMessage::Described(d) => Some(d),
        _ => None,
    });
    let mut left = launched.removed.clone();
    match described {
        Some(d) => {
            left.extend(d.left.iter().cloned());
            let info = d.info.clone().map_err(opened)?;
            Ok(Probe { info, left })
        }
        None if launched.timed_out => Err(opened(format!(
            "it did not say what it offers within the {limit:?} limit{}",
            launched.killed()
        ))),
        None => {
            let mut why = launched.ended("the describing process");
            if let Some(last) = launched.stderr.lines().rev().find(|l| !l.trim().is_empty()) {
                why.push_str(&format!(" (stderr: {})", last.trim()));
            }
            Err(opened(why))
        }
    }
}

/// Runs one clause in a new process and turns whatever happens into an
/// outcome; call [`probe`] (or [`groups::guard_run`]) first.
pub fn run_one(
    subject: &dyn Subject,
    clause: &'static Clause,
    method: &str,
    limit: std::time::Duration,
) -> Result<Outcome, RunError> {
    let request = Request::Clause(ClauseRun {
        clause,
        method: method.to_string(),
        limit,
    });
    let Some(launched) = launch(subject, &request)? else {
        return Ok(Outcome::new(
            clause.id,
            method,
            Finding::Error {
                reason: "the run was stopped".into(),
            },
        ));
    };
    let millis = launched.started.elapsed().as_secs_f64() * 1000.0;
    let mut entries = Vec::new();
    let mut reported = None;
    for message in &launched.messages {
        match message {
            ClauseMessage::Entry(entry) => entries.push(entry.clone()),
            ClauseMessage::Outcome(outcome) => reported = Some((**outcome).clone()),
            ClauseMessage::Described(_) => {}
        }
    }
    let unreported = |finding: Finding| {
        let mut outcome = Outcome::new(clause.id, method, finding);
        outcome.transcript = entries.clone();
        outcome
    };
    let mut outcome = match (launched.timed_out, reported) {
        (true, _) => unreported(Finding::Timeout {
            reason: format!(
                "no verdict within the {limit:?} limit: the clause's process was killed{}",
                launched.killed()
            ),
            limit_seconds: limit.as_secs_f64(),
        }),
        (false, Some(outcome)) => outcome,
        (false, None) => unreported(Finding::Crash {
            reason: launched.ended("the clause's process"),
            signal: launched.status.signal(),
            code: launched.status.code(),
        }),
    };
    let removed = launched.removed;
    if !removed.is_empty() {
        let names = removed.join(", ");
        if outcome.verdict() == Verdict::Pass {
            outcome.finding = Finding::Fail {
                reason: format!(
                    "named resources left behind after the clause's process ended (removed now): {names}"
                ),
                violation: mpconform_spec::Violation {
                    check: "named resources after the run".into(),
                    expected: "none".into(),
                    observed: names,
                },
            };
        } else {
            outcome.finding.add_to_reason(&format!(
                "; the harness removed what its processes left: {names}"
            ));
        }
        outcome.leaked_names.extend(removed);
    }
    if outcome.verdict() != Verdict::Pass {
        outcome.stderr = launched.stderr;
    }
    outcome.millis = millis;
    Ok(outcome)
}

/// The last lines of a process's standard error, enough to diagnose it.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// Reads the clause's output until its process exits (false) or the
/// deadline passes (true).
fn watch<A: Read + AsRawFd, B: Read + AsRawFd>(
    pid: i32,
    deadline: Instant,
    out: &mut Stream<A>,
    err: &mut Stream<B>,
) -> std::io::Result<bool> {
    let exit = mpconform_spec::observe::pidfd_open(i64::from(pid))?;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let exit_fd = exit.as_ref().map_or(-1, |fd| fd.as_raw_fd());
        let mut fds = [out.pollfd(), err.pollfd(), pollfd(exit_fd)];
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
        if exit.is_none() || (n > 0 && fds[2].revents != 0) {
            return Ok(false);
        }
        if Instant::now() >= deadline {
            return Ok(true);
        }
    }
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
