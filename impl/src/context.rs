//! Start methods and contexts as CPython 3.13's `multiprocessing.context`
//! keeps them on Linux: a default context whose method is fixed by a first
//! set or a first use, concrete contexts per method, and the messages of
//! `set_start_method` and `get_context`.

use crate::faults::Fault;
use crate::RefImpl;
use mpconform_spec::{CallError, ErrorKind, PyError, Value};

/// The method the default context falls back to (`_default_context` on
/// Linux up to 3.13).
pub(crate) const DEFAULT_METHOD: &str = "fork";

/// Python's `repr()` of a short string, as `'%r' % method` writes it.
fn py_repr(text: &str) -> String {
    if text.contains('\'') && !text.contains('"') {
        format!("\"{text}\"")
    } else {
        format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
    }
}

impl RefImpl {
    /// The start methods this build offers, default first
    /// (`get_all_start_methods`).
    pub(crate) fn start_methods(&self) -> Vec<String> {
        let mut methods = vec![DEFAULT_METHOD.to_string()];
        if crate::spawn::available() {
            methods.push("spawn".into());
        }
        methods
    }

    /// `BaseContext.get_context(method)` for a concrete method.
    fn concrete(&self, method: &str) -> Result<String, CallError> {
        if self.start_methods().iter().any(|m| m == method) {
            Ok(method.to_string())
        } else {
            Err(PyError::new(
                ErrorKind::ValueError,
                format!("cannot find context for {}", py_repr(method)),
            )
            .into())
        }
    }

    /// `DefaultContext.get_context()`: the actual context, fixing the
    /// default on first use.
    pub(crate) fn fixed_method(&mut self) -> String {
        self.start_method
            .get_or_insert_with(|| DEFAULT_METHOD.to_string())
            .clone()
    }

    /// The method a process made with `context` (or the module's own
    /// `Process` when `None`) starts by.
    pub(crate) fn method_for(&mut self, context: Option<&str>) -> String {
        match context {
            Some(m) if !self.fault(Fault::ContextIgnoresMethod) => m.to_string(),
            _ => self.fixed_method(),
        }
    }

    /// `DefaultContext.set_start_method(method, force)`.
    pub(crate) fn set_start_method(
        &mut self,
        method: Option<&str>,
        force: bool,
    ) -> Result<Value, CallError> {
        if self.start_method.is_some() && !force && !self.fault(Fault::StartMethodSetTwice) {
            return Err(
                PyError::new(ErrorKind::RuntimeError, "context has already been set").into(),
            );
        }
        match method {
            None if force => self.start_method = None,
            None => {
                self.start_method = None;
                self.fixed_method();
            }
            Some(m) => self.start_method = Some(self.concrete(m)?),
        }
        Ok(Value::None)
    }

    /// `DefaultContext.get_start_method(allow_none)`.
    pub(crate) fn get_start_method(&mut self, allow_none: bool) -> Value {
        match (&self.start_method, allow_none) {
            (None, true) => Value::None,
            _ => Value::Str(self.fixed_method()),
        }
    }

    /// `get_context(method).get_start_method()`.
    pub(crate) fn context_start_method(
        &mut self,
        method: Option<&str>,
    ) -> Result<Value, CallError> {
        match method {
            None => Ok(Value::Str(self.fixed_method())),
            Some(m) => self.concrete(m).map(Value::Str),
        }
    }

    /// The harness's choice of method for a clause run: forced, as
    /// `set_start_method(method, force=True)`.
    pub(crate) fn use_start_method(&mut self, method: &str) -> Result<Value, CallError> {
        if !self.start_methods().iter().any(|m| m == method) {
            return Err(CallError::Unsupported(format!("start method {method:?}")));
        }
        self.start_method = Some(method.to_string());
        Ok(Value::None)
    }
}
