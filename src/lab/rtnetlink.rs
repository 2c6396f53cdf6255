//! One rtnetlink request the lab needs and Debian's iproute2 6.1 cannot send: a Linux kernel
//! VXLAN device with `IFLA_VXLAN_RESERVED_BITS` (Linux 6.14+). Linux drops a VXLAN packet
//! with any reserved bit set unless told otherwise (RFC 7348 says to ignore them); this
//! creates a device told to ignore vxswitch's "replicate locally" mark.

use super::sh::LabError;
use crate::wire::vxlan::{FLAG_REPLICATE, FLAG_VNI_VALID, REPLICATE_BYTE};
use rustix::net::{recv, send, socket, AddressFamily, RecvFlags, SendFlags, SocketType};
use std::net::Ipv4Addr;

const RTM_NEWLINK: u16 = 16;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const IFLA_IFNAME: u16 = 3;
const IFLA_LINKINFO: u16 = 18;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const IFLA_VXLAN_ID: u16 = 1;
const IFLA_VXLAN_LOCAL: u16 = 4;
const IFLA_VXLAN_PORT: u16 = 15;
const IFLA_VXLAN_RESERVED_BITS: u16 = 33;

/// Appends one netlink attribute, padded to 4 bytes.
fn attr(out: &mut Vec<u8>, kind: u16, payload: &[u8]) {
    let len = 4 + payload.len();
    out.extend_from_slice(&(len as u16).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(payload);
    out.resize(out.len() + (4 - len % 4) % 4, 0);
}

/// The reserved bits the kernel checks (a set one drops the packet): all of the VXLAN
/// header but the I flag, the VNI and vxswitch's mark.
pub fn reserved_bits_but_the_mark() -> [u8; 8] {
    let mut b = [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0xff];
    b[0] &= !FLAG_VNI_VALID;
    b[REPLICATE_BYTE] &= !FLAG_REPLICATE;
    b
}

/// Creates VXLAN device `name` (VNI `vni`, source `local`, UDP 4789) in the calling thread's
/// network namespace, with `reserved_bits` as the header bits it refuses.
pub fn add_vxlan(
    name: &str,
    vni: u32,
    local: Ipv4Addr,
    reserved_bits: [u8; 8],
) -> Result<(), LabError> {
    let mut data = Vec::new();
    attr(&mut data, IFLA_VXLAN_ID, &vni.to_ne_bytes());
    attr(&mut data, IFLA_VXLAN_LOCAL, &local.octets());
    attr(&mut data, IFLA_VXLAN_PORT, &4789u16.to_be_bytes());
    attr(&mut data, IFLA_VXLAN_RESERVED_BITS, &reserved_bits);
    let mut info = Vec::new();
    attr(&mut info, IFLA_INFO_KIND, b"vxlan\0");
    attr(&mut info, IFLA_INFO_DATA, &data);
    // struct ifinfomsg (16 bytes, all zero: any family, a new device), then the attributes.
    let mut body = vec![0u8; 16];
    let mut ifname = name.as_bytes().to_vec();
    ifname.push(0);
    attr(&mut body, IFLA_IFNAME, &ifname);
    attr(&mut body, IFLA_LINKINFO, &info);
    let mut msg = Vec::with_capacity(16 + body.len());
    msg.extend_from_slice(&((16 + body.len()) as u32).to_ne_bytes());
    msg.extend_from_slice(&RTM_NEWLINK.to_ne_bytes());
    let flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
    msg.extend_from_slice(&flags.to_ne_bytes());
    msg.extend_from_slice(&1u32.to_ne_bytes()); // sequence
    msg.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel's
    msg.extend_from_slice(&body);
    let err = |e: std::io::Error| LabError::Step(format!("rtnetlink: {e}"));
    let fd = socket(AddressFamily::NETLINK, SocketType::RAW, None).map_err(|e| err(e.into()))?;
    send(&fd, &msg, SendFlags::empty()).map_err(|e| err(e.into()))?;
    let mut answer = [0u8; 1024];
    let (n, _) = recv(&fd, &mut answer, RecvFlags::empty()).map_err(|e| err(e.into()))?;
    // The ACK is an NLMSG_ERROR whose error code (0: success) follows the 16-byte header.
    let code = answer
        .get(16..20)
        .filter(|_| n >= 20)
        .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(|| LabError::Step("rtnetlink: short answer".into()))?;
    if code != 0 {
        return Err(err(std::io::Error::from_raw_os_error(-code)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_i_flag_the_vni_and_the_mark_are_allowed() {
        assert_eq!(
            reserved_bits_but_the_mark(),
            [0xf7, 0x7f, 0xff, 0xff, 0, 0, 0, 0xff]
        );
        let mut a = Vec::new();
        attr(&mut a, 7, b"abcde");
        assert_eq!(a.len(), 12, "padded to 4 bytes");
        assert_eq!(&a[..4], &[9, 0, 7, 0]);
    }
}
