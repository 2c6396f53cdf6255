//! `vxswitch lab`: the source document's walk-through (STEP0-STEP6) with a cluster of three
//! controllers, two hypervisors and VMs A and B, printing at each step the tables the
//! document shows, as an operator would see them with `vxswitch show ...`.

use super::controlled::ControlledLab;
use super::iperf;
use super::sh::{self, LabError};
use super::{LabArgs, TCP_BYTES, VM_A, VM_B, VNI};
use crate::api::{DropReason, Stat};
use std::time::Duration;

/// Controllers in the walk-through's cluster.
pub const CONTROLLERS: usize = 3;

fn step(title: &str) {
    println!("\n---------- {title}");
}

/// The walk-through; PASS only if every step's tables and pings are right.
pub fn walkthrough(args: &LabArgs) -> Result<(), LabError> {
    let exe = std::env::current_exe().map_err(|e| LabError::Step(e.to_string()))?;
    println!("== vxswitch lab: the logical switch walk-through (VNI {VNI}, unicast mode, ARP suppression on)");
    println!("   controllers 192.168.110.201-203 (TCP 1234, API :8080, each with its etcd member) on the management network 192.168.110.0/24");
    println!(
        "   esxi01: VTEP {} with VM A {} ({})",
        VM_A.0, VM_A.1, VM_A.2
    );
    println!(
        "   esxi02: VTEP {} with VM B {} ({})",
        VM_B.0, VM_B.1, VM_B.2
    );
    let mut lab = ControlledLab::start(&exe, &args.prefix, CONTROLLERS, false)?;
    let r = walk(&lab, args);
    let outputs = lab.stop();
    if r.is_err() {
        for (name, out) in &outputs {
            println!("== {name} output");
            for l in out.lines().take(60) {
                println!("   {l}");
            }
        }
    }
    drop(lab);
    println!("== lab removed");
    r?;
    println!("lab: PASS");
    Ok(())
}

fn walk(lab: &ControlledLab, args: &LabArgs) -> Result<(), LabError> {
    let vni = VNI.to_string();
    let vni = vni.as_str();
    let mut ok = true;
    step("STEP0: control plane and data plane; VMs A and B are powered off");
    let create = [
        "ls",
        "create",
        "--vni",
        vni,
        "--name",
        "web-tier",
        "--replication",
        "unicast",
        "--arp-suppression",
        "on",
    ];
    if !lab.print_ctl("manager", &create).0 {
        return Err(LabError::Step("creating the logical switch failed".into()));
    }
    lab.wait(
        "both hosts connected to every controller",
        Duration::from_secs(20),
        ControlledLab::connected,
    )?;
    lab.wait(
        "the VNI owned by a controller",
        Duration::from_secs(20),
        |l| l.owner_of_vni(0).is_some(),
    )?;
    ok &= lab
        .print_ctl("controller", &["show", "control-cluster", "status"])
        .0;
    ok &= lab.print_host(0, &["show", "connections"]).0;
    ok &= lab
        .print_ctl("controller", &["show", "logical-switches", "vni", vni])
        .0;
    ok &= lab.print_host(0, &["show", "routes"]).0;
    let (good, out) = lab.print_host(0, &["ping", "-d", "-s", "1572", "-c", "2", VM_B.0]);
    ok &= good && out.contains("2 received");
    ok &= lab.print_host(0, &["show", "neighbors"]).0;
    ok &= lab
        .print_ctl(
            "controller",
            &["show", "logical-switches", "vtep-table", vni],
        )
        .0;

    step("STEP1: VMs power on; each host reports that its VTEP joins VNI 5001, the controller sends the VTEP table back");
    lab.topo.power_on(0)?;
    lab.topo.power_on(1)?;
    lab.wait(
        "two VTEPs in the controller's VTEP table",
        Duration::from_secs(10),
        |l| l.vtep_table().len() == 2,
    )?;
    lab.wait("each host's VTEP list", Duration::from_secs(10), |l| {
        (0..2).all(|i| l.vtep_list(i).len() == 1)
    })?;
    ok &= lab
        .print_ctl(
            "controller",
            &["show", "logical-switches", "vtep-table", vni],
        )
        .0;
    ok &= lab.print_host(0, &["show", "vtep", "list", "--vni", vni]).0;
    // Which controller owns VNI 5001 for this host (its joins and reports went there).
    ok &= lab.print_host(0, &["show", "connections"]).0;

    step("STEP2: the VMs' first frames (their gratuitous ARP) teach each host their MACs, reported to the controller");
    lab.wait(
        "both VM MACs in the controller's MAC table",
        Duration::from_secs(10),
        |l| l.mac_table().len() == 2,
    )?;
    ok &= lab
        .print_ctl(
            "controller",
            &["show", "logical-switches", "mac-table", vni],
        )
        .0;

    step("STEP3: IP/MAC bindings snooped from ARP/GARP (ARP suppression is on), reported to the controller");
    lab.wait(
        "both VM IPs in the controller's ARP table",
        Duration::from_secs(10),
        |l| l.arp_table().len() == 2,
    )?;
    ok &= lab
        .print_ctl(
            "controller",
            &["show", "logical-switches", "arp-table", vni],
        )
        .0;

    step("STEP4: VM A ARPs for 172.16.10.12; esxi01 asks the controller and answers A itself");
    let before = lab.stats(0)?;
    let ((good, ping_out), crossed) = lab.ping_a_to_b_captured("underlay-step4", args.count)?;
    ok &= good;
    let after = lab.stats(0)?;
    let delta = |s: Stat| after.stat(s).saturating_sub(before.stat(s));
    let (_, neigh) = sh::try_in_ns(&lab.topo.vms[0].ns, &["ip", "neigh", "show", VM_B.1]);
    println!("VM A# ip neigh show {}\n  {}", VM_B.1, neigh.trim());
    ok &= lab.print_host(0, &["show", "arp", "list", "--vni", vni]).0;
    println!(
        "esxi01 counters during STEP4: arp_controller_queries +{}, arp_proxy_replies +{}, arp_requests_flooded +{}",
        delta(Stat::ArpQueries),
        delta(Stat::ArpProxyReplies),
        delta(Stat::ArpRequestsFlooded)
    );
    println!(
        "underlay capture on esxi01's uplink: {} VXLAN frame(s), {} ARP request(s) for {} inside",
        crossed.frames, crossed.arp_requests, VM_B.1
    );
    ok &= crossed.frames > 0
        && crossed.arp_requests == 0
        && delta(Stat::ArpProxyReplies) >= 1
        && delta(Stat::ArpRequestsFlooded) == 0;

    step("STEP5: esxi01 knows from the controller that B is behind 192.168.250.52");
    ok &= lab.print_host(0, &["show", "mac", "list", "--vni", vni]).0;

    step("STEP6: A's frames are VXLAN-encapsulated to 192.168.250.52; esxi02 learns A behind 192.168.250.51");
    println!("VM A# ping -c {} {}", args.count, VM_B.1);
    for l in ping_out
        .lines()
        .filter(|l| l.contains("bytes from") || l.contains("transmitted") || l.contains("rtt"))
    {
        println!("  {l}");
    }
    ok &= lab.print_host(1, &["show", "mac", "list", "--vni", vni]).0;
    ok &= lab.learned_behind(1, VM_A.2, VM_A.0);

    step(
        "STEP6b: TCP between the VMs, with the offloads Linux turns on (checksum offload, TSO/GSO)",
    );
    let (a, b) = (&lab.topo.vms[0].ns, &lab.topo.vms[1].ns);
    ok &= iperf::print_both_ways(a, b, VM_B.1, TCP_BYTES);
    ok &= lab.print_host(0, &["show", "stats"]).0;
    ok &= port_security(lab)?;
    step("STEP8: inside the switches: metrics, DPDK telemetry, a trace of A's ARP request and first frame to B, a capture of A's port");
    ok &= super::observe::observe(lab)?;
    if ok {
        Ok(())
    } else {
        Err(LabError::Step("lab: FAIL (see above)".into()))
    }
}

/// STEP7: VM A's port locked to the MAC and address it used first; A pretending to be
/// another address gets nowhere, and its own traffic still flows.
fn port_security(lab: &ControlledLab) -> Result<bool, LabError> {
    step("STEP7: port security: esxi01 locked VM A's port to the MAC and address A used first; A tries another address");
    let mut ok = lab.print_host(0, &["show", "port-security"]).0;
    let a = &lab.topo.vms[0].ns;
    let forged = "172.16.10.99";
    let before = lab.stats(0)?;
    sh::in_ns(
        a,
        &["ip", "addr", "add", &format!("{forged}/24"), "dev", "eth0"],
    )?;
    let (spoof_ok, _) = sh::try_in_ns(a, &["ping", "-c", "2", "-W", "1", "-I", forged, VM_B.1]);
    sh::in_ns(
        a,
        &["ip", "addr", "del", &format!("{forged}/24"), "dev", "eth0"],
    )?;
    let (own_ok, _) = sh::try_in_ns(a, &["ping", "-c", "1", "-W", "2", VM_B.1]);
    let after = lab.stats(0)?;
    let dropped = |r: DropReason| {
        let n = |s: &crate::api::host::Stats| s.drops.get(&r).copied().unwrap_or(0);
        n(&after).saturating_sub(n(&before))
    };
    let (ip, arp) = (
        dropped(DropReason::SpoofedIp),
        dropped(DropReason::SpoofedArp),
    );
    println!(
        "VM A# ping -I {forged} {}: {}; esxi01 dropped port_security_ip +{ip}, port_security_arp +{arp}",
        VM_B.1,
        if spoof_ok { "answered (WRONG)" } else { "no answer" }
    );
    println!(
        "VM A# ping {} (its own address): {}",
        VM_B.1,
        if own_ok {
            "answered"
        } else {
            "no answer (WRONG)"
        }
    );
    ok &= !spoof_ok && own_ok && ip + arp > 0;
    Ok(ok)
}
