//! Frames from a VM port: learn the source, then local delivery, encapsulation or flooding.

use super::counters::{DropReason, Stat};
use super::pipeline::Ctx;
use super::{encap, flood, learn, suppress};
use crate::frame::{Frame, FrameIo};
use crate::tables::{Dest, MacKey, PortIdx};
use crate::wire::{EtherType, EthernetFrame};

#[inline]
pub fn receive<IO: FrameIo>(cx: &mut Ctx<'_, IO>, port: PortIdx, frame: IO::Frame) {
    let Some(Some(vni)) = cx.snap.port_vni.get(usize::from(port)).copied() else {
        return cx.drop_frame(frame, DropReason::PortNotBound);
    };
    let (src, dst, ethertype) = match EthernetFrame::new_checked(frame.data()) {
        Ok(eth) => (eth.src(), eth.dst(), eth.ethertype()),
        Err(_) => return cx.drop_frame(frame, DropReason::BadEthernet),
    };
    if !src.is_unicast() {
        return cx.drop_frame(frame, DropReason::BadSourceMac);
    }
    learn::learn(cx, vni, src, Dest::Local(port));
    let frame = match ethertype {
        EtherType::Arp => match suppress::arp_from_vm(cx, vni, port, frame) {
            Some(f) => f,
            None => return,
        },
        EtherType::Ipv4 => {
            suppress::dhcp_ack(cx, vni, frame.data());
            frame
        }
        _ => frame,
    };
    if dst.is_multicast() {
        return flood::flood(cx, vni, port, frame, true);
    }
    match cx.snap.macs.get(&MacKey { vni, mac: dst }).map(|e| e.dest) {
        Some(Dest::Local(out)) if out == port => cx.drop_frame(frame, DropReason::SamePort),
        Some(Dest::Local(out)) => {
            cx.p.counters.add(Stat::ToLocalPort, 1);
            cx.io.send(out, frame);
        }
        Some(Dest::Remote(t)) => encap::encap(cx, t, vni, frame),
        None => {
            suppress::mac_miss(cx, vni, dst);
            flood::flood(cx, vni, port, frame, true)
        }
    }
}
