//! Frames from a VM port: read the Ethernet header once (`VmFrame`, shared with the stages
//! after), learn the source, then ARP suppression, local delivery, encapsulation or flooding.

use super::counters::{DropReason, Stat};
use super::frame::{trace, Frame, FrameIo};
use super::offload::{self, Finished};
use super::pipeline::Ctx;
use super::{encap, flood, guard, learn, suppress};
use crate::api::trace::{LookupResult, Step};
use crate::ids::Vni;
use crate::tables::{Dest, MacKey, PortIdx};
use crate::wire::tcp_gso::TcpGso;
use crate::wire::{EtherType, EthernetFrame, MacAddr};

/// A VM's frame as the access stage read it: the later stages use these fields instead of
/// parsing the Ethernet header again.
#[derive(Clone, Copy, Debug)]
pub struct VmFrame {
    pub port: PortIdx,
    pub vni: Vni,
    /// The VNI's counter slot (`Counters::vni_add`).
    pub slot: u16,
    pub src: MacAddr,
    pub dst: MacAddr,
    /// The type after any VLAN tag.
    pub ethertype: EtherType,
    /// Where the payload starts (14, or 18 behind a VLAN tag).
    pub payload_at: usize,
    /// Port security is on for the port.
    pub guarded: bool,
    /// DHCP server messages from the port are believed.
    pub dhcp_server: bool,
}

#[inline]
pub fn receive<IO: FrameIo>(cx: &mut Ctx<'_, IO>, port: PortIdx, frame: IO::Frame) {
    let Some(Some(vni)) = cx.snap.port_vni.get(usize::from(port)).copied() else {
        return cx.drop_frame(frame, DropReason::PortNotBound);
    };
    let snap = cx.snap;
    let policy = snap.port_policy.get(usize::from(port));
    let guard = policy.and_then(|p| p.guard.as_ref());
    let Ok(eth) = EthernetFrame::new_checked(frame.data()) else {
        return cx.drop_frame(frame, DropReason::BadEthernet);
    };
    let (src, dst, ethertype) = (eth.src(), eth.dst(), eth.ethertype());
    trace!(
        cx.io,
        Step::VmFrame {
            vni,
            src,
            dst,
            ethertype: ethertype.into(),
        }
    );
    // Checked on the value read, not on `vm` once built: `vm` lives on the stack, written
    // a few bytes at a time, and reading the source back from it at once can stall on store
    // forwarding (perf annotate showed it; 2 cycles a frame on encap measured here).
    if !src.is_unicast() {
        return cx.drop_frame(frame, DropReason::BadSourceMac);
    }
    let vm = VmFrame {
        port,
        vni,
        slot: snap
            .port_slot
            .get(usize::from(port))
            .copied()
            .unwrap_or(u16::MAX),
        src,
        dst,
        ethertype,
        payload_at: eth.header_len(),
        guarded: guard.is_some(),
        dhcp_server: policy.is_some_and(|p| p.dhcp_server),
    };
    if let Some(g) = guard {
        if let Err(why) = guard::admit(cx, g, &vm, src, frame.data()) {
            return cx.drop_frame(frame, why);
        }
    }
    learn::learn(cx, vni, src, Dest::Local(port));
    match offload::finish(cx, &vm, frame) {
        Finished::Frame(f) => forward(cx, &vm, f),
        Finished::Segments(f, gso) => forward_segments(cx, &vm, f, &gso),
        Finished::Dropped => {}
    }
}

/// Each segment of a GSO frame forwarded as a frame of its own; the GSO frame freed.
#[cold]
fn forward_segments<IO: FrameIo>(
    cx: &mut Ctx<'_, IO>,
    vm: &VmFrame,
    frame: IO::Frame,
    gso: &TcpGso,
) {
    for i in 0..gso.count() {
        if let Some(seg) = offload::segment(cx, &frame, gso, i) {
            forward(cx, vm, seg);
        }
    }
    cx.io.free(frame);
}

/// ARP suppression, DHCP snooping, then local delivery, encapsulation or flooding. Always
/// inlined into `receive`, as one stage with it (the GSO path's copy is cold).
#[inline(always)]
fn forward<IO: FrameIo>(cx: &mut Ctx<'_, IO>, vm: &VmFrame, frame: IO::Frame) {
    let (port, vni) = (vm.port, vm.vni);
    let frame = match vm.ethertype {
        EtherType::Arp => match suppress::arp_from_vm(cx, vm, frame) {
            Some(f) => f,
            None => return,
        },
        EtherType::Ipv4 => {
            let from_server = frame
                .data()
                .get(vm.payload_at..)
                .is_some_and(|ip| suppress::dhcp_ack(cx, vni, ip, vm.dhcp_server));
            // A DHCP server where none is configured: with port security, a rogue one.
            if from_server && !vm.dhcp_server && vm.guarded {
                return cx.drop_frame(frame, DropReason::RogueDhcp);
            }
            frame
        }
        _ => frame,
    };
    if vm.dst.is_multicast() {
        trace!(cx.io, lookup(vm, LookupResult::Bum));
        return flood::flood(cx, vni, vm.slot, port, frame);
    }
    let found = cx
        .snap
        .macs
        .get(&MacKey { vni, mac: vm.dst })
        .map(|e| e.dest);
    trace!(cx.io, {
        lookup(
            vm,
            match found {
                Some(Dest::Local(port)) => LookupResult::Port { port },
                Some(Dest::Remote(t)) => cx
                    .snap
                    .tunnels
                    .get(t)
                    .map_or(LookupResult::Miss, |t| LookupResult::Vtep { vtep: t.ip }),
                None => LookupResult::Miss,
            },
        )
    });
    match found {
        Some(Dest::Local(out)) if out == port => cx.drop_frame(frame, DropReason::SamePort),
        Some(Dest::Local(out)) => {
            cx.p.counters.add(Stat::ToLocalPort, 1);
            cx.io.send(out, frame);
        }
        Some(Dest::Remote(t)) => encap::encap(cx, t, vni, vm.slot, frame),
        None => {
            suppress::mac_miss(cx, vni, vm.slot, vm.dst);
            flood::flood(cx, vni, vm.slot, port, frame)
        }
    }
}

fn lookup(vm: &VmFrame, result: LookupResult) -> Step {
    Step::Lookup {
        vni: vm.vni,
        mac: vm.dst,
        result,
    }
}
