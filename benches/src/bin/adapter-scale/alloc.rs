//! A counting global allocator: allocations, bytes, live and peak heap.
// The counting allocator needs `unsafe impl GlobalAlloc`; it only forwards
// to the system allocator (the same exception as codec-bench).
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);
static LIVE: AtomicI64 = AtomicI64::new(0);
static PEAK: AtomicI64 = AtomicI64::new(0);

/// Wraps the system allocator and counts.
pub(crate) struct Counting;

fn grow(size: usize) {
    ALLOCS.fetch_add(1, Ordering::Relaxed);
    BYTES.fetch_add(size as u64, Ordering::Relaxed);
    let live = LIVE.fetch_add(size as i64, Ordering::Relaxed) + size as i64;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

// SAFETY: forwards to `System` unchanged; the counters are atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grow(layout.size());
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        grow(layout.size());
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as i64, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_sub(layout.size() as i64, Ordering::Relaxed);
        grow(new_size);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Counter values at one moment.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Snapshot {
    allocs: u64,
    bytes: u64,
    live: i64,
}

/// What happened since a [`Snapshot`].
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Stats {
    /// Allocations (realloc counts as one).
    pub(crate) allocs: u64,
    /// Bytes requested.
    pub(crate) bytes: u64,
    /// Peak live heap above the live heap at the snapshot.
    pub(crate) peak_above: i64,
    /// Live heap now minus at the snapshot.
    pub(crate) retained: i64,
}

pub(crate) fn snapshot() -> Snapshot {
    Snapshot {
        allocs: ALLOCS.load(Ordering::Relaxed),
        bytes: BYTES.load(Ordering::Relaxed),
        live: LIVE.load(Ordering::Relaxed),
    }
}

/// Restarts peak tracking from the current live heap.
pub(crate) fn reset_peak() {
    PEAK.store(LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
}

pub(crate) fn since(s: &Snapshot) -> Stats {
    Stats {
        allocs: ALLOCS.load(Ordering::Relaxed) - s.allocs,
        bytes: BYTES.load(Ordering::Relaxed) - s.bytes,
        peak_above: PEAK.load(Ordering::Relaxed) - s.live,
        retained: LIVE.load(Ordering::Relaxed) - s.live,
    }
}
