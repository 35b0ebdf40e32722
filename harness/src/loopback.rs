//! The loopback adapter: every call and every reply goes through JSON and back
//! before it reaches the wrapped implementation, which proves that the trait
//! can be carried out of process by a mechanical translation.

use mpconform_spec::{Call, CallError, ImplInfo, Implementation, Reply};
use serde::{de::DeserializeOwned, Serialize};

pub struct Loopback<I> {
    inner: I,
}

impl<I: Implementation> Loopback<I> {
    pub fn new(inner: I) -> Self {
        Loopback { inner }
    }
}

fn round_trip<T: Serialize + DeserializeOwned>(value: &T) -> Result<T, CallError> {
    let text =
        serde_json::to_string(value).map_err(|e| CallError::Broken(format!("encode: {e}")))?;
    serde_json::from_str(&text).map_err(|e| CallError::Broken(format!("decode {text}: {e}")))
}

impl<I: Implementation> Implementation for Loopback<I> {
    fn describe(&mut self) -> ImplInfo {
        let info = self.inner.describe();
        round_trip(&info).unwrap_or(info)
    }

    fn call(&mut self, call: &Call) -> Reply {
        let call = round_trip(call)?;
        let reply = self.inner.call(&call);
        round_trip(&reply)?
    }
}
