//! The clauses and the repository's copy of the behaviour inventory agree.

use mpconform_spec::{behaviours, clauses};
use std::collections::BTreeSet;

#[test]
fn every_cited_behaviour_is_in_the_inventory() {
    for clause in clauses::all() {
        for id in clause.behaviours {
            assert!(
                behaviours::find(id).is_some(),
                "{} cites unknown {id}",
                clause.id
            );
        }
    }
}

#[test]
fn clause_ids_are_unique_and_start_with_a_behaviour_they_cover() {
    let mut seen = BTreeSet::new();
    for clause in clauses::all() {
        assert!(seen.insert(clause.id), "duplicate id {}", clause.id);
        let prefix = &clause.id[..3];
        assert!(
            clause.behaviours.contains(&prefix),
            "{} does not cover {prefix}",
            clause.id
        );
        assert!(
            clause.id[3..].starts_with('-') && clause.id.len() > 4,
            "{} is not BEHAVIOUR-slug",
            clause.id
        );
    }
}

#[test]
fn seeds_are_cited_by_file_name() {
    for clause in clauses::all() {
        for seed in clause.seeds {
            let (number, rest) = seed.split_once('_').expect("NNN_hash.txt");
            assert!(
                number.len() == 3 && number.bytes().all(|b| b.is_ascii_digit()),
                "{seed}"
            );
            assert!(rest.ends_with(".txt"), "{seed}");
        }
    }
}

#[test]
fn the_inventory_lists_the_process_and_os_behaviours() {
    let ids: Vec<&str> = behaviours::all().iter().map(|b| b.id).collect();
    assert!(ids.contains(&"P01") && ids.contains(&"O10") && ids.contains(&"W07"));
}

#[test]
fn every_behaviour_of_the_inventory_has_a_clause() {
    let covered: BTreeSet<&str> = clauses::all()
        .iter()
        .flat_map(|c| c.behaviours.iter().copied())
        .collect();
    let missing: Vec<&str> = behaviours::all()
        .iter()
        .map(|b| b.id)
        .filter(|id| !covered.contains(id))
        .collect();
    assert!(missing.is_empty(), "no clause covers {missing:?}");
    assert_eq!(behaviours::all().len(), 80, "the inventory has 80 ids");
}
