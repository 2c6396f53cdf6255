//! In-memory frames and I/O for the pipeline, without EAL: what the scenario tests push
//! frames through and read the output of.

use crate::dataplane::frame::{Frame, FrameIo};
use crate::tables::PortIdx;

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

/// In-memory I/O: records what was sent where, in order, and counts frames made and
/// released, so that a test can check that every frame was sent or freed (an mbuf leak
/// otherwise).
#[derive(Default, Debug)]
pub struct MemIo {
    pub sent: Vec<(PortIdx, Vec<u8>)>,
    pub freed: usize,
    /// Frames made by the pipeline (shared, headed, allocated).
    pub made: usize,
    /// Frames sent in all (`sent` may be cleared by a test between steps).
    pub sends: usize,
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

    /// Frames not yet sent or freed, given `received` frames handed to the pipeline: 0 when
    /// every frame made or received went somewhere.
    pub fn outstanding(&self, received: usize) -> isize {
        (received + self.made) as isize - (self.sends + self.freed) as isize
    }
}

impl FrameIo for MemIo {
    type Frame = MemFrame;
    fn send(&mut self, port: PortIdx, frame: MemFrame) {
        self.sends += 1;
        self.sent.push((port, frame.into_bytes()));
    }
    fn free(&mut self, _frame: MemFrame) {
        self.freed += 1;
    }
    fn share(&mut self, frame: &MemFrame) -> MemFrame {
        self.made += 1;
        frame.clone()
    }
    fn with_header(
        &mut self,
        payload: &MemFrame,
        header_len: usize,
        write: impl FnOnce(&mut [u8]),
    ) -> Option<MemFrame> {
        let mut f = payload.clone();
        let header = f.prepend(header_len)?;
        // Garbage where the caller must write, so that a header left unwritten shows.
        header.fill(0xa5);
        write(header);
        self.made += 1;
        Some(f)
    }
    fn alloc(&mut self, len: usize) -> Option<MemFrame> {
        self.made += 1;
        Some(MemFrame::new(&vec![0; len]))
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
