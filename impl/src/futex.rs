//! Waiting on a word of shared memory with the futex system call: what the
//! shared semaphores and the shared-memory pipe use to sleep. Unlike a
//! process-shared condition variable, a futex keeps no state about its
//! waiters, so a process killed while it waits leaves nothing behind.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Sleeps while `word` holds `expected`, at most `timeout` (None: for ever).
/// Returns on a wake-up, a change of the word, a signal or the timeout: the
/// caller looks again.
pub fn wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) {
    let relative = timeout.map(|t| libc::timespec {
        tv_sec: t.as_secs() as libc::time_t,
        tv_nsec: t.subsec_nanos() as libc::c_long,
    });
    let timeout_ptr = relative
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: FUTEX_WAIT on a valid, aligned u32 in memory this process
    // maps; the timeout is a valid relative timespec or null. Not
    // FUTEX_PRIVATE: the word is shared between processes.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            timeout_ptr,
            std::ptr::null::<u32>(),
            0u32,
        );
    }
}

/// Wakes every process and thread waiting on `word`.
pub fn wake_all(word: &AtomicU32) {
    // SAFETY: FUTEX_WAKE on a valid, aligned u32.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE,
            i32::MAX,
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<u32>(),
            0u32,
        );
    }
}

/// Wakes one process or thread waiting on `word`.
fn wake_one(word: &AtomicU32) {
    // SAFETY: FUTEX_WAKE on a valid, aligned u32.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE,
            1,
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<u32>(),
            0u32,
        );
    }
}

/// A count of changes that sleepers wait on, with a count of sleepers so
/// that a change nobody waits for makes no system call. It lives in shared
/// memory; all zeros is its starting state.
#[repr(C)]
pub struct Changes {
    count: AtomicU32,
    sleepers: AtomicU32,
}

impl Changes {
    pub const fn new() -> Changes {
        Changes {
            count: AtomicU32::new(0),
            sleepers: AtomicU32::new(0),
        }
    }

    /// The count, to be passed to `sleep_unless` after looking at the state.
    pub fn seen(&self) -> u32 {
        self.count.load(Ordering::SeqCst)
    }

    /// Tells the sleepers something changed. Every change is SeqCst and a
    /// sleeper counts itself before it looks again, so either it sees the
    /// change or the change sees it.
    pub fn announce(&self) {
        self.count.fetch_add(1, Ordering::SeqCst);
        if self.sleepers.load(Ordering::SeqCst) > 0 {
            wake_all(&self.count);
        }
    }

    /// Tells one sleeper, at most, that something changed (a fault's
    /// notify where notify_all was due).
    pub fn announce_to_one(&self) {
        self.count.fetch_add(1, Ordering::SeqCst);
        if self.sleepers.load(Ordering::SeqCst) > 0 {
            wake_one(&self.count);
        }
    }

    /// Counts this caller as a sleeper and looks again with `ready`: true if
    /// it holds (no sleep); else sleeps until a change after `seen` or
    /// `deadline`, and returns false so that the caller looks again.
    pub fn sleep_unless(
        &self,
        seen: u32,
        ready: impl FnOnce() -> bool,
        deadline: Option<Instant>,
    ) -> bool {
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        let holds = ready();
        if !holds {
            let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            wait(&self.count, seen, timeout);
        }
        self.sleepers.fetch_sub(1, Ordering::SeqCst);
        holds
    }
}
