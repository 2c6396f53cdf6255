//! The lab's underlay captures: tcpdump started on an interface of a namespace, and what is
//! read back from its classic pcap files: the frames, and the ARP requests that crossed
//! inside VXLAN (the proof of ARP suppression).

use super::process::Process;
use super::sh::LabError;
use crate::wire::pcap::read;
use crate::wire::{
    udp, vxlan, ArpOperation, ArpPacket, EtherType, EthernetFrame, Ipv4Packet, UdpPacket,
    VxlanHeader,
};
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Starts tcpdump on `iface` of namespace `ns` (VXLAN only; `direction` "in", "out" or
/// "inout" as seen by that interface) writing `pcap`; returns once it listens. Stopping the
/// process (SIGINT) flushes the file.
pub fn start_tcpdump(
    ns: &str,
    iface: &str,
    direction: &str,
    pcap: &Path,
) -> Result<Process, LabError> {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns, "tcpdump", "--immediate-mode", "-U"])
        .args(["-i", iface, "-Q", direction, "-w"])
        .arg(pcap)
        .args(["udp", "port", "4789"]);
    let mut dump = Process::spawn("tcpdump", cmd, &pcap.with_extension("log"))?;
    dump.wait_for("listening on", 1, Duration::from_secs(10))?;
    Ok(dump)
}

/// What crossed the underlay inside VXLAN, as a capture shows it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VxlanCapture {
    /// VXLAN frames seen at all (a capture that saw none proves nothing).
    pub frames: usize,
    /// Those carrying an ARP request (not gratuitous) for the target.
    pub arp_requests: usize,
}

/// Reads a capture of the underlay and counts its VXLAN frames and the ARP requests for
/// `target` inside them; an unreadable capture counts nothing.
pub fn vxlan_capture(pcap_path: &Path, target: Ipv4Addr) -> VxlanCapture {
    let frames = std::fs::File::open(pcap_path)
        .and_then(read)
        .unwrap_or_default();
    let mut c = VxlanCapture::default();
    for b in &frames {
        let Some(inner) = vxlan_inner(b) else {
            continue;
        };
        c.frames += 1;
        let Ok(eth) = EthernetFrame::new_checked(inner) else {
            continue;
        };
        if eth.ethertype() == EtherType::Arp
            && ArpPacket::new_checked(eth.payload()).is_ok_and(|a| {
                a.operation() == ArpOperation::Request
                    && a.target_ip() == target
                    && !a.is_gratuitous()
            })
        {
            c.arp_requests += 1;
        }
    }
    c
}

/// The inner frame of a VXLAN packet.
pub fn vxlan_inner(b: &[u8]) -> Option<&[u8]> {
    let eth = EthernetFrame::new_checked(b).ok()?;
    let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
    let udp = UdpPacket::new_checked(ip.payload()).ok()?;
    let inner_len = VxlanHeader::new_checked(udp.payload())
        .ok()?
        .payload()
        .len();
    let at = eth.header_len() + ip.header_len() + udp::HEADER_LEN + vxlan::HEADER_LEN;
    b.get(at..at + inner_len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::Vni;
    use crate::testkit::traffic;
    use crate::wire::pcap;
    use crate::wire::MacAddr;

    #[test]
    fn counts_vxlan_frames_and_the_arp_requests_for_the_target_inside() {
        let (a, b) = (
            MacAddr([2, 0xaa, 0, 0, 0, 1]),
            MacAddr([2, 0xbb, 0, 0, 0, 2]),
        );
        let (ia, ib) = (
            Ipv4Addr::new(172, 16, 10, 11),
            Ipv4Addr::new(172, 16, 10, 12),
        );
        let outer = traffic::Outer {
            dst_mac: MacAddr([2; 6]),
            src_mac: MacAddr([4; 6]),
            src_ip: Ipv4Addr::new(192, 168, 250, 51),
            dst_ip: Ipv4Addr::new(192, 168, 250, 52),
            udp_port: 4789,
        };
        let vni = Vni::from_const(5001);
        let request = traffic::arp(ArpOperation::Request, a, ia, MacAddr::ZERO, ib);
        let garp = traffic::arp(ArpOperation::Request, b, ib, MacAddr::ZERO, ib);
        let echo = traffic::ping(b, a, ia, ib, 1, 56);
        let frames = vec![
            traffic::vxlan(&outer, vni, 50000, &request),
            traffic::vxlan(&outer, vni, 50001, &garp),
            traffic::vxlan(&outer, vni, 50002, &echo),
            request.clone(),
        ];
        let path = std::env::temp_dir().join(format!("vxs-capture-{}.pcap", std::process::id()));
        pcap::write(std::fs::File::create(&path).unwrap(), &frames).unwrap();
        let c = vxlan_capture(&path, ib);
        assert_eq!(
            c,
            VxlanCapture {
                frames: 3,
                arp_requests: 1
            }
        );
        assert_eq!(vxlan_capture(&path, ia).arp_requests, 0);
        let _ = std::fs::remove_file(&path);
        assert_eq!(vxlan_capture(&path, ib), VxlanCapture::default());
    }
}
