//! `mpconform bench`'s transfer measures: N small items carried from a child
//! to its parent, side by side in one run, through the same framed bytes on a
//! raw pipe (one write per message; a header read and a payload read per
//! message, as a reader sharing the pipe must do), through the reference
//! implementation's Queue or Pipe driven by the trait, and through CPython's
//! multiprocessing.Queue or Pipe. Each time runs from before the child is
//! started to the parent's last item.

use crate::bench::{median, Measure, MeasureError};
use mpconform_ref::{FaultSet, RefImpl};
use mpconform_spec::{
    Call, Handle, Implementation, IpcOp, Item, ProcessSpec, Program, QueueKind, Step, Value,
};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// What carries the items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carrier {
    Queue,
    Pipe,
}

impl Carrier {
    pub fn title(self) -> &'static str {
        match self {
            Carrier::Queue => "Queue: put in a child, get in the parent",
            Carrier::Pipe => "Pipe: send in a child, recv in the parent",
        }
    }
}

/// The small item: its index.
fn item(i: usize) -> Value {
    Value::Int(i as i64)
}

/// Microseconds per item.
fn per_item(started: Instant, items: usize) -> f64 {
    started.elapsed().as_secs_f64() * 1e6 / items as f64
}

/// Runs the three measures for `carrier`, each `repeat` times, and keeps
/// each one's median (the machine may be shared; a median shrugs off a slow
/// run).
pub fn run(carrier: Carrier, items: usize, repeat: usize, python: &Path) -> Vec<Measure> {
    let name = match carrier {
        Carrier::Queue => "Queue put/get",
        Carrier::Pipe => "Pipe send/recv",
    };
    let mut runs: [Vec<Result<f64, MeasureError>>; 3] = Default::default();
    // Interleaved, so that a slow spell of the machine touches all three.
    for _ in 0..repeat.max(1) {
        runs[0].push(raw(items));
        runs[1].push(reference(carrier, items));
        runs[2].push(cpython(carrier, items, python));
    }
    let [raw_runs, reference_runs, cpython_runs] = runs;
    vec![
        Measure {
            name: "raw pipe, framed write / read".into(),
            micros: median(raw_runs),
        },
        Measure {
            name: format!("reference {name}"),
            micros: median(reference_runs),
        },
        Measure {
            name: format!("CPython {} {name}", python.display()),
            micros: median(cpython_runs),
        },
    ]
}

/// The frame the reference writes for `item(i)` (a mark and the i64), so
/// the raw pipe carries the same bytes.
fn frames(items: usize) -> Vec<Vec<u8>> {
    (0..items)
        .map(|i| {
            let mut frame = 9u32.to_be_bytes().to_vec();
            frame.push(b'I');
            frame.extend_from_slice(&(i as i64).to_be_bytes());
            frame
        })
        .collect()
}

fn read_exact(fd: i32, buf: &mut [u8]) -> Result<(), MeasureError> {
    let mut done = 0;
    while done < buf.len() {
        // SAFETY: reading into the unfilled part of a valid buffer.
        let n = unsafe { libc::read(fd, buf[done..].as_mut_ptr().cast(), buf.len() - done) };
        if n <= 0 {
            return Err(MeasureError::Raw(std::io::Error::last_os_error()));
        }
        done += n as usize;
    }
    Ok(())
}

fn raw(items: usize) -> Result<f64, MeasureError> {
    let frames = frames(items);
    let mut fds = [0; 2];
    // SAFETY: a valid array for the two descriptors.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return Err(MeasureError::Raw(std::io::Error::last_os_error()));
    }
    let started = Instant::now();
    // SAFETY: the bench runs single-threaded; the child only writes and exits.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: closing our copy of the read end, writing whole frames, _exit.
        unsafe {
            libc::close(fds[0]);
            for frame in &frames {
                let mut rest: &[u8] = frame;
                while !rest.is_empty() {
                    let n = libc::write(fds[1], rest.as_ptr().cast(), rest.len());
                    if n <= 0 {
                        libc::_exit(1);
                    }
                    rest = &rest[n as usize..];
                }
            }
            libc::_exit(0);
        }
    }
    // SAFETY: closing the parent's copy of the write end.
    unsafe { libc::close(fds[1]) };
    let mut header = [0u8; 4];
    let mut payload = Vec::new();
    let mut result = Ok(());
    for _ in 0..items {
        if let Err(e) = read_exact(fds[0], &mut header) {
            result = Err(e);
            break;
        }
        payload.resize(u32::from_be_bytes(header) as usize, 0);
        if let Err(e) = read_exact(fds[0], &mut payload) {
            result = Err(e);
            break;
        }
    }
    let micros = per_item(started, items);
    let mut status = 0;
    // SAFETY: reaping our own child; closing our read end.
    unsafe {
        libc::close(fds[0]);
        libc::waitpid(pid, &mut status, 0);
    }
    result.map(|_| micros)
}

/// The handle a making call answered.
pub(crate) fn handle(v: Value) -> Result<Handle, MeasureError> {
    match v {
        Value::Handle(h) => Ok(h),
        other => Err(MeasureError::NotAHandle(other)),
    }
}

fn reference(carrier: Carrier, items: usize) -> Result<f64, MeasureError> {
    let mut imp = RefImpl::new(FaultSet::none())?;
    let (source, sink) = match carrier {
        Carrier::Queue => {
            let q = handle(imp.call(&Call::Ipc(IpcOp::QueueNew {
                kind: QueueKind::Queue,
                maxsize: None,
            }))?)?;
            (q, q)
        }
        Carrier::Pipe => match imp.call(&Call::Ipc(IpcOp::PipeNew {
            duplex: Some(false),
        }))? {
            Value::List(ends) if ends.len() == 2 => {
                (handle(ends[0].clone())?, handle(ends[1].clone())?)
            }
            other => return Err(MeasureError::NotAHandle(other)),
        },
    };
    let steps: Vec<Step> = (0..items)
        .map(|i| Step::Ipc {
            label: None,
            op: match carrier {
                Carrier::Queue => IpcOp::Put {
                    queue: sink,
                    item: Item::Data(item(i)),
                    block: None,
                    timeout: None,
                },
                Carrier::Pipe => IpcOp::Send {
                    conn: sink,
                    item: Item::Data(item(i)),
                },
            },
        })
        .collect();
    let process = handle(imp.call(&Call::ProcessNew {
        spec: ProcessSpec::target(Program::steps(steps)),
    })?)?;
    let take = match carrier {
        Carrier::Queue => Call::Ipc(IpcOp::Get {
            queue: source,
            block: None,
            timeout: None,
        }),
        Carrier::Pipe => Call::Ipc(IpcOp::Recv { conn: source }),
    };
    let started = Instant::now();
    imp.call(&Call::ProcessStart { process })?;
    for _ in 0..items {
        imp.call(&take)?;
    }
    let micros = per_item(started, items);
    imp.call(&Call::ProcessJoin {
        process,
        timeout: None,
    })?;
    Ok(micros)
}

const CPYTHON_TRANSFER: &str = r#"
import multiprocessing as mp, sys, time
def put_all(q, n):
    for i in range(n):
        q.put(i)
def send_all(conn, n):
    for i in range(n):
        conn.send(i)
if __name__ == '__main__':
    ctx = mp.get_context('fork')
    carrier, n = sys.argv[1], int(sys.argv[2])
    if carrier == 'queue':
        q = ctx.Queue()
        p = ctx.Process(target=put_all, args=(q, n))
        take = q.get
    else:
        r, w = ctx.Pipe(duplex=False)
        p = ctx.Process(target=send_all, args=(w, n))
        take = r.recv
    t = time.perf_counter()
    p.start()
    for _ in range(n):
        take()
    print((time.perf_counter() - t) * 1e6 / n)
    p.join()
"#;

fn cpython(carrier: Carrier, items: usize, python: &Path) -> Result<f64, MeasureError> {
    let which = match carrier {
        Carrier::Queue => "queue",
        Carrier::Pipe => "pipe",
    };
    let output = Command::new(python)
        .args(["-c", CPYTHON_TRANSFER, which, &items.to_string()])
        .output()
        .map_err(|e| MeasureError::NoPython(python.into(), e))?;
    crate::bench::parse_python_output(python, output)
}
