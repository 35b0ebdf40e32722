//! The shared memory every queue's semaphores and rings live in: one memory
//! file per process tree, made when the reference opens, mapped once in
//! each process. A fork child inherits the mapping; a spawned child is
//! handed the file's descriptor and maps it itself, so a region travels as
//! its offset. One file for everything keeps a queue from opening
//! descriptors of its own beyond its pipe's two (Q08 counts them).
//!
//! Regions are taken from the front, under an atomic offset in the file's
//! first bytes that every process shares, and never given back: a clause
//! process lives for one clause, and the file's untouched pages cost nothing.

use crate::sys::os_error;
use mpconform_spec::{ErrorKind, PyError};
use nix::sys::memfd::{memfd_create, MFdFlags};
use nix::sys::mman::{mmap, MapFlags, ProtFlags};
use std::ffi::c_void;
use std::num::NonZeroUsize;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// The file's size: address space only, until a page is touched.
const SIZE: usize = 1 << 30;
/// Where regions start: the first line holds the shared offset.
const FIRST: usize = 64;

struct Arena {
    base: NonNull<u8>,
    memory: OwnedFd,
}

// SAFETY: the mapping is shared memory used through atomics and the
// regions' own synchronisation; the pointer itself never changes.
unsafe impl Send for Arena {}
unsafe impl Sync for Arena {}

/// The arena of the implementation open in this process. Closing it (the
/// implementation's end) closes its descriptor but keeps the mapping, which
/// regions still in use may point into; a later implementation makes a new one.
static ARENA: Mutex<Option<Arena>> = Mutex::new(None);

fn map(memory: OwnedFd) -> Result<Arena, PyError> {
    // SAFETY: a new shared mapping of the memory file, aliasing nothing.
    let at = unsafe {
        mmap(
            None,
            NonZeroUsize::new(SIZE).expect("non-zero"),
            ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
            MapFlags::MAP_SHARED,
            &memory,
            0,
        )
    }
    .map_err(os_error)?;
    Ok(Arena {
        base: at.cast(),
        memory,
    })
}

/// Runs `f` on this process's arena, making it first if there is none.
fn with<T>(f: impl FnOnce(&Arena) -> T) -> Result<T, PyError> {
    let mut arena = ARENA.lock().unwrap_or_else(|e| e.into_inner());
    if arena.is_none() {
        let memory = memfd_create("mpconform-shared", MFdFlags::MFD_CLOEXEC).map_err(os_error)?;
        nix::unistd::ftruncate(&memory, SIZE as i64).map_err(os_error)?;
        // A zeroed file: the shared offset starts at 0.
        *arena = Some(map(memory)?);
    }
    Ok(f(arena.as_ref().expect("made above")))
}

/// Makes the arena now, so that its descriptor is open before any clause
/// looks at this process's descriptors.
pub(crate) fn open() -> Result<(), PyError> {
    with(|_| ())
}

/// At the implementation's end: the descriptor goes, the mapping stays.
pub(crate) fn close() {
    let mut arena = ARENA.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(a) = arena.take() {
        drop(a.memory);
    }
}

/// In a spawned child, before anything else uses shared memory: the
/// parent's arena, through the descriptor it handed over.
pub(crate) fn adopt(fd: RawFd) -> Result<(), PyError> {
    // SAFETY: the parent handed this descriptor to this process alone.
    let memory = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: fcntl on a descriptor this process now owns.
    unsafe { libc::fcntl(memory.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) };
    let adopted = map(memory)?;
    *ARENA.lock().unwrap_or_else(|e| e.into_inner()) = Some(adopted);
    Ok(())
}

/// The arena's descriptor, to hand to a spawned child.
pub(crate) fn descriptor() -> Result<RawFd, PyError> {
    with(|a| a.memory.as_raw_fd())
}

fn next(a: &Arena) -> &AtomicUsize {
    // SAFETY: the first line of the mapping is the shared offset, an atomic.
    unsafe { &*a.base.as_ptr().cast::<AtomicUsize>() }
}

/// A fresh, zeroed region of `len` bytes that every process of the tree
/// sees at [`address`] of the returned offset.
pub(crate) fn take(len: usize) -> Result<(NonNull<c_void>, usize), PyError> {
    let len = len.next_multiple_of(64);
    let offset = with(|a| FIRST + next(a).fetch_add(len, Ordering::SeqCst))?;
    if offset + len > SIZE {
        return Err(PyError::new(
            ErrorKind::Other("MemoryError".into()),
            "the shared arena is full",
        ));
    }
    Ok((address(offset)?, offset))
}

/// Where the region at `offset` is in this process.
pub(crate) fn address(offset: usize) -> Result<NonNull<c_void>, PyError> {
    // SAFETY: offsets come from take(), inside the mapping.
    with(|a| unsafe { NonNull::new_unchecked(a.base.as_ptr().add(offset).cast()) })
}
