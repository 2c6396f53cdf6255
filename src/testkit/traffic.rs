//! Builders for whole frames: the traffic of the tests and of the bench's generated pcaps.
//! Every frame is padded to the 60-byte Ethernet minimum. ARP, IPv4 and echo frames are
//! the slow path's own builders.

use crate::dataplane::slow_path;
use crate::ids::Vni;
use crate::wire::{udp, vxlan, IpProtocol, MacAddr};
use std::net::Ipv4Addr;

pub use crate::dataplane::slow_path::{arp_frame as arp, ethernet_frame as ethernet};

/// An IPv4 packet (DF, TTL 64, checksum right) in a frame.
pub fn ipv4(
    dst_mac: MacAddr,
    src_mac: MacAddr,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    protocol: IpProtocol,
    payload: &[u8],
) -> Vec<u8> {
    slow_path::ipv4_frame(dst_mac, src_mac, (src, dst), protocol, payload)
}

/// A UDP datagram (checksum 0) with `payload_len` bytes of 0xab.
#[allow(clippy::too_many_arguments)]
pub fn udp(
    dst_mac: MacAddr,
    src_mac: MacAddr,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    sport: u16,
    dport: u16,
    payload_len: usize,
) -> Vec<u8> {
    let mut u = vec![0xabu8; udp::HEADER_LEN + payload_len];
    udp::emit_header(&mut u, sport, dport, payload_len);
    ipv4(dst_mac, src_mac, src, dst, IpProtocol::Udp, &u)
}

/// An ICMP echo request with `data_len` bytes of data.
pub fn ping(
    dst_mac: MacAddr,
    src_mac: MacAddr,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    seq: u16,
    data_len: usize,
) -> Vec<u8> {
    slow_path::echo_request_frame(dst_mac, src_mac, (src, dst), 0x4242, seq, data_len)
}

/// The outer side of a VXLAN tunnel, for building encapsulated frames.
#[derive(Clone, Copy, Debug)]
pub struct Outer {
    pub dst_mac: MacAddr,
    pub src_mac: MacAddr,
    pub src_ip: Ipv4Addr,
    pub dst_ip: Ipv4Addr,
    pub udp_port: u16,
}

/// `inner` carried in VXLAN with `vni` (I flag set).
pub fn vxlan(o: &Outer, vni: Vni, sport: u16, inner: &[u8]) -> Vec<u8> {
    let mut u = vec![0u8; udp::HEADER_LEN + vxlan::HEADER_LEN];
    udp::emit_header(&mut u, sport, o.udp_port, vxlan::HEADER_LEN + inner.len());
    vxlan::emit_header(&mut u[udp::HEADER_LEN..], vni.get());
    u.extend_from_slice(inner);
    ipv4(
        o.dst_mac,
        o.src_mac,
        o.src_ip,
        o.dst_ip,
        IpProtocol::Udp,
        &u,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{EthernetFrame, Ipv4Packet, UdpPacket, VxlanHeader};

    #[test]
    fn vxlan_frame_parses_back() {
        let inner = udp(
            MacAddr([2; 6]),
            MacAddr([4; 6]),
            Ipv4Addr::new(1, 1, 1, 1),
            Ipv4Addr::new(2, 2, 2, 2),
            1,
            2,
            18,
        );
        let o = Outer {
            dst_mac: MacAddr([6; 6]),
            src_mac: MacAddr([8; 6]),
            src_ip: Ipv4Addr::new(10, 0, 0, 1),
            dst_ip: Ipv4Addr::new(10, 0, 0, 2),
            udp_port: 4789,
        };
        let f = vxlan(&o, Vni::from_const(5001), 50000, &inner);
        let e = EthernetFrame::new_checked(&f[..]).unwrap();
        let ip = Ipv4Packet::new_checked(e.payload()).unwrap();
        assert!(ip.verify_checksum());
        let u = UdpPacket::new_checked(ip.payload()).unwrap();
        let v = VxlanHeader::new_checked(u.payload()).unwrap();
        assert_eq!(v.vni(), 5001);
        assert_eq!(v.payload(), &inner[..]);
    }
}
