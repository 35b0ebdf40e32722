//! `mpconform run`: the chosen clauses against one target, with its verdicts
//! weighed against its expectations.

use super::against::{jobs, Against};
use super::selection::Selection;
use super::{say, verdicts_status, CliError};
use clap::ValueEnum;
use mpconform_harness::expectations::Expectations;
use mpconform_harness::report;
use mpconform_harness::runner::{self, Plan};
use mpconform_harness::verdict::Outcome;
use mpconform_spec::clauses;
use std::process::ExitCode;

/// How a run's verdicts are printed.
#[derive(Clone, Copy, ValueEnum)]
enum RunFormat {
    Human,
    Json,
    /// JUnit XML, one test case per clause run.
    Junit,
}

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    against: Against,
    #[command(flatten)]
    selection: Selection,
    /// Clauses run at once (default: the number of CPUs).
    #[arg(short = 'j', long = "jobs")]
    jobs: Option<usize>,
    #[arg(long, value_enum, default_value = "human")]
    format: RunFormat,
    /// The target's expectations (default: a named target's file from the
    /// targets file; none for others).
    #[arg(long)]
    expectations: Option<std::path::PathBuf>,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let (target, limit) = args.against.resolve()?;
    let (chosen, methods) = args.selection.choose()?;
    let expectations_file = match args.expectations {
        Some(file) => Some(file),
        None => args.against.named_expectations()?,
    };
    let expected = match &expectations_file {
        Some(file) => Expectations::load(file, &|id| clauses::find(id).is_some())?,
        None => Expectations::default(),
    };
    let plan = Plan {
        subject: &target,
        clauses: chosen,
        jobs: jobs(args.jobs, 1)?,
        limit,
        methods,
    };
    let human = matches!(args.format, RunFormat::Human);
    let progress = |o: &Outcome| {
        if human {
            say(format_args!("{}\n", report::progress_line(o)));
        }
    };
    let run = runner::run(&plan, &progress)?;
    let target_name = target.to_string();
    let fault_name = target.fault().map(|f| f.name());
    let text = match args.format {
        RunFormat::Human => report::human(&run, &target_name, fault_name),
        RunFormat::Json => report::json(&run, &target_name, fault_name),
        RunFormat::Junit => mpconform_harness::junit::of_run(&run, &target_name, &expected),
    };
    say(format_args!("{text}\n"));
    if let (Some(file), true) = (&expectations_file, human) {
        say(format_args!(
            "{}\n",
            report::against_expectations(&run, &expected, &file.display().to_string())
        ));
    }
    Ok(verdicts_status(
        run.outcomes.iter().all(|o| expected.standing(o).is_ok()),
    ))
}
