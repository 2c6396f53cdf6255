//! Per-worker counters: plain single-writer integers (relaxed load + store, no locked
//! instruction), summed by the reader. Every drop has a reason, as VPP's error lists; the
//! names are the host API's (`api::counters`).

pub use crate::api::counters::{DropReason, Stat};
use std::sync::atomic::{AtomicU64, Ordering};

/// One worker's counters, written by it alone and read by the management thread; aligned
/// so that no other worker's data shares their cache lines.
#[derive(Debug)]
#[repr(align(64))]
pub struct Counters {
    drops: [AtomicU64; DropReason::COUNT],
    stats: [AtomicU64; Stat::COUNT],
    /// TSC cycles spent in poll rounds that received something (testpmd's "busy cycles").
    busy_cycles: AtomicU64,
    /// Frames received in those rounds.
    busy_frames: AtomicU64,
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            drops: std::array::from_fn(|_| AtomicU64::new(0)),
            stats: std::array::from_fn(|_| AtomicU64::new(0)),
            busy_cycles: AtomicU64::new(0),
            busy_frames: AtomicU64::new(0),
        }
    }
}

#[inline]
fn bump(c: &AtomicU64, n: u64) {
    // Single writer: a plain add, published with relaxed ordering.
    c.store(c.load(Ordering::Relaxed) + n, Ordering::Relaxed);
}

impl Counters {
    #[inline]
    pub fn dropped(&self, r: DropReason) {
        bump(&self.drops[r as usize], 1);
    }
    #[inline]
    pub fn add(&self, s: Stat, n: u64) {
        bump(&self.stats[s as usize], n);
    }
    pub fn drops(&self, r: DropReason) -> u64 {
        self.drops[r as usize].load(Ordering::Relaxed)
    }
    pub fn stat(&self, s: Stat) -> u64 {
        self.stats[s as usize].load(Ordering::Relaxed)
    }
    /// A poll round that received `frames` took `cycles`.
    #[inline]
    pub fn busy(&self, cycles: u64, frames: u64) {
        bump(&self.busy_cycles, cycles);
        bump(&self.busy_frames, frames);
    }
    /// (busy cycles, frames received in busy rounds).
    pub fn busy_totals(&self) -> (u64, u64) {
        (
            self.busy_cycles.load(Ordering::Relaxed),
            self.busy_frames.load(Ordering::Relaxed),
        )
    }
}

/// The sum over workers of a drop reason.
pub fn total_drops(all: &[std::sync::Arc<Counters>], r: DropReason) -> u64 {
    all.iter().map(|c| c.drops(r)).sum()
}

/// The sum over workers of a stat.
pub fn total_stat(all: &[std::sync::Arc<Counters>], s: Stat) -> u64 {
    all.iter().map(|c| c.stat(s)).sum()
}
