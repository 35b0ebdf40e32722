//! The two channels between a clause and the processes it makes, built on
//! plain pipes so that nothing under test carries them: gates (a child waits
//! until the clause opens one) and the report channel (children send what they
//! observe).

use crate::sys::{pipe, read_some, readable, write_all};
use mpconform_spec::{ErrorKind, PyError, Value};
use serde::{Deserialize, Serialize};
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

/// A gate: closed until one byte is written, then open for every waiter, as
/// nobody reads the byte.
pub struct Gate {
    pub(crate) read: OwnedFd,
    pub(crate) write: OwnedFd,
}

impl Gate {
    pub fn new() -> Result<Gate, PyError> {
        let (read, write) = pipe()?;
        Ok(Gate { read, write })
    }

    pub fn open(&self) -> Result<(), PyError> {
        write_all(&self.write, b"o")
    }

    /// Blocks until the gate is open.
    pub fn wait(&self) -> Result<(), PyError> {
        readable(self.read.as_fd(), None).map(drop)
    }

    /// The waiting side alone, for a thread of this process.
    pub fn waiter(&self) -> Result<OwnedFd, PyError> {
        self.read.try_clone().map_err(io_error)
    }
}

/// Waits on a gate's waiting side (see [`Gate::waiter`]).
pub fn wait_on(waiter: &OwnedFd) -> Result<(), PyError> {
    readable(waiter.as_fd(), None).map(drop)
}

fn io_error(e: std::io::Error) -> PyError {
    PyError::new(ErrorKind::OSError, e.to_string())
}

/// The sending side of the report channel alone, for a thread of this
/// process.
pub struct ReportSender {
    write: OwnedFd,
}

impl ReportSender {
    pub fn send(&self, label: &str, value: Value) -> Result<(), PyError> {
        write_all(&self.write, &report_line(label, value)?)
    }
}

fn report_line(label: &str, value: Value) -> Result<Vec<u8>, PyError> {
    let mut line = serde_json::to_vec(&Report {
        label: label.to_string(),
        value,
    })
    .map_err(|e| PyError::new(ErrorKind::ValueError, e.to_string()))?;
    line.push(b'\n');
    Ok(line)
}

#[derive(Serialize, Deserialize)]
struct Report {
    label: String,
    value: Value,
}

/// Every process that inherits the channel may send; the clause's process
/// receives. Each report is one line, written at once (under PIPE_BUF), so
/// concurrent senders do not interleave.
pub struct ReportChannel {
    pub(crate) read: OwnedFd,
    pub(crate) write: OwnedFd,
    pending: Vec<u8>,
    received: Vec<(String, Value)>,
    taken: Vec<bool>,
}

impl ReportChannel {
    pub fn new() -> Result<ReportChannel, PyError> {
        let (read, write) = pipe()?;
        Ok(ReportChannel {
            read,
            write,
            pending: Vec::new(),
            received: Vec::new(),
            taken: Vec::new(),
        })
    }

    /// The channel over the ends a spawned child was handed.
    pub(crate) fn from_ends(read: OwnedFd, write: OwnedFd) -> ReportChannel {
        ReportChannel {
            read,
            write,
            pending: Vec::new(),
            received: Vec::new(),
            taken: Vec::new(),
        }
    }

    pub fn send(&self, label: &str, value: Value) -> Result<(), PyError> {
        write_all(&self.write, &report_line(label, value)?)
    }

    pub fn sender(&self) -> Result<ReportSender, PyError> {
        Ok(ReportSender {
            write: self.write.try_clone().map_err(io_error)?,
        })
    }

    /// Reads what has arrived, waiting up to `timeout` for something.
    fn receive(&mut self, timeout: Duration) -> Result<bool, PyError> {
        if !readable(self.read.as_fd(), Some(timeout))? {
            return Ok(false);
        }
        let chunk = read_some(&self.read, 65536)?;
        self.pending.extend_from_slice(&chunk);
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            let report: Report = serde_json::from_slice(&line)
                .map_err(|e| PyError::new(ErrorKind::ValueError, format!("bad report: {e}")))?;
            self.received.push((report.label, report.value));
            self.taken.push(false);
        }
        Ok(!chunk.is_empty())
    }

    /// The first report under `label` not yet taken, waiting up to `timeout`.
    pub fn take(&mut self, label: &str, timeout: Duration) -> Result<Value, PyError> {
        let deadline = Instant::now() + timeout;
        loop {
            let found =
                (0..self.received.len()).find(|&i| !self.taken[i] && self.received[i].0 == label);
            if let Some(i) = found {
                self.taken[i] = true;
                return Ok(self.received[i].1.clone());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if !self.receive(left)? && Instant::now() >= deadline {
                return Err(PyError::new(
                    ErrorKind::Timeout,
                    format!("no report {label:?} within {timeout:?}"),
                ));
            }
        }
    }

    /// The labels of every report received so far, after reading what is there.
    pub fn labels(&mut self) -> Result<Vec<String>, PyError> {
        while self.receive(Duration::ZERO)? {}
        Ok(self.received.iter().map(|(l, _)| l.clone()).collect())
    }
}
