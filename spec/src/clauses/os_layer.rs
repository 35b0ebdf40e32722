//! The operating-system calls under multiprocessing: fork, wait, waitpid,
//! pipes, _exit: O01–O10.

use super::*;
use crate::call::Call;
use crate::clause::Methods;
use crate::program::{Ending, ExitArg, Program};
use crate::session::{expect, expect_eq, expect_error, handle, int, int_pair};
use crate::value::{ErrorKind, PyError, Value};
use crate::Capability;

pub(super) const CLAUSES: &[&Clause] =
    &[&O01, &O02, &O03, &O04, &O05, &O06, &O07, &O08, &O09, &O10];

const FORK: &[Capability] = &[Capability::OsFork];

fn fork(s: &mut Session, child: Program) -> Result<i64, Stop> {
    let v = s.ok("os.fork()", Call::OsFork { child })?;
    int("os.fork() in the parent", &v)
}

fn waitpid(s: &mut Session, pid: i64, nohang: bool) -> Result<Result<(i64, i64), PyError>, Stop> {
    match s.call(Call::OsWaitpid { pid, nohang })? {
        Ok(v) => Ok(Ok(int_pair("os.waitpid()", &v)?)),
        Err(e) => Ok(Err(e)),
    }
}

fn reap(s: &mut Session, pid: i64) -> Result<(i64, i64), Stop> {
    waitpid(s, pid, false)?
        .map_err(|e| Stop::violation("os.waitpid(pid, 0)", "(pid, status)", format!("{e}")))
}

fn pipe(s: &mut Session) -> Result<(Handle, Handle), Stop> {
    match s.ok("os.pipe()", Call::OsPipe)? {
        Value::List(ends) if ends.len() == 2 => Ok((
            handle("read end", &ends[0])?,
            handle("write end", &ends[1])?,
        )),
        other => Err(Stop::Broken(format!(
            "os.pipe(): expected two handles, got {other}"
        ))),
    }
}

static O01: Clause = Clause {
    id: "O01-fork-returns-twice",
    behaviours: &["O01"],
    seeds: &[SEED_001],
    statement: "fork returns the child's pid in the parent and 0 in the child, and the \
                code after it runs in both.",
    notes: "os.fork (Modules/posixmodule.c os_fork_impl); the same in every version. \
            From 3.12 it warns (DeprecationWarning) in a multi-threaded parent.",
    needs: FORK,
    methods: Methods::Any,
    body: o01,
};

fn o01(s: &mut Session) -> Result<(), Stop> {
    let me = s.getpid()?;
    let pid = fork(
        s,
        Program::steps(vec![
            report("fork-returned", Probe::ForkReturn),
            report("pid", Probe::Pid),
            report("ppid", Probe::ParentPid),
        ]),
    )?;
    let returned = s.report("fork-returned")?;
    let child_pid = s.report("pid")?;
    let child_ppid = s.report("ppid")?;
    reap(s, pid)?;
    expect("os.fork() in the parent", pid > 0, "a positive pid", pid)?;
    expect_eq("os.fork() in the child", &Value::Int(0), &returned)?;
    expect_eq("the child's own pid", &Value::Int(pid), &child_pid)?;
    expect_eq("the child's parent pid", &Value::Int(me), &child_ppid)
}

static O02: Clause = Clause {
    id: "O02-wait-returns-ended-child",
    behaviours: &["O02"],
    seeds: &[SEED_001],
    statement: "wait returns (pid, status) of a child that has ended, even while an \
                older child still runs; status is the raw wait status (exit n -> n << 8).",
    notes: "os.wait (Modules/posixmodule.c os_wait_impl, wait(2)); the same in every \
            version: _exit(3) gives status 768.",
    needs: FORK,
    methods: Methods::Any,
    body: o02,
};

fn o02(s: &mut Session) -> Result<(), Stop> {
    let gate = s.gate()?;
    let older = fork(s, Program::new(vec![wait_gate(gate)], Ending::OsExit(0)))?;
    let younger = fork(s, Program::ending(Ending::OsExit(5)))?;
    let first = s.ok("os.wait()", Call::OsWait)?;
    s.open(gate)?;
    let second = s.ok("os.wait()", Call::OsWait)?;
    expect_eq(
        "os.wait() while the older child runs",
        &Value::List(vec![Value::Int(younger), Value::Int(5 << 8)]),
        &first,
    )?;
    expect_eq(
        "os.wait() once the older child ended",
        &Value::List(vec![Value::Int(older), Value::Int(0)]),
        &second,
    )
}

static O03: Clause = Clause {
    id: "O03-zombie-until-reaped",
    behaviours: &["O03"],
    seeds: &[SEED_001],
    statement: "A child that ended stays a zombie until its parent waits for it; then \
                it is gone.",
    notes: "Kernel behaviour (wait(2)), unless SIGCHLD is ignored, when children are \
            reaped at once and waitpid fails with ECHILD.",
    needs: FORK,
    methods: Methods::Any,
    body: o03,
};

fn o03(s: &mut Session) -> Result<(), Stop> {
    let pid = fork(s, Program::ending(Ending::OsExit(0)))?;
    let before = await_zombie(s, pid, "the child ends")?;
    let reaped = waitpid(s, pid, false)?;
    let after = proc_state(s, pid);
    expect_eq("the ended child before waitpid", &Some('Z'), &before)?;
    expect_eq("waitpid(pid, 0)", &Ok((pid, 0)), &reaped)?;
    expect_eq("the child after waitpid", &None, &after)
}

static O04: Clause = Clause {
    id: "O04-wnohang-none-ended",
    behaviours: &["O04"],
    seeds: &[SEED_002],
    statement: "waitpid(-1, WNOHANG) returns (0, 0) while children exist and none has \
                ended.",
    notes: "os.waitpid (Modules/posixmodule.c); the same in every version.",
    needs: FORK,
    methods: Methods::Any,
    body: o04,
};

fn o04(s: &mut Session) -> Result<(), Stop> {
    let gate = s.gate()?;
    let pid = fork(s, Program::new(vec![wait_gate(gate)], Ending::OsExit(0)))?;
    let polled = s.ok(
        "os.waitpid(-1, WNOHANG)",
        Call::OsWaitpid {
            pid: -1,
            nohang: true,
        },
    )?;
    s.open(gate)?;
    reap(s, pid)?;
    expect_eq(
        "os.waitpid(-1, WNOHANG) with a running child",
        &Value::List(vec![Value::Int(0), Value::Int(0)]),
        &polled,
    )
}

static O05: Clause = Clause {
    id: "O05-wnohang-each-once",
    behaviours: &["O05"],
    seeds: &[SEED_002],
    statement: "waitpid(-1, WNOHANG) returns (pid, status) once for each ended child; \
                when none is left it fails with ECHILD.",
    notes: "os.waitpid; a reaped pid is not reported again. The same in every version.",
    needs: FORK,
    methods: Methods::Any,
    body: o05,
};

fn o05(s: &mut Session) -> Result<(), Stop> {
    let a = fork(s, Program::ending(Ending::OsExit(1)))?;
    let b = fork(s, Program::ending(Ending::OsExit(2)))?;
    await_exit(s, a, "the first child ends")?;
    await_exit(s, b, "the second child ends")?;
    let mut seen = Vec::new();
    let mut last = None;
    for _ in 0..4 {
        match waitpid(s, -1, true)? {
            Ok(pair) => seen.push(pair),
            Err(e) => {
                last = Some(e);
                break;
            }
        }
    }
    seen.sort();
    let mut expected = vec![(a, 1 << 8), (b, 2 << 8)];
    expected.sort();
    expect_eq(
        "what os.waitpid(-1, WNOHANG) returned, in pid order",
        &expected,
        &seen,
    )?;
    match last {
        Some(e) => expect_error(
            "os.waitpid(-1, WNOHANG) with no child left",
            &e,
            ErrorKind::ChildProcessError,
            "[Errno 10] No child processes",
        ),
        None => Err(Stop::violation(
            "os.waitpid(-1, WNOHANG) with no child left",
            "ChildProcessError",
            "no error",
        )),
    }
}

static O06: Clause = Clause {
    id: "O06-echild",
    behaviours: &["O06"],
    seeds: &[SEED_002],
    statement: "wait and waitpid with no child fail with ECHILD: ChildProcessError \
                '[Errno 10] No child processes', with or without WNOHANG.",
    notes: "Objects/exceptions.c maps ECHILD to ChildProcessError (PEP 3151, 3.3+); 2.7 \
            raises OSError with the same text. With WNOHANG it still fails, never (0, 0).",
    needs: FORK,
    methods: Methods::Any,
    body: o06,
};

fn o06(s: &mut Session) -> Result<(), Stop> {
    let calls = [
        ("os.wait()", Call::OsWait),
        (
            "os.waitpid(-1, 0)",
            Call::OsWaitpid {
                pid: -1,
                nohang: false,
            },
        ),
        (
            "os.waitpid(-1, WNOHANG)",
            Call::OsWaitpid {
                pid: -1,
                nohang: true,
            },
        ),
    ];
    for (what, call) in calls {
        let e = s.raises(&format!("{what} with no child"), call)?;
        expect_error(
            &format!("{what} with no child"),
            &e,
            ErrorKind::ChildProcessError,
            "[Errno 10] No child processes",
        )?;
        expect_eq(&format!("errno of {what}"), &Some(10), &e.errno)?;
    }
    Ok(())
}

static O07: Clause = Clause {
    id: "O07-status-to-exitcode",
    behaviours: &["O07"],
    seeds: &[SEED_002],
    statement: "A wait status converts to an exit code: exit(n) gives n, death by \
                signal s gives -s.",
    notes: "os.waitstatus_to_exitcode (3.9+; before it, popen_fork used os.WIFSIGNALED / \
            WTERMSIG / WEXITSTATUS to the same effect). Invalid statuses raise \
            ValueError 'invalid wait status: N'.",
    needs: &[Capability::OsFork, Capability::WaitstatusToExitcode],
    methods: Methods::Any,
    body: o07,
};

fn o07(s: &mut Session) -> Result<(), Stop> {
    let exited = fork(s, Program::ending(Ending::OsExit(3)))?;
    let (_, exit_status) = reap(s, exited)?;
    let gate = s.gate()?;
    let killed = fork(s, Program::new(vec![wait_gate(gate)], Ending::OsExit(0)))?;
    s.ok(
        "os.kill(pid, SIGKILL)",
        Call::OsKill {
            pid: killed,
            signal: 9,
        },
    )?;
    let (_, kill_status) = reap(s, killed)?;
    expect_eq("status of a child that exited 3", &(3 << 8), &exit_status)?;
    expect_eq("status of a child killed by SIGKILL", &9, &kill_status)?;
    for (status, code) in [(exit_status, 3), (kill_status, -9)] {
        let v = s.ok(
            "os.waitstatus_to_exitcode()",
            Call::OsWaitstatusToExitcode { status },
        )?;
        expect_eq(
            &format!("os.waitstatus_to_exitcode({status})"),
            &Value::Int(code),
            &v,
        )?;
    }
    Ok(())
}

static O08: Clause = Clause {
    id: "O08-fork-shares-pipe",
    behaviours: &["O08"],
    seeds: &[SEED_002],
    statement: "A forked child shares its parent's pipe: what it writes the parent reads, \
                and closing its copies of the ends leaves the parent's open.",
    notes: "fork(2) duplicates the descriptor table; os.pipe descriptors are \
            non-inheritable (O_CLOEXEC) from 3.4, which matters to exec, not fork.",
    needs: FORK,
    methods: Methods::Any,
    body: o08,
};

fn o08(s: &mut Session) -> Result<(), Stop> {
    let (r, w) = pipe(s)?;
    let child = fork(
        s,
        Program::new(
            vec![
                Step::CloseFd { fd: r },
                Step::WriteFd {
                    fd: w,
                    data: b"from child;".to_vec(),
                },
                Step::CloseFd { fd: w },
            ],
            Ending::OsExit(0),
        ),
    )?;
    let status = reap(s, child)?.1;
    s.ok(
        "os.write() in the parent after the child closed its copy",
        Call::OsWrite {
            fd: w,
            data: b"from parent".to_vec(),
        },
    )?;
    let hang = s.hang_secs();
    let got = s.ok(
        "os.read()",
        Call::OsRead {
            fd: r,
            max: 4096,
            timeout: hang,
        },
    )?;
    s.ok("close the read end", Call::OsClose { fd: r })?;
    s.ok("close the write end", Call::OsClose { fd: w })?;
    expect_eq("the child's status", &0, &status)?;
    expect_eq(
        "bytes in the pipe",
        &Value::Bytes(b"from child;from parent".to_vec()),
        &got,
    )
}

static O09: Clause = Clause {
    id: "O09-eof-needs-every-writer",
    behaviours: &["O09"],
    seeds: &[SEED_002],
    statement: "A pipe's read end reaches end of file only when every copy of its write \
                end is closed, the forked child's included.",
    notes: "pipe(7). This is why multiprocessing's sentinel and Connection code close \
            the unused ends after fork.",
    needs: FORK,
    methods: Methods::Any,
    body: o09,
};

fn o09(s: &mut Session) -> Result<(), Stop> {
    let (r, w) = pipe(s)?;
    let gate = s.gate()?;
    let child = fork(
        s,
        Program::new(
            vec![
                report("holding", Probe::Text("holding".into())),
                wait_gate(gate),
            ],
            Ending::OsExit(0),
        ),
    )?;
    // Once the child reports, it surely holds its copy of the write end.
    s.report("holding")?;
    s.ok("close the parent's write end", Call::OsClose { fd: w })?;
    let while_held = s.ok(
        "readable",
        Call::OsReadable {
            fd: r,
            timeout: 0.0,
        },
    )?;
    s.open(gate)?;
    reap(s, child)?;
    let hang = s.hang_secs();
    let at_end = s.ok(
        "os.read()",
        Call::OsRead {
            fd: r,
            max: 16,
            timeout: hang,
        },
    )?;
    s.ok("close the read end", Call::OsClose { fd: r })?;
    expect_eq(
        "read end readable while the child holds a write end",
        &Value::Bool(false),
        &while_held,
    )?;
    expect_eq(
        "os.read() once every write end is closed",
        &Value::Bytes(vec![]),
        &at_end,
    )
}

static O10: Clause = Clause {
    id: "O10-os-exit-immediate",
    behaviours: &["O10"],
    seeds: &[SEED_002],
    statement: "_exit ends the process at once with its code and runs no exit handler, \
                while sys.exit raises SystemExit, which code can catch.",
    notes: "os._exit calls _exit(2) directly (Modules/posixmodule.c os__exit_impl); \
            sys.exit raises SystemExit (Python/sysmodule.c). The same in every version.",
    needs: FORK,
    methods: Methods::Any,
    body: o10,
};

fn o10(s: &mut Session) -> Result<(), Stop> {
    let child = fork(
        s,
        Program::new(
            vec![
                Step::AtexitReport {
                    label: "atexit-ran".into(),
                },
                report("sys.exit", Probe::TrySysExit(ExitArg::Int(2))),
            ],
            Ending::OsExit(4),
        ),
    )?;
    let (_, status) = reap(s, child)?;
    let caught = s.report("sys.exit")?;
    let reports = s.reports_so_far()?;
    expect_eq("status after os._exit(4)", &(4 << 8), &status)?;
    expect_eq(
        "sys.exit(2) raises",
        &Value::Error(PyError::new(ErrorKind::SystemExit, "2")),
        &caught,
    )?;
    expect_eq(
        "reports, exit handlers included",
        &vec!["sys.exit".to_string()],
        &reports,
    )
}
