//! What a child brings with it from its parent, by start method: module
//! state, the spawn hand-over, exit handlers, buffered output: P21–P24.

use super::*;
use crate::call::Call;
use crate::clause::Methods;
use crate::observe::{command_line, stat};
use crate::program::{ProcessSpec, Program};
use crate::session::{expect, expect_eq, expect_reported_error};
use crate::value::{ErrorKind, Value};

pub(super) const CLAUSES: &[&Clause] = &[&P21, &P22, &P23, &P24];

const STATE: &str = "mpconform_main_state";
const STATE_VALUE: &str = "bound under __main__";

static P21: Clause = Clause {
    id: "P21-module-state-by-method",
    behaviours: &["P21"],
    seeds: &[SEED_000],
    statement: "What the parent's main module binds at run time (under `if __name__ == \
                '__main__':`) is seen by a fork child, which is a copy of the parent, \
                and not by a spawn or forkserver child, which is a fresh program image \
                that runs the main module again as `__mp_main__`: there the name is \
                unbound (NameError).",
    notes: "Lib/multiprocessing/spawn.py prepare / _fixup_main_from_path: the child \
            imports the parent's main script under the name __mp_main__, so the \
            `if __name__ == '__main__'` block does not run. forkserver.py main imports \
            it in the server the same way (preload of '__main__'), and its children \
            are forked from the server, not from the parent. Same from 3.4 to 3.14. \
            2.7 has fork only, where the child inherits it.",
    needs: &[],
    methods: Methods::Each,
    body: p21,
};

fn p21(s: &mut Session) -> Result<(), Stop> {
    s.ok(
        "bind a name in the main module",
        Call::SetMainGlobal {
            name: STATE.into(),
            value: Value::Str(STATE_VALUE.into()),
        },
    )?;
    let child = s.new_process(ProcessSpec::target(Program::steps(vec![report(
        "state",
        Probe::MainGlobal(STATE.into()),
    )])))?;
    s.start(child)?;
    let seen = s.report("state")?;
    s.join(child)?;
    if s.method == "fork" {
        expect_eq(
            "the main module's name in a fork child",
            &Value::Str(STATE_VALUE.into()),
            &seen,
        )
    } else {
        expect_reported_error(
            &format!("the main module's name in a {} child", s.method),
            &seen,
            ErrorKind::Other("NameError".into()),
            &format!("name '{STATE}' is not defined"),
        )
    }
}

const HANDED_NAME: &str = "handed-over-by-name";

static P22: Clause = Clause {
    id: "P22-spawn-hand-over",
    behaviours: &["P22"],
    seeds: &[SEED_000],
    statement: "A spawn child is a fresh program image started by its parent: its \
                command line is not the parent's, it carries the marker \
                `--multiprocessing-fork` and names the hand-over pipe \
                (`pipe_handle=N`), and what the program could not know by itself (its \
                process object's name, its parent, its target) reaches it over that \
                channel.",
    notes: "Lib/multiprocessing/popen_spawn_posix.py Popen._launch: \
            spawn.get_command_line(tracker_fd=..., pipe_handle=child_r) gives \
            [python, -c, 'from multiprocessing.spawn import spawn_main; \
            spawn_main(tracker_fd=N, pipe_handle=N)', --multiprocessing-fork] (a frozen \
            executable: [exe, --multiprocessing-fork, tracker_fd=N, pipe_handle=N]); \
            the parent writes the preparation data and the pickled process object to \
            the pipe's other end. spawn.is_forking() and freeze_support() recognise \
            the marker. Seed 000 shows a parent_pid argument too: that is Windows \
            only. The clause does not require tracker_fd, the resource tracker's \
            descriptor, which a port without one cannot give. Same from 3.4 to 3.14; \
            2.7 has no spawn.",
    needs: &[],
    methods: Methods::Only(&["spawn"]),
    body: p22,
};

fn p22(s: &mut Session) -> Result<(), Stop> {
    let me = s.getpid()?;
    let gate = s.gate()?;
    let child = s.new_process(ProcessSpec {
        name: Some(HANDED_NAME.into()),
        ..ProcessSpec::target(Program::steps(vec![
            report("pid", Probe::Pid),
            report("name", Probe::Name),
            report("ppid", Probe::ParentPid),
            wait_gate(gate),
        ]))
    })?;
    s.start(child)?;
    let pid = int("the child's pid", &s.report("pid")?)?;
    let mine = command_line(me);
    let theirs = command_line(pid);
    s.observe(format!("/proc/{me}/cmdline"), &mine);
    s.observe(format!("/proc/{pid}/cmdline"), &theirs);
    let ppid = stat(pid).map(|st| st.ppid as i64);
    s.observe(format!("/proc/{pid}/stat ppid"), ppid);
    let args = theirs.clone().unwrap_or_default();
    expect(
        "the spawn child's command line",
        theirs != mine,
        "a fresh program image's, not the parent's",
        &theirs,
    )?;
    expect(
        "the spawn child's command line",
        args.iter().any(|a| a == "--multiprocessing-fork"),
        "the marker --multiprocessing-fork",
        &args,
    )?;
    expect(
        "the spawn child's command line",
        args.iter().any(|a| names_pipe_handle(a)),
        "the hand-over pipe named as pipe_handle=N",
        &args,
    )?;
    expect_eq("the spawn child's parent", &Some(me), &ppid)?;
    let name = s.report("name")?;
    expect_eq(
        "the name given to the process object, in the child",
        &Value::Str(HANDED_NAME.into()),
        &name,
    )?;
    let reported_ppid = s.report("ppid")?;
    expect_eq("os.getppid() in the child", &Value::Int(me), &reported_ppid)?;
    s.open(gate)?;
    s.join(child)?;
    let code = s.exitcode(child)?;
    expect_eq("the spawn child's exit code", &Some(0), &code)
}

/// Whether an argument names the hand-over pipe: `pipe_handle=N` on its own
/// or inside the `-c` program.
fn names_pipe_handle(arg: &str) -> bool {
    arg.match_indices("pipe_handle=").any(|(at, key)| {
        arg[at + key.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit())
    })
}

static P23: Clause = Clause {
    id: "P23-atexit-by-method",
    behaviours: &["P23"],
    seeds: &[SEED_002],
    statement: "An exit handler a child registers runs when the child ends normally, \
                under every start method; one the parent registered never runs in the \
                child, even a forked one.",
    notes: "CPython 3.13, Lib/multiprocessing/popen_fork.py Popen._launch l.63-77: \
            the fork child calls atexit._clear(), registers util._exit_function, runs \
            _bootstrap, then atexit._run_exitfuncs() before os._exit (gh-83856); \
            forkserver.py main does the same in each child it forks (l.275-285). Up to \
            3.12 both end the child in os._exit straight after _bootstrap (3.12 \
            popen_fork.py l.62-73, forkserver.py l.281), so the child's own handlers do \
            not run under fork or forkserver (expected failures there); the parent's \
            never ran in a fork child either. Under spawn the child is a fresh \
            interpreter that leaves through sys.exit (spawn.py spawn_main l.123), so its \
            handlers run and the parent's were never registered in it. 2.7 \
            (forking.py l.121-129, os._exit) is as 3.12 under fork. The 3.14 line is as \
            3.13.",
    needs: &[],
    methods: Methods::Each,
    body: p23,
};

fn p23(s: &mut Session) -> Result<(), Stop> {
    s.ok(
        "register an exit handler in the parent",
        Call::AtexitRegister {
            label: "parent-exit-handler".into(),
        },
    )?;
    let child = s.new_process(ProcessSpec::target(Program::steps(vec![
        Step::AtexitReport {
            label: "child-exit-handler".into(),
        },
        report("ran", Probe::Text("ran".into())),
    ])))?;
    s.start(child)?;
    s.report("ran")?;
    s.join(child)?;
    let code = s.exitcode(child)?;
    expect_eq("the child's exit code", &Some(0), &code)?;
    let labels = s.reports_so_far()?;
    expect(
        "the parent's exit handler in the child",
        !labels.iter().any(|l| l == "parent-exit-handler"),
        "not run",
        &labels,
    )?;
    expect(
        "the child's own exit handler",
        labels.iter().any(|l| l == "child-exit-handler"),
        "run at the child's end",
        &labels,
    )
}

const PRINTED: &str = "printed once, before the fork";

static P24: Clause = Clause {
    id: "P24-flush-before-fork",
    behaviours: &["P24"],
    seeds: &[SEED_000, SEED_003],
    statement: "Starting a fork child flushes the parent's standard output first, so \
                text the parent wrote but had not flushed is printed once, not once \
                more by the child that inherited the buffer.",
    notes: "Lib/multiprocessing/popen_fork.py Popen.__init__ calls \
            util._flush_std_streams() before _launch forks; the child's _bootstrap \
            flushes again in its finally, which is where a copied buffer would be \
            printed a second time (3.13 popen_fork.py l.17, util.py l.425, process.py \
            l.331; 2.7 forking.py l.117-118). os.fork() itself flushes nothing (seed \
            003): a bare fork child that exits normally prints the text again. The \
            clause's parent is a child of the clause with its standard output \
            captured, and the harness runs every target with buffered streams \
            (PYTHONUNBUFFERED cleared), without which the check could not fail. Same \
            from 2.7 to 3.14. Only fork: spawn and forkserver children are fresh \
            images with buffers of their own.",
    needs: &[],
    methods: Methods::Only(&["fork"]),
    body: p24,
};

fn p24(s: &mut Session) -> Result<(), Stop> {
    let parent = s.new_process(ProcessSpec {
        capture_stdout: true,
        ..ProcessSpec::target(Program::steps(vec![
            Step::Print {
                text: PRINTED.into(),
            },
            Step::Start {
                label: "grandchild".into(),
                spec: Box::new(ProcessSpec::target(Program::default())),
            },
        ]))
    })?;
    s.start(parent)?;
    let started = s.report("grandchild")?;
    let grandchild = int("the grandchild's pid", &started)?;
    s.join(parent)?;
    await_exit(s, grandchild, "the grandchild ends")?;
    let code = s.exitcode(parent)?;
    expect_eq("the printing child's exit code", &Some(0), &code)?;
    let out = s.ok(
        "the captured standard output",
        Call::ProcessStdout { process: parent },
    )?;
    let text = match &out {
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        Value::Str(t) => t.clone(),
        other => format!("{other}"),
    };
    expect_eq(
        "what the parent and its fork child printed",
        &PRINTED.to_string(),
        &text,
    )
}
