//! The environment every target runs in, which the harness decides rather
//! than inherits: what it clears, what it sets, and that it passes the rest
//! through. Clause processes get it, and through them the implementation,
//! its driver and every child. Each run's report states it
//! (drivers/PROTOCOL.md, "The environment").

use serde::Serialize;
use std::process::Command;

/// A variable the harness removes, and why.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Cleared {
    pub name: &'static str,
    pub why: &'static str,
}

/// A variable the harness sets, to what, and why.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Set {
    pub name: &'static str,
    pub value: &'static str,
    pub why: &'static str,
}

/// The environment policy, as the reports show it.
#[derive(Debug, Clone, Serialize)]
pub struct Environment {
    pub cleared: &'static [Cleared],
    pub set: &'static [Set],
    /// Set per clause run, to a directory of its own.
    pub per_run: &'static [&'static str],
    /// Everything else passes through unchanged.
    pub passed_through: &'static str,
}

pub const CLEARED: &[Cleared] = &[Cleared {
    name: "PYTHONUNBUFFERED",
    why: "a Python target must buffer its standard streams as a program's are \
          buffered, or the flush before fork (P24) could never be seen to fail",
}];

pub const SET: &[Set] = &[Set {
    name: "PYTHONDONTWRITEBYTECODE",
    value: "1",
    why: "no bytecode caches beside the driver or a target's modules",
}];

/// The policy every run uses.
pub fn policy() -> Environment {
    Environment {
        cleared: CLEARED,
        set: SET,
        per_run: &["TMPDIR"],
        passed_through: "every other variable",
    }
}

/// Applies the policy to the command that starts a clause process.
pub fn apply(command: &mut Command) {
    for c in CLEARED {
        command.env_remove(c.name);
    }
    for s in SET {
        command.env(s.name, s.value);
    }
}

/// One line for a human report.
pub fn summary() -> String {
    let cleared: Vec<&str> = CLEARED.iter().map(|c| c.name).collect();
    let set: Vec<String> = SET
        .iter()
        .map(|s| format!("{}={}", s.name, s.value))
        .collect();
    format!(
        "environment: cleared {}; set {}, and TMPDIR to a directory per clause run; every other variable passed through",
        cleared.join(", "),
        set.join(", ")
    )
}
