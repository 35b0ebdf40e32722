//! What crosses into a child in procspawn's serialized arguments: the
//! program it runs and the two test channels (reports, gates), which are
//! ipc-channel senders of their own, never procspawn's return channel.

use ipc_channel::ipc::IpcSender;
use mpconform_spec::{Program, Value};
use procspawn::serde::Json;
use serde::{Deserialize, Serialize};

/// The argument of every spawned function.
#[derive(Serialize, Deserialize)]
pub struct ChildArgs {
    pub program: Json<Program>,
    pub reports: IpcSender<String>,
    /// Every gate the spawner knows, so that a child can hand them on.
    pub gates: Vec<(u64, IpcSender<GateRequest>)>,
}

/// What a waiter sends to a gate's server in the clause's process.
#[derive(Serialize, Deserialize)]
pub enum GateRequest {
    /// Answer on this sender once the gate is open (at once if it is).
    Wait(IpcSender<u8>),
    /// The gate's owner is done with it: the server ends.
    Stop,
}

/// One report, as JSON text: postcard cannot read back `Value`'s tagged enums.
#[derive(Serialize, Deserialize)]
pub struct Report {
    pub label: String,
    pub value: Value,
}

impl Report {
    pub fn encode(label: &str, value: Value) -> String {
        let report = Report {
            label: label.to_string(),
            value,
        };
        serde_json::to_string(&report).expect("a Value always encodes as JSON")
    }

    pub fn decode(text: &str) -> Result<Report, String> {
        serde_json::from_str(text).map_err(|e| format!("bad report {text:?}: {e}"))
    }
}
