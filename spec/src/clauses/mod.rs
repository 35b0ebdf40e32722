//! Every clause of the specification, and the small helpers their bodies share.

use crate::clause::Clause;
use crate::program::{Probe, Step};
use crate::session::int;
use crate::session::Session;
use crate::value::Handle;
use crate::Stop;

mod contexts;
mod daemons;
mod exits;
mod family;
mod ipc_calls;
mod lifecycle;
mod locks;
mod managers;
mod os_layer;
mod pipes;
mod pools;
mod queues;
mod sentinel;
mod simple_joinable;
mod spawning;

/// The seed documents, by file name.
pub(crate) const SEED_000: &str = "000_6cd117ac27ff7806.txt";
pub(crate) const SEED_001: &str = "001_7969d66ba657009b.txt";
pub(crate) const SEED_002: &str = "002_efd3a0e071bdfb0f.txt";
pub(crate) const SEED_003: &str = "003_c2fcd8e07ec0c1da.txt";
pub(crate) const SEED_004: &str = "004_72fa51922437478a.txt";

/// Every clause, in inventory order.
pub fn all() -> Vec<&'static Clause> {
    let mut clauses: Vec<&'static Clause> = Vec::new();
    clauses.extend(lifecycle::CLAUSES);
    clauses.extend(exits::CLAUSES);
    clauses.extend(sentinel::CLAUSES);
    clauses.extend(family::CLAUSES);
    clauses.extend(spawning::CLAUSES);
    clauses.extend(contexts::CLAUSES);
    clauses.extend(os_layer::CLAUSES);
    clauses.extend(pipes::CLAUSES);
    clauses.extend(queues::CLAUSES);
    clauses.extend(simple_joinable::CLAUSES);
    clauses.extend(locks::CLAUSES);
    clauses.extend(managers::CLAUSES);
    clauses.extend(daemons::CLAUSES);
    clauses.extend(pools::CLAUSES);
    clauses
}

/// The clause with this id.
pub fn find(id: &str) -> Option<&'static Clause> {
    all().into_iter().find(|c| c.id == id)
}

fn report(label: &str, probe: Probe) -> Step {
    Step::Report {
        label: label.to_string(),
        probe,
    }
}

fn wait_gate(gate: Handle) -> Step {
    Step::WaitGate { gate }
}

/// Waits, outside the trait, until `pid` has exited; a hang is a violation.
fn await_exit(s: &mut Session, pid: i64, what: &str) -> Result<(), Stop> {
    let exited = crate::observe::wait_exit(pid, s.hang)
        .map_err(|e| Stop::Broken(format!("cannot watch pid {pid}: {e}")))?;
    s.observe(format!("pid {pid} exited ({what})"), exited);
    if exited {
        Ok(())
    } else {
        Err(Stop::violation(
            what,
            "the process to end",
            format!("pid {pid} still running after {:?}", s.hang),
        ))
    }
}

/// Waits until `pid` has exited; returns its /proc state then (`Z` until
/// someone reaps it).
fn await_zombie(s: &mut Session, pid: i64, what: &str) -> Result<Option<char>, Stop> {
    await_exit(s, pid, what)?;
    // Kernels mark the task a zombie before they signal its pidfd (5.x and
    // later); on one that does it the other way round the state settles a
    // moment later, so look again briefly rather than misreport.
    let deadline = std::time::Instant::now() + s.hang;
    let mut state = crate::observe::process_state(pid);
    while !matches!(state, Some('Z') | None) && std::time::Instant::now() < deadline {
        std::thread::yield_now();
        state = crate::observe::process_state(pid);
    }
    s.observe(format!("/proc/{pid} state"), state);
    Ok(state)
}

/// The /proc state of `pid`, recorded in the transcript.
fn proc_state(s: &mut Session, pid: i64) -> Option<char> {
    let state = crate::observe::process_state(pid);
    s.observe(format!("/proc/{pid} state"), state);
    state
}

/// A call on a lock, event, shared value or manager that must succeed.
fn sync(
    s: &mut Session,
    check: &str,
    op: crate::sync::SyncOp,
) -> Result<crate::value::Value, Stop> {
    s.ok(check, crate::call::Call::Sync(op))
}

/// A call that makes an object and answers its handle.
fn sync_handle(s: &mut Session, check: &str, op: crate::sync::SyncOp) -> Result<Handle, Stop> {
    let v = sync(s, check, op)?;
    crate::session::handle(check, &v)
}

/// A child's step that reports what `op` returned (or raised) under `label`.
fn sync_step(label: &str, op: crate::sync::SyncOp) -> Step {
    Step::Sync {
        label: Some(label.to_string()),
        op,
    }
}

/// A child's step whose error ends the child as an uncaught exception.
fn quiet(op: crate::sync::SyncOp) -> Step {
    Step::Sync { label: None, op }
}

/// Creates and starts a child that runs `steps`; its handle and pid.
fn start_child(s: &mut Session, steps: Vec<Step>) -> Result<(Handle, i64), Stop> {
    let child = s.new_process(crate::program::ProcessSpec::target(
        crate::program::Program::steps(steps),
    ))?;
    s.start(child)?;
    let pid = s.started_pid(child)?;
    Ok((child, pid))
}

/// Runs a child that runs `steps` and returns, to its end; the reports
/// under `labels`, in that order. It must exit with 0.
fn probe_child(
    s: &mut Session,
    steps: Vec<Step>,
    labels: &[&str],
) -> Result<Vec<crate::value::Value>, Stop> {
    let child = s.new_process(crate::program::ProcessSpec::target(
        crate::program::Program::steps(steps),
    ))?;
    s.start(child)?;
    let mut seen = Vec::new();
    for label in labels {
        seen.push(s.report(label)?);
    }
    s.join(child)?;
    crate::session::expect_eq(
        "the probing child's exit code",
        &Some(0),
        &s.exitcode(child)?,
    )?;
    Ok(seen)
}
