//! VM ARP requests held while the controller is asked (STEP4), and the frames the slow
//! path sends for them: a proxy reply when an answer comes, the request itself (flooded)
//! when nobody knows or the answer is late.

use crate::dataplane::slow_path::arp_frame;
use crate::tables::PortIdx;
use crate::wire::{ArpOperation, MacAddr};
use smallvec::SmallVec;
use std::net::Ipv4Addr;
use std::time::Instant;

/// Who asked: the VM port, its MAC and IP.
pub type Waiter = (PortIdx, MacAddr, Ipv4Addr);

/// One outstanding controller query and the VMs waiting on it.
#[derive(Debug)]
pub struct PendingArp {
    pub asked: Instant,
    pub waiters: SmallVec<[Waiter; 2]>,
}

/// Most VMs held on one query; more are flooded at once.
const MAX_WAITERS: usize = 16;

impl PendingArp {
    pub fn new(asked: Instant) -> PendingArp {
        PendingArp {
            asked,
            waiters: SmallVec::new(),
        }
    }
    pub fn add(&mut self, w: Waiter) {
        if !self.waiters.contains(&w) && self.waiters.len() < MAX_WAITERS {
            self.waiters.push(w);
        }
    }
}

/// The reply `target` -> `mac` to the VM that asked, as the owner of `target` would send it.
pub fn arp_reply_frame(w: Waiter, target: Ipv4Addr, mac: MacAddr) -> Vec<u8> {
    let (_, asker_mac, asker_ip) = w;
    arp_frame(ArpOperation::Reply, mac, target, asker_mac, asker_ip)
}

/// The VM's broadcast request, rebuilt for flooding.
pub fn arp_request_frame(w: Waiter, target: Ipv4Addr) -> Vec<u8> {
    let (_, asker_mac, asker_ip) = w;
    arp_frame(
        ArpOperation::Request,
        asker_mac,
        asker_ip,
        MacAddr::ZERO,
        target,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_answer_the_asker_or_ask_for_it() {
        let a: MacAddr = "02:aa:aa:aa:aa:aa".parse().unwrap();
        let b: MacAddr = "02:bb:bb:bb:bb:bb".parse().unwrap();
        let (ia, ib) = (
            Ipv4Addr::new(172, 16, 10, 11),
            Ipv4Addr::new(172, 16, 10, 12),
        );
        // The reply comes from B's binding to A; the request is A's own, rebuilt.
        assert_eq!(
            arp_reply_frame((1, a, ia), ib, b),
            arp_frame(ArpOperation::Reply, b, ib, a, ia)
        );
        assert_eq!(
            arp_request_frame((1, a, ia), ib),
            arp_frame(ArpOperation::Request, a, ia, MacAddr::ZERO, ib)
        );
    }

    #[test]
    fn waiters_are_bounded_and_unique() {
        let mut p = PendingArp::new(Instant::now());
        let a: MacAddr = "02:aa:aa:aa:aa:aa".parse().unwrap();
        for i in 0..40u8 {
            p.add((1, a, Ipv4Addr::new(10, 0, 0, i % 20)));
        }
        assert_eq!(p.waiters.len(), MAX_WAITERS);
    }
}
