//! `mpconform bench`: the cost of one process lifecycle (create, start, join,
//! close a child that returns) measured side by side in one run: raw fork /
//! _exit / waitpid, the reference implementation through the trait, and
//! CPython's multiprocessing with the fork start method.

use mpconform_ref::{FaultSet, RefImpl};
use mpconform_spec::{Call, CallError, Implementation, ProcessSpec, PyError, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;
use thiserror::Error;

/// Why a measure could not be taken.
#[derive(Debug, Error)]
pub enum MeasureError {
    #[error("the reference implementation could not start: {0}")]
    Open(#[from] PyError),
    #[error("the reference implementation failed a call: {0}")]
    Call(#[from] CallError),
    #[error("ProcessNew returned {0}, not a handle")]
    NotAHandle(Value),
    #[error("cannot run {0}: {1}")]
    NoPython(PathBuf, std::io::Error),
    #[error("{0} failed: {1}")]
    PythonFailed(PathBuf, String),
    #[error("unreadable timing from {0}: {1:?}")]
    Unreadable(PathBuf, String),
    #[error("the raw pipe failed: {0}")]
    Raw(std::io::Error),
}

/// One measured way of doing the lifecycle.
pub struct Measure {
    pub name: String,
    /// Microseconds per lifecycle.
    pub micros: Result<f64, MeasureError>,
}

/// The CPython the comparison uses when none is given.
pub fn default_python() -> PathBuf {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    home.join(".pyenv/versions/3.13.0/bin/python")
}

/// Runs the three measures, `iterations` lifecycles each, in this process
/// (which is single-threaded, as fork needs).
pub fn run(iterations: u32, python: &Path) -> Vec<Measure> {
    vec![
        Measure {
            name: "raw fork + _exit + waitpid".into(),
            micros: Ok(raw(iterations)),
        },
        Measure {
            name: "reference Process start + join + close".into(),
            micros: reference(iterations),
        },
        Measure {
            name: format!("CPython {} Process start + join + close", python.display()),
            micros: cpython(iterations, python),
        },
    ]
}

fn per_op(started: Instant, iterations: u32) -> f64 {
    started.elapsed().as_secs_f64() * 1e6 / f64::from(iterations)
}

fn raw(iterations: u32) -> f64 {
    let started = Instant::now();
    for _ in 0..iterations {
        // SAFETY: single-threaded; the child only calls _exit.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: _exit only ends the process.
            unsafe { libc::_exit(0) };
        }
        let mut status = 0;
        // SAFETY: waitpid on our own child with a valid status pointer.
        unsafe { libc::waitpid(pid, &mut status, 0) };
    }
    per_op(started, iterations)
}

fn reference(iterations: u32) -> Result<f64, MeasureError> {
    let mut imp = RefImpl::new(FaultSet::none())?;
    let started = Instant::now();
    for _ in 0..iterations {
        let spec = ProcessSpec::default();
        let process = match imp.call(&Call::ProcessNew { spec })? {
            Value::Handle(h) => h,
            other => return Err(MeasureError::NotAHandle(other)),
        };
        imp.call(&Call::ProcessStart { process })?;
        imp.call(&Call::ProcessJoin {
            process,
            timeout: None,
        })?;
        imp.call(&Call::ProcessClose { process })?;
    }
    Ok(per_op(started, iterations))
}

const CPYTHON_LOOP: &str = r#"
import multiprocessing as mp, sys, time
def target():
    pass
if __name__ == '__main__':
    ctx = mp.get_context('fork')
    n = int(sys.argv[1])
    t = time.perf_counter()
    for _ in range(n):
        p = ctx.Process(target=target)
        p.start()
        p.join()
        p.close()
    print((time.perf_counter() - t) * 1e6 / n)
"#;

fn cpython(iterations: u32, python: &Path) -> Result<f64, MeasureError> {
    let output = Command::new(python)
        .args(["-c", CPYTHON_LOOP, &iterations.to_string()])
        .output()
        .map_err(|e| MeasureError::NoPython(python.into(), e))?;
    parse_python_output(python, output)
}

/// The one number a timing script prints, or why there is none.
pub(crate) fn parse_python_output(
    python: &Path,
    output: std::process::Output,
) -> Result<f64, MeasureError> {
    let stdout = String::from_utf8_lossy(&output.stdout).trim().to_string();
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
        return Err(MeasureError::PythonFailed(python.into(), stderr));
    }
    stdout
        .parse()
        .map_err(|_| MeasureError::Unreadable(python.into(), stdout))
}

/// The table: time per lifecycle and the ratios to raw and to CPython.
pub fn table(measures: &[Measure], iterations: u32) -> String {
    table_of(
        &format!("{iterations} lifecycles each (create, start, join, close a child that returns)"),
        "µs / op",
        measures,
    )
}

/// The median of the runs, or the first failure.
pub(crate) fn median(runs: Vec<Result<f64, MeasureError>>) -> Result<f64, MeasureError> {
    let mut times = runs.into_iter().collect::<Result<Vec<f64>, _>>()?;
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

/// A table of three measures (raw, reference, CPython, in that order): time
/// per unit and the ratios to raw and to CPython.
pub fn table_of(title: &str, unit: &str, measures: &[Measure]) -> String {
    let raw = measures[0].micros.as_ref().ok().copied();
    let cpython = measures[2].micros.as_ref().ok().copied();
    let mut text = format!("{title}\n\n");
    text.push_str(&format!(
        "{:<64} {:>10} {:>8} {:>11}\n",
        "measure", unit, "vs raw", "vs CPython"
    ));
    for m in measures {
        match &m.micros {
            Ok(us) => {
                let ratio =
                    |base: Option<f64>| base.map_or("-".to_string(), |b| format!("{:.2}x", us / b));
                text.push_str(&format!(
                    "{:<64} {:>10.2} {:>8} {:>11}\n",
                    m.name,
                    us,
                    ratio(raw),
                    ratio(cpython)
                ));
            }
            Err(why) => text.push_str(&format!("{:<64} not measured: {why}\n", m.name)),
        }
    }
    text
}
