//! The stable data of mpconform, in the form drivers in any language depend
//! on: the [`Call`]s an implementation receives and the [`Value`]s it
//! answers with, the [`Program`] of [`Step`]s a child runs, how an
//! implementation describes itself ([`ImplInfo`]), the transcript a clause
//! keeps, and what a clause run came to ([`Outcome`], [`Finding`]). serde
//! alone; its JSON is drivers/PROTOCOL.md's, pinned by
//! wire/tests/wire_form.rs. The enums a port matches on are
//! `#[non_exhaustive]`: a later version may add a call, which a port that
//! does not know it answers `unsupported`.

pub mod call;
pub mod info;
pub mod ipc;
pub mod outcome;
pub mod pool;
pub mod program;
pub mod samples;
pub mod sync;
pub mod transcript;
pub mod value;

pub use call::{Call, CallError, Reply};
pub use info::{Capability, ImplInfo};
pub use ipc::{IpcOp, Item, QueueKind};
pub use outcome::{Finding, Outcome, Verdict};
pub use pool::{PoolOp, Task, TaskReturn};
pub use program::{Ending, ExitArg, Probe, ProcessSpec, Program, Step};
pub use sync::{LockKind, ProxyKind, SyncOp};
pub use transcript::{TranscriptEntry, Violation};
pub use value::{ErrorKind, Handle, PyError, Value};

/// The version of this data's wire form: the protocol version a driver's
/// hello names (drivers/PROTOCOL.md). It changes when a form that exists
/// changes; adding a variant does not change it.
pub const FORMAT_VERSION: u32 = 1;
