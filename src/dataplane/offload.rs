//! Frames from kernel-backed VM ports (net_af_packet): the NIC work a guest left undone.
//!
//! A Linux VM or container on a veth hands its frames over with checksum offload on by
//! default: TCP/UDP checksums hold only the pseudo-header sum, and the af_packet PMD drops
//! the kernel's "checksum not ready" flag. They are completed here, before the frame is
//! encapsulated or delivered (`wire::partial_checksum` says how and why it is cheap for
//! complete frames). vhost-user ports need none of this: the vhost PMD completes partial
//! checksums itself when the application does not ask for checksum offload, and vxswitch
//! never offers TSO to a guest. A frame longer than the af_packet ring's slots arrives cut
//! (a GSO frame, with TSO/GSO on in the VM): it is dropped and counted as `truncated`.

use super::access::VmFrame;
use super::counters::{DropReason, Stat};
use super::frame::{Frame, FrameIo};
use super::pipeline::Ctx;
use crate::wire::partial_checksum::{self, L4Checksum};

/// Finishes `frame` from `vm.port`; `None` when it was dropped.
#[inline]
pub fn finish<IO: FrameIo>(
    cx: &mut Ctx<'_, IO>,
    vm: &VmFrame,
    mut frame: IO::Frame,
) -> Option<IO::Frame> {
    if !cx.p.is_kernel_port(vm.port) {
        return Some(frame);
    }
    let done = match frame.data_mut().get_mut(vm.payload_at..) {
        Some(l3) => partial_checksum::complete(vm.ethertype, l3),
        None => L4Checksum::NotApplicable,
    };
    match done {
        L4Checksum::Completed => cx.p.counters.add(Stat::ChecksumsCompleted, 1),
        L4Checksum::Truncated => {
            cx.drop_frame(frame, DropReason::Truncated);
            return None;
        }
        L4Checksum::Untouched | L4Checksum::NotApplicable => {}
    }
    Some(frame)
}
