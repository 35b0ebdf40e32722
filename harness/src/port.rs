//! The suite inside a port's own `cargo test`: one test per clause and start
//! method, over libtest-mimic, each run as `mpconform run` runs it (a re-exec
//! of the test binary, a process group of its own, a time limit, the
//! subreaper and the leak checks). A port writes one `[[test]]` with
//! `harness = false` whose file is `mpconform_harness::harness!(open);`.

use crate::expectations::{Expectations, Standing};
use crate::isolate::Request;
use crate::report;
use crate::runner;
use crate::subject::FnSubject;
use crate::verdict::{Outcome, Verdict};
use libtest_mimic::{Arguments, Completion, Failed, Trial};
use mpconform_spec::{clauses, Implementation};
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Each clause's time limit, in seconds, when the environment does not
/// give one.
pub const DEFAULT_LIMIT: f64 = 10.0;

/// The environment variable that sets each clause's time limit, in seconds.
pub const LIMIT_VAR: &str = "MPCONFORM_TIMEOUT";

/// How a port opens its implementation, as the harness takes it.
pub type Opener = fn() -> Result<Box<dyn Implementation>, String>;

/// What the `harness!` macro knows of the port.
pub struct Port {
    /// The port's package name, for the reports.
    pub name: &'static str,
    /// Opens a fresh implementation: in each clause's process, and once in
    /// the test binary to learn its start methods.
    pub open: Opener,
    /// The port's expectations file; a missing file is no expectations
    /// unless `required`.
    pub expectations: &'static str,
    pub required: bool,
}

/// `open`'s result as the harness takes it: any implementation, any error
/// that prints.
pub fn boxed<I, E>(opened: Result<I, E>) -> Result<Box<dyn Implementation>, String>
where
    I: Implementation + 'static,
    E: std::fmt::Display,
{
    opened
        .map(|i| Box::new(i) as Box<dyn Implementation>)
        .map_err(|e| e.to_string())
}

/// Puts the suite in a port's test binary. `harness!(open)` reads the
/// optional `mpconform.toml` beside the port's Cargo.toml;
/// `harness!(open, "FILE")` reads FILE (relative to the same directory),
/// which must exist. `init = PATH` names a function to call first thing in
/// `main`, for a crate that re-enters `main` in its children
/// (`procspawn::init`).
#[macro_export]
macro_rules! harness {
    ($open:path) => {
        $crate::harness!(@main $open, "mpconform.toml", false, || {});
    };
    ($open:path, init = $init:path) => {
        $crate::harness!(@main $open, "mpconform.toml", false, $init);
    };
    ($open:path, $expectations:literal) => {
        $crate::harness!(@main $open, $expectations, true, || {});
    };
    ($open:path, $expectations:literal, init = $init:path) => {
        $crate::harness!(@main $open, $expectations, true, $init);
    };
    (@main $open:path, $expectations:literal, $required:literal, $init:expr) => {
        fn main() -> ::std::process::ExitCode {
            ($init)();
            $crate::port::main($crate::port::Port {
                name: env!("CARGO_PKG_NAME"),
                open: || $crate::port::boxed($open()),
                expectations: concat!(env!("CARGO_MANIFEST_DIR"), "/", $expectations),
                required: $required,
            })
        }
    };
}

/// The test binary's `main`: a clause's process when the runner started it
/// so, else libtest's command line over one trial per clause and method.
pub fn main(port: Port) -> ExitCode {
    let subject = FnSubject {
        name: port.name.to_string(),
        open: port.open,
    };
    if Request::is_asked() {
        return ExitCode::from(crate::isolate::serve(&subject) as u8);
    }
    let args = Arguments::from_args();
    match trials(&port, subject) {
        Ok(trials) => libtest_mimic::run(&args, trials).exit_code(),
        Err(line) => {
            eprintln!("error: {line}");
            ExitCode::from(2)
        }
    }
}

/// One trial per clause and start method of the port, named `ID::METHOD`.
fn trials(port: &Port, subject: FnSubject<Opener>) -> Result<Vec<Trial>, String> {
    let limit = limit()?;
    let expectations = Arc::new(expectations_of(port)?);
    let all = clauses::all();
    let probe = runner::probe(&subject, limit).map_err(|e| e.to_string())?;
    let methods = runner::methods_asked(&subject, &probe.info, &[]).map_err(|e| e.to_string())?;
    let subject = Arc::new(subject);
    let file = port.expectations;
    Ok(runner::runs_of(&all, &methods)
        .into_iter()
        .map(|(clause, method)| {
            let subject = Arc::clone(&subject);
            let expectations = Arc::clone(&expectations);
            Trial::ignorable_test(format!("{}::{method}", clause.id), move || {
                let outcome = runner::run_one(subject.as_ref(), clause, &method, limit)
                    .map_err(|e| Failed::from(e.to_string()))?;
                judge(&outcome, &expectations, file)
            })
        })
        .collect())
}

/// A pass, an expected outcome and an unsupported one complete (the last
/// as ignored, with its reason); anything else fails with its report.
fn judge(outcome: &Outcome, expectations: &Expectations, file: &str) -> Result<Completion, Failed> {
    let standing = expectations.standing(outcome);
    let why = outcome.reason().map(str::to_string).unwrap_or_default();
    match (standing, outcome.verdict()) {
        (Standing::Pass, _) => Ok(Completion::Completed),
        (_, Verdict::Unsupported) => Ok(Completion::ignored_with(why)),
        (Standing::Expected, _) => Ok(Completion::Completed),
        (Standing::UnexpectedPass, _) => {
            let entry = expectations.entry_for(&outcome.clause, &outcome.method);
            Err(Failed::from(format!(
                "passed, but {file} expects {}: {} (remove the entry)",
                entry.map_or("otherwise".into(), |e| e.verdict.to_string()),
                entry.map_or("", |e| e.why.as_str())
            )))
        }
        (Standing::Unexpected, _) => Err(Failed::from(details(outcome))),
    }
}

/// What `mpconform run` prints of an outcome that is not a pass.
fn details(o: &Outcome) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "{}", o.verdict().label().to_uppercase());
    let _ = write!(text, "{}", report::outcome_details(o));
    text
}

/// Each clause's time limit, from the environment.
fn limit() -> Result<Duration, String> {
    let Some(value) = std::env::var_os(LIMIT_VAR) else {
        return Ok(Duration::from_secs_f64(DEFAULT_LIMIT));
    };
    let text = value.to_string_lossy();
    text.parse::<f64>()
        .ok()
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("{LIMIT_VAR} must be a positive number of seconds, not '{text}'"))
}

/// The port's expectations, checked before any clause runs.
fn expectations_of(port: &Port) -> Result<Expectations, String> {
    let path = PathBuf::from(port.expectations);
    if port.required && !Path::new(&path).exists() {
        return Err(format!(
            "the expectations file {} does not exist",
            path.display()
        ));
    }
    Expectations::load(&path, &|id| clauses::find(id).is_some()).map_err(|e| e.to_string())
}
