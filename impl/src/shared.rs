//! A counting semaphore that every process forked after its creation shares:
//! an atomic count, and a process-shared pthread mutex and condition for the
//! waits, in an anonymous shared mapping. It stands in for the `SemLock`s of
//! CPython's queues (the slot count, the read and write locks, the count of
//! unfinished tasks); taking and giving without a wait is one atomic
//! operation.

use crate::sys::os_error;
use mpconform_spec::{ErrorKind, PyError};
use nix::errno::Errno;
use nix::sys::mman::{mmap_anonymous, munmap, MapFlags, ProtFlags};
use std::num::NonZeroUsize;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::time::Duration;

#[repr(C)]
struct Region {
    mutex: libc::pthread_mutex_t,
    cond: libc::pthread_cond_t,
    value: i64,
    max: i64,
    /// Processes and threads waiting on the condition.
    waiters: u32,
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
        unsafe { libc::pthread_mutex_lock(self.mutex()) };
        Locked { sem: self }
    }

    fn count(&self) -> &AtomicI64 {
        // SAFETY: the region lives as long as self; an i64 in shared memory
        // is accessed only atomically.
        unsafe { AtomicI64::from_ptr(&raw mut (*self.region.as_ptr()).value) }
    }

    fn waiters(&self) -> &AtomicU32 {
        // SAFETY: as above.
        unsafe { AtomicU32::from_ptr(&raw mut (*self.region.as_ptr()).waiters) }
    }

    fn max(&self) -> i64 {
        // SAFETY: written once before the region is shared.
        unsafe { (*self.region.as_ptr()).max }
    }

    /// Waits on the condition until `deadline` (None: for ever); false once
    /// the deadline has passed.
    fn wait(&self, _held: &Locked<'_>, deadline: Option<libc::timespec>) -> bool {
        let rc = match deadline {
            // SAFETY: the caller holds the mutex the condition is used with.
            None => unsafe { libc::pthread_cond_wait(self.cond(), self.mutex()) },
            Some(at) => unsafe { libc::pthread_cond_timedwait(self.cond(), self.mutex(), &at) },
        };
        rc != libc::ETIMEDOUT
    }

    /// Wakes every waiter, if there is one. A waiter counts itself before it
    /// looks at the count, and every change of the count is SeqCst, so a
    /// change it missed is one whose author sees it waiting.
    fn wake_all(&self, held: Option<&Locked<'_>>) {
        if self.waiters().load(Ordering::SeqCst) > 0 {
            let _own = if held.is_none() {
                Some(self.lock())
            } else {
                None
            };
            // SAFETY: an initialised process-shared condition, under its mutex.
            unsafe { libc::pthread_cond_broadcast(self.cond()) };
        }
    }

    /// One unit taken without waiting, if there is one; `held` when the
    /// caller holds the mutex.
    fn try_take(&self, held: Option<&Locked<'_>>) -> bool {
        let count = self.count();
        let mut value = count.load(Ordering::SeqCst);
        while value > 0 {
            match count.compare_exchange(value, value - 1, Ordering::SeqCst, Ordering::SeqCst) {
                Ok(_) => {
                    if value == 1 {
                        // Whoever waits for zero (JoinableQueue.join) may go on.
                        self.wake_all(held);
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
        if self.try_take(None) {
            return true;
        }
        if !block {
            return false;
        }
        let deadline = timeout.map(deadline_after);
        let held = self.lock();
        self.waiters().fetch_add(1, Ordering::SeqCst);
        let taken = loop {
            if self.try_take(Some(&held)) {
                break true;
            }
            if !self.wait(&held, deadline) {
                break self.try_take(Some(&held));
            }
        };
        self.waiters().fetch_sub(1, Ordering::SeqCst);
        taken
    }

    /// Gives one unit back; more than `max` fails as CPython's
    /// `BoundedSemaphore` does.
    pub fn release(&self) -> Result<(), PyError> {
        let count = self.count();
        let mut value = count.load(Ordering::SeqCst);
        loop {
            if value >= self.max() {
                return Err(PyError::new(
                    ErrorKind::ValueError,
                    "semaphore or lock released too many times",
                ));
            }
            match count.compare_exchange(value, value + 1, Ordering::SeqCst, Ordering::SeqCst) {
                Ok(_) => break,
                Err(now) => value = now,
            }
        }
        self.wake_all(None);
        Ok(())
    }

    /// The count as it stands.
    pub fn value(&self) -> i64 {
        self.count().load(Ordering::SeqCst)
    }

    /// Blocks until the count is zero.
    pub fn wait_zero(&self) {
        if self.value() == 0 {
            return;
        }
        let held = self.lock();
        self.waiters().fetch_add(1, Ordering::SeqCst);
        while self.value() != 0 {
            self.wait(&held, None);
        }
        self.waiters().fetch_sub(1, Ordering::SeqCst);
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
