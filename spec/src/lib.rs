//! The executable specification of Python's `multiprocessing` process semantics.
//!
//! A [`Clause`] is one behaviour of CPython 3.13, stated in implementation-neutral
//! words and checked by a body that drives an [`Implementation`] through plain-data
//! [`Call`]s. This crate knows no implementation: the reference one lives in
//! `impl/`, the drivers for other ones in `harness/` and `drivers/`.

pub mod behaviours;
pub mod call;
pub mod clause;
pub mod clauses;
pub mod implementation;
pub mod ipc;
pub mod observe;
pub mod program;
pub mod session;
pub mod value;

pub use call::{Call, CallError, Reply};
pub use clause::{Clause, Methods, Stop, Violation};
pub use implementation::{Capability, ImplInfo, Implementation};
pub use ipc::{IpcOp, Item, QueueKind};
pub use program::{Ending, ExitArg, Probe, ProcessSpec, Program, Step};
pub use session::{Session, TranscriptEntry};
pub use value::{ErrorKind, Handle, PyError, Value};
