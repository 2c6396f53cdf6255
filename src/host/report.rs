//! The report `vxswitch dataplane` prints when it stops: per-port counters, what the
//! pipeline did and dropped by reason, the table manager's work, and the mbufs not back in
//! the pool (0 on a clean stop).

use super::manager::TableManager;
use crate::config::Config;
use crate::dataplane::counters::{total_drops, total_stat, Counters, DropReason, Stat};
use crate::dpdk::{PortStats, TxCounts};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

pub fn report(
    cfg: &Config,
    port_stats: &[PortStats],
    tx: &[Vec<TxCounts>],
    counters: &[Arc<Counters>],
    m: &TableManager,
    elapsed: Duration,
    in_use: u32,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "vxswitch stopped after {:.1} s", elapsed.as_secs_f64());
    let _ = writeln!(
        out,
        "{:<4} {:<12} {:<24} {:>10} {:>10} {:>10} {:>10} {:>13}",
        "port", "name", "device", "rx", "tx", "rx_missed", "tx_refused", "tx_lock_waits"
    );
    for (i, s) in port_stats.iter().enumerate() {
        let (name, dev) = if i == 0 {
            ("uplink", cfg.uplink_device.as_str())
        } else {
            (
                cfg.access_ports[i - 1].name.as_str(),
                cfg.access_ports[i - 1].device.as_str(),
            )
        };
        let sum =
            |f: fn(&TxCounts) -> u64| -> u64 { tx.iter().filter_map(|w| w.get(i)).map(f).sum() };
        let (refused, waits) = (sum(|c| c.refused), sum(|c| c.lock_waits));
        let _ = writeln!(
            out,
            "{i:<4} {name:<12} {dev:<24} {:>10} {:>10} {:>10} {refused:>10} {waits:>13}",
            s.rx_packets, s.tx_packets, s.rx_missed
        );
    }
    let _ = writeln!(out, "stats:");
    for s in Stat::ALL {
        let v = total_stat(counters, *s);
        if v > 0 {
            let _ = writeln!(out, "  {:<24} {v}", s.name());
        }
    }
    let _ = writeln!(out, "drops:");
    for r in DropReason::ALL {
        let v = total_drops(counters, *r);
        if v > 0 {
            let _ = writeln!(out, "  {:<24} {v}", r.name());
        }
    }
    let st = m.stats;
    let snap = m.snapshot();
    let _ = writeln!(
        out,
        "tables: macs {} (learned {}, moved {}, aged {}, refused {}), publishes {}, arp_requests {}",
        snap.macs.len(),
        st.macs_learned,
        st.mac_moves,
        st.macs_aged,
        st.mac_table_full,
        st.publishes,
        st.arp_requests_sent
    );
    let _ = writeln!(
        out,
        "control: ip_bindings {} (refused {}), arp_answered_by_controller {}, arp_unanswered {}, agent_cmds_lost {}",
        st.ip_bindings, st.arp_table_full, st.arp_answered_by_controller, st.arp_unanswered, st.agent_cmds_lost
    );
    let _ = writeln!(
        out,
        "port security: lists locked {}, macs over max_macs refused {}; arp bindings aged {}",
        st.port_locks,
        m.refused
            .port_mac_limit
            .load(std::sync::atomic::Ordering::Relaxed),
        st.arps_aged
    );
    let _ = writeln!(out, "mbufs_in_use_after_close {in_use}");
    out
}
