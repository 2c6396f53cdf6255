//! The slow path: frames the management thread hands to worker 0 (the VTEP stack's own
//! requests, proxy ARP replies after a controller answer, VM requests to flood after all),
//! how they are built (whole, into a `Vec`: never per packet), and how worker 0 sends them.

use super::counters::{DropReason, Stat, VniStat};
use super::frame::{Frame, FrameIo};
use super::pipeline::Ctx;
use crate::ids::Vni;
use crate::tables::PortIdx;
use crate::wire::arp::ArpRepr;
use crate::wire::ipv4::Ipv4Repr;
use crate::wire::{ethernet, icmp, ArpOperation, EtherType, IpProtocol, MacAddr};
use std::net::Ipv4Addr;

/// Frames the management thread hands to worker 0: the VTEP stack's own requests, ARP
/// replies for VMs (after a controller answer), and VM requests to flood after all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlowFrame {
    /// Send as is on `port`.
    Send { port: PortIdx, bytes: Vec<u8> },
    /// A proxy ARP reply to VM port `port` (after the controller answered).
    ArpReply { port: PortIdx, bytes: Vec<u8> },
    /// Flood as if it came from VM port `port` of `vni` (an ARP request nobody answered).
    Flood {
        vni: Vni,
        port: PortIdx,
        bytes: Vec<u8>,
    },
}

/// Runs one slow-path frame: allocates it and sends or floods it.
pub fn inject<IO: FrameIo>(cx: &mut Ctx<'_, IO>, f: &SlowFrame) {
    let (SlowFrame::Send { bytes, .. }
    | SlowFrame::ArpReply { bytes, .. }
    | SlowFrame::Flood { bytes, .. }) = f;
    let Some(mut frame) = cx.io.alloc(bytes.len()) else {
        return cx.p.counters.dropped(DropReason::NoMbuf);
    };
    frame.data_mut().copy_from_slice(bytes);
    match *f {
        SlowFrame::Send { port, .. } => {
            cx.p.counters.add(Stat::StackFramesSent, 1);
            cx.io.send(port, frame);
        }
        SlowFrame::ArpReply { port, .. } => {
            cx.p.counters.add(Stat::ArpProxyReplies, 1);
            let slot = cx.snap.port_slot.get(usize::from(port)).copied();
            cx.p.counters
                .vni_add(slot.unwrap_or(u16::MAX), VniStat::ArpProxyReplies, 1);
            cx.io.send(port, frame);
        }
        SlowFrame::Flood { vni, port, .. } => {
            cx.p.counters.add(Stat::ArpRequestsFlooded, 1);
            let slot = cx.snap.vnis.get(&vni).map_or(u16::MAX, |i| i.slot);
            super::flood::flood(cx, vni, slot, port, frame);
        }
    }
}

/// Ethernet's minimum frame (without FCS): shorter frames are padded.
const MIN_FRAME: usize = 60;

/// An Ethernet frame around `payload`, padded to 60 bytes.
pub fn ethernet_frame(dst: MacAddr, src: MacAddr, ethertype: EtherType, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; ethernet::HEADER_LEN];
    ethernet::emit_header(&mut f, dst, src, ethertype);
    f.extend_from_slice(payload);
    if f.len() < MIN_FRAME {
        f.resize(MIN_FRAME, 0);
    }
    f
}

/// An ARP packet in a frame: requests are broadcast, replies go to the target.
pub fn arp_frame(
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
    ethernet_frame(dst, sender_mac, EtherType::Arp, &a)
}

/// An IPv4 packet (DF, TTL 64, checksum right) in a frame.
pub fn ipv4_frame(
    dst_mac: MacAddr,
    src_mac: MacAddr,
    (src, dst): (Ipv4Addr, Ipv4Addr),
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
    ethernet_frame(dst_mac, src_mac, EtherType::Ipv4, &p)
}

/// An ICMP echo request (DF set) with identifier `ident` and `data_len` bytes of data.
pub fn echo_request_frame(
    dst_mac: MacAddr,
    src_mac: MacAddr,
    addrs: (Ipv4Addr, Ipv4Addr),
    ident: u16,
    seq: u16,
    data_len: usize,
) -> Vec<u8> {
    let data: Vec<u8> = (0..data_len).map(|i| i as u8).collect();
    let mut m = vec![0u8; icmp::HEADER_LEN + data_len];
    icmp::emit_echo(&mut m, icmp::ECHO_REQUEST, ident, seq, &data);
    ipv4_frame(dst_mac, src_mac, addrs, IpProtocol::Icmp, &m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{ArpPacket, EthernetFrame, IcmpPacket, Ipv4Packet};

    #[test]
    fn arp_requests_are_broadcast_and_replies_go_to_the_asker() {
        let a: MacAddr = "02:aa:aa:aa:aa:aa".parse().unwrap();
        let b: MacAddr = "02:bb:bb:bb:bb:bb".parse().unwrap();
        let (ia, ib) = (
            Ipv4Addr::new(172, 16, 10, 11),
            Ipv4Addr::new(172, 16, 10, 12),
        );
        let f = arp_frame(ArpOperation::Reply, b, ib, a, ia);
        assert_eq!(f.len(), 60);
        let eth = EthernetFrame::new_checked(&f[..]).unwrap();
        assert_eq!((eth.dst(), eth.src()), (a, b));
        let p = ArpPacket::new_checked(eth.payload()).unwrap();
        assert_eq!(p.operation(), ArpOperation::Reply);
        assert_eq!((p.sender_mac(), p.sender_ip()), (b, ib));
        assert_eq!((p.target_mac(), p.target_ip()), (a, ia));
        let r = arp_frame(ArpOperation::Request, a, ia, MacAddr::ZERO, ib);
        assert!(EthernetFrame::new_checked(&r[..])
            .unwrap()
            .dst()
            .is_broadcast());
    }

    #[test]
    fn echo_requests_carry_df_and_a_good_checksum() {
        let f = echo_request_frame(
            MacAddr([2; 6]),
            MacAddr([4; 6]),
            (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2)),
            7,
            3,
            1572,
        );
        assert_eq!(f.len(), 14 + 1600);
        let ip = Ipv4Packet::new_checked(&f[14..]).unwrap();
        assert!(ip.verify_checksum() && ip.dont_fragment());
        let m = IcmpPacket::new_checked(ip.payload()).unwrap();
        assert!(m.verify_checksum());
        assert_eq!((m.ident(), m.seq()), (7, 3));
    }
}
