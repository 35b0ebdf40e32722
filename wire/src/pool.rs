//! `multiprocessing.Pool` as data: what a clause asks of a pool made by the
//! module's own factory, and the tasks its workers run. A task is a program
//! of [`Step`]s, as a child's is, with what it returns at the end; the
//! initializer is a program too. Steps in a worker may report and wait at
//! gates; objects the parent made are not handed to tasks.

use crate::program::{Probe, Step};
use crate::value::{Handle, Value};
use serde::{Deserialize, Serialize};

/// What a task returns once its steps have run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "arg", rename_all = "snake_case")]
#[non_exhaustive]
pub enum TaskReturn {
    /// This value.
    Value(Value),
    /// What `probe` gives in the worker (its pid, its name).
    Probe(Probe),
    /// The item `map` called the task with (None for `apply`).
    Item,
}

/// A task: its steps, run in the worker in order, then its return value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Step>,
    pub returns: TaskReturn,
}

impl Task {
    /// A task that returns `value` and does nothing else.
    pub fn returning(value: Value) -> Task {
        Task {
            steps: Vec::new(),
            returns: TaskReturn::Value(value),
        }
    }
}

/// One operation on a pool or on a result `apply_async` gave. The reply is
/// its return value (`None` for the ones that return nothing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
#[non_exhaustive]
pub enum PoolOp {
    /// `Pool(processes, initializer, (), maxtasksperchild)`, each argument
    /// only when given; returns the pool's handle. The initializer is a
    /// program the worker runs once as it starts.
    PoolNew {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        processes: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        initializer: Option<Vec<Step>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        maxtasksperchild: Option<u32>,
    },
    /// `pool.apply(task)`: what the task returned.
    Apply { pool: Handle, task: Task },
    /// `pool.apply_async(task)`; returns the result's handle.
    ApplyAsync { pool: Handle, task: Task },
    /// `result.get([timeout])`.
    ResultGet {
        result: Handle,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout: Option<f64>,
    },
    /// `result.ready()`.
    ResultReady { result: Handle },
    /// `pool.map(task, items[, chunksize])`: the list of what it returned
    /// for each item.
    Map {
        pool: Handle,
        task: Task,
        items: Vec<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        chunksize: Option<u32>,
    },
    /// `pool.close()`.
    Close { pool: Handle },
    /// `pool.terminate()`.
    Terminate { pool: Handle },
    /// `pool.join()`.
    Join { pool: Handle },
}
