//! The receiving end of the report channel, in the clause's process: reports
//! arrive in any order of labels and are taken by label, as the reference
//! implementation's are.

use crate::wire::Report;
use ipc_channel::ipc::{self, IpcReceiver, IpcSender};
use ipc_channel::TryRecvError;
use mpconform_spec::{ErrorKind, PyError, Value};
use std::io;
use std::time::{Duration, Instant};

pub struct Reports {
    sender: IpcSender<String>,
    receiver: IpcReceiver<String>,
    received: Vec<(String, Value)>,
    taken: Vec<bool>,
}

impl Reports {
    pub fn new() -> io::Result<Reports> {
        let (sender, receiver) = ipc::channel()?;
        Ok(Reports {
            sender,
            receiver,
            received: Vec::new(),
            taken: Vec::new(),
        })
    }

    /// What a child gets to report with.
    pub fn sender(&self) -> IpcSender<String> {
        self.sender.clone()
    }

    fn keep(&mut self, text: String) -> Result<(), String> {
        let report = Report::decode(&text)?;
        self.received.push((report.label, report.value));
        self.taken.push(false);
        Ok(())
    }

    /// Reads what has arrived without waiting; the channel cannot close, as
    /// this side holds a sender too.
    fn drain(&mut self) -> Result<(), String> {
        loop {
            match self.receiver.try_recv() {
                Ok(text) => self.keep(text)?,
                Err(TryRecvError::Empty) => return Ok(()),
                Err(TryRecvError::IpcError(e)) => return Err(format!("report channel: {e:?}")),
            }
        }
    }

    /// The first report under `label` not yet taken, waiting up to `timeout`.
    pub fn take(
        &mut self,
        label: &str,
        timeout: Duration,
    ) -> Result<Result<Value, PyError>, String> {
        let deadline = Instant::now() + timeout;
        self.drain()?;
        loop {
            let found =
                (0..self.received.len()).find(|&i| !self.taken[i] && self.received[i].0 == label);
            if let Some(i) = found {
                self.taken[i] = true;
                return Ok(Ok(self.received[i].1.clone()));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(Err(PyError::new(
                    ErrorKind::Timeout,
                    format!("no report {label:?} within {timeout:?}"),
                )));
            }
            match self.receiver.try_recv_timeout(left) {
                Ok(text) => self.keep(text)?,
                Err(TryRecvError::Empty) => {}
                Err(TryRecvError::IpcError(e)) => return Err(format!("report channel: {e:?}")),
            }
        }
    }

    /// The labels of every report received so far.
    pub fn labels(&mut self) -> Result<Vec<String>, String> {
        self.drain()?;
        Ok(self.received.iter().map(|(l, _)| l.clone()).collect())
    }
}
