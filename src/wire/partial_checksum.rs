//! Finishing TCP/UDP checksums that a sender left to the NIC (checksum offload).
//!
//! A Linux guest or container whose NIC offers checksum offload hands frames over with the
//! L4 checksum field holding only the folded pseudo-header sum (`CHECKSUM_PARTIAL`; virtio's
//! `VIRTIO_NET_HDR_F_NEEDS_CSUM` is the same convention); the NIC is expected to sum the L4
//! bytes and store the complement. A kernel-backed port (`net_af_packet`) loses the flag
//! that says so, so the frame itself is read: a checksum field equal to the pseudo-header
//! sum marks a candidate. Only then is the segment summed: if its checksum already verifies
//! it is left alone (a complete checksum that happens to equal the pseudo-header sum, one
//! frame in 65536), otherwise it is completed as the NIC would. A frame with a complete
//! checksum costs the pseudo-header sum and one compare.

use super::checksum::{fold, sum};
use super::{read_u16, write_u16, EtherType};

/// What `complete` did to a frame's L3 packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L4Checksum {
    /// Not TCP or UDP over IPv4/IPv6 without extension headers, or an IP fragment.
    NotApplicable,
    /// The checksum field did not hold a partial sum (a complete or absent checksum).
    Untouched,
    /// A partial checksum was completed.
    Completed,
    /// The IP header says the packet is longer than the bytes present: the frame was cut
    /// (for instance a 64 KiB GSO frame in a smaller af_packet ring slot).
    Truncated,
}

const TCP: u8 = 6;
const UDP: u8 = 17;

/// Completes a partial TCP or UDP checksum in `l3`, the IP packet of a frame whose Ethernet
/// type is `ethertype` (bytes behind the IP packet's length, such as Ethernet padding, are
/// ignored).
pub fn complete(ethertype: EtherType, l3: &mut [u8]) -> L4Checksum {
    let (pseudo, proto, l4_at, l4_end) = match ethertype {
        EtherType::Ipv4 => match ipv4_pseudo(l3) {
            Ok(p) => p,
            Err(r) => return r,
        },
        EtherType::Ipv6 => match ipv6_pseudo(l3) {
            Ok(p) => p,
            Err(r) => return r,
        },
        _ => return L4Checksum::NotApplicable,
    };
    let field = l4_at
        + match proto {
            TCP => 16,
            UDP => 6,
            _ => return L4Checksum::NotApplicable,
        };
    if field + 2 > l4_end {
        return L4Checksum::NotApplicable;
    }
    let partial = fold(pseudo);
    if read_u16(l3, field) != partial {
        return L4Checksum::Untouched;
    }
    let l4_sum = sum(&l3[l4_at..l4_end]);
    if fold(pseudo + l4_sum) == 0xffff {
        return L4Checksum::Untouched;
    }
    // The NIC's work: the complement of the sum over the L4 bytes, whose checksum field
    // already holds the pseudo-header sum. UDP sends a zero result as 0xffff (RFC 768).
    let mut c = !fold(l4_sum);
    if proto == UDP && c == 0 {
        c = 0xffff;
    }
    write_u16(l3, field, c);
    L4Checksum::Completed
}

type Pseudo = (u32, u8, usize, usize);

/// IPv4: (pseudo-header sum, protocol, L4 start, L4 end).
fn ipv4_pseudo(l3: &[u8]) -> Result<Pseudo, L4Checksum> {
    if l3.len() < 20 || l3[0] >> 4 != 4 {
        return Err(L4Checksum::NotApplicable);
    }
    let ihl = usize::from(l3[0] & 0x0f) * 4;
    let total = usize::from(read_u16(l3, 2));
    if total > l3.len() {
        return Err(L4Checksum::Truncated);
    }
    if ihl < 20 || total < ihl || read_u16(l3, 6) & 0x3fff != 0 {
        return Err(L4Checksum::NotApplicable);
    }
    let proto = l3[9];
    let l4_len = total - ihl;
    let pseudo = sum(&l3[12..20]) + u32::from(proto) + l4_len as u32;
    Ok((pseudo, proto, ihl, total))
}

/// IPv6 with TCP or UDP right behind the fixed header.
fn ipv6_pseudo(l3: &[u8]) -> Result<Pseudo, L4Checksum> {
    if l3.len() < 40 || l3[0] >> 4 != 6 {
        return Err(L4Checksum::NotApplicable);
    }
    let l4_len = usize::from(read_u16(l3, 4));
    if 40 + l4_len > l3.len() {
        return Err(L4Checksum::Truncated);
    }
    let proto = l3[6];
    let pseudo = sum(&l3[8..40]) + u32::from(proto) + l4_len as u32;
    Ok((pseudo, proto, 40, 40 + l4_len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::checksum::checksum;

    /// An IPv4 packet carrying `proto` with `payload`, its L4 checksum complete.
    fn ipv4(proto: u8, payload: &[u8]) -> Vec<u8> {
        let l4_hdr = if proto == TCP { 20 } else { 8 };
        let l4_len = l4_hdr + payload.len();
        let mut p = vec![0u8; 20 + l4_len];
        p[0] = 0x45;
        p[2..4].copy_from_slice(&((20 + l4_len) as u16).to_be_bytes());
        p[6] = 0x40;
        p[8] = 64;
        p[9] = proto;
        p[12..16].copy_from_slice(&[172, 16, 10, 11]);
        p[16..20].copy_from_slice(&[172, 16, 10, 12]);
        p[20..22].copy_from_slice(&40000u16.to_be_bytes());
        p[22..24].copy_from_slice(&5201u16.to_be_bytes());
        if proto == TCP {
            p[32] = 0x50;
        } else {
            p[24..26].copy_from_slice(&(l4_len as u16).to_be_bytes());
        }
        p[20 + l4_hdr..].copy_from_slice(payload);
        let field = 20 + if proto == TCP { 16 } else { 6 };
        let pseudo = sum(&p[12..20]) + u32::from(proto) + l4_len as u32;
        let c = !fold(pseudo + sum(&p[20..]));
        p[field..field + 2].copy_from_slice(&c.to_be_bytes());
        p
    }

    fn verifies(p: &[u8]) -> bool {
        let proto = p[9];
        let pseudo = sum(&p[12..20]) + u32::from(proto) + (p.len() - 20) as u32;
        fold(pseudo + sum(&p[20..])) == 0xffff
    }

    /// The same packet as a sender with checksum offload hands it over.
    fn partial(mut p: Vec<u8>) -> Vec<u8> {
        let proto = p[9];
        let field = 20 + if proto == TCP { 16 } else { 6 };
        let pseudo = sum(&p[12..20]) + u32::from(proto) + (p.len() - 20) as u32;
        p[field..field + 2].copy_from_slice(&fold(pseudo).to_be_bytes());
        p
    }

    #[test]
    fn partial_tcp_and_udp_checksums_are_completed_to_the_full_ones() {
        for proto in [TCP, UDP] {
            for len in [0usize, 1, 7, 1000, 1448] {
                let payload: Vec<u8> = (0..len).map(|i| (i * 31 + 7) as u8).collect();
                let full = ipv4(proto, &payload);
                assert!(verifies(&full));
                let mut p = partial(full.clone());
                assert!(!verifies(&p));
                assert_eq!(complete(EtherType::Ipv4, &mut p), L4Checksum::Completed);
                assert_eq!(p, full, "proto {proto} len {len}");
            }
        }
    }

    #[test]
    fn complete_checksums_and_udp_without_checksum_are_left_alone() {
        let mut full = ipv4(TCP, b"hello");
        let before = full.clone();
        assert_eq!(complete(EtherType::Ipv4, &mut full), L4Checksum::Untouched);
        assert_eq!(full, before);
        let mut no_sum = ipv4(UDP, b"hello");
        no_sum[26..28].copy_from_slice(&[0, 0]);
        assert_eq!(
            complete(EtherType::Ipv4, &mut no_sum),
            L4Checksum::Untouched
        );
        assert_eq!(&no_sum[26..28], &[0, 0]);
    }

    #[test]
    fn a_complete_checksum_equal_to_the_pseudo_header_sum_is_kept() {
        // Search for a payload whose complete checksum equals the pseudo-header sum.
        let base = ipv4(UDP, &[0, 0]);
        let pseudo = fold(sum(&base[12..20]) + 17 + (base.len() - 20) as u32);
        let p = (0..=u16::MAX)
            .map(|v| ipv4(UDP, &v.to_be_bytes()))
            .find(|p| read_u16(p, 26) == pseudo)
            .expect("some 2-byte payload gives that checksum");
        let mut q = p.clone();
        assert_eq!(complete(EtherType::Ipv4, &mut q), L4Checksum::Untouched);
        assert_eq!(q, p);
    }

    #[test]
    fn truncated_fragmented_and_other_packets_are_reported_not_changed() {
        let full = ipv4(TCP, &[1; 100]);
        let mut cut = partial(full.clone())[..80].to_vec();
        assert_eq!(complete(EtherType::Ipv4, &mut cut), L4Checksum::Truncated);
        let mut frag = partial(full.clone());
        frag[6] = 0x20; // more fragments
        assert_eq!(
            complete(EtherType::Ipv4, &mut frag),
            L4Checksum::NotApplicable
        );
        let mut icmp = full.clone();
        icmp[9] = 1;
        assert_eq!(
            complete(EtherType::Ipv4, &mut icmp),
            L4Checksum::NotApplicable
        );
        let mut arp = full;
        assert_eq!(
            complete(EtherType::Arp, &mut arp),
            L4Checksum::NotApplicable
        );
        for len in 0..24 {
            let mut short = partial(ipv4(TCP, &[]))[..len].to_vec();
            let _ = complete(EtherType::Ipv4, &mut short);
            let _ = complete(EtherType::Ipv6, &mut short);
        }
    }

    #[test]
    fn ipv6_partial_checksum_is_completed() {
        let payload = b"ipv6 payload";
        let l4_len = 8 + payload.len();
        let mut p = vec![0u8; 40 + l4_len];
        p[0] = 0x60;
        p[4..6].copy_from_slice(&(l4_len as u16).to_be_bytes());
        p[6] = UDP;
        p[7] = 64;
        p[8] = 0xfd;
        p[23] = 1;
        p[24] = 0xfd;
        p[39] = 2;
        p[40..42].copy_from_slice(&1000u16.to_be_bytes());
        p[42..44].copy_from_slice(&2000u16.to_be_bytes());
        p[44..46].copy_from_slice(&(l4_len as u16).to_be_bytes());
        p[48..].copy_from_slice(payload);
        let pseudo = sum(&p[8..40]) + 17 + l4_len as u32;
        p[46..48].copy_from_slice(&fold(pseudo).to_be_bytes());
        // Ethernet padding behind the packet is not summed.
        p.extend_from_slice(&[0xee; 6]);
        assert_eq!(complete(EtherType::Ipv6, &mut p), L4Checksum::Completed);
        let mut scratch = p[40..40 + l4_len].to_vec();
        scratch[6..8].copy_from_slice(&[0, 0]);
        let expect = !fold(pseudo + sum(&scratch));
        assert_eq!(read_u16(&p, 46), expect);
        assert_eq!(checksum(&[]), 0xffff);
    }
}
