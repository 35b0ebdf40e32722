//! The values and errors that cross the trait: plain data, so that any
//! implementation, in any language, can produce them.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An opaque id for an object the implementation holds (a process object, a
/// gate, a file descriptor). Its meaning belongs to the implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Handle(pub u64);

impl fmt::Display for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A value returned by a call or reported by a child.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<Value>),
    Handle(Handle),
    /// An object with no data form, by its type: `object()` arrives as
    /// `Opaque("object")`, a function as `Opaque("function MODULE.NAME")`.
    Opaque(String),
    /// An error that was caught and reported as data (a child's observation).
    Error(PyError),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::None => write!(f, "None"),
            Value::Bool(b) => write!(f, "{}", if *b { "True" } else { "False" }),
            Value::Int(i) => write!(f, "{i}"),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::Bytes(b) if b.len() > 64 => {
                write!(
                    f,
                    "b{:?}... ({} bytes)",
                    String::from_utf8_lossy(&b[..32]),
                    b.len()
                )
            }
            Value::Bytes(b) => write!(f, "b{:?}", String::from_utf8_lossy(b)),
            Value::List(items) => {
                write!(f, "[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{item}")?;
                }
                write!(f, "]")
            }
            Value::Handle(h) => write!(f, "{h}"),
            Value::Opaque(what) => write!(f, "<{what}>"),
            Value::Error(e) => write!(f, "raised {e}"),
        }
    }
}

/// The class of a Python exception, as far as the clauses distinguish them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorKind {
    ValueError,
    AssertionError,
    AttributeError,
    RuntimeError,
    TypeError,
    SystemExit,
    OSError,
    ChildProcessError,
    ProcessLookupError,
    Full,
    Empty,
    EOFError,
    ModuleNotFoundError,
    PicklingError,
    /// A report or wait the clause asked for did not come in time.
    Timeout,
    /// Any other class, by its name.
    Other(String),
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Other(name) => write!(f, "{name}"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// A raised exception: its class, its exact message (`str(e)`) and, for
/// `OSError` and its subclasses, the errno.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PyError {
    pub kind: ErrorKind,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno: Option<i32>,
}

impl fmt::Display for PyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({:?})", self.kind, self.message)
    }
}

impl std::error::Error for PyError {}

impl PyError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        PyError {
            kind,
            message: message.into(),
            errno: None,
        }
    }

    /// An `OSError` subclass as CPython words it: `[Errno N] strerror`.
    pub fn os(kind: ErrorKind, errno: i32, strerror: &str) -> Self {
        PyError {
            kind,
            message: format!("[Errno {errno}] {strerror}"),
            errno: Some(errno),
        }
    }
}
