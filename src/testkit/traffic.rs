//! Builders for whole frames: the traffic of the tests and of the bench's generated pcaps.
//! Every frame is padded to the 60-byte Ethernet minimum. ARP, IPv4 and echo frames are
//! the slow path's own builders.

use crate::dataplane::slow_path;
use crate::ids::Vni;
use crate::wire::checksum::{fold, sum};
use crate::wire::{dhcp, udp, vxlan, IpProtocol, MacAddr};
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

/// A DHCP ACK from a server (MAC, address) leasing `lease` to the client `client`, sent to it.
pub fn dhcp_ack(server: (MacAddr, Ipv4Addr), client: MacAddr, lease: Ipv4Addr) -> Vec<u8> {
    let mut payload = [0u8; 300];
    let n = dhcp::emit_reply(&mut payload, dhcp::DHCPACK, lease, client);
    let mut u = vec![0u8; udp::HEADER_LEN + n];
    udp::emit_header(&mut u, dhcp::SERVER_PORT, dhcp::CLIENT_PORT, n);
    u[udp::HEADER_LEN..].copy_from_slice(&payload[..n]);
    ipv4(client, server.0, server.1, lease, IpProtocol::Udp, &u)
}

/// Endpoints of a TCP or UDP flow: (MAC, IP, port) of the destination, then the source.
pub type Flow = ((MacAddr, Ipv4Addr, u16), (MacAddr, Ipv4Addr, u16));

/// A UDP datagram with `payload_len` bytes (a pattern from `seed`) and its full checksum.
pub fn udp_checksummed(flow: Flow, seed: u8, payload_len: usize) -> Vec<u8> {
    let ((_, _, dport), (_, _, sport)) = flow;
    let mut u = vec![0u8; udp::HEADER_LEN + payload_len];
    udp::emit_header(&mut u, sport, dport, payload_len);
    pattern(&mut u[udp::HEADER_LEN..], seed);
    l4_checksummed(flow, IpProtocol::Udp, u, 6)
}

/// A TCP segment (ACK|PSH, sequence `seq`, 20-byte header) with `payload_len` bytes and its
/// full checksum.
pub fn tcp(flow: Flow, seq: u32, payload_len: usize) -> Vec<u8> {
    let ((_, _, dport), (_, _, sport)) = flow;
    let mut t = vec![0u8; 20 + payload_len];
    t[0..2].copy_from_slice(&sport.to_be_bytes());
    t[2..4].copy_from_slice(&dport.to_be_bytes());
    t[4..8].copy_from_slice(&seq.to_be_bytes());
    t[12] = 5 << 4;
    t[13] = 0x18;
    t[14..16].copy_from_slice(&64240u16.to_be_bytes());
    pattern(&mut t[20..], seq as u8);
    l4_checksummed(flow, IpProtocol::Tcp, t, 16)
}

fn pattern(b: &mut [u8], seed: u8) {
    for (i, x) in b.iter_mut().enumerate() {
        *x = seed.wrapping_add(i as u8);
    }
}

/// `seg` in an IPv4 frame of `flow`, its checksum at `field` set over the pseudo-header.
fn l4_checksummed(flow: Flow, proto: IpProtocol, mut seg: Vec<u8>, field: usize) -> Vec<u8> {
    let ((dmac, dip, _), (smac, sip, _)) = flow;
    let pseudo =
        sum(&sip.octets()) + sum(&dip.octets()) + u32::from(u8::from(proto)) + seg.len() as u32;
    let c = !fold(pseudo + sum(&seg));
    let c = if c == 0 && proto == IpProtocol::Udp {
        0xffff
    } else {
        c
    };
    seg[field..field + 2].copy_from_slice(&c.to_be_bytes());
    ipv4(dmac, smac, sip, dip, proto, &seg)
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

    #[test]
    fn tcp_and_udp_checksums_match_what_a_nic_would_complete() {
        use crate::wire::partial_checksum::{complete, L4Checksum};
        use crate::wire::EtherType;
        let flow = (
            (MacAddr([2; 6]), Ipv4Addr::new(172, 16, 10, 12), 80),
            (MacAddr([4; 6]), Ipv4Addr::new(172, 16, 10, 11), 40000),
        );
        for (f, field) in [(tcp(flow, 7, 333), 16), (udp_checksummed(flow, 9, 333), 6)] {
            // Put the pseudo-header sum back (what a VM leaves) and let the NIC path finish.
            let mut partial = f.clone();
            let l3 = &mut partial[14..];
            let seg_len = (f.len() - 14 - 20) as u32;
            let p = fold(sum(&l3[12..20]) + u32::from(l3[9]) + seg_len);
            l3[20 + field..22 + field].copy_from_slice(&p.to_be_bytes());
            assert_eq!(complete(EtherType::Ipv4, l3), L4Checksum::Completed);
            assert_eq!(partial, f);
        }
    }
}
