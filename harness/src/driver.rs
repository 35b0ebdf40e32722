//! The driver adapter: implements the trait by speaking drivers/PROTOCOL.md
//! to an out-of-process driver (a Python interpreter running
//! drivers/python/mpconform_driver.py against a module with multiprocessing's
//! API). Every call is one JSON line out on the driver's fd 3 and one back on
//! its fd 4; a driver that dies or writes something else becomes a `Died` or
//! `Broken` reply, never a hang of the harness.

use mpconform_spec::{
    Call, CallError, Capability, ImplInfo, Implementation, PyError, Reply, Value,
};
use serde::Deserialize;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use thiserror::Error;

/// The protocol version this adapter speaks.
pub const PROTOCOL: u32 = mpconform_spec::FORMAT_VERSION;

/// The Python driver, built into the binary so that an installed `mpconform`
/// needs no source tree.
const PYTHON_DRIVER: &str = include_str!("../../drivers/python/mpconform_driver.py");

/// Why a driver could not be opened.
#[derive(Debug, Error)]
pub enum DriverError {
    #[error("cannot start driver {interpreter}: {source}")]
    Start {
        interpreter: String,
        source: std::io::Error,
    },
    #[error("cannot write the driver file {path}: {source}")]
    DriverFile {
        path: String,
        source: std::io::Error,
    },
    #[error("the driver ({interpreter}) sent no hello: {detail}{}", stderr_lines(.stderr))]
    NoHello {
        interpreter: String,
        detail: String,
        /// The last lines of its standard error.
        stderr: String,
    },
    #[error("the driver speaks protocol {found}, this harness speaks {PROTOCOL}")]
    Protocol { found: u32 },
}

/// ` (stderr: A | B)`, the last lines of a driver's standard error on one line.
fn stderr_lines(tail: &str) -> String {
    let lines: Vec<&str> = tail
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if lines.is_empty() {
        return " (nothing on its stderr)".to_string();
    }
    format!(
        " (stderr: {})",
        lines[lines.len().saturating_sub(3)..].join(" | ")
    )
}

/// The last bytes a driver and its children wrote on standard error, kept
/// while a thread passes everything on to the clause's own standard error.
#[derive(Clone, Default)]
struct StderrTail(std::sync::Arc<std::sync::Mutex<(Vec<u8>, bool)>>);

/// The threads that follow drivers' standard error in this process.
static FOLLOWERS: std::sync::Mutex<Vec<std::thread::JoinHandle<()>>> =
    std::sync::Mutex::new(Vec::new());

/// Waits until every driver's standard error has reached its end and its
/// descriptor is closed; call it once every process that could hold the
/// pipe's write end has ended (the clause process's leak check counts it).
pub fn await_stderr_followers() {
    let followers = std::mem::take(&mut *FOLLOWERS.lock().unwrap_or_else(|e| e.into_inner()));
    for follower in followers {
        let _ = follower.join();
    }
}

impl StderrTail {
    const KEEP: usize = 4096;

    fn follow(reader: std::process::ChildStderr) -> StderrTail {
        let tail = StderrTail::default();
        let kept = tail.clone();
        // In a clause's process, the driver's stderr belongs to the clause's
        // report (the runner keeps it); in the runner's own probe of the
        // hello, only the tail in the error line is wanted.
        let pass_on = crate::residue::this_clause_tmpdir().is_some();
        let follower = std::thread::spawn(move || {
            let mut reader = reader;
            let mut chunk = [0u8; 8192];
            loop {
                match reader.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if pass_on {
                            let _ = std::io::stderr().write_all(&chunk[..n]);
                        }
                        let mut held = kept.0.lock().unwrap_or_else(|e| e.into_inner());
                        held.0.extend_from_slice(&chunk[..n]);
                        let excess = held.0.len().saturating_sub(Self::KEEP);
                        held.0.drain(..excess);
                    }
                }
            }
            kept.0.lock().unwrap_or_else(|e| e.into_inner()).1 = true;
        });
        FOLLOWERS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(follower);
        tail
    }

    /// What was kept, once the stream has ended or `wait` has passed.
    fn text(&self, wait: Duration) -> String {
        let deadline = std::time::Instant::now() + wait;
        loop {
            {
                let held = self.0.lock().unwrap_or_else(|e| e.into_inner());
                if held.1 || std::time::Instant::now() >= deadline {
                    return String::from_utf8_lossy(&held.0).into_owned();
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// How to start one driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverCommand {
    /// The interpreter: a path, or a name looked up in PATH.
    pub interpreter: String,
    /// The module that plays multiprocessing, when not multiprocessing itself.
    pub module: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Hello {
    hello: HelloBody,
}

#[derive(Deserialize)]
struct HelloBody {
    protocol: u32,
    name: String,
    version: String,
    start_methods: Vec<String>,
    capabilities: Vec<Capability>,
}

/// One reply line.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum DriverReply {
    Ok(Value),
    Raised(PyError),
    Unsupported(String),
    Broken(String),
}

/// A running driver and the two ends of the protocol.
pub struct Driver {
    child: Child,
    requests: Option<File>,
    replies: File,
    pending: Vec<u8>,
    info: ImplInfo,
    /// Set once the stream is unusable: every later call gets this.
    failed: Option<CallError>,
    /// How long the driver may take to end once its requests are closed.
    shutdown: Duration,
}

/// The driver file to run: `MPCONFORM_DRIVER` when set (for working on the
/// driver), else the built-in copy, written once per content under the
/// temporary directory.
pub fn driver_file() -> Result<PathBuf, DriverError> {
    if let Some(path) = std::env::var_os("MPCONFORM_DRIVER").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    PYTHON_DRIVER.hash(&mut hasher);
    // SAFETY: getuid has no failure mode.
    let uid = unsafe { libc::getuid() };
    let dir = std::env::temp_dir().join(format!("mpconform-{uid}"));
    let path = dir.join(format!("driver-{:016x}", hasher.finish()));
    let file = path.join("mpconform_driver.py");
    if file.exists() {
        return Ok(file);
    }
    let failed = |source| DriverError::DriverFile {
        path: file.display().to_string(),
        source,
    };
    std::fs::create_dir_all(&path).map_err(failed)?;
    // Written aside and renamed, so a concurrent clause never runs half a file.
    let partial = path.join(format!("partial-{}", std::process::id()));
    std::fs::write(&partial, PYTHON_DRIVER).map_err(failed)?;
    std::fs::rename(&partial, &file).map_err(failed)?;
    Ok(file)
}

/// The built-in driver's text.
pub fn driver_source() -> &'static str {
    PYTHON_DRIVER
}

/// A pipe whose ends are close-on-exec and numbered above the descriptors
/// the driver is given (3 and 4), so that moving them there clobbers nothing.
fn high_pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let raise = |fd: OwnedFd| -> std::io::Result<OwnedFd> {
        // SAFETY: F_DUPFD_CLOEXEC returns a new descriptor that we then own.
        let high = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 10) };
        if high < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `high` was just returned by fcntl and is owned by nobody else.
        Ok(unsafe { OwnedFd::from_raw_fd(high) })
    };
    Ok((raise(r)?, raise(w)?))
}

impl Driver {
    /// Starts the Python driver and reads its hello, giving it `limit` to
    /// say it.
    pub fn start(command: &DriverCommand, limit: Duration) -> Result<Driver, DriverError> {
        let file = driver_file()?;
        let mut process = Command::new(&command.interpreter);
        if command.module.is_none() {
            // The standard library's multiprocessing needs no site-packages,
            // and skipping `site` saves a third of the interpreter's start,
            // in the driver and in every spawned child (which inherits -S).
            process.arg("-S");
        }
        process
            .arg(&file)
            .args(["--protocol", &PROTOCOL.to_string()]);
        if let Some(module) = &command.module {
            process.args(["--module", module]);
        }
        Self::start_process(process, &command.interpreter, limit)
    }

    /// Starts any program that speaks drivers/PROTOCOL.md, `argv` then
    /// `--protocol 1`, and reads its hello.
    pub fn start_program(argv: &[String], limit: Duration) -> Result<Driver, DriverError> {
        let mut process = Command::new(&argv[0]);
        process
            .args(&argv[1..])
            .args(["--protocol", &PROTOCOL.to_string()]);
        Self::start_process(process, &argv.join(" "), limit)
    }

    /// Starts `process` as a driver (`shown` names it in errors): its fd 3
    /// and 4 carry the protocol; its standard error is followed.
    fn start_process(
        mut process: Command,
        name: &str,
        limit: Duration,
    ) -> Result<Driver, DriverError> {
        let started = |source| DriverError::Start {
            interpreter: name.to_string(),
            source,
        };
        let (request_read, request_write) = high_pipe().map_err(started)?;
        let (reply_read, reply_write) = high_pipe().map_err(started)?;
        process.stdin(Stdio::null());
        // Also here, not only for clause processes: repro and the fuzzer
        // start drivers of their own.
        crate::environment::apply(&mut process);
        // The target's temporary files go to the clause run's private
        // directory, where the harness finds what it leaves (residue.rs).
        if let Some(tmp) = crate::residue::target_tmpdir() {
            process.env("TMPDIR", tmp);
        }
        process.stderr(Stdio::piped());
        if crate::residue::this_clause_tmpdir().is_none() {
            // The runner's own probe of the hello: what the target prints
            // must not reach the run's report on standard output.
            process.stdout(Stdio::null());
        }
        let (to_three, to_four) = (request_read.as_raw_fd(), reply_write.as_raw_fd());
        // SAFETY: between fork and exec the closure only calls dup2, which is
        // async-signal-safe; dup2 clears close-on-exec on the new descriptor.
        unsafe {
            process.pre_exec(move || {
                if libc::dup2(to_three, 3) < 0 || libc::dup2(to_four, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = process.spawn().map_err(started)?;
        let stderr = StderrTail::follow(child.stderr.take().expect("piped"));
        drop(request_read);
        drop(reply_write);
        let mut driver = Driver {
            child,
            requests: Some(File::from(request_write)),
            replies: File::from(reply_read),
            pending: Vec::new(),
            info: ImplInfo {
                name: String::new(),
                version: String::new(),
                start_methods: Vec::new(),
                capabilities: Vec::new(),
            },
            failed: None,
            shutdown: limit,
        };
        let no_hello = |detail: String| DriverError::NoHello {
            interpreter: name.to_string(),
            detail,
            stderr: stderr.text(Duration::from_secs(1)),
        };
        let line = match driver.read_line(Some(limit)) {
            Ok(line) => line,
            Err(e) => {
                driver.kill();
                return Err(no_hello(e.to_string()));
            }
        };
        let hello: Hello = match serde_json::from_slice(&line) {
            Ok(hello) => hello,
            Err(e) => {
                driver.kill();
                return Err(no_hello(format!("{e}: {}", shown(&line))));
            }
        };
        if hello.hello.protocol != PROTOCOL {
            driver.kill();
            return Err(DriverError::Protocol {
                found: hello.hello.protocol,
            });
        }
        driver.info = ImplInfo {
            name: hello.hello.name,
            version: hello.hello.version,
            start_methods: hello.hello.start_methods,
            capabilities: hello.hello.capabilities,
        };
        Ok(driver)
    }

    /// The next line from the driver (without its newline), waiting at most
    /// `limit` when given.
    fn read_line(&mut self, limit: Option<Duration>) -> Result<Vec<u8>, CallError> {
        let deadline = limit.map(|l| std::time::Instant::now() + l);
        loop {
            if let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
                let mut line: Vec<u8> = self.pending.drain(..=end).collect();
                line.pop();
                return Ok(line);
            }
            if let Some(deadline) = deadline {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                let ready = mpconform_spec::observe::readable(&self.replies, left)
                    .map_err(|e| CallError::Broken(format!("waiting for the driver: {e}")))?;
                if !ready {
                    return Err(CallError::Broken(format!(
                        "no reply within {:?}; it wrote {}",
                        limit.unwrap_or_default(),
                        shown(&self.pending)
                    )));
                }
            }
            let mut chunk = [0u8; 65536];
            match self.replies.read(&mut chunk) {
                Ok(0) => return Err(self.ended()),
                Ok(n) => self.pending.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(CallError::Broken(format!("reading the driver: {e}"))),
            }
        }
    }

    /// What to say of a driver whose replies ended: how it exited, once it has.
    fn ended(&mut self) -> CallError {
        let exited = mpconform_spec::observe::wait_exit(i64::from(self.child.id()), self.shutdown);
        let how = match (exited, self.child.try_wait()) {
            (Ok(true), Ok(Some(status))) => match (status.code(), status.signal()) {
                (Some(code), _) => format!("it exited with status {code}"),
                (_, Some(signal)) => format!("it died of signal {signal}"),
                _ => format!("it ended ({status})"),
            },
            _ => "it closed its reply descriptor but is still running".to_string(),
        };
        let tail = if self.pending.is_empty() {
            String::new()
        } else {
            format!(" after writing {}", shown(&self.pending))
        };
        CallError::Died(format!("the driver stopped replying: {how}{tail}"))
    }

    fn exchange(&mut self, call: &Call) -> Reply {
        let mut line = serde_json::to_vec(call)
            .map_err(|e| CallError::Broken(format!("cannot encode {call:?}: {e}")))?;
        line.push(b'\n');
        let Some(requests) = self.requests.as_mut() else {
            return Err(CallError::Broken("the driver's requests are closed".into()));
        };
        if let Err(e) = requests.write_all(&line) {
            return Err(match e.kind() {
                std::io::ErrorKind::BrokenPipe => self.ended(),
                _ => CallError::Broken(format!("writing to the driver: {e}")),
            });
        }
        let reply = self.read_line(None)?;
        match serde_json::from_slice::<DriverReply>(&reply) {
            Ok(DriverReply::Ok(value)) => Ok(value),
            Ok(DriverReply::Raised(e)) => Err(CallError::Raised(e)),
            Ok(DriverReply::Unsupported(what)) => Err(CallError::Unsupported(what)),
            Ok(DriverReply::Broken(what)) => Err(CallError::Broken(format!("the driver: {what}"))),
            Err(e) => Err(CallError::Broken(format!(
                "the driver's reply is not protocol ({e}): {}",
                shown(&reply)
            ))),
        }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The first bytes of what a driver wrote, quoted.
fn shown(bytes: &[u8]) -> String {
    const MOST: usize = 200;
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(MOST)]);
    if bytes.len() > MOST {
        format!("{text:?}... ({} bytes)", bytes.len())
    } else {
        format!("{text:?}")
    }
}

impl Implementation for Driver {
    fn describe(&mut self) -> ImplInfo {
        self.info.clone()
    }

    fn call(&mut self, call: &Call) -> Reply {
        if let Some(failed) = &self.failed {
            return Err(failed.clone());
        }
        let reply = self.exchange(call);
        if let Err(e @ (CallError::Broken(_) | CallError::Died(_))) = &reply {
            self.failed = Some(e.clone());
        }
        reply
    }
}

impl Drop for Driver {
    /// Closes the requests, so the driver ends as a Python program ends
    /// (atexit, multiprocessing's exit function), and awaits it; one that
    /// outlives its time is killed.
    fn drop(&mut self) {
        self.requests = None;
        let pid = i64::from(self.child.id());
        if !matches!(
            mpconform_spec::observe::wait_exit(pid, self.shutdown),
            Ok(true)
        ) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Whether `interpreter` names an existing file (a path) or a program in PATH.
pub fn interpreter_exists(interpreter: &str) -> bool {
    if interpreter.contains('/') {
        return Path::new(interpreter).is_file();
    }
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| dir.join(interpreter).is_file())
    })
}
