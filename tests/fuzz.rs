//! The fuzzer, bounded: the reference implementation departs from no model
//! in the bounded cases, and each ordering or accounting fault is found
//! within the same bounds (and shrunk to a program that names the check);
//! so is each lock fault.

use mpconform_harness::fuzz::{fuzz, Generator};
use mpconform_harness::target::Target;
use mpconform_ref::Fault;

/// Cases of each kind that cargo test runs.
const CASES: u32 = 32;

/// The ordering and accounting faults the fuzzer must find.
const FOUND_BY_FUZZING: &[&str] = &[
    "feeder-reverses-batches",
    "close-drops-buffered-tail",
    "no-flush-at-exit",
    "queue-not-reset-after-fork",
    "nonpositive-maxsize-literal",
    "task-done-unbounded",
    "put-adds-no-task",
    "unfinished-count-per-process",
    "join-returns-before-zero",
];

#[test]
fn the_reference_follows_the_model() {
    let report = fuzz(
        &Target::Ref(None),
        "fork",
        CASES,
        Some("tests/fuzz-regressions.txt"),
        Generator::Random,
    )
    .expect("the fuzzer runs");
    if let Some(finding) = report.finding {
        panic!("the reference departs from the model:\n{finding}");
    }
    assert_eq!(report.sequential_cases, CASES);
    assert_eq!(report.concurrent_cases, CASES);
    assert_eq!(report.lock_cases, CASES);
}

/// The lock faults the fuzzer must find, each with a lock program.
const LOCK_FAULTS: &[&str] = &[
    "lock-per-process",
    "rlock-any-release",
    "plain-lock-reenters",
];

/// Fuzzes the reference under each of `faults`; each must be found, by a
/// case printed as a program that starts with `program_start`.
fn each_is_found(faults: &[&str], program_start: &str) {
    let mut missed = Vec::new();
    for name in faults {
        let fault = Fault::from_name(name).expect("a known fault");
        // No seed file: a fault's findings are not regressions to replay.
        // Fixed cases: whether a fault is found must not depend on the draw.
        let report = fuzz(
            &Target::Ref(Some(fault)),
            "fork",
            CASES,
            None,
            Generator::Fixed,
        )
        .expect("the fuzzer runs");
        match report.finding {
            None => missed.push(*name),
            Some(finding) => assert!(
                finding.program.starts_with(program_start),
                "{name}: the finding prints a program starting {program_start:?}:\n{finding}"
            ),
        }
    }
    assert!(
        missed.is_empty(),
        "faults the fuzzer did not find: {missed:?}"
    );
}

#[test]
fn every_lock_fault_is_found() {
    each_is_found(LOCK_FAULTS, "lock = ");
}

#[test]
fn every_ordering_and_accounting_fault_is_found() {
    each_is_found(FOUND_BY_FUZZING, "q = ");
}

mod common;

#[test]
fn the_command_prints_a_minimal_program_and_keeps_the_seed() {
    let seeds = std::env::temp_dir().join(format!("mpconform-seeds-{}.txt", std::process::id()));
    let _ = std::fs::remove_file(&seeds);
    let run = || {
        common::mpconform()
            .args(["fuzz", "--fault", "task-done-unbounded", "--cases", "16"])
            .arg("--seeds")
            .arg(&seeds)
            .output()
            .unwrap()
    };
    let first = run();
    let text = String::from_utf8_lossy(&first.stdout);
    assert_eq!(first.status.code(), Some(1), "{text}");
    assert!(text.contains("minimal program:"), "{text}");
    assert!(text.contains("q.task_done()"), "{text}");
    let kept = std::fs::read_to_string(&seeds).expect("the failing seed is kept");
    assert!(kept.lines().any(|l| l.starts_with("cc ")), "{kept}");
    // The kept seed is replayed first: the same finding comes again.
    let again = run();
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stdout).contains("q.task_done()"));
    let _ = std::fs::remove_file(&seeds);
}

#[test]
fn a_run_that_keeps_no_seed_leaves_no_seeds_file() {
    let dir = std::env::temp_dir().join(format!("mpconform-noseeds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    common::mpconform()
        .current_dir(&dir)
        .args(["fuzz", "--target", "ref", "--cases", "2"])
        .assert()
        .success();
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(left.is_empty(), "left in the directory it ran in: {left:?}");
}
