//! Opens the reference implementation for the suite, with the fault that
//! `REF_FAULT` names switched on (none when it is unset), so that the port
//! entry can be seen to fail what `mpconform run --fault` fails.

use mpconform_ref::{Fault, FaultSet, RefImpl};

/// Called first in the test binary's main: a spawned child of the
/// reference is a re-exec of that binary.
pub use mpconform_ref::init;

/// The environment variable naming one fault of the reference to switch on.
pub const FAULT_VAR: &str = "REF_FAULT";

/// A fresh reference implementation.
pub fn open() -> Result<RefImpl, String> {
    let fault = match std::env::var(FAULT_VAR) {
        Ok(name) => {
            Some(Fault::from_name(&name).ok_or_else(|| format!("unknown fault '{name}'"))?)
        }
        Err(_) => None,
    };
    RefImpl::new(FaultSet::with(fault)).map_err(|e| e.to_string())
}
