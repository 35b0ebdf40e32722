//! The harness: it points the spec's clauses at an implementation, runs each
//! clause in its own process with a time limit, and reports verdicts.

pub mod bench;
pub mod bench_pool;
pub mod bench_sync;
pub mod bench_transfer;
pub mod catalogue;
pub mod driver;
pub mod environment;
pub mod expectations;
pub mod fuzz;
pub mod fuzz_locks;
pub mod fuzz_process;
pub mod groups;
pub mod isolate;
pub mod junit;
pub mod loopback;
pub mod matrix;
pub mod port;
pub mod report;
pub mod repro;
pub mod residue;
pub mod runner;
pub mod select;
pub mod subject;
pub mod target;

/// The spec, for a port that depends on the harness alone.
pub use mpconform_spec as spec;

/// Verdicts and outcomes live in the wire crate; here under their old path.
pub use mpconform_wire::outcome as verdict;
