//! Choosing clauses by id or by behaviour id.

use crate::error::HarnessError;
use mpconform_spec::{behaviours, clauses, Clause};

/// The clauses named by `ids` or covering `behaviour_ids`, in suite order;
/// all of them when both are empty.
pub fn select(
    ids: &[String],
    behaviour_ids: &[String],
) -> Result<Vec<&'static Clause>, HarnessError> {
    for id in ids {
        if clauses::find(id).is_none() {
            return Err(HarnessError::UnknownClause(id.clone()));
        }
    }
    for b in behaviour_ids {
        if behaviours::find(b).is_none() {
            return Err(HarnessError::UnknownBehaviour(b.clone()));
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
        return Err(HarnessError::NothingSelected);
    }
    Ok(chosen)
}
