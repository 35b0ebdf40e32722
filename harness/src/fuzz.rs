//! Property-based fuzzing of queue ordering and task accounting, against any
//! implementation through the trait. Two kinds of case:
//!
//! - sequential: one process drives a Queue or JoinableQueue through a
//!   generated sequence of put / get / get_nowait / qsize / full / task_done /
//!   join / close, checked step by step against a model (proptest-state-machine
//!   generates and shrinks the sequences); joiners in children check that
//!   join() returns exactly when the count reaches zero;
//! - concurrent: N producers and M consumers with one poison pill each,
//!   checked for per-producer order, loss, duplication, every consumer
//!   stopping after its pill, and the unfinished count.
//!
//! - locks: N workers add and subtract under one Lock or RLock
//!   (fuzz_locks.rs).
//!
//! Shrinking yields a minimal failing case, printed as a Python-like program;
//! failing seeds persist in a file and are replayed first.

use crate::fuzz_locks::{lock_workloads, run_locks};
use crate::subject::Subject;
use mpconform_spec::{
    Call, Implementation, IpcOp, Item, ProcessSpec, Program, PyError, QueueKind, Session, Step,
    Stop, Value,
};
use proptest::prelude::*;
use proptest::test_runner::{
    Config, FileFailurePersistence, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner,
};
use proptest_state_machine::ReferenceStateMachine;
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// How long a wait may last before it counts as a hang.
const HANG: Duration = Duration::from_secs(2);
/// How long a joiner gets to show that it returned too early.
const TOO_EARLY: f64 = 0.05;

/// The model of one queue in one process.
#[derive(Debug, Clone)]
pub struct QueueModel {
    pub joinable: bool,
    pub maxsize: Option<i64>,
    items: VecDeque<i64>,
    unfinished: i64,
    closed: bool,
    next: i64,
    joiners: usize,
}

impl QueueModel {
    fn full(&self) -> bool {
        self.maxsize.is_some_and(|m| self.items.len() as i64 >= m)
    }
}

/// One step of a sequential case.
#[derive(Debug, Clone, PartialEq)]
pub enum SeqOp {
    /// `put(next)`, only when a slot is free (it would block otherwise).
    Put,
    PutNowait,
    /// `get(timeout=hang)`, only when the model holds an item.
    Get,
    /// `get_nowait()`, only when the model is empty (an item just put may
    /// still be in the feeder's buffer).
    GetNowait,
    Qsize,
    Full,
    TaskDone,
    /// `join()` here, only when nothing is unfinished.
    Join,
    /// A child that calls `join()` and reports when it returns.
    JoinInChild,
    Close,
}

impl ReferenceStateMachine for QueueModel {
    type State = QueueModel;
    type Transition = SeqOp;

    fn init_state() -> BoxedStrategy<QueueModel> {
        (
            any::<bool>(),
            prop_oneof![Just(None), (1i64..4).prop_map(Some)],
        )
            .prop_map(|(joinable, maxsize)| QueueModel {
                joinable,
                maxsize,
                items: VecDeque::new(),
                unfinished: 0,
                closed: false,
                next: 0,
                joiners: 0,
            })
            .boxed()
    }

    fn transitions(state: &QueueModel) -> BoxedStrategy<SeqOp> {
        let mut ops = vec![
            (6, Just(SeqOp::Put).boxed()),
            (2, Just(SeqOp::PutNowait).boxed()),
            (5, Just(SeqOp::Get).boxed()),
            (1, Just(SeqOp::GetNowait).boxed()),
            (1, Just(SeqOp::Qsize).boxed()),
            (1, Just(SeqOp::Full).boxed()),
            (1, Just(SeqOp::Close).boxed()),
        ];
        if state.joinable {
            ops.push((4, Just(SeqOp::TaskDone).boxed()));
            ops.push((1, Just(SeqOp::Join).boxed()));
            ops.push((1, Just(SeqOp::JoinInChild).boxed()));
        }
        proptest::strategy::Union::new_weighted(ops).boxed()
    }

    fn preconditions(state: &QueueModel, op: &SeqOp) -> bool {
        match op {
            SeqOp::Put => state.closed || !state.full(),
            SeqOp::Get => state.closed || !state.items.is_empty(),
            SeqOp::GetNowait => state.closed || state.items.is_empty(),
            SeqOp::Join => state.unfinished == 0,
            SeqOp::JoinInChild => !state.closed && state.joiners < 3,
            SeqOp::TaskDone | SeqOp::Qsize | SeqOp::Full => true,
            SeqOp::Close => !state.closed,
            SeqOp::PutNowait => true,
        }
    }

    fn apply(mut state: QueueModel, op: &SeqOp) -> QueueModel {
        match op {
            SeqOp::Put | SeqOp::PutNowait if !state.closed && !state.full() => {
                state.items.push_back(state.next);
                state.next += 1;
                if state.joinable {
                    state.unfinished += 1;
                }
            }
            SeqOp::Get if !state.closed => {
                state.items.pop_front();
            }
            SeqOp::TaskDone if state.unfinished > 0 => {
                state.unfinished -= 1;
                if state.unfinished == 0 {
                    state.joiners = 0;
                }
            }
            SeqOp::JoinInChild if state.unfinished > 0 => state.joiners += 1,
            SeqOp::Close => state.closed = true,
            _ => {}
        }
        state
    }
}

/// A concurrent case: who puts how many items, who takes them.
#[derive(Debug, Clone)]
pub struct Workload {
    pub joinable: bool,
    pub maxsize: Option<i64>,
    /// Items each producer puts.
    pub producers: Vec<usize>,
    pub consumers: usize,
    /// The parent puts and gets one item first (its feeder then exists when
    /// the children are forked).
    pub warm_up: bool,
}

fn workloads() -> impl Strategy<Value = Workload> {
    (
        any::<bool>(),
        prop_oneof![Just(None), (1i64..6).prop_map(Some)],
        proptest::collection::vec(0usize..25, 1..4),
        1usize..4,
        any::<bool>(),
    )
        .prop_map(
            |(joinable, maxsize, producers, consumers, warm_up)| Workload {
                joinable,
                maxsize,
                producers,
                consumers,
                warm_up,
            },
        )
}

/// Why a case failed: the check, and the program that shows it.
#[derive(Debug, Clone)]
pub struct Finding {
    pub check: String,
    pub expected: String,
    pub observed: String,
    pub program: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "check:    {}", self.check)?;
        writeln!(f, "expected: {}", self.expected)?;
        writeln!(f, "observed: {}", self.observed)?;
        writeln!(f, "minimal program:")?;
        for line in self.program.lines() {
            writeln!(f, "    {line}")?;
        }
        Ok(())
    }
}

/// What a fuzzing run found.
pub struct FuzzReport {
    pub sequential_cases: u32,
    pub concurrent_cases: u32,
    pub lock_cases: u32,
    pub finding: Option<Finding>,
}

fn class(joinable: bool) -> &'static str {
    if joinable {
        "JoinableQueue"
    } else {
        "Queue"
    }
}

fn ctor(joinable: bool, maxsize: Option<i64>) -> String {
    match maxsize {
        Some(m) => format!("q = {}({m})", class(joinable)),
        None => format!("q = {}()", class(joinable)),
    }
}

/// The sequential case as a program a person can read.
pub fn sequential_program(init: &QueueModel, ops: &[SeqOp]) -> String {
    let mut out = ctor(init.joinable, init.maxsize);
    let mut next = 0;
    for op in ops {
        let line = match op {
            SeqOp::Put => {
                next += 1;
                format!("q.put({})", next - 1)
            }
            SeqOp::PutNowait => {
                next += 1;
                format!("q.put_nowait({})", next - 1)
            }
            SeqOp::Get => "q.get()".into(),
            SeqOp::GetNowait => "q.get_nowait()".into(),
            SeqOp::Qsize => "q.qsize()".into(),
            SeqOp::Full => "q.full()".into(),
            SeqOp::TaskDone => "q.task_done()".into(),
            SeqOp::Join => "q.join()".into(),
            SeqOp::JoinInChild => "Process(target=q.join, daemon=True).start()".into(),
            SeqOp::Close => "q.close()".into(),
        };
        let _ = write!(out, "\n{line}");
    }
    out.push_str("\n# the case ends by getting every item left (unless closed)");
    out
}

/// The concurrent case as a program a person can read.
pub fn concurrent_program(w: &Workload) -> String {
    let mut out = ctor(w.joinable, w.maxsize);
    if w.warm_up {
        out.push_str("\nq.put('warm-up'); q.get()");
    }
    let _ = write!(
        out,
        "\nconsumers: {} x Process(target=drain, args=(q,)){}",
        w.consumers,
        if w.joinable {
            "  # get, task_done, until None"
        } else {
            "  # get until None"
        }
    );
    for (p, n) in w.producers.iter().enumerate() {
        let _ = write!(
            out,
            "\nproducer {p}: puts ({p}, 0) .. ({p}, {})",
            *n as i64 - 1
        );
    }
    out.push_str("\njoin the producers; put one None per consumer");
    if w.joinable {
        out.push_str("\nProcess(target=q.join).start(); then q.task_done() must fail");
    }
    out
}

fn stop_to_error(stop: Stop) -> TestCaseError {
    match stop {
        Stop::Violation(v) => TestCaseError::fail(
            serde_json::to_string(&(v.check, v.expected, v.observed)).unwrap_or_default(),
        ),
        Stop::Unsupported(what) => TestCaseError::reject(what),
        Stop::Broken(what) => TestCaseError::fail(
            serde_json::to_string(&("the implementation broke", "", what)).unwrap_or_default(),
        ),
        Stop::Died(what) => TestCaseError::fail(
            serde_json::to_string(&("the implementation died", "", what)).unwrap_or_default(),
        ),
    }
}

pub(crate) fn violation(
    check: impl Into<String>,
    expected: impl Into<String>,
    observed: impl std::fmt::Debug,
) -> Stop {
    Stop::violation(check, expected, format!("{observed:?}"))
}

fn ipc(s: &mut Session, op: IpcOp) -> Result<Result<Value, PyError>, Stop> {
    s.call(Call::Ipc(op))
}

fn expect_value(s: &mut Session, what: &str, op: IpcOp, want: Value) -> Result<(), Stop> {
    match ipc(s, op)? {
        Ok(v) if v == want => Ok(()),
        other => Err(violation(what, want.to_string(), other)),
    }
}

fn expect_kind(s: &mut Session, what: &str, op: IpcOp, kind: &str) -> Result<(), Stop> {
    match ipc(s, op)? {
        Err(e) if e.kind.to_string() == kind => Ok(()),
        other => Err(violation(what, format!("raises {kind}"), other)),
    }
}

fn new_queue(
    s: &mut Session,
    joinable: bool,
    maxsize: Option<i64>,
) -> Result<mpconform_spec::Handle, Stop> {
    let kind = if joinable {
        QueueKind::Joinable
    } else {
        QueueKind::Queue
    };
    match ipc(s, IpcOp::QueueNew { kind, maxsize })? {
        Ok(Value::Handle(h)) => Ok(h),
        other => Err(Stop::Broken(format!("Queue(): {other:?}"))),
    }
}

fn int(i: i64) -> Item {
    Item::Data(Value::Int(i))
}

fn daemon_child(s: &mut Session, steps: Vec<Step>) -> Result<mpconform_spec::Handle, Stop> {
    let mut spec = ProcessSpec::target(Program::steps(steps));
    spec.daemon = Some(true);
    let p = s.new_process(spec)?;
    s.start(p)?;
    Ok(p)
}

fn hang() -> f64 {
    HANG.as_secs_f64()
}

/// Starts a daemonic child that calls join() and reports when it returns;
/// returns the report's label.
fn start_joiner(s: &mut Session, q: mpconform_spec::Handle, step: usize) -> Result<String, Stop> {
    let label = format!("joined {step}");
    daemon_child(
        s,
        vec![Step::Ipc {
            label: Some(label.clone()),
            op: IpcOp::Join { queue: q },
        }],
    )?;
    Ok(label)
}

/// The joiner's report must come within the hang limit.
fn expect_joined(s: &mut Session, label: &str, check: &str) -> Result<(), Stop> {
    s.report(label)
        .map(drop)
        .map_err(|_| violation(check, "join() returns", "no return"))
}

/// Runs one sequential case; `Err` is the first departure from the model.
fn run_sequential(
    s: &mut Session,
    init: &QueueModel,
    ops: &[SeqOp],
    seen: Option<&AtomicUsize>,
) -> Result<(), Stop> {
    let q = new_queue(s, init.joinable, init.maxsize)?;
    let mut model = init.clone();
    let mut joiners: Vec<String> = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        // Tells the shrinker how far the case got.
        if let Some(seen) = seen {
            seen.fetch_add(1, Ordering::SeqCst);
        }
        let at = format!("step {} ({op:?})", i + 1);
        let closed = model.closed;
        match op {
            SeqOp::Put | SeqOp::PutNowait if closed => {
                expect_kind(
                    s,
                    &at,
                    IpcOp::Put {
                        queue: q,
                        item: int(model.next),
                        block: None,
                        timeout: Some(hang()),
                    },
                    "ValueError",
                )?;
            }
            // A free slot is there, so the timeout only turns a hang into a finding.
            SeqOp::Put => expect_value(
                s,
                &at,
                IpcOp::Put {
                    queue: q,
                    item: int(model.next),
                    block: None,
                    timeout: Some(hang()),
                },
                Value::None,
            )?,
            SeqOp::PutNowait if model.full() => expect_kind(
                s,
                &at,
                IpcOp::PutNowait {
                    queue: q,
                    item: int(model.next),
                },
                "Full",
            )?,
            SeqOp::PutNowait => expect_value(
                s,
                &at,
                IpcOp::PutNowait {
                    queue: q,
                    item: int(model.next),
                },
                Value::None,
            )?,
            SeqOp::Get | SeqOp::GetNowait if closed => {
                expect_kind(s, &at, IpcOp::GetNowait { queue: q }, "ValueError")?
            }
            SeqOp::Get => {
                let want = Value::Int(*model.items.front().expect("precondition: not empty"));
                expect_value(
                    s,
                    &at,
                    IpcOp::Get {
                        queue: q,
                        block: None,
                        timeout: Some(hang()),
                    },
                    want,
                )?
            }
            SeqOp::GetNowait => expect_kind(s, &at, IpcOp::GetNowait { queue: q }, "Empty")?,
            SeqOp::Qsize => expect_value(
                s,
                &at,
                IpcOp::Qsize { queue: q },
                Value::Int(model.items.len() as i64),
            )?,
            SeqOp::Full => {
                expect_value(s, &at, IpcOp::Full { queue: q }, Value::Bool(model.full()))?
            }
            SeqOp::TaskDone if model.unfinished == 0 => {
                expect_kind(s, &at, IpcOp::TaskDone { queue: q }, "ValueError")?
            }
            SeqOp::TaskDone => {
                expect_value(s, &at, IpcOp::TaskDone { queue: q }, Value::None)?;
                if model.unfinished == 1 {
                    // The count reaches zero: every waiting joiner returns.
                    for label in joiners.drain(..) {
                        expect_joined(
                            s,
                            &label,
                            &format!("{at}: a joiner once the count is zero"),
                        )?;
                    }
                }
            }
            SeqOp::Join => {
                // In a child, so that a join that never returns is a finding
                // within the hang limit rather than a hung fuzzer.
                let label = start_joiner(s, q, i)?;
                expect_joined(s, &label, &format!("{at}: join() with nothing unfinished"))?;
            }
            SeqOp::JoinInChild => {
                let label = start_joiner(s, q, i)?;
                if model.unfinished == 0 {
                    expect_joined(s, &label, &format!("{at}: join() with nothing unfinished"))?;
                } else {
                    match s.call(Call::AwaitReport {
                        label: label.clone(),
                        timeout: TOO_EARLY,
                    })? {
                        Err(_) => joiners.push(label),
                        Ok(v) => {
                            return Err(violation(
                                format!("{at}: join() with {} unfinished", model.unfinished),
                                "still waiting",
                                format!("returned {v}"),
                            ))
                        }
                    }
                }
            }
            SeqOp::Close => expect_value(s, &at, IpcOp::Close { queue: q }, Value::None)?,
        }
        model = QueueModel::apply(model, op);
    }
    if !model.closed {
        // Whatever is left goes, so the feeder can end with the case.
        while let Some(want) = model.items.pop_front() {
            expect_value(
                s,
                "draining at the end",
                IpcOp::Get {
                    queue: q,
                    block: None,
                    timeout: Some(hang()),
                },
                Value::Int(want),
            )?;
        }
    }
    Ok(())
}

/// Runs one concurrent case.
fn run_concurrent(s: &mut Session, w: &Workload) -> Result<(), Stop> {
    let q = new_queue(s, w.joinable, w.maxsize)?;
    if w.warm_up {
        expect_value(
            s,
            "warm-up put",
            IpcOp::Put {
                queue: q,
                item: int(-1),
                block: None,
                timeout: None,
            },
            Value::None,
        )?;
        expect_value(
            s,
            "warm-up get",
            IpcOp::Get {
                queue: q,
                block: None,
                timeout: Some(hang()),
            },
            Value::Int(-1),
        )?;
        if w.joinable {
            expect_value(
                s,
                "warm-up task_done",
                IpcOp::TaskDone { queue: q },
                Value::None,
            )?;
        }
    }
    for c in 0..w.consumers {
        daemon_child(
            s,
            vec![Step::Drain {
                label: format!("consumer {c}"),
                from: q,
                stop: Value::None,
                task_done: w.joinable,
            }],
        )?;
    }
    let mut producers = Vec::new();
    for (p, n) in w.producers.iter().enumerate() {
        let steps = (0..*n)
            .map(|i| Step::Ipc {
                label: None,
                op: IpcOp::Put {
                    queue: q,
                    item: Item::Data(Value::List(vec![
                        Value::Int(p as i64),
                        Value::Int(i as i64),
                    ])),
                    block: None,
                    timeout: Some(hang()),
                },
            })
            .collect();
        producers.push(daemon_child(s, steps)?);
    }
    for p in producers {
        match s.call(Call::ProcessJoin {
            process: p,
            timeout: Some(hang()),
        })? {
            Ok(_) => {}
            Err(e) => return Err(Stop::Broken(format!("join of a producer: {e}"))),
        }
        if s.exitcode(p)? != Some(0) {
            return Err(violation(
                "a producer's end",
                "exit code 0 (its items flushed)",
                s.exitcode(p)?,
            ));
        }
    }
    for _ in 0..w.consumers {
        expect_value(
            s,
            "put of a pill",
            IpcOp::Put {
                queue: q,
                item: Item::Data(Value::None),
                block: None,
                timeout: Some(hang()),
            },
            Value::None,
        )?;
    }
    let mut got: Vec<(i64, i64)> = Vec::new();
    for c in 0..w.consumers {
        let label = format!("consumer {c}");
        let items = s.report(&label).map_err(|_| {
            violation(
                format!("{label} stops after its pill"),
                "its report",
                "none",
            )
        })?;
        let Value::List(items) = items else {
            return Err(Stop::Broken(format!("{label} reported {items}")));
        };
        let mut last = vec![-1i64; w.producers.len()];
        for item in &items {
            let pair = mpconform_spec::session::int_pair("an item", item)?;
            let (p, i) = pair;
            let slot = last.get_mut(p as usize).ok_or_else(|| {
                violation(format!("{label}'s items"), "items of the producers", item)
            })?;
            if i <= *slot {
                return Err(violation(
                    format!("{label}: producer {p}'s items in the order put"),
                    "increasing",
                    Value::List(items.clone()).to_string(),
                ));
            }
            *slot = i;
            got.push(pair);
        }
    }
    got.sort();
    let expected: Vec<(i64, i64)> = w
        .producers
        .iter()
        .enumerate()
        .flat_map(|(p, n)| (0..*n as i64).map(move |i| (p as i64, i)))
        .collect();
    if got != expected {
        let lost: Vec<_> = expected.iter().filter(|x| !got.contains(x)).collect();
        let mut seen = std::collections::BTreeSet::new();
        let twice: Vec<_> = got.iter().filter(|x| !seen.insert(**x)).collect();
        return Err(violation(
            "every item got exactly once",
            "no item lost or duplicated",
            format!("lost {lost:?}, duplicated {twice:?}"),
        ));
    }
    if w.joinable {
        let label = "final join".to_string();
        daemon_child(
            s,
            vec![Step::Ipc {
                label: Some(label.clone()),
                op: IpcOp::Join { queue: q },
            }],
        )?;
        s.report(&label).map_err(|_| {
            violation(
                "join() once every item and pill is done",
                "returns",
                "no return",
            )
        })?;
        expect_kind(
            s,
            "task_done() once the count is zero",
            IpcOp::TaskDone { queue: q },
            "ValueError",
        )?;
    }
    Ok(())
}

/// Opens the implementation and runs `body` in a session over it.
fn with_session(
    target: &dyn Subject,
    method: &str,
    body: impl FnOnce(&mut Session) -> Result<(), Stop>,
) -> Result<(), TestCaseError> {
    let mut implementation: Box<dyn Implementation> = target
        .open(HANG)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let result = {
        let mut session = Session::new(implementation.as_mut(), method, HANG);
        session
            .call(Call::UseStartMethod {
                method: method.into(),
            })
            .and_then(|_| body(&mut session))
    };
    // The implementation's end terminates the daemonic children and flushes.
    drop(implementation);
    result.map_err(stop_to_error)
}

fn finding(message: &str, program: String) -> Finding {
    let (check, expected, observed) = serde_json::from_str::<(String, String, String)>(message)
        .unwrap_or_else(|_| (message.to_string(), String::new(), String::new()));
    Finding {
        check,
        expected,
        observed,
        program,
    }
}

/// Tells the watchdog, if one runs, that a case starts.
fn watch_case(program: String) {
    if let Some(limit) = crate::fuzz_process::case_limit() {
        crate::fuzz_process::case_started(limit, Some(program));
    }
}

fn case_ended() {
    if let Some(limit) = crate::fuzz_process::case_limit() {
        crate::fuzz_process::case_started(limit, None);
    }
}

/// Where the generated cases come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generator {
    /// A fresh random seed each run (and any kept failing seeds first).
    Random,
    /// The same cases every run: what a test that must find a fault uses.
    Fixed,
}

fn new_runner(config: Config, generator: Generator) -> TestRunner {
    match generator {
        Generator::Random => TestRunner::new(config),
        Generator::Fixed => {
            TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
        }
    }
}

/// The fuzzer gave up before it could say whether the target departs.
#[derive(Debug, thiserror::Error)]
#[error("the fuzzer could not go on: {0}")]
pub struct FuzzError(pub String);

/// Runs `cases` sequential and `cases` concurrent cases; stops at the first
/// failure, shrunk to a minimal case.
pub fn fuzz(
    target: &dyn Subject,
    method: &str,
    cases: u32,
    seeds: Option<&str>,
    generator: Generator,
) -> Result<FuzzReport, FuzzError> {
    let config = |file: Option<&str>| {
        let mut c = Config::with_cases(cases);
        c.failure_persistence = file.map(|f| {
            Box::new(FileFailurePersistence::Direct(Box::leak(
                f.to_string().into_boxed_str(),
            ))) as Box<dyn proptest::test_runner::FailurePersistence>
        });
        c.max_shrink_iters = 200;
        c
    };
    let mut report = FuzzReport {
        sequential_cases: 0,
        concurrent_cases: 0,
        lock_cases: 0,
        finding: None,
    };

    let mut runner = new_runner(config(seeds), generator);
    let strategy = QueueModel::sequential_strategy(1..24);
    let result = runner.run(&strategy, |(init, ops, seen)| {
        watch_case(sequential_program(&init, &ops));
        let result = with_session(target, method, |s| {
            run_sequential(s, &init, &ops, seen.as_deref())
        });
        case_ended();
        result
    });
    match result {
        Ok(()) => report.sequential_cases = cases,
        Err(TestError::Fail(why, (init, ops, _))) => {
            report.finding = Some(finding(why.message(), sequential_program(&init, &ops)));
            return Ok(report);
        }
        Err(TestError::Abort(why)) => return Err(FuzzError(why.to_string())),
    }

    let mut runner = new_runner(config(seeds), generator);
    let result = runner.run(&workloads(), |w| {
        watch_case(concurrent_program(&w));
        let result = with_session(target, method, |s| run_concurrent(s, &w));
        case_ended();
        result
    });
    match result {
        Ok(()) => report.concurrent_cases = cases,
        Err(TestError::Fail(why, w)) => {
            report.finding = Some(finding(why.message(), concurrent_program(&w)));
            return Ok(report);
        }
        Err(TestError::Abort(why)) => return Err(FuzzError(why.to_string())),
    }

    let mut runner = new_runner(config(seeds), generator);
    let result = runner.run(&lock_workloads(), |w| {
        watch_case(w.program());
        let result = with_session(target, method, |s| run_locks(s, &w));
        case_ended();
        result
    });
    match result {
        Ok(()) => report.lock_cases = cases,
        Err(TestError::Fail(why, w)) => report.finding = Some(finding(why.message(), w.program())),
        Err(TestError::Abort(why)) => return Err(FuzzError(why.to_string())),
    }
    Ok(report)
}
