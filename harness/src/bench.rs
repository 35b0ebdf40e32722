//! `mpconform bench`: the cost of one process lifecycle (create, start, join a
//! child that returns) measured side by side in one run: raw fork / _exit /
//! waitpid, the reference implementation through the trait, and CPython's
//! multiprocessing with the fork start method.

use crate::error::HarnessError;
use mpconform_ref::{FaultSet, RefImpl};
use mpconform_spec::{Call, Implementation, ProcessSpec, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// One measured way of doing the lifecycle.
pub struct Measure {
    pub name: String,
    /// Microseconds per lifecycle, or why it could not be measured.
    pub micros: Result<f64, String>,
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
pub fn run(iterations: u32, python: &Path) -> Result<Vec<Measure>, HarnessError> {
    Ok(vec![
        Measure {
            name: "raw fork + _exit + waitpid".into(),
            micros: Ok(raw(iterations)),
        },
        Measure {
            name: "reference Process start + join".into(),
            micros: reference(iterations),
        },
        Measure {
            name: format!("CPython {} Process start + join", python.display()),
            micros: cpython(iterations, python),
        },
    ])
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

fn reference(iterations: u32) -> Result<f64, String> {
    let mut imp = RefImpl::new(FaultSet::none()).map_err(|e| e.to_string())?;
    let started = Instant::now();
    for _ in 0..iterations {
        let spec = ProcessSpec::default();
        let Ok(Value::Handle(process)) = imp.call(&Call::ProcessNew { spec }) else {
            return Err("ProcessNew did not return a handle".into());
        };
        imp.call(&Call::ProcessStart { process })
            .map_err(|e| e.to_string())?;
        imp.call(&Call::ProcessJoin {
            process,
            timeout: None,
        })
        .map_err(|e| e.to_string())?;
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
    print((time.perf_counter() - t) * 1e6 / n)
"#;

fn cpython(iterations: u32, python: &Path) -> Result<f64, String> {
    let output = Command::new(python)
        .args(["-c", CPYTHON_LOOP, &iterations.to_string()])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    if !output.status.success() {
        return Err(format!(
            "{} failed: {}",
            python.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .map_err(|e| format!("unreadable timing from {}: {e}", python.display()))
}

/// The table: time per lifecycle and the ratios to raw and to CPython.
pub fn table(measures: &[Measure], iterations: u32) -> String {
    let raw = measures[0].micros.as_ref().ok().copied();
    let cpython = measures[2].micros.as_ref().ok().copied();
    let mut text =
        format!("{iterations} lifecycles each (create, start, join a child that returns)\n\n");
    text.push_str(&format!(
        "{:<60} {:>12} {:>10} {:>12}\n",
        "measure", "µs / op", "vs raw", "vs CPython"
    ));
    for m in measures {
        match &m.micros {
            Ok(us) => {
                let ratio =
                    |base: Option<f64>| base.map_or("-".to_string(), |b| format!("{:.2}x", us / b));
                text.push_str(&format!(
                    "{:<60} {:>12.1} {:>10} {:>12}\n",
                    m.name,
                    us,
                    ratio(raw),
                    ratio(cpython)
                ));
            }
            Err(why) => text.push_str(&format!("{:<60} not measured: {why}\n", m.name)),
        }
    }
    text
}
