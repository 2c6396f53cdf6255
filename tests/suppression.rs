//! ARP suppression, snooping and controller queries on in-memory frames (no EAL): what the
//! worker does with a VM's ARP, and what the management thread does with the controller's
//! answer, a silence, or a lost session.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};
use vxswitch::agent::{AgentCmd, ControlUpdate, RemoteVtep};
use vxswitch::dataplane::Stat;
use vxswitch::ids::ReplicationMode;
use vxswitch::tables::{ArpKey, Dest, MacKey, PortIdx, UPLINK};
use vxswitch::testkit::traffic;
use vxswitch::testkit::HostRig;
use vxswitch::wire::{ArpOperation, ArpPacket, EthernetFrame, IpProtocol, MacAddr};

const V5001: vxswitch::ids::Vni = vxswitch::ids::Vni::from_const(5001);

const CONFIG: &str = r#"
[eal]
args = []
[vtep]
ip = "192.168.250.51/24"
mac = "02:00:00:00:00:51"
[uplink]
device = "up"
[[access_port]]
name = "vm-a"
device = "a"
vni = 5001
[[vni]]
vni = 5001
[[neighbor]]
ip = "192.168.250.52"
mac = "02:00:00:00:00:52"
"#;

const VM_A: PortIdx = 1;

fn mac(s: &str) -> MacAddr {
    s.parse().unwrap()
}
fn a() -> (MacAddr, Ipv4Addr) {
    (mac("02:aa:aa:aa:aa:aa"), Ipv4Addr::new(172, 16, 10, 11))
}
fn b() -> (MacAddr, Ipv4Addr) {
    (mac("02:bb:bb:bb:bb:bb"), Ipv4Addr::new(172, 16, 10, 12))
}
fn vtep2() -> Ipv4Addr {
    Ipv4Addr::new(192, 168, 250, 52)
}

/// A host in memory, with what these tests ask of it.
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
    fn new(config: &str) -> Rig {
        Rig(HostRig::new(config))
    }
    fn stat(&self, s: Stat) -> u64 {
        self.pipeline.counters.stat(s)
    }
    /// Controller up, with esxi02 in the VNI's VTEP table.
    fn connected(&mut self) {
        self.m.control(ControlUpdate::Connected(true), 1);
        let vteps = vec![RemoteVtep {
            ip: vtep2(),
            prefix_len: 24,
            mac: mac("02:00:00:00:00:52"),
            proxy: false,
        }];
        self.m
            .control(ControlUpdate::VtepTable { vni: V5001, vteps }, 1);
    }
}

fn request_from_a_for_b() -> Vec<u8> {
    traffic::arp(ArpOperation::Request, a().0, a().1, MacAddr::ZERO, b().1)
}

fn assert_reply_to_a(f: &[u8]) {
    let eth = EthernetFrame::new_checked(f).unwrap();
    assert_eq!((eth.dst(), eth.src()), (a().0, b().0));
    let p = ArpPacket::new_checked(eth.payload()).unwrap();
    assert_eq!(p.operation(), ArpOperation::Reply);
    assert_eq!((p.sender_mac(), p.sender_ip()), b());
    assert_eq!((p.target_mac(), p.target_ip()), a());
}

#[test]
fn known_binding_is_answered_in_place_and_nothing_is_flooded() {
    let mut r = Rig::new(&format!(
        "{CONFIG}[[vni.arp]]\nip = \"172.16.10.12\"\nmac = \"02:bb:bb:bb:bb:bb\"\n"
    ));
    r.connected();
    r.send(VM_A, &request_from_a_for_b());
    let back = r.io.sent_on(VM_A);
    assert_eq!(back.len(), 1);
    assert_reply_to_a(back[0]);
    assert!(r.io.sent_on(UPLINK).is_empty(), "no ARP on the underlay");
    assert_eq!(r.stat(Stat::ArpProxyReplies), 1);
}

#[test]
fn miss_asks_the_controller_and_answers_when_it_replies() {
    let mut r = Rig::new(CONFIG);
    r.connected();
    r.send(VM_A, &request_from_a_for_b());
    assert!(
        r.io.sent.is_empty(),
        "held, not flooded, while the controller is asked"
    );
    assert_eq!(r.stat(Stat::ArpQueries), 1);
    r.manage();
    assert!(r.m.out.agent.contains(&AgentCmd::ArpQuery {
        vni: V5001,
        ip: b().1
    }));
    // A second VM request for the same IP waits on the same query.
    r.send(VM_A, &request_from_a_for_b());
    r.manage();
    let queries =
        r.m.out
            .agent
            .iter()
            .filter(|c| matches!(c, AgentCmd::ArpQuery { .. }))
            .count();
    assert_eq!(queries, 1);
    r.m.control(
        ControlUpdate::ArpAnswer {
            vni: V5001,
            ip: b().1,
            found: Some((b().0, Some(vtep2()))),
        },
        1,
    );
    r.run_slow_path();
    let back = r.io.sent_on(VM_A);
    assert_eq!(back.len(), 1);
    assert_reply_to_a(back[0]);
    // The binding and B's location are installed: the next request is answered in place,
    // and A's first frame to B goes straight to esxi02.
    let snap = r.snap();
    assert_eq!(
        snap.arps
            .get(&ArpKey {
                vni: V5001,
                ip: b().1
            })
            .unwrap()
            .mac,
        b().0
    );
    let t = snap.tunnels.index_of(vtep2()).unwrap();
    assert_eq!(
        snap.macs
            .get(&MacKey {
                vni: V5001,
                mac: b().0
            })
            .unwrap()
            .dest,
        Dest::Remote(t)
    );
    r.io.sent.clear();
    r.send(
        VM_A,
        &traffic::ipv4(b().0, a().0, a().1, b().1, IpProtocol::Udp, &[0; 8]),
    );
    assert_eq!(r.io.sent_on(UPLINK).len(), 1);
    assert_eq!(r.stat(Stat::Encapsulated), 1);
}

#[test]
fn nobody_knows_or_too_late_floods_the_request() {
    let mut r = Rig::new(CONFIG);
    r.connected();
    r.send(VM_A, &request_from_a_for_b());
    r.manage();
    r.m.control(
        ControlUpdate::ArpAnswer {
            vni: V5001,
            ip: b().1,
            found: None,
        },
        1,
    );
    r.run_slow_path();
    let out = r.io.sent_on(UPLINK);
    assert_eq!(out.len(), 1, "flooded to esxi02 as BUM");
    assert_eq!(r.stat(Stat::ArpRequestsFlooded), 1);
    // No answer in time: flooded too.
    r.io.sent.clear();
    r.send(VM_A, &request_from_a_for_b());
    r.manage();
    r.m.expire_queries(
        Instant::now() + Duration::from_secs(1),
        Duration::from_millis(250),
    );
    r.run_slow_path();
    assert_eq!(r.io.sent_on(UPLINK).len(), 1);
}

#[test]
fn headless_floods_at_once_and_flushes_what_was_waiting() {
    let mut r = Rig::new(CONFIG);
    r.connected();
    r.send(VM_A, &request_from_a_for_b());
    r.manage();
    r.m.control(ControlUpdate::Connected(false), 1);
    r.run_slow_path();
    assert_eq!(
        r.io.sent_on(UPLINK).len(),
        1,
        "the held request is flooded when the session drops"
    );
    r.io.sent.clear();
    r.send(VM_A, &request_from_a_for_b());
    assert_eq!(
        r.io.sent_on(UPLINK).len(),
        1,
        "no controller: flooded directly"
    );
}

#[test]
fn garp_passes_and_is_snooped_dhcp_ack_is_snooped() {
    // VM A is the VNI's DHCP server.
    let mut r = Rig::new(&CONFIG.replace(
        "vni = 5001\n[[vni]]",
        "vni = 5001\ndhcp_server = true\n[[vni]]",
    ));
    r.connected();
    let garp = traffic::arp(ArpOperation::Request, a().0, a().1, MacAddr::ZERO, a().1);
    r.send(VM_A, &garp);
    assert_eq!(r.io.sent_on(UPLINK).len(), 1, "gratuitous ARP is flooded");
    r.manage();
    assert!(r.m.out.agent.contains(&AgentCmd::Ip {
        vni: V5001,
        ip: a().1,
        mac: a().0
    }));
    assert!(r.m.out.agent.contains(&AgentCmd::Mac {
        vni: V5001,
        mac: a().0,
        withdrawn: false
    }));
    // A DHCP ACK handing 172.16.10.50 to 02:dd:.. (from a DHCP server VM on this host).
    let client = mac("02:dd:dd:dd:dd:dd");
    let ack = traffic::dhcp_ack(a(), client, Ipv4Addr::new(172, 16, 10, 50));
    r.send(VM_A, &ack);
    r.manage();
    assert_eq!(
        r.snap()
            .arps
            .get(&ArpKey {
                vni: V5001,
                ip: Ipv4Addr::new(172, 16, 10, 50)
            })
            .map(|e| e.mac),
        Some(client)
    );
}

#[test]
fn suppression_off_neither_snoops_nor_answers() {
    let mut r = Rig::new(&format!(
        "{CONFIG}[[vni.arp]]\nip = \"172.16.10.12\"\nmac = \"02:bb:bb:bb:bb:bb\"\n"
    ));
    r.connected();
    r.m.control(
        ControlUpdate::LogicalSwitch {
            vni: V5001,
            arp_suppression: false,
            replication: ReplicationMode::Unicast,
            group: None,
        },
        1,
    );
    r.send(VM_A, &request_from_a_for_b());
    assert_eq!(r.io.sent_on(UPLINK).len(), 1, "flooded like any broadcast");
    assert!(r.io.sent_on(VM_A).is_empty());
    r.manage();
    assert!(!r
        .m
        .out
        .agent
        .iter()
        .any(|c| matches!(c, AgentCmd::Ip { .. } | AgentCmd::ArpQuery { .. })));
}

#[test]
fn unknown_unicast_is_flooded_and_asked_about_then_followed() {
    let mut r = Rig::new(CONFIG);
    r.connected();
    let to_b = traffic::ipv4(b().0, a().0, a().1, b().1, IpProtocol::Udp, &[0; 8]);
    r.send(VM_A, &to_b);
    assert_eq!(
        r.io.sent_on(UPLINK).len(),
        1,
        "unknown unicast flooded, never dropped"
    );
    r.manage();
    assert!(r.m.out.agent.contains(&AgentCmd::MacQuery {
        vni: V5001,
        mac: b().0
    }));
    r.m.control(
        ControlUpdate::MacAnswer {
            vni: V5001,
            mac: b().0,
            vtep: Some(vtep2()),
        },
        1,
    );
    assert!(r
        .snap()
        .macs
        .get(&MacKey {
            vni: V5001,
            mac: b().0
        })
        .is_some());
    // B moves to another VTEP: the controller's push is followed.
    let v3 = Ipv4Addr::new(192, 168, 250, 53);
    r.m.control(
        ControlUpdate::MacAnswer {
            vni: V5001,
            mac: b().0,
            vtep: Some(v3),
        },
        2,
    );
    let snap = r.snap();
    let t3 = snap.tunnels.index_of(v3).unwrap();
    assert_eq!(
        snap.macs
            .get(&MacKey {
                vni: V5001,
                mac: b().0
            })
            .unwrap()
            .dest,
        Dest::Remote(t3)
    );
}

#[test]
fn vm_ports_join_and_leave_their_vni() {
    let mut r = Rig::new(CONFIG);
    r.m.port_link(V5001, true);
    r.m.port_link(V5001, true);
    r.m.port_link(V5001, false);
    assert_eq!(r.m.out.agent, vec![AgentCmd::Join(V5001)]);
    r.m.port_link(V5001, false);
    assert_eq!(
        r.m.out.agent,
        vec![AgentCmd::Join(V5001), AgentCmd::Leave(V5001)]
    );
}

#[test]
fn snooped_bindings_age_with_their_mac() {
    let mut r = Rig::new(CONFIG);
    r.connected();
    let arp_of_a = |r: &Rig| {
        r.snap()
            .arps
            .get(&ArpKey {
                vni: V5001,
                ip: a().1,
            })
            .map(|e| e.mac)
    };
    r.pipeline.now = 1;
    let garp = traffic::arp(ArpOperation::Request, a().0, a().1, MacAddr::ZERO, a().1);
    r.send(VM_A, &garp);
    r.manage();
    assert_eq!(arp_of_a(&r), Some(a().0));
    // A is still talking at second 250: at 301 its binding is old but its MAC alive.
    r.pipeline.now = 250;
    r.send(VM_A, &garp);
    r.m.age(301);
    assert_eq!(arp_of_a(&r), Some(a().0));
    // A falls silent: its MAC ages at 550, the binding with it (at its next look, 601).
    r.m.age(551);
    let mac_a = MacKey {
        vni: V5001,
        mac: a().0,
    };
    assert!(r.snap().macs.get(&mac_a).is_none());
    r.m.out.agent.clear();
    r.m.age(601);
    assert_eq!(arp_of_a(&r), None, "suppression no longer answers for A");
    assert_eq!(
        r.m.out.agent,
        vec![AgentCmd::IpAged {
            vni: V5001,
            ip: a().1,
            mac: a().0
        }]
    );
    assert_eq!(r.m.stats.arps_aged, 1);
    // Configured bindings never age.
    let mut r = Rig::new(&format!(
        "{CONFIG}[[vni.arp]]\nip = \"172.16.10.12\"\nmac = \"02:bb:bb:bb:bb:bb\"\n"
    ));
    r.m.age(100_000);
    assert!(r
        .snap()
        .arps
        .get(&ArpKey {
            vni: V5001,
            ip: b().1
        })
        .is_some());
}
