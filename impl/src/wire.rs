//! How objects travel through pipes: serialized (the reference's pickle) and
//! framed as CPython's `Connection` frames them, a 4-byte big-endian length
//! and then the payload, so that each send is received as one message.

use crate::sys::{os_error, readable};
use mpconform_spec::{ErrorKind, PyError, Value};
use nix::errno::Errno;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::os::fd::{AsFd, BorrowedFd};

/// What a payload holds.
#[derive(Serialize, Deserialize)]
pub enum Wire {
    Data(Value),
    Object,
    /// A function, by reference to its module (as pickle sends it).
    Function {
        module: String,
        name: String,
    },
    /// A function with its code (as dill sends it): it needs no module.
    FunctionByValue {
        module: String,
        name: String,
    },
}

/// The frame for one message: header and payload. The common small values
/// travel in a compact form after a one-byte mark (`N` None, `T`/`F` a bool,
/// `I` an i64, `S` a str, `B` bytes); everything else as JSON after a `J`.
pub fn frame(wire: &Wire) -> Vec<u8> {
    let mut out = vec![0u8; 4];
    match wire {
        Wire::Data(Value::None) => out.push(b'N'),
        Wire::Data(Value::Bool(b)) => out.push(if *b { b'T' } else { b'F' }),
        Wire::Data(Value::Int(i)) => {
            out.push(b'I');
            out.extend_from_slice(&i.to_be_bytes());
        }
        Wire::Data(Value::Str(text)) => {
            out.push(b'S');
            out.extend_from_slice(text.as_bytes());
        }
        Wire::Data(Value::Bytes(bytes)) => {
            out.push(b'B');
            out.extend_from_slice(bytes);
        }
        other => {
            out.push(b'J');
            serde_json::to_writer(&mut out, other).expect("wire values serialize");
        }
    }
    let len = (out.len() - 4) as u32;
    out[..4].copy_from_slice(&len.to_be_bytes());
    out
}

fn unpickling_error(detail: impl std::fmt::Display) -> PyError {
    PyError::new(
        ErrorKind::Other("UnpicklingError".into()),
        format!("invalid message: {detail}"),
    )
}

/// Unpickles a payload in a process that has loaded `modules`.
pub fn decode(payload: &[u8], modules: &BTreeSet<String>) -> Result<Value, PyError> {
    let wire: Wire = match payload.split_first() {
        Some((b'N', [])) => return Ok(Value::None),
        Some((b'T', [])) => return Ok(Value::Bool(true)),
        Some((b'F', [])) => return Ok(Value::Bool(false)),
        Some((b'I', int)) => {
            let int: [u8; 8] = int.try_into().map_err(unpickling_error)?;
            return Ok(Value::Int(i64::from_be_bytes(int)));
        }
        Some((b'S', text)) => {
            let text = std::str::from_utf8(text).map_err(unpickling_error)?;
            return Ok(Value::Str(text.to_string()));
        }
        Some((b'B', bytes)) => return Ok(Value::Bytes(bytes.to_vec())),
        Some((b'J', json)) => serde_json::from_slice(json).map_err(unpickling_error)?,
        _ => return Err(unpickling_error("no type mark")),
    };
    Ok(match wire {
        Wire::Data(v) => v,
        Wire::Object => Value::Opaque("object".into()),
        Wire::Function { module, name } => {
            if !modules.contains(&module) {
                return Err(PyError::new(
                    ErrorKind::ModuleNotFoundError,
                    format!("No module named '{module}'"),
                ));
            }
            Value::Opaque(format!("function {module}.{name}"))
        }
        Wire::FunctionByValue { module, name } => {
            Value::Opaque(format!("function {module}.{name}"))
        }
    })
}

/// Why a frame could not be read.
pub enum ReadError {
    /// End of file before any byte of the message.
    Eof,
    /// End of file inside the message.
    Truncated,
    Os(Errno),
}

impl ReadError {
    /// The exception `Connection.recv_bytes` raises for it.
    pub fn to_py(&self) -> PyError {
        match self {
            ReadError::Eof => PyError::new(ErrorKind::EOFError, ""),
            ReadError::Truncated => {
                PyError::new(ErrorKind::OSError, "got end of file during message")
            }
            ReadError::Os(e) => os_error(*e),
        }
    }
}

/// Reads exactly `buf.len()` bytes; `first` says whether nothing of the
/// message has been read yet (for the EOF/truncated distinction).
fn read_exact(fd: BorrowedFd<'_>, buf: &mut [u8], first: bool) -> Result<(), ReadError> {
    let mut done = 0;
    while done < buf.len() {
        match nix::unistd::read(fd, &mut buf[done..]) {
            Ok(0) if first && done == 0 => return Err(ReadError::Eof),
            Ok(0) => return Err(ReadError::Truncated),
            Ok(n) => done += n,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(ReadError::Os(e)),
        }
    }
    Ok(())
}

/// Reads one whole message's payload, and nothing of the next.
pub fn read_frame(fd: BorrowedFd<'_>) -> Result<Vec<u8>, ReadError> {
    let mut header = [0u8; 4];
    read_exact(fd, &mut header, true)?;
    let mut payload = vec![0u8; u32::from_be_bytes(header) as usize];
    // As CPython's _recv: an end of file before any byte of a read is
    // EOFError, the payload's first read included.
    read_exact(fd, &mut payload, true)?;
    Ok(payload)
}

/// Reads every whole message available now and keeps only the first: the
/// mistake of a reader that buffers ahead and throws its buffer away.
pub fn read_frame_greedy(fd: BorrowedFd<'_>) -> Result<Vec<u8>, ReadError> {
    let first = read_frame(fd)?;
    while readable(fd.as_fd(), Some(std::time::Duration::ZERO)).unwrap_or(false) {
        if read_frame(fd).is_err() {
            break;
        }
    }
    Ok(first)
}
