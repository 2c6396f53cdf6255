//! The `vxswitch lab --segments` command: the lab, its rounds, and the table they make.

use super::{Round, SegmentsLab, GROUP, HOSTS, KERNEL, ROUNDS};
use crate::lab::sh::LabError;
use crate::lab::topology::controller_ip;
use crate::lab::VNI;
use std::net::Ipv4Addr;

/// The `vxswitch lab --segments` command.
pub fn run(prefix: &str) -> Result<(), LabError> {
    let exe = std::env::current_exe().map_err(|e| LabError::Step(e.to_string()))?;
    println!("== vxswitch lab --segments: VNI {VNI} on a routed underlay");
    println!("   segment 1 192.168.250.0/24: hv1 .51 (VM A sends), hv2 .52, hv3 .53");
    println!("   segment 2 192.168.251.0/24: hv4 .61, hv5 .62, kv .70 (a Linux kernel VTEP in {GROUP}); router .1 on both (smcroute routes {GROUP})");
    println!(
        "   switches snoop IGMP (with a querier); one controller at {}",
        controller_ip(0)
    );
    let lab = SegmentsLab::start(&exe, prefix)?;
    println!(
        "== every host joined VNI {VNI} (logs in {})",
        lab.dir.display()
    );
    println!("hv1# vxswitch show vtep list --vni {VNI}   (unicast mode)");
    for l in lab
        .show_host(0, &["vtep", "list", "--vni", &VNI.to_string()])
        .lines()
    {
        println!("  {l}");
    }
    let rounds = lab.rounds(&ROUNDS)?;
    println!("hv1# vxswitch show vnis   (after the four rounds)");
    for l in lab.show_host(0, &["vnis"]).lines() {
        println!("  {l}");
    }
    println!("== one broadcast from VM A per mode, copies counted in captures on each VTEP's switch port and the router's");
    let ok = print_rounds(&rounds);
    for r in &rounds {
        if let Some((good, out)) = &r.kernel_ping {
            println!(
                "== {} mode: the kernel VTEP's VM {} pings VM A {} (BUM through {GROUP} both ways): {}",
                r.mode,
                KERNEL.1,
                HOSTS[0].2,
                if *good { "ok" } else { "FAILED" }
            );
            for l in out
                .lines()
                .filter(|l| l.contains("transmitted") || l.contains("rtt"))
            {
                println!("   {l}");
            }
        }
    }
    drop(lab);
    println!("== lab removed");
    if ok {
        println!("lab --segments: PASS");
        Ok(())
    } else {
        Err(LabError::Step("lab --segments: FAIL (see above)".into()))
    }
}

/// The rounds as a table; true if every one is as its mode promises.
fn print_rounds(rounds: &[Round]) -> bool {
    println!(
        "   {:<10} {:>14} {:>8} {:>8}   {:<17} {:>6}  {:<26} {:<30} ",
        "mode",
        "hv1 sent v/p/g",
        "1 -> 2",
        "2 -> 1",
        "received by hv1-5",
        "kernel",
        "group members (IGMP)",
        "proxies (UTEP/MTEP)"
    );
    let mut ok = true;
    for r in rounds {
        let good = r.as_the_mode_promises();
        ok &= good;
        let received: Vec<String> = r.received.iter().map(usize::to_string).collect();
        let members = if r.mode.needs_group() {
            format!("{} | {}", r.snooped[0].join(","), r.snooped[1].join(","))
        } else {
            "-".into()
        };
        let proxies: Vec<String> = r.proxies.iter().map(Ipv4Addr::to_string).collect();
        println!(
            "   {:<10} {:>14} {:>8} {:>8}   {:<17} {:>6}  {:<26} {:<30} {}",
            r.mode.name(),
            format!("{}/{}/{}", r.sent[0], r.sent[1], r.sent[2]),
            r.crossed[0],
            r.crossed[1],
            format!(
                "{} {} {} | {} {}",
                received[0], received[1], received[2], received[3], received[4]
            ),
            r.kernel_received,
            members,
            if proxies.is_empty() {
                "-".into()
            } else {
                proxies.join(" ")
            },
            if good { "ok" } else { "UNEXPECTED" }
        );
    }
    ok
}
