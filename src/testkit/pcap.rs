//! Writing classic pcap files (microsecond, Ethernet) for the tests' and the bench's traffic:
//! the format DPDK's `net_pcap` vdev replays. Reading is the lab's (`lab::capture::read`).

use std::io::{self, Write};

pub use crate::lab::capture::read;

const MAGIC_US: u32 = 0xa1b2_c3d4;
const LINKTYPE_ETHERNET: u32 = 1;

/// Writes the global header, then one record per frame.
pub fn write<W: Write>(mut w: W, frames: &[Vec<u8>]) -> io::Result<()> {
    let mut hdr = Vec::with_capacity(24);
    hdr.extend_from_slice(&MAGIC_US.to_le_bytes());
    hdr.extend_from_slice(&2u16.to_le_bytes());
    hdr.extend_from_slice(&4u16.to_le_bytes());
    hdr.extend_from_slice(&0i32.to_le_bytes());
    hdr.extend_from_slice(&0u32.to_le_bytes());
    hdr.extend_from_slice(&65535u32.to_le_bytes());
    hdr.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
    w.write_all(&hdr)?;
    for (i, f) in frames.iter().enumerate() {
        let len = u32::try_from(f.len()).map_err(|_| io::Error::other("frame too large"))?;
        w.write_all(&(i as u32).to_le_bytes())?; // seconds: the frame's index, so order shows
        w.write_all(&0u32.to_le_bytes())?;
        w.write_all(&len.to_le_bytes())?;
        w.write_all(&len.to_le_bytes())?;
        w.write_all(f)?;
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    #[test]
    fn write_then_read_gives_the_same_frames() {
        let frames = vec![vec![1u8; 60], vec![2u8; 1514], vec![]];
        let mut buf = Vec::new();
        super::write(&mut buf, &frames).unwrap();
        assert_eq!(super::read(&buf[..]).unwrap(), frames);
    }

    #[test]
    fn truncated_file_is_an_error_not_a_panic() {
        let mut buf = Vec::new();
        super::write(&mut buf, &[vec![7u8; 100]]).unwrap();
        assert!(super::read(&buf[..90]).is_err());
        assert!(super::read(&buf[..10]).is_err());
    }
}
