//! After a full run nothing is left: no process, no zombie, no descriptor.
//! This test process makes itself a subreaper, so any process that escaped a
//! clause would end up as its child. It is alone in its test binary, so no
//! other test's children can confuse it.

mod common;
use common::*;

fn children_of_this_process() -> Vec<(i32, String)> {
    let me = std::process::id() as i32;
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| {
            let pid: i32 = e.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let rest = &stat[stat.rfind(')')? + 1..];
            let mut fields = rest.split_whitespace();
            let state = fields.next()?.to_string();
            let ppid: i32 = fields.next()?.parse().ok()?;
            (ppid == me).then_some((pid, state))
        })
        .collect()
}

#[test]
fn a_full_run_leaves_no_process_zombie_or_descriptor() {
    // SAFETY: prctl with PR_SET_CHILD_SUBREAPER takes an integer flag.
    assert_eq!(
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) },
        0
    );
    // Faults that leave processes behind are included on purpose: the harness
    // must clean up after a broken implementation too.
    for fault in [
        None,
        Some("exit-does-not-await-children"),
        Some("start-twice-forks-again"),
        Some("close-keeps-sentinel"),
        Some("join-ignores-timeout"),
        Some("waitpid-aborts-on-echild"),
    ] {
        let mut args = vec!["--target", "ref", "--timeout", "1"];
        if let Some(f) = fault {
            args.extend(["--fault", f]);
        }
        let (_, report) = run_json(&args);
        if fault.is_none() {
            for o in report["outcomes"].as_array().unwrap() {
                assert_eq!(o["leaked_fds"], serde_json::json!([]), "{o:#}");
                assert_eq!(o["leftover_processes"], serde_json::json!([]), "{o:#}");
            }
        }
        assert_eq!(
            children_of_this_process(),
            vec![],
            "after a run with fault {fault:?}"
        );
    }
}
