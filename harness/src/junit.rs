//! JUnit XML, which every CI reads: one test suite per target, one test case
//! per clause run (`ID [method]`), weighed against the target's
//! expectations. A pass and an expected outcome are successes (the
//! expectation in the case's output); an expected `unsupported` is skipped;
//! an unexpected outcome is a failure (`fail`, an unexpected pass) or an
//! error (`timeout`, `crash`, `error`, an unexpected `unsupported`).

use crate::expectations::{Expectations, Standing};
use crate::matrix::{weigh, Matrix, Weighed};
use crate::report;
use crate::runner::Run;
use crate::verdict::{Outcome, Verdict};
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use std::time::Duration;

/// The report of one run against `target`.
pub fn of_run(run: &Run, target: &str, expectations: &Expectations) -> String {
    let mut suite = TestSuite::new(target);
    suite.set_time(run.wall);
    for outcome in &run.outcomes {
        suite.add_test_case(case(
            target,
            &weigh(outcome, expectations),
            Some(outcome),
            expectations,
        ));
    }
    let mut junit = Report::new("mpconform");
    junit.set_time(run.wall).add_test_suite(suite);
    junit
        .to_string()
        .expect("JUnit of plain strings serializes")
}

/// The report of a matrix: one suite per target that ran (a target that is
/// missing, or could not run, is a suite with one skipped or erring case).
pub fn of_matrix(matrix: &Matrix) -> String {
    let mut junit = Report::new("mpconform");
    junit.set_time(Duration::from_secs_f64(matrix.seconds));
    for column in &matrix.columns {
        let mut suite = TestSuite::new(column.name.as_str());
        suite.set_time(Duration::from_secs_f64(column.seconds));
        let none = Expectations::default();
        for weighed in &column.outcomes {
            suite.add_test_case(case(&column.name, weighed, None, &none));
        }
        if let Some(missing) = &column.missing {
            let mut status = TestCaseStatus::skipped();
            status.set_message(missing.as_str());
            suite.add_test_case(TestCase::new("(target)", status));
        }
        if let Some(error) = &column.error {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
            status.set_message(error.as_str());
            suite.add_test_case(TestCase::new("(target)", status));
        }
        junit.add_test_suite(suite);
    }
    junit
        .to_string()
        .expect("JUnit of plain strings serializes")
}

/// One clause run as a test case; `outcome` adds its details (a run has
/// them, a matrix keeps only its summary).
fn case(
    target: &str,
    w: &Weighed,
    outcome: Option<&Outcome>,
    expectations: &Expectations,
) -> TestCase {
    let reason = w.reason.clone().unwrap_or_default();
    let details = outcome.map(report::outcome_details).unwrap_or_default();
    let status = match w.standing {
        Standing::Pass => TestCaseStatus::success(),
        Standing::Expected if w.verdict == Verdict::Unsupported => {
            let mut status = TestCaseStatus::skipped();
            status.set_message(format!("unsupported, as expected: {reason}"));
            status
        }
        Standing::Expected => TestCaseStatus::success(),
        Standing::UnexpectedPass => {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            let entry = expectations.entry_for(&w.clause, &w.method);
            status.set_type("unexpected pass").set_message(match entry {
                Some(e) => format!("passed, but {} is expected: {}", e.verdict, e.why),
                None => "passed, but an expectation says otherwise".to_string(),
            });
            status
        }
        Standing::Unexpected => {
            let kind = match w.verdict {
                Verdict::Fail => NonSuccessKind::Failure,
                _ => NonSuccessKind::Error,
            };
            let mut status = TestCaseStatus::non_success(kind);
            status
                .set_type(w.verdict.label())
                .set_message(reason.as_str())
                .set_description(details.as_str());
            status
        }
    };
    let mut case = TestCase::new(format!("{} [{}]", w.clause, w.method), status);
    case.set_classname(target)
        .set_time(Duration::from_secs_f64(w.millis / 1000.0));
    if w.standing == Standing::Expected {
        case.set_system_out(format!(
            "{}, as expected: {}\n{reason}",
            w.verdict,
            w.why.as_deref().unwrap_or("")
        ));
    }
    case
}
