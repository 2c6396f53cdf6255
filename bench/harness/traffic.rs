//! The bench's traffic, written as pcaps: 64-byte inner frames (60 bytes + FCS on the wire)
//! over 1024 flows, for each direction and kind of scenario.

use std::net::Ipv4Addr;
use std::path::Path;
use vxswitch::ids::Vni;
use vxswitch::testkit::traffic::{self, Outer};
use vxswitch::wire::{ArpOperation, MacAddr};

pub const FLOWS: u32 = 1024;
pub const VNI: Vni = Vni::from_const(5001);
pub const VTEP_IP: Ipv4Addr = Ipv4Addr::new(10, 250, 0, 1);
pub const VTEP_MAC: MacAddr = MacAddr([0x02, 0, 0, 0xfa, 0, 0x01]);
/// Local VMs' MACs: 02:00:00:01:HH:LL, flow i.
pub const LOCAL_MAC_BASE: MacAddr = MacAddr([0x02, 0, 0, 0x01, 0, 0]);
/// Remote VMs' MACs: 02:00:00:02:HH:LL, flow i.
pub const REMOTE_MAC_BASE: MacAddr = MacAddr([0x02, 0, 0, 0x02, 0, 0]);
/// The MAC table of the scale scenario: 2^20 entries from 02:00:10:00:00:00; the traffic's
/// destinations are every 1024th of them, so lookups spread over the whole table.
pub const SCALE_MAC_BASE: MacAddr = MacAddr([0x02, 0, 0x10, 0, 0, 0]);
pub const SCALE_ENTRIES: u32 = 1 << 20;
pub const SCALE_STRIDE: u32 = SCALE_ENTRIES / FLOWS;

/// Remote VTEP k (0-based): 10.250.0.(2+k), MAC 02:00:00:fa:01:(k).
pub fn remote_vtep(k: u32) -> (Ipv4Addr, MacAddr) {
    (
        Ipv4Addr::new(10, 250, 0, 2 + k as u8),
        MacAddr([0x02, 0, 0, 0xfa, 0x01, k as u8]),
    )
}

/// The replication-mode scenarios' remote VTEPs, in segments of 8.
pub const SEGMENTED_VTEPS: u32 = 64;
/// The DUT VTEP's gateway to the other segments there, and its MAC.
pub const GATEWAY: (Ipv4Addr, MacAddr) = (
    Ipv4Addr::new(10, 250, 0, 254),
    MacAddr([0x02, 0, 0, 0xfa, 0, 0xfe]),
);
/// The logical switch's group in the hybrid and multicast scenarios.
pub const GROUP: Ipv4Addr = Ipv4Addr::new(239, 1, 1, 1);

/// Remote VTEP k of the replication-mode scenarios: 10.250.(k/8).(2 + k%8)/24, the first
/// 8 on the DUT's segment; the first of each other segment is its proxy.
pub fn segmented_vtep(k: u32) -> (Ipv4Addr, bool) {
    (
        Ipv4Addr::new(10, 250, (k / 8) as u8, 2 + (k % 8) as u8),
        k >= 8 && k % 8 == 0,
    )
}

pub fn nth(base: MacAddr, i: u32) -> MacAddr {
    base.offset(u64::from(i))
}

fn vm_ip(side: u8, i: u32) -> Ipv4Addr {
    Ipv4Addr::new(172, 16 + side, (i >> 8) as u8, i as u8)
}

/// A 60-byte UDP frame of flow `i` from `src` to `dst`.
fn udp_frame(dst: MacAddr, src: MacAddr, i: u32, from_local: bool) -> Vec<u8> {
    let (s, d) = if from_local { (0, 1) } else { (1, 0) };
    let f = traffic::udp(
        dst,
        src,
        vm_ip(s, i),
        vm_ip(d, i),
        1024 + i as u16,
        5000,
        18,
    );
    debug_assert_eq!(f.len(), 60);
    f
}

/// VM -> remote VM: what a VM port receives, to be encapsulated.
pub fn encap(dst_base: MacAddr, stride: u32) -> Vec<Vec<u8>> {
    encap_from_port(dst_base, stride, 0)
}

/// [`encap`] from the VMs of VM port `port`: each port's 1024 sources are its own (a MAC
/// seen on two ports would move between them).
pub fn encap_from_port(dst_base: MacAddr, stride: u32, port: u32) -> Vec<Vec<u8>> {
    (0..FLOWS)
        .map(|i| {
            let src = nth(LOCAL_MAC_BASE, port * FLOWS + i);
            udp_frame(nth(dst_base, i * stride), src, i, true)
        })
        .collect()
}

/// The pcap of VM port `port` in the workers scenarios.
pub fn workers_pcap(port: u32) -> String {
    format!("encap-port{port}.pcap")
}
/// Remote VM -> VM, in VXLAN from remote VTEP 0 to us: what the uplink receives.
pub fn decap(dst_base: MacAddr, stride: u32) -> Vec<Vec<u8>> {
    let (ip, mac) = remote_vtep(0);
    let o = Outer {
        dst_mac: VTEP_MAC,
        src_mac: mac,
        src_ip: ip,
        dst_ip: VTEP_IP,
        udp_port: 4789,
    };
    (0..FLOWS)
        .map(|i| {
            let inner = udp_frame(nth(dst_base, i * stride), nth(REMOTE_MAC_BASE, i), i, false);
            traffic::vxlan(&o, VNI, 49152 + i as u16, &inner)
        })
        .collect()
}
/// Broadcasts from 1024 VMs: BUM traffic.
pub fn broadcast() -> Vec<Vec<u8>> {
    (0..FLOWS)
        .map(|i| udp_frame(MacAddr::BROADCAST, nth(LOCAL_MAC_BASE, i), i, true))
        .collect()
}
/// ARP requests from 1024 VMs, each for a different remote VM's address.
pub fn arp_requests() -> Vec<Vec<u8>> {
    (0..FLOWS)
        .map(|i| {
            traffic::arp(
                ArpOperation::Request,
                nth(LOCAL_MAC_BASE, i),
                vm_ip(0, i),
                MacAddr::ZERO,
                vm_ip(1, i),
            )
        })
        .collect()
}
/// The (IP, MAC) bindings the ARP requests ask about.
pub fn arp_bindings() -> Vec<(Ipv4Addr, MacAddr)> {
    (0..FLOWS)
        .map(|i| (vm_ip(1, i), nth(REMOTE_MAC_BASE, i)))
        .collect()
}

/// The one VM of the port-security scenarios: its MAC and address.
pub fn one_vm_source() -> (MacAddr, Ipv4Addr) {
    (LOCAL_MAC_BASE, vm_ip(0, 0))
}

/// One VM -> 1024 remote VMs (a flow each): what port security lets through.
pub fn one_vm() -> Vec<Vec<u8>> {
    let (mac, ip) = one_vm_source();
    (0..FLOWS)
        .map(|i| {
            let f = traffic::udp(
                nth(REMOTE_MAC_BASE, i),
                mac,
                ip,
                vm_ip(1, i),
                1024 + i as u16,
                5000,
                18,
            );
            debug_assert_eq!(f.len(), 60);
            f
        })
        .collect()
}

/// The soak's VM side: the encap frames with an ARP request (answered from the ARP table)
/// after every 8th.
pub fn soak() -> Vec<Vec<u8>> {
    let arps = arp_requests();
    let mut v = Vec::new();
    for (i, f) in encap(REMOTE_MAC_BASE, 1).into_iter().enumerate() {
        v.push(f);
        if i % 8 == 0 {
            v.push(arps[i].clone());
        }
    }
    v
}

/// Writes every pcap into `dir`, with one encap pcap for each of `vm_ports` VM ports.
pub fn write_all(dir: &Path, vm_ports: u32) -> std::io::Result<()> {
    let files: [(&str, Vec<Vec<u8>>); 8] = [
        ("encap.pcap", encap(REMOTE_MAC_BASE, 1)),
        ("decap.pcap", decap(LOCAL_MAC_BASE, 1)),
        ("encap-1m.pcap", encap(SCALE_MAC_BASE, SCALE_STRIDE)),
        ("decap-1m.pcap", decap(SCALE_MAC_BASE, SCALE_STRIDE)),
        ("broadcast.pcap", broadcast()),
        ("arp.pcap", arp_requests()),
        ("soak.pcap", soak()),
        ("one-vm.pcap", one_vm()),
    ];
    let per_port = (0..vm_ports).map(|k| (workers_pcap(k), encap_from_port(REMOTE_MAC_BASE, 1, k)));
    let files = files.into_iter().map(|(n, f)| (n.to_string(), f));
    for (name, frames) in files.chain(per_port) {
        let f = std::fs::File::create(dir.join(name))?;
        vxswitch::wire::pcap::write(std::io::BufWriter::new(f), &frames)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use vxswitch::wire::{EthernetFrame, Ipv4Packet, UdpPacket, VxlanHeader};

    #[test]
    fn inner_frames_are_64_bytes_on_the_wire_and_flows_differ() {
        let e = encap(REMOTE_MAC_BASE, 1);
        assert_eq!(e.len(), FLOWS as usize);
        assert!(e.iter().all(|f| f.len() == 60));
        let dsts: std::collections::HashSet<_> = e.iter().map(|f| f[..6].to_vec()).collect();
        assert_eq!(dsts.len(), FLOWS as usize);
    }

    #[test]
    fn decap_frames_carry_the_vni_to_our_vtep() {
        for f in decap(SCALE_MAC_BASE, SCALE_STRIDE) {
            let e = EthernetFrame::new_checked(&f[..]).unwrap();
            assert_eq!(e.dst(), VTEP_MAC);
            let ip = Ipv4Packet::new_checked(e.payload()).unwrap();
            assert_eq!(ip.dst(), VTEP_IP);
            let u = UdpPacket::new_checked(ip.payload()).unwrap();
            let v = VxlanHeader::new_checked(u.payload()).unwrap();
            assert_eq!(v.vni(), VNI.get());
            assert_eq!(v.payload().len(), 60);
        }
    }
}
