//! The clause's own process: it reads its request from the environment, runs
//! one clause against a freshly opened implementation (or only opens it, to
//! describe it), then cleans up after it (every descendant killed and
//! reaped, descriptors and named resources checked) and writes the outcome
//! as JSON.

use crate::residue;
use crate::subject::Subject;
use crate::verdict::{ClauseMessage, Described, Finding, Outcome, Verdict};
use mpconform_spec::{Call, Clause, Session, Stop, Value};
use std::collections::BTreeSet;
use std::io::Write;
use std::os::fd::FromRawFd;
use std::time::{Duration, Instant};
use thiserror::Error;

/// The environment variable that carries a [`Request`] to a clause's
/// process: any binary can read it before it parses its arguments (a port's
/// test binary, whose arguments belong to libtest).
pub const REQUEST_VAR: &str = "MPCONFORM_CLAUSE_RUN";

/// What a clause's process is asked to do.
#[derive(Debug, Clone)]
pub enum Request {
    /// Run one clause under one start method.
    Clause(ClauseRun),
    /// Open the implementation, say what it offers, and end it: the
    /// runner's probe, kept out of the runner's own process so that nothing
    /// an implementation does to its process (a signal disposition, a
    /// helper, a hang) reaches the runner.
    Describe { limit: Duration },
}

/// One clause under one start method.
#[derive(Debug, Clone)]
pub struct ClauseRun {
    pub clause: &'static Clause,
    pub method: String,
    /// The clause's time limit; waits inside it give up at half of it, so a
    /// hang shows as a failure with a transcript before the runner kills it.
    pub limit: Duration,
}

/// A request that cannot be carried out.
#[derive(Debug, Error)]
pub enum RequestError {
    #[error(
        "{REQUEST_VAR} is not set: this command runs one clause for the runner, which sets it"
    )]
    Missing,
    #[error("malformed {REQUEST_VAR} '{0}': expected CLAUSE METHOD SECONDS or describe SECONDS")]
    Malformed(String),
    #[error("unknown clause '{0}' in {REQUEST_VAR}")]
    UnknownClause(String),
}

/// The word that asks for a description instead of a clause.
const DESCRIBE: &str = "describe";

impl Request {
    /// The value of [`REQUEST_VAR`] for this request.
    pub fn encode(&self) -> String {
        match self {
            Request::Clause(run) => format!(
                "{} {} {}",
                run.clause.id,
                run.method,
                run.limit.as_secs_f64()
            ),
            Request::Describe { limit } => format!("{DESCRIBE} {}", limit.as_secs_f64()),
        }
    }

    /// The time limit of the whole request.
    pub fn limit(&self) -> Duration {
        match self {
            Request::Clause(run) => run.limit,
            Request::Describe { limit } => *limit,
        }
    }

    /// Reads the request from the environment and removes it there, so that
    /// no process the implementation starts (a re-exec of the same binary)
    /// takes itself for a clause's process.
    pub fn take_from_env() -> Result<Request, RequestError> {
        let value = std::env::var(REQUEST_VAR).map_err(|_| RequestError::Missing)?;
        std::env::remove_var(REQUEST_VAR);
        let malformed = || RequestError::Malformed(value.clone());
        let seconds = |text: &str| {
            text.parse::<f64>()
                .ok()
                .and_then(|s| Duration::try_from_secs_f64(s).ok())
                .filter(|d| !d.is_zero())
                .ok_or_else(malformed)
        };
        let words: Vec<&str> = value.split(' ').collect();
        match words[..] {
            [DESCRIBE, limit] => Ok(Request::Describe {
                limit: seconds(limit)?,
            }),
            [id, method, limit] => Ok(Request::Clause(ClauseRun {
                clause: mpconform_spec::clauses::find(id)
                    .ok_or_else(|| RequestError::UnknownClause(id.to_string()))?,
                method: method.to_string(),
                limit: seconds(limit)?,
            })),
            _ => Err(malformed()),
        }
    }

    /// Whether this process was started to run a clause.
    pub fn is_asked() -> bool {
        std::env::var_os(REQUEST_VAR).is_some()
    }
}

/// The whole life of a clause's process: reads the request from the
/// environment, carries it out against `subject` and writes what came of it
/// to what was standard output; returns the exit status. A missing or bad
/// request is one line on standard error and status 2.
pub fn serve(subject: &dyn Subject) -> i32 {
    let request = match Request::take_from_env() {
        Ok(request) => request,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let me = std::process::id();
    // The runner blocks its stop signals; the implementation must see a
    // clean mask (terminate() sends SIGTERM).
    let _ = nix::sys::signal::SigSet::empty().thread_set_mask();
    let report = private_stdout();
    // Orphans of the implementation's processes come here, so none escapes.
    // SAFETY: prctl with PR_SET_CHILD_SUBREAPER takes an integer flag.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    // A runner killed outright cannot kill this process's group: end with it.
    // SAFETY: prctl with PR_SET_PDEATHSIG takes a signal number.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
    let message = match &request {
        Request::Clause(run) => ClauseMessage::Outcome(Box::new(run_job(run, subject, &report))),
        Request::Describe { limit } => {
            ClauseMessage::Described(Box::new(describe(*limit, subject)))
        }
    };
    if std::process::id() != me {
        // A forked child that returned here by mistake must not report.
        // SAFETY: _exit only ends the process.
        unsafe { libc::_exit(70) };
    }
    send(&report, &message);
    0
}

/// Opens the implementation and ends it again; its helpers get the same
/// grace as a clause's, then end.
fn describe(limit: Duration, subject: &dyn Subject) -> Described {
    let (info, mut left) = residue::with_probe_tmpdir(|| {
        let mut shm = Default::default();
        let info = subject.open(limit).map(|mut opened| {
            shm = residue::shm_in_use(&in_this_run());
            opened.describe()
        });
        residue::await_children(residue::HELPER_GRACE);
        residue::kill_descendants();
        crate::driver::await_stderr_followers();
        (info, residue::remove_left_shm(&shm))
    });
    let (info, shm) = info;
    left.extend(shm);
    Described {
        info: info.map_err(|e| e.0),
        left,
    }
}

/// One message, one line, one write.
fn send(mut to: &std::fs::File, message: &ClauseMessage) {
    let mut line = serde_json::to_vec(message).expect("messages serialize");
    line.push(b'\n');
    let _ = to.write_all(&line);
}

/// Keeps standard output for the outcome alone: children write theirs to
/// standard error instead.
fn private_stdout() -> std::fs::File {
    // SAFETY: duplicating fd 1 to a new descriptor, which we then own.
    let private = unsafe { libc::fcntl(1, libc::F_DUPFD_CLOEXEC, 10) };
    if private < 0 {
        eprintln!(
            "mpconform: cannot set standard output aside: {}",
            std::io::Error::last_os_error()
        );
        // SAFETY: _exit only ends the process; the runner reports a crash.
        unsafe { libc::_exit(71) };
    }
    // SAFETY: fd 1 becomes a copy of fd 2; `private` is ours alone.
    unsafe {
        libc::dup2(2, 1);
        std::fs::File::from_raw_fd(private)
    }
}

fn run_job(job: &ClauseRun, subject: &dyn Subject, report: &std::fs::File) -> Outcome {
    let started = Instant::now();
    let tmp = residue::ClauseTmp::create();
    let fds_before = open_fds();
    let hang = job.limit / 2;
    let mut outcome = Outcome::new(job.clause.id, &job.method, Finding::Pass);
    let mut shm_seen = BTreeSet::new();
    let mut completed = false;
    if let Err(e) = &tmp {
        outcome.finding = Finding::Error {
            reason: format!("cannot make the clause's temporary directory: {e}"),
        };
        return outcome;
    }
    match subject.open(hang) {
        Err(e) => {
            outcome.finding = Finding::Error {
                reason: e.to_string(),
            };
        }
        Ok(mut implementation) => {
            let info = implementation.describe();
            let missing: Vec<String> = job
                .clause
                .needs
                .iter()
                .filter(|c| !info.capabilities.contains(c))
                .map(|c| format!("{c:?}"))
                .collect();
            let unchosen = job.method == mpconform_spec::clause::UNCHOSEN;
            if !unchosen && !info.start_methods.contains(&job.method) {
                outcome.finding = Finding::Unsupported {
                    reason: format!("no start method {:?}", job.method),
                };
            } else if !missing.is_empty() {
                outcome.finding = Finding::Unsupported {
                    reason: format!("lacks {}", missing.join(", ")),
                };
            } else {
                let mut session = Session::new(implementation.as_mut(), &job.method, hang);
                let me = std::process::id();
                session.watch(Box::new(move |entry| {
                    if std::process::id() == me {
                        send(report, &ClauseMessage::Entry(entry.clone()));
                    }
                }));
                // An unchosen run meets the target as a program does at its
                // start: nothing has set a start method yet.
                let chosen = if unchosen {
                    Ok(Ok(Value::None))
                } else {
                    session.call(Call::UseStartMethod {
                        method: job.method.to_string(),
                    })
                };
                let result = chosen.and_then(|_| (job.clause.body)(&mut session));
                // A body that ran to its end (an unsupported for skipped
                // checks included) leaves the implementation fit to end as
                // a program ends.
                completed = result.is_ok();
                let (transcript, skipped) = session.into_parts();
                outcome.transcript = transcript;
                outcome.finding = match result {
                    Ok(()) if !skipped.is_empty() => Finding::Unsupported {
                        reason: format!(
                            "every other check holds; could not check {}",
                            skipped.join("; ")
                        ),
                    },
                    Ok(()) => Finding::Pass,
                    Err(Stop::Violation(v)) => Finding::fail(v),
                    Err(Stop::Unsupported(reason)) => Finding::Unsupported { reason },
                    Err(Stop::Died(reason)) => Finding::Crash {
                        reason,
                        signal: None,
                        code: None,
                    },
                    Err(Stop::Broken(reason)) => Finding::Error { reason },
                };
            }
            shm_seen = residue::shm_in_use(&in_this_run());
            if outcome.verdict() != Verdict::Pass && !completed {
                // A clause that stopped early may leave children waiting at
                // gates, and queues whose feeders wait for a reader that will
                // never come: end the children, and skip the implementation's
                // own end, which would wait for those feeders as CPython's
                // does (the process ends soon anyway).
                outcome.leftover_processes = residue::kill_descendants();
                std::mem::forget(implementation);
            } else {
                // The implementation's own end: terminate daemons, await the
                // rest, flush the queues.
                drop(implementation);
                outcome.grace_millis =
                    residue::await_children(residue::HELPER_GRACE).as_secs_f64() * 1000.0;
            }
        }
    }
    shm_seen.extend(residue::shm_in_use(&in_this_run()));
    let lingering: Vec<residue::Lingering> = residue::descendants(i64::from(std::process::id()))
        .into_iter()
        .map(|pid| residue::Lingering {
            pid,
            command: residue::command_line(pid),
        })
        .collect();
    outcome
        .leftover_processes
        .extend(residue::kill_descendants());
    // Every writer of a driver's stderr pipe has ended: its reader closes.
    crate::driver::await_stderr_followers();
    outcome.leaked_names = residue::remove_left_shm(&shm_seen);
    if let Ok(tmp) = tmp {
        outcome.leaked_names.extend(tmp.finish());
    }
    outcome.leaked_fds = open_fds().difference(&fds_before).copied().collect();
    let passed = outcome.verdict() == Verdict::Pass;
    if passed && !outcome.leftover_processes.is_empty() {
        let shown: Vec<String> = outcome
            .leftover_processes
            .iter()
            .map(|pid| match lingering.iter().find(|l| l.pid == *pid) {
                Some(l) => l.to_string(),
                None => pid.to_string(),
            })
            .collect();
        outcome.finding = left_behind(
            format!(
                "processes still running after the clause, its implementation and a {:?} grace for helpers ended: {}",
                residue::HELPER_GRACE,
                shown.join(", ")
            ),
            "processes after the clause",
            shown.join(", "),
        );
    } else if passed && !outcome.leaked_names.is_empty() {
        outcome.finding = left_behind(
            format!(
                "named resources left behind after every process of the run ended (removed now): {}",
                outcome.leaked_names.join(", ")
            ),
            "named resources after the run",
            outcome.leaked_names.join(", "),
        );
    } else if passed && !outcome.leaked_fds.is_empty() {
        outcome.finding = left_behind(
            format!(
                "descriptors left open after the implementation was dropped: {:?}",
                outcome.leaked_fds
            ),
            "descriptors after the implementation was dropped",
            format!("{:?}", outcome.leaked_fds),
        );
    }
    outcome.body_millis = started.elapsed().as_secs_f64() * 1000.0;
    outcome
}

/// A run that left `observed` behind fails `check`, which expects nothing.
fn left_behind(reason: String, check: &str, observed: String) -> Finding {
    Finding::Fail {
        reason,
        violation: mpconform_spec::Violation {
            check: check.to_string(),
            expected: "none".to_string(),
            observed,
        },
    }
}

/// This process and every process below it.
fn in_this_run() -> Vec<i32> {
    let me = std::process::id();
    let mut pids = residue::descendants(i64::from(me));
    pids.push(me as i32);
    pids
}

/// The descriptors open in this process.
fn open_fds() -> BTreeSet<i32> {
    let listed: Vec<i32> = match std::fs::read_dir("/proc/self/fd") {
        Ok(dir) => dir
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect(),
        Err(_) => Vec::new(),
    };
    // The listing's own descriptor is closed by now: keep those still open.
    listed
        .into_iter()
        // SAFETY: F_GETFD only queries the descriptor's flags.
        .filter(|fd| unsafe { libc::fcntl(*fd, libc::F_GETFD) } >= 0)
        .collect()
}
