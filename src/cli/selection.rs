//! Which clause runs a `run` or a `matrix` makes: the options both take, and
//! their check before any work starts.

use super::CliError;
use mpconform_harness::select::{self, select, Partition};
use mpconform_spec::Clause;

#[derive(clap::Args)]
pub struct Selection {
    /// Run only this clause (repeatable).
    #[arg(long = "clause")]
    clauses: Vec<String>,
    /// Run only the clauses covering this behaviour id (repeatable).
    #[arg(long = "behaviour")]
    behaviours: Vec<String>,
    /// Run only under this start method (repeatable; default: each one the
    /// target has).
    #[arg(long = "method")]
    methods: Vec<String>,
    /// Run shard K of N (`K/N`): every N-th clause from the K-th.
    #[arg(long)]
    partition: Option<String>,
}

impl Selection {
    /// The chosen clauses, in suite order, and the start methods asked for.
    pub fn choose(&self) -> Result<(Vec<&'static Clause>, Vec<String>), CliError> {
        let methods = select::methods(&self.methods)?;
        let mut chosen = select(&self.clauses, &self.behaviours)?;
        if let Some(p) = &self.partition {
            chosen = p.parse::<Partition>()?.apply(chosen);
        }
        Ok((chosen, methods))
    }
}
