//! What a run points the clauses at, as the caller gives it: how the
//! implementation is opened, and how one clause's process is started. The
//! CLI's targets are one kind of subject; a port's own test binary (see
//! `port`) is another. The runner knows nothing else of either.

use mpconform_spec::Implementation;
use std::process::Command;
use std::time::Duration;
use thiserror::Error;

/// The implementation could not be opened: not a verdict on its behaviour.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("cannot open the implementation: {0}")]
pub struct OpenError(pub String);

/// An implementation under test, and the way to it from a fresh process.
pub trait Subject: Sync {
    /// How reports name it (`ref`, `python:python3.13 --module billiard`).
    fn name(&self) -> String;

    /// Opens the implementation. Called in each clause's process, and once
    /// in the runner to learn what it offers; `limit` bounds its start.
    fn open(&self, limit: Duration) -> Result<Box<dyn Implementation>, OpenError>;

    /// A command that starts a process which, before anything else, calls
    /// [`crate::isolate::serve`] with this same subject. The runner adds
    /// the clause to run (in the environment), the process group and the
    /// pipes.
    fn clause_process(&self) -> std::io::Result<Command>;
}

/// A subject from two functions: what a port's test binary gives.
pub struct FnSubject<F> {
    pub name: String,
    pub open: F,
}

impl<F> Subject for FnSubject<F>
where
    F: Fn() -> Result<Box<dyn Implementation>, String> + Sync,
{
    fn name(&self) -> String {
        self.name.clone()
    }

    fn open(&self, _limit: Duration) -> Result<Box<dyn Implementation>, OpenError> {
        (self.open)().map_err(OpenError)
    }

    /// The running binary itself, with no arguments: its `main` finds the
    /// clause in the environment before it reads any.
    fn clause_process(&self) -> std::io::Result<Command> {
        Ok(Command::new(std::env::current_exe()?))
    }
}
