//! vxswitch as the device under test: one worker on the bench's core, its tables set up the
//! way a controller or an operator would (static MACs through the control socket), counters
//! read over the control socket before and after the window.

use crate::dut::{quantile, Churn, Ctx, Sample};
use crate::scenario::{self, Kind, Scenario};
use crate::traffic::{self, nth};
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use vxswitch::api::host::{MacEditDone, MacTarget, PortRow, Request, Stats, VniRow};
use vxswitch::api::{HostClient, Stat};
use vxswitch::ids::ReplicationMode;
use vxswitch::lab::{Process, DATAPLANE_READY};

pub const PREFIX: &str = "vxb-vxs";

/// Where the measured vxswitch serves `/metrics` (the management thread exports each second,
/// as in production). A `--baseline` binary runs without: older ones do not know the key.
const METRICS: &str = "127.0.0.1:19464";

fn config(ctx: &Ctx, sc: &Scenario, metrics: bool) -> String {
    let (up, vms) = sc.devices(&ctx.dir);
    let mut eal = vec![
        "-l".to_string(),
        ctx.lcores(),
        "--main-lcore".into(),
        "0".into(),
        "--file-prefix".into(),
        PREFIX.into(),
        "--no-pci".into(),
        "--no-telemetry".into(),
    ];
    eal.extend(ctx.mem_args(512 + 256 * (u32::from(sc.workers) - 1)));
    for d in std::iter::once(&up).chain(&vms) {
        eal.extend(["--vdev".into(), d.vdev.clone()]);
    }
    let cores: Vec<String> = ctx
        .worker_cores(sc.workers)
        .iter()
        .map(|c| c.to_string())
        .collect();
    let d = ctx.dir.display();
    let mut c = format!(
        "[eal]\nargs = {eal:?}\n[dataplane]\nworkers = [{cores}]\nidle_sleep_us = 0\n\
         mac_capacity = {cap}\nrx_desc = 1024\ntx_desc = 1024\nmbufs = {mbufs}\n\
         [vtep]\nip = \"{ip}/24\"\nmac = \"{mac}\"\ngateway = \"{gw}\"\n[control]\nsocket = \"{d}/vxswitch.sock\"\n{metrics}\
         [uplink]\ndevice = \"{up}\"\n",
        cores = cores.join(", "),
        cap = 2 * traffic::SCALE_ENTRIES,
        mbufs = 32767 + 16384 * (u32::from(sc.workers) - 1),
        ip = traffic::VTEP_IP,
        mac = traffic::VTEP_MAC,
        gw = traffic::GATEWAY.0,
        up = up.name,
        metrics = if metrics {
            format!("metrics = \"{METRICS}\"\n")
        } else {
            String::new()
        },
    );
    for (k, vm) in vms.iter().enumerate() {
        let name = if k == 0 {
            "vm".to_string()
        } else {
            format!("vm{k}")
        };
        let _ = writeln!(
            c,
            "[[access_port]]\nname = \"{name}\"\ndevice = \"{}\"\nvni = {}",
            vm.name,
            traffic::VNI
        );
        if sc.kind == (Kind::OneVm { guarded: true }) {
            let (mac, ip) = traffic::one_vm_source();
            let _ = writeln!(
                c,
                "[access_port.port_security]\nmacs = [\"{mac}\"]\nips = [\"{ip}\"]"
            );
        }
    }
    if let Kind::BumMode(mode) = sc.kind {
        let (vteps, proxies): (Vec<String>, Vec<String>) = (0..sc.remote_vteps())
            .map(traffic::segmented_vtep)
            .map(|(ip, proxy)| {
                (
                    format!("{:?}", ip.to_string()),
                    proxy.then(|| format!("{:?}", ip.to_string())),
                )
            })
            .fold((Vec::new(), Vec::new()), |(mut v, mut p), (ip, px)| {
                v.push(ip);
                p.extend(px);
                (v, p)
            });
        let _ = writeln!(
            c,
            "[[vni]]\nvni = {}\nvteps = [{}]\nproxies = [{}]\nreplication = \"{mode}\"\nmulticast_group = \"{}\"",
            traffic::VNI,
            vteps.join(", "),
            proxies.join(", "),
            traffic::GROUP,
        );
        // The DUT's own segment answers for itself; the others are behind the gateway.
        for k in 0..8 {
            let (ip, mac) = traffic::remote_vtep(k);
            let _ = writeln!(c, "[[neighbor]]\nip = \"{ip}\"\nmac = \"{mac}\"");
        }
        let (gw, mac) = traffic::GATEWAY;
        let _ = writeln!(c, "[[neighbor]]\nip = \"{gw}\"\nmac = \"{mac}\"");
        return c;
    }
    let vteps: Vec<String> = (0..sc.remote_vteps())
        .map(|k| format!("{:?}", traffic::remote_vtep(k).0.to_string()))
        .collect();
    let _ = writeln!(
        c,
        "[[vni]]\nvni = {}\nvteps = [{}]",
        traffic::VNI,
        vteps.join(", ")
    );
    if matches!(sc.kind, Kind::Arp | Kind::Soak) {
        for (ip, mac) in traffic::arp_bindings() {
            let _ = writeln!(c, "[[vni.arp]]\nip = \"{ip}\"\nmac = \"{mac}\"");
        }
    }
    for k in 0..sc.remote_vteps() {
        let (ip, mac) = traffic::remote_vtep(k);
        let _ = writeln!(c, "[[neighbor]]\nip = \"{ip}\"\nmac = \"{mac}\"");
    }
    c
}

struct Counters {
    at: Instant,
    tx: u64,
    rx: u64,
    drops: u64,
    busy_cycles: u64,
    busy_frames: u64,
    flooded: u64,
    /// (busy cycles, busy frames) per worker.
    workers: Vec<(u64, u64)>,
}

fn read(host: &HostClient) -> Result<Counters, String> {
    let ports: Vec<PortRow> = host.get(Request::Ports).map_err(|e| e.to_string())?;
    let at = Instant::now();
    let stats: Stats = host.get(Request::Stats).map_err(|e| e.to_string())?;
    Ok(Counters {
        at,
        tx: ports.iter().map(|p| p.tx_packets).sum(),
        rx: ports.iter().map(|p| p.rx_packets).sum(),
        drops: stats.total_drops(),
        busy_cycles: stats.busy_cycles,
        busy_frames: stats.busy_frames,
        flooded: stats.stat(Stat::Flooded),
        workers: stats
            .workers
            .iter()
            .map(|w| (w.busy_cycles, w.busy_frames))
            .collect(),
    })
}

/// Adds `count` MACs from `first` behind remote VTEP 0 or on the VM port (`Some(to_vm)`),
/// or removes them (`None`), through the control socket as `vxswitch mac` does.
pub fn mac_edit(
    host: &HostClient,
    first: vxswitch::wire::MacAddr,
    count: u32,
    add: Option<bool>,
) -> Result<MacEditDone, String> {
    let (vni, mac) = (traffic::VNI, first);
    let req = match add {
        None => Request::MacDel { vni, mac, count },
        Some(to_vm) => Request::MacAdd {
            vni,
            mac,
            count,
            to: if to_vm {
                MacTarget::Port("vm".into())
            } else {
                MacTarget::Vtep(traffic::remote_vtep(0).0)
            },
        },
    };
    host.get(req).map_err(|e| e.to_string())
}

/// Starts the vxswitch binary `bin` on the scenario's config, with the static MACs its
/// traffic needs; returns once they are in.
pub fn start(ctx: &Ctx, sc: &Scenario, bin: &Path) -> Result<(Process, HostClient), String> {
    let cfg = ctx.dir.join("vxswitch.toml");
    let metrics = ctx.baseline.as_deref() != Some(bin);
    std::fs::write(&cfg, config(ctx, sc, metrics)).map_err(|e| e.to_string())?;
    let mut cmd = Command::new(bin);
    cmd.arg("dataplane").arg("--config").arg(&cfg);
    let mut p = Process::spawn("vxswitch", cmd, &ctx.dir.join("vxswitch.log"))
        .map_err(|e| e.to_string())?;
    p.wait_for(DATAPLANE_READY, 1, Duration::from_secs(30))
        .map_err(|e| e.to_string())?;
    let host = HostClient::new(ctx.dir.join("vxswitch.sock"));
    if let Some((first, count, to_vm)) = scenario::static_macs(sc.kind) {
        mac_edit(&host, first, count, Some(to_vm))?;
    }
    Ok((p, host))
}

/// One sample of the vxswitch binary `bin`, recorded as DUT `dut`.
pub fn sample(
    ctx: &Ctx,
    sc: &Scenario,
    index: usize,
    bin: &Path,
    dut: &str,
) -> Result<Sample, String> {
    let (mut p, host) = start(ctx, sc, bin)?;
    if let Kind::BumMode(mode) = sc.kind {
        check_plan(&host, mode)?;
    }
    let gen = crate::generator::attach(ctx, sc)?;
    std::thread::sleep(ctx.warmup);
    let a = read(&host)?;
    // bench/profile starts sampling the core at this line.
    if std::env::var_os("VXSWITCH_BENCH_MARK_WINDOW").is_some() {
        eprintln!("  {dut} #{index}: window opens");
    }
    let churn = if sc.kind == Kind::Churn {
        Some(churn(&host, ctx.window)?)
    } else {
        std::thread::sleep(ctx.window);
        None
    };
    let b = read(&host)?;
    crate::generator::detach(gen);
    p.stop(Duration::from_secs(10));
    let log = p.output();
    if !log.contains("mbufs_in_use_after_close 0") {
        // Not fatal for the figures, but worth seeing.
        eprintln!(
            "  vxswitch: stop report does not show every mbuf back (see {})",
            ctx.dir.join("vxswitch.log").display()
        );
    }
    let dt = b.at.duration_since(a.at).as_secs_f64();
    let frames = b.busy_frames - a.busy_frames;
    let mut s = Sample::new(
        sc,
        dut,
        index,
        dt,
        (b.tx - a.tx, b.rx - a.rx, b.drops - a.drops),
        (frames > 0).then(|| (b.busy_cycles - a.busy_cycles) as f64 / frames as f64),
    );
    s.worker_cycles_per_packet = b
        .workers
        .iter()
        .zip(&a.workers)
        .map(|(b, a)| {
            let frames = b.1 - a.1;
            if frames > 0 {
                (b.0 - a.0) as f64 / frames as f64
            } else {
                f64::NAN
            }
        })
        .collect();
    s.churn = churn.map(|mut c| {
        c.flooded = b.flooded - a.flooded;
        c
    });
    Ok(s)
}

/// The replication-mode scenarios measure what they claim: the DUT's plan has the copies per
/// frame the mode promises for 64 VTEPs in 8 segments (8 + 7 UTEPs, group + 7 MTEPs, the
/// group).
fn check_plan(host: &HostClient, mode: ReplicationMode) -> Result<(), String> {
    let rows: Vec<VniRow> = host.get(Request::Vnis).map_err(|e| e.to_string())?;
    let row = rows
        .iter()
        .find(|r| r.vni == traffic::VNI)
        .ok_or("the VNI is not on the DUT")?;
    let want = match mode {
        ReplicationMode::Unicast => 15,
        ReplicationMode::Hybrid => 8,
        ReplicationMode::Multicast => 1,
        ReplicationMode::HeadEnd => traffic::SEGMENTED_VTEPS as usize,
    };
    if row.replication != mode || row.copies_per_frame != want {
        return Err(format!(
            "{mode} mode over 8 segments should copy each frame {want} times; the DUT does {} in {} mode",
            row.copies_per_frame, row.replication
        ));
    }
    Ok(())
}

/// MAC changes per request and requests per second: 100k changes per second, in the
/// batches the management thread itself publishes learning in (one per 1 ms tick).
pub const CHURN_BATCH: u32 = 100;
pub const CHURN_PERIOD: Duration = Duration::from_millis(1);

/// The first MAC of the block the churn adds and removes: after the scale block, in no
/// scenario's traffic.
pub fn churn_block() -> vxswitch::wire::MacAddr {
    nth(traffic::SCALE_MAC_BASE, traffic::SCALE_ENTRIES)
}

/// Adds and removes a block of 100 MACs (not in the traffic) every millisecond for `window`.
fn churn(host: &HostClient, window: Duration) -> Result<Churn, String> {
    let first = churn_block();
    let start = Instant::now();
    let (mut publish, mut rtt) = (Vec::new(), Vec::new());
    let mut changes = 0u64;
    let mut k = 0u32;
    while start.elapsed() < window {
        let due = start + CHURN_PERIOD * k;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let t = Instant::now();
        let r = mac_edit(host, first, CHURN_BATCH, (k % 2 == 0).then_some(false))?;
        rtt.push(t.elapsed().as_secs_f64() * 1e6);
        publish.push(r.publish_us);
        changes += u64::from(r.changed);
        k += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    Ok(Churn {
        changes_per_s: changes as f64 / secs,
        publishes: publish.len(),
        publish_p50_us: quantile(&mut publish, 0.5),
        publish_p99_us: quantile(&mut publish, 0.99),
        publish_max_us: quantile(&mut publish, 1.0),
        round_trip_p99_us: quantile(&mut rtt, 0.99),
        flooded: 0,
    })
}
