//! `Lock`, `RLock` and `Event` (Lib/multiprocessing/synchronize.py over
//! Modules/_multiprocessing/semaphore.c): a lock is a shared semaphore of one
//! unit (shared.rs), and an event a shared flag with a futex to sleep on.
//!
//! As in CPython, who holds a lock is not shared: each process keeps its own
//! count of acquires (`SemLock.count`), reset to zero in a child, so an RLock
//! is "mine" only in the process (and thread) that took it. A plain Lock has
//! no owner: any process may release it, and one held by a process that dies
//! stays held.

use crate::futex::Changes;
use crate::shared::{SharedSem, PRIVATE};
use mpconform_spec::{ErrorKind, LockKind, PyError};
use serde::{Deserialize, Serialize};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// What a lock does that its kind and the faults decide.
#[derive(Debug, Clone, Copy, Default)]
pub struct LockRules {
    /// An RLock's release does not check the owner.
    pub any_release: bool,
    /// A plain Lock's holder may take it again.
    pub plain_reenters: bool,
}

/// A `Lock` or `RLock` as one process holds it.
pub struct LockObject {
    pub kind: LockKind,
    sem: SharedSem,
    /// This process's acquires that are not yet released.
    count: u32,
}

/// What a spawned child is handed: where the semaphore is (its own count
/// starts at zero, as `SemLock._rebuild` starts it).
#[derive(Debug, Serialize, Deserialize)]
pub struct LockHandOver {
    kind: LockKind,
    offset: usize,
}

impl LockObject {
    /// A new, unheld lock: shared, or private to this process under a fault.
    pub fn new(kind: LockKind, private: bool) -> Result<LockObject, PyError> {
        let sem = if private {
            SharedSem::private(1, 1)
        } else {
            SharedSem::new(1, 1)?
        };
        Ok(LockObject {
            kind,
            sem,
            count: 0,
        })
    }

    pub fn handover(&self) -> LockHandOver {
        LockHandOver {
            kind: self.kind,
            offset: self.sem.offset(),
        }
    }

    pub fn from_handover(h: LockHandOver) -> Result<LockObject, PyError> {
        let sem = if h.offset == PRIVATE {
            SharedSem::private(1, 1)
        } else {
            SharedSem::at(h.offset)?
        };
        Ok(LockObject {
            kind: h.kind,
            sem,
            count: 0,
        })
    }

    /// In a fork child: the semaphore is shared, the holding is not
    /// (`SemLock._after_fork`).
    pub fn after_fork(&mut self) {
        self.count = 0;
    }

    fn reenters(&self, rules: LockRules) -> bool {
        self.count > 0 && (self.kind == LockKind::RLock || rules.plain_reenters)
    }

    /// `acquire(block, timeout)`: a negative timeout is no wait at all.
    pub fn acquire(&mut self, block: bool, timeout: Option<f64>, rules: LockRules) -> bool {
        if self.reenters(rules) {
            self.count += 1;
            return true;
        }
        let timeout = timeout.map(|t| Duration::from_secs_f64(t.max(0.0)));
        let taken = self.sem.acquire(block, timeout);
        if taken {
            self.count += 1;
        }
        taken
    }

    /// `release()`, with semaphore.c's checks and messages.
    pub fn release(&mut self, rules: LockRules) -> Result<(), PyError> {
        match self.kind {
            LockKind::RLock if self.count == 0 && !rules.any_release => Err(PyError::new(
                ErrorKind::AssertionError,
                "attempt to release recursive lock not owned by thread",
            )),
            LockKind::RLock if self.count > 1 => {
                self.count -= 1;
                Ok(())
            }
            _ if self.count > 1 && rules.plain_reenters => {
                self.count -= 1;
                Ok(())
            }
            _ => {
                self.sem.release()?;
                self.count = self.count.saturating_sub(1);
                Ok(())
            }
        }
    }
}

#[repr(C)]
struct Flag {
    set: AtomicU32,
    changes: Changes,
}

/// An `Event`: a shared flag, and a futex its waiters sleep on.
pub struct EventObject {
    flag: NonNull<Flag>,
    offset: usize,
}

impl EventObject {
    pub fn new() -> Result<EventObject, PyError> {
        let (region, offset) = crate::arena::take(std::mem::size_of::<Flag>())?;
        Ok(EventObject {
            flag: region.cast(),
            offset,
        })
    }

    /// The event at `offset` of the arena a parent handed over.
    pub fn at(offset: usize) -> Result<EventObject, PyError> {
        Ok(EventObject {
            flag: crate::arena::address(offset)?.cast(),
            offset,
        })
    }

    pub fn offset(&self) -> usize {
        self.offset
    }

    fn f(&self) -> &Flag {
        // SAFETY: the arena maps the region (zeroed: unset, no changes) for
        // this process's whole life, and it holds atomics only.
        unsafe { self.flag.as_ref() }
    }

    pub fn is_set(&self) -> bool {
        self.f().set.load(Ordering::SeqCst) == 1
    }

    /// `set()`: every waiter wakes, or one under a fault.
    pub fn set(&self, wake_one: bool) {
        self.f().set.store(1, Ordering::SeqCst);
        if wake_one {
            self.f().changes.announce_to_one();
        } else {
            self.f().changes.announce();
        }
    }

    pub fn clear(&self) {
        self.f().set.store(0, Ordering::SeqCst);
    }

    /// `wait(timeout)`: the flag once it is set or the time is up.
    pub fn wait(&self, timeout: Option<f64>) -> bool {
        let deadline = timeout.map(|t| Instant::now() + Duration::from_secs_f64(t.max(0.0)));
        loop {
            let seen = self.f().changes.seen();
            if self
                .f()
                .changes
                .sleep_unless(seen, || self.is_set(), deadline)
            {
                return true;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return self.is_set();
            }
        }
    }
}
