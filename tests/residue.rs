//! Leaks beyond processes and descriptors are verdicts: a target that leaves
//! a /dev/shm name, a temporary directory or a helper that never ends fails
//! the clause run with the names (and the command line) in the reason, and
//! the harness removes what it names. The target is tests/fixtures/mpresidue.py,
//! multiprocessing plus what `MPRESIDUE` asks it to leave.

use rstest::rstest;

mod common;

/// Runs O01 against python3 with `--module mpresidue` leaving `kinds`:
/// the exit status and the one outcome.
fn run_leaving(kinds: &str) -> (Option<i32>, serde_json::Value) {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let output = common::mpconform()
        .env("PYTHONPATH", fixtures)
        .env("MPRESIDUE", kinds)
        .args(["run", "--format", "json", "--target", "python:python3"])
        .args(["--module", "mpresidue", "--method", "fork"])
        .args(["--clause", "O01-fork-returns-twice"])
        .output()
        .expect("mpconform runs");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    (output.status.code(), report["outcomes"][0].clone())
}

#[rstest]
#[case(
    "shm",
    "named resources left behind after every process of the run ended (removed now): /dev/shm/mpconform-residue-test-"
)]
#[case(
    "tmp",
    "named resources left behind after every process of the run ended (removed now): $TMPDIR/pymp-"
)]
#[case(
    "helper",
    "processes still running after the clause, its implementation and a 2s grace for helpers ended: "
)]
fn a_leak_fails_the_run_with_its_names(#[case] kinds: &str, #[case] reason: &str) {
    let (code, o) = run_leaving(kinds);
    assert_eq!(code, Some(1), "{o:#}");
    assert_eq!(o["verdict"], "fail", "{o:#}");
    let why = o["reason"].as_str().unwrap_or_default();
    assert!(
        why.starts_with(reason),
        "{why:?} should start with {reason:?}"
    );
    if kinds == "helper" {
        assert!(
            why.contains("mpconform_driver.py"),
            "the command line: {why}"
        );
    }
    for name in o["leaked_names"].as_array().into_iter().flatten() {
        let name = name.as_str().unwrap_or_default();
        if name.starts_with("/dev/shm/") {
            assert!(!std::path::Path::new(name).exists(), "{name} was removed");
        }
    }
}

#[test]
fn nothing_left_is_a_pass() {
    let (code, o) = run_leaving("");
    assert_eq!(code, Some(0), "{o:#}");
    assert_eq!(o["verdict"], "pass", "{o:#}");
}
