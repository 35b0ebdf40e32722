//! `mpconform __clause`: one clause's process, which the runner starts with
//! the clause in its environment (harness isolate.rs).

use super::against::Against;
use super::CliError;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    against: Against,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let (target, _) = args.against.resolve()?;
    Ok(ExitCode::from(
        mpconform_harness::isolate::serve(&target) as u8
    ))
}
