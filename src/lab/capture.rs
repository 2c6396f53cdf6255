//! What the lab reads back from its underlay captures (tcpdump's classic pcap files): the
//! frames, and the ARP requests that crossed inside VXLAN (the proof of ARP suppression).

use crate::wire::{
    ArpOperation, ArpPacket, EtherType, EthernetFrame, Ipv4Packet, UdpPacket, VxlanHeader,
};
use std::io::{self, Read};
use std::net::Ipv4Addr;
use std::path::Path;

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

/// Counts VXLAN packets in a capture that carry an ARP request (not gratuitous) for `target`.
pub fn arp_requests_in_vxlan(pcap_path: &Path, target: Ipv4Addr) -> usize {
    let Ok(f) = std::fs::File::open(pcap_path) else {
        return 0;
    };
    let Ok(frames) = read(f) else {
        return 0;
    };
    frames
        .iter()
        .filter(|b| {
            let Ok(eth) = EthernetFrame::new_checked(&b[..]) else {
                return false;
            };
            let Ok(ip) = Ipv4Packet::new_checked(eth.payload()) else {
                return false;
            };
            let Ok(udp) = UdpPacket::new_checked(ip.payload()) else {
                return false;
            };
            let Ok(vx) = VxlanHeader::new_checked(udp.payload()) else {
                return false;
            };
            let Ok(inner) = EthernetFrame::new_checked(vx.payload()) else {
                return false;
            };
            if inner.ethertype() != EtherType::Arp {
                return false;
            }
            ArpPacket::new_checked(inner.payload()).is_ok_and(|a| {
                a.operation() == ArpOperation::Request
                    && a.target_ip() == target
                    && !a.is_gratuitous()
            })
        })
        .count()
}
