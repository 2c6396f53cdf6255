//! VXLAN decapsulation: check the header (I flag; reserved bits ignored, RFC 7348 §5), the
//! VNI and that the sender is one of the VNI's VTEPs (any VTEP in multicast mode), learn the
//! inner source behind it, then deliver to the VNI's local ports. Never into another tunnel
//! (split horizon), except that a segment's proxy relays frames marked "replicate locally".

use super::counters::{DropReason, Stat, VniStat};
use super::events::{self, Event};
use super::frame::{trace, Frame, FrameIo};
use super::pipeline::Ctx;
use super::{flood, learn, suppress};
use crate::api::trace::Step;
use crate::ids::Vni;
use crate::tables::{Dest, MacKey};
use crate::wire::{vxlan, EthernetFrame, VxlanHeader};
use std::net::Ipv4Addr;

/// Where a VXLAN datagram sits in an uplink frame, as the uplink stage found it.
#[derive(Clone, Copy, Debug)]
pub struct Vxlan {
    /// The sending VTEP (outer IPv4 source).
    pub outer_src: Ipv4Addr,
    /// Offset of the VXLAN header.
    pub vxlan_at: usize,
    /// End of the UDP datagram (Ethernet padding may follow).
    pub udp_end: usize,
}

#[inline]
pub fn decap<IO: FrameIo>(cx: &mut Ctx<'_, IO>, at: Vxlan, mut frame: IO::Frame) {
    let snap = cx.snap;
    let Vxlan {
        outer_src,
        vxlan_at,
        udp_end,
    } = at;
    let Some(payload) = frame.data().get(vxlan_at..udp_end) else {
        return cx.drop_frame(frame, DropReason::BadVxlan);
    };
    let Ok(vx) = VxlanHeader::new_checked(payload) else {
        return cx.drop_frame(frame, DropReason::BadVxlan);
    };
    if !vx.vni_valid() {
        return cx.drop_frame(frame, DropReason::BadVxlanFlags);
    }
    let Some(vni) = Vni::new(vx.vni()) else {
        return cx.drop_frame(frame, DropReason::UnknownVni);
    };
    // The last sender's cache keeps the VNI's slot too: a hit finds the switch by index.
    let cached = cx.p.tunnel.get((outer_src, vni), snap.generation);
    let info = match cached {
        Some((_, slot)) => snap.vnis.by_slot(slot),
        None => snap.vnis.get(&vni),
    };
    let Some(info) = info else {
        return cx.drop_frame(frame, DropReason::UnknownVni);
    };
    let tunnel = match cached {
        Some((t, _)) => Some(t),
        None => match snap.tunnels.index_of(outer_src) {
            Some(t) if info.vteps.contains(&t) => {
                cx.p.tunnel
                    .set((outer_src, vni), snap.generation, (t, info.slot));
                Some(t)
            }
            // Multicast mode needs no controller: any VTEP on the group is a peer (RFC 7348 §4.2).
            _ if info.bum.open => {
                stranger(cx, vni, outer_src);
                None
            }
            _ => return cx.drop_frame(frame, DropReason::UnknownVtep),
        },
    };
    let (src, dst) = match EthernetFrame::new_checked(vx.payload()) {
        Ok(inner) => (inner.src(), inner.dst()),
        Err(_) => return cx.drop_frame(frame, DropReason::BadInnerFrame),
    };
    if !src.is_unicast() {
        return cx.drop_frame(frame, DropReason::BadSourceMac);
    }
    let marked = vx.replicate_locally();
    trace!(
        cx.io,
        Step::Decap {
            vni,
            from: outer_src,
            replicate_locally: marked,
        }
    );
    if let Some(t) = tunnel {
        learn::learn(cx, vni, src, Dest::Remote(t));
    }
    // Strip outer headers and any Ethernet padding after the datagram.
    if !frame.truncate(udp_end) || !frame.adj(vxlan_at + vxlan::HEADER_LEN) {
        return cx.drop_frame(frame, DropReason::BadVxlan);
    }
    cx.p.counters.add(Stat::Decapsulated, 1);
    cx.p.counters.vni_add(info.slot, VniStat::Decapsulated, 1);
    suppress::dhcp_ack_in_frame(cx, vni, frame.data());
    // This VTEP is its segment's proxy and the frame comes from another segment: pass it on
    // within this segment first (a marked frame from this segment is never relayed again).
    let relayed = match tunnel {
        Some(t) if marked && !info.bum.relay.is_empty() && !snap.vtep.on_segment(outer_src) => {
            flood::relay(cx, vni, info, t, &frame)
        }
        _ => 0,
    };
    if dst.is_multicast() {
        return flood::flood_local(cx, info, frame, relayed);
    }
    match snap.macs.get(&MacKey { vni, mac: dst }).map(|e| e.dest) {
        Some(Dest::Local(p)) => {
            cx.p.counters.add(Stat::ToLocalPort, 1);
            cx.io.send(p, frame);
        }
        Some(Dest::Remote(_)) if relayed > 0 => cx.io.free(frame),
        Some(Dest::Remote(_)) => cx.drop_frame(frame, DropReason::SplitHorizon),
        None => flood::flood_local(cx, info, frame, relayed),
    }
}

/// A VTEP this host does not know sent on a multicast-mode VNI: the management thread adds
/// a tunnel to it so that the MACs behind it are learned (reported once per snapshot).
#[inline]
fn stranger<IO: FrameIo>(cx: &mut Ctx<'_, IO>, vni: Vni, ip: Ipv4Addr) {
    let hash = u64::from(u32::from(ip)) ^ (u64::from(vni.get()) << 32);
    if cx
        .p
        .strangers
        .first_report((vni, ip), hash, cx.snap.generation)
    {
        cx.p.counters.add(Stat::UnknownVtepsSeen, 1);
        events::send(&cx.p.events, &cx.p.counters, Event::VtepSeen { vni, ip });
    }
}
