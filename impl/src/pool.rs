//! `multiprocessing.Pool` as CPython 3.13's `multiprocessing.pool` builds
//! it, without its three handler threads: workers are daemonic process
//! objects of the pool's context, renamed `...PoolWorker-N`; tasks go down
//! one pipe that the workers read under a shared lock, results come back up
//! another that they write under a second lock. What the handler threads do
//! in CPython (feeding tasks, collecting results, replacing workers that
//! ended) the owner does inside every pool call instead, so the workers of
//! an idle pool are replaced at its owner's next call.

use crate::faults::Fault;
use crate::pool_codec::{self as codec, Order};
use crate::shared::SharedSem;
use crate::sys::os_error;
use crate::RefImpl;
use mpconform_spec::{
    CallError, ErrorKind, Handle, PoolOp, ProcessSpec, PyError, Step, Task, TaskReturn, Value,
};
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::Instant;

/// What a worker needs to know, by fork or in the spawn hand-over: its
/// ends of the two pipes (inherited at the same numbers) and where the two
/// locks are in the arena.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct WorkerSetup {
    pub tasks: RawFd,
    pub results: RawFd,
    pub read_lock: usize,
    pub write_lock: usize,
    pub initializer: Option<Vec<Step>>,
    pub maxtasks: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Run,
    Close,
    Terminate,
}

/// The owner's side of a pool.
pub(crate) struct PoolObject {
    state: State,
    processes: u32,
    workers: Vec<Handle>,
    setup: WorkerSetup,
    /// The workers' ends, kept open for the workers still to come.
    _tasks_read: OwnedFd,
    _results_write: OwnedFd,
    tasks_write: OwnedFd,
    results_read: OwnedFd,
    _read_lock: SharedSem,
    _write_lock: SharedSem,
    /// Bytes of orders not yet written (the pipe was full).
    outgoing: Vec<u8>,
    /// Bytes of answers read but not yet a whole message.
    incoming: Vec<u8>,
    next_job: u64,
    /// Jobs sent whose answer has not come.
    pending: BTreeSet<u64>,
    answers: BTreeMap<u64, Result<Value, PyError>>,
}

/// What `apply_async` gave: which pool, which job.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ResultHandle {
    pool: Handle,
    job: u64,
}

fn value_error(message: &str) -> CallError {
    CallError::Raised(PyError::new(ErrorKind::ValueError, message))
}

fn broken(what: &str, e: impl std::fmt::Display) -> CallError {
    CallError::Broken(format!("{what}: {e}"))
}

fn set_nonblocking(fd: &OwnedFd) -> Result<(), PyError> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let flags = fcntl(fd.as_fd(), FcntlArg::F_GETFL).map_err(os_error)?;
    let flags = OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK;
    fcntl(fd.as_fd(), FcntlArg::F_SETFL(flags)).map_err(os_error)?;
    Ok(())
}

impl RefImpl {
    pub(crate) fn pool_op(&mut self, op: &PoolOp) -> Result<Value, CallError> {
        match op {
            PoolOp::PoolNew {
                processes,
                initializer,
                maxtasksperchild,
            } => self.pool_new(*processes, initializer.clone(), *maxtasksperchild),
            PoolOp::Apply { pool, task } => {
                let job = self.submit(*pool, task, None)?;
                if self.fault(Fault::PoolApplyReturnsAtOnce) {
                    return Ok(Value::None);
                }
                self.outcome(*pool, job, None)
            }
            PoolOp::ApplyAsync { pool, task } => {
                let job = self.submit(*pool, task, None)?;
                let h = self.handle();
                self.pool_results
                    .insert(h, ResultHandle { pool: *pool, job });
                Ok(Value::Handle(h))
            }
            PoolOp::ResultGet { result, timeout } => {
                let r = self.result_handle(*result)?;
                let deadline = timeout.map(|t| Instant::now() + crate::sys::seconds(t));
                self.outcome(r.pool, r.job, deadline)
            }
            PoolOp::ResultReady { result } => {
                let r = self.result_handle(*result)?;
                self.pump(r.pool, Some(Instant::now()), |_| false)?;
                Ok(Value::Bool(self.pool(r.pool)?.answers.contains_key(&r.job)))
            }
            PoolOp::Map {
                pool,
                task,
                items,
                chunksize,
            } => self.map(*pool, task, items, *chunksize),
            PoolOp::Close { pool } => {
                let p = self.pool_mut(*pool)?;
                if p.state == State::Run {
                    p.state = State::Close;
                }
                Ok(Value::None)
            }
            PoolOp::Terminate { pool } => self.pool_terminate(*pool),
            PoolOp::Join { pool } => self.pool_join(*pool),
            other => Err(CallError::Unsupported(format!(
                "the reference does not know {other:?}"
            ))),
        }
    }

    fn pool(&self, h: Handle) -> Result<&PoolObject, CallError> {
        self.pools
            .get(&h)
            .ok_or_else(|| CallError::Broken(format!("no pool {h}")))
    }

    fn pool_mut(&mut self, h: Handle) -> Result<&mut PoolObject, CallError> {
        self.pools
            .get_mut(&h)
            .ok_or_else(|| CallError::Broken(format!("no pool {h}")))
    }

    fn result_handle(&self, h: Handle) -> Result<ResultHandle, CallError> {
        self.pool_results
            .get(&h)
            .copied()
            .ok_or_else(|| CallError::Broken(format!("no pool result {h}")))
    }

    /// `Pool.__init__`: its checks in CPython's order, the pipes and locks,
    /// then the workers.
    fn pool_new(
        &mut self,
        processes: Option<u32>,
        initializer: Option<Vec<Step>>,
        maxtasks: Option<u32>,
    ) -> Result<Value, CallError> {
        let processes = match processes {
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
        };
        if processes < 1 {
            return Err(value_error("Number of processes must be at least 1"));
        }
        if maxtasks == Some(0) {
            return Err(value_error(
                "maxtasksperchild must be a positive int or None",
            ));
        }
        let processes = if self.fault(Fault::PoolOneWorker) {
            1
        } else {
            processes
        };
        let (tasks_read, tasks_write) = crate::sys::pipe()?;
        let (results_read, results_write) = crate::sys::pipe()?;
        set_nonblocking(&tasks_write)?;
        set_nonblocking(&results_read)?;
        let read_lock = SharedSem::new(1, 1)?;
        let write_lock = SharedSem::new(1, 1)?;
        let setup = WorkerSetup {
            tasks: tasks_read.as_raw_fd(),
            results: results_write.as_raw_fd(),
            read_lock: read_lock.offset(),
            write_lock: write_lock.offset(),
            initializer,
            maxtasks,
        };
        let h = self.handle();
        self.pools.insert(
            h,
            PoolObject {
                state: State::Run,
                processes,
                workers: Vec::new(),
                setup,
                _tasks_read: tasks_read,
                _results_write: results_write,
                tasks_write,
                results_read,
                _read_lock: read_lock,
                _write_lock: write_lock,
                outgoing: Vec::new(),
                incoming: Vec::new(),
                next_job: 0,
                pending: BTreeSet::new(),
                answers: BTreeMap::new(),
            },
        );
        for _ in 0..processes {
            self.start_worker(h)?;
        }
        Ok(Value::Handle(h))
    }

    /// `Pool.Process(ctx, target=worker, ...)`, renamed and daemonic, started.
    fn start_worker(&mut self, pool: Handle) -> Result<(), CallError> {
        let method = self.fixed_method();
        let spec = ProcessSpec {
            daemon: Some(true),
            context: Some(method),
            ..ProcessSpec::default()
        };
        let w = self.new_process(&spec);
        let setup = self.pool(pool)?.setup.clone();
        let keep_names = self.fault(Fault::PoolWorkersKeepProcessNames);
        let object = self.processes.get_mut(&w).expect("just made");
        if !keep_names {
            object.name = object.name.replace("Process", "PoolWorker");
        }
        object.pool_worker = Some(setup);
        self.start(w)?;
        self.pool_mut(pool)?.workers.push(w);
        Ok(())
    }

    fn submit(
        &mut self,
        pool: Handle,
        task: &Task,
        items: Option<&[Value]>,
    ) -> Result<u64, CallError> {
        let owner = nix::unistd::getpid();
        let gates = task
            .steps
            .iter()
            .filter_map(|step| match step {
                Step::WaitGate { gate } => self.gates.get(gate).map(|g| {
                    let path = |fd: &OwnedFd| format!("/proc/{owner}/fd/{}", fd.as_raw_fd());
                    (*gate, path(&g.read), path(&g.write))
                }),
                _ => None,
            })
            .collect();
        let p = self.pool_mut(pool)?;
        if p.state != State::Run {
            return Err(value_error("Pool not running"));
        }
        let job = p.next_job;
        p.next_job += 1;
        p.pending.insert(job);
        p.outgoing
            .extend_from_slice(&codec::run(job, task, gates, items));
        flush(p)?;
        Ok(job)
    }

    /// Waits until the job's answer has come (or `deadline`), then gives it.
    fn outcome(
        &mut self,
        pool: Handle,
        job: u64,
        deadline: Option<Instant>,
    ) -> Result<Value, CallError> {
        if !self.pump(pool, deadline, |p| p.answers.contains_key(&job))? {
            // multiprocessing.TimeoutError(), raised with no message.
            return Err(CallError::Raised(PyError::new(
                ErrorKind::Other("TimeoutError".into()),
                "",
            )));
        }
        match &self.pool(pool)?.answers[&job] {
            Ok(v) => Ok(v.clone()),
            Err(e) => Err(CallError::Raised(e.clone())),
        }
    }

    /// `Pool.map`: CPython's chunks (`divmod(len, 4 * workers)`, rounded
    /// up), each one job, their lists joined in order.
    fn map(
        &mut self,
        pool: Handle,
        task: &Task,
        items: &[Value],
        chunksize: Option<u32>,
    ) -> Result<Value, CallError> {
        let p = self.pool(pool)?;
        if p.state != State::Run {
            return Err(value_error("Pool not running"));
        }
        if items.is_empty() {
            return Ok(Value::List(Vec::new()));
        }
        let size = match chunksize {
            Some(n) => n.max(1) as usize,
            None => {
                let per = p.processes as usize * 4;
                items.len().div_ceil(per)
            }
        };
        let jobs = items
            .chunks(size)
            .map(|chunk| self.submit(pool, task, Some(chunk)))
            .collect::<Result<Vec<u64>, CallError>>()?;
        let mut all = Vec::with_capacity(items.len());
        for job in jobs {
            self.pump(pool, None, |p| p.answers.contains_key(&job))?;
            let answer = self.pool_mut(pool)?.answers.remove(&job);
            match answer
                .expect("pumped until it came")
                .map_err(CallError::Raised)?
            {
                Value::List(part) => all.extend(part),
                other => return Err(broken("a map chunk's answer", format!("{other:?}"))),
            }
        }
        Ok(Value::List(all))
    }

    /// `Pool.join`: a running pool refuses; a closed one finishes its jobs,
    /// then each worker gets the sentinel and is joined.
    fn pool_join(&mut self, pool: Handle) -> Result<Value, CallError> {
        match self.pool(pool)?.state {
            State::Run if self.fault(Fault::PoolJoinWithoutClose) => return Ok(Value::None),
            State::Run => return Err(value_error("Pool is still running")),
            State::Close => {
                self.pump(pool, None, |p| p.pending.is_empty())?;
                if self.fault(Fault::PoolWorkersLeftAfterJoin) {
                    return Ok(Value::None);
                }
                let p = self.pool_mut(pool)?;
                for _ in 0..p.workers.len() {
                    p.outgoing.extend_from_slice(&codec::stop());
                }
                self.pump(pool, None, |p| p.outgoing.is_empty())?;
            }
            State::Terminate => {}
        }
        for w in std::mem::take(&mut self.pool_mut(pool)?.workers) {
            self.join(w, None)?;
        }
        Ok(Value::None)
    }

    /// `Pool.terminate`: every worker still running gets SIGTERM, then all
    /// are joined; jobs without an answer never get one.
    fn pool_terminate(&mut self, pool: Handle) -> Result<Value, CallError> {
        let p = self.pool_mut(pool)?;
        p.state = State::Terminate;
        p.outgoing.clear();
        let workers = std::mem::take(&mut p.workers);
        for w in &workers {
            if self.is_alive(*w)? {
                self.terminate(*w)?;
            }
        }
        for w in workers {
            self.join(w, None)?;
        }
        Ok(Value::None)
    }

    /// The handler threads' work, done by the owner: write what is waiting
    /// to be sent, read what has come, replace workers that ended, until
    /// `done` holds (true) or `deadline` passes (false).
    fn pump(
        &mut self,
        pool: Handle,
        deadline: Option<Instant>,
        done: impl Fn(&PoolObject) -> bool,
    ) -> Result<bool, CallError> {
        loop {
            let to_oldest = self.fault(Fault::PoolResultToOldestHandle);
            {
                let p = self.pool_mut(pool)?;
                flush(p)?;
                receive(p, to_oldest)?;
            }
            self.maintain(pool)?;
            let p = self.pool(pool)?;
            if done(p) {
                return Ok(true);
            }
            let wait = match deadline {
                None => PollTimeout::NONE,
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(false);
                    }
                    let millis = left.as_nanos().div_ceil(1_000_000);
                    PollTimeout::try_from(millis.min(i32::MAX as u128) as i32)
                        .unwrap_or(PollTimeout::MAX)
                }
            };
            let sentinels: Vec<BorrowedFd<'_>> = p
                .workers
                .iter()
                .filter_map(|w| self.processes.get(w)?.popen.as_ref())
                .map(|popen| popen.sentinel.as_fd())
                .collect();
            let mut fds = vec![PollFd::new(p.results_read.as_fd(), PollFlags::POLLIN)];
            if !p.outgoing.is_empty() {
                fds.push(PollFd::new(p.tasks_write.as_fd(), PollFlags::POLLOUT));
            }
            fds.extend(
                sentinels
                    .into_iter()
                    .map(|fd| PollFd::new(fd, PollFlags::POLLIN)),
            );
            match poll(&mut fds, wait) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => return Err(os_error(e).into()),
            }
        }
    }

    /// `Pool._maintain_pool`: workers that ended are joined and, while the
    /// pool runs or still has jobs, replaced.
    fn maintain(&mut self, pool: Handle) -> Result<(), CallError> {
        let workers = self.pool(pool)?.workers.clone();
        let mut ended = Vec::new();
        for w in workers {
            let popen = self.processes.get(&w).and_then(|o| o.popen.as_ref());
            let gone = popen.is_some_and(|p| {
                crate::sys::readable(p.sentinel.as_fd(), Some(std::time::Duration::ZERO))
                    .unwrap_or(true)
            });
            if gone {
                self.join(w, None)?;
                ended.push(w);
            }
        }
        if ended.is_empty() {
            return Ok(());
        }
        let p = self.pool_mut(pool)?;
        p.workers.retain(|w| !ended.contains(w));
        let refill = p.state == State::Run || (p.state == State::Close && !p.pending.is_empty());
        if refill {
            for _ in 0..ended.len() {
                self.start_worker(pool)?;
            }
        }
        Ok(())
    }

    /// `pool.worker`, in a worker process: the initializer once, then tasks
    /// until the sentinel or `maxtasks`; then the process's exit path.
    pub(crate) fn run_worker(&mut self, setup: WorkerSetup) -> ! {
        // Forgotten, not dropped: the owner's pipe ends it holds are this
        // worker's own ends too.
        std::mem::forget(std::mem::take(&mut self.pools));
        self.pool_results.clear();
        // SAFETY: the pool's owner handed these descriptors to its workers,
        // open for their whole life.
        let tasks = unsafe { BorrowedFd::borrow_raw(setup.tasks) };
        let results = unsafe { BorrowedFd::borrow_raw(setup.results) };
        let locks =
            SharedSem::at(setup.read_lock).and_then(|r| Ok((r, SharedSem::at(setup.write_lock)?)));
        let Ok((read_lock, write_lock)) = locks else {
            crate::sys::exit_now(1)
        };
        let initializer = setup.initializer.unwrap_or_default();
        if self.run_steps(&initializer).is_err() {
            crate::sys::exit_now(1);
        }
        let maxtasks = setup
            .maxtasks
            .filter(|_| !self.fault(Fault::PoolMaxtasksIgnored));
        let mut completed: u32 = 0;
        while maxtasks.is_none_or(|m| completed < m) {
            read_lock.acquire(true, None);
            let order = crate::wire::read_frame(tasks);
            let _ = read_lock.release();
            let Ok(order) = order else { break };
            let Ok(Order::Run {
                job,
                task,
                items,
                gates,
            }) = codec::order(&order)
            else {
                break;
            };
            self.adopt_gates(gates);
            if completed == 1 && self.fault(Fault::PoolWorkerDiesLosingTask) {
                crate::sys::exit_now(0);
            }
            if completed > 0 && self.fault(Fault::PoolInitializerPerTask) {
                let _ = self.run_steps(&initializer);
            }
            let outcome = match items {
                None => self.run_task(&task, Value::None),
                Some(items) => items
                    .into_iter()
                    .map(|item| self.run_task(&task, item))
                    .collect::<Result<Vec<Value>, PyError>>()
                    .map(Value::List),
            };
            let answer = codec::answer(job, &outcome);
            write_lock.acquire(true, None);
            let sent = crate::sys::write_all(results, &answer);
            let _ = write_lock.release();
            if sent.is_err() {
                break;
            }
            completed += 1;
        }
        crate::child::flush_std_streams();
        self.run_atexit();
        self.exit_function();
        crate::sys::exit_now(0)
    }

    /// Opens, by path, the gates this process has no copy of.
    fn adopt_gates(&mut self, gates: Vec<(Handle, String, String)>) {
        use nix::fcntl::{open, OFlag};
        use nix::sys::stat::Mode;
        for (h, read, write) in gates {
            if self.gates.contains_key(&h) {
                continue;
            }
            let flags = OFlag::O_CLOEXEC;
            let ends = open(read.as_str(), flags | OFlag::O_RDONLY, Mode::empty()).and_then(|r| {
                Ok((
                    r,
                    open(write.as_str(), flags | OFlag::O_WRONLY, Mode::empty())?,
                ))
            });
            if let Ok((read, write)) = ends {
                self.gates.insert(h, crate::channels::Gate { read, write });
            }
        }
    }

    fn run_task(&mut self, task: &Task, item: Value) -> Result<Value, PyError> {
        self.run_steps(&task.steps)?;
        match &task.returns {
            TaskReturn::Value(v) => Ok(v.clone()),
            TaskReturn::Probe(p) => self.probe(p),
            TaskReturn::Item => Ok(item),
            other => Err(PyError::new(
                ErrorKind::Other("NotImplementedError".into()),
                format!("the reference cannot return {other:?}"),
            )),
        }
    }
}

/// Writes as much of the waiting orders as the pipe takes now.
fn flush(p: &mut PoolObject) -> Result<(), CallError> {
    while !p.outgoing.is_empty() {
        match nix::unistd::write(p.tasks_write.as_fd(), &p.outgoing) {
            Ok(n) => {
                p.outgoing.drain(..n);
            }
            Err(Errno::EINTR) => continue,
            Err(Errno::EAGAIN) => break,
            Err(e) => return Err(os_error(e).into()),
        }
    }
    Ok(())
}

/// Reads every answer that has come, and files each under its job (or,
/// under the fault, under the oldest job still waiting).
fn receive(p: &mut PoolObject, to_oldest: bool) -> Result<(), CallError> {
    let mut buf = [0u8; 65536];
    loop {
        match nix::unistd::read(p.results_read.as_fd(), &mut buf) {
            Ok(0) => break,
            Ok(n) => p.incoming.extend_from_slice(&buf[..n]),
            Err(Errno::EINTR) => continue,
            Err(Errno::EAGAIN) => break,
            Err(e) => return Err(os_error(e).into()),
        }
    }
    let mut at = 0;
    while p.incoming.len() >= at + 4 {
        let len = u32::from_be_bytes(p.incoming[at..at + 4].try_into().expect("4 bytes")) as usize;
        if p.incoming.len() < at + 4 + len {
            break;
        }
        let (answered, outcome) = codec::read_answer(&p.incoming[at + 4..at + 4 + len])
            .map_err(|e| broken("a worker's answer", e.0))?;
        at += 4 + len;
        let job = if to_oldest {
            p.pending.first().copied().unwrap_or(answered)
        } else {
            answered
        };
        p.pending.remove(&job);
        p.answers.insert(job, outcome);
    }
    p.incoming.drain(..at);
    Ok(())
}
