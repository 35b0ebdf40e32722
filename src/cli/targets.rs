//! `mpconform targets` and `mpconform setup`: the targets file's targets,
//! whether this machine has them, and installing those it lacks.

use super::{print_listing, CliError, Format};
use mpconform_harness::catalogue::Catalogue;
use serde::Serialize;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct ListArgs {
    #[arg(long = "targets")]
    targets_file: Option<std::path::PathBuf>,
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
}

#[derive(clap::Args)]
pub struct SetupArgs {
    /// Only these targets (default: every one not marked `on_request`).
    names: Vec<String>,
    #[arg(long = "targets")]
    targets_file: Option<std::path::PathBuf>,
}

pub fn list(args: ListArgs) -> Result<ExitCode, CliError> {
    let catalogue = Catalogue::load(args.targets_file.as_deref())?;
    print_targets(&catalogue, args.format);
    Ok(ExitCode::SUCCESS)
}

pub fn setup(args: SetupArgs) -> Result<ExitCode, CliError> {
    let catalogue = Catalogue::load(args.targets_file.as_deref())?;
    catalogue.setup(&args.names, &|line| eprintln!("setup: {line}"))?;
    let after = Catalogue::load(args.targets_file.as_deref())?;
    print_targets(&after, Format::Human);
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct TargetListing {
    name: String,
    present: bool,
    target: String,
    about: String,
    expectations: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    missing: Option<String>,
}

fn print_targets(catalogue: &Catalogue, format: Format) {
    let listing: Vec<TargetListing> = catalogue
        .targets
        .iter()
        .map(|t| TargetListing {
            name: t.name.clone(),
            present: t.present(),
            target: t.target().to_string(),
            about: t.about.clone(),
            expectations: t.expectations.display().to_string(),
            missing: t.missing.clone(),
        })
        .collect();
    print_listing(format, &listing, |t| match &t.missing {
        None => format!("{:<14} present  {}", t.name, t.target),
        Some(why) => format!("{:<14} MISSING  {why}", t.name),
    });
}
