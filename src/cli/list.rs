//! `mpconform list`: the clauses, with their metadata.

use super::{one_line, print_listing, CliError, Format};
use mpconform_spec::{clauses, Methods};
use serde::Serialize;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
}

#[derive(Serialize)]
struct ClauseListing {
    id: &'static str,
    behaviours: &'static [&'static str],
    seeds: &'static [&'static str],
    statement: String,
    notes: String,
    needs: Vec<String>,
    /// `each` (every start method the target has), `once` (the first: the
    /// os layer), or the list of the only methods it runs under.
    methods: serde_json::Value,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let listing: Vec<ClauseListing> = clauses::all()
        .into_iter()
        .map(|c| ClauseListing {
            id: c.id,
            behaviours: c.behaviours,
            seeds: c.seeds,
            statement: one_line(c.statement),
            notes: one_line(c.notes),
            needs: c.needs.iter().map(|n| format!("{n:?}")).collect(),
            methods: match c.methods {
                Methods::Each => "each".into(),
                Methods::Any => "once".into(),
                Methods::Only(only) => only.to_vec().into(),
                Methods::Unchosen => "unchosen".into(),
            },
        })
        .collect();
    print_listing(args.format, &listing, |c| {
        format!(
            "{:<40} {:<10} {}",
            c.id,
            c.behaviours.join(","),
            c.statement
        )
    });
    Ok(ExitCode::SUCCESS)
}
