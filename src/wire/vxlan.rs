//! The VXLAN header (RFC 7348 §5): 8 bytes after UDP, I flag and a 24-bit VNI, and
//! vxswitch's "replicate locally" mark for BUM proxies (see `FLAG_REPLICATE`).

use super::{Result, WireError};

pub const HEADER_LEN: usize = 8;
/// The I flag: the VNI field is valid.
pub const FLAG_VNI_VALID: u8 = 0x08;
/// "Replicate locally" (byte 1, bit 0x80): a BUM copy sent to a segment's proxy (UTEP or
/// MTEP), which re-sends it within its own segment. The bit is reserved in RFC 7348 and left
/// free by the extensions Linux implements: GBP takes 0x80 of byte 0 and 0x40/0x08 of byte 1,
/// RCO 0x20 of byte 1, VXLAN-GPE 0x30/0x04/0x02/0x01 of byte 0. A receiver that does not know
/// it must ignore it (RFC 7348 §5); see docs/architecture.md for which ones do not.
pub const FLAG_REPLICATE: u8 = 0x80;
/// Byte of the header that holds FLAG_REPLICATE.
pub const REPLICATE_BYTE: usize = 1;
/// Bytes prepended by encapsulation: outer Ethernet + IPv4 + UDP + VXLAN.
pub const ENCAP_OVERHEAD: usize = 14 + 20 + 8 + HEADER_LEN;

/// A view of a VXLAN header.
#[derive(Debug, Clone, Copy)]
pub struct VxlanHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> VxlanHeader<T> {
    /// Accepts any 8 bytes; whether the I flag is set is the receiver's decision.
    pub fn new_checked(buffer: T) -> Result<Self> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        Ok(VxlanHeader { buffer })
    }
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[0]
    }
    /// The I flag; the other flag and reserved bits are ignored on receipt (RFC 7348 §5).
    pub fn vni_valid(&self) -> bool {
        self.flags() & FLAG_VNI_VALID != 0
    }
    /// The sender asks this VTEP to replicate the frame within its segment.
    pub fn replicate_locally(&self) -> bool {
        self.buffer.as_ref()[REPLICATE_BYTE] & FLAG_REPLICATE != 0
    }
    pub fn vni(&self) -> u32 {
        let b = self.buffer.as_ref();
        u32::from_be_bytes([0, b[4], b[5], b[6]])
    }
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

/// Writes a VXLAN header with the I flag and `vni` (which must fit 24 bits).
pub fn emit_header(b: &mut [u8], vni: u32) {
    b[..4].copy_from_slice(&[FLAG_VNI_VALID, 0, 0, 0]);
    set_vni(b, vni);
}

/// Sets or clears the "replicate locally" mark of a header already in place.
#[inline]
pub fn set_replicate(b: &mut [u8], on: bool) {
    if on {
        b[REPLICATE_BYTE] |= FLAG_REPLICATE;
    } else {
        b[REPLICATE_BYTE] &= !FLAG_REPLICATE;
    }
}

/// Patches the VNI of a header already in place.
#[inline]
pub fn set_vni(b: &mut [u8], vni: u32) {
    let v = vni.to_be_bytes();
    b[4..8].copy_from_slice(&[v[1], v[2], v[3], 0]);
}

#[cfg(test)]
mod tests {
    use super::*;

    // VXLAN header for VNI 5001 as a Linux vxlan device sends it.
    const HDR: [u8; 8] = [0x08, 0x00, 0x00, 0x00, 0x00, 0x13, 0x89, 0x00];

    #[test]
    fn parses_reference_header() {
        let h = VxlanHeader::new_checked(&HDR[..]).unwrap();
        assert!(h.vni_valid());
        assert_eq!(h.vni(), 5001);
    }

    #[test]
    fn reserved_bits_are_ignored_but_i_flag_is_read() {
        let mut b = HDR;
        b[0] = 0xf7; // every bit but I
        b[1] = 0xff;
        b[7] = 0xff;
        let h = VxlanHeader::new_checked(&b[..]).unwrap();
        assert!(!h.vni_valid());
        assert_eq!(h.vni(), 5001);
        b[0] = 0xff;
        assert!(VxlanHeader::new_checked(&b[..]).unwrap().vni_valid());
    }

    #[test]
    fn replicate_mark_is_its_own_bit() {
        let mut b = HDR;
        set_replicate(&mut b, true);
        let h = VxlanHeader::new_checked(&b[..]).unwrap();
        assert!(h.replicate_locally() && h.vni_valid());
        assert_eq!(h.vni(), 5001);
        assert_eq!(b[..2], [0x08, 0x80]);
        // Not a bit of GBP (0x80 0x48 ..), RCO (.. 0x20) or VXLAN-GPE (0x37 in byte 0).
        assert_eq!(FLAG_REPLICATE & (0x40 | 0x20 | 0x08), 0);
        assert_eq!(REPLICATE_BYTE, 1);
        set_replicate(&mut b, false);
        assert_eq!(b, HDR);
    }

    #[test]
    fn emit_fills_every_byte() {
        let mut b = [0xa5u8; 8];
        emit_header(&mut b, 5001);
        assert_eq!(b, HDR);
        assert_eq!(
            VxlanHeader::new_checked(&HDR[..7]).unwrap_err(),
            WireError::Truncated
        );
    }
}
