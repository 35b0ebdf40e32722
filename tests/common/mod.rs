//! Helpers the integration tests share: running the `mpconform` binary and
//! reading its JSON.

#![allow(dead_code)]

use assert_cmd::Command;
use serde_json::Value;
use std::collections::BTreeMap;

/// The built `mpconform` binary.
pub fn mpconform() -> Command {
    Command::cargo_bin("mpconform").expect("the mpconform binary is built")
}

/// Runs `mpconform run --format json` with `args`; returns the exit status
/// and the parsed report.
pub fn run_json(args: &[&str]) -> (i32, Value) {
    let output = mpconform()
        .arg("run")
        .args(["--format", "json"])
        .args(args)
        .output()
        .expect("mpconform runs");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code().unwrap_or(-1), report)
}

/// Clause id and method to verdict.
pub fn verdicts(report: &Value) -> BTreeMap<String, String> {
    report["outcomes"]
        .as_array()
        .expect("outcomes")
        .iter()
        .map(|o| {
            (
                format!(
                    "{}[{}]",
                    o["clause"].as_str().unwrap(),
                    o["method"].as_str().unwrap()
                ),
                o["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The names of every fault switch.
pub fn fault_names() -> Vec<String> {
    let output = mpconform()
        .args(["faults", "--format", "json"])
        .output()
        .unwrap();
    let faults: Value = serde_json::from_slice(&output.stdout).unwrap();
    faults
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_string())
        .collect()
}

/// Every clause id, from `mpconform list --format json`.
pub fn clause_ids() -> Vec<String> {
    let output = mpconform()
        .args(["list", "--format", "json"])
        .output()
        .unwrap();
    let list: Value = serde_json::from_slice(&output.stdout).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}
