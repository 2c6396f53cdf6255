//! Cutting a TCP GSO frame (IPv4, or IPv6 without extension headers) into segments that fit
//! the MTU, as a NIC's TSO (or Linux's software GSO) would: the same headers on every
//! segment, the IP length (IPv4: identification and checksum too) and the TCP sequence
//! number, flags and checksum set per segment.

use super::checksum::{checksum, fold, sum};
use super::{read_u16, write_u16};

const TCP: u8 = 6;
const FIN: u8 = 0x01;
const PSH: u8 = 0x08;
const CWR: u8 = 0x80;

/// Where a GSO frame's headers and payload are, and the segment size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpGso {
    l3_at: usize,
    v6: bool,
    /// The IP header's length (40 for IPv6).
    ihl: usize,
    thl: usize,
    payload_len: usize,
    mss: usize,
}

impl TcpGso {
    /// A plan for `frame` (an Ethernet frame whose IP header is at `l3_at`) when it
    /// carries TCP and its IP packet is longer than `mtu`; `None` for anything else,
    /// including a packet longer than the bytes present.
    pub fn new(frame: &[u8], l3_at: usize, mtu: usize) -> Option<TcpGso> {
        let ip = frame.get(l3_at..)?;
        let (v6, ihl, total) = match *ip.first()? >> 4 {
            4 if ip.len() >= 20 && ip[9] == TCP && read_u16(ip, 6) & 0x3fff == 0 => (
                false,
                usize::from(ip[0] & 0x0f) * 4,
                usize::from(read_u16(ip, 2)),
            ),
            6 if ip.len() >= 40 && ip[6] == TCP => (true, 40, 40 + usize::from(read_u16(ip, 4))),
            _ => return None,
        };
        if ihl < 20 || total > ip.len() || total <= mtu {
            return None;
        }
        let thl = usize::from(*ip.get(ihl + 12)? >> 4) * 4;
        if thl < 20 || ihl + thl >= total || ihl + thl >= mtu {
            return None;
        }
        Some(TcpGso {
            l3_at,
            v6,
            ihl,
            thl,
            payload_len: total - ihl - thl,
            mss: mtu - ihl - thl,
        })
    }

    /// How many segments the frame makes.
    pub fn count(&self) -> usize {
        self.payload_len.div_ceil(self.mss)
    }

    fn headers_end(&self) -> usize {
        self.l3_at + self.ihl + self.thl
    }

    fn chunk(&self, i: usize) -> usize {
        self.mss.min(self.payload_len - i * self.mss)
    }

    /// Frame bytes of segment `i` (below `count()`).
    pub fn segment_len(&self, i: usize) -> usize {
        self.headers_end() + self.chunk(i)
    }

    /// Writes segment `i` of `frame` into `out` (exactly `segment_len(i)` bytes).
    pub fn write(&self, frame: &[u8], i: usize, out: &mut [u8]) {
        let hdrs = self.headers_end();
        let from = hdrs + i * self.mss;
        let chunk = self.chunk(i);
        out[..hdrs].copy_from_slice(&frame[..hdrs]);
        out[hdrs..hdrs + chunk].copy_from_slice(&frame[from..from + chunk]);
        let last = i + 1 == self.count();
        let ip = &mut out[self.l3_at..];
        if self.v6 {
            write_u16(ip, 4, (self.thl + chunk) as u16);
        } else {
            write_u16(ip, 2, (self.ihl + self.thl + chunk) as u16);
            let id = read_u16(ip, 4).wrapping_add(i as u16);
            write_u16(ip, 4, id);
            write_u16(ip, 10, 0);
            let c = checksum(&ip[..self.ihl]);
            write_u16(ip, 10, c);
        }
        let tcp = &mut ip[self.ihl..];
        let seq = u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]])
            .wrapping_add((i * self.mss) as u32);
        tcp[4..8].copy_from_slice(&seq.to_be_bytes());
        if !last {
            tcp[13] &= !(FIN | PSH);
        }
        if i > 0 {
            tcp[13] &= !CWR;
        }
        write_u16(tcp, 16, 0);
        let ip = &out[self.l3_at..];
        let l4_len = self.thl + chunk;
        let addrs = if self.v6 { &ip[8..40] } else { &ip[12..20] };
        let pseudo = sum(addrs) + u32::from(TCP) + l4_len as u32;
        let c = !fold(pseudo + sum(&ip[self.ihl..self.ihl + l4_len]));
        write_u16(&mut out[self.l3_at + self.ihl..], 16, c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An Ethernet + IPv4 + TCP (with 12 bytes of options) frame carrying `payload`; its
    /// TCP checksum holds only the pseudo-header sum, as a GSO frame's does.
    fn gso_frame(payload: &[u8], flags: u8) -> Vec<u8> {
        let (ihl, thl) = (20, 32);
        let total = ihl + thl + payload.len();
        let mut f = vec![0u8; 14 + total];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        let ip = &mut f[14..];
        ip[0] = 0x45;
        write_u16(ip, 2, total as u16);
        write_u16(ip, 4, 0xfff0);
        ip[6] = 0x40;
        ip[8] = 64;
        ip[9] = TCP;
        ip[12..16].copy_from_slice(&[172, 16, 10, 11]);
        ip[16..20].copy_from_slice(&[172, 16, 10, 12]);
        let tcp = &mut ip[ihl..];
        write_u16(tcp, 0, 40000);
        write_u16(tcp, 2, 5201);
        tcp[4..8].copy_from_slice(&0xffff_f000u32.to_be_bytes());
        tcp[12] = ((thl / 4) as u8) << 4;
        tcp[13] = flags;
        tcp[20..32].copy_from_slice(&[1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
        f[14 + ihl + thl..].copy_from_slice(payload);
        f
    }

    fn verifies(seg: &[u8]) -> (bool, bool) {
        let ip = &seg[14..];
        let total = usize::from(read_u16(ip, 2));
        let ip_ok = fold(sum(&ip[..20])) == 0xffff;
        let pseudo = sum(&ip[12..20]) + 6 + (total - 20) as u32;
        (ip_ok, fold(pseudo + sum(&ip[20..total])) == 0xffff)
    }

    #[test]
    fn a_gso_frame_becomes_mtu_sized_segments_with_right_headers() {
        let payload: Vec<u8> = (0..10_000u32).map(|i| (i % 253) as u8).collect();
        let f = gso_frame(&payload, 0x18 | CWR | FIN); // PSH ACK CWR FIN
        let g = TcpGso::new(&f, 14, 1500).unwrap();
        let mss = 1500 - 52;
        assert_eq!(g.count(), payload.len().div_ceil(mss));
        let mut joined = Vec::new();
        for i in 0..g.count() {
            let mut seg = vec![0u8; g.segment_len(i)];
            g.write(&f, i, &mut seg);
            assert!(seg.len() - 14 <= 1500);
            assert_eq!(verifies(&seg), (true, true), "segment {i}");
            let ip = &seg[14..];
            assert_eq!(usize::from(read_u16(ip, 2)), seg.len() - 14);
            assert_eq!(read_u16(ip, 4), 0xfff0u16.wrapping_add(i as u16));
            let tcp = &ip[20..];
            let seq = u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]);
            assert_eq!(seq, 0xffff_f000u32.wrapping_add((i * mss) as u32));
            let last = i + 1 == g.count();
            assert_eq!(tcp[13] & FIN != 0, last);
            assert_eq!(tcp[13] & PSH != 0, last);
            assert_eq!(tcp[13] & CWR != 0, i == 0);
            assert_eq!(&tcp[20..32], &f[14 + 40..14 + 52], "options copied");
            joined.extend_from_slice(&tcp[32..]);
        }
        assert_eq!(joined, payload);
    }

    /// `gso_frame`'s TCP segment behind an IPv6 header instead.
    fn gso_frame_v6(payload: &[u8]) -> Vec<u8> {
        let v4 = gso_frame(payload, 0x18);
        let tcp = &v4[14 + 20..];
        let mut f = vec![0u8; 14 + 40 + tcp.len()];
        f[12..14].copy_from_slice(&[0x86, 0xdd]);
        let ip = &mut f[14..];
        ip[0] = 0x60;
        write_u16(ip, 4, tcp.len() as u16);
        ip[6] = TCP;
        ip[7] = 64;
        ip[8..24].copy_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x11]);
        ip[24..40].copy_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12]);
        ip[40..].copy_from_slice(tcp);
        f
    }

    #[test]
    fn an_ipv6_gso_frame_is_segmented_with_its_payload_length_and_checksums() {
        let payload: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        let f = gso_frame_v6(&payload);
        let g = TcpGso::new(&f, 14, 1500).unwrap();
        let mss = 1500 - 40 - 32;
        assert_eq!(g.count(), payload.len().div_ceil(mss));
        let mut joined = Vec::new();
        for i in 0..g.count() {
            let mut seg = vec![0u8; g.segment_len(i)];
            g.write(&f, i, &mut seg);
            let ip = &seg[14..];
            assert!(ip.len() <= 1500);
            let plen = usize::from(read_u16(ip, 4));
            assert_eq!(plen, ip.len() - 40);
            let pseudo = sum(&ip[8..40]) + 6 + plen as u32;
            assert_eq!(fold(pseudo + sum(&ip[40..])), 0xffff, "segment {i}");
            let tcp = &ip[40..];
            let seq = u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]);
            assert_eq!(seq, 0xffff_f000u32.wrapping_add((i * mss) as u32));
            joined.extend_from_slice(&tcp[32..]);
        }
        assert_eq!(joined, payload);
        let mut ext = f.clone();
        ext[14 + 6] = 0; // a hop-by-hop extension header: left alone
        assert_eq!(TcpGso::new(&ext, 14, 1500), None);
    }

    #[test]
    fn frames_that_fit_or_are_not_tcp_or_are_cut_are_not_segmented() {
        let f = gso_frame(&[7; 1448], 0x10);
        assert_eq!(TcpGso::new(&f, 14, 1500), None, "fits the MTU");
        let big = gso_frame(&[7; 3000], 0x10);
        let mut udp = big.clone();
        udp[14 + 9] = 17;
        assert_eq!(TcpGso::new(&udp, 14, 1500), None);
        assert_eq!(TcpGso::new(&big[..2000], 14, 1500), None, "cut");
        assert!(TcpGso::new(&big, 14, 1500).is_some());
        assert_eq!(TcpGso::new(&big, 14, 52), None, "no room for payload");
        for len in 0..70 {
            let _ = TcpGso::new(&big[..len], 14, 40);
        }
    }
}
