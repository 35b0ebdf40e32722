//! Verdicts and the outcome of one clause run: what a clause's process
//! writes, the runner reads, and the reports, the expectations and JSON
//! consumers see, under one vocabulary.
use crate::{ImplInfo, TranscriptEntry, Violation};
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

/// What a clause run came to: its verdict, and the data that goes with
/// that verdict alone. Every verdict but pass has its reason, in one line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Finding {
    Pass,
    /// The behaviour does not hold, or the run left something behind.
    Fail {
        reason: String,
        violation: Violation,
    },
    /// The implementation lacks what the clause needs.
    Unsupported {
        reason: String,
    },
    /// No verdict within the time limit: the clause's process was killed.
    Timeout {
        reason: String,
        limit_seconds: f64,
    },
    /// The clause's process, or the implementation's own (a driver), died.
    Crash {
        reason: String,
        /// The signal that ended the clause's process, when one did.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signal: Option<i32>,
        /// Its exit status, when it exited without a verdict.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<i32>,
    },
    /// The harness, the adapter or the setup broke: not the implementation's
    /// fault.
    Error {
        reason: String,
    },
}

impl Finding {
    /// A failed check.
    pub fn fail(violation: Violation) -> Finding {
        Finding::Fail {
            reason: violation.to_string(),
            violation,
        }
    }

    pub fn verdict(&self) -> Verdict {
        match self {
            Finding::Pass => Verdict::Pass,
            Finding::Fail { .. } => Verdict::Fail,
            Finding::Unsupported { .. } => Verdict::Unsupported,
            Finding::Timeout { .. } => Verdict::Timeout,
            Finding::Crash { .. } => Verdict::Crash,
            Finding::Error { .. } => Verdict::Error,
        }
    }

    /// Why, in one line; none for a pass.
    pub fn reason(&self) -> Option<&str> {
        self.reason_slot().map(|r| &**r)
    }

    fn reason_slot(&self) -> Option<&String> {
        match self {
            Finding::Pass => None,
            Finding::Fail { reason, .. }
            | Finding::Unsupported { reason }
            | Finding::Timeout { reason, .. }
            | Finding::Crash { reason, .. }
            | Finding::Error { reason } => Some(reason),
        }
    }

    /// Adds `more` to the reason (a pass has none to add to).
    pub fn add_to_reason(&mut self, more: &str) {
        match self {
            Finding::Pass => {}
            Finding::Fail { reason, .. }
            | Finding::Unsupported { reason }
            | Finding::Timeout { reason, .. }
            | Finding::Crash { reason, .. }
            | Finding::Error { reason } => reason.push_str(more),
        }
    }

    pub fn violation(&self) -> Option<&Violation> {
        match self {
            Finding::Fail { violation, .. } => Some(violation),
            _ => None,
        }
    }
}

/// What one run of one clause came to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub clause: String,
    pub method: String,
    /// The verdict and its data, beside the other fields in JSON
    /// (`"verdict": "fail", "reason": ..., "violation": ...`).
    #[serde(flatten)]
    pub finding: Finding,
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

impl Outcome {
    /// `finding` for `clause` under `method`, with nothing else known yet.
    pub fn new(clause: &str, method: &str, finding: Finding) -> Outcome {
        Outcome {
            clause: clause.to_string(),
            method: method.to_string(),
            finding,
            transcript: Vec::new(),
            leftover_processes: Vec::new(),
            leaked_fds: Vec::new(),
            leaked_names: Vec::new(),
            grace_millis: 0.0,
            stderr: String::new(),
            millis: 0.0,
            body_millis: 0.0,
        }
    }

    pub fn verdict(&self) -> Verdict {
        self.finding.verdict()
    }

    pub fn reason(&self) -> Option<&str> {
        self.finding.reason()
    }

    pub fn violation(&self) -> Option<&Violation> {
        self.finding.violation()
    }
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
    pub info: Result<ImplInfo, String>,
    pub left: Vec<String>,
}
