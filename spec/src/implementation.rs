//! The trait every implementation under test provides, and how it describes
//! itself.

use crate::{Call, ImplInfo, Reply};

/// An implementation of the process semantics under test. Every request is a
/// [`Call`]; the reply is data. Implementations need not be thread-safe: a
/// clause drives one from one thread, in its own process.
pub trait Implementation {
    fn describe(&mut self) -> ImplInfo;
    fn call(&mut self, call: &Call) -> Reply;
}

impl<T: Implementation + ?Sized> Implementation for Box<T> {
    fn describe(&mut self) -> ImplInfo {
        (**self).describe()
    }
    fn call(&mut self, call: &Call) -> Reply {
        (**self).call(call)
    }
}
