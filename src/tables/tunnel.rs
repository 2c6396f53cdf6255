//! Remote VTEPs and their precomputed encapsulation headers (VPP's `vxlan_rewrite`): per
//! packet the encap stage copies 50 bytes and patches lengths, VNI, UDP source port and the
//! IPv4 checksum (incrementally, from a base computed here with length zero).

use super::{TunnelIdx, VtepIdentity};
use crate::wire::{checksum, ethernet, ipv4, udp, vxlan, EtherType, IpProtocol, MacAddr};
use hashbrown::HashMap;
use std::net::Ipv4Addr;

const IP_AT: usize = ethernet::HEADER_LEN;
const UDP_AT: usize = IP_AT + ipv4::HEADER_LEN;
const VXLAN_AT: usize = UDP_AT + udp::HEADER_LEN;
/// Outer IPv4 + UDP + VXLAN bytes in front of the inner frame.
const IP_OVERHEAD: usize = ipv4::HEADER_LEN + udp::HEADER_LEN + vxlan::HEADER_LEN;

/// A remote VTEP as the data path needs it.
#[derive(Clone, Debug)]
pub struct Tunnel {
    pub ip: Ipv4Addr,
    /// The underlay next hop: the VTEP itself on our segment, else the gateway.
    pub next_hop: Option<Ipv4Addr>,
    /// The next hop's MAC from the VTEP's ARP cache; None until resolved.
    pub next_hop_mac: Option<MacAddr>,
    header: [u8; vxlan::ENCAP_OVERHEAD],
    ip_csum_base: u16,
}

impl Tunnel {
    pub fn new(ip: Ipv4Addr, vtep: &VtepIdentity, next_hop_mac: Option<MacAddr>) -> Tunnel {
        let mut header = [0u8; vxlan::ENCAP_OVERHEAD];
        ethernet::emit_header(
            &mut header,
            next_hop_mac.unwrap_or(MacAddr::ZERO),
            vtep.mac,
            EtherType::Ipv4,
        );
        ipv4::Ipv4Repr {
            src: vtep.ip,
            dst: ip,
            protocol: IpProtocol::Udp,
            payload_len: 0,
            ttl: 64,
            dont_fragment: true,
        }
        .emit(&mut header[IP_AT..UDP_AT]);
        // The template carries total length 20; make the base checksum one for length 0.
        let c = u16::from_be_bytes([
            header[IP_AT + ipv4::offsets::CHECKSUM],
            header[IP_AT + ipv4::offsets::CHECKSUM + 1],
        ]);
        let ip_csum_base = checksum::update(c, ipv4::HEADER_LEN as u16, 0);
        header[IP_AT + ipv4::offsets::LENGTH..IP_AT + ipv4::offsets::LENGTH + 2].fill(0);
        udp::emit_header(&mut header[UDP_AT..VXLAN_AT], 0, vtep.udp_port, 0);
        vxlan::emit_header(&mut header[VXLAN_AT..], 0);
        Tunnel {
            ip,
            next_hop: vtep.next_hop(ip),
            next_hop_mac,
            header,
            ip_csum_base,
        }
    }

    /// Ready to carry frames: the next hop's MAC is known.
    pub fn is_resolved(&self) -> bool {
        self.next_hop_mac.is_some()
    }

    /// Writes the outer headers for an inner frame of `inner_len` bytes into `out`
    /// (exactly ENCAP_OVERHEAD bytes).
    #[inline]
    pub fn write_header(&self, out: &mut [u8], vni: u32, inner_len: usize, src_port: u16) {
        out.copy_from_slice(&self.header);
        let ip_len = (IP_OVERHEAD + inner_len) as u16;
        let udp_len = (udp::HEADER_LEN + vxlan::HEADER_LEN + inner_len) as u16;
        out[IP_AT + ipv4::offsets::LENGTH..][..2].copy_from_slice(&ip_len.to_be_bytes());
        let c = checksum::update(self.ip_csum_base, 0, ip_len);
        out[IP_AT + ipv4::offsets::CHECKSUM..][..2].copy_from_slice(&c.to_be_bytes());
        out[UDP_AT + udp::offsets::SRC_PORT..][..2].copy_from_slice(&src_port.to_be_bytes());
        out[UDP_AT + udp::offsets::LENGTH..][..2].copy_from_slice(&udp_len.to_be_bytes());
        vxlan::set_vni(&mut out[VXLAN_AT..], vni);
    }
}

/// Every remote VTEP this host knows, by index and by IP.
#[derive(Clone, Debug, Default)]
pub struct TunnelTable {
    tunnels: Vec<Tunnel>,
    by_ip: HashMap<Ipv4Addr, TunnelIdx>,
}

impl TunnelTable {
    #[inline]
    pub fn get(&self, idx: TunnelIdx) -> Option<&Tunnel> {
        self.tunnels.get(usize::from(idx))
    }
    #[inline]
    pub fn index_of(&self, ip: Ipv4Addr) -> Option<TunnelIdx> {
        self.by_ip.get(&ip).copied()
    }
    pub fn iter(&self) -> impl Iterator<Item = (TunnelIdx, &Tunnel)> {
        self.tunnels
            .iter()
            .enumerate()
            .map(|(i, t)| (i as TunnelIdx, t))
    }
    pub fn len(&self) -> usize {
        self.tunnels.len()
    }
    pub fn is_empty(&self) -> bool {
        self.tunnels.is_empty()
    }
    /// The index of `ip`'s tunnel, adding one if needed; None when the table is full.
    pub fn ensure(&mut self, ip: Ipv4Addr, vtep: &VtepIdentity) -> Option<TunnelIdx> {
        if let Some(i) = self.index_of(ip) {
            return Some(i);
        }
        let idx = TunnelIdx::try_from(self.tunnels.len()).ok()?;
        self.tunnels.push(Tunnel::new(ip, vtep, None));
        self.by_ip.insert(ip, idx);
        Some(idx)
    }
    /// Records that `next_hop` answered with `mac`; rebuilds the headers that use it.
    /// Returns true when anything changed.
    pub fn set_neighbor(&mut self, next_hop: Ipv4Addr, mac: MacAddr, vtep: &VtepIdentity) -> bool {
        let mut changed = false;
        for t in &mut self.tunnels {
            if t.next_hop == Some(next_hop) && t.next_hop_mac != Some(mac) {
                *t = Tunnel::new(t.ip, vtep, Some(mac));
                changed = true;
            }
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Ipv4Packet, UdpPacket, VxlanHeader};

    fn vtep() -> VtepIdentity {
        VtepIdentity {
            ip: Ipv4Addr::new(192, 168, 250, 51),
            prefix_len: 24,
            mac: "02:00:00:00:00:51".parse().unwrap(),
            gateway: Some(Ipv4Addr::new(192, 168, 250, 1)),
            udp_port: 4789,
            mtu: 1600,
        }
    }

    #[test]
    fn header_has_right_lengths_checksum_and_fields() {
        let nh: MacAddr = "02:00:00:00:00:52".parse().unwrap();
        let t = Tunnel::new(Ipv4Addr::new(192, 168, 250, 52), &vtep(), Some(nh));
        let mut pkt = [0xa5u8; vxlan::ENCAP_OVERHEAD + 60];
        t.write_header(&mut pkt[..vxlan::ENCAP_OVERHEAD], 5001, 60, 50000);
        let eth = crate::wire::EthernetFrame::new_checked(&pkt[..]).unwrap();
        assert_eq!(eth.dst(), nh);
        assert_eq!(eth.src(), vtep().mac);
        let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
        assert_eq!(ip.total_len(), 20 + 8 + 8 + 60);
        assert!(ip.verify_checksum());
        assert!(ip.dont_fragment());
        assert_eq!(ip.ttl(), 64);
        assert_eq!(ip.dst(), Ipv4Addr::new(192, 168, 250, 52));
        let u = UdpPacket::new_checked(ip.payload()).unwrap();
        assert_eq!(
            (u.src_port(), u.dst_port(), u.len(), u.checksum()),
            (50000, 4789, 76, 0)
        );
        let v = VxlanHeader::new_checked(u.payload()).unwrap();
        assert!(v.vni_valid());
        assert_eq!(v.vni(), 5001);
    }

    #[test]
    fn checksum_is_right_for_every_length() {
        let t = Tunnel::new(Ipv4Addr::new(10, 0, 0, 9), &vtep(), Some(MacAddr([2; 6])));
        for len in [14usize, 60, 1000, 1514, 9000] {
            let mut h = [0u8; vxlan::ENCAP_OVERHEAD];
            t.write_header(&mut h, 1, len, 49152);
            assert_eq!(
                checksum::fold(checksum::sum(&h[IP_AT..UDP_AT])),
                0xffff,
                "len {len}"
            );
        }
    }

    #[test]
    fn off_segment_vteps_go_via_the_gateway_and_resolve_together() {
        let v = vtep();
        let mut tt = TunnelTable::default();
        let a = tt.ensure(Ipv4Addr::new(192, 168, 250, 52), &v).unwrap();
        let b = tt.ensure(Ipv4Addr::new(192, 168, 251, 53), &v).unwrap();
        let c = tt.ensure(Ipv4Addr::new(192, 168, 252, 54), &v).unwrap();
        assert_eq!(tt.ensure(Ipv4Addr::new(192, 168, 250, 52), &v), Some(a));
        assert_eq!(
            tt.get(a).unwrap().next_hop,
            Some(Ipv4Addr::new(192, 168, 250, 52))
        );
        assert_eq!(tt.get(b).unwrap().next_hop, v.gateway);
        assert!(tt.set_neighbor(v.gateway.unwrap(), MacAddr([7; 6]), &v));
        assert!(tt.get(b).unwrap().is_resolved() && tt.get(c).unwrap().is_resolved());
        assert!(!tt.get(a).unwrap().is_resolved());
        assert!(!tt.set_neighbor(v.gateway.unwrap(), MacAddr([7; 6]), &v));
    }
}
