//! The behaviour inventory the clauses cite: the repository's own copy of
//! BEHAVIOURS.md, so that the suite explains itself without `../shared`.

/// The inventory, as shipped in the repository.
pub const INVENTORY: &str = include_str!("../BEHAVIOURS.md");

/// One inventory line: its id and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Behaviour {
    pub id: &'static str,
    pub text: &'static str,
}

/// Every behaviour of the inventory, in its order.
pub fn all() -> Vec<Behaviour> {
    INVENTORY
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("- ")?;
            let (id, _) = rest.split_once(' ')?;
            let well_formed = id.len() == 3
                && id.as_bytes()[0].is_ascii_uppercase()
                && id[1..].bytes().all(|b| b.is_ascii_digit());
            well_formed.then_some(Behaviour { id, text: rest })
        })
        .collect()
}

/// The inventory line of `id`, if there is one.
pub fn find(id: &str) -> Option<Behaviour> {
    all().into_iter().find(|b| b.id == id)
}
