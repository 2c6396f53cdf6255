//! Remote VTEPs and their precomputed encapsulation headers (VPP's `vxlan_rewrite`): the
//! outer Ethernet/IPv4/UDP/VXLAN template of each tunnel and the IPv4 checksum of that
//! template with length zero. Per packet, `dataplane::encap` copies and patches it.

use super::{TunnelIdx, VtepIdentity};
use crate::wire::{checksum, ethernet, ipv4, udp, vxlan, EtherType, IpProtocol, MacAddr};
use hashbrown::HashMap;
use std::net::Ipv4Addr;

/// Where the outer headers start in the template (and in an encapsulated frame).
pub mod outer {
    use crate::wire::{ethernet, ipv4, udp};
    pub const IP_AT: usize = ethernet::HEADER_LEN;
    pub const UDP_AT: usize = IP_AT + ipv4::HEADER_LEN;
    pub const VXLAN_AT: usize = UDP_AT + udp::HEADER_LEN;
}
use outer::{IP_AT, UDP_AT, VXLAN_AT};

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

/// TTL of unicast tunnels and of routed (multicast mode) group traffic.
pub const TTL: u8 = 64;

impl Tunnel {
    pub fn new(ip: Ipv4Addr, vtep: &VtepIdentity, next_hop_mac: Option<MacAddr>) -> Tunnel {
        Tunnel::build(ip, vtep, vtep.next_hop(ip), next_hop_mac, TTL)
    }

    /// The tunnel to a multicast group: always resolved (its MAC follows from the group).
    /// `ttl` 1 keeps it in the segment (hybrid mode); more lets the underlay route it.
    pub fn group(group: Ipv4Addr, ttl: u8, vtep: &VtepIdentity) -> Tunnel {
        Tunnel::build(group, vtep, None, Some(MacAddr::ipv4_multicast(group)), ttl)
    }

    fn build(
        ip: Ipv4Addr,
        vtep: &VtepIdentity,
        next_hop: Option<Ipv4Addr>,
        next_hop_mac: Option<MacAddr>,
        ttl: u8,
    ) -> Tunnel {
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
            ttl,
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
            next_hop,
            next_hop_mac,
            header,
            ip_csum_base,
        }
    }

    /// A tunnel to a multicast group rather than to one VTEP.
    pub fn is_group(&self) -> bool {
        self.ip.is_multicast()
    }

    /// Ready to carry frames: the next hop's MAC is known.
    pub fn is_resolved(&self) -> bool {
        self.next_hop_mac.is_some()
    }

    /// The outer headers with lengths, UDP source port and VNI zero.
    #[inline]
    pub fn template(&self) -> &[u8; vxlan::ENCAP_OVERHEAD] {
        &self.header
    }

    /// The template's IPv4 header checksum for a total length of 0.
    #[inline]
    pub fn ip_csum_base(&self) -> u16 {
        self.ip_csum_base
    }
}

/// Every remote VTEP this host knows, by index and by IP, and the multicast groups it sends
/// to (by group and TTL).
#[derive(Clone, Debug, Default)]
pub struct TunnelTable {
    tunnels: Vec<Tunnel>,
    by_ip: HashMap<Ipv4Addr, TunnelIdx>,
    groups: HashMap<(Ipv4Addr, u8), TunnelIdx>,
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
    /// The index of `ip`'s tunnel, adding one if needed; None when the table is full or `ip`
    /// is no VTEP's address (a group: see `ensure_group`).
    pub fn ensure(&mut self, ip: Ipv4Addr, vtep: &VtepIdentity) -> Option<TunnelIdx> {
        if ip.is_multicast() || ip.is_broadcast() || ip.is_unspecified() {
            return None;
        }
        if let Some(i) = self.index_of(ip) {
            return Some(i);
        }
        let idx = TunnelIdx::try_from(self.tunnels.len()).ok()?;
        self.tunnels.push(Tunnel::new(ip, vtep, None));
        self.by_ip.insert(ip, idx);
        Some(idx)
    }
    /// The index of the tunnel to `group` with `ttl`, adding one if needed; None when full.
    pub fn ensure_group(
        &mut self,
        group: Ipv4Addr,
        ttl: u8,
        vtep: &VtepIdentity,
    ) -> Option<TunnelIdx> {
        if let Some(i) = self.groups.get(&(group, ttl)) {
            return Some(*i);
        }
        let idx = TunnelIdx::try_from(self.tunnels.len()).ok()?;
        self.tunnels.push(Tunnel::group(group, ttl, vtep));
        self.groups.insert((group, ttl), idx);
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

    fn vtep() -> VtepIdentity {
        VtepIdentity::example()
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

    #[test]
    fn group_tunnels_are_resolved_and_kept_apart_from_vteps() {
        let v = vtep();
        let mut tt = TunnelTable::default();
        let g = Ipv4Addr::new(239, 1, 1, 1);
        assert_eq!(tt.ensure(g, &v), None, "a group is no VTEP");
        let local = tt.ensure_group(g, 1, &v).unwrap();
        let routed = tt.ensure_group(g, TTL, &v).unwrap();
        assert_ne!(local, routed);
        assert_eq!(tt.ensure_group(g, 1, &v), Some(local));
        assert_eq!(tt.index_of(g), None, "never taken for a sender");
        let t = tt.get(local).unwrap();
        assert!(t.is_resolved() && t.is_group() && t.next_hop.is_none());
        assert_eq!(t.template()[..6], [0x01, 0x00, 0x5e, 0x01, 0x01, 0x01]);
        assert_eq!(t.template()[outer::IP_AT + 8], 1, "TTL");
        assert_eq!(tt.get(routed).unwrap().template()[outer::IP_AT + 8], TTL);
        assert!(!tt.set_neighbor(v.gateway.unwrap(), MacAddr([7; 6]), &v));
    }
}
