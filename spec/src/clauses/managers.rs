//! A Manager's server process and its list and dict proxies: L06.

use super::*;
use crate::clause::Methods;
use crate::observe::{holds_socket, processes_where, stat, unix_socket_inode};
use crate::session::{expect, expect_eq, string};
use crate::sync::{ProxyKind, SyncOp};
use crate::value::Value;

pub(super) const CLAUSES: &[&Clause] = &[&L06];

static L06: Clause = Clause {
    id: "L06-manager-proxies-shared",
    behaviours: &["L06"],
    seeds: &[SEED_002],
    statement: "A Manager runs a server process that listens at the manager's address \
                and holds the lists and dicts its proxies name: what one process \
                appends to a list proxy or stores in a dict proxy, every other process \
                holding the proxy sees. The server ends with the manager: at \
                shutdown(), and when the process that made the manager ends without \
                calling it; then nothing listens at the address and the socket file is \
                gone.",
    notes: "Lib/multiprocessing/managers.py: BaseManager.start starts the server as a \
            Process of the manager's context (so a fork child, a spawn child, or a \
            forkserver child) and receives its address over a Pipe; Server.serve_forever \
            answers each proxy's connection in a thread; proxies reconnect after fork \
            (BaseProxy._after_fork). The address is \
            $TMPDIR/pymp-XXXX/listener-XXXX (connection.arbitrary_address), made \
            by the server, which unlinks it when it stops. BaseManager.start registers \
            util.Finalize(self, type(self)._finalize_manager, exitpriority=0), so a \
            manager's owner shuts its server down at exit (util._exit_function runs \
            finalizers of priority >= 0 first), a child owner included. The server \
            is found through /proc: the process that holds the socket listening at \
            the address. 2.7's proxies answer the same; 3.14 adds clear() and copy() \
            to list proxies (gh-103134) and registers the set proxy under the wrong \
            ABC (gh-142740); neither is used here. A proxy used after shutdown raises \
            BrokenPipeError (IOError on 2.7), which the clause does not pin.",
    needs: &[],
    methods: Methods::Each,
    body: l06,
};

fn l06(s: &mut Session) -> Result<(), Stop> {
    let manager = sync_handle(s, "Manager()", SyncOp::ManagerNew)?;
    let address = sync(s, "manager.address", SyncOp::ManagerAddress { manager })?;
    let address = string("manager.address", &address)?;
    let server = server_at(s, &address, "the manager's server")?;
    let list = sync_handle(
        s,
        "manager.list()",
        SyncOp::ProxyNew {
            manager,
            kind: ProxyKind::List,
        },
    )?;
    let dict = sync_handle(
        s,
        "manager.dict()",
        SyncOp::ProxyNew {
            manager,
            kind: ProxyKind::Dict,
        },
    )?;
    sync(
        s,
        "l.append('parent')",
        SyncOp::ProxyAppend {
            proxy: list,
            item: text("parent"),
        },
    )?;
    sync(
        s,
        "d['parent'] = 0",
        SyncOp::ProxySetItem {
            proxy: dict,
            key: text("parent"),
            item: Value::Int(0),
        },
    )?;
    let mut names = vec![text("parent")];
    let mut pairs = vec![(text("parent"), Value::Int(0))];
    for i in 1..=2 {
        let name = format!("child-{i}");
        let seen = probe_child(
            s,
            vec![
                quiet(SyncOp::ProxyAppend {
                    proxy: list,
                    item: text(&name),
                }),
                quiet(SyncOp::ProxySetItem {
                    proxy: dict,
                    key: text(&name),
                    item: Value::Int(i),
                }),
                sync_step("list", SyncOp::ProxyContents { proxy: list }),
                sync_step("dict", SyncOp::ProxyContents { proxy: dict }),
            ],
            &["list", "dict"],
        )?;
        names.push(text(&name));
        pairs.push((text(&name), Value::Int(i)));
        expect_eq(
            &format!("list(l) in {name}, after its append"),
            &Value::List(names.clone()),
            &seen[0],
        )?;
        expect_eq(
            &format!("sorted(d.items()) in {name}, after its store"),
            &sorted_items(&pairs),
            &seen[1],
        )?;
    }
    let in_parent = sync(s, "list(l)", SyncOp::ProxyContents { proxy: list })?;
    expect_eq(
        "list(l) in the parent, after both children",
        &Value::List(names),
        &in_parent,
    )?;
    let items = sync(
        s,
        "sorted(d.items())",
        SyncOp::ProxyContents { proxy: dict },
    )?;
    expect_eq(
        "sorted(d.items()) in the parent, after both children",
        &sorted_items(&pairs),
        &items,
    )?;
    let one = probe_child(
        s,
        vec![sync_step(
            "item",
            SyncOp::ProxyGetItem {
                proxy: dict,
                key: text("child-1"),
            },
        )],
        &["item"],
    )?;
    expect_eq("d['child-1'] in a third child", &Value::Int(1), &one[0])?;
    sync(s, "manager.shutdown()", SyncOp::ManagerShutdown { manager })?;
    server_gone(s, server, &address, "after shutdown()")?;

    // A manager whose owner ends without shutting it down.
    let gate = s.gate()?;
    let (owner, _) = start_child(
        s,
        vec![
            sync_step("address", SyncOp::ManagerNewAddress),
            wait_gate(gate),
        ],
    )?;
    let address = s.report("address")?;
    let address = string("the child's manager.address", &address)?;
    let server = server_at(s, &address, "the child's manager's server")?;
    s.open(gate)?;
    s.join(owner)?;
    expect_eq("the owner's exit code", &Some(0), &s.exitcode(owner)?)?;
    server_gone(s, server, &address, "after its owner ended")
}

fn text(s: &str) -> Value {
    Value::Str(s.to_string())
}

/// `sorted(d.items())` as the wire gives it: `[key, value]` lists.
fn sorted_items(pairs: &[(Value, Value)]) -> Value {
    let mut sorted: Vec<(Value, Value)> = pairs.to_vec();
    sorted.sort_by_key(|(k, _)| k.to_string());
    Value::List(
        sorted
            .into_iter()
            .map(|(k, v)| Value::List(vec![k, v]))
            .collect(),
    )
}

/// The one process of this clause run's process group that holds the socket
/// listening at `address`.
fn server_at(s: &mut Session, address: &str, what: &str) -> Result<i64, Stop> {
    let Some(inode) = unix_socket_inode(address) else {
        return Err(Stop::violation(
            what,
            "a Unix socket listening at the address",
            format!("nothing bound at {address:?} in /proc/net/unix"),
        ));
    };
    let own = stat(i64::from(std::process::id() as i32)).map(|st| st.pgrp);
    let holders: Vec<i64> = processes_where(|st| Some(st.pgrp) == own && st.state != 'Z')
        .into_iter()
        .map(|st| i64::from(st.pid))
        .filter(|pid| holds_socket(*pid, inode))
        .collect();
    s.observe(
        format!("processes holding socket:[{inode}] ({what})"),
        &holders,
    );
    match holders.as_slice() {
        [server] => Ok(*server),
        _ => Err(Stop::violation(
            what,
            "one process holding the listening socket",
            format!("{holders:?}"),
        )),
    }
}

/// The server has ended, nothing listens at its address, and its socket
/// file (if it had one) is gone.
fn server_gone(s: &mut Session, server: i64, address: &str, when: &str) -> Result<(), Stop> {
    await_exit(s, server, &format!("the manager's server {when}"))?;
    let listening = unix_socket_inode(address);
    s.observe(
        format!("a socket listening at {address} ({when})"),
        listening,
    );
    expect(
        &format!("nothing listening at the manager's address {when}"),
        listening.is_none(),
        "nothing",
        format!("socket:[{listening:?}]"),
    )?;
    let exists = std::path::Path::new(address).exists();
    s.observe(format!("{address} exists ({when})"), exists);
    expect(
        &format!("the manager's socket file {when}"),
        !exists,
        "gone",
        "still there",
    )
}
