//! `mpconform repro`: a standalone Python script that replays one clause's
//! calls on a target, so that a port's author can see the divergence without
//! mpconform. The script is the Python driver itself, with its request loop
//! replaced by the recorded calls; it prints each reply beside the reference
//! implementation's and marks the first that differs.

use crate::driver::driver_source;
use crate::runner::{self, Plan, RunError};
use crate::target::Target;
use crate::verdict::{Outcome, Verdict};
use mpconform_spec::{Call, CallError, Clause, TranscriptEntry, Value};
use std::fmt::Write;
use std::time::Duration;

/// Why no script could be written.
#[derive(Debug, thiserror::Error)]
pub enum ReproError {
    #[error("repro writes Python for a python:INTERPRETER target, not '{0}'")]
    NeedsDriver(String),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error("the target ran no run of the clause under the methods asked for")]
    NothingRan,
}

/// The last line of the driver, which the script replaces.
const DRIVER_MAIN: &str = "if __name__ == '__main__':";

/// Calls whose replies hold pids, descriptors or handles that differ from run
/// to run: their values are not compared with the reference's.
fn varies(call: &Call) -> bool {
    matches!(
        call,
        Call::ProcessPid { .. }
            | Call::OsGetpid
            | Call::OsFork { .. }
            | Call::OsWait
            | Call::OsWaitpid { .. }
            | Call::OsPipe
            | Call::ProcessSentinel { .. }
            | Call::ParentProcessPid
            | Call::AwaitReport { .. }
            | Call::ProcessRepr { .. }
    )
}

/// Every integer in a reply, with the path to it (list indices).
fn ints(value: &Value, path: &mut Vec<usize>, out: &mut Vec<(i64, Vec<usize>)>) {
    match value {
        Value::Int(i) => out.push((*i, path.clone())),
        Value::List(items) => {
            for (n, item) in items.iter().enumerate() {
                path.push(n);
                ints(item, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

/// Runs `clause` on `target` and on the reference, and writes the script.
pub fn script(
    clause: &'static Clause,
    target: &Target,
    limit: Duration,
    methods: &[String],
) -> Result<String, ReproError> {
    let Target::Python(command) = target else {
        return Err(ReproError::NeedsDriver(target.to_string()));
    };
    let run_on = |t: &Target, methods: &[String]| -> Result<Vec<Outcome>, ReproError> {
        let plan = Plan {
            subject: t,
            clauses: vec![clause],
            jobs: 2,
            limit,
            methods: methods.to_vec(),
        };
        Ok(runner::run(&plan, &|_| {})?.outcomes)
    };
    let outcomes = run_on(target, methods)?;
    let chosen = outcomes
        .iter()
        .find(|o| o.verdict() != Verdict::Pass)
        .or(outcomes.first())
        .ok_or(ReproError::NothingRan)?;
    // The reference's run under the same method is the comparison; under
    // one it lacks (forkserver), its first run.
    let reference = run_on(&Target::Ref(None), &[])?;
    let reference_calls: Vec<(&Call, &Result<Value, CallError>)> = reference
        .iter()
        .find(|o| o.method == chosen.method)
        .or(reference.first())
        .map(|o| calls_of(&o.transcript))
        .unwrap_or_default();

    let module = command
        .module
        .clone()
        .unwrap_or_else(|| "multiprocessing".into());
    let source = driver_source();
    let body = source.rfind(DRIVER_MAIN).map_or(source, |at| &source[..at]);
    let mut out = String::new();
    let _ = writeln!(out, "#!/usr/bin/env python");
    let _ = writeln!(
        out,
        "# mpconform repro: clause {} on {} (start method {}).",
        clause.id, target, chosen.method
    );
    for line in wrap(&one_line(clause.statement)) {
        let _ = writeln!(out, "# {line}");
    }
    let _ = writeln!(
        out,
        "# Verdict there: {}{}",
        chosen.verdict(),
        chosen
            .reason()
            .map(|r| format!(": {}", one_line(r)))
            .unwrap_or_default()
    );
    let _ = writeln!(
        out,
        "# Run it with the target's interpreter: python THIS_FILE. It replays the\n\
         # clause's calls through the mpconform Python driver (below, unchanged but\n\
         # for its request loop) and prints each reply beside the reference's."
    );
    out.push_str(body);
    let _ = writeln!(
        out,
        "\n# ---- the replay ----\nMODULE = {module:?}\nCALLS = ["
    );
    let mut earlier: Vec<Vec<(i64, Vec<usize>)>> = Vec::new();
    for (n, entry) in chosen.transcript.iter().enumerate() {
        match entry {
            TranscriptEntry::Observe { what, saw } => {
                let _ = writeln!(
                    out,
                    "    (None, {:?}, None, []),",
                    format!("the clause observed {what}: {saw}")
                );
            }
            TranscriptEntry::Call { call, reply } => {
                let request = serde_json::to_string(call).expect("calls serialize");
                // A pid in the request that an earlier reply gave is taken
                // from this run's reply instead.
                let mut substitutions = Vec::new();
                if let Call::OsWaitpid { pid, .. } | Call::OsKill { pid, .. } = call.as_ref() {
                    for (index, found) in earlier.iter().enumerate() {
                        if let Some((_, path)) = found.iter().find(|(v, _)| v == pid) {
                            substitutions.push(format!("('pid', {index}, {path:?})"));
                            break;
                        }
                    }
                }
                let index = calls_before(&chosen.transcript, n);
                let expected = reference_calls
                    .get(index)
                    .filter(|(c, _)| *c == call.as_ref())
                    .map(|(_, r)| protocol_reply(r).to_string());
                let compare = if varies(call) { "None" } else { "True" };
                let _ = writeln!(
                    out,
                    "    ({request:?}, {}, {compare}, [{}]),",
                    expected.map_or("None".to_string(), |e| format!("{e:?}")),
                    substitutions.join(", ")
                );
                let mut found = Vec::new();
                if let Ok(value) = reply {
                    ints(value, &mut Vec::new(), &mut found);
                }
                earlier.push(found);
            }
        }
    }
    out.push_str(REPLAY);
    Ok(out)
}

/// A reply as the driver protocol spells it.
fn protocol_reply(reply: &Result<Value, CallError>) -> serde_json::Value {
    use serde_json::json;
    match reply {
        Ok(value) => json!({ "ok": value }),
        Err(CallError::Raised(e)) => json!({ "raised": e }),
        Err(CallError::Unsupported(what)) => json!({ "unsupported": what }),
        Err(CallError::Broken(what) | CallError::Died(what)) => json!({ "broken": what }),
    }
}

/// The calls of a transcript, in order.
fn calls_of(transcript: &[TranscriptEntry]) -> Vec<(&Call, &Result<Value, CallError>)> {
    transcript
        .iter()
        .filter_map(|e| match e {
            TranscriptEntry::Call { call, reply } => Some((call.as_ref(), reply)),
            TranscriptEntry::Observe { .. } => None,
        })
        .collect()
}

/// How many calls come before entry `n`.
fn calls_before(transcript: &[TranscriptEntry], n: usize) -> usize {
    transcript[..n]
        .iter()
        .filter(|e| matches!(e, TranscriptEntry::Call { .. }))
        .count()
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn wrap(text: &str) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split(' ') {
        let last = lines.last_mut().expect("one line at least");
        if !last.is_empty() && last.len() + word.len() > 76 {
            lines.push(word.to_string());
        } else {
            if !last.is_empty() {
                last.push(' ');
            }
            last.push_str(word);
        }
    }
    lines
}

/// The replay: the driver's state as main() makes it, without fds 3 and 4.
const REPLAY: &str = r#"]


def _replay():
    import json
    # No protocol descriptors here: children must leave fds 3 and 4 alone.
    driver = open_driver(MODULE, protocol_fds=False)
    print('implementation: %s %s' % (MODULE, driver.hello()['hello']['version']))
    replies = []
    differs = 0
    for request, expected, compare, substitutions in CALLS:
        if request is None:
            print('   # ' + expected)
            continue
        req = json.loads(request)
        for field, index, path in substitutions:
            value = replies[index]['ok']
            for step in path:
                value = value['value'][step]
            req[field] = value['value']
        reply = driver.handle(json.dumps(req).encode('utf-8'))
        reply = json.loads(_dumps(reply))
        replies.append(reply)
        print('-> ' + json.dumps(req))
        print('   ' + json.dumps(reply))
        if expected is not None:
            want = json.loads(expected)
            if compare and reply != want:
                differs += 1
                print('   ^ the reference implementation replied: ' + json.dumps(want))
    print('%d replies differ from the reference implementation\'s' % differs)


if __name__ == '__main__':
    _replay()
"#;
