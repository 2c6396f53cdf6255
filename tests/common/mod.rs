//! Helpers shared by the tests that run real `vxswitch` processes.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use vxswitch::lab::{Process, DATAPLANE_READY};

pub const EXE: &str = env!("CARGO_BIN_EXE_vxswitch");

/// These tests create namespaces, veths and DPDK processes: root is required.
pub fn require_root() {
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1).unwrap_or("").to_owned())
        });
    assert_eq!(
        uid.as_deref(),
        Some("0"),
        "this test needs root (namespaces, DPDK vdevs); run the suite as root"
    );
}

/// A fresh directory for one test's files.
pub fn test_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vxswitch-test-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A `vxswitch dataplane` (or controller) started by the lab's process runner, output in a
/// log; stopping it asserts a clean exit.
pub struct Daemon {
    p: Process,
}

/// How long a daemon gets to stop on SIGINT.
const STOP_WITHIN: Duration = Duration::from_secs(15);

impl Daemon {
    pub fn start(dir: &Path, config: &str) -> Daemon {
        let cfg = dir.join("dataplane.toml");
        std::fs::write(&cfg, config).unwrap();
        let cfg = cfg.to_string_lossy().into_owned();
        Self::launch(
            &["dataplane", "--config", &cfg],
            &dir.join("dataplane.log"),
            DATAPLANE_READY,
        )
    }

    /// Starts `vxswitch <args>` and waits for `ready` in its output.
    pub fn spawn_args(args: &[&str], ready: &str) -> Daemon {
        // A folder per daemon: tests of one binary run in parallel in one process.
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = test_dir(&format!("daemon-{}-{n}", std::process::id()));
        Self::launch(args, &dir.join(format!("{}.log", args[0])), ready)
    }

    fn launch(args: &[&str], log: &Path, ready: &str) -> Daemon {
        let mut cmd = Command::new(EXE);
        cmd.args(args);
        let mut p = Process::spawn(args[0], cmd, log).unwrap();
        p.wait_for(ready, 1, Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("{e}"));
        Daemon { p }
    }

    /// Waits until the daemon's output holds `marker` `times` times.
    pub fn wait_for(&mut self, marker: &str, times: usize, timeout: Duration) {
        self.p
            .wait_for(marker, times, timeout)
            .unwrap_or_else(|e| panic!("{e}"));
    }

    pub fn output(&self) -> String {
        self.p.output()
    }

    /// SIGINT, wait for exit (it must exit 0), return the whole output.
    pub fn stop(&mut self) -> String {
        let how = self.p.stop(STOP_WITHIN);
        let out = self.output();
        assert!(how.cleanly(), "vxswitch stopped {how:?}:\n{out}");
        out
    }
}

/// The value of a counter line (`  name   N`) in a stop report, 0 if absent.
pub fn counter(report: &str, name: &str) -> u64 {
    report
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            (it.next() == Some(name))
                .then(|| it.next().and_then(|v| v.parse().ok()))
                .flatten()
        })
        .next()
        .unwrap_or(0)
}

/// Asserts the stop report shows every mbuf back in the pool.
pub fn assert_no_leak(report: &str) {
    assert!(
        report.lines().any(|l| l == "mbufs_in_use_after_close 0"),
        "mbufs leaked or report missing:\n{report}"
    );
}

/// Waits until the pcap at `path` holds a frame and has not grown for `quiet`, or `timeout`
/// passes. A writer creates the file with its 24-byte header when its port starts, which can
/// be long before the first frame (a generator still starting), so the header alone does not
/// count.
pub fn wait_until_quiet(path: &Path, quiet: Duration, timeout: Duration) {
    const PCAP_HEADER: u64 = 24;
    let start = Instant::now();
    let mut last = (0u64, Instant::now());
    while start.elapsed() < timeout {
        let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        if len != last.0 {
            last = (len, Instant::now());
        } else if len > PCAP_HEADER && last.1.elapsed() >= quiet {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Scrapes `http://ADDR/metrics` and parses it with a Prometheus text-format parser.
pub fn scrape(addr: &str) -> prometheus_parse::Scrape {
    let text = ureq::get(&format!("http://{addr}/metrics"))
        .call()
        .unwrap_or_else(|e| panic!("GET http://{addr}/metrics: {e}"))
        .into_string()
        .unwrap();
    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap()
}

/// The value of the counter or gauge `name` whose labels include every one of `labels`.
pub fn sample(s: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    use prometheus_parse::Value;
    s.samples
        .iter()
        .filter(|x| x.metric == name)
        .filter(|x| labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
        .find_map(|x| match x.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => Some(v),
            _ => None,
        })
}
