//! The executable specification of Python's `multiprocessing` process semantics.
//!
//! A [`Clause`] is one behaviour of CPython 3.13, stated in implementation-neutral
//! words and checked by a body that drives an [`Implementation`] through plain-data
//! [`Call`]s. This crate knows no implementation: the reference one lives in
//! `impl/`, the drivers for other ones in `harness/` and `drivers/`.

pub mod behaviours;
pub mod clause;
pub mod clauses;
pub mod implementation;
pub mod observe;
pub mod session;

pub use clause::{Clause, Methods, Stop};
pub use implementation::Implementation;
/// The wire types, under their old paths too (`mpconform_spec::call::Call`).
pub use mpconform_wire::{call, ipc, pool, program, sync, value};
pub use mpconform_wire::{
    Call, CallError, Capability, Ending, ErrorKind, ExitArg, Handle, ImplInfo, IpcOp, Item,
    LockKind, PoolOp, Probe, ProcessSpec, Program, ProxyKind, PyError, QueueKind, Reply, Step,
    SyncOp, Task, TaskReturn, TranscriptEntry, Value, Violation, FORMAT_VERSION,
};
pub use session::Session;
