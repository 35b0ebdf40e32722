//! Snapshot regression of each target's verdicts: every target of the
//! targets file that this machine has runs the whole suite through its
//! driver, and the list of `clause [method]: verdict` (with the failing check)
//! must equal the committed insta snapshot. A target the machine lacks is an
//! ignored test whose name says so, never a silent pass.
//!
//! `INSTA_UPDATE=always cargo test --test snapshots` rewrites the snapshots
//! after a deliberate change; review them with git diff.

use libtest_mimic::{Arguments, Failed, Trial};

mod common;

fn snapshot(name: &str) -> Result<(), Failed> {
    let expectations = common::expectations_of(name)?;
    let matches = || {
        let (_, report) = common::run_json(&["--target", name, "-j", "2"]);
        let lines = common::verdict_lines(&report, &expectations);
        std::panic::catch_unwind(|| {
            insta::with_settings!({snapshot_path => "snapshots", prepend_module_to_snapshot => false}, {
                insta::assert_snapshot!(name.to_string(), lines);
            });
        })
        .is_ok()
    };
    // A real implementation may race where its expectations do not say so
    // yet: a difference that does not come back on a second run is reported
    // as a race to mark `flaky`, and only a repeated one fails.
    if matches() {
        return Ok(());
    }
    eprintln!("snapshots: {name} differed once; running it again (a difference that does not repeat is a race of the implementation: mark it flaky in its expectations)");
    if matches() {
        return Ok(());
    }
    Err(Failed::from(format!(
        "the verdicts of {name} differ from tests/snapshots/{name}.snap, twice"
    )))
}

fn main() {
    let args = Arguments::from_args();
    let trials = common::targets()
        .into_iter()
        .map(|(name, missing)| match missing {
            None => Trial::test(format!("verdicts::{name}"), move || snapshot(&name)),
            Some(why) => {
                eprintln!("snapshots: skipping {name}: {why}");
                Trial::test(format!("verdicts::{name} (not on this machine)"), || Ok(()))
                    .with_ignored_flag(true)
            }
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
