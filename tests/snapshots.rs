//! Snapshot regression of each target's verdicts: every target of the
//! targets file that this machine has runs the whole suite through its
//! driver, and the list of `clause [method]: verdict` (with the failing check)
//! must equal the committed insta snapshot. A target the machine lacks is an
//! ignored test whose name says so, never a silent pass.
//!
//! `INSTA_UPDATE=always cargo test --test snapshots` rewrites the snapshots
//! after a deliberate change; review them with git diff.

use libtest_mimic::{Arguments, Failed, Trial};
use mpconform_harness::catalogue::Catalogue;
use mpconform_harness::expectations::Expectations;
use serde_json::Value;

mod common;

/// The targets file's targets, with why each is missing (if it is).
fn targets() -> Vec<(String, Option<String>)> {
    let output = common::mpconform()
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
fn verdict_lines(report: &Value, expectations: &Expectations) -> String {
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

fn snapshot(name: &str) -> Result<(), Failed> {
    let catalogue = Catalogue::load(None).map_err(|e| Failed::from(e.to_string()))?;
    let file = &catalogue
        .find(name)
        .map_err(|e| Failed::from(e.to_string()))?
        .expectations;
    let expectations = Expectations::load(file, &|id| mpconform_spec::clauses::find(id).is_some())
        .map_err(|e| Failed::from(e.to_string()))?;
    let matches = || {
        let (_, report) = common::run_json(&["--target", name, "-j", "2"]);
        let lines = verdict_lines(&report, &expectations);
        std::panic::catch_unwind(|| {
            insta::with_settings!({snapshot_path => "snapshots", prepend_module_to_snapshot => false}, {
                insta::assert_snapshot!(name.to_string(), lines);
            });
        })
        .is_ok()
    };
    // A real implementation may race where its expectations do not say so
    // yet: a difference that does not come back on a second run is reported
    // as a race to mark `flaky`, and only a repeated one fails.
    if matches() {
        return Ok(());
    }
    eprintln!("snapshots: {name} differed once; running it again (a difference that does not repeat is a race of the implementation: mark it flaky in its expectations)");
    if matches() {
        return Ok(());
    }
    Err(Failed::from(format!(
        "the verdicts of {name} differ from tests/snapshots/{name}.snap, twice"
    )))
}

fn main() {
    let args = Arguments::from_args();
    let trials = targets()
        .into_iter()
        .map(|(name, missing)| match missing {
            None => Trial::test(format!("verdicts::{name}"), move || snapshot(&name)),
            Some(why) => {
                eprintln!("snapshots: skipping {name}: {why}");
                Trial::test(format!("verdicts::{name} (not on this machine)"), || Ok(()))
                    .with_ignored_flag(true)
            }
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
