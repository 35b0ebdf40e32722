//! `mpconform fuzz`: generated queue workloads checked against a model, in a
//! re-executed process (`__fuzz`) in a process group of its own.

use super::against::Against;
use super::error::check_writable;
use super::{say, CliError};
use mpconform_harness::fuzz::{fuzz, Generator};
use mpconform_harness::{fuzz_process, select};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    against: Against,
    /// Cases of each kind (sequential and concurrent).
    #[arg(long, default_value_t = 64)]
    cases: u32,
    /// Where failing seeds are kept and replayed from.
    #[arg(long, default_value = "mpconform-fuzz-seeds.txt")]
    seeds: String,
    /// Fuzz under this start method (repeatable; default: fork).
    #[arg(long = "method")]
    methods: Vec<String>,
}

#[derive(clap::Args)]
pub struct HereArgs {
    #[command(flatten)]
    against: Against,
    #[arg(long)]
    cases: u32,
    #[arg(long)]
    seeds: String,
    #[arg(long = "method")]
    methods: Vec<String>,
}

/// Checks everything, then fuzzes in a process group of its own.
pub fn run(args: Args) -> Result<ExitCode, CliError> {
    if args.cases == 0 {
        return Err(CliError::NoCases);
    }
    args.against.resolve()?;
    select::methods(&args.methods)?;
    let seeds = std::path::PathBuf::from(&args.seeds);
    let seeds_existed = seeds.exists();
    check_writable(&seeds)?;
    let mut argv = vec![
        "__fuzz".to_string(),
        "--cases".into(),
        args.cases.to_string(),
        "--seeds".into(),
        args.seeds,
    ];
    for method in args.methods {
        argv.extend(["--method".to_string(), method]);
    }
    argv.extend(args.against.as_args());
    let status = fuzz_process::run_isolated(&argv).map_err(CliError::FuzzProcess);
    // The writability check made the file; a run that kept no seed must not
    // leave it behind, empty, in the directory it ran in.
    if !seeds_existed && std::fs::metadata(&seeds).is_ok_and(|m| m.len() == 0) {
        let _ = std::fs::remove_file(&seeds);
    }
    Ok(ExitCode::from(status?))
}

/// The fuzzing itself, with a watchdog that turns a hung case into a finding.
pub fn here(args: HereArgs) -> Result<ExitCode, CliError> {
    let (target, limit) = args.against.resolve()?;
    fuzz_process::start_watchdog(limit);
    let methods = if args.methods.is_empty() {
        vec!["fork".to_string()]
    } else {
        args.methods
    };
    for method in &methods {
        let report = fuzz(
            &target,
            method,
            args.cases,
            Some(&args.seeds),
            Generator::Random,
        )?;
        match report.finding {
            None => say(format_args!(
                "fuzz against {target} [{method}]: {} sequential, {} concurrent and {} lock cases, no departure from the model\n",
                report.sequential_cases, report.concurrent_cases, report.lock_cases
            )),
            Some(finding) => {
                say(format_args!(
                    "fuzz against {target} [{method}]: a departure from the model, shrunk to a minimal case\n{finding}\n"
                ));
                return Ok(ExitCode::from(1));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
