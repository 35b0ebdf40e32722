//! The driver adapter against fake drivers (tests/data/fake_drivers/) that
//! misbehave: each clause gets a crash, timeout or error verdict that shows
//! what the driver did, and the run goes on to the next clause.

use rstest::rstest;

mod common;

fn fake(name: &str) -> String {
    format!(
        "{}/tests/data/fake_drivers/{name}.py",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[rstest]
#[case(
    "garbage",
    "error",
    "the driver's reply is not protocol (expected value at line 1 column 1): \"this is not json\""
)]
#[case(
    "dies",
    "crash",
    "the driver stopped replying: it exited with status 7"
)]
#[case("hangs", "timeout", "no verdict within the 2s limit")]
#[case("stdout", "error", "the driver's reply is not protocol")]
fn a_misbehaving_driver_is_a_verdict(
    #[case] driver: &str,
    #[case] verdict: &str,
    #[case] reason: &str,
) {
    let output = common::mpconform()
        .env("MPCONFORM_DRIVER", fake(driver))
        .args([
            "run",
            "--format",
            "json",
            "--target",
            "python:python3",
            "--timeout",
            "2",
        ])
        .args([
            "--clause",
            "P01-start-once",
            "--clause",
            "P04-daemon-no-children",
        ])
        .output()
        .expect("mpconform runs");
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let outcomes = report["outcomes"].as_array().expect("outcomes");
    assert_eq!(outcomes.len(), 2, "the run went on: {report:#}");
    for o in outcomes {
        assert_eq!(o["verdict"], verdict, "{o:#}");
        let why = o["reason"].as_str().unwrap_or_default();
        assert!(
            why.starts_with(reason),
            "{why:?} should start with {reason:?}"
        );
    }
    if driver == "dies" {
        assert!(outcomes[0]["stderr"]
            .as_str()
            .unwrap_or_default()
            .contains("fake driver: dying now"));
    }
}

#[test]
fn a_driver_of_another_protocol_is_refused_in_one_line() {
    let output = common::mpconform()
        .env("MPCONFORM_DRIVER", fake("protocol2"))
        .args(["run", "--target", "python:python3"])
        .output()
        .expect("mpconform runs");
    assert_eq!(output.status.code(), Some(3));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "error: cannot open the implementation: the driver speaks protocol 2, this harness speaks 1\n"
    );
}

#[test]
fn a_driver_that_dies_before_its_hello_shows_its_stderr_in_one_line() {
    let output = common::mpconform()
        .env("MPCONFORM_DRIVER", fake("nohello"))
        .args(["run", "--target", "python:python3"])
        .output()
        .expect("mpconform runs");
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.ends_with(
            "(stderr: Traceback (most recent call last): | File \"x\", line 1 | AttributeError: module 'os' has no attribute 'mkfifo')\n"
        ),
        "{stderr}"
    );
}

/// `driver:COMMAND` runs any program that speaks the protocol, with no
/// Python assumed: a POSIX sh driver that says `unsupported` to every call
/// gets `unsupported` for every clause, with its reason or the capability
/// its hello lacks, and the run exits 1 (no expectations say so).
#[test]
fn a_driver_in_another_language_is_a_target() {
    let driver = format!(
        "driver:{}/tests/data/drivers/unsupported.sh",
        env!("CARGO_MANIFEST_DIR")
    );
    let (status, report) = common::run_json(&["--target", &driver]);
    assert_eq!(status, 1, "{report:#}");
    assert_eq!(report["target"], driver.as_str());
    let outcomes = report["outcomes"].as_array().expect("outcomes");
    assert_eq!(outcomes.len(), common::runs_under(&["fork"]));
    for o in outcomes {
        let reason = o["reason"].as_str().unwrap_or_default();
        assert_eq!(o["verdict"], "unsupported", "{o:#}");
        assert!(
            reason == "this driver implements no call" || reason.starts_with("lacks "),
            "{o:#}"
        );
    }
}
