//! Targets: which implementation a run points the clauses at, spelled as on
//! the command line (`ref`, `loopback:ref`, `python:INTERPRETER` with an
//! optional `--module NAME`).

use crate::driver::{Driver, DriverCommand};
use crate::error::HarnessError;
use crate::loopback::Loopback;
use mpconform_ref::{Fault, FaultSet, RefImpl};
use mpconform_spec::Implementation;
use std::fmt;
use std::time::Duration;

/// An implementation the runner can open inside a clause's process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The reference implementation, called directly.
    Ref,
    /// The reference implementation behind a JSON round trip of every call.
    LoopbackRef,
    /// A module with multiprocessing's API, run by the Python driver.
    Python(DriverCommand),
}

impl Target {
    /// Parses a target as given to `--target`, with `--module` when given.
    pub fn parse(spec: &str, module: Option<&str>) -> Result<Target, HarnessError> {
        let target = match spec {
            "ref" => Target::Ref,
            "loopback:ref" => Target::LoopbackRef,
            other => match other.strip_prefix("python:") {
                Some("") => return Err(HarnessError::UnknownTarget(other.to_string())),
                Some(interpreter) => Target::Python(DriverCommand {
                    interpreter: expand_home(interpreter),
                    module: module.map(str::to_string),
                }),
                None => return Err(HarnessError::UnknownTarget(other.to_string())),
            },
        };
        if module.is_some() && !matches!(target, Target::Python(_)) {
            return Err(HarnessError::ModuleWithoutDriver(spec.to_string()));
        }
        Ok(target)
    }

    /// The target as command-line arguments, for a re-executed process.
    pub fn as_args(&self) -> Vec<String> {
        let mut args = vec!["--target".to_string(), self.spec()];
        if let Target::Python(DriverCommand {
            module: Some(module),
            ..
        }) = self
        {
            args.extend(["--module".to_string(), module.clone()]);
        }
        args
    }

    /// The `--target` spelling, without the module.
    pub fn spec(&self) -> String {
        match self {
            Target::Ref => "ref".into(),
            Target::LoopbackRef => "loopback:ref".into(),
            Target::Python(command) => format!("python:{}", command.interpreter),
        }
    }

    /// Opens the implementation, with `fault` switched on (the reference
    /// only); `limit` bounds a driver's start and end.
    pub fn open(
        &self,
        fault: Option<Fault>,
        limit: Duration,
    ) -> Result<Box<dyn Implementation>, HarnessError> {
        let reference =
            || RefImpl::new(FaultSet::with(fault)).map_err(|e| HarnessError::Open(e.to_string()));
        Ok(match self {
            Target::Ref => Box::new(reference()?),
            Target::LoopbackRef => Box::new(Loopback::new(reference()?)),
            Target::Python(command) => {
                if fault.is_some() {
                    return Err(HarnessError::FaultNeedsReference(self.to_string()));
                }
                Box::new(
                    Driver::start(command, limit).map_err(|e| HarnessError::Open(e.to_string()))?,
                )
            }
        })
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.spec())?;
        if let Target::Python(DriverCommand {
            module: Some(module),
            ..
        }) = self
        {
            write!(f, " --module {module}")?;
        }
        Ok(())
    }
}

/// `~/x` as `$HOME/x`, as a shell would.
pub fn expand_home(path: &str) -> String {
    match (path.strip_prefix("~/"), std::env::var("HOME")) {
        (Some(rest), Ok(home)) => format!("{home}/{rest}"),
        _ => path.to_string(),
    }
}
