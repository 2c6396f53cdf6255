//! What every device under test shares: the run's settings and one sample's figures.

use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

/// The run's settings, the same for every DUT.
pub struct Ctx {
    /// Pcaps, configs, logs and sockets of this run.
    pub dir: PathBuf,
    pub vxswitch: PathBuf,
    /// An earlier vxswitch to compare with (DUT `baseline`).
    pub baseline: Option<PathBuf>,
    /// Timed runs use hugepages; smoke runs `--no-huge`.
    pub hugepages: bool,
    pub warmup: Duration,
    pub window: Duration,
    /// The worker core (every DUT's only packet core); EAL's main lcore is core 0.
    pub worker_core: usize,
}

impl Ctx {
    /// EAL memory arguments for one process of `mb` MiB.
    pub fn mem_args(&self, mb: u32) -> Vec<String> {
        if self.hugepages {
            vec!["--socket-mem".into(), mb.to_string()]
        } else {
            vec!["--no-huge".into(), "-m".into(), mb.to_string()]
        }
    }
    pub fn lcores(&self) -> String {
        format!("0,{}", self.worker_core)
    }
    /// The cores of `n` packet workers: the bench's core and the ones after it while they
    /// exist, else every core.
    pub fn worker_cores(&self, n: u16) -> Vec<usize> {
        let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get());
        crate::scenario::worker_cores(n, self.worker_core, ncpu)
    }
}

/// One timed window of one DUT on one scenario.
#[derive(Clone, Debug, Serialize)]
pub struct Sample {
    pub scenario: String,
    pub dut: String,
    pub index: usize,
    /// Packets out per second (sum of TX over the DUT's ports), in millions.
    pub mpps: f64,
    /// Packets received per second, in millions.
    pub rx_mpps: f64,
    /// Busy TSC cycles per received packet (None where the DUT does not say).
    pub cycles_per_packet: Option<f64>,
    /// Packets the DUT dropped in the window (its own drop counters).
    pub drops: u64,
    pub window_s: f64,
    /// Busy cycles per packet of each worker (vxswitch only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub worker_cycles_per_packet: Vec<f64>,
    /// Churn only: publish latencies and the rate of MAC changes achieved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub churn: Option<Churn>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Churn {
    pub changes_per_s: f64,
    pub publishes: usize,
    pub publish_p50_us: f64,
    pub publish_p99_us: f64,
    pub publish_max_us: f64,
    /// Request to answer on the control socket, as a client sees it.
    pub round_trip_p99_us: f64,
    /// Frames flooded in the window (a lost entry would flood).
    pub flooded: u64,
}

impl Sample {
    /// A sample from what one DUT counted over a window of `window_s` seconds.
    pub fn new(
        sc: &crate::scenario::Scenario,
        dut: &str,
        index: usize,
        window_s: f64,
        (tx, rx, drops): (u64, u64, u64),
        cycles_per_packet: Option<f64>,
    ) -> Sample {
        Sample {
            scenario: sc.name.into(),
            dut: dut.into(),
            index,
            mpps: tx as f64 / window_s / 1e6,
            rx_mpps: rx as f64 / window_s / 1e6,
            cycles_per_packet,
            drops,
            window_s,
            worker_cycles_per_packet: Vec::new(),
            churn: None,
        }
    }
}

/// The `q`-quantile of `v` (sorted in place).
pub fn quantile(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let i = ((v.len() - 1) as f64 * q).round() as usize;
    v[i]
}
