//! The bytes of the pool's two pipes: a u32 length, then the message. The
//! common values (None, bools, ints, str, bytes, lists of them) travel in a
//! compact binary form and everything else as JSON, because a map chunk is
//! thousands of values and JSON's tagged form of each would cost more than
//! the pipe.

use mpconform_spec::{Handle, PyError, Task, Value};
use serde::{Deserialize, Serialize};

/// One message down the task pipe, decoded.
pub(crate) enum Order {
    /// Run `task` once (apply), or once per item of a map chunk.
    Run {
        job: u64,
        task: Task,
        items: Option<Vec<Value>>,
        /// The gates the task waits at, as paths into the owner's /proc.
        gates: Vec<(Handle, String, String)>,
    },
    /// The sentinel `None`: the worker exits.
    Stop,
}

/// What a run order says besides its items.
#[derive(Serialize, Deserialize)]
struct RunHeader<'a> {
    job: u64,
    task: std::borrow::Cow<'a, Task>,
    gates: Vec<(Handle, String, String)>,
    chunk: bool,
}

/// Why bytes from a pipe are not a message.
#[derive(Debug)]
pub(crate) struct Malformed(pub String);

fn frame(mut body: Vec<u8>) -> Vec<u8> {
    let len = (body.len() - 4) as u32;
    body[..4].copy_from_slice(&len.to_be_bytes());
    body
}

fn put_len(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&(n as u32).to_be_bytes());
}

fn put_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::None => out.push(b'N'),
        Value::Bool(true) => out.push(b'T'),
        Value::Bool(false) => out.push(b'F'),
        Value::Int(i) => {
            out.push(b'I');
            out.extend_from_slice(&i.to_be_bytes());
        }
        Value::Str(s) => {
            out.push(b'S');
            put_len(out, s.len());
            out.extend_from_slice(s.as_bytes());
        }
        Value::Bytes(b) => {
            out.push(b'B');
            put_len(out, b.len());
            out.extend_from_slice(b);
        }
        Value::List(items) => {
            out.push(b'L');
            put_values(out, items);
        }
        other => {
            let json = serde_json::to_vec(other).expect("values serialize");
            out.push(b'J');
            put_len(out, json.len());
            out.extend_from_slice(&json);
        }
    }
}

fn put_values(out: &mut Vec<u8>, items: &[Value]) {
    put_len(out, items.len());
    for item in items {
        put_value(out, item);
    }
}

/// A reader over one message's bytes.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        if self.bytes.len() < n {
            return Err(Malformed(format!("{} bytes short", n - self.bytes.len())));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn byte(&mut self) -> Result<u8, Malformed> {
        Ok(self.take(1)?[0])
    }

    fn len(&mut self) -> Result<usize, Malformed> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes(b.try_into().expect("4 bytes")) as usize)
    }

    fn u64(&mut self) -> Result<u64, Malformed> {
        Ok(u64::from_be_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    fn sized(&mut self) -> Result<&'a [u8], Malformed> {
        let n = self.len()?;
        self.take(n)
    }

    fn value(&mut self) -> Result<Value, Malformed> {
        Ok(match self.byte()? {
            b'N' => Value::None,
            b'T' => Value::Bool(true),
            b'F' => Value::Bool(false),
            b'I' => Value::Int(self.u64()? as i64),
            b'S' => Value::Str(
                String::from_utf8(self.sized()?.to_vec())
                    .map_err(|e| Malformed(format!("a str: {e}")))?,
            ),
            b'B' => Value::Bytes(self.sized()?.to_vec()),
            b'L' => Value::List(self.values()?),
            b'J' => serde_json::from_slice(self.sized()?)
                .map_err(|e| Malformed(format!("a value: {e}")))?,
            other => return Err(Malformed(format!("value mark {other:#x}"))),
        })
    }

    fn values(&mut self) -> Result<Vec<Value>, Malformed> {
        let n = self.len()?;
        let mut items = Vec::with_capacity(n.min(self.bytes.len()));
        for _ in 0..n {
            items.push(self.value()?);
        }
        Ok(items)
    }
}

/// A run order, framed.
pub(crate) fn run(
    job: u64,
    task: &Task,
    gates: Vec<(Handle, String, String)>,
    items: Option<&[Value]>,
) -> Vec<u8> {
    let header = RunHeader {
        job,
        task: std::borrow::Cow::Borrowed(task),
        gates,
        chunk: items.is_some(),
    };
    let json = serde_json::to_vec(&header).expect("orders serialize");
    let mut out = vec![0u8; 4];
    out.push(b'R');
    put_len(&mut out, json.len());
    out.extend_from_slice(&json);
    if let Some(items) = items {
        put_values(&mut out, items);
    }
    frame(out)
}

/// The stop order, framed.
pub(crate) fn stop() -> Vec<u8> {
    frame(vec![0, 0, 0, 0, b'S'])
}

/// An order's payload (without its length), decoded.
pub(crate) fn order(payload: &[u8]) -> Result<Order, Malformed> {
    let mut r = Reader { bytes: payload };
    match r.byte()? {
        b'S' => Ok(Order::Stop),
        b'R' => {
            let header: RunHeader = serde_json::from_slice(r.sized()?)
                .map_err(|e| Malformed(format!("an order: {e}")))?;
            let items = if header.chunk {
                Some(r.values()?)
            } else {
                None
            };
            Ok(Order::Run {
                job: header.job,
                task: header.task.into_owned(),
                items,
                gates: header.gates,
            })
        }
        other => Err(Malformed(format!("order mark {other:#x}"))),
    }
}

/// An answer, framed: the job and what its task gave or raised.
pub(crate) fn answer(job: u64, outcome: &Result<Value, PyError>) -> Vec<u8> {
    let mut out = vec![0u8; 4];
    out.extend_from_slice(&job.to_be_bytes());
    match outcome {
        Ok(v) => {
            out.push(b'O');
            put_value(&mut out, v);
        }
        Err(e) => {
            out.push(b'E');
            let json = serde_json::to_vec(e).expect("errors serialize");
            put_len(&mut out, json.len());
            out.extend_from_slice(&json);
        }
    }
    frame(out)
}

/// An answer's payload (without its length), decoded.
pub(crate) fn read_answer(payload: &[u8]) -> Result<(u64, Result<Value, PyError>), Malformed> {
    let mut r = Reader { bytes: payload };
    let job = r.u64()?;
    let outcome =
        match r.byte()? {
            b'O' => Ok(r.value()?),
            b'E' => Err(serde_json::from_slice(r.sized()?)
                .map_err(|e| Malformed(format!("an error: {e}")))?),
            other => return Err(Malformed(format!("answer mark {other:#x}"))),
        };
    Ok((job, outcome))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mpconform_spec::{ErrorKind, TaskReturn};

    #[test]
    fn values_and_errors_come_back_as_they_went() {
        let items = vec![
            Value::None,
            Value::Bool(true),
            Value::Int(-7),
            Value::Str("é".into()),
            Value::Bytes(vec![0, 255]),
            Value::List(vec![Value::Int(1), Value::Opaque("object".into())]),
            Value::Handle(Handle(3)),
        ];
        let task = Task {
            steps: Vec::new(),
            returns: TaskReturn::Item,
        };
        let framed = run(4, &task, Vec::new(), Some(&items));
        match order(&framed[4..]).expect("decodes") {
            Order::Run {
                job, items: got, ..
            } => {
                assert_eq!(job, 4);
                assert_eq!(got, Some(items.clone()));
            }
            Order::Stop => panic!("not a stop"),
        }
        let ok = answer(9, &Ok(Value::List(items.clone())));
        assert_eq!(
            read_answer(&ok[4..]).expect("decodes"),
            (9, Ok(Value::List(items)))
        );
        let e = PyError::new(ErrorKind::ValueError, "x");
        let err = answer(2, &Err(e.clone()));
        assert_eq!(read_answer(&err[4..]).expect("decodes"), (2, Err(e)));
        assert!(matches!(order(&stop()[4..]), Ok(Order::Stop)));
    }
}
