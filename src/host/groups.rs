//! The VTEP's multicast group membership: the groups of its hybrid and multicast logical
//! switches (with VM ports here) are joined with IGMPv2 reports on the uplink when they
//! appear, again every IGMP_REFRESH_SECS and when a querier asks, and left when they go, so
//! that IGMP-snooping switches and multicast routers of the underlay deliver them.

use super::manager::TableManager;
use crate::dataplane::SlowFrame;
use crate::tables::{VniTable, VtepIdentity, UPLINK};
use crate::wire::igmp::{self, ALL_ROUTERS, V2_LEAVE, V2_REPORT};
use crate::wire::{checksum, ethernet, EtherType, MacAddr};
use smallvec::SmallVec;
use std::net::Ipv4Addr;
use std::sync::Arc;

/// Unsolicited reports are repeated this often (a querier's default interval is 125 s).
pub const IGMP_REFRESH_SECS: u32 = 30;

/// When the groups were last reported and whether a query asks for them.
#[derive(Debug, Default)]
pub struct Membership {
    last: Option<u32>,
    queried: bool,
}

impl Membership {
    /// A querier asked: report at the next tick (once, however many queries came).
    pub fn queried(&mut self) {
        self.queried = true;
    }
}

/// The groups the VTEP must be in for `vnis`, sorted.
pub fn joined(vnis: &VniTable) -> SmallVec<[Ipv4Addr; 4]> {
    let mut g: SmallVec<[Ipv4Addr; 4]> = vnis
        .iter()
        .map(|(_, i)| i)
        .filter(|i| !i.local_ports.is_empty() && i.bum.mode.needs_group())
        .filter_map(|i| i.bum.group)
        .collect();
    g.sort();
    g.dedup();
    g
}

impl TableManager {
    /// After a replication change: joins the groups that appeared, leaves those that went.
    pub(super) fn rejoin_groups(&mut self) {
        let now = joined(&self.snap.vnis);
        if now == *self.snap.groups {
            return;
        }
        let vtep = &self.snap.vtep;
        for g in now.iter().filter(|g| !self.snap.groups.contains(g)) {
            self.out.frames.push(send(igmp_frame(vtep, V2_REPORT, *g)));
        }
        for g in self.snap.groups.iter().filter(|g| !now.contains(g)) {
            self.out.frames.push(send(igmp_frame(vtep, V2_LEAVE, *g)));
        }
        self.snap.groups = Arc::new(now);
    }

    /// Reports every joined group when due: at start, every IGMP_REFRESH_SECS, after a query.
    pub fn report_groups(&mut self, now: u32) {
        let due = self.igmp.queried
            || self
                .igmp
                .last
                .is_none_or(|l| now.saturating_sub(l) >= IGMP_REFRESH_SECS);
        if !due || self.snap.groups.is_empty() {
            return;
        }
        self.igmp = Membership {
            last: Some(now),
            queried: false,
        };
        for g in self.snap.groups.iter() {
            let f = igmp_frame(&self.snap.vtep, V2_REPORT, *g);
            self.out.frames.push(send(f));
        }
    }
}

fn send(bytes: Vec<u8>) -> SlowFrame {
    SlowFrame::Send {
        port: UPLINK,
        bytes,
    }
}

/// An IGMPv2 report (to the group) or leave (to all routers) from the VTEP: TTL 1 and the
/// Router Alert option (RFC 2236 §2).
pub fn igmp_frame(vtep: &VtepIdentity, msg_type: u8, group: Ipv4Addr) -> Vec<u8> {
    let dst = if msg_type == V2_LEAVE {
        ALL_ROUTERS
    } else {
        group
    };
    const LEN: usize = 24 + igmp::HEADER_LEN;
    let mut ip = [0u8; LEN];
    ip[0] = 0x46; // version 4, 6 words: one option
    ip[1] = 0xc0; // precedence "internetwork control", as Linux sends IGMP
    ip[2..4].copy_from_slice(&(LEN as u16).to_be_bytes());
    ip[8] = 1; // TTL
    ip[9] = 2; // IGMP
    ip[12..16].copy_from_slice(&vtep.ip.octets());
    ip[16..20].copy_from_slice(&dst.octets());
    ip[20..24].copy_from_slice(&[0x94, 0x04, 0x00, 0x00]); // Router Alert
    let c = checksum::checksum(&ip[..24]);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    let mut m = [0u8; igmp::HEADER_LEN];
    igmp::emit_v2(&mut m, msg_type, group);
    ip[24..].copy_from_slice(&m);
    let mut f = vec![0u8; ethernet::HEADER_LEN];
    ethernet::emit_header(
        &mut f,
        MacAddr::ipv4_multicast(dst),
        vtep.mac,
        EtherType::Ipv4,
    );
    f.extend_from_slice(&ip);
    f.resize(f.len().max(60), 0);
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::igmp::IgmpPacket;
    use crate::wire::{EthernetFrame, IpProtocol, Ipv4Packet};

    #[test]
    fn a_report_is_a_valid_igmp_packet_to_the_group() {
        let v = VtepIdentity::example();
        let g = Ipv4Addr::new(239, 1, 1, 7);
        let f = igmp_frame(&v, V2_REPORT, g);
        let eth = EthernetFrame::new_checked(&f[..]).unwrap();
        assert_eq!(eth.dst(), MacAddr::ipv4_multicast(g));
        let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
        assert!(ip.verify_checksum());
        assert_eq!((ip.src(), ip.dst(), ip.ttl()), (v.ip, g, 1));
        assert_eq!(ip.protocol(), IpProtocol::Igmp);
        let m = IgmpPacket::new_checked(ip.payload()).unwrap();
        assert!(m.verify_checksum());
        assert_eq!((m.msg_type(), m.group()), (V2_REPORT, g));
        let leave = igmp_frame(&v, V2_LEAVE, g);
        let ip = Ipv4Packet::new_checked(&leave[14..]).unwrap();
        assert_eq!(ip.dst(), ALL_ROUTERS);
    }
}
