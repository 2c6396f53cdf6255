//! Builders for whole frames: the traffic of tests, of the lab checks and of the bench's
//! generated pcaps. Every frame is padded to the 60-byte Ethernet minimum.
#![forbid(unsafe_code)]

use crate::wire::arp::ArpRepr;
use crate::wire::ipv4::Ipv4Repr;
use crate::wire::{ethernet, icmp, udp, vxlan, ArpOperation, EtherType, IpProtocol, MacAddr};
use std::net::Ipv4Addr;

fn pad(mut f: Vec<u8>) -> Vec<u8> {
    if f.len() < 60 {
        f.resize(60, 0);
    }
    f
}

/// An Ethernet frame around `payload`.
pub fn ethernet(dst: MacAddr, src: MacAddr, ethertype: EtherType, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; ethernet::HEADER_LEN];
    ethernet::emit_header(&mut f, dst, src, ethertype);
    f.extend_from_slice(payload);
    pad(f)
}

/// An ARP packet in a frame: requests are broadcast, replies go to the target.
pub fn arp(
    op: ArpOperation,
    sender_mac: MacAddr,
    sender_ip: Ipv4Addr,
    target_mac: MacAddr,
    target_ip: Ipv4Addr,
) -> Vec<u8> {
    let mut a = [0u8; 28];
    ArpRepr {
        operation: op,
        sender_mac,
        sender_ip,
        target_mac,
        target_ip,
    }
    .emit(&mut a);
    let dst = if op == ArpOperation::Request {
        MacAddr::BROADCAST
    } else {
        target_mac
    };
    ethernet(dst, sender_mac, EtherType::Arp, &a)
}

/// An IPv4 packet (DF, TTL 64, checksum right) in a frame.
pub fn ipv4(
    dst_mac: MacAddr,
    src_mac: MacAddr,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    protocol: IpProtocol,
    payload: &[u8],
) -> Vec<u8> {
    let mut p = vec![0u8; 20];
    Ipv4Repr {
        src,
        dst,
        protocol,
        payload_len: payload.len(),
        ttl: 64,
        dont_fragment: true,
    }
    .emit(&mut p);
    p.extend_from_slice(payload);
    ethernet(dst_mac, src_mac, EtherType::Ipv4, &p)
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
    echo_request(dst_mac, src_mac, (src, dst), 0x4242, seq, data_len)
}

/// An ICMP echo request (DF set) with identifier `ident` and `data_len` bytes of data.
pub fn echo_request(
    dst_mac: MacAddr,
    src_mac: MacAddr,
    (src, dst): (Ipv4Addr, Ipv4Addr),
    ident: u16,
    seq: u16,
    data_len: usize,
) -> Vec<u8> {
    let data: Vec<u8> = (0..data_len).map(|i| i as u8).collect();
    let mut m = vec![0u8; icmp::HEADER_LEN + data_len];
    icmp::emit_echo(&mut m, icmp::ECHO_REQUEST, ident, seq, &data);
    ipv4(dst_mac, src_mac, src, dst, IpProtocol::Icmp, &m)
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
pub fn vxlan(o: &Outer, vni: u32, sport: u16, inner: &[u8]) -> Vec<u8> {
    let mut u = vec![0u8; udp::HEADER_LEN + vxlan::HEADER_LEN];
    udp::emit_header(&mut u, sport, o.udp_port, vxlan::HEADER_LEN + inner.len());
    vxlan::emit_header(&mut u[udp::HEADER_LEN..], vni);
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
        let f = vxlan(&o, 5001, 50000, &inner);
        let e = EthernetFrame::new_checked(&f[..]).unwrap();
        let ip = Ipv4Packet::new_checked(e.payload()).unwrap();
        assert!(ip.verify_checksum());
        let u = UdpPacket::new_checked(ip.payload()).unwrap();
        let v = VxlanHeader::new_checked(u.payload()).unwrap();
        assert_eq!(v.vni(), 5001);
        assert_eq!(v.payload(), &inner[..]);
    }
}
