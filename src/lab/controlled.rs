//! The lab with controllers: the topology with its management network, one controller (the
//! embedded single node) or a cluster of three, each with its etcd member in its namespace as
//! NSX controllers carry their own coordination service, and the two data planes with
//! agents connected to every controller.

use super::capture::{start_tcpdump, vxlan_capture, VxlanCapture};
use super::pki::LabPki;
use super::process::Process;
use super::sh::{self, LabError};
use super::topology::{cluster_ip, controller_ip, Hypervisor, Mtu, Options, Topology};
use super::{
    start_daemon, start_dataplane, wait_ready, CONTROLLER_READY, STOP_GRACE, VM_A, VM_B, VNI,
};
use crate::api::host::{Connection, MacRow, Request, SessionState, Stats, VtepRow};
use crate::api::rest::{ArpTableRow, ClusterStatus, LogicalSwitchView, MacTableRow, VtepTableRow};
use crate::api::HostClient;
use crate::wire::MacAddr;
use serde::de::DeserializeOwned;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// What etcd prints once it serves clients.
const ETCD_READY: &str = "ready to serve client requests";

/// The lab with controllers: topology, etcd members (a cluster only), controllers, data
/// planes with agents.
pub struct ControlledLab {
    pub topo: Topology,
    pub etcd: Vec<Process>,
    /// Controller i runs in `topo.controller_ns[i]` at `controller_ip(i)`.
    pub controllers: Vec<Process>,
    pub dataplanes: Vec<Process>,
    pub dir: PathBuf,
    pub exe: PathBuf,
}

/// A hypervisor's data plane with an agent (mutual TLS sessions to every controller) and
/// no static VTEP table; issues the host's certificate.
pub(super) fn agent_config(
    hv: &Hypervisor,
    host: &str,
    socket: &Path,
    core: usize,
    n: usize,
    pki: &LabPki,
) -> Result<String, LabError> {
    pki.issue(host, hv.vtep_ip)?;
    let list: Vec<String> = (0..n)
        .map(|i| format!("\"{}:1234\"", controller_ip(i)))
        .collect();
    let agent = format!(
        "[agent]\nhost = \"{host}\"\ncontrollers = [{}]\n{}",
        list.join(", "),
        pki.agent_keys(host)
    );
    Ok(super::hypervisor_config(hv, core, socket, &agent))
}

/// Controller i's certificate name.
pub(super) fn controller_name(i: usize) -> String {
    format!("controller{}", i + 1)
}

/// Controller i's config: alone, the embedded single node; in a cluster, a member on the
/// etcd members of all `n` controllers. Its certificate is issued by `LabPki::issue` first.
pub(super) fn controller_config(dir: &Path, i: usize, n: usize) -> String {
    let mut cfg = format!(
        "[controller]\nid = \"{}\"\nlisten = \"0.0.0.0:1234\"\napi = \"0.0.0.0:8080\"\nmetrics = \"0.0.0.0:{}\"\nstate_dir = \"{}\"\n{}",
        controller_ip(i),
        super::observe::CONTROLLER_METRICS_PORT,
        dir.join(format!("controller{}-state", i + 1)).display(),
        LabPki::of(dir).controller_keys(&controller_name(i))
    );
    if n > 1 {
        let etcd: Vec<String> = (0..n)
            .map(|k| format!("\"http://{}:2379\"", cluster_ip(k)))
            .collect();
        cfg.push_str(&format!("\n[cluster]\netcd = [{}]\n", etcd.join(", ")));
    }
    cfg
}

/// Starts etcd member i of `n` in namespace `ns`, on the cluster network (clients on 2379,
/// peers on 2380).
fn start_etcd(ns: &str, i: usize, n: usize, dir: &Path, token: &str) -> Result<Process, LabError> {
    let ip = cluster_ip(i);
    let cluster: Vec<String> = (0..n)
        .map(|k| format!("c{}=http://{}:2380", k + 1, cluster_ip(k)))
        .collect();
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns, "etcd"])
        .args(["--name", &format!("c{}", i + 1)])
        .arg("--data-dir")
        .arg(dir.join(format!("etcd-c{}", i + 1)))
        .args([
            "--listen-client-urls",
            &format!("http://{ip}:2379,http://127.0.0.1:2379"),
        ])
        .args(["--advertise-client-urls", &format!("http://{ip}:2379")])
        .args(["--listen-peer-urls", &format!("http://{ip}:2380")])
        .args([
            "--initial-advertise-peer-urls",
            &format!("http://{ip}:2380"),
        ])
        .args(["--initial-cluster", &cluster.join(",")])
        .args(["--initial-cluster-state", "new"])
        .args(["--initial-cluster-token", token]);
    Ok(Process::spawn(
        &format!("etcd{}", i + 1),
        cmd,
        &dir.join(format!("etcd{}.log", i + 1)),
    )?)
}

impl ControlledLab {
    /// Builds the topology with VMs powered off (VM C too, with `vm_c`), starts `n`
    /// controllers (with etcd when n > 1) and both data planes.
    pub fn start(
        exe: &Path,
        prefix: &str,
        n: usize,
        vm_c: bool,
    ) -> Result<ControlledLab, LabError> {
        let dir = std::env::temp_dir().join(format!("vxswitch-lab-{prefix}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .map_err(|e| LabError::Step(format!("{}: {e}", dir.display())))?;
        let topo = Topology::build(
            prefix,
            &[VM_A, VM_B],
            Options {
                vms_on: false,
                controllers: n,
                mtu: Mtu::STANDARD,
                vm_c,
            },
        )?;
        let mut lab = ControlledLab {
            topo,
            etcd: Vec::new(),
            controllers: Vec::new(),
            dataplanes: Vec::new(),
            dir,
            exe: exe.to_path_buf(),
        };
        if n > 1 {
            for i in 0..n {
                let ns = lab.topo.controller_ns[i].clone();
                let e = start_etcd(&ns, i, n, &lab.dir, prefix)?;
                lab.etcd.push(e);
            }
            for e in &mut lab.etcd {
                e.wait_for(ETCD_READY, 1, Duration::from_secs(30))?;
            }
        }
        let pki = LabPki::create(&lab.dir)?;
        for i in 0..n {
            pki.issue(&controller_name(i), &controller_ip(i))?;
        }
        for i in 0..n {
            let p = lab.start_controller(i)?;
            lab.controllers.push(p);
        }
        for c in &mut lab.controllers {
            c.wait_for(CONTROLLER_READY, 1, Duration::from_secs(10))?;
        }
        let cores = core_affinity::get_core_ids().map_or(1, |c| c.len());
        for (i, hv) in lab.topo.hvs.clone().iter().enumerate() {
            let host = format!("esxi0{}", i + 1);
            let cfg = agent_config(hv, &host, &lab.socket(i), i % cores, n, &pki)?;
            lab.dataplanes
                .push(start_dataplane(exe, hv, i, &lab.dir, &cfg)?);
        }
        wait_ready(&mut lab.dataplanes)?;
        Ok(lab)
    }

    fn start_controller(&self, i: usize) -> Result<Process, LabError> {
        let n = self.topo.controller_ns.len();
        let cfg = controller_config(&self.dir, i, n);
        let ns = &self.topo.controller_ns[i];
        let name = format!("controller{}", i + 1);
        start_daemon(&self.exe, "controller", ns, &name, &self.dir, &cfg)
    }

    /// Starts controller i again on the same config and state (after a kill).
    pub fn restart_controller(&mut self, i: usize) -> Result<(), LabError> {
        self.controllers[i].stop(STOP_GRACE);
        self.controllers[i] = self.start_controller(i)?;
        Ok(self.controllers[i].wait_for(CONTROLLER_READY, 1, Duration::from_secs(10))?)
    }

    /// Controller i by its id (its management address).
    pub fn controller_index(&self, id: &str) -> Option<usize> {
        (0..self.controllers.len()).find(|&i| controller_ip(i) == id)
    }

    /// The controller that owns the lab's VNI, as controller `asked` says.
    pub fn owner_of_vni(&self, asked: usize) -> Option<String> {
        let vni = VNI.to_string();
        self.ctl_view_on::<LogicalSwitchView>(asked, &["show", "logical-switches", "vni", &vni])
            .map(|v| v.controller)
            .filter(|c| !c.is_empty())
    }

    /// Hypervisor i's control socket.
    pub fn socket(&self, i: usize) -> PathBuf {
        self.dir.join(format!("hv{}.sock", i + 1))
    }

    /// Runs `vxswitch <args>` against controller i's API (inside its namespace).
    pub fn ctl_on(&self, i: usize, args: &[&str]) -> (bool, String) {
        let Some(ns) = self.topo.controller_ns.get(i) else {
            return (false, format!("no controller {i}"));
        };
        let exe = self.exe.display().to_string();
        let token = LabPki::of(&self.dir).token_file().display().to_string();
        let mut a = vec![exe.as_str()];
        a.extend_from_slice(args);
        a.extend(["--token-file", &token]);
        sh::try_in_ns(ns, &a)
    }

    /// Runs `vxswitch <args>` against the first controller that answers.
    pub fn ctl(&self, args: &[&str]) -> (bool, String) {
        let mut last = (false, "no controller".to_string());
        for i in 0..self.controllers.len() {
            last = self.ctl_on(i, args);
            if !last.1.contains("Connection refused") {
                break;
            }
        }
        last
    }

    /// A view of controller i as its typed rows (the CLI's `--json` output, read back);
    /// None if the command failed.
    pub fn ctl_view_on<T: DeserializeOwned>(&self, i: usize, args: &[&str]) -> Option<T> {
        let mut a = args.to_vec();
        a.push("--json");
        let (ok, out) = self.ctl_on(i, &a);
        if !ok {
            return None;
        }
        serde_json::from_str(&out).ok()
    }

    /// A view from the first controller that answers.
    pub fn ctl_view<T: DeserializeOwned>(&self, args: &[&str]) -> Option<T> {
        (0..self.controllers.len()).find_map(|i| self.ctl_view_on(i, args))
    }

    /// Controller i holds a live etcd lease (a single controller always does).
    pub fn in_majority(&self, i: usize) -> bool {
        self.ctl_view_on::<ClusterStatus>(i, &["show", "control-cluster", "status"])
            .is_some_and(|s| s.majority)
    }

    /// Table `which` (vtep-table, mac-table, arp-table) of the lab's VNI, from its owner as a
    /// controller in the majority says: a controller cut off from etcd has given its slices
    /// up, but its map of who owns what is the last one it read.
    fn vni_table<T: DeserializeOwned>(&self, which: &str) -> Vec<T> {
        let vni = VNI.to_string();
        let owner = (0..self.controllers.len())
            .filter(|&i| self.in_majority(i))
            .find_map(|i| self.owner_of_vni(i))
            .and_then(|id| self.controller_index(&id));
        owner
            .and_then(|i| self.ctl_view_on(i, &["show", "logical-switches", which, &vni]))
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
    /// Both hosts have a session to every controller.
    pub fn connected(&self) -> bool {
        (0..2).all(|i| {
            let c = self.connections(i);
            c.len() == self.controllers.len()
                && c.iter().all(|c| c.state == SessionState::Established)
        })
    }

    /// Runs and prints a controller command as `who` typed it; returns its result.
    pub fn print_ctl(&self, who: &str, args: &[&str]) -> (bool, String) {
        let r = self.ctl(args);
        print_cmd(who, args, &r.1);
        r
    }

    /// Runs and prints a command against controller i.
    pub fn print_ctl_on(&self, i: usize, args: &[&str]) -> (bool, String) {
        let r = self.ctl_on(i, args);
        print_cmd(&format!("controller{}", i + 1), args, &r.1);
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
        let ul = self.topo.underlay_ns.as_str();
        let mut dump = start_tcpdump(ul, "hv1", "inout", &cap)?;
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
        sh::wait_until(what, timeout, || f(self))
    }

    /// Stops the data planes, the controllers and etcd; returns their outputs.
    pub fn stop(&mut self) -> Vec<(String, String)> {
        self.dataplanes
            .iter_mut()
            .chain(self.controllers.iter_mut())
            .chain(self.etcd.iter_mut())
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
