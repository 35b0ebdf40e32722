//! A process and its relatives: the end of a main process, names, the parent:
//! P18–P20.

use super::*;
use crate::call::Call;
use crate::clause::Methods;
use crate::observe::is_child_of_clause_process;
use crate::program::{ProcessSpec, Program};
use crate::session::{expect, expect_eq};
use crate::value::Value;
use crate::Capability;

pub(super) const CLAUSES: &[&Clause] = &[&P18, &P19, &P20];

static P18: Clause = Clause {
    id: "P18-exit-ends-daemons-awaits-others",
    behaviours: &["P18"],
    seeds: &[SEED_002, SEED_001],
    statement: "When a process's main body finishes, its daemonic children are \
                terminated and its other children are awaited (and reaped) before it \
                ends.",
    notes: "Lib/multiprocessing/util.py _exit_function: terminate each daemonic child of \
            active_children(), then join every remaining child. The main process runs \
            it through atexit; a child ran it from BaseProcess._bootstrap's finally up \
            to 3.12, and from 3.13 through atexit in popen_fork.Popen._launch \
            (gh-83856), after the 'Process NAME:' traceback. The clause uses a child as \
            the main process and holds its non-daemonic child at a gate; an orphan \
            would come to the clause's process, which is a subreaper.",
    needs: &[],
    methods: Methods::Each,
    body: p18,
};

fn p18(s: &mut Session) -> Result<(), Stop> {
    let never = s.gate()?;
    let release = s.gate()?;
    let daemon = ProcessSpec {
        daemon: Some(true),
        ..ProcessSpec::target(Program::steps(vec![wait_gate(never)]))
    };
    let other = ProcessSpec::target(Program::steps(vec![
        wait_gate(release),
        report("other-released", Probe::Text("released".into())),
    ]));
    let main = s.new_process(ProcessSpec::target(Program::steps(vec![
        Step::Start {
            label: "daemon".into(),
            spec: Box::new(daemon),
        },
        Step::Start {
            label: "other".into(),
            spec: Box::new(other),
        },
    ])))?;
    s.start(main)?;
    let daemon_pid = int("daemonic child pid", &s.report("daemon")?)?;
    let other_pid = int("other child pid", &s.report("other")?)?;
    await_exit(
        s,
        daemon_pid,
        "the daemonic child is terminated at its parent's end",
    )?;
    // The non-daemonic child waits at a closed gate, so its parent must still
    // be waiting for it.
    let alive = s.is_alive(main)?;
    s.open(release)?;
    s.join(main)?;
    let released = s.report("other-released")?;
    let other_orphaned = is_child_of_clause_process(other_pid);
    s.observe(
        format!("pid {other_pid} orphaned to the clause"),
        other_orphaned,
    );
    let daemon_orphaned = is_child_of_clause_process(daemon_pid);
    s.observe(
        format!("pid {daemon_pid} orphaned to the clause"),
        daemon_orphaned,
    );
    expect_eq(
        "parent alive while its non-daemonic child waits",
        &true,
        &alive,
    )?;
    expect_eq(
        "the non-daemonic child ran on",
        &Value::Str("released".into()),
        &released,
    )?;
    expect(
        "the non-daemonic child reaped by its parent",
        !other_orphaned,
        "reaped",
        "orphaned",
    )?;
    expect(
        "the daemonic child reaped by its parent",
        !daemon_orphaned,
        "reaped",
        "orphaned",
    )?;
    expect_eq("exitcode of the parent", &Some(0), &s.exitcode(main)?)
}

static P19: Clause = Clause {
    id: "P19-names",
    behaviours: &["P19"],
    seeds: &[SEED_002],
    statement: "The main process is named 'MainProcess'; a process object is named after \
                its class and a per-process counter from 1 shared by all classes \
                ('Process-1', 'ForkProcess-2', 'Worker-3'), an explicit name uses up a \
                number too, and a child's children add their own count ('Process-1:1').",
    notes: "Lib/multiprocessing/process.py BaseProcess.__init__: \
            `type(self).__name__ + '-' + ':'.join(map(str, self._identity))`, with \
            _process_counter reset to count(1) in each child by _bootstrap. Seed 002's \
            'Process-N' holds only for multiprocessing.Process: a context's class is \
            'ForkProcess' / 'SpawnProcess' / 'ForkServerProcess' on every 3.x; 2.7 has \
            no contexts and the same counter rule.",
    needs: &[],
    methods: Methods::Each,
    body: p19,
};

fn p19(s: &mut Session) -> Result<(), Stop> {
    let main_name = s.ok("current_process().name", Call::CurrentProcessName)?;
    expect_eq(
        "name of the main process",
        &Value::Str("MainProcess".into()),
        &main_name,
    )?;
    let first = s.new_process(ProcessSpec::target(Program::steps(vec![
        report("name", Probe::Name),
        Step::Start {
            label: "grandchild".into(),
            spec: Box::new(ProcessSpec::target(Program::steps(vec![report(
                "grandchild-name",
                Probe::Name,
            )]))),
        },
    ])))?;
    let method = s.method.clone();
    let second = s.new_process(ProcessSpec {
        context: Some(method.clone()),
        ..ProcessSpec::target(Program::steps(vec![report("context-name", Probe::Name)]))
    })?;
    let third = s.new_process(ProcessSpec {
        subclass: Some("Worker".into()),
        ..ProcessSpec::default()
    })?;
    let fourth = s.new_process(ProcessSpec {
        name: Some("explicit".into()),
        ..ProcessSpec::default()
    })?;
    let fifth = s.new_process(ProcessSpec::default())?;
    let mut names = Vec::new();
    for p in [first, second, third, fourth, fifth] {
        names.push(s.ok("name", Call::ProcessName { process: p })?);
    }
    s.start(first)?;
    s.start(second)?;
    let child_name = s.report("name")?;
    let grandchild_name = s.report("grandchild-name")?;
    let context_name = s.report("context-name")?;
    s.join(first)?;
    s.join(second)?;
    let class = crate::program::context_class_name(&method);
    let expected: Vec<Value> = [
        "Process-1".to_string(),
        format!("{class}-2"),
        "Worker-3".into(),
        "explicit".into(),
        "Process-5".into(),
    ]
    .into_iter()
    .map(Value::Str)
    .collect();
    expect_eq("names of five process objects", &expected, &names)?;
    expect_eq(
        "name inside the first child",
        &Value::Str("Process-1".into()),
        &child_name,
    )?;
    expect_eq(
        "name of its child",
        &Value::Str("Process-1:1".into()),
        &grandchild_name,
    )?;
    expect_eq(
        "name inside the context's child",
        &Value::Str(format!("{class}-2")),
        &context_name,
    )
}

static P20: Clause = Clause {
    id: "P20-parent-process",
    behaviours: &["P20"],
    seeds: &[SEED_000],
    statement: "In the main process the parent process is None; in a child it is the \
                process that started it (its pid and name).",
    notes: "Lib/multiprocessing/process.py parent_process() and _ParentProcess (3.8+), set \
            by BaseProcess._bootstrap from the parent's name and pid. 2.7, 3.6 and 3.7 \
            have no parent_process() (AttributeError).",
    needs: &[Capability::ParentProcess],
    methods: Methods::Each,
    body: p20,
};

fn p20(s: &mut Session) -> Result<(), Stop> {
    let me = s.getpid()?;
    let in_main = s.ok(
        "parent_process() in the main process",
        Call::ParentProcessPid,
    )?;
    expect_eq(
        "parent_process() in the main process",
        &Value::None,
        &in_main,
    )?;
    let p = s.new_process(ProcessSpec::target(Program::steps(vec![
        report("parent-pid", Probe::ParentProcessPid),
        report("parent-name", Probe::ParentProcessName),
    ])))?;
    s.start(p)?;
    let pid = s.report("parent-pid")?;
    let name = s.report("parent-name")?;
    s.join(p)?;
    expect_eq("parent_process().pid in the child", &Value::Int(me), &pid)?;
    expect_eq(
        "parent_process().name in the child",
        &Value::Str("MainProcess".into()),
        &name,
    )
}
