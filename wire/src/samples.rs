//! One value of every [`Call`] and [`Step`] variant, for pinning their wire
//! form (tests/wire_form.rs). The matches below have no wildcard, so a new
//! variant does not compile until it has a sample here, and so a snapshot.

use crate::{
    Call, Ending, ExitArg, Handle, IpcOp, Item, PoolOp, Probe, ProcessSpec, Program, QueueKind,
    Step, SyncOp, Value,
};

/// A sample of every call, in declaration order.
pub fn calls() -> Vec<Call> {
    let h = Handle(1);
    let all = vec![
        Call::UseStartMethod {
            method: "spawn".into(),
        },
        Call::SetStartMethod {
            method: Some("fork".into()),
            force: false,
        },
        Call::GetStartMethod { allow_none: true },
        Call::GetAllStartMethods,
        Call::ContextStartMethod {
            method: Some("spawn".into()),
        },
        Call::SetMainGlobal {
            name: "state".into(),
            value: Value::Str("set in main".into()),
        },
        Call::AtexitRegister {
            label: "parent-exit".into(),
        },
        Call::GateNew,
        Call::GateOpen { gate: h },
        Call::AwaitReport {
            label: "ready".into(),
            timeout: 5.0,
        },
        Call::ReportsSoFar,
        Call::ProcessNew {
            spec: ProcessSpec::target(Program::steps(vec![Step::WaitGate { gate: h }])),
        },
        Call::ProcessStart { process: h },
        Call::ProcessRun { process: h },
        Call::ProcessJoin {
            process: h,
            timeout: Some(5.0),
        },
        Call::ProcessIsAlive { process: h },
        Call::ProcessPid { process: h },
        Call::ProcessExitcode { process: h },
        Call::ProcessName { process: h },
        Call::ProcessDaemon { process: h },
        Call::ProcessRepr { process: h },
        Call::ProcessTerminate { process: h },
        Call::ProcessKill { process: h },
        Call::ProcessClose { process: h },
        Call::ProcessSentinel { process: h },
        Call::ProcessSentinelReady {
            process: h,
            timeout: 0.0,
        },
        Call::ProcessHoldsTarget { process: h },
        Call::ProcessStderr { process: h },
        Call::ProcessStdout { process: h },
        Call::ActiveChildren,
        Call::ChildrenSet,
        Call::CurrentProcessName,
        Call::ParentProcessPid,
        Call::OsGetpid,
        Call::OsFork {
            child: Program::ending(Ending::OsExit(3)),
        },
        Call::OsWait,
        Call::OsWaitpid {
            pid: 42,
            nohang: true,
        },
        Call::OsWaitstatusToExitcode { status: 256 },
        Call::OsPipe,
        Call::OsClose { fd: h },
        Call::OsWrite {
            fd: h,
            data: b"hi".to_vec(),
        },
        Call::OsRead {
            fd: h,
            max: 16,
            timeout: 1.0,
        },
        Call::OsReadable {
            fd: h,
            timeout: 0.5,
        },
        Call::OsKill {
            pid: 42,
            signal: 15,
        },
        Call::Ipc(IpcOp::QueueNew {
            kind: QueueKind::Joinable,
            maxsize: Some(2),
        }),
        Call::Sync(SyncOp::Acquire {
            lock: h,
            block: Some(true),
            timeout: Some(0.5),
        }),
        Call::Pool(PoolOp::ApplyAsync {
            pool: Handle(1),
            task: crate::Task::returning(Value::Int(1)),
        }),
    ];
    for call in &all {
        covers_call(call);
    }
    all
}

/// A sample of every step, in declaration order.
pub fn steps() -> Vec<Step> {
    let h = Handle(1);
    let all = vec![
        Step::Report {
            label: "pid".into(),
            probe: Probe::Pid,
        },
        Step::Report {
            label: "state".into(),
            probe: Probe::MainGlobal("state".into()),
        },
        Step::WaitGate { gate: h },
        Step::Start {
            label: "started".into(),
            spec: Box::new(ProcessSpec::target(Program::ending(Ending::SysExit(
                ExitArg::Int(3),
            )))),
        },
        Step::StartInherited {
            label: "inherited".into(),
            process: h,
        },
        Step::ForkHolder {
            label: "holder".into(),
            gate: h,
        },
        Step::AtexitReport {
            label: "atexit".into(),
        },
        Step::Print {
            text: "printed once".into(),
        },
        Step::SetMainGlobal {
            name: "state".into(),
            value: Value::Int(2),
        },
        Step::CloseFd { fd: h },
        Step::WriteFd {
            fd: h,
            data: b"x".to_vec(),
        },
        Step::Ipc {
            label: Some("put".into()),
            op: IpcOp::Put {
                queue: h,
                item: Item::Data(Value::Int(1)),
                block: Some(false),
                timeout: None,
            },
        },
        Step::Sync {
            label: Some("added".into()),
            op: SyncOp::ValueAdd {
                value: h,
                delta: -1,
                times: 1000,
                lock: Some(Handle(2)),
            },
        },
        Step::Thread {
            daemon: true,
            steps: vec![Step::WaitGate { gate: h }],
        },
        Step::Drain {
            label: "drained".into(),
            from: h,
            stop: Value::None,
            task_done: true,
        },
    ];
    for step in &all {
        covers_step(step);
    }
    all
}

/// Does not compile when a call has no sample above.
fn covers_call(call: &Call) {
    match call {
        Call::UseStartMethod { .. }
        | Call::SetStartMethod { .. }
        | Call::GetStartMethod { .. }
        | Call::GetAllStartMethods
        | Call::ContextStartMethod { .. }
        | Call::SetMainGlobal { .. }
        | Call::AtexitRegister { .. }
        | Call::GateNew
        | Call::GateOpen { .. }
        | Call::AwaitReport { .. }
        | Call::ReportsSoFar
        | Call::ProcessNew { .. }
        | Call::ProcessStart { .. }
        | Call::ProcessRun { .. }
        | Call::ProcessJoin { .. }
        | Call::ProcessIsAlive { .. }
        | Call::ProcessPid { .. }
        | Call::ProcessExitcode { .. }
        | Call::ProcessName { .. }
        | Call::ProcessDaemon { .. }
        | Call::ProcessRepr { .. }
        | Call::ProcessTerminate { .. }
        | Call::ProcessKill { .. }
        | Call::ProcessClose { .. }
        | Call::ProcessSentinel { .. }
        | Call::ProcessSentinelReady { .. }
        | Call::ProcessHoldsTarget { .. }
        | Call::ProcessStderr { .. }
        | Call::ProcessStdout { .. }
        | Call::ActiveChildren
        | Call::ChildrenSet
        | Call::CurrentProcessName
        | Call::ParentProcessPid
        | Call::OsGetpid
        | Call::OsFork { .. }
        | Call::OsWait
        | Call::OsWaitpid { .. }
        | Call::OsWaitstatusToExitcode { .. }
        | Call::OsPipe
        | Call::OsClose { .. }
        | Call::OsWrite { .. }
        | Call::OsRead { .. }
        | Call::OsReadable { .. }
        | Call::OsKill { .. }
        | Call::Ipc(_)
        | Call::Sync(_)
        | Call::Pool(_) => {}
    }
}

/// Does not compile when a step has no sample above.
fn covers_step(step: &Step) {
    match step {
        Step::Report { .. }
        | Step::WaitGate { .. }
        | Step::Start { .. }
        | Step::StartInherited { .. }
        | Step::ForkHolder { .. }
        | Step::AtexitReport { .. }
        | Step::Print { .. }
        | Step::SetMainGlobal { .. }
        | Step::CloseFd { .. }
        | Step::WriteFd { .. }
        | Step::Ipc { .. }
        | Step::Sync { .. }
        | Step::Thread { .. }
        | Step::Drain { .. } => {}
    }
}

/// A sample of every synchronisation operation, in declaration order: the
/// vocabulary of `sync` calls and steps, pinned like the calls'.
pub fn sync_ops() -> Vec<SyncOp> {
    use crate::{LockKind, ProxyKind};
    let h = Handle(1);
    let all = vec![
        SyncOp::LockNew {
            kind: LockKind::RLock,
        },
        SyncOp::Acquire {
            lock: h,
            block: Some(false),
            timeout: None,
        },
        SyncOp::Release { lock: h },
        SyncOp::EventNew,
        SyncOp::EventSet { event: h },
        SyncOp::EventClear { event: h },
        SyncOp::EventIsSet { event: h },
        SyncOp::EventWait {
            event: h,
            timeout: Some(0.05),
        },
        SyncOp::ValueNew {
            typecode: "i".into(),
            init: 0,
        },
        SyncOp::ValueGet { value: h },
        SyncOp::ValueSet { value: h, to: 7 },
        SyncOp::ValueAdd {
            value: h,
            delta: 1,
            times: 1000,
            lock: None,
        },
        SyncOp::ArrayNew {
            typecode: "i".into(),
            init: vec![0, 0, 0],
        },
        SyncOp::ArrayGet { array: h },
        SyncOp::ArraySet {
            array: h,
            index: 1,
            to: 5,
        },
        SyncOp::ManagerNew,
        SyncOp::ManagerNewAddress,
        SyncOp::ManagerAddress { manager: h },
        SyncOp::ManagerShutdown { manager: h },
        SyncOp::ProxyNew {
            manager: h,
            kind: ProxyKind::Dict,
        },
        SyncOp::ProxyAppend {
            proxy: h,
            item: Value::Str("x".into()),
        },
        SyncOp::ProxySetItem {
            proxy: h,
            key: Value::Str("k".into()),
            item: Value::Int(1),
        },
        SyncOp::ProxyGetItem {
            proxy: h,
            key: Value::Str("k".into()),
        },
        SyncOp::ProxyContents { proxy: h },
    ];
    for op in &all {
        covers_sync_op(op);
    }
    all
}

/// Does not compile when a synchronisation operation has no sample above.
fn covers_sync_op(op: &SyncOp) {
    match op {
        SyncOp::LockNew { .. }
        | SyncOp::Acquire { .. }
        | SyncOp::Release { .. }
        | SyncOp::EventNew
        | SyncOp::EventSet { .. }
        | SyncOp::EventClear { .. }
        | SyncOp::EventIsSet { .. }
        | SyncOp::EventWait { .. }
        | SyncOp::ValueNew { .. }
        | SyncOp::ValueGet { .. }
        | SyncOp::ValueSet { .. }
        | SyncOp::ValueAdd { .. }
        | SyncOp::ArrayNew { .. }
        | SyncOp::ArrayGet { .. }
        | SyncOp::ArraySet { .. }
        | SyncOp::ManagerNew
        | SyncOp::ManagerNewAddress
        | SyncOp::ManagerAddress { .. }
        | SyncOp::ManagerShutdown { .. }
        | SyncOp::ProxyNew { .. }
        | SyncOp::ProxyAppend { .. }
        | SyncOp::ProxySetItem { .. }
        | SyncOp::ProxyGetItem { .. }
        | SyncOp::ProxyContents { .. } => {}
    }
}

/// A sample of every pool operation, in declaration order, with tasks that
/// use each kind of return.
pub fn pool_ops() -> Vec<PoolOp> {
    use crate::{Probe, Task, TaskReturn};
    let h = Handle(1);
    let reports_pid = Task {
        steps: vec![
            Step::Report {
                label: "worker".into(),
                probe: Probe::Pid,
            },
            Step::WaitGate { gate: Handle(2) },
        ],
        returns: TaskReturn::Probe(Probe::Name),
    };
    let all = vec![
        PoolOp::PoolNew {
            processes: Some(2),
            initializer: Some(vec![Step::Report {
                label: "init".into(),
                probe: Probe::Pid,
            }]),
            maxtasksperchild: Some(1),
        },
        PoolOp::Apply {
            pool: h,
            task: Task::returning(Value::Int(5)),
        },
        PoolOp::ApplyAsync {
            pool: h,
            task: reports_pid,
        },
        PoolOp::ResultGet {
            result: Handle(3),
            timeout: Some(10.0),
        },
        PoolOp::ResultReady { result: Handle(3) },
        PoolOp::Map {
            pool: h,
            task: Task {
                steps: Vec::new(),
                returns: TaskReturn::Item,
            },
            items: vec![Value::Int(1), Value::Int(2)],
            chunksize: Some(1),
        },
        PoolOp::Close { pool: h },
        PoolOp::Terminate { pool: h },
        PoolOp::Join { pool: h },
    ];
    for op in &all {
        covers_pool_op(op);
    }
    all
}

/// Does not compile when a pool operation has no sample above.
fn covers_pool_op(op: &PoolOp) {
    match op {
        PoolOp::PoolNew { .. }
        | PoolOp::Apply { .. }
        | PoolOp::ApplyAsync { .. }
        | PoolOp::ResultGet { .. }
        | PoolOp::ResultReady { .. }
        | PoolOp::Map { .. }
        | PoolOp::Close { .. }
        | PoolOp::Terminate { .. }
        | PoolOp::Join { .. } => {}
    }
}
