//! Helpers shared by the tests that run real `vxswitch` processes.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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

/// A `vxswitch dataplane` started on a config file, output captured to a log.
pub struct Daemon {
    child: Option<Child>,
    pub log: PathBuf,
}

impl Daemon {
    pub fn start(dir: &Path, config: &str) -> Daemon {
        let cfg = dir.join("dataplane.toml");
        std::fs::write(&cfg, config).unwrap();
        let cfg = cfg.to_string_lossy().into_owned();
        Self::launch(
            &["dataplane", "--config", &cfg],
            &dir.join("dataplane.log"),
            "vxswitch ready",
        )
    }

    /// Starts `vxswitch <args>` and waits for a line starting with `ready`.
    pub fn spawn_args(args: &[&str], ready: &str) -> Daemon {
        let dir = test_dir(&format!("daemon-{}", std::process::id()));
        Self::launch(args, &dir.join(format!("{}.log", args[0])), ready)
    }

    /// Starts `vxswitch <args>` with its output in `log`, and waits for `ready`.
    fn launch(args: &[&str], log: &Path, ready: &str) -> Daemon {
        let out = std::fs::File::create(log).unwrap();
        let child = Command::new(EXE)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        let mut d = Daemon {
            child: Some(child),
            log: log.to_path_buf(),
        };
        d.wait_for_line(ready, Duration::from_secs(30));
        d
    }

    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn wait_for_line(&mut self, line: &str, timeout: Duration) {
        let start = Instant::now();
        while !self.output().lines().any(|l| l.starts_with(line)) {
            if let Some(Ok(Some(st))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("vxswitch exited ({st}) before {line:?}:\n{}", self.output());
            }
            assert!(
                start.elapsed() < timeout,
                "no {line:?} after {timeout:?}:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGINT, wait for exit (it must exit 0), return the whole output.
    pub fn stop(&mut self) -> String {
        let mut c = self.child.take().expect("running");
        Command::new("kill")
            .args(["-INT", &c.id().to_string()])
            .status()
            .unwrap();
        let start = Instant::now();
        loop {
            if let Some(st) = c.try_wait().unwrap() {
                assert!(
                    st.success(),
                    "vxswitch exited with {st}:\n{}",
                    self.output()
                );
                break;
            }
            if start.elapsed() > Duration::from_secs(15) {
                let _ = c.kill();
                panic!("vxswitch did not stop on SIGINT:\n{}", self.output());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.output()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
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

/// Waits until `path` exists and has not grown for `quiet`, or `timeout` passes.
pub fn wait_until_quiet(path: &Path, quiet: Duration, timeout: Duration) {
    let start = Instant::now();
    let mut last = (0u64, Instant::now());
    while start.elapsed() < timeout {
        let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        if len != last.0 {
            last = (len, Instant::now());
        } else if len > 0 && last.1.elapsed() >= quiet {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
