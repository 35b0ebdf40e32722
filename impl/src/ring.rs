//! A byte pipe in shared memory: what a Queue's messages travel through. It
//! has a pipe's capacity (64 KiB) and a pipe's blocking (a writer waits for
//! room, a reader for data), so everything a CPython queue shows through its
//! pipe (a feeder blocked on a full pipe, a child that cannot end until its
//! items are read, empty() as "nothing in the pipe") shows the same; but an
//! uncontended transfer is a copy under a process-shared mutex, not two
//! system calls per message.

use crate::sys::os_error;
use mpconform_spec::PyError;
use nix::errno::Errno;
use nix::sys::mman::{mmap_anonymous, munmap, MapFlags, ProtFlags};
use std::num::NonZeroUsize;
use std::ptr::NonNull;
use std::time::{Duration, Instant};

/// A Linux pipe's default capacity.
pub const CAPACITY: usize = 65536;

/// How long a reader spins before it sleeps (a few microseconds).
const SPINS: u32 = 4000;

#[repr(C)]
struct Header {
    mutex: libc::pthread_mutex_t,
    cond: libc::pthread_cond_t,
    /// Bytes ever written and ever read; their difference is what waits.
    written: u64,
    read: u64,
    /// Waiters on the condition, so that a transfer nobody waits for makes
    /// no system call.
    waiters: u32,
}

/// The ring: a header and `CAPACITY` bytes, shared across fork.
pub struct Ring {
    header: NonNull<Header>,
    data: NonNull<u8>,
}

// SAFETY: every access to the shared state happens under the process-shared
// mutex.
unsafe impl Send for Ring {}
unsafe impl Sync for Ring {}

fn check(rc: libc::c_int) -> Result<(), PyError> {
    if rc == 0 {
        Ok(())
    } else {
        Err(os_error(Errno::from_raw(rc)))
    }
}

struct Held<'a>(&'a Ring);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        // SAFETY: this guard locked the mutex.
        unsafe { libc::pthread_mutex_unlock(&raw mut (*self.0.header.as_ptr()).mutex) };
    }
}

fn size() -> usize {
    std::mem::size_of::<Header>().next_multiple_of(64) + CAPACITY
}

impl Ring {
    pub fn new() -> Result<Ring, PyError> {
        let length = NonZeroUsize::new(size()).expect("non-empty");
        // SAFETY: a fresh anonymous shared mapping.
        let memory = unsafe {
            mmap_anonymous(
                None,
                length,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED,
            )
        }
        .map_err(os_error)?;
        let header = memory.cast::<Header>();
        // SAFETY: the data area follows the header, inside the mapping.
        let data = unsafe {
            NonNull::new_unchecked(
                memory
                    .cast::<u8>()
                    .as_ptr()
                    .add(std::mem::size_of::<Header>().next_multiple_of(64)),
            )
        };
        // SAFETY: zeroed, ours; attributes initialised before use.
        unsafe {
            let h = header.as_ptr();
            let mut mattr: libc::pthread_mutexattr_t = std::mem::zeroed();
            check(libc::pthread_mutexattr_init(&mut mattr))?;
            check(libc::pthread_mutexattr_setpshared(
                &mut mattr,
                libc::PTHREAD_PROCESS_SHARED,
            ))?;
            check(libc::pthread_mutex_init(&raw mut (*h).mutex, &mattr))?;
            libc::pthread_mutexattr_destroy(&mut mattr);
            let mut cattr: libc::pthread_condattr_t = std::mem::zeroed();
            check(libc::pthread_condattr_init(&mut cattr))?;
            check(libc::pthread_condattr_setpshared(
                &mut cattr,
                libc::PTHREAD_PROCESS_SHARED,
            ))?;
            check(libc::pthread_condattr_setclock(
                &mut cattr,
                libc::CLOCK_MONOTONIC,
            ))?;
            check(libc::pthread_cond_init(&raw mut (*h).cond, &cattr))?;
            libc::pthread_condattr_destroy(&mut cattr);
        }
        Ok(Ring { header, data })
    }

    fn h(&self) -> *mut Header {
        self.header.as_ptr()
    }

    fn lock(&self) -> Held<'_> {
        // SAFETY: an initialised process-shared robust mutex.
        let rc = unsafe { libc::pthread_mutex_lock(&raw mut (*self.h()).mutex) };
        if rc == libc::EOWNERDEAD {
            // SAFETY: we hold it; the counters are always consistent.
            unsafe { libc::pthread_mutex_consistent(&raw mut (*self.h()).mutex) };
        }
        Held(self)
    }

    /// Bytes waiting (under the lock).
    fn used(&self, _held: &Held<'_>) -> usize {
        // SAFETY: under the mutex.
        unsafe { ((*self.h()).written - (*self.h()).read) as usize }
    }

    /// Waits on the condition until `deadline`; false when it passed.
    fn wait(&self, _held: &Held<'_>, deadline: Option<Instant>) -> bool {
        // SAFETY: under the mutex the condition is used with.
        unsafe {
            (*self.h()).waiters += 1;
            let rc = match deadline {
                None => {
                    libc::pthread_cond_wait(&raw mut (*self.h()).cond, &raw mut (*self.h()).mutex)
                }
                Some(at) => {
                    let at = monotonic_at(at);
                    libc::pthread_cond_timedwait(
                        &raw mut (*self.h()).cond,
                        &raw mut (*self.h()).mutex,
                        &at,
                    )
                }
            };
            if rc == libc::EOWNERDEAD {
                libc::pthread_mutex_consistent(&raw mut (*self.h()).mutex);
            }
            (*self.h()).waiters -= 1;
            rc != libc::ETIMEDOUT
        }
    }

    fn wake(&self, _held: &Held<'_>) {
        // SAFETY: under the mutex.
        unsafe {
            if (*self.h()).waiters > 0 {
                libc::pthread_cond_broadcast(&raw mut (*self.h()).cond);
            }
        }
    }

    /// Writes all of `bytes`, waiting for room as a pipe writer does.
    pub fn write_all(&self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let held = self.lock();
            while self.used(&held) == CAPACITY {
                self.wait(&held, None);
            }
            let free = CAPACITY - self.used(&held);
            let n = free.min(bytes.len());
            // SAFETY: under the mutex; the copy stays inside the data area
            // (two pieces when it wraps).
            unsafe {
                let at = ((*self.h()).written % CAPACITY as u64) as usize;
                let first = n.min(CAPACITY - at);
                std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.data.as_ptr().add(at), first);
                std::ptr::copy_nonoverlapping(
                    bytes.as_ptr().add(first),
                    self.data.as_ptr(),
                    n - first,
                );
                (*self.h()).written += n as u64;
            }
            self.wake(&held);
            bytes = &bytes[n..];
        }
    }

    /// Spins a little while the ring is empty: a writer on another core
    /// usually adds data sooner than a sleep and a wake-up would take.
    fn spin_until_data(&self) {
        for _ in 0..SPINS {
            // SAFETY: a racy read of a counter is only a hint; the decision
            // is taken again under the mutex.
            let (written, read) = unsafe {
                (
                    std::ptr::read_volatile(&raw const (*self.h()).written),
                    std::ptr::read_volatile(&raw const (*self.h()).read),
                )
            };
            if written != read {
                return;
            }
            std::hint::spin_loop();
        }
    }

    /// Fills `buf`, waiting for data as a pipe reader does.
    pub fn read_exact(&self, buf: &mut [u8]) {
        let mut done = 0;
        while done < buf.len() {
            self.spin_until_data();
            let held = self.lock();
            while self.used(&held) == 0 {
                self.wait(&held, None);
            }
            let n = self.used(&held).min(buf.len() - done);
            // SAFETY: under the mutex; the copy stays inside the data area.
            unsafe {
                let at = ((*self.h()).read % CAPACITY as u64) as usize;
                let first = n.min(CAPACITY - at);
                std::ptr::copy_nonoverlapping(
                    self.data.as_ptr().add(at),
                    buf.as_mut_ptr().add(done),
                    first,
                );
                std::ptr::copy_nonoverlapping(
                    self.data.as_ptr(),
                    buf.as_mut_ptr().add(done + first),
                    n - first,
                );
                (*self.h()).read += n as u64;
            }
            self.wake(&held);
            done += n;
        }
    }

    /// Reads one framed message: a 4-byte big-endian length, then that many bytes.
    pub fn read_frame(&self) -> Vec<u8> {
        let mut header = [0u8; 4];
        self.read_exact(&mut header);
        let mut payload = vec![0u8; u32::from_be_bytes(header) as usize];
        self.read_exact(&mut payload);
        payload
    }

    /// Whether data waits, within `timeout` (None: for ever) — a pipe's poll.
    pub fn readable(&self, timeout: Option<Duration>) -> bool {
        let deadline = timeout.map(|t| Instant::now() + t);
        let held = self.lock();
        loop {
            if self.used(&held) > 0 {
                return true;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return false;
            }
            self.wait(&held, deadline);
        }
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // Only this process's mapping goes.
        // SAFETY: mapped by new(), not used after this.
        let _ = unsafe { munmap(self.header.cast(), size()) };
    }
}

/// The CLOCK_MONOTONIC time of `at`.
fn monotonic_at(at: Instant) -> libc::timespec {
    let left = at.saturating_duration_since(Instant::now());
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    let nanos = now.tv_nsec as u64 + u64::from(left.subsec_nanos());
    libc::timespec {
        tv_sec: now.tv_sec
            + left.as_secs() as libc::time_t
            + (nanos / 1_000_000_000) as libc::time_t,
        tv_nsec: (nanos % 1_000_000_000) as libc::c_long,
    }
}
