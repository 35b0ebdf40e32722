//! Targets: which implementation a run points the clauses at.

use crate::error::HarnessError;
use crate::loopback::Loopback;
use mpconform_ref::{Fault, FaultSet, RefImpl};
use mpconform_spec::Implementation;
use std::fmt;
use std::str::FromStr;

/// An implementation the runner can open inside a clause's process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The reference implementation, called directly.
    Ref,
    /// The reference implementation behind a JSON round trip of every call.
    LoopbackRef,
}

impl FromStr for Target {
    type Err = HarnessError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ref" => Ok(Target::Ref),
            "loopback:ref" => Ok(Target::LoopbackRef),
            other => Err(HarnessError::UnknownTarget(other.to_string())),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Target::Ref => "ref",
            Target::LoopbackRef => "loopback:ref",
        })
    }
}

impl Target {
    /// Opens the implementation, with `fault` switched on.
    pub fn open(&self, fault: Option<Fault>) -> Result<Box<dyn Implementation>, HarnessError> {
        let faults = FaultSet::with(fault);
        let reference = RefImpl::new(faults).map_err(|e| HarnessError::Open(e.to_string()))?;
        Ok(match self {
            Target::Ref => Box::new(reference),
            Target::LoopbackRef => Box::new(Loopback::new(reference)),
        })
    }
}
