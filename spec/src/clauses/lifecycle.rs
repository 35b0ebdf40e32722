//! Starting, running and joining a process object: P01–P11.

use super::*;
use crate::call::Call;
use crate::clause::Methods;
use crate::program::{Ending, ProcessSpec, Program};
use crate::session::{boolean, expect, expect_eq, expect_reported_error};
use crate::value::{ErrorKind, Value};
use crate::Capability;

pub(super) const CLAUSES: &[&Clause] = &[
    &P01, &P02, &P03, &P04, &P05, &P06, &P07, &P08, &P09, &P10, &P11,
];

static P01: Clause = Clause {
    id: "P01-start-once",
    behaviours: &["P01"],
    seeds: &[SEED_003, SEED_000, SEED_002],
    statement: "A second start of a started process object fails with AssertionError \
                'cannot start a process twice' and starts nothing; the first child runs \
                to completion.",
    notes: "Lib/multiprocessing/process.py BaseProcess.start: `assert self._popen is None, \
            'cannot start a process twice'`, the same text in 2.7 and 3.6-3.13. It is a bare \
            assert: under `python -O` a second child really is forked and dies in run() with \
            AttributeError (deleted by the first start; the message is \
            \"'Process' object has no attribute '_target'\" from 3.11, '_target' before).",
    needs: &[],
    methods: Methods::Each,
    body: p01,
};

fn p01(s: &mut Session) -> Result<(), Stop> {
    let gate = s.gate()?;
    let p = s.new_process(ProcessSpec::target(Program::steps(vec![
        wait_gate(gate),
        report("ran", Probe::Pid),
    ])))?;
    s.start(p)?;
    let pid = s.started_pid(p)?;
    // The children the first start made: the child, and the helpers a start
    // method may launch with it (spawn's resource tracker, the forkserver).
    let owner = s.getpid()?;
    let first: Vec<i32> = crate::observe::children_of(owner)
        .iter()
        .map(|c| c.pid)
        .collect();
    s.observe(
        format!("children of pid {owner} after the first start()"),
        &first,
    );
    s.raises_exactly(
        "second start()",
        Call::ProcessStart { process: p },
        ErrorKind::AssertionError,
        "cannot start a process twice",
    )?;
    expect_eq(
        "pid after the failed second start()",
        &Some(pid),
        &s.pid(p)?,
    )?;
    s.open(gate)?;
    let ran = s.report("ran")?;
    expect_eq("the first child ran", &Value::Int(pid), &ran)?;
    s.join(p)?;
    // Whatever a second start() forked would still be a child (running, or a
    // zombie nobody reaped) of the implementation's process, and a new one.
    let others: Vec<i32> = crate::observe::children_of(owner)
        .iter()
        .map(|c| c.pid)
        .filter(|c| !first.contains(c))
        .collect();
    s.observe(format!("children of pid {owner} after join()"), &others);
    expect_eq("exitcode of the first child", &Some(0), &s.exitcode(p)?)?;
    expect_eq(
        "other children of the implementation",
        &Vec::<i32>::new(),
        &others,
    )
}

static P02: Clause = Clause {
    id: "P02-start-closed",
    behaviours: &["P02"],
    seeds: &[SEED_000, SEED_002],
    statement: "Starting a process object that was closed fails with ValueError \
                'process object is closed' and starts nothing.",
    notes: "Lib/multiprocessing/process.py BaseProcess.start calls _check_closed first. \
            close() exists from 3.7; 2.7 and 3.6 have no close() (AttributeError).",
    needs: &[Capability::ProcessClose],
    methods: Methods::Each,
    body: p02,
};

fn p02(s: &mut Session) -> Result<(), Stop> {
    let p = s.new_process(ProcessSpec::target(Program::steps(vec![report(
        "ran",
        Probe::Pid,
    )])))?;
    s.ok(
        "close() of a never-started process",
        Call::ProcessClose { process: p },
    )?;
    s.raises_exactly(
        "start() after close()",
        Call::ProcessStart { process: p },
        ErrorKind::ValueError,
        "process object is closed",
    )?;
    match s.children_set()? {
        Some(set) => expect_eq("children set", &vec![], &set),
        None => Ok(()),
    }
}

static P03: Clause = Clause {
    id: "P03-start-by-creator-only",
    behaviours: &["P03"],
    seeds: &[SEED_000, SEED_002],
    statement: "A process object can be started only by the process that created it; \
                elsewhere start fails with AssertionError 'can only start a process object \
                created by current process'.",
    notes: "Lib/multiprocessing/process.py BaseProcess.start: `assert self._parent_pid == \
            os.getpid()`, the same text in 2.7 and 3.6-3.13; gone under `python -O`. \
            join() and is_alive() have like asserts ('can only join a child process', \
            'can only test a child process'); terminate() has none.",
    needs: &[],
    methods: Methods::Each,
    body: p03,
};

fn p03(s: &mut Session) -> Result<(), Stop> {
    let orphan = s.new_process(ProcessSpec::target(Program::steps(vec![report(
        "orphan-ran",
        Probe::Pid,
    )])))?;
    let child = s.new_process(ProcessSpec::target(Program::steps(vec![
        Step::StartInherited {
            label: "start".into(),
            process: orphan,
        },
    ])))?;
    s.start(child)?;
    let outcome = s.report("start")?;
    s.join(child)?;
    expect_reported_error(
        "start() in a process that did not create the object",
        &outcome,
        ErrorKind::AssertionError,
        "can only start a process object created by current process",
    )
}

static P04: Clause = Clause {
    id: "P04-daemon-no-children",
    behaviours: &["P04"],
    seeds: &[SEED_000, SEED_002],
    statement: "A daemonic process may not start children: start fails inside it with \
                AssertionError 'daemonic processes are not allowed to have children'.",
    notes: "Lib/multiprocessing/process.py BaseProcess.start checks \
            _current_process._config.get('daemon') (2.7: _current_process._daemonic); \
            same text in every version; gone under `python -O`.",
    needs: &[],
    methods: Methods::Each,
    body: p04,
};

fn p04(s: &mut Session) -> Result<(), Stop> {
    let daemon = s.new_process(ProcessSpec {
        daemon: Some(true),
        ..ProcessSpec::target(Program::steps(vec![Step::Start {
            label: "start".into(),
            spec: Box::new(ProcessSpec::default()),
        }]))
    })?;
    s.start(daemon)?;
    let outcome = s.report("start")?;
    s.join(daemon)?;
    expect_reported_error(
        "start() inside a daemonic process",
        &outcome,
        ErrorKind::AssertionError,
        "daemonic processes are not allowed to have children",
    )
}

static P05: Clause = Clause {
    id: "P05-start-reaps-finished",
    behaviours: &["P05"],
    seeds: &[SEED_000, SEED_001],
    statement: "Starting a process first reaps every child that has already ended: it \
                leaves the children set and no zombie of it remains.",
    notes: "Lib/multiprocessing/process.py BaseProcess.start calls _cleanup(), which \
            polls each child (popen_fork.Popen.poll: waitpid WNOHANG) and discards those \
            with an exit code; the same in 2.7 and 3.6-3.13 (3.11+ skip a child without \
            a _popen). \
             Under forkserver this is not deterministic in CPython: the forkserver, not the parent, reaps the child and writes its status to the sentinel pipe some time after the child ends (Lib/multiprocessing/forkserver.py main's SIGCHLD loop, popen_forkserver.py poll), so the clause runs under fork and spawn only.",
    needs: &[],
    methods: Methods::Only(&["fork", "spawn"]),
    body: p05,
};

fn p05(s: &mut Session) -> Result<(), Stop> {
    let finished = s.new_process(ProcessSpec::default())?;
    s.start(finished)?;
    let pid = s.started_pid(finished)?;
    let state = await_zombie(s, pid, "the first child ends")?;
    expect_eq(
        "the ended child before anything reaps it",
        &Some('Z'),
        &state,
    )?;
    if let Some(set) = s.children_set()? {
        expect(
            "children set before the next start()",
            set.contains(&finished),
            "the ended child still listed",
            &set,
        )?;
    }
    let gate = s.gate()?;
    let next = s.new_process(ProcessSpec::target(Program::steps(vec![wait_gate(gate)])))?;
    s.start(next)?;
    let set = s.children_set()?;
    let state = proc_state(s, pid);
    s.open(gate)?;
    s.join(next)?;
    if let Some(set) = set {
        expect(
            "children set after the next start()",
            !set.contains(&finished),
            "the ended child gone",
            &set,
        )?;
    }
    expect_eq("the ended child after the next start()", &None, &state)?;
    expect_eq("its exitcode", &Some(0), &s.exitcode(finished)?)
}

static P06: Clause = Clause {
    id: "P06-start-drops-target",
    behaviours: &["P06"],
    seeds: &[SEED_000, SEED_002],
    statement: "After start, the process object no longer holds its target and arguments.",
    notes: "Lib/multiprocessing/process.py BaseProcess.start: `del self._target, \
            self._args, self._kwargs` (bpo-30775); present in every installed version \
            (2.7.18 and 3.6.15 included, as backports). Afterwards run() in the parent \
            raises AttributeError \"'Process' object has no attribute '_target'\" (3.11+; \
            '_target' before).",
    needs: &[],
    methods: Methods::Each,
    body: p06,
};

fn p06(s: &mut Session) -> Result<(), Stop> {
    let p = s.new_process(ProcessSpec::default())?;
    let before = s.ok("holds target", Call::ProcessHoldsTarget { process: p })?;
    expect_eq(
        "target held before start()",
        &true,
        &boolean("holds", &before)?,
    )?;
    s.start(p)?;
    let after = s.ok("holds target", Call::ProcessHoldsTarget { process: p })?;
    s.join(p)?;
    expect_eq(
        "target held after start()",
        &false,
        &boolean("holds", &after)?,
    )
}

static P07: Clause = Clause {
    id: "P07-active-children-reaps",
    behaviours: &["P07"],
    seeds: &[SEED_000, SEED_002],
    statement: "A started child stays in the children set until it is reaped; listing \
                the active children reaps the ended ones first, so it never lists one.",
    notes: "Lib/multiprocessing/process.py active_children() calls _cleanup() and then \
            lists _children; the same in 2.7 and 3.6-3.13. \
             Under forkserver this is not deterministic in CPython: the forkserver, not the parent, reaps the child and writes its status to the sentinel pipe some time after the child ends (Lib/multiprocessing/forkserver.py main's SIGCHLD loop, popen_forkserver.py poll), so the clause runs under fork and spawn only.",
    needs: &[],
    methods: Methods::Only(&["fork", "spawn"]),
    body: p07,
};

fn p07(s: &mut Session) -> Result<(), Stop> {
    let gate = s.gate()?;
    let p = s.new_process(ProcessSpec::target(Program::steps(vec![wait_gate(gate)])))?;
    s.start(p)?;
    let pid = s.started_pid(p)?;
    expect_eq(
        "active_children() while it runs",
        &vec![p],
        &s.active_children()?,
    )?;
    s.open(gate)?;
    await_zombie(s, pid, "the child ends")?;
    if let Some(set) = s.children_set()? {
        expect_eq("children set once it ended", &vec![p], &set)?;
    }
    let active = s.active_children()?;
    let state = proc_state(s, pid);
    expect_eq("active_children() once it ended", &vec![], &active)?;
    expect_eq("the child after active_children()", &None, &state)?;
    expect_eq("its exitcode", &Some(0), &s.exitcode(p)?)
}

static P08: Clause = Clause {
    id: "P08-run-in-caller",
    behaviours: &["P08"],
    seeds: &[SEED_003, SEED_000],
    statement: "Calling run directly executes the target in the calling process, \
                synchronously, once per call, and starts no process.",
    notes: "Lib/multiprocessing/process.py BaseProcess.run: `if self._target: \
            self._target(*self._args, **self._kwargs)`; the same in every version.",
    needs: &[],
    methods: Methods::Each,
    body: p08,
};

fn p08(s: &mut Session) -> Result<(), Stop> {
    let me = s.getpid()?;
    let p = s.new_process(ProcessSpec::target(Program::steps(vec![report(
        "run",
        Probe::Pid,
    )])))?;
    for _ in 0..2 {
        let v = s.ok("run()", Call::ProcessRun { process: p })?;
        expect_eq("run() returns", &Value::None, &v)?;
    }
    let reports = s.reports_so_far()?;
    expect_eq(
        "reports once the run() calls returned",
        &vec!["run".to_string(), "run".to_string()],
        &reports,
    )?;
    for _ in 0..2 {
        expect_eq("pid the target saw", &Value::Int(me), &s.report("run")?)?;
    }
    expect_eq("pid after run()", &None, &s.pid(p)?)?;
    expect_eq("is_alive() after run()", &false, &s.is_alive(p)?)?;
    expect_eq("active_children()", &vec![], &s.active_children()?)
}

static P09: Clause = Clause {
    id: "P09-run-override",
    behaviours: &["P09"],
    seeds: &[SEED_001],
    statement: "A process class whose run is overridden executes the override in the \
                child, not the target.",
    notes: "Lib/multiprocessing/process.py BaseProcess._bootstrap calls self.run(); the \
            same in every version. The child is named after the subclass ('Worker-1').",
    needs: &[],
    methods: Methods::Each,
    body: p09,
};

fn p09(s: &mut Session) -> Result<(), Stop> {
    let me = s.getpid()?;
    let p = s.new_process(ProcessSpec {
        subclass: Some("Worker".into()),
        run_override: Some(Program::steps(vec![
            report("ran", Probe::Text("override".into())),
            report("pid", Probe::Pid),
        ])),
        ..ProcessSpec::target(Program::steps(vec![report(
            "ran",
            Probe::Text("target".into()),
        )]))
    })?;
    s.start(p)?;
    let pid = s.started_pid(p)?;
    let ran = s.report("ran")?;
    let where_ = s.report("pid")?;
    s.join(p)?;
    expect_eq(
        "what ran in the child",
        &Value::Str("override".into()),
        &ran,
    )?;
    expect_eq("where it ran", &Value::Int(pid), &where_)?;
    expect(
        "where it ran",
        pid != me,
        "a process other than the caller",
        pid,
    )
}

static P10: Clause = Clause {
    id: "P10-pid-and-alive",
    behaviours: &["P10"],
    seeds: &[SEED_001],
    statement: "Before start the pid is None and the process is not alive; once started \
                it has a pid and is alive; after join it is not alive.",
    notes: "Lib/multiprocessing/process.py BaseProcess.ident (`self._popen and \
            self._popen.pid`) and is_alive (poll via waitpid WNOHANG); the same in every \
            version. exitcode is None before start.",
    needs: &[],
    methods: Methods::Each,
    body: p10,
};

fn p10(s: &mut Session) -> Result<(), Stop> {
    let gate = s.gate()?;
    let p = s.new_process(ProcessSpec::target(Program::steps(vec![wait_gate(gate)])))?;
    expect_eq("pid before start()", &None, &s.pid(p)?)?;
    expect_eq("is_alive() before start()", &false, &s.is_alive(p)?)?;
    expect_eq("exitcode before start()", &None, &s.exitcode(p)?)?;
    s.start(p)?;
    let pid = s.started_pid(p)?;
    let state = proc_state(s, pid);
    let alive = s.is_alive(p)?;
    s.open(gate)?;
    s.join(p)?;
    expect(
        "the pid names a live process",
        matches!(state, Some(c) if c != 'Z'),
        "a live process",
        state,
    )?;
    expect_eq("is_alive() while it waits", &true, &alive)?;
    expect_eq("is_alive() after join()", &false, &s.is_alive(p)?)
}

static P11: Clause = Clause {
    id: "P11-join-reaps",
    behaviours: &["P11"],
    seeds: &[SEED_001],
    statement: "Joining waits for the child to end and reaps it: no zombie remains and \
                the exit code is known.",
    notes: "Lib/multiprocessing/popen_fork.py Popen.wait -> poll(0): a blocking waitpid; \
            BaseProcess.join then discards the child from _children. The same in every \
            version.",
    needs: &[],
    methods: Methods::Each,
    body: p11,
};

fn p11(s: &mut Session) -> Result<(), Stop> {
    let p = s.new_process(ProcessSpec::target(Program::ending(Ending::Return)))?;
    s.start(p)?;
    let pid = s.started_pid(p)?;
    s.join(p)?;
    let state = proc_state(s, pid);
    expect_eq("the child after join()", &None, &state)?;
    if let Some(set) = s.children_set()? {
        expect_eq("children set after join()", &vec![], &set)?;
    }
    expect_eq("exitcode after join()", &Some(0), &s.exitcode(p)?)
}
