//! The per-worker pipeline state and the two entry points, one per kind of port.
//! Each stage lives in its own file; all are generic over `FrameIo` so that the same code
//! runs on mbufs and on in-memory frames.

use super::counters::{Counters, DropReason, Stat};
use super::events::{EventQueue, ReportCache};
use crate::frame::FrameIo;
use crate::tables::{PortIdx, Snapshot, UPLINK};
use std::sync::Arc;

/// State a worker keeps across bursts.
pub struct Pipeline {
    pub counters: Arc<Counters>,
    pub events: Arc<EventQueue>,
    pub(super) reported: ReportCache,
    /// Seconds clock for aging, set by the worker once per burst.
    pub now: u32,
}

impl Pipeline {
    pub fn new(counters: Arc<Counters>, events: Arc<EventQueue>) -> Pipeline {
        Pipeline {
            counters,
            events,
            reported: ReportCache::default(),
            now: 0,
        }
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
        self.p.counters.dropped(reason);
        self.io.free(frame);
    }
}

/// Runs one frame received on `port` through the pipeline.
#[inline]
pub fn process<IO: FrameIo>(cx: &mut Ctx<'_, IO>, port: PortIdx, frame: IO::Frame) {
    if port == UPLINK {
        cx.p.counters.add(Stat::RxUplink, 1);
        super::uplink::receive(cx, frame);
    } else {
        cx.p.counters.add(Stat::RxAccess, 1);
        super::access::receive(cx, port, frame);
    }
}
