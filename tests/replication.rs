//! BUM replication per mode through the real pipeline and table manager on in-memory frames:
//! which copies a VM's broadcast becomes (and which carry the "replicate locally" mark), what
//! a segment's proxy re-sends, multicast mode's open membership, and IGMP membership.
//!
//! This host is 192.168.250.51 on segment 192.168.250.0/24 (with .52 and .53); the other
//! segment 192.168.251.0/24 has .61 and .62, reached through the gateway .1.

use std::net::Ipv4Addr;
use vxswitch::agent::{ControlUpdate, RemoteVtep};
use vxswitch::dataplane::{DropReason, VniStat};
use vxswitch::ids::{ReplicationMode, Vni};
use vxswitch::tables::{Dest, MacKey, PortIdx, UPLINK};
use vxswitch::testkit::traffic::{self, Outer};
use vxswitch::testkit::HostRig;
use vxswitch::wire::igmp::{IgmpPacket, QUERY, V2_REPORT};
use vxswitch::wire::{EthernetFrame, IpProtocol, Ipv4Packet, MacAddr, UdpPacket, VxlanHeader};

const V5001: Vni = Vni::from_const(5001);
const VM_A: PortIdx = 1;
const GROUP: Ipv4Addr = Ipv4Addr::new(239, 1, 1, 1);

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
[[vni]]
vni = 5001
arp_suppression = false
[[neighbor]]
ip = "192.168.250.52"
mac = "02:00:00:00:00:52"
[[neighbor]]
ip = "192.168.250.53"
mac = "02:00:00:00:00:53"
[[neighbor]]
ip = "192.168.250.1"
mac = "02:00:00:00:00:01"
"#;

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}
fn me() -> Ipv4Addr {
    ip("192.168.250.51")
}

/// The controller's VTEP table: every VTEP of both segments, `proxies` marked.
fn table(proxies: &[&str]) -> Vec<RemoteVtep> {
    [
        "192.168.250.51",
        "192.168.250.52",
        "192.168.250.53",
        "192.168.251.61",
        "192.168.251.62",
    ]
    .iter()
    .map(|a| RemoteVtep {
        ip: ip(a),
        prefix_len: 24,
        mac: MacAddr([2, 0, 0, 0, 0, ip(a).octets()[3]]),
        proxy: proxies.contains(a),
    })
    .collect()
}

/// A host in memory (`HostRig`) with this file's VNI set up.
struct Rig(HostRig);

impl std::ops::Deref for Rig {
    type Target = HostRig;
    fn deref(&self) -> &HostRig {
        &self.0
    }
}
impl std::ops::DerefMut for Rig {
    fn deref_mut(&mut self) -> &mut HostRig {
        &mut self.0
    }
}
/// Every scenario ends with each frame received or made sent or freed (no mbuf leak).
impl Drop for Rig {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            assert_eq!(self.0.outstanding(), 0, "frames neither sent nor freed");
        }
    }
}

impl Rig {
    /// A host in `mode` (group GROUP) whose controller listed `proxies`.
    fn new(mode: ReplicationMode, proxies: &[&str]) -> Rig {
        let mut r = Rig(HostRig::new(CONFIG));
        r.m.control(ControlUpdate::Connected(true), 1);
        r.m.port_link(V5001, true);
        r.m.control(
            ControlUpdate::LogicalSwitch {
                vni: V5001,
                arp_suppression: false,
                replication: mode,
                group: mode.needs_group().then_some(GROUP),
            },
            1,
        );
        r.m.control(
            ControlUpdate::VtepTable {
                vni: V5001,
                vteps: table(proxies),
            },
            1,
        );
        r
    }
    /// Runs the frames the manager queued for the slow path; returns the uplink's.
    fn slow_path(&mut self) -> Vec<Vec<u8>> {
        self.run_slow_path();
        self.take(UPLINK)
    }
    fn take(&mut self, port: PortIdx) -> Vec<Vec<u8>> {
        let out = self.io.sent_on(port).iter().map(|f| f.to_vec()).collect();
        self.io.sent.clear();
        out
    }
    fn vni_stat(&self, s: VniStat) -> u64 {
        self.pipeline.counters.vni_stat(0, s)
    }
    /// VM A's broadcast (an experimental EtherType: no ARP or IP handling on the way).
    fn broadcast_from_a(&mut self) -> Vec<Copy> {
        self.send(VM_A, &broadcast());
        self.take(UPLINK).iter().map(|f| Copy::open(f)).collect()
    }
    /// A frame from VTEP `from` to `to` (this VTEP or a group), optionally marked.
    fn vxlan_in(&mut self, from: &str, to: Ipv4Addr, marked: bool, inner: &[u8]) {
        let o = Outer {
            dst_mac: if to.is_multicast() {
                MacAddr::ipv4_multicast(to)
            } else {
                "02:00:00:00:00:51".parse().unwrap()
            },
            src_mac: "02:00:00:00:00:01".parse().unwrap(),
            src_ip: ip(from),
            dst_ip: to,
            udp_port: 4789,
        };
        let mut f = traffic::vxlan(&o, V5001, 50000, inner);
        if marked {
            f[14 + 20 + 8 + 1] |= 0x80;
        }
        self.send(UPLINK, &f);
    }
}

fn broadcast() -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&[2, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0x88, 0xb5]);
    f.resize(60, 0x5a);
    f
}
fn from_remote_vm() -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&[2, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0x88, 0xb5]);
    f.resize(60, 0x3c);
    f
}

/// An encapsulated copy as it left: outer destination MAC/IP, TTL, mark, inner frame.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Copy {
    dst_mac: MacAddr,
    dst: Ipv4Addr,
    ttl: u8,
    marked: bool,
    inner: Vec<u8>,
}

impl Copy {
    fn open(f: &[u8]) -> Copy {
        let eth = EthernetFrame::new_checked(f).unwrap();
        let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
        assert!(ip.verify_checksum());
        assert_eq!(ip.src(), me());
        let u = UdpPacket::new_checked(ip.payload()).unwrap();
        assert_eq!(u.dst_port(), 4789);
        let v = VxlanHeader::new_checked(u.payload()).unwrap();
        assert!(v.vni_valid());
        assert_eq!(v.vni(), 5001);
        Copy {
            dst_mac: eth.dst(),
            dst: ip.dst(),
            ttl: ip.ttl(),
            marked: v.replicate_locally(),
            inner: v.payload().to_vec(),
        }
    }
}

fn dsts(copies: &[Copy]) -> Vec<(Ipv4Addr, bool)> {
    let mut d: Vec<_> = copies.iter().map(|c| (c.dst, c.marked)).collect();
    d.sort();
    d
}

#[test]
fn unicast_mode_copies_each_vtep_here_and_marks_one_copy_to_the_other_segments_utep() {
    let mut r = Rig::new(
        ReplicationMode::Unicast,
        &["192.168.250.52", "192.168.251.62"],
    );
    let copies = r.broadcast_from_a();
    assert_eq!(
        dsts(&copies),
        vec![
            (ip("192.168.250.52"), false),
            (ip("192.168.250.53"), false),
            (ip("192.168.251.62"), true),
        ]
    );
    assert!(copies.iter().all(|c| c.inner == broadcast() && c.ttl == 64));
    assert_eq!(r.vni_stat(VniStat::BumFrames), 1);
    assert_eq!(r.vni_stat(VniStat::UnicastCopies), 2);
    assert_eq!(r.vni_stat(VniStat::ProxyCopies), 1);
    assert_eq!(r.vni_stat(VniStat::GroupCopies), 0);
}

#[test]
fn a_utep_relays_marked_frames_from_other_segments_within_its_own_once() {
    let mut r = Rig::new(
        ReplicationMode::Unicast,
        &["192.168.250.51", "192.168.251.61"],
    );
    let inner = from_remote_vm();
    r.vxlan_in("192.168.251.61", me(), true, &inner);
    let relayed: Vec<Copy> = r.take(UPLINK).iter().map(|f| Copy::open(f)).collect();
    // Not back to the sender's segment, not to itself, unmarked: no second round.
    assert_eq!(
        dsts(&relayed),
        vec![(ip("192.168.250.52"), false), (ip("192.168.250.53"), false)]
    );
    assert!(relayed.iter().all(|c| c.inner == inner));
    assert_eq!(r.vni_stat(VniStat::ReplicateReceived), 1);
    assert_eq!(r.vni_stat(VniStat::ReplicateForwarded), 2);
    // The VM here got it too, and the sender's VM was learned behind the sender.
    r.manage();
    let mac = "02:cc:cc:cc:cc:cc".parse().unwrap();
    let t = r.snap().tunnels.index_of(ip("192.168.251.61")).unwrap();
    assert_eq!(
        r.snap()
            .macs
            .get(&MacKey { vni: V5001, mac })
            .map(|e| e.dest),
        Some(Dest::Remote(t))
    );
    // An unmarked frame, or a marked one from this segment, is only delivered.
    r.io.sent.clear();
    r.vxlan_in("192.168.251.61", me(), false, &inner);
    r.vxlan_in("192.168.250.52", me(), true, &inner);
    assert!(r.io.sent_on(UPLINK).is_empty());
    assert_eq!(r.io.sent_on(VM_A).len(), 2);
}

#[test]
fn a_vtep_that_is_no_proxy_delivers_marked_frames_only_locally() {
    let mut r = Rig::new(
        ReplicationMode::Unicast,
        &["192.168.250.52", "192.168.251.61"],
    );
    r.vxlan_in("192.168.251.61", me(), true, &from_remote_vm());
    assert!(r.io.sent_on(UPLINK).is_empty());
    assert_eq!(r.io.sent_on(VM_A).len(), 1);
}

#[test]
fn hybrid_mode_sends_to_the_group_in_the_segment_and_marks_the_mtep_copy() {
    let mut r = Rig::new(
        ReplicationMode::Hybrid,
        &["192.168.250.51", "192.168.251.61"],
    );
    let copies = r.broadcast_from_a();
    assert_eq!(
        dsts(&copies),
        vec![(ip("192.168.251.61"), true), (GROUP, false)]
    );
    let g = copies.iter().find(|c| c.dst == GROUP).unwrap();
    assert_eq!(g.dst_mac, MacAddr::ipv4_multicast(GROUP));
    assert_eq!(g.ttl, 1, "the segment's copy stays in the segment");
    // As its segment's MTEP it re-sends a marked frame to the group, TTL 1.
    r.vxlan_in("192.168.251.61", me(), true, &from_remote_vm());
    assert_eq!(r.io.sent_on(VM_A).len(), 1);
    let relayed: Vec<Copy> = r.take(UPLINK).iter().map(|f| Copy::open(f)).collect();
    assert_eq!(dsts(&relayed), vec![(GROUP, false)]);
    assert_eq!(relayed[0].ttl, 1);
    // Group traffic of the segment is received (the VTEP joined the group).
    r.vxlan_in("192.168.250.52", GROUP, false, &from_remote_vm());
    assert_eq!(r.take(VM_A).len(), 1);
    assert!(r.io.sent_on(UPLINK).is_empty());
}

#[test]
fn multicast_mode_is_one_routed_copy_and_learns_vteps_it_was_never_told_about() {
    let mut r = Rig::new(ReplicationMode::Multicast, &[]);
    let copies = r.broadcast_from_a();
    assert_eq!(dsts(&copies), vec![(GROUP, false)]);
    assert_eq!(copies[0].ttl, 64);
    assert_eq!(r.vni_stat(VniStat::GroupCopies), 1);
    // A kernel VTEP nobody reported: delivered, then taken in as a peer.
    let stranger = "10.20.30.40";
    r.vxlan_in(stranger, GROUP, false, &from_remote_vm());
    assert_eq!(r.take(VM_A).len(), 1);
    r.manage();
    let t = r
        .snap()
        .tunnels
        .index_of(ip(stranger))
        .expect("a tunnel to it");
    r.vxlan_in(stranger, GROUP, false, &from_remote_vm());
    r.manage();
    let mac = "02:cc:cc:cc:cc:cc".parse().unwrap();
    assert_eq!(
        r.snap()
            .macs
            .get(&MacKey { vni: V5001, mac })
            .map(|e| e.dest),
        Some(Dest::Remote(t))
    );
}

#[test]
fn head_end_copies_every_vtep_unmarked() {
    let mut r = Rig::new(
        ReplicationMode::HeadEnd,
        &["192.168.250.52", "192.168.251.62"],
    );
    let copies = r.broadcast_from_a();
    assert_eq!(copies.len(), 4);
    assert!(copies.iter().all(|c| !c.marked && !c.dst.is_multicast()));
}

#[test]
fn unicast_mode_refuses_strangers_and_groups_it_did_not_join() {
    let mut r = Rig::new(ReplicationMode::Unicast, &[]);
    r.vxlan_in("10.20.30.40", me(), false, &from_remote_vm());
    r.vxlan_in("192.168.250.52", GROUP, false, &from_remote_vm());
    assert!(r.io.sent_on(VM_A).is_empty());
    let c = &r.pipeline.counters;
    assert_eq!(c.drops(DropReason::UnknownVtep), 1);
    assert_eq!(c.drops(DropReason::NotForVtep), 1);
}

#[test]
fn the_vtep_joins_its_groups_with_igmp_and_answers_queries() {
    let mut r = Rig::new(ReplicationMode::Hybrid, &[]);
    let reports = |frames: &[Vec<u8>]| -> Vec<Ipv4Addr> {
        frames
            .iter()
            .filter_map(|f| {
                let ip = Ipv4Packet::new_checked(&f[14..]).ok()?;
                (ip.protocol() == IpProtocol::Igmp).then_some(())?;
                let m = IgmpPacket::new_checked(ip.payload()).ok()?;
                (m.msg_type() == V2_REPORT).then(|| m.group())
            })
            .collect()
    };
    // Joined when the switch became hybrid, then reported on the first tick.
    assert_eq!(reports(&r.slow_path()), vec![GROUP]);
    r.m.report_groups(1);
    assert_eq!(reports(&r.slow_path()), vec![GROUP]);
    r.m.report_groups(2);
    assert!(r.slow_path().is_empty(), "not before the refresh");
    // A querier asks.
    let mut q = [0u8; 8];
    vxswitch::wire::igmp::emit_v2(&mut q, QUERY, Ipv4Addr::UNSPECIFIED);
    let query = traffic::ipv4(
        MacAddr::ipv4_multicast(Ipv4Addr::new(224, 0, 0, 1)),
        "02:00:00:00:00:01".parse().unwrap(),
        ip("192.168.250.1"),
        Ipv4Addr::new(224, 0, 0, 1),
        IpProtocol::Igmp,
        &q,
    );
    r.send(UPLINK, &query);
    r.manage();
    r.m.report_groups(3);
    assert_eq!(reports(&r.slow_path()), vec![GROUP]);
    // Back to unicast: the group is left.
    r.m.control(
        ControlUpdate::LogicalSwitch {
            vni: V5001,
            arp_suppression: false,
            replication: ReplicationMode::Unicast,
            group: None,
        },
        4,
    );
    assert!(r.snap().groups.is_empty());
    assert_eq!(r.slow_path().len(), 1, "one leave");
}

#[test]
fn a_single_marked_copy_is_the_frame_itself_encapsulated() {
    let mut r = Rig::new(ReplicationMode::Unicast, &["192.168.251.61"]);
    let only_other_segment: Vec<RemoteVtep> = table(&["192.168.250.51", "192.168.251.61"])
        .into_iter()
        .filter(|v| !v.ip.to_string().starts_with("192.168.250.5") || v.ip == me())
        .collect();
    r.m.control(
        ControlUpdate::VtepTable {
            vni: V5001,
            vteps: only_other_segment,
        },
        1,
    );
    let copies = r.broadcast_from_a();
    assert_eq!(dsts(&copies), vec![(ip("192.168.251.61"), true)]);
    assert_eq!(copies[0].inner, broadcast());
    assert_eq!(r.vni_stat(VniStat::ProxyCopies), 1);
    assert_eq!(r.io.freed, 0, "no header mbuf, no freed original");
}
