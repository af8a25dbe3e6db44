//! The counting global allocator: allocations, bytes, live and peak heap.
//!
//! Two wrappers around the system allocator, both from crates: `stats_alloc`
//! counts calls and bytes (and so the live heap), and `peakmem_alloc` around
//! it keeps the peak live heap since its last reset.

use std::alloc::System;

use peakmem_alloc::{PeakMemAlloc, PeakMemAllocTrait};
use stats_alloc::StatsAlloc;

/// Calls and bytes.
static STATS: StatsAlloc<System> = StatsAlloc::system();

/// The process's allocator: [`STATS`] wrapped in a peak tracker.
#[global_allocator]
static GLOBAL: PeakMemAlloc<&StatsAlloc<System>> = PeakMemAlloc::new(&STATS);

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
    /// Bytes allocated (a realloc adds what it grew by).
    pub(crate) bytes: u64,
    /// Peak live heap above the live heap at the last [`reset_peak`].
    pub(crate) peak_above: i64,
    /// Live heap now minus at the snapshot.
    pub(crate) retained: i64,
}

pub(crate) fn snapshot() -> Snapshot {
    let s = STATS.stats();
    Snapshot {
        allocs: (s.allocations + s.reallocations) as u64,
        bytes: s.bytes_allocated as u64,
        live: s.bytes_allocated as i64 - s.bytes_deallocated as i64,
    }
}

/// Restarts peak tracking from the current live heap.
pub(crate) fn reset_peak() {
    GLOBAL.reset_peak_memory();
}

pub(crate) fn since(s: &Snapshot) -> Stats {
    let now = snapshot();
    Stats {
        allocs: now.allocs - s.allocs,
        bytes: now.bytes - s.bytes,
        peak_above: GLOBAL.get_peak_memory() as i64,
        retained: now.live - s.live,
    }
}
