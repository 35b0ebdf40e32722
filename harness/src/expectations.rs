//! Expectations: per target, the clauses it is known not to pass, the kind of
//! outcome expected (the verdict and, for a failure, the check that fails)
//! and why. An outcome that matches its entry is `expected`; one that passes
//! despite an entry is an unexpected pass, and any other mismatch is
//! unexpected: both fail the run, so a fixed bug or a new one is never hidden.

use crate::verdict::{Outcome, Verdict};
use serde::{Deserialize, Serialize};
use std::path::Path;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ExpectationsError {
    #[error("cannot read the expectations file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("malformed expectations file {path}: {message}")]
    Malformed { path: String, message: String },
}

/// One entry: these clauses, under these start methods (all when empty),
/// come to this verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    pub clauses: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<String>,
    pub verdict: Verdict,
    /// For `fail`: the check that fails (the violation's first words).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
    /// Why, in a sentence: the version whose message differs, the port's bug.
    pub why: String,
    /// The outcome varies from run to run in the implementation itself (a
    /// race it has): any outcome of these runs is expected, and the entry
    /// says which it was seen to take.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub flaky: bool,
    /// Where it shows: a stdlib file and function, an issue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    expected: Vec<Expected>,
}

/// A target's expectations (none: every clause must pass).
#[derive(Debug, Clone, Default)]
pub struct Expectations {
    pub entries: Vec<Expected>,
}

/// Where an outcome stands against the expectations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    /// Passed, as nothing said otherwise.
    Pass,
    /// Came to the outcome its entry expects.
    Expected,
    /// Not a pass, and no entry expects it (or one expects another kind).
    Unexpected,
    /// Passed although an entry expects otherwise: the entry is stale.
    UnexpectedPass,
}

impl Standing {
    pub fn is_ok(self) -> bool {
        matches!(self, Standing::Pass | Standing::Expected)
    }
}

impl Expectations {
    /// Reads `path`; a file that does not exist means no expectations.
    pub fn load(
        path: &Path,
        known_clause: &dyn Fn(&str) -> bool,
    ) -> Result<Self, ExpectationsError> {
        let shown = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => {
                return Err(ExpectationsError::Read {
                    path: shown,
                    source,
                })
            }
        };
        Self::parse(&text, &shown, known_clause)
    }

    pub fn parse(
        text: &str,
        shown: &str,
        known_clause: &dyn Fn(&str) -> bool,
    ) -> Result<Self, ExpectationsError> {
        let malformed = |message: String| ExpectationsError::Malformed {
            path: shown.to_string(),
            message,
        };
        let file: File = toml::from_str(text).map_err(|e| {
            malformed(
                e.to_string()
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" "),
            )
        })?;
        for entry in &file.expected {
            if entry.verdict == Verdict::Pass {
                return Err(malformed(format!(
                    "an entry for {:?} expects `pass`, which needs no entry",
                    entry.clauses
                )));
            }
            if entry.clauses.is_empty() {
                return Err(malformed("an entry names no clause".into()));
            }
            if let Some(bad) = entry.clauses.iter().find(|c| !known_clause(c)) {
                return Err(malformed(format!("unknown clause '{bad}'")));
            }
            if entry.why.trim().is_empty() {
                return Err(malformed(format!(
                    "the entry for {:?} says no why",
                    entry.clauses
                )));
            }
        }
        Ok(Expectations {
            entries: file.expected,
        })
    }

    /// The entry that covers `clause` under `method`, if any.
    pub fn entry_for(&self, clause: &str, method: &str) -> Option<&Expected> {
        self.entries.iter().find(|e| {
            e.clauses.iter().any(|c| c == clause)
                && (e.methods.is_empty() || e.methods.iter().any(|m| m == method))
        })
    }

    pub fn standing(&self, outcome: &Outcome) -> Standing {
        let entry = self.entry_for(&outcome.clause, &outcome.method);
        match (entry, outcome.verdict()) {
            (None, Verdict::Pass) => Standing::Pass,
            (None, _) => Standing::Unexpected,
            (Some(e), _) if e.flaky => Standing::Expected,
            (Some(_), Verdict::Pass) => Standing::UnexpectedPass,
            (Some(e), verdict) => {
                let check_matches = match (&e.check, outcome.violation()) {
                    (None, _) => true,
                    (Some(check), Some(v)) => &v.check == check,
                    (Some(_), None) => false,
                };
                if verdict == e.verdict && check_matches {
                    Standing::Expected
                } else {
                    Standing::Unexpected
                }
            }
        }
    }
}

/// `P pass, E expected, U unexpected, X unexpected pass`: how a run stands.
pub fn tally(standings: impl IntoIterator<Item = Standing>) -> String {
    let mut counts = [0usize; 4];
    for s in standings {
        counts[s as usize] += 1;
    }
    format!(
        "{} pass, {} expected, {} unexpected, {} unexpected pass",
        counts[Standing::Pass as usize],
        counts[Standing::Expected as usize],
        counts[Standing::Unexpected as usize],
        counts[Standing::UnexpectedPass as usize]
    )
}
