//! vxswitch's "replicate locally" mark (VXLAN byte 1, 0x80) at a Linux kernel VTEP. RFC 7348
//! tells receivers to ignore reserved bits; Linux instead drops a packet with any reserved
//! bit set (counted as an RX error) unless the device is created with the bits to ignore
//! (`IFLA_VXLAN_RESERVED_BITS`, Linux 6.14+). vxswitch therefore sends the mark only to the
//! proxies its controller picks among vxswitch hosts; this test holds both facts.

mod common;

use common::require_root;
use std::net::{Ipv4Addr, UdpSocket};
use vxswitch::lab::rtnetlink::{add_vxlan, reserved_bits_but_the_mark};
use vxswitch::lab::sh::{self, Namespaces};
use vxswitch::wire::vxlan;

const VNI: u32 = 5001;
const FRAMES: u64 = 5;

/// (RX packets, RX errors) of `dev` in `ns`.
fn rx(ns: &str, dev: &str) -> (u64, u64) {
    let read = |what: &str| -> u64 {
        let path = format!("/sys/class/net/{dev}/statistics/{what}");
        let (_, v) = sh::try_in_ns(ns, &["cat", &path]);
        v.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{ns} {path}: {v}"))
    };
    (read("rx_packets"), read("rx_errors"))
}

/// Sends FRAMES VXLAN datagrams (VNI 5001, a broadcast inside) from namespace `ns` to `to`.
fn send(ns: &str, to: Ipv4Addr, marked: bool) {
    let ns = ns.to_owned();
    std::thread::spawn(move || {
        sh::enter_netns(&ns).unwrap();
        let s = UdpSocket::bind("0.0.0.0:0").unwrap();
        let mut d = vec![0u8; vxlan::HEADER_LEN];
        vxlan::emit_header(&mut d, VNI);
        vxlan::set_replicate(&mut d, marked);
        d.extend_from_slice(&[0xff; 6]);
        d.extend_from_slice(&[2, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0x88, 0xb5]);
        d.resize(vxlan::HEADER_LEN + 60, 0x5a);
        for _ in 0..FRAMES {
            s.send_to(&d, (to, 4789)).unwrap();
        }
    })
    .join()
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
}

/// Linux's version as (major, minor).
fn kernel() -> (u32, u32) {
    let r = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let mut n = r
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|x| x.parse().ok());
    (n.next().unwrap_or(0), n.next().unwrap_or(0))
}

#[test]
fn linux_drops_the_mark_by_default_and_ignores_it_when_told() {
    require_root();
    let mut nss = Namespaces::default();
    let (s, d, t) = ("vxm-s", "vxm-d", "vxm-t");
    for ns in [s, d, t] {
        nss.add(ns).unwrap();
    }
    for (k, peer) in [(1, d), (2, t)] {
        let (a, b) = (format!("s{k}"), "up0");
        sh::veth((s, &a, None), (peer, b), 1500).unwrap();
        sh::in_ns(
            s,
            &["ip", "addr", "add", &format!("10.98.{k}.1/24"), "dev", &a],
        )
        .unwrap();
        sh::in_ns(s, &["ip", "link", "set", &a, "up"]).unwrap();
        sh::in_ns(
            peer,
            &["ip", "addr", "add", &format!("10.98.{k}.2/24"), "dev", b],
        )
        .unwrap();
        sh::in_ns(peer, &["ip", "link", "set", b, "up"]).unwrap();
    }
    let (dip, tip) = (Ipv4Addr::new(10, 98, 1, 2), Ipv4Addr::new(10, 98, 2, 2));
    // The default kernel VTEP, as `ip link add ... type vxlan` makes it.
    let vni = VNI.to_string();
    sh::in_ns(
        d,
        &[
            "ip",
            "link",
            "add",
            "vx0",
            "type",
            "vxlan",
            "id",
            &vni,
            "local",
            "10.98.1.2",
            "dstport",
            "4789",
        ],
    )
    .unwrap();
    sh::in_ns(d, &["ip", "link", "set", "vx0", "up"]).unwrap();
    send(s, dip, false);
    assert_eq!(
        rx(d, "vx0"),
        (FRAMES, 0),
        "an unmarked frame is decapsulated"
    );
    send(s, dip, true);
    assert_eq!(
        rx(d, "vx0"),
        (FRAMES, FRAMES),
        "Linux drops a marked one as an error"
    );

    // A kernel VTEP told which reserved bits to refuse: every one but the mark.
    let made = {
        let t = t.to_owned();
        std::thread::spawn(move || {
            sh::enter_netns(&t).unwrap();
            add_vxlan("vx0", VNI, tip, reserved_bits_but_the_mark())
        })
        .join()
        .unwrap()
    };
    if let Err(e) = made {
        assert!(
            kernel() < (6, 14),
            "Linux {:?} has IFLA_VXLAN_RESERVED_BITS: {e}",
            kernel()
        );
        eprintln!(
            "Linux {:?} predates IFLA_VXLAN_RESERVED_BITS (6.14): {e}",
            kernel()
        );
        return;
    }
    sh::in_ns(t, &["ip", "link", "set", "vx0", "up"]).unwrap();
    send(s, tip, true);
    assert_eq!(
        rx(t, "vx0"),
        (FRAMES, 0),
        "the mark is ignored, the frame decapsulated"
    );
}
