//! Choosing clauses by id or by behaviour id.

use mpconform_spec::{behaviours, clauses, Clause};
use thiserror::Error;

/// A choice of clauses, methods or shard that names nothing real.
#[derive(Debug, Error)]
pub enum SelectError {
    #[error("unknown clause '{0}' (see `mpconform list`)")]
    UnknownClause(String),
    #[error("unknown behaviour '{0}' (see BEHAVIOURS.md)")]
    UnknownBehaviour(String),
    #[error("unknown start method '{0}': expected one of {KNOWN}", KNOWN = START_METHODS.join(", "))]
    UnknownMethod(String),
    #[error("--partition takes K/N with 1 <= K <= N, not '{0}'")]
    BadPartition(String),
    #[error("no clause matches the filters")]
    NothingSelected,
}

/// The start methods a `--method` may name: CPython's three, and the ones
/// ports add (loky's own `loky`).
pub const START_METHODS: [&str; 4] = ["fork", "spawn", "forkserver", "loky"];

/// The `--method` names, checked before any work starts.
pub fn methods(names: &[String]) -> Result<Vec<String>, SelectError> {
    for name in names {
        if !START_METHODS.contains(&name.as_str()) {
            return Err(SelectError::UnknownMethod(name.clone()));
        }
    }
    Ok(names.to_vec())
}

/// The clauses named by `ids` or covering `behaviour_ids`, in suite order;
/// all of them when both are empty.
pub fn select(
    ids: &[String],
    behaviour_ids: &[String],
) -> Result<Vec<&'static Clause>, SelectError> {
    for id in ids {
        if clauses::find(id).is_none() {
            return Err(SelectError::UnknownClause(id.clone()));
        }
    }
    for b in behaviour_ids {
        if behaviours::find(b).is_none() {
            return Err(SelectError::UnknownBehaviour(b.clone()));
        }
    }
    let everything = ids.is_empty() && behaviour_ids.is_empty();
    let chosen: Vec<&'static Clause> = clauses::all()
        .into_iter()
        .filter(|c| {
            everything
                || ids.iter().any(|id| id == c.id)
                || c.behaviours
                    .iter()
                    .any(|b| behaviour_ids.iter().any(|w| w == b))
        })
        .collect();
    if chosen.is_empty() {
        return Err(SelectError::NothingSelected);
    }
    Ok(chosen)
}

/// Shard K of N (`K/N`, 1-based): every N-th clause starting at the K-th, so
/// that N machines running shards 1..N together run each clause once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    pub index: usize,
    pub count: usize,
}

impl std::str::FromStr for Partition {
    type Err = SelectError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || SelectError::BadPartition(s.to_string());
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (usize, usize) =
            (k.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
        if count == 0 || index == 0 || index > count {
            return Err(bad());
        }
        Ok(Partition { index, count })
    }
}

impl Partition {
    pub fn apply<T>(&self, items: Vec<T>) -> Vec<T> {
        items
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % self.count == self.index - 1)
            .map(|(_, item)| item)
            .collect()
    }
}
