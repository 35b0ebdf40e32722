//! `Manager()` (Lib/multiprocessing/managers.py): a server process that
//! holds lists and dicts, and proxies that reach them over a Unix socket at
//! the manager's address, from every process that holds one.
//!
//! The wire format is the reference's own: each message is a little-endian
//! u32 length and that many bytes of JSON, a [`Request`] one way and a
//! `Result<Value, PyError>` the other. Like CPython's server, this one makes
//! its listener itself and sends the address to its owner over a pipe; the
//! address is an abstract one (`@mpconform-ref-listener-...`), not a file
//! in a `pymp-*` directory, so nothing is left when a server is killed. It
//! stops at `shutdown()`, which the owner's exit path calls (CPython's
//! finalizer of priority 0), and, unlike CPython, also when its owner dies
//! without one: it watches the owner through a pidfd.

use crate::sys::{exit_now, os_error};
use mpconform_spec::{ErrorKind, ProxyKind, PyError, Value};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
use std::path::Path;

/// What a proxy asks of the server.
#[derive(Debug, Serialize, Deserialize)]
pub enum Request {
    /// A new referent; the answer is its id.
    Create(ProxyKind),
    Append {
        id: i64,
        item: Value,
    },
    SetItem {
        id: i64,
        key: Value,
        item: Value,
    },
    GetItem {
        id: i64,
        key: Value,
    },
    Contents {
        id: i64,
    },
    Shutdown,
}

type Response = Result<Value, PyError>;

/// A started manager, as the process that holds it sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManagerObject {
    pub address: String,
    pub server: i32,
    /// The process that made it: the one that shuts it down at its end.
    pub owner: i32,
    pub shut_down: bool,
}

/// A proxy: the referent's id at a manager's address.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProxyObject {
    pub address: String,
    pub id: i64,
    pub kind: ProxyKind,
    /// Under a fault: the referent is held here instead.
    #[serde(default)]
    pub local: Option<Referent>,
}

/// What the server holds for one proxy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Referent {
    List(Vec<Value>),
    Dict(Vec<(Value, Value)>),
}

fn pid() -> i32 {
    nix::unistd::getpid().as_raw()
}

/// `BaseManager.start()`: forks the server and waits for its address.
/// `watch_owner`: the server ends when this process does.
pub fn start(watch_owner: bool) -> Result<ManagerObject, PyError> {
    let owner = pid();
    let (from_server, to_owner) = crate::sys::pipe()?;
    // SAFETY: the child only closes descriptors, makes its listener and
    // serves; it never returns into the caller's code.
    match unsafe { nix::unistd::fork() }.map_err(os_error)? {
        nix::unistd::ForkResult::Child => {
            drop(from_server);
            serve(owner, to_owner, watch_owner)
        }
        nix::unistd::ForkResult::Parent { child } => {
            drop(to_owner);
            let mut address = Vec::new();
            std::fs::File::from(from_server)
                .read_to_end(&mut address)
                .map_err(io_error)?;
            if address.is_empty() {
                let _ = nix::sys::wait::waitpid(child, None);
                return Err(PyError::new(
                    ErrorKind::Other("EOFError".into()),
                    "the manager's server ended before it gave its address",
                ));
            }
            Ok(ManagerObject {
                address: String::from_utf8_lossy(&address).into_owned(),
                server: child.as_raw(),
                owner,
                shut_down: false,
            })
        }
    }
}

fn io_error(e: std::io::Error) -> PyError {
    match e.raw_os_error() {
        Some(errno) => os_error(nix::errno::Errno::from_raw(errno)),
        None => PyError::new(ErrorKind::OSError, e.to_string()),
    }
}

/// A name no other process of this machine picks: pid, time and a count.
fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let n = COUNT.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}{:08x}", (pid() as u32) ^ nanos.rotate_left(7) ^ n)
}

/// Closes every descriptor but standard input, output and error and `keep`:
/// the server must not hold its owner's pipes open.
fn close_inherited(keep: i32) {
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<i32> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|fd| *fd > 2 && *fd != keep)
        .collect();
    for fd in fds {
        // SAFETY: closing a descriptor this fresh child inherited and will
        // not use (a failure is a descriptor read_dir itself had open).
        unsafe { libc::close(fd) };
    }
}

/// The server process's life: never returns.
fn serve(owner: i32, to_owner: OwnedFd, watch_owner: bool) -> ! {
    close_inherited(to_owner.as_raw_fd());
    // An abstract address: it is no file, so a server killed before it could
    // clean up (a failing clause's leftover) leaves nothing behind.
    let name = format!("mpconform-ref-{}", unique("listener-"));
    let listener = SocketAddr::from_abstract_name(name.as_bytes())
        .and_then(|address| UnixListener::bind_addr(&address));
    let Ok(listener) = listener else { exit_now(1) };
    if std::fs::File::from(to_owner)
        .write_all(format!("{ABSTRACT}{name}").as_bytes())
        .is_err()
    {
        exit_now(1)
    }
    let watch = if watch_owner {
        // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, owner, 0) } as i32;
        // SAFETY: a fresh descriptor this process owns.
        (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
    } else {
        None
    };
    let mut server = Server::default();
    let mut clients: Vec<UnixStream> = Vec::new();
    loop {
        let mut polled = vec![nix::poll::PollFd::new(
            listener.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        if let Some(w) = &watch {
            polled.push(nix::poll::PollFd::new(
                w.as_fd(),
                nix::poll::PollFlags::POLLIN,
            ));
        }
        let first_client = polled.len();
        for c in &clients {
            polled.push(nix::poll::PollFd::new(
                c.as_fd(),
                nix::poll::PollFlags::POLLIN,
            ));
        }
        if nix::poll::poll(&mut polled, nix::poll::PollTimeout::NONE).is_err() {
            continue;
        }
        let ready: Vec<bool> = polled
            .iter()
            .map(|p| p.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(polled);
        if watch.is_some() && ready[1] {
            exit_now(0)
        }
        let mut gone = Vec::new();
        for (i, client) in clients.iter_mut().enumerate() {
            if !ready[first_client + i] {
                continue;
            }
            match read_message::<Request>(client) {
                Some(Request::Shutdown) => {
                    let _ = write_message(client, &Ok::<Value, PyError>(Value::None));
                    exit_now(0)
                }
                Some(request) => {
                    let answer = server.answer(request);
                    if write_message(client, &answer).is_err() {
                        gone.push(i);
                    }
                }
                None => gone.push(i),
            }
        }
        for i in gone.into_iter().rev() {
            clients.remove(i);
        }
        if ready[0] {
            if let Ok((stream, _)) = listener.accept() {
                clients.push(stream);
            }
        }
    }
}

/// The referents, by id.
#[derive(Default)]
struct Server {
    referents: Vec<Referent>,
}

impl Server {
    fn answer(&mut self, request: Request) -> Response {
        match request {
            Request::Create(kind) => {
                self.referents.push(Referent::new(kind));
                Ok(Value::Int(self.referents.len() as i64 - 1))
            }
            Request::Shutdown => Ok(Value::None),
            Request::Append { id, item } => self.referent(id)?.append(item),
            Request::SetItem { id, key, item } => self.referent(id)?.set_item(key, item),
            Request::GetItem { id, key } => self.referent(id)?.get_item(&key),
            Request::Contents { id } => Ok(self.referent(id)?.contents()),
        }
    }

    fn referent(&mut self, id: i64) -> Result<&mut Referent, PyError> {
        usize::try_from(id)
            .ok()
            .and_then(|i| self.referents.get_mut(i))
            .ok_or_else(|| PyError::new(ErrorKind::Other("KeyError".into()), id.to_string()))
    }
}

/// Python's repr of a key, as KeyError's message shows it.
fn repr(v: &Value) -> String {
    match v {
        Value::Str(s) => format!("'{s}'"),
        other => other.to_string(),
    }
}

/// The order `sorted()` gives plain keys: numbers by value, strings by text.
fn key_order(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => x.cmp(y),
        (Value::Str(x), Value::Str(y)) => x.cmp(y),
        (x, y) => x.to_string().cmp(&y.to_string()),
    }
}

impl Referent {
    pub fn new(kind: ProxyKind) -> Referent {
        match kind {
            ProxyKind::List => Referent::List(Vec::new()),
            ProxyKind::Dict => Referent::Dict(Vec::new()),
        }
    }

    fn no_attribute(&self, name: &str) -> PyError {
        let class = match self {
            Referent::List(_) => "list",
            Referent::Dict(_) => "dict",
        };
        PyError::new(
            ErrorKind::AttributeError,
            format!("'{class}' object has no attribute '{name}'"),
        )
    }

    pub fn append(&mut self, item: Value) -> Response {
        match self {
            Referent::List(items) => {
                items.push(item);
                Ok(Value::None)
            }
            Referent::Dict(_) => Err(self.no_attribute("append")),
        }
    }

    pub fn set_item(&mut self, key: Value, item: Value) -> Response {
        match self {
            Referent::List(items) => {
                let i = list_index(items.len(), &key, "list assignment index out of range")?;
                items[i] = item;
            }
            Referent::Dict(pairs) => match pairs.iter_mut().find(|(k, _)| *k == key) {
                Some((_, v)) => *v = item,
                None => pairs.push((key, item)),
            },
        }
        Ok(Value::None)
    }

    pub fn get_item(&self, key: &Value) -> Response {
        match self {
            Referent::List(items) => {
                let i = list_index(items.len(), key, "list index out of range")?;
                Ok(items[i].clone())
            }
            Referent::Dict(pairs) => pairs
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| PyError::new(ErrorKind::Other("KeyError".into()), repr(key))),
        }
    }

    pub fn contents(&self) -> Value {
        match self {
            Referent::List(items) => Value::List(items.clone()),
            Referent::Dict(pairs) => {
                let mut sorted = pairs.clone();
                sorted.sort_by(|a, b| key_order(&a.0, &b.0));
                Value::List(
                    sorted
                        .into_iter()
                        .map(|(k, v)| Value::List(vec![k, v]))
                        .collect(),
                )
            }
        }
    }
}

fn list_index(len: usize, key: &Value, message: &str) -> Result<usize, PyError> {
    let Value::Int(index) = key else {
        return Err(PyError::new(
            ErrorKind::TypeError,
            "list indices must be integers or slices, not str",
        ));
    };
    let i = if *index < 0 {
        index + len as i64
    } else {
        *index
    };
    if i < 0 || i >= len as i64 {
        return Err(PyError::new(ErrorKind::Other("IndexError".into()), message));
    }
    Ok(i as usize)
}

fn read_message<T: for<'de> Deserialize<'de>>(stream: &mut UnixStream) -> Option<T> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).ok()?;
    let mut data = vec![0u8; u32::from_le_bytes(len) as usize];
    stream.read_exact(&mut data).ok()?;
    serde_json::from_slice(&data).ok()
}

fn write_message<T: Serialize>(stream: &mut UnixStream, message: &T) -> std::io::Result<()> {
    let data = serde_json::to_vec(message).map_err(std::io::Error::other)?;
    let mut framed = Vec::with_capacity(4 + data.len());
    framed.extend_from_slice(&(data.len() as u32).to_le_bytes());
    framed.extend_from_slice(&data);
    stream.write_all(&framed)
}

/// How an abstract address is written (as /proc/net/unix shows it).
const ABSTRACT: &str = "@";

fn connect(address: &str) -> Result<UnixStream, PyError> {
    match address.strip_prefix(ABSTRACT) {
        Some(name) => SocketAddr::from_abstract_name(name.as_bytes())
            .and_then(|a| UnixStream::connect_addr(&a))
            .map_err(io_error),
        None => UnixStream::connect(Path::new(address)).map_err(io_error),
    }
}

/// This process's connections to managers, by address. A connection a fork
/// child inherited is its parent's, and is replaced before use (as a
/// proxy's `_after_fork` makes a new one).
#[derive(Default)]
pub struct Links {
    open: Vec<(String, i32, UnixStream)>,
}

impl Links {
    /// Sends `request` to the manager at `address` and returns its answer.
    pub fn ask(&mut self, address: &str, request: &Request) -> Response {
        let me = pid();
        self.open.retain(|(_, opener, _)| *opener == me);
        let at = match self.open.iter().position(|(a, _, _)| a == address) {
            Some(at) => at,
            None => {
                let stream = connect(address)?;
                self.open.push((address.to_string(), me, stream));
                self.open.len() - 1
            }
        };
        let stream = &mut self.open[at].2;
        if let Err(e) = write_message(stream, request) {
            self.open.remove(at);
            return Err(io_error(e));
        }
        match read_message::<Response>(stream) {
            Some(answer) => answer,
            None => {
                self.open.remove(at);
                Err(PyError::new(
                    ErrorKind::Other("EOFError".into()),
                    "the manager's server closed the connection",
                ))
            }
        }
    }

    /// `manager.shutdown()`: the server stops and is reaped.
    pub fn shutdown(&mut self, manager: &mut ManagerObject) -> Result<(), PyError> {
        if manager.shut_down {
            return Ok(());
        }
        manager.shut_down = true;
        let asked = self.ask(&manager.address, &Request::Shutdown);
        self.open.retain(|(a, _, _)| *a != manager.address);
        if manager.owner == pid() {
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(manager.server), None);
        }
        asked.map(|_| ())
    }
}
