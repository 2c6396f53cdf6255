//! DHCP (RFC 2131) as far as ACK snooping needs it: the assigned address (yiaddr), the
//! client's hardware address (chaddr) and the message type option (53).

use super::{read_ipv4, MacAddr, Result, WireError};
use std::net::Ipv4Addr;

pub const SERVER_PORT: u16 = 67;
pub const CLIENT_PORT: u16 = 68;

const OP: usize = 0;
const HTYPE: usize = 1;
const HLEN: usize = 2;
const YIADDR: usize = 16;
const CHADDR: usize = 28;
const COOKIE: usize = 236;
const OPTIONS: usize = 240;
const MAGIC: [u8; 4] = [99, 130, 83, 99];
const BOOTREPLY: u8 = 2;
const OPT_PAD: u8 = 0;
const OPT_END: u8 = 255;
const OPT_MESSAGE_TYPE: u8 = 53;
pub const DHCPACK: u8 = 5;

/// A BOOTP/DHCP message over Ethernet hardware addresses.
#[derive(Debug)]
pub struct DhcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> DhcpPacket<T> {
    pub fn new_checked(buffer: T) -> Result<Self> {
        let b = buffer.as_ref();
        if b.len() < OPTIONS {
            return Err(WireError::Truncated);
        }
        if b[COOKIE..OPTIONS] != MAGIC || b[HTYPE] != 1 || b[HLEN] != 6 {
            return Err(WireError::Malformed);
        }
        Ok(DhcpPacket { buffer })
    }
    pub fn is_reply(&self) -> bool {
        self.buffer.as_ref()[OP] == BOOTREPLY
    }
    pub fn your_ip(&self) -> Ipv4Addr {
        read_ipv4(self.buffer.as_ref(), YIADDR)
    }
    pub fn client_mac(&self) -> MacAddr {
        MacAddr::from_bytes(&self.buffer.as_ref()[CHADDR..CHADDR + 6])
    }
    /// Option 53, if present and well formed.
    pub fn message_type(&self) -> Option<u8> {
        let b = &self.buffer.as_ref()[OPTIONS..];
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                OPT_PAD => i += 1,
                OPT_END => return None,
                code => {
                    let len = usize::from(*b.get(i + 1)?);
                    let value = b.get(i + 2..i + 2 + len)?;
                    if code == OPT_MESSAGE_TYPE {
                        return (len == 1).then(|| value[0]);
                    }
                    i += 2 + len;
                }
            }
        }
        None
    }
    /// The (IP, MAC) binding a DHCP ACK hands out.
    pub fn ack_binding(&self) -> Option<(Ipv4Addr, MacAddr)> {
        (self.is_reply() && self.message_type() == Some(DHCPACK))
            .then(|| (self.your_ip(), self.client_mac()))
            .filter(|(ip, mac)| !ip.is_unspecified() && mac.is_unicast())
    }
}

/// Writes a minimal DHCP reply of `msg_type` (for tests and traffic generation).
pub fn emit_reply(b: &mut [u8], msg_type: u8, yiaddr: Ipv4Addr, chaddr: MacAddr) -> usize {
    let len = OPTIONS + 4;
    b[..len].fill(0);
    b[OP] = BOOTREPLY;
    b[HTYPE] = 1;
    b[HLEN] = 6;
    b[YIADDR..YIADDR + 4].copy_from_slice(&yiaddr.octets());
    b[CHADDR..CHADDR + 6].copy_from_slice(&chaddr.0);
    b[COOKIE..OPTIONS].copy_from_slice(&MAGIC);
    b[OPTIONS..len].copy_from_slice(&[OPT_MESSAGE_TYPE, 1, msg_type, OPT_END]);
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ack_gives_the_binding_offer_does_not() {
        let mac: MacAddr = "02:aa:aa:aa:aa:aa".parse().unwrap();
        let ip = Ipv4Addr::new(172, 16, 10, 11);
        let mut b = [0u8; 300];
        let n = emit_reply(&mut b, DHCPACK, ip, mac);
        assert_eq!(
            DhcpPacket::new_checked(&b[..n]).unwrap().ack_binding(),
            Some((ip, mac))
        );
        emit_reply(&mut b, 2, ip, mac);
        assert_eq!(
            DhcpPacket::new_checked(&b[..n]).unwrap().ack_binding(),
            None
        );
    }

    #[test]
    fn truncated_and_odd_options_never_panic() {
        assert!(DhcpPacket::new_checked(&[0u8; 100][..]).is_err());
        let mac: MacAddr = "02:aa:aa:aa:aa:aa".parse().unwrap();
        let mut b = [0u8; 300];
        let n = emit_reply(&mut b, DHCPACK, Ipv4Addr::new(10, 0, 0, 1), mac);
        // An option whose length runs past the end.
        b[OPTIONS..OPTIONS + 2].copy_from_slice(&[12, 200]);
        assert_eq!(
            DhcpPacket::new_checked(&b[..n]).unwrap().message_type(),
            None
        );
        for cut in OPTIONS..n {
            let _ = DhcpPacket::new_checked(&b[..cut]).map(|p| p.ack_binding());
        }
        b[COOKIE] = 0;
        assert_eq!(
            DhcpPacket::new_checked(&b[..n]).unwrap_err(),
            WireError::Malformed
        );
    }
}
