//! STEP8 of the walk-through: seeing inside the running switches as an operator would:
//! each hypervisor's and the owning controller's Prometheus metrics (curl), DPDK
//! telemetry's port list, `vxswitch trace` of VM A's ARP request for B (answered by
//! suppression) and of its first frame to B, and `vxswitch capture` of A's port during a
//! ping, read back by tcpdump.

use super::controlled::ControlledLab;
use super::sh::{self, LabError};
use super::topology::controller_ip;
use super::{VM_A, VM_B, VNI};

/// Where each lab hypervisor's data plane serves `/metrics`, inside its namespace.
pub const HV_METRICS: &str = "127.0.0.1:9464";
/// Where each lab controller serves `/metrics`, on its management address.
pub const CONTROLLER_METRICS_PORT: u16 = 9464;

/// Prints `who# ip netns exec NS curl -s URL | grep PATTERN` and the matching lines;
/// returns the value of the sample named `want` (0 if absent).
fn curl(who: &str, ns: &str, url: &str, pattern: &str, want: &str) -> f64 {
    println!("{who}# ip netns exec {ns} curl -s {url} | grep '{pattern}'");
    let (ok, out) = sh::try_in_ns(ns, &["curl", "-s", "--max-time", "5", url]);
    if !ok {
        println!("  (curl failed: {})", out.trim());
        return 0.0;
    }
    let mut value = 0.0;
    for l in out.lines().filter(|l| l.starts_with(pattern)) {
        println!("  {l}");
        if let Some(v) = l.strip_prefix(want).and_then(|r| r.trim().parse().ok()) {
            value = v;
        }
    }
    value
}

/// STEP8; true if every view shows what the walk-through did.
pub fn observe(lab: &ControlledLab) -> Result<bool, LabError> {
    let mut ok = true;
    let vni = format!("{{vni=\"{VNI}\"}}");
    for (i, hv) in lab.topo.hvs.iter().enumerate() {
        let who = format!("esxi0{}", i + 1);
        let url = format!("http://{HV_METRICS}/metrics");
        let enc = curl(
            &who,
            &hv.ns,
            &url,
            "vxswitch_vni_",
            &format!("vxswitch_vni_encapsulated_total{vni}"),
        );
        ok &= enc > 0.0;
    }
    if let Some(c) = lab.owner_of_vni(0).and_then(|id| lab.controller_index(&id)) {
        let url = format!(
            "http://{}:{CONTROLLER_METRICS_PORT}/metrics",
            controller_ip(c)
        );
        let vteps = curl(
            &format!("controller{}", c + 1),
            &lab.topo.controller_ns[c],
            &url,
            "vxswitch_controller_vni_",
            &format!("vxswitch_controller_vni_vteps{vni}"),
        );
        ok &= vteps == 2.0;
    }
    ok &= telemetry(&lab.topo.hvs[0].ns);
    let (_, arp) = lab.print_host(
        0,
        &[
            "trace", "--port", "vm", "--src", VM_A.2, "--arp", VM_B.1, "--ip-src", VM_A.1,
        ],
    );
    ok &= arp.contains(&format!("suppressed: answered {} is-at {}", VM_B.1, VM_B.2));
    let (_, first) = lab.print_host(
        0,
        &[
            "trace", "--port", "vm", "--src", VM_A.2, "--dst", VM_B.2, "--ip-src", VM_A.1,
            "--ip-dst", VM_B.1,
        ],
    );
    ok &= first.contains(&format!("to VTEP {}", VM_B.0));
    ok &= capture(lab)?;
    Ok(ok)
}

/// DPDK's own view of the ports (`dpdk-telemetry.py` on the EAL's telemetry socket).
fn telemetry(prefix: &str) -> bool {
    println!("esxi01# echo /ethdev/list | dpdk-telemetry.py -f {prefix}");
    let out = std::process::Command::new("dpdk-telemetry.py")
        .args(["-f", prefix])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write as _;
            if let Some(mut i) = c.stdin.take() {
                i.write_all(b"/ethdev/list\n")?;
            }
            c.wait_with_output()
        });
    match out {
        Ok(o) => {
            let text = String::from_utf8_lossy(&o.stdout);
            let listed = text.lines().find(|l| l.contains("/ethdev/list"));
            println!("  {}", listed.unwrap_or("(no answer)").trim());
            listed.is_some_and(|l| l.contains("[0, 1]"))
        }
        Err(e) => {
            println!("  ({e})");
            false
        }
    }
}

/// `vxswitch capture` of VM A's port while A pings B twice; the pcap read by tcpdump.
fn capture(lab: &ControlledLab) -> Result<bool, LabError> {
    let pcap = lab.dir.join("esxi01-vm.pcap").display().to_string();
    let args = [
        "capture",
        "--port",
        "vm",
        "--count",
        "4",
        "--duration",
        "10",
        "-w",
        pcap.as_str(),
    ];
    let a = lab.topo.vms[0].ns.clone();
    let (captured, _) = std::thread::scope(|s| {
        let cap = s.spawn(|| lab.print_host(0, &args));
        std::thread::sleep(std::time::Duration::from_millis(500));
        let ping = sh::try_in_ns(&a, &["ping", "-c", "2", "-i", "0.2", VM_B.1]);
        (cap.join().unwrap_or((false, String::new())), ping)
    });
    println!("esxi01# tcpdump -n -e -r {pcap}");
    let (ok, out) = match std::process::Command::new("tcpdump")
        .args(["-n", "-e", "-r", &pcap])
        .output()
    {
        Ok(o) => (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
        ),
        Err(e) => (false, e.to_string()),
    };
    for l in out.lines() {
        println!("  {l}");
    }
    let echoes = out.lines().filter(|l| l.contains("ICMP echo")).count();
    Ok(captured.0 && ok && echoes == 4)
}
