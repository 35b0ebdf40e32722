//! The command line's errors: each operation's own error, and the bad input
//! only the command line can see. Exit statuses are decided here alone.

use mpconform_harness::catalogue::CatalogueError;
use mpconform_harness::expectations::ExpectationsError;
use mpconform_harness::fuzz::FuzzError;
use mpconform_harness::repro::ReproError;
use mpconform_harness::runner::RunError;
use mpconform_harness::select::SelectError;
use mpconform_harness::target::TargetError;
use std::process::ExitCode;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum CliError {
    #[error(transparent)]
    Select(#[from] SelectError),
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error(transparent)]
    Catalogue(#[from] CatalogueError),
    #[error(transparent)]
    Expectations(#[from] ExpectationsError),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Repro(#[from] ReproError),
    #[error(transparent)]
    Fuzz(#[from] FuzzError),
    #[error("unknown fault '{0}' (see `mpconform faults`)")]
    UnknownFault(String),
    #[error("the time limit must be a positive number of seconds, not {0}")]
    BadTimeout(f64),
    #[error("-j must be at least 1")]
    NoWorkers,
    #[error("--iterations must be at least 1")]
    NoIterations,
    #[error("--items must be at least 1")]
    NoItems,
    #[error("--cases must be at least 1")]
    NoCases,
    #[error("cannot write {path}: {source}")]
    Output {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot start the fuzzing process: {0}")]
    FuzzProcess(std::io::Error),
}

impl CliError {
    /// 2 for bad input, refused before any work starts; 3 for a run that
    /// could not be carried out. (0 and 1 are the verdicts' statuses.)
    pub fn status(&self) -> ExitCode {
        let could_not_run = matches!(
            self,
            CliError::Run(RunError::Open(_) | RunError::Spawn(_) | RunError::Watch(_))
                | CliError::Repro(ReproError::Run(
                    RunError::Open(_) | RunError::Spawn(_) | RunError::Watch(_)
                ))
                | CliError::Repro(ReproError::NothingRan)
                | CliError::Fuzz(_)
                | CliError::FuzzProcess(_)
                | CliError::Catalogue(CatalogueError::Setup { .. })
        );
        ExitCode::from(if could_not_run { 3 } else { 2 })
    }
}

/// Refuses an output path that cannot be written, before any work starts:
/// the file is created (or opened for appending, so nothing is lost) and
/// left for the work to fill.
pub fn check_writable(path: &std::path::Path) -> Result<(), CliError> {
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map(drop)
        .map_err(|source| CliError::Output {
            path: path.display().to_string(),
            source,
        })
}
