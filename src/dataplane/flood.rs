//! BUM replication: to the VNI's other local ports and, for frames from a VM, into the tunnels
//! of the VNI's replication plan (`tables::Replication`: per mode, the VTEPs of this segment,
//! the proxies of the others with the "replicate locally" mark, or the multicast group). A
//! segment's proxy re-sends a marked frame within its segment (`relay`). Copies share the
//! payload; tunnel copies get a private header. A frame from the uplink never goes back into
//! a tunnel except for that relay (split horizon).

use super::counters::{DropReason, Stat, VniStat};
use super::encap;
use super::frame::{trace, Frame, FrameIo};
use super::pipeline::Ctx;
use crate::api::trace::{CopyTo, FloodCopy, Step};
use crate::ids::Vni;
use crate::tables::{BumCopy, CopyKind, PortIdx, TunnelIdx, VniInfo, UPLINK};
use crate::wire::vxlan::{self, ENCAP_OVERHEAD};

/// A BUM frame from VM port `in_port`, whose switch is `vni` in `slot` (the port's
/// `port_slot`): into the tunnels of the plan and the other local ports.
#[inline]
pub fn flood<IO: FrameIo>(
    cx: &mut Ctx<'_, IO>,
    vni: Vni,
    slot: u16,
    in_port: PortIdx,
    frame: IO::Frame,
) {
    let snap = cx.snap;
    let Some(info) = snap.vnis.by_slot(slot) else {
        return cx.drop_frame(frame, DropReason::UnknownVni);
    };
    cx.p.counters.add(Stat::Flooded, 1);
    cx.p.counters.vni_add(info.slot, VniStat::BumFrames, 1);
    trace!(
        cx.io,
        Step::Flood {
            vni,
            mode: info.bum.mode,
            copies: info
                .bum
                .copies
                .iter()
                .filter_map(|c| {
                    let t = snap.tunnels.get(c.tunnel)?;
                    Some(FloodCopy {
                        vtep: t.ip,
                        kind: match c.kind {
                            CopyKind::Vtep => CopyTo::Vtep,
                            CopyKind::Proxy => CopyTo::Proxy,
                            CopyKind::Group => CopyTo::Group,
                        },
                    })
                })
                .collect(),
            local_ports: info
                .local_ports
                .iter()
                .copied()
                .filter(|&p| p != in_port && p != UPLINK)
                .collect(),
        }
    );
    // One tunnel copy and no other port (multicast mode, a VM alone on its switch here):
    // the frame itself is encapsulated, as a known unicast would be.
    if let [only] = info.bum.copies[..] {
        if !info
            .local_ports
            .iter()
            .any(|&p| p != in_port && p != UPLINK)
        {
            return into_one_tunnel(cx, vni, info, only, frame);
        }
    }
    let tunnel_copies = into_tunnels(cx, vni, info, &frame);
    to_local_ports(cx, info, in_port, frame, tunnel_copies);
}

/// The frame becomes the plan's only copy, encapsulated in its own headroom.
#[inline]
fn into_one_tunnel<IO: FrameIo>(
    cx: &mut Ctx<'_, IO>,
    vni: Vni,
    info: &VniInfo,
    copy: BumCopy,
    mut frame: IO::Frame,
) {
    let Some(tunnel) = cx.snap.tunnels.get(copy.tunnel) else {
        return cx.drop_frame(frame, DropReason::NoDestination);
    };
    let inner_len = frame.data().len();
    if let Err(r) = encap::check(tunnel, &cx.snap.vtep, inner_len) {
        return cx.drop_frame(frame, r);
    }
    let port = encap::src_port(frame.data());
    let Some(hdr) = frame.prepend(ENCAP_OVERHEAD) else {
        return cx.drop_frame(frame, DropReason::NoHeadroom);
    };
    encap::write_outer(tunnel, hdr, vni, inner_len, port);
    if copy.kind == CopyKind::Proxy {
        vxlan::set_replicate(&mut hdr[ENCAP_OVERHEAD - vxlan::HEADER_LEN..], true);
    }
    cx.p.counters.add(Stat::FloodTunnelCopies, 1);
    cx.p.counters.vni_add(info.slot, kind_stat(copy.kind), 1);
    cx.io.send(UPLINK, frame);
}

fn kind_stat(k: CopyKind) -> VniStat {
    match k {
        CopyKind::Vtep => VniStat::UnicastCopies,
        CopyKind::Proxy => VniStat::ProxyCopies,
        CopyKind::Group => VniStat::GroupCopies,
    }
}

/// A BUM frame from the uplink, decapsulated: to the VNI's local ports only. `relayed`
/// copies of it already went on within this segment (see `relay`).
#[inline]
pub fn flood_local<IO: FrameIo>(
    cx: &mut Ctx<'_, IO>,
    info: &VniInfo,
    frame: IO::Frame,
    relayed: u64,
) {
    cx.p.counters.add(Stat::Flooded, 1);
    to_local_ports(cx, info, UPLINK, frame, relayed);
}

/// A marked frame from another segment's VTEP, already decapsulated: this VTEP is the proxy
/// of its segment, so it sends the frame on, unmarked, to the relay list (the VTEPs of its
/// segment, or its segment's group), never back to `sender`.
#[inline]
pub fn relay<IO: FrameIo>(
    cx: &mut Ctx<'_, IO>,
    vni: Vni,
    info: &VniInfo,
    sender: TunnelIdx,
    frame: &IO::Frame,
) -> u64 {
    cx.p.counters
        .vni_add(info.slot, VniStat::ReplicateReceived, 1);
    let port = encap::src_port(frame.data());
    let mut sent = 0;
    for &t in &info.bum.relay {
        if t != sender && send_copy(cx, vni, t, false, frame, port) {
            sent += 1;
        }
    }
    cx.p.counters.add(Stat::FloodTunnelCopies, sent);
    cx.p.counters
        .vni_add(info.slot, VniStat::ReplicateForwarded, sent);
    sent
}

/// Sends one copy of a VM's BUM frame per entry of the VNI's plan; returns how many went.
#[inline]
fn into_tunnels<IO: FrameIo>(
    cx: &mut Ctx<'_, IO>,
    vni: Vni,
    info: &VniInfo,
    frame: &IO::Frame,
) -> u64 {
    if info.bum.copies.is_empty() {
        return 0;
    }
    let port = encap::src_port(frame.data());
    // Copies by kind, in CopyKind order.
    let mut sent = [0u64; 3];
    for &BumCopy { tunnel, kind } in &info.bum.copies {
        let marked = kind == CopyKind::Proxy;
        if send_copy(cx, vni, tunnel, marked, frame, port) {
            sent[kind as usize] += 1;
        }
    }
    let c = &cx.p.counters;
    for kind in [CopyKind::Vtep, CopyKind::Proxy, CopyKind::Group] {
        c.vni_add(info.slot, kind_stat(kind), sent[kind as usize]);
    }
    let n = sent.iter().sum();
    c.add(Stat::FloodTunnelCopies, n);
    n
}

/// One tunnel copy of `frame` with a private header; false if it could not go (counted).
#[inline(always)]
fn send_copy<IO: FrameIo>(
    cx: &mut Ctx<'_, IO>,
    vni: Vni,
    t: TunnelIdx,
    marked: bool,
    frame: &IO::Frame,
    port: u16,
) -> bool {
    let Some(tunnel) = cx.snap.tunnels.get(t) else {
        return false;
    };
    let inner_len = frame.data().len();
    if let Err(r) = encap::check(tunnel, &cx.snap.vtep, inner_len) {
        cx.p.counters.dropped(r);
        return false;
    }
    let header = |hdr: &mut [u8]| {
        encap::write_outer(tunnel, hdr, vni, inner_len, port);
        if marked {
            vxlan::set_replicate(&mut hdr[ENCAP_OVERHEAD - vxlan::HEADER_LEN..], true);
        }
    };
    let Some(copy) = cx.io.with_header(frame, ENCAP_OVERHEAD, header) else {
        cx.p.counters.dropped(DropReason::NoMbuf);
        return false;
    };
    cx.io.send(UPLINK, copy);
    true
}

/// The VNI's other local ports get the frame (the last one the frame itself).
#[inline]
fn to_local_ports<IO: FrameIo>(
    cx: &mut Ctx<'_, IO>,
    info: &VniInfo,
    in_port: PortIdx,
    frame: IO::Frame,
    tunnel_copies: u64,
) {
    let mut locals = info
        .local_ports
        .iter()
        .copied()
        .filter(|&p| p != in_port && p != UPLINK);
    let Some(first) = locals.next() else {
        if tunnel_copies == 0 {
            return cx.drop_frame(frame, DropReason::NoDestination);
        }
        return cx.io.free(frame);
    };
    let mut local_copies = 1;
    for p in locals {
        let copy = cx.io.share(&frame);
        cx.io.send(p, copy);
        local_copies += 1;
    }
    cx.p.counters.add(Stat::FloodLocalCopies, local_copies);
    cx.io.send(first, frame);
}
