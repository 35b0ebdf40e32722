//! `Value` and `Array` (Lib/multiprocessing/sharedctypes.py): integers in
//! the shared arena, so every process of the tree reads and writes the same
//! ones. A plain read and a plain write, as ctypes does them: a
//! read-modify-write is not atomic, which is why L01 takes a lock around it.

use crate::shared::PRIVATE;
use mpconform_spec::{ErrorKind, PyError};
use serde::{Deserialize, Serialize};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicI64, Ordering};

/// A run of shared integers: a Value is a run of one.
pub struct SharedInts {
    first: NonNull<AtomicI64>,
    len: usize,
    offset: usize,
    pub typecode: String,
}

/// What a spawned child is handed: where the integers are.
#[derive(Debug, Serialize, Deserialize)]
pub struct IntsHandOver {
    offset: usize,
    len: usize,
    typecode: String,
}

const TYPECODES: &[&str] = &["b", "B", "h", "H", "i", "I", "l", "L", "q", "Q"];

impl SharedInts {
    /// Integers set to `init`: shared, or private to this process under a
    /// fault. Only integer typecodes are offered.
    pub fn new(typecode: &str, init: &[i64], private: bool) -> Result<SharedInts, PyError> {
        if !TYPECODES.contains(&typecode) {
            return Err(PyError::new(
                ErrorKind::Other("NotImplementedError".into()),
                format!("the reference offers integer typecodes only, not {typecode:?}"),
            ));
        }
        let len = init.len();
        let (first, offset) = if private {
            let ints: Box<[AtomicI64]> = (0..len.max(1)).map(|_| AtomicI64::new(0)).collect();
            let leaked: &'static mut [AtomicI64] = Box::leak(ints);
            (NonNull::from(&mut leaked[0]), PRIVATE)
        } else {
            let (region, offset) =
                crate::arena::take(std::mem::size_of::<AtomicI64>() * len.max(1))?;
            (region.cast(), offset)
        };
        let ints = SharedInts {
            first,
            len,
            offset,
            typecode: typecode.to_string(),
        };
        for (i, v) in init.iter().enumerate() {
            ints.slot(i).store(*v, Ordering::SeqCst);
        }
        Ok(ints)
    }

    pub fn handover(&self) -> IntsHandOver {
        IntsHandOver {
            offset: self.offset,
            len: self.len,
            typecode: self.typecode.clone(),
        }
    }

    pub fn from_handover(h: IntsHandOver) -> Result<SharedInts, PyError> {
        if h.offset == PRIVATE {
            return SharedInts::new(&h.typecode, &vec![0; h.len], true);
        }
        Ok(SharedInts {
            first: crate::arena::address(h.offset)?.cast(),
            len: h.len,
            offset: h.offset,
            typecode: h.typecode,
        })
    }

    fn slot(&self, i: usize) -> &AtomicI64 {
        // SAFETY: i < len (callers check), inside a region that lives as
        // long as this process (the arena, or a leaked private block).
        unsafe { &*self.first.as_ptr().add(i) }
    }

    pub fn get(&self, i: usize) -> i64 {
        self.slot(i).load(Ordering::SeqCst)
    }

    pub fn set(&self, i: usize, v: i64) {
        self.slot(i).store(v, Ordering::SeqCst)
    }

    /// `a[index]`'s slot, with Python's negative indexes and its message.
    pub fn index(&self, index: i64) -> Result<usize, PyError> {
        let len = self.len as i64;
        let i = if index < 0 { index + len } else { index };
        if i < 0 || i >= len {
            return Err(PyError::new(
                ErrorKind::Other("IndexError".into()),
                "invalid index",
            ));
        }
        Ok(i as usize)
    }

    pub fn all(&self) -> Vec<i64> {
        (0..self.len).map(|i| self.get(i)).collect()
    }
}
