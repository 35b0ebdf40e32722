//! Daemonic threads against daemonic processes at a process's end: L07.

use super::*;
use crate::clause::Methods;
use crate::program::{ProcessSpec, Program};
use crate::session::{expect, expect_eq, int};
use crate::value::Value;

pub(super) const CLAUSES: &[&Clause] = &[&L07];

static L07: Clause = Clause {
    id: "L07-daemon-threads-and-processes",
    behaviours: &["L07"],
    seeds: &[SEED_002],
    statement: "When a child's target returns, the child waits for its non-daemonic \
                threads, and its daemonic threads run on meanwhile; once the last \
                non-daemonic thread ends, the child exits (0) without waiting for the \
                daemonic ones. When a process's main program finishes, its daemonic \
                child processes are terminated, while it waits for its non-daemonic \
                ones.",
    notes: "Lib/multiprocessing/process.py BaseProcess._bootstrap (3.7+): after run() \
            and util._exit_function(), `threading._shutdown()` joins the non-daemonic \
            threads (bpo-18966). 2.7 and 3.6 do not: popen_fork calls os._exit as \
            soon as _bootstrap returns, so a child's non-daemonic threads are killed \
            with it (measured: the thread's work never happens). \
            util._exit_function: `for p in active_children(): if p.daemon: \
            p._popen.terminate()`, then `p.join()` for every child, the daemonic ones \
            ending by SIGTERM (exit code -15). Same from 2.7 to 3.14 for processes. \
            The seed's 'daemonic thread is not killed while non-daemonic threads run' \
            holds for threads within one process: the interpreter waits for the \
            non-daemonic ones at its shutdown. The waiting child is seen asleep in \
            the futex call (joining the thread) through /proc.",
    needs: &[],
    methods: Methods::Each,
    body: l07,
};

fn l07(s: &mut Session) -> Result<(), Stop> {
    threads(s)?;
    processes(s)
}

/// A child whose target returned while a non-daemonic thread waits at a gate.
fn threads(s: &mut Session) -> Result<(), Stop> {
    let worker_gate = s.gate()?;
    let daemon_gate = s.gate()?;
    let never = s.gate()?;
    let (child, pid) = start_child(
        s,
        vec![
            Step::Thread {
                daemon: false,
                steps: vec![wait_gate(worker_gate), report("worker-done", Probe::Pid)],
            },
            Step::Thread {
                daemon: true,
                steps: vec![wait_gate(daemon_gate), report("daemon-ran", Probe::Pid)],
            },
            Step::Thread {
                daemon: true,
                steps: vec![wait_gate(never), report("never", Probe::Pid)],
            },
            report("target-returned", Probe::Pid),
        ],
    )?;
    s.report("target-returned")?;
    // Where a child that waits for its threads sleeps (joining one), and one
    // that does not has ended: either way the next check no longer races
    // with the child's exit.
    s.until_blocked(
        pid,
        "the child whose target returned, waiting for its non-daemonic thread",
        "worker-done",
    )?;
    s.open(daemon_gate)?;
    let daemon = s.report("daemon-ran")?;
    expect_eq(
        "the daemonic thread ran after the target returned, in the child",
        &Value::Int(pid),
        &daemon,
    )?;
    let alive = s.is_alive(child)?;
    expect(
        "is_alive() while a non-daemonic thread waits",
        alive,
        "True",
        alive,
    )?;
    s.open(worker_gate)?;
    s.report("worker-done")?;
    s.join(child)?;
    expect_eq(
        "the exit code once the non-daemonic thread ended",
        &Some(0),
        &s.exitcode(child)?,
    )
}

/// A child that starts a daemonic and a non-daemonic child, then returns.
fn processes(s: &mut Session) -> Result<(), Stop> {
    let never = s.gate()?;
    let worker_gate = s.gate()?;
    let daemonic = ProcessSpec {
        daemon: Some(true),
        ..ProcessSpec::target(Program::steps(vec![wait_gate(never)]))
    };
    let worker = ProcessSpec::target(Program::steps(vec![wait_gate(worker_gate)]));
    let (parent, _) = start_child(
        s,
        vec![
            Step::Start {
                label: "daemonic".into(),
                spec: Box::new(daemonic),
            },
            Step::Start {
                label: "worker".into(),
                spec: Box::new(worker),
            },
        ],
    )?;
    let daemonic = s.report("daemonic")?;
    let daemonic = int("the daemonic grandchild's pid", &daemonic)?;
    let worker = s.report("worker")?;
    let worker = int("the non-daemonic grandchild's pid", &worker)?;
    await_exit(
        s,
        daemonic,
        "the daemonic grandchild, once its parent's program finished",
    )?;
    let alive = s.is_alive(parent)?;
    expect(
        "the parent is alive while its non-daemonic child runs",
        alive,
        "True",
        alive,
    )?;
    let state = proc_state(s, worker);
    expect(
        "the non-daemonic grandchild runs on",
        matches!(state, Some(c) if c != 'Z'),
        "a running process",
        state,
    )?;
    s.open(worker_gate)?;
    s.join(parent)?;
    expect_eq("the parent's exit code", &Some(0), &s.exitcode(parent)?)
}
