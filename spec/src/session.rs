//! A clause's view of one implementation: every call goes through here, is
//! recorded in the transcript, and comes back as a typed answer or a [`Stop`].

use crate::call::{Call, CallError};
use crate::clause::Stop;
use crate::implementation::Implementation;
use crate::program::ProcessSpec;
use crate::value::{ErrorKind, Handle, PyError, Value};
use crate::TranscriptEntry;
use std::fmt::Debug;
use std::time::Duration;

/// Sees each transcript entry as it is made (so a hang still shows its calls).
pub type EntryWatcher<'a> = Box<dyn FnMut(&TranscriptEntry) + 'a>;

/// Drives one implementation for one clause.
pub struct Session<'a> {
    implementation: &'a mut dyn Implementation,
    transcript: Vec<TranscriptEntry>,
    watcher: Option<EntryWatcher<'a>>,
    /// Checks the implementation could not be asked about (an internal it
    /// does not have), with why; the clause went on without them.
    skipped: Vec<String>,
    /// The start method this run of the clause uses.
    pub method: String,
    /// How long a wait may last before it counts as a hang.
    pub hang: Duration,
}

type Answer = Result<Value, PyError>;

impl<'a> Session<'a> {
    pub fn new(implementation: &'a mut dyn Implementation, method: &str, hang: Duration) -> Self {
        Session {
            implementation,
            transcript: Vec::new(),
            watcher: None,
            skipped: Vec::new(),
            method: method.to_string(),
            hang,
        }
    }

    /// Calls `watcher` with each transcript entry as soon as it is recorded.
    pub fn watch(&mut self, watcher: EntryWatcher<'a>) {
        self.watcher = Some(watcher);
    }

    fn record(&mut self, entry: TranscriptEntry) {
        if let Some(watch) = self.watcher.as_mut() {
            watch(&entry);
        }
        self.transcript.push(entry);
    }

    pub fn into_transcript(self) -> Vec<TranscriptEntry> {
        self.transcript
    }

    /// The transcript, and the checks that were skipped (see `optional`).
    pub fn into_parts(self) -> (Vec<TranscriptEntry>, Vec<String>) {
        (self.transcript, self.skipped)
    }

    /// A call that must succeed, for a check the implementation may be
    /// unable to answer (an internal such as the children set): `None` when
    /// it says unsupported, and the clause goes on checking the rest; a run
    /// that skipped a check is `unsupported` at best, never `pass`.
    pub fn optional(&mut self, check: &str, call: Call) -> Result<Option<Value>, Stop> {
        match self.call(call) {
            Err(Stop::Unsupported(why)) => {
                self.skipped.push(format!("{check}: {why}"));
                Ok(None)
            }
            Err(stop) => Err(stop),
            Ok(Ok(v)) => Ok(Some(v)),
            Ok(Err(e)) => Err(Stop::violation(check, "no error", format!("{e}"))),
        }
    }

    /// A check the target cannot be asked about (it lacks what the check
    /// needs): the clause goes on, and is `unsupported` at best.
    pub fn skip(&mut self, check: &str, why: &str) {
        self.skipped.push(format!("{check}: {why}"));
    }

    /// The hang limit in seconds, for calls that take a timeout.
    pub fn hang_secs(&self) -> f64 {
        self.hang.as_secs_f64()
    }

    /// Make a call; a raised error is an answer, anything else stops the clause.
    pub fn call(&mut self, call: Call) -> Result<Answer, Stop> {
        let reply = self.implementation.call(&call);
        self.record(TranscriptEntry::Call {
            call: Box::new(call),
            reply: reply.as_ref().map(abridged).map_err(Clone::clone),
        });
        match reply {
            Ok(value) => Ok(Ok(value)),
            Err(CallError::Raised(e)) => Ok(Err(e)),
            Err(CallError::Unsupported(what)) => Err(Stop::Unsupported(what)),
            Err(CallError::Broken(what)) => Err(Stop::Broken(what)),
            Err(CallError::Died(what)) => Err(Stop::Died(what)),
        }
    }

    /// Record something the clause observed outside the trait.
    pub fn observe(&mut self, what: impl Into<String>, saw: impl Debug) {
        self.record(TranscriptEntry::Observe {
            what: what.into(),
            saw: format!("{saw:?}"),
        });
    }

    /// A call that must succeed.
    pub fn ok(&mut self, check: &str, call: Call) -> Result<Value, Stop> {
        match self.call(call)? {
            Ok(v) => Ok(v),
            Err(e) => Err(Stop::violation(check, "no error", format!("{e}"))),
        }
    }

    /// A call that must raise.
    pub fn raises(&mut self, check: &str, call: Call) -> Result<PyError, Stop> {
        match self.call(call)? {
            Ok(v) => Err(Stop::violation(check, "an error", format!("returned {v}"))),
            Err(e) => Ok(e),
        }
    }

    /// A call that must raise exactly `kind` with `message`.
    pub fn raises_exactly(
        &mut self,
        check: &str,
        call: Call,
        kind: ErrorKind,
        message: &str,
    ) -> Result<(), Stop> {
        let e = self.raises(check, call)?;
        expect_error(check, &e, kind, message)
    }

    // Typed shorthands for the calls clauses make most.

    pub fn new_process(&mut self, spec: ProcessSpec) -> Result<Handle, Stop> {
        let v = self.ok("create a process object", Call::ProcessNew { spec })?;
        handle("process handle", &v)
    }

    pub fn start(&mut self, process: Handle) -> Result<(), Stop> {
        self.ok("start()", Call::ProcessStart { process }).map(drop)
    }

    /// `p.join()` with no timeout: a child that never ends is the clause's timeout.
    pub fn join(&mut self, process: Handle) -> Result<(), Stop> {
        let v = self.ok(
            "join()",
            Call::ProcessJoin {
                process,
                timeout: None,
            },
        )?;
        expect_eq("join() returns", &Value::None, &v)
    }

    pub fn join_timeout(&mut self, process: Handle, timeout: f64) -> Result<Value, Stop> {
        self.ok(
            "join(timeout)",
            Call::ProcessJoin {
                process,
                timeout: Some(timeout),
            },
        )
    }

    pub fn is_alive(&mut self, process: Handle) -> Result<bool, Stop> {
        let v = self.ok("is_alive()", Call::ProcessIsAlive { process })?;
        boolean("is_alive()", &v)
    }

    pub fn pid(&mut self, process: Handle) -> Result<Option<i64>, Stop> {
        let v = self.ok("pid", Call::ProcessPid { process })?;
        optional_int("pid", &v)
    }

    pub fn started_pid(&mut self, process: Handle) -> Result<i64, Stop> {
        self.pid(process)?
            .ok_or_else(|| Stop::violation("pid of a started process", "a pid", "None"))
    }

    pub fn exitcode(&mut self, process: Handle) -> Result<Option<i64>, Stop> {
        let v = self.ok("exitcode", Call::ProcessExitcode { process })?;
        optional_int("exitcode", &v)
    }

    pub fn gate(&mut self) -> Result<Handle, Stop> {
        let v = self.ok("create a gate", Call::GateNew)?;
        handle("gate handle", &v)
    }

    pub fn open(&mut self, gate: Handle) -> Result<(), Stop> {
        self.ok("open a gate", Call::GateOpen { gate }).map(drop)
    }

    /// The next report under `label`, waiting up to the hang limit.
    pub fn report(&mut self, label: &str) -> Result<Value, Stop> {
        let timeout = self.hang_secs();
        match self.call(Call::AwaitReport {
            label: label.to_string(),
            timeout,
        })? {
            Ok(v) => Ok(v),
            Err(e) => Err(Stop::violation(
                format!("report {label:?} from a child"),
                "the report",
                format!("{e}"),
            )),
        }
    }

    pub fn reports_so_far(&mut self) -> Result<Vec<String>, Stop> {
        let v = self.ok("reports so far", Call::ReportsSoFar)?;
        match v {
            Value::List(items) => items
                .iter()
                .map(|i| match i {
                    Value::Str(s) => Ok(s.clone()),
                    other => Err(Stop::Broken(format!("report label is not a str: {other}"))),
                })
                .collect(),
            other => Err(Stop::Broken(format!("reports so far: not a list: {other}"))),
        }
    }

    /// Whether the sentinel is ready within `timeout`.
    pub fn sentinel_ready(&mut self, process: Handle, timeout: f64) -> Result<bool, Stop> {
        let v = self.ok(
            "wait([sentinel], timeout)",
            Call::ProcessSentinelReady { process, timeout },
        )?;
        boolean("sentinel ready", &v)
    }

    /// The children set (CPython's `_children`), an internal: `None` for an
    /// implementation without one, whose clause checks the rest.
    pub fn children_set(&mut self) -> Result<Option<Vec<Handle>>, Stop> {
        match self.optional("the children set", Call::ChildrenSet)? {
            Some(v) => handles("children set", &v).map(Some),
            None => Ok(None),
        }
    }

    pub fn active_children(&mut self) -> Result<Vec<Handle>, Stop> {
        let v = self.ok("active_children()", Call::ActiveChildren)?;
        handles("active_children()", &v)
    }

    /// Waits, outside the trait, until `pid` is asleep in the futex call (blocked
    /// on a lock, semaphore or event). A report under `went_on` (the step after
    /// the blocking one) or the process's end first is a violation: it did not
    /// block. The polling interval is short; the hang limit bounds it.
    pub fn until_blocked(&mut self, pid: i64, what: &str, went_on: &str) -> Result<(), Stop> {
        let deadline = std::time::Instant::now() + self.hang;
        loop {
            if crate::observe::blocked_in_futex(pid) {
                self.observe(format!("pid {pid} asleep in futex ({what})"), true);
                return Ok(());
            }
            if self.reports_so_far()?.iter().any(|l| l == went_on) {
                return Err(Stop::violation(
                    what,
                    "the child to block",
                    format!("it went on and reported {went_on:?}"),
                ));
            }
            if matches!(crate::observe::process_state(pid), None | Some('Z')) {
                return Err(Stop::violation(what, "the child to block", "it ended"));
            }
            if std::time::Instant::now() >= deadline {
                return Err(Stop::violation(
                    what,
                    "the child asleep in futex",
                    format!("not seen blocked within {:?}", self.hang),
                ));
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }

    pub fn getpid(&mut self) -> Result<i64, Stop> {
        let v = self.ok("os.getpid()", Call::OsGetpid)?;
        int("os.getpid()", &v)
    }
}

/// A value as the transcript keeps it: bytes beyond a few KiB (a message
/// sent to fill a pipe) become a description, so that streaming the
/// transcript costs nothing next to the clause.
fn abridged(value: &Value) -> Value {
    const KEEP: usize = 4096;
    match value {
        Value::Bytes(b) if b.len() > KEEP => Value::Opaque(format!(
            "bytes of length {}, starting {:?}",
            b.len(),
            String::from_utf8_lossy(&b[..32])
        )),
        Value::List(items) => Value::List(items.iter().map(abridged).collect()),
        other => other.clone(),
    }
}

/// `observed` must equal `expected`.
pub fn expect_eq<T: Debug + PartialEq>(
    check: &str,
    expected: &T,
    observed: &T,
) -> Result<(), Stop> {
    if expected == observed {
        Ok(())
    } else {
        Err(Stop::violation(
            check,
            format!("{expected:?}"),
            format!("{observed:?}"),
        ))
    }
}

/// `holds` must be true; the words say what was expected and what was seen.
pub fn expect(check: &str, holds: bool, expected: &str, observed: impl Debug) -> Result<(), Stop> {
    if holds {
        Ok(())
    } else {
        Err(Stop::violation(check, expected, format!("{observed:?}")))
    }
}

/// `e` must be exactly `kind` with `message`.
pub fn expect_error(check: &str, e: &PyError, kind: ErrorKind, message: &str) -> Result<(), Stop> {
    if e.kind == kind && e.message == message {
        Ok(())
    } else {
        Err(Stop::violation(
            check,
            format!("{kind}({message:?})"),
            format!("{e}"),
        ))
    }
}

/// A child's report must be exactly the error `kind` with `message`.
pub fn expect_reported_error(
    check: &str,
    reported: &Value,
    kind: ErrorKind,
    message: &str,
) -> Result<(), Stop> {
    match reported {
        Value::Error(e) => expect_error(check, e, kind, message),
        other => Err(Stop::violation(
            check,
            format!("{kind}({message:?})"),
            format!("no error: {other}"),
        )),
    }
}

pub fn int(what: &str, v: &Value) -> Result<i64, Stop> {
    match v {
        Value::Int(i) => Ok(*i),
        other => Err(Stop::violation(what, "an int", format!("{other}"))),
    }
}

pub fn optional_int(what: &str, v: &Value) -> Result<Option<i64>, Stop> {
    match v {
        Value::None => Ok(None),
        Value::Int(i) => Ok(Some(*i)),
        other => Err(Stop::violation(what, "an int or None", format!("{other}"))),
    }
}

pub fn boolean(what: &str, v: &Value) -> Result<bool, Stop> {
    match v {
        Value::Bool(b) => Ok(*b),
        other => Err(Stop::violation(what, "a bool", format!("{other}"))),
    }
}

pub fn string(what: &str, v: &Value) -> Result<String, Stop> {
    match v {
        Value::Str(s) => Ok(s.clone()),
        other => Err(Stop::violation(what, "a str", format!("{other}"))),
    }
}

pub fn handle(what: &str, v: &Value) -> Result<Handle, Stop> {
    match v {
        Value::Handle(h) => Ok(*h),
        other => Err(Stop::Broken(format!(
            "{what}: expected a handle, got {other}"
        ))),
    }
}

pub fn handles(what: &str, v: &Value) -> Result<Vec<Handle>, Stop> {
    match v {
        Value::List(items) => items.iter().map(|i| handle(what, i)).collect(),
        other => Err(Stop::Broken(format!(
            "{what}: expected a list, got {other}"
        ))),
    }
}

/// A `[a, b]` pair of ints (`os.wait()`, `os.waitpid()`).
pub fn int_pair(what: &str, v: &Value) -> Result<(i64, i64), Stop> {
    match v {
        Value::List(items) if items.len() == 2 => {
            Ok((int(what, &items[0])?, int(what, &items[1])?))
        }
        other => Err(Stop::violation(
            what,
            "a (pid, status) pair",
            format!("{other}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ImplInfo;

    /// Answers every call from a script, in order.
    struct Scripted(Vec<Result<Value, CallError>>);

    impl Implementation for Scripted {
        fn describe(&mut self) -> ImplInfo {
            ImplInfo {
                name: "scripted".into(),
                version: "0".into(),
                start_methods: vec!["fork".into()],
                capabilities: vec![],
            }
        }
        fn call(&mut self, _: &Call) -> Result<Value, CallError> {
            self.0.remove(0)
        }
    }

    fn session(script: Vec<Result<Value, CallError>>) -> (Scripted, Duration) {
        (Scripted(script), Duration::from_secs(1))
    }

    #[test]
    fn a_raised_error_is_an_answer_and_is_recorded() {
        let error = PyError::new(ErrorKind::ValueError, "process object is closed");
        let (mut imp, hang) = session(vec![Err(CallError::Raised(error.clone()))]);
        let mut s = Session::new(&mut imp, "fork", hang);
        let got = s.raises("start()", Call::ProcessStart { process: Handle(1) });
        assert_eq!(got, Ok(error.clone()));
        assert_eq!(
            s.into_transcript(),
            vec![TranscriptEntry::Call {
                call: Box::new(Call::ProcessStart { process: Handle(1) }),
                reply: Err(CallError::Raised(error)),
            }]
        );
    }

    #[test]
    fn unsupported_and_broken_stop_the_clause() {
        let (mut imp, hang) = session(vec![
            Err(CallError::Unsupported("kill".into())),
            Err(CallError::Broken("pipe closed".into())),
        ]);
        let mut s = Session::new(&mut imp, "fork", hang);
        assert_eq!(s.getpid(), Err(Stop::Unsupported("kill".into())));
        assert_eq!(s.getpid(), Err(Stop::Broken("pipe closed".into())));
    }

    #[test]
    fn a_wrong_answer_is_a_violation_saying_expected_and_observed() {
        let (mut imp, hang) = session(vec![Ok(Value::Int(0))]);
        let mut s = Session::new(&mut imp, "fork", hang);
        let pid = s.pid(Handle(1)).unwrap();
        assert_eq!(
            expect_eq("pid before start()", &None, &pid),
            Err(Stop::violation("pid before start()", "None", "Some(0)"))
        );
    }

    #[test]
    fn the_watcher_sees_each_entry_as_it_is_made() {
        let (mut imp, hang) = session(vec![Ok(Value::Int(7))]);
        let seen = std::cell::RefCell::new(Vec::new());
        let mut s = Session::new(&mut imp, "fork", hang);
        s.watch(Box::new(|e| seen.borrow_mut().push(e.clone())));
        s.getpid().unwrap();
        s.observe("state", 'Z');
        drop(s);
        assert_eq!(seen.borrow().len(), 2);
    }
}
