//! IPv4 headers (RFC 791): enough to carry VXLAN, answer ping and hash inner flows.

use super::checksum;
use super::{read_ipv4, read_u16, write_ipv4, write_u16, Result, WireError};
use std::net::Ipv4Addr;

mod field {
    pub const VER_IHL: usize = 0;
    pub const TOS: usize = 1;
    pub const LENGTH: usize = 2;
    pub const IDENT: usize = 4;
    pub const FLAGS_FRAG: usize = 6;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: usize = 10;
    pub const SRC: usize = 12;
    pub const DST: usize = 16;
}

/// Length of a header without options.
pub const HEADER_LEN: usize = 20;
const DONT_FRAGMENT: u16 = 0x4000;
const MORE_FRAGMENTS: u16 = 0x2000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpProtocol {
    Icmp,
    Igmp,
    Tcp,
    Udp,
    Unknown(u8),
}

impl From<u8> for IpProtocol {
    fn from(v: u8) -> Self {
        match v {
            1 => IpProtocol::Icmp,
            2 => IpProtocol::Igmp,
            6 => IpProtocol::Tcp,
            17 => IpProtocol::Udp,
            x => IpProtocol::Unknown(x),
        }
    }
}

impl From<IpProtocol> for u8 {
    fn from(v: IpProtocol) -> u8 {
        match v {
            IpProtocol::Icmp => 1,
            IpProtocol::Igmp => 2,
            IpProtocol::Tcp => 6,
            IpProtocol::Udp => 17,
            IpProtocol::Unknown(x) => x,
        }
    }
}

/// A view of an IPv4 packet.
#[derive(Debug, Clone, Copy)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Accepts version 4 with a header length and total length that fit the buffer.
    /// Trailing bytes past the total length (Ethernet padding) are allowed.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if b[field::VER_IHL] >> 4 != 4 {
            return Err(WireError::Malformed);
        }
        let ihl = usize::from(b[field::VER_IHL] & 0x0f) * 4;
        let total = usize::from(read_u16(b, field::LENGTH));
        if ihl < HEADER_LEN || total < ihl || total > b.len() {
            return Err(WireError::BadLength);
        }
        Ok(Ipv4Packet { buffer })
    }
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }
    pub fn total_len(&self) -> usize {
        usize::from(read_u16(self.buffer.as_ref(), field::LENGTH))
    }
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }
    pub fn protocol(&self) -> IpProtocol {
        self.buffer.as_ref()[field::PROTOCOL].into()
    }
    pub fn src(&self) -> Ipv4Addr {
        read_ipv4(self.buffer.as_ref(), field::SRC)
    }
    pub fn dst(&self) -> Ipv4Addr {
        read_ipv4(self.buffer.as_ref(), field::DST)
    }
    pub fn dont_fragment(&self) -> bool {
        read_u16(self.buffer.as_ref(), field::FLAGS_FRAG) & DONT_FRAGMENT != 0
    }
    /// A fragment: more-fragments set or a non-zero offset.
    pub fn is_fragment(&self) -> bool {
        let f = read_u16(self.buffer.as_ref(), field::FLAGS_FRAG);
        f & MORE_FRAGMENTS != 0 || f & 0x1fff != 0
    }
    pub fn checksum(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::CHECKSUM)
    }
    pub fn verify_checksum(&self) -> bool {
        checksum::fold(checksum::sum(&self.buffer.as_ref()[..self.header_len()])) == 0xffff
    }
    /// The payload up to the total length (without Ethernet padding).
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..self.total_len()]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    pub fn set_src(&mut self, a: Ipv4Addr) {
        write_ipv4(self.buffer.as_mut(), field::SRC, a);
    }
    pub fn set_dst(&mut self, a: Ipv4Addr) {
        write_ipv4(self.buffer.as_mut(), field::DST, a);
    }
    pub fn set_ttl(&mut self, ttl: u8) {
        self.buffer.as_mut()[field::TTL] = ttl;
    }
    /// Recomputes the header checksum from scratch.
    pub fn fill_checksum(&mut self) {
        let hl = self.header_len();
        let b = self.buffer.as_mut();
        write_u16(b, field::CHECKSUM, 0);
        let c = checksum::checksum(&b[..hl]);
        write_u16(b, field::CHECKSUM, c);
    }
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (hl, tl) = (self.header_len(), self.total_len());
        &mut self.buffer.as_mut()[hl..tl]
    }
}

/// The fields of an option-less IPv4 header, for building one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Repr {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: IpProtocol,
    pub payload_len: usize,
    pub ttl: u8,
    pub dont_fragment: bool,
}

impl Ipv4Repr {
    /// Writes a 20-byte header with its checksum into `b`. The payload length must fit u16.
    pub fn emit(&self, b: &mut [u8]) {
        b[field::VER_IHL] = 0x45;
        b[field::TOS] = 0;
        write_u16(b, field::LENGTH, (HEADER_LEN + self.payload_len) as u16);
        write_u16(b, field::IDENT, 0);
        write_u16(
            b,
            field::FLAGS_FRAG,
            if self.dont_fragment { DONT_FRAGMENT } else { 0 },
        );
        b[field::TTL] = self.ttl;
        b[field::PROTOCOL] = self.protocol.into();
        write_u16(b, field::CHECKSUM, 0);
        write_ipv4(b, field::SRC, self.src);
        write_ipv4(b, field::DST, self.dst);
        let c = checksum::checksum(&b[..HEADER_LEN]);
        write_u16(b, field::CHECKSUM, c);
    }
}

/// Offsets that the encapsulation stage patches per packet.
pub mod offsets {
    pub const LENGTH: usize = super::field::LENGTH;
    pub const CHECKSUM: usize = super::field::CHECKSUM;
}

#[cfg(test)]
mod tests {
    use super::*;

    // IPv4 header + ICMP echo request (ping 192.168.250.51 -> .52, 8 data bytes, DF).
    const PING: [u8; 36] = [
        0x45, 0x00, 0x00, 0x24, 0x6b, 0x2e, 0x40, 0x00, 0x40, 0x01, 0x59, 0xf1, 0xc0, 0xa8, 0xfa,
        0x33, 0xc0, 0xa8, 0xfa, 0x34, 0x08, 0x00, 0x5a, 0x5a, 0x00, 0x07, 0x00, 0x01, 0xde, 0xad,
        0xbe, 0xef, 0x00, 0x00, 0x00, 0x00,
    ];

    #[test]
    fn parses_reference_header() {
        let p = Ipv4Packet::new_checked(&PING[..]).unwrap();
        assert_eq!(p.src(), Ipv4Addr::new(192, 168, 250, 51));
        assert_eq!(p.dst(), Ipv4Addr::new(192, 168, 250, 52));
        assert_eq!(p.protocol(), IpProtocol::Icmp);
        assert!(p.dont_fragment());
        assert!(!p.is_fragment());
        assert_eq!(p.payload().len(), 16);
        assert!(p.verify_checksum());
    }

    #[test]
    fn refuses_bad_lengths_and_versions() {
        let mut b = PING;
        b[3] = 0x30; // total length past the buffer
        assert_eq!(
            Ipv4Packet::new_checked(&b[..]).unwrap_err(),
            WireError::BadLength
        );
        let mut b = PING;
        b[0] = 0x44; // IHL 16 bytes
        assert_eq!(
            Ipv4Packet::new_checked(&b[..]).unwrap_err(),
            WireError::BadLength
        );
        let mut b = PING;
        b[0] = 0x65;
        assert_eq!(
            Ipv4Packet::new_checked(&b[..]).unwrap_err(),
            WireError::Malformed
        );
        assert_eq!(
            Ipv4Packet::new_checked(&PING[..19]).unwrap_err(),
            WireError::Truncated
        );
    }

    #[test]
    fn emit_writes_a_header_that_verifies() {
        let mut b = [0xa5u8; 20];
        Ipv4Repr {
            src: Ipv4Addr::new(192, 168, 250, 51),
            dst: Ipv4Addr::new(192, 168, 250, 52),
            protocol: IpProtocol::Udp,
            payload_len: 100,
            ttl: 64,
            dont_fragment: true,
        }
        .emit(&mut b);
        let mut whole = b.to_vec();
        whole.resize(120, 0);
        let p = Ipv4Packet::new_checked(&whole[..]).unwrap();
        assert!(p.verify_checksum());
        assert_eq!(p.total_len(), 120);
        assert_eq!(p.ttl(), 64);
        assert!(p.dont_fragment());
    }
}
