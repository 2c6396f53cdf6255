//! UDP headers (RFC 768). VXLAN sends checksum zero over IPv4, so only the length is checked.

use super::{read_u16, write_u16, Result, WireError};

mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const LENGTH: usize = 4;
    pub const CHECKSUM: usize = 6;
}

pub const HEADER_LEN: usize = 8;

/// A view of a UDP datagram.
#[derive(Debug, Clone, Copy)]
pub struct UdpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UdpPacket<T> {
    /// Accepts a datagram whose length field covers the header and fits the buffer.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let len = usize::from(read_u16(b, field::LENGTH));
        if len < HEADER_LEN || len > b.len() {
            return Err(WireError::BadLength);
        }
        Ok(UdpPacket { buffer })
    }
    pub fn src_port(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::SRC_PORT)
    }
    pub fn dst_port(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::DST_PORT)
    }
    pub fn len(&self) -> usize {
        usize::from(read_u16(self.buffer.as_ref(), field::LENGTH))
    }
    pub fn is_empty(&self) -> bool {
        self.len() == HEADER_LEN
    }
    pub fn checksum(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::CHECKSUM)
    }
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.len()]
    }
}

/// Writes a UDP header with checksum 0 (allowed over IPv4, RFC 7348 §5).
pub fn emit_header(b: &mut [u8], src_port: u16, dst_port: u16, payload_len: usize) {
    write_u16(b, field::SRC_PORT, src_port);
    write_u16(b, field::DST_PORT, dst_port);
    write_u16(b, field::LENGTH, (HEADER_LEN + payload_len) as u16);
    write_u16(b, field::CHECKSUM, 0);
}

/// Offsets that the encapsulation stage patches per packet.
pub mod offsets {
    pub const SRC_PORT: usize = super::field::SRC_PORT;
    pub const LENGTH: usize = super::field::LENGTH;
}

#[cfg(test)]
mod tests {
    use super::*;

    // UDP header of a VXLAN datagram as a Linux vxlan device sends it (sport 51234).
    const VXLAN_UDP: [u8; 16] = [
        0xc8, 0x22, 0x12, 0xb5, 0x00, 0x10, 0x00, 0x00, 0x08, 0, 0, 0, 0x00, 0x13, 0x89, 0x00,
    ];

    #[test]
    fn parses_reference_header() {
        let u = UdpPacket::new_checked(&VXLAN_UDP[..]).unwrap();
        assert_eq!(u.src_port(), 51234);
        assert_eq!(u.dst_port(), 4789);
        assert_eq!(u.len(), 16);
        assert_eq!(u.checksum(), 0);
        assert_eq!(u.payload().len(), 8);
    }

    #[test]
    fn refuses_lengths_that_lie() {
        let mut b = VXLAN_UDP;
        b[5] = 0x20;
        assert_eq!(
            UdpPacket::new_checked(&b[..]).unwrap_err(),
            WireError::BadLength
        );
        b[5] = 0x04;
        assert_eq!(
            UdpPacket::new_checked(&b[..]).unwrap_err(),
            WireError::BadLength
        );
        assert_eq!(
            UdpPacket::new_checked(&b[..7]).unwrap_err(),
            WireError::Truncated
        );
    }

    #[test]
    fn emit_fills_every_byte() {
        let mut b = [0xa5u8; 8];
        emit_header(&mut b, 51234, 4789, 8);
        assert_eq!(b, VXLAN_UDP[..8]);
    }
}
