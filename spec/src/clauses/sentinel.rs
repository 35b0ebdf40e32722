//! The sentinel, waiting with a timeout, and closing: P15–P17.

use super::*;
use crate::call::Call;
use crate::clause::Methods;
use crate::observe::fd_target;
use crate::program::{ProcessSpec, Program};
use crate::session::{expect, expect_eq, int};
use crate::value::{ErrorKind, Value};
use crate::Capability;

pub(super) const CLAUSES: &[&Clause] = &[&P15_READY, &P15_HELD, &P16, &P17_RUNNING, &P17_CLOSED];

static P15_READY: Clause = Clause {
    id: "P15-sentinel-ready-at-exit",
    behaviours: &["P15"],
    seeds: &[SEED_002, SEED_000],
    statement: "A child's sentinel is not ready while the child runs and is ready as \
                soon as the child has ended, before anyone reaps it.",
    notes: "Lib/multiprocessing/popen_fork.py Popen._launch: the parent keeps parent_r, \
            the child holds the only write end (child_w). 3.8+ open a second pipe for \
            parent_process(); 2.7 has no sentinel at all. \
             Under forkserver this is not deterministic in CPython: the forkserver, not the parent, reaps the child and writes its status to the sentinel pipe some time after the child ends (Lib/multiprocessing/forkserver.py main's SIGCHLD loop, popen_forkserver.py poll), so the clause runs under fork and spawn only.",
    needs: &[],
    methods: Methods::Only(&["fork", "spawn"]),
    body: p15_ready,
};

fn p15_ready(s: &mut Session) -> Result<(), Stop> {
    let gate = s.gate()?;
    let p = s.new_process(ProcessSpec::target(Program::steps(vec![wait_gate(gate)])))?;
    s.start(p)?;
    let pid = s.started_pid(p)?;
    let while_running = s.sentinel_ready(p, 0.0)?;
    s.open(gate)?;
    // The kernel closes a process's descriptors before it reports the exit, so
    // once the exit is seen the sentinel must already be ready.
    await_exit(s, pid, "the child ends")?;
    let after_exit = s.sentinel_ready(p, 0.0)?;
    s.join(p)?;
    expect_eq(
        "sentinel ready while the child runs",
        &false,
        &while_running,
    )?;
    expect_eq("sentinel ready once the child ended", &true, &after_exit)
}

static P15_HELD: Clause = Clause {
    id: "P15-sentinel-held-by-descendant",
    behaviours: &["P15"],
    seeds: &[SEED_002, SEED_000],
    statement: "While something the child forked still holds the sentinel's write end, \
                the sentinel stays unready after the child ended, and a join with a \
                timeout gives up without reaping; once the holder ends, the sentinel is \
                ready.",
    notes: "Lib/multiprocessing/popen_fork.py Popen.wait(timeout) waits on the sentinel \
            (multiprocessing.connection.wait) and returns None without polling when it \
            is not ready, so BaseProcess.join keeps the child in _children. Confirmed on \
            3.6-3.13; 2.7's join(timeout) polls waitpid in a sleep loop and returns at \
            once. \
            Under forkserver CPython's sentinel is a status pipe the forkserver writes once it has reaped the child, so a descendant holding the child's descriptors does not keep it unready, and join() races with the server (Lib/multiprocessing/forkserver.py main, popen_forkserver.py poll): the clause runs under fork and spawn only.",
    needs: &[],
    methods: Methods::Only(&["fork", "spawn"]),
    body: p15_held,
};

fn p15_held(s: &mut Session) -> Result<(), Stop> {
    let holder_gate = s.gate()?;
    let p = s.new_process(ProcessSpec::target(Program::steps(vec![
        Step::ForkHolder {
            label: "holder".into(),
            gate: holder_gate,
        },
    ])))?;
    s.start(p)?;
    let pid = s.started_pid(p)?;
    let holder = int("the holder's pid", &s.report("holder")?)?;
    await_exit(s, pid, "the child ends")?;
    let held = s.sentinel_ready(p, 0.0)?;
    let joined = s.join_timeout(p, 0.05)?;
    let set = s.children_set()?;
    s.open(holder_gate)?;
    let hang = s.hang_secs();
    let released = s.sentinel_ready(p, hang)?;
    await_exit(s, holder, "the holder ends once released")?;
    s.join(p)?;
    expect_eq("sentinel ready while a descendant holds it", &false, &held)?;
    expect_eq("join(0.05) returns", &Value::None, &joined)?;
    if let Some(set) = set {
        expect_eq("children set after join(0.05) gave up", &vec![p], &set)?;
    }
    expect_eq("sentinel ready once the holder ended", &true, &released)?;
    expect_eq("exitcode", &Some(0), &s.exitcode(p)?)
}

static P16: Clause = Clause {
    id: "P16-poll-running-child",
    behaviours: &["P16"],
    seeds: &[SEED_002],
    statement: "A running child has no exit code; a join whose timeout passes first \
                returns None and leaves the exit code None and the child alive.",
    notes: "Lib/multiprocessing/popen_fork.py Popen.poll: waitpid WNOHANG returns (0, 0) \
            and returncode stays None; BaseProcess.join always returns None. The same in \
            every version.",
    needs: &[],
    methods: Methods::Each,
    body: p16,
};

fn p16(s: &mut Session) -> Result<(), Stop> {
    let gate = s.gate()?;
    let p = s.new_process(ProcessSpec::target(Program::steps(vec![wait_gate(gate)])))?;
    s.start(p)?;
    let before = s.exitcode(p)?;
    let joined = s.join_timeout(p, 0.05)?;
    let after = s.exitcode(p)?;
    let alive = s.is_alive(p)?;
    s.open(gate)?;
    s.join(p)?;
    expect_eq("exitcode of a running child", &None, &before)?;
    expect_eq(
        "join(0.05) of a running child returns",
        &Value::None,
        &joined,
    )?;
    expect_eq("exitcode after join(0.05)", &None, &after)?;
    expect_eq("is_alive() after join(0.05)", &true, &alive)?;
    expect_eq("exitcode after join()", &Some(0), &s.exitcode(p)?)
}

static P17_RUNNING: Clause = Clause {
    id: "P17-close-running-fails",
    behaviours: &["P17"],
    seeds: &[SEED_002],
    statement: "Closing a running process object fails with ValueError 'Cannot close a \
                process while it is still running. You should first call join() or \
                terminate().' and leaves it usable.",
    notes: "Lib/multiprocessing/process.py BaseProcess.close (3.7+): polls the child \
            first. A child that ended but was not reaped may be closed. 2.7 and 3.6 \
            have no close().",
    needs: &[Capability::ProcessClose],
    methods: Methods::Each,
    body: p17_running,
};

fn p17_running(s: &mut Session) -> Result<(), Stop> {
    let gate = s.gate()?;
    let p = s.new_process(ProcessSpec::target(Program::steps(vec![wait_gate(gate)])))?;
    s.start(p)?;
    let refused = s.raises(
        "close() of a running child",
        Call::ProcessClose { process: p },
    )?;
    let alive = s.is_alive(p)?;
    s.open(gate)?;
    s.join(p)?;
    crate::session::expect_error(
        "close() of a running child",
        &refused,
        ErrorKind::ValueError,
        "Cannot close a process while it is still running. You should first call join() or terminate().",
    )?;
    expect_eq("is_alive() after the refused close()", &true, &alive)?;
    expect_eq("exitcode", &Some(0), &s.exitcode(p)?)
}

static P17_CLOSED: Clause = Clause {
    id: "P17-closed-object",
    behaviours: &["P17"],
    seeds: &[SEED_002],
    statement: "Closing an ended process object releases its sentinel descriptor; \
                afterwards start, join, is_alive, pid, exitcode, terminate, kill and the \
                sentinel fail with ValueError 'process object is closed', while name and daemon still \
                answer and a second close does nothing.",
    notes: "Lib/multiprocessing/process.py BaseProcess.close and _check_closed (3.7+); \
            the list of guarded members is the same in 3.7 and 3.13 (ident, an alias \
            of pid, too). 2.7 and 3.6 have no close().",
    needs: &[Capability::ProcessClose, Capability::ProcessKill],
    methods: Methods::Each,
    body: p17_closed,
};

fn p17_closed(s: &mut Session) -> Result<(), Stop> {
    let owner = s.getpid()?;
    let p = s.new_process(ProcessSpec {
        name: Some("closing".into()),
        ..ProcessSpec::default()
    })?;
    s.start(p)?;
    s.join(p)?;
    let fd = int(
        "sentinel",
        &s.ok("sentinel", Call::ProcessSentinel { process: p })?,
    )?;
    let before = fd_target(owner, fd);
    s.observe(format!("fd {fd} of pid {owner} before close()"), &before);
    s.ok(
        "close() of an ended child",
        Call::ProcessClose { process: p },
    )?;
    let after = fd_target(owner, fd);
    s.observe(format!("fd {fd} of pid {owner} after close()"), &after);
    expect(
        "the sentinel before close()",
        before.is_some(),
        "an open descriptor",
        &before,
    )?;
    expect(
        "the sentinel after close()",
        after != before,
        "the descriptor released",
        &after,
    )?;
    let guarded = [
        ("start()", Call::ProcessStart { process: p }),
        (
            "join()",
            Call::ProcessJoin {
                process: p,
                timeout: None,
            },
        ),
        ("is_alive()", Call::ProcessIsAlive { process: p }),
        ("pid", Call::ProcessPid { process: p }),
        ("exitcode", Call::ProcessExitcode { process: p }),
        ("terminate()", Call::ProcessTerminate { process: p }),
        ("kill()", Call::ProcessKill { process: p }),
        ("sentinel", Call::ProcessSentinel { process: p }),
    ];
    for (what, call) in guarded {
        s.raises_exactly(
            &format!("{what} after close()"),
            call,
            ErrorKind::ValueError,
            "process object is closed",
        )?;
    }
    let name = s.ok("name after close()", Call::ProcessName { process: p })?;
    expect_eq("name after close()", &Value::Str("closing".into()), &name)?;
    let daemon = s.ok("daemon after close()", Call::ProcessDaemon { process: p })?;
    expect_eq("daemon after close()", &Value::Bool(false), &daemon)?;
    s.ok("a second close()", Call::ProcessClose { process: p })
        .map(drop)
}
