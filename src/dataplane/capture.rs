//! Live capture (`vxswitch capture`): while an operator captures a port, the workers copy
//! its received frames (after each RX burst) and transmitted ones (at each TX flush) into a
//! bounded queue the control socket drains into a pcap. Nobody capturing costs one relaxed
//! load per non-empty RX poll and per TX flush; a full queue loses frames, counted.

use crate::api::capture::{CapturedFrame, Direction};
use crate::tables::PortIdx;
use crossbeam_queue::ArrayQueue;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Frames the queue holds between two drains by the control socket.
pub const CAPTURE_QUEUE: usize = 8192;

/// No port is captured.
const OFF: u32 = u32::MAX;

/// The capture the workers feed.
pub struct Capture {
    port: AtomicU32,
    /// Bit 0: RX, bit 1: TX.
    directions: AtomicU32,
    snaplen: AtomicU32,
    /// Frames still to take: copying stops at the count asked.
    left: AtomicU64,
    frames: ArrayQueue<CapturedFrame>,
    lost: AtomicU64,
}

impl Default for Capture {
    fn default() -> Self {
        Capture {
            port: AtomicU32::new(OFF),
            directions: AtomicU32::new(0),
            snaplen: AtomicU32::new(0),
            left: AtomicU64::new(0),
            frames: ArrayQueue::new(CAPTURE_QUEUE),
            lost: AtomicU64::new(0),
        }
    }
}

fn bit(d: Direction) -> u32 {
    match d {
        Direction::Rx => 1,
        Direction::Tx => 2,
    }
}

impl Capture {
    /// Starts capturing `count` frames of `port` in `directions`, cut at `snaplen` bytes;
    /// false if a capture is running.
    pub fn start(&self, port: PortIdx, directions: &[Direction], snaplen: u32, count: u64) -> bool {
        if self
            .port
            .compare_exchange(OFF, OFF - 1, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        while self.frames.pop().is_some() {}
        self.lost.store(0, Ordering::Relaxed);
        self.snaplen.store(snaplen, Ordering::Relaxed);
        self.left.store(count, Ordering::Relaxed);
        let dirs = directions.iter().map(|d| bit(*d)).fold(0, |a, b| a | b);
        self.directions.store(dirs, Ordering::Relaxed);
        self.port.store(u32::from(port), Ordering::Release);
        true
    }
    pub fn stop(&self) {
        self.port.store(OFF, Ordering::Release);
    }
    /// Whether `port`'s frames going `direction` are captured (one relaxed load when not).
    #[inline]
    pub fn wants(&self, port: PortIdx, direction: Direction) -> bool {
        self.port.load(Ordering::Relaxed) == u32::from(port)
            && self.directions.load(Ordering::Relaxed) & bit(direction) != 0
    }
    /// The most bytes of a frame kept.
    pub fn snaplen(&self) -> usize {
        self.snaplen.load(Ordering::Relaxed) as usize
    }
    /// Queues a frame (or counts it lost when the queue is full), until the count is taken.
    pub fn record(&self, direction: Direction, orig_len: u32, bytes: Vec<u8>) {
        let taken = self
            .left
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |n| n.checked_sub(1));
        if taken.is_err() {
            return;
        }
        let c = CapturedFrame {
            unix_us: crate::wire::pcap::now_us(),
            direction,
            orig_len,
            bytes,
        };
        if self.frames.push(c).is_err() {
            self.lost.fetch_add(1, Ordering::Relaxed);
            // Not captured: another frame may take its place in the count.
            self.left.fetch_add(1, Ordering::AcqRel);
        }
    }
    /// Copies `data` (a whole frame) up to the snap length.
    pub fn frame(&self, direction: Direction, data: &[u8]) {
        let keep = data.len().min(self.snaplen());
        self.record(direction, data.len() as u32, data[..keep].to_vec());
    }
    /// The frames queued so far.
    pub fn drain(&self) -> Vec<CapturedFrame> {
        std::iter::from_fn(|| self.frames.pop()).collect()
    }
    /// Frames lost to a full queue since the start.
    pub fn lost(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_capture_at_a_time_taking_the_count_asked_and_counting_losses() {
        let c = Capture::default();
        assert!(!c.wants(1, Direction::Rx));
        assert!(c.start(1, &[Direction::Rx], 4, 2));
        assert!(
            !c.start(2, &[Direction::Tx], 4, 2),
            "a second capture while one runs"
        );
        assert!(
            c.wants(1, Direction::Rx) && !c.wants(1, Direction::Tx) && !c.wants(2, Direction::Rx)
        );
        for _ in 0..3 {
            c.frame(Direction::Rx, &[1, 2, 3, 4, 5, 6]);
        }
        let got: Vec<_> = c
            .drain()
            .into_iter()
            .map(|f| (f.orig_len, f.bytes))
            .collect();
        assert_eq!(got, [(6, vec![1, 2, 3, 4]), (6, vec![1, 2, 3, 4])]);
        c.stop();
        // Unbounded: a full queue loses frames, counted.
        assert!(c.start(1, &[Direction::Tx], 64, u64::MAX));
        for _ in 0..CAPTURE_QUEUE + 5 {
            c.frame(Direction::Tx, &[0; 60]);
        }
        assert_eq!(c.lost(), 5);
    }
}
