//! Fault switches: each one breaks one behaviour the way real ports break it,
//! so the meta-test can prove that every clause can fail and every fault is
//! caught.

use std::collections::BTreeSet;
use std::fmt;

macro_rules! faults {
    ($($variant:ident = $name:literal: $imitates:literal,)*) => {
        /// One way to break the reference implementation.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Fault { $($variant,)* }

        impl Fault {
            /// Every fault, in the order `mpconform faults` lists them.
            pub const ALL: &'static [Fault] = &[$(Fault::$variant,)*];

            /// The switch's name on the command line.
            pub fn name(self) -> &'static str {
                match self { $(Fault::$variant => $name,)* }
            }

            /// The real mistake it imitates.
            pub fn imitates(self) -> &'static str {
                match self { $(Fault::$variant => $imitates,)* }
            }
        }
    };
}

faults! {
    StartTwiceForksAgain = "start-twice-forks-again":
        "start() does not check for an earlier start and forks a second child (CPython under -O)",
    StartIgnoresClosed = "start-ignores-closed":
        "start() does not check whether the process object was closed",
    StartFromAnyProcess = "start-from-any-process":
        "start() does not check that the caller created the process object",
    DaemonMayHaveChildren = "daemon-may-have-children":
        "a daemonic process is allowed to start children",
    StartSkipsCleanup = "start-skips-cleanup":
        "start() does not reap children that already ended (no _cleanup)",
    StartKeepsTarget = "start-keeps-target":
        "start() keeps its references to target and arguments (before bpo-30775)",
    ActiveChildrenNoReap = "active-children-no-reap":
        "active_children() lists the children set without polling it",
    RunConsumesTarget = "run-consumes-target":
        "run() takes the target, so a second run() does nothing",
    RunOverrideIgnored = "run-override-ignored":
        "the child calls the target instead of the overriding run()",
    IsAliveMeansStarted = "is-alive-means-started":
        "is_alive() answers whether the process was started, not whether it runs",
    JoinDoesNotReap = "join-does-not-reap":
        "join() waits for the sentinel but never calls waitpid, leaving a zombie",
    TerminateSendsSigkill = "terminate-sends-sigkill":
        "terminate() sends SIGKILL instead of SIGTERM",
    TerminateSetsExitcode = "terminate-sets-exitcode":
        "terminate() records -SIGTERM as the exit code without waiting for the child",
    SignalExitcodeUnsigned = "signal-exitcode-unsigned":
        "a death by signal s is reported as 128+s, as shells do, instead of -s",
    SysexitFromArgs = "sysexit-from-args":
        "the exit code comes from SystemExit.args (CPython up to 3.8): no argument or None gives 1",
    SysexitOutOfRangeIsOne = "sysexit-out-of-range-is-one":
        "an int exit code outside 0..255 becomes 1 instead of being taken modulo 256",
    SysexitStrNotPrinted = "sysexit-str-not-printed":
        "SystemExit with a non-int value exits 1 without writing the value to stderr",
    ErrorReportMissing = "error-report-missing":
        "an uncaught error exits 1 without the 'Process NAME:' traceback on stderr",
    OsExitRunsAtexit = "os-exit-runs-atexit":
        "_exit is implemented with exit(), so exit handlers run",
    SentinelWriteEndLeaked = "sentinel-write-end-leaked":
        "the parent keeps its copy of the sentinel's write end, so the sentinel never becomes ready",
    JoinTimeoutPollsPid = "join-timeout-polls-pid":
        "join(timeout) polls the pid before the sentinel and reaps a child whose sentinel is still held",
    ExitcodeZeroWhileRunning = "exitcode-zero-while-running":
        "waitpid's 'still running' answer (0, 0) is read as exit status 0",
    CloseRunningAllowed = "close-running-allowed":
        "close() does not check that the child has ended",
    CloseKeepsSentinel = "close-keeps-sentinel":
        "close() marks the object closed but leaves the sentinel descriptor open",
    ExitDoesNotTerminateDaemons = "exit-does-not-terminate-daemons":
        "at a process's end, daemonic children are joined instead of terminated",
    ExitDoesNotAwaitChildren = "exit-does-not-await-children":
        "at a process's end, non-daemonic children are not joined",
    NamesCountFromZero = "names-count-from-zero":
        "the per-process counter starts at 0 ('Process-0')",
    ChildCounterNotReset = "child-counter-not-reset":
        "a child keeps its parent's counter instead of starting again at 1",
    NameIgnoresClass = "name-ignores-class":
        "every process is named 'Process-N', whatever its class",
    ParentProcessIsSelf = "parent-process-is-self":
        "parent_process() reports the current process (getpid instead of the parent's pid)",
    ForkChildSeesOwnPid = "fork-child-sees-own-pid":
        "fork() returns the child's own pid in the child instead of 0",
    ForkChildClosesInheritedFds = "fork-child-closes-inherited-fds":
        "the child closes inherited descriptors after fork, as subprocess's close_fds does",
    WaitReturnsExitcode = "wait-returns-exitcode-not-status":
        "wait() and waitpid() return the decoded exit code instead of the raw status",
    WnohangReturnsNone = "wnohang-returns-none":
        "waitpid with WNOHANG returns None instead of (0, 0) while no child has ended",
    WaitpidNoReap = "waitpid-no-reap":
        "waitpid looks at an ended child without reaping it (WNOWAIT), so it is reported again",
    EchildAsZeroTuple = "echild-as-zero-tuple":
        "waitpid with no child returns (0, 0) instead of failing with ECHILD",
    JoinIgnoresTimeout = "join-ignores-timeout":
        "join(timeout) waits for the child to end whatever the timeout (a hang)",
    WaitpidAbortsOnEchild = "waitpid-aborts-on-echild":
        "waitpid's error is unwrapped, so ECHILD aborts the whole process (a crash)",
    SigchldIgnored = "sigchld-ignored":
        "SIGCHLD is set to SIG_IGN, so the kernel reaps children at once",
    DuplexPipeOneWay = "duplex-pipe-one-way":
        "Pipe() is built on os.pipe() even when duplex, so its first end cannot send",
    OneWayPipeEndsSwapped = "one-way-pipe-ends-swapped":
        "Pipe(duplex=False) returns (send end, receive end), in the order of a (writer, reader) pair",
    RecvReadsAhead = "recv-reads-ahead":
        "recv() reads every message available and keeps only the first (a buffered reader dropped after each call)",
    FunctionsTravelByValue = "functions-travel-by-value":
        "functions are serialized with their code (dill's way), so they arrive where their module is missing",
    QueuePicklableAnywhere = "queue-picklable-anywhere":
        "a queue can be serialized outside process creation, as if inheritance were not required",
    NonpositiveMaxsizeLiteral = "nonpositive-maxsize-literal":
        "maxsize <= 0 is taken literally: the queue has no slot, so every put is Full",
    FeederStartedEagerly = "feeder-started-eagerly":
        "the feeder thread starts when the queue is made, not at the first put",
    FeederStopsAtLookalike = "feeder-stops-at-lookalike":
        "the feeder stops at any object() (seed 004's reading), not only at the queue's private sentinel",
    FeederDiesOnUnserializable = "feeder-dies-on-unserializable":
        "the feeder thread ends at an item it cannot serialize, so the queue stops delivering",
    UnserializableKeepsSlot = "unserializable-keeps-slot":
        "an item that cannot be serialized keeps its slot (CPython 3.6), so a bounded queue shrinks",
    FeederReversesBatches = "feeder-reverses-batches":
        "the feeder writes what it gathered last-in first-out, so get() is not FIFO",
    CloseDropsBufferedTail = "close-drops-buffered-tail":
        "close() throws away what the feeder has not written yet",
    CloseSendsNoSentinel = "close-sends-no-sentinel":
        "close() marks the queue closed without buffering the sentinel, so the feeder never ends",
    FeederLeavesReaderOpen = "feeder-leaves-reader-open":
        "at the sentinel the feeder closes only the writer, as up to 3.8 when close() had closed the reader: a port that dropped close()'s reader close without giving it to the feeder (3.9's reader_close) leaks a descriptor per closed queue",
    CloseClosesReader = "close-closes-reader":
        "close() closes the reader at once (CPython up to 3.8, Queue.close), before the feeder has written what was put",
    PutOnClosedQueueSucceeds = "put-on-closed-queue-succeeds":
        "put() and get() do not check whether the queue was closed",
    SimpleQueueTakesTimeout = "simple-queue-takes-timeout":
        "SimpleQueue's put and get accept block and timeout, like Queue's",
    TimeoutsNotWaited = "timeouts-not-waited":
        "put and get with a timeout give up at once (Full, Empty) instead of after the timeout",
    RecvEofReturnsNone = "recv-eof-returns-none":
        "recv() at the end of the pipe returns None instead of raising EOFError",
    JoinWaitsWithoutChecking = "join-waits-without-checking":
        "JoinableQueue.join() waits for a wake-up without first checking the count, so at zero it waits for ever",
    QsizeNotImplemented = "qsize-not-implemented":
        "qsize() raises NotImplementedError (CPython on macOS, which lacks sem_getvalue)",
    JoinThreadBeforeCloseAllowed = "join-thread-before-close-allowed":
        "join_thread() before close() returns instead of failing",
    TaskDoneUnbounded = "task-done-unbounded":
        "task_done() does not check the count, which goes below zero",
    UnfinishedCountPerProcess = "unfinished-count-per-process":
        "the unfinished-task count lives in each process's memory, so a child's task_done never reaches the parent",
    UnfinishedCountCopiedWakeShared = "unfinished-count-copied-wake-shared":
        "the unfinished-task count is a plain number copied into each child (queue.Queue's unfinished_tasks) while task_done's wake-up goes through a shared condition: a joiner already waiting is woken by a child's task_done and returns without rechecking (`if`, as CPython's join), but a join begun after it waits for ever",
    PutAddsNoTask = "put-adds-no-task":
        "put() on a JoinableQueue does not add an unfinished task",
    JoinReturnsBeforeZero = "join-returns-before-zero":
        "JoinableQueue.join() returns without waiting for the count to reach zero",
    QueueNotResetAfterFork = "queue-not-reset-after-fork":
        "a child started by multiprocessing keeps its parent's feeder state, so its puts go to a feeder that does not exist there",
    NoFlushAtExit = "no-flush-at-exit":
        "a process ends without waiting for its feeders to flush, losing what they buffered",
    ModuleOffersLifoQueue = "module-offers-lifo-queue":
        "the module offers a LifoQueue, which CPython's multiprocessing does not",
    ThreadQueueShared = "thread-queue-shared":
        "queue.Queue is backed by a pipe, so a child's puts reach the parent",
    SpawnInheritsState = "spawn-inherits-state":
        "a spawn child is handed the parent's main-module state, as if it had been forked",
    ContextIgnoresMethod = "context-ignores-method":
        "get_context(method).Process starts its children by the default method, not its own",
    StartMethodSetTwice = "start-method-set-twice":
        "set_start_method() does not check whether a start method is already fixed",
    DefaultFixedTooEarly = "default-fixed-too-early":
        "the default start method is fixed when the module is loaded, so get_start_method(allow_none=True) never gives None",
    NoFlushBeforeFork = "no-flush-before-fork":
        "start() forks without flushing standard output, so a fork child prints the parent's buffered text again",
    ForkChildFreshMain = "fork-child-fresh-main":
        "a fork child starts from fresh main-module state, as a spawned one does, so it loses what the parent bound under __main__",
    SpawnOwnMarker = "spawn-own-marker":
        "a spawned child is marked with a marker of the port's own (billiard's --billiard-fork), which spawn.is_forking() and freeze_support() do not recognise",
    StartMethodsDefaultLast = "start-methods-default-last":
        "get_all_start_methods() lists the methods in a fixed order that does not begin with the default",
    ParentAtexitInForkChild = "parent-atexit-in-fork-child":
        "a fork child keeps the exit handlers it inherited, so the parent's handlers run in it (popen_fork without atexit._clear)",
    LockPerProcess = "lock-per-process":
        "a Lock's state lives in each process's private memory (a threading lock copied by fork), so it excludes nobody else",
    RlockAnyRelease = "rlock-any-release":
        "RLock.release() does not check the owner, so any process may release a recursive lock another holds",
    PlainLockReenters = "plain-lock-reenters":
        "a plain Lock is re-entrant for its holder, as an RLock is",
    EventWakesOne = "event-wakes-one":
        "Event.set() wakes one waiter (notify instead of notify_all), so the other waiters sleep on",
    ValueCopied = "value-copied":
        "Value lives in private memory, so each process has its own copy and no write is seen by another",
    ManagerLocalCopies = "manager-local-copies":
        "a Manager's proxies keep a local copy of the referent instead of asking the server, so no change crosses processes",
    ManagerOutlivesOwner = "manager-outlives-owner":
        "a Manager's server process is not shut down when the process that made it ends (no finalizer), and lingers",
    ChildThreadsNotJoined = "child-threads-not-joined":
        "a child exits as soon as its target returns, killing its non-daemonic threads (2.7 and 3.6: no threading._shutdown() in _bootstrap)",
    SemaphoreLeftInShm = "semaphore-left-in-shm":
        "a lock's named semaphore is never unlinked from /dev/shm (billiard #293), so each lock leaves a file behind",
    PoolOneWorker = "pool-one-worker":
        "Pool(processes=n) starts one worker whatever n is (processes read as a flag)",
    PoolResultToOldestHandle = "pool-result-to-oldest-handle":
        "a result is delivered to the oldest waiting handle, not to the one its job belongs to (results matched by arrival order)",
    PoolApplyReturnsAtOnce = "pool-apply-returns-at-once":
        "apply() returns as soon as the task is sent, with None, instead of waiting for the result (apply_async without .get())",
    PoolJoinWithoutClose = "pool-join-without-close":
        "join() on a running pool returns at once instead of raising (no state check, as before the 3.7 ValueError)",
    PoolWorkersLeftAfterJoin = "pool-workers-left-after-join":
        "join() returns once the results are in, leaving the workers running and unreaped (billiard #419's workers that do not exit)",
    PoolInitializerPerTask = "pool-initializer-per-task":
        "the initializer runs before every task instead of once as the worker starts",
    PoolMaxtasksIgnored = "pool-maxtasksperchild-ignored":
        "maxtasksperchild is accepted and ignored: a worker never exits to be replaced",
    PoolWorkerDiesLosingTask = "pool-worker-dies-losing-task":
        "a worker dies silently on taking its second task, which is lost: its result never comes",
    PoolWorkersKeepProcessNames = "pool-workers-keep-process-names":
        "workers keep their Process names (ForkProcess-N): the PoolWorker rename is forgotten",
}

impl Fault {
    /// The fault with this name.
    pub fn from_name(name: &str) -> Option<Fault> {
        Fault::ALL.iter().copied().find(|f| f.name() == name)
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The faults switched on for one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultSet(BTreeSet<Fault>);

impl FaultSet {
    pub fn none() -> Self {
        FaultSet::default()
    }

    pub fn with(faults: impl IntoIterator<Item = Fault>) -> Self {
        FaultSet(faults.into_iter().collect())
    }

    /// The names of the faults switched on.
    pub fn names(&self) -> Vec<String> {
        self.0.iter().map(|f| f.name().to_string()).collect()
    }

    pub fn has(&self, fault: Fault) -> bool {
        self.0.contains(&fault)
    }
}
