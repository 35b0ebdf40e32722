//! `mpconform matrix`: every chosen clause against every chosen target.

use super::against::{jobs, limit};
use super::error::check_writable;
use super::selection::Selection;
use super::{say, verdicts_status, CliError};
use clap::ValueEnum;
use mpconform_harness::catalogue::{Catalogue, Named};
use mpconform_harness::expectations::Expectations;
use mpconform_harness::matrix::{self, Column};
use mpconform_harness::target::Target;
use mpconform_spec::clauses;
use std::process::ExitCode;

#[derive(Clone, Copy, ValueEnum)]
enum MatrixFormat {
    Markdown,
    Json,
    /// JUnit XML, one test suite per target.
    Junit,
}

#[derive(clap::Args)]
pub struct Args {
    /// A target, by name from the targets file or as python:INTERPRETER
    /// (repeatable; default: the file's `all` set).
    #[arg(long = "target")]
    targets: Vec<String>,
    /// A named set of targets from the targets file (repeatable).
    #[arg(long = "set")]
    sets: Vec<String>,
    /// The targets file (default: the repository's targets.toml).
    #[arg(long = "targets")]
    targets_file: Option<std::path::PathBuf>,
    #[command(flatten)]
    selection: Selection,
    /// Clauses run at once (default: twice the number of CPUs: most of a
    /// clause's time is spent waiting for interpreters).
    #[arg(short = 'j', long = "jobs")]
    jobs: Option<usize>,
    /// Each clause's time limit, in seconds.
    #[arg(long, default_value_t = 10.0, allow_negative_numbers = true)]
    timeout: f64,
    #[arg(long, value_enum, default_value = "markdown")]
    format: MatrixFormat,
    /// Also write the matrix as a page a person can open.
    #[arg(long)]
    html: Option<std::path::PathBuf>,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let (chosen, methods) = args.selection.choose()?;
    let limit = limit(args.timeout)?;
    let jobs = jobs(args.jobs, 2)?;
    let columns = columns(&args.targets, &args.sets, args.targets_file.as_deref())?;
    // Last of the checks, as it makes the file: bad input leaves none.
    if let Some(path) = &args.html {
        check_writable(path)?;
    }
    let progress = |line: &str| eprintln!("{line}");
    let m = matrix::run(&columns, &chosen, jobs, limit, &methods, &progress);
    match args.format {
        MatrixFormat::Markdown => say(format_args!("{}", matrix::markdown(&m))),
        MatrixFormat::Json => say(format_args!(
            "{}\n",
            serde_json::to_string_pretty(&m).expect("serializes")
        )),
        MatrixFormat::Junit => say(format_args!(
            "{}\n",
            mpconform_harness::junit::of_matrix(&m)
        )),
    }
    if let Some(path) = args.html {
        std::fs::write(&path, matrix::html(&m)).map_err(|source| CliError::Output {
            path: path.display().to_string(),
            source,
        })?;
        eprintln!("matrix page written to {}", path.display());
    }
    Ok(verdicts_status(m.all_as_expected()))
}

/// The matrix's columns: the reference first, then the named targets and
/// sets (default: the file's `all` set), each with its expectations.
fn columns(
    targets: &[String],
    sets: &[String],
    file: Option<&std::path::Path>,
) -> Result<Vec<Column>, CliError> {
    let catalogue = Catalogue::load(file)?;
    let known = |id: &str| clauses::find(id).is_some();
    let bare = |name: &str, target: Target| Column {
        name: name.to_string(),
        target,
        expectations: Expectations::default(),
        expectations_file: None,
        missing: None,
    };
    let own = std::path::Path::new(crate::cli::against::REF_EXPECTATIONS);
    let reference = if own.exists() {
        Column {
            expectations: Expectations::load(own, &known)?,
            expectations_file: Some(own.display().to_string()),
            ..bare("ref", Target::Ref(None))
        }
    } else {
        bare("ref", Target::Ref(None))
    };
    let mut columns = vec![reference];
    let mut named: Vec<&Named> = Vec::new();
    for set in sets {
        named.extend(catalogue.set(set)?);
    }
    for t in targets {
        match Target::parse(t, None) {
            Ok(Target::Ref(_)) => {}
            Ok(target) => columns.push(bare(t, target)),
            Err(_) => named.push(catalogue.find(t)?),
        }
    }
    if targets.is_empty() && sets.is_empty() {
        named = catalogue.set("all")?;
    }
    for n in named {
        if columns.iter().any(|c| c.name == n.name) {
            continue;
        }
        columns.push(Column {
            name: n.name.clone(),
            target: n.target(),
            expectations: Expectations::load(&n.expectations, &known)?,
            expectations_file: Some(n.expectations.display().to_string()),
            missing: n.missing.clone(),
        });
    }
    Ok(columns)
}
