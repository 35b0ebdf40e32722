//! How an implementation describes itself: its name, version, start
//! methods and optional capabilities (the driver's hello carries the same).

use serde::{Deserialize, Serialize};

/// Something an implementation may or may not offer; a clause that needs a
/// missing one is `unsupported`, never a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
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
