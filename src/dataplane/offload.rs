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

/// What `finish` made of a frame.
pub enum Finished<F> {
    /// The frame, complete: forward it.
    Frame(F),
    /// A GSO frame: forward each of its segments (`segment`), then free it.
    Segments(F, TcpGso),
    /// Dropped and counted.
    Dropped,
}

/// Finishes `frame` from `vm.port`. Ports that are not kernel-backed pay one lookup.
#[inline]
pub fn finish<IO: FrameIo>(
    cx: &mut Ctx<'_, IO>,
    vm: &VmFrame,
    frame: IO::Frame,
) -> Finished<IO::Frame> {
    match cx.p.kernel_port_mtu(vm.port) {
        None => Finished::Frame(frame),
        Some(mtu) => finish_kernel(cx, vm, frame, mtu),
    }
}

/// The work for a kernel-backed port, out of line so that the access stage stays small
/// enough for the compiler to inline the stages after it.
#[inline(never)]
fn finish_kernel<IO: FrameIo>(
    cx: &mut Ctx<'_, IO>,
    vm: &VmFrame,
    mut frame: IO::Frame,
    mtu: u16,
) -> Finished<IO::Frame> {
    if matches!(vm.ethertype, EtherType::Ipv4 | EtherType::Ipv6) {
        if let Some(gso) = TcpGso::new(frame.data(), vm.payload_at, usize::from(mtu)) {
            return Finished::Segments(frame, gso);
        }
    }
    let done = match frame.data_mut().get_mut(vm.payload_at..) {
        Some(l3) => partial_checksum::complete(vm.ethertype, l3),
        None => L4Checksum::NotApplicable,
    };
    match done {
        L4Checksum::Completed => cx.p.counters.add(Stat::ChecksumsCompleted, 1),
        L4Checksum::Truncated => {
            cx.drop_frame(frame, DropReason::Truncated);
            return Finished::Dropped;
        }
        L4Checksum::Untouched | L4Checksum::NotApplicable => {}
    }
    Finished::Frame(frame)
}

/// Segment `i` of the GSO frame `frame` in a new frame (None: no mbuf, counted).
#[cold]
pub fn segment<IO: FrameIo>(
    cx: &mut Ctx<'_, IO>,
    frame: &IO::Frame,
    gso: &TcpGso,
    i: usize,
) -> Option<IO::Frame> {
    let Some(mut seg) = cx.io.alloc(gso.segment_len(i)) else {
        cx.p.counters.dropped(DropReason::NoMbuf);
        return None;
    };
    gso.write(frame.data(), i, seg.data_mut());
    cx.p.counters.add(Stat::GsoSegments, 1);
    Some(seg)
}
