//! Property-based fuzzing of locks over a shared Value: N worker processes
//! make random increments and decrements under one Lock or RLock, with
//! re-entrant acquires and stray releases among them, checked against a
//! model of what each step answers and of the final total. The parent holds
//! the lock while it releases the workers and sees each one blocked (through
//! /proc) before it lets go, so a lock that excludes nobody is found on the
//! first case, not by chance.

use mpconform_spec::{LockKind, Probe, Session, Step, Stop, SyncOp, Value};
use proptest::prelude::*;
use std::fmt::Write;

/// What one worker does after its first, blocking add.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockStep {
    /// `times` x `with lock: v.value += delta`.
    Add { delta: i64, times: u32 },
    /// `with lock:` then `lock.acquire(False)` inside it (an RLock's
    /// succeeds and is released again; a Lock's fails), and one
    /// `v.value += delta` while held.
    Nested { delta: i64 },
    /// `lock.release()` by a worker that does not hold it (RLocks only: it
    /// must fail; a plain Lock has no owner, so a stray release would free
    /// another worker's hold).
    StrayRelease,
}

/// One case: the lock's kind and each worker's steps.
#[derive(Debug, Clone)]
pub struct LockWorkload {
    pub kind: LockKind,
    /// Each worker's first add, then its other steps.
    pub workers: Vec<(i64, Vec<LockStep>)>,
}

fn steps_for(kind: LockKind) -> BoxedStrategy<LockStep> {
    let add = (-3i64..=3, 1u32..40).prop_map(|(delta, times)| LockStep::Add { delta, times });
    let nested = (-3i64..=3).prop_map(|delta| LockStep::Nested { delta });
    match kind {
        LockKind::RLock => {
            prop_oneof![4 => add, 2 => nested, 1 => Just(LockStep::StrayRelease)].boxed()
        }
        _ => prop_oneof![4 => add, 2 => nested].boxed(),
    }
}

pub fn lock_workloads() -> impl Strategy<Value = LockWorkload> {
    prop_oneof![Just(LockKind::Lock), Just(LockKind::RLock)].prop_flat_map(|kind| {
        proptest::collection::vec(
            (
                prop_oneof![Just(1i64), Just(-1i64)],
                proptest::collection::vec(steps_for(kind), 0..6),
            ),
            1..4,
        )
        .prop_map(move |workers| LockWorkload { kind, workers })
    })
}

impl LockWorkload {
    /// The total the shared Value must end at.
    pub fn total(&self) -> i64 {
        self.workers
            .iter()
            .map(|(first, steps)| {
                first * FIRST_TIMES as i64
                    + steps
                        .iter()
                        .map(|step| match step {
                            LockStep::Add { delta, times } => delta * *times as i64,
                            LockStep::Nested { delta } => *delta,
                            LockStep::StrayRelease => 0,
                        })
                        .sum::<i64>()
            })
            .sum()
    }

    /// The case as a program a person can read.
    pub fn program(&self) -> String {
        let class = match self.kind {
            LockKind::Lock => "Lock",
            _ => "RLock",
        };
        let mut out =
            format!("lock = {class}(); v = Value('i', 0)\nlock.acquire()  # the parent holds it");
        for (w, (first, steps)) in self.workers.iter().enumerate() {
            let _ = write!(
                out,
                "\nworker {w}: {FIRST_TIMES} x (with lock: v.value += {first})"
            );
            for step in steps {
                let _ = match step {
                    LockStep::Add { delta, times } => {
                        write!(out, "; {times} x (with lock: v.value += {delta})")
                    }
                    LockStep::Nested { delta } => {
                        write!(out, "; with lock: lock.acquire(False); v.value += {delta}")
                    }
                    LockStep::StrayRelease => write!(out, "; lock.release()  # not held"),
                };
            }
        }
        let _ = write!(
            out,
            "\nsee every worker blocked; lock.release(); join them; v.value == {}",
            self.total()
        );
        out
    }
}

/// The first add of each worker: long enough for the workers to overlap.
const FIRST_TIMES: u32 = 50;

fn sync(s: &mut Session, what: &str, op: SyncOp) -> Result<Value, Stop> {
    s.ok(what, mpconform_spec::Call::Sync(op))
}

fn handle(s: &mut Session, what: &str, op: SyncOp) -> Result<mpconform_spec::Handle, Stop> {
    let v = sync(s, what, op)?;
    mpconform_spec::session::handle(what, &v)
}

fn labelled(label: String, op: SyncOp) -> Step {
    Step::Sync {
        label: Some(label),
        op,
    }
}

fn quiet(op: SyncOp) -> Step {
    Step::Sync { label: None, op }
}

/// Runs one case.
pub fn run_locks(s: &mut Session, w: &LockWorkload) -> Result<(), Stop> {
    let lock = handle(s, "the lock", SyncOp::LockNew { kind: w.kind })?;
    let value = handle(
        s,
        "Value('i', 0)",
        SyncOp::ValueNew {
            typecode: "i".into(),
            init: 0,
        },
    )?;
    let held = sync(
        s,
        "the parent's acquire()",
        SyncOp::Acquire {
            lock,
            block: None,
            timeout: None,
        },
    )?;
    if held != Value::Bool(true) {
        return Err(crate::fuzz::violation(
            "the parent's acquire()",
            "True",
            held,
        ));
    }
    let gate = s.ok("a gate", mpconform_spec::Call::GateNew)?;
    let gate = mpconform_spec::session::handle("a gate", &gate)?;
    let mut workers = Vec::new();
    let mut expected_reports = Vec::new();
    for (i, (first, steps)) in w.workers.iter().enumerate() {
        let mut program = vec![
            Step::WaitGate { gate },
            Step::Report {
                label: format!("trying {i}"),
                probe: Probe::Text("trying".into()),
            },
            quiet(SyncOp::ValueAdd {
                value,
                delta: *first,
                times: FIRST_TIMES,
                lock: Some(lock),
            }),
            Step::Report {
                label: format!("first {i}"),
                probe: Probe::Text("first add done".into()),
            },
        ];
        for (k, step) in steps.iter().enumerate() {
            let label = format!("worker {i} step {k}");
            match step {
                LockStep::Add { delta, times } => program.push(quiet(SyncOp::ValueAdd {
                    value,
                    delta: *delta,
                    times: *times,
                    lock: Some(lock),
                })),
                LockStep::Nested { delta } => {
                    program.push(quiet(SyncOp::Acquire {
                        lock,
                        block: None,
                        timeout: None,
                    }));
                    program.push(labelled(
                        label.clone(),
                        SyncOp::Acquire {
                            lock,
                            block: Some(false),
                            timeout: None,
                        },
                    ));
                    program.push(quiet(SyncOp::ValueAdd {
                        value,
                        delta: *delta,
                        times: 1,
                        lock: None,
                    }));
                    if w.kind == LockKind::RLock {
                        program.push(quiet(SyncOp::Release { lock }));
                    }
                    program.push(quiet(SyncOp::Release { lock }));
                    let answer = Value::Bool(w.kind == LockKind::RLock);
                    expected_reports.push((label, answer, "lock.acquire(False) by its holder"));
                }
                LockStep::StrayRelease => {
                    program.push(labelled(label.clone(), SyncOp::Release { lock }));
                    let answer = Value::Error(mpconform_spec::PyError::new(
                        mpconform_spec::ErrorKind::AssertionError,
                        "attempt to release recursive lock not owned by thread",
                    ));
                    expected_reports.push((label, answer, "RLock.release() by a non-owner"));
                }
            }
        }
        program.push(Step::Report {
            label: format!("done {i}"),
            probe: Probe::Text("done".into()),
        });
        // Daemonic, so that a worker stuck on a broken lock is terminated
        // when the case's implementation ends.
        let process = s.new_process(mpconform_spec::ProcessSpec {
            daemon: Some(true),
            ..mpconform_spec::ProcessSpec::target(mpconform_spec::Program::steps(program))
        })?;
        s.start(process)?;
        let pid = s.started_pid(process)?;
        workers.push((process, pid));
    }
    s.open(gate)?;
    for (i, (_, pid)) in workers.iter().enumerate() {
        s.report(&format!("trying {i}"))?;
        s.until_blocked(
            *pid,
            &format!("worker {i} on the lock the parent holds"),
            &format!("first {i}"),
        )?;
    }
    let untouched = sync(s, "v.value", SyncOp::ValueGet { value })?;
    if untouched != Value::Int(0) {
        return Err(crate::fuzz::violation(
            "v.value while the parent holds the lock",
            "0",
            untouched,
        ));
    }
    sync(s, "the parent's release()", SyncOp::Release { lock })?;
    for (label, answer, what) in expected_reports {
        let got = s.report(&label)?;
        if got != answer {
            return Err(crate::fuzz::violation(
                format!("{what} ({label})"),
                answer.to_string(),
                got,
            ));
        }
    }
    for (i, (process, _)) in workers.iter().enumerate() {
        // A worker that never ends is a finding, not a hang of the fuzzer.
        s.report(&format!("done {i}"))?;
        s.join(*process)?;
        let code = s.exitcode(*process)?;
        if code != Some(0) {
            return Err(crate::fuzz::violation(
                format!("worker {i}'s exit code"),
                "0",
                code,
            ));
        }
    }
    let total = sync(s, "v.value", SyncOp::ValueGet { value })?;
    if total != Value::Int(w.total()) {
        return Err(crate::fuzz::violation(
            "v.value after every worker",
            w.total().to_string(),
            total,
        ));
    }
    Ok(())
}
