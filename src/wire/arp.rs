//! ARP for IPv4 over Ethernet (RFC 826), the only kind a VTEP or a VM speaks.

use super::{read_ipv4, read_u16, write_ipv4, write_u16, MacAddr, Result, WireError};
use std::net::Ipv4Addr;

mod field {
    pub const HTYPE: usize = 0;
    pub const PTYPE: usize = 2;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: usize = 6;
    pub const SHA: usize = 8;
    pub const SPA: usize = 14;
    pub const THA: usize = 18;
    pub const TPA: usize = 24;
}

/// Length of an Ethernet/IPv4 ARP packet.
pub const PACKET_LEN: usize = 28;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArpOperation {
    Request,
    Reply,
    Unknown(u16),
}

impl From<u16> for ArpOperation {
    fn from(v: u16) -> Self {
        match v {
            1 => ArpOperation::Request,
            2 => ArpOperation::Reply,
            x => ArpOperation::Unknown(x),
        }
    }
}

impl From<ArpOperation> for u16 {
    fn from(v: ArpOperation) -> u16 {
        match v {
            ArpOperation::Request => 1,
            ArpOperation::Reply => 2,
            ArpOperation::Unknown(x) => x,
        }
    }
}

/// A view of an Ethernet/IPv4 ARP packet.
#[derive(Debug, Clone, Copy)]
pub struct ArpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ArpPacket<T> {
    /// Accepts only Ethernet (1) / IPv4 (0x0800) with 6- and 4-byte addresses.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let b = buffer.as_ref();
        if b.len() < PACKET_LEN {
            return Err(WireError::Truncated);
        }
        if read_u16(b, field::HTYPE) != 1
            || read_u16(b, field::PTYPE) != 0x0800
            || b[field::HLEN] != 6
            || b[field::PLEN] != 4
        {
            return Err(WireError::Malformed);
        }
        Ok(ArpPacket { buffer })
    }
    pub fn operation(&self) -> ArpOperation {
        read_u16(self.buffer.as_ref(), field::OPER).into()
    }
    pub fn sender_mac(&self) -> MacAddr {
        MacAddr::from_bytes(&self.buffer.as_ref()[field::SHA..])
    }
    pub fn sender_ip(&self) -> Ipv4Addr {
        read_ipv4(self.buffer.as_ref(), field::SPA)
    }
    pub fn target_mac(&self) -> MacAddr {
        MacAddr::from_bytes(&self.buffer.as_ref()[field::THA..])
    }
    pub fn target_ip(&self) -> Ipv4Addr {
        read_ipv4(self.buffer.as_ref(), field::TPA)
    }
    /// A gratuitous ARP announces the sender's own address (sender IP == target IP).
    pub fn is_gratuitous(&self) -> bool {
        self.sender_ip() == self.target_ip()
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> ArpPacket<T> {
    /// Turns a request into the reply `mac` would send for the target IP, in place.
    pub fn make_reply(&mut self, mac: MacAddr) {
        let target_ip = self.target_ip();
        let asker_mac = self.sender_mac();
        let asker_ip = self.sender_ip();
        let b = self.buffer.as_mut();
        write_u16(b, field::OPER, ArpOperation::Reply.into());
        b[field::SHA..field::SHA + 6].copy_from_slice(&mac.0);
        write_ipv4(b, field::SPA, target_ip);
        b[field::THA..field::THA + 6].copy_from_slice(&asker_mac.0);
        write_ipv4(b, field::TPA, asker_ip);
    }
}

/// The fields of an ARP packet, for building one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpRepr {
    pub operation: ArpOperation,
    pub sender_mac: MacAddr,
    pub sender_ip: Ipv4Addr,
    pub target_mac: MacAddr,
    pub target_ip: Ipv4Addr,
}

impl ArpRepr {
    pub fn parse<T: AsRef<[u8]>>(p: &ArpPacket<T>) -> ArpRepr {
        ArpRepr {
            operation: p.operation(),
            sender_mac: p.sender_mac(),
            sender_ip: p.sender_ip(),
            target_mac: p.target_mac(),
            target_ip: p.target_ip(),
        }
    }
    /// Writes the packet into the first `PACKET_LEN` bytes of `b`.
    pub fn emit(&self, b: &mut [u8]) {
        write_u16(b, field::HTYPE, 1);
        write_u16(b, field::PTYPE, 0x0800);
        b[field::HLEN] = 6;
        b[field::PLEN] = 4;
        write_u16(b, field::OPER, self.operation.into());
        b[field::SHA..field::SHA + 6].copy_from_slice(&self.sender_mac.0);
        write_ipv4(b, field::SPA, self.sender_ip);
        b[field::THA..field::THA + 6].copy_from_slice(&self.target_mac.0);
        write_ipv4(b, field::TPA, self.target_ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // ARP payload of a request as a Linux host sends it: 172.16.10.11 (02:aa..) asks for .12.
    const REQUEST: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xac,
        0x10, 0x0a, 0x0b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xac, 0x10, 0x0a, 0x0c,
    ];

    #[test]
    fn parses_reference_request() {
        let p = ArpPacket::new_checked(&REQUEST[..]).unwrap();
        assert_eq!(p.operation(), ArpOperation::Request);
        assert_eq!(p.sender_ip(), Ipv4Addr::new(172, 16, 10, 11));
        assert_eq!(p.target_ip(), Ipv4Addr::new(172, 16, 10, 12));
        assert_eq!(p.sender_mac().to_string(), "02:aa:aa:aa:aa:aa");
        assert!(!p.is_gratuitous());
    }

    #[test]
    fn request_becomes_reply_in_place() {
        let mut b = REQUEST;
        let mut p = ArpPacket::new_checked(&mut b[..]).unwrap();
        let bb: MacAddr = "02:bb:bb:bb:bb:bb".parse().unwrap();
        p.make_reply(bb);
        let r = ArpRepr::parse(&p);
        assert_eq!(r.operation, ArpOperation::Reply);
        assert_eq!(r.sender_mac, bb);
        assert_eq!(r.sender_ip, Ipv4Addr::new(172, 16, 10, 12));
        assert_eq!(r.target_mac.to_string(), "02:aa:aa:aa:aa:aa");
        assert_eq!(r.target_ip, Ipv4Addr::new(172, 16, 10, 11));
    }

    #[test]
    fn emit_round_trips_and_fills_every_byte() {
        let mut b = [0xa5u8; 28];
        let p = ArpPacket::new_checked(&REQUEST[..]).unwrap();
        ArpRepr::parse(&p).emit(&mut b);
        assert_eq!(b, REQUEST);
    }

    #[test]
    fn refuses_non_ethernet_ipv4_and_short() {
        let mut b = REQUEST;
        b[5] = 16;
        assert_eq!(
            ArpPacket::new_checked(&b[..]).unwrap_err(),
            WireError::Malformed
        );
        assert_eq!(
            ArpPacket::new_checked(&REQUEST[..27]).unwrap_err(),
            WireError::Truncated
        );
    }
}
