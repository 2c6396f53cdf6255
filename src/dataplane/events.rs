//! What workers tell the management thread: bounded lock-free queues, never a blocking call.
//! A full queue loses the event and counts it; the next frame will report again.

use super::counters::{Counters, Stat};
use crate::ids::Vni;
use crate::tables::{Dest, PortIdx};
use crate::wire::MacAddr;
use crossbeam_queue::ArrayQueue;
use std::net::Ipv4Addr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A frame from `mac` arrived on `dest` (new MAC or a move).
    MacSeen { vni: Vni, mac: MacAddr, dest: Dest },
    /// An IP/MAC binding snooped from a VM's ARP or a DHCP ACK.
    IpSeen {
        vni: Vni,
        ip: Ipv4Addr,
        mac: MacAddr,
    },
    /// A VM's ARP request the ARP table could not answer: the worker handed it over
    /// (the management thread asks the controller, then answers or floods it).
    ArpMiss {
        vni: Vni,
        port: PortIdx,
        asker_mac: MacAddr,
        asker_ip: Ipv4Addr,
        target: Ipv4Addr,
    },
    /// A unicast frame to an unknown MAC was flooded; ask the controller where it lives.
    MacMiss { vni: Vni, mac: MacAddr },
    /// An underlay neighbour of the VTEP announced its MAC (ARP to the VTEP).
    NeighborSeen { ip: Ipv4Addr, mac: MacAddr },
    /// A VTEP not in the VNI's table sent on a multicast-mode VNI.
    VtepSeen { vni: Vni, ip: Ipv4Addr },
    /// An IGMP query on the underlay: the VTEP reports its groups again.
    IgmpQuery,
    /// A VM used its first MAC on a port whose port security takes the first one.
    PortMacClaim { port: PortIdx, mac: MacAddr },
    /// A VM used its first IPv4 address on a port whose port security takes the first one.
    PortIpClaim { port: PortIdx, ip: Ipv4Addr },
    /// An ICMP echo reply to the VTEP's own address (`vxswitch ping`).
    EchoReply { from: Ipv4Addr, id: u16, seq: u16 },
}

/// Capacity of a worker's event queue.
pub const EVENT_QUEUE_LEN: usize = 4096;

pub type EventQueue = ArrayQueue<Event>;

/// Remembers what this worker reported under the current snapshot, so that a burst of
/// frames from one new MAC sends one event, not one per frame (direct-mapped, no allocation).
pub struct ReportCache<K> {
    slots: Box<[Option<(K, u64)>]>,
}

const REPORT_SLOTS: usize = 256;

impl<K: Copy + PartialEq> Default for ReportCache<K> {
    fn default() -> Self {
        ReportCache {
            slots: vec![None; REPORT_SLOTS].into_boxed_slice(),
        }
    }
}

impl<K: Copy + PartialEq> ReportCache<K> {
    /// True if `key` (whose hash is `hash`) was not yet reported under `generation`;
    /// records it.
    #[inline]
    pub fn first_report(&mut self, key: K, hash: u64, generation: u64) -> bool {
        let h = hash.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56;
        let slot = &mut self.slots[h as usize % REPORT_SLOTS];
        if *slot == Some((key, generation)) {
            return false;
        }
        *slot = Some((key, generation));
        true
    }
}

/// Queues an event, counting it or its loss; false if it was lost.
#[inline]
pub fn send(q: &EventQueue, counters: &Counters, e: Event) -> bool {
    if q.push(e).is_ok() {
        counters.add(Stat::EventsQueued, 1);
        true
    } else {
        counters.add(Stat::EventsLost, 1);
        false
    }
}
