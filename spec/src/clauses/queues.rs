//! `multiprocessing.Queue`: Q01–Q16.

use super::ipc_calls::*;
use super::*;
use crate::call::Call;
use crate::clause::Methods;
use crate::ipc::{IpcOp, Item, QueueKind};
use crate::program::{Ending, ProcessSpec, Program};
use crate::session::{expect, expect_eq, expect_error};
use crate::value::{ErrorKind, PyError, Value};
use crate::Capability;
use std::time::Instant;

pub(super) const CLAUSES: &[&Clause] = &[
    &Q01, &Q02, &Q03, &Q04, &Q05, &Q06, &Q07, &Q08, &Q08_ENDS, &Q09, &Q10, &Q11, &Q12, &Q13, &Q14,
    &Q15, &Q16,
];

fn queue_of(s: &mut Session, maxsize: Option<i64>) -> Result<Handle, Stop> {
    s.new_queue(QueueKind::Queue, maxsize)
}

fn expect_raised(
    check: &str,
    got: Result<Value, PyError>,
    kind: ErrorKind,
    message: &str,
) -> Result<(), Stop> {
    match got {
        Err(e) => expect_error(check, &e, kind.clone(), message),
        Ok(v) => Err(Stop::violation(
            check,
            format!("{kind}({message:?})"),
            format!("returned {v}"),
        )),
    }
}

const MIB: usize = 1 << 20;

static Q01: Clause = Clause {
    id: "Q01-fifo-per-producer",
    behaviours: &["Q01"],
    seeds: &[SEED_001, SEED_004],
    statement: "Items one process puts are got in the order they were put, including \
                items that piled up in the buffer while the feeder was blocked on a full \
                pipe.",
    notes: "Lib/multiprocessing/queues.py: put() appends to a deque; _feed pops from the \
            left and writes each item in turn. Same in 2.7 and 3.6-3.13.",
    needs: &[],
    methods: Methods::Each,
    body: q01,
};

fn q01(s: &mut Session) -> Result<(), Stop> {
    let q = queue_of(s, None)?;
    // The first item fills the pipe, so the rest wait in the buffer together.
    let mut steps = vec![ipc_do(put(q, Item::Filler(MIB)))];
    steps.extend((0..40).map(|i| ipc_do(put(q, Item::Data(Value::Int(i))))));
    steps.push(report("all put", Probe::Text("all put".into())));
    let p = child(s, steps)?;
    s.report("all put")?;
    expect_eq("the first item", &Value::Bytes(vec![b'x'; MIB]), &s.get(q)?)?;
    let mut got = Vec::new();
    for _ in 0..40 {
        got.push(s.get(q)?);
    }
    let expected: Vec<Value> = (0..40).map(Value::Int).collect();
    expect_eq("the items after it, in order", &expected, &got)?;
    join_ok(s, p)
}

static Q02: Clause = Clause {
    id: "Q02-nonpositive-maxsize-unbounded",
    behaviours: &["Q02"],
    seeds: &[SEED_004],
    statement: "Queue() and Queue(maxsize) with maxsize <= 0 are unbounded (their bound \
                is SEM_VALUE_MAX): put_nowait never fails with Full; Queue(2) takes two \
                items and refuses the third.",
    notes: "Lib/multiprocessing/queues.py Queue.__init__: `if maxsize <= 0: from \
            .synchronize import SEM_VALUE_MAX as maxsize` (2147483647 on Linux). Same \
            in 2.7 and 3.6-3.13.",
    needs: &[],
    methods: Methods::Each,
    body: q02,
};

fn q02(s: &mut Session) -> Result<(), Stop> {
    for maxsize in [None, Some(0), Some(-5)] {
        let q = queue_of(s, maxsize)?;
        for i in 0..100 {
            s.ipc(
                &format!("put_nowait #{} on Queue({maxsize:?})", i + 1),
                IpcOp::PutNowait {
                    queue: q,
                    item: Item::Data(Value::Int(i)),
                },
            )?;
        }
        for _ in 0..100 {
            s.get(q)?;
        }
    }
    let q = queue_of(s, Some(2))?;
    s.put(q, text("a"))?;
    s.put(q, text("b"))?;
    let third = s.ipc_result(IpcOp::PutNowait {
        queue: q,
        item: text("c"),
    })?;
    expect_raised(
        "put_nowait of a third item on Queue(2)",
        third,
        ErrorKind::Full,
        "",
    )?;
    s.get(q)?;
    s.get(q).map(drop)
}

static Q03: Clause = Clause {
    id: "Q03-put-on-full-queue",
    behaviours: &["Q03"],
    seeds: &[SEED_001, SEED_004],
    statement: "On a full queue put_nowait() and put(block=False) fail with queue.Full at \
                once, and put(timeout=t) fails with queue.Full after at least t seconds.",
    notes: "Lib/multiprocessing/queues.py put: `if not self._sem.acquire(block, timeout): \
            raise Full`. str(Full()) is ''. Same in 2.7 and 3.6-3.13.",
    needs: &[],
    methods: Methods::Each,
    body: q03,
};

fn q03(s: &mut Session) -> Result<(), Stop> {
    let q = queue_of(s, Some(1))?;
    s.put(q, text("a"))?;
    let r = s.ipc_result(IpcOp::PutNowait {
        queue: q,
        item: text("b"),
    })?;
    expect_raised("put_nowait() on a full queue", r, ErrorKind::Full, "")?;
    let r = s.ipc_result(IpcOp::Put {
        queue: q,
        item: text("b"),
        block: Some(false),
        timeout: None,
    })?;
    expect_raised("put(block=False) on a full queue", r, ErrorKind::Full, "")?;
    let started = Instant::now();
    let r = s.ipc_result(IpcOp::Put {
        queue: q,
        item: text("b"),
        block: None,
        timeout: Some(0.05),
    })?;
    let waited = started.elapsed().as_secs_f64();
    s.observe("put(timeout=0.05) took (s)", waited);
    expect_raised("put(timeout=0.05) on a full queue", r, ErrorKind::Full, "")?;
    expect(
        "put(timeout=0.05) waits its timeout",
        waited >= 0.05,
        ">= 0.05 s",
        waited,
    )?;
    expect_eq("the one item", &str_value("a"), &s.get(q)?)
}

static Q04: Clause = Clause {
    id: "Q04-get-on-empty-queue",
    behaviours: &["Q04"],
    seeds: &[SEED_001, SEED_004],
    statement: "On an empty queue get_nowait() and get(block=False) fail with queue.Empty \
                at once, and get(timeout=t) fails with queue.Empty after at least t seconds.",
    notes: "Lib/multiprocessing/queues.py get: the read lock is taken with the timeout, \
            then `if not self._poll(timeout): raise Empty`. str(Empty()) is ''. Same in \
            2.7 and 3.6-3.13.",
    needs: &[],
    methods: Methods::Each,
    body: q04,
};

fn q04(s: &mut Session) -> Result<(), Stop> {
    let q = queue_of(s, None)?;
    let r = s.get_nowait(q)?;
    expect_raised("get_nowait() on an empty queue", r, ErrorKind::Empty, "")?;
    let r = s.ipc_result(IpcOp::Get {
        queue: q,
        block: Some(false),
        timeout: None,
    })?;
    expect_raised(
        "get(block=False) on an empty queue",
        r,
        ErrorKind::Empty,
        "",
    )?;
    let started = Instant::now();
    let r = s.ipc_result(IpcOp::Get {
        queue: q,
        block: None,
        timeout: Some(0.05),
    })?;
    let waited = started.elapsed().as_secs_f64();
    s.observe("get(timeout=0.05) took (s)", waited);
    expect_raised(
        "get(timeout=0.05) on an empty queue",
        r,
        ErrorKind::Empty,
        "",
    )?;
    expect(
        "get(timeout=0.05) waits its timeout",
        waited >= 0.05,
        ">= 0.05 s",
        waited,
    )
}

static Q05: Clause = Clause {
    id: "Q05-qsize-empty-full",
    behaviours: &["Q05"],
    seeds: &[SEED_001],
    statement: "qsize() counts the items put and not yet got (taken slots), full() is \
                true when every slot is taken, empty() is true when nothing waits in the \
                pipe.",
    notes: "Lib/multiprocessing/queues.py: qsize = maxsize - sem._semlock._get_value(); \
            full = sem._semlock._is_zero(); empty = not self._poll(). Approximate by \
            design: empty() can be true while a put item is still in the feeder's \
            buffer. qsize() raises NotImplementedError on macOS (no sem_getvalue). Same \
            on Linux in 2.7 and 3.6-3.13.",
    needs: &[],
    methods: Methods::Each,
    body: q05,
};

fn q05(s: &mut Session) -> Result<(), Stop> {
    let q = queue_of(s, Some(2))?;
    let state = |s: &mut Session| -> Result<Value, Stop> {
        let size = s.ipc("qsize()", IpcOp::Qsize { queue: q })?;
        let full = s.ipc("full()", IpcOp::Full { queue: q })?;
        Ok(Value::List(vec![size, full]))
    };
    let pair = |n: i64, f: bool| Value::List(vec![Value::Int(n), Value::Bool(f)]);
    expect_eq(
        "[qsize(), full()] of a new Queue(2)",
        &pair(0, false),
        &state(s)?,
    )?;
    expect_eq(
        "empty() of a new queue",
        &Value::Bool(true),
        &s.ipc("empty()", IpcOp::Empty { queue: q })?,
    )?;
    s.put(q, text("a"))?;
    expect_eq(
        "[qsize(), full()] after one put",
        &pair(1, false),
        &state(s)?,
    )?;
    s.put(q, text("b"))?;
    expect_eq(
        "[qsize(), full()] after two puts",
        &pair(2, true),
        &state(s)?,
    )?;
    s.get(q)?;
    expect_eq(
        "[qsize(), full()] after one get",
        &pair(1, false),
        &state(s)?,
    )?;
    s.get(q)?;
    expect_eq(
        "[qsize(), full()] after both gets",
        &pair(0, false),
        &state(s)?,
    )?;
    expect_eq(
        "empty() once drained",
        &Value::Bool(true),
        &s.ipc("empty()", IpcOp::Empty { queue: q })?,
    )
}

static Q06: Clause = Clause {
    id: "Q06-closed-queue-refuses",
    behaviours: &["Q06"],
    seeds: &[SEED_004],
    statement: "After close(), put, put_nowait, get and get_nowait raise \
                ValueError('Queue <repr> is closed').",
    notes: "Lib/multiprocessing/queues.py put/get: `if self._closed: raise \
            ValueError(f\"Queue {self!r} is closed\")` from 3.8. 3.7: put raises \
            AssertionError('Queue <repr> has been closed') (JoinableQueue: '... is \
            closed'); 3.6 and 2.7 a bare AssertionError(); get and get_nowait read the \
            reader close() closed: OSError('handle is closed') in 3.6-3.7; in 2.7 a \
            blocking get() raises IOError(9, 'Bad file descriptor') and any get with a \
            timeout or get_nowait() raises Empty (its poll of the closed reader is \
            false).",
    needs: &[],
    methods: Methods::Each,
    body: q06,
};

fn q06(s: &mut Session) -> Result<(), Stop> {
    let q = queue_of(s, None)?;
    s.put(q, text("a"))?;
    s.get(q)?;
    let repr = s.repr(q)?;
    s.close_queue(q)?;
    let message = format!("Queue {repr} is closed");
    let ops = [
        ("put()", put(q, text("b"))),
        (
            "put_nowait()",
            IpcOp::PutNowait {
                queue: q,
                item: text("b"),
            },
        ),
        (
            "get()",
            IpcOp::Get {
                queue: q,
                block: None,
                timeout: Some(0.0),
            },
        ),
        ("get_nowait()", IpcOp::GetNowait { queue: q }),
    ];
    for (what, op) in ops {
        let r = s.ipc_result(op)?;
        expect_raised(
            &format!("{what} after close()"),
            r,
            ErrorKind::ValueError,
            &message,
        )?;
    }
    s.join_thread(q)
}

static Q07: Clause = Clause {
    id: "Q07-feeder-starts-at-first-put",
    behaviours: &["Q07"],
    seeds: &[SEED_004],
    statement: "Making a queue starts no thread; the first put() starts the feeder thread \
                (one more thread in the process) and later puts start no other.",
    notes: "Lib/multiprocessing/queues.py put: `if self._thread is None: \
            self._start_thread()`. Observed as the process's threads under \
            /proc/PID/task. Same in 2.7 and 3.6-3.13.",
    needs: &[],
    methods: Methods::Each,
    body: q07,
};

fn q07(s: &mut Session) -> Result<(), Stop> {
    let pid = s.getpid()?;
    let threads = |s: &mut Session, when: &str| -> Result<usize, Stop> {
        let n = crate::observe::thread_count(pid)
            .map_err(|e| Stop::Broken(format!("cannot read /proc/{pid}/task: {e}")))?;
        s.observe(format!("threads {when}"), n);
        Ok(n)
    };
    let before = threads(s, "before Queue()")?;
    let q = queue_of(s, None)?;
    let made = threads(s, "after Queue()")?;
    s.put(q, text("a"))?;
    let first = threads(s, "after the first put")?;
    s.put(q, text("b"))?;
    let second = threads(s, "after the second put")?;
    expect_eq("threads after Queue()", &before, &made)?;
    expect_eq("threads after the first put", &(before + 1), &first)?;
    expect_eq("threads after the second put", &(before + 1), &second)?;
    s.get(q)?;
    s.get(q)?;
    s.close_queue(q)?;
    s.join_thread(q)
}

static Q08: Clause = Clause {
    id: "Q08-close-flushes-before-sentinel",
    behaviours: &["Q08"],
    seeds: &[SEED_004],
    statement: "Items put before close() still reach another process: close() appends the \
                private sentinel behind them and the feeder writes everything before it \
                (here while the pipe is full) before it ends.",
    notes: "Lib/multiprocessing/queues.py close -> _finalize_close appends _sentinel; \
            _feed writes until it pops the sentinel, then closes the pipe ends (3.9+; \
            up to 3.8 close() closed the reader itself). Same delivery in 2.7 and \
            3.6-3.13.",
    needs: &[],
    methods: Methods::Each,
    body: q08,
};

fn q08(s: &mut Session) -> Result<(), Stop> {
    let q = queue_of(s, None)?;
    let p = child(
        s,
        vec![
            ipc_do(put(q, Item::Filler(MIB))),
            ipc_do(put(q, text("a"))),
            ipc_do(put(q, text("b"))),
            ipc_do(IpcOp::Close { queue: q }),
        ],
    )?;
    expect_eq("the first item", &Value::Bytes(vec![b'x'; MIB]), &s.get(q)?)?;
    // The child ends only after its feeder wrote everything (Q16), so the
    // rest is in the pipe once it has been joined.
    join_ok(s, p)?;
    let a = s.get_nowait(q)?;
    expect_eq(
        "get_nowait() after the child ended",
        &Ok(str_value("a")),
        &a,
    )?;
    let b = s.get_nowait(q)?;
    expect_eq("the next get_nowait()", &Ok(str_value("b")), &b)?;
    let end = s.get_nowait(q)?;
    expect_raised("get_nowait() once drained", end, ErrorKind::Empty, "")
}

static Q08_ENDS: Clause = Clause {
    id: "Q08-feeder-closes-pipe-ends",
    behaviours: &["Q08"],
    seeds: &[SEED_004],
    statement: "close() itself closes none of the descriptors the queue opened while its \
                feeder still has items to write (here blocked on a full pipe that a child \
                drains later); the feeder closes them all once it has written everything \
                before the sentinel, so when join_thread() returns none of them is open \
                in the process that closed the queue.",
    notes: "Seen in the descriptor table of the process that holds the queue \
            (/proc/PID/fd, PID from os.getpid()): the descriptors that appear with \
            Queue() (CPython: the two ends of its os.pipe()), after a first queue so \
            that helpers an implementation starts once (the resource tracker under \
            spawn and forkserver) are not counted. Lib/multiprocessing/queues.py \
            3.9-3.13: Queue.close() only calls self._close (_finalize_close, which \
            appends _sentinel); _start_thread hands _feed self._reader.close and \
            self._writer.close, and _feed calls reader_close() then writer_close() \
            when it pops the sentinel. Up to 3.8 (and in 2.7) Queue.close() calls \
            self._reader.close() itself, at once, and _feed's close is \
            self._writer.close: there the reader is gone right after close(), and the \
            first check fails; both are closed after join_thread() in every version. \
            From 3.9, close() before any put closes nothing (no feeder: _close is \
            None); the ends go with the object.",
    needs: &[],
    methods: Methods::Each,
    body: q08_ends,
};

fn q08_ends(s: &mut Session) -> Result<(), Stop> {
    let pid = s.getpid()?;
    let fds = |s: &mut Session, when: &str| {
        let open = crate::observe::descriptors(pid)
            .map_err(|e| Stop::Broken(format!("cannot read /proc/{pid}/fd: {e}")))?;
        s.observe(format!("descriptors {when}"), &open);
        Ok::<_, Stop>(open)
    };
    queue_of(s, None)?;
    let before = fds(s, "before Queue()")?;
    let q = queue_of(s, None)?;
    let made = fds(s, "after Queue()")?;
    let ends: Vec<(i64, String)> = made.difference(&before).cloned().collect();
    let open_of = |now: &std::collections::BTreeSet<(i64, String)>| -> Vec<(i64, String)> {
        ends.iter().filter(|e| now.contains(e)).cloned().collect()
    };
    let gate = s.gate()?;
    let reader = child(
        s,
        vec![
            wait_gate(gate),
            ipc_do(IpcOp::Get {
                queue: q,
                block: None,
                timeout: None,
            }),
            ipc_step(
                "got after the big item",
                IpcOp::Get {
                    queue: q,
                    block: None,
                    timeout: None,
                },
            ),
        ],
    )?;
    // The big item fills the pipe: the feeder cannot reach the sentinel
    // until the child, held at the gate, reads.
    s.put(q, Item::Filler(MIB))?;
    s.put(q, text("a"))?;
    s.close_queue(q)?;
    let closing = fds(s, "after close(), the feeder still writing")?;
    expect_eq(
        "the queue's descriptors still open after close(), the feeder still writing",
        &ends,
        &open_of(&closing),
    )?;
    s.open(gate)?;
    expect_eq(
        "the child's get() after the big item",
        &str_value("a"),
        &s.report("got after the big item")?,
    )?;
    s.join_thread(q)?;
    let after = fds(s, "after join_thread()")?;
    expect_eq(
        "the queue's descriptors still open after join_thread()",
        &Vec::<(i64, String)>::new(),
        &open_of(&after),
    )?;
    join_ok(s, reader)
}

static Q09: Clause = Clause {
    id: "Q09-only-private-sentinel-stops-feeder",
    behaviours: &["Q09"],
    seeds: &[SEED_004],
    statement: "None and a plain object() are delivered as data, and items put after them \
                still arrive: only the queue's own private sentinel stops the feeder.",
    notes: "Seed 004 says putting object() closes the writer; CPython compares with `is` \
            against the module's private `_sentinel = object()`, which no caller can put \
            (Lib/multiprocessing/queues.py _feed). The clause follows CPython. Same in \
            2.7 and 3.6-3.13.",
    needs: &[],
    methods: Methods::Each,
    body: q09,
};

fn q09(s: &mut Session) -> Result<(), Stop> {
    let q = queue_of(s, None)?;
    s.put(q, Item::Data(Value::None))?;
    s.put(q, Item::Object)?;
    s.put(q, text("after"))?;
    expect_eq("get() of None", &Value::None, &s.get(q)?)?;
    expect_eq(
        "get() of an object()",
        &Value::Opaque("object".into()),
        &s.get(q)?,
    )?;
    expect_eq(
        "get() of the item after it",
        &str_value("after"),
        &s.get(q)?,
    )
}

static Q10: Clause = Clause {
    id: "Q10-join-thread-after-close",
    behaviours: &["Q10"],
    seeds: &[SEED_004],
    statement: "join_thread() before close() fails with AssertionError; after close() it \
                returns once the feeder has written everything and ended.",
    notes: "Lib/multiprocessing/queues.py join_thread: `assert self._closed, \"Queue \
            {0!r} not closed\".format(self)` (3.7+); 3.6 and 2.7 `assert self._closed`, a \
            bare AssertionError().",
    needs: &[],
    methods: Methods::Each,
    body: q10,
};

fn q10(s: &mut Session) -> Result<(), Stop> {
    let q = queue_of(s, None)?;
    let repr = s.repr(q)?;
    let e = s.ipc_raises(
        "join_thread() before close()",
        IpcOp::JoinThread { queue: q },
    )?;
    expect_error(
        "join_thread() before close()",
        &e,
        ErrorKind::AssertionError,
        &format!("Queue {repr} not closed"),
    )?;
    let p = child(
        s,
        vec![
            ipc_do(put(q, text("a"))),
            ipc_do(IpcOp::Close { queue: q }),
            ipc_step("join_thread", IpcOp::JoinThread { queue: q }),
        ],
    )?;
    expect_eq(
        "the child's join_thread() after close()",
        &Value::None,
        &s.report("join_thread")?,
    )?;
    expect_eq("the child's item", &str_value("a"), &s.get(q)?)?;
    join_ok(s, p)
}

static Q11: Clause = Clause {
    id: "Q11-unserializable-item-dropped",
    behaviours: &["Q11"],
    seeds: &[SEED_004],
    statement: "An item that cannot be pickled does not fail put(): the feeder prints the \
                traceback on stderr, drops the item, releases its slot, and the queue \
                goes on delivering (a Queue(1) takes the next item).",
    notes: "Lib/multiprocessing/queues.py _feed: on an exception `queue_sem.release(); \
            onerror(e, obj)` and _on_queue_feeder_error calls traceback.print_exc() \
            (3.7+, bpo-30006). 3.6 and 2.7 leak the slot, so the next put on a Queue(1) \
            fails with Full. The traceback's last line is `_pickle.PicklingError: Can't \
            pickle <function <lambda> ...>: attribute lookup <lambda> on __main__ failed` \
            in 3.x; 3.11+ add caret lines. From 3.14 (gh-122311, pickle errors unified) \
            the PicklingError says `it's not found as __main__.<lambda>` and chains the \
            AttributeError as its __context__, which has no frames and so prints first, \
            without a `Traceback` header (RustPython 0.6.0, on 3.14's library, shows it): \
            the check is that a traceback is printed and its last line is the pickling \
            error, not where the text starts.",
    needs: &[],
    methods: Methods::Each,
    body: q11,
};

fn q11(s: &mut Session) -> Result<(), Stop> {
    let q = queue_of(s, Some(1))?;
    let hang = s.hang_secs();
    let mut spec = ProcessSpec::target(Program::steps(vec![
        ipc_step("first put", put(q, Item::Unpicklable)),
        ipc_step(
            "second put",
            IpcOp::Put {
                queue: q,
                item: text("after"),
                block: None,
                timeout: Some(hang),
            },
        ),
    ]));
    spec.capture_stderr = true;
    let p = s.new_process(spec)?;
    s.start(p)?;
    expect_eq(
        "put() of an unpicklable item",
        &Value::None,
        &s.report("first put")?,
    )?;
    expect_eq(
        "the next put() on the Queue(1)",
        &Value::None,
        &s.report("second put")?,
    )?;
    expect_eq("the item after it", &str_value("after"), &s.get(q)?)?;
    join_ok(s, p)?;
    let err = s.ok("the child's stderr", Call::ProcessStderr { process: p })?;
    let err = match err {
        Value::Bytes(b) => String::from_utf8_lossy(&b).into_owned(),
        other => return Err(Stop::Broken(format!("captured stderr: not bytes: {other}"))),
    };
    let last = err
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    expect(
        "the feeder's report on stderr",
        err.contains("Traceback (most recent call last):") && last.contains("PicklingError"),
        "a traceback whose last line is the pickling error",
        &err,
    )
}

static Q12: Clause = Clause {
    id: "Q12-queue-shared-by-inheritance-only",
    behaviours: &["Q12"],
    seeds: &[SEED_004],
    statement: "A queue reaches a child as a process argument (inheritance); sending it \
                any other way (here over a Pipe) raises RuntimeError('Queue objects \
                should only be shared between processes through inheritance').",
    notes: "Lib/multiprocessing/queues.py Queue.__getstate__ calls \
            context.assert_spawning(self), which raises RuntimeError('%s objects should \
            only be shared between processes through inheritance' % type(obj).__name__). \
            Same in 2.7 and 3.6-3.13.",
    needs: &[],
    methods: Methods::Each,
    body: q12,
};

fn q12(s: &mut Session) -> Result<(), Stop> {
    let q = queue_of(s, None)?;
    let p = child(s, vec![ipc_do(put(q, text("inherited")))])?;
    expect_eq(
        "an item from the child",
        &str_value("inherited"),
        &s.get(q)?,
    )?;
    join_ok(s, p)?;
    let (a, _b) = s.pipe(None)?;
    let e = s.ipc_raises(
        "send() of a queue",
        IpcOp::Send {
            conn: a,
            item: Item::Itself(q),
        },
    )?;
    expect_error(
        "send() of a queue",
        &e,
        ErrorKind::RuntimeError,
        "Queue objects should only be shared between processes through inheritance",
    )
}

static Q13: Clause = Clause {
    id: "Q13-child-resets-queue-state",
    behaviours: &["Q13"],
    seeds: &[SEED_004],
    statement: "A child started by multiprocessing resets its copy of a queue: it starts \
                its own feeder at its first put (two threads), does not resend what the \
                parent had buffered, and its items arrive. A bare os.fork() child does \
                not: its copy believes the parent's feeder runs, so its put starts no \
                thread (one thread) and the item never arrives.",
    notes: "Lib/multiprocessing/queues.py registers Queue._after_fork with \
            util.register_after_fork; BaseProcess._bootstrap runs the after-fork hooks \
            (util._run_after_forkers), os.fork does not. Same in 2.7 and 3.6-3.13. The \
            bare fork waits until the parent's feeder has begun writing: put() starts \
            the feeder while holding _notempty (queues.py put), and a fork while the \
            feeder holds it leaves the child's copy locked, so its put() blocks for \
            ever (seen in 9 of 300 runs on 3.13 without the wait).",
    needs: &[Capability::OsFork],
    methods: Methods::Each,
    body: q13,
};

fn q13(s: &mut Session) -> Result<(), Stop> {
    let q = queue_of(s, None)?;
    // The parent's feeder blocks on the full pipe with "a" still buffered.
    s.put(q, Item::Filler(MIB))?;
    s.put(q, text("a"))?;
    let p = child(
        s,
        vec![
            ipc_do(put(q, text("c"))),
            report("mp child threads", Probe::OsThreads),
        ],
    )?;
    let mp_threads = s.report("mp child threads")?;
    // The bare child copies the parent's locks as they are at fork. CPython's
    // feeder holds the queue's thread lock (_notempty) for a moment before it
    // pops the first item; a fork then would leave the child's copy locked
    // for ever. Once something is in the pipe the feeder is past that moment
    // and, the pipe being full, stays in its write.
    let deadline = std::time::Instant::now() + s.hang;
    while s.ipc("empty()", IpcOp::Empty { queue: q })? == Value::Bool(true) {
        if std::time::Instant::now() >= deadline {
            return Err(Stop::violation(
                "the parent's feeder writes the first item",
                "empty() false",
                format!("still empty after {:?}", s.hang),
            ));
        }
        std::thread::yield_now();
    }
    let forked = s.ok(
        "os.fork()",
        Call::OsFork {
            child: Program::new(
                vec![
                    ipc_do(put(q, text("d"))),
                    report("fork child threads", Probe::OsThreads),
                ],
                Ending::OsExit(0),
            ),
        },
    )?;
    let forked = crate::session::int("os.fork()", &forked)?;
    expect_eq(
        "threads of the multiprocessing child after its put",
        &Value::Int(2),
        &mp_threads,
    )?;
    expect_eq(
        "threads of the os.fork() child after its put",
        &Value::Int(1),
        &s.report("fork child threads")?,
    )?;
    // The parent's feeder and the child's feeder share the write lock, so
    // messages arrive whole but in either order.
    let mut expected = vec![
        str_value("a"),
        str_value("c"),
        Value::Bytes(vec![b'x'; MIB]),
    ];
    let mut got = Vec::new();
    for _ in 0..3 {
        let item = s.get(q)?;
        match expected.iter().position(|e| *e == item) {
            Some(i) => {
                expected.remove(i);
            }
            None => {
                return Err(Stop::violation(
                    "an item that arrives",
                    "one of 'a', 'c', the 1 MiB item, each once",
                    format!("{item} (after {})", Value::List(got)),
                ))
            }
        }
        got.push(item);
    }
    join_ok(s, p)?;
    s.ok(
        "os.waitpid() of the fork child",
        Call::OsWaitpid {
            pid: forked,
            nohang: false,
        },
    )?;
    let end = s.get_nowait(q)?;
    expect_raised(
        "get_nowait() once both children ended",
        end,
        ErrorKind::Empty,
        "",
    )
}

static Q14: Clause = Clause {
    id: "Q14-producers-consumers-poison-pills",
    behaviours: &["Q14"],
    seeds: &[SEED_001],
    statement: "Three producers and two consumers on one queue (already used by the \
                parent), one None pill per consumer: each consumer stops after its pill, \
                every item is got exactly once, and each consumer sees each producer's \
                items in the order put.",
    notes: "Seed 001's producer/consumer pattern. Order across producers is not \
            specified; per producer it follows from Q01 and the read lock \
            (Lib/multiprocessing/queues.py get).",
    needs: &[],
    methods: Methods::Each,
    body: q14,
};

fn q14(s: &mut Session) -> Result<(), Stop> {
    const PRODUCERS: i64 = 3;
    const ITEMS: i64 = 20;
    let q = queue_of(s, None)?;
    s.put(q, text("warm-up"))?;
    expect_eq(
        "the parent's warm-up item",
        &str_value("warm-up"),
        &s.get(q)?,
    )?;
    let consumers: Vec<Handle> = (0..2)
        .map(|c| {
            child(
                s,
                vec![Step::Drain {
                    label: format!("consumer {c}"),
                    from: q,
                    stop: Value::None,
                    task_done: false,
                }],
            )
        })
        .collect::<Result<_, _>>()?;
    let producers: Vec<Handle> = (0..PRODUCERS)
        .map(|p| {
            child(
                s,
                (0..ITEMS)
                    .map(|i| {
                        ipc_do(put(
                            q,
                            Item::Data(Value::List(vec![Value::Int(p), Value::Int(i)])),
                        ))
                    })
                    .collect(),
            )
        })
        .collect::<Result<_, _>>()?;
    for p in producers {
        join_ok(s, p)?;
    }
    for _ in &consumers {
        s.put(q, Item::Data(Value::None))?;
    }
    let mut all = Vec::new();
    for c in 0..consumers.len() {
        let got = s.report(&format!("consumer {c}"))?;
        let Value::List(items) = got else {
            return Err(Stop::Broken(format!("consumer {c} reported {got}")));
        };
        let mut last = vec![-1i64; PRODUCERS as usize];
        for item in &items {
            let pair = crate::session::int_pair("an item", item)?;
            let (p, i) = pair;
            if !(0..PRODUCERS).contains(&p) || i <= last[p as usize] {
                return Err(Stop::violation(
                    format!("consumer {c}'s items from producer {p}"),
                    "in the order put",
                    Value::List(items.clone()).to_string(),
                ));
            }
            last[p as usize] = i;
            all.push((p, i));
        }
    }
    all.sort();
    let expected: Vec<(i64, i64)> = (0..PRODUCERS)
        .flat_map(|p| (0..ITEMS).map(move |i| (p, i)))
        .collect();
    expect_eq("every item, got once", &expected, &all)?;
    for c in consumers {
        join_ok(s, c)?;
    }
    Ok(())
}

static Q15: Clause = Clause {
    id: "Q15-no-lifo-and-thread-queue-is-local",
    behaviours: &["Q15"],
    seeds: &[SEED_002, SEED_001],
    statement: "multiprocessing offers Queue but no LifoQueue or PriorityQueue, and a \
                queue.Queue is not shared: what a child puts on its copy never reaches \
                the parent.",
    notes: "Lib/multiprocessing/context.py BaseContext defines Queue, JoinableQueue and \
            SimpleQueue only; queue.Queue is a deque under a threading lock, copied by \
            fork. Same in 2.7 (Queue.Queue) and 3.6-3.13. \
            Only under fork, where the child inherits the queue.Queue: spawn and forkserver must pickle the process object, and a queue.Queue cannot be pickled (Lib/multiprocessing/popen_spawn_posix.py _launch: reduction.dump(process_obj) raises TypeError).",
    needs: &[],
    methods: Methods::Only(&["fork"]),
    body: q15,
};

fn q15(s: &mut Session) -> Result<(), Stop> {
    for (name, offered) in [
        ("Queue", true),
        ("LifoQueue", false),
        ("PriorityQueue", false),
    ] {
        let v = s.ipc(
            &format!("hasattr(multiprocessing, {name:?})"),
            IpcOp::ModuleHas { name: name.into() },
        )?;
        expect_eq(
            &format!("hasattr(multiprocessing, {name:?})"),
            &Value::Bool(offered),
            &v,
        )?;
    }
    let q = s.new_queue(QueueKind::Thread, None)?;
    let p = child(s, vec![ipc_do(put(q, text("from the child")))])?;
    join_ok(s, p)?;
    let r = s.get_nowait(q)?;
    expect_raised(
        "get_nowait() on the parent's queue.Queue",
        r,
        ErrorKind::Empty,
        "",
    )
}

static Q16: Clause = Clause {
    id: "Q16-exit-waits-for-feeder",
    behaviours: &["Q16"],
    seeds: &[SEED_004],
    statement: "A child that put more than the pipe holds does not end until the items \
                are read: join(timeout) gives up with the child alive; once the parent \
                has got the items, the child ends with exit code 0.",
    notes: "Lib/multiprocessing/queues.py _start_thread registers Queue._finalize_join \
            (exitpriority -5), run by util._exit_function at the child's end; it joins \
            the feeder, which waits for the reader. The programming guidelines' 'joining \
            processes that use queues'. cancel_join_thread() lifts it. Same in 2.7 and \
            3.6-3.13.",
    needs: &[],
    methods: Methods::Each,
    body: q16,
};

fn q16(s: &mut Session) -> Result<(), Stop> {
    let q = queue_of(s, None)?;
    let p = child(
        s,
        vec![
            ipc_do(put(q, Item::Filler(MIB))),
            ipc_do(put(q, text("last"))),
            report("put", Probe::Text("put".into())),
        ],
    )?;
    s.report("put")?;
    let joined = s.join_timeout(p, 0.1)?;
    s.observe("join(0.1) returned", &joined);
    let alive = s.is_alive(p)?;
    expect_eq("is_alive() after join(0.1), items unread", &true, &alive)?;
    expect_eq("the big item", &Value::Bytes(vec![b'x'; MIB]), &s.get(q)?)?;
    expect_eq("the last item", &str_value("last"), &s.get(q)?)?;
    join_ok(s, p)
}
