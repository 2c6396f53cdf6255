//! vxswitch on DPDK `net_pcap` vdevs (`--no-huge`): pcap in -> vxswitch -> pcap out, checked
//! frame by frame; after each run every mbuf is back in the pool.

mod common;

use common::{assert_no_leak, counter, require_root, test_dir, wait_until_quiet, Daemon};
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;
use vxswitch::api::host::{Answer, GuestOffloads, MacRow, PortRow, Replicas, Response, RxPool};
use vxswitch::testkit::traffic::{self, Outer};
use vxswitch::wire::pcap;
use vxswitch::wire::{ArpOperation, EthernetFrame, Ipv4Packet, MacAddr, UdpPacket, VxlanHeader};

const V4242: vxswitch::ids::Vni = vxswitch::ids::Vni::from_const(4242);
const V5001: vxswitch::ids::Vni = vxswitch::ids::Vni::from_const(5001);

fn mac(s: &str) -> MacAddr {
    s.parse().unwrap()
}
const VTEP_MAC: &str = "02:00:00:00:00:51";
const VTEP_IP: Ipv4Addr = Ipv4Addr::new(192, 168, 250, 51);
const REMOTE: [Ipv4Addr; 3] = [
    Ipv4Addr::new(192, 168, 250, 52),
    Ipv4Addr::new(192, 168, 250, 53),
    Ipv4Addr::new(192, 168, 250, 54),
];

fn config(dir: &Path, prefix: &str) -> String {
    let d = dir.display();
    format!(
        r#"
[eal]
args = ["--no-huge", "-m", "256", "--no-pci", "--no-telemetry", "-l", "0", "--file-prefix", "{prefix}",
        "--vdev", "net_pcap_{prefix}0,rx_pcap={d}/up_in.pcap,tx_pcap={d}/up_out.pcap",
        "--vdev", "net_pcap_{prefix}1,rx_pcap={d}/a_in.pcap,tx_pcap={d}/a_out.pcap",
        "--vdev", "net_pcap_{prefix}2,rx_pcap={d}/c_in.pcap,tx_pcap={d}/c_out.pcap"]
[dataplane]
idle_sleep_us = 100
[vtep]
ip = "192.168.250.51/24"
mac = "{VTEP_MAC}"
[control]
socket = "{d}/control.sock"
[uplink]
device = "net_pcap_{prefix}0"
[[access_port]]
name = "vm-a"
device = "net_pcap_{prefix}1"
vni = 5001
[[access_port]]
name = "vm-c"
device = "net_pcap_{prefix}2"
vni = 5001
[[vni]]
vni = 5001
vteps = ["192.168.250.52", "192.168.250.53", "192.168.250.54"]
[[vni.mac]]
mac = "02:bb:bb:bb:bb:bb"
vtep = "192.168.250.52"
[[vni.mac]]
mac = "02:cc:cc:cc:cc:cc"
port = "vm-c"
[[neighbor]]
ip = "192.168.250.52"
mac = "02:00:00:00:00:52"
[[neighbor]]
ip = "192.168.250.53"
mac = "02:00:00:00:00:53"
[[neighbor]]
ip = "192.168.250.54"
mac = "02:00:00:00:00:54"
"#
    )
}

/// Runs one dataplane over the given input pcaps; returns (uplink out, vm-a out, vm-c out, report).
/// Frames written to the uplink, vm-a and vm-c pcaps, and the stop report.
type RunOutput = (Vec<Vec<u8>>, Vec<Vec<u8>>, Vec<Vec<u8>>, String);

fn run(
    name: &str,
    up_in: &[Vec<u8>],
    a_in: &[Vec<u8>],
    c_in: &[Vec<u8>],
    expect_up: bool,
) -> RunOutput {
    require_root();
    let dir = test_dir(name);
    for (file, frames) in [
        ("up_in.pcap", up_in),
        ("a_in.pcap", a_in),
        ("c_in.pcap", c_in),
    ] {
        pcap::write(std::fs::File::create(dir.join(file)).unwrap(), frames).unwrap();
    }
    let mut d = Daemon::start(&dir, &config(&dir, name));
    let watch = if expect_up {
        "up_out.pcap"
    } else {
        "a_out.pcap"
    };
    wait_until_quiet(
        &dir.join(watch),
        Duration::from_millis(700),
        Duration::from_secs(10),
    );
    let report = d.stop();
    let read = |f: &str| pcap::read(std::fs::File::open(dir.join(f)).unwrap()).unwrap();
    (
        read("up_out.pcap"),
        read("a_out.pcap"),
        read("c_out.pcap"),
        report,
    )
}

/// Checks an encapsulated frame's outer headers; returns (outer dst IP, outer dst MAC, inner).
fn open(f: &[u8]) -> (Ipv4Addr, MacAddr, Vec<u8>) {
    let e = EthernetFrame::new_checked(f).unwrap();
    assert_eq!(e.src(), mac(VTEP_MAC));
    let ip = Ipv4Packet::new_checked(e.payload()).unwrap();
    assert!(ip.verify_checksum() && ip.dont_fragment() && ip.src() == VTEP_IP);
    let u = UdpPacket::new_checked(ip.payload()).unwrap();
    assert!(u.dst_port() == 4789 && u.src_port() >= 49152);
    let v = VxlanHeader::new_checked(u.payload()).unwrap();
    assert!(v.vni_valid() && v.vni() == 5001);
    (ip.dst(), e.dst(), v.payload().to_vec())
}

fn a() -> MacAddr {
    mac("02:aa:aa:aa:aa:aa")
}
fn ip(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(172, 16, 10, n)
}

#[test]
fn frames_to_a_remote_mac_leave_encapsulated_in_order() {
    let frames: Vec<Vec<u8>> = (0..200u16)
        .map(|i| {
            traffic::udp(
                mac("02:bb:bb:bb:bb:bb"),
                a(),
                ip(11),
                ip(12),
                1000 + i,
                7,
                (i % 50) as usize,
            )
        })
        .collect();
    let (up, a_out, c_out, report) = run("encap", &[], &frames, &[], true);
    assert_eq!(up.len(), frames.len(), "{report}");
    for (out, sent) in up.iter().zip(&frames) {
        let (dst, dst_mac, inner) = open(out);
        assert_eq!((dst, dst_mac), (REMOTE[0], mac("02:00:00:00:00:52")));
        assert_eq!(&inner, sent);
    }
    assert!(a_out.is_empty() && c_out.is_empty());
    assert_eq!(counter(&report, "encapsulated"), 200);
    assert_no_leak(&report);
}

#[test]
fn vxlan_from_known_vteps_is_delivered_decapsulated_and_bad_vxlan_counted() {
    let outer = |src: Ipv4Addr| Outer {
        dst_mac: mac(VTEP_MAC),
        src_mac: mac("02:00:00:00:00:52"),
        src_ip: src,
        dst_ip: VTEP_IP,
        udp_port: 4789,
    };
    let mut input = Vec::new();
    let mut expect_c = Vec::new();
    for i in 0..100u16 {
        let inner = traffic::udp(
            mac("02:cc:cc:cc:cc:cc"),
            mac("02:bb:bb:bb:bb:bb"),
            ip(12),
            ip(13),
            i,
            9,
            20,
        );
        input.push(traffic::vxlan(&outer(REMOTE[0]), V5001, 50000 + i, &inner));
        expect_c.push(inner);
    }
    let stray = traffic::udp(
        mac("02:cc:cc:cc:cc:cc"),
        mac("02:bb:bb:bb:bb:bb"),
        ip(12),
        ip(13),
        1,
        9,
        20,
    );
    input.push(traffic::vxlan(
        &outer(Ipv4Addr::new(192, 168, 250, 99)),
        V5001,
        50000,
        &stray,
    )); // spoofed VTEP
    input.push(traffic::vxlan(&outer(REMOTE[0]), V4242, 50000, &stray)); // VNI not here
    let mut no_i = traffic::vxlan(&outer(REMOTE[0]), V5001, 50000, &stray);
    no_i[42] = 0;
    input.push(no_i);
    input.push(input[0][..40].to_vec()); // truncated inside UDP
    let (up, a_out, c_out, report) = run("decap", &input, &[], &[], false);
    let _ = a_out;
    assert_eq!(c_out, expect_c, "{report}");
    assert!(
        up.is_empty(),
        "nothing goes back into the underlay: {report}"
    );
    assert_eq!(counter(&report, "unknown_source_vtep"), 1, "{report}");
    assert_eq!(counter(&report, "unknown_vni"), 1, "{report}");
    assert_eq!(counter(&report, "bad_vxlan_flags"), 1, "{report}");
    assert_eq!(counter(&report, "bad_ipv4"), 1, "{report}");
    assert_no_leak(&report);
}

#[test]
fn broadcast_is_replicated_to_every_vtep_and_local_port_without_leaking() {
    let bcast: Vec<Vec<u8>> = (0..50u8)
        .map(|i| {
            traffic::arp(
                ArpOperation::Request,
                a(),
                ip(11),
                MacAddr::ZERO,
                ip(100 + i),
            )
        })
        .collect();
    // net_pcap does not declare multi-segment TX: each replica is copied into one mbuf
    // (the lab's af_packet uplinks get chains).
    let (up, a_out, c_out, report) = run("flood", &[], &bcast, &[], true);
    assert!(report.contains("replicas copied"), "{report}");
    assert_eq!(up.len(), 150, "{report}");
    for (i, sent) in bcast.iter().enumerate() {
        let mut dsts: Vec<Ipv4Addr> = up[i * 3..i * 3 + 3]
            .iter()
            .map(|f| {
                let (dst, _, inner) = open(f);
                assert_eq!(&inner, sent);
                dst
            })
            .collect();
        dsts.sort();
        assert_eq!(dsts, REMOTE);
    }
    assert_eq!(
        c_out, bcast,
        "the other local port of the VNI gets every broadcast"
    );
    assert!(a_out.is_empty(), "never back to the sender");
    assert_eq!(counter(&report, "flood_tunnel_copies"), 150);
    assert_no_leak(&report);
}

#[test]
fn vtep_stack_answers_arp_and_ping_on_the_uplink() {
    let asker = mac("02:00:00:00:00:52");
    let input = vec![
        traffic::arp(
            ArpOperation::Request,
            asker,
            REMOTE[0],
            MacAddr::ZERO,
            VTEP_IP,
        ),
        traffic::ping(mac(VTEP_MAC), asker, REMOTE[0], VTEP_IP, 1, 1572),
        traffic::ping(mac(VTEP_MAC), asker, REMOTE[0], VTEP_IP, 2, 56),
    ];
    let (up, _, _, report) = run("stack", &input, &[], &[], true);
    assert_eq!(up.len(), 3, "{report}");
    assert_eq!(EthernetFrame::new_checked(&up[0][..]).unwrap().dst(), asker);
    assert_eq!(up[1].len(), 1614, "1600-byte echo reply");
    assert_eq!(counter(&report, "vtep_arp_replies"), 1);
    assert_eq!(counter(&report, "vtep_icmp_replies"), 2);
    assert_no_leak(&report);
}

#[test]
fn operator_adds_and_removes_static_mac_ranges_and_reads_port_counters() {
    require_root();
    let name = "pcapmacs";
    let dir = test_dir(name);
    for f in ["up_in.pcap", "a_in.pcap", "c_in.pcap"] {
        pcap::write(std::fs::File::create(dir.join(f)).unwrap(), &[]).unwrap();
    }
    let mut d = Daemon::start(&dir, &config(&dir, name));
    let sock = dir.join("control.sock");
    // One CLI command line (words split on spaces) -> (success, stdout + stderr).
    let cli = |line: &str| {
        let o = std::process::Command::new(common::EXE)
            .args(line.split_whitespace())
            .arg("--socket")
            .arg(&sock)
            .output()
            .unwrap();
        let text =
            String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
        (o.status.success(), text)
    };
    let (ok, out) =
        cli("mac add --vni 5001 --mac 02:00:00:aa:00:00 --vtep 192.168.250.53 --count 300");
    assert!(ok && out.contains("300 MAC entries changed"), "{out}");
    let (ok, out) = cli("show mac list --vni 5001 --json");
    assert!(ok);
    let list: Vec<MacRow> = serde_json::from_str(&out).unwrap();
    let behind_53 = list
        .iter()
        .filter(|m| m.outer_ip == Some(Ipv4Addr::new(192, 168, 250, 53)))
        .count();
    assert_eq!(behind_53, 300);
    let (ok, out) = cli("mac add --vni 5001 --mac 03:00:00:00:00:00 --port vm-c");
    assert!(!ok && out.contains("group address"), "{out}");
    let (ok, out) = cli("mac add --vni 5001 --mac 02:00:00:aa:00:00 --port nope");
    assert!(!ok && out.contains("no access port named"), "{out}");
    let (ok, out) = cli("mac del --vni 5001 --mac 02:00:00:aa:00:00 --count 300");
    assert!(ok && out.contains("300 MAC entries changed"), "{out}");
    let (ok, out) = cli("show ports --json");
    assert!(ok);
    let ports: Vec<PortRow> = serde_json::from_str(&out).unwrap();
    let names: Vec<&str> = ports.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["uplink", "vm-a", "vm-c"]);
    let up = &ports[0].setup;
    assert_eq!(
        (up.key.as_str(), up.driver.as_str(), up.mtu, up.replicas),
        ("uplink", "net_pcap", 1600, Some(Replicas::Copied))
    );
    let vm = &ports[1].setup;
    assert_eq!(
        (vm.key.as_str(), vm.rx_pool, vm.rx_mbuf_bytes, vm.replicas),
        ("access_port[0]", RxPool::Standard, 2048, None)
    );
    assert_eq!(vm.guest_offloads, GuestOffloads::None);
    let (ok, out) = cli("show ports");
    assert!(
        ok && out.contains("Guest Offloads") && out.contains("standard (2048 B)"),
        "{out}"
    );
    // A request the host does not know is refused by name; a bad field by its path.
    let raw = |line: &str| {
        use std::io::{BufRead, Write};
        let mut s = std::os::unix::net::UnixStream::connect(&sock).unwrap();
        writeln!(s, "{line}").unwrap();
        let mut answer = String::new();
        std::io::BufReader::new(s).read_line(&mut answer).unwrap();
        serde_json::from_str::<Answer>(&answer).unwrap()
    };
    assert!(
        matches!(raw(r#"{"reboot": null}"#), Answer::Error(e) if e.contains("unknown variant `reboot`"))
    );
    assert!(
        matches!(raw(r#"{"mac_list": {"vni": 16777216}}"#), Answer::Error(e) if e.starts_with("mac_list.vni:"))
    );
    assert!(matches!(raw(r#""stats""#), Answer::Ok(Response::Stats(_))));
    assert_no_leak(&d.stop());
}
