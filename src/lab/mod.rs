//! `vxswitch lab`: the source document's topology on one machine. VM A (172.16.10.11) and
//! VM B (172.16.10.12) on VNI 5001 behind two hypervisors whose VTEPs (192.168.250.51 and
//! .52) share an underlay segment (MTU 1600). Each hypervisor is a `vxswitch dataplane`
//! process with `net_af_packet` ports on its veths (or, for interop, a Linux kernel
//! vxlan + bridge VTEP). Everything lives in network namespaces the lab creates and removes.
#![forbid(unsafe_code)]

pub mod capture;
mod controlled;
pub mod failover;
pub mod iperf;
mod observe;
mod pki;
pub mod process;
pub mod rtnetlink;
pub mod segments;
pub mod sh;
mod topology;
mod walkthrough;

pub use controlled::ControlledLab;
pub use process::{Process, ProcessError, Stopped};
pub use sh::LabError;
pub use topology::{
    cluster_ip, controller_ip, Hypervisor, Mtu, Options, Topology, Vm, UNDERLAY_GW, VM_C,
};
pub use walkthrough::walkthrough;

use crate::ids::Vni;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub const VNI: Vni = Vni::from_const(5001);
/// What `vxswitch dataplane` and `vxswitch controller` print once they serve.
pub const DATAPLANE_READY: &str = "vxswitch ready";
pub const CONTROLLER_READY: &str = "vxswitch controller ready";
/// Bytes of the lab's TCP transfers (iperf3), each way.
pub const TCP_BYTES: u64 = 8 << 20;
/// How long a daemon gets to stop cleanly (SIGINT) and print its report.
pub const STOP_GRACE: Duration = Duration::from_secs(10);
pub const VM_A: (&str, &str, &str) = ("192.168.250.51", "172.16.10.11", "02:aa:aa:aa:aa:aa");
pub const VM_B: (&str, &str, &str) = ("192.168.250.52", "172.16.10.12", "02:bb:bb:bb:bb:bb");

#[derive(clap::Args, Debug, Clone)]
pub struct LabArgs {
    /// Name prefix of the lab's namespaces (short: Linux names are 15 bytes at most).
    #[arg(long, default_value = "vxl")]
    pub prefix: String,
    /// Make hypervisor 2 a Linux kernel VTEP (vxlan + bridge) instead of vxswitch.
    #[arg(long)]
    pub kernel_peer: bool,
    /// Pings per direction.
    #[arg(long, default_value_t = 5)]
    pub count: u32,
    /// Static VTEP tables, no controller (the data-plane-only lab).
    #[arg(long)]
    pub no_controller: bool,
    /// Jumbo frames: VMs at MTU 9000 over a 9100-byte underlay (the data-plane-only lab).
    #[arg(long)]
    pub jumbo: bool,
    /// Kill -9 the controller owning VNI 5001 while A pings B, power on VM C, print the
    /// timeline; then restart it and show the slices rebalance.
    #[arg(long)]
    pub failover: bool,
    /// BUM replication modes on a routed underlay: two segments joined by a router, five
    /// hypervisors; one broadcast per mode, copies counted per segment from captures.
    #[arg(long)]
    pub segments: bool,
}

/// How hypervisor 2 is built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    Vxswitch,
    KernelVxlan,
}

/// How a static lab is built beyond its peer.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    pub mtu: Mtu,
    /// vxswitch copies flood replicas into one mbuf (`uplink.multi_segment = false`).
    pub copy_replicas: bool,
    /// Workers of each vxswitch data plane.
    pub workers: usize,
}

impl Default for Spec {
    fn default() -> Spec {
        Spec {
            mtu: Mtu::STANDARD,
            copy_replicas: false,
            workers: 1,
        }
    }
}

/// A running lab: topology plus the data planes.
pub struct Lab {
    pub topo: Topology,
    pub dataplanes: Vec<Process>,
    pub dir: PathBuf,
}

/// Starts `vxswitch <what> --config <dir>/<name>.toml` (written from `config`) inside
/// namespace `ns`, its output in `<dir>/<name>.log`.
pub fn start_daemon(
    exe: &Path,
    what: &str,
    ns: &str,
    name: &str,
    dir: &Path,
    config: &str,
) -> Result<Process, LabError> {
    let cfg_path = dir.join(format!("{name}.toml"));
    std::fs::write(&cfg_path, config)
        .map_err(|e| LabError::Step(format!("writing {}: {e}", cfg_path.display())))?;
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns])
        .arg(exe)
        .arg(what)
        .arg("--config")
        .arg(&cfg_path);
    Ok(Process::spawn(name, cmd, &dir.join(format!("{name}.log")))?)
}

/// Starts hypervisor i's data plane (`hv<i+1>`) on `config`.
fn start_dataplane(
    exe: &Path,
    hv: &Hypervisor,
    i: usize,
    dir: &Path,
    config: &str,
) -> Result<Process, LabError> {
    start_daemon(
        exe,
        "dataplane",
        &hv.ns,
        &format!("hv{}", i + 1),
        dir,
        config,
    )
}

/// Waits until every data plane started says it is ready.
fn wait_ready(dataplanes: &mut [Process]) -> Result<(), LabError> {
    for dp in dataplanes {
        dp.wait_for(DATAPLANE_READY, 1, Duration::from_secs(30))?;
    }
    Ok(())
}

/// af_packet ring slots of a VM port that hold the 64 KiB TCP frames a Linux VM sends with
/// TSO/GSO on (its default): vxswitch segments them. The PMD reads slots at framesz strides,
/// so a block holds a whole number of them (32 here); framesz - 32 must fit one mbuf.
pub const VM_PORT_SLOTS: &str = "framesz=65408,blocksz=2093056,framecnt=64";

/// af_packet ring slots of an uplink at `mtu`: the default 2 KiB slots, or for a jumbo
/// underlay one page-multiple slot per block that holds the frame and the PMD's header.
pub fn uplink_slots(mtu: u16) -> String {
    let need = u32::from(mtu) + 14 + 32;
    if need <= 2048 {
        return String::new();
    }
    let framesz = need.div_ceil(4096) * 4096;
    format!(",framesz={framesz},blocksz={framesz}")
}

/// The config of a lab hypervisor's data plane: af_packet on `up0` and the VM port, idle
/// back-off on, the hypervisor's MTUs, the control socket at `socket`; `tables` ends it (a
/// static `[[vni]]` VTEP list, or an `[agent]` section).
/// The lab's VM ports: port security learns each VM's first MAC and address, then holds to
/// them; a VM may have a few MACs at most.
const PORT_SECURITY: &str = "max_macs = 4\n[access_port.port_security]";

pub fn hypervisor_config(hv: &Hypervisor, core: usize, socket: &Path, tables: &str) -> String {
    let ncpu = core_affinity::get_core_ids().map_or(1, |c| c.len());
    let workers: Vec<String> = (0..hv.workers)
        .map(|k| ((core + k) % ncpu).to_string())
        .collect();
    format!(
        r#"# vxswitch lab hypervisor {ns}
[eal]
args = ["--no-huge", "-m", "256", "--no-pci", "-l", "{core}", "--file-prefix", "{ns}",
        "--vdev", "net_af_packet0,iface=up0{up_slots}",
        "--vdev", "net_af_packet1,iface={vm_port},{VM_PORT_SLOTS}"{extra_vdev}]

[dataplane]
workers = [{workers}]
idle_sleep_us = 200
large_mbufs = {large_mbufs}

[vtep]
ip = "{vtep}/24"
gateway = "{gw}"
mtu = {ul_mtu}

[control]
socket = "{socket}"
metrics = "{metrics}"

[uplink]
device = "net_af_packet0"
multi_segment = {multi_segment}

[[access_port]]
name = "vm"
device = "net_af_packet1"
vni = {VNI}
mtu = {vm_mtu}
{PORT_SECURITY}
{extra_port}
{tables}"#,
        metrics = observe::HV_METRICS,
        extra_vdev = match &hv.extra_port {
            Some(p) => format!(",\n        \"--vdev\", \"net_af_packet2,iface={p},{VM_PORT_SLOTS}\""),
            None => String::new(),
        },
        extra_port = match &hv.extra_port {
            Some(p) => format!(
                "\n[[access_port]]\nname = \"{p}\"\ndevice = \"net_af_packet2\"\nvni = {VNI}\nmtu = {}\n{PORT_SECURITY}\n",
                hv.mtu.vm
            ),
            None => String::new(),
        },
        ns = hv.ns,
        up_slots = uplink_slots(hv.mtu.underlay),
        multi_segment = !hv.copy_replicas,
        workers = workers.join(", "),
        // Each worker keeps a burst per port and a pool cache of large mbufs in flight.
        large_mbufs = 512 * hv.workers,
        ul_mtu = hv.mtu.underlay,
        vm_mtu = hv.mtu.vm,
        vm_port = hv.vm_port,
        vtep = hv.vtep_ip,
        gw = hv.gateway,
        socket = socket.display(),
    )
}

/// A lab hypervisor with a static VTEP list of VNI 5001 (no controller).
pub fn dataplane_config(hv: &Hypervisor, peers: &[&str], core: usize) -> String {
    let peers: Vec<String> = peers.iter().map(|p| format!("\"{p}\"")).collect();
    let socket = PathBuf::from(format!("/run/vxswitch/{}.sock", hv.ns));
    let tables = format!("[[vni]]\nvni = {VNI}\nvteps = [{}]\n", peers.join(", "));
    hypervisor_config(hv, core, &socket, &tables)
}

/// Makes hypervisor `hv` a Linux kernel VTEP: up0 holds the VTEP address, vxlan0 (VNI 5001,
/// head-end replication to `peers`) and the VM port are bridged.
pub fn kernel_vtep(hv: &Hypervisor, peers: &[&str]) -> Result<(), LabError> {
    let ns = hv.ns.as_str();
    sh::in_ns(
        ns,
        &[
            "ip",
            "addr",
            "add",
            &format!("{}/24", hv.vtep_ip),
            "dev",
            "up0",
        ],
    )?;
    sh::in_ns(
        ns,
        &[
            "ip",
            "link",
            "add",
            "vxlan0",
            "type",
            "vxlan",
            "id",
            &VNI.to_string(),
            "local",
            hv.vtep_ip,
            "dstport",
            "4789",
            "dev",
            "up0",
        ],
    )?;
    for p in peers {
        sh::in_ns(
            ns,
            &[
                "bridge",
                "fdb",
                "append",
                "00:00:00:00:00:00",
                "dev",
                "vxlan0",
                "dst",
                p,
            ],
        )?;
    }
    // up0 stands for this host's NIC and the wire behind it: a wire carries only whole,
    // checksummed frames, so the kernel finishes segmentation and checksums here, as a NIC
    // with TSO and checksum offload would in hardware (a veth would pass 64 KiB GSO frames).
    sh::in_ns(
        ns,
        &[
            "ethtool", "-K", "up0", "tx", "off", "tso", "off", "gso", "off",
        ],
    )?;
    sh::in_ns(ns, &["ip", "link", "add", "br0", "type", "bridge"])?;
    sh::in_ns(ns, &["ip", "link", "set", "vxlan0", "master", "br0", "up"])?;
    sh::in_ns(
        ns,
        &["ip", "link", "set", &hv.vm_port, "master", "br0", "up"],
    )?;
    sh::in_ns(ns, &["ip", "link", "set", "br0", "up"])?;
    Ok(())
}

impl Lab {
    /// Builds the topology and starts the data planes; returns once they are ready.
    pub fn start(exe: &Path, prefix: &str, peer: Peer) -> Result<Lab, LabError> {
        Lab::start_with(exe, prefix, peer, Spec::default())
    }

    /// [`Lab::start`] as `spec` says.
    pub fn start_with(exe: &Path, prefix: &str, peer: Peer, spec: Spec) -> Result<Lab, LabError> {
        let dir = std::env::temp_dir().join(format!("vxswitch-lab-{prefix}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .map_err(|e| LabError::Step(format!("{}: {e}", dir.display())))?;
        let opts = Options {
            vms_on: true,
            controllers: 0,
            mtu: spec.mtu,
            vm_c: false,
        };
        let topo = Topology::build(prefix, &[VM_A, VM_B], opts)?;
        let mut lab = Lab {
            topo,
            dataplanes: Vec::new(),
            dir,
        };
        let cores = core_affinity::get_core_ids().map_or(1, |c| c.len());
        let mut hvs = lab.topo.hvs.clone();
        for hv in &mut hvs {
            hv.copy_replicas = spec.copy_replicas;
            hv.workers = spec.workers;
        }
        for (i, hv) in hvs.iter().enumerate() {
            let peers: Vec<&str> = hvs
                .iter()
                .filter(|o| o.ns != hv.ns)
                .map(|o| o.vtep_ip)
                .collect();
            if i == 1 && peer == Peer::KernelVxlan {
                kernel_vtep(hv, &peers)?;
                continue;
            }
            let cfg = dataplane_config(hv, &peers, i % cores);
            lab.dataplanes
                .push(start_dataplane(exe, hv, i, &lab.dir, &cfg)?);
        }
        wait_ready(&mut lab.dataplanes)?;
        Ok(lab)
    }

    /// `ping` from VM `from` to `to_ip`; returns (all answered, ping's output).
    pub fn ping(&self, from: usize, to_ip: &str, count: u32, size: Option<u32>) -> (bool, String) {
        let count = count.to_string();
        let mut args = vec!["ping", "-c", &count, "-i", "0.2", "-W", "2"];
        let s;
        if let Some(sz) = size {
            s = sz.to_string();
            args.extend(["-M", "do", "-s", &s]);
        }
        args.push(to_ip);
        sh::try_in_ns(&self.topo.vms[from].ns, &args)
    }

    /// Stops every data plane and returns their final reports.
    pub fn stop(&mut self) -> Vec<(String, String)> {
        self.dataplanes
            .iter_mut()
            .map(|d| {
                d.stop(STOP_GRACE);
                (d.name().to_string(), d.output())
            })
            .collect()
    }
}

/// The `vxswitch lab` command: the walk-through with a controller, or (with
/// `--kernel-peer` / `--no-controller`) the static data-plane lab: build, ping, report.
pub fn run(args: &LabArgs) -> Result<(), LabError> {
    if args.failover {
        return failover::run(args);
    }
    if args.segments {
        return segments::run(&args.prefix);
    }
    if !args.kernel_peer && !args.no_controller && !args.jumbo {
        return walkthrough(args);
    }
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let _ = signal_hook::flag::register(sig, Arc::clone(&stop));
    }
    let check = || {
        if stop.load(Ordering::Relaxed) {
            Err(LabError::Interrupted)
        } else {
            Ok(())
        }
    };
    let exe = std::env::current_exe().map_err(|e| LabError::Step(e.to_string()))?;
    let peer = if args.kernel_peer {
        Peer::KernelVxlan
    } else {
        Peer::Vxswitch
    };
    let mtu = if args.jumbo {
        Mtu::JUMBO
    } else {
        Mtu::STANDARD
    };
    println!(
        "== vxswitch lab: VNI {VNI}, two hypervisors on underlay 192.168.250.0/24 (MTU {}), VMs at MTU {}",
        mtu.underlay, mtu.vm
    );
    println!("   VM A {} ({}) on hv1, VTEP {}", VM_A.1, VM_A.2, VM_A.0);
    println!(
        "   VM B {} ({}) on hv2, VTEP {} [{}]",
        VM_B.1,
        VM_B.2,
        VM_B.0,
        if args.kernel_peer {
            "Linux kernel vxlan + bridge"
        } else {
            "vxswitch"
        }
    );
    let spec = Spec {
        mtu,
        ..Spec::default()
    };
    let mut lab = Lab::start_with(&exe, &args.prefix, peer, spec)?;
    println!(
        "== data planes ready (namespaces {}-*, logs in {})",
        args.prefix,
        lab.dir.display()
    );
    check()?;
    let mut ok = true;
    let ul = lab.topo.underlay_ns.clone();
    let ul_payload = (mtu.underlay - 28).to_string();
    for vtep in [VM_A.0, VM_B.0] {
        let (good, out) = sh::try_in_ns(
            &ul,
            &[
                "ping",
                "-c",
                "2",
                "-i",
                "0.2",
                "-W",
                "2",
                "-M",
                "do",
                "-s",
                &ul_payload,
                vtep,
            ],
        );
        println!(
            "== underlay -> VTEP {vtep}: ping -M do -s {ul_payload} ({}-byte packets, DF): {}",
            mtu.underlay,
            verdict(good)
        );
        print_summary(&out);
        ok &= good;
        check()?;
    }
    let (good, out) = sh::try_in_ns(
        &lab.topo.vms[0].ns,
        &["arping", "-c", "3", "-w", "5", "-I", "eth0", VM_B.1],
    );
    println!(
        "== VM A: arping {} (ARP broadcast flooded over VXLAN, answered by VM B): {}",
        VM_B.1,
        verdict(good)
    );
    print_summary(&out);
    ok &= good;
    check()?;
    for (from, to, name) in [(0, VM_B.1, "A -> B"), (1, VM_A.1, "B -> A")] {
        let (good, out) = lab.ping(from, to, args.count, None);
        println!("== VM {name}: ping {to}: {}", verdict(good));
        print_summary(&out);
        ok &= good;
        check()?;
    }
    let vm_payload = u32::from(mtu.vm) - 28;
    for (from, to, name) in [(0, VM_B.1, "A -> B"), (1, VM_A.1, "B -> A")] {
        let (good, out) = lab.ping(from, to, 3, Some(vm_payload));
        println!(
            "== VM {name}: ping -M do -s {vm_payload} ({}-byte frames, {} bytes on the underlay): {}",
            mtu.vm + 14,
            mtu.vm + 64,
            verdict(good)
        );
        print_summary(&out);
        ok &= good;
        check()?;
    }
    println!("== TCP between the VMs, with Linux's default offloads (checksum, TSO/GSO)");
    let (a, b) = (&lab.topo.vms[0].ns, &lab.topo.vms[1].ns);
    ok &= iperf::print_both_ways(a, b, VM_B.1, TCP_BYTES);
    for (name, report) in lab.stop() {
        println!("== {name} report");
        for l in report
            .lines()
            .skip_while(|l| !l.starts_with("vxswitch stopped"))
        {
            println!("   {l}");
        }
    }
    drop(lab);
    println!("== lab removed");
    if ok {
        println!("lab: PASS");
        Ok(())
    } else {
        Err(LabError::Step("lab: FAIL (see above)".into()))
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "ok"
    } else {
        "FAILED"
    }
}

/// Prints ping/arping's summary lines.
fn print_summary(out: &str) {
    for l in out.lines().filter(|l| {
        l.contains("transmitted")
            || l.contains("rtt")
            || l.starts_with("Unicast reply")
            || l.starts_with("Received")
            || l.starts_with("Sent")
    }) {
        println!("   {l}");
    }
    if !out
        .lines()
        .any(|l| l.contains("transmitted") || l.starts_with("Sent") || l.starts_with("Received"))
    {
        for l in out.lines().take(5) {
            println!("   {l}");
        }
    }
}
