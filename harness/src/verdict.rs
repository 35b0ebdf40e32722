//! Verdicts and the outcome of one clause run: stable data types that the
//! clause process writes, the runner reads and the reports print.

use mpconform_spec::{TranscriptEntry, Violation};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The verdict vocabulary of LTP / Open POSIX and WPT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The behaviour holds.
    Pass,
    /// The implementation did something else.
    Fail,
    /// The implementation lacks a capability the clause needs.
    Unsupported,
    /// The clause did not finish within its time limit.
    Timeout,
    /// The clause's process died.
    Crash,
    /// The harness, the adapter or the setup broke: not the implementation's fault.
    Error,
}

impl Verdict {
    pub const ALL: [Verdict; 6] = [
        Verdict::Pass,
        Verdict::Fail,
        Verdict::Unsupported,
        Verdict::Timeout,
        Verdict::Crash,
        Verdict::Error,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Unsupported => "unsupported",
            Verdict::Timeout => "timeout",
            Verdict::Crash => "crash",
            Verdict::Error => "error",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// What one run of one clause came to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub clause: String,
    pub method: String,
    pub verdict: Verdict,
    /// Why, in one line, when the verdict is not pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub violation: Option<Violation>,
    #[serde(default)]
    pub transcript: Vec<TranscriptEntry>,
    /// Processes still alive after the clause, killed by the harness.
    #[serde(default)]
    pub leftover_processes: Vec<i32>,
    /// Descriptors left open in the clause's process after the implementation
    /// was dropped.
    #[serde(default)]
    pub leaked_fds: Vec<i32>,
    /// Named resources the run left behind (/dev/shm entries, entries of
    /// its private temporary directory), removed by the harness.
    #[serde(default)]
    pub leaked_names: Vec<String>,
    /// How long the helpers the target started for itself took to end on
    /// their own once the implementation had ended.
    #[serde(default)]
    pub grace_millis: f64,
    /// The clause process's standard error, when something went wrong.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stderr: String,
    /// Wall time of the clause as the runner saw it: process start to reaping.
    pub millis: f64,
    /// Wall time inside the clause's process, from opening the implementation
    /// to the end of the clean-up; `millis` minus this is the cost of isolation.
    #[serde(default)]
    pub body_millis: f64,
}

/// One line from a clause's process to the runner: each transcript entry as
/// it happens, then the outcome. A clause killed mid-way still leaves the
/// entries it made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClauseMessage {
    Entry(TranscriptEntry),
    Outcome(Box<Outcome>),
    Described(Box<Described>),
}

/// What a describing process found: what the implementation says of itself
/// (or why it would not open), and the names its start and end left in
/// /dev/shm or its temporary directory, removed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Described {
    pub info: Result<mpconform_spec::ImplInfo, String>,
    pub left: Vec<String>,
}
