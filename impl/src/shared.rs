//! A counting semaphore that every process forked after its creation shares:
//! a process-shared, robust pthread mutex and condition variable with the
//! count, in an anonymous shared mapping. It stands in for the `SemLock`s of
//! CPython's queues (the slot count, the read and write locks, the count of
//! unfinished tasks) and is as cheap as an uncontended futex.

use crate::sys::os_error;
use mpconform_spec::{ErrorKind, PyError};
use nix::errno::Errno;
use nix::sys::mman::{mmap_anonymous, munmap, MapFlags, ProtFlags};
use std::num::NonZeroUsize;
use std::ptr::NonNull;
use std::time::Duration;

#[repr(C)]
struct Region {
    mutex: libc::pthread_mutex_t,
    cond: libc::pthread_cond_t,
    value: i64,
    max: i64,
}

/// A semaphore with a count in `0..=max`, shared across fork.
pub struct SharedSem {
    region: NonNull<Region>,
}

// SAFETY: the region is only touched under its process-shared mutex (or
// through the pthread calls, which are thread-safe).
unsafe impl Send for SharedSem {}
unsafe impl Sync for SharedSem {}

fn check(rc: libc::c_int) -> Result<(), PyError> {
    if rc == 0 {
        Ok(())
    } else {
        Err(os_error(Errno::from_raw(rc)))
    }
}

/// Holds the region's mutex until dropped.
struct Locked<'a> {
    sem: &'a SharedSem,
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        // SAFETY: this guard locked the mutex.
        unsafe { libc::pthread_mutex_unlock(self.sem.mutex()) };
    }
}

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
        // SAFETY: the mapping is ours, zeroed, and large enough; each
        // attribute object is initialised before use and destroyed after.
        unsafe {
            let r = region.as_ptr();
            let mut mattr: libc::pthread_mutexattr_t = std::mem::zeroed();
            check(libc::pthread_mutexattr_init(&mut mattr))?;
            check(libc::pthread_mutexattr_setpshared(
                &mut mattr,
                libc::PTHREAD_PROCESS_SHARED,
            ))?;
            check(libc::pthread_mutex_init(&mut (*r).mutex, &mattr))?;
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
            check(libc::pthread_cond_init(&mut (*r).cond, &cattr))?;
            libc::pthread_condattr_destroy(&mut cattr);
            (*r).value = value;
            (*r).max = max;
        }
        Ok(SharedSem { region })
    }

    fn mutex(&self) -> *mut libc::pthread_mutex_t {
        // SAFETY: the region lives as long as self.
        unsafe { &raw mut (*self.region.as_ptr()).mutex }
    }

    fn cond(&self) -> *mut libc::pthread_cond_t {
        // SAFETY: as above.
        unsafe { &raw mut (*self.region.as_ptr()).cond }
    }

    fn lock(&self) -> Locked<'_> {
        // SAFETY: an initialised process-shared mutex.
        let rc = unsafe { libc::pthread_mutex_lock(self.mutex()) };
        if rc == libc::EOWNERDEAD {
            // The holder died between two consistent states of the count.
            // SAFETY: we hold the mutex.
            unsafe { libc::pthread_mutex_consistent(self.mutex()) };
        }
        Locked { sem: self }
    }

    fn get(&self, _held: &Locked<'_>) -> i64 {
        // SAFETY: the caller holds the mutex, so no one else touches the count.
        unsafe { (*self.region.as_ptr()).value }
    }

    fn set(&self, _held: &Locked<'_>, value: i64) {
        // SAFETY: as above.
        unsafe { (*self.region.as_ptr()).value = value }
    }

    /// Waits on the condition until `deadline` (None: for ever); false once
    /// the deadline has passed.
    fn wait(&self, _held: &Locked<'_>, deadline: Option<libc::timespec>) -> bool {
        let rc = match deadline {
            // SAFETY: the caller holds the mutex the condition is used with.
            None => unsafe { libc::pthread_cond_wait(self.cond(), self.mutex()) },
            Some(at) => unsafe { libc::pthread_cond_timedwait(self.cond(), self.mutex(), &at) },
        };
        if rc == libc::EOWNERDEAD {
            // SAFETY: we hold the mutex again.
            unsafe { libc::pthread_mutex_consistent(self.mutex()) };
        }
        rc != libc::ETIMEDOUT
    }

    fn wake_all(&self) {
        // SAFETY: an initialised process-shared condition.
        unsafe { libc::pthread_cond_broadcast(self.cond()) };
    }

    /// Takes one unit: at once when `block` is false, else waiting up to
    /// `timeout` (None: for ever). False when none could be taken.
    pub fn acquire(&self, block: bool, timeout: Option<Duration>) -> bool {
        let deadline = if block {
            timeout.map(deadline_after)
        } else {
            None
        };
        let held = self.lock();
        loop {
            let value = self.get(&held);
            if value > 0 {
                self.set(&held, value - 1);
                if value == 1 {
                    // Whoever waits for zero (JoinableQueue.join) may go on.
                    self.wake_all();
                }
                return true;
            }
            if !block {
                return false;
            }
            if !self.wait(&held, deadline) {
                if self.get(&held) > 0 {
                    continue;
                }
                return false;
            }
        }
    }

    /// Gives one unit back; more than `max` fails as CPython's
    /// `BoundedSemaphore` does.
    pub fn release(&self) -> Result<(), PyError> {
        let held = self.lock();
        let max = {
            // SAFETY: under the mutex.
            unsafe { (*self.region.as_ptr()).max }
        };
        let value = self.get(&held);
        if value >= max {
            return Err(PyError::new(
                ErrorKind::ValueError,
                "semaphore or lock released too many times",
            ));
        }
        self.set(&held, value + 1);
        self.wake_all();
        Ok(())
    }

    /// The count as it stands.
    pub fn value(&self) -> i64 {
        let held = self.lock();
        self.get(&held)
    }

    /// Blocks until the count is zero.
    pub fn wait_zero(&self) {
        let held = self.lock();
        while self.get(&held) != 0 {
            self.wait(&held, None);
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

fn deadline_after(timeout: Duration) -> libc::timespec {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    let nanos = now.tv_nsec as u128 + timeout.subsec_nanos() as u128;
    libc::timespec {
        tv_sec: now.tv_sec
            + timeout.as_secs() as libc::time_t
            + (nanos / 1_000_000_000) as libc::time_t,
        tv_nsec: (nanos % 1_000_000_000) as libc::c_long,
    }
}
