//! `mpconform faults`: the reference implementation's fault switches, each
//! with the real mistake it imitates.

use super::{print_listing, CliError, Format};
use mpconform_ref::Fault;
use serde::Serialize;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
}

#[derive(Serialize)]
struct FaultListing {
    name: &'static str,
    imitates: &'static str,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let listing: Vec<FaultListing> = Fault::ALL
        .iter()
        .map(|f| FaultListing {
            name: f.name(),
            imitates: f.imitates(),
        })
        .collect();
    print_listing(args.format, &listing, |f| {
        format!("{:<34} {}", f.name, f.imitates)
    });
    Ok(ExitCode::SUCCESS)
}
