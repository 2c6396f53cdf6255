//! IGMP (RFC 2236 and the report types of RFC 3376): the VTEP joins the multicast groups of
//! its hybrid and multicast logical switches so that the underlay's switches (IGMP snooping)
//! and routers send it their traffic, and reports again when a querier asks.

use super::checksum;
use super::{write_u16, Result, WireError};
use std::net::Ipv4Addr;

mod field {
    pub const TYPE: usize = 0;
    pub const CHECKSUM: usize = 2;
    pub const GROUP: usize = 4;
}

pub const HEADER_LEN: usize = 8;
/// Membership query (every version).
pub const QUERY: u8 = 0x11;
pub const V2_REPORT: u8 = 0x16;
pub const V2_LEAVE: u8 = 0x17;
/// All systems on this subnet: where queries go.
pub const ALL_SYSTEMS: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 1);
/// All routers on this subnet: where IGMPv2 leaves go.
pub const ALL_ROUTERS: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 2);

/// A view of an IGMP message.
#[derive(Debug, Clone, Copy)]
pub struct IgmpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> IgmpPacket<T> {
    pub fn new_checked(buffer: T) -> Result<Self> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        Ok(IgmpPacket { buffer })
    }
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }
    pub fn group(&self) -> Ipv4Addr {
        let b = &self.buffer.as_ref()[field::GROUP..field::GROUP + 4];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }
    pub fn verify_checksum(&self) -> bool {
        checksum::fold(checksum::sum(self.buffer.as_ref())) == 0xffff
    }
}

/// Writes an 8-byte IGMPv2 message (report or leave of `group`) with its checksum.
pub fn emit_v2(b: &mut [u8; HEADER_LEN], msg_type: u8, group: Ipv4Addr) {
    b.fill(0);
    b[field::TYPE] = msg_type;
    b[field::GROUP..].copy_from_slice(&group.octets());
    let c = checksum::checksum(&b[..]);
    write_u16(b, field::CHECKSUM, c);
}

#[cfg(test)]
mod tests {
    use super::*;

    // An IGMPv2 report for 239.1.1.1 as Linux sends it.
    const REPORT: [u8; 8] = [0x16, 0x00, 0xf9, 0xfc, 0xef, 0x01, 0x01, 0x01];

    #[test]
    fn emits_the_reference_report() {
        let mut b = [0xa5; HEADER_LEN];
        emit_v2(&mut b, V2_REPORT, Ipv4Addr::new(239, 1, 1, 1));
        assert_eq!(b, REPORT);
        let p = IgmpPacket::new_checked(&b[..]).unwrap();
        assert!(p.verify_checksum());
        assert_eq!(
            (p.msg_type(), p.group()),
            (V2_REPORT, Ipv4Addr::new(239, 1, 1, 1))
        );
        assert!(IgmpPacket::new_checked(&b[..7]).is_err());
    }
}
