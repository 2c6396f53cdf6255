//! A data plane in memory for scenario tests: the real table manager and pipeline over
//! `MemIo`, driven step by step as a worker and the management thread would (frames in,
//! events applied, slow-path frames sent).

use super::{MemFrame, MemIo};
use crate::config::Config;
use crate::dataplane::events::{Event, EventQueue};
use crate::dataplane::{inject, process, Counters, Ctx, Pipeline};
use crate::host::{initial_snapshot, TableManager};
use crate::tables::{PortIdx, Snapshot, SnapshotCell};
use crate::wire::MacAddr;
use std::sync::Arc;

pub struct HostRig {
    pub cell: Arc<SnapshotCell>,
    pub m: TableManager,
    pub pipeline: Pipeline,
    pub io: MemIo,
    pub events: Arc<EventQueue>,
    /// Frames handed to the pipeline by `send`.
    pub received: usize,
}

impl HostRig {
    /// A host on `config` (which must be valid), its uplink MAC all zero, counters for
    /// each of its VNIs.
    pub fn new(config: &str) -> HostRig {
        let cfg = Config::parse(config).expect("a valid test config");
        let snap = initial_snapshot(&cfg, cfg.vtep.identity(MacAddr::ZERO), 0);
        let counters = Counters::with_vni_slots(snap.vnis.len());
        let cell = Arc::new(SnapshotCell::new(snap));
        let events = Arc::new(EventQueue::new(64));
        HostRig {
            m: TableManager::new(Arc::clone(&cell), &cfg),
            cell,
            pipeline: Pipeline::new(Arc::new(counters), Arc::clone(&events)),
            io: MemIo::default(),
            events,
            received: 0,
        }
    }
    pub fn snap(&self) -> Arc<Snapshot> {
        self.cell.load()
    }
    /// One frame received on `port`, through the pipeline.
    pub fn send(&mut self, port: PortIdx, bytes: &[u8]) {
        let snap = self.snap();
        let mut cx = Ctx {
            p: &mut self.pipeline,
            snap: &snap,
            io: &mut self.io,
        };
        process(&mut cx, port, MemFrame::new(bytes));
        self.received += 1;
    }
    /// Frames received or made that were neither sent nor freed (a leak of mbufs in the
    /// real data plane): 0 when every frame went somewhere.
    pub fn outstanding(&self) -> isize {
        self.io.outstanding(self.received)
    }
    /// Workers' events to the manager, as the management loop does (at second 1).
    pub fn manage(&mut self) {
        let ev: Vec<Event> = std::iter::from_fn(|| self.events.pop()).collect();
        self.m.apply(&ev, 1);
    }
    /// The slow-path frames the manager produced, run by "worker 0".
    pub fn run_slow_path(&mut self) {
        let frames = std::mem::take(&mut self.m.out.frames);
        let snap = self.snap();
        let mut cx = Ctx {
            p: &mut self.pipeline,
            snap: &snap,
            io: &mut self.io,
        };
        for f in &frames {
            inject(&mut cx, f);
        }
    }
}
