//! `Pipe()` and its connections: I01–I05.

use super::ipc_calls::*;
use super::*;
use crate::clause::Methods;
use crate::ipc::{IpcOp, Item};
use crate::program::{ProcessSpec, Program};
use crate::session::{expect_eq, expect_error};
use crate::value::{ErrorKind, Value};

pub(super) const CLAUSES: &[&Clause] = &[&I01, &I02, &I03_WHOLE, &I03_ENDS, &I04, &I05];

static I01: Clause = Clause {
    id: "I01-duplex-pipe-both-ways",
    behaviours: &["I01"],
    seeds: &[SEED_001, SEED_004],
    statement: "Both ends of Pipe() (duplex by default) send and receive, within a \
                process and across a child.",
    notes: "Lib/multiprocessing/connection.py Pipe(duplex=True) on Unix is a \
            socket.socketpair() wrapped in two Connection objects, each readable and \
            writable. Same in 2.7 and 3.6-3.13.",
    needs: &[],
    methods: Methods::Each,
    body: i01,
};

fn i01(s: &mut Session) -> Result<(), Stop> {
    let (a, b) = s.pipe(None)?;
    s.send(a, text("to b"))?;
    expect_eq("b.recv()", &str_value("to b"), &s.recv_ok(b)?)?;
    s.send(b, text("to a"))?;
    expect_eq("a.recv()", &str_value("to a"), &s.recv_ok(a)?)?;
    let child = s.new_process(ProcessSpec::target(Program::steps(vec![
        ipc_step("child got", IpcOp::Recv { conn: b }),
        ipc_do(IpcOp::Send {
            conn: b,
            item: text("pong"),
        }),
    ])))?;
    s.start(child)?;
    s.send(a, text("ping"))?;
    expect_eq(
        "the child's b.recv()",
        &str_value("ping"),
        &s.report("child got")?,
    )?;
    expect_eq(
        "a.recv() of the child's answer",
        &str_value("pong"),
        &s.recv_ok(a)?,
    )?;
    s.join(child)?;
    expect_eq("the child's exit code", &Some(0), &s.exitcode(child)?)
}

static I02: Clause = Clause {
    id: "I02-one-way-pipe-order",
    behaviours: &["I02"],
    seeds: &[SEED_004],
    statement: "Pipe(duplex=False) returns (receive-only end, send-only end): the first \
                end only receives, the second only sends, and each refuses the other \
                direction with OSError.",
    notes: "Lib/multiprocessing/connection.py Pipe: `fd1, fd2 = os.pipe(); c1 = \
            Connection(fd1, writable=False); c2 = Connection(fd2, readable=False)`; \
            _check_readable / _check_writable raise OSError('connection is write-only') \
            and OSError('connection is read-only'). Same messages in 2.7 (IOError, an \
            alias of OSError in 3) and 3.6-3.13.",
    needs: &[],
    methods: Methods::Each,
    body: i02,
};

fn i02(s: &mut Session) -> Result<(), Stop> {
    let (r, w) = s.pipe(Some(false))?;
    let sent = s.ipc_result(IpcOp::Send {
        conn: w,
        item: text("one way"),
    })?;
    expect_eq("second end .send()", &Ok(Value::None), &sent)?;
    expect_eq("first end .recv()", &str_value("one way"), &s.recv_ok(r)?)?;
    let e = s.ipc_raises(
        "first end .send()",
        IpcOp::Send {
            conn: r,
            item: text("back"),
        },
    )?;
    expect_error(
        "first end .send()",
        &e,
        ErrorKind::OSError,
        "connection is read-only",
    )?;
    let e = s.ipc_raises("second end .recv()", IpcOp::Recv { conn: w })?;
    expect_error(
        "second end .recv()",
        &e,
        ErrorKind::OSError,
        "connection is write-only",
    )
}

static I03_WHOLE: Clause = Clause {
    id: "I03-one-message-per-send",
    behaviours: &["I03"],
    seeds: &[SEED_004],
    statement: "Each send() is received by exactly one recv(), whole and equal, in order, \
                whatever else is already waiting in the pipe (203 small messages sent \
                before any is read); a message larger than the pipe's buffer arrives \
                whole.",
    notes: "Lib/multiprocessing/connection.py _send_bytes writes a 4-byte big-endian \
            length and the payload; _recv_bytes reads exactly that length, never more, \
            so messages queued behind stay for the next recv(). Same framing in 2.7 and \
            3.6-3.13 (3.8+ add an 8-byte length for payloads over 2 GiB).",
    needs: &[],
    methods: Methods::Each,
    body: i03_whole,
};

fn i03_whole(s: &mut Session) -> Result<(), Stop> {
    let (a, b) = s.pipe(None)?;
    let gate = s.gate()?;
    // Small messages: a pipe holds hundreds of them before a sender blocks.
    let mut messages = vec![
        Value::Str("first".into()),
        Value::List(vec![Value::Int(1), Value::Str("two".into()), Value::None]),
        Value::Bytes(b"third".to_vec()),
    ];
    messages.extend((0..200).map(Value::Int));
    let mut steps: Vec<Step> = messages
        .iter()
        .map(|m| {
            ipc_do(IpcOp::Send {
                conn: b,
                item: Item::Data(m.clone()),
            })
        })
        .collect();
    steps.push(report("sent", Probe::Text("sent".into())));
    steps.push(wait_gate(gate));
    steps.push(ipc_do(IpcOp::Send {
        conn: b,
        item: Item::Filler(1 << 20),
    }));
    let child = s.new_process(ProcessSpec::target(Program::steps(steps)))?;
    s.start(child)?;
    s.report("sent")?;
    // Every message is in the pipe now, so each recv() must find the next one.
    for (i, m) in messages.iter().enumerate() {
        let ready = s.ipc(
            "poll(0) with messages waiting",
            IpcOp::Poll {
                conn: a,
                timeout: 0.0,
            },
        )?;
        expect_eq(
            &format!("poll(0) before message {}", i + 1),
            &Value::Bool(true),
            &ready,
        )?;
        let got = s.ipc(
            &format!("recv() of message {}", i + 1),
            IpcOp::Recv { conn: a },
        )?;
        expect_eq(&format!("message {}", i + 1), m, &got)?;
    }
    s.open(gate)?;
    let big = s.recv_ok(a)?;
    expect_eq(
        "a 1 MiB message, received whole",
        &Value::Bytes(vec![b'x'; 1 << 20]),
        &big,
    )?;
    s.join(child)
}

static I03_ENDS: Clause = Clause {
    id: "I03-closed-and-exhausted-ends",
    behaviours: &["I03"],
    seeds: &[SEED_004],
    statement: "recv() once every sending end is closed and nothing is left raises \
                EOFError; send(), recv() and poll() on a closed connection raise \
                OSError('handle is closed').",
    notes: "Lib/multiprocessing/connection.py: _recv raises EOFError when the first read \
            of a message returns no data; _check_closed raises OSError('handle is \
            closed'). Same in 3.6-3.13. 2.7's C Connection \
            (Modules/_multiprocessing/connection.h) only marks the handle invalid on \
            close: recv() and send() then raise IOError(9, 'Bad file descriptor') and \
            poll() returns False; its EOFError at the end is the same.",
    needs: &[],
    methods: Methods::Each,
    body: i03_ends,
};

fn i03_ends(s: &mut Session) -> Result<(), Stop> {
    let (r, w) = s.pipe(Some(false))?;
    let child = s.new_process(ProcessSpec::target(Program::steps(vec![ipc_do(
        IpcOp::Send {
            conn: w,
            item: text("last"),
        },
    )])))?;
    s.start(child)?;
    s.ipc(
        "close() of the parent's send end",
        IpcOp::CloseConn { conn: w },
    )?;
    s.join(child)?;
    expect_eq(
        "recv() of the last message",
        &str_value("last"),
        &s.recv_ok(r)?,
    )?;
    let end = s.recv(r)?;
    match end {
        Err(e) => expect_error("recv() at the end", &e, ErrorKind::EOFError, "")?,
        Ok(v) => {
            return Err(Stop::violation(
                "recv() once every send end is closed",
                "EOFError",
                format!("returned {v}"),
            ))
        }
    }
    s.ipc("close()", IpcOp::CloseConn { conn: r })?;
    let closed = "handle is closed";
    let e = s.ipc_raises("recv() after close()", IpcOp::Recv { conn: r })?;
    expect_error("recv() after close()", &e, ErrorKind::OSError, closed)?;
    let e = s.ipc_raises(
        "poll() after close()",
        IpcOp::Poll {
            conn: r,
            timeout: 0.0,
        },
    )?;
    expect_error("poll() after close()", &e, ErrorKind::OSError, closed)?;
    let e = s.ipc_raises(
        "send() after close()",
        IpcOp::Send {
            conn: w,
            item: text("x"),
        },
    )?;
    expect_error("send() after close()", &e, ErrorKind::OSError, closed)
}

const PROBE_MODULE: &str = "mpconform_probe_mod";

static I04: Clause = Clause {
    id: "I04-functions-travel-by-reference",
    behaviours: &["I04"],
    seeds: &[SEED_004],
    statement: "A function is sent by reference to its module: where the module is \
                loaded it arrives as that module's function; a process that lacks the \
                module fails to receive it (ModuleNotFoundError: No module named ...), \
                and the connection goes on working.",
    notes: "pickle saves a function as a global (module and qualified name) and \
            unpickling imports the module (Lib/pickle.py save_global / find_class). \
            2.7 raises ImportError('No module named mpconform_probe_mod'). dill-based \
            ports (multiprocess) send the code and differ.",
    needs: &[],
    methods: Methods::Each,
    body: i04,
};

fn i04(s: &mut Session) -> Result<(), Stop> {
    let function = Item::Function {
        module: PROBE_MODULE.into(),
        name: "probe".into(),
    };
    let (a, b) = s.pipe(None)?;
    s.send(a, function.clone())?;
    expect_eq(
        "recv() where the module is loaded",
        &Value::Opaque(format!("function {PROBE_MODULE}.probe")),
        &s.recv_ok(b)?,
    )?;
    let (r, w) = s.pipe(Some(false))?;
    let child = s.new_process(ProcessSpec::target(Program::steps(vec![
        ipc_do(IpcOp::Send {
            conn: w,
            item: Item::Function {
                module: "mpconform_child_mod".into(),
                name: "probe".into(),
            },
        }),
        ipc_do(IpcOp::Send {
            conn: w,
            item: text("after"),
        }),
    ])))?;
    s.start(child)?;
    match s.recv(r)? {
        Err(e) => expect_error(
            "recv() of a function whose module only the sender has",
            &e,
            ErrorKind::ModuleNotFoundError,
            "No module named 'mpconform_child_mod'",
        )?,
        Ok(v) => {
            return Err(Stop::violation(
                "recv() of a function whose module only the sender has",
                "ModuleNotFoundError",
                format!("returned {v}"),
            ))
        }
    }
    expect_eq("the next recv()", &str_value("after"), &s.recv_ok(r)?)?;
    s.join(child)
}

static I05: Clause = Clause {
    id: "I05-recv-loop-until-quit",
    behaviours: &["I05"],
    seeds: &[SEED_004],
    statement: "A child that loops on recv() until a 'quit' message receives every \
                message before it, in order, and then ends with exit code 0.",
    notes: "Seed 004's _test_pipe. The seed waits with time.sleep(1) before asserting \
            the child ended; the clause joins it instead.",
    needs: &[],
    methods: Methods::Each,
    body: i05,
};

fn i05(s: &mut Session) -> Result<(), Stop> {
    let (r, w) = s.pipe(None)?;
    let child = s.new_process(ProcessSpec::target(Program::steps(vec![Step::Drain {
        label: "received".into(),
        from: r,
        stop: str_value("quit"),
        task_done: false,
    }])))?;
    s.start(child)?;
    for m in ["helloworld", "testmsg", "quit"] {
        s.send(w, text(m))?;
    }
    expect_eq(
        "what the child received before 'quit'",
        &Value::List(vec![str_value("helloworld"), str_value("testmsg")]),
        &s.report("received")?,
    )?;
    s.join(child)?;
    expect_eq("the child's exit code", &Some(0), &s.exitcode(child)?)
}
