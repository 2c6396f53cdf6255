//! What the pipeline needs of a packet buffer and of the I/O around it.
//!
//! The pipeline is generic over these traits so that the same code runs on DPDK mbufs in a
//! worker (the DPDK module implements them) and on in-memory frames in tests, without EAL.

use crate::api::trace::Step;
use crate::tables::PortIdx;

/// A received frame: one contiguous buffer with headroom in front.
pub trait Frame: Sized {
    fn data(&self) -> &[u8];
    fn data_mut(&mut self) -> &mut [u8];
    /// Grows the frame at the front by `len` bytes and returns them, or `None` without
    /// headroom.
    fn prepend(&mut self, len: usize) -> Option<&mut [u8]>;
    /// Removes `len` bytes from the front; false (and unchanged) if the frame is shorter.
    fn adj(&mut self, len: usize) -> bool;
    /// Cuts the frame to `len` bytes; false (and unchanged) if it is shorter.
    fn truncate(&mut self, len: usize) -> bool;
}

/// The output side of one worker: transmit queues, the drop path and buffer sharing.
pub trait FrameIo {
    type Frame: Frame;
    /// A trace's dry run: the stages change nothing shared (not even a MAC's age).
    const DRY_RUN: bool = false;
    /// Queues `frame` for transmission on `port`; the I/O counts what the NIC refuses.
    fn send(&mut self, port: PortIdx, frame: Self::Frame);
    /// Releases a frame the pipeline dropped (already counted by reason).
    fn free(&mut self, frame: Self::Frame);
    /// Another reference to the same bytes (refcount); neither may be written afterwards.
    fn share(&mut self, frame: &Self::Frame) -> Self::Frame;
    /// A new frame: `header_len` bytes that `write` fills (contents unspecified before),
    /// then `payload`'s bytes, shared where the port transmits chains. The header is written
    /// in place, through the slice the I/O already holds: a header built aside and copied
    /// in, or the new frame's fields read back to find it, stalled on stores just made.
    fn with_header(
        &mut self,
        payload: &Self::Frame,
        header_len: usize,
        write: impl FnOnce(&mut [u8]),
    ) -> Option<Self::Frame>;
    /// A new frame of `len` bytes whose contents the caller writes (the VTEP stack's own
    /// frames, segments of a GSO frame).
    fn alloc(&mut self, len: usize) -> Option<Self::Frame>;
    /// This I/O records a traced frame's steps (`trace!`). False for the workers' I/O: a
    /// constant per pipeline instance, so the data path's code holds no trace at all (a
    /// closure passed to an empty inlined method still cost decap 20% of its rate).
    const TRACING: bool = false;
    /// Records a stage's decision (called only where `TRACING`).
    fn record(&mut self, _step: Step) {}
}

/// A stage's decision about the frame in hand, for `vxswitch trace`: `trace!(cx.io, step)`
/// builds and records the step only in a pipeline instance whose I/O traces. (Used inside
/// functions generic over `IO: FrameIo`.)
macro_rules! trace {
    ($io:expr, $step:expr) => {
        if IO::TRACING {
            $io.record($step);
        }
    };
}
pub(crate) use trace;
