//! vxswitch's ports reached over vhost-user, with `dpdk-testpmd` on `net_virtio_user` playing
//! the VM and the underlay (the way users test a virtio-user PMD): testpmd forwards a pcap of
//! VM frames into vxswitch's VM port and a pcap of VXLAN frames into its uplink, and writes
//! what vxswitch sends back to pcaps that are checked frame by frame. A second test plays a
//! virtio-net guest with checksum offload on (its default).

mod common;

use common::{assert_no_leak, counter, require_root, test_dir, wait_until_quiet, Daemon};
use std::net::Ipv4Addr;
use std::process::Command;
use std::time::Duration;
use vxswitch::lab::{Process, Stopped};
use vxswitch::testkit::traffic::{self, Outer};
use vxswitch::wire::pcap;
use vxswitch::wire::{ArpOperation, EthernetFrame, Ipv4Packet, MacAddr, UdpPacket, VxlanHeader};

const V5001: vxswitch::ids::Vni = vxswitch::ids::Vni::from_const(5001);

fn mac(s: &str) -> MacAddr {
    s.parse().unwrap()
}

/// Also: a VM with one queue pair served by two workers.
#[test]
fn testpmd_virtio_user_vm_talks_through_vxswitch_over_vhost_user() {
    require_root();
    remove_dpdk_files(&["vhgen", "vhdut"]);
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
# Two workers on one queue pair per port: worker 0 polls the uplink, worker 1 the VM, and
# each transmits on the other port's one TX queue under its lock.
[dataplane]
workers = [0, 1]
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
            // virtio-user hands the vhost-user side virtual addresses: EAL must not pick
            // physical ones (it does when it can read them).
            "--iova-mode=va",
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
    assert_eq!(
        report
            .matches("(tx shared by workers, locked per burst)")
            .count(),
        2,
        "{report}"
    );
    assert_eq!(counter(&report, "encapsulated"), 20, "{report}");
    assert_eq!(counter(&report, "decapsulated"), 20, "{report}");
    assert_no_leak(&report);
    remove_dpdk_files(&["vhgen", "vhdut"]);
}

/// A virtio-net guest with checksum offload (Linux's default) hands TCP and UDP frames over
/// with partial checksums and VIRTIO_NET_HDR_F_NEEDS_CSUM; vxswitch encapsulates them with
/// the checksums complete. testpmd's csum engine plays the guest: it writes the
/// pseudo-header sum and asks the virtio-user port to offload the rest.
#[test]
fn virtio_guest_partial_checksums_are_completed_before_encapsulation() {
    require_root();
    remove_dpdk_files(&["vhcgen", "vhcdut"]);
    let dir = test_dir("vhost-csum");
    let d = dir.display().to_string();
    let a = mac("02:aa:aa:aa:aa:aa");
    let b = mac("02:bb:bb:bb:bb:bb");
    let flow = |sport| {
        (
            (b, Ipv4Addr::new(172, 16, 10, 12), 5201),
            (a, Ipv4Addr::new(172, 16, 10, 11), sport),
        )
    };
    let mut vm_in = Vec::new();
    for i in 0..10u16 {
        let len = 100 + 137 * usize::from(i);
        vm_in.push(traffic::tcp(flow(40000 + i), 1000 * u32::from(i), len));
        vm_in.push(traffic::udp_checksummed(flow(2000 + i), i as u8, len + 1));
    }
    let write = |name: &str, frames: &[Vec<u8>]| {
        pcap::write(std::fs::File::create(dir.join(name)).unwrap(), frames).unwrap();
    };
    write("vm_in.pcap", &vm_in);
    write("empty.pcap", &[]);
    let config = format!(
        r#"
[eal]
args = ["--no-huge", "-m", "256", "--no-pci", "--no-telemetry", "-l", "1", "--file-prefix", "vhcdut",
        "--vdev", "net_pcap0,rx_pcap={d}/empty.pcap,tx_pcap={d}/ul_out.pcap",
        "--vdev", "net_vhost0,iface={d}/vm.sock,queues=1"]
[dataplane]
workers = [1]
idle_sleep_us = 100
[vtep]
ip = "192.168.250.51/24"
mac = "02:00:00:00:00:51"
[control]
socket = "{d}/control.sock"
[uplink]
device = "net_pcap0"
[[access_port]]
name = "vm-a"
device = "net_vhost0"
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
    gen_cmd.args([
        "-l",
        "0,1",
        "--no-pci",
        "--no-telemetry",
        "--file-prefix",
        "vhcgen",
        "-m",
        "256",
        "--single-file-segments",
        // virtio-user hands the vhost-user side virtual addresses: EAL must not pick
        // physical ones (it does when it can read them).
        "--iova-mode=va",
        "--vdev",
        &format!("net_virtio_user0,path={d}/vm.sock,queues=1,queue_size=1024,mac={a}"),
        "--vdev",
        &format!("net_pcap0,rx_pcap={d}/vm_in.pcap,tx_pcap={d}/vm_out.pcap"),
        "--",
        "-i",
        "--forward-mode=csum",
        "--disable-device-start",
        // The csum engine rewrites MACs: from the guest's own to B's.
        &format!("--eth-peer=0,{b}"),
        "--nb-cores=1",
        "--no-flush-rx",
        "--no-lsc-interrupt",
    ]);
    let mut gen = Process::spawn_interactive("testpmd", gen_cmd, &dir.join("testpmd.log"))
        .expect("dpdk-testpmd (Debian package dpdk) must be installed");
    gen.wait_for("testpmd> ", 1, Duration::from_secs(30))
        .unwrap();
    // The guest's port (0) offloads TCP and UDP checksums. Setting them makes virtio-user
    // negotiate its features with vxswitch's vhost port a second time as the port starts;
    // frames the guest sent before the device was ready again were, under load, never
    // dequeued (DPDK 22.11): the guest forwards once vxswitch's side says it is ready.
    for line in [
        "csum set ip sw 0",
        "csum set tcp hw 0",
        "csum set udp hw 0",
        "port start all",
    ] {
        gen.send_line(line).unwrap();
    }
    dut.wait_for(VHOST_READY, 2, Duration::from_secs(30));
    gen.send_line("start").unwrap();
    wait_until_quiet(
        &dir.join("ul_out.pcap"),
        Duration::from_millis(1000),
        Duration::from_secs(20),
    );
    gen.send_line("stop").unwrap();
    gen.send_line("quit").unwrap();
    gen.wait_exit(Duration::from_secs(10));
    let st = gen.stop(Duration::from_secs(15));
    let tp_log = gen.output();
    assert!(
        matches!(st, Stopped::Exited(s) if s.success() || s.code() == Some(130)),
        "testpmd: {st:?}\n{tp_log}"
    );
    for offload in ["TCP checksum offload is hw", "UDP checksum offload is hw"] {
        assert!(
            tp_log.contains(offload),
            "the guest offloads checksums ({offload}):\n{tp_log}"
        );
    }
    let report = dut.stop();
    let ul_out = pcap::read(std::fs::File::open(dir.join("ul_out.pcap")).unwrap()).unwrap();
    assert_eq!(ul_out.len(), vm_in.len(), "{report}\n{tp_log}");
    for (out, sent) in ul_out.iter().zip(&vm_in) {
        let e = EthernetFrame::new_checked(&out[..]).unwrap();
        let ip = Ipv4Packet::new_checked(e.payload()).unwrap();
        let u = UdpPacket::new_checked(ip.payload()).unwrap();
        let v = VxlanHeader::new_checked(u.payload()).unwrap();
        // Byte for byte the frame with full checksums the pcap held.
        assert_eq!(v.payload(), &sent[..], "{report}");
    }
    assert_eq!(counter(&report, "encapsulated"), 20, "{report}");
    assert_no_leak(&report);
    remove_dpdk_files(&["vhcgen", "vhcdut"]);
}

/// What DPDK's vhost library logs when a vhost-user device is set up and may carry traffic.
const VHOST_READY: &str = "virtio is now ready for processing";

/// Removes what the EALs leave behind: hugepage files and runtime folders.
fn remove_dpdk_files(prefixes: &[&str]) {
    for prefix in prefixes {
        let _ = std::fs::remove_dir_all(format!("/var/run/dpdk/{prefix}"));
    }
    if let Ok(dir) = std::fs::read_dir("/dev/hugepages") {
        for e in dir.flatten() {
            let name = e.file_name();
            if prefixes
                .iter()
                .any(|p| name.to_string_lossy().starts_with(p))
            {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}
