//! What workers tell the management thread: bounded lock-free queues, never a blocking call.
//! A full queue loses the event and counts it; the next frame will report again.

use super::counters::{Counters, Stat};
use crate::tables::{Dest, MacKey, Vni};
use crate::wire::MacAddr;
use crossbeam_queue::ArrayQueue;
use std::net::Ipv4Addr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A frame from `mac` arrived on `dest` (new MAC or a move).
    MacSeen { vni: Vni, mac: MacAddr, dest: Dest },
    /// An underlay neighbour of the VTEP announced its MAC (ARP to the VTEP).
    NeighborSeen { ip: Ipv4Addr, mac: MacAddr },
}

/// Capacity of a worker's event queue.
pub const EVENT_QUEUE_LEN: usize = 4096;

pub type EventQueue = ArrayQueue<Event>;

/// Remembers what this worker reported under the current snapshot, so that a burst of
/// frames from one new MAC sends one event, not one per frame (direct-mapped, no allocation).
pub struct ReportCache {
    slots: Box<[(MacKey, Dest, u64)]>,
}

const REPORT_SLOTS: usize = 256;

impl Default for ReportCache {
    fn default() -> Self {
        let none = (
            MacKey {
                vni: u32::MAX,
                mac: MacAddr::ZERO,
            },
            Dest::Local(0),
            u64::MAX,
        );
        ReportCache {
            slots: vec![none; REPORT_SLOTS].into_boxed_slice(),
        }
    }
}

impl ReportCache {
    /// True if (key, dest) was not yet reported under `generation`; records it.
    #[inline]
    pub fn first_report(&mut self, key: MacKey, dest: Dest, generation: u64) -> bool {
        let h = (key.mac.as_u64() ^ u64::from(key.vni)).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56;
        let slot = &mut self.slots[h as usize % REPORT_SLOTS];
        if slot.0 == key && slot.1 == dest && slot.2 == generation {
            return false;
        }
        *slot = (key, dest, generation);
        true
    }
}

/// Queues an event, counting it or its loss.
#[inline]
pub fn send(q: &EventQueue, counters: &Counters, e: Event) {
    if q.push(e).is_ok() {
        counters.add(Stat::EventsQueued, 1);
    } else {
        counters.add(Stat::EventsLost, 1);
    }
}
