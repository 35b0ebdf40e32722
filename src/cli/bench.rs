//! `mpconform bench`: a process lifecycle, Queue and Pipe transfers, Lock
//! and Manager operations, and Pool apply_async and map, timed for the raw
//! system calls, the reference implementation and CPython side by side in
//! one run.

use super::{say, verdicts_status, CliError};
use mpconform_harness::bench;
use mpconform_harness::bench_pool::{self, PoolMeasure};
use mpconform_harness::bench_sync::{self, SyncMeasure};
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
    /// Uncontended Lock acquire + release pairs per measure.
    // A range, not a CliError variant: zero is refused by clap itself.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u32).range(1..))]
    lock_ops: u32,
    /// Acquire / increment / release loops per child in the contended Lock
    /// measure.
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u32).range(1..))]
    contended_ops: u32,
    /// Manager dict iterations (d[k] = i, then d[k]) per measure.
    #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u32).range(1..))]
    manager_ops: u32,
    /// Pool(2) apply_async round trips (all submitted, then each get())
    /// per measure.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    apply_ops: u32,
    /// Items of the Pool(2) map per measure.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u32).range(1..))]
    map_items: u32,
    /// Runs of each Queue, Pipe, Lock, Manager and Pool measure; the median
    /// is shown.
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
    for (which, ops) in [
        (SyncMeasure::Uncontended, args.lock_ops),
        (SyncMeasure::Contended, args.contended_ops),
        (SyncMeasure::Manager, args.manager_ops),
    ] {
        let measures = bench_sync::run(which, ops, args.repeat, &python);
        say(format_args!(
            "{}",
            bench_sync::table(which, ops, args.repeat, &measures)
        ));
        all_measured &= measures.iter().all(|m| m.micros.is_ok());
    }
    for (which, n) in [
        (PoolMeasure::Apply, args.apply_ops),
        (PoolMeasure::Map, args.map_items),
    ] {
        let measures = bench_pool::run(which, n, args.repeat, &python);
        say(format_args!(
            "{}",
            bench_pool::table(which, n, args.repeat, &measures)
        ));
        all_measured &= measures.iter().all(|m| m.micros.is_ok());
    }
    Ok(verdicts_status(all_measured))
}
