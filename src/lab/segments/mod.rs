//! `vxswitch lab --segments`: BUM replication on a routed underlay. Two segments,
//! 192.168.250.0/24 (hv1-hv3) and 192.168.251.0/24 (hv4, hv5), each a Linux bridge with
//! IGMP snooping and a querier, joined by a router namespace (kernel forwarding, smcroute for
//! the logical switch's group), and a Linux kernel VTEP in the group on segment 2 (interop).
//! One controller; one VM per hypervisor on VNI 5001. For each
//! mode the switch is set to, VM A (on hv1) sends one broadcast; tcpdump on every VTEP's
//! switch port and on the router counts the copies that reached each VTEP and crossed the
//! router, beside what hv1 says it sent.

mod report;
mod rounds;
mod underlay;

pub use report::run;
pub use rounds::Round;

use super::controlled::{agent_config, controller_config, controller_name};
use super::pki::LabPki;
use super::process::Process;
use super::sh::{self, LabError, Namespaces};
use super::topology::{controller_ip, Hypervisor};
use super::{start_daemon, start_dataplane, wait_ready, CONTROLLER_READY, STOP_GRACE, VNI};
use crate::api::host::{Request, VniRow};
use crate::api::HostClient;
use crate::ids::ReplicationMode;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The logical switch's group in hybrid and multicast modes.
pub const GROUP: &str = "239.1.1.1";
/// (VTEP, gateway, VM address) of each hypervisor.
pub const HOSTS: [(&str, &str, &str); 5] = [
    ("192.168.250.51", "192.168.250.1", "172.16.10.11"),
    ("192.168.250.52", "192.168.250.1", "172.16.10.12"),
    ("192.168.250.53", "192.168.250.1", "172.16.10.13"),
    ("192.168.251.61", "192.168.251.1", "172.16.10.21"),
    ("192.168.251.62", "192.168.251.1", "172.16.10.22"),
];
/// The Linux kernel VTEP on segment 2 (vxlan device in the group, TTL 16 so that its group
/// traffic is routed) and its VM.
pub const KERNEL: (&str, &str) = ("192.168.251.70", "172.16.10.70");
/// The modes in the order the lab shows them, each with the ping pattern byte that marks its
/// broadcast in the captures.
pub const ROUNDS: [(ReplicationMode, u8); 4] = [
    (ReplicationMode::Unicast, 1),
    (ReplicationMode::Hybrid, 2),
    (ReplicationMode::Multicast, 3),
    (ReplicationMode::HeadEnd, 4),
];

/// The routed lab running: its namespaces, daemons and files.
pub struct SegmentsLab {
    namespaces: Namespaces,
    hvs: Vec<Hypervisor>,
    vms: Vec<String>,
    kernel_vm: String,
    controller_ns: String,
    router_ns: String,
    switch_ns: [String; 2],
    controller: Option<Process>,
    dataplanes: Vec<Process>,
    smcroute: Option<Process>,
    pub dir: PathBuf,
    exe: PathBuf,
}

impl SegmentsLab {
    /// Builds the routed underlay, starts the controller and the five data planes, creates
    /// VNI 5001 and powers the VMs on; returns once every host joined.
    pub fn start(exe: &Path, prefix: &str) -> Result<SegmentsLab, LabError> {
        let dir = std::env::temp_dir().join(format!("vxswitch-lab-{prefix}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .map_err(|e| LabError::Step(format!("{}: {e}", dir.display())))?;
        let mut lab = SegmentsLab {
            namespaces: Namespaces::default(),
            hvs: Vec::new(),
            vms: Vec::new(),
            kernel_vm: String::new(),
            controller_ns: format!("{prefix}-c1"),
            router_ns: format!("{prefix}-rt"),
            switch_ns: [format!("{prefix}-s1"), format!("{prefix}-s2")],
            controller: None,
            dataplanes: Vec::new(),
            smcroute: None,
            dir,
            exe: exe.to_path_buf(),
        };
        lab.build(prefix)?;
        let pki = LabPki::create(&lab.dir)?;
        pki.issue(&controller_name(0), &controller_ip(0))?;
        let cfg = controller_config(&lab.dir, 0, 1);
        let mut c = start_daemon(
            exe,
            "controller",
            &lab.controller_ns,
            "controller1",
            &lab.dir,
            &cfg,
        )?;
        c.wait_for(CONTROLLER_READY, 1, Duration::from_secs(10))?;
        lab.controller = Some(c);
        let cores = core_affinity::get_core_ids().map_or(1, |c| c.len());
        for (i, hv) in lab.hvs.iter().enumerate() {
            let host = format!("esxi0{}", i + 1);
            let cfg = agent_config(hv, &host, &lab.socket(i), i % cores, 1, &pki)?;
            lab.dataplanes
                .push(start_dataplane(exe, hv, i, &lab.dir, &cfg)?);
        }
        wait_ready(&mut lab.dataplanes)?;
        lab.ctl(&[
            "ls",
            "create",
            "--vni",
            &VNI.to_string(),
            "--name",
            "routed",
            "--replication",
            "unicast",
            "--multicast-group",
            GROUP,
        ])?;
        for vm in &lab.vms {
            sh::in_ns(vm, &["ip", "link", "set", "eth0", "up"])?;
        }
        sh::wait_until(
            "every host in the VTEP table",
            Duration::from_secs(30),
            || lab.vni_row(0).is_some_and(|r| r.vteps == HOSTS.len() - 1),
        )?;
        Ok(lab)
    }

    pub fn socket(&self, i: usize) -> PathBuf {
        self.dir.join(format!("hv{}.sock", i + 1))
    }

    /// Runs `vxswitch <args>` in the controller's namespace (its API on loopback).
    pub fn ctl(&self, args: &[&str]) -> Result<String, LabError> {
        let exe = self.exe.display().to_string();
        let token = LabPki::of(&self.dir).token_file().display().to_string();
        let mut a = vec![exe.as_str()];
        a.extend_from_slice(args);
        a.extend(["--token-file", &token]);
        let (ok, out) = sh::try_in_ns(&self.controller_ns, &a);
        if !ok {
            return Err(LabError::Step(format!(
                "vxswitch {}: {out}",
                args.join(" ")
            )));
        }
        Ok(out)
    }

    /// Host i's row for VNI 5001.
    pub fn vni_row(&self, i: usize) -> Option<VniRow> {
        let rows: Vec<VniRow> = HostClient::new(self.socket(i)).get(Request::Vnis).ok()?;
        rows.into_iter().find(|r| r.vni == VNI)
    }

    /// `vxswitch show <args>` against host i, as printed.
    pub fn show_host(&self, i: usize, args: &[&str]) -> String {
        let exe = self.exe.display().to_string();
        let sock = self.socket(i).display().to_string();
        let mut a = vec![exe.as_str(), "show"];
        a.extend_from_slice(args);
        a.extend(["--socket", sock.as_str()]);
        let out = Command::new(a[0]).args(&a[1..]).output();
        out.map(|o| {
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
        })
        .unwrap_or_else(|e| e.to_string())
    }

    /// Sets the switch to `mode` and waits until every host replicates that way: the mode,
    /// hv1's copies per frame, and (unicast, hybrid) a proxy in each segment.
    pub fn set_mode(&self, mode: ReplicationMode) -> Result<(), LabError> {
        self.ctl(&[
            "ls",
            "update",
            "--vni",
            &VNI.to_string(),
            "--replication",
            mode.name(),
        ])?;
        let copies = match mode {
            ReplicationMode::Unicast => 3,
            ReplicationMode::Hybrid => 2,
            ReplicationMode::Multicast => 1,
            ReplicationMode::HeadEnd => 4,
        };
        sh::wait_until(
            &format!("every host in {mode} mode"),
            Duration::from_secs(20),
            || {
                (0..HOSTS.len()).all(|i| self.vni_row(i).is_some_and(|r| r.replication == mode))
                    && self
                        .vni_row(0)
                        .is_some_and(|r| r.copies_per_frame == copies)
            },
        )?;
        // Group membership: the hosts' IGMP reports reach the switches before the frame.
        std::thread::sleep(Duration::from_millis(500));
        Ok(())
    }

    /// The segments' proxies as hv1's `vtep list` shows them (and itself, if it is one).
    pub fn proxies(&self) -> Vec<Ipv4Addr> {
        let rows: Vec<crate::api::host::VtepRow> = HostClient::new(self.socket(0))
            .get(Request::VtepList { vni: VNI })
            .unwrap_or_default();
        let mut p: Vec<Ipv4Addr> = rows.iter().filter(|r| r.is_mtep).map(|r| r.ip).collect();
        if self.vni_row(0).is_some_and(|r| r.role.is_some()) {
            p.insert(0, HOSTS[0].0.parse().unwrap_or(Ipv4Addr::UNSPECIFIED));
        }
        p
    }

    /// The kernel VTEP's VM pings VM A (multicast mode: its ARP goes to the group, across the
    /// router, and VM A's answers come back through vxswitch's group copy and then unicast).
    pub fn kernel_ping(&self, count: u32) -> (bool, String) {
        let c = count.to_string();
        sh::try_in_ns(
            &self.kernel_vm,
            &["ping", "-c", &c, "-i", "0.2", "-W", "2", HOSTS[0].2],
        )
    }

    /// VM i powers off: its hypervisor leaves the VNI (the controller picks another proxy
    /// if it was one).
    pub fn power_off(&self, i: usize) -> Result<(), LabError> {
        sh::in_ns(&self.vms[i], &["ip", "link", "set", "eth0", "down"]).map(|_| ())
    }

    /// Per segment, the VTEP ports its switch learned in GROUP from IGMP reports.
    pub fn snooped(&self) -> [Vec<String>; 2] {
        self.switch_ns.clone().map(|sw| {
            let (_, mdb) = sh::try_in_ns(&sw, &["bridge", "mdb", "show"]);
            let mut ports: Vec<String> = mdb
                .lines()
                .filter(|l| l.contains(&format!("grp {GROUP} ")))
                .filter_map(|l| l.split_whitespace().skip_while(|w| *w != "port").nth(1))
                .filter(|p| p.starts_with("hv"))
                .map(str::to_owned)
                .collect();
            ports.sort();
            ports
        })
    }

    /// Stops everything and returns the daemons' outputs; the namespaces go on drop.
    pub fn stop(&mut self) -> Vec<(String, String)> {
        self.dataplanes
            .iter_mut()
            .chain(self.controller.iter_mut())
            .chain(self.smcroute.iter_mut())
            .map(|d| {
                d.stop(STOP_GRACE);
                (d.name().to_string(), d.output())
            })
            .collect()
    }
}

impl Drop for SegmentsLab {
    fn drop(&mut self) {
        self.stop();
    }
}
