//! A wrapper gets exactly multiprocessing's verdicts: the two fixtures under
//! tests/fixtures (`mpwrap`, a module that re-exports multiprocessing, and
//! `mpkit`, a package of its own whose submodules have other names) offer
//! every public name of multiprocessing, and they run the whole suite on
//! every CPython 3.8+ target this machine has with verdict lines equal to
//! that target's snapshot (tests/snapshots), which tests/snapshots.rs proves
//! is plain multiprocessing's. A missing target is an ignored test that says
//! so.

use libtest_mimic::{Arguments, Failed, Trial};

mod common;

const WRAPPERS: [&str; 2] = ["mpwrap", "mpkit"];

/// The targets file's CPython targets from 3.8 on (the driver's wrapper
/// fixtures use `from multiprocessing import *`, whose names 3.8 fixed).
fn cpython_targets() -> Vec<(String, Option<String>)> {
    common::targets()
        .into_iter()
        .filter(|(name, _)| {
            name.strip_prefix("cpython-3.")
                .and_then(|minor| minor.parse::<u32>().ok())
                .is_some_and(|minor| minor >= 8)
        })
        .collect()
}

/// The interpreter of a present target, from `mpconform targets`.
fn interpreter_of(name: &str) -> Result<String, Failed> {
    let output = common::mpconform()
        .args(["targets", "--format", "json"])
        .output()
        .map_err(|e| e.to_string())?;
    let listing: serde_json::Value =
        serde_json::from_slice(&output.stdout).map_err(|e| e.to_string())?;
    listing
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["name"] == name)
        .and_then(|t| t["target"].as_str())
        .and_then(|t| t.strip_prefix("python:"))
        .map(str::to_string)
        .ok_or_else(|| format!("no interpreter for {name}").into())
}

fn same_verdicts(target: &str, wrapper: &str) -> Result<(), Failed> {
    let expectations = common::expectations_of(target)?;
    let interpreter = interpreter_of(target)?;
    let snapshot = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(format!("{target}.snap"));
    let pinned = std::fs::read_to_string(&snapshot).map_err(|e| e.to_string())?;
    // insta's header ends at the second `---` line.
    let plain = pinned.splitn(3, "---\n").nth(2).unwrap_or("").trim_end();
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let lines = || {
        let output = common::mpconform()
            .env("PYTHONPATH", &fixtures)
            .args(["run", "--format", "json", "-j", "2"])
            .args(["--target", &format!("python:{interpreter}")])
            .args(["--module", wrapper])
            .output()
            .expect("mpconform runs");
        let report: serde_json::Value =
            serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
                panic!(
                    "not JSON ({e}): {}",
                    String::from_utf8_lossy(&output.stderr)
                )
            });
        common::verdict_lines(&report, &expectations)
    };
    // A race of the implementation itself shows once; only a repeated
    // difference fails (as in tests/snapshots.rs).
    let first = lines();
    if first.trim_end() == plain {
        return Ok(());
    }
    let second = lines();
    if second.trim_end() == plain {
        eprintln!("wrappers: {wrapper} on {target} differed once, not twice (a race)");
        return Ok(());
    }
    let differing: Vec<String> = second
        .lines()
        .zip(plain.lines())
        .filter(|(a, b)| a != b)
        .map(|(a, b)| format!("  {wrapper}: {a}\n  multiprocessing: {b}"))
        .collect();
    Err(format!(
        "{wrapper} on {target} differs from plain multiprocessing ({}), twice:\n{}",
        snapshot.display(),
        differing.join("\n")
    )
    .into())
}

/// The wrapper offers every public name of the target's multiprocessing: a
/// name it lacked would make the driver say `unsupported` where the snapshot
/// says `pass` (as a missing `Pool` once did), found here in a second rather
/// than by same_verdicts' whole suite.
fn whole_api(target: &str, wrapper: &str) -> Result<(), Failed> {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let program = format!(
        "import multiprocessing, {wrapper}\n\
         print(' '.join(sorted(set(multiprocessing.__all__) - set(dir({wrapper})))))"
    );
    let output = std::process::Command::new(interpreter_of(target)?)
        .env("PYTHONPATH", &fixtures)
        .args(["-c", &program])
        .output()
        .map_err(|e| e.to_string())?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned().into());
    }
    let missing = String::from_utf8_lossy(&output.stdout).trim().to_string();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("{wrapper} lacks multiprocessing's {missing} on {target}").into())
    }
}

/// A port without the children set: the clauses that read it check the
/// rest and are unsupported for that check alone, with the reason.
fn without_children_set() -> Result<(), Failed> {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let output = common::mpconform()
        .env("PYTHONPATH", &fixtures)
        .args(["run", "--format", "json", "--target", "python:python3"])
        .args(["--module", "mpnochildren", "--method", "fork"])
        .args(["--clause", "P11-join-reaps", "--clause", "P01-start-once"])
        .output()
        .map_err(|e| e.to_string())?;
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).map_err(|e| e.to_string())?;
    let outcomes = report["outcomes"].as_array().cloned().unwrap_or_default();
    let verdict_of = |id: &str| {
        outcomes
            .iter()
            .find(|o| o["clause"] == id)
            .cloned()
            .unwrap_or_default()
    };
    let p11 = verdict_of("P11-join-reaps");
    let why = p11["reason"].as_str().unwrap_or_default();
    if p11["verdict"] != "unsupported"
        || !why.starts_with("every other check holds; could not check the children set: ")
    {
        return Err(format!("P11 without a children set: {p11:#}").into());
    }
    if verdict_of("P01-start-once")["verdict"] != "pass" {
        return Err(format!("P01 reads no children set: {report:#}").into());
    }
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let mut trials = vec![Trial::test(
        "without_children_set::python3",
        without_children_set,
    )];
    for (target, missing) in cpython_targets() {
        for wrapper in WRAPPERS {
            for (kind, check) in [
                (
                    "whole_api",
                    whole_api as fn(&str, &str) -> Result<(), Failed>,
                ),
                ("same_verdicts", same_verdicts),
            ] {
                let name = format!("{kind}::{wrapper}::{target}");
                trials.push(match &missing {
                    None => {
                        let target = target.clone();
                        Trial::test(name, move || check(&target, wrapper))
                    }
                    Some(_) => Trial::test(format!("{name} (not on this machine)"), || Ok(()))
                        .with_ignored_flag(true),
                });
            }
        }
    }
    libtest_mimic::run(&args, trials).exit();
}
