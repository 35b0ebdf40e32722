//! The trait every implementation under test provides, and how it describes
//! itself.

use crate::call::{Call, Reply};
use serde::{Deserialize, Serialize};

/// Something an implementation may or may not offer; a clause that needs a
/// missing one is `unsupported`, never a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// `Process.close()` (CPython 3.7+).
    ProcessClose,
    /// `Process.kill()` (CPython 3.7+).
    ProcessKill,
    /// `parent_process()` (CPython 3.8+).
    ParentProcess,
    /// `os.waitstatus_to_exitcode()` (CPython 3.9+).
    WaitstatusToExitcode,
    /// `os.fork()` and the bare os layer.
    OsFork,
}

/// What an implementation says of itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImplInfo {
    pub name: String,
    pub version: String,
    pub start_methods: Vec<String>,
    pub capabilities: Vec<Capability>,
}

/// An implementation of the process semantics under test. Every request is a
/// [`Call`]; the reply is data. Implementations need not be thread-safe: a
/// clause drives one from one thread, in its own process.
pub trait Implementation {
    fn describe(&mut self) -> ImplInfo;
    fn call(&mut self, call: &Call) -> Reply;
}

impl<T: Implementation + ?Sized> Implementation for Box<T> {
    fn describe(&mut self) -> ImplInfo {
        (**self).describe()
    }
    fn call(&mut self, call: &Call) -> Reply {
        (**self).call(call)
    }
}
