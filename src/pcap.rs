//! Reading and writing classic pcap files (microsecond, Ethernet), for tests and the bench's
//! traffic: the same format DPDK's `net_pcap` vdev reads and writes.
#![forbid(unsafe_code)]

use std::io::{self, Read, Write};

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

/// Reads every frame of a little- or big-endian microsecond or nanosecond pcap file.
pub fn read<R: Read>(mut r: R) -> io::Result<Vec<Vec<u8>>> {
    let mut all = Vec::new();
    r.read_to_end(&mut all)?;
    let bad = |m: &str| io::Error::new(io::ErrorKind::InvalidData, m.to_owned());
    if all.len() < 24 {
        return Err(bad("pcap shorter than its global header"));
    }
    let magic = u32::from_le_bytes([all[0], all[1], all[2], all[3]]);
    let le = match magic {
        0xa1b2_c3d4 | 0xa1b2_3c4d => true,
        0xd4c3_b2a1 | 0x4d3c_b2a1 => false,
        _ => return Err(bad("not a pcap file (bad magic)")),
    };
    let u32_at = |b: &[u8], at: usize| {
        let a = [b[at], b[at + 1], b[at + 2], b[at + 3]];
        if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    };
    let mut frames = Vec::new();
    let mut at = 24;
    while at + 16 <= all.len() {
        let incl = u32_at(&all, at + 8) as usize;
        at += 16;
        if at + incl > all.len() {
            return Err(bad("pcap record runs past the end of the file"));
        }
        frames.push(all[at..at + incl].to_vec());
        at += incl;
    }
    Ok(frames)
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
