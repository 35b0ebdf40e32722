//! Synchronisation and shared state as data: what a clause or a child asks
//! of a `Lock`, `RLock`, `Event`, `Value`, `Array`, or a `Manager` and its
//! list and dict proxies. One vocabulary serves the clause's own process
//! (through [`crate::Call::Sync`]) and children (through [`crate::Step::Sync`]).
//! The objects are made by the module's own factories (`multiprocessing.Lock()`
//! and so on), and a child uses the one its parent made, by handle.

use crate::value::{Handle, Value};
use serde::{Deserialize, Serialize};

/// Which lock class to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockKind {
    /// `multiprocessing.Lock()`.
    Lock,
    /// `multiprocessing.RLock()`.
    #[serde(rename = "rlock")]
    RLock,
}

/// Which proxy a manager makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProxyKind {
    /// `manager.list()`.
    List,
    /// `manager.dict()`.
    Dict,
}

/// One operation on a lock, event, shared value or manager. The reply is its
/// return value (`None` for the ones that return nothing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
#[non_exhaustive]
pub enum SyncOp {
    /// Make a lock; returns its handle.
    LockNew {
        kind: LockKind,
    },
    /// `lock.acquire([block][, timeout])`, each argument only when given:
    /// `True` or `False`.
    Acquire {
        lock: Handle,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        block: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout: Option<f64>,
    },
    /// `lock.release()`.
    Release {
        lock: Handle,
    },

    /// `multiprocessing.Event()`; returns its handle.
    EventNew,
    EventSet {
        event: Handle,
    },
    EventClear {
        event: Handle,
    },
    EventIsSet {
        event: Handle,
    },
    /// `event.wait([timeout])`: what it returns.
    EventWait {
        event: Handle,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout: Option<f64>,
    },

    /// `multiprocessing.Value(typecode, init)`; returns its handle.
    ValueNew {
        typecode: String,
        init: i64,
    },
    /// `v.value`.
    ValueGet {
        value: Handle,
    },
    /// `v.value = to`.
    ValueSet {
        value: Handle,
        to: i64,
    },
    /// `times` read-modify-writes, `v.value = v.value + delta`, each one
    /// with `lock` held when it is given (`with lock:`), bare otherwise.
    ValueAdd {
        value: Handle,
        delta: i64,
        times: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lock: Option<Handle>,
    },
    /// `multiprocessing.Array(typecode, init)`; returns its handle.
    ArrayNew {
        typecode: String,
        init: Vec<i64>,
    },
    /// `a[:]`, as a list.
    ArrayGet {
        array: Handle,
    },
    /// `a[index] = to`.
    ArraySet {
        array: Handle,
        index: i64,
        to: i64,
    },

    /// `multiprocessing.Manager()`: a started manager; returns its handle.
    ManagerNew,
    /// `Manager()`, kept by this process until it ends, answering its
    /// `address`: for a child that owns a manager and says where it is.
    ManagerNewAddress,
    /// `manager.address`: a path for a Unix socket, `[host, port]` for TCP.
    ManagerAddress {
        manager: Handle,
    },
    /// `manager.shutdown()`.
    ManagerShutdown {
        manager: Handle,
    },
    /// `manager.list()` or `manager.dict()`; returns the proxy's handle.
    ProxyNew {
        manager: Handle,
        kind: ProxyKind,
    },
    /// `proxy.append(item)` (a list proxy).
    ProxyAppend {
        proxy: Handle,
        item: Value,
    },
    /// `proxy[key] = item`.
    ProxySetItem {
        proxy: Handle,
        key: Value,
        item: Value,
    },
    /// `proxy[key]`.
    ProxyGetItem {
        proxy: Handle,
        key: Value,
    },
    /// What the referent holds now: `list(proxy)` for a list proxy, and for
    /// a dict proxy `sorted(proxy.items())` as a list of `[key, value]`.
    ProxyContents {
        proxy: Handle,
    },
}
