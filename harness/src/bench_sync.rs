//! `mpconform bench`'s synchronisation measures, each side by side in one run
//! for a raw floor, the reference implementation driven through the trait,
//! and CPython's multiprocessing with the fork start method:
//!
//! - an uncontended `Lock`: acquire + release pairs in one process, against a
//!   futex lock in shared memory whose uncontended path is atomics only;
//! - a `Lock` contended by two forked children, each doing acquire /
//!   increment a shared int / release, against the same futex lock shared
//!   through fork;
//! - a started `Manager`'s dict proxy, `d[k] = i` then `d[k]` from the
//!   process that started it, against a request and reply on a Unix
//!   socketpair to a forked server.
//!
//! Every run checks its answer (the lock is free, the count is 2N, the dict
//! gives back what was put), so a fast wrong result is reported as a failure.

use crate::bench::{median, Measure, MeasureError};
use crate::bench_transfer::handle;
use mpconform_ref::{FaultSet, RefImpl};
use mpconform_spec::{
    Call, CallError, Handle, Implementation, LockKind, ProcessSpec, Program, ProxyKind, Step,
    SyncOp, Value,
};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Which synchronisation measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMeasure {
    /// Acquire + release pairs of one Lock in one process.
    Uncontended,
    /// Two forked children, each acquiring, incrementing and releasing.
    Contended,
    /// Set and get of one key through a Manager's dict proxy.
    Manager,
}

impl SyncMeasure {
    /// The table's title for `ops` operations (per child when contended).
    pub fn title(self, ops: u32, repeat: usize) -> String {
        let repeat = repeat.max(1);
        match self {
            SyncMeasure::Uncontended => format!(
                "{ops} uncontended Lock acquire + release pairs in one process \
                 (median of {repeat} runs)"
            ),
            SyncMeasure::Contended => format!(
                "Lock contended by 2 forked children, {ops} acquire / increment / release \
                 each, timed from the start signal to both reaped (median of {repeat} runs)"
            ),
            SyncMeasure::Manager => format!(
                "Manager dict proxy from its owner: {ops} x (d[k] = i; d[k]), \
                 one request and reply per call (median of {repeat} runs)"
            ),
        }
    }

    /// The tables print two decimals: a lock operation in µs would show as
    /// 0.01 or 0.02, so lock times are per thousand operations.
    pub fn unit(self) -> &'static str {
        match self {
            SyncMeasure::Uncontended => "µs / 1k pairs",
            SyncMeasure::Contended => "µs / 1k acquires",
            SyncMeasure::Manager => "µs / call",
        }
    }

    /// Operations per unit of the table.
    fn per_unit(self) -> f64 {
        match self {
            SyncMeasure::Uncontended | SyncMeasure::Contended => 1000.0,
            SyncMeasure::Manager => 1.0,
        }
    }

    fn names(self) -> [&'static str; 3] {
        match self {
            SyncMeasure::Uncontended => [
                "raw futex lock: CAS + swap, no syscall",
                "reference Lock acquire + release",
                "Lock acquire + release",
            ],
            SyncMeasure::Contended => [
                "raw futex lock in shared memory, 2 children",
                "reference Lock + ValueAdd, 2 children",
                "Lock + Value, 2 children",
            ],
            SyncMeasure::Manager => [
                "raw socketpair round trip to a forked server",
                "reference Manager dict set / get",
                "Manager dict set / get",
            ],
        }
    }
}

/// Runs the three measures of `which`, each `repeat` times, and keeps each
/// one's median. `ops` is the pairs, the acquires per child, or the
/// set + get iterations.
pub fn run(which: SyncMeasure, ops: u32, repeat: usize, python: &Path) -> Vec<Measure> {
    let mut runs: [Vec<Result<f64, MeasureError>>; 3] = Default::default();
    // Interleaved, so that a slow spell of the shared machine touches all three.
    for _ in 0..repeat.max(1) {
        runs[0].push(match which {
            SyncMeasure::Uncontended => raw_uncontended(ops),
            SyncMeasure::Contended => raw_contended(ops),
            SyncMeasure::Manager => raw_manager(ops),
        });
        runs[1].push(match which {
            SyncMeasure::Uncontended => reference_uncontended(ops),
            SyncMeasure::Contended => reference_contended(ops),
            SyncMeasure::Manager => reference_manager(ops),
        });
        runs[2].push(cpython(which, ops, python));
    }
    let scale =
        |runs: Vec<Result<f64, MeasureError>>| median(runs).map(|per_op| per_op * which.per_unit());
    let [raw, reference, cpython] = which.names();
    let [raw_runs, reference_runs, cpython_runs] = runs;
    vec![
        Measure {
            name: raw.into(),
            micros: scale(raw_runs),
        },
        Measure {
            name: reference.into(),
            micros: scale(reference_runs),
        },
        Measure {
            name: format!("CPython {} {cpython}", python.display()),
            micros: scale(cpython_runs),
        },
    ]
}

/// The table, with the ratios to the floor and to CPython.
pub fn table(which: SyncMeasure, ops: u32, repeat: usize, measures: &[Measure]) -> String {
    crate::bench::table_of(&which.title(ops, repeat), which.unit(), measures)
}

fn per_op(elapsed: Duration, ops: u64) -> f64 {
    elapsed.as_secs_f64() * 1e6 / ops as f64
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

// ---- The floor: a futex lock and a socketpair, by hand ----

/// What the floor's processes share: all zeros is the starting state (lock
/// free, no start signal, nobody ready, count 0).
#[repr(C)]
struct Words {
    lock: AtomicU32,
    go: AtomicU32,
    ready: [AtomicU32; 2],
    count: AtomicU64,
}

/// One anonymous MAP_SHARED page: fork children share it with the parent,
/// and it names no file that could be left behind.
struct SharedPage {
    at: *mut libc::c_void,
}

const PAGE: usize = 4096;

impl SharedPage {
    fn new() -> Result<SharedPage, MeasureError> {
        // SAFETY: a new anonymous mapping, aliasing nothing.
        let at = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                PAGE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if at == libc::MAP_FAILED {
            return Err(os_error());
        }
        Ok(SharedPage { at })
    }

    fn words(&self) -> &Words {
        // SAFETY: the page is mapped (zeroed, page-aligned) until drop, and
        // Words is atomics only, valid at all zeros.
        unsafe { &*self.at.cast::<Words>() }
    }
}

impl Drop for SharedPage {
    fn drop(&mut self) {
        // SAFETY: unmapping our own mapping; no reference outlives self.
        unsafe { libc::munmap(self.at, PAGE) };
    }
}

/// FUTEX_WAIT or FUTEX_WAKE on a word. Not FUTEX_PRIVATE: the word is shared
/// by processes, and a private futex is keyed to one address space.
fn futex(word: &AtomicU32, op: libc::c_int, val: u32) {
    // SAFETY: a futex call on a valid, aligned u32 with no timeout.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            op,
            val,
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<u32>(),
            0u32,
        );
    }
}

const FREE: u32 = 0;
const HELD: u32 = 1;
/// Held, and someone may sleep on it: the release must wake.
const WAITED: u32 = 2;

/// The three-state futex mutex (Drepper, "Futexes Are Tricky"): taking a
/// free lock is one CAS, and no system call happens unless it is contended.
fn lock(word: &AtomicU32) {
    if word
        .compare_exchange(FREE, HELD, Ordering::Acquire, Ordering::Relaxed)
        .is_ok()
    {
        return;
    }
    while word.swap(WAITED, Ordering::Acquire) != FREE {
        futex(word, libc::FUTEX_WAIT, WAITED);
    }
}

fn unlock(word: &AtomicU32) {
    if word.swap(FREE, Ordering::Release) == WAITED {
        futex(word, libc::FUTEX_WAKE, 1);
    }
}

fn raw_uncontended(pairs: u32) -> Result<f64, MeasureError> {
    let page = SharedPage::new()?;
    let word = &page.words().lock;
    let started = Instant::now();
    for _ in 0..pairs {
        lock(word);
        unlock(word);
    }
    let micros = per_op(started.elapsed(), pairs.into());
    match word.load(Ordering::SeqCst) {
        FREE => Ok(micros),
        other => Err(wrong_raw(format!("the lock word is {other}, not free"))),
    }
}

/// A floor child: says it is ready, waits for the start signal, then takes
/// the lock `times` times to increment the count. Atomics, futex and _exit
/// only, which is all a fork child of a possibly threaded parent may do.
fn contender(words: &Words, me: usize, times: u32) -> ! {
    words.ready[me].store(1, Ordering::SeqCst);
    while words.go.load(Ordering::SeqCst) == 0 {
        futex(&words.go, libc::FUTEX_WAIT, 0);
    }
    for _ in 0..times {
        lock(&words.lock);
        // A read and a write, not fetch_add: the lock is what makes it right,
        // as it is for `v.value += 1`.
        let count = words.count.load(Ordering::Relaxed);
        words.count.store(count + 1, Ordering::Relaxed);
        unlock(&words.lock);
    }
    // SAFETY: _exit only ends the process.
    unsafe { libc::_exit(0) }
}

/// How long the children may take to get ready before the run is given up.
const READY_LIMIT: Duration = Duration::from_secs(60);

fn raw_contended(times: u32) -> Result<f64, MeasureError> {
    let page = SharedPage::new()?;
    let words = page.words();
    let mut pids = Vec::new();
    let mut result = Ok(());
    for me in 0..2 {
        // SAFETY: the child only touches the shared page and exits.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            contender(words, me, times);
        }
        if pid < 0 {
            result = Err(os_error());
            break;
        }
        pids.push(pid);
    }
    // The start is signalled only once both wait, so that neither child's
    // fork is in the time nor lets the other run its loop alone.
    let deadline = Instant::now() + READY_LIMIT;
    while result.is_ok() && words.ready.iter().any(|r| r.load(Ordering::SeqCst) == 0) {
        if Instant::now() > deadline {
            result = Err(wrong_raw("the children never became ready".into()));
        }
        std::thread::sleep(Duration::from_micros(50));
    }
    // Signalled on failure too: a waiting child must end, to be reaped.
    let started = Instant::now();
    words.go.store(1, Ordering::SeqCst);
    futex(&words.go, libc::FUTEX_WAKE, i32::MAX as u32);
    let mut all_exited_0 = true;
    for pid in pids {
        let mut status = 0;
        // SAFETY: reaping our own child with a valid status pointer.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        all_exited_0 &= libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    }
    let micros = per_op(started.elapsed(), 2 * u64::from(times));
    result?;
    let count = words.count.load(Ordering::SeqCst);
    if !all_exited_0 {
        return Err(wrong_raw("a child did not exit with 0".into()));
    }
    if count != 2 * u64::from(times) {
        return Err(wrong_raw(format!(
            "the count is {count}, not {}",
            2 * times
        )));
    }
    Ok(micros)
}

fn read_exact(fd: i32, buf: &mut [u8]) -> bool {
    let mut done = 0;
    while done < buf.len() {
        // SAFETY: reading into the unfilled part of a valid buffer.
        let n = unsafe { libc::read(fd, buf[done..].as_mut_ptr().cast(), buf.len() - done) };
        if n <= 0 {
            return false;
        }
        done += n as usize;
    }
    true
}

fn write_all(fd: i32, mut rest: &[u8]) -> bool {
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

/// A request of the floor's server: a u32 length, then an op byte (`s` to
/// set, `g` to get) and an i64 — framed as the reference's messages are.
fn request(op: u8, value: i64) -> [u8; 13] {
    let mut frame = [0u8; 13];
    frame[..4].copy_from_slice(&9u32.to_le_bytes());
    frame[4] = op;
    frame[5..].copy_from_slice(&value.to_le_bytes());
    frame
}

/// The floor's server: one key's value, kept so that the get's answer can
/// be checked; it ends at end of file, when the parent closes its end.
fn echo_server(fd: i32) -> ! {
    let mut held = 0i64;
    let mut header = [0u8; 4];
    let mut body = [0u8; 9];
    while read_exact(fd, &mut header) && u32::from_le_bytes(header) == 9 {
        if !read_exact(fd, &mut body) {
            break;
        }
        let given = i64::from_le_bytes(body[1..].try_into().expect("8 bytes"));
        if body[0] == b's' {
            held = given;
        }
        let mut reply = [0u8; 12];
        reply[..4].copy_from_slice(&8u32.to_le_bytes());
        reply[4..].copy_from_slice(&held.to_le_bytes());
        if !write_all(fd, &reply) {
            break;
        }
    }
    // SAFETY: _exit only ends the process.
    unsafe { libc::_exit(0) }
}

/// One request and its reply: the value the server holds.
fn round_trip(fd: i32, op: u8, value: i64) -> Result<i64, MeasureError> {
    let mut reply = [0u8; 12];
    if !write_all(fd, &request(op, value)) || !read_exact(fd, &mut reply[..4]) {
        return Err(os_error());
    }
    if !read_exact(fd, &mut reply[4..]) {
        return Err(os_error());
    }
    Ok(i64::from_le_bytes(reply[4..].try_into().expect("8 bytes")))
}

fn raw_manager(iterations: u32) -> Result<f64, MeasureError> {
    let mut fds = [0; 2];
    // SAFETY: a valid array for the two descriptors.
    if unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    } != 0
    {
        return Err(os_error());
    }
    // SAFETY: the child only closes our end, serves and exits.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: closing the child's copy of the parent's end.
        unsafe { libc::close(fds[0]) };
        echo_server(fds[1]);
    }
    // SAFETY: closing the parent's copy of the server's end, so that the
    // server sees end of file when the parent closes its own.
    unsafe { libc::close(fds[1]) };
    if pid < 0 {
        let e = os_error();
        // SAFETY: closing our own descriptor.
        unsafe { libc::close(fds[0]) };
        return Err(e);
    }
    let started = Instant::now();
    let mut result = Ok(());
    for i in 0..i64::from(iterations) {
        let got = round_trip(fds[0], b's', i).and_then(|_| round_trip(fds[0], b'g', 0));
        match got {
            Ok(got) if got == i => {}
            Ok(got) => {
                result = Err(wrong_raw(format!("the get gave {got}, not {i}")));
                break;
            }
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    let micros = per_op(started.elapsed(), 2 * u64::from(iterations));
    let mut status = 0;
    // SAFETY: closing our end (the server's end of file) and reaping it.
    unsafe {
        libc::close(fds[0]);
        libc::waitpid(pid, &mut status, 0);
    }
    result.map(|_| micros)
}

// ---- The reference, through the trait ----

fn sync(op: SyncOp) -> Call {
    Call::Sync(op)
}

fn new_lock(imp: &mut RefImpl) -> Result<Handle, MeasureError> {
    handle(imp.call(&sync(SyncOp::LockNew {
        kind: LockKind::Lock,
    }))?)
}

fn new_int(imp: &mut RefImpl) -> Result<Handle, MeasureError> {
    handle(imp.call(&sync(SyncOp::ValueNew {
        typecode: "i".into(),
        init: 0,
    }))?)
}

fn reference_uncontended(pairs: u32) -> Result<f64, MeasureError> {
    let mut imp = RefImpl::new(FaultSet::none())?;
    let lock = new_lock(&mut imp)?;
    let acquire = sync(SyncOp::Acquire {
        lock,
        block: None,
        timeout: None,
    });
    let release = sync(SyncOp::Release { lock });
    let started = Instant::now();
    for _ in 0..pairs {
        match imp.call(&acquire)? {
            Value::Bool(true) => {}
            other => return Err(wrong_reference(format!("acquire() returned {other}"))),
        }
        imp.call(&release)?;
    }
    Ok(per_op(started.elapsed(), pairs.into()))
}

fn reference_contended(times: u32) -> Result<f64, MeasureError> {
    let mut imp = RefImpl::new(FaultSet::none())?;
    let lock = new_lock(&mut imp)?;
    let count = new_int(&mut imp)?;
    let go = handle(imp.call(&sync(SyncOp::EventNew))?)?;
    let ready = [new_int(&mut imp)?, new_int(&mut imp)?];
    let mut processes = Vec::new();
    for r in ready {
        let step = |op| Step::Sync { label: None, op };
        let steps = vec![
            step(SyncOp::ValueSet { value: r, to: 1 }),
            step(SyncOp::EventWait {
                event: go,
                timeout: None,
            }),
            step(SyncOp::ValueAdd {
                value: count,
                delta: 1,
                times,
                lock: Some(lock),
            }),
        ];
        let spec = ProcessSpec {
            context: Some("fork".into()),
            ..ProcessSpec::target(Program::steps(steps))
        };
        processes.push(handle(imp.call(&Call::ProcessNew { spec })?)?);
    }
    let raced = race(&mut imp, &processes, ready, go, times);
    if raced.is_err() {
        // The implementation's end joins its children: they must not still
        // wait for the start.
        let _ = imp.call(&sync(SyncOp::EventSet { event: go }));
    }
    let micros = raced?;
    for &process in &processes {
        match imp.call(&Call::ProcessExitcode { process })? {
            Value::Int(0) => {}
            other => return Err(wrong_reference(format!("a child's exitcode is {other}"))),
        }
    }
    match imp.call(&sync(SyncOp::ValueGet { value: count }))? {
        Value::Int(n) if n == 2 * i64::from(times) => Ok(micros),
        other => Err(wrong_reference(format!(
            "the count is {other}, not {}",
            2 * times
        ))),
    }
}

/// Starts the children, waits until both are ready, then times from the
/// start signal until both are joined.
fn race(
    imp: &mut RefImpl,
    processes: &[Handle],
    ready: [Handle; 2],
    go: Handle,
    times: u32,
) -> Result<f64, MeasureError> {
    for &process in processes {
        imp.call(&Call::ProcessStart { process })?;
    }
    let deadline = Instant::now() + READY_LIMIT;
    for value in ready {
        while imp.call(&sync(SyncOp::ValueGet { value }))? != Value::Int(1) {
            if Instant::now() > deadline {
                return Err(wrong_reference("the children never became ready".into()));
            }
            std::thread::sleep(Duration::from_micros(50));
        }
    }
    let started = Instant::now();
    imp.call(&sync(SyncOp::EventSet { event: go }))?;
    for &process in processes {
        imp.call(&Call::ProcessJoin {
            process,
            timeout: None,
        })?;
    }
    Ok(per_op(started.elapsed(), 2 * u64::from(times)))
}

fn reference_manager(iterations: u32) -> Result<f64, MeasureError> {
    let mut imp = RefImpl::new(FaultSet::none())?;
    let manager = handle(imp.call(&sync(SyncOp::ManagerNew))?)?;
    let measured = dict_round_trips(&mut imp, manager, iterations);
    // Shut down whatever happened, so that no server or pymp-* directory
    // is left behind.
    let shutdown = imp.call(&sync(SyncOp::ManagerShutdown { manager }));
    let micros = measured?;
    shutdown?;
    Ok(micros)
}

fn dict_round_trips(
    imp: &mut RefImpl,
    manager: Handle,
    iterations: u32,
) -> Result<f64, MeasureError> {
    let proxy = handle(imp.call(&sync(SyncOp::ProxyNew {
        manager,
        kind: ProxyKind::Dict,
    }))?)?;
    let key = Value::Str("k".into());
    let started = Instant::now();
    for i in 0..i64::from(iterations) {
        imp.call(&sync(SyncOp::ProxySetItem {
            proxy,
            key: key.clone(),
            item: Value::Int(i),
        }))?;
        let got = imp.call(&sync(SyncOp::ProxyGetItem {
            proxy,
            key: key.clone(),
        }))?;
        if got != Value::Int(i) {
            return Err(wrong_reference(format!("d['k'] gave {got}, not {i}")));
        }
    }
    Ok(per_op(started.elapsed(), 2 * u64::from(iterations)))
}

// ---- CPython ----

const CPYTHON_SYNC: &str = r#"
import multiprocessing as mp, sys, time

def uncontended(ctx, n):
    l = ctx.Lock()
    t = time.perf_counter()
    for _ in range(n):
        l.acquire()
        l.release()
    us = (time.perf_counter() - t) * 1e6 / n
    if not l.acquire(False):
        sys.exit('wrong answer: the lock is not free')
    return us

def contend(lock, v, ready, go, n):
    ready.value = 1
    go.wait()
    for _ in range(n):
        with lock:
            v.value += 1

def contended(ctx, n):
    lock = ctx.Lock()
    v = ctx.Value('i', 0, lock=False)
    go = ctx.Event()
    ready = [ctx.Value('i', 0, lock=False) for _ in range(2)]
    ps = [ctx.Process(target=contend, args=(lock, v, r, go, n)) for r in ready]
    for p in ps:
        p.start()
    deadline = time.monotonic() + 60
    while not all(r.value for r in ready):
        if time.monotonic() > deadline:
            go.set()
            sys.exit('the children never became ready')
        time.sleep(5e-5)
    t = time.perf_counter()
    go.set()
    for p in ps:
        p.join()
    us = (time.perf_counter() - t) * 1e6 / (2 * n)
    if any(p.exitcode != 0 for p in ps):
        sys.exit('wrong answer: exitcodes %r' % [p.exitcode for p in ps])
    if v.value != 2 * n:
        sys.exit('wrong answer: the count is %d, not %d' % (v.value, 2 * n))
    return us

def manager(ctx, n):
    m = ctx.Manager()
    try:
        d = m.dict()
        t = time.perf_counter()
        for i in range(n):
            d['k'] = i
            if d['k'] != i:
                sys.exit('wrong answer: d[k] is not %d' % i)
        return (time.perf_counter() - t) * 1e6 / (2 * n)
    finally:
        m.shutdown()

if __name__ == '__main__':
    ctx = mp.get_context('fork')
    which, n = sys.argv[1], int(sys.argv[2])
    print({'uncontended': uncontended, 'contended': contended, 'manager': manager}[which](ctx, n))
"#;

fn cpython(which: SyncMeasure, ops: u32, python: &Path) -> Result<f64, MeasureError> {
    let which = match which {
        SyncMeasure::Uncontended => "uncontended",
        SyncMeasure::Contended => "contended",
        SyncMeasure::Manager => "manager",
    };
    let output = Command::new(python)
        .args(["-c", CPYTHON_SYNC, which, &ops.to_string()])
        .output()
        .map_err(|e| MeasureError::NoPython(python.into(), e))?;
    crate::bench::parse_python_output(python, output)
}
