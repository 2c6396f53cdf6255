//! The MAC table: (VNI, MAC) -> local port or remote VTEP.

use super::{PortIdx, ShardKey, ShardedMap, TunnelIdx};
use crate::ids::Vni;
use crate::wire::MacAddr;
use std::sync::atomic::{AtomicU32, Ordering};

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct MacKey {
    pub vni: Vni,
    pub mac: MacAddr,
}

impl ShardKey for MacKey {
    #[inline(always)]
    fn shard_hash(&self) -> u64 {
        (u64::from(self.vni.get()) << 40) ^ self.mac.hash_word()
    }
}

/// Where a MAC lives.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Dest {
    Local(PortIdx),
    Remote(TunnelIdx),
}

/// How an entry got into the table; only learned entries age.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum EntryKind {
    Static,
    Learned,
}

/// A MAC table entry. `seen` is the one field workers write: a coarse timestamp (seconds)
/// refreshed at most once a second per entry, so that aging needs no event per packet.
#[derive(Debug)]
pub struct MacEntry {
    pub dest: Dest,
    pub kind: EntryKind,
    seen: AtomicU32,
}

impl MacEntry {
    pub fn new(dest: Dest, kind: EntryKind, now: u32) -> MacEntry {
        MacEntry {
            dest,
            kind,
            seen: AtomicU32::new(now),
        }
    }
    /// Seconds-clock value of the last frame seen from this MAC.
    pub fn seen(&self) -> u32 {
        self.seen.load(Ordering::Relaxed)
    }
    /// Marks the entry as seen at `now`; writes only when the second changed.
    #[inline]
    pub fn touch(&self, now: u32) {
        if self.seen.load(Ordering::Relaxed) != now {
            self.seen.store(now, Ordering::Relaxed);
        }
    }
}

impl Clone for MacEntry {
    fn clone(&self) -> Self {
        MacEntry {
            dest: self.dest,
            kind: self.kind,
            seen: AtomicU32::new(self.seen()),
        }
    }
}

pub type MacTable = ShardedMap<MacKey, MacEntry>;
