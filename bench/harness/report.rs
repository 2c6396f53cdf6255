//! Medians, ratios and targets of a run: the table printed at the end, the files written
//! into the results folder (samples.csv, summary.json) and the charts drawn from them.

use crate::dut::{quantile, Sample};
use crate::host::Machine;
use crate::scenario::{Feed, Kind, Scenario};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;

#[derive(Debug, Serialize)]
pub struct Row {
    pub scenario: String,
    pub about: String,
    /// Median Mpps out per DUT (None: not measured).
    pub vxswitch: Option<f64>,
    pub testpmd: Option<f64>,
    pub ovs: Option<f64>,
    pub vs_testpmd: Option<f64>,
    pub vs_ovs: Option<f64>,
    /// An earlier vxswitch (`--baseline`), when measured: Mpps, cycles per packet and
    /// vxswitch's rate over it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline_cycles: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vs_baseline: Option<f64>,
    pub cycles: [Option<f64>; 3],
    /// The target, in words, and whether this run met it.
    pub target: String,
    pub met: Option<bool>,
    pub notes: String,
}

pub const DUTS: [&str; 3] = ["vxswitch", "testpmd", "ovs"];
/// The DUT name of `--baseline`'s binary.
pub const BASELINE: &str = "baseline";

fn median_of(
    samples: &[Sample],
    sc: &str,
    dut: &str,
    f: impl Fn(&Sample) -> Option<f64>,
) -> Option<f64> {
    let mut v: Vec<f64> = samples
        .iter()
        .filter(|s| s.scenario == sc && s.dut == dut)
        .filter_map(f)
        .collect();
    (!v.is_empty()).then(|| quantile(&mut v, 0.5))
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

pub fn rows(scenarios: &[Scenario], samples: &[Sample]) -> Vec<Row> {
    let mpps = |sc: &str, dut: &str| median_of(samples, sc, dut, |s| Some(s.mpps));
    scenarios
        .iter()
        .map(|sc| {
            let [vx, tp, ovs] = DUTS.map(|d| mpps(sc.name, d));
            let cycles = DUTS.map(|d| median_of(samples, sc.name, d, |s| s.cycles_per_packet));
            let (vs_tp, vs_ovs) = (ratio(vx, tp), ratio(vx, ovs));
            let baseline = mpps(sc.name, BASELINE);
            let baseline_cycles = median_of(samples, sc.name, BASELINE, |s| s.cycles_per_packet);
            let mut notes = String::new();
            let (target, met) = match sc.kind {
                _ if sc.name.starts_with("workers-") => {
                    let n = f64::from(sc.workers);
                    let one = mpps("workers-1", "vxswitch");
                    let r = vx.zip(one).map(|(v, o)| v / (n * o));
                    if let Some(r) = r {
                        let _ = write!(notes, "{r:.2} x {n} x the 1-worker rate");
                    }
                    // Each worker's median busy cycles per packet: a shared line shows here.
                    let per_worker: Vec<String> = (0..usize::from(sc.workers))
                        .filter_map(|w| {
                            median_of(samples, sc.name, "vxswitch", |s| {
                                s.worker_cycles_per_packet.get(w).copied()
                            })
                        })
                        .map(|c| format!("{c:.0}"))
                        .collect();
                    if !per_worker.is_empty() {
                        let _ = write!(notes, ", workers' cyc/pkt {}", per_worker.join("/"));
                    }
                    (">= 0.90 x N x 1 worker".into(), r.map(|r| r >= 0.90))
                }
                // Over vhost-user testpmd io is the generator's own ceiling, not a target.
                Kind::Encap | Kind::Decap if sc.feed == Feed::Vhost => (
                    ">= 2.5x OVS; testpmd io = the generator's ceiling".to_string(),
                    vs_ovs.map(|o| o >= 2.5),
                ),
                // testpmd io does no switching: about 0.5x of it is an encapsulating
                // switch's ceiling (a bare MAC swap plus a 50-byte prepend measured 0.52x).
                Kind::Encap => (
                    ">= 0.50x testpmd, >= 3x OVS".to_string(),
                    vs_tp.zip(vs_ovs).map(|(t, o)| t >= 0.50 && o >= 3.0),
                ),
                Kind::Decap => (
                    ">= 0.45x testpmd, >= 3x OVS".to_string(),
                    vs_tp.zip(vs_ovs).map(|(t, o)| t >= 0.45 && o >= 3.0),
                ),
                Kind::Bum(_) => (
                    ">= 0.85x testpmd, >= 8x OVS (copies out)".into(),
                    vs_tp.zip(vs_ovs).map(|(t, o)| t >= 0.85 && o >= 8.0),
                ),
                Kind::Arp => (">= 0.50x testpmd".into(), vs_tp.map(|r| r >= 0.50)),
                Kind::ScaleEncap | Kind::ScaleDecap => {
                    let base = if sc.kind == Kind::ScaleEncap { "encap" } else { "decap" };
                    let r = ratio(vx, mpps(base, "vxswitch"));
                    if let Some(r) = r {
                        let _ = write!(notes, "{r:.2}x of {base} (1K entries)");
                    }
                    (format!(">= 0.90x vxswitch {base}"), r.map(|r| r >= 0.90))
                }
                Kind::Churn => {
                    let r = ratio(vx, mpps("encap", "vxswitch"));
                    let churn: Vec<_> = samples.iter().filter(|s| s.scenario == sc.name).filter_map(|s| s.churn.clone()).collect();
                    let drops: u64 = samples.iter().filter(|s| s.scenario == sc.name && s.dut == "vxswitch").map(|s| s.drops).sum();
                    let flooded: u64 = churn.iter().map(|c| c.flooded).sum();
                    let mut p99: Vec<f64> = churn.iter().map(|c| c.publish_p99_us).collect();
                    let mut rate: Vec<f64> = churn.iter().map(|c| c.changes_per_s).collect();
                    let p99 = quantile(&mut p99, 1.0);
                    let rate = quantile(&mut rate, 0.5);
                    let dip = r.map(|r| (1.0 - r) * 100.0);
                    let _ = write!(
                        notes,
                        "{:.0}k changes/s, dip {}, drops {drops}, floods {flooded}, publish p99 {p99:.0} us",
                        rate / 1e3,
                        dip.map_or("-".into(), |d| format!("{d:.1}%"))
                    );
                    (
                        "dip <= 5%, no drop, publish p99 <= 1 ms".into(),
                        dip.map(|d| d <= 5.0 && drops == 0 && flooded == 0 && p99 <= 1000.0 && rate >= 95e3),
                    )
                }
                Kind::Bidir | Kind::Soak | Kind::OneVm { guarded: false } => {
                    ("(reported)".into(), None)
                }
                Kind::OneVm { guarded: true } => {
                    let r = ratio(vx, mpps("one-vm", "vxswitch"));
                    if let Some(r) = r {
                        let _ = write!(notes, "{r:.3}x of one-vm (port security off)");
                    }
                    (">= 0.95x vxswitch one-vm".into(), r.map(|r| r >= 0.95))
                }
                Kind::BumMode(_) => {
                    if let Some(r) = vs_tp {
                        let _ = write!(notes, "{r:.2}x testpmd io (copies out)");
                    }
                    ("(reported: copies out per second)".into(), None)
                }
            };
            let vs_baseline = ratio(vx, baseline);
            if let Some(r) = vs_baseline {
                if !notes.is_empty() {
                    notes.push_str(", ");
                }
                let _ = write!(
                    notes,
                    "{r:.3}x baseline ({} Mpps, {} cyc/pkt)",
                    f(baseline, 2),
                    f(baseline_cycles, 0)
                );
            }
            Row {
                scenario: sc.name.into(),
                about: sc.about.into(),
                vxswitch: vx,
                testpmd: tp,
                ovs,
                vs_testpmd: vs_tp,
                vs_ovs,
                baseline,
                baseline_cycles,
                vs_baseline,
                cycles,
                target,
                met,
                notes,
            }
        })
        .collect()
}

fn f(v: Option<f64>, prec: usize) -> String {
    v.map_or("-".into(), |x| format!("{x:.prec$}"))
}

pub fn table(rows: &[Row]) -> String {
    let mut out = format!(
        "{:<16} {:>9} {:>9} {:>9} {:>7} {:>7} {:>17}  {:<4} {}\n",
        "scenario",
        "vxswitch",
        "testpmd",
        "OVS",
        "vs tp",
        "vs OVS",
        "cyc/pkt vx/tp/OVS",
        "met",
        "target / notes"
    );
    out.push_str(&format!(
        "{:<16} {:>9} {:>9} {:>9}\n",
        "", "Mpps", "Mpps", "Mpps"
    ));
    for r in rows {
        let cyc = r
            .cycles
            .iter()
            .map(|c| f(*c, 0))
            .collect::<Vec<_>>()
            .join("/");
        let met = match r.met {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "-",
        };
        let _ = writeln!(
            out,
            "{:<16} {:>9} {:>9} {:>9} {:>7} {:>7} {:>17}  {:<4} {}{}",
            r.scenario,
            f(r.vxswitch, 2),
            f(r.testpmd, 2),
            f(r.ovs, 2),
            f(r.vs_testpmd, 2),
            f(r.vs_ovs, 2),
            cyc,
            met,
            r.target,
            if r.notes.is_empty() {
                String::new()
            } else {
                format!("; {}", r.notes)
            }
        );
    }
    out
}

/// How the run was made, recorded beside its figures.
#[derive(Serialize)]
pub struct Settings {
    pub samples: usize,
    pub window_s: f64,
    pub warmup_s: f64,
    pub core: usize,
    pub hugepages: bool,
    pub flows: u32,
    pub inner_frame_bytes: usize,
    pub measure: &'static str,
    pub elapsed_s: u64,
}

#[derive(Serialize)]
struct SamplesFile<'a> {
    machine: &'a Machine,
    samples: &'a [Sample],
}

#[derive(Serialize)]
struct Summary<'a> {
    machine: &'a Machine,
    settings: &'a Settings,
    rows: &'a [Row],
}

/// Writes samples.csv, samples.json, summary.json and table.txt into `dir`.
pub fn write(
    dir: &Path,
    machine: &Machine,
    settings: &Settings,
    samples: &[Sample],
    rows: &[Row],
) -> Result<(), String> {
    let mut csv = String::from("scenario,dut,index,mpps,rx_mpps,cycles_per_packet,drops,window_s,publish_p99_us,changes_per_s\n");
    for s in samples {
        let _ = writeln!(
            csv,
            "{},{},{},{:.4},{:.4},{},{},{:.3},{},{}",
            s.scenario,
            s.dut,
            s.index,
            s.mpps,
            s.rx_mpps,
            s.cycles_per_packet
                .map_or(String::new(), |c| format!("{c:.1}")),
            s.drops,
            s.window_s,
            s.churn
                .as_ref()
                .map_or(String::new(), |c| format!("{:.1}", c.publish_p99_us)),
            s.churn
                .as_ref()
                .map_or(String::new(), |c| format!("{:.0}", c.changes_per_s)),
        );
    }
    let w = |name: &str, body: String| {
        std::fs::write(dir.join(name), body).map_err(|e| format!("{name}: {e}"))
    };
    w("samples.csv", csv)?;
    w(
        "samples.json",
        serde_json::to_string_pretty(&SamplesFile { machine, samples }).unwrap_or_default(),
    )?;
    w(
        "summary.json",
        serde_json::to_string_pretty(&Summary {
            machine,
            settings,
            rows,
        })
        .unwrap_or_default(),
    )?;
    w("table.txt", table(rows))
}

/// Draws one PNG per scenario (bench/chart.py, matplotlib from Debian's python3-matplotlib).
pub fn charts(dir: &Path) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/chart.py");
    let r = std::process::Command::new("/usr/bin/python3")
        .arg(&script)
        .arg(dir)
        .status();
    if !r.is_ok_and(|s| s.success()) {
        eprintln!(
            "charts: {} failed (is python3-matplotlib installed?)",
            script.display()
        );
    }
}
