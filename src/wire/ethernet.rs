//! Ethernet II frames, with an optional 802.1Q tag.

use super::{read_u16, write_u16, Field, Result, WireError};
use std::fmt;
use std::str::FromStr;

/// A 48-bit MAC address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);
    pub const ZERO: MacAddr = MacAddr([0; 6]);

    pub fn from_bytes(b: &[u8]) -> MacAddr {
        let mut a = [0u8; 6];
        a.copy_from_slice(&b[..6]);
        MacAddr(a)
    }
    /// The MAC an IPv4 multicast group maps to (RFC 1112 §6.4): 01:00:5e + its low 23 bits.
    pub fn ipv4_multicast(group: std::net::Ipv4Addr) -> MacAddr {
        let o = group.octets();
        MacAddr([0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]])
    }
    /// Group bit set: broadcast or multicast.
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 1 != 0
    }
    pub fn is_broadcast(&self) -> bool {
        *self == Self::BROADCAST
    }
    /// A unicast, non-zero address: the only kind a switch may learn.
    pub fn is_unicast(&self) -> bool {
        !self.is_multicast() && *self != Self::ZERO
    }
    /// The address as a number (first byte most significant), for ranges and ordering.
    pub fn as_u64(&self) -> u64 {
        let b = self.0;
        u64::from_be_bytes([0, 0, b[0], b[1], b[2], b[3], b[4], b[5]])
    }
    /// The `i`-th address after this one, counting as a 48-bit number (ranges of static
    /// MACs, as VPP's `l2fib add ... count`); wraps within 48 bits.
    pub fn offset(&self, i: u64) -> MacAddr {
        let b = (self.as_u64().wrapping_add(i)).to_be_bytes();
        MacAddr([b[2], b[3], b[4], b[5], b[6], b[7]])
    }
    /// The six bytes as one word in the CPU's own order: two loads, no byte shuffling. For
    /// hashing only (the value differs between little- and big-endian machines).
    #[inline(always)]
    pub fn hash_word(&self) -> u64 {
        let b = self.0;
        u64::from(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
            | u64::from(u16::from_ne_bytes([b[4], b[5]])) << 32
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The text did not hold six hex octets separated by ':' or '-'.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid MAC address {0:?} (expected six hex octets like 02:aa:aa:aa:aa:aa)")]
pub struct MacParseError(pub String);

impl FromStr for MacAddr {
    type Err = MacParseError;
    fn from_str(s: &str) -> core::result::Result<Self, Self::Err> {
        let err = || MacParseError(s.to_owned());
        let mut out = [0u8; 6];
        let mut parts = s.split([':', '-']);
        for o in &mut out {
            let p = parts.next().ok_or_else(err)?;
            if p.len() != 2 {
                return Err(err());
            }
            *o = u8::from_str_radix(p, 16).map_err(|_| err())?;
        }
        if parts.next().is_some() {
            return Err(err());
        }
        Ok(MacAddr(out))
    }
}

impl serde::Serialize for MacAddr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> core::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for MacAddr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> core::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// EtherType values vxswitch acts on; others survive as `Unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EtherType {
    Ipv4,
    Arp,
    Vlan,
    Ipv6,
    Unknown(u16),
}

impl From<u16> for EtherType {
    fn from(v: u16) -> Self {
        match v {
            0x0800 => EtherType::Ipv4,
            0x0806 => EtherType::Arp,
            0x8100 => EtherType::Vlan,
            0x86dd => EtherType::Ipv6,
            x => EtherType::Unknown(x),
        }
    }
}

impl From<EtherType> for u16 {
    fn from(v: EtherType) -> u16 {
        match v {
            EtherType::Ipv4 => 0x0800,
            EtherType::Arp => 0x0806,
            EtherType::Vlan => 0x8100,
            EtherType::Ipv6 => 0x86dd,
            EtherType::Unknown(x) => x,
        }
    }
}

mod field {
    use super::Field;
    pub const DST: Field = 0..6;
    pub const SRC: Field = 6..12;
    pub const ETHERTYPE: usize = 12;
    pub const VLAN_TCI: usize = 14;
    pub const VLAN_INNER_TYPE: usize = 16;
}

/// Length of an untagged Ethernet header.
pub const HEADER_LEN: usize = 14;
/// Length of the 802.1Q tag.
pub const VLAN_TAG_LEN: usize = 4;

/// A view of an Ethernet frame.
#[derive(Debug, Clone, Copy)]
pub struct EthernetFrame<T: AsRef<[u8]>> {
    buffer: T,
    /// Offset of the payload: 14, or 18 behind one 802.1Q tag.
    payload_at: usize,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Accepts a buffer holding at least the Ethernet header (and the whole tag if tagged).
    pub fn new_checked(buffer: T) -> Result<Self> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let payload_at = if read_u16(b, field::ETHERTYPE) == 0x8100 {
            if b.len() < HEADER_LEN + VLAN_TAG_LEN {
                return Err(WireError::Truncated);
            }
            HEADER_LEN + VLAN_TAG_LEN
        } else {
            HEADER_LEN
        };
        Ok(EthernetFrame { buffer, payload_at })
    }
    pub fn dst(&self) -> MacAddr {
        MacAddr::from_bytes(&self.buffer.as_ref()[field::DST])
    }
    pub fn src(&self) -> MacAddr {
        MacAddr::from_bytes(&self.buffer.as_ref()[field::SRC])
    }
    /// The 802.1Q VLAN id, if the frame carries a tag.
    pub fn vlan_id(&self) -> Option<u16> {
        (self.payload_at > HEADER_LEN)
            .then(|| read_u16(self.buffer.as_ref(), field::VLAN_TCI) & 0x0fff)
    }
    /// The EtherType of the payload (behind the tag, if any).
    pub fn ethertype(&self) -> EtherType {
        let at = if self.payload_at > HEADER_LEN {
            field::VLAN_INNER_TYPE
        } else {
            field::ETHERTYPE
        };
        EtherType::from(read_u16(self.buffer.as_ref(), at))
    }
    pub fn header_len(&self) -> usize {
        self.payload_at
    }
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.payload_at..]
    }
    pub fn into_inner(self) -> T {
        self.buffer
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EthernetFrame<T> {
    pub fn set_dst(&mut self, a: MacAddr) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&a.0);
    }
    pub fn set_src(&mut self, a: MacAddr) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&a.0);
    }
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let at = self.payload_at;
        &mut self.buffer.as_mut()[at..]
    }
}

/// Writes an untagged Ethernet header into the first 14 bytes of `b`.
pub fn emit_header(b: &mut [u8], dst: MacAddr, src: MacAddr, ethertype: EtherType) {
    b[field::DST].copy_from_slice(&dst.0);
    b[field::SRC].copy_from_slice(&src.0);
    write_u16(b, field::ETHERTYPE, ethertype.into());
}

#[cfg(test)]
mod tests {
    use super::*;

    // An ARP request as a Linux host sends it: 02:aa:.. asks who has 172.16.10.12.
    const ARP_FRAME: [u8; 42] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0x08, 0x06, 0x00,
        0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xac, 0x10,
        0x0a, 0x0b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xac, 0x10, 0x0a, 0x0c,
    ];

    #[test]
    fn mac_ranges_and_text_round_trip() {
        let m: MacAddr = "02:00:00:00:00:ff".parse().unwrap();
        assert_eq!(m.offset(1).to_string(), "02:00:00:00:01:00");
        assert_eq!(m.offset(0), m);
        assert_eq!(serde_json::to_string(&m).unwrap(), "\"02:00:00:00:00:ff\"");
        assert_eq!(
            serde_json::from_str::<MacAddr>("\"02:00:00:00:00:ff\"").unwrap(),
            m
        );
        assert!(serde_json::from_str::<MacAddr>("\"02:00\"").is_err());
    }

    #[test]
    fn parses_reference_arp_frame_header() {
        let f = EthernetFrame::new_checked(&ARP_FRAME[..]).unwrap();
        assert!(f.dst().is_broadcast());
        assert_eq!(f.src(), "02:aa:aa:aa:aa:aa".parse().unwrap());
        assert_eq!(f.ethertype(), EtherType::Arp);
        assert_eq!(f.vlan_id(), None);
        assert_eq!(f.payload().len(), 28);
    }

    #[test]
    fn sees_through_one_vlan_tag() {
        let mut b = vec![0u8; 18];
        emit_header(
            &mut b,
            MacAddr::BROADCAST,
            MacAddr([2, 0, 0, 0, 0, 1]),
            EtherType::Vlan,
        );
        b[14..16].copy_from_slice(&0x2064u16.to_be_bytes());
        b[16..18].copy_from_slice(&0x0806u16.to_be_bytes());
        let f = EthernetFrame::new_checked(&b[..]).unwrap();
        assert_eq!(f.vlan_id(), Some(100));
        assert_eq!(f.ethertype(), EtherType::Arp);
        assert_eq!(f.header_len(), 18);
    }

    #[test]
    fn refuses_truncated_frames() {
        assert_eq!(
            EthernetFrame::new_checked(&ARP_FRAME[..13]).unwrap_err(),
            WireError::Truncated
        );
        let mut tagged = [0u8; 16];
        tagged[12] = 0x81;
        assert_eq!(
            EthernetFrame::new_checked(&tagged[..]).unwrap_err(),
            WireError::Truncated
        );
    }

    #[test]
    fn emit_sets_every_header_byte() {
        let mut b = [0xa5u8; 14];
        emit_header(&mut b, MacAddr([1; 6]), MacAddr([2; 6]), EtherType::Ipv4);
        assert_eq!(b, [1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 0x08, 0x00]);
    }

    #[test]
    fn mac_parse_and_display_round_trip() {
        let m: MacAddr = "02:BB:bb:bb:bb:bb".parse().unwrap();
        assert_eq!(m.to_string(), "02:bb:bb:bb:bb:bb");
        assert!(m.is_unicast());
        assert!("bb:bb:bb:bb:bb:bb"
            .parse::<MacAddr>()
            .unwrap()
            .is_multicast());
        assert!("02:aa:aa:aa:aa".parse::<MacAddr>().is_err());
        assert!("02:aa:aa:aa:aa:aa:aa".parse::<MacAddr>().is_err());
        assert!("zz:aa:aa:aa:aa:aa".parse::<MacAddr>().is_err());
    }
}
