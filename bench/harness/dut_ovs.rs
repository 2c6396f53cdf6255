//! Open vSwitch with DPDK (Debian's openvswitch-switch-dpdk) as the peer users would pick:
//! netdev bridges br-int (VM port + VXLAN ports) and br-phy (uplink, the VTEP address on its
//! internal port, in a namespace of its own), static port-to-port OpenFlow rules (OVS at its
//! fastest), ARP-responder rules for ARP suppression, the same vdevs as the other DUTs.

use crate::dut::{Ctx, Sample};
use crate::scenario::{Kind, Scenario};
use crate::traffic;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use vxswitch::lab::Process;

pub const PREFIX: &str = "vxb-ovs";
const NETNS: &str = "vxb-ovs";
const VSWITCHD: &str = "/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk";
const SCHEMA: &str = "/usr/share/openvswitch/vswitch.ovsschema";
const VM_OFPORT: u32 = 10;
const PHY_OFPORT: u32 = 20;
const VXLAN_OFPORT: u32 = 100;

struct Ovs {
    run: PathBuf,
}

impl Ovs {
    fn cmd(&self, prog: &str) -> Command {
        let mut c = Command::new(prog);
        for k in ["OVS_RUNDIR", "OVS_DBDIR", "OVS_LOGDIR", "OVS_SYSCONFDIR"] {
            c.env(k, &self.run);
        }
        c
    }
    fn run(&self, prog: &str, args: &[&str]) -> Result<String, String> {
        let mut c = self.cmd(prog);
        c.args(args);
        let o = c.output().map_err(|e| format!("{prog}: {e}"))?;
        if !o.status.success() {
            return Err(format!(
                "{prog} {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&o.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&o.stdout).into_owned())
    }
    fn db(&self) -> String {
        format!("--db=unix:{}/db.sock", self.run.display())
    }
    fn vsctl(&self, args: &[&str]) -> Result<String, String> {
        let db = self.db();
        let mut a = vec![db.as_str(), "--timeout=30"];
        a.extend_from_slice(args);
        self.run("ovs-vsctl", &a)
    }
    fn appctl(&self, args: &[&str]) -> Result<String, String> {
        let ctl = format!("{}/vswitchd.ctl", self.run.display());
        let mut a = vec!["-t", ctl.as_str()];
        a.extend_from_slice(args);
        self.run("ovs-appctl", &a)
    }
    fn add_flows(&self, bridge: &str, flows: &str) -> Result<(), String> {
        let f = self.run.join(format!("{bridge}.flows"));
        std::fs::write(&f, flows).map_err(|e| e.to_string())?;
        self.run("ovs-ofctl", &["del-flows", bridge])?;
        self.run(
            "ovs-ofctl",
            &["add-flows", bridge, &f.display().to_string()],
        )?;
        Ok(())
    }
}

/// Runs a command (the lab's runner); an error carries its stderr.
fn sh(args: &[&str]) -> Result<(), String> {
    vxswitch::lab::sh::run(args)
        .map(drop)
        .map_err(|e| e.to_string())
}

/// br-int's rules: VM <-> VXLAN port to port, all VXLAN ports for BUM, or an ARP responder.
fn br_int_flows(sc: &Scenario) -> String {
    let mut f = String::new();
    let vm = VM_OFPORT;
    match sc.kind {
        Kind::Bum(n) => {
            let outs: Vec<String> = (0..n)
                .map(|k| format!("output:{}", VXLAN_OFPORT + k))
                .collect();
            let _ = writeln!(f, "in_port={vm},actions={}", outs.join(","));
        }
        Kind::Arp => {
            // As Neutron's ARP responder: turn the request into the reply in place.
            for (ip, mac) in traffic::arp_bindings() {
                let m = format!("0x{:012x}", mac.as_u64());
                let i = format!("0x{:08x}", u32::from(ip));
                let _ = writeln!(
                    f,
                    "priority=100,in_port={vm},arp,arp_op=1,arp_tpa={ip},actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],\
                     mod_dl_src:{mac},load:0x2->NXM_OF_ARP_OP[],move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],\
                     move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],load:{m}->NXM_NX_ARP_SHA[],load:{i}->NXM_OF_ARP_SPA[],in_port"
                );
            }
        }
        _ => {
            let _ = writeln!(f, "in_port={vm},actions=output:{VXLAN_OFPORT}");
            let _ = writeln!(f, "in_port={VXLAN_OFPORT},actions=output:{vm}");
        }
    }
    f
}

struct PortCounters {
    tx: u64,
    rx: u64,
    drops: u64,
}

/// Live counters of one OpenFlow port (`ovs-ofctl dump-ports` asks the netdev itself).
fn port_counters(ovs: &Ovs, bridge: &str, port: u32) -> Result<PortCounters, String> {
    let out = ovs.run("ovs-ofctl", &["dump-ports", bridge, &port.to_string()])?;
    let field = |line: &str, key: &str| -> u64 {
        line.split(key)
            .nth(1)
            .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let rx = out.lines().find(|l| l.contains("rx pkts")).unwrap_or("");
    let tx = out.lines().find(|l| l.contains("tx pkts")).unwrap_or("");
    Ok(PortCounters {
        tx: field(tx, "pkts="),
        rx: field(rx, "pkts="),
        drops: field(rx, "drop=") + field(tx, "drop="),
    })
}

fn totals(ovs: &Ovs) -> Result<(Instant, PortCounters), String> {
    let a = port_counters(ovs, "br-int", VM_OFPORT)?;
    let at = Instant::now();
    let b = port_counters(ovs, "br-phy", PHY_OFPORT)?;
    Ok((
        at,
        PortCounters {
            tx: a.tx + b.tx,
            rx: a.rx + b.rx,
            drops: a.drops + b.drops,
        },
    ))
}

/// "avg processing cycles per packet: 112.34 (...)" of the PMD thread.
fn cycles_per_packet(stats: &str) -> Option<f64> {
    let at = stats.find("avg processing cycles per packet:")?
        + "avg processing cycles per packet:".len();
    stats[at..].split_whitespace().next()?.parse().ok()
}

pub fn sample(ctx: &Ctx, sc: &Scenario, index: usize) -> Result<Sample, String> {
    if !Path::new(VSWITCHD).exists() {
        return Err(format!(
            "{VSWITCHD} not found: apt-get install openvswitch-switch-dpdk"
        ));
    }
    let run = ctx.dir.join("ovs");
    let _ = std::fs::remove_dir_all(&run);
    std::fs::create_dir_all(&run).map_err(|e| e.to_string())?;
    let ovs = Ovs { run: run.clone() };
    let _ = sh(&["ip", "netns", "del", NETNS]);
    sh(&["ip", "netns", "add", NETNS])?;
    let result = measure(ctx, sc, index, &ovs);
    let _ = sh(&["ip", "netns", "del", NETNS]);
    result
}

fn measure(ctx: &Ctx, sc: &Scenario, index: usize, ovs: &Ovs) -> Result<Sample, String> {
    let run = &ovs.run;
    let db = run.join("conf.db");
    ovs.run("ovsdb-tool", &["create", &db.display().to_string(), SCHEMA])?;
    let mut c = ovs.cmd("ovsdb-server");
    c.arg(&db)
        .arg(format!("--remote=punix:{}/db.sock", run.display()))
        .arg(format!("--pidfile={}/ovsdb.pid", run.display()));
    let _dbs = Process::spawn("ovsdb-server", c, &ctx.dir.join("ovsdb-server.log"))
        .map_err(|e| e.to_string())?;
    let until = Instant::now() + Duration::from_secs(10);
    while !run.join("db.sock").exists() {
        if Instant::now() > until {
            return Err("ovsdb-server did not open its socket".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    ovs.vsctl(&["--no-wait", "init"])?;
    let mut extra = format!("--no-pci --no-telemetry --file-prefix={PREFIX}");
    let mut cfg = vec![
        "other_config:dpdk-init=true".to_string(),
        "other_config:dpdk-lcore-mask=0x1".into(),
        format!("other_config:pmd-cpu-mask=0x{:x}", 1u64 << ctx.worker_core),
    ];
    if ctx.hugepages {
        cfg.push("other_config:dpdk-socket-mem=512".into());
    } else {
        extra.push_str(" --no-huge -m 1024 --legacy-mem");
    }
    cfg.push(format!("other_config:dpdk-extra=\"{extra}\""));
    let mut args = vec!["--no-wait", "set", "Open_vSwitch", "."];
    args.extend(cfg.iter().map(String::as_str));
    ovs.vsctl(&args)?;
    let mut c = ovs.cmd("ip");
    c.args(["netns", "exec", NETNS, VSWITCHD]);
    c.arg(format!("unix:{}/db.sock", run.display()));
    c.arg(format!("--pidfile={}/vswitchd.pid", run.display()));
    c.arg(format!("--unixctl={}/vswitchd.ctl", run.display()));
    let mut vswitchd = Process::spawn("ovs-vswitchd", c, &ctx.dir.join("ovs-vswitchd.log"))
        .map_err(|e| e.to_string())?;
    vswitchd
        .wait_for("DPDK Enabled", 1, Duration::from_secs(60))
        .map_err(|e| e.to_string())?;
    let (up, vms) = sc.devices(&ctx.dir);
    let [vm] = <[_; 1]>::try_from(vms).map_err(|_| "OVS: one VM port only".to_string())?;
    let hw = format!("other_config:hwaddr={}", traffic::VTEP_MAC);
    ovs.vsctl(&[
        "add-br",
        "br-int",
        "--",
        "set",
        "bridge",
        "br-int",
        "datapath_type=netdev",
    ])?;
    ovs.vsctl(&[
        "add-br",
        "br-phy",
        "--",
        "set",
        "bridge",
        "br-phy",
        "datapath_type=netdev",
        &hw,
    ])?;
    sh(&[
        "ip",
        "-n",
        NETNS,
        "addr",
        "add",
        &format!("{}/24", traffic::VTEP_IP),
        "dev",
        "br-phy",
    ])?;
    sh(&["ip", "-n", NETNS, "link", "set", "br-phy", "up"])?;
    let remotes = if sc.kind == Kind::Arp {
        0
    } else {
        sc.remote_vteps()
    };
    for k in 0..remotes {
        let (ip, mac) = traffic::remote_vtep(k);
        let name = format!("vxlan{k}");
        ovs.vsctl(&[
            "add-port",
            "br-int",
            &name,
            "--",
            "set",
            "Interface",
            &name,
            "type=vxlan",
            &format!("ofport_request={}", VXLAN_OFPORT + k),
            &format!("options:remote_ip={ip}"),
            &format!("options:local_ip={}", traffic::VTEP_IP),
            &format!("options:key={}", traffic::VNI),
        ])?;
        ovs.appctl(&["tnl/arp/set", "br-phy", &ip.to_string(), &mac.to_string()])?;
    }
    for (name, bridge, ofport, dev) in [
        ("vm0", "br-int", VM_OFPORT, &vm),
        ("phy0", "br-phy", PHY_OFPORT, &up),
    ] {
        ovs.vsctl(&[
            "add-port",
            bridge,
            name,
            "--",
            "set",
            "Interface",
            name,
            "type=dpdk",
            &format!("ofport_request={ofport}"),
            &format!("options:dpdk-devargs={}", dev.vdev),
        ])?;
    }
    ovs.add_flows("br-int", &br_int_flows(sc))?;
    ovs.add_flows(
        "br-phy",
        &format!("in_port=LOCAL,actions=output:{PHY_OFPORT}\nin_port={PHY_OFPORT},actions=LOCAL\n"),
    )?;
    let gen = crate::generator::attach(ctx, sc)?;
    std::thread::sleep(ctx.warmup);
    ovs.appctl(&["dpif-netdev/pmd-stats-clear"])?;
    let (t0, a) = totals(ovs)?;
    std::thread::sleep(ctx.window);
    let (t1, b) = totals(ovs)?;
    let pmd = ovs.appctl(&["dpif-netdev/pmd-stats-show"])?;
    let flows = ovs.appctl(&["dpctl/dump-flows", "-m"]).unwrap_or_default();
    let _ = std::fs::write(ctx.dir.join("ovs-pmd-stats.log"), format!("{pmd}\n{flows}"));
    crate::generator::detach(gen);
    let _ = ovs.appctl(&["exit"]);
    vswitchd.stop(Duration::from_secs(10));
    let dt = t1.duration_since(t0).as_secs_f64();
    Ok(Sample::new(
        sc,
        "ovs",
        index,
        dt,
        (b.tx - a.tx, b.rx - a.rx, b.drops - a.drops),
        cycles_per_packet(&pmd),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_processing_cycles_per_packet() {
        let s = "pmd thread numa_id 0 core_id 1:\n  packets received: 100\n  \
                 avg cycles per packet: 300.00 (30000/100)\n  avg processing cycles per packet: 112.50 (11250/100)\n";
        assert_eq!(cycles_per_packet(s), Some(112.5));
    }

    #[test]
    fn bum_rules_send_to_every_vxlan_port() {
        let sc = crate::scenario::ALL
            .iter()
            .find(|s| s.kind == Kind::Bum(8))
            .unwrap();
        let f = br_int_flows(sc);
        assert!(f.contains("output:100,") && f.contains("output:107\n"));
    }
}
