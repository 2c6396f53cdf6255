//! `vxswitch-bench` (run it as `bench/run`): every scenario of docs/performance.md on one
//! worker core, alternating vxswitch / testpmd io / OVS-DPDK sample by sample, with the same
//! vdevs and traffic; prints the table, writes the results folder and the charts.

mod control_plane;
mod dut;
mod dut_ovs;
mod dut_testpmd;
mod dut_vxswitch;
mod generator;
mod host;
mod report;
mod scenario;
mod sim_hosts;
mod soak;
mod traffic;

use clap::Parser;
use dut::{Ctx, Sample};
use scenario::Scenario;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(
    name = "vxswitch-bench",
    about = "vxswitch side by side with dpdk-testpmd io and OVS-DPDK"
)]
struct Args {
    /// About two minutes: 2 samples per DUT, 0.5 s windows.
    #[arg(long)]
    quick: bool,
    /// Seconds: one short sample of each DUT on encap, vhost-encap and the replication
    /// modes, to prove the harness works (CI). Its figures mean nothing.
    #[arg(long, conflicts_with = "quick")]
    smoke: bool,
    /// Samples per DUT and scenario (default 5; quick 2; smoke 1).
    #[arg(long)]
    samples: Option<usize>,
    /// Measured seconds per sample (default 3; quick 0.5; smoke 0.3).
    #[arg(long)]
    window: Option<f64>,
    /// Only these scenarios (comma separated).
    #[arg(long, value_delimiter = ',')]
    scenarios: Vec<String>,
    /// Scaling: encap on N workers for each N given (N VM ports with sources of their own, an
    /// uplink queue per worker; testpmd io with N cores on N port pairs), vxswitch and
    /// testpmd only. With --scenarios, those run too.
    #[arg(long, value_delimiter = ',')]
    workers: Vec<u16>,
    /// Only these DUTs (vxswitch, testpmd, ovs, baseline).
    #[arg(long, value_delimiter = ',')]
    duts: Vec<String>,
    /// Results folder (default bench/results/<UTC time>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// The vxswitch binary.
    #[arg(
        long,
        env = "VXSWITCH_BENCH_BIN",
        default_value = "target/release/vxswitch"
    )]
    vxswitch: PathBuf,
    /// An earlier vxswitch binary, measured as DUT `baseline` in the same run, sample by
    /// sample beside the others: before/after ratios of a change.
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// The packet core of every DUT (EAL's main lcore is core 0).
    #[arg(long, default_value_t = 1)]
    core: usize,
    /// Run EAL without hugepages (functional check only: rates halve).
    #[arg(long)]
    no_huge: bool,
    /// Keep the pcaps and the last configs in <out>/work, to rerun a DUT by hand.
    #[arg(long)]
    keep_work: bool,
    /// The soak instead of the scenarios: vxswitch alone under encap, ARP requests and decap
    /// at once with 100k MAC changes/s for this long (e.g. 30m; CI runs 20s), checking that
    /// mbufs and RSS stay flat and every frame is sent or counted (see bench/harness/soak.rs).
    #[arg(long, value_parser = humantime::parse_duration, conflicts_with_all = ["smoke", "quick", "control_plane"])]
    soak: Option<Duration>,
    /// The control plane at scale instead of the data plane: simulated hypervisors against
    /// one controller and a cluster of three (see --hosts, --vnis, --vms, --controllers).
    #[arg(long)]
    control_plane: bool,
    #[command(flatten)]
    cp: control_plane::CpArgs,
}

/// The UTC time as a folder name: 20261130T231250Z.
fn now_utc() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        .to_string()
        .replace(['-', ':'], "")
}

fn sample(ctx: &Ctx, sc: &Scenario, dut: &str, i: usize) -> Result<Sample, String> {
    let r = match dut {
        "vxswitch" => dut_vxswitch::sample(ctx, sc, i, &ctx.vxswitch, dut),
        "baseline" => match &ctx.baseline {
            Some(bin) => dut_vxswitch::sample(ctx, sc, i, bin, dut),
            None => Err("DUT baseline needs --baseline <binary>".into()),
        },
        "testpmd" => dut_testpmd::sample(ctx, sc, i),
        "ovs" => dut_ovs::sample(ctx, sc, i),
        other => Err(format!("unknown DUT {other:?}")),
    };
    for p in [
        dut_vxswitch::PREFIX,
        dut_testpmd::PREFIX,
        dut_ovs::PREFIX,
        generator::PREFIX,
    ] {
        host::clean_dpdk(p);
    }
    let _ = std::fs::remove_file(scenario::vhost_socket(&ctx.dir));
    r
}

fn main() -> ExitCode {
    let a = Args::parse();
    match run(&a) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(2),
        Err(e) => {
            eprintln!("vxswitch-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Ok(false): the run worked but a DUT failed a sample.
fn run(a: &Args) -> Result<bool, String> {
    if a.control_plane {
        let out = a
            .out
            .clone()
            .unwrap_or_else(|| PathBuf::from("bench/results").join(now_utc()));
        let r = control_plane::run(&a.vxswitch, &out, &a.cp)?;
        let json = serde_json::to_string_pretty(&r).map_err(|e| e.to_string())?;
        std::fs::write(out.join("control-plane.json"), json).map_err(|e| e.to_string())?;
        println!("results: {}", out.join("control-plane.json").display());
        return Ok(true);
    }
    let (samples, window, warmup) = match (a.smoke, a.quick) {
        (true, _) => (1, 0.3, 0.3),
        (_, true) => (2, 0.5, 0.3),
        _ => (5, 3.0, 1.0),
    };
    let samples = a.samples.unwrap_or(samples);
    let window = a.window.unwrap_or(window);
    let mut scenarios: Vec<Scenario> = if !a.scenarios.is_empty() {
        let mut v = Vec::new();
        for n in &a.scenarios {
            v.push(*scenario::ALL.iter().find(|s| s.name == n).ok_or_else(|| {
                format!(
                    "no scenario {n:?}; there are: {}",
                    scenario::ALL
                        .iter()
                        .map(|s| s.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?);
        }
        v
    } else if !a.workers.is_empty() {
        Vec::new()
    } else if a.smoke {
        scenario::ALL
            .iter()
            .filter(|s| {
                s.name == "encap"
                    || s.name == "vhost-encap"
                    || matches!(s.kind, scenario::Kind::BumMode(_))
            })
            .copied()
            .collect()
    } else {
        scenario::ALL.to_vec()
    };
    if let Some(&n) = a.workers.iter().find(|&&n| n == 0) {
        return Err(format!("--workers {n}: at least one worker"));
    }
    scenarios.extend(a.workers.iter().map(|&n| scenario::workers(n)));
    // vhost-user shares the generator's memory with the DUT: that takes hugepage files.
    if a.no_huge {
        if let Some(v) = scenarios
            .iter()
            .find(|s| s.feed == scenario::Feed::Vhost && a.scenarios.iter().any(|n| n == s.name))
        {
            return Err(format!(
                "{}: vhost-user scenarios need hugepages (drop --no-huge)",
                v.name
            ));
        }
        scenarios.retain(|s| s.feed != scenario::Feed::Vhost);
    }
    // Every DUT by default, the baseline beside vxswitch when one is given.
    let duts: Vec<String> = if !a.duts.is_empty() {
        a.duts.clone()
    } else {
        let mut d: Vec<String> = report::DUTS.iter().map(|s| s.to_string()).collect();
        if a.baseline.is_some() {
            d.insert(1, report::BASELINE.into());
        }
        d
    };
    for bin in std::iter::once(&a.vxswitch).chain(&a.baseline) {
        if !bin.exists() {
            return Err(format!(
                "{} not found: cargo build --release",
                bin.display()
            ));
        }
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if a.core == 0 || a.core >= cores {
        return Err(format!(
            "--core {}: this machine has cores 0-{}; core 0 is for main threads",
            a.core,
            cores - 1
        ));
    }
    if !a.no_huge {
        host::ensure_hugepages(1024)?;
    }
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("bench/results").join(now_utc()));
    let work = out.join("work");
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    let vm_ports = a.workers.iter().copied().max().unwrap_or(1);
    traffic::write_all(&work, u32::from(vm_ports)).map_err(|e| format!("writing pcaps: {e}"))?;
    let ctx = Ctx {
        dir: std::fs::canonicalize(&work).map_err(|e| e.to_string())?,
        vxswitch: std::fs::canonicalize(&a.vxswitch).map_err(|e| e.to_string())?,
        baseline: a
            .baseline
            .as_ref()
            .map(std::fs::canonicalize)
            .transpose()
            .map_err(|e| e.to_string())?,
        hugepages: !a.no_huge,
        warmup: Duration::from_secs_f64(warmup),
        window: Duration::from_secs_f64(window),
        worker_core: a.core,
    };
    if let Some(d) = a.soak {
        let ok = soak::run(&ctx, d, &out)?;
        clean_work(&ctx, a.keep_work)?;
        return Ok(ok);
    }
    let machine = host::machine();
    println!(
        "vxswitch-bench: {} scenario(s) x {} DUT(s) x {samples} sample(s), {window} s windows, core {}, {} | {} | {}",
        scenarios.len(),
        duts.len(),
        a.core,
        if ctx.hugepages { "hugepages" } else { "no hugepages" },
        machine.dpdk,
        machine.commit
    );
    // Ctrl-C or SIGTERM: finish the sample under way, stop every process, write what was
    // measured, clean up.
    let interrupted = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&interrupted)).map_err(|e| e.to_string())?;
    }
    let started = Instant::now();
    let mut all = Vec::new();
    let mut failed = false;
    'run: for sc in &scenarios {
        println!("{} ({}):", sc.name, sc.about);
        for i in 0..samples {
            for d in &duts {
                if sc.vxswitch_and_testpmd_only() && d != "vxswitch" && d != "testpmd" {
                    continue;
                }
                if interrupted.load(Ordering::Relaxed) {
                    eprintln!("interrupted: writing what was measured");
                    failed = true;
                    break 'run;
                }
                match sample(&ctx, sc, d, i) {
                    Ok(s) => {
                        println!(
                            "  {:<8} #{i}  {:>7.2} Mpps out  {:>7.2} Mpps in  {:>6} cycles/pkt  drops {}",
                            d,
                            s.mpps,
                            s.rx_mpps,
                            s.cycles_per_packet.map_or("-".into(), |c| format!("{c:.0}")),
                            s.drops
                        );
                        all.push(s);
                    }
                    Err(e) => {
                        failed = true;
                        eprintln!("  {d} #{i}: FAILED: {e}");
                    }
                }
            }
        }
    }
    let rows = report::rows(&scenarios, &all);
    println!("\n{}", report::table(&rows));
    let settings = report::Settings {
        samples,
        window_s: window,
        warmup_s: warmup,
        core: a.core,
        hugepages: ctx.hugepages,
        flows: traffic::FLOWS,
        inner_frame_bytes: 64,
        measure: scenario::MEASURE,
        elapsed_s: started.elapsed().as_secs(),
    };
    report::write(&out, &machine, &settings, &all, &rows)?;
    report::charts(&out);
    clean_work(&ctx, a.keep_work)?;
    println!(
        "results: {} ({} s)",
        out.display(),
        started.elapsed().as_secs()
    );
    Ok(!failed)
}

/// The pcaps, configs and sockets are regenerated by every run; logs stay for a look.
fn clean_work(ctx: &Ctx, keep: bool) -> Result<(), String> {
    for e in std::fs::read_dir(&ctx.dir)
        .map_err(|e| e.to_string())?
        .flatten()
    {
        if !keep && !e.file_name().to_string_lossy().ends_with(".log") {
            let _ = std::fs::remove_file(e.path());
        }
    }
    Ok(())
}
