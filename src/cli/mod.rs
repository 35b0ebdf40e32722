//! The `mpconform` command line: one module per subcommand, each taking its
//! own arguments and returning its exit status or a [`CliError`], which
//! `main` turns into one line and a status in one place (error.rs).

mod against;
mod bench;
mod clause;
mod error;
mod faults;
mod fuzz;
mod list;
mod matrix;
mod repro;
mod run;
mod selection;
mod targets;

use clap::{Parser, Subcommand, ValueEnum};
use error::CliError;
use serde::Serialize;
use std::io::Write;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "mpconform",
    version,
    about = "Conformance suite for the process semantics of Python's multiprocessing"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// How a listing is printed.
#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Human,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// List the clauses: id, behaviours, seeds and statement.
    List(list::Args),
    /// List the reference implementation's fault switches.
    Faults(faults::Args),
    /// Run clauses against a target and print the verdicts.
    Run(run::Args),
    /// Every clause against every target: a table of verdicts weighed
    /// against each target's expectations.
    Matrix(matrix::Args),
    /// Print a standalone Python script that replays a clause on a target,
    /// each reply beside the reference implementation's.
    Repro(repro::Args),
    /// List the targets file's targets and whether this machine has them.
    Targets(targets::ListArgs),
    /// Install the targets this machine lacks (apt packages, virtual
    /// environments with pinned packages).
    Setup(targets::SetupArgs),
    /// Time one process lifecycle, Queue and Pipe: raw system calls, the
    /// reference implementation and CPython, side by side.
    Bench(bench::Args),
    /// Fuzz queue ordering and task accounting with generated workloads,
    /// checked against a model; prints a minimal failing program.
    Fuzz(fuzz::Args),
    /// Fuzz in this process (`fuzz` re-executes itself with it, in a process
    /// group of its own).
    #[command(name = "__fuzz", hide = true)]
    FuzzHere(fuzz::HereArgs),
    /// Run one clause in this process (the runner re-executes itself with
    /// it, and names the clause in the environment).
    #[command(name = "__clause", hide = true)]
    Clause(clause::Args),
}

/// Runs the command line; bad usage gives one line and status 2.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let rendered = e.render().to_string();
            eprintln!("{}", rendered.lines().next().unwrap_or("error: bad usage"));
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::List(args) => list::run(args),
        Command::Faults(args) => faults::run(args),
        Command::Run(args) => run::run(args),
        Command::Matrix(args) => matrix::run(args),
        Command::Repro(args) => repro::run(args),
        Command::Targets(args) => targets::list(args),
        Command::Setup(args) => targets::setup(args),
        Command::Bench(args) => bench::run(args),
        Command::Fuzz(args) => fuzz::run(args),
        Command::FuzzHere(args) => fuzz::here(args),
        Command::Clause(args) => clause::run(args),
    };
    result.unwrap_or_else(|e| {
        eprintln!("error: {e}");
        e.status()
    })
}

/// 0 when `ok`, else 1: a run's verdicts as its exit status.
fn verdicts_status(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Prints to standard output; a reader that went away (`| head`) is not an
/// error worth a panic, and the run's exit status still tells its verdicts.
fn say(text: std::fmt::Arguments) {
    let _ = std::io::stdout().lock().write_fmt(text);
}

/// A listing as pretty JSON, or a line per item for people.
fn print_listing<T: Serialize>(format: Format, items: &[T], line: impl Fn(&T) -> String) {
    match format {
        Format::Json => say(format_args!(
            "{}\n",
            serde_json::to_string_pretty(items).expect("serializes")
        )),
        Format::Human => {
            for item in items {
                say(format_args!("{}\n", line(item)));
            }
        }
    }
}

/// Collapses the whitespace that line-wrapped source text leaves.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
