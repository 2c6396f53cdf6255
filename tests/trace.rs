//! `vxswitch trace`'s dry run on known frames against known tables (in memory, no EAL): each
//! stage's decision for a suppressed ARP request, a known unicast, an unknown unicast that
//! floods, a VXLAN frame from the underlay and drops by reason; and that the live tables do
//! not change.

use std::net::Ipv4Addr;
use vxswitch::api::trace::{
    ArpDecision, CopyTo, FloodCopy, LearnOutcome, Location, LookupResult, Step, UplinkKind,
};
use vxswitch::api::DropReason;
use vxswitch::dataplane::trace::dry_run;
use vxswitch::ids::{ReplicationMode, Vni};
use vxswitch::tables::{PortIdx, UPLINK};
use vxswitch::testkit::{traffic, HostRig};
use vxswitch::wire::{ArpOperation, EtherType, IpProtocol, MacAddr};

const V5001: Vni = Vni::from_const(5001);
const VM_A: PortIdx = 1;
const VM_C: PortIdx = 2;

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
[[access_port]]
name = "vm-c"
device = "c"
vni = 5001
[[vni]]
vni = 5001
vteps = ["192.168.250.52", "192.168.250.53"]
[[vni.mac]]
mac = "02:aa:aa:aa:aa:aa"
port = "vm-a"
[[vni.mac]]
mac = "02:bb:bb:bb:bb:bb"
vtep = "192.168.250.52"
[[vni.arp]]
ip = "10.0.0.2"
mac = "02:bb:bb:bb:bb:bb"
[[neighbor]]
ip = "192.168.250.52"
mac = "02:00:00:00:00:52"
[[neighbor]]
ip = "192.168.250.53"
mac = "02:00:00:00:00:53"
"#;

fn mac(s: &str) -> MacAddr {
    s.parse().unwrap()
}
fn a() -> MacAddr {
    mac("02:aa:aa:aa:aa:aa")
}
fn b() -> MacAddr {
    mac("02:bb:bb:bb:bb:bb")
}
fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}
fn vtep(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(192, 168, 250, n)
}

/// The steps of `frame` arriving on `port`.
fn steps(rig: &HostRig, port: PortIdx, frame: &[u8]) -> Vec<Step> {
    dry_run(&rig.snap(), port, frame, 1).steps
}

fn learned_a() -> Step {
    Step::Learn {
        vni: V5001,
        mac: a(),
        at: Location::Port(VM_A),
        outcome: LearnOutcome::Known,
    }
}

#[test]
fn a_suppressed_arp_request_is_answered_back_to_its_port() {
    let rig = HostRig::new(CONFIG);
    let req = traffic::arp(
        ArpOperation::Request,
        a(),
        ip("10.0.0.1"),
        MacAddr::ZERO,
        ip("10.0.0.2"),
    );
    let s = steps(&rig, VM_A, &req);
    assert_eq!(
        s,
        [
            Step::Rx {
                port: VM_A,
                len: 60
            },
            Step::VmFrame {
                vni: V5001,
                src: a(),
                dst: MacAddr::BROADCAST,
                ethertype: 0x0806
            },
            learned_a(),
            Step::Arp {
                target: ip("10.0.0.2"),
                decision: ArpDecision::Suppressed { mac: b() }
            },
            Step::Tx {
                port: VM_A,
                len: 60
            },
        ]
    );
}

#[test]
fn a_known_unicast_is_encapsulated_to_its_vtep() {
    let rig = HostRig::new(CONFIG);
    let f = traffic::ipv4(
        b(),
        a(),
        ip("10.0.0.1"),
        ip("10.0.0.2"),
        IpProtocol::Udp,
        &[0; 30],
    );
    let s = steps(&rig, VM_A, &f);
    assert_eq!(s[2], learned_a());
    assert_eq!(
        s[3],
        Step::Lookup {
            vni: V5001,
            mac: b(),
            result: LookupResult::Vtep { vtep: vtep(52) }
        }
    );
    assert!(
        matches!(s[4], Step::Encap { vni: V5001, vtep: v, next_hop_mac: Some(m), .. }
            if v == vtep(52) && m == mac("02:00:00:00:00:52")),
        "{s:?}"
    );
    assert_eq!(
        s[5],
        Step::Tx {
            port: UPLINK,
            len: f.len() + 50
        }
    );
    assert_eq!(s.len(), 6);
}

#[test]
fn an_unknown_unicast_floods_to_every_vtep_and_the_other_port() {
    let rig = HostRig::new(CONFIG);
    let f = traffic::ethernet(mac("02:dd:dd:dd:dd:dd"), a(), EtherType::Ipv4, &[0x45; 46]);
    let s = steps(&rig, VM_A, &f);
    assert_eq!(
        s[3],
        Step::Lookup {
            vni: V5001,
            mac: mac("02:dd:dd:dd:dd:dd"),
            result: LookupResult::Miss
        }
    );
    assert_eq!(
        s[4],
        Step::Flood {
            vni: V5001,
            mode: ReplicationMode::Unicast,
            copies: vec![
                FloodCopy {
                    vtep: vtep(52),
                    kind: CopyTo::Vtep
                },
                FloodCopy {
                    vtep: vtep(53),
                    kind: CopyTo::Vtep
                },
            ],
            local_ports: vec![VM_C],
        }
    );
    let tx: Vec<_> = s[5..].iter().collect();
    assert_eq!(
        tx,
        [
            &Step::Tx {
                port: UPLINK,
                len: 110
            },
            &Step::Tx {
                port: UPLINK,
                len: 110
            },
            &Step::Tx {
                port: VM_C,
                len: 60
            },
        ]
    );
}

#[test]
fn vxlan_from_a_known_vtep_is_decapsulated_to_the_local_port() {
    let rig = HostRig::new(CONFIG);
    let inner = traffic::ethernet(a(), b(), EtherType::Ipv4, &[0x45; 46]);
    let outer = traffic::Outer {
        src_mac: mac("02:00:00:00:00:52"),
        dst_mac: mac("02:00:00:00:00:51"),
        src_ip: vtep(52),
        dst_ip: vtep(51),
        udp_port: 4789,
    };
    let f = traffic::vxlan(&outer, V5001, 4242, &inner);
    let s = steps(&rig, UPLINK, &f);
    assert_eq!(
        s[1],
        Step::Uplink {
            kind: UplinkKind::Vxlan
        }
    );
    assert_eq!(
        s[2],
        Step::Decap {
            vni: V5001,
            from: vtep(52),
            replicate_locally: false
        }
    );
    assert_eq!(
        s[3],
        Step::Learn {
            vni: V5001,
            mac: b(),
            at: Location::Vtep(vtep(52)),
            outcome: LearnOutcome::Known
        }
    );
    assert_eq!(
        s[4],
        Step::Tx {
            port: VM_A,
            len: 60
        }
    );
}

#[test]
fn drops_name_their_reason_and_the_live_tables_do_not_change() {
    let rig = HostRig::new(CONFIG);
    let before = rig.snap();
    let drop_of = |port, f: &[u8]| steps(&rig, port, f).last().cloned();
    let bad_src = traffic::ethernet(b(), mac("01:00:5e:00:00:01"), EtherType::Ipv4, &[0; 46]);
    assert_eq!(
        drop_of(VM_A, &bad_src),
        Some(Step::Drop {
            reason: DropReason::BadSourceMac
        })
    );
    // A (static on vm-a) sending to itself from its own port.
    let hairpin = traffic::ethernet(a(), mac("02:ee:ee:ee:ee:ee"), EtherType::Ipv4, &[0; 46]);
    assert_eq!(
        drop_of(VM_A, &hairpin),
        Some(Step::Drop {
            reason: DropReason::SamePort
        })
    );
    assert_eq!(
        drop_of(VM_A, &[0u8; 10]),
        Some(Step::Drop {
            reason: DropReason::BadEthernet
        })
    );
    let unknown_vtep = traffic::vxlan(
        &traffic::Outer {
            src_mac: mac("02:00:00:00:00:99"),
            dst_mac: mac("02:00:00:00:00:51"),
            src_ip: vtep(99),
            dst_ip: vtep(51),
            udp_port: 4789,
        },
        V5001,
        1,
        &bad_src,
    );
    assert_eq!(
        drop_of(UPLINK, &unknown_vtep),
        Some(Step::Drop {
            reason: DropReason::UnknownVtep
        })
    );
    // A new MAC would be reported: in a dry run nothing reaches the manager.
    let new = traffic::ethernet(b(), mac("02:ee:ee:ee:ee:ee"), EtherType::Ipv4, &[0; 46]);
    let s = steps(&rig, VM_C, &new);
    assert!(
        matches!(
            s[2],
            Step::Learn {
                outcome: LearnOutcome::Reported,
                ..
            }
        ),
        "{s:?}"
    );
    assert!(
        rig.events.pop().is_none(),
        "a dry run sent the manager an event"
    );
    assert_eq!(rig.snap().generation, before.generation);
}
