//! `--format junit` is JUnit XML that a CI reads: well formed, one test case
//! per clause run, a failure for each unexpected outcome, and an expected
//! failure as a success whose output carries the expectation.

use quick_xml::events::Event;
use quick_xml::Reader;
use std::collections::BTreeMap;

mod common;

/// Each element's name and how often it occurs, and the text of every
/// `system-out` (less its entity references); panics on XML that is not well formed.
fn read(xml: &str) -> (BTreeMap<String, usize>, Vec<String>) {
    let mut reader = Reader::from_str(xml);
    let mut counts = BTreeMap::new();
    let mut outputs = Vec::new();
    let mut in_output = false;
    let mut depth = 0usize;
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) => {
                depth += 1;
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                in_output = name == "system-out";
                if in_output {
                    outputs.push(String::new());
                }
                *counts.entry(name).or_insert(0) += 1;
            }
            Event::Empty(e) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                *counts.entry(name).or_insert(0) += 1;
            }
            // Entity references come apart from the text around them.
            Event::Text(t) if in_output => {
                let text = t.decode().expect("UTF-8");
                outputs.last_mut().expect("inside one").push_str(&text);
            }
            Event::End(_) => {
                depth -= 1;
                in_output = false;
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(depth, 0, "every element closes");
    (counts, outputs)
}

fn junit(args: &[&str]) -> (i32, String) {
    let output = common::mpconform()
        .args(["run", "--format", "junit", "--target", "ref"])
        .args(args)
        .output()
        .expect("mpconform runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).expect("UTF-8"),
    )
}

#[test]
fn a_run_is_one_test_case_per_clause_run_with_its_failures() {
    let (status, xml) = junit(&["--fault", "close-closes-reader", "--method", "fork"]);
    assert_eq!(status, 1);
    let (counts, _) = read(&xml);
    assert_eq!(counts.get("testsuites"), Some(&1));
    assert_eq!(counts.get("testsuite"), Some(&1));
    assert_eq!(counts["testcase"], common::runs_under(&["fork"]));
    assert_eq!(counts.get("failure"), Some(&1), "{xml}");
    assert!(xml.contains(r#"<testcase name="Q08-feeder-closes-pipe-ends [fork]" classname="ref""#));
}

#[test]
fn an_expected_failure_is_a_success_that_says_so() {
    let (status, xml) = junit(&[
        "--fault",
        "close-closes-reader",
        "--clause",
        "Q08-feeder-closes-pipe-ends",
        "--method",
        "fork",
        "--expectations",
        "tests/data/junit-expectations.toml",
    ]);
    assert_eq!(status, 0, "{xml}");
    let (counts, outputs) = read(&xml);
    assert_eq!(counts["testcase"], 1);
    assert_eq!(counts.get("failure"), None, "{xml}");
    assert_eq!(outputs.len(), 1, "{xml}");
    assert!(
        outputs[0].starts_with(
            "fail, as expected: the fault close-closes-reader closes the reader at close()"
        ),
        "{}",
        outputs[0]
    );
}
