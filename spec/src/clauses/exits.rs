//! How a child ends and the exit code the parent sees: P12–P14.

use super::*;
use crate::call::Call;
use crate::clause::Methods;
use crate::program::{Ending, ExitArg, ProcessSpec, Program};
use crate::session::{expect, expect_eq, string};
use crate::value::{ErrorKind, PyError};
use crate::Capability;

pub(super) const CLAUSES: &[&Clause] = &[
    &P12_TERMINATE,
    &P12_KILL,
    &P12_SIGNAL_ENDED,
    &P13_RETURN,
    &P13_SYSEXIT_NONE,
    &P13_SYSEXIT_INT,
    &P13_SYSEXIT_OTHER,
    &P13_UNCAUGHT,
    &P14,
];

/// Starts a child that waits at a gate nobody opens.
fn held_child(s: &mut Session) -> Result<(Handle, i64), Stop> {
    let gate = s.gate()?;
    let p = s.new_process(ProcessSpec::target(Program::steps(vec![wait_gate(gate)])))?;
    s.start(p)?;
    let pid = s.started_pid(p)?;
    Ok((p, pid))
}

fn repr(s: &mut Session, p: Handle) -> Result<String, Stop> {
    let v = s.ok("repr()", Call::ProcessRepr { process: p })?;
    string("repr()", &v)
}

static P12_TERMINATE: Clause = Clause {
    id: "P12-terminate-sigterm",
    behaviours: &["P12"],
    seeds: &[SEED_002, SEED_001],
    statement: "Terminating a running child ends it with SIGTERM: exit code -15, shown \
                as 'exitcode=-SIGTERM' in its repr; terminating it again is harmless.",
    notes: "Lib/multiprocessing/popen_fork.py Popen._send_signal (os.kill, \
            ProcessLookupError ignored, nothing sent once returncode is set); \
            process.py BaseProcess.__repr__ with _exitcode_to_name. The repr is \
            `<Process name='Process-1' pid=P parent=Q stopped exitcode=-SIGTERM>` from 3.8; \
            2.7, 3.6 and 3.7 print `<Process(Process-1, stopped[SIGTERM])>`.",
    needs: &[],
    methods: Methods::Each,
    body: p12_terminate,
};

fn p12_terminate(s: &mut Session) -> Result<(), Stop> {
    let me = s.getpid()?;
    let (p, pid) = held_child(s)?;
    s.ok("terminate()", Call::ProcessTerminate { process: p })?;
    s.join(p)?;
    expect_eq("exitcode after terminate()", &Some(-15), &s.exitcode(p)?)?;
    let expected =
        format!("<Process name='Process-1' pid={pid} parent={me} stopped exitcode=-SIGTERM>");
    expect_eq("repr() after terminate()", &expected, &repr(s, p)?)?;
    s.ok(
        "terminate() of an ended child",
        Call::ProcessTerminate { process: p },
    )?;
    expect_eq(
        "exitcode after a second terminate()",
        &Some(-15),
        &s.exitcode(p)?,
    )
}

static P12_KILL: Clause = Clause {
    id: "P12-kill-sigkill",
    behaviours: &["P12"],
    seeds: &[SEED_002, SEED_001],
    statement: "Killing a running child ends it with SIGKILL: exit code -9, shown as \
                'exitcode=-SIGKILL' in its repr.",
    notes: "Lib/multiprocessing/process.py BaseProcess.kill (3.7+) -> popen_fork.Popen.kill. \
            2.7 and 3.6 have no kill() (AttributeError). Repr as for terminate.",
    needs: &[Capability::ProcessKill],
    methods: Methods::Each,
    body: p12_kill,
};

fn p12_kill(s: &mut Session) -> Result<(), Stop> {
    let me = s.getpid()?;
    let (p, pid) = held_child(s)?;
    s.ok("kill()", Call::ProcessKill { process: p })?;
    s.join(p)?;
    expect_eq("exitcode after kill()", &Some(-9), &s.exitcode(p)?)?;
    let expected =
        format!("<Process name='Process-1' pid={pid} parent={me} stopped exitcode=-SIGKILL>");
    expect_eq("repr() after kill()", &expected, &repr(s, p)?)
}

static P12_SIGNAL_ENDED: Clause = Clause {
    id: "P12-signal-ended-child-harmless",
    behaviours: &["P12"],
    seeds: &[SEED_002],
    statement: "Terminating or killing a child that has already ended (reaped or not) \
                does not fail and does not change its exit code.",
    notes: "Lib/multiprocessing/popen_fork.py Popen._send_signal: os.kill on an unreaped \
            child succeeds without effect; ProcessLookupError is swallowed; once \
            returncode is known nothing is sent. The same in every version.",
    needs: &[Capability::ProcessKill],
    methods: Methods::Each,
    body: p12_signal_ended,
};

fn p12_signal_ended(s: &mut Session) -> Result<(), Stop> {
    let p = s.new_process(ProcessSpec::default())?;
    s.start(p)?;
    let pid = s.started_pid(p)?;
    await_zombie(s, pid, "the child ends")?;
    s.ok(
        "terminate() of an ended, unreaped child",
        Call::ProcessTerminate { process: p },
    )?;
    s.ok(
        "kill() of an ended, unreaped child",
        Call::ProcessKill { process: p },
    )?;
    s.join(p)?;
    expect_eq("exitcode", &Some(0), &s.exitcode(p)?)?;
    s.ok(
        "terminate() of a reaped child",
        Call::ProcessTerminate { process: p },
    )?;
    s.ok("kill() of a reaped child", Call::ProcessKill { process: p })?;
    expect_eq("exitcode after signalling it", &Some(0), &s.exitcode(p)?)
}

/// Runs a child that ends with `end`; checks its exit code and its stderr.
fn check_ending(
    s: &mut Session,
    end: Ending,
    code: i64,
    stderr: impl Fn(&str, &str) -> bool,
    stderr_expected: &str,
) -> Result<(), Stop> {
    let what = format!("{end:?}");
    let p = s.new_process(ProcessSpec {
        capture_stderr: true,
        ..ProcessSpec::target(Program::ending(end))
    })?;
    s.start(p)?;
    s.join(p)?;
    // The exit code first: a port without process names still has one.
    expect_eq(
        &format!("exitcode after {what}"),
        &Some(code),
        &s.exitcode(p)?,
    )?;
    let name = string("name", &s.ok("name", Call::ProcessName { process: p })?)?;
    let out = s.ok("captured stderr", Call::ProcessStderr { process: p })?;
    let text = match out {
        crate::Value::Bytes(b) => String::from_utf8_lossy(&b).into_owned(),
        other => {
            return Err(Stop::violation(
                "captured stderr",
                "bytes",
                format!("{other}"),
            ))
        }
    };
    expect(
        &format!("stderr after {what}"),
        stderr(&text, &name),
        stderr_expected,
        text,
    )
}

static P13_RETURN: Clause = Clause {
    id: "P13-return-exits-zero",
    behaviours: &["P13"],
    seeds: &[SEED_000],
    statement: "A child whose target returns ends with exit code 0 and writes nothing \
                to stderr.",
    notes: "Lib/multiprocessing/process.py BaseProcess._bootstrap: exitcode = 0 after run() \
            returns; the same in every version.",
    needs: &[],
    methods: Methods::Each,
    body: |s| check_ending(s, Ending::Return, 0, |t, _| t.is_empty(), "nothing"),
};

static P13_SYSEXIT_NONE: Clause = Clause {
    id: "P13-sysexit-none-exits-zero",
    behaviours: &["P13"],
    seeds: &[SEED_000],
    statement: "A child that raises SystemExit with no argument or with None ends with \
                exit code 0 and writes nothing to stderr.",
    notes: "Lib/multiprocessing/process.py BaseProcess._bootstrap reads e.code from 3.9 \
            (bpo-35727). 2.7 and 3.6-3.8 read e.args: SystemExit() gives 1, and \
            SystemExit(None) gives 1 and writes 'None\\n' to stderr. Seed 000 describes \
            the 3.9+ mapping.",
    needs: &[],
    methods: Methods::Each,
    body: |s| {
        check_ending(
            s,
            Ending::SysExit(ExitArg::Missing),
            0,
            |t, _| t.is_empty(),
            "nothing",
        )?;
        check_ending(
            s,
            Ending::SysExit(ExitArg::None),
            0,
            |t, _| t.is_empty(),
            "nothing",
        )
    },
};

static P13_SYSEXIT_INT: Clause = Clause {
    id: "P13-sysexit-int-modulo-256",
    behaviours: &["P13"],
    seeds: &[SEED_000],
    statement: "A child that raises SystemExit(n) with an int n ends with exit code n \
                modulo 256 (3 -> 3, 259 -> 3, -1 -> 255), writing nothing to stderr.",
    notes: "Lib/multiprocessing/process.py BaseProcess._bootstrap returns n; \
            popen_fork.Popen._launch passes it to os._exit, and the kernel keeps the \
            low 8 bits. The same in every version. An n beyond a C int (2**40) makes \
            os._exit raise OverflowError in the child, which then escapes start() and \
            runs the parent's code: not specified here.",
    needs: &[],
    methods: Methods::Each,
    body: |s| {
        for (n, code) in [(3, 3), (259, 3), (-1, 255)] {
            check_ending(
                s,
                Ending::SysExit(ExitArg::Int(n)),
                code,
                |t, _| t.is_empty(),
                "nothing",
            )?;
        }
        Ok(())
    },
};

static P13_SYSEXIT_OTHER: Clause = Clause {
    id: "P13-sysexit-other-exits-one",
    behaviours: &["P13"],
    seeds: &[SEED_000],
    statement: "A child that raises SystemExit with a value that is not an int or None \
                ends with exit code 1 after writing str(value) and a newline to stderr.",
    notes: "Lib/multiprocessing/process.py BaseProcess._bootstrap: \
            `sys.stderr.write(str(e.code) + '\\n')`; the same text in every version \
            (2.7-3.8 take e.args[0]).",
    needs: &[],
    methods: Methods::Each,
    body: |s| {
        check_ending(
            s,
            Ending::SysExit(ExitArg::Str("bye".into())),
            1,
            |t, _| t == "bye\n",
            "exactly \"bye\\n\"",
        )
    },
};

static P13_UNCAUGHT: Clause = Clause {
    id: "P13-uncaught-error-exits-one",
    behaviours: &["P13"],
    seeds: &[SEED_000],
    statement: "A child whose target raises an uncaught error ends with exit code 1 after \
                writing 'Process NAME:' and a traceback ending in the error to stderr.",
    notes: "Lib/multiprocessing/process.py BaseProcess._bootstrap: \
            `sys.stderr.write('Process %s:\\n' % self.name)` then traceback.print_exc(). \
            The frames differ by version (line numbers; 3.13 adds ~~~^^^ markers), so \
            only the first two lines and the last are specified.",
    needs: &[],
    methods: Methods::Each,
    body: |s| {
        check_ending(
            s,
            Ending::Raise(PyError::new(ErrorKind::ValueError, "boom")),
            1,
            |t, name| {
                t.starts_with(&format!(
                    "Process {name}:\nTraceback (most recent call last):\n"
                )) && t.ends_with("\nValueError: boom\n")
            },
            "'Process NAME:', 'Traceback (most recent call last):', ..., 'ValueError: boom'",
        )
    },
};

static P14: Clause = Clause {
    id: "P14-os-exit-code",
    behaviours: &["P14"],
    seeds: &[SEED_002],
    statement: "A child that calls os._exit(n) ends at once with exit code n: no exit \
                handler runs and nothing is written to stderr.",
    notes: "os._exit skips finally blocks and atexit handlers in every version. From \
            3.13 handlers a fork child registers do run when its target returns \
            (popen_fork.Popen._launch, gh-83856), so only os._exit skips them there.",
    needs: &[],
    methods: Methods::Each,
    body: p14,
};

fn p14(s: &mut Session) -> Result<(), Stop> {
    let p = s.new_process(ProcessSpec {
        capture_stderr: true,
        ..ProcessSpec::target(Program::new(
            vec![Step::AtexitReport {
                label: "atexit-ran".into(),
            }],
            Ending::OsExit(7),
        ))
    })?;
    s.start(p)?;
    s.join(p)?;
    expect_eq("exitcode after os._exit(7)", &Some(7), &s.exitcode(p)?)?;
    let reports = s.reports_so_far()?;
    expect_eq("exit handlers that ran", &Vec::<String>::new(), &reports)?;
    let out = s.ok("captured stderr", Call::ProcessStderr { process: p })?;
    expect_eq("stderr", &crate::Value::Bytes(vec![]), &out)
}
