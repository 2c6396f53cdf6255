//! Scenario tests of the pipeline on in-memory frames (no EAL): real frames in, the frames
//! out and the counters checked.

use std::net::Ipv4Addr;
use std::sync::Arc;
use vxswitch::config::Config;
use vxswitch::dataplane::events::{Event, EventQueue};
use vxswitch::dataplane::{process, Counters, Ctx, DropReason, Pipeline, Stat, VniStat};
use vxswitch::host::{initial_snapshot, TableManager};
use vxswitch::tables::{Dest, PortIdx, Snapshot, SnapshotCell, UPLINK};
use vxswitch::testkit::traffic::{self, Outer};
use vxswitch::testkit::{MemFrame, MemIo};
use vxswitch::wire::{
    icmp, ArpOperation, ArpPacket, EthernetFrame, IcmpPacket, Ipv4Packet, MacAddr, UdpPacket,
    VxlanHeader,
};

const V5001: vxswitch::ids::Vni = vxswitch::ids::Vni::from_const(5001);
const V6000: vxswitch::ids::Vni = vxswitch::ids::Vni::from_const(6000);
const V7777: vxswitch::ids::Vni = vxswitch::ids::Vni::from_const(7777);

const CONFIG: &str = r#"
[eal]
args = []
[vtep]
ip = "192.168.250.51/24"
mac = "02:00:00:00:00:51"
gateway = "192.168.250.1"
[uplink]
device = "up"
[[access_port]]
name = "vm-a"
device = "a"
vni = 5001
[[access_port]]
name = "vm-c"
device = "c"
vni = 5001
[[access_port]]
name = "vm-x"
device = "x"
vni = 6000
[[vni]]
vni = 5001
vteps = ["192.168.250.52", "192.168.251.53"]
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
ip = "192.168.250.1"
mac = "02:00:00:00:00:01"
"#;

const VM_A: PortIdx = 1;
const VM_C: PortIdx = 2;
const VM_X: PortIdx = 3;

fn a_mac() -> MacAddr {
    "02:aa:aa:aa:aa:aa".parse().unwrap()
}
fn b_mac() -> MacAddr {
    "02:bb:bb:bb:bb:bb".parse().unwrap()
}
fn vtep_mac() -> MacAddr {
    "02:00:00:00:00:51".parse().unwrap()
}
fn a_ip() -> Ipv4Addr {
    Ipv4Addr::new(172, 16, 10, 11)
}
fn b_ip() -> Ipv4Addr {
    Ipv4Addr::new(172, 16, 10, 12)
}
fn vtep_ip() -> Ipv4Addr {
    Ipv4Addr::new(192, 168, 250, 51)
}
fn remote_ip() -> Ipv4Addr {
    Ipv4Addr::new(192, 168, 250, 52)
}

struct Rig {
    snap: Snapshot,
    pipeline: Pipeline,
    io: MemIo,
    events: Arc<EventQueue>,
}

impl Rig {
    fn new(config: &str) -> Rig {
        let cfg = Config::parse(config).unwrap();
        let vtep = cfg.vtep.identity(MacAddr::ZERO);
        let events = Arc::new(EventQueue::new(64));
        Rig {
            snap: initial_snapshot(&cfg, vtep, 0),
            pipeline: Pipeline::new(Arc::new(Counters::default()), Arc::clone(&events)),
            io: MemIo::default(),
            events,
        }
    }
    fn send(&mut self, port: PortIdx, bytes: &[u8]) {
        let mut cx = Ctx {
            p: &mut self.pipeline,
            snap: &self.snap,
            io: &mut self.io,
        };
        process(&mut cx, port, MemFrame::new(bytes));
    }
    fn drops(&self, r: DropReason) -> u64 {
        self.pipeline.counters.drops(r)
    }
    fn stat(&self, s: Stat) -> u64 {
        self.pipeline.counters.stat(s)
    }
    fn events(&self) -> Vec<Event> {
        std::iter::from_fn(|| self.events.pop()).collect()
    }
    fn outer(&self, src_ip: Ipv4Addr) -> Outer {
        Outer {
            dst_mac: vtep_mac(),
            src_mac: "02:00:00:00:00:52".parse().unwrap(),
            src_ip,
            dst_ip: vtep_ip(),
            udp_port: 4789,
        }
    }
}

/// (outer dst IP, VNI, UDP source port, inner frame) of an encapsulated frame, checking the
/// outer headers on the way.
fn open_vxlan(f: &[u8]) -> (Ipv4Addr, u32, u16, Vec<u8>) {
    let e = EthernetFrame::new_checked(f).unwrap();
    assert_eq!(e.src(), vtep_mac());
    let ip = Ipv4Packet::new_checked(e.payload()).unwrap();
    assert!(ip.verify_checksum(), "outer IPv4 checksum");
    assert!(ip.dont_fragment(), "DF set");
    assert_eq!(ip.ttl(), 64);
    assert_eq!(ip.src(), vtep_ip());
    let u = UdpPacket::new_checked(ip.payload()).unwrap();
    assert_eq!(u.dst_port(), 4789);
    assert!(u.src_port() >= 49152);
    assert_eq!(u.checksum(), 0);
    let v = VxlanHeader::new_checked(u.payload()).unwrap();
    assert!(v.vni_valid());
    (ip.dst(), v.vni(), u.src_port(), v.payload().to_vec())
}

#[test]
fn frame_to_known_remote_mac_is_encapsulated_to_its_vtep() {
    let mut r = Rig::new(CONFIG);
    let f = traffic::udp(b_mac(), a_mac(), a_ip(), b_ip(), 1000, 2000, 18);
    r.send(VM_A, &f);
    let out = r.io.sent_on(UPLINK);
    assert_eq!(out.len(), 1);
    let e = EthernetFrame::new_checked(out[0]).unwrap();
    assert_eq!(e.dst().to_string(), "02:00:00:00:00:52");
    let (dst, vni, _, inner) = open_vxlan(out[0]);
    assert_eq!((dst, vni), (remote_ip(), 5001));
    assert_eq!(inner, f);
    assert_eq!(r.stat(Stat::Encapsulated), 1);
    assert_eq!(
        r.events(),
        vec![Event::MacSeen {
            vni: V5001,
            mac: a_mac(),
            dest: Dest::Local(VM_A)
        }]
    );
}

#[test]
fn frame_to_known_local_mac_stays_on_the_host() {
    let mut r = Rig::new(CONFIG);
    let c: MacAddr = "02:cc:cc:cc:cc:cc".parse().unwrap();
    let f = traffic::udp(c, a_mac(), a_ip(), b_ip(), 1, 2, 0);
    r.send(VM_A, &f);
    assert_eq!(r.io.sent, vec![(VM_C, f.clone())]);
    r.send(VM_C, &traffic::udp(c, c, b_ip(), a_ip(), 1, 2, 0));
    assert_eq!(r.drops(DropReason::SamePort), 1);
}

#[test]
fn broadcast_floods_local_ports_of_the_vni_and_every_vtep_once() {
    let mut r = Rig::new(CONFIG);
    let f = traffic::arp(
        ArpOperation::Request,
        a_mac(),
        a_ip(),
        MacAddr::ZERO,
        b_ip(),
    );
    r.send(VM_A, &f);
    assert_eq!(
        r.io.sent_on(VM_C),
        vec![&f[..]],
        "other local port of VNI 5001"
    );
    assert!(
        r.io.sent_on(VM_X).is_empty(),
        "VNI 6000 port must not see it"
    );
    assert!(r.io.sent_on(VM_A).is_empty(), "never back to the sender");
    let mut dsts: Vec<_> = r.io.sent_on(UPLINK).iter().map(|o| open_vxlan(o)).collect();
    dsts.sort();
    assert_eq!(dsts.len(), 2);
    assert_eq!(dsts[0].0, remote_ip());
    assert_eq!(
        dsts[1].0,
        Ipv4Addr::new(192, 168, 251, 53),
        "off-segment VTEP via the gateway"
    );
    assert!(dsts.iter().all(|d| d.1 == 5001 && d.3 == f));
    let gw = EthernetFrame::new_checked(r.io.sent_on(UPLINK)[1])
        .unwrap()
        .dst();
    assert_eq!(gw.to_string(), "02:00:00:00:00:01");
    assert_eq!(r.stat(Stat::FloodTunnelCopies), 2);
    assert_eq!(r.stat(Stat::FloodLocalCopies), 1);
}

#[test]
fn unknown_unicast_is_flooded_not_dropped() {
    let mut r = Rig::new(CONFIG);
    let f = traffic::udp(
        "02:99:99:99:99:99".parse().unwrap(),
        a_mac(),
        a_ip(),
        b_ip(),
        1,
        2,
        0,
    );
    r.send(VM_A, &f);
    assert_eq!(r.io.sent.len(), 3);
    assert_eq!(r.stat(Stat::Flooded), 1);
}

#[test]
fn frame_too_big_for_the_underlay_is_dropped_and_counted() {
    let mut r = Rig::new(&CONFIG.replace("gateway =", "mtu = 1550\ngateway ="));
    // 1514-byte frame + 36 bytes of outer IPv4/UDP/VXLAN = 1550: fits exactly.
    r.send(
        VM_A,
        &traffic::udp(b_mac(), a_mac(), a_ip(), b_ip(), 1, 2, 1472),
    );
    assert_eq!(r.io.sent_on(UPLINK).len(), 1);
    r.send(
        VM_A,
        &traffic::udp(b_mac(), a_mac(), a_ip(), b_ip(), 1, 2, 1473),
    );
    assert_eq!(r.drops(DropReason::Oversize), 1);
    assert_eq!(r.io.sent_on(UPLINK).len(), 1);
}

#[test]
fn unresolved_next_hop_drops_with_a_reason() {
    let mut r = Rig::new(&CONFIG.replace(
        "ip = \"192.168.250.52\"\nmac",
        "ip = \"192.168.250.99\"\nmac",
    ));
    r.send(
        VM_A,
        &traffic::udp(b_mac(), a_mac(), a_ip(), b_ip(), 1, 2, 0),
    );
    assert_eq!(r.drops(DropReason::NoNeighbor), 1);
}

#[test]
fn vxlan_from_a_known_vtep_is_decapsulated_and_its_source_learned() {
    let mut r = Rig::new(CONFIG);
    let c: MacAddr = "02:cc:cc:cc:cc:cc".parse().unwrap();
    let inner = traffic::udp(c, b_mac(), b_ip(), a_ip(), 7, 8, 30);
    r.send(
        UPLINK,
        &traffic::vxlan(&r.outer(remote_ip()), V5001, 50000, &inner),
    );
    assert_eq!(r.io.sent, vec![(VM_C, inner)]);
    assert_eq!(r.stat(Stat::Decapsulated), 1);
    let t = r.snap.tunnels.index_of(remote_ip()).unwrap();
    // 02:bb.. is a static entry behind that VTEP: nothing to report.
    assert!(r.events().is_empty());
    let d: MacAddr = "02:dd:dd:dd:dd:dd".parse().unwrap();
    let inner = traffic::udp(MacAddr::BROADCAST, d, b_ip(), a_ip(), 7, 8, 30);
    r.send(
        UPLINK,
        &traffic::vxlan(&r.outer(remote_ip()), V5001, 50000, &inner),
    );
    assert_eq!(
        r.events(),
        vec![Event::MacSeen {
            vni: V5001,
            mac: d,
            dest: Dest::Remote(t)
        }]
    );
    // Broadcast from the tunnel: both local ports of 5001, never the uplink (split horizon).
    assert_eq!(r.io.sent_on(VM_A).len(), 1);
    assert_eq!(r.io.sent_on(VM_C).len(), 2);
    assert!(r.io.sent_on(UPLINK).is_empty());
}

#[test]
fn one_vtep_alternating_between_two_vnis_reaches_each_vnis_ports_and_counters() {
    // The last-tunnel cache keeps the VNI's slot: a frame on the other VNI must not reuse it.
    let config = format!("{CONFIG}[[vni]]\nvni = 6000\nvteps = [\"192.168.250.52\"]\n");
    let mut r = Rig::new(&config);
    let counters = Arc::new(Counters::with_vni_slots(r.snap.vnis.len()));
    r.pipeline = Pipeline::new(Arc::clone(&counters), Arc::clone(&r.events));
    let slot = |v| r.snap.vnis.get(&v).unwrap().slot;
    let (s5001, s6000) = (slot(V5001), slot(V6000));
    assert_ne!(s5001, s6000);
    let d: MacAddr = "02:dd:dd:dd:dd:dd".parse().unwrap();
    let inner = traffic::udp(MacAddr::BROADCAST, d, b_ip(), a_ip(), 7, 8, 30);
    for vni in [V5001, V6000, V6000, V5001, V6000] {
        r.send(
            UPLINK,
            &traffic::vxlan(&r.outer(remote_ip()), vni, 50000, &inner),
        );
    }
    assert_eq!(
        [VM_A, VM_C, VM_X].map(|p| r.io.sent_on(p).len()),
        [2, 2, 3],
        "5001's two frames to its two ports, 6000's three to vm-x"
    );
    let decapsulated = |s| counters.vni_stat(s, VniStat::Decapsulated);
    assert_eq!((decapsulated(s5001), decapsulated(s6000)), (2, 3));
    assert!(r.io.sent_on(UPLINK).is_empty());
}

#[test]
fn bad_vxlan_is_dropped_by_reason() {
    let mut r = Rig::new(CONFIG);
    let inner = traffic::udp(a_mac(), b_mac(), b_ip(), a_ip(), 7, 8, 30);
    r.send(
        UPLINK,
        &traffic::vxlan(
            &r.outer(Ipv4Addr::new(192, 168, 250, 66)),
            V5001,
            50000,
            &inner,
        ),
    );
    assert_eq!(r.drops(DropReason::UnknownVtep), 1);
    r.send(
        UPLINK,
        &traffic::vxlan(&r.outer(remote_ip()), V7777, 50000, &inner),
    );
    assert_eq!(r.drops(DropReason::UnknownVni), 1);
    let mut f = traffic::vxlan(&r.outer(remote_ip()), V5001, 50000, &inner);
    f[14 + 20 + 8] = 0x00; // I flag cleared
    r.send(UPLINK, &f);
    assert_eq!(r.drops(DropReason::BadVxlanFlags), 1);
    let mut f = traffic::vxlan(&r.outer(remote_ip()), V5001, 50000, &inner);
    f[14 + 20 + 8] = 0xff; // reserved bits set: ignored on receipt
    f[14 + 20 + 8 + 7] = 0xff;
    r.send(UPLINK, &f);
    assert_eq!(r.stat(Stat::Decapsulated), 1);
    let mut f = traffic::vxlan(&r.outer(remote_ip()), V5001, 50000, &inner);
    f[14 + 10] ^= 0xff; // outer IPv4 checksum broken
    r.send(UPLINK, &f);
    assert_eq!(r.drops(DropReason::BadIpv4Checksum), 1);
    let other_port = traffic::udp(vtep_mac(), b_mac(), remote_ip(), vtep_ip(), 1, 4790, 20);
    r.send(UPLINK, &other_port);
    assert_eq!(r.drops(DropReason::NotForVtep), 1);
    // Only the frame with reserved bits set got through: flooded to the two local ports.
    assert_eq!(r.io.sent.len(), 2);
}

#[test]
fn vtep_answers_arp_for_its_own_address_and_learns_the_asker() {
    let mut r = Rig::new(CONFIG);
    let asker: MacAddr = "02:00:00:00:00:77".parse().unwrap();
    let req = traffic::arp(
        ArpOperation::Request,
        asker,
        Ipv4Addr::new(192, 168, 250, 77),
        MacAddr::ZERO,
        vtep_ip(),
    );
    r.send(UPLINK, &req);
    let out = r.io.sent_on(UPLINK);
    assert_eq!(out.len(), 1);
    let e = EthernetFrame::new_checked(out[0]).unwrap();
    assert_eq!((e.dst(), e.src()), (asker, vtep_mac()));
    let a = ArpPacket::new_checked(e.payload()).unwrap();
    assert_eq!(a.operation(), ArpOperation::Reply);
    assert_eq!((a.sender_ip(), a.sender_mac()), (vtep_ip(), vtep_mac()));
    assert_eq!(a.target_ip(), Ipv4Addr::new(192, 168, 250, 77));
    assert_eq!(
        r.events(),
        vec![Event::NeighborSeen {
            ip: Ipv4Addr::new(192, 168, 250, 77),
            mac: asker
        }]
    );
    // ARP for somebody else is not ours to answer.
    r.send(
        UPLINK,
        &traffic::arp(
            ArpOperation::Request,
            asker,
            Ipv4Addr::new(192, 168, 250, 77),
            MacAddr::ZERO,
            remote_ip(),
        ),
    );
    assert_eq!(r.drops(DropReason::NotForVtep), 1);
}

#[test]
fn vtep_answers_a_full_size_dont_fragment_ping() {
    let mut r = Rig::new(CONFIG);
    let asker: MacAddr = "02:00:00:00:00:52".parse().unwrap();
    // ping -M do -s 1572: 1572 data + 8 ICMP + 20 IPv4 = 1600, the underlay MTU.
    let req = traffic::ping(vtep_mac(), asker, remote_ip(), vtep_ip(), 9, 1572);
    assert_eq!(req.len(), 1614);
    r.send(UPLINK, &req);
    let out = r.io.sent_on(UPLINK);
    assert_eq!(out.len(), 1);
    let e = EthernetFrame::new_checked(out[0]).unwrap();
    assert_eq!(e.dst(), asker);
    let ip = Ipv4Packet::new_checked(e.payload()).unwrap();
    assert!(ip.verify_checksum());
    assert_eq!(
        (ip.src(), ip.dst(), ip.total_len()),
        (vtep_ip(), remote_ip(), 1600)
    );
    let m = IcmpPacket::new_checked(ip.payload()).unwrap();
    assert_eq!((m.msg_type(), m.seq()), (icmp::ECHO_REPLY, 9));
    assert!(m.verify_checksum());
    assert_eq!(r.stat(Stat::IcmpRepliesSent), 1);
}

#[test]
fn learned_mac_is_published_and_then_forwarded_as_unicast() {
    let cfg = Config::parse(CONFIG).unwrap();
    let mut r = Rig::new(CONFIG);
    let cell = Arc::new(SnapshotCell::new(r.snap.clone()));
    let mut m = TableManager::new(Arc::clone(&cell), &cfg);
    let d: MacAddr = "02:dd:dd:dd:dd:dd".parse().unwrap();
    let inner = traffic::udp(MacAddr::BROADCAST, d, b_ip(), a_ip(), 7, 8, 30);
    r.send(
        UPLINK,
        &traffic::vxlan(&r.outer(remote_ip()), V5001, 50000, &inner),
    );
    m.apply(&r.events(), 1);
    r.snap = (*cell.load()).clone();
    assert_eq!(m.stats.macs_learned, 1);
    r.io.sent.clear();
    r.send(VM_A, &traffic::udp(d, a_mac(), a_ip(), b_ip(), 1, 2, 0));
    let out = r.io.sent_on(UPLINK);
    assert_eq!(out.len(), 1, "unicast to the learned VTEP, not a flood");
    assert_eq!(open_vxlan(out[0]).0, remote_ip());
    // The MAC moves to a local port: the newest location wins.
    r.send(
        VM_C,
        &traffic::udp(MacAddr::BROADCAST, d, b_ip(), a_ip(), 1, 2, 0),
    );
    m.apply(&r.events(), 2);
    assert_eq!(m.stats.mac_moves, 1);
    // Both learned entries (02:aa.. and the moved 02:dd..) were last seen at t=2; the
    // static ones never age.
    m.age(2 + 299);
    assert_eq!(m.stats.macs_aged, 0);
    m.age(2 + 300);
    assert_eq!(m.stats.macs_aged, 2);
    assert_eq!(cell.load().macs.len(), 2, "the two static entries stay");
    assert!(cell
        .load()
        .macs
        .get(&vxswitch::tables::MacKey { vni: V5001, mac: d })
        .is_none());
}

#[test]
fn a_run_of_frames_from_one_mac_marks_it_seen_each_second_and_a_move_is_still_reported() {
    let cfg = Config::parse(CONFIG).unwrap();
    let mut r = Rig::new(CONFIG);
    let cell = Arc::new(SnapshotCell::new(r.snap.clone()));
    let mut m = TableManager::new(Arc::clone(&cell), &cfg);
    let d: MacAddr = "02:dd:dd:dd:dd:dd".parse().unwrap();
    let from_d = traffic::udp(b_mac(), d, a_ip(), b_ip(), 1, 2, 0);
    r.send(VM_A, &from_d);
    m.apply(&r.events(), 1);
    r.snap = (*cell.load()).clone();
    let seen = |r: &Rig| {
        r.snap
            .macs
            .get(&vxswitch::tables::MacKey { vni: V5001, mac: d })
            .map(|e| (e.dest, e.seen()))
    };
    // The frames after the first skip the lookup; a new second refreshes the entry again.
    for now in [5, 5, 5, 6, 6, 9] {
        r.pipeline.now = now;
        r.send(VM_A, &from_d);
        assert_eq!(seen(&r), Some((Dest::Local(VM_A), now)));
    }
    assert!(r.events().is_empty(), "a known MAC is not reported");
    // The next frame from the MAC comes from another port: reported at once.
    r.send(VM_C, &from_d);
    assert_eq!(
        r.events(),
        vec![Event::MacSeen {
            vni: V5001,
            mac: d,
            dest: Dest::Local(VM_C)
        }]
    );
    // Decapsulation too: a run from one VTEP, then a VTEP the VNI does not have.
    let inner = traffic::udp(a_mac(), b_mac(), b_ip(), a_ip(), 7, 8, 30);
    for _ in 0..3 {
        r.send(
            UPLINK,
            &traffic::vxlan(&r.outer(remote_ip()), V5001, 50000, &inner),
        );
    }
    assert_eq!(r.stat(Stat::Decapsulated), 3);
    let stranger = Ipv4Addr::new(192, 168, 250, 77);
    r.send(
        UPLINK,
        &traffic::vxlan(&r.outer(stranger), V5001, 50000, &inner),
    );
    assert_eq!(r.drops(DropReason::UnknownVtep), 1);
    assert_eq!(r.stat(Stat::Decapsulated), 3);
}

#[test]
fn full_mac_table_refuses_new_entries_and_keeps_old_ones() {
    let mut cfg = Config::parse(CONFIG).unwrap();
    let r = Rig::new(CONFIG);
    let cell = Arc::new(SnapshotCell::new(r.snap.clone()));
    let before = r.snap.macs.len();
    cfg.mac_capacity = before + 1;
    let mut m = TableManager::new(Arc::clone(&cell), &cfg);
    let ev = |i: u8| Event::MacSeen {
        vni: V5001,
        mac: MacAddr([2, 0, 0, 0, 1, i]),
        dest: Dest::Local(VM_A),
    };
    m.apply(&[ev(1), ev(2), ev(3)], 0);
    assert_eq!(cell.load().macs.len(), before + 1);
    assert_eq!(m.stats.mac_table_full, 2);
}

#[test]
fn malformed_frames_never_panic_and_are_counted() {
    let mut r = Rig::new(CONFIG);
    let good_vx = traffic::vxlan(
        &r.outer(remote_ip()),
        V5001,
        50000,
        &traffic::udp(a_mac(), b_mac(), b_ip(), a_ip(), 7, 8, 30),
    );
    let good_arp = traffic::arp(
        ArpOperation::Request,
        a_mac(),
        a_ip(),
        MacAddr::ZERO,
        vtep_ip(),
    );
    let mut rx = 0;
    for base in [&good_vx, &good_arp] {
        for len in 0..base.len() {
            for port in [UPLINK, VM_A] {
                r.send(port, &base[..len]);
                rx += 1;
            }
        }
    }
    let mut seed = 0x1234_5678u64;
    for _ in 0..20_000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut f = good_vx.clone();
        let (at, len) = (
            (seed % f.len() as u64) as usize,
            ((seed >> 40) % f.len() as u64) as usize + 1,
        );
        f[at] = (seed >> 32) as u8;
        f.truncate(len);
        r.send(if seed & 1 == 0 { UPLINK } else { VM_A }, &f);
        rx += 1;
    }
    let c = &r.pipeline.counters;
    let dropped: u64 = DropReason::ALL.iter().map(|d| c.drops(*d)).sum();
    assert!(dropped > 0);
    assert_eq!(c.stat(Stat::RxUplink) + c.stat(Stat::RxAccess), rx);
    // Every received frame was either sent somewhere or released: nothing leaks.
    assert!(r.io.freed as u64 + r.io.sent.len() as u64 >= rx);
}

/// The L4 checksum of the IPv4 packet in `frame` verifies (pseudo-header included).
fn l4_checksum_verifies(frame: &[u8]) -> bool {
    use vxswitch::wire::checksum::{fold, sum};
    let ip = &frame[14..];
    let len = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    let pseudo = sum(&ip[12..20]) + u32::from(ip[9]) + (len - 20) as u32;
    fold(pseudo + sum(&ip[20..len])) == 0xffff
}

/// A UDP frame from A to B as a sender with checksum offload hands it over: the checksum
/// field holds the pseudo-header sum only.
fn partial_udp(payload_len: usize) -> Vec<u8> {
    use vxswitch::wire::checksum::{fold, sum};
    let mut f = traffic::udp(b_mac(), a_mac(), a_ip(), b_ip(), 1000, 2000, payload_len);
    let l4_len = (8 + payload_len) as u32;
    let pseudo = fold(sum(&f[26..34]) + 17 + l4_len);
    f[40..42].copy_from_slice(&pseudo.to_be_bytes());
    f
}

#[test]
fn partial_checksums_from_a_kernel_port_are_completed_before_encapsulation() {
    let mut r = Rig::new(CONFIG);
    r.pipeline = Pipeline::new(Arc::new(Counters::default()), Arc::clone(&r.events))
        .with_kernel_ports(&[(VM_A, 1500)]);
    let f = partial_udp(100);
    assert!(!l4_checksum_verifies(&f));
    r.send(VM_A, &f);
    let out = r.io.sent_on(UPLINK);
    assert_eq!(out.len(), 1);
    let (_, _, _, inner) = open_vxlan(out[0]);
    assert!(l4_checksum_verifies(&inner), "inner UDP checksum completed");
    assert_eq!(&inner[..40], &f[..40], "nothing but the checksum changed");
    assert_eq!(&inner[42..], &f[42..]);
    assert_eq!(r.stat(Stat::ChecksumsCompleted), 1);

    // A complete checksum is left as it is; other ports are not touched at all.
    let full = inner.clone();
    r.send(VM_A, &full);
    r.send(VM_C, &f);
    let out = r.io.sent_on(UPLINK);
    assert_eq!(open_vxlan(out[1]).3, full);
    assert_eq!(
        open_vxlan(out[2]).3,
        f,
        "not a kernel port: forwarded as it came"
    );
    assert_eq!(r.stat(Stat::ChecksumsCompleted), 1);
}

#[test]
fn a_frame_cut_by_a_kernel_port_ring_is_dropped_as_truncated() {
    let mut r = Rig::new(CONFIG);
    r.pipeline = Pipeline::new(Arc::new(Counters::default()), Arc::clone(&r.events))
        .with_kernel_ports(&[(VM_A, 1500)]);
    let mut f = partial_udp(1400);
    // What a 2 KiB af_packet slot keeps of a 64 KiB GSO frame: the IP length says more.
    f[16..18].copy_from_slice(&60000u16.to_be_bytes());
    r.send(VM_A, &f);
    assert!(r.io.sent_on(UPLINK).is_empty());
    assert_eq!(r.drops(DropReason::Truncated), 1);
}

#[test]
fn a_tcp_gso_frame_from_a_kernel_port_leaves_as_mtu_sized_segments() {
    let mut r = Rig::new(CONFIG);
    r.pipeline = Pipeline::new(Arc::new(Counters::default()), Arc::clone(&r.events))
        .with_kernel_ports(&[(VM_A, 1500)]);
    // 20 KB of TCP payload in one frame, as a VM with TSO on hands it over.
    let mut tcp = vec![0u8; 20 + 20_000];
    tcp[12] = 0x50;
    tcp[13] = 0x18;
    for (i, b) in tcp[20..].iter_mut().enumerate() {
        *b = (i % 251) as u8;
    }
    let f = traffic::ipv4(
        b_mac(),
        a_mac(),
        a_ip(),
        b_ip(),
        vxswitch::wire::IpProtocol::Tcp,
        &tcp,
    );
    r.send(VM_A, &f);
    let out = r.io.sent_on(UPLINK);
    assert_eq!(out.len(), 20_000usize.div_ceil(1460));
    let mut payload = Vec::new();
    for o in &out {
        let (_, _, _, inner) = open_vxlan(o);
        assert!(inner.len() - 14 <= 1500);
        assert!(l4_checksum_verifies(&inner));
        payload.extend_from_slice(&inner[54..]);
    }
    assert_eq!(payload, tcp[20..]);
    assert_eq!(r.stat(Stat::GsoSegments), out.len() as u64);
    assert_eq!(r.stat(Stat::Encapsulated), out.len() as u64);
}
