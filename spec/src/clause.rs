//! A clause: one behaviour, its metadata and the body that checks it.

use crate::session::Session;
use crate::{Capability, Violation};
use serde::{Deserialize, Serialize};
use std::fmt;

/// One executable clause of the specification.
pub struct Clause {
    /// Stable id, never reused: the behaviour id and a slug.
    pub id: &'static str,
    /// The inventory ids (BEHAVIOURS.md) this clause covers.
    pub behaviours: &'static [&'static str],
    /// The seed documents the behaviour comes from, by file name.
    pub seeds: &'static [&'static str],
    /// What must hold, in implementation-neutral words.
    pub statement: &'static str,
    /// Where CPython differs from a seed or across versions, with the stdlib
    /// file and function that shows it.
    pub notes: &'static str,
    /// What the implementation must offer for the clause to apply.
    pub needs: &'static [Capability],
    /// Whether the clause runs under each start method or once.
    pub methods: Methods,
    /// Drives the implementation; `Ok` when the behaviour holds.
    pub body: fn(&mut Session) -> Result<(), Stop>,
}

impl fmt::Debug for Clause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Clause").field("id", &self.id).finish()
    }
}

/// Which start methods a clause runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Methods {
    /// Under each start method the target has: the clause starts processes
    /// through the module, and each method starts them its own way.
    Each,
    /// Once, under the target's first start method: the clause touches only
    /// the os layer (fork, waitpid, pipe, _exit), which no start method changes.
    Any,
    /// Only under these start methods (those the target has): the behaviour
    /// is a property of them alone, and the notes say why the others differ.
    Only(&'static [&'static str]),
    /// Once, with no start method chosen: the runner sets none, so the
    /// clause meets the target as a program meets it at its start (the
    /// clauses about choosing a start method). Reported under [`UNCHOSEN`].
    Unchosen,
}

/// The method column of a run under [`Methods::Unchosen`].
pub const UNCHOSEN: &str = "unchosen";

/// Why a clause body stopped before the end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "stop", content = "detail", rename_all = "snake_case")]
pub enum Stop {
    /// The behaviour does not hold.
    Violation(Violation),
    /// The implementation lacks what the clause needs.
    Unsupported(String),
    /// The implementation or its adapter broke; not a verdict on behaviour.
    Broken(String),
    /// The implementation's own process (a driver) died mid-clause.
    Died(String),
}

impl Stop {
    pub fn violation(
        check: impl Into<String>,
        expected: impl Into<String>,
        observed: impl Into<String>,
    ) -> Stop {
        Stop::Violation(Violation {
            check: check.into(),
            expected: shorten(expected.into()),
            observed: shorten(observed.into()),
        })
    }
}

/// Keeps a report readable when a value is large (a 1 MiB message).
fn shorten(text: String) -> String {
    const KEEP: usize = 400;
    if text.len() <= KEEP {
        return text;
    }
    let mut cut = KEEP;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}... ({} characters in all)", &text[..cut], text.len())
}
