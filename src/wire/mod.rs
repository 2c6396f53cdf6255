//! Zero-copy views of the protocols vxswitch reads and writes.
//!
//! The contract, as in smoltcp: once `new_checked` has accepted a buffer, no getter or setter
//! of that view panics; `emit` into a buffer of at least `header_len()` bytes never panics.
//! Fields are read by byte offset, never by casting to packed structs.
#![forbid(unsafe_code)]

pub mod arp;
pub mod checksum;
pub mod dhcp;
pub mod ethernet;
pub mod icmp;
pub mod igmp;
pub mod ipv4;
pub mod partial_checksum;
pub mod pcap;
pub mod tcp_gso;
pub mod udp;
pub mod vxlan;

#[cfg(test)]
mod captured;

pub use arp::{ArpOperation, ArpPacket};
pub use ethernet::{EtherType, EthernetFrame, MacAddr};
pub use icmp::IcmpPacket;
pub use ipv4::{IpProtocol, Ipv4Packet};
pub use udp::UdpPacket;
pub use vxlan::VxlanHeader;

/// Why a buffer was refused by a checked constructor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("buffer shorter than the header")]
    Truncated,
    #[error("a length field disagrees with the buffer")]
    BadLength,
    #[error("a field holds a value this view does not accept")]
    Malformed,
}

pub type Result<T> = core::result::Result<T, WireError>;

/// Byte ranges of a header's fields, by offset.
pub type Field = core::ops::Range<usize>;

#[inline]
pub(crate) fn read_u16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

#[inline]
pub(crate) fn write_u16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

#[inline]
pub(crate) fn read_ipv4(b: &[u8], at: usize) -> std::net::Ipv4Addr {
    std::net::Ipv4Addr::new(b[at], b[at + 1], b[at + 2], b[at + 3])
}

#[inline]
pub(crate) fn write_ipv4(b: &mut [u8], at: usize, ip: std::net::Ipv4Addr) {
    b[at..at + 4].copy_from_slice(&ip.octets());
}
