//! A worker: pinned to one core, polls its RX queues in bursts, runs the pipeline, transmits
//! in bursts, and loads the table snapshot once per burst round.

use crate::api::capture::Direction;
use crate::dataplane::capture::Capture;
use crate::dataplane::pipeline::{prefetch_targets, PREFETCH_MIN_MACS};
use crate::dataplane::trace::{trace_frame, LiveTrace};
use crate::dataplane::{inject, process, Ctx, DropReason, FrameIo, Pipeline, SlowFrame};
use crate::dpdk::{self, MbufIo, Mempool, RxBurst, StartedPort, TxCounts, TxLock, TxQueue};
use crate::tables::{PortIdx, Snapshot, SnapshotCell};
use crossbeam_queue::ArrayQueue;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Empty poll rounds before the idle back-off sleeps.
const IDLE_ROUNDS_BEFORE_SLEEP: u32 = 64;

/// What one worker polls and where it transmits.
pub struct WorkerPlan {
    pub core: usize,
    /// (port, RX queue) pairs this worker polls.
    pub rx: Vec<(PortIdx, u16)>,
    /// The TX queue this worker uses on each port (by PortIdx); shared when the port's
    /// lock list has it.
    pub tx_queues: Vec<u16>,
    /// Frames the management thread wants sent or flooded (worker 0 only).
    pub slow_tx: Option<Arc<ArrayQueue<SlowFrame>>>,
}

/// What the worker shares with the rest of the process.
pub struct WorkerEnv<'a> {
    pub pool: &'a Mempool<'a>,
    pub large: Option<&'a Mempool<'a>>,
    pub ports: &'a [&'a StartedPort<'a>],
    /// Per port, the locks of its TX queues when workers share them (empty: a queue each).
    pub tx_locks: &'a [Vec<TxLock>],
    pub cell: &'a SnapshotCell,
    pub stop: &'a AtomicBool,
    pub clock: &'a AtomicU32,
    pub idle_sleep: Option<Duration>,
    /// The port whose next frames `vxswitch trace --live` records.
    pub trace: &'a LiveTrace,
    /// The port `vxswitch capture` copies frames of.
    pub capture: &'a Capture,
}

/// Runs until `stop` is set; returns the TX counts per port.
pub fn run(env: &WorkerEnv<'_>, plan: &WorkerPlan, mut pipeline: Pipeline) -> Vec<TxCounts> {
    let tx: Vec<TxQueue<'_>> = plan
        .tx_queues
        .iter()
        .zip(env.tx_locks)
        .map(|(&queue, locks)| TxQueue {
            queue,
            lock: locks.get(usize::from(queue)),
        })
        .collect();
    let mut io = MbufIo::new(env.pool, env.large, env.ports, &tx).with_capture(env.capture);
    let mut reader = env.cell.reader();
    let mut burst = RxBurst::default();
    let mut idle_rounds = 0u32;
    while !env.stop.load(Ordering::Relaxed) {
        let round_start = dpdk::rdtsc();
        // A reference to the reader's cached Arc, not a clone: a clone would write the
        // snapshot's reference count, one cache line for every worker, each round.
        let snap: &Snapshot = reader.load();
        pipeline.now = env.clock.load(Ordering::Relaxed);
        let mut received = 0;
        for &(port, queue) in &plan.rx {
            let n = burst.poll(env.ports[usize::from(port)], queue);
            if n == 0 {
                continue;
            }
            received += n;
            if snap.macs.len() >= PREFETCH_MIN_MACS {
                burst.peek(|d| prefetch_targets(snap, port, d, dpdk::prefetch));
            }
            if env.capture.wants(port, Direction::Rx) {
                burst.peek(|d| env.capture.frame(Direction::Rx, d));
            }
            if env.trace.wants(port) {
                traced_burst(env.trace, &mut pipeline, snap, &mut io, port, &mut burst);
                continue;
            }
            let mut cx = Ctx {
                p: &mut pipeline,
                snap,
                io: &mut io,
            };
            for m in burst.drain() {
                if m.nb_segs() != 1 {
                    cx.drop_frame(m, DropReason::MultiSegment);
                    continue;
                }
                process(&mut cx, port, m);
            }
        }
        if let Some(q) = &plan.slow_tx {
            let mut cx = Ctx {
                p: &mut pipeline,
                snap,
                io: &mut io,
            };
            while let Some(f) = q.pop() {
                inject(&mut cx, &f);
            }
        }
        io.flush();
        if received == 0 {
            idle_rounds += 1;
            if let Some(d) = env.idle_sleep {
                if idle_rounds >= IDLE_ROUNDS_BEFORE_SLEEP {
                    std::thread::sleep(d);
                }
            }
        } else {
            idle_rounds = 0;
            pipeline
                .counters
                .busy(dpdk::rdtsc().wrapping_sub(round_start), received as u64);
        }
    }
    io.flush();
    (0..env.ports.len())
        .map(|p| io.tx_counts(p as PortIdx))
        .collect()
}

/// A burst of the port being traced live: its frames go through the pipeline with their
/// steps recorded, kept while the count lasts. (Every frame of the burst is traced, so that
/// the data path's `process` keeps a single call site and stays inlined in the loop.)
#[cold]
fn traced_burst(
    trace: &LiveTrace,
    pipeline: &mut Pipeline,
    snap: &Snapshot,
    io: &mut MbufIo<'_>,
    port: PortIdx,
    burst: &mut RxBurst,
) {
    for m in burst.drain() {
        if m.nb_segs() != 1 {
            io.free(m);
            pipeline.counters.dropped(DropReason::MultiSegment);
            continue;
        }
        let f = trace_frame(pipeline, snap, io, port, m);
        if trace.take() {
            trace.record(f);
        }
    }
}
