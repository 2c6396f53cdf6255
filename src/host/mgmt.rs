//! The management thread's loop: every millisecond it reads VM ports' links (a port up is a
//! VM powered on), applies the workers' events and the controllers' updates to the tables,
//! ages learned MACs, resolves next hops, applies static MAC edits as soon as they arrive,
//! and delivers what the table manager produced (agent commands, slow-path frames, echoes).

use super::link::LinkWatch;
use super::manager::TableManager;
use super::ping::EchoBoard;
use super::static_macs::MacEditJob;
use crate::agent::AgentLink;
use crate::dataplane::events::{Event, EventQueue, EVENT_QUEUE_LEN};
use crate::dataplane::SlowFrame;
use crate::dpdk::StartedPort;
use crate::tables::UPLINK;
use crossbeam_queue::ArrayQueue;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Management loop period: how often events are applied and published.
const MGMT_TICK: Duration = Duration::from_millis(1);
/// How often VM ports' link state is read.
const LINK_POLL: Duration = Duration::from_millis(100);

/// The management thread's loop and what it drives.
pub struct Mgmt<'a> {
    pub manager: &'a mut TableManager,
    pub link: &'a mut AgentLink,
    pub links: &'a mut LinkWatch,
    pub ports: &'a [StartedPort<'a>],
    pub slow_tx: &'a ArrayQueue<SlowFrame>,
    pub echoes: &'a EchoBoard,
    /// Static MAC edits from the control socket; waiting on it is the loop's tick.
    pub edits: &'a std::sync::mpsc::Receiver<MacEditJob>,
    pub arp_timeout: Option<Duration>,
    /// Reads the pools' mbufs in use; the loop stores it in `mbufs_shown` each second.
    pub mbufs_in_use: &'a dyn Fn() -> u32,
    pub mbufs_shown: &'a AtomicU64,
    /// What goes to Prometheus each second, when a metrics listener is configured (the loop
    /// then runs under its recorder).
    pub metrics: Option<super::metrics::Feed<'a>>,
}

impl Mgmt<'_> {
    /// Applies workers' events and controllers' updates, watches VM ports, ages, resolves
    /// next hops, and delivers what the manager produced, until stopped.
    pub fn run(
        &mut self,
        queues: &[Arc<EventQueue>],
        clock: &AtomicU32,
        stop: &AtomicBool,
        started: Instant,
    ) {
        let mut batch: Vec<Event> = Vec::with_capacity(EVENT_QUEUE_LEN);
        let mut last_second = u32::MAX;
        let mut last_link_poll: Option<Instant> = None;
        while !stop.load(Ordering::Relaxed) {
            let now = started.elapsed().as_secs() as u32;
            clock.store(now, Ordering::Relaxed);
            // Links first: a VM that powers on joins its VNI before its MACs are reported.
            let t = Instant::now();
            if last_link_poll.is_none_or(|l| t.duration_since(l) >= LINK_POLL) {
                last_link_poll = Some(t);
                let ports = self.ports;
                for (vni, up) in self.links.poll(|p| ports[usize::from(p)].link_up()) {
                    self.manager.port_link(vni, up);
                }
            }
            for q in queues {
                while let Some(e) = q.pop() {
                    batch.push(e);
                }
            }
            self.manager.apply(&batch, now);
            batch.clear();
            while let Some(u) = self.link.try_recv() {
                self.manager.control(u, now);
            }
            if let Some(timeout) = self.arp_timeout {
                self.manager.expire_queries(t, timeout);
            }
            if now != last_second {
                last_second = now;
                self.manager.age(now);
                let mbufs = u64::from((self.mbufs_in_use)());
                self.mbufs_shown.store(mbufs, Ordering::Relaxed);
                if let Some(feed) = &self.metrics {
                    super::metrics::export(feed, self.manager, mbufs);
                }
            }
            self.manager.report_groups(now);
            for bytes in self.manager.resolve(now) {
                let _ = self.slow_tx.push(SlowFrame::Send {
                    port: UPLINK,
                    bytes,
                });
            }
            self.deliver();
            self.manager.reclaim();
            // Sleep one tick, or less when an edit arrives: an edit is published at once.
            let mut next = match self.edits.recv_timeout(MGMT_TICK) {
                Ok(e) => Some(e),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => {
                    std::thread::sleep(MGMT_TICK);
                    None
                }
            };
            while let Some(e) = next {
                let r = self
                    .manager
                    .edit_macs(e.vni, e.first, e.count, e.target, now);
                let _ = e.done.send(r);
                next = self.edits.try_recv().ok();
            }
        }
    }

    fn deliver(&mut self) {
        let out = std::mem::take(&mut self.manager.out);
        for c in out.agent {
            if !self.link.send(c) {
                self.manager.stats.agent_cmds_lost += 1;
            }
        }
        for f in out.frames {
            // A full slow path loses the frame; the VM's ARP retries.
            let _ = self.slow_tx.push(f);
        }
        for (from, id, seq) in out.echoes {
            self.echoes.record(from, id, seq);
        }
    }
}
