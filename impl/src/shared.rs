//! A counting semaphore that every process forked after its creation shares:
//! an atomic count in an anonymous shared mapping, and a futex to sleep on.
//! It stands in for the `SemLock`s of CPython's queues (the slot count, the
//! read and write locks, the count of unfinished tasks). Taking and giving
//! without a wait is one atomic operation; a waiter killed while it sleeps
//! leaves nothing behind.

use crate::futex;
use crate::sys::os_error;
use mpconform_spec::{ErrorKind, PyError};
use nix::sys::mman::{mmap_anonymous, munmap, MapFlags, ProtFlags};
use std::num::NonZeroUsize;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::time::{Duration, Instant};

#[repr(C)]
struct Region {
    value: AtomicI64,
    max: i64,
    /// Bumped at every change a waiter may care about; waiters sleep on it.
    changes: AtomicU32,
    /// Sleepers, so that a change nobody waits for makes no system call.
    waiters: AtomicU32,
    /// Bumped each time the count reaches zero (JoinableQueue.join waits
    /// for that event, not for the count to be zero when it looks).
    zeros: AtomicU32,
}

/// A semaphore with a count in `0..=max`, shared across fork.
pub struct SharedSem {
    region: NonNull<Region>,
}

// SAFETY: the region holds atomics only (and `max`, written before sharing).
unsafe impl Send for SharedSem {}
unsafe impl Sync for SharedSem {}

impl SharedSem {
    pub fn new(value: i64, max: i64) -> Result<SharedSem, PyError> {
        let size = NonZeroUsize::new(std::mem::size_of::<Region>()).expect("non-empty region");
        // SAFETY: a fresh anonymous mapping, touched only through `Region`.
        let memory = unsafe {
            mmap_anonymous(
                None,
                size,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED,
            )
        }
        .map_err(os_error)?;
        let region = memory.cast::<Region>();
        // SAFETY: the mapping is ours, zeroed and large enough.
        unsafe {
            region.as_ptr().write(Region {
                value: AtomicI64::new(value),
                max,
                changes: AtomicU32::new(0),
                waiters: AtomicU32::new(0),
                zeros: AtomicU32::new(0),
            })
        };
        Ok(SharedSem { region })
    }

    fn r(&self) -> &Region {
        // SAFETY: the mapping lives as long as self.
        unsafe { self.region.as_ref() }
    }

    /// Tells the sleepers something changed. Every change is SeqCst and a
    /// sleeper counts itself before it looks, so either it sees the change
    /// or the change sees it.
    fn changed(&self) {
        let r = self.r();
        r.changes.fetch_add(1, Ordering::SeqCst);
        if r.waiters.load(Ordering::SeqCst) > 0 {
            futex::wake_all(&r.changes);
        }
    }

    /// Sleeps until the next change after `seen`, or `deadline`.
    fn sleep(&self, seen: u32, deadline: Option<Instant>) {
        let r = self.r();
        let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        futex::wait(&r.changes, seen, timeout);
        r.waiters.fetch_sub(1, Ordering::SeqCst);
    }

    /// One unit taken without waiting, if there is one.
    fn try_take(&self) -> bool {
        let r = self.r();
        let mut value = r.value.load(Ordering::SeqCst);
        while value > 0 {
            match r
                .value
                .compare_exchange(value, value - 1, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => {
                    if value == 1 {
                        r.zeros.fetch_add(1, Ordering::SeqCst);
                        self.changed();
                    }
                    return true;
                }
                Err(now) => value = now,
            }
        }
        false
    }

    /// Takes one unit: at once when `block` is false, else waiting up to
    /// `timeout` (None: for ever). False when none could be taken.
    pub fn acquire(&self, block: bool, timeout: Option<Duration>) -> bool {
        if self.try_take() {
            return true;
        }
        if !block {
            return false;
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let seen = self.r().changes.load(Ordering::SeqCst);
            self.r().waiters.fetch_add(1, Ordering::SeqCst);
            if self.try_take() {
                self.r().waiters.fetch_sub(1, Ordering::SeqCst);
                return true;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                self.r().waiters.fetch_sub(1, Ordering::SeqCst);
                return false;
            }
            self.sleep(seen, deadline);
        }
    }

    /// Gives one unit back; more than `max` fails as CPython's
    /// `BoundedSemaphore` does.
    pub fn release(&self) -> Result<(), PyError> {
        let r = self.r();
        let mut value = r.value.load(Ordering::SeqCst);
        loop {
            if value >= r.max {
                return Err(PyError::new(
                    ErrorKind::ValueError,
                    "semaphore or lock released too many times",
                ));
            }
            match r
                .value
                .compare_exchange(value, value + 1, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => break,
                Err(now) => value = now,
            }
        }
        self.changed();
        Ok(())
    }

    /// The count as it stands.
    pub fn value(&self) -> i64 {
        self.r().value.load(Ordering::SeqCst)
    }

    /// Returns at once when the count is zero, else when it next reaches
    /// zero (even if it rises again before this waiter runs), as
    /// `JoinableQueue.join`'s condition wait does.
    pub fn wait_zero(&self) {
        let r = self.r();
        let zeros = r.zeros.load(Ordering::SeqCst);
        if self.value() == 0 {
            return;
        }
        loop {
            let seen = r.changes.load(Ordering::SeqCst);
            r.waiters.fetch_add(1, Ordering::SeqCst);
            if r.zeros.load(Ordering::SeqCst) != zeros {
                r.waiters.fetch_sub(1, Ordering::SeqCst);
                return;
            }
            self.sleep(seen, None);
        }
    }
}

impl Drop for SharedSem {
    fn drop(&mut self) {
        // Only this process's mapping goes; others keep theirs.
        // SAFETY: the mapping was made by new() and is not used after this.
        let _ = unsafe { munmap(self.region.cast(), std::mem::size_of::<Region>()) };
    }
}
