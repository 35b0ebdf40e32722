//! Where `mpconform fuzz` runs: in a re-executed process in a group of its
//! own, so that whatever its cases leave (a child blocked on a broken queue)
//! dies with the group when the run ends or is stopped, and with a per-case
//! time limit, so that a case that hangs becomes a finding, not a hung run.

use crate::groups;
use nix::sys::wait::{waitid, Id, WaitPidFlag, WaitStatus};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The case running now: its deadline and its program.
static CURRENT_CASE: Mutex<Option<(Instant, String)>> = Mutex::new(None);

/// Records that a case starts (`Some(program)`) or ended (`None`).
pub fn case_started(limit: Duration, program: Option<String>) {
    let mut current = CURRENT_CASE.lock().unwrap_or_else(|e| e.into_inner());
    *current = program.map(|p| (Instant::now() + limit, p));
}

/// How long a case may take, once the watchdog runs.
static LIMIT: Mutex<Option<Duration>> = Mutex::new(None);

/// The per-case limit, if a watchdog runs in this process.
pub fn case_limit() -> Option<Duration> {
    *LIMIT.lock().unwrap_or_else(|e| e.into_inner())
}

/// Starts the thread that ends the process when a case outlives `limit`,
/// naming the case.
pub fn start_watchdog(limit: Duration) {
    // The parent blocks its stop signals and exec keeps the mask: unblock
    // them, or the implementation's children would inherit a blocked SIGTERM.
    let _ = nix::sys::signal::SigSet::empty().thread_set_mask();
    *LIMIT.lock().unwrap_or_else(|e| e.into_inner()) = Some(limit);
    std::thread::spawn(move || loop {
        // A watchdog's tick, not a sequencing sleep: it only notices hangs.
        std::thread::sleep(Duration::from_millis(50));
        let current = CURRENT_CASE.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((deadline, program)) = current.as_ref() {
            if Instant::now() >= *deadline {
                println!(
                    "fuzz: a case did not finish within {limit:?} (a hang is a departure too)\nthe case:"
                );
                for line in program.lines() {
                    println!("    {line}");
                }
                std::process::exit(1);
            }
        }
    });
}

/// Runs `mpconform ARGS` in a process group of its own, stdout and stderr
/// passed through, and returns its exit status; kills the group when the
/// process ends and on a stop signal.
pub fn run_isolated(args: &[String]) -> std::io::Result<u8> {
    groups::guard_run();
    let mut command = Command::new(std::env::current_exe()?);
    crate::environment::apply(&mut command);
    command
        .args(args)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit());
    let Some(mut child) = groups::spawn(&mut command)? else {
        return Ok(3);
    };
    let pid = child.id() as i32;
    // Waited for without reaping, so the group id stays the child's while
    // the group is killed.
    let status = loop {
        match waitid(
            Id::Pid(nix::unistd::Pid::from_raw(pid)),
            WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT,
        ) {
            Ok(WaitStatus::Exited(_, code)) => break code as u8,
            Ok(WaitStatus::Signaled(_, signal, _)) => break 128u8.wrapping_add(signal as u8),
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    };
    groups::kill(pid, false);
    let _ = child.wait();
    groups::release(pid, false);
    Ok(status)
}
