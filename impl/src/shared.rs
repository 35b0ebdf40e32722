//! A counting semaphore that every process forked after its creation shares:
//! an atomic count in the shared arena (arena.rs), and a futex to sleep on.
//! It stands in for the `SemLock`s of CPython's queues (the slot count, the
//! read and write locks, the count of unfinished tasks). Taking and giving
//! without a wait is one atomic operation; a waiter killed while it sleeps
//! leaves nothing behind.

use crate::futex::Changes;
use mpconform_spec::{ErrorKind, PyError};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::time::{Duration, Instant};

#[repr(C)]
struct Region {
    value: AtomicI64,
    max: i64,
    /// Every change a waiter may care about; waiters sleep on it.
    changes: Changes,
    /// Bumped each time the count reaches zero (JoinableQueue.join waits
    /// for that event, not for the count to be zero when it looks).
    zeros: AtomicU32,
}

/// How many times a blocking take looks again before it sleeps.
const SPINS: u32 = 100;

/// The offset of a semaphore that is not in the arena.
pub const PRIVATE: usize = usize::MAX;

/// A semaphore with a count in `0..=max`, shared across fork.
pub struct SharedSem {
    region: NonNull<Region>,
    /// Where the region is in the arena (arena.rs), for a spawned child.
    offset: usize,
}

// SAFETY: the region holds atomics only (and `max`, written before sharing).
unsafe impl Send for SharedSem {}
unsafe impl Sync for SharedSem {}

impl SharedSem {
    pub fn new(value: i64, max: i64) -> Result<SharedSem, PyError> {
        let (region, offset) = crate::arena::take(std::mem::size_of::<Region>())?;
        let region = region.cast::<Region>();
        // SAFETY: the mapping is ours and large enough.
        unsafe {
            region.as_ptr().write(Region {
                value: AtomicI64::new(value),
                max,
                changes: Changes::new(),
                zeros: AtomicU32::new(0),
            })
        };
        Ok(SharedSem { region, offset })
    }

    /// A semaphore in this process's private memory: a fork child gets a
    /// copy, not a share (a fault's lock). Its offset is [`PRIVATE`].
    pub fn private(value: i64, max: i64) -> SharedSem {
        let region = Box::leak(Box::new(Region {
            value: AtomicI64::new(value),
            max,
            changes: Changes::new(),
            zeros: AtomicU32::new(0),
        }));
        SharedSem {
            region: NonNull::from(region),
            offset: PRIVATE,
        }
    }

    /// The semaphore at `offset` of the arena a parent handed over.
    pub fn at(offset: usize) -> Result<SharedSem, PyError> {
        let region = crate::arena::address(offset)?.cast::<Region>();
        Ok(SharedSem { region, offset })
    }

    /// Where it is in the arena.
    pub fn offset(&self) -> usize {
        self.offset
    }

    fn r(&self) -> &Region {
        // SAFETY: the mapping lives as long as self.
        unsafe { self.region.as_ref() }
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
                        r.changes.announce();
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
        // A holder on another core usually gives the unit back within a
        // few hundred nanoseconds: looking again for that long is cheaper
        // than a futex sleep and the wake-up it costs the giver.
        for _ in 0..SPINS {
            std::hint::spin_loop();
            if self.try_take() {
                return true;
            }
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let seen = self.r().changes.seen();
            if self
                .r()
                .changes
                .sleep_unless(seen, || self.try_take(), deadline)
            {
                return true;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return self.try_take();
            }
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
        r.changes.announce();
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
            let seen = r.changes.seen();
            if r.changes
                .sleep_unless(seen, || r.zeros.load(Ordering::SeqCst) != zeros, None)
            {
                return;
            }
        }
    }
}

impl SharedSem {
    /// Tells every `wait_next_zero` waiter that a count reached zero, without
    /// touching this count (a fault: the count lives elsewhere).
    pub fn announce_zero(&self) {
        self.r().zeros.fetch_add(1, Ordering::SeqCst);
        self.r().changes.announce();
    }

    /// Waits for the next `announce_zero` or zero of the count, whatever the
    /// count is now (a fault's join that does not look first).
    pub fn wait_next_zero(&self) {
        let r = self.r();
        let zeros = r.zeros.load(Ordering::SeqCst);
        loop {
            let seen = r.changes.seen();
            if r.changes
                .sleep_unless(seen, || r.zeros.load(Ordering::SeqCst) != zeros, None)
            {
                return;
            }
        }
    }
}
