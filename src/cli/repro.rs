//! `mpconform repro`: a standalone Python script that replays one clause on
//! a python: target.

use super::against::Against;
use super::{say, CliError};
use mpconform_harness::select::{self, SelectError};
use mpconform_spec::clauses;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The clause id.
    clause: String,
    #[command(flatten)]
    against: Against,
    /// Replay the clause's run under this start method (repeatable; the
    /// first that does not pass is replayed).
    #[arg(long = "method")]
    methods: Vec<String>,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let (target, limit) = args.against.resolve()?;
    let clause = clauses::find(&args.clause).ok_or(SelectError::UnknownClause(args.clause))?;
    let methods = select::methods(&args.methods)?;
    say(format_args!(
        "{}",
        mpconform_harness::repro::script(clause, &target, limit, &methods)?
    ));
    Ok(ExitCode::SUCCESS)
}
