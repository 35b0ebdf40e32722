//! A byte pipe in shared memory: what a Queue's messages travel through. It
//! has a pipe's capacity (64 KiB) and a pipe's blocking (a writer waits for
//! room, a reader for data), so everything a CPython queue shows through its
//! pipe (a feeder blocked on a full pipe, a child that cannot end until its
//! items are read, empty() as "nothing in the pipe") shows the same; but an
//! uncontended transfer is a copy, not two system calls per message.
//!
//! One writer and one reader at a time: the queue's write lock serialises
//! writers and its read lock readers, so the ring itself needs no lock. Each
//! side moves its own counter after its copy, so a process killed mid-copy
//! leaves the ring consistent; sleepers wait on a futex, so one killed while
//! it sleeps leaves nothing behind.

use crate::futex::Changes;
use mpconform_spec::PyError;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A Linux pipe's default capacity.
pub const CAPACITY: usize = 65536;

/// How many times a reader looks for data before it sleeps (a few
/// microseconds): a writer on another core usually adds data sooner than a
/// sleep and a wake-up would take.
const SPINS: u32 = 4000;

#[repr(C)]
struct Header {
    /// Bytes ever written (moved only by the writer, after its copy) and
    /// ever read (only by the reader); their difference is what waits.
    written: AtomicU64,
    read: AtomicU64,
    /// Every transfer; sleepers wait on it.
    changes: Changes,
}

/// The ring: a header and `CAPACITY` bytes, shared across fork.
pub struct Ring {
    header: NonNull<Header>,
    data: NonNull<u8>,
    /// Where the ring is in the arena (arena.rs), for a spawned child.
    offset: usize,
}

// SAFETY: the counters are atomics; each byte of the data area is touched
// by one side at a time (the writer only where the reader has finished, the
// reader only where the writer has), with Release / Acquire on the counters.
unsafe impl Send for Ring {}
unsafe impl Sync for Ring {}

fn header_size() -> usize {
    std::mem::size_of::<Header>().next_multiple_of(64)
}

fn size() -> usize {
    header_size() + CAPACITY
}

impl Ring {
    pub fn new() -> Result<Ring, PyError> {
        // Zeroed memory is a valid header: every field is an atomic at 0.
        let (_, offset) = crate::arena::take(size())?;
        Ring::at(offset)
    }

    /// The ring at `offset` of the arena (made here or handed over).
    pub fn at(offset: usize) -> Result<Ring, PyError> {
        let memory = crate::arena::address(offset)?;
        let header = memory.cast::<Header>();
        // SAFETY: the data area follows the header, inside the region.
        let data =
            unsafe { NonNull::new_unchecked(memory.cast::<u8>().as_ptr().add(header_size())) };
        Ok(Ring {
            header,
            data,
            offset,
        })
    }

    /// Where it is in the arena.
    pub fn offset(&self) -> usize {
        self.offset
    }

    fn h(&self) -> &Header {
        // SAFETY: the mapping lives as long as self.
        unsafe { self.header.as_ref() }
    }

    fn used(&self) -> usize {
        let h = self.h();
        let read = h.read.load(Ordering::Acquire);
        (h.written.load(Ordering::Acquire) - read) as usize
    }

    /// Writes all of `bytes`, waiting for room as a pipe writer does.
    pub fn write_all(&self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let seen = self.h().changes.seen();
            let free = CAPACITY - self.used();
            if free == 0 {
                self.h()
                    .changes
                    .sleep_unless(seen, || self.used() < CAPACITY, None);
                continue;
            }
            let n = free.min(bytes.len());
            let at = (self.h().written.load(Ordering::Relaxed) % CAPACITY as u64) as usize;
            let first = n.min(CAPACITY - at);
            // SAFETY: the only writer, into bytes the reader has finished
            // with; both pieces stay inside the data area.
            unsafe {
                std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.data.as_ptr().add(at), first);
                std::ptr::copy_nonoverlapping(
                    bytes.as_ptr().add(first),
                    self.data.as_ptr(),
                    n - first,
                );
            }
            self.h().written.fetch_add(n as u64, Ordering::SeqCst);
            self.h().changes.announce();
            bytes = &bytes[n..];
        }
    }

    /// Fills `buf`, waiting for data as a pipe reader does.
    pub fn read_exact(&self, buf: &mut [u8]) {
        let mut done = 0;
        while done < buf.len() {
            for _ in 0..SPINS {
                if self.used() > 0 {
                    break;
                }
                std::hint::spin_loop();
            }
            let seen = self.h().changes.seen();
            let used = self.used();
            if used == 0 {
                self.h()
                    .changes
                    .sleep_unless(seen, || self.used() > 0, None);
                continue;
            }
            let n = used.min(buf.len() - done);
            let at = (self.h().read.load(Ordering::Relaxed) % CAPACITY as u64) as usize;
            let first = n.min(CAPACITY - at);
            // SAFETY: the only reader, from bytes the writer has finished
            // with; both pieces stay inside the data area.
            unsafe {
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
            }
            self.h().read.fetch_add(n as u64, Ordering::SeqCst);
            self.h().changes.announce();
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

    /// Whether data waits, within `timeout` (None: for ever): a pipe's poll.
    pub fn readable(&self, timeout: Option<Duration>) -> bool {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let seen = self.h().changes.seen();
            if self.used() > 0 {
                return true;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return false;
            }
            self.h()
                .changes
                .sleep_unless(seen, || self.used() > 0, deadline);
        }
    }
}
