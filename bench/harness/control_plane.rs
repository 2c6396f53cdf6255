//! `vxswitch-bench --control-plane`: the controllers at scale. Simulated hypervisors (one
//! process, the real protocol over loopback) report their VMs to one controller and to a
//! cluster of three on etcd: time until every host holds complete VTEP tables, the time a
//! MAC move takes to reach every member host of its VNI (p50/p99), and the controllers'
//! CPU time and memory.

use crate::sim_hosts::{self, Event, Report, Workload};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use vxswitch::api::rest::SwitchSpec;
use vxswitch::api::RestClient;
use vxswitch::ids::Vni;
use vxswitch::lab::Process;

#[derive(clap::Args, Clone, Debug)]
pub struct CpArgs {
    /// Simulated hypervisors.
    #[arg(long, default_value_t = 1000)]
    pub hosts: usize,
    /// Logical switches (VNIs 5000...).
    #[arg(long, default_value_t = 4096)]
    pub vnis: usize,
    /// VMs, spread over hosts and VNIs.
    #[arg(long, default_value_t = 100_000)]
    pub vms: usize,
    /// MAC moves measured after convergence.
    #[arg(long, default_value_t = 200)]
    pub moves: usize,
    /// Cluster sizes to run (1: the embedded single node; 3: three members on etcd).
    #[arg(long, value_delimiter = ',', default_value = "1,3")]
    pub controllers: Vec<usize>,
}

/// One run's figures.
#[derive(Debug, serde::Serialize)]
pub struct CpResult {
    pub controllers: usize,
    pub hosts: usize,
    pub vnis: usize,
    pub vms: usize,
    pub converge_s: f64,
    pub move_p50_ms: f64,
    pub move_p99_ms: f64,
    pub moves_lost: usize,
    /// CPU seconds of all controllers from the first session to convergence.
    pub cpu_converge_s: f64,
    /// Summed resident memory of the controllers after convergence.
    pub rss_mib: f64,
}

// Every port below the ephemeral range (32768+), which the simulated hosts' many client
// sockets draw from.
const ETCD_CLIENT: &str = "127.0.0.1:23791";

fn agents(i: usize) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 21300 + i as u16))
}
fn api(i: usize) -> String {
    format!("http://127.0.0.1:{}", 22300 + i)
}

/// CPU seconds (user + system) and resident KiB of a process.
fn usage(pid: u32) -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields after the command: state is [0]; utime is field 14 of the line, [11] here.
    let cpu = (ticks(11) + ticks(12)) / 100.0;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    (cpu, rss)
}

struct Cluster {
    _etcd: Option<Process>,
    controllers: Vec<Process>,
}

fn start(exe: &Path, dir: &Path, n: usize) -> Result<Cluster, String> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let etcd = if n > 1 {
        let mut cmd = Command::new("etcd");
        cmd.args(["--name", "bench", "--data-dir"])
            .arg(dir.join("etcd"))
            .args(["--listen-client-urls", &format!("http://{ETCD_CLIENT}")])
            .args(["--advertise-client-urls", &format!("http://{ETCD_CLIENT}")])
            .args(["--listen-peer-urls", "http://127.0.0.1:23801"])
            .args(["--initial-advertise-peer-urls", "http://127.0.0.1:23801"])
            .args(["--initial-cluster", "bench=http://127.0.0.1:23801"]);
        let mut p =
            Process::spawn("etcd", cmd, &dir.join("etcd.log")).map_err(|e| e.to_string())?;
        p.wait_for("ready to serve client requests", 1, Duration::from_secs(30))
            .map_err(|e| e.to_string())?;
        Some(p)
    } else {
        None
    };
    let mut controllers = Vec::new();
    for i in 0..n {
        let mut cfg = format!(
            "[controller]\nid = \"c{}\"\nlisten = \"{}\"\napi = \"{}\"\nstate_dir = \"{}\"\ninsecure = true\n",
            i + 1,
            agents(i),
            api(i).trim_start_matches("http://"),
            dir.join(format!("c{}", i + 1)).display()
        );
        if n > 1 {
            cfg.push_str(&format!(
                "[cluster]\netcd = [\"http://{ETCD_CLIENT}\"]\nprefix = \"/bench\"\n"
            ));
        }
        let path = dir.join(format!("c{}.toml", i + 1));
        std::fs::write(&path, cfg).map_err(|e| e.to_string())?;
        let mut cmd = Command::new(exe);
        cmd.arg("controller").arg("--config").arg(&path);
        let log = dir.join(format!("c{}.log", i + 1));
        let mut p = Process::spawn(&format!("c{}", i + 1), cmd, &log).map_err(|e| e.to_string())?;
        p.wait_for("controller ready", 1, Duration::from_secs(30))
            .map_err(|e| e.to_string())?;
        controllers.push(p);
    }
    Ok(Cluster {
        _etcd: etcd,
        controllers,
    })
}

/// Waits until `f` holds, up to `timeout`.
fn wait(what: &str, timeout: Duration, f: impl Fn() -> bool) -> Result<(), String> {
    let t = Instant::now();
    while t.elapsed() < timeout {
        if f() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("timed out waiting for {what}"))
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

pub fn run(exe: &Path, out: &Path, a: &CpArgs) -> Result<Vec<CpResult>, String> {
    let mut results = Vec::new();
    for &n in &a.controllers {
        let dir: PathBuf = out.join(format!("control-plane-{n}"));
        let mut c = start(exe, &dir, n)?;
        let r = measure(&c, n, a);
        for p in &mut c.controllers {
            p.stop(Duration::from_secs(5));
        }
        let r = r?;
        println!(
            "control plane, {n} controller(s): {} hosts x {} VNIs x {} VMs: converged in {:.2} s, MAC move p50 {:.2} ms p99 {:.2} ms ({} lost), controller CPU {:.1} s, RSS {:.0} MiB",
            r.hosts, r.vnis, r.vms, r.converge_s, r.move_p50_ms, r.move_p99_ms, r.moves_lost, r.cpu_converge_s, r.rss_mib
        );
        results.push(r);
    }
    Ok(results)
}

fn measure(c: &Cluster, n: usize, a: &CpArgs) -> Result<CpResult, String> {
    let first = RestClient::new(&api(0));
    if n > 1 {
        wait("every slice owned", Duration::from_secs(30), || {
            (0..n)
                .filter_map(|i| RestClient::new(&api(i)).cluster_status().ok())
                .map(|s| s.slices_here)
                .sum::<usize>()
                == vxswitch::controller::slices::SLICES
        })?;
    }
    for k in 0..a.vnis {
        let vni = Vni::new(5000 + k as u32).ok_or("VNI out of range")?;
        first
            .create(&SwitchSpec {
                vni: Some(vni),
                ..SwitchSpec::default()
            })
            .map_err(|e| format!("creating {vni}: {e}"))?;
    }
    wait(
        "switches on every controller",
        Duration::from_secs(60),
        || {
            (0..n).all(|i| {
                RestClient::new(&api(i))
                    .switches()
                    .is_ok_and(|l| l.len() == a.vnis)
            })
        },
    )?;
    let w = Arc::new(Workload {
        hosts: a.hosts,
        vnis: a.vnis,
        vms: a.vms,
    });
    let (members, vms) = w.layout();
    let members = Arc::new(members);
    let pids: Vec<u32> = c.controllers.iter().map(Process::pid).collect();
    let cpu0: f64 = pids.iter().map(|&p| usage(p).0).sum();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let (ev_tx, mut ev) = mpsc::unbounded_channel();
        let mut cmd = Vec::new();
        let addrs: Vec<SocketAddr> = (0..n).map(agents).collect();
        let t0 = Instant::now();
        for (h, my) in vms.into_iter().enumerate() {
            let (tx, rx) = mpsc::unbounded_channel();
            cmd.push(tx);
            tokio::spawn(sim_hosts::host(
                h,
                Arc::clone(&w),
                my,
                Arc::clone(&members),
                addrs.clone(),
                ev_tx.clone(),
                rx,
            ));
        }
        let mut done = 0;
        let mut last = t0;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        while done < a.hosts {
            match tokio::time::timeout_at(deadline, ev.recv()).await {
                Ok(Some(Event::Converged(t))) => {
                    done += 1;
                    last = last.max(t);
                }
                Ok(Some(Event::Failed(h, e))) => return Err(format!("host {h}: {e}")),
                Ok(Some(Event::MacMoved(..))) => {}
                _ => return Err(format!("{done} of {} hosts converged in 120 s", a.hosts)),
            }
        }
        let converge = last - t0;
        let cpu = pids.iter().map(|&p| usage(p).0).sum::<f64>() - cpu0;
        let rss = pids.iter().map(|&p| usage(p).1).sum::<f64>() / 1024.0;
        // MAC moves: a VM's MAC reported by another member host of its VNI; timed until
        // every other member got the push.
        let mut lat = Vec::new();
        let mut lost = 0;
        let mut seqs: HashMap<usize, u32> = HashMap::new();
        for s in 0..a.moves {
            let vm = (s * 7919) % a.vms;
            let vni = w.vni(vm);
            let from = w.host(vm);
            let Some(&to) = members[&vni].iter().find(|&&h| h != from) else {
                continue;
            };
            let mac = Workload::mac(vm);
            let want: usize = members[&vni].len() - 1;
            let vtep = u32::from(Workload::vtep(to));
            let sent = Instant::now();
            let seq = seqs.entry(vm).or_default();
            *seq += 1;
            let _ = cmd[to].send(Report {
                vni,
                mac: mac.clone(),
                seq: *seq,
            });
            let mut got: HashMap<usize, Instant> = HashMap::new();
            let until = tokio::time::Instant::now() + Duration::from_secs(2);
            while got.len() < want {
                match tokio::time::timeout_at(until, ev.recv()).await {
                    Ok(Some(Event::MacMoved(h, v, m, at, t)))
                        if v == vni && m == mac && at == vtep && h != to =>
                    {
                        got.insert(h, t);
                    }
                    Ok(Some(_)) => {}
                    _ => break,
                }
            }
            if got.len() < want {
                lost += 1;
            } else if let Some(t) = got.values().max() {
                lat.push((*t - sent).as_secs_f64() * 1e3);
            }
        }
        drop(cmd);
        Ok(CpResult {
            controllers: n,
            hosts: a.hosts,
            vnis: a.vnis,
            vms: a.vms,
            converge_s: converge.as_secs_f64(),
            move_p50_ms: pct(&mut lat, 0.5),
            move_p99_ms: pct(&mut lat, 0.99),
            moves_lost: lost,
            cpu_converge_s: cpu,
            rss_mib: rss,
        })
    })
}
