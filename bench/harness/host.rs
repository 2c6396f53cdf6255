//! The machine the bench runs on: what it records about it, the hugepages it adds, and the
//! DPDK runtime files it removes after every process.

use serde::Serialize;
use std::process::Command;

#[derive(Debug, Serialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub kernel: String,
    pub dpdk: String,
    pub ovs: String,
    pub commit: String,
    pub rustc: String,
    pub hugepages_2m: u64,
}

fn run(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

pub fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .unwrap_or("unknown")
        .trim()
        .to_string();
    let dirty = !run("git", &["status", "--porcelain", "--untracked-files=no"]).is_empty();
    Machine {
        cpu,
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        kernel: run("uname", &["-r"]),
        dpdk: run("pkg-config", &["--modversion", "libdpdk"]),
        ovs: run("ovs-vsctl", &["--version"])
            .lines()
            .next()
            .unwrap_or("")
            .to_string(),
        commit: run("git", &["rev-parse", "--short=12", "HEAD"])
            + if dirty { "+dirty" } else { "" },
        rustc: run("rustc", &["--version"]),
        hugepages_2m: hugepages(),
    }
}

const NR_HUGEPAGES: &str = "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages";

fn hugepages() -> u64 {
    std::fs::read_to_string(NR_HUGEPAGES)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// Makes sure `want` 2 MiB pages exist (only ever adds: others may be using them) and that
/// hugetlbfs is mounted.
pub fn ensure_hugepages(want: u64) -> Result<(), String> {
    if hugepages() < want {
        std::fs::write(NR_HUGEPAGES, want.to_string())
            .map_err(|e| format!("{NR_HUGEPAGES}: {e}"))?;
    }
    if hugepages() < want {
        return Err(format!(
            "asked for {want} hugepages, the kernel gave {}",
            hugepages()
        ));
    }
    let mounted = std::fs::read_to_string("/proc/mounts")
        .unwrap_or_default()
        .contains("hugetlbfs");
    if !mounted {
        std::fs::create_dir_all("/dev/hugepages").map_err(|e| e.to_string())?;
        let ok = Command::new("mount")
            .args(["-t", "hugetlbfs", "nodev", "/dev/hugepages"])
            .status();
        if !ok.is_ok_and(|s| s.success()) {
            return Err("cannot mount hugetlbfs on /dev/hugepages".into());
        }
    }
    Ok(())
}

/// Removes what a DPDK process with `prefix` leaves: hugepage files and its runtime folder.
pub fn clean_dpdk(prefix: &str) {
    if let Ok(rd) = std::fs::read_dir("/dev/hugepages") {
        for e in rd.flatten() {
            if e.file_name().to_string_lossy().starts_with(prefix) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    let _ = std::fs::remove_dir_all(format!("/var/run/dpdk/{prefix}"));
}
