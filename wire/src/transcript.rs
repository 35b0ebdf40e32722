//! What a clause records of a run: its transcript, one entry per call or
//! observation, and the violation that failed it.

use crate::call::{Call, CallError};
use crate::value::Value;
use serde::{Deserialize, Serialize};
use std::fmt;

/// One line of a clause's transcript.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "entry", rename_all = "snake_case")]
pub enum TranscriptEntry {
    /// A trait call and what it returned.
    Call {
        call: Box<Call>,
        reply: Result<Value, CallError>,
    },
    /// Something the clause saw for itself in the operating system.
    Observe { what: String, saw: String },
}

/// Where the implementation did something other than the clause expects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// What was being checked.
    pub check: String,
    pub expected: String,
    pub observed: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: expected {}, observed {}",
            self.check, self.expected, self.observed
        )
    }
}
