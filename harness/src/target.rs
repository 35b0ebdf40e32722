//! Targets as the command line spells them (`ref`, `loopback:ref`,
//! `python:INTERPRETER` with an optional `--module NAME`, `driver:COMMAND`):
//! the CLI's kind of
//! [`Subject`], whose clause processes are `mpconform __clause` re-executed.

use crate::driver::{Driver, DriverCommand};
use crate::loopback::Loopback;
use crate::subject::{OpenError, Subject};
use mpconform_ref::{Fault, FaultSet, RefImpl};
use mpconform_spec::Implementation;
use std::fmt;
use std::time::Duration;
use thiserror::Error;

/// A target that cannot be made from what was given.
#[derive(Debug, Error)]
pub enum TargetError {
    #[error("unknown target '{0}': expected 'ref', 'loopback:ref', 'python:INTERPRETER', 'driver:COMMAND' or a name from the targets file (see `mpconform targets`)")]
    Unknown(String),
    #[error("--module applies to a python:INTERPRETER target, not '{0}'")]
    ModuleWithoutDriver(String),
    #[error("fault switches belong to the reference implementation, not to '{0}'")]
    FaultNeedsReference(String),
    #[error("no interpreter '{0}': give a path to one, or the name of a program in PATH")]
    NoInterpreter(String),
    #[error("no driver program '{0}': give a path to one, or the name of a program in PATH")]
    NoDriver(String),
}

/// An implementation the CLI can point the clauses at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The reference implementation, called directly, with at most one
    /// fault switched on.
    Ref(Option<Fault>),
    /// The reference implementation behind a JSON round trip of every call.
    LoopbackRef(Option<Fault>),
    /// A module with multiprocessing's API, run by the Python driver.
    Python(DriverCommand),
    /// Any program that speaks drivers/PROTOCOL.md: its words, run with
    /// `--protocol 1` added.
    Driver(Vec<String>),
}

impl Target {
    /// Parses a target as given to `--target`, with `--module` when given.
    pub fn parse(spec: &str, module: Option<&str>) -> Result<Target, TargetError> {
        let target = match spec {
            "ref" => Target::Ref(None),
            "loopback:ref" => Target::LoopbackRef(None),
            other => match (other.strip_prefix("python:"), other.strip_prefix("driver:")) {
                (Some(interpreter), _) if !interpreter.is_empty() => {
                    Target::Python(DriverCommand {
                        interpreter: expand_home(interpreter),
                        module: module.map(str::to_string),
                    })
                }
                (_, Some(command)) if !command.trim().is_empty() => {
                    Target::Driver(command.split_whitespace().map(expand_home).collect())
                }
                _ => return Err(TargetError::Unknown(other.to_string())),
            },
        };
        if module.is_some() && !matches!(target, Target::Python(_)) {
            return Err(TargetError::ModuleWithoutDriver(spec.to_string()));
        }
        Ok(target)
    }

    /// The same target with `fault` switched on: the reference alone has
    /// fault switches.
    pub fn with_fault(self, fault: Option<Fault>) -> Result<Target, TargetError> {
        match (self, fault) {
            (target, None) => Ok(target),
            (Target::Ref(_), fault) => Ok(Target::Ref(fault)),
            (Target::LoopbackRef(_), fault) => Ok(Target::LoopbackRef(fault)),
            (other, Some(_)) => Err(TargetError::FaultNeedsReference(other.to_string())),
        }
    }

    /// The fault switched on, if any.
    pub fn fault(&self) -> Option<Fault> {
        match self {
            Target::Ref(fault) | Target::LoopbackRef(fault) => *fault,
            Target::Python(_) | Target::Driver(_) => None,
        }
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
        if let Some(fault) = self.fault() {
            args.extend(["--fault".to_string(), fault.name().to_string()]);
        }
        args
    }

    /// The `--target` spelling, without the module.
    pub fn spec(&self) -> String {
        match self {
            Target::Ref(_) => "ref".into(),
            Target::LoopbackRef(_) => "loopback:ref".into(),
            Target::Python(command) => format!("python:{}", command.interpreter),
            Target::Driver(argv) => format!("driver:{}", argv.join(" ")),
        }
    }
}

impl Subject for Target {
    fn name(&self) -> String {
        self.to_string()
    }

    /// Opens the implementation; `limit` bounds a driver's start and end.
    fn open(&self, limit: Duration) -> Result<Box<dyn Implementation>, OpenError> {
        let reference = |fault: &Option<Fault>| {
            RefImpl::new(FaultSet::with(*fault)).map_err(|e| OpenError(e.to_string()))
        };
        Ok(match self {
            Target::Ref(fault) => Box::new(reference(fault)?),
            Target::LoopbackRef(fault) => Box::new(Loopback::new(reference(fault)?)),
            Target::Python(command) => {
                Box::new(Driver::start(command, limit).map_err(|e| OpenError(e.to_string()))?)
            }
            Target::Driver(argv) => {
                Box::new(Driver::start_program(argv, limit).map_err(|e| OpenError(e.to_string()))?)
            }
        })
    }

    /// `mpconform __clause` with this target's arguments.
    fn clause_process(&self) -> std::io::Result<std::process::Command> {
        let mut command = std::process::Command::new(std::env::current_exe()?);
        command.arg("__clause").args(self.as_args());
        Ok(command)
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
