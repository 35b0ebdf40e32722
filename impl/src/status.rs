//! Wait statuses to exit codes, as `os.waitstatus_to_exitcode` converts them.

use crate::faults::{Fault, FaultSet};
use mpconform_spec::{ErrorKind, PyError};

/// exit(n) -> n; death by signal s -> -s; anything else is invalid.
pub fn to_exitcode(status: i64, faults: &FaultSet) -> Result<i64, PyError> {
    let invalid = || {
        PyError::new(
            ErrorKind::ValueError,
            format!("invalid wait status: {status}"),
        )
    };
    let raw = i32::try_from(status).map_err(|_| invalid())?;
    if libc::WIFEXITED(raw) {
        Ok(libc::WEXITSTATUS(raw) as i64)
    } else if libc::WIFSIGNALED(raw) {
        let signal = libc::WTERMSIG(raw) as i64;
        if faults.has(Fault::SignalExitcodeUnsigned) {
            Ok(128 + signal)
        } else {
            Ok(-signal)
        }
    } else {
        Err(invalid())
    }
}
