//! The meta-test: every clause passes with no fault (but for what the
//! reference lacks, named below) and fails under at least one fault switch,
//! and every fault switch is caught by at least one clause. An `unsupported`
//! under a fault catches nothing: only a fail, timeout, crash or error does.

mod common;
use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

#[test]
fn every_clause_can_fail_and_every_fault_is_caught() {
    let (status, clean) = run_json(&["--target", "ref"]);
    assert_eq!(status, 0, "the suite must pass with no fault: {clean:#}");
    // The reference has no forkserver, so C01 can check all but that.
    let lacking: BTreeSet<String> =
        ["C01-start-methods-default-first[unchosen]".to_string()].into();
    let not_passing: BTreeSet<String> = verdicts(&clean)
        .into_iter()
        .filter(|(_, v)| v != "pass")
        .map(|(run, _)| run)
        .collect();
    assert_eq!(
        not_passing, lacking,
        "with no fault, every run but these passes"
    );

    let faults = fault_names();
    assert!(!faults.is_empty());
    // A fault may make a clause hang until its wait limit; a short clause
    // limit keeps the meta-test quick.
    let next = AtomicUsize::new(0);
    let failing: Mutex<BTreeMap<String, BTreeSet<String>>> = Mutex::default();
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                while let Some(fault) = faults.get(next.fetch_add(1, Ordering::SeqCst)) {
                    let (status, report) = run_json(&[
                        "--target",
                        "ref",
                        "--fault",
                        fault,
                        "--timeout",
                        "4",
                        "-j",
                        "1",
                    ]);
                    let failed: BTreeSet<String> = verdicts(&report)
                        .into_iter()
                        .filter(|(_, v)| v != "pass" && v != "unsupported")
                        .map(|(clause, _)| clause)
                        .collect();
                    assert_eq!(
                        status == 0,
                        failed.is_empty(),
                        "exit status agrees with verdicts under {fault}"
                    );
                    failing.lock().unwrap().insert(fault.clone(), failed);
                }
            });
        }
    });
    let failing = failing.into_inner().unwrap();

    let uncaught: Vec<&String> = failing
        .iter()
        .filter(|(_, f)| f.is_empty())
        .map(|(n, _)| n)
        .collect();
    assert!(
        uncaught.is_empty(),
        "faults no clause catches: {uncaught:?}"
    );

    let caught: BTreeSet<&String> = failing.values().flatten().collect();
    let never_failing: Vec<String> = verdicts(&clean)
        .into_keys()
        .filter(|c| !caught.contains(c))
        .collect();
    assert!(
        never_failing.is_empty(),
        "clauses no fault makes fail: {never_failing:?}"
    );
}
