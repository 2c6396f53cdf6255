//! The VTEP's own small IP stack on the uplink: answers ARP and ICMP echo for the VTEP's
//! address in place (the reply reuses the request's buffer), reports underlay neighbours
//! to the management thread, which keeps the ARP cache and resolves next hops, and hands it
//! IGMP queries (it sends the VTEP's membership reports).

use super::counters::{DropReason, Stat};
use super::events::{self, Event};
use super::frame::{Frame, FrameIo};
use super::pipeline::Ctx;
use crate::tables::UPLINK;
use crate::wire::icmp::{ECHO_REPLY, ECHO_REQUEST};
use crate::wire::igmp::{self, IgmpPacket};
use crate::wire::{ArpOperation, ArpPacket, EthernetFrame, IcmpPacket, Ipv4Packet};

#[inline]
pub fn arp<IO: FrameIo>(cx: &mut Ctx<'_, IO>, mut frame: IO::Frame) {
    let snap = cx.snap;
    let vtep = &snap.vtep;
    let (op, sender_ip, sender_mac, target_ip) = {
        let Ok(eth) = EthernetFrame::new_checked(frame.data()) else {
            return cx.drop_frame(frame, DropReason::BadEthernet);
        };
        match ArpPacket::new_checked(eth.payload()) {
            Ok(a) => (a.operation(), a.sender_ip(), a.sender_mac(), a.target_ip()),
            Err(_) => return cx.drop_frame(frame, DropReason::BadArp),
        }
    };
    if target_ip != vtep.ip {
        return cx.drop_frame(frame, DropReason::NotForVtep);
    }
    if sender_mac.is_unicast()
        && vtep.on_segment(sender_ip)
        && sender_ip != vtep.ip
        && snap.neighbors.get(&sender_ip) != Some(&sender_mac)
    {
        cx.p.counters.add(Stat::NeighborUpdates, 1);
        events::send(
            &cx.p.events,
            &cx.p.counters,
            Event::NeighborSeen {
                ip: sender_ip,
                mac: sender_mac,
            },
        );
    }
    if op != ArpOperation::Request {
        return cx.io.free(frame);
    }
    let mac = vtep.mac;
    let data = frame.data_mut();
    let Ok(mut eth) = EthernetFrame::new_checked(&mut data[..]) else {
        return cx.drop_frame(frame, DropReason::BadEthernet);
    };
    eth.set_dst(sender_mac);
    eth.set_src(mac);
    let Ok(mut a) = ArpPacket::new_checked(eth.payload_mut()) else {
        return cx.drop_frame(frame, DropReason::BadArp);
    };
    a.make_reply(mac);
    cx.p.counters.add(Stat::ArpRepliesSent, 1);
    cx.io.send(UPLINK, frame);
}

#[inline]
pub fn icmp<IO: FrameIo>(cx: &mut Ctx<'_, IO>, mut frame: IO::Frame) {
    let vtep_mac = cx.snap.vtep.mac;
    let vtep_ip = cx.snap.vtep.ip;
    let end = {
        let Ok(eth) = EthernetFrame::new_checked(frame.data()) else {
            return cx.drop_frame(frame, DropReason::BadEthernet);
        };
        let Ok(ip) = Ipv4Packet::new_checked(eth.payload()) else {
            return cx.drop_frame(frame, DropReason::BadIpv4);
        };
        match IcmpPacket::new_checked(ip.payload()) {
            Ok(m) if m.msg_type() == ECHO_REQUEST && m.code() == 0 && m.verify_checksum() => {}
            Ok(m) if m.msg_type() == ECHO_REPLY && m.code() == 0 && m.verify_checksum() => {
                // An answer to `vxswitch ping` from this VTEP.
                let e = Event::EchoReply {
                    from: ip.src(),
                    id: m.ident(),
                    seq: m.seq(),
                };
                cx.p.counters.add(Stat::EchoRepliesReceived, 1);
                events::send(&cx.p.events, &cx.p.counters, e);
                return cx.io.free(frame);
            }
            Ok(_) => return cx.drop_frame(frame, DropReason::NotForVtep),
            Err(_) => return cx.drop_frame(frame, DropReason::BadIcmp),
        }
        eth.header_len() + ip.total_len()
    };
    if !frame.truncate(end) {
        return cx.drop_frame(frame, DropReason::BadIpv4);
    }
    let data = frame.data_mut();
    let Ok(mut eth) = EthernetFrame::new_checked(&mut data[..]) else {
        return cx.drop_frame(frame, DropReason::BadEthernet);
    };
    let asker = eth.src();
    eth.set_dst(asker);
    eth.set_src(vtep_mac);
    let Ok(mut ip) = Ipv4Packet::new_checked(eth.payload_mut()) else {
        return cx.drop_frame(frame, DropReason::BadIpv4);
    };
    let asker_ip = ip.src();
    ip.set_src(vtep_ip);
    ip.set_dst(asker_ip);
    ip.set_ttl(64);
    ip.fill_checksum();
    let Ok(mut m) = IcmpPacket::new_checked(ip.payload_mut()) else {
        return cx.drop_frame(frame, DropReason::BadIcmp);
    };
    m.make_echo_reply();
    cx.p.counters.add(Stat::IcmpRepliesSent, 1);
    cx.io.send(UPLINK, frame);
}

/// IGMP on the underlay: a membership query makes the management thread report the VTEP's
/// groups again (other hosts' reports are not for the VTEP).
#[inline]
pub fn igmp<IO: FrameIo>(cx: &mut Ctx<'_, IO>, frame: IO::Frame) {
    let query = EthernetFrame::new_checked(frame.data())
        .ok()
        .and_then(|eth| {
            let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
            let m = IgmpPacket::new_checked(ip.payload()).ok()?;
            Some(m.msg_type() == igmp::QUERY && m.verify_checksum())
        });
    match query {
        Some(true) => {
            cx.p.counters.add(Stat::IgmpQueries, 1);
            events::send(&cx.p.events, &cx.p.counters, Event::IgmpQuery);
            cx.io.free(frame);
        }
        Some(false) => cx.drop_frame(frame, DropReason::NotForVtep),
        None => cx.drop_frame(frame, DropReason::BadIgmp),
    }
}
