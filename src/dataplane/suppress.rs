//! What the host learns from and answers for its VMs (STEP3-5 of the walk-through):
//! snooping IP/MAC bindings from ARP and DHCP ACK, ARP suppression (a proxy reply from the
//! ARP table, in place; on a miss the request goes to the management thread, which asks
//! the controller), and asking the controller about unknown destination MACs.

use super::access::VmFrame;
use super::counters::{Stat, VniStat};
use super::events::{self, Event};
use super::frame::{trace, Frame, FrameIo};
use super::pipeline::Ctx;
use crate::api::trace::{ArpDecision, Step};
use crate::ids::Vni;
use crate::tables::{ArpKey, MacKey};
use crate::wire::dhcp::{self, DhcpPacket};
use crate::wire::{
    ArpOperation, ArpPacket, EtherType, EthernetFrame, IpProtocol, Ipv4Packet, MacAddr, UdpPacket,
};
use std::net::Ipv4Addr;

/// Reports `ip` -> `mac` unless the ARP table already says so (once per snapshot).
#[inline]
fn snoop<IO: FrameIo>(cx: &mut Ctx<'_, IO>, vni: Vni, ip: Ipv4Addr, mac: MacAddr) {
    if ip.is_unspecified() || ip.is_broadcast() || ip.is_multicast() || !mac.is_unicast() {
        return;
    }
    let key = ArpKey { vni, ip };
    if cx.snap.arps.get(&key).map(|e| e.mac) == Some(mac) {
        return;
    }
    let hash = mac.hash_word() ^ u64::from(u32::from(ip)) ^ u64::from(vni.get());
    if cx
        .p
        .snooped
        .first_report((key, mac), hash, cx.snap.generation)
    {
        cx.p.counters.add(Stat::IpSnooped, 1);
        events::send(&cx.p.events, &cx.p.counters, Event::IpSeen { vni, ip, mac });
    }
}

/// An ARP frame from a VM. Returns the frame when it should be forwarded as usual
/// (flooded), None when it was answered or handed to the management thread.
#[inline]
pub fn arp_from_vm<IO: FrameIo>(
    cx: &mut Ctx<'_, IO>,
    vm: &VmFrame,
    mut frame: IO::Frame,
) -> Option<IO::Frame> {
    let snap = cx.snap;
    let VmFrame { vni, port, src, .. } = *vm;
    let arp = |f: &IO::Frame| {
        let a = ArpPacket::new_checked(f.data().get(vm.payload_at..).unwrap_or_default());
        a.map(|a| (a.operation(), a.sender_mac(), a.sender_ip(), a.target_ip()))
    };
    if !snap
        .vnis
        .by_slot(vm.slot)
        .is_some_and(|i| i.arp_suppression)
    {
        if let Ok((.., target)) = arp(&frame) {
            trace!(
                cx.io,
                Step::Arp {
                    target,
                    decision: ArpDecision::Off
                }
            );
        }
        return Some(frame);
    }
    let Ok((op, sender_mac, sender_ip, target_ip)) = arp(&frame) else {
        return Some(frame);
    };
    let decided = |decision| Step::Arp {
        target: target_ip,
        decision,
    };
    // Only a VM speaking for itself is believed.
    if sender_mac == src {
        snoop(cx, vni, sender_ip, sender_mac);
    }
    // Gratuitous ARP and address probes (sender 0.0.0.0) pass as they are.
    if op != ArpOperation::Request || sender_ip == target_ip || sender_ip.is_unspecified() {
        trace!(cx.io, decided(ArpDecision::Passed));
        return Some(frame);
    }
    match snap.arps.get(&ArpKey { vni, ip: target_ip }).map(|e| e.mac) {
        Some(mac) if mac != sender_mac => {
            let data = frame.data_mut();
            if let Ok(mut eth) = EthernetFrame::new_checked(&mut data[..]) {
                eth.set_dst(sender_mac);
                eth.set_src(mac);
                if let Ok(mut a) = ArpPacket::new_checked(eth.payload_mut()) {
                    a.make_reply(mac);
                    trace!(cx.io, decided(ArpDecision::Suppressed { mac }));
                    cx.p.counters.add(Stat::ArpProxyReplies, 1);
                    cx.p.counters.vni_add(vm.slot, VniStat::ArpProxyReplies, 1);
                    cx.io.send(port, frame);
                    return None;
                }
            }
            Some(frame)
        }
        Some(_) => {
            trace!(cx.io, decided(ArpDecision::Passed));
            Some(frame)
        }
        None if snap.controller_up => {
            let e = Event::ArpMiss {
                vni,
                port,
                asker_mac: sender_mac,
                asker_ip: sender_ip,
                target: target_ip,
            };
            if events::send(&cx.p.events, &cx.p.counters, e) {
                cx.p.counters.add(Stat::ArpQueries, 1);
                cx.p.counters
                    .vni_add(vm.slot, VniStat::ControllerQueries, 1);
                trace!(cx.io, decided(ArpDecision::AskController));
                cx.io.free(frame);
                None
            } else {
                cx.p.counters.add(Stat::ArpRequestsFlooded, 1);
                trace!(cx.io, decided(ArpDecision::Flooded));
                Some(frame)
            }
        }
        None => {
            cx.p.counters.add(Stat::ArpRequestsFlooded, 1);
            trace!(cx.io, decided(ArpDecision::Flooded));
            Some(frame)
        }
    }
}

/// Ethernet + IPv4 + UDP + DHCP's fixed part and cookie: a shorter frame is not DHCP.
const DHCP_MIN_FRAME: usize = 14 + DHCP_MIN_PACKET;
const DHCP_MIN_PACKET: usize = 20 + 8 + 240;

/// Snoops a DHCP ACK in a whole frame (decapsulated from a tunnel): most frames are turned
/// away by their length before their header is read.
#[inline]
pub fn dhcp_ack_in_frame<IO: FrameIo>(cx: &mut Ctx<'_, IO>, vni: Vni, frame: &[u8]) {
    if frame.len() < DHCP_MIN_FRAME {
        return;
    }
    if let Ok(eth) = EthernetFrame::new_checked(frame) {
        if eth.ethertype() == EtherType::Ipv4 {
            dhcp_ack(cx, vni, eth.payload(), true);
        }
    }
}

/// Snoops the binding a DHCP ACK hands out, from a `trusted` source (a port with a DHCP
/// server, or a tunnel); `packet` is the IPv4 packet of a frame whose type is IPv4. True if
/// the packet is a DHCP server's message (snooped or not).
#[inline]
pub fn dhcp_ack<IO: FrameIo>(cx: &mut Ctx<'_, IO>, vni: Vni, packet: &[u8], trusted: bool) -> bool {
    // Most traffic is turned away here without being parsed.
    if packet.len() < DHCP_MIN_PACKET {
        return false;
    }
    let Ok(ip) = Ipv4Packet::new_checked(packet) else {
        return false;
    };
    if ip.protocol() != IpProtocol::Udp || ip.is_fragment() {
        return false;
    }
    let Ok(udp) = UdpPacket::new_checked(ip.payload()) else {
        return false;
    };
    if udp.src_port() != dhcp::SERVER_PORT || udp.dst_port() != dhcp::CLIENT_PORT {
        return false;
    }
    if !trusted {
        cx.p.counters.add(Stat::DhcpNotSnooped, 1);
        return true;
    }
    if !cx.snap.vnis.get(&vni).is_some_and(|i| i.arp_suppression) {
        return true;
    }
    if let Some((ip, mac)) = DhcpPacket::new_checked(udp.payload())
        .ok()
        .and_then(|d| d.ack_binding())
    {
        snoop(cx, vni, ip, mac);
    }
    true
}

/// A frame to an unknown MAC is being flooded: ask the controller (once per snapshot).
#[inline]
pub fn mac_miss<IO: FrameIo>(cx: &mut Ctx<'_, IO>, vni: Vni, slot: u16, mac: MacAddr) {
    if !cx.snap.controller_up {
        return;
    }
    let key = MacKey { vni, mac };
    let hash = mac.as_u64() ^ u64::from(vni.get());
    if cx.p.missed.first_report(key, hash, cx.snap.generation) {
        cx.p.counters.add(Stat::MacQueries, 1);
        cx.p.counters.vni_add(slot, VniStat::ControllerQueries, 1);
        events::send(&cx.p.events, &cx.p.counters, Event::MacMiss { vni, mac });
    }
}
