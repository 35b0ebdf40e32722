//! The JSON wire form of every call and step, pinned: drivers in other
//! languages read and write exactly this (drivers/PROTOCOL.md). A change
//! here is a change of protocol, and needs a new FORMAT_VERSION.

use mpconform_wire::samples;

/// One line per sample: its JSON, as the harness writes it.
fn lines<T: serde::Serialize>(samples: &[T]) -> String {
    samples
        .iter()
        .map(|s| serde_json::to_string(s).expect("serializes"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_call_keeps_its_wire_form() {
    insta::assert_snapshot!("calls", lines(&samples::calls()));
}

#[test]
fn every_step_keeps_its_wire_form() {
    insta::assert_snapshot!("steps", lines(&samples::steps()));
}

#[test]
fn every_sync_op_keeps_its_wire_form() {
    insta::assert_snapshot!("sync_ops", lines(&samples::sync_ops()));
}

#[test]
fn every_pool_op_keeps_its_wire_form() {
    insta::assert_snapshot!("pool_ops", lines(&samples::pool_ops()));
}

#[test]
fn every_sample_reads_back_as_itself() {
    for op in samples::pool_ops() {
        let text = serde_json::to_string(&op).expect("serializes");
        let back: mpconform_wire::PoolOp = serde_json::from_str(&text).expect(&text);
        assert_eq!(back, op, "{text}");
    }
    for op in samples::sync_ops() {
        let text = serde_json::to_string(&op).expect("serializes");
        let back: mpconform_wire::SyncOp = serde_json::from_str(&text).expect(&text);
        assert_eq!(back, op, "{text}");
    }
    for call in samples::calls() {
        let text = serde_json::to_string(&call).expect("serializes");
        let back: mpconform_wire::Call = serde_json::from_str(&text).expect(&text);
        assert_eq!(back, call, "{text}");
    }
    for step in samples::steps() {
        let text = serde_json::to_string(&step).expect("serializes");
        let back: mpconform_wire::Step = serde_json::from_str(&text).expect(&text);
        assert_eq!(back, step, "{text}");
    }
}
