//! Per-worker counters: plain single-writer integers (relaxed load + store, no locked
//! instruction), summed by the reader. Every drop has a reason, as VPP's error lists; the
//! names are the host API's (`api::counters`).

pub use crate::api::counters::{DropReason, Stat, VniStat};
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
    /// Per logical switch (`VniInfo::slot`), VniStat::COUNT counters each.
    vnis: Box<[AtomicU64]>,
}

impl Default for Counters {
    fn default() -> Self {
        Counters::with_vni_slots(0)
    }
}

#[inline]
fn bump(c: &AtomicU64, n: u64) {
    // Single writer: a plain add, published with relaxed ordering.
    c.store(c.load(Ordering::Relaxed) + n, Ordering::Relaxed);
}

impl Counters {
    /// Counters with room for `n` logical switches' own (slots 0..n; others go uncounted).
    pub fn with_vni_slots(n: usize) -> Counters {
        Counters {
            drops: std::array::from_fn(|_| AtomicU64::new(0)),
            stats: std::array::from_fn(|_| AtomicU64::new(0)),
            busy_cycles: AtomicU64::new(0),
            busy_frames: AtomicU64::new(0),
            vnis: (0..n * VniStat::COUNT).map(|_| AtomicU64::new(0)).collect(),
        }
    }
    /// Adds to a logical switch's counter.
    #[inline]
    pub fn vni_add(&self, slot: u16, s: VniStat, n: u64) {
        if let Some(c) = self
            .vnis
            .get(usize::from(slot) * VniStat::COUNT + s as usize)
        {
            bump(c, n);
        }
    }
    pub fn vni_stat(&self, slot: u16, s: VniStat) -> u64 {
        self.vnis
            .get(usize::from(slot) * VniStat::COUNT + s as usize)
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }
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

/// The sum over workers of a logical switch's counter.
pub fn total_vni_stat(all: &[std::sync::Arc<Counters>], slot: u16, s: VniStat) -> u64 {
    all.iter().map(|c| c.vni_stat(slot, s)).sum()
}

/// The sum over workers of a stat.
pub fn total_stat(all: &[std::sync::Arc<Counters>], s: Stat) -> u64 {
    all.iter().map(|c| c.stat(s)).sum()
}
