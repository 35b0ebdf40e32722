//! `multiprocessing.Pool`: its workers seen as processes, results matched to
//! their submissions, apply, close and join, the initializer,
//! maxtasksperchild and the workers' names: W01–W07. Tasks are programs of
//! steps; a task held at a gate keeps its worker busy, so holding n tasks
//! shows n workers at once.

use super::*;
use crate::clause::Methods;
use crate::pool::{PoolOp, Task, TaskReturn};
use crate::session::{expect, expect_eq, expect_error, int, string};
use crate::value::{ErrorKind, Value};
use std::collections::BTreeSet;

pub(super) const CLAUSES: &[&Clause] = &[&W01, &W02, &W03, &W04, &W05, &W06, &W07];

fn pool(s: &mut Session, check: &str, op: PoolOp) -> Result<Value, Stop> {
    s.ok(check, crate::call::Call::Pool(op))
}

fn new_pool(
    s: &mut Session,
    processes: u32,
    initializer: Option<Vec<Step>>,
    maxtasksperchild: Option<u32>,
) -> Result<Handle, Stop> {
    let check = format!("Pool({processes})");
    let v = pool(
        s,
        &check,
        PoolOp::PoolNew {
            processes: Some(processes),
            initializer,
            maxtasksperchild,
        },
    )?;
    crate::session::handle(&check, &v)
}

fn apply_async(s: &mut Session, pool_h: Handle, task: Task) -> Result<Handle, Stop> {
    let v = pool(
        s,
        "apply_async()",
        PoolOp::ApplyAsync { pool: pool_h, task },
    )?;
    crate::session::handle("apply_async()", &v)
}

/// `result.get(timeout)` with the hang limit as the timeout: a result that
/// never comes is a violation, not a hung clause.
fn get(s: &mut Session, what: &str, result: Handle) -> Result<Value, Stop> {
    let timeout = Some(s.hang_secs());
    pool(s, what, PoolOp::ResultGet { result, timeout })
}

fn ready(s: &mut Session, what: &str, result: Handle) -> Result<bool, Stop> {
    let v = pool(s, what, PoolOp::ResultReady { result })?;
    crate::session::boolean(what, &v)
}

/// A task that reports `probe` under `label`, waits at `gate`, and returns
/// its worker's pid.
fn held(label: &str, probe: Probe, gate: Handle) -> Task {
    Task {
        steps: vec![report(label, probe), wait_gate(gate)],
        returns: TaskReturn::Probe(Probe::Pid),
    }
}

fn returning_pid() -> Task {
    Task {
        steps: Vec::new(),
        returns: TaskReturn::Probe(Probe::Pid),
    }
}

/// Holds `n` tasks at `gate`, one per worker, and answers the pids they
/// report (all different, or a violation) and their results' handles.
fn hold_every_worker(
    s: &mut Session,
    pool_h: Handle,
    n: u32,
    gate: Handle,
) -> Result<(Vec<i64>, Vec<Handle>), Stop> {
    let mut results = Vec::new();
    for _ in 0..n {
        results.push(apply_async(s, pool_h, held("running", Probe::Pid, gate))?);
    }
    let mut pids = Vec::new();
    for i in 0..n {
        let v = s.report("running")?;
        pids.push(int(&format!("held task {i}'s worker pid"), &v)?);
    }
    let distinct: BTreeSet<i64> = pids.iter().copied().collect();
    expect(
        &format!("{n} tasks held at a gate at once, in Pool({n})"),
        distinct.len() == n as usize,
        &format!("{n} different worker pids"),
        &pids,
    )?;
    Ok((pids, results))
}

fn close(s: &mut Session, pool_h: Handle) -> Result<(), Stop> {
    pool(s, "pool.close()", PoolOp::Close { pool: pool_h }).map(drop)
}

fn join(s: &mut Session, pool_h: Handle) -> Result<(), Stop> {
    pool(s, "pool.join()", PoolOp::Join { pool: pool_h }).map(drop)
}

/// Once join() has returned, no worker may be left: not running, not a
/// zombie (joined means reaped).
fn workers_gone(s: &mut Session, pids: &[i64]) -> Result<(), Stop> {
    for pid in pids {
        let state = proc_state(s, *pid);
        expect(
            &format!("worker pid {pid} once close() and join() have returned"),
            state.is_none(),
            "no such process (ended and reaped)",
            match state {
                Some('Z') => "a zombie: ended, never reaped".to_string(),
                Some(c) => format!("still there, state {c}"),
                None => String::new(),
            },
        )?;
    }
    Ok(())
}

/// The pool's worker name, as `Pool._repopulate_pool_static` makes it: the
/// context's Process class name with Process replaced, and the counter's
/// number. For a start method other than the three CPython has, the class
/// name is the target's own: `observed`'s part before the number is taken
/// if it ends in PoolWorker.
fn worker_name(method: &str, observed: &str, n: u32) -> String {
    let class = match method {
        "fork" | "spawn" | "forkserver" => {
            crate::program::context_class_name(method).replace("Process", "PoolWorker")
        }
        _ => match observed.rsplit_once('-') {
            Some((class, _)) if class.ends_with("PoolWorker") => class.to_string(),
            _ => format!("{method}PoolWorker"),
        },
    };
    format!("{class}-{n}")
}

static W01: Clause = Clause {
    id: "W01-pool-runs-n-workers",
    behaviours: &["W01"],
    seeds: &[SEED_001, SEED_003],
    statement: "Pool(processes=3) runs its tasks on 3 worker processes: three tasks held at \
                a gate at once run in three different processes, each a live process of \
                the clause's process group other than the caller (under fork and spawn a \
                child of the caller); every later task runs on one of those three; after \
                close() and join() none of them is left, running or unreaped.",
    notes: "Lib/multiprocessing/pool.py Pool.__init__ calls _repopulate_pool, which \
            starts `processes` workers (ctx.Process(target=worker), daemonic) at once; \
            worker() loops on the shared inqueue, so a task held in one worker leaves \
            the others free. Workers are daemonic everywhere. Under fork and spawn \
            they are the caller's children; under forkserver the fork server's, so \
            the clause checks the process group there, not the parent. The workers \
            are found through what tasks report and /proc, never through the pool's \
            private _pool list. Measured the same on 2.7, 3.6-3.8, 3.12, 3.13, \
            RustPython (3.14's pool.py), PyPy 3.9, billiard and multiprocess. The \
            default `processes` (not used here) is os.cpu_count() up to 3.12 and \
            os.process_cpu_count() from 3.13; Pool(0) raises ValueError('Number of \
            processes must be at least 1') everywhere but billiard, which accepts it.",
    needs: &[],
    methods: Methods::Each,
    body: w01,
};

fn w01(s: &mut Session) -> Result<(), Stop> {
    const N: u32 = 3;
    let main = s.getpid()?;
    let main_group = crate::observe::stat(main).map(|st| st.pgrp);
    let pool_h = new_pool(s, N, None, None)?;
    let gate = s.gate()?;
    let (pids, results) = hold_every_worker(s, pool_h, N, gate)?;
    for pid in &pids {
        let st = crate::observe::stat(*pid);
        s.observe(format!("/proc/{pid}/stat"), st);
        let check = format!("worker pid {pid} in /proc");
        let Some(st) = st else {
            return Err(Stop::violation(check, "a live process", "no such process"));
        };
        expect(&check, st.state != 'Z', "alive", st.state)?;
        expect(&check, *pid != main, "a process other than the caller", pid)?;
        expect(
            &check,
            Some(st.pgrp) == main_group,
            "in the caller's process group",
            st.pgrp,
        )?;
        if s.method != "forkserver" {
            expect(
                &check,
                i64::from(st.ppid) == main,
                "a child of the caller",
                st.ppid,
            )?;
        }
    }
    s.open(gate)?;
    let workers: BTreeSet<i64> = pids.iter().copied().collect();
    for (i, r) in results.iter().enumerate() {
        let v = get(s, &format!("held task {i}'s result"), *r)?;
        let pid = int("a held task's result", &v)?;
        expect(
            &format!("held task {i}'s result"),
            workers.contains(&pid),
            "the pid of one of the three workers",
            pid,
        )?;
    }
    let later: Vec<Handle> = (0..2 * N)
        .map(|_| apply_async(s, pool_h, returning_pid()))
        .collect::<Result<_, _>>()?;
    for (i, r) in later.iter().enumerate() {
        let v = get(s, &format!("later task {i}'s result"), *r)?;
        let pid = int("a later task's result", &v)?;
        expect(
            &format!("later task {i}'s worker"),
            workers.contains(&pid),
            "one of the three workers",
            pid,
        )?;
    }
    close(s, pool_h)?;
    join(s, pool_h)?;
    workers_gone(s, &pids)
}

static W02: Clause = Clause {
    id: "W02-results-match-submissions",
    behaviours: &["W02"],
    seeds: &[SEED_001],
    statement: "Each apply_async result handle gives its own task's return value: with one \
                task held at a gate, ten later tasks, each returning its index, give their \
                own indices when their results are got in reverse order; the held one is \
                not ready until its gate opens, then gives its own value. map() gives \
                each item's result in the item's place.",
    notes: "Lib/multiprocessing/pool.py: apply_async makes an ApplyResult registered in \
            the pool's cache under a job number, the task carries (job, i, func, args); \
            the result handler thread sets cache[job] from each (job, i, (ok, value)) \
            the workers send, in whatever order they finish. map() is _map_async(...).get(): \
            MapResult puts each chunk's list at its index. Same from 2.7 to 3.14.",
    needs: &[],
    methods: Methods::Each,
    body: w02,
};

fn w02(s: &mut Session) -> Result<(), Stop> {
    let pool_h = new_pool(s, 2, None, None)?;
    let gate = s.gate()?;
    let slow = apply_async(
        s,
        pool_h,
        Task {
            steps: vec![report("held", Probe::Text("held".into())), wait_gate(gate)],
            returns: TaskReturn::Value(Value::Str("held".into())),
        },
    )?;
    s.report("held")?;
    let quick: Vec<Handle> = (0..10)
        .map(|i| apply_async(s, pool_h, Task::returning(Value::Int(i))))
        .collect::<Result<_, _>>()?;
    for (i, r) in quick.iter().enumerate().rev() {
        let v = get(s, &format!("result {i}.get()"), *r)?;
        expect_eq(
            &format!("result {i}.get(), of the task returning {i}"),
            &Value::Int(i as i64),
            &v,
        )?;
    }
    let early = ready(
        s,
        "the held task's ready() while it waits at its gate",
        slow,
    )?;
    expect(
        "the held task's ready() while it waits at its gate",
        !early,
        "False",
        early,
    )?;
    s.open(gate)?;
    let v = get(s, "the held task's get()", slow)?;
    expect_eq("the held task's get()", &Value::Str("held".into()), &v)?;
    let done = ready(s, "the held task's ready() after get()", slow)?;
    expect("the held task's ready() after get()", done, "True", done)?;
    let items: Vec<Value> = (0..20).map(Value::Int).collect();
    let mapped = pool(
        s,
        "pool.map(identity, range(20), chunksize=3)",
        PoolOp::Map {
            pool: pool_h,
            task: Task {
                steps: Vec::new(),
                returns: TaskReturn::Item,
            },
            items: items.clone(),
            chunksize: Some(3),
        },
    )?;
    expect_eq(
        "pool.map(identity, range(20), chunksize=3)",
        &Value::List(items),
        &mapped,
    )?;
    close(s, pool_h)?;
    join(s, pool_h)
}

static W03: Clause = Clause {
    id: "W03-apply-blocks-for-result",
    behaviours: &["W03"],
    seeds: &[SEED_001],
    statement: "apply() returns its task's return value itself, not a handle, and only once \
                the task has run to its end in a worker: everything the task reported \
                before returning is there when apply() returns, and the worker is not the \
                caller.",
    notes: "Lib/multiprocessing/pool.py Pool.apply: `return self.apply_async(func, args, \
            kwds).get()`; get() waits on the ApplyResult's threading.Event until the \
            result handler sets it. On a pool that is not running, apply raises \
            AssertionError('') on 2.7 and 3.6 (`assert self._state == RUN`) and \
            ValueError('Pool not running') from 3.7 (_check_running from 3.8); \
            billiard's returns None. The caller's sleep itself is not \
            observed: the session makes one call at a time, so while apply() runs the \
            clause cannot open a gate to release the task; a task that finishes on its \
            own and leaves reports before its return value shows the order instead.",
    needs: &[],
    methods: Methods::Each,
    body: w03,
};

fn w03(s: &mut Session) -> Result<(), Stop> {
    let main = s.getpid()?;
    let pool_h = new_pool(s, 1, None, None)?;
    let task = Task {
        steps: vec![
            report("task-began", Probe::Pid),
            report("task-ending", Probe::Text("ending".into())),
        ],
        returns: TaskReturn::Value(Value::Str("done".into())),
    };
    let v = pool(s, "pool.apply(task)", PoolOp::Apply { pool: pool_h, task })?;
    expect_eq("pool.apply(task)'s value", &Value::Str("done".into()), &v)?;
    let seen = s.reports_so_far()?;
    for label in ["task-began", "task-ending"] {
        expect(
            &format!("the task's report {label:?} once apply() returned"),
            seen.iter().any(|l| l == label),
            "there already",
            &seen,
        )?;
    }
    let pid = int("the task's pid", &s.report("task-began")?)?;
    expect(
        "the task's pid",
        pid != main,
        "a worker, not the caller",
        pid,
    )?;
    let again = pool(
        s,
        "a second pool.apply(task returning its pid)",
        PoolOp::Apply {
            pool: pool_h,
            task: returning_pid(),
        },
    )?;
    expect_eq("the second apply()'s value", &Value::Int(pid), &again)?;
    close(s, pool_h)?;
    join(s, pool_h)
}

static W04: Clause = Clause {
    id: "W04-close-then-join",
    behaviours: &["W04"],
    seeds: &[SEED_001],
    statement: "join() on a running pool raises ValueError('Pool is still running'); after \
                close(), apply_async raises ValueError('Pool not running') while the \
                tasks already submitted still run; join() then waits for them and for the \
                workers: when it returns every task's result is ready and every worker \
                has ended and been reaped.",
    notes: "Lib/multiprocessing/pool.py (3.13) Pool.join: `if self._state == RUN: raise \
            ValueError(\"Pool is still running\")`, since 3.7; 2.7, 3.6 and billiard \
            have `assert self._state in (CLOSE, TERMINATE)`, an AssertionError with no \
            message. apply_async after close() raises ValueError('Pool not running') \
            from 3.6 (_check_running from 3.8), AssertionError('') on 2.7; billiard's \
            apply_async returns None (`if self._state != RUN: return`). close() sets \
            CLOSE and wakes the worker handler, which sends one None per worker once \
            the cache is empty; join() joins the handler threads, then each worker \
            Process. Measured on every target: after close(); join() no worker is left \
            in /proc. billiard #419 ('How to cleanly end processes in a Pool?') is \
            about what its workers skip on the way out (Worker.__call__ ends in \
            os._exit, so multiprocessing.util finalizers do not run), not about \
            workers left running; this clause does not check finalizers.",
    needs: &[],
    methods: Methods::Each,
    body: w04,
};

fn w04(s: &mut Session) -> Result<(), Stop> {
    let pool_h = new_pool(s, 2, None, None)?;
    let gate = s.gate()?;
    let mut results = Vec::new();
    for _ in 0..2 {
        results.push(apply_async(
            s,
            pool_h,
            Task {
                steps: vec![
                    report("running", Probe::Pid),
                    wait_gate(gate),
                    report("finishing", Probe::Pid),
                ],
                returns: TaskReturn::Value(Value::Int(1)),
            },
        )?);
    }
    let mut pids = Vec::new();
    for _ in 0..2 {
        pids.push(int("a held task's pid", &s.report("running")?)?);
    }
    let e = s.raises(
        "pool.join() before close()",
        crate::call::Call::Pool(PoolOp::Join { pool: pool_h }),
    )?;
    expect_error(
        "pool.join() before close()",
        &e,
        ErrorKind::ValueError,
        "Pool is still running",
    )?;
    close(s, pool_h)?;
    let e = s.raises(
        "apply_async() after close()",
        crate::call::Call::Pool(PoolOp::ApplyAsync {
            pool: pool_h,
            task: Task::returning(Value::None),
        }),
    )?;
    expect_error(
        "apply_async() after close()",
        &e,
        ErrorKind::ValueError,
        "Pool not running",
    )?;
    for pid in &pids {
        let state = proc_state(s, *pid);
        expect(
            &format!("worker {pid} after close(), its task held"),
            matches!(state, Some(c) if c != 'Z'),
            "still running",
            state,
        )?;
    }
    s.open(gate)?;
    join(s, pool_h)?;
    let seen = s.reports_so_far()?;
    let finished = seen.iter().filter(|l| *l == "finishing").count();
    expect_eq(
        "tasks that reported \"finishing\" once join() returned",
        &2,
        &finished,
    )?;
    for (i, r) in results.iter().enumerate() {
        let done = ready(s, &format!("task {i}'s ready() after join()"), *r)?;
        expect(
            &format!("task {i}'s ready() after join()"),
            done,
            "True",
            done,
        )?;
    }
    workers_gone(s, &pids)
}

static W05: Clause = Clause {
    id: "W05-initializer-once-per-worker",
    behaviours: &["W05"],
    seeds: &[SEED_003],
    statement: "The initializer runs once in each worker, in the worker, as it starts: a \
                Pool(2) whose initializer reports its pid gives exactly two reports, from \
                the two workers the tasks run on, however many tasks those workers run.",
    notes: "Lib/multiprocessing/pool.py worker(): `if initializer is not None: \
            initializer(*initargs)` once, before the task loop. The seed (003) shows \
            `Pool(processes=4, initializer=init_func, maxtasksperchild=2)`. A worker \
            that replaces one (maxtasksperchild, W06) runs it again as it starts. Same \
            from 2.7 to 3.14.",
    needs: &[],
    methods: Methods::Each,
    body: w05,
};

fn w05(s: &mut Session) -> Result<(), Stop> {
    let init = vec![report("init", Probe::Pid)];
    let pool_h = new_pool(s, 2, Some(init), None)?;
    let gate = s.gate()?;
    let (pids, results) = hold_every_worker(s, pool_h, 2, gate)?;
    let mut inits = BTreeSet::new();
    for _ in 0..2 {
        inits.insert(int("the initializer's pid", &s.report("init")?)?);
    }
    let workers: BTreeSet<i64> = pids.iter().copied().collect();
    expect_eq("the pids the initializer reported", &workers, &inits)?;
    s.open(gate)?;
    for r in results {
        get(s, "a held task's result", r)?;
    }
    for i in 0..6 {
        let v = pool(
            s,
            &format!("apply() {i}"),
            PoolOp::Apply {
                pool: pool_h,
                task: returning_pid(),
            },
        )?;
        let pid = int("a task's pid", &v)?;
        expect(
            &format!("apply() {i}'s worker"),
            workers.contains(&pid),
            "one of the two workers",
            pid,
        )?;
    }
    close(s, pool_h)?;
    join(s, pool_h)?;
    let seen = s.reports_so_far()?;
    let count = seen.iter().filter(|l| *l == "init").count();
    expect_eq(
        "initializer runs once the pool has ended (2 workers, 8 tasks)",
        &2,
        &count,
    )
}

static W06: Clause = Clause {
    id: "W06-maxtasksperchild-replaces-worker",
    behaviours: &["W06"],
    seeds: &[SEED_003],
    statement: "With maxtasksperchild=2, a worker exits after its second task and a new \
                worker, a new process, takes its place: four tasks in turn on a Pool(1) run \
                in one pid, then in another; the new worker runs the initializer as it \
                starts; after close() and join() neither is left.",
    notes: "Lib/multiprocessing/pool.py worker(): `while maxtasks is None or (maxtasks \
            and completed < maxtasks)`, then the worker returns and its process ends; \
            _maintain_pool (the worker handler thread) joins workers whose exitcode is \
            set and _repopulate_pool starts new ones. 2.7-3.7 poll every 0.1 s \
            (`_maintain_pool(); time.sleep(0.1)`); 3.8+ wait on the workers' sentinels, \
            so a worker done with its tasks is replaced at once, even with no task left \
            (its initializer then runs once more before join() ends it: the clause \
            takes the first two initializer reports only). maxtasksperchild=0 raises \
            ValueError('maxtasksperchild must be a positive int or None') from 3.12 and \
            in billiard; up to 3.8 and on PyPy it is accepted and every worker dies on \
            an assert. PyPy #3111 ('Multiprocessing occasionally hangs', with \
            maxtasksperchild=1 and imap_unordered over thousands of items under fork) \
            reproduces on PyPy 7.3.11 with 1000 items; this clause's four tasks do not \
            hit it.",
    needs: &[],
    methods: Methods::Each,
    body: w06,
};

fn w06(s: &mut Session) -> Result<(), Stop> {
    let init = vec![report("init", Probe::Pid)];
    let pool_h = new_pool(s, 1, Some(init), Some(2))?;
    let mut pids = Vec::new();
    for i in 0..4 {
        let v = pool(
            s,
            &format!("apply() {i} on Pool(1, maxtasksperchild=2)"),
            PoolOp::Apply {
                pool: pool_h,
                task: returning_pid(),
            },
        )?;
        pids.push(int("a task's pid", &v)?);
    }
    s.observe("the four tasks' pids", &pids);
    expect(
        "tasks 1 and 2 (one worker's two tasks)",
        pids[0] == pids[1],
        "the same pid",
        &pids,
    )?;
    expect(
        "task 3, after the first worker's maxtasksperchild",
        pids[2] != pids[0],
        "a new pid",
        &pids,
    )?;
    expect(
        "tasks 3 and 4 (the new worker's two tasks)",
        pids[2] == pids[3],
        "the same pid",
        &pids,
    )?;
    let first = int("the first initializer's pid", &s.report("init")?)?;
    let second = int("the second initializer's pid", &s.report("init")?)?;
    expect_eq(
        "the initializers' pids: the first worker, then its replacement",
        &(pids[0], pids[2]),
        &(first, second),
    )?;
    close(s, pool_h)?;
    join(s, pool_h)?;
    workers_gone(s, &[pids[0], pids[2]])
}

static W07: Clause = Clause {
    id: "W07-worker-names",
    behaviours: &["W07"],
    seeds: &[SEED_001],
    statement: "Each worker's current_process().name is its own, the pool context's Process \
                class name with 'Process' replaced by 'PoolWorker' and the process \
                counter's number: in a fresh main process, a Pool(2) under fork has \
                ForkPoolWorker-1 and ForkPoolWorker-2 (SpawnPoolWorker-N under spawn, \
                ForkServerPoolWorker-N under forkserver, the method's own Process \
                class's name for another); a later Pool(1, \
                maxtasksperchild=1) goes on with -3, then -4 for the worker that replaces \
                it; the caller stays MainProcess.",
    notes: "Lib/multiprocessing/pool.py _repopulate_pool_static: `w.name = \
            w.name.replace('Process', 'PoolWorker')` on a ctx.Process, whose name is \
            the class name and next(_process_counter) (process.py BaseProcess.__init__). \
            The number is the main process's counter, which every Process \
            construction takes a number from, started or not, so the clause makes no \
            process object before its pools; replacements go on counting. 2.7 has no \
            contexts: its workers are PoolWorker-N. Measured the same on 3.6-3.14, PyPy, \
            billiard and multiprocess. The seed (001) prints the names a task sees.",
    needs: &[],
    methods: Methods::Each,
    body: w07,
};

fn w07(s: &mut Session) -> Result<(), Stop> {
    let method = s.method.clone();
    let pool_h = new_pool(s, 2, None, None)?;
    let gate = s.gate()?;
    let mut results = Vec::new();
    for _ in 0..2 {
        results.push(apply_async(s, pool_h, held("named", Probe::Name, gate))?);
    }
    let mut names = BTreeSet::new();
    for _ in 0..2 {
        names.insert(string("a worker's name", &s.report("named")?)?);
    }
    let first = names.first().cloned().unwrap_or_default();
    let expected: BTreeSet<String> = [
        worker_name(&method, &first, 1),
        worker_name(&method, &first, 2),
    ]
    .into();
    expect_eq("the two workers' names", &expected, &names)?;
    s.open(gate)?;
    for r in results {
        get(s, "a held task's result", r)?;
    }
    close(s, pool_h)?;
    join(s, pool_h)?;
    let second = new_pool(s, 1, None, Some(1))?;
    let name_task = Task {
        steps: Vec::new(),
        returns: TaskReturn::Probe(Probe::Name),
    };
    for n in [3, 4] {
        let v = pool(
            s,
            &format!("apply() on Pool(1, maxtasksperchild=1), task {}", n - 2),
            PoolOp::Apply {
                pool: second,
                task: name_task.clone(),
            },
        )?;
        expect_eq(
            &format!("the name of worker {} of the second pool", n - 2),
            &Value::Str(worker_name(&method, &first, n)),
            &v,
        )?;
    }
    close(s, second)?;
    join(s, second)?;
    let main = s.ok(
        "current_process().name",
        crate::call::Call::CurrentProcessName,
    )?;
    expect_eq(
        "the caller's current_process().name",
        &Value::Str("MainProcess".into()),
        &main,
    )
}
