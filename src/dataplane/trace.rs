//! Frames traced through the real pipeline (`vxswitch trace`): `Traced` wraps an I/O and
//! records each stage's step (`trace!`) and each transmit. A dry run wraps `DryIo`,
//! which sends nothing, with counters and an event queue of its own: the live tables are
//! read, nothing is changed. A live trace wraps the worker's own I/O for the next frames of
//! one port (`LiveTrace`): they are forwarded as any other, and their steps kept.

use super::counters::Counters;
use super::frame::{Frame, FrameIo};
use super::pipeline::{process, Ctx, Pipeline};
use crate::api::trace::{Step, TracedFrame};
use crate::tables::{PortIdx, Snapshot};
use crossbeam_queue::ArrayQueue;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// An I/O that records what the stages decide, then does what `inner` does.
pub struct Traced<'a, IO: FrameIo> {
    pub inner: &'a mut IO,
    pub steps: Vec<Step>,
}

impl<IO: FrameIo> FrameIo for Traced<'_, IO> {
    type Frame = IO::Frame;
    const DRY_RUN: bool = IO::DRY_RUN;
    fn send(&mut self, port: PortIdx, frame: Self::Frame) {
        self.steps.push(Step::Tx {
            port,
            len: frame.data().len(),
        });
        self.inner.send(port, frame);
    }
    fn free(&mut self, frame: Self::Frame) {
        self.inner.free(frame);
    }
    fn share(&mut self, frame: &Self::Frame) -> Self::Frame {
        self.inner.share(frame)
    }
    fn with_header(
        &mut self,
        payload: &Self::Frame,
        header_len: usize,
        write: impl FnOnce(&mut [u8]),
    ) -> Option<Self::Frame> {
        self.inner.with_header(payload, header_len, write)
    }
    fn alloc(&mut self, len: usize) -> Option<Self::Frame> {
        self.inner.alloc(len)
    }
    const TRACING: bool = true;
    fn record(&mut self, step: Step) {
        self.steps.push(step);
    }
}

/// Runs one frame through the pipeline with its steps recorded.
pub fn trace_frame<IO: FrameIo>(
    p: &mut Pipeline,
    snap: &Snapshot,
    io: &mut IO,
    port: PortIdx,
    frame: IO::Frame,
) -> TracedFrame {
    let mut traced = Traced {
        inner: io,
        steps: Vec::new(),
    };
    let mut cx = Ctx {
        p,
        snap,
        io: &mut traced,
    };
    process(&mut cx, port, frame);
    TracedFrame {
        generation: snap.generation,
        steps: traced.steps,
    }
}

/// Headroom of a dry run's frames (room for the VXLAN headers).
const DRY_HEADROOM: usize = 128;

/// A frame of a dry run: its bytes after `start`.
#[derive(Clone)]
pub struct DryFrame {
    buf: Vec<u8>,
    start: usize,
}

impl DryFrame {
    fn new(bytes: &[u8]) -> DryFrame {
        let mut buf = vec![0; DRY_HEADROOM];
        buf.extend_from_slice(bytes);
        DryFrame {
            buf,
            start: DRY_HEADROOM,
        }
    }
}

impl Frame for DryFrame {
    fn data(&self) -> &[u8] {
        &self.buf[self.start..]
    }
    fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.start..]
    }
    fn prepend(&mut self, len: usize) -> Option<&mut [u8]> {
        self.start = self.start.checked_sub(len)?;
        Some(&mut self.buf[self.start..self.start + len])
    }
    fn adj(&mut self, len: usize) -> bool {
        if self.data().len() < len {
            return false;
        }
        self.start += len;
        true
    }
    fn truncate(&mut self, len: usize) -> bool {
        if self.data().len() < len {
            return false;
        }
        self.buf.truncate(self.start + len);
        true
    }
}

/// The I/O of a dry run: whatever would be sent is dropped.
pub struct DryIo;

impl FrameIo for DryIo {
    type Frame = DryFrame;
    const DRY_RUN: bool = true;
    fn send(&mut self, _port: PortIdx, _frame: DryFrame) {}
    fn free(&mut self, _frame: DryFrame) {}
    fn share(&mut self, frame: &DryFrame) -> DryFrame {
        frame.clone()
    }
    fn with_header(
        &mut self,
        payload: &DryFrame,
        header_len: usize,
        write: impl FnOnce(&mut [u8]),
    ) -> Option<DryFrame> {
        let mut bytes = vec![0; header_len];
        write(&mut bytes);
        bytes.extend_from_slice(payload.data());
        Some(DryFrame::new(&bytes))
    }
    fn alloc(&mut self, len: usize) -> Option<DryFrame> {
        Some(DryFrame::new(&vec![0; len]))
    }
}

/// `bytes` arriving on `port`, traced against `snap` without sending, learning or reporting
/// anything (the stages' counters and events go to throwaway copies).
pub fn dry_run(snap: &Snapshot, port: PortIdx, bytes: &[u8], now: u32) -> TracedFrame {
    let counters = Arc::new(Counters::with_vni_slots(snap.vnis.len()));
    let mut p = Pipeline::new(counters, Arc::new(ArrayQueue::new(64)));
    p.now = now;
    trace_frame(&mut p, snap, &mut DryIo, port, DryFrame::new(bytes))
}

/// No port is being traced.
const OFF: u32 = u32::MAX;

/// A live trace: the port whose next frames the workers trace, how many are left, and the
/// frames recorded. The workers read `port` once per non-empty poll of a queue.
pub struct LiveTrace {
    port: AtomicU32,
    left: AtomicU32,
    frames: ArrayQueue<TracedFrame>,
}

impl LiveTrace {
    pub fn new(capacity: usize) -> LiveTrace {
        LiveTrace {
            port: AtomicU32::new(OFF),
            left: AtomicU32::new(0),
            frames: ArrayQueue::new(capacity.max(1)),
        }
    }
    /// Starts tracing `count` frames of `port`; false if a trace is running.
    pub fn arm(&self, port: PortIdx, count: u32) -> bool {
        let free = self
            .port
            .compare_exchange(OFF, u32::from(port), Ordering::AcqRel, Ordering::Relaxed)
            .is_ok();
        if free {
            while self.frames.pop().is_some() {}
            self.left.store(count, Ordering::Release);
        }
        free
    }
    pub fn disarm(&self) {
        self.left.store(0, Ordering::Relaxed);
        self.port.store(OFF, Ordering::Release);
    }
    /// Whether frames of `port` are being traced (one relaxed load).
    #[inline]
    pub fn wants(&self, port: PortIdx) -> bool {
        self.port.load(Ordering::Relaxed) == u32::from(port)
    }
    /// Takes one of the frames left to trace.
    pub fn take(&self) -> bool {
        self.left
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
    }
    pub fn record(&self, f: TracedFrame) {
        let _ = self.frames.push(f);
    }
    /// The frames recorded so far.
    pub fn drain(&self) -> Vec<TracedFrame> {
        std::iter::from_fn(|| self.frames.pop()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_live_trace_at_a_time_for_the_count_asked() {
        let t = LiveTrace::new(4);
        assert!(!t.wants(1));
        assert!(t.arm(1, 2));
        assert!(!t.arm(2, 5), "a second trace while one runs");
        assert!(t.wants(1) && !t.wants(2));
        assert!(t.take() && t.take() && !t.take());
        t.disarm();
        assert!(!t.wants(1) && t.arm(2, 1));
    }
}
