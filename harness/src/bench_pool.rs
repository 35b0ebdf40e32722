//! `mpconform bench`'s Pool measures, each side by side in one run for a raw
//! floor, the reference implementation driven through the trait, and
//! CPython's `multiprocessing.Pool`, all with 2 worker processes made by
//! fork, and the pool's creation (and its close and join) outside the time:
//!
//! - N trivial `apply_async` round trips: all N submitted, then each
//!   result's `get()` in order, against 2 forked workers fed round robin, a
//!   pipe each way per worker, a 16-byte frame per task and 24 per result;
//! - `map` of the identity over N ints with the default chunksize, against
//!   the same workers carrying the same chunks as raw little-endian i64s.
//!
//! Every run checks its answer (each result is 1, the map gives back the
//! list), so a fast wrong result is reported as a failure.

use crate::bench::{median, Measure, MeasureError};
use crate::bench_transfer::handle;
use mpconform_ref::{FaultSet, RefImpl};
use mpconform_spec::{Call, CallError, Handle, Implementation, PoolOp, Task, TaskReturn, Value};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Which Pool measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolMeasure {
    /// N `apply_async` of a task returning a constant, then N `get()`.
    Apply,
    /// One `map` of the identity over N ints.
    Map,
}

/// The pool's size in every measure.
const PROCESSES: usize = 2;

impl PoolMeasure {
    /// The table's title for `n` round trips or items.
    pub fn title(self, n: u32, repeat: usize) -> String {
        let repeat = repeat.max(1);
        match self {
            PoolMeasure::Apply => format!(
                "{n} trivial apply_async round trips on Pool(2), fork: all submitted, \
                 then get() each (pool creation, close and join not timed; \
                 median of {repeat} runs)"
            ),
            PoolMeasure::Map => format!(
                "map(identity, range({n})) on Pool(2), fork, default chunksize \
                 (pool creation, close and join not timed; median of {repeat} runs)"
            ),
        }
    }

    pub fn unit(self) -> &'static str {
        match self {
            PoolMeasure::Apply => "µs / trip",
            PoolMeasure::Map => "ms / map",
        }
    }

    /// The time of one run in the table's unit.
    fn scale(self, elapsed: Duration, n: u32) -> f64 {
        match self {
            PoolMeasure::Apply => elapsed.as_secs_f64() * 1e6 / f64::from(n),
            PoolMeasure::Map => elapsed.as_secs_f64() * 1e3,
        }
    }

    fn names(self) -> [&'static str; 3] {
        match self {
            PoolMeasure::Apply => [
                "raw: 2 forked workers, a pipe each way, fixed frames",
                "reference Pool apply_async + get",
                "Pool apply_async + get",
            ],
            PoolMeasure::Map => [
                "raw: 2 forked workers, i64 chunks, a pipe each way",
                "reference Pool map",
                "Pool map",
            ],
        }
    }
}

/// Runs the three measures of `which`, each `repeat` times, and keeps each
/// one's median. `n` is the round trips or the items.
pub fn run(which: PoolMeasure, n: u32, repeat: usize, python: &Path) -> Vec<Measure> {
    let mut runs: [Vec<Result<f64, MeasureError>>; 3] = Default::default();
    // Interleaved, so that a slow spell of the shared machine touches all three.
    for _ in 0..repeat.max(1) {
        let raw = match which {
            PoolMeasure::Apply => raw_apply(n),
            PoolMeasure::Map => raw_map(n),
        };
        runs[0].push(raw.map(|d| which.scale(d, n)));
        runs[1].push(reference(which, n).map(|d| which.scale(d, n)));
        runs[2].push(cpython(which, n, python));
    }
    let [raw, reference, cpython] = which.names();
    let [raw_runs, reference_runs, cpython_runs] = runs;
    vec![
        Measure {
            name: raw.into(),
            micros: median(raw_runs),
        },
        Measure {
            name: reference.into(),
            micros: median(reference_runs),
        },
        Measure {
            name: format!("CPython {} {cpython}", python.display()),
            micros: median(cpython_runs),
        },
    ]
}

/// The table, with the ratios to the floor and to CPython.
pub fn table(which: PoolMeasure, n: u32, repeat: usize, measures: &[Measure]) -> String {
    crate::bench::table_of(&which.title(n, repeat), which.unit(), measures)
}

/// A result that is not the one the work must give: the run does not count.
fn wrong_raw(what: String) -> MeasureError {
    MeasureError::Raw(std::io::Error::other(format!("wrong answer: {what}")))
}

fn wrong_reference(what: String) -> MeasureError {
    MeasureError::Call(CallError::Broken(format!("wrong answer: {what}")))
}

fn os_error() -> MeasureError {
    MeasureError::Raw(std::io::Error::last_os_error())
}

/// `multiprocessing.Pool.map`'s default chunksize: the items in about four
/// chunks per worker.
fn default_chunksize(items: usize) -> usize {
    items.div_ceil(PROCESSES * 4)
}

// ---- The floor: 2 forked workers and 4 pipes, by hand ----

/// A frame's header, both ways: a u64 tag (the task's index, or the
/// chunk's), then a u64 count of the i64 items that follow.
const HEADER: usize = 16;

/// What a floor worker does with a frame.
#[derive(Clone, Copy)]
enum Work {
    /// A frame of no items is answered with the one item 1.
    Constant,
    /// The items come back as they are.
    Identity,
}

fn header(tag: u64, count: u64) -> [u8; HEADER] {
    let mut frame = [0u8; HEADER];
    frame[..8].copy_from_slice(&tag.to_le_bytes());
    frame[8..].copy_from_slice(&count.to_le_bytes());
    frame
}

fn word(bytes: &[u8]) -> u64 {
    u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"))
}

/// Fills `buf`: `Ok(false)` at end of file before its first byte.
fn read_exact(fd: RawFd, buf: &mut [u8]) -> Result<bool, ()> {
    let mut done = 0;
    while done < buf.len() {
        // SAFETY: reading into the unfilled part of a valid buffer.
        let n = unsafe { libc::read(fd, buf[done..].as_mut_ptr().cast(), buf.len() - done) };
        if n == 0 && done == 0 {
            return Ok(false);
        }
        if n <= 0 {
            return Err(());
        }
        done += n as usize;
    }
    Ok(true)
}

fn read_frame(fd: RawFd, buf: &mut [u8]) -> Result<(), MeasureError> {
    match read_exact(fd, buf) {
        Ok(true) => Ok(()),
        Ok(false) => Err(wrong_raw("a worker closed its pipe early".into())),
        Err(()) => Err(os_error()),
    }
}

fn write_all(fd: RawFd, mut rest: &[u8]) -> bool {
    while !rest.is_empty() {
        // SAFETY: writing from a valid buffer.
        let n = unsafe { libc::write(fd, rest.as_ptr().cast(), rest.len()) };
        if n <= 0 {
            return false;
        }
        rest = &rest[n as usize..];
    }
    true
}

fn pipe() -> Result<(OwnedFd, OwnedFd), MeasureError> {
    let mut fds = [0; 2];
    // SAFETY: a valid array for the two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(os_error());
    }
    // SAFETY: both descriptors are new and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// A floor worker: reads a frame, answers it, until end of file. Reads,
/// writes and _exit only, into a buffer allocated before the fork, which is
/// all a fork child of a possibly threaded parent may do. Exits with 0 at
/// end of file, 1 when a read or write fails (the parent has gone).
fn serve(tasks: RawFd, results: RawFd, work: Work, buffer: &mut [u8]) -> ! {
    let code = loop {
        match read_exact(tasks, &mut buffer[..HEADER]) {
            Ok(true) => {}
            Ok(false) => break 0,
            Err(()) => break 1,
        }
        let count = word(&buffer[8..]) as usize;
        let len = match work {
            Work::Constant => {
                buffer[8..HEADER].copy_from_slice(&1u64.to_le_bytes());
                buffer[HEADER..HEADER + 8].copy_from_slice(&1i64.to_le_bytes());
                HEADER + 8
            }
            Work::Identity => {
                let len = HEADER + 8 * count;
                if len > buffer.len() || read_exact(tasks, &mut buffer[HEADER..len]) != Ok(true) {
                    break 1;
                }
                len
            }
        };
        if !write_all(results, &buffer[..len]) {
            break 1;
        }
    };
    // SAFETY: _exit only ends the process.
    unsafe { libc::_exit(code) }
}

/// The parent's side of the floor's workers: worker `i` reads `tasks[i]`'s
/// other end and writes `results[i]`'s. Dropped, it closes its ends (the
/// workers see end of file, or a broken pipe) and reaps the workers.
struct Floor {
    pids: Vec<libc::pid_t>,
    tasks: Vec<OwnedFd>,
    results: Vec<OwnedFd>,
}

impl Floor {
    /// Forks the workers, each with a buffer for `max_items` items.
    fn start(work: Work, max_items: usize) -> Result<Floor, MeasureError> {
        let mut floor = Floor {
            pids: Vec::new(),
            tasks: Vec::new(),
            results: Vec::new(),
        };
        // The workers' ends, closed in the parent once both are forked.
        let mut ends = Vec::new();
        for _ in 0..PROCESSES {
            let (task_r, task_w) = pipe()?;
            let (result_r, result_w) = pipe()?;
            floor.tasks.push(task_w);
            floor.results.push(result_r);
            ends.push((task_r, result_w));
        }
        let mut buffer = vec![0u8; HEADER + 8 * max_items.max(1)];
        for me in 0..PROCESSES {
            // SAFETY: the child only closes descriptors, reads, writes and
            // exits.
            let pid = unsafe { libc::fork() };
            if pid == 0 {
                let theirs = floor.tasks.iter().chain(&floor.results).chain(
                    ends.iter()
                        .enumerate()
                        .filter(|&(i, _)| i != me)
                        .flat_map(|(_, (r, w))| [r, w]),
                );
                for fd in theirs {
                    // SAFETY: closing the child's copies of the other ends;
                    // the child never drops them, as it leaves by _exit.
                    unsafe { libc::close(fd.as_raw_fd()) };
                }
                let (task_r, result_w) = &ends[me];
                serve(task_r.as_raw_fd(), result_w.as_raw_fd(), work, &mut buffer);
            }
            if pid < 0 {
                // Dropping the floor closes the pipes and reaps the forked.
                return Err(os_error());
            }
            floor.pids.push(pid);
        }
        Ok(floor)
    }

    /// Closes the parent's ends, reaps the workers, and checks that each
    /// exited with 0.
    fn finish(mut self) -> Result<(), MeasureError> {
        match self.end() {
            true => Ok(()),
            false => Err(wrong_raw("a worker did not exit with 0".into())),
        }
    }

    fn end(&mut self) -> bool {
        self.tasks.clear();
        self.results.clear();
        let mut all_exited_0 = true;
        for pid in self.pids.drain(..) {
            let mut status = 0;
            // SAFETY: reaping our own child with a valid status pointer.
            unsafe { libc::waitpid(pid, &mut status, 0) };
            all_exited_0 &= libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
        }
        all_exited_0
    }

    /// Feeds `frames` (a frame each, to worker `i % PROCESSES`) from a
    /// thread, as a pool's task handler does, while `collect` reads the
    /// answers in this one: without it, the parent writing every task first
    /// and the workers writing their answers would both fill a pipe.
    fn exchange<T, F: AsRef<[u8]>>(
        &mut self,
        frames: impl Iterator<Item = F> + Send,
        collect: impl FnOnce(&[RawFd]) -> Result<T, MeasureError>,
    ) -> Result<T, MeasureError> {
        let tasks: Vec<RawFd> = self.tasks.iter().map(AsRawFd::as_raw_fd).collect();
        let results: Vec<RawFd> = self.results.iter().map(AsRawFd::as_raw_fd).collect();
        let (collected, fed) = std::thread::scope(|scope| {
            let feeder = scope.spawn(move || {
                for (i, frame) in frames.enumerate() {
                    if !write_all(tasks[i % PROCESSES], frame.as_ref()) {
                        return Err(os_error());
                    }
                }
                Ok(())
            });
            let collected = collect(&results);
            if collected.is_err() {
                // A worker blocked on a full result pipe, and the feeder on
                // its full task pipe, are freed by a broken pipe.
                self.results.clear();
            }
            (collected, feeder.join().expect("the feeder does not panic"))
        });
        let collected = collected?;
        fed?;
        Ok(collected)
    }
}

impl Drop for Floor {
    fn drop(&mut self) {
        self.end();
    }
}

fn raw_apply(trips: u32) -> Result<Duration, MeasureError> {
    let mut floor = Floor::start(Work::Constant, 1)?;
    let started = Instant::now();
    let frames = (0..u64::from(trips)).map(|i| header(i, 0));
    let collected = floor.exchange(frames, |results| {
        let mut frame = [0u8; HEADER + 8];
        for i in 0..u64::from(trips) {
            read_frame(results[i as usize % PROCESSES], &mut frame)?;
            let (tag, count, value) = (word(&frame), word(&frame[8..]), word(&frame[16..]));
            if (tag, count, value) != (i, 1, 1) {
                return Err(wrong_raw(format!(
                    "result {i} is tag {tag}, {count} items, value {value}"
                )));
            }
        }
        Ok(started.elapsed())
    });
    let finished = floor.finish();
    let elapsed = collected?;
    finished?;
    Ok(elapsed)
}

fn raw_map(items: u32) -> Result<Duration, MeasureError> {
    let len = items as usize;
    let chunksize = default_chunksize(len);
    let chunks = len.div_ceil(chunksize);
    let mut floor = Floor::start(Work::Identity, chunksize)?;
    let started = Instant::now();
    let frames = (0..chunks).map(|c| {
        let span = c * chunksize..len.min((c + 1) * chunksize);
        let mut frame = Vec::with_capacity(HEADER + 8 * span.len());
        frame.extend_from_slice(&header(c as u64, span.len() as u64));
        for item in span {
            frame.extend_from_slice(&(item as i64).to_le_bytes());
        }
        frame
    });
    let collected = floor.exchange(frames, |results| {
        let mut out = Vec::with_capacity(len);
        let mut payload = vec![0u8; 8 * chunksize];
        for c in 0..chunks {
            let fd = results[c % PROCESSES];
            let mut head = [0u8; HEADER];
            read_frame(fd, &mut head)?;
            let expected = len.min((c + 1) * chunksize) - c * chunksize;
            let (tag, count) = (word(&head), word(&head[8..]) as usize);
            if (tag, count) != (c as u64, expected) {
                return Err(wrong_raw(format!(
                    "chunk {c} came back as tag {tag} with {count} items"
                )));
            }
            read_frame(fd, &mut payload[..8 * count])?;
            out.extend(payload[..8 * count].chunks_exact(8).map(|b| word(b) as i64));
        }
        Ok((started.elapsed(), out))
    });
    let finished = floor.finish();
    let (elapsed, out) = collected?;
    finished?;
    match out.iter().copied().eq(0..i64::from(items)) {
        true => Ok(elapsed),
        false => Err(wrong_raw("the map's list is not the items".into())),
    }
}

// ---- The reference, through the trait ----

fn pool_op(op: PoolOp) -> Call {
    Call::Pool(op)
}

/// The measure, between a fork Pool(2) made and closed (or terminated, on
/// a failure) and joined, none of it timed.
fn reference(which: PoolMeasure, n: u32) -> Result<Duration, MeasureError> {
    let mut imp = RefImpl::new(FaultSet::none())?;
    imp.call(&Call::UseStartMethod {
        method: "fork".into(),
    })?;
    let pool = handle(imp.call(&pool_op(PoolOp::PoolNew {
        processes: Some(PROCESSES as u32),
        initializer: None,
        maxtasksperchild: None,
    }))?)?;
    let measured = match which {
        PoolMeasure::Apply => reference_apply(&mut imp, pool, n),
        PoolMeasure::Map => reference_map(&mut imp, pool, n),
    };
    let end = match measured {
        Ok(_) => PoolOp::Close { pool },
        Err(_) => PoolOp::Terminate { pool },
    };
    let ended = imp
        .call(&pool_op(end))
        .and_then(|_| imp.call(&pool_op(PoolOp::Join { pool })));
    let elapsed = measured?;
    ended?;
    Ok(elapsed)
}

fn reference_apply(imp: &mut RefImpl, pool: Handle, trips: u32) -> Result<Duration, MeasureError> {
    let submit = pool_op(PoolOp::ApplyAsync {
        pool,
        task: Task::returning(Value::Int(1)),
    });
    let mut results = Vec::with_capacity(trips as usize);
    let started = Instant::now();
    for _ in 0..trips {
        results.push(handle(imp.call(&submit)?)?);
    }
    for (i, result) in results.into_iter().enumerate() {
        match imp.call(&pool_op(PoolOp::ResultGet {
            result,
            timeout: None,
        }))? {
            Value::Int(1) => {}
            other => return Err(wrong_reference(format!("result {i}'s get() gave {other}"))),
        }
    }
    Ok(started.elapsed())
}

fn reference_map(imp: &mut RefImpl, pool: Handle, items: u32) -> Result<Duration, MeasureError> {
    let items: Vec<Value> = (0..i64::from(items)).map(Value::Int).collect();
    let map = pool_op(PoolOp::Map {
        pool,
        task: Task {
            steps: vec![],
            returns: TaskReturn::Item,
        },
        items: items.clone(),
        chunksize: None,
    });
    let started = Instant::now();
    let got = imp.call(&map)?;
    let elapsed = started.elapsed();
    match got {
        Value::List(list) if list == items => Ok(elapsed),
        Value::List(list) => Err(wrong_reference(format!(
            "map gave a list of {} that is not the items",
            list.len()
        ))),
        other => Err(wrong_reference(format!("map gave {other}"))),
    }
}

// ---- CPython ----

const CPYTHON_POOL: &str = r#"
import multiprocessing as mp, sys, time

def one():
    return 1

def identity(x):
    return x

def apply(pool, n):
    t = time.perf_counter()
    results = [pool.apply_async(one) for _ in range(n)]
    got = [r.get() for r in results]
    us = (time.perf_counter() - t) * 1e6 / n
    if got != [1] * n:
        sys.exit('wrong answer: a get() did not give 1')
    return us

def map_(pool, n):
    t = time.perf_counter()
    got = pool.map(identity, range(n))
    ms = (time.perf_counter() - t) * 1e3
    if got != list(range(n)):
        sys.exit('wrong answer: the map is not the items')
    return ms

if __name__ == '__main__':
    which, n = sys.argv[1], int(sys.argv[2])
    pool = mp.get_context('fork').Pool(2)
    try:
        print({'apply': apply, 'map': map_}[which](pool, n))
    except BaseException:
        pool.terminate()
        raise
    else:
        pool.close()
    finally:
        pool.join()
"#;

fn cpython(which: PoolMeasure, n: u32, python: &Path) -> Result<f64, MeasureError> {
    let which = match which {
        PoolMeasure::Apply => "apply",
        PoolMeasure::Map => "map",
    };
    let output = Command::new(python)
        .args(["-c", CPYTHON_POOL, which, &n.to_string()])
        .output()
        .map_err(|e| MeasureError::NoPython(python.into(), e))?;
    crate::bench::parse_python_output(python, output)
}
