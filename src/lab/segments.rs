//! `vxswitch lab --segments`: BUM replication on a routed underlay. Two segments,
//! 192.168.250.0/24 (hv1-hv3) and 192.168.251.0/24 (hv4, hv5), each a Linux bridge with
//! IGMP snooping and a querier, joined by a router namespace (kernel forwarding, smcroute for
//! the logical switch's group). One controller; one VM per hypervisor on VNI 5001. For each
//! mode the switch is set to, VM A (on hv1) sends one broadcast; tcpdump on every VTEP's
//! switch port and on the router counts the copies that reached each VTEP and crossed the
//! router, beside what hv1 says it sent.

use super::capture::{read, start_tcpdump, vxlan_inner};
use super::controlled::{agent_config, controller_config};
use super::process::Process;
use super::sh::{self, LabError, Namespaces};
use super::topology::{controller_ip, Hypervisor, Mtu};
use super::{start_daemon, start_dataplane, wait_ready, CONTROLLER_READY, STOP_GRACE, VNI};
use crate::api::host::{Request, VniRow};
use crate::api::{HostClient, VniStat};
use crate::ids::ReplicationMode;
use crate::wire::{EtherType, EthernetFrame, IpProtocol, Ipv4Packet};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

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

/// Where a capture counts copies.
#[derive(Clone, Copy, Debug)]
enum Seen {
    /// Delivered to hypervisor i's VTEP.
    Vtep(usize),
    /// Delivered to the kernel VTEP.
    Kernel,
    /// Routed between the segments: 0 from 1 to 2, 1 from 2 to 1.
    Crossed(usize),
}

/// What one mode's broadcast did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Round {
    pub mode: ReplicationMode,
    /// hv1's per-VNI counters for the frame: copies to VTEPs, to proxies, to the group.
    pub sent: [u64; 3],
    /// Copies that crossed the router, from segment 1 to 2 and back.
    pub crossed: [usize; 2],
    /// Copies each VTEP received (hv1's included: it must be 0).
    pub received: Vec<usize>,
    /// Copies the Linux kernel VTEP (segment 2, in the group) received.
    pub kernel_received: usize,
    /// Multicast mode: the kernel VTEP's VM pinged VM A (both ways through the group), with
    /// ping's summary.
    pub kernel_ping: Option<(bool, String)>,
    /// The proxy of each segment as the hosts show it (unicast and hybrid modes).
    pub proxies: Vec<Ipv4Addr>,
    /// Per segment, the VTEP ports its switch learned in the group (IGMP snooping).
    pub snooped: [Vec<String>; 2],
}

impl Round {
    /// Exactly one copy per other VTEP, none back to the sender, none back across the router,
    /// across the router what the mode promises, and in group modes every VTEP in the group.
    pub fn as_the_mode_promises(&self) -> bool {
        let across = match self.mode {
            ReplicationMode::HeadEnd => 2,
            _ => 1,
        };
        let joined = !self.mode.needs_group()
            || self.snooped == [vec!["hv1", "hv2", "hv3"], vec!["hv4", "hv5"]];
        // The kernel VTEP in the group gets multicast mode's routed copy.
        let kernel = self.mode != ReplicationMode::Multicast
            || (self.kernel_received == 1 && self.kernel_ping.as_ref().is_some_and(|p| p.0));
        self.received[0] == 0
            && self.received[1..].iter().all(|&n| n == 1)
            && self.crossed == [across, 0]
            && joined
            && kernel
    }
}

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
            let cfg = agent_config(hv, &format!("esxi0{}", i + 1), &lab.socket(i), i % cores, 1);
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
        lab.wait(
            "every host in the VTEP table",
            Duration::from_secs(30),
            |l| l.vni_row(0).is_some_and(|r| r.vteps == HOSTS.len() - 1),
        )?;
        Ok(lab)
    }

    fn build(&mut self, prefix: &str) -> Result<(), LabError> {
        let (r, c) = (self.router_ns.clone(), self.controller_ns.clone());
        for ns in [&r, &c, &self.switch_ns[0], &self.switch_ns[1]] {
            self.namespaces.add(ns)?;
        }
        // The management network: a bridge in the controller's namespace.
        sh::in_ns(&c, &["ip", "link", "add", "mg", "type", "bridge"])?;
        sh::in_ns(
            &c,
            &[
                "ip",
                "addr",
                "add",
                &format!("{}/24", controller_ip(0)),
                "dev",
                "mg",
            ],
        )?;
        sh::in_ns(&c, &["ip", "link", "set", "mg", "up"])?;
        sh::in_ns(&r, &["sysctl", "-qw", "net.ipv4.ip_forward=1"])?;
        for (k, sw) in self.switch_ns.clone().iter().enumerate() {
            // The segment's switch: IGMP snooping with a querier, as a datacenter ToR.
            sh::in_ns(
                sw,
                &[
                    "ip",
                    "link",
                    "add",
                    "br0",
                    "type",
                    "bridge",
                    "mcast_snooping",
                    "1",
                    "mcast_querier",
                    "1",
                ],
            )?;
            let dev = format!("r{k}");
            let gw = format!("192.168.{}.1/24", 250 + k);
            link(&r, &dev, sw, "rt", Mtu::STANDARD.underlay)?;
            sh::in_ns(sw, &["ip", "link", "set", "rt", "master", "br0", "up"])?;
            // The router's port gets the segment's multicast (it routes the group).
            sh::in_ns(
                sw,
                &["bridge", "link", "set", "dev", "rt", "mcast_router", "2"],
            )?;
            sh::in_ns(&r, &["ip", "addr", "add", &gw, "dev", &dev])?;
            sh::in_ns(&r, &["ip", "link", "set", &dev, "up"])?;
            sh::in_ns(sw, &["ip", "link", "set", "br0", "up"])?;
        }
        for (i, (vtep, gw, vm_ip)) in HOSTS.iter().enumerate() {
            let n = i + 1;
            let hv = Hypervisor {
                ns: format!("{prefix}-hv{n}"),
                vtep_ip: vtep,
                gateway: gw,
                vm_port: format!("vm{n}"),
                mtu: Mtu::STANDARD,
                copy_replicas: false,
                workers: 1,
                extra_port: None,
            };
            let vm = format!("{prefix}-vm{n}");
            self.namespaces.add(&hv.ns)?;
            self.namespaces.add(&vm)?;
            let sw = &self.switch_ns[usize::from(!vtep.starts_with("192.168.250."))];
            let port = format!("hv{n}");
            link(&hv.ns, "up0", sw, &port, Mtu::STANDARD.underlay)?;
            sh::in_ns(sw, &["ip", "link", "set", &port, "master", "br0", "up"])?;
            sh::in_ns(&hv.ns, &["ip", "link", "set", "up0", "up"])?;
            link(&hv.ns, "mgmt0", &c, &format!("m{n}"), 1500)?;
            sh::in_ns(
                &c,
                &["ip", "link", "set", &format!("m{n}"), "master", "mg", "up"],
            )?;
            sh::in_ns(
                &hv.ns,
                &[
                    "ip",
                    "addr",
                    "add",
                    &format!("192.168.110.{}/24", 50 + n),
                    "dev",
                    "mgmt0",
                ],
            )?;
            sh::in_ns(&hv.ns, &["ip", "link", "set", "mgmt0", "up"])?;
            let mac = format!("02:00:00:10:00:{n:02x}");
            sh::run(&[
                "ip",
                "link",
                "add",
                "eth0",
                "netns",
                &vm,
                "address",
                &mac,
                "type",
                "veth",
                "peer",
                "name",
                &hv.vm_port,
                "netns",
                &hv.ns,
            ])?;
            sh::in_ns(&hv.ns, &["ip", "link", "set", &hv.vm_port, "up"])?;
            sh::in_ns(
                &vm,
                &["ip", "addr", "add", &format!("{vm_ip}/24"), "dev", "eth0"],
            )?;
            self.hvs.push(hv);
            self.vms.push(vm);
        }
        self.kernel_vtep(prefix)?;
        self.smcroute = Some(self.start_smcroute()?);
        Ok(())
    }

    /// A Linux kernel VTEP on segment 2 in VNI 5001's group: `vxlan0 group 239.1.1.1`
    /// bridged to its VM, as a Linux host without vxswitch would be set up.
    fn kernel_vtep(&mut self, prefix: &str) -> Result<(), LabError> {
        let (kv, vm) = (format!("{prefix}-kv"), format!("{prefix}-kvm"));
        self.namespaces.add(&kv)?;
        self.namespaces.add(&vm)?;
        link(&kv, "up0", &self.switch_ns[1], "kv", Mtu::STANDARD.underlay)?;
        sh::in_ns(
            &self.switch_ns[1],
            &["ip", "link", "set", "kv", "master", "br0", "up"],
        )?;
        let vni = VNI.to_string();
        for cmd in [
            vec!["ip", "addr", "add", "192.168.251.70/24", "dev", "up0"],
            vec!["ip", "link", "set", "up0", "up"],
            vec!["ip", "route", "add", "default", "via", "192.168.251.1"],
            // As a NIC would: whole, checksummed frames on the wire.
            vec![
                "ethtool", "-K", "up0", "tx", "off", "tso", "off", "gso", "off",
            ],
            vec![
                "ip", "link", "add", "vxlan0", "type", "vxlan", "id", &vni, "group", GROUP, "dev",
                "up0", "dstport", "4789", "ttl", "16", "local", KERNEL.0,
            ],
            vec!["ip", "link", "add", "br0", "type", "bridge"],
            vec!["ip", "link", "set", "vxlan0", "master", "br0", "up"],
        ] {
            sh::in_ns(&kv, &cmd)?;
        }
        sh::run(&[
            "ip",
            "link",
            "add",
            "eth0",
            "netns",
            &vm,
            "address",
            "02:00:00:10:00:70",
            "type",
            "veth",
            "peer",
            "name",
            "vm",
            "netns",
            &kv,
        ])?;
        sh::in_ns(&kv, &["ip", "link", "set", "vm", "master", "br0", "up"])?;
        sh::in_ns(&kv, &["ip", "link", "set", "br0", "up"])?;
        sh::in_ns(
            &vm,
            &[
                "ip",
                "addr",
                "add",
                &format!("{}/24", KERNEL.1),
                "dev",
                "eth0",
            ],
        )?;
        sh::in_ns(&vm, &["ip", "link", "set", "eth0", "up"])?;
        self.kernel_vm = vm;
        Ok(())
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

    /// smcroute in the router: the group is routed both ways between the segments.
    fn start_smcroute(&self) -> Result<Process, LabError> {
        let conf = self.dir.join("smcroute.conf");
        let text = format!(
            "phyint r0 enable\nphyint r1 enable\nmroute from r0 group {GROUP} to r1\nmroute from r1 group {GROUP} to r0\n"
        );
        std::fs::write(&conf, text)
            .map_err(|e| LabError::Step(format!("{}: {e}", conf.display())))?;
        let ident = format!("vxs-{}", self.router_ns);
        let mut cmd = Command::new("ip");
        cmd.args([
            "netns",
            "exec",
            &self.router_ns,
            "smcrouted",
            "-n",
            "-N",
            "-l",
            "info",
            "-i",
            &ident,
            "-f",
        ])
        .arg(&conf)
        .arg("-u")
        .arg(self.dir.join("smcroute.sock"))
        .arg("-P")
        .arg(self.dir.join("smcroute.pid"));
        // (*,G) routes are installed on the group's first packet; ready means configured.
        let mut p = Process::spawn("smcroute", cmd, &self.dir.join("smcroute.log"))?;
        p.wait_for("Ready", 1, Duration::from_secs(10))?;
        Ok(p)
    }

    pub fn socket(&self, i: usize) -> PathBuf {
        self.dir.join(format!("hv{}.sock", i + 1))
    }

    /// Runs `vxswitch <args>` in the controller's namespace (its API on loopback).
    pub fn ctl(&self, args: &[&str]) -> Result<String, LabError> {
        let exe = self.exe.display().to_string();
        let mut a = vec![exe.as_str()];
        a.extend_from_slice(args);
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

    fn wait(
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
        self.wait(
            &format!("every host in {mode} mode"),
            Duration::from_secs(20),
            |l| {
                (0..HOSTS.len()).all(|i| l.vni_row(i).is_some_and(|r| r.replication == mode))
                    && l.vni_row(0).is_some_and(|r| r.copies_per_frame == copies)
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

    /// Runs `rounds` (mode, mark) under one set of captures: per round, the switch set to
    /// the mode and one broadcast from VM A whose ping pattern is the mark.
    pub fn rounds(&self, rounds: &[(ReplicationMode, u8)]) -> Result<Vec<Round>, LabError> {
        // "out" of a switch port: what the switch delivered to that VTEP; "out" of a router
        // port: what the router sent into that segment.
        let mut points: Vec<(Seen, String, String)> = Vec::new();
        for (i, (vtep, ..)) in HOSTS.iter().enumerate() {
            let sw = &self.switch_ns[usize::from(!vtep.starts_with("192.168.250."))];
            points.push((Seen::Vtep(i), sw.clone(), format!("hv{}", i + 1)));
        }
        points.push((Seen::Kernel, self.switch_ns[1].clone(), "kv".into()));
        points.push((Seen::Crossed(1), self.router_ns.clone(), "r0".into()));
        points.push((Seen::Crossed(0), self.router_ns.clone(), "r1".into()));
        let mut dumps = Vec::new();
        let mut files = Vec::new();
        for (seen, ns, dev) in &points {
            let f = self.dir.join(format!("{ns}-{dev}.pcap"));
            dumps.push(start_tcpdump(ns, dev, "out", &f)?);
            files.push((*seen, f));
        }
        let mut out = Vec::new();
        for &(mode, mark) in rounds {
            self.set_mode(mode)?;
            // The round's one BUM frame: no ARP of VM A for earlier peers in the window.
            sh::in_ns(&self.vms[0], &["ip", "neigh", "flush", "dev", "eth0"])?;
            let before = self.vni_row(0).map(|r| r.counters).unwrap_or_default();
            let pattern = format!("{mark:02x}");
            sh::in_ns(
                &self.vms[0],
                &[
                    "ping",
                    "-b",
                    "-c",
                    "1",
                    "-s",
                    "32",
                    "-p",
                    &pattern,
                    "-W",
                    "1",
                    "172.16.10.255",
                ],
            )
            .ok();
            std::thread::sleep(Duration::from_millis(700));
            let after = self.vni_row(0).map(|r| r.counters).unwrap_or_default();
            let d = |s: VniStat| {
                after.get(&s).copied().unwrap_or(0) - before.get(&s).copied().unwrap_or(0)
            };
            out.push(Round {
                mode,
                sent: [
                    d(VniStat::UnicastCopies),
                    d(VniStat::ProxyCopies),
                    d(VniStat::GroupCopies),
                ],
                crossed: [0, 0],
                received: vec![0; HOSTS.len()],
                kernel_received: 0,
                kernel_ping: (mode == ReplicationMode::Multicast).then(|| self.kernel_ping(3)),
                proxies: self.proxies(),
                snooped: self.snooped(),
            });
        }
        for mut d in dumps {
            d.stop(STOP_GRACE);
        }
        for (seen, file) in &files {
            let frames = std::fs::File::open(file).and_then(read).unwrap_or_default();
            for b in &frames {
                let Some(mark) = broadcast_mark(b) else {
                    continue;
                };
                let Some(i) = rounds.iter().position(|(_, m)| *m == mark) else {
                    continue;
                };
                let r = &mut out[i];
                match *seen {
                    Seen::Vtep(v) => r.received[v] += 1,
                    Seen::Kernel => r.kernel_received += 1,
                    Seen::Crossed(dir) => r.crossed[dir] += 1,
                }
            }
        }
        Ok(out)
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

/// A veth pair: `a` in namespace `ns_a`, `b` in `ns_b`.
fn link(ns_a: &str, a: &str, ns_b: &str, b: &str, mtu: u16) -> Result<(), LabError> {
    let m = mtu.to_string();
    sh::run(&[
        "ip", "link", "add", a, "netns", ns_a, "mtu", &m, "type", "veth", "peer", "name", b,
        "netns", ns_b, "mtu", &m,
    ])
    .map(|_| ())
}

/// The round mark of a VXLAN frame carrying VM A's broadcast ping (the last byte of its
/// pattern-filled data), if it is one.
fn broadcast_mark(b: &[u8]) -> Option<u8> {
    let inner = vxlan_inner(b)?;
    let eth = EthernetFrame::new_checked(inner).ok()?;
    if !eth.dst().is_broadcast() || eth.ethertype() != EtherType::Ipv4 {
        return None;
    }
    let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
    if ip.protocol() != IpProtocol::Icmp || ip.dst() != Ipv4Addr::new(172, 16, 10, 255) {
        return None;
    }
    ip.payload().last().copied()
}

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
