//! What the pipeline needs of a packet buffer and of the I/O around it.
//!
//! The pipeline is generic over these traits so that the same code runs on DPDK mbufs in a
//! worker and on in-memory frames in tests and in `vxswitch trace`, without EAL.
#![forbid(unsafe_code)]

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
    /// Queues `frame` for transmission on `port`; the I/O counts what the NIC refuses.
    fn send(&mut self, port: PortIdx, frame: Self::Frame);
    /// Releases a frame the pipeline dropped (already counted by reason).
    fn free(&mut self, frame: Self::Frame);
    /// Another reference to the same bytes (refcount); neither may be written afterwards.
    fn share(&mut self, frame: &Self::Frame) -> Self::Frame;
    /// A new frame made of `header` followed by `payload`'s bytes, sharing the payload.
    fn with_header(&mut self, payload: &Self::Frame, header: &[u8]) -> Option<Self::Frame>;
    /// A new frame holding a copy of `bytes` (slow path: the VTEP stack's own frames).
    fn alloc(&mut self, bytes: &[u8]) -> Option<Self::Frame>;
}

/// Headroom of an in-memory frame, as DPDK's RTE_PKTMBUF_HEADROOM.
pub const MEM_HEADROOM: usize = 128;

/// An in-memory frame with headroom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemFrame {
    buf: Vec<u8>,
    start: usize,
}

impl MemFrame {
    pub fn new(bytes: &[u8]) -> MemFrame {
        let mut buf = vec![0u8; MEM_HEADROOM];
        buf.extend_from_slice(bytes);
        MemFrame {
            buf,
            start: MEM_HEADROOM,
        }
    }
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf[self.start..].to_vec()
    }
}

impl Frame for MemFrame {
    fn data(&self) -> &[u8] {
        &self.buf[self.start..]
    }
    fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.start..]
    }
    fn prepend(&mut self, len: usize) -> Option<&mut [u8]> {
        if len > self.start {
            return None;
        }
        self.start -= len;
        Some(&mut self.buf[self.start..self.start + len])
    }
    fn adj(&mut self, len: usize) -> bool {
        if len > self.buf.len() - self.start {
            return false;
        }
        self.start += len;
        true
    }
    fn truncate(&mut self, len: usize) -> bool {
        if len > self.buf.len() - self.start {
            return false;
        }
        self.buf.truncate(self.start + len);
        true
    }
}

/// In-memory I/O: records what was sent where, in order.
#[derive(Default, Debug)]
pub struct MemIo {
    pub sent: Vec<(PortIdx, Vec<u8>)>,
    pub freed: usize,
}

impl MemIo {
    /// The frames sent on `port`, in order.
    pub fn sent_on(&self, port: PortIdx) -> Vec<&[u8]> {
        self.sent
            .iter()
            .filter(|(p, _)| *p == port)
            .map(|(_, f)| &f[..])
            .collect()
    }
}

impl FrameIo for MemIo {
    type Frame = MemFrame;
    fn send(&mut self, port: PortIdx, frame: MemFrame) {
        self.sent.push((port, frame.into_bytes()));
    }
    fn free(&mut self, _frame: MemFrame) {
        self.freed += 1;
    }
    fn share(&mut self, frame: &MemFrame) -> MemFrame {
        frame.clone()
    }
    fn with_header(&mut self, payload: &MemFrame, header: &[u8]) -> Option<MemFrame> {
        let mut f = payload.clone();
        f.prepend(header.len())?.copy_from_slice(header);
        Some(f)
    }
    fn alloc(&mut self, bytes: &[u8]) -> Option<MemFrame> {
        Some(MemFrame::new(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepend_adj_truncate_keep_bounds() {
        let mut f = MemFrame::new(&[1, 2, 3, 4]);
        f.prepend(2).unwrap().copy_from_slice(&[9, 9]);
        assert_eq!(f.data(), &[9, 9, 1, 2, 3, 4]);
        assert!(f.adj(3));
        assert_eq!(f.data(), &[2, 3, 4]);
        assert!(!f.adj(4));
        assert!(f.truncate(2));
        assert_eq!(f.data(), &[2, 3]);
        assert!(!f.truncate(3));
        assert!(f.prepend(MEM_HEADROOM + 10).is_none());
    }
}
