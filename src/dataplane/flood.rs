//! BUM replication: to the VNI's other local ports and, for frames from a VM, head-end
//! replication to every remote VTEP of the VNI. Copies share the payload; tunnel copies get
//! a private header. A frame from the uplink never goes back into a tunnel (split horizon).

use super::counters::{DropReason, Stat};
use super::encap;
use super::frame::{Frame, FrameIo};
use super::pipeline::Ctx;
use crate::ids::Vni;
use crate::tables::{PortIdx, UPLINK};
use crate::wire::vxlan::ENCAP_OVERHEAD;

#[inline]
pub fn flood<IO: FrameIo>(
    cx: &mut Ctx<'_, IO>,
    vni: Vni,
    in_port: PortIdx,
    frame: IO::Frame,
    to_tunnels: bool,
) {
    let snap = cx.snap;
    let Some(info) = snap.vnis.get(&vni) else {
        return cx.drop_frame(frame, DropReason::UnknownVni);
    };
    cx.p.counters.add(Stat::Flooded, 1);
    let inner_len = frame.data().len();
    let mut tunnel_copies = 0;
    if to_tunnels && !info.vteps.is_empty() {
        let port = encap::src_port(frame.data());
        let mut hdr = [0u8; ENCAP_OVERHEAD];
        for &t in &info.vteps {
            let Some(tunnel) = snap.tunnels.get(t) else {
                continue;
            };
            if let Err(r) = encap::check(tunnel, &snap.vtep, inner_len) {
                cx.p.counters.dropped(r);
                continue;
            }
            encap::write_outer(tunnel, &mut hdr, vni, inner_len, port);
            match cx.io.with_header(&frame, &hdr) {
                Some(copy) => {
                    cx.io.send(UPLINK, copy);
                    tunnel_copies += 1;
                }
                None => cx.p.counters.dropped(DropReason::NoMbuf),
            }
        }
        cx.p.counters.add(Stat::FloodTunnelCopies, tunnel_copies);
    }
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
