//! Locks and shared memory across processes: a Lock around a shared Value,
//! RLock ownership, a plain Lock's holder, Event, and Value and Array
//! against ordinary globals: L01–L05.

use super::*;
use crate::call::Call;
use crate::clause::Methods;
use crate::program::{Ending, ProcessSpec, Program};
use crate::session::{boolean, expect, expect_eq, expect_reported_error};
use crate::sync::{LockKind, SyncOp};
use crate::value::{ErrorKind, Value};

pub(super) const CLAUSES: &[&Clause] = &[&L01, &L02, &L03, &L04, &L05];

/// How many read-modify-writes each of L01's two children makes.
const TIMES: u32 = 1000;

static L01: Clause = Clause {
    id: "L01-lock-serialises-shared-value",
    behaviours: &["L01"],
    seeds: &[SEED_002],
    statement: "A Lock excludes every other process: children blocked on a Lock the \
                parent holds stay blocked, and change nothing, until it is released; two \
                children that each make 1000 read-modify-writes of a shared Value under \
                the Lock, one adding 1 and one subtracting 1, leave it at 0.",
    notes: "Lib/multiprocessing/synchronize.py Lock: SemLock(SEMAPHORE, 1, 1), a POSIX \
            semaphore shared by every process that inherits or unpickles it \
            (Modules/_multiprocessing/semaphore.c). `v.value += 1` is a read and a \
            write (sharedctypes.py: the Synchronized wrapper locks each access \
            separately), so without a lock around both, updates are lost. The \
            clause sees the blocked children asleep in the futex call through /proc, \
            not through the lock. Same from 2.7 to 3.14.",
    needs: &[],
    methods: Methods::Each,
    body: l01,
};

fn l01(s: &mut Session) -> Result<(), Stop> {
    let lock = new_lock(s, LockKind::Lock)?;
    let value = sync_handle(
        s,
        "Value('i', 0)",
        SyncOp::ValueNew {
            typecode: "i".into(),
            init: 0,
        },
    )?;
    let taken = acquire(s, "the parent's acquire()", lock, None, None)?;
    expect(
        "the parent's acquire() of a free Lock",
        taken,
        "True",
        taken,
    )?;
    let gate = s.gate()?;
    let mut children = Vec::new();
    for (name, delta) in [("adder", 1), ("subtractor", -1)] {
        let steps = vec![
            wait_gate(gate),
            report(&format!("{name}-trying"), Probe::Text(name.into())),
            quiet(SyncOp::ValueAdd {
                value,
                delta,
                times: TIMES,
                lock: Some(lock),
            }),
            report(&format!("{name}-done"), Probe::Text(name.into())),
        ];
        let (child, pid) = start_child(s, steps)?;
        children.push((name, child, pid));
    }
    s.open(gate)?;
    for (name, _, pid) in &children {
        s.report(&format!("{name}-trying"))?;
        s.until_blocked(
            *pid,
            &format!("the {name} blocked on the Lock the parent holds"),
            &format!("{name}-done"),
        )?;
    }
    let untouched = sync(s, "v.value", SyncOp::ValueGet { value })?;
    expect_eq(
        "the shared Value while the parent holds the Lock",
        &Value::Int(0),
        &untouched,
    )?;
    sync(s, "the parent's release()", SyncOp::Release { lock })?;
    for (name, child, _) in &children {
        s.report(&format!("{name}-done"))?;
        s.join(*child)?;
        expect_eq(
            &format!("the {name}'s exit code"),
            &Some(0),
            &s.exitcode(*child)?,
        )?;
    }
    let total = sync(s, "v.value", SyncOp::ValueGet { value })?;
    expect_eq(
        "the shared Value after +1000 and -1000 under the Lock",
        &Value::Int(0),
        &total,
    )
}

static L02: Clause = Clause {
    id: "L02-rlock-owner-reentry",
    behaviours: &["L02"],
    seeds: &[SEED_002],
    statement: "An RLock is re-entrant for the process that holds it: a second acquire \
                succeeds at once, and it stays held, for other processes too, until it \
                has been released as many times as it was acquired. A release by a \
                process that does not hold it, or one release too many, fails with \
                AssertionError('attempt to release recursive lock not owned by thread').",
    notes: "Modules/_multiprocessing/semaphore.c, _multiprocessing_SemLock_release_impl: \
            for RECURSIVE_MUTEX, `if (!ISMINE(self))` raises AssertionError 'attempt \
            to release recursive lock not owned by thread'; ISMINE is count > 0 in \
            this process's SemLock object and the calling thread's id, and \
            SemLock._after_fork (synchronize.py) sets a child's count to 0, so a \
            child never owns what its parent holds. Measured the same on 2.7, 3.6, \
            3.8, 3.11-3.13 and PyPy 3.9. The issue that asked for this clause quoted \
            'cannot release un-acquired lock': that is threading.RLock's message \
            (a RuntimeError), not multiprocessing's.",
    needs: &[],
    methods: Methods::Each,
    body: l02,
};

const NOT_OWNED: &str = "attempt to release recursive lock not owned by thread";

fn l02(s: &mut Session) -> Result<(), Stop> {
    let rlock = new_lock(s, LockKind::RLock)?;
    for which in ["first", "second"] {
        let taken = acquire(s, &format!("the {which} acquire()"), rlock, None, None)?;
        expect(
            &format!("the owner's {which} acquire() of an RLock"),
            taken,
            "True",
            taken,
        )?;
    }
    let stranger = probe_child(
        s,
        vec![
            sync_step("release", SyncOp::Release { lock: rlock }),
            sync_step(
                "try",
                SyncOp::Acquire {
                    lock: rlock,
                    block: Some(false),
                    timeout: None,
                },
            ),
        ],
        &["release", "try"],
    )?;
    expect_reported_error(
        "a child's release() of an RLock its parent holds",
        &stranger[0],
        ErrorKind::AssertionError,
        NOT_OWNED,
    )?;
    expect_eq(
        "a child's acquire(False) of an RLock its parent holds",
        &Value::Bool(false),
        &stranger[1],
    )?;
    sync(
        s,
        "the owner's first release()",
        SyncOp::Release { lock: rlock },
    )?;
    let still = probe_child(
        s,
        vec![sync_step(
            "try",
            SyncOp::Acquire {
                lock: rlock,
                block: Some(false),
                timeout: None,
            },
        )],
        &["try"],
    )?;
    expect_eq(
        "a child's acquire(False) after one of two releases",
        &Value::Bool(false),
        &still[0],
    )?;
    sync(
        s,
        "the owner's second release()",
        SyncOp::Release { lock: rlock },
    )?;
    let free = probe_child(
        s,
        vec![
            sync_step(
                "try",
                SyncOp::Acquire {
                    lock: rlock,
                    block: Some(false),
                    timeout: None,
                },
            ),
            sync_step("release", SyncOp::Release { lock: rlock }),
        ],
        &["try", "release"],
    )?;
    expect_eq(
        "a child's acquire(False) after two of two releases",
        &Value::Bool(true),
        &free[0],
    )?;
    expect_eq(
        "that child's release() of the RLock it took",
        &Value::None,
        &free[1],
    )?;
    s.raises_exactly(
        "a release() more than the acquires",
        Call::Sync(SyncOp::Release { lock: rlock }),
        ErrorKind::AssertionError,
        NOT_OWNED,
    )
}

static L03: Clause = Clause {
    id: "L03-plain-lock-not-reentrant",
    behaviours: &["L03"],
    seeds: &[SEED_002],
    statement: "A plain Lock is not re-entrant: its holder's second acquire does not \
                succeed (False at once without blocking, False after a timeout). It has \
                no owner: another process may release it. One held by a process that \
                died stays held until someone releases it; a process terminated while \
                it waits leaves the lock working for the others. Releasing a free Lock \
                fails with ValueError('semaphore or lock released too many times').",
    notes: "Modules/_multiprocessing/semaphore.c: SEMAPHORE kind with maxvalue 1 has \
            no owner check in release, and `if (self->maxvalue == 1)` a release of an \
            unlocked lock raises ValueError 'semaphore or lock released too many \
            times'. A SemLock held by a process killed without releasing stays held \
            (the POSIX semaphore keeps its count; measured on 2.7, 3.6-3.13 and PyPy \
            3.9: acquire(timeout=0.1) gives False). The seed's `acquire(timeout=...)` \
            fails by returning False, not by raising. Same from 2.7 to 3.14; 3.14 \
            adds Lock.locked() (gh-115942), which the clause does not use.",
    needs: &[],
    methods: Methods::Each,
    body: l03,
};

const TOO_MANY: &str = "semaphore or lock released too many times";

fn l03(s: &mut Session) -> Result<(), Stop> {
    let lock = new_lock(s, LockKind::Lock)?;
    let first = acquire(s, "acquire()", lock, None, None)?;
    expect("the first acquire() of a free Lock", first, "True", first)?;
    let again = acquire(s, "acquire(False)", lock, Some(false), None)?;
    expect("the holder's acquire(False)", !again, "False", again)?;
    let timed = acquire(s, "acquire(timeout=0.05)", lock, None, Some(0.05))?;
    expect("the holder's acquire(timeout=0.05)", !timed, "False", timed)?;
    let by_other = probe_child(
        s,
        vec![sync_step("release", SyncOp::Release { lock })],
        &["release"],
    )?;
    expect_eq(
        "a child's release() of the Lock its parent holds",
        &Value::None,
        &by_other[0],
    )?;
    let freed = acquire(
        s,
        "acquire(False) after the child's release",
        lock,
        Some(false),
        None,
    )?;
    expect(
        "the parent's acquire(False) once a child released the Lock",
        freed,
        "True",
        freed,
    )?;
    sync(s, "release()", SyncOp::Release { lock })?;
    s.raises_exactly(
        "release() of a free Lock",
        Call::Sync(SyncOp::Release { lock }),
        ErrorKind::ValueError,
        TOO_MANY,
    )?;

    // A holder that dies. Its exit code is not this clause's business (a
    // forkserver of 3.6 reports 255 for an os._exit(0)).
    let holder = s.new_process(ProcessSpec::target(Program::new(
        vec![sync_step(
            "held",
            SyncOp::Acquire {
                lock,
                block: None,
                timeout: None,
            },
        )],
        Ending::OsExit(0),
    )))?;
    s.start(holder)?;
    let held = s.report("held")?;
    s.join(holder)?;
    expect_eq("the doomed child's acquire()", &Value::Bool(true), &held)?;
    let orphaned = acquire(
        s,
        "acquire(False) after the holder died",
        lock,
        Some(false),
        None,
    )?;
    expect(
        "acquire(False) of a Lock whose holder died holding it",
        !orphaned,
        "False",
        orphaned,
    )?;

    // A waiter that is killed.
    let (waiter, pid) = start_child(
        s,
        vec![
            report("waiting", Probe::Text("waiting".into())),
            sync_step(
                "acquired",
                SyncOp::Acquire {
                    lock,
                    block: None,
                    timeout: None,
                },
            ),
        ],
    )?;
    s.report("waiting")?;
    s.until_blocked(pid, "a child waiting on the held Lock", "acquired")?;
    s.ok("terminate()", Call::ProcessTerminate { process: waiter })?;
    s.join(waiter)?;
    sync(
        s,
        "release() of the dead holder's Lock",
        SyncOp::Release { lock },
    )?;
    let after = acquire(
        s,
        "acquire(False) after the waiter was killed",
        lock,
        Some(false),
        None,
    )?;
    expect(
        "acquire(False) once the dead holder's Lock is released and its waiter killed",
        after,
        "True",
        after,
    )?;
    sync(s, "release()", SyncOp::Release { lock }).map(drop)
}

static L04: Clause = Clause {
    id: "L04-event-wakes-every-waiter",
    behaviours: &["L04"],
    seeds: &[SEED_002],
    statement: "An Event starts clear: is_set() is False and wait(timeout) returns \
                False once the time is up. Children that wait on it stay blocked until \
                it is set, and set() wakes every one of them, each wait returning True. \
                clear() makes it clear again; a wait after set() returns True at once.",
    notes: "Lib/multiprocessing/synchronize.py Event: a Condition over a Lock and a \
            Semaphore(0) as the flag; set() releases the flag and calls \
            self._cond.notify_all(); wait returns the flag (`return False` after a \
            timed-out wait since 3.1; 2.7 measured the same). The waiters are seen \
            asleep in the futex call through /proc before set(). Same from 2.7 to \
            3.14; 3.11 adds a repr ('<Event at 0x... unset>').",
    needs: &[],
    methods: Methods::Each,
    body: l04,
};

/// How many children wait on L04's event.
const WAITERS: usize = 3;

fn l04(s: &mut Session) -> Result<(), Stop> {
    let event = sync_handle(s, "Event()", SyncOp::EventNew)?;
    let set = sync(s, "is_set()", SyncOp::EventIsSet { event })?;
    expect_eq("is_set() of a new Event", &Value::Bool(false), &set)?;
    times_out(s, event, "wait(0.05) on a clear Event")?;
    let mut waiters = Vec::new();
    for i in 0..WAITERS {
        let (child, pid) = start_child(
            s,
            vec![
                report(&format!("waiting-{i}"), Probe::Text("waiting".into())),
                sync_step(
                    &format!("woke-{i}"),
                    SyncOp::EventWait {
                        event,
                        timeout: None,
                    },
                ),
            ],
        )?;
        waiters.push((child, pid));
    }
    for (i, (_, pid)) in waiters.iter().enumerate() {
        s.report(&format!("waiting-{i}"))?;
        s.until_blocked(
            *pid,
            &format!("waiter {i} on the clear Event"),
            &format!("woke-{i}"),
        )?;
    }
    sync(s, "set()", SyncOp::EventSet { event })?;
    for (i, (child, _)) in waiters.iter().enumerate() {
        let woke = s.report(&format!("woke-{i}"))?;
        expect_eq(
            &format!("waiter {i}'s wait() after set()"),
            &Value::Bool(true),
            &woke,
        )?;
        s.join(*child)?;
    }
    let set = sync(s, "is_set()", SyncOp::EventIsSet { event })?;
    expect_eq("is_set() after set()", &Value::Bool(true), &set)?;
    let late = probe_child(
        s,
        vec![sync_step(
            "late",
            SyncOp::EventWait {
                event,
                timeout: None,
            },
        )],
        &["late"],
    )?;
    expect_eq("a wait() begun after set()", &Value::Bool(true), &late[0])?;
    sync(s, "clear()", SyncOp::EventClear { event })?;
    let set = sync(s, "is_set()", SyncOp::EventIsSet { event })?;
    expect_eq("is_set() after clear()", &Value::Bool(false), &set)?;
    times_out(s, event, "wait(0.05) after clear()")
}

/// `wait(0.05)` on a clear event returns False once the time is up.
fn times_out(s: &mut Session, event: Handle, check: &str) -> Result<(), Stop> {
    let timed = sync(
        s,
        "wait(0.05)",
        SyncOp::EventWait {
            event,
            timeout: Some(0.05),
        },
    )?;
    expect_eq(check, &Value::Bool(false), &timed)
}

static L05: Clause = Clause {
    id: "L05-value-array-shared-globals-not",
    behaviours: &["L05"],
    seeds: &[SEED_002],
    statement: "A Value and an Array are shared memory: what a child writes into them \
                the parent reads after it, and so does a later child. An ordinary \
                global of the main module is not shared: a child's assignment changes \
                its own copy only, and a later child sees the parent's value (fork) or \
                none at all (spawn and forkserver, NameError).",
    notes: "Lib/multiprocessing/sharedctypes.py: Value and Array are ctypes objects \
            in a heap.BufferWrapper arena (an mmap of a file in the temp dir, or \
            anonymous under fork), handed to spawn children by pickling the arena's \
            descriptor (reduction.DupFd). A main-module global is copied by fork and \
            not sent at all by spawn (spawn.py prepare runs the main module as \
            __mp_main__). Same from 2.7 to 3.14; 2.7 has fork only.",
    needs: &[],
    methods: Methods::Each,
    body: l05,
};

const COUNTER: &str = "mpconform_counter";

fn l05(s: &mut Session) -> Result<(), Stop> {
    let value = sync_handle(
        s,
        "Value('i', 1)",
        SyncOp::ValueNew {
            typecode: "i".into(),
            init: 1,
        },
    )?;
    let array = sync_handle(
        s,
        "Array('i', [0, 0, 0])",
        SyncOp::ArrayNew {
            typecode: "i".into(),
            init: vec![0, 0, 0],
        },
    )?;
    s.ok(
        "bind a global in the main module",
        Call::SetMainGlobal {
            name: COUNTER.into(),
            value: Value::Int(1),
        },
    )?;
    let writer = s.new_process(ProcessSpec::target(Program::steps(vec![
        quiet(SyncOp::ValueSet { value, to: 7 }),
        quiet(SyncOp::ArraySet {
            array,
            index: 1,
            to: 5,
        }),
        Step::SetMainGlobal {
            name: COUNTER.into(),
            value: Value::Int(2),
        },
        report("own-global", Probe::MainGlobal(COUNTER.into())),
    ])))?;
    s.start(writer)?;
    let own = s.report("own-global")?;
    s.join(writer)?;
    expect_eq("the writer's exit code", &Some(0), &s.exitcode(writer)?)?;
    expect_eq(
        "the writer's own global after its assignment",
        &Value::Int(2),
        &own,
    )?;
    let v = sync(s, "v.value", SyncOp::ValueGet { value })?;
    expect_eq(
        "the parent's v.value after a child set 7",
        &Value::Int(7),
        &v,
    )?;
    let a = sync(s, "a[:]", SyncOp::ArrayGet { array })?;
    expect_eq(
        "the parent's a[:] after a child set a[1] = 5",
        &Value::List(vec![Value::Int(0), Value::Int(5), Value::Int(0)]),
        &a,
    )?;
    let later = probe_child(
        s,
        vec![
            sync_step("value", SyncOp::ValueGet { value }),
            sync_step("array", SyncOp::ArrayGet { array }),
            report("global", Probe::MainGlobal(COUNTER.into())),
        ],
        &["value", "array", "global"],
    )?;
    expect_eq("a later child's v.value", &Value::Int(7), &later[0])?;
    expect_eq("a later child's a[:]", &a, &later[1])?;
    if s.method == "fork" {
        expect_eq(
            "a later fork child's global: the parent's, not the writer's",
            &Value::Int(1),
            &later[2],
        )
    } else {
        expect_reported_error(
            &format!("a later {} child's global", s.method),
            &later[2],
            ErrorKind::Other("NameError".into()),
            &format!("name '{COUNTER}' is not defined"),
        )
    }
}

fn new_lock(s: &mut Session, kind: LockKind) -> Result<Handle, Stop> {
    let what = match kind {
        LockKind::Lock => "Lock()",
        LockKind::RLock => "RLock()",
    };
    sync_handle(s, what, SyncOp::LockNew { kind })
}

fn acquire(
    s: &mut Session,
    check: &str,
    lock: Handle,
    block: Option<bool>,
    timeout: Option<f64>,
) -> Result<bool, Stop> {
    let v = sync(
        s,
        check,
        SyncOp::Acquire {
            lock,
            block,
            timeout,
        },
    )?;
    boolean(check, &v)
}
