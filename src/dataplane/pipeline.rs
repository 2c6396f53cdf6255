//! The per-worker pipeline state and the two entry points, one per kind of port.
//! Each stage lives in its own file; all are generic over `FrameIo` so that the same code
//! runs on mbufs and on in-memory frames.

use super::counters::{Counters, DropReason, Stat};
use super::events::{EventQueue, ReportCache};
use super::frame::{trace, Frame, FrameIo};
use super::recent::Recent;
use crate::api::trace::Step;
use crate::ids::Vni;
use crate::tables::{ArpKey, Dest, MacKey, PortIdx, Snapshot, TunnelIdx, UPLINK};
use crate::wire::MacAddr;
use std::net::Ipv4Addr;
use std::sync::Arc;

/// State a worker keeps across bursts.
pub struct Pipeline {
    pub counters: Arc<Counters>,
    pub events: Arc<EventQueue>,
    /// New/moved MACs reported under the current snapshot.
    pub(super) reported: ReportCache<(MacKey, Dest)>,
    /// IP/MAC bindings reported under the current snapshot.
    pub(super) snooped: ReportCache<(ArpKey, MacAddr)>,
    /// Unknown destination MACs asked about under the current snapshot.
    pub(super) missed: ReportCache<MacKey>,
    /// Unknown VTEPs seen on multicast-mode VNIs under the current snapshot.
    pub(super) strangers: ReportCache<(Vni, Ipv4Addr)>,
    /// Port security claims (port, MAC or address) sent under the current snapshot.
    pub(super) claims: ReportCache<(PortIdx, u64)>,
    /// The last source learning found in place, and the second it was marked seen: the
    /// frames after it from the same MAC and port skip the lookup.
    pub(super) learned: Recent<(MacKey, Dest), u32>,
    /// The last VTEP and VNI decapsulation accepted: the sender's tunnel and the VNI's slot.
    pub(super) tunnel: Recent<(Ipv4Addr, Vni), (TunnelIdx, u16)>,
    /// Seconds clock for aging, set by the worker once per burst.
    pub now: u32,
    /// MTU of each kernel-backed VM port by PortIdx (0: not one): their frames may come
    /// with NIC offload work left undone (see `offload`).
    kernel_ports: Vec<u16>,
}

impl Pipeline {
    pub fn new(counters: Arc<Counters>, events: Arc<EventQueue>) -> Pipeline {
        Pipeline {
            counters,
            events,
            reported: ReportCache::default(),
            snooped: ReportCache::default(),
            missed: ReportCache::default(),
            strangers: ReportCache::default(),
            claims: ReportCache::default(),
            learned: Recent::default(),
            tunnel: Recent::default(),
            now: 0,
            kernel_ports: Vec::new(),
        }
    }

    /// Marks `ports` (port, MTU) as kernel-backed VM ports (net_af_packet): their frames
    /// get the segmentation and checksums a NIC offload would have done.
    pub fn with_kernel_ports(mut self, ports: &[(PortIdx, u16)]) -> Pipeline {
        for &(p, mtu) in ports {
            let i = usize::from(p);
            if self.kernel_ports.len() <= i {
                self.kernel_ports.resize(i + 1, 0);
            }
            self.kernel_ports[i] = mtu;
        }
        self
    }

    /// The MTU of `port` if it is a kernel-backed VM port.
    #[inline]
    pub fn kernel_port_mtu(&self, port: PortIdx) -> Option<u16> {
        self.kernel_ports
            .get(usize::from(port))
            .copied()
            .filter(|&m| m != 0)
    }
}

/// What a stage works with: the pipeline state, this burst's snapshot and the I/O.
pub struct Ctx<'a, IO: FrameIo> {
    pub p: &'a mut Pipeline,
    pub snap: &'a Snapshot,
    pub io: &'a mut IO,
}

impl<IO: FrameIo> Ctx<'_, IO> {
    /// Counts a drop by reason and releases the frame.
    #[inline]
    pub fn drop_frame(&mut self, frame: IO::Frame, reason: DropReason) {
        trace!(self.io, Step::Drop { reason });
        self.p.counters.dropped(reason);
        self.io.free(frame);
    }
}

/// Runs one frame received on `port` through the pipeline.
#[inline]
pub fn process<IO: FrameIo>(cx: &mut Ctx<'_, IO>, port: PortIdx, frame: IO::Frame) {
    trace!(
        cx.io,
        Step::Rx {
            port,
            len: frame.data().len(),
        }
    );
    if port == UPLINK {
        cx.p.counters.add(Stat::RxUplink, 1);
        super::uplink::receive(cx, frame);
    } else {
        cx.p.counters.add(Stat::RxAccess, 1);
        super::access::receive(cx, port, frame);
    }
}

/// Below this many MACs the table stays in the caches and prefetching only costs.
pub const PREFETCH_MIN_MACS: usize = 1 << 16;

/// The MAC table slots a frame received on `port` will look up (its source and destination,
/// or the inner ones of a VXLAN frame on the uplink), handed to `hint`: the worker prefetches
/// them over a whole burst before processing it when the table has PREFETCH_MIN_MACS entries
/// or more, so that the lookups of a large table do not wait on memory one by one. A wrong
/// guess (not VXLAN, bad frame) costs a useless prefetch, nothing else.
#[inline]
pub fn prefetch_targets(
    snap: &Snapshot,
    port: PortIdx,
    data: &[u8],
    mut hint: impl FnMut(*const u8),
) {
    let (vni, at) = if port == UPLINK {
        // Outer Ethernet + IPv4 (no options) + UDP, then the VNI in VXLAN bytes 4-6.
        let vni = data
            .get(46..49)
            .and_then(|b| Vni::new(u32::from_be_bytes([0, b[0], b[1], b[2]])));
        (vni, 50)
    } else {
        (snap.port_vni.get(usize::from(port)).copied().flatten(), 0)
    };
    let Some(vni) = vni else {
        return;
    };
    let mac = |o: usize| {
        data.get(at + o..at + o + 6)
            .and_then(|b| b.try_into().ok())
            .map(MacAddr)
    };
    for m in [mac(0), mac(6)].into_iter().flatten() {
        let key = MacKey { vni, mac: m };
        if let Some(addr) = snap.macs.slot_addr(snap.macs.hash(&key)) {
            hint(addr);
        }
    }
}
