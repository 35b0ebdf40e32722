//! The command line: listings, filters, and one clear line with status 2 for
//! bad input.

mod common;
use common::*;
use rstest::rstest;
use serde_json::Value;

#[test]
fn list_json_covers_every_process_and_os_behaviour() {
    let output = mpconform()
        .args(["list", "--format", "json"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let list: Value = serde_json::from_slice(&output.stdout).unwrap();
    let covered: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| {
            c["behaviours"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b.as_str().unwrap().to_string())
        })
        .collect();
    let wanted = (1..=24)
        .map(|n| format!("P{n:02}"))
        .chain((1..=5).map(|n| format!("C{n:02}")))
        .chain((1..=10).map(|n| format!("O{n:02}")));
    for id in wanted {
        assert!(covered.contains(&id), "no clause covers {id}");
    }
    for clause in list.as_array().unwrap() {
        let methods = &clause["methods"];
        assert!(
            methods == "each" || methods == "once" || methods == "unchosen" || methods.is_array(),
            "{clause:#}: methods"
        );
        for field in ["id", "statement", "notes"] {
            assert!(
                !clause[field].as_str().unwrap().is_empty(),
                "{clause:#} lacks {field}"
            );
        }
        assert!(
            !clause["seeds"].as_array().unwrap().is_empty(),
            "{clause:#} cites no seed"
        );
    }
}

#[rstest]
#[case(&["run", "--clause", "P99-nothing"], "error: unknown clause 'P99-nothing' (see `mpconform list`)")]
#[case(&["run", "--behaviour", "Z01"], "error: unknown behaviour 'Z01' (see BEHAVIOURS.md)")]
#[case(&["run", "--fault", "no-such-fault"], "error: unknown fault 'no-such-fault' (see `mpconform faults`)")]
#[case(&["run", "--target", "nowhere"], "error: unknown target 'nowhere' (the targets file targets.toml has: cpython-2.7, cpython-3.6, cpython-3.7, cpython-3.8, cpython-3.9, cpython-3.10, cpython-3.11, cpython-3.12, cpython-3.13, python3, pypy3, billiard, multiprocess, rustpython, loky)")]
#[case(&["run", "--target", "python:/nowhere/python"], "error: no interpreter '/nowhere/python': give a path to one, or the name of a program in PATH")]
#[case(&["run", "--target", "driver:/nowhere/driver --flag"], "error: no driver program '/nowhere/driver': give a path to one, or the name of a program in PATH")]
#[case(&["run", "--target", "driver:tests/data/drivers/unsupported.sh", "--fault", "close-closes-reader"], "error: fault switches belong to the reference implementation, not to 'driver:tests/data/drivers/unsupported.sh'")]
#[case(&["run", "--target", "ref", "--module", "billiard"], "error: --module applies to a python:INTERPRETER target, not 'ref'")]
#[case(&["run", "--partition", "3/2"], "error: --partition takes K/N with 1 <= K <= N, not '3/2'")]
#[case(&["matrix", "--set", "nosuch"], "error: unknown set 'nosuch' (the targets file targets.toml has: all, ci, cpython, ports)")]
#[case(&["run", "--target", "python3", "--expectations", "tests/data/bad-expectations.toml"], "error: malformed expectations file tests/data/bad-expectations.toml: unknown clause 'P99-no-such-clause'")]
#[case(&["targets", "--targets", "tests/data/bad-targets.toml"], "error: malformed targets file tests/data/bad-targets.toml: target 'x' needs exactly one of `python` and `venv`")]
#[case(&["repro", "P01-start-once", "--target", "ref"], "error: repro writes Python for a python:INTERPRETER target, not 'ref'")]
#[case(&["run", "--timeout", "0"], "error: the time limit must be a positive number of seconds, not 0")]
#[case(&["run", "-j", "0"], "error: -j must be at least 1")]
#[case(&["run", "--no-such-flag"], "error: unexpected argument '--no-such-flag' found")]
#[case(&["frobnicate"], "error: unrecognized subcommand 'frobnicate'")]
#[case(&["fuzz", "--seeds", "/nonexistent/seeds.txt"], "error: cannot write /nonexistent/seeds.txt: No such file or directory (os error 2)")]
#[case(&["run", "--method", "sporn"], "error: unknown start method 'sporn': expected one of fork, spawn, forkserver, loky")]
#[case(&["matrix", "--method", "sporn"], "error: unknown start method 'sporn': expected one of fork, spawn, forkserver, loky")]
#[case(&["fuzz", "--method", "sporn"], "error: unknown start method 'sporn': expected one of fork, spawn, forkserver, loky")]
#[case(&["run", "--target", "ref", "--method", "forkserver"], "error: ref has no start method forkserver (it has: fork, spawn)")]
#[case(&["matrix", "--target", "ref", "--html", "/nonexistent-dir/matrix.html"], "error: cannot write /nonexistent-dir/matrix.html: No such file or directory (os error 2)")]
#[case(&["setup", "nosuch"], "error: unknown target 'nosuch' (the targets file targets.toml has: cpython-2.7, cpython-3.6, cpython-3.7, cpython-3.8, cpython-3.9, cpython-3.10, cpython-3.11, cpython-3.12, cpython-3.13, python3, pypy3, billiard, multiprocess, rustpython, loky)")]
fn bad_input_gives_one_line_and_status_2(#[case] args: &[&str], #[case] line: &str) {
    let output = mpconform().args(args).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&output.stderr), format!("{line}\n"));
    assert!(output.stdout.is_empty());
}

#[test]
fn bad_input_to_the_matrix_leaves_no_page() {
    let page = std::env::temp_dir().join(format!("mpconform-page-{}.html", std::process::id()));
    let output = mpconform()
        .args(["matrix", "--target", "nowhere", "--html"])
        .arg(&page)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let left = page.exists();
    let _ = std::fs::remove_file(&page);
    assert!(!left, "an empty {} was left", page.display());
}

#[test]
fn filters_select_by_clause_and_by_behaviour() {
    let (status, report) = run_json(&["--clause", "P01-start-once", "--behaviour", "O06"]);
    assert_eq!(status, 0);
    let ran: Vec<String> = verdicts(&report).into_keys().collect();
    assert_eq!(
        ran,
        vec![
            "O06-echild[fork]",
            "P01-start-once[fork]",
            "P01-start-once[spawn]"
        ]
    );
}

#[test]
fn a_failure_shows_expected_observed_and_the_transcript() {
    let output = mpconform()
        .args([
            "run",
            "--fault",
            "join-does-not-reap",
            "--clause",
            "P11-join-reaps",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("check:    the child after join()"), "{text}");
    assert!(text.contains("expected: None"), "{text}");
    assert!(text.contains("transcript:"), "{text}");
    assert!(
        text.contains(r#"{"call":"process_join","process":1,"timeout":null} -> None"#),
        "{text}"
    );
}

#[test]
fn faults_lists_each_switch_with_the_mistake_it_imitates() {
    let output = mpconform().arg("faults").output().unwrap();
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    for name in fault_names() {
        assert!(text.contains(&name));
    }
}

#[test]
fn bench_measures_raw_reference_and_cpython_side_by_side() {
    let output = mpconform()
        .args([
            "bench",
            "--iterations",
            "5",
            "--items",
            "2000",
            "--repeat",
            "1",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    // A machine without pyenv's CPython 3.13 gets a "not measured" row and
    // status 1; one with it, three measured rows and status 0.
    assert_eq!(
        output.status.success(),
        !text.contains("not measured"),
        "{text}"
    );
    for line in text
        .lines()
        .filter(|l| l.starts_with("raw") || l.starts_with("reference"))
    {
        assert!(!line.contains("not measured"), "{text}");
    }
    for row in [
        "raw fork + _exit + waitpid",
        "reference Process start + join + close",
        "Process start + join",
        "2000 small items, Queue: put in a child, get in the parent",
        "2000 small items, Pipe: send in a child, recv in the parent",
        "reference Queue put/get",
        "reference Pipe send/recv",
    ] {
        assert!(text.contains(row), "{text}");
    }
    let missing_python = mpconform()
        .args([
            "bench",
            "--iterations",
            "2",
            "--items",
            "100",
            "--repeat",
            "1",
            "--python",
            "/nonexistent/python",
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&missing_python.stdout)
        .contains("not measured: cannot run /nonexistent/python"));
    assert_eq!(missing_python.status.code(), Some(1));
}

#[rstest]
#[case(&["run", "--timeout", "-1"], "error: the time limit must be a positive number of seconds, not -1")]
#[case(&["run", "--timeout", "1e20"], "error: the time limit must be a positive number of seconds, not 100000000000000000000")]
#[case(&["bench", "--iterations", "0"], "error: --iterations must be at least 1")]
#[case(&["bench", "--items", "0"], "error: --items must be at least 1")]
#[case(&["fuzz", "--cases", "0"], "error: --cases must be at least 1")]
#[case(&["fuzz", "--fault", "no-such-fault"], "error: unknown fault 'no-such-fault' (see `mpconform faults`)")]
fn odd_numbers_are_bad_input_too(#[case] args: &[&str], #[case] line: &str) {
    let output = mpconform().args(args).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&output.stderr), format!("{line}\n"));
}

#[test]
fn a_reader_that_goes_away_is_no_panic() {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_mpconform"))
        .args(["run", "-j", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 8];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    // The pipe's read end is dropped here: the rest of the output has nowhere to go.
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        status.code(),
        Some(0),
        "verdicts, not the lost reader, decide the status"
    );
}
