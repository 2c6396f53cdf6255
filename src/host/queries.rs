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
    use crate::wire::{ArpPacket, EthernetFrame};

    #[test]
    fn reply_frame_answers_the_asker() {
        let a: MacAddr = "02:aa:aa:aa:aa:aa".parse().unwrap();
        let b: MacAddr = "02:bb:bb:bb:bb:bb".parse().unwrap();
        let (ia, ib) = (
            Ipv4Addr::new(172, 16, 10, 11),
            Ipv4Addr::new(172, 16, 10, 12),
        );
        let f = arp_reply_frame((1, a, ia), ib, b);
        let eth = EthernetFrame::new_checked(&f[..]).unwrap();
        assert_eq!((eth.dst(), eth.src()), (a, b));
        let p = ArpPacket::new_checked(eth.payload()).unwrap();
        assert_eq!(p.operation(), ArpOperation::Reply);
        assert_eq!((p.sender_mac(), p.sender_ip()), (b, ib));
        assert_eq!((p.target_mac(), p.target_ip()), (a, ia));
        let r = arp_request_frame((1, a, ia), ib);
        let eth = EthernetFrame::new_checked(&r[..]).unwrap();
        assert!(eth.dst().is_broadcast());
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
