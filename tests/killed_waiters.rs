//! A process killed while it waits on a queue leaves the queue working, as
//! CPython's does (its semaphores keep no record of waiters): the reference's
//! shared waits must not either.

use mpconform_ref::{FaultSet, RefImpl};
use mpconform_spec::{
    Call, Handle, Implementation, IpcOp, Item, ProcessSpec, Program, QueueKind, Step, Value,
};

fn handle(v: Value) -> Handle {
    match v {
        Value::Handle(h) => h,
        other => panic!("not a handle: {other}"),
    }
}

fn put(queue: Handle, text: &str) -> IpcOp {
    IpcOp::Put {
        queue,
        item: Item::Data(Value::Str(text.into())),
        block: None,
        timeout: None,
    }
}

fn get(imp: &mut RefImpl, queue: Handle) -> Value {
    imp.call(&Call::Ipc(IpcOp::Get {
        queue,
        block: None,
        timeout: Some(5.0),
    }))
    .expect("an item within 5 s")
}

/// Starts a child that puts `text` on `queue` (and blocks while it is full).
fn putter(imp: &mut RefImpl, queue: Handle, text: &str) -> Handle {
    let p = handle(
        imp.call(&Call::ProcessNew {
            spec: ProcessSpec::target(Program::steps(vec![Step::Ipc {
                label: None,
                op: put(queue, text),
            }])),
        })
        .unwrap(),
    );
    imp.call(&Call::ProcessStart { process: p }).unwrap();
    p
}

#[test]
fn a_putter_killed_while_blocked_leaves_the_queue_working() {
    let mut imp = RefImpl::new(FaultSet::none()).unwrap();
    let q = handle(
        imp.call(&Call::Ipc(IpcOp::QueueNew {
            kind: QueueKind::Queue,
            maxsize: Some(1),
        }))
        .unwrap(),
    );
    imp.call(&Call::Ipc(put(q, "x"))).unwrap();
    let first = putter(&mut imp, q, "p1");
    let second = putter(&mut imp, q, "p2");
    // Both children block on the full queue; neither can have put.
    assert_eq!(
        imp.call(&Call::ProcessJoin {
            process: first,
            timeout: Some(0.1)
        })
        .unwrap(),
        Value::None
    );
    imp.call(&Call::ProcessTerminate { process: first })
        .unwrap();
    imp.call(&Call::ProcessJoin {
        process: first,
        timeout: None,
    })
    .unwrap();
    assert_eq!(get(&mut imp, q), Value::Str("x".into()));
    let third = putter(&mut imp, q, "p3");
    let mut rest = [get(&mut imp, q).to_string(), get(&mut imp, q).to_string()];
    rest.sort();
    assert_eq!(rest, ["\"p2\"", "\"p3\""]);
    for p in [second, third] {
        imp.call(&Call::ProcessJoin {
            process: p,
            timeout: None,
        })
        .unwrap();
    }
}
