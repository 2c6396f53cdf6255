//! Frames from the underlay: the VTEP's own traffic (ARP, ping, IGMP queries) to its stack,
//! VXLAN to the VTEP's address or to a group it joined to the decapsulation stage,
//! everything else dropped by reason.

use super::counters::DropReason;
use super::decap::Vxlan;
use super::frame::{trace, Frame, FrameIo};
use super::pipeline::Ctx;
use super::{decap, stack};
use crate::api::trace::{Step, UplinkKind};
use crate::wire::{udp, EtherType, EthernetFrame, IpProtocol, Ipv4Packet, UdpPacket};

/// What an uplink frame turned out to be, read before the frame is changed.
enum Kind {
    Arp,
    Icmp,
    Igmp,
    Vxlan(Vxlan),
}

#[inline]
pub fn receive<IO: FrameIo>(cx: &mut Ctx<'_, IO>, frame: IO::Frame) {
    let kind = classify(cx, frame.data());
    if let Ok(k) = &kind {
        trace!(
            cx.io,
            Step::Uplink {
                kind: match k {
                    Kind::Arp => UplinkKind::Arp,
                    Kind::Icmp => UplinkKind::Icmp,
                    Kind::Igmp => UplinkKind::Igmp,
                    Kind::Vxlan(_) => UplinkKind::Vxlan,
                },
            }
        );
    }
    match kind {
        Ok(Kind::Arp) => stack::arp(cx, frame),
        Ok(Kind::Icmp) => stack::icmp(cx, frame),
        Ok(Kind::Igmp) => stack::igmp(cx, frame),
        Ok(Kind::Vxlan(at)) => decap::decap(cx, at, frame),
        Err(r) => cx.drop_frame(frame, r),
    }
}

#[inline]
fn classify<IO: FrameIo>(cx: &Ctx<'_, IO>, data: &[u8]) -> Result<Kind, DropReason> {
    let vtep = &*cx.snap.vtep;
    let eth = EthernetFrame::new_checked(data).map_err(|_| DropReason::BadEthernet)?;
    match eth.ethertype() {
        EtherType::Arp => return Ok(Kind::Arp),
        EtherType::Ipv4 => {}
        _ => return Err(DropReason::NotForVtep),
    }
    if eth.dst() != vtep.mac && !eth.dst().is_multicast() {
        return Err(DropReason::NotForVtep);
    }
    let ip = Ipv4Packet::new_checked(eth.payload()).map_err(|_| DropReason::BadIpv4)?;
    let to_group = ip.dst() != vtep.ip;
    if to_group && !ip.dst().is_multicast() {
        return Err(DropReason::NotForVtep);
    }
    if !ip.verify_checksum() {
        return Err(DropReason::BadIpv4Checksum);
    }
    if ip.is_fragment() {
        return Err(DropReason::IpFragment);
    }
    match ip.protocol() {
        IpProtocol::Igmp => Ok(Kind::Igmp),
        IpProtocol::Icmp if !to_group => Ok(Kind::Icmp),
        IpProtocol::Udp if to_group && !cx.snap.groups.contains(&ip.dst()) => {
            Err(DropReason::NotForVtep)
        }
        IpProtocol::Udp => {
            let u = UdpPacket::new_checked(ip.payload()).map_err(|_| DropReason::BadUdp)?;
            if u.dst_port() != vtep.udp_port {
                return Err(DropReason::NotForVtep);
            }
            let udp_at = eth.header_len() + ip.header_len();
            Ok(Kind::Vxlan(Vxlan {
                outer_src: ip.src(),
                vxlan_at: udp_at + udp::HEADER_LEN,
                udp_end: udp_at + u.len(),
            }))
        }
        _ => Err(DropReason::NotForVtep),
    }
}
