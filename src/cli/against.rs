//! What clauses run against, and for how long at most: the options shared by
//! `run`, `repro`, `fuzz` and the clause process they start.

use super::error::CliError;
use mpconform_harness::catalogue::Catalogue;
use mpconform_harness::target::{Target, TargetError};
use mpconform_ref::Fault;
use std::time::Duration;

#[derive(clap::Args)]
pub struct Against {
    /// The implementation: 'ref', 'loopback:ref', 'python:INTERPRETER',
    /// 'driver:COMMAND' (any program that speaks drivers/PROTOCOL.md) or a
    /// name from the targets file.
    #[arg(long, default_value = "ref")]
    pub target: String,
    /// With a python: target, the module that plays multiprocessing
    /// (billiard, multiprocess, ...).
    #[arg(long)]
    pub module: Option<String>,
    /// The targets file that names targets (default: the repository's
    /// targets.toml).
    #[arg(long = "targets")]
    pub targets_file: Option<std::path::PathBuf>,
    /// Switch on one fault of the reference implementation.
    #[arg(long)]
    pub fault: Option<String>,
    /// Each clause's time limit, in seconds.
    #[arg(long, default_value_t = 10.0, allow_negative_numbers = true)]
    pub timeout: f64,
}

/// The reference's expectations file, from the repository's root.
pub const REF_EXPECTATIONS: &str = "expectations/ref.toml";

impl Against {
    /// The target (with its fault) and the time limit; every name checked.
    pub fn resolve(&self) -> Result<(Target, Duration), CliError> {
        let target = match Target::parse(&self.target, self.module.as_deref()) {
            Ok(target) => target,
            Err(TargetError::Unknown(name)) if self.module.is_none() => {
                let catalogue = Catalogue::load(self.targets_file.as_deref())?;
                catalogue.find(&name)?.target()
            }
            Err(e) => return Err(e.into()),
        };
        match &target {
            Target::Python(command)
                if !mpconform_harness::driver::interpreter_exists(&command.interpreter) =>
            {
                return Err(TargetError::NoInterpreter(command.interpreter.clone()).into());
            }
            Target::Driver(argv) if !mpconform_harness::driver::interpreter_exists(&argv[0]) => {
                return Err(TargetError::NoDriver(argv[0].clone()).into());
            }
            _ => {}
        }
        let fault = self
            .fault
            .as_deref()
            .map(|name| Fault::from_name(name).ok_or_else(|| CliError::UnknownFault(name.into())))
            .transpose()?;
        let target = target.with_fault(fault)?;
        Ok((target, limit(self.timeout)?))
    }

    /// The same choice, as arguments for a re-executed process.
    pub fn as_args(&self) -> Vec<String> {
        let mut args = vec![
            "--target".to_string(),
            self.target.clone(),
            "--timeout".into(),
            self.timeout.to_string(),
        ];
        if let Some(module) = &self.module {
            args.extend(["--module".to_string(), module.clone()]);
        }
        if let Some(file) = &self.targets_file {
            args.extend(["--targets".to_string(), file.display().to_string()]);
        }
        if let Some(fault) = &self.fault {
            args.extend(["--fault".to_string(), fault.clone()]);
        }
        args
    }

    /// The expectations file of a target given by name, if it was.
    /// What the reference lacks; `ref` and `loopback:ref` are weighed against it.
    pub fn named_expectations(&self) -> Result<Option<std::path::PathBuf>, CliError> {
        if self.module.is_some() {
            return Ok(None);
        }
        if let Ok(target) = Target::parse(&self.target, None) {
            // The reference's own file: what it lacks (no forkserver).
            let own = std::path::Path::new(REF_EXPECTATIONS);
            let is_ref = matches!(target, Target::Ref(_) | Target::LoopbackRef(_));
            return Ok((is_ref && own.exists()).then(|| own.to_path_buf()));
        }
        let catalogue = Catalogue::load(self.targets_file.as_deref())?;
        Ok(Some(catalogue.find(&self.target)?.expectations.clone()))
    }
}

/// A time limit in seconds, which must be positive.
pub fn limit(seconds: f64) -> Result<Duration, CliError> {
    match Duration::try_from_secs_f64(seconds) {
        Ok(limit) if !limit.is_zero() => Ok(limit),
        _ => Err(CliError::BadTimeout(seconds)),
    }
}

/// `-j`, or `per_cpu` times the number of CPUs.
pub fn jobs(asked: Option<usize>, per_cpu: usize) -> Result<usize, CliError> {
    let jobs = asked
        .unwrap_or_else(|| per_cpu * std::thread::available_parallelism().map_or(2, |n| n.get()));
    if jobs == 0 {
        return Err(CliError::NoWorkers);
    }
    Ok(jobs)
}
