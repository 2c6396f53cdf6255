//! Classic pcap files (microsecond, Ethernet), the format DPDK's `net_pcap` vdev replays,
//! tcpdump writes and Wireshark opens: whole files for tests and the bench, a streaming
//! writer for `vxswitch capture`, and a reader of any byte order and time resolution.

use std::io::{self, Read, Write};
use std::time::SystemTime;

const MAGIC_US: u32 = 0xa1b2_c3d4;
const LINKTYPE_ETHERNET: u32 = 1;

/// Largest record kept whole (the header's snap length).
const SNAPLEN: u32 = 65535;

/// Writes the global header, then one record per frame (stamped with its index in seconds,
/// so that the order shows).
pub fn write<W: Write>(w: W, frames: &[Vec<u8>]) -> io::Result<()> {
    let mut p = PcapWriter::new(w)?;
    for (i, f) in frames.iter().enumerate() {
        p.record(u64::try_from(i).unwrap_or(u64::MAX) * 1_000_000, f.len(), f)?;
    }
    p.finish()
}

/// A pcap file written as frames come.
pub struct PcapWriter<W: Write> {
    w: W,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the global header.
    pub fn new(mut w: W) -> io::Result<PcapWriter<W>> {
        let mut hdr = Vec::with_capacity(24);
        hdr.extend_from_slice(&MAGIC_US.to_le_bytes());
        hdr.extend_from_slice(&2u16.to_le_bytes());
        hdr.extend_from_slice(&4u16.to_le_bytes());
        hdr.extend_from_slice(&0i32.to_le_bytes());
        hdr.extend_from_slice(&0u32.to_le_bytes());
        hdr.extend_from_slice(&SNAPLEN.to_le_bytes());
        hdr.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
        w.write_all(&hdr)?;
        Ok(PcapWriter { w })
    }
    /// One frame at `unix_us` microseconds: `orig_len` bytes on the wire, of which `bytes`
    /// were kept.
    pub fn record(&mut self, unix_us: u64, orig_len: usize, bytes: &[u8]) -> io::Result<()> {
        let kept = bytes.len().min(SNAPLEN as usize);
        let secs = u32::try_from(unix_us / 1_000_000).unwrap_or(u32::MAX);
        let usecs = (unix_us % 1_000_000) as u32;
        self.w.write_all(&secs.to_le_bytes())?;
        self.w.write_all(&usecs.to_le_bytes())?;
        self.w.write_all(&(kept as u32).to_le_bytes())?;
        self.w
            .write_all(&u32::try_from(orig_len).unwrap_or(u32::MAX).to_le_bytes())?;
        self.w.write_all(&bytes[..kept])
    }
    pub fn finish(mut self) -> io::Result<()> {
        self.w.flush()
    }
}

/// Microseconds since the Unix epoch now.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
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
