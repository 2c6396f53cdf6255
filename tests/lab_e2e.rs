//! End to end in network namespaces: real VMs (namespaces with veths), real tools (ping,
//! arping), two vxswitch data planes on net_af_packet, and interop with a Linux kernel VTEP.

mod common;

use common::{assert_no_leak, counter, require_root, EXE};
use std::path::Path;
use vxswitch::lab::{iperf, sh, Lab, Mtu, Peer, Spec, VM_A, VM_B};

fn ping_both_ways(lab: &Lab) {
    let (ok, out) = lab.ping(0, VM_B.1, 5, None);
    assert!(ok, "VM A -> VM B:\n{out}");
    let (ok, out) = lab.ping(1, VM_A.1, 5, None);
    assert!(ok, "VM B -> VM A:\n{out}");
    let (ok, out) = lab.ping(0, VM_B.1, 2, Some(1472));
    assert!(ok, "full-size frames A -> B:\n{out}");
}

/// The UDP datagrams a namespace's stack dropped for a bad checksum (/proc/net/snmp).
fn udp_checksum_errors(ns: &str) -> u64 {
    let (_, snmp) = sh::try_in_ns(ns, &["cat", "/proc/net/snmp"]);
    let udp: Vec<&str> = snmp.lines().filter(|l| l.starts_with("Udp:")).collect();
    let (names, values) = (udp[0].split_whitespace(), udp[1].split_whitespace());
    names
        .zip(values)
        .find(|(n, _)| *n == "InCsumErrors")
        .and_then(|(_, v)| v.parse().ok())
        .expect("Udp InCsumErrors in /proc/net/snmp")
}

/// TCP and UDP both ways between VMs with Linux's default offloads (checksum offload,
/// TSO/GSO on): every TCP byte delivered, UDP datagrams of `udp_len` bytes arrive with
/// checksums the receiving stack accepts.
fn transfers_both_ways(lab: &Lab, udp_len: u32) {
    let (a, b) = (&lab.topo.vms[0].ns, &lab.topo.vms[1].ns);
    let (_, features) = sh::try_in_ns(a, &["ethtool", "-k", "eth0"]);
    assert!(
        features.contains("tcp-segmentation-offload: on")
            && features.contains("tx-checksumming: on"),
        "the VM keeps Linux's default offloads:\n{features}"
    );
    const BYTES: u64 = 4 << 20;
    for reverse in [false, true] {
        let t = iperf::tcp(a, b, VM_B.1, BYTES, reverse).unwrap();
        assert!(t.sent >= BYTES, "reverse {reverse}: {t:?}");
        assert!(t.received > 0, "reverse {reverse}: {t:?}");
        // What is checked is delivery and checksums, not rate: at 100 Mbit/s a loaded
        // 2-core machine (the full suite) once lost 66% of the reverse direction's datagrams
        // in the af_packet rings while its workers waited for a core.
        let udp = iperf::Proto::Udp {
            len: udp_len,
            bits_per_second: 30_000_000,
        };
        let t = iperf::transfer(a, b, VM_B.1, 1 << 20, udp, reverse).unwrap();
        assert!(
            t.sent >= 1 << 20 && t.received >= t.sent / 2,
            "UDP, reverse {reverse}: {t:?}"
        );
    }
    for vm in [a, b] {
        assert_eq!(udp_checksum_errors(vm), 0, "{vm}");
    }
}

/// TCP over IPv6 between the VMs (neighbour discovery flooded, GSO frames segmented).
fn ipv6_tcp_both_ways(lab: &Lab) {
    let (a, b) = (&lab.topo.vms[0].ns, &lab.topo.vms[1].ns);
    for (ns, addr) in [(a, "fd00:5001::11/64"), (b, "fd00:5001::12/64")] {
        sh::in_ns(ns, &["sysctl", "-qw", "net.ipv6.conf.eth0.disable_ipv6=0"]).unwrap();
        sh::in_ns(
            ns,
            &["ip", "-6", "addr", "add", addr, "dev", "eth0", "nodad"],
        )
        .unwrap();
    }
    for reverse in [false, true] {
        let t = iperf::tcp(a, b, "fd00:5001::12", 4 << 20, reverse).unwrap();
        assert!(t.sent >= 4 << 20, "IPv6, reverse {reverse}: {t:?}");
    }
}

#[test]
fn vm_a_and_vm_b_ping_through_two_vxswitch_data_planes() {
    require_root();
    // Two workers per data plane on single-queue af_packet ports: TX queues shared.
    let spec = Spec {
        workers: 2,
        ..Spec::default()
    };
    let mut lab = Lab::start_with(Path::new(EXE), "vxt1", Peer::Vxswitch, spec).unwrap();
    ping_both_ways(&lab);
    transfers_both_ways(&lab, 1400);
    ipv6_tcp_both_ways(&lab);
    let (ok, out) = sh::try_in_ns(
        &lab.topo.vms[0].ns,
        &["arping", "-c", "2", "-w", "5", "-I", "eth0", VM_B.1],
    );
    assert!(ok, "arping A -> B:\n{out}");
    // The VTEP's own stack: a 1600-byte DF ping across the MTU-1600 underlay.
    for vtep in [VM_A.0, VM_B.0] {
        let (ok, out) = sh::try_in_ns(
            &lab.topo.underlay_ns,
            &["ping", "-c", "2", "-W", "2", "-M", "do", "-s", "1572", vtep],
        );
        assert!(ok, "ping -M do -s 1572 {vtep}:\n{out}");
    }
    // One byte more does not fit the underlay: the sender is told, nothing fragments.
    let (ok, _) = sh::try_in_ns(
        &lab.topo.underlay_ns,
        &[
            "ping", "-c", "1", "-W", "1", "-M", "do", "-s", "1573", VM_A.0,
        ],
    );
    assert!(
        !ok,
        "a 1601-byte DF packet must not pass an MTU-1600 underlay"
    );
    for (name, report) in lab.stop() {
        assert_no_leak(&report);
        assert!(counter(&report, "encapsulated") >= 5, "{name}: {report}");
        assert!(counter(&report, "decapsulated") >= 5, "{name}: {report}");
        assert!(
            counter(&report, "vtep_icmp_replies") >= 2,
            "{name}: {report}"
        );
        assert!(
            report.contains("2 worker(s)") && report.contains("tx shared by workers"),
            "{name}: {report}"
        );
        assert!(
            counter(&report, "flood_tunnel_copies") >= 1 && report.contains("replicas chained"),
            "{name}: the first ARP crossed as BUM, a header mbuf chained to it: {report}"
        );
        assert!(
            counter(&report, "gso_segments") > 0 && counter(&report, "l4_checksums_completed") > 0,
            "{name}: the VM's TSO frames and partial checksums were finished: {report}"
        );
    }
}

#[test]
fn vxswitch_interoperates_with_a_linux_kernel_vxlan_vtep() {
    require_root();
    // vxswitch copies its flood replicas here (chains in the test above): the kernel gets
    // the first ARP broadcast either way.
    let spec = Spec {
        copy_replicas: true,
        ..Spec::default()
    };
    let mut lab = Lab::start_with(Path::new(EXE), "vxt2", Peer::KernelVxlan, spec).unwrap();
    ping_both_ways(&lab);
    transfers_both_ways(&lab, 1400);
    let (ok, out) = sh::try_in_ns(
        &lab.topo.hvs[1].ns,
        &[
            "ping", "-c", "2", "-W", "2", "-M", "do", "-s", "1572", VM_A.0,
        ],
    );
    assert!(
        ok,
        "kernel VTEP pings vxswitch's VTEP with 1600-byte DF packets:\n{out}"
    );
    // The kernel learned VM A behind vxswitch's VTEP from decapsulated traffic.
    let (_, fdb) = sh::try_in_ns(
        &lab.topo.hvs[1].ns,
        &["bridge", "fdb", "show", "dev", "vxlan0"],
    );
    assert!(
        fdb.contains(&format!("{} dst {}", VM_A.2, VM_A.0)),
        "kernel fdb:\n{fdb}"
    );
    let reports = lab.stop();
    assert_eq!(reports.len(), 1);
    assert_no_leak(&reports[0].1);
    assert!(
        reports[0].1.contains("replicas copied")
            && counter(&reports[0].1, "flood_tunnel_copies") >= 1,
        "{}",
        reports[0].1
    );
    assert!(
        counter(&reports[0].1, "decapsulated") >= 5,
        "{}",
        reports[0].1
    );
}

/// 9000-byte VM frames over a 9100-byte underlay, both ways, between two vxswitch hosts and
/// between vxswitch and a kernel VTEP: pings at the full MTU (DF), TCP segmented to 9000
/// bytes, UDP datagrams of 8900 bytes; both pools back at their baseline.
#[test]
fn jumbo_frames_cross_both_ways() {
    require_root();
    for (prefix, peer) in [("vxj1", Peer::Vxswitch), ("vxj2", Peer::KernelVxlan)] {
        let spec = Spec {
            mtu: Mtu::JUMBO,
            ..Spec::default()
        };
        let mut lab = Lab::start_with(Path::new(EXE), prefix, peer, spec).unwrap();
        let (ok, out) = lab.ping(0, VM_B.1, 3, Some(8972));
        assert!(ok, "{peer:?}: 9000-byte packets A -> B:\n{out}");
        let (ok, out) = lab.ping(1, VM_A.1, 3, Some(8972));
        assert!(ok, "{peer:?}: 9000-byte packets B -> A:\n{out}");
        let (ok, _) = lab.ping(0, VM_B.1, 1, Some(8973));
        assert!(
            !ok,
            "{peer:?}: a 9001-byte DF packet does not fit the VM's MTU"
        );
        transfers_both_ways(&lab, 8900);
        for (name, report) in lab.stop() {
            assert_no_leak(&report);
            assert!(
                counter(&report, "gso_segments") > 0,
                "{peer:?} {name}: TSO frames cut to 9000 bytes: {report}"
            );
            for drop in ["truncated", "multi_segment", "oversize"] {
                assert_eq!(counter(&report, drop), 0, "{peer:?} {name}: {report}");
            }
        }
    }
}

/// net_af_packet's sockets see every link of the host until they are bound to their own:
/// a frame crossing the uplink (or a management network) meanwhile waits in a VM port's
/// ring. The data plane drops what its ports hold before it polls them; otherwise port
/// security locks onto a stranger's MAC, as a cluster test once showed.
#[test]
fn frames_on_other_links_while_a_data_plane_starts_never_reach_a_vm_port() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;
    use vxswitch::api::host::{MacRow, PortRow, Request};
    use vxswitch::api::HostClient;
    use vxswitch::lab::{dataplane_config, start_daemon, Options, Topology, DATAPLANE_READY};
    require_root();
    let opts = Options {
        vms_on: false,
        controllers: 0,
        mtu: Mtu::STANDARD,
        vm_c: false,
    };
    let topo = Topology::build("vxt5", &[VM_A], opts).unwrap();
    let dir = std::env::temp_dir().join("vxswitch-lab-vxt5");
    std::fs::create_dir_all(&dir).unwrap();
    // UDP broadcasts on the underlay, i.e. on the hypervisor's up0, for as long as it starts.
    let stop = Arc::new(AtomicBool::new(false));
    let flood = {
        let (stop, ul) = (Arc::clone(&stop), topo.underlay_ns.clone());
        std::thread::spawn(move || {
            sh::enter_netns(&ul).unwrap();
            let s = std::net::UdpSocket::bind("192.168.250.1:0").unwrap();
            s.set_broadcast(true).unwrap();
            let mut sent = 0u64;
            while !stop.load(Ordering::Relaxed) {
                sent += u64::from(s.send_to(&[0u8; 64], "192.168.250.255:9").is_ok());
            }
            sent
        })
    };
    let hv = &topo.hvs[0];
    let cfg = dataplane_config(hv, &[], 0);
    let mut dp = start_daemon(Path::new(EXE), "dataplane", &hv.ns, "hv1", &dir, &cfg).unwrap();
    let ready = dp.wait_for(DATAPLANE_READY, 1, Duration::from_secs(30));
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let sent = flood.join().unwrap();
    ready.unwrap();
    let api = HostClient::new(format!("/run/vxswitch/{}.sock", hv.ns));
    let macs: Vec<MacRow> = api
        .get(Request::MacList {
            vni: vxswitch::lab::VNI,
        })
        .unwrap();
    let ports: Vec<PortRow> = api.get(Request::Ports).unwrap();
    dp.stop(vxswitch::lab::STOP_GRACE);
    let vm = ports.iter().find(|p| p.name == "vm").unwrap();
    assert!(sent > 1000, "the flood ran: {sent}");
    assert!(
        macs.is_empty(),
        "the powered-off VM's port learned {macs:?}"
    );
    assert_eq!(vm.rx_packets, 0, "{vm:?}\n{}", dp.output());
}
