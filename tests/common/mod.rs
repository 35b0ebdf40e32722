//! Helpers the integration tests share: running the `mpconform` binary and
//! reading its JSON.

#![allow(dead_code)]

use assert_cmd::Command;
use mpconform_harness::catalogue::Catalogue;
use mpconform_harness::expectations::Expectations;
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
    listed()
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

/// `mpconform list --format json`.
fn listed() -> Value {
    let output = mpconform()
        .args(["list", "--format", "json"])
        .output()
        .unwrap();
    serde_json::from_slice(&output.stdout).unwrap()
}

/// How many clause runs a target with these start methods gets: a clause
/// of each method once per method, one of some methods once per method it
/// has of them, the others once.
pub fn runs_under(methods: &[&str]) -> usize {
    listed()
        .as_array()
        .unwrap()
        .iter()
        .map(|c| match &c["methods"] {
            Value::String(kind) if kind == "each" => methods.len(),
            Value::Array(only) => methods
                .iter()
                .filter(|m| only.iter().any(|o| o == **m))
                .count(),
            _ => 1,
        })
        .sum()
}

/// The targets file's targets, with why each is missing (if it is).
pub fn targets() -> Vec<(String, Option<String>)> {
    let output = mpconform()
        .args(["targets", "--format", "json"])
        .output()
        .expect("mpconform targets runs");
    let listing: Value = serde_json::from_slice(&output.stdout).expect("targets JSON");
    listing
        .as_array()
        .expect("a list")
        .iter()
        .map(|t| {
            (
                t["name"].as_str().expect("name").to_string(),
                t["missing"].as_str().map(str::to_string),
            )
        })
        .collect()
}

/// One line per clause run, in the suite's order: stable across runs (no
/// pids, times or observed values; a run its expectations call flaky shows
/// as such, whatever it came to).
pub fn verdict_lines(report: &Value, expectations: &Expectations) -> String {
    let mut text = String::new();
    for o in report["outcomes"].as_array().expect("outcomes") {
        let clause = o["clause"].as_str().unwrap_or("?");
        let method = o["method"].as_str().unwrap_or("?");
        if expectations
            .entry_for(clause, method)
            .is_some_and(|e| e.flaky)
        {
            text.push_str(&format!("{clause} [{method}]: flaky (expected)\n"));
            continue;
        }
        let check = o["violation"]["check"]
            .as_str()
            .map(|c| format!(" at {c:?}"))
            .unwrap_or_default();
        text.push_str(&format!(
            "{clause} [{method}]: {}{check}\n",
            o["verdict"].as_str().unwrap_or("?"),
        ));
    }
    text
}

/// The expectations of the targets file's target `name`.
pub fn expectations_of(name: &str) -> Result<Expectations, libtest_mimic::Failed> {
    let catalogue = Catalogue::load(None).map_err(|e| e.to_string())?;
    let file = &catalogue
        .find(name)
        .map_err(|e| e.to_string())?
        .expectations;
    Ok(
        Expectations::load(file, &|id| mpconform_spec::clauses::find(id).is_some())
            .map_err(|e| e.to_string())?,
    )
}
