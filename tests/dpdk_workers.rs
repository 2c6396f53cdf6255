//! Two pinned workers: the uplink has one RX queue per worker, every port one TX queue per
//! worker, the access port is polled by one of them. Frames from both uplink queues and the
//! VM port all come out, counted per worker and summed.

mod common;

use common::{assert_no_leak, counter, require_root, test_dir, wait_until_quiet, Daemon};
use std::net::Ipv4Addr;
use std::time::Duration;
use vxswitch::testkit::pcap;
use vxswitch::testkit::traffic::{self, Outer};
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
