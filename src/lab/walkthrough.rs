//! `vxswitch lab`: the source document's walk-through (STEP0-STEP6) with a controller, two
//! hypervisors and VMs A and B, printing at each step the tables the document shows, as an
//! operator would see them with `vxswitch show ...`.

use super::capture::{vxlan_capture, VxlanCapture};
use super::iperf;
use super::process::Process;
use super::sh::{self, LabError};
use super::topology::{Hypervisor, Mtu, Options, Topology, CONTROLLER_IP};
use super::{
    start_daemon, LabArgs, CONTROLLER_READY, DATAPLANE_READY, STOP_GRACE, TCP_BYTES, VM_A, VM_B,
    VNI,
};
use crate::api::host::{Connection, MacRow, Request, SessionState, Stats, VtepRow};
use crate::api::rest::{ArpTableRow, MacTableRow, VtepTableRow};
use crate::api::{HostClient, Stat};
use crate::wire::MacAddr;
use serde::de::DeserializeOwned;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The lab with a controller: topology, controller, data planes with agents.
pub struct ControlledLab {
    pub topo: Topology,
    pub controller: Process,
    pub dataplanes: Vec<Process>,
    pub dir: PathBuf,
    pub exe: PathBuf,
}

/// A hypervisor's data plane with an agent and no static VTEP table.
fn agent_config(hv: &Hypervisor, host: &str, socket: &Path, core: usize) -> String {
    let agent = format!("[agent]\nhost = \"{host}\"\ncontrollers = [\"{CONTROLLER_IP}:1234\"]\n");
    super::hypervisor_config(hv, core, socket, &agent)
}

impl ControlledLab {
    /// Builds the topology with VMs powered off, starts the controller and creates logical
    /// switch 5001 through its API, then starts both data planes.
    pub fn start(exe: &Path, prefix: &str) -> Result<ControlledLab, LabError> {
        let dir = std::env::temp_dir().join(format!("vxswitch-lab-{prefix}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .map_err(|e| LabError::Step(format!("{}: {e}", dir.display())))?;
        let topo = Topology::build(
            prefix,
            &[VM_A, VM_B],
            Options {
                vms_on: false,
                controller: true,
                mtu: Mtu::STANDARD,
            },
        )?;
        let ctl_ns = topo.controller_ns.clone().unwrap_or_default();
        let ctl_cfg = format!(
            "[controller]\nid = \"{CONTROLLER_IP}\"\nlisten = \"0.0.0.0:1234\"\napi = \"0.0.0.0:8080\"\nstate_dir = \"{}\"\n",
            dir.join("controller-state").display()
        );
        let mut controller =
            start_daemon(exe, "controller", &ctl_ns, "controller", &dir, &ctl_cfg)?;
        controller.wait_for(CONTROLLER_READY, 1, Duration::from_secs(10))?;
        let mut lab = ControlledLab {
            topo,
            controller,
            dataplanes: Vec::new(),
            dir,
            exe: exe.to_path_buf(),
        };
        let cores = core_affinity::get_core_ids().map_or(1, |c| c.len());
        for (i, hv) in lab.topo.hvs.clone().iter().enumerate() {
            let host = format!("esxi0{}", i + 1);
            let cfg = agent_config(hv, &host, &lab.socket(i), i % cores);
            let name = format!("hv{}", i + 1);
            let dp = start_daemon(exe, "dataplane", &hv.ns, &name, &lab.dir, &cfg)?;
            lab.dataplanes.push(dp);
        }
        for dp in &mut lab.dataplanes {
            dp.wait_for(DATAPLANE_READY, 1, Duration::from_secs(30))?;
        }
        Ok(lab)
    }

    /// Starts the controller again on the same config and state (after `controller.kill()`).
    pub fn restart_controller(&mut self) -> Result<(), LabError> {
        let ns = self.topo.controller_ns.clone().unwrap_or_default();
        let cfg = std::fs::read_to_string(self.dir.join("controller.toml"))
            .map_err(|e| LabError::Step(format!("controller.toml: {e}")))?;
        self.controller.stop(STOP_GRACE);
        self.controller =
            start_daemon(&self.exe, "controller", &ns, "controller", &self.dir, &cfg)?;
        Ok(self
            .controller
            .wait_for(CONTROLLER_READY, 1, Duration::from_secs(10))?)
    }

    /// Hypervisor i's control socket.
    pub fn socket(&self, i: usize) -> PathBuf {
        self.dir.join(format!("hv{}.sock", i + 1))
    }

    /// Runs `vxswitch <args>` against the controller (inside its namespace).
    pub fn ctl(&self, args: &[&str]) -> (bool, String) {
        let ns = self.topo.controller_ns.as_deref().unwrap_or_default();
        let exe = self.exe.display().to_string();
        let mut a = vec![exe.as_str()];
        a.extend_from_slice(args);
        sh::try_in_ns(ns, &a)
    }

    /// A controller view as its typed rows (the CLI's `--json` output, read back); None if
    /// the command failed.
    pub fn ctl_view<T: DeserializeOwned>(&self, args: &[&str]) -> Option<T> {
        let mut a = args.to_vec();
        a.push("--json");
        let (ok, out) = self.ctl(&a);
        if !ok {
            return None;
        }
        serde_json::from_str(&out).ok()
    }

    /// Table `which` (vtep-table, mac-table, arp-table) of the lab's VNI on the controller.
    fn vni_table<T: DeserializeOwned>(&self, which: &str) -> Vec<T> {
        let vni = VNI.to_string();
        self.ctl_view(&["show", "logical-switches", which, &vni])
            .unwrap_or_default()
    }
    pub fn vtep_table(&self) -> Vec<VtepTableRow> {
        self.vni_table("vtep-table")
    }
    pub fn mac_table(&self) -> Vec<MacTableRow> {
        self.vni_table("mac-table")
    }
    pub fn arp_table(&self) -> Vec<ArpTableRow> {
        self.vni_table("arp-table")
    }

    /// Runs `vxswitch <args> --socket <hypervisor i's socket>` as an operator on the host
    /// would; returns (success, what it printed).
    pub fn host(&self, i: usize, args: &[&str]) -> (bool, String) {
        let socket = self.socket(i).display().to_string();
        let mut a: Vec<&str> = args.to_vec();
        a.extend(["--socket", &socket]);
        match Command::new(&self.exe).args(&a).output() {
            Ok(o) => (
                o.status.success(),
                format!(
                    "{}{}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                ),
            ),
            Err(e) => (false, e.to_string()),
        }
    }

    /// Hypervisor i's host API.
    pub fn host_api(&self, i: usize) -> HostClient {
        HostClient::new(self.socket(i))
    }
    pub fn connections(&self, i: usize) -> Vec<Connection> {
        self.host_api(i)
            .get(Request::Connections)
            .unwrap_or_default()
    }
    pub fn vtep_list(&self, i: usize) -> Vec<VtepRow> {
        self.host_api(i)
            .get(Request::VtepList { vni: VNI })
            .unwrap_or_default()
    }
    pub fn mac_list(&self, i: usize) -> Vec<MacRow> {
        self.host_api(i)
            .get(Request::MacList { vni: VNI })
            .unwrap_or_default()
    }
    pub fn stats(&self, i: usize) -> Result<Stats, LabError> {
        Ok(self.host_api(i).get(Request::Stats)?)
    }
    /// Hypervisor i's MAC table has `mac` behind remote VTEP `vtep`.
    pub fn learned_behind(&self, i: usize, mac: &str, vtep: &str) -> bool {
        let (Ok(mac), Ok(vtep)) = (mac.parse::<MacAddr>(), vtep.parse::<Ipv4Addr>()) else {
            return false;
        };
        self.mac_list(i)
            .iter()
            .any(|r| r.inner_mac == mac && r.outer_ip == Some(vtep))
    }
    /// Both hosts have a session to the controller.
    pub fn connected(&self) -> bool {
        (0..2).all(|i| {
            self.connections(i)
                .first()
                .is_some_and(|c| c.state == SessionState::Established)
        })
    }

    /// Runs and prints a controller command as `who` typed it; returns its result.
    pub fn print_ctl(&self, who: &str, args: &[&str]) -> (bool, String) {
        let r = self.ctl(args);
        print_cmd(who, args, &r.1);
        r
    }

    /// Runs and prints a host command on esxi0<i+1>; returns its result.
    pub fn print_host(&self, i: usize, args: &[&str]) -> (bool, String) {
        let r = self.host(i, args);
        print_cmd(&format!("esxi0{}", i + 1), args, &r.1);
        r
    }

    /// VM A flushes its ARP cache and pings B `count` times while esxi01's side of the
    /// underlay is captured (tcpdump in immediate mode: every packet is written as it comes,
    /// none waits in a buffer when tcpdump stops). Returns (ping ok, ping output) and what
    /// crossed inside VXLAN: the frames, and the ARP requests for B among them.
    pub fn ping_a_to_b_captured(
        &self,
        tag: &str,
        count: u32,
    ) -> Result<((bool, String), VxlanCapture), LabError> {
        let cap = self.dir.join(format!("{tag}.pcap"));
        let cap_s = cap.display().to_string();
        let ul = self.topo.underlay_ns.as_str();
        let mut cmd = Command::new("ip");
        cmd.args([
            "netns",
            "exec",
            ul,
            "tcpdump",
            "--immediate-mode",
            "-i",
            "hv1",
            "-U",
            "-w",
            &cap_s,
            "udp",
            "port",
            "4789",
        ]);
        let mut dump = Process::spawn("tcpdump", cmd, &self.dir.join(format!("{tag}.log")))?;
        dump.wait_for("listening on", 1, Duration::from_secs(10))?;
        let vm_a = self.topo.vms[0].ns.as_str();
        let _ = sh::try_in_ns(vm_a, &["ip", "neigh", "flush", "dev", "eth0"]);
        let ping = sh::try_in_ns(
            vm_a,
            &[
                "ping",
                "-c",
                &count.to_string(),
                "-i",
                "0.2",
                "-W",
                "2",
                VM_B.1,
            ],
        );
        std::thread::sleep(Duration::from_millis(300));
        dump.stop(STOP_GRACE);
        let target = VM_B.1.parse().unwrap_or(std::net::Ipv4Addr::UNSPECIFIED);
        Ok((ping, vxlan_capture(&cap, target)))
    }

    /// Waits until `f` holds (polling every 100 ms) or `timeout` passes.
    pub fn wait(
        &self,
        what: &str,
        timeout: Duration,
        f: impl Fn(&Self) -> bool,
    ) -> Result<(), LabError> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if f(self) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(LabError::Step(format!("timed out waiting for {what}")))
    }

    /// Stops the data planes and the controller; returns their outputs.
    pub fn stop(&mut self) -> Vec<(String, String)> {
        self.dataplanes
            .iter_mut()
            .chain(std::iter::once(&mut self.controller))
            .map(|d| {
                d.stop(STOP_GRACE);
                (d.name().to_string(), d.output())
            })
            .collect()
    }
}

fn print_cmd(who: &str, args: &[&str], out: &str) {
    println!("{who}# vxswitch {}", args.join(" "));
    for l in out.lines() {
        println!("  {l}");
    }
}

fn step(title: &str) {
    println!("\n---------- {title}");
}

/// The walk-through; PASS only if every step's tables and pings are right.
pub fn walkthrough(args: &LabArgs) -> Result<(), LabError> {
    let exe = std::env::current_exe().map_err(|e| LabError::Step(e.to_string()))?;
    println!("== vxswitch lab: the logical switch walk-through (VNI {VNI}, unicast mode, ARP suppression on)");
    println!("   controller {CONTROLLER_IP} (TCP 1234, API :8080) on the management network 192.168.110.0/24");
    println!(
        "   esxi01: VTEP {} with VM A {} ({})",
        VM_A.0, VM_A.1, VM_A.2
    );
    println!(
        "   esxi02: VTEP {} with VM B {} ({})",
        VM_B.0, VM_B.1, VM_B.2
    );
    let mut lab = ControlledLab::start(&exe, &args.prefix)?;
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
        "both hosts connected to the controller",
        Duration::from_secs(15),
        ControlledLab::connected,
    )?;
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
    if ok {
        Ok(())
    } else {
        Err(LabError::Step("lab: FAIL (see above)".into()))
    }
}
