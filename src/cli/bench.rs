//! `mpconform bench`: a process lifecycle, Queue and Pipe transfers, timed
//! for the raw system calls, the reference implementation and CPython side
//! by side in one run.

use super::{say, verdicts_status, CliError};
use mpconform_harness::bench;
use mpconform_harness::bench_transfer::{self, Carrier};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Lifecycles per measure.
    #[arg(long, default_value_t = 500)]
    iterations: u32,
    /// Items carried per Queue and Pipe measure.
    #[arg(long, default_value_t = 100_000)]
    items: usize,
    /// Runs of each Queue and Pipe measure; the median is shown.
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// The CPython to compare with (default: pyenv's 3.13.0).
    #[arg(long)]
    python: Option<std::path::PathBuf>,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    if args.iterations == 0 {
        return Err(CliError::NoIterations);
    }
    if args.items == 0 {
        return Err(CliError::NoItems);
    }
    let python = args.python.unwrap_or_else(bench::default_python);
    let lifecycle = bench::run(args.iterations, &python);
    say(format_args!(
        "{}",
        bench::table(&lifecycle, args.iterations)
    ));
    let mut all_measured = lifecycle.iter().all(|m| m.micros.is_ok());
    for carrier in [Carrier::Queue, Carrier::Pipe] {
        let measures = bench_transfer::run(carrier, args.items, args.repeat, &python);
        say(format_args!(
            "{}",
            bench::table_of(
                &format!(
                    "{} small items, {} (median of {} runs)",
                    args.items,
                    carrier.title(),
                    args.repeat
                ),
                "µs / item",
                &measures
            )
        ));
        all_measured &= measures.iter().all(|m| m.micros.is_ok());
    }
    Ok(verdicts_status(all_measured))
}
