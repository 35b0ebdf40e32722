//! `SimpleQueue` (S01) and `JoinableQueue` (J01–J05).

use super::ipc_calls::*;
use super::*;
use crate::clause::Methods;
use crate::ipc::{IpcOp, QueueKind};
use crate::session::{expect_eq, expect_error};
use crate::value::{ErrorKind, Value};

pub(super) const CLAUSES: &[&Clause] = &[&S01, &J01, &J02, &J03, &J04, &J05];

static S01: Clause = Clause {
    id: "S01-simple-queue",
    behaviours: &["S01"],
    seeds: &[SEED_004],
    statement: "SimpleQueue carries items between processes with put/get/empty, and its \
                put and get take no block or timeout argument (TypeError).",
    notes: "Lib/multiprocessing/queues.py SimpleQueue: get(self) and put(self, obj) over \
            a pipe under a read and a write lock. The TypeError names the method \
            'SimpleQueue.get()' from 3.10 (qualified names in argument errors); 3.6-3.9 \
            say 'get()'. 2.7 has no multiprocessing.SimpleQueue (only \
            multiprocessing.queues.SimpleQueue), whose get is a closure: get(timeout=1) \
            raises TypeError('get() takes no arguments (1 given)'), put the 3.6 message.",
    needs: &[],
    methods: Methods::Each,
    body: s01,
};

fn s01(s: &mut Session) -> Result<(), Stop> {
    let q = s.new_queue(QueueKind::Simple, None)?;
    expect_eq(
        "empty() of a new SimpleQueue",
        &Value::Bool(true),
        &s.ipc("empty()", IpcOp::Empty { queue: q })?,
    )?;
    s.put(q, text("a"))?;
    expect_eq(
        "empty() after put()",
        &Value::Bool(false),
        &s.ipc("empty()", IpcOp::Empty { queue: q })?,
    )?;
    expect_eq(
        "get()",
        &str_value("a"),
        &s.ipc(
            "get()",
            IpcOp::Get {
                queue: q,
                block: None,
                timeout: None,
            },
        )?,
    )?;
    let p = child(s, vec![ipc_do(put(q, text("from the child")))])?;
    join_ok(s, p)?;
    expect_eq(
        "get() of the child's item",
        &str_value("from the child"),
        &s.ipc(
            "get()",
            IpcOp::Get {
                queue: q,
                block: None,
                timeout: None,
            },
        )?,
    )?;
    let e = s.ipc_raises(
        "get(timeout=1)",
        IpcOp::Get {
            queue: q,
            block: None,
            timeout: Some(1.0),
        },
    )?;
    expect_error(
        "get(timeout=1)",
        &e,
        ErrorKind::TypeError,
        "SimpleQueue.get() got an unexpected keyword argument 'timeout'",
    )?;
    let e = s.ipc_raises(
        "put('x', block=False)",
        IpcOp::Put {
            queue: q,
            item: text("x"),
            block: Some(false),
            timeout: None,
        },
    )?;
    expect_error(
        "put('x', block=False)",
        &e,
        ErrorKind::TypeError,
        "SimpleQueue.put() got an unexpected keyword argument 'block'",
    )
}

fn joinable(s: &mut Session) -> Result<Handle, Stop> {
    s.new_queue(QueueKind::Joinable, None)
}

fn task_done(q: Handle) -> IpcOp {
    IpcOp::TaskDone { queue: q }
}

const TOO_MANY: &str = "task_done() called too many times";

static J01: Clause = Clause {
    id: "J01-each-put-adds-a-task",
    behaviours: &["J01"],
    seeds: &[SEED_004],
    statement: "Each put() on a JoinableQueue adds one unfinished task: after two puts, two \
                task_done() calls succeed and a third raises ValueError.",
    notes: "Lib/multiprocessing/queues.py JoinableQueue.put releases _unfinished_tasks \
            once per item. Same in 2.7 and 3.6-3.13.",
    needs: &[],
    methods: Methods::Each,
    body: j01,
};

fn j01(s: &mut Session) -> Result<(), Stop> {
    let q = joinable(s)?;
    s.put(q, text("a"))?;
    s.put(q, text("b"))?;
    s.get(q)?;
    s.get(q)?;
    s.ipc("the first task_done()", task_done(q))?;
    s.ipc("the second task_done()", task_done(q))?;
    let e = s.ipc_raises("a third task_done()", task_done(q))?;
    expect_error("a third task_done()", &e, ErrorKind::ValueError, TOO_MANY)
}

static J02: Clause = Clause {
    id: "J02-task-done-bounded",
    behaviours: &["J02"],
    seeds: &[SEED_004],
    statement: "task_done() with no unfinished task raises ValueError('task_done() called \
                too many times') and leaves the count at zero (join() still returns at \
                once).",
    notes: "Lib/multiprocessing/queues.py JoinableQueue.task_done: `if not \
            self._unfinished_tasks.acquire(False): raise ValueError('task_done() called \
            too many times')`. Same in 2.7 and 3.6-3.13.",
    needs: &[],
    methods: Methods::Each,
    body: j02,
};

fn j02(s: &mut Session) -> Result<(), Stop> {
    let q = joinable(s)?;
    let e = s.ipc_raises("task_done() on a fresh queue", task_done(q))?;
    expect_error(
        "task_done() on a fresh queue",
        &e,
        ErrorKind::ValueError,
        TOO_MANY,
    )?;
    s.put(q, text("a"))?;
    s.get(q)?;
    s.ipc("task_done() for the one item", task_done(q))?;
    let e = s.ipc_raises("task_done() once more", task_done(q))?;
    expect_error("task_done() once more", &e, ErrorKind::ValueError, TOO_MANY)
}

static J03: Clause = Clause {
    id: "J03-join-waits-for-zero-and-wakes-all",
    behaviours: &["J03"],
    seeds: &[SEED_004],
    statement: "join() blocks while tasks are unfinished (two joiners have not returned \
                after the first of two task_done() calls) and every joiner returns once \
                the last task_done() brings the count to zero, even when a put raises \
                it again at once.",
    notes: "Lib/multiprocessing/queues.py JoinableQueue.join waits on _cond; task_done \
            calls _cond.notify_all() when the count reaches zero, and a woken joiner \
            returns without looking at the count again; multiprocessing's \
            Condition.notify_all waits until every sleeper has woken (_woken_count), \
            so a put after task_done() returns cannot hold them back. Same in 2.7 and \
            3.6-3.13. The 'not yet' check waits 0.05 s: a correct implementation never \
            fails it.",
    needs: &[],
    methods: Methods::Each,
    body: j03,
};

fn j03(s: &mut Session) -> Result<(), Stop> {
    let q = joinable(s)?;
    s.put(q, text("a"))?;
    s.put(q, text("b"))?;
    let joiners: Vec<Handle> = (0..2)
        .map(|j| {
            child(
                s,
                vec![
                    report(&format!("joining {j}"), Probe::Text("joining".into())),
                    ipc_step(&format!("joined {j}"), IpcOp::Join { queue: q }),
                ],
            )
        })
        .collect::<Result<_, _>>()?;
    s.report("joining 0")?;
    s.report("joining 1")?;
    s.get(q)?;
    s.get(q)?;
    s.ipc("the first task_done()", task_done(q))?;
    s.no_report_within("joined 0", 0.05)?;
    s.no_report_within("joined 1", 0.0)?;
    s.ipc("the last task_done()", task_done(q))?;
    // A put right after does not hold the joiners back: they were woken
    // when the count reached zero.
    s.put(q, text("c"))?;
    expect_eq("joiner 0's join()", &Value::None, &s.report("joined 0")?)?;
    expect_eq("joiner 1's join()", &Value::None, &s.report("joined 1")?)?;
    s.get(q)?;
    s.ipc("task_done() for the item put after", task_done(q))?;
    for p in joiners {
        join_ok(s, p)?;
    }
    Ok(())
}

static J04: Clause = Clause {
    id: "J04-join-at-zero-returns",
    behaviours: &["J04"],
    seeds: &[SEED_004],
    statement: "join() with no unfinished task returns at once, on a fresh queue and \
                after every task was done.",
    notes: "Lib/multiprocessing/queues.py JoinableQueue.join: `if not \
            self._unfinished_tasks._semlock._is_zero(): self._cond.wait()`. Same in 2.7 \
            and 3.6-3.13.",
    needs: &[],
    methods: Methods::Each,
    body: j04,
};

fn j04(s: &mut Session) -> Result<(), Stop> {
    let q = joinable(s)?;
    let p = child(s, vec![ipc_step("fresh join", IpcOp::Join { queue: q })])?;
    expect_eq(
        "join() on a fresh queue",
        &Value::None,
        &s.report("fresh join")?,
    )?;
    join_ok(s, p)?;
    s.put(q, text("a"))?;
    s.get(q)?;
    s.ipc("task_done()", task_done(q))?;
    let p = child(s, vec![ipc_step("join at zero", IpcOp::Join { queue: q })])?;
    expect_eq(
        "join() once every task is done",
        &Value::None,
        &s.report("join at zero")?,
    )?;
    join_ok(s, p)
}

static J05: Clause = Clause {
    id: "J05-count-shared-across-processes",
    behaviours: &["J05"],
    seeds: &[SEED_004],
    statement: "The unfinished count is shared: once a child has got the parent's item \
                and called task_done(), the parent's own join() returns; and a join() \
                waiting in the parent and one waiting in another child both return \
                when a child's task_done() brings the count to zero.",
    notes: "Lib/multiprocessing/queues.py JoinableQueue keeps _unfinished_tasks in a \
            multiprocessing Semaphore and _cond in a multiprocessing Condition, both \
            shared with children. join() waits with `if`, not `while` (`if not \
            self._unfinished_tasks._semlock._is_zero(): self._cond.wait()`), so a \
            joiner woken by a task_done() never looks at the count again: a port whose \
            count is a per-process copy but whose wake-up is shared releases a joiner \
            that was already waiting. The first check therefore lets the child's \
            task_done() finish before the parent joins: only a count the child really \
            lowered lets that join() return. Same in 2.7 and 3.6-3.13.",
    needs: &[],
    methods: Methods::Each,
    body: j05,
};

fn get_then_task_done(q: Handle, label: &str) -> Vec<Step> {
    vec![
        ipc_do(IpcOp::Get {
            queue: q,
            block: None,
            timeout: None,
        }),
        ipc_step(label, task_done(q)),
    ]
}

fn j05(s: &mut Session) -> Result<(), Stop> {
    let q = joinable(s)?;
    // The child's task_done() ends before the parent joins: no wake-up can
    // release this join, only the shared count.
    s.put(q, text("first"))?;
    let worker = child(s, get_then_task_done(q, "first task_done"))?;
    expect_eq(
        "the child's task_done() for the parent's item",
        &Value::None,
        &s.report("first task_done")?,
    )?;
    join_ok(s, worker)?;
    expect_eq(
        "the parent's join() after the child's task_done()",
        &Value::None,
        &s.ipc("join() in the parent", IpcOp::Join { queue: q })?,
    )?;
    // Now with joiners that wait: the parent and another child.
    s.put(q, text("second"))?;
    let joiner = child(
        s,
        vec![
            report("joining", Probe::Text("joining".into())),
            ipc_step("joined", IpcOp::Join { queue: q }),
        ],
    )?;
    s.report("joining")?;
    let gate = s.gate()?;
    let mut steps = vec![wait_gate(gate)];
    steps.extend(get_then_task_done(q, "second task_done"));
    let worker = child(s, steps)?;
    s.open(gate)?;
    expect_eq(
        "the parent's join() while a child does the task",
        &Value::None,
        &s.ipc("join() in the parent", IpcOp::Join { queue: q })?,
    )?;
    expect_eq(
        "the child's task_done()",
        &Value::None,
        &s.report("second task_done")?,
    )?;
    expect_eq(
        "the other child's join()",
        &Value::None,
        &s.report("joined")?,
    )?;
    join_ok(s, worker)?;
    join_ok(s, joiner)
}
