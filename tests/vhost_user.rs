//! vxswitch's ports reached over vhost-user, with `dpdk-testpmd` on `net_virtio_user` playing
//! the VM and the underlay (the way users test a virtio-user PMD): testpmd forwards a pcap of
//! VM frames into vxswitch's VM port and a pcap of VXLAN frames into its uplink, and writes
//! what vxswitch sends back to pcaps that are checked frame by frame.

mod common;

use common::{assert_no_leak, counter, require_root, test_dir, wait_until_quiet, Daemon};
use std::net::Ipv4Addr;
use std::process::Command;
use std::time::Duration;
use vxswitch::lab::{Process, Stopped};
use vxswitch::testkit::pcap;
use vxswitch::testkit::traffic::{self, Outer};
use vxswitch::wire::{ArpOperation, EthernetFrame, Ipv4Packet, MacAddr, UdpPacket, VxlanHeader};

const V5001: vxswitch::ids::Vni = vxswitch::ids::Vni::from_const(5001);

fn mac(s: &str) -> MacAddr {
    s.parse().unwrap()
}

#[test]
fn testpmd_virtio_user_vm_talks_through_vxswitch_over_vhost_user() {
    require_root();
    remove_dpdk_files();
    let dir = test_dir("vhost");
    let d = dir.display().to_string();
    let vtep_ip = Ipv4Addr::new(192, 168, 250, 51);
    let remote = Ipv4Addr::new(192, 168, 250, 52);
    let a = mac("02:aa:aa:aa:aa:aa");
    let b = mac("02:bb:bb:bb:bb:bb");
    // VM A's frames: a broadcast ARP (flooded to the VTEP) then unicast to B (static MAC).
    let mut vm_in = vec![traffic::arp(
        ArpOperation::Request,
        a,
        Ipv4Addr::new(172, 16, 10, 11),
        MacAddr::ZERO,
        Ipv4Addr::new(172, 16, 10, 12),
    )];
    for i in 0..20u16 {
        vm_in.push(traffic::udp(
            b,
            a,
            Ipv4Addr::new(172, 16, 10, 11),
            Ipv4Addr::new(172, 16, 10, 12),
            2000 + i,
            9,
            64,
        ));
    }
    // B's frames to A arriving from the underlay.
    let outer = Outer {
        dst_mac: mac("02:00:00:00:00:51"),
        src_mac: mac("02:00:00:00:00:52"),
        src_ip: remote,
        dst_ip: vtep_ip,
        udp_port: 4789,
    };
    let to_a: Vec<Vec<u8>> = (0..20u16)
        .map(|i| {
            traffic::udp(
                a,
                b,
                Ipv4Addr::new(172, 16, 10, 12),
                Ipv4Addr::new(172, 16, 10, 11),
                9,
                3000 + i,
                100,
            )
        })
        .collect();
    let ul_in: Vec<Vec<u8>> = to_a
        .iter()
        .enumerate()
        .map(|(i, f)| traffic::vxlan(&outer, V5001, 50000 + i as u16, f))
        .collect();
    pcap::write(
        std::fs::File::create(dir.join("vm_in.pcap")).unwrap(),
        &vm_in,
    )
    .unwrap();
    pcap::write(
        std::fs::File::create(dir.join("ul_in.pcap")).unwrap(),
        &ul_in,
    )
    .unwrap();

    let config = format!(
        r#"
[eal]
args = ["--no-huge", "-m", "256", "--no-pci", "--no-telemetry", "-l", "1", "--file-prefix", "vhdut",
        "--vdev", "net_vhost0,iface={d}/up.sock,queues=1", "--vdev", "net_vhost1,iface={d}/vm.sock,queues=1"]
[dataplane]
workers = [1]
idle_sleep_us = 100
[vtep]
ip = "192.168.250.51/24"
mac = "02:00:00:00:00:51"
[control]
socket = "{d}/control.sock"
[uplink]
device = "net_vhost0"
[[access_port]]
name = "vm-a"
device = "net_vhost1"
vni = 5001
[[vni]]
vni = 5001
vteps = ["192.168.250.52"]
[[vni.mac]]
mac = "02:bb:bb:bb:bb:bb"
vtep = "192.168.250.52"
[[neighbor]]
ip = "192.168.250.52"
mac = "02:00:00:00:00:52"
"#
    );
    let mut dut = Daemon::start(&dir, &config);
    let mut gen_cmd = Command::new("dpdk-testpmd");
    gen_cmd
        .args([
            "-l",
            "0,1",
            "--no-pci",
            "--no-telemetry",
            "--file-prefix",
            "vhgen",
            "-m",
            "256",
            "--single-file-segments",
        ])
        .args([
            "--vdev",
            &format!("net_virtio_user0,path={d}/vm.sock,queues=1,queue_size=1024"),
        ])
        .args([
            "--vdev",
            &format!("net_pcap0,rx_pcap={d}/vm_in.pcap,tx_pcap={d}/vm_out.pcap"),
        ])
        .args([
            "--vdev",
            &format!("net_virtio_user1,path={d}/up.sock,queues=1,queue_size=1024"),
        ])
        .args([
            "--vdev",
            &format!("net_pcap1,rx_pcap={d}/ul_in.pcap,tx_pcap={d}/ul_out.pcap"),
        ])
        .args([
            "--",
            "--forward-mode=io",
            "--nb-cores=1",
            "--no-flush-rx",
            "--stats-period",
            "1",
            "--no-lsc-interrupt",
        ]);
    let mut gen = Process::spawn("testpmd", gen_cmd, &dir.join("testpmd.log"))
        .expect("dpdk-testpmd (Debian package dpdk) must be installed");
    wait_until_quiet(
        &dir.join("ul_out.pcap"),
        Duration::from_millis(1000),
        Duration::from_secs(20),
    );
    wait_until_quiet(
        &dir.join("vm_out.pcap"),
        Duration::from_millis(500),
        Duration::from_secs(5),
    );
    // Stop the generator first (its peer going away mid-traffic is the risky order).
    let st = gen.stop(Duration::from_secs(15));
    let tp_log = gen.output();
    assert!(
        matches!(st, Stopped::Exited(s) if s.success() || s.code() == Some(130)),
        "testpmd: {st:?}\n{tp_log}"
    );
    let report = dut.stop();
    let read = |f: &str| pcap::read(std::fs::File::open(dir.join(f)).unwrap()).unwrap();
    let ul_out = read("ul_out.pcap");
    let vm_out = read("vm_out.pcap");

    assert_eq!(
        ul_out.len(),
        vm_in.len(),
        "every VM frame left on the uplink:\n{report}\n{tp_log}"
    );
    for (out, sent) in ul_out.iter().zip(&vm_in) {
        let e = EthernetFrame::new_checked(&out[..]).unwrap();
        let ip = Ipv4Packet::new_checked(e.payload()).unwrap();
        assert!(ip.verify_checksum());
        assert_eq!(ip.dst(), remote);
        let u = UdpPacket::new_checked(ip.payload()).unwrap();
        let v = VxlanHeader::new_checked(u.payload()).unwrap();
        assert_eq!(v.vni(), 5001);
        assert_eq!(v.payload(), &sent[..]);
    }
    assert_eq!(
        vm_out, to_a,
        "VM A got B's frames, decapsulated, in order:\n{report}"
    );
    assert_eq!(counter(&report, "flood_tunnel_copies"), 1, "{report}");
    assert_eq!(counter(&report, "encapsulated"), 20, "{report}");
    assert_eq!(counter(&report, "decapsulated"), 20, "{report}");
    assert_no_leak(&report);
    remove_dpdk_files();
}

/// Removes what testpmd's EAL leaves behind: hugepage files and runtime folders.
fn remove_dpdk_files() {
    for prefix in ["vhgen", "vhdut"] {
        let _ = std::fs::remove_dir_all(format!("/var/run/dpdk/{prefix}"));
    }
    if let Ok(dir) = std::fs::read_dir("/dev/hugepages") {
        for e in dir.flatten() {
            if e.file_name().to_string_lossy().starts_with("vhgen") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}
