//! Errors of the harness itself, each with the one line a user sees.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum HarnessError {
    #[error("unknown clause '{0}' (see `mpconform list`)")]
    UnknownClause(String),
    #[error("unknown behaviour '{0}' (see BEHAVIOURS.md)")]
    UnknownBehaviour(String),
    #[error("unknown fault '{0}' (see `mpconform faults`)")]
    UnknownFault(String),
    #[error(transparent)]
    Target(#[from] crate::target::TargetError),
    #[error(transparent)]
    Run(#[from] crate::runner::RunError),
    #[error("--partition takes K/N with 1 <= K <= N, not '{0}'")]
    BadPartition(String),
    #[error(transparent)]
    Catalogue(#[from] crate::catalogue::CatalogueError),
    #[error(transparent)]
    Expectations(#[from] crate::expectations::ExpectationsError),
    #[error("repro writes Python for a python:INTERPRETER target, not '{0}'")]
    ReproNeedsDriver(String),
    #[error("unknown start method '{0}': expected one of {KNOWN}", KNOWN = crate::select::START_METHODS.join(", "))]
    UnknownMethod(String),
    #[error("cannot write {path}: {source}")]
    Output {
        path: String,
        source: std::io::Error,
    },
    #[error("no clause matches the filters")]
    NothingSelected,
    #[error("--iterations must be at least 1")]
    NoIterations,
    #[error("-j must be at least 1")]
    NoWorkers,
    #[error("the time limit must be a positive number of seconds, not {0}")]
    BadTimeout(f64),
    #[error("cannot run a clause process: {0}")]
    Spawn(#[from] std::io::Error),
    #[error(transparent)]
    Open(#[from] crate::subject::OpenError),
    #[error("--items must be at least 1")]
    NoItems,
    #[error("--cases must be at least 1")]
    NoCases,
    #[error("the fuzzer could not go on: {0}")]
    Fuzz(String),
}

impl HarnessError {
    /// Bad input from the user (exit status 2), as opposed to a run that could
    /// not be carried out (exit status 3).
    pub fn is_usage(&self) -> bool {
        !matches!(
            self,
            HarnessError::Spawn(_)
                | HarnessError::Open(_)
                | HarnessError::Run(
                    crate::runner::RunError::Open(_)
                        | crate::runner::RunError::Spawn(_)
                        | crate::runner::RunError::Watch(_)
                )
                | HarnessError::Fuzz(_)
                | HarnessError::Catalogue(crate::catalogue::CatalogueError::Setup { .. })
        )
    }
}
