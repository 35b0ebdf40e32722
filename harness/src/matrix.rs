//! The conformance matrix: every clause against every target, each outcome
//! weighed against the target's expectations, rendered as Markdown, JSON or a
//! standalone HTML page. Targets run one after another (each with the run's
//! parallelism), so the time each took is its own.

use crate::expectations::{Expectations, Standing};
use crate::runner::{self, Plan};
use crate::target::Target;
use crate::verdict::{Outcome, Verdict};
use mpconform_spec::Clause;
use serde::Serialize;
use std::fmt::Write;
use std::time::{Duration, Instant};

/// A target to put in the matrix.
pub struct Column {
    pub name: String,
    pub target: Target,
    pub expectations: Expectations,
    pub expectations_file: Option<String>,
    /// Why it cannot run on this machine, when it cannot.
    pub missing: Option<String>,
}

/// What one target came to.
#[derive(Debug, Serialize)]
pub struct ColumnResult {
    pub name: String,
    pub target: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub start_methods: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expectations_file: Option<String>,
    /// Not run: the target is not on this machine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<String>,
    /// Not run: the target could not be opened or run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub seconds: f64,
    pub outcomes: Vec<Weighed>,
}

/// One outcome and where it stands against the expectations.
#[derive(Debug, Serialize)]
pub struct Weighed {
    pub clause: String,
    pub method: String,
    pub verdict: Verdict,
    pub standing: Standing,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
    /// The expectation's why, for an expected outcome.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    pub millis: f64,
}

#[derive(Debug, Serialize)]
pub struct Matrix {
    pub clauses: Vec<String>,
    pub columns: Vec<ColumnResult>,
    pub seconds: f64,
}

impl Matrix {
    /// Whether every outcome of every target that ran is a pass or expected.
    pub fn all_as_expected(&self) -> bool {
        self.columns
            .iter()
            .all(|c| c.error.is_none() && c.outcomes.iter().all(|o| o.standing.is_ok()))
    }
}

pub fn weigh(outcome: &Outcome, expectations: &Expectations) -> Weighed {
    let entry = expectations.entry_for(&outcome.clause, &outcome.method);
    let standing = expectations.standing(outcome);
    Weighed {
        clause: outcome.clause.clone(),
        method: outcome.method.clone(),
        verdict: outcome.verdict(),
        standing,
        reason: outcome.reason().map(str::to_string),
        check: outcome.violation().map(|v| v.check.clone()),
        why: entry
            .filter(|_| standing == Standing::Expected)
            .map(|e| e.why.clone()),
        millis: outcome.millis,
    }
}

/// Runs every column; `progress` sees one line per finished target and per
/// outcome that is not as expected.
pub fn run(
    columns: &[Column],
    clauses: &[&'static Clause],
    jobs: usize,
    limit: Duration,
    methods: &[String],
    progress: &(dyn Fn(&str) + Sync),
) -> Matrix {
    let started = Instant::now();
    let mut results = Vec::new();
    for (i, column) in columns.iter().enumerate() {
        let counter = format!("[{}/{}]", i + 1, columns.len());
        let mut result = ColumnResult {
            name: column.name.clone(),
            target: column.target.to_string(),
            version: None,
            start_methods: Vec::new(),
            expectations_file: column.expectations_file.clone(),
            missing: column.missing.clone(),
            error: None,
            seconds: 0.0,
            outcomes: Vec::new(),
        };
        if let Some(missing) = &column.missing {
            progress(&format!("{counter} {}: skipped, {missing}", column.name));
            results.push(result);
            continue;
        }
        progress(&format!("{counter} {}: running", column.name));
        let plan = Plan {
            subject: &column.target,
            clauses: clauses.to_vec(),
            jobs,
            limit,
            methods: methods.to_vec(),
        };
        let began = Instant::now();
        let each = |o: &Outcome| {
            let w = weigh(o, &column.expectations);
            if !w.standing.is_ok() {
                progress(&format!(
                    "    {}: {} [{}] {} ({:?}): {}",
                    column.name,
                    o.clause,
                    o.method,
                    o.verdict(),
                    w.standing,
                    o.reason().unwrap_or("")
                ));
            }
        };
        match runner::run(&plan, &each) {
            Ok(run) => {
                if !run.unattributed.is_empty() {
                    progress(&format!(
                        "    {}: left during its run and named by no verdict (not removed): {}",
                        column.name,
                        run.unattributed.join(", ")
                    ));
                }
                result.version = Some(format!("{} {}", run.info.name, run.info.version));
                // The methods it ran under: its own, less those --method left out.
                result.start_methods = run
                    .info
                    .start_methods
                    .iter()
                    .filter(|m| methods.is_empty() || methods.contains(m))
                    .cloned()
                    .collect();
                result.outcomes = run
                    .outcomes
                    .iter()
                    .map(|o| weigh(o, &column.expectations))
                    .collect();
            }
            Err(e) => result.error = Some(e.to_string()),
        }
        result.seconds = began.elapsed().as_secs_f64();
        let tally = tally(&result);
        progress(&format!(
            "{counter} {}: {tally} in {:.1} s",
            column.name, result.seconds
        ));
        results.push(result);
    }
    Matrix {
        clauses: clauses.iter().map(|c| c.id.to_string()).collect(),
        columns: results,
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// `N runs: P pass, E expected, U unexpected`.
fn tally(c: &ColumnResult) -> String {
    if let Some(e) = &c.error {
        return format!("error: {e}");
    }
    format!(
        "{} runs: {}",
        c.outcomes.len(),
        crate::expectations::tally(c.outcomes.iter().map(|o| o.standing))
    )
}

/// The short word for a verdict in a cell.
fn word(v: Verdict) -> &'static str {
    match v {
        Verdict::Unsupported => "unsup",
        other => other.label(),
    }
}

/// A cell's parts: one per distinct (verdict, standing), with the start
/// methods it came under when the target has more than one.
fn cell_parts(column: &ColumnResult, clause: &str) -> Vec<(Verdict, Standing, Vec<String>)> {
    let mut parts: Vec<(Verdict, Standing, Vec<String>)> = Vec::new();
    for o in column.outcomes.iter().filter(|o| o.clause == clause) {
        match parts
            .iter_mut()
            .find(|(v, s, _)| *v == o.verdict && *s == o.standing)
        {
            Some(part) => part.2.push(o.method.clone()),
            None => parts.push((o.verdict, o.standing, vec![o.method.clone()])),
        }
    }
    parts
}

/// A cell as plain text: `pass`, `fail*` (expected), `FAIL` (unexpected),
/// `XPASS` (an unexpected pass), with `(spawn)` when only some methods.
fn cell_text(column: &ColumnResult, clause: &str) -> String {
    if column.missing.is_some() {
        return "-".into();
    }
    if column.error.is_some() {
        return "ERROR".into();
    }
    let parts = cell_parts(column, clause);
    if parts.is_empty() {
        return String::new();
    }
    let several = parts.len() > 1;
    parts
        .iter()
        .map(|(verdict, standing, methods)| {
            let w = match standing {
                Standing::Pass => word(*verdict).to_string(),
                Standing::Expected => format!("{}*", word(*verdict)),
                Standing::Unexpected => word(*verdict).to_uppercase(),
                Standing::UnexpectedPass => "XPASS".into(),
            };
            if several {
                format!("{w} ({})", methods.join(", "))
            } else {
                w
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

pub fn markdown(m: &Matrix) -> String {
    let mut out = String::new();
    let _ = write!(out, "| clause |");
    for c in &m.columns {
        let _ = write!(out, " {} |", c.name);
    }
    let _ = write!(out, "\n|---|");
    for _ in &m.columns {
        let _ = write!(out, "---|");
    }
    let _ = write!(out, "\n| *implementation* |");
    for c in &m.columns {
        let _ = write!(
            out,
            " {} |",
            c.version
                .as_deref()
                .or(c.missing.as_ref().map(|_| "not on this machine"))
                .unwrap_or("")
        );
    }
    let _ = write!(out, "\n| *start methods* |");
    for c in &m.columns {
        let _ = write!(out, " {} |", c.start_methods.join(", "));
    }
    let _ = write!(out, "\n| *time* |");
    for c in &m.columns {
        if c.missing.is_some() {
            let _ = write!(out, " |");
        } else {
            let _ = write!(out, " {:.1} s |", c.seconds);
        }
    }
    for clause in &m.clauses {
        let _ = write!(out, "\n| {clause} |");
        for c in &m.columns {
            let text = cell_text(c, clause);
            let shown = if text.chars().any(|ch| ch.is_ascii_uppercase()) {
                format!("**{text}**")
            } else {
                text
            };
            let _ = write!(out, " {shown} |");
        }
    }
    let _ = writeln!(
        out,
        "\n\n`pass`: passes; `fail*`, `unsup*`...: the expected outcome, explained in the \
         target's expectations file; **FAIL** etc.: not as expected; **XPASS**: passes \
         although expected not to; `(spawn)`: only under those start methods; `-`: target \
         not on this machine. {} clauses, {:.1} s in all.",
        m.clauses.len(),
        m.seconds
    );
    for c in &m.columns {
        let _ = writeln!(out, "- {}: {}", c.name, summary(c));
    }
    out
}

fn summary(c: &ColumnResult) -> String {
    match (&c.missing, &c.error) {
        (Some(missing), _) => format!("skipped: {missing}"),
        (_, Some(e)) => format!("error: {e}"),
        _ => format!("{} ({})", tally(c), c.target),
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A page a person can open: the table, coloured, each cell's reasons on hover.
pub fn html(m: &Matrix) -> String {
    let mut out = String::from(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>mpconform matrix</title>\n<style>\
body{font-family:sans-serif;font-size:13px}table{border-collapse:collapse}\
td,th{border:1px solid #ccc;padding:2px 6px;white-space:nowrap}\
.pass{background:#d8f5d0}.expected{background:#fff3c4}.unexpected{background:#f7b0b0;font-weight:bold}\
.unexpected_pass{background:#b0c8f7;font-weight:bold}.skip{color:#999}\
</style></head><body>\n<h1>mpconform conformance matrix</h1>\n<table>\n<tr><th>clause</th>",
    );
    for c in &m.columns {
        let _ = write!(
            out,
            "<th title=\"{}\">{}<br><small>{}<br>{}</small></th>",
            escape(&summary(c)),
            escape(&c.name),
            escape(c.version.as_deref().unwrap_or("")),
            if c.missing.is_some() {
                "not here".to_string()
            } else {
                format!("{:.1} s", c.seconds)
            }
        );
    }
    out.push_str("</tr>\n");
    for clause in &m.clauses {
        let _ = write!(out, "<tr><td>{}</td>", escape(clause));
        for c in &m.columns {
            let parts = cell_parts(c, clause);
            let worst = parts.iter().map(|(_, s, _)| *s).max_by_key(|s| match s {
                Standing::Pass => 0,
                Standing::Expected => 1,
                Standing::UnexpectedPass => 2,
                Standing::Unexpected => 3,
            });
            let class = match (c.missing.is_some() || c.error.is_some(), worst) {
                (true, _) | (_, None) => "skip",
                (_, Some(Standing::Pass)) => "pass",
                (_, Some(Standing::Expected)) => "expected",
                (_, Some(Standing::Unexpected)) => "unexpected",
                (_, Some(Standing::UnexpectedPass)) => "unexpected_pass",
            };
            let reasons: Vec<String> = c
                .outcomes
                .iter()
                .filter(|o| &o.clause == clause && o.verdict != Verdict::Pass)
                .map(|o| {
                    format!(
                        "[{}] {}{}",
                        o.method,
                        o.reason.as_deref().unwrap_or(""),
                        o.why
                            .as_ref()
                            .map(|w| format!(" (expected: {w})"))
                            .unwrap_or_default()
                    )
                })
                .collect();
            let _ = write!(
                out,
                "<td class=\"{class}\" title=\"{}\">{}</td>",
                escape(&reasons.join("\n")),
                escape(&cell_text(c, clause))
            );
        }
        out.push_str("</tr>\n");
    }
    let _ = write!(
        out,
        "</table>\n<p>{} clauses, {:.1} s in all. Hover a cell for the reasons; yellow cells are \
         expected and explained in the target's expectations file.</p>\n</body></html>\n",
        m.clauses.len(),
        m.seconds
    );
    out
}
