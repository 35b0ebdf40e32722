//! A hung or crashed implementation becomes a verdict, never a hung harness,
//! and the transcript shows how far it got.

mod common;
use common::*;
use serde_json::Value;

fn only_outcome(report: &Value) -> &Value {
    let outcomes = report["outcomes"].as_array().unwrap();
    assert_eq!(outcomes.len(), 1, "{report:#}");
    &outcomes[0]
}

#[test]
fn a_hang_is_a_timeout_with_the_calls_made_so_far() {
    let started = std::time::Instant::now();
    let (status, report) = run_json(&[
        "--fault",
        "join-ignores-timeout",
        "--clause",
        "P16-poll-running-child",
        "--method",
        "fork",
        "--timeout",
        "1",
    ]);
    let outcome = only_outcome(&report);
    assert_eq!(outcome["verdict"], "timeout", "{outcome:#}");
    let last_call =
        outcome["transcript"].as_array().unwrap().last().unwrap()["call"]["call"].clone();
    assert_eq!(
        last_call, "process_exitcode",
        "the join that hung is the next call: {outcome:#}"
    );
    assert_eq!(status, 1);
    assert!(
        started.elapsed().as_secs_f64() < 5.0,
        "the limit was enforced"
    );
}

#[test]
fn a_dying_implementation_is_a_crash() {
    let (status, report) = run_json(&[
        "--fault",
        "waitpid-aborts-on-echild",
        "--clause",
        "O06-echild",
    ]);
    let outcome = only_outcome(&report);
    assert_eq!(outcome["verdict"], "crash", "{outcome:#}");
    assert_eq!(
        outcome["reason"], "the clause's process died of signal 6 without a verdict",
        "{outcome:#}"
    );
    assert_eq!(status, 1);
}

#[test]
fn an_unmet_violation_is_a_fail_with_expected_and_observed() {
    let (status, report) = run_json(&[
        "--fault",
        "names-count-from-zero",
        "--clause",
        "P19-names",
        "--method",
        "fork",
    ]);
    let outcome = only_outcome(&report);
    assert_eq!(outcome["verdict"], "fail");
    assert_eq!(
        outcome["violation"]["check"],
        "names of five process objects"
    );
    assert!(outcome["violation"]["observed"]
        .as_str()
        .unwrap()
        .contains("Process-0"));
    assert_eq!(status, 1);
}
