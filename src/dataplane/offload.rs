//! Frames from kernel-backed VM ports (net_af_packet): the NIC work a guest left undone.
//!
//! A Linux VM or container on a veth hands its frames over with the offloads Linux turns on
//! by default: TCP/UDP checksums holding only the pseudo-header sum, and TCP frames of up
//! to 64 KiB for the NIC to segment (TSO/GSO). The af_packet PMD passes them on without
//! the kernel's flags. Here, before a frame is encapsulated or delivered, a TCP frame longer
//! than the port's MTU is cut into segments (`wire::tcp_gso`) and a partial checksum is
//! completed (`wire::partial_checksum` says how, and why a complete frame pays only a
//! compare). A frame longer than the af_packet ring's slots arrives cut: it is dropped and
//! counted as `truncated` (the ring's `framesz` must hold 64 KiB frames for GSO).
//!
//! vhost-user ports need none of this: the vhost PMD completes partial checksums itself when
//! the application does not ask for checksum offload, and vxswitch never offers TSO to a
//! guest (the PMD's default, `tso=0`).

use super::access::VmFrame;
use super::counters::{DropReason, Stat};
use super::frame::{Frame, FrameIo};
use super::pipeline::Ctx;
use crate::wire::partial_checksum::{self, L4Checksum};
use crate::wire::tcp_gso::TcpGso;
use crate::wire::EtherType;

/// Finishes `frame` from `vm.port` and hands it (or its segments) to `next`, the rest of
/// the access stage (a static call, not a pointer: `next` is a type parameter).
#[inline]
pub fn finish<IO: FrameIo, N>(cx: &mut Ctx<'_, IO>, vm: &VmFrame, mut frame: IO::Frame, next: N)
where
    N: Fn(&mut Ctx<'_, IO>, &VmFrame, IO::Frame),
{
    let Some(mtu) = cx.p.kernel_port_mtu(vm.port) else {
        return next(cx, vm, frame);
    };
    if vm.ethertype == EtherType::Ipv4 {
        if let Some(gso) = TcpGso::new(frame.data(), vm.payload_at, usize::from(mtu)) {
            return segment(cx, vm, frame, &gso, next);
        }
    }
    let done = match frame.data_mut().get_mut(vm.payload_at..) {
        Some(l3) => partial_checksum::complete(vm.ethertype, l3),
        None => L4Checksum::NotApplicable,
    };
    match done {
        L4Checksum::Completed => cx.p.counters.add(Stat::ChecksumsCompleted, 1),
        L4Checksum::Truncated => return cx.drop_frame(frame, DropReason::Truncated),
        L4Checksum::Untouched | L4Checksum::NotApplicable => {}
    }
    next(cx, vm, frame)
}

/// Sends each segment of a GSO frame on through `next`; the GSO frame itself is freed.
#[cold]
fn segment<IO: FrameIo, N>(
    cx: &mut Ctx<'_, IO>,
    vm: &VmFrame,
    frame: IO::Frame,
    gso: &TcpGso,
    next: N,
) where
    N: Fn(&mut Ctx<'_, IO>, &VmFrame, IO::Frame),
{
    for i in 0..gso.count() {
        let Some(mut seg) = cx.io.alloc(gso.segment_len(i)) else {
            cx.p.counters.dropped(DropReason::NoMbuf);
            continue;
        };
        gso.write(frame.data(), i, seg.data_mut());
        cx.p.counters.add(Stat::GsoSegments, 1);
        next(cx, vm, seg);
    }
    cx.io.free(frame);
}
