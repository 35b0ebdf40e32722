//! Process objects in the clause's process: a spec until start, then
//! procspawn's JoinHandle, then what its join told. procspawn only learns how
//! a child ended from the result its fn sends back (or the lack of one), so
//! that is all these objects can say about it.

use crate::scope;
use mpconform_spec::{CallError, ErrorKind, ProcessSpec, PyError, Reply, Value};
use procspawn::{JoinHandle, SpawnError};
use std::io::Read;
use std::os::fd::AsFd;
use std::time::Duration;

/// How a finished join ended, as procspawn reports it.
enum Ended {
    /// The fn returned: the child then ends with process::exit(0) (core.rs:300).
    Returned,
    /// The fn panicked: procspawn caught it, sent it back and the child still
    /// ends with process::exit(0) (core.rs:369-371, 300).
    Panicked,
    /// No result came: the child ended some other way (process::exit,
    /// _exit, a signal); procspawn keeps no status of it.
    NoResult,
}

enum State {
    New,
    Running(JoinHandle<()>),
    /// `handle` is kept when a join_timeout finished (procspawn leaves the
    /// handle, consumed, proc.rs:558); join() takes it by value.
    Done {
        ended: Ended,
        handle: Option<JoinHandle<()>>,
    },
}

pub struct ProcessObject {
    pub spec: ProcessSpec,
    state: State,
    /// A reader of the child's captured stderr, started with it so that the
    /// pipe never fills. Not joined on drop: a grandchild may hold the pipe.
    stderr: Option<std::thread::JoinHandle<Vec<u8>>>,
}

fn ended(result: Result<(), SpawnError>) -> Ended {
    match result {
        Ok(()) => Ended::Returned,
        Err(e) if e.is_panic() => Ended::Panicked,
        Err(_) => Ended::NoResult,
    }
}

fn unsupported(why: &str) -> CallError {
    CallError::Unsupported(why.to_string())
}

impl ProcessObject {
    pub fn new(spec: ProcessSpec) -> Self {
        ProcessObject {
            spec,
            state: State::New,
            stderr: None,
        }
    }

    pub fn is_new(&self) -> bool {
        matches!(self.state, State::New)
    }

    pub fn started(&mut self, mut handle: JoinHandle<()>) -> Result<(), CallError> {
        if let Some(pipe) = handle.stderr() {
            let owned = pipe
                .as_fd()
                .try_clone_to_owned()
                .map_err(|e| CallError::Broken(format!("cannot keep the stderr pipe: {e}")))?;
            let mut file = std::fs::File::from(owned);
            self.stderr = Some(std::thread::spawn(move || {
                let mut out = Vec::new();
                let _ = file.read_to_end(&mut out);
                out
            }));
        }
        self.state = State::Running(handle);
        Ok(())
    }

    /// `join([timeout])`: procspawn's join or join_timeout.
    pub fn join(&mut self, timeout: Option<f64>) -> Reply {
        match std::mem::replace(&mut self.state, State::New) {
            State::New => Err(unsupported(scope::NO_UNSTARTED_JOIN)),
            State::Running(handle) => {
                match timeout {
                    None => {
                        let ended = ended(handle.join());
                        self.state = State::Done {
                            ended,
                            handle: None,
                        };
                    }
                    Some(t) => self.state = poll(handle, Duration::from_secs_f64(t.max(0.0))),
                }
                Ok(Value::None)
            }
            done => {
                self.state = done;
                Ok(Value::None)
            }
        }
    }

    /// Whether the child has not yet finished, as join_timeout(0) tells: a
    /// child that did finish is reaped by it, as CPython's poll reaps.
    fn refresh(&mut self) {
        if let State::Running(_) = self.state {
            if let State::Running(handle) = std::mem::replace(&mut self.state, State::New) {
                self.state = poll(handle, Duration::ZERO);
            }
        }
    }

    pub fn is_alive(&mut self) -> Reply {
        self.refresh();
        Ok(Value::Bool(matches!(self.state, State::Running(_))))
    }

    pub fn exitcode(&mut self) -> Reply {
        self.refresh();
        match &self.state {
            State::New | State::Running(_) => Ok(Value::None),
            State::Done {
                ended: Ended::Returned | Ended::Panicked,
                ..
            } => Ok(Value::Int(0)),
            State::Done {
                ended: Ended::NoResult,
                ..
            } => Err(unsupported(scope::NO_STATUS)),
        }
    }

    /// `pid`: JoinHandle::pid(), which is None once the handle is consumed.
    pub fn pid(&self) -> Reply {
        let pid = match &self.state {
            State::New => None,
            State::Running(handle) => handle.pid(),
            State::Done { handle, .. } => handle.as_ref().and_then(JoinHandle::pid),
        };
        Ok(pid.map_or(Value::None, |p| Value::Int(i64::from(p))))
    }

    pub fn kill(&mut self) -> Reply {
        let handle = match &mut self.state {
            State::New => return Err(unsupported(scope::NO_UNSTARTED_JOIN)),
            State::Running(handle) => handle,
            State::Done {
                handle: Some(handle),
                ..
            } => handle,
            State::Done { handle: None, .. } => return Err(unsupported(scope::JOINED_HANDLE_GONE)),
        };
        handle
            .kill()
            .map(|()| Value::None)
            .map_err(|e| CallError::Raised(PyError::new(ErrorKind::OSError, e.to_string())))
    }

    /// What the child wrote to its captured stderr, once it was joined.
    pub fn stderr(&mut self) -> Reply {
        if !matches!(self.state, State::Done { .. }) {
            return Err(CallError::Broken("stderr is read once the child was joined".into()));
        }
        match self.stderr.take() {
            Some(reader) => reader
                .join()
                .map(Value::Bytes)
                .map_err(|_| CallError::Broken("the stderr reader panicked".into())),
            None => Err(CallError::Broken("stderr was not captured".into())),
        }
    }
}

fn poll(mut handle: JoinHandle<()>, timeout: Duration) -> State {
    match handle.join_timeout(timeout) {
        Err(e) if e.is_timeout() => State::Running(handle),
        result => State::Done {
            ended: ended(result),
            handle: Some(handle),
        },
    }
}
