//! `Pipe()` and its `Connection` ends as CPython's `multiprocessing.connection`
//! makes them on Unix: a stream socket pair when duplex, an `os.pipe()` when
//! not (so a sender blocks when CPython's would). Each send is one framed
//! message (CPython's 4-byte length and payload), read back exactly: a
//! header read and a payload read, never a byte of the next message. Closed,
//! read-only and write-only ends fail with CPython's messages.

use crate::faults::Fault;
use crate::sys::write_all;
use crate::sys::{os_error, readable, seconds};
use crate::wire::{read_frame, read_frame_greedy};
use crate::RefImpl;
use mpconform_spec::{CallError, ErrorKind, Handle, Item, PyError, Value};
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use std::os::fd::{AsFd, OwnedFd};

/// One end of a `Pipe()`.
pub(crate) struct Connection {
    pub(crate) fd: Option<OwnedFd>,
    pub(crate) readable: bool,
    pub(crate) writable: bool,
}

fn os(message: &str) -> PyError {
    PyError::new(ErrorKind::OSError, message)
}

impl Connection {
    /// The descriptor, after `_check_closed` and the direction check.
    fn usable(&self, reading: bool) -> Result<&OwnedFd, PyError> {
        let fd = self.fd.as_ref().ok_or_else(|| os("handle is closed"))?;
        if reading && !self.readable {
            return Err(os("connection is write-only"));
        }
        if !reading && !self.writable {
            return Err(os("connection is read-only"));
        }
        Ok(fd)
    }
}

impl RefImpl {
    fn connection(&self, h: Handle) -> Result<&Connection, PyError> {
        self.connections
            .get(&h)
            .ok_or_else(|| PyError::new(ErrorKind::RuntimeError, format!("no connection {h}")))
    }

    pub(crate) fn pipe_new(&mut self, duplex: Option<bool>) -> Result<Value, CallError> {
        let duplex = duplex.unwrap_or(true) && !self.fault(Fault::DuplexPipeOneWay);
        let (first, second) = if duplex {
            let (a, b) = socketpair(
                AddressFamily::Unix,
                SockType::Stream,
                None,
                SockFlag::SOCK_CLOEXEC,
            )
            .map_err(os_error)?;
            (
                Connection {
                    fd: Some(a),
                    readable: true,
                    writable: true,
                },
                Connection {
                    fd: Some(b),
                    readable: true,
                    writable: true,
                },
            )
        } else {
            let (r, w) = crate::sys::pipe()?;
            let read_end = Connection {
                fd: Some(r),
                readable: true,
                writable: false,
            };
            let write_end = Connection {
                fd: Some(w),
                readable: false,
                writable: true,
            };
            if self.fault(Fault::OneWayPipeEndsSwapped) {
                (write_end, read_end)
            } else {
                (read_end, write_end)
            }
        };
        let a = self.handle();
        let b = self.handle();
        self.connections.insert(a, first);
        self.connections.insert(b, second);
        Ok(Value::List(vec![Value::Handle(a), Value::Handle(b)]))
    }

    pub(crate) fn conn_send(&mut self, h: Handle, item: &Item) -> Result<Value, PyError> {
        self.connection(h)?.usable(false)?;
        let frame = self.encode(item)?;
        write_all(self.connection(h)?.usable(false)?, &frame)?;
        Ok(Value::None)
    }

    pub(crate) fn conn_recv(&mut self, h: Handle) -> Result<Value, PyError> {
        let fd = self.connection(h)?.usable(true)?.as_fd();
        let payload = if self.fault(Fault::RecvReadsAhead) {
            read_frame_greedy(fd)
        } else {
            read_frame(fd)
        };
        let payload = match payload {
            Err(crate::wire::ReadError::Eof) if self.fault(Fault::RecvEofReturnsNone) => {
                return Ok(Value::None)
            }
            other => other.map_err(|e| e.to_py())?,
        };
        self.decode(&payload)
    }

    pub(crate) fn conn_poll(&mut self, h: Handle, timeout: f64) -> Result<Value, PyError> {
        let fd = self.connection(h)?.usable(true)?.as_fd();
        Ok(Value::Bool(readable(fd, Some(seconds(timeout)))?))
    }

    pub(crate) fn conn_close(&mut self, h: Handle) -> Result<Value, PyError> {
        self.connections
            .get_mut(&h)
            .ok_or_else(|| PyError::new(ErrorKind::RuntimeError, format!("no connection {h}")))?
            .fd = None;
        Ok(Value::None)
    }

    pub(crate) fn conn_repr(&self, h: Handle) -> Result<String, PyError> {
        self.connection(h)?;
        Ok(format!(
            "<multiprocessing.connection.Connection object at {}>",
            fake_address(h)
        ))
    }
}

/// A stable stand-in for `id(obj)` in reprs.
pub(crate) fn fake_address(h: Handle) -> String {
    format!("0x7f5e{:08x}", h.0 * 0x40)
}
