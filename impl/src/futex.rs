//! Waiting on a word of shared memory with the futex system call: what the
//! shared semaphores and the shared-memory pipe use to sleep. Unlike a
//! process-shared condition variable, a futex keeps no state about its
//! waiters, so a process killed while it waits leaves nothing behind.

use std::sync::atomic::AtomicU32;
use std::time::Duration;

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
