//! The scenarios of docs/performance.md (and ../design/benchmarks.md): what each feeds into
//! the device under test, on which vdevs, and what its target is.

use crate::traffic;
use std::path::Path;
use vxswitch::ids::ReplicationMode;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Encap,
    Decap,
    Bidir,
    /// Broadcast from a VM port to a VNI with this many remote VTEPs (head-end).
    Bum(u32),
    /// Broadcast from a VM port in this mode, to SEGMENTED_VTEPS remote VTEPs in segments of
    /// 8 (the DUT's segment first, a proxy in each other; see `traffic::segmented_vtep`).
    BumMode(ReplicationMode),
    Arp,
    /// Encap / decap with a 2^20-entry MAC table.
    ScaleEncap,
    ScaleDecap,
    /// Encap while 100k MAC changes per second are published.
    Churn,
    /// Encap from one VM (one MAC, one address) to 1024 remote VMs; `guarded`: with port
    /// security on its port (locked to that MAC and address), the same traffic.
    OneVm {
        guarded: bool,
    },
    /// Encap (with ARP requests among the VM's frames) and decap at once, with churn: the
    /// soak (`bench/run --soak`), never in a timed run.
    Soak,
}

/// How traffic reaches the device under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Feed {
    /// `net_pcap ... infinite_rx=1` straight into the DUT's port.
    Pcap,
    /// Over vhost-user from a testpmd generator in another process (as a VM's virtio port).
    Vhost,
}

#[derive(Clone, Copy, Debug)]
pub struct Scenario {
    pub name: &'static str,
    pub kind: Kind,
    pub feed: Feed,
    pub about: &'static str,
    /// Workers of the DUT; above 1 (the `--workers` scenarios), one VM port per worker,
    /// each with its own pcap, and an uplink with a queue per worker.
    pub workers: u16,
}

pub const ALL: &[Scenario] = &[
    Scenario {
        name: "encap",
        kind: Kind::Encap,
        feed: Feed::Pcap,
        workers: 1,
        about: "VM port -> known remote MAC -> VXLAN out the uplink",
    },
    Scenario {
        name: "decap",
        kind: Kind::Decap,
        feed: Feed::Pcap,
        workers: 1,
        about: "VXLAN in -> learn -> VM port",
    },
    Scenario {
        name: "bidir",
        kind: Kind::Bidir,
        feed: Feed::Pcap,
        workers: 1,
        about: "encap and decap at once",
    },
    Scenario {
        name: "bum-8",
        kind: Kind::Bum(8),
        feed: Feed::Pcap,
        workers: 1,
        about: "broadcast to 8 remote VTEPs (copies out)",
    },
    Scenario {
        name: "bum-64",
        kind: Kind::Bum(64),
        feed: Feed::Pcap,
        workers: 1,
        about: "broadcast to 64 remote VTEPs, head-end (copies out)",
    },
    Scenario {
        name: "bum-64-unicast",
        kind: Kind::BumMode(ReplicationMode::Unicast),
        feed: Feed::Pcap,
        workers: 1,
        about: "broadcast, 64 VTEPs in 8 segments, unicast mode: 8 + 7 UTEPs (copies out)",
    },
    Scenario {
        name: "bum-64-hybrid",
        kind: Kind::BumMode(ReplicationMode::Hybrid),
        feed: Feed::Pcap,
        workers: 1,
        about: "broadcast, 64 VTEPs in 8 segments, hybrid mode: group + 7 MTEPs (copies out)",
    },
    Scenario {
        name: "bum-64-multicast",
        kind: Kind::BumMode(ReplicationMode::Multicast),
        feed: Feed::Pcap,
        workers: 1,
        about: "broadcast, 64 VTEPs in 8 segments, multicast mode: the group (copies out)",
    },
    Scenario {
        name: "arp-suppress",
        kind: Kind::Arp,
        feed: Feed::Pcap,
        workers: 1,
        about: "ARP requests answered from the ARP table",
    },
    Scenario {
        name: "scale-encap",
        kind: Kind::ScaleEncap,
        feed: Feed::Pcap,
        workers: 1,
        about: "encap with 1M MAC entries",
    },
    Scenario {
        name: "scale-decap",
        kind: Kind::ScaleDecap,
        feed: Feed::Pcap,
        workers: 1,
        about: "decap with 1M MAC entries",
    },
    Scenario {
        name: "churn",
        kind: Kind::Churn,
        feed: Feed::Pcap,
        workers: 1,
        about: "encap while 100k MAC changes/s are published",
    },
    Scenario {
        name: "one-vm",
        kind: Kind::OneVm { guarded: false },
        feed: Feed::Pcap,
        workers: 1,
        about: "encap from one VM (one MAC and address) to 1024 remote VMs",
    },
    Scenario {
        name: "one-vm-guarded",
        kind: Kind::OneVm { guarded: true },
        feed: Feed::Pcap,
        workers: 1,
        about: "the same with port security on the VM's port (its MAC and address only)",
    },
    Scenario {
        name: "vhost-encap",
        kind: Kind::Encap,
        feed: Feed::Vhost,
        workers: 1,
        about: "encap, VM traffic over vhost-user from testpmd",
    },
    Scenario {
        name: "vhost-decap",
        kind: Kind::Decap,
        feed: Feed::Vhost,
        workers: 1,
        about: "decap, delivered over vhost-user to testpmd",
    },
];

/// The soak: see `soak.rs`.
pub const SOAK: Scenario = Scenario {
    name: "soak",
    kind: Kind::Soak,
    feed: Feed::Pcap,
    workers: 1,
    about: "encap + ARP requests + decap at once, 100k MAC changes/s, for a long time",
};

/// Encap on `n` workers (`bench/run --workers`): `n` VM ports, each a replayed pcap of its own
/// 1024 sources, an uplink sink with `n` queues.
pub fn workers(n: u16) -> Scenario {
    Scenario {
        name: Box::leak(format!("workers-{n}").into_boxed_str()),
        kind: Kind::Encap,
        feed: Feed::Pcap,
        workers: n,
        about: "encap, one VM port per worker",
    }
}

/// The cores of `n` workers on a machine of `ncpu`: `first`.. while they fit beside EAL's
/// main lcore on core 0, else every core (core 0 shared with the main and management
/// threads).
pub fn worker_cores(n: u16, first: usize, ncpu: usize) -> Vec<usize> {
    let n = usize::from(n);
    if first + n <= ncpu {
        (first..first + n).collect()
    } else {
        (0..n).map(|k| k % ncpu).collect()
    }
}

/// One port of the DUT: its ethdev name and the whole `--vdev` argument.
#[derive(Clone, Debug)]
pub struct Device {
    pub name: String,
    pub vdev: String,
}

fn pcap_in(name: &str, file: &Path) -> Device {
    Device {
        name: name.into(),
        vdev: format!("{name},rx_pcap={},infinite_rx=1", file.display()),
    }
}

fn sink(name: &str) -> Device {
    Device {
        name: name.into(),
        vdev: format!("{name},no-rx=1"),
    }
}

impl Scenario {
    /// The uplink's input pcap, if it receives traffic.
    pub fn uplink_pcap(&self) -> Option<&'static str> {
        match self.kind {
            Kind::Decap | Kind::Bidir | Kind::Soak => Some("decap.pcap"),
            Kind::ScaleDecap => Some("decap-1m.pcap"),
            _ => None,
        }
    }
    /// The VM side's input pcap (fed directly or through the vhost-user generator).
    pub fn vm_pcap(&self) -> Option<&'static str> {
        match self.kind {
            Kind::Encap | Kind::Bidir | Kind::Churn => Some("encap.pcap"),
            Kind::ScaleEncap => Some("encap-1m.pcap"),
            Kind::Bum(_) | Kind::BumMode(_) => Some("broadcast.pcap"),
            Kind::Arp => Some("arp.pcap"),
            Kind::Soak => Some("soak.pcap"),
            Kind::OneVm { .. } => Some("one-vm.pcap"),
            Kind::Decap | Kind::ScaleDecap => None,
        }
    }
    /// (uplink, VM ports) as every DUT gets them: the same vdevs for vxswitch, testpmd and
    /// OVS; one VM port per worker.
    pub fn devices(&self, dir: &Path) -> (Device, Vec<Device>) {
        if self.workers > 1 {
            let vms = (0..u32::from(self.workers))
                .map(|k| {
                    let f = dir.join(traffic::workers_pcap(k));
                    pcap_in(&format!("net_pcap{}", k + 1), &f)
                })
                .collect();
            return (sink("net_null0"), vms);
        }
        let up = match self.uplink_pcap() {
            Some(f) => pcap_in("net_pcap0", &dir.join(f)),
            None => sink("net_null0"),
        };
        let vm = match (self.feed, self.vm_pcap()) {
            (Feed::Vhost, _) => Device {
                name: "net_vhost1".into(),
                vdev: format!("net_vhost1,iface={},queues=1", vhost_socket(dir).display()),
            },
            (Feed::Pcap, Some(f)) => pcap_in("net_pcap1", &dir.join(f)),
            (Feed::Pcap, None) => sink("net_null1"),
        };
        (up, vec![vm])
    }
    /// Compared with testpmd io only: the multi-worker scenarios, the replication modes
    /// (OVS replicates head-end only), and port security's cost (vxswitch against itself).
    pub fn vxswitch_and_testpmd_only(&self) -> bool {
        self.name.starts_with("workers-")
            || matches!(self.kind, Kind::BumMode(_) | Kind::OneVm { .. })
    }
    /// Remote VTEPs in the VNI's flood list.
    pub fn remote_vteps(&self) -> u32 {
        match self.kind {
            Kind::Bum(n) => n,
            Kind::BumMode(_) => traffic::SEGMENTED_VTEPS,
            _ => 1,
        }
    }
}

pub fn vhost_socket(dir: &Path) -> std::path::PathBuf {
    dir.join("vm.sock")
}

/// The frames per second of the traffic are counted as the sum of the DUT's ports' TX.
pub const MEASURE: &str = "packets out per second: the sum of TX over the DUT's ports";

/// MACs pointing at remote VTEP 0 (encap) or the VM port (decap) that the scenario needs
/// in the table before it starts: (first MAC, count, to the VM port?).
pub fn static_macs(kind: Kind) -> Option<(vxswitch::wire::MacAddr, u32, bool)> {
    match kind {
        Kind::Encap | Kind::Churn | Kind::Bidir | Kind::Soak | Kind::OneVm { .. } => {
            Some((traffic::REMOTE_MAC_BASE, traffic::FLOWS, false))
        }
        Kind::Decap => Some((traffic::LOCAL_MAC_BASE, traffic::FLOWS, true)),
        Kind::ScaleEncap => Some((traffic::SCALE_MAC_BASE, traffic::SCALE_ENTRIES, false)),
        Kind::ScaleDecap => Some((traffic::SCALE_MAC_BASE, traffic::SCALE_ENTRIES, true)),
        Kind::Bum(_) | Kind::BumMode(_) | Kind::Arp => None,
    }
}

#[cfg(test)]
mod tests {
    use super::worker_cores;

    #[test]
    fn workers_get_the_cores_after_the_bench_core_while_they_exist() {
        assert_eq!(worker_cores(1, 1, 2), [1]);
        assert_eq!(
            worker_cores(2, 1, 2),
            [0, 1],
            "a 2-core machine shares core 0"
        );
        assert_eq!(worker_cores(4, 1, 16), [1, 2, 3, 4]);
        assert_eq!(worker_cores(15, 1, 16), (1..16).collect::<Vec<_>>());
    }
}
