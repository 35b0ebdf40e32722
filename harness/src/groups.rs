//! The process groups of running clauses: registered while they live, so that
//! an interrupted run (SIGINT, SIGTERM, SIGHUP) kills every one of them
//! instead of leaving them to run on, and reaped once they are killed.

use mpconform_spec::observe::processes_where;
use nix::sys::signal::{SigSet, Signal};
use std::collections::BTreeSet;
use std::process::{Child, Command};
use std::sync::Mutex;

/// Live clause groups, and whether the run is stopping.
static LIVE: Mutex<(BTreeSet<i32>, bool)> = Mutex::new((BTreeSet::new(), false));

const STOP_SIGNALS: [Signal; 3] = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP];

/// Makes this process the reaper of what killed clauses leave, and starts the
/// thread that turns a stop signal into killing every live group. Call it
/// before starting any other thread, so that they all inherit the blocked
/// signals (clause processes get a clean mask from `Command`). Only the
/// first call does anything: a matrix's columns share one guard.
pub fn guard_run() {
    static GUARD: std::sync::Once = std::sync::Once::new();
    GUARD.call_once(install_guard);
}

fn install_guard() {
    // SAFETY: prctl with PR_SET_CHILD_SUBREAPER takes an integer flag.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    let mut signals = SigSet::empty();
    for s in STOP_SIGNALS {
        signals.add(s);
    }
    if signals.thread_block().is_err() {
        return;
    }
    std::thread::spawn(move || {
        let signal = signals.wait().unwrap_or(Signal::SIGTERM);
        let mut live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
        live.1 = true;
        for group in &live.0 {
            // SAFETY: kill with a negative pid signals a clause's process group.
            unsafe { libc::kill(-group, libc::SIGKILL) };
        }
        eprintln!("mpconform: stopped by {signal}; every running clause was killed");
        std::process::exit(128 + signal as i32);
    });
}

/// Spawns a clause's process (in its own group) and registers the group;
/// None once the run is stopping.
pub fn spawn(command: &mut Command) -> std::io::Result<Option<Child>> {
    // Spawning under the lock leaves no moment in which a stop could miss it.
    let mut live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
    if live.1 {
        return Ok(None);
    }
    let child = command.spawn()?;
    live.0.insert(child.id() as i32);
    Ok(Some(child))
}

/// Kills what is left of `group` while its leader is still unreaped (so the
/// group id cannot have been reused); unless `clean`, first counts the other
/// members still running.
pub fn kill(group: i32, clean: bool) -> usize {
    let members = if clean {
        0
    } else {
        processes_where(|s| s.pgrp == group && s.pid != group && s.state != 'Z').len()
    };
    // SAFETY: kill with a negative pid signals the group.
    unsafe { libc::kill(-group, libc::SIGKILL) };
    members
}

/// Forgets `group`; unless `clean`, reaps its members that were orphaned to
/// this process, until none is left. Other clauses' processes, each in a
/// group of its own, are never touched.
pub fn release(group: i32, clean: bool) {
    LIVE.lock()
        .unwrap_or_else(|e| e.into_inner())
        .0
        .remove(&group);
    if clean {
        return;
    }
    let me = std::process::id() as i32;
    loop {
        let orphans = processes_where(|s| s.ppid == me && s.pgrp == group);
        if orphans.is_empty() {
            return;
        }
        for orphan in orphans {
            let mut status = 0;
            // SAFETY: the group was killed; waitpid on our own child.
            unsafe {
                libc::kill(orphan.pid, libc::SIGKILL);
                libc::waitpid(orphan.pid, &mut status, 0);
            }
        }
    }
}
