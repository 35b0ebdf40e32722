//! Reports of a run: a human summary with the transcript of each failure, and
//! JSON for tools.

use crate::runner::Run;
use crate::verdict::{Outcome, Verdict};
use mpconform_spec::{CallError, TranscriptEntry};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

/// One line as an outcome arrives.
pub fn progress_line(o: &Outcome) -> String {
    format!(
        "{:<11} {} [{}] {:.0} ms",
        o.verdict().label().to_uppercase(),
        o.clause,
        o.method,
        o.millis
    )
}

/// Counts per verdict, in the vocabulary's order.
pub fn counts(outcomes: &[Outcome]) -> BTreeMap<&'static str, usize> {
    Verdict::ALL
        .iter()
        .map(|v| {
            (
                v.label(),
                outcomes.iter().filter(|o| o.verdict() == *v).count(),
            )
        })
        .collect()
}

/// The details of every outcome that is not a pass, then the summary.
pub fn human(run: &Run, target: &str, fault: Option<&str>) -> String {
    let mut text = String::new();
    for o in run.outcomes.iter().filter(|o| {
        o.verdict() != Verdict::Pass
            || !o.leftover_processes.is_empty()
            || !o.leaked_fds.is_empty()
            || !o.leaked_names.is_empty()
    }) {
        let _ = writeln!(
            text,
            "\n{} {} [{}]",
            o.verdict().label().to_uppercase(),
            o.clause,
            o.method
        );
        text.push_str(&outcome_details(o));
    }
    let counts = counts(&run.outcomes);
    let summary: Vec<String> = counts
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(v, n)| format!("{n} {v}"))
        .collect();
    let fault = fault
        .map(|f| format!(" with fault {f}"))
        .unwrap_or_default();
    if let Some(overhead) = isolation_overhead(&run.outcomes) {
        let _ = writeln!(
            text,
            "\nisolation: {:.2} ms per clause on average (process start to reaping, minus the time inside)",
            overhead
        );
    }
    let _ = writeln!(text, "{}", crate::environment::summary());
    let _ = writeln!(
        text,
        "\n{} clause runs against {target}{fault}: {} in {:.2} s",
        run.outcomes.len(),
        summary.join(", "),
        run.wall.as_secs_f64()
    );
    if !run.unattributed.is_empty() {
        let _ = writeln!(
            text,
            "left during the run and named by no verdict (not removed): {}",
            run.unattributed.join(", ")
        );
    }
    text
}

/// An outcome's check or reason, leaks, transcript and standard error,
/// each line indented under its header.
pub fn outcome_details(o: &Outcome) -> String {
    let mut text = String::new();
    if let Some(v) = o.violation() {
        let _ = writeln!(text, "  check:    {}", v.check);
        let _ = writeln!(text, "  expected: {}", v.expected);
        let _ = writeln!(text, "  observed: {}", v.observed);
    } else if let Some(reason) = &o.reason() {
        let _ = writeln!(text, "  reason:   {reason}");
    }
    if !o.leftover_processes.is_empty() {
        let _ = writeln!(
            text,
            "  leftover processes killed: {:?}",
            o.leftover_processes
        );
    }
    if !o.leaked_fds.is_empty() {
        let _ = writeln!(text, "  descriptors leaked: {:?}", o.leaked_fds);
    }
    if !o.leaked_names.is_empty() {
        let _ = writeln!(
            text,
            "  named resources left (removed): {}",
            o.leaked_names.join(", ")
        );
    }
    if !o.transcript.is_empty() {
        let _ = writeln!(text, "  transcript:");
        for entry in &o.transcript {
            let _ = writeln!(text, "    {}", transcript_line(entry));
        }
    }
    if !o.stderr.is_empty() {
        let _ = writeln!(text, "  stderr:");
        for line in o.stderr.lines() {
            let _ = writeln!(text, "    | {line}");
        }
    }
    text
}

/// The mean cost, in milliseconds, of running a clause in its own process.
pub fn isolation_overhead(outcomes: &[Outcome]) -> Option<f64> {
    let measured: Vec<f64> = outcomes
        .iter()
        .filter(|o| o.body_millis > 0.0)
        .map(|o| o.millis - o.body_millis)
        .collect();
    (!measured.is_empty()).then(|| measured.iter().sum::<f64>() / measured.len() as f64)
}

/// One transcript entry as a line.
pub fn transcript_line(entry: &TranscriptEntry) -> String {
    match entry {
        TranscriptEntry::Call { call, reply } => {
            let call = serde_json::to_string(call).unwrap_or_default();
            let reply = match reply {
                Ok(v) => format!("{v}"),
                Err(CallError::Raised(e)) => format!("raised {e}"),
                Err(other) => other.to_string(),
            };
            format!("{call} -> {reply}")
        }
        TranscriptEntry::Observe { what, saw } => format!("observed {what}: {saw}"),
    }
}

#[derive(Serialize)]
struct JsonRun<'a> {
    target: &'a str,
    fault: Option<&'a str>,
    wall_seconds: f64,
    isolation_overhead_ms: Option<f64>,
    counts: BTreeMap<&'static str, usize>,
    outcomes: &'a [Outcome],
    unattributed: &'a [String],
    environment: crate::environment::Environment,
}

pub fn json(run: &Run, target: &str, fault: Option<&str>) -> String {
    serde_json::to_string_pretty(&JsonRun {
        target,
        fault,
        wall_seconds: run.wall.as_secs_f64(),
        isolation_overhead_ms: isolation_overhead(&run.outcomes),
        counts: counts(&run.outcomes),
        outcomes: &run.outcomes,
        unattributed: &run.unattributed,
        environment: crate::environment::policy(),
    })
    .expect("reports serialize")
}

/// How the run stands against a target's expectations: a tally, then each
/// outcome that is not as expected.
pub fn against_expectations(
    run: &Run,
    expectations: &crate::expectations::Expectations,
    file: &str,
) -> String {
    use crate::expectations::Standing;
    let mut text = String::new();
    let standings: Vec<(Standing, &Outcome)> = run
        .outcomes
        .iter()
        .map(|o| (expectations.standing(o), o))
        .collect();
    let _ = writeln!(
        text,
        "against {file}: {}",
        crate::expectations::tally(standings.iter().map(|(s, _)| *s))
    );
    for (standing, o) in standings.iter().filter(|(s, _)| !s.is_ok()) {
        let expected = expectations
            .entry_for(&o.clause, &o.method)
            .map(|e| {
                format!(
                    "; expected {}{}",
                    e.verdict,
                    e.check
                        .as_ref()
                        .map(|c| format!(" at {c:?}"))
                        .unwrap_or_default()
                )
            })
            .unwrap_or_default();
        let _ = writeln!(
            text,
            "  {standing:?}: {} [{}] {}{expected}",
            o.clause,
            o.method,
            o.verdict()
        );
    }
    text
}
