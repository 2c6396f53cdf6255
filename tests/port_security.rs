//! Port security on in-memory frames (no EAL): what a VM may not send, what its host counts
//! when it tries, and that nothing already stored changes: spoofed source MACs, addresses
//! and ARP senders; learn-first-then-lock; a rogue DHCP server; a port's MAC limit.

use std::net::Ipv4Addr;
use vxswitch::agent::{AgentCmd, ControlUpdate, RemoteVtep};
use vxswitch::dataplane::{DropReason, Stat};
use vxswitch::ids::Vni;
use vxswitch::tables::{ArpKey, Dest, MacKey, PortIdx, UPLINK};
use vxswitch::testkit::traffic;
use vxswitch::testkit::HostRig;
use vxswitch::wire::{ArpOperation, IpProtocol, MacAddr};

const V5001: Vni = Vni::from_const(5001);
const VM_A: PortIdx = 1;
const VM_C: PortIdx = 2;

/// VM A's port security: locked to its MAC and address by config.
const LOCK_A: &str = r#"[access_port.port_security]
macs = ["02:aa:aa:aa:aa:aa"]
ips = ["172.16.10.11"]
"#;

/// VM A's port (with `LOCK_A`, or not); VM C's port takes the first MAC and address it
/// uses, `c_extra` adds keys to it; B lives behind the other VTEP (a static ARP binding).
fn config(lock_a: &str, c_extra: &str) -> String {
    format!(
        r#"
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
{lock_a}[[access_port]]
name = "vm-c"
device = "c"
vni = 5001
{c_extra}[[vni]]
vni = 5001
[[vni.arp]]
ip = "172.16.10.12"
mac = "02:bb:bb:bb:bb:bb"
[[neighbor]]
ip = "192.168.250.52"
mac = "02:00:00:00:00:52"
"#
    )
}

/// C learns its addresses; both VMs' ports under port security.
fn guarded() -> String {
    config(LOCK_A, "[access_port.port_security]\n")
}

fn mac(s: &str) -> MacAddr {
    s.parse().unwrap()
}
fn a() -> (MacAddr, Ipv4Addr) {
    (mac("02:aa:aa:aa:aa:aa"), Ipv4Addr::new(172, 16, 10, 11))
}
fn b() -> (MacAddr, Ipv4Addr) {
    (mac("02:bb:bb:bb:bb:bb"), Ipv4Addr::new(172, 16, 10, 12))
}
fn c() -> (MacAddr, Ipv4Addr) {
    (mac("02:cc:cc:cc:cc:cc"), Ipv4Addr::new(172, 16, 10, 13))
}

/// A host on `config`, its controller up with esxi02 in the VNI.
fn host(config: &str) -> HostRig {
    let mut r = HostRig::new(config);
    r.m.control(ControlUpdate::Connected(true), 1);
    let vteps = vec![RemoteVtep {
        ip: Ipv4Addr::new(192, 168, 250, 52),
        prefix_len: 24,
        mac: mac("02:00:00:00:00:52"),
        proxy: false,
    }];
    r.m.control(ControlUpdate::VtepTable { vni: V5001, vteps }, 1);
    r
}

fn rig() -> HostRig {
    host(&guarded())
}

fn drops(r: &HostRig, why: DropReason) -> u64 {
    r.pipeline.counters.drops(why)
}

fn mac_at(r: &HostRig, m: MacAddr) -> Option<Dest> {
    r.snap()
        .macs
        .get(&MacKey { vni: V5001, mac: m })
        .map(|e| e.dest)
}

fn arp_at(r: &HostRig, ip: Ipv4Addr) -> Option<MacAddr> {
    r.snap().arps.get(&ArpKey { vni: V5001, ip }).map(|e| e.mac)
}

/// A UDP datagram from (`src_mac`, `src`) to B.
fn udp_to_b(src_mac: MacAddr, src: Ipv4Addr) -> Vec<u8> {
    traffic::ipv4(b().0, src_mac, src, b().1, IpProtocol::Udp, &[0; 8])
}

/// A gratuitous ARP: `who` says it has `ip`.
fn garp(who: MacAddr, ip: Ipv4Addr) -> Vec<u8> {
    traffic::arp(ArpOperation::Request, who, ip, MacAddr::ZERO, ip)
}

/// What left on the uplink so far.
fn sent(r: &HostRig) -> usize {
    r.io.sent_on(UPLINK).len()
}

#[test]
fn configured_addresses_pass_and_nothing_else_does() {
    let mut r = rig();
    r.send(VM_A, &udp_to_b(a().0, a().1));
    r.manage();
    assert_eq!(mac_at(&r, a().0), Some(Dest::Local(VM_A)));
    let out = sent(&r);

    // Another MAC: dropped before learning, so it never reaches the table or the controller.
    let forged = mac("02:66:66:66:66:66");
    r.send(VM_A, &udp_to_b(forged, a().1));
    // B's MAC as source: the worst case, taking over a remote VM's traffic.
    r.send(VM_A, &udp_to_b(b().0, a().1));
    assert_eq!(drops(&r, DropReason::SpoofedMac), 2);
    // The right MAC with another VM's address.
    r.send(VM_A, &udp_to_b(a().0, b().1));
    assert_eq!(drops(&r, DropReason::SpoofedIp), 1);
    // ARP: claiming B's address (a GARP poisoning everyone's cache), and a sender MAC that is
    // not the frame's.
    r.send(VM_A, &garp(a().0, b().1));
    let mut odd = garp(a().0, a().1);
    odd[22..28].copy_from_slice(&forged.0);
    r.send(VM_A, &odd);
    assert_eq!(drops(&r, DropReason::SpoofedArp), 2);
    r.manage();

    assert_eq!(sent(&r), out, "nothing refused left the host");
    assert_eq!(mac_at(&r, forged), None);
    assert_eq!(mac_at(&r, b().0), None, "B's MAC not learned behind A");
    assert_eq!(arp_at(&r, b().1), Some(b().0), "B's binding kept");
    assert!(!r.m.out.agent.iter().any(|c| matches!(c,
        AgentCmd::Mac { mac, .. } if *mac != a().0)));

    // Its own GARP still passes, and the port's traffic still flows.
    r.send(VM_A, &garp(a().0, a().1));
    r.send(VM_A, &udp_to_b(a().0, a().1));
    assert_eq!(sent(&r), out + 2);
    // A DHCP client before its lease (source 0.0.0.0) is let through.
    let discover = traffic::udp(
        MacAddr::BROADCAST,
        a().0,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::BROADCAST,
        68,
        67,
        240,
    );
    r.send(VM_A, &discover);
    assert_eq!(sent(&r), out + 3);
}

#[test]
fn learned_first_then_locked() {
    let mut r = rig();
    // Before any frame the port takes anything: the first MAC and address it sees are claimed.
    r.send(VM_C, &garp(c().0, c().1));
    assert_eq!(r.pipeline.counters.stat(Stat::PortClaims), 2);
    r.manage();
    assert_eq!(r.m.stats.port_locks, 2);
    let g = r.snap().port_policy[usize::from(VM_C)]
        .guard
        .clone()
        .unwrap();
    assert_eq!(
        (g.macs.as_slice(), g.ips.as_slice()),
        (&[c().0][..], &[c().1][..])
    );

    // From now on the port holds to them.
    let out = sent(&r);
    r.send(VM_C, &udp_to_b(mac("02:cc:00:00:00:01"), c().1));
    r.send(VM_C, &udp_to_b(c().0, Ipv4Addr::new(172, 16, 10, 99)));
    r.send(VM_C, &garp(c().0, a().1));
    assert_eq!(drops(&r, DropReason::SpoofedMac), 1);
    assert_eq!(drops(&r, DropReason::SpoofedIp), 1);
    assert_eq!(drops(&r, DropReason::SpoofedArp), 1);
    r.send(VM_C, &udp_to_b(c().0, c().1));
    assert_eq!(sent(&r), out + 1);
    r.manage();
    assert_eq!(arp_at(&r, c().1), Some(c().0));
    assert_eq!(arp_at(&r, a().1), None, "A's address not bound to C");
}

#[test]
fn dhcp_acks_are_believed_only_from_trusted_ports() {
    let server = (mac("02:de:de:de:de:de"), Ipv4Addr::new(172, 16, 10, 1));
    let victim = mac("02:77:77:77:77:77");
    let lease = b().1;

    // From a VM without port security: forwarded (it is the VM's own business), never
    // snooped: B's binding stays.
    let mut r = host(&config("", ""));
    r.send(VM_A, &traffic::dhcp_ack(server, victim, lease));
    r.manage();
    assert_eq!(r.pipeline.counters.stat(Stat::DhcpNotSnooped), 1);
    assert_eq!(arp_at(&r, lease), Some(b().0));
    assert_eq!(drops(&r, DropReason::RogueDhcp), 0);

    // From a VM with port security (C, after it locked to the server's addresses): dropped.
    let mut r = rig();
    r.send(VM_C, &garp(server.0, server.1));
    r.manage();
    let out = sent(&r);
    r.send(VM_C, &traffic::dhcp_ack(server, victim, lease));
    r.manage();
    assert_eq!(drops(&r, DropReason::RogueDhcp), 1);
    assert_eq!(sent(&r), out);
    assert_eq!(arp_at(&r, lease), Some(b().0));

    // From the uplink (a server behind another VTEP, decapsulated): snooped.
    let mut r = host(&config(
        LOCK_A,
        "dhcp_server = true\n[access_port.port_security]\n",
    ));
    r.send(VM_C, &garp(server.0, server.1));
    r.manage();
    let fresh = Ipv4Addr::new(172, 16, 10, 50);
    r.send(VM_C, &traffic::dhcp_ack(server, victim, fresh));
    r.manage();
    assert_eq!(
        arp_at(&r, fresh),
        Some(victim),
        "a configured server's ACK is snooped"
    );
}

#[test]
fn a_port_learns_at_most_max_macs() {
    // C without port security but with its limit: a VM flooding chosen source MACs.
    let mut r = host(&config(LOCK_A, "max_macs = 2\n"));
    let macs: Vec<MacAddr> = (1..=5u8).map(|i| MacAddr([2, 0xcc, 0, 0, 0, i])).collect();
    for m in &macs {
        r.send(VM_C, &udp_to_b(*m, c().1));
        r.manage();
    }
    assert_eq!(mac_at(&r, macs[0]), Some(Dest::Local(VM_C)));
    assert_eq!(mac_at(&r, macs[1]), Some(Dest::Local(VM_C)));
    for m in &macs[2..] {
        assert_eq!(mac_at(&r, *m), None);
    }
    let refused = |r: &HostRig| {
        r.m.refused
            .port_mac_limit
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    assert_eq!(refused(&r), 3);
    // The two it holds keep being refreshed without counting as refusals.
    r.send(VM_C, &udp_to_b(macs[0], c().1));
    r.manage();
    assert_eq!(refused(&r), 3);
    // The other ports are not limited by C's count.
    r.send(VM_A, &udp_to_b(a().0, a().1));
    r.manage();
    assert_eq!(mac_at(&r, a().0), Some(Dest::Local(VM_A)));
    // When one ages out, room for one more.
    r.m.age(1 + 301);
    assert_eq!(mac_at(&r, macs[0]), None);
    r.send(VM_C, &udp_to_b(macs[4], c().1));
    r.manage();
    assert_eq!(mac_at(&r, macs[4]), Some(Dest::Local(VM_C)));
}
