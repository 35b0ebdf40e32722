//! Gates across processes: the clause's process holds each gate's state and
//! serves it from a thread, because a child may ask to wait at any time (also
//! after the gate opened, and also a grandchild the clause never saw); a
//! waiter sends a fresh reply sender and blocks on its receiver.

use crate::wire::GateRequest;
use ipc_channel::ipc::{self, IpcReceiver, IpcSender};
use std::io;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

#[derive(Default)]
struct State {
    open: bool,
    waiting: Vec<IpcSender<u8>>,
}

/// A gate, owned by the clause's process.
pub struct Gate {
    requests: IpcSender<GateRequest>,
    state: Arc<Mutex<State>>,
    server: Option<JoinHandle<()>>,
}

impl Gate {
    pub fn new() -> io::Result<Gate> {
        let (requests, incoming) = ipc::channel()?;
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        let server = std::thread::Builder::new()
            .name("mpconform-gate".into())
            .spawn(move || serve(incoming, shared))?;
        Ok(Gate {
            requests,
            state,
            server: Some(server),
        })
    }

    /// What a child gets to wait at this gate.
    pub fn sender(&self) -> IpcSender<GateRequest> {
        self.requests.clone()
    }

    pub fn open(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.open = true;
        for waiter in state.waiting.drain(..) {
            // A waiter that died meanwhile needs no answer.
            let _ = waiter.send(1);
        }
    }
}

fn serve(incoming: IpcReceiver<GateRequest>, state: Arc<Mutex<State>>) {
    while let Ok(GateRequest::Wait(reply)) = incoming.recv() {
        let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.open {
            let _ = reply.send(1);
        } else {
            state.waiting.push(reply);
        }
    }
}

impl Drop for Gate {
    /// Ends the server, so that its descriptors are closed when the
    /// implementation is: a child's copy of the sender would keep a server
    /// that waits for disconnection alive.
    fn drop(&mut self) {
        let _ = self.requests.send(GateRequest::Stop);
        if let Some(server) = self.server.take() {
            let _ = server.join();
        }
    }
}

/// Blocks until the gate behind `gate` is open (in any process).
pub fn wait(gate: &IpcSender<GateRequest>) -> Result<(), String> {
    let (reply, answer) = ipc::channel::<u8>().map_err(|e| e.to_string())?;
    gate.send(GateRequest::Wait(reply))
        .map_err(|e| format!("gate server gone: {e}"))?;
    answer
        .recv()
        .map(drop)
        .map_err(|e| format!("gate server gone: {e}"))
}
