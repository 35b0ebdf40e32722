//! The spawn start method, as CPython 3.13's `popen_spawn_posix` and
//! `spawn.spawn_main` make it: the child is a fresh image of this program,
//! started with `--multiprocessing-fork pipe_handle=N` on its command line
//! (the form a frozen CPython executable uses), that reads what it needs from
//! that hand-over pipe: its process object and program, the preparation data
//! (its name, its parent, the start method), and the descriptors it may use.
//! It inherits no module state: what the parent bound in its main module
//! does not reach it.
//!
//! A program that uses the reference must call [`init`] first in `main`, so
//! that the image recognises itself as a spawned child; without that call
//! the reference offers fork only.

use crate::child::Captures;
use crate::connection::Connection;
use crate::faults::{Fault, FaultSet};
use crate::process::{Popen, ProcessObject};
use crate::queues::{QueueHandOver, QueueObject};
use crate::sys::{self, os_error, write_all};
use crate::{CurrentProcess, RefImpl};
use mpconform_spec::{CallError, Handle, Program, PyError, Value};
use nix::unistd::ForkResult;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::ffi::{CString, OsStr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};

/// The argument that marks a spawned child (`spawn.is_forking`).
pub const MARKER: &str = "--multiprocessing-fork";
/// The marker under the fault that gives spawned children one of their own.
const OWN_MARKER: &str = "--mpconform-ref-fork";
const PIPE_HANDLE: &str = "pipe_handle=";

static INITIALISED: AtomicBool = AtomicBool::new(false);

/// Call first in `main`. In a spawned child it runs the child and never
/// returns; anywhere else it makes spawn available.
pub fn init() {
    let mut args = std::env::args_os().skip(1);
    let first = args.next();
    if first.as_deref() == Some(OsStr::new(MARKER))
        || first.as_deref() == Some(OsStr::new(OWN_MARKER))
    {
        let handle = args.find_map(|a| {
            a.to_str()
                .and_then(|a| a.strip_prefix(PIPE_HANDLE))
                .and_then(|n| n.parse::<RawFd>().ok())
        });
        spawn_main(handle)
    }
    INITIALISED.store(true, Ordering::Relaxed);
}

/// Whether this program called [`init`], so that a re-exec of it can serve
/// as a spawned child.
pub(crate) fn available() -> bool {
    INITIALISED.load(Ordering::Relaxed)
}

/// A process object as a spawned child sees it (the parent's copy, unstarted).
#[derive(Serialize, Deserialize)]
struct ObjectHandOver {
    target: Option<Program>,
    run_override: Option<Program>,
    class_name: String,
    name: String,
    identity: Vec<u32>,
    daemon: bool,
    creator: i32,
    capture_stderr: bool,
    capture_stdout: bool,
    context: Option<String>,
}

/// Everything that crosses the hand-over pipe. Descriptors travel as their
/// numbers: the child inherits them across exec, at the same numbers.
#[derive(Serialize, Deserialize)]
struct HandOver {
    faults: Vec<String>,
    name: String,
    identity: Vec<u32>,
    daemon: bool,
    counter: u32,
    parent: (String, i32),
    /// The preparation data's `start_method`.
    start_method: Option<String>,
    /// The parent's main-module state: empty, but under a fault.
    main_globals: BTreeMap<String, Value>,
    program: Program,
    /// Set when the child is a pool's worker.
    #[serde(default)]
    pool_worker: Option<crate::pool::WorkerSetup>,
    next_handle: u64,
    sentinel: RawFd,
    stdout: Option<RawFd>,
    stderr: Option<RawFd>,
    reports: (RawFd, RawFd),
    gates: Vec<(Handle, RawFd, RawFd)>,
    fds: Vec<(Handle, RawFd)>,
    connections: Vec<(Handle, Option<RawFd>, bool, bool)>,
    processes: Vec<(Handle, ObjectHandOver)>,
    /// The shared arena (arena.rs) the queues' regions are in.
    arena: RawFd,
    queues: Vec<(Handle, QueueHandOver)>,
    #[serde(default)]
    sync: Vec<(Handle, crate::sync::SyncHandOver)>,
    modules: Vec<String>,
}

impl RefImpl {
    /// `popen_spawn_posix.Popen._launch`: the sentinel pipe and the
    /// hand-over pipe, fork, and in the child an exec of this program with
    /// the marker; the parent then writes the hand-over and closes its end.
    pub(crate) fn launch_spawn(
        &mut self,
        h: Handle,
        captures: Captures,
    ) -> Result<Popen, CallError> {
        let (sentinel, child_end) = sys::pipe()?;
        let (from_parent, to_child) = sys::pipe()?;
        let (handover, inherited) = self.handover(h, &child_end, &captures)?;
        let data = serde_json::to_vec(&handover)
            .map_err(|e| CallError::Broken(format!("cannot write the hand-over: {e}")))?;
        let exe = CString::new("/proc/self/exe").expect("no NUL");
        let argv0 = std::env::args()
            .next()
            .unwrap_or_else(|| "mpconform".into());
        let argv = [
            CString::new(argv0).map_err(|e| CallError::Broken(e.to_string()))?,
            CString::new(if self.fault(Fault::SpawnOwnMarker) {
                OWN_MARKER
            } else {
                MARKER
            })
            .expect("no NUL"),
            CString::new(format!("{PIPE_HANDLE}{}", from_parent.as_raw_fd())).expect("no NUL"),
        ];
        let mut keep = inherited;
        keep.push(from_parent.as_raw_fd());
        // SAFETY: between fork and exec the child only clears close-on-exec
        // flags and execs (async-signal-safe calls), with every argument
        // built before the fork.
        match unsafe { nix::unistd::fork() }.map_err(os_error)? {
            ForkResult::Child => {
                for fd in &keep {
                    // SAFETY: fcntl on a descriptor this process holds.
                    unsafe { libc::fcntl(*fd, libc::F_SETFD, 0) };
                }
                let _ = nix::unistd::execv(&exe, &argv);
                sys::exit_now(127)
            }
            ForkResult::Parent { child } => {
                drop(from_parent);
                let popen = self.started(child, sentinel, child_end, captures);
                // A child that died before reading leaves EPIPE here; its
                // exit status tells the rest.
                let _ = write_all(&to_child, &data);
                drop(to_child);
                Ok(popen)
            }
        }
    }

    /// The hand-over for object `h`, and every descriptor it names.
    fn handover(
        &mut self,
        h: Handle,
        sentinel: &OwnedFd,
        captures: &Captures,
    ) -> Result<(HandOver, Vec<RawFd>), CallError> {
        // spawn.get_preparation_data: start_method=get_start_method(), which
        // fixes the parent's default in 3.13 (gh-140814).
        let start_method = Some(self.fixed_method());
        let object = self.object(h)?;
        let program = match (&object.run_override, self.fault(Fault::RunOverrideIgnored)) {
            (Some(run), false) => run.clone(),
            _ => object.target.clone().unwrap_or_default(),
        };
        let pool_worker = object.pool_worker.clone();
        let identity = self.child_identity(h, nix::unistd::getpid().as_raw());
        let mut fds: Vec<RawFd> = vec![sentinel.as_raw_fd()];
        if let Some(setup) = &pool_worker {
            fds.extend([setup.tasks, setup.results]);
        }
        let raw = |fd: &OwnedFd, fds: &mut Vec<RawFd>| {
            fds.push(fd.as_raw_fd());
            fd.as_raw_fd()
        };
        let stdout = captures.stdout.as_ref().map(|fd| raw(fd, &mut fds));
        let stderr = captures.stderr.as_ref().map(|fd| raw(fd, &mut fds));
        let reports = (
            raw(&self.reports.read, &mut fds),
            raw(&self.reports.write, &mut fds),
        );
        let gates = self
            .gates
            .iter()
            .map(|(h, g)| (*h, raw(&g.read, &mut fds), raw(&g.write, &mut fds)))
            .collect();
        let plain = self
            .fds
            .iter()
            .map(|(h, fd)| (*h, raw(fd, &mut fds)))
            .collect();
        let connections = self
            .connections
            .iter()
            .map(|(h, c)| {
                let fd = c.fd.as_ref().map(|fd| raw(fd, &mut fds));
                (*h, fd, c.readable, c.writable)
            })
            .collect();
        let processes = self
            .processes
            .iter()
            .filter(|(_, p)| !p.closed)
            .map(|(h, p)| {
                (
                    *h,
                    ObjectHandOver {
                        target: p.target.clone(),
                        run_override: p.run_override.clone(),
                        class_name: p.class_name.clone(),
                        name: p.name.clone(),
                        identity: p.identity.clone(),
                        daemon: p.daemon,
                        creator: p.creator,
                        capture_stderr: p.capture_stderr,
                        capture_stdout: p.capture_stdout,
                        context: p.context.clone(),
                    },
                )
            })
            .collect();
        let arena = crate::arena::descriptor()?;
        fds.push(arena);
        let queues = self
            .queues
            .iter()
            .map(|(h, q)| (*h, q.handover(&mut fds)))
            .collect();
        let main_globals = if self.fault(Fault::SpawnInheritsState) {
            self.main_globals.clone()
        } else {
            BTreeMap::new()
        };
        let handover = HandOver {
            faults: self.faults.names(),
            name: identity.name,
            identity: identity.identity,
            daemon: identity.daemon,
            counter: identity.counter,
            parent: identity.parent.expect("a child has a parent"),
            start_method,
            main_globals,
            program,
            pool_worker,
            next_handle: self.next_handle,
            sentinel: sentinel.as_raw_fd(),
            stdout,
            stderr,
            reports,
            gates,
            fds: plain,
            connections,
            processes,
            arena,
            queues,
            sync: self.sync.iter().map(|(h, o)| (*h, o.handover())).collect(),
            modules: self.modules.iter().cloned().collect(),
        };
        Ok((handover, fds))
    }
}

/// `spawn.spawn_main`: read the hand-over, become the child, run it.
fn spawn_main(handle: Option<RawFd>) -> ! {
    let result = handle
        .ok_or_else(|| format!("no {PIPE_HANDLE}N argument"))
        .and_then(read_handover);
    match result {
        Ok(handover) => {
            let worker = handover.pool_worker.clone();
            let (mut child, program, captures) = match child_from(handover) {
                Ok(made) => made,
                Err(why) => {
                    let _ = write_all(
                        std::io::stderr(),
                        format!("mpconform-ref spawned child: {why}\n").as_bytes(),
                    );
                    sys::exit_now(1)
                }
            };
            captures.install();
            match worker {
                Some(setup) => child.run_worker(setup),
                None => child.run_child(program),
            }
        }
        Err(why) => {
            let _ = write_all(
                std::io::stderr(),
                format!("mpconform-ref spawned child: {why}\n").as_bytes(),
            );
            sys::exit_now(1)
        }
    }
}

fn read_handover(fd: RawFd) -> Result<HandOver, String> {
    // SAFETY: the parent put this descriptor on our command line for us alone.
    let pipe = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut data = Vec::new();
    loop {
        let chunk = sys::read_some(&pipe, 65536).map_err(|e| e.to_string())?;
        if chunk.is_empty() {
            break;
        }
        data.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&data).map_err(|e| format!("unreadable hand-over: {e}"))
}

/// Takes ownership of a descriptor the hand-over names, close-on-exec again.
fn owned(fd: RawFd) -> OwnedFd {
    // SAFETY: fcntl on an inherited descriptor.
    unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    // SAFETY: the parent handed this descriptor to this process alone.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// The reference as the spawned child starts it, its program and captures.
fn child_from(h: HandOver) -> Result<(RefImpl, Program, Captures), PyError> {
    crate::arena::adopt(h.arena)?;
    let faults = FaultSet::with(h.faults.iter().filter_map(|n| Fault::from_name(n)));
    // The sentinel's write end stays open for the child's whole life.
    std::mem::forget(owned(h.sentinel));
    let captures = Captures {
        stdout: h.stdout.map(owned),
        stderr: h.stderr.map(owned),
    };
    let reports = crate::channels::ReportChannel::from_ends(owned(h.reports.0), owned(h.reports.1));
    let mut child = RefImpl::with_channel(faults, reports);
    child.current = CurrentProcess {
        name: h.name,
        identity: h.identity,
        daemon: h.daemon,
        counter: h.counter,
        parent: Some(h.parent),
    };
    child.start_method = h.start_method;
    child.main_globals = h.main_globals;
    child.next_handle = h.next_handle;
    child.gates = h
        .gates
        .into_iter()
        .map(|(g, read, write)| {
            (
                g,
                crate::channels::Gate {
                    read: owned(read),
                    write: owned(write),
                },
            )
        })
        .collect();
    child.fds = h.fds.into_iter().map(|(f, fd)| (f, owned(fd))).collect();
    child.connections = h
        .connections
        .into_iter()
        .map(|(c, fd, readable, writable)| {
            (
                c,
                Connection {
                    fd: fd.map(owned),
                    readable,
                    writable,
                },
            )
        })
        .collect();
    child.processes = h
        .processes
        .into_iter()
        .map(|(p, o)| {
            (
                p,
                ProcessObject {
                    target: o.target,
                    run_override: o.run_override,
                    class_name: o.class_name,
                    name: o.name,
                    identity: o.identity,
                    daemon: o.daemon,
                    creator: o.creator,
                    capture_stderr: o.capture_stderr,
                    capture_stdout: o.capture_stdout,
                    context: o.context,
                    popen: None,
                    closed: false,
                    pool_worker: None,
                },
            )
        })
        .collect();
    child.modules = h.modules.into_iter().collect();
    for (q, queue) in h.queues {
        child
            .queues
            .insert(q, QueueObject::from_handover(queue, owned)?);
    }
    for (o, object) in h.sync {
        child
            .sync
            .insert(o, crate::sync::SyncObject::from_handover(object)?);
    }
    Ok((child, h.program, captures))
}
