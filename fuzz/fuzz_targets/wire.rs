//! Every wire parser on arbitrary bytes: each checked constructor at the start of the input,
//! then the chain a received frame walks (Ethernet, IPv4, UDP, VXLAN, the inner frame, ARP,
//! ICMP, IGMP, DHCP), every getter of an accepted view, the in-place rewrites (ARP and ICMP
//! replies, the IPv4 checksum), partial checksum completion and TCP segmentation. The
//! contract under test: once accepted, no view panics; a rewritten header checks out.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vxswitch::wire::arp::ArpRepr;
use vxswitch::wire::dhcp::DhcpPacket;
use vxswitch::wire::igmp::IgmpPacket;
use vxswitch::wire::tcp_gso::TcpGso;
use vxswitch::wire::{
    partial_checksum, ArpOperation, ArpPacket, EtherType, EthernetFrame, IcmpPacket, IpProtocol,
    Ipv4Packet, UdpPacket, VxlanHeader,
};

/// VXLAN's IANA port (the VTEP's is configurable; this is the one the seeds use).
const VXLAN_PORT: u16 = 4789;

fuzz_target!(|data: &[u8]| {
    // Each parser on the raw input, as if it started there.
    arp(data);
    ipv4(data, 0);
    udp_payload(data, 0);
    vxlan_payload(data, 0);
    icmp(data);
    igmp(data);
    dhcp(data);
    ethernet(data, 0);
    segments(data);
});

fn ethernet(b: &[u8], depth: u8) {
    let Ok(e) = EthernetFrame::new_checked(b) else {
        return;
    };
    let _ = (
        e.dst().is_broadcast(),
        e.src().is_unicast(),
        e.vlan_id(),
        e.header_len(),
    );
    let payload = e.payload();
    match e.ethertype() {
        EtherType::Arp => arp(payload),
        EtherType::Ipv4 => {
            ipv4(payload, depth);
            let mut copy = payload.to_vec();
            let _ = partial_checksum::complete(EtherType::Ipv4, &mut copy);
        }
        EtherType::Ipv6 => {
            let mut copy = payload.to_vec();
            let _ = partial_checksum::complete(EtherType::Ipv6, &mut copy);
        }
        _ => {}
    }
}

fn arp(b: &[u8]) {
    let Ok(a) = ArpPacket::new_checked(b) else {
        return;
    };
    let repr = ArpRepr::parse(&a);
    let _ = (
        a.sender_mac(),
        a.sender_ip(),
        a.target_mac(),
        a.target_ip(),
        a.is_gratuitous(),
    );
    if a.operation() == ArpOperation::Request {
        let mut copy = b.to_vec();
        let mut r = ArpPacket::new_checked(&mut copy[..]).expect("accepted once");
        r.make_reply(vxswitch::wire::MacAddr([2, 0, 0, 0, 0, 1]));
        assert_eq!(r.operation(), ArpOperation::Reply);
        assert_eq!(r.target_ip(), repr.sender_ip);
        assert_eq!(r.sender_ip(), repr.target_ip);
    }
}

fn ipv4(b: &[u8], depth: u8) {
    let Ok(ip) = Ipv4Packet::new_checked(b) else {
        return;
    };
    let _ = (
        ip.ttl(),
        ip.src(),
        ip.dst(),
        ip.dont_fragment(),
        ip.is_fragment(),
    );
    let _ = (
        ip.header_len(),
        ip.total_len(),
        ip.checksum(),
        ip.verify_checksum(),
    );
    let mut copy = b.to_vec();
    let mut w = Ipv4Packet::new_checked(&mut copy[..]).expect("accepted once");
    w.fill_checksum();
    assert!(w.verify_checksum(), "a filled checksum checks out");
    let payload = ip.payload();
    match ip.protocol() {
        IpProtocol::Udp => udp_payload(payload, depth),
        IpProtocol::Icmp => icmp(payload),
        IpProtocol::Igmp => igmp(payload),
        _ => {}
    }
}

fn udp_payload(b: &[u8], depth: u8) {
    let Ok(u) = UdpPacket::new_checked(b) else {
        return;
    };
    let _ = (u.src_port(), u.len(), u.is_empty(), u.checksum());
    match u.dst_port() {
        VXLAN_PORT if depth == 0 => vxlan_payload(u.payload(), depth + 1),
        67 | 68 => dhcp(u.payload()),
        _ => {}
    }
}

fn vxlan_payload(b: &[u8], depth: u8) {
    let Ok(v) = VxlanHeader::new_checked(b) else {
        return;
    };
    let _ = (v.flags(), v.vni_valid(), v.replicate_locally(), v.vni());
    if depth < 2 {
        ethernet(v.payload(), depth + 1);
    }
}

fn icmp(b: &[u8]) {
    let Ok(i) = IcmpPacket::new_checked(b) else {
        return;
    };
    let _ = (i.msg_type(), i.code(), i.ident(), i.seq());
    if i.verify_checksum() && i.msg_type() == 8 {
        let mut copy = b.to_vec();
        let mut r = IcmpPacket::new_checked(&mut copy[..]).expect("accepted once");
        r.make_echo_reply();
        assert!(r.verify_checksum(), "an echo reply's checksum checks out");
    }
}

fn igmp(b: &[u8]) {
    if let Ok(g) = IgmpPacket::new_checked(b) {
        let _ = (g.msg_type(), g.group(), g.verify_checksum());
    }
}

fn dhcp(b: &[u8]) {
    if let Ok(d) = DhcpPacket::new_checked(b) {
        let _ = (
            d.is_reply(),
            d.your_ip(),
            d.client_mac(),
            d.message_type(),
            d.ack_binding(),
        );
    }
}

/// TCP segmentation of the input as an Ethernet frame, at an MTU its first byte picks:
/// every segment fits the MTU and their payloads add up to the frame's.
fn segments(b: &[u8]) {
    let Some(&m) = b.first() else {
        return;
    };
    let mtu = 68 + usize::from(m) * 8;
    let Some(plan) = TcpGso::new(b, 14, mtu) else {
        return;
    };
    let mut out = vec![0u8; 14 + mtu];
    for i in 0..plan.count().min(64) {
        let len = plan.segment_len(i);
        assert!(
            len <= 14 + mtu,
            "segment {i} is {len} bytes for an MTU of {mtu}"
        );
        plan.write(b, i, &mut out[..len]);
    }
}
