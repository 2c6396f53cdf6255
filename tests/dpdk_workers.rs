//! Two pinned workers: the uplink has one RX queue per worker, every port one TX queue per
//! worker, the access port is polled by one of them. Frames from both uplink queues and the
//! VM port all come out, counted per worker and summed.

mod common;

use common::{assert_no_leak, counter, require_root, test_dir, wait_until_quiet, Daemon};
use std::net::Ipv4Addr;
use std::time::Duration;
use vxswitch::testkit::traffic::{self, Outer};
use vxswitch::wire::pcap;
use vxswitch::wire::MacAddr;

const V5001: vxswitch::ids::Vni = vxswitch::ids::Vni::from_const(5001);

#[test]
fn two_workers_split_the_queues_and_lose_nothing() {
    require_root();
    let dir = test_dir("workers");
    let d = dir.display().to_string();
    let a: MacAddr = "02:aa:aa:aa:aa:aa".parse().unwrap();
    let b: MacAddr = "02:bb:bb:bb:bb:bb".parse().unwrap();
    let (ip_a, ip_b) = (
        Ipv4Addr::new(172, 16, 10, 11),
        Ipv4Addr::new(172, 16, 10, 12),
    );
    let outer = Outer {
        dst_mac: "02:00:00:00:00:51".parse().unwrap(),
        src_mac: "02:00:00:00:00:52".parse().unwrap(),
        src_ip: Ipv4Addr::new(192, 168, 250, 52),
        dst_ip: Ipv4Addr::new(192, 168, 250, 51),
        udp_port: 4789,
    };
    let to_a = |i: u16| {
        traffic::vxlan(
            &outer,
            V5001,
            49152 + i,
            &traffic::udp(a, b, ip_b, ip_a, i, 9, 40),
        )
    };
    let q0: Vec<Vec<u8>> = (0..300).map(to_a).collect();
    let q1: Vec<Vec<u8>> = (300..600).map(to_a).collect();
    let vm: Vec<Vec<u8>> = (0..400)
        .map(|i| traffic::udp(b, a, ip_a, ip_b, i, 9, 40))
        .collect();
    for (f, frames) in [("up0.pcap", &q0), ("up1.pcap", &q1), ("vm.pcap", &vm)] {
        pcap::write(std::fs::File::create(dir.join(f)).unwrap(), frames).unwrap();
    }
    let config = format!(
        r#"
[eal]
args = ["--no-huge", "-m", "256", "--no-pci", "--no-telemetry", "-l", "0", "--file-prefix", "vxworkers",
        "--vdev", "net_pcap_w0,rx_pcap={d}/up0.pcap,rx_pcap={d}/up1.pcap,tx_pcap={d}/up_out0.pcap,tx_pcap={d}/up_out1.pcap",
        "--vdev", "net_pcap_w1,rx_pcap={d}/vm.pcap,tx_pcap={d}/vm_out0.pcap,tx_pcap={d}/vm_out1.pcap"]
[dataplane]
workers = [0, 1]
idle_sleep_us = 100
[vtep]
ip = "192.168.250.51/24"
mac = "02:00:00:00:00:51"
[control]
socket = "{d}/control.sock"
[uplink]
device = "net_pcap_w0"
[[access_port]]
name = "vm-a"
device = "net_pcap_w1"
vni = 5001
[[vni]]
vni = 5001
vteps = ["192.168.250.52"]
[[vni.mac]]
mac = "02:aa:aa:aa:aa:aa"
port = "vm-a"
[[vni.mac]]
mac = "02:bb:bb:bb:bb:bb"
vtep = "192.168.250.52"
[[neighbor]]
ip = "192.168.250.52"
mac = "02:00:00:00:00:52"
"#
    );
    let mut dut = Daemon::start(&dir, &config);
    wait_until_quiet(
        &dir.join("up_out0.pcap"),
        Duration::from_millis(700),
        Duration::from_secs(10),
    );
    wait_until_quiet(
        &dir.join("vm_out1.pcap"),
        Duration::from_millis(300),
        Duration::from_secs(5),
    );
    let report = dut.stop();
    let count = |f: &str| {
        pcap::read(std::fs::File::open(dir.join(f)).unwrap())
            .unwrap()
            .len()
    };
    // Worker 0 polls uplink queue 0 and the VM port, worker 1 uplink queue 1: decapsulated
    // frames reach the VM port through both workers' TX queues.
    assert_eq!(count("vm_out0.pcap"), 300, "{report}");
    assert_eq!(count("vm_out1.pcap"), 300, "{report}");
    assert_eq!(
        count("up_out0.pcap") + count("up_out1.pcap"),
        400,
        "{report}"
    );
    assert_eq!(counter(&report, "decapsulated"), 600, "{report}");
    assert_eq!(counter(&report, "encapsulated"), 400, "{report}");
    assert!(report.contains("2 worker(s) on cores [0, 1]"), "{report}");
    assert_no_leak(&report);
}

/// Two workers on ports with one queue each (net_pcap): the uplink's only RX queue goes to
/// worker 0, the VM ports to workers 1 and 0, and both workers transmit on the uplink's one
/// TX queue, taking its lock per burst. Every frame leaves, in order per source.
#[test]
fn two_workers_share_single_queue_ports_frame_for_frame() {
    require_root();
    let dir = test_dir("workers-shared");
    let d = dir.display().to_string();
    let (a, b, c): (MacAddr, MacAddr, MacAddr) = (
        "02:aa:aa:aa:aa:aa".parse().unwrap(),
        "02:bb:bb:bb:bb:bb".parse().unwrap(),
        "02:cc:cc:cc:cc:cc".parse().unwrap(),
    );
    let ip = |n| Ipv4Addr::new(172, 16, 10, n);
    let outer = Outer {
        dst_mac: "02:00:00:00:00:51".parse().unwrap(),
        src_mac: "02:00:00:00:00:52".parse().unwrap(),
        src_ip: Ipv4Addr::new(192, 168, 250, 52),
        dst_ip: Ipv4Addr::new(192, 168, 250, 51),
        udp_port: 4789,
    };
    let to_a: Vec<Vec<u8>> = (0..300)
        .map(|i| traffic::udp(a, b, ip(12), ip(11), i, 9, 40))
        .collect();
    let up: Vec<Vec<u8>> = to_a
        .iter()
        .enumerate()
        .map(|(i, f)| traffic::vxlan(&outer, V5001, 49152 + i as u16, f))
        .collect();
    let from_a: Vec<Vec<u8>> = (0..400)
        .map(|i| traffic::udp(b, a, ip(11), ip(12), i, 9, 40))
        .collect();
    let from_c: Vec<Vec<u8>> = (0..400)
        .map(|i| traffic::udp(b, c, ip(13), ip(12), i, 7, 40))
        .collect();
    for (f, frames) in [("up.pcap", &up), ("a.pcap", &from_a), ("c.pcap", &from_c)] {
        pcap::write(std::fs::File::create(dir.join(f)).unwrap(), frames).unwrap();
    }
    let config = format!(
        r#"
[eal]
args = ["--no-huge", "-m", "256", "--no-pci", "--no-telemetry", "-l", "0", "--file-prefix", "vxshared",
        "--vdev", "net_pcap_s0,rx_pcap={d}/up.pcap,tx_pcap={d}/up_out.pcap",
        "--vdev", "net_pcap_s1,rx_pcap={d}/a.pcap,tx_pcap={d}/a_out.pcap",
        "--vdev", "net_pcap_s2,rx_pcap={d}/c.pcap,tx_pcap={d}/c_out.pcap"]
[dataplane]
workers = [0, 1]
idle_sleep_us = 100
[vtep]
ip = "192.168.250.51/24"
mac = "02:00:00:00:00:51"
[control]
socket = "{d}/control.sock"
[uplink]
device = "net_pcap_s0"
[[access_port]]
name = "vm-a"
device = "net_pcap_s1"
vni = 5001
[[access_port]]
name = "vm-c"
device = "net_pcap_s2"
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
    wait_until_quiet(
        &dir.join("up_out.pcap"),
        Duration::from_millis(700),
        Duration::from_secs(10),
    );
    wait_until_quiet(
        &dir.join("a_out.pcap"),
        Duration::from_millis(300),
        Duration::from_secs(5),
    );
    let report = dut.stop();
    let read = |f: &str| pcap::read(std::fs::File::open(dir.join(f)).unwrap()).unwrap();
    assert!(
        report.contains("1 rx / 1 tx queue(s) (tx shared by workers, locked per burst)"),
        "{report}"
    );
    assert_eq!(
        read("a_out.pcap"),
        to_a,
        "decapsulated to A in order:\n{report}"
    );
    // The uplink's one queue carries both VMs' frames, each VM's in its own order.
    let inner: Vec<Vec<u8>> = read("up_out.pcap")
        .iter()
        .map(|f| f[50..].to_vec())
        .collect();
    let of = |src: &[u8]| -> Vec<Vec<u8>> {
        inner.iter().filter(|f| &f[6..12] == src).cloned().collect()
    };
    assert_eq!(inner.len(), 800, "{report}");
    assert_eq!(of(&a.0), from_a, "{report}");
    assert_eq!(of(&c.0), from_c, "{report}");
    assert_eq!(counter(&report, "encapsulated"), 800, "{report}");
    assert_no_leak(&report);
}
