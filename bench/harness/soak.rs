//! The soak (`bench/run --soak 30m`): vxswitch alone, for a long time, under encap and
//! decap at full rate at once, with an ARP request (answered from the ARP table) after
//! every 8th VM frame, and 100k MAC changes per second through the control socket (a block
//! of 100 MACs added, then removed, every millisecond). Sampled about 120 times: the
//! data plane's mbufs in use, its RSS, frames in, out and dropped.
//!
//! It passes when nothing leaks and nothing is lost uncounted: mbufs in use stay within the
//! level of the first quarter (rings, bursts in flight), every mbuf is back at the stop
//! (`mbufs_in_use_after_close 0`), no port ran out of mbufs, RSS in the last quarter is
//! within 1% (at least 2 MiB) of the second quarter's, and frames in = frames out + counted
//! drops, give or take what was in flight at the two reads.

use crate::dut::Ctx;
use crate::dut_vxswitch::{churn_block, mac_edit, start, CHURN_BATCH, CHURN_PERIOD};
use crate::scenario::SOAK;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};
use vxswitch::api::host::{PortRow, Request, Stats};
use vxswitch::api::HostClient;

/// Frames that may be between a port's RX count and a TX or drop count at a read: a few
/// bursts in the pipeline and in the TX rings.
const IN_FLIGHT: i64 = 1024;
/// Mbufs in use may rise this far above the first quarter's peak (per-lcore caches filling).
const MBUF_SLACK: u64 = 512;

/// One reading of the data plane.
#[derive(Clone, Debug, Serialize)]
pub struct Reading {
    pub t_s: f64,
    pub rx: u64,
    pub tx: u64,
    pub drops: u64,
    pub rx_nombuf: u64,
    pub mbufs_in_use: u64,
    pub rss_kib: u64,
    pub macs: usize,
    pub generation: u64,
    pub mac_changes: u64,
}

#[derive(Debug, Serialize)]
pub struct Summary {
    pub duration_s: f64,
    pub samples: usize,
    pub frames_in: u64,
    pub frames_out: u64,
    pub mpps_in: f64,
    pub drops: BTreeMap<String, u64>,
    /// Frames in minus out minus counted drops over the run (0 but for what was in flight).
    pub unaccounted: i64,
    pub mac_changes: u64,
    pub mac_changes_per_s: f64,
    pub publishes: u64,
    pub rx_nombuf: u64,
    pub mbufs_first_quarter_max: u64,
    pub mbufs_max: u64,
    pub mbufs_last: u64,
    pub mbufs_after_close: Option<u64>,
    pub rss_second_quarter_kib: u64,
    pub rss_last_quarter_kib: u64,
    pub rss_max_kib: u64,
    pub failures: Vec<String>,
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn read(
    host: &HostClient,
    pid: u32,
    t0: Instant,
    changes: u64,
) -> Result<(Reading, Stats), String> {
    let ports: Vec<PortRow> = host.get(Request::Ports).map_err(|e| e.to_string())?;
    let stats: Stats = host.get(Request::Stats).map_err(|e| e.to_string())?;
    let r = Reading {
        t_s: t0.elapsed().as_secs_f64(),
        rx: ports.iter().map(|p| p.rx_packets).sum(),
        tx: ports.iter().map(|p| p.tx_packets).sum(),
        drops: stats.total_drops(),
        rx_nombuf: ports.iter().map(|p| p.rx_nombuf).sum(),
        mbufs_in_use: stats.mbufs_in_use,
        rss_kib: rss_kib(pid),
        macs: stats.macs,
        generation: stats.generation,
        mac_changes: changes,
    };
    Ok((r, stats))
}

fn mean(v: &[Reading], f: impl Fn(&Reading) -> u64) -> u64 {
    if v.is_empty() {
        return 0;
    }
    v.iter().map(&f).sum::<u64>() / v.len() as u64
}

/// Runs the soak for `duration`; writes soak.csv and soak.json into `out`; Ok(false) when
/// a check failed.
pub fn run(ctx: &Ctx, duration: Duration, out: &Path) -> Result<bool, String> {
    let sc = SOAK;
    let every = (duration / 120).max(Duration::from_secs(1));
    println!(
        "soak: {} s of {} (a reading every {} s)",
        duration.as_secs(),
        sc.about,
        every.as_secs()
    );
    let (mut p, host) = start(ctx, &sc, &ctx.vxswitch)?;
    let pid = p.pid();
    std::thread::sleep(ctx.warmup);
    let t0 = Instant::now();
    let first = churn_block();
    let mut changes = 0u64;
    let (r0, s0) = read(&host, pid, t0, 0)?;
    let mut readings = vec![r0];
    let mut next_reading = every;
    let mut k = 0u32;
    let mut err = None;
    while t0.elapsed() < duration {
        let due = CHURN_PERIOD * k;
        if let Some(wait) = due.checked_sub(t0.elapsed()) {
            std::thread::sleep(wait);
        }
        match mac_edit(&host, first, CHURN_BATCH, (k % 2 == 0).then_some(false)) {
            Ok(r) => changes += u64::from(r.changed),
            Err(e) => {
                err = Some(format!("MAC change {k}: {e}"));
                break;
            }
        }
        k += 1;
        if t0.elapsed() >= next_reading {
            next_reading += every;
            let (r, _) = read(&host, pid, t0, changes)?;
            println!(
                "  {:>6.0} s  {:>7.2} Mpps in  mbufs {:>6}  rss {:>7} KiB  macs {:>5}  drops {}",
                r.t_s,
                (r.rx - readings[readings.len() - 1].rx) as f64
                    / (r.t_s - readings[readings.len() - 1].t_s)
                    / 1e6,
                r.mbufs_in_use,
                r.rss_kib,
                r.macs,
                r.drops
            );
            readings.push(r);
        }
    }
    let (last, s1) = read(&host, pid, t0, changes)?;
    readings.push(last.clone());
    p.stop(Duration::from_secs(10));
    let log = p.output();
    let after_close = log
        .lines()
        .find_map(|l| l.strip_prefix("mbufs_in_use_after_close "))
        .and_then(|v| v.trim().parse().ok());
    let r0 = &readings[0];
    let n = readings.len();
    let q = |a: usize, b: usize| &readings[(n * a / 4).min(n - 1)..(n * b / 4).max(1).min(n)];
    let mut drops = BTreeMap::new();
    for (reason, v) in &s1.drops {
        let d = v - s0.drops.get(reason).copied().unwrap_or(0);
        if d > 0 {
            drops.insert(reason.name().to_string(), d);
        }
    }
    let secs = last.t_s - r0.t_s;
    let mut s = Summary {
        duration_s: secs,
        samples: n,
        frames_in: last.rx - r0.rx,
        frames_out: last.tx - r0.tx,
        mpps_in: (last.rx - r0.rx) as f64 / secs / 1e6,
        drops,
        unaccounted: (last.rx - r0.rx) as i64
            - (last.tx - r0.tx) as i64
            - (last.drops - r0.drops) as i64,
        mac_changes: changes,
        mac_changes_per_s: changes as f64 / secs,
        publishes: last.generation - r0.generation,
        rx_nombuf: last.rx_nombuf - r0.rx_nombuf,
        mbufs_first_quarter_max: q(0, 1).iter().map(|r| r.mbufs_in_use).max().unwrap_or(0),
        mbufs_max: readings.iter().map(|r| r.mbufs_in_use).max().unwrap_or(0),
        mbufs_last: last.mbufs_in_use,
        mbufs_after_close: after_close,
        rss_second_quarter_kib: mean(q(1, 2), |r| r.rss_kib),
        rss_last_quarter_kib: mean(q(3, 4), |r| r.rss_kib),
        rss_max_kib: readings.iter().map(|r| r.rss_kib).max().unwrap_or(0),
        failures: Vec::new(),
    };
    s.failures = checks(&s, err);
    write(out, &readings, &s)?;
    println!("{}", render(&s));
    Ok(s.failures.is_empty())
}

/// What failed, in words (empty: the soak passed).
fn checks(s: &Summary, err: Option<String>) -> Vec<String> {
    let mut f: Vec<String> = err.into_iter().collect();
    if s.frames_in == 0 {
        f.push("no traffic reached the data plane".into());
    }
    if s.unaccounted.abs() > IN_FLIGHT {
        f.push(format!(
            "{} frames in were neither sent nor counted as dropped",
            s.unaccounted
        ));
    }
    if s.mbufs_max > s.mbufs_first_quarter_max + MBUF_SLACK {
        f.push(format!(
            "mbufs in use grew from {} to {}",
            s.mbufs_first_quarter_max, s.mbufs_max
        ));
    }
    match s.mbufs_after_close {
        Some(0) => {}
        Some(n) => f.push(format!("{n} mbufs not back after the ports closed")),
        None => f.push("the stop report has no mbufs_in_use_after_close line".into()),
    }
    if s.rx_nombuf > 0 {
        f.push(format!("{} receives found no mbuf", s.rx_nombuf));
    }
    let allowed = (s.rss_second_quarter_kib / 100).max(2048);
    if s.rss_last_quarter_kib > s.rss_second_quarter_kib + allowed {
        f.push(format!(
            "RSS grew from {} KiB to {} KiB",
            s.rss_second_quarter_kib, s.rss_last_quarter_kib
        ));
    }
    if s.mac_changes == 0 {
        f.push("no MAC change was applied".into());
    }
    f
}

fn render(s: &Summary) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "soak: {:.0} s, {} readings: {} frames in ({:.2} Mpps), {} out, drops {:?}, unaccounted {}",
        s.duration_s, s.samples, s.frames_in, s.mpps_in, s.frames_out, s.drops, s.unaccounted
    );
    let _ = writeln!(
        o,
        "soak: {} MAC changes ({:.0}/s), {} publishes; mbufs in use: first quarter max {}, max {}, last {}, after close {:?}; rx_nombuf {}",
        s.mac_changes,
        s.mac_changes_per_s,
        s.publishes,
        s.mbufs_first_quarter_max,
        s.mbufs_max,
        s.mbufs_last,
        s.mbufs_after_close,
        s.rx_nombuf
    );
    let _ = write!(
        o,
        "soak: RSS second quarter {} KiB, last quarter {} KiB, max {} KiB: {}",
        s.rss_second_quarter_kib,
        s.rss_last_quarter_kib,
        s.rss_max_kib,
        if s.failures.is_empty() {
            "PASS".to_string()
        } else {
            format!("FAIL: {}", s.failures.join("; "))
        }
    );
    o
}

fn write(out: &Path, readings: &[Reading], s: &Summary) -> Result<(), String> {
    let mut csv = String::from(
        "t_s,rx,tx,drops,rx_nombuf,mbufs_in_use,rss_kib,macs,generation,mac_changes\n",
    );
    for r in readings {
        let _ = writeln!(
            csv,
            "{:.1},{},{},{},{},{},{},{},{},{}",
            r.t_s,
            r.rx,
            r.tx,
            r.drops,
            r.rx_nombuf,
            r.mbufs_in_use,
            r.rss_kib,
            r.macs,
            r.generation,
            r.mac_changes
        );
    }
    std::fs::write(out.join("soak.csv"), csv).map_err(|e| e.to_string())?;
    let json = serde_json::to_string_pretty(s).map_err(|e| e.to_string())?;
    std::fs::write(out.join("soak.json"), json).map_err(|e| e.to_string())?;
    println!("results: {}", out.join("soak.json").display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> Summary {
        Summary {
            duration_s: 60.0,
            samples: 60,
            frames_in: 1000,
            frames_out: 990,
            mpps_in: 1.0,
            drops: BTreeMap::new(),
            unaccounted: 10,
            mac_changes: 100,
            mac_changes_per_s: 1.0,
            publishes: 1,
            rx_nombuf: 0,
            mbufs_first_quarter_max: 3000,
            mbufs_max: 3100,
            mbufs_last: 3000,
            mbufs_after_close: Some(0),
            rss_second_quarter_kib: 100_000,
            rss_last_quarter_kib: 101_000,
            rss_max_kib: 101_000,
            failures: Vec::new(),
        }
    }

    #[test]
    fn a_steady_run_passes_and_each_leak_fails_by_name() {
        assert!(checks(&summary(), None).is_empty());
        type Spoil = fn(&mut Summary);
        let cases: [(Spoil, &str); 5] = [
            (|s| s.unaccounted = 5000, "neither sent nor counted"),
            (|s| s.mbufs_max = 4000, "mbufs in use grew"),
            (|s| s.mbufs_after_close = Some(7), "7 mbufs not back"),
            (|s| s.rss_last_quarter_kib = 110_000, "RSS grew"),
            (|s| s.rx_nombuf = 1, "found no mbuf"),
        ];
        for (spoil, want) in cases {
            let mut s = summary();
            spoil(&mut s);
            let f = checks(&s, None);
            assert!(f.len() == 1 && f[0].contains(want), "{want}: {f:?}");
        }
    }
}
