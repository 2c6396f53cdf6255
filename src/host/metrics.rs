//! The data plane's Prometheus metrics (`[control] metrics = "ADDR:PORT"`, `GET /metrics`).
//!
//! Workers count as they always do, into their own plain counters (no atomics added, no
//! lock); once a second the management thread reads them, the drivers' counters and its own
//! into a `metrics` recorder, and the control-plane thread renders that recorder's text for
//! each scrape. Names follow Prometheus' conventions: `vxswitch_..._total` for counters,
//! units in the name (`_seconds`, `_bytes`), labels for port, VNI, drop reason and worker.

use super::manager::TableManager;
use crate::api::{DropReason, Stat, VniStat};
use crate::dataplane::counters::{total_drops, total_stat, total_vni_stat, Counters};
use crate::dpdk::PortStats;
use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, Unit};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use std::sync::Arc;

/// The snapshot publish latency histogram: what the management thread spends making a
/// change visible to the workers (copy of the changed shards and the pointer swap).
pub const PUBLISH_SECONDS: &str = "vxswitch_snapshot_publish_seconds";
const PUBLISH_BUCKETS: &[f64] = &[
    1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 1e-2, 0.1,
];

/// A recorder and the handle that renders it.
pub fn recorder() -> (Arc<PrometheusRecorder>, PrometheusHandle) {
    let r = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(PUBLISH_SECONDS.into()), PUBLISH_BUCKETS)
        .expect("the buckets are not empty")
        .build_recorder();
    let h = r.handle();
    (Arc::new(r), h)
}

/// What the management thread exports besides its own tables.
pub struct Feed<'a> {
    pub counters: &'a [Arc<Counters>],
    /// The core of each worker, in the order of `counters`.
    pub cores: &'a [usize],
    /// The ports' names by PortIdx (0: the uplink) and their DPDK ids.
    pub ports: &'a [(String, u16)],
}

/// HELP lines; called once, under the recorder.
pub fn describe() {
    describe_counter!(
        "vxswitch_port_rx_packets_total",
        "Frames the driver received on the port"
    );
    describe_counter!(
        "vxswitch_port_tx_packets_total",
        "Frames the driver sent on the port"
    );
    describe_counter!(
        "vxswitch_port_rx_bytes_total",
        Unit::Bytes,
        "Bytes received on the port"
    );
    describe_counter!(
        "vxswitch_port_tx_bytes_total",
        Unit::Bytes,
        "Bytes sent on the port"
    );
    describe_counter!(
        "vxswitch_port_rx_missed_total",
        "Frames the NIC dropped because the RX ring was full"
    );
    describe_counter!("vxswitch_port_rx_errors_total", "Erroneous frames received");
    describe_counter!(
        "vxswitch_port_tx_errors_total",
        "Frames the driver failed to send"
    );
    describe_counter!(
        "vxswitch_port_rx_nombuf_total",
        "Receives that found no mbuf in the pool"
    );
    describe_counter!(
        "vxswitch_drops_total",
        "Frames dropped by the pipeline, by reason"
    );
    describe_counter!(
        "vxswitch_worker_busy_cycles_total",
        "TSC cycles of poll rounds that received frames"
    );
    describe_counter!(
        "vxswitch_worker_busy_frames_total",
        "Frames received in those poll rounds"
    );
    describe_gauge!(
        "vxswitch_tsc_hz",
        "TSC cycles per second (to read busy cycles)"
    );
    describe_gauge!("vxswitch_mac_entries", "MAC table entries");
    describe_gauge!("vxswitch_mac_capacity", "MAC table capacity");
    describe_gauge!(
        "vxswitch_arp_entries",
        "ARP table entries (IP to MAC, per VNI)"
    );
    describe_gauge!("vxswitch_arp_capacity", "ARP table capacity");
    describe_gauge!(
        "vxswitch_tunnels",
        "Remote VTEPs with an outer header template"
    );
    describe_gauge!(
        "vxswitch_snapshot_generation",
        "Table snapshots published so far"
    );
    describe_histogram!(
        PUBLISH_SECONDS,
        Unit::Seconds,
        "Time to publish a table snapshot (shard copies and the pointer swap)"
    );
    describe_gauge!("vxswitch_mbufs_in_use", "Mbufs taken from the pools");
    describe_gauge!(
        "vxswitch_controller_up",
        "A controller session is up (1) or not (0)"
    );
    describe_gauge!(
        "vxswitch_vni_vteps",
        "Remote VTEPs in the logical switch's flood list"
    );
    describe_gauge!(
        "vxswitch_vni_ports",
        "VM ports of the logical switch on this host"
    );
    for s in Stat::ALL {
        describe_counter!(
            stat_name(*s),
            format!("Pipeline: {}", s.name().replace('_', " "))
        );
    }
    for s in VniStat::ALL {
        describe_counter!(
            vni_stat_name(*s),
            format!("Per logical switch: {}", s.name().replace('_', " "))
        );
    }
}

fn stat_name(s: Stat) -> String {
    format!("vxswitch_{}_total", s.name())
}

fn vni_stat_name(s: VniStat) -> String {
    format!("vxswitch_vni_{}_total", s.name())
}

/// Reads everything into the recorder in scope (the management thread, once a second).
pub fn export(feed: &Feed<'_>, m: &TableManager, mbufs_in_use: u64) {
    for (name, id) in feed.ports {
        let s = PortStats::read(*id);
        let port = || [("port", name.clone())];
        counter!("vxswitch_port_rx_packets_total", &port()).absolute(s.rx_packets);
        counter!("vxswitch_port_tx_packets_total", &port()).absolute(s.tx_packets);
        counter!("vxswitch_port_rx_bytes_total", &port()).absolute(s.rx_bytes);
        counter!("vxswitch_port_tx_bytes_total", &port()).absolute(s.tx_bytes);
        counter!("vxswitch_port_rx_missed_total", &port()).absolute(s.rx_missed);
        counter!("vxswitch_port_rx_errors_total", &port()).absolute(s.rx_errors);
        counter!("vxswitch_port_tx_errors_total", &port()).absolute(s.tx_errors);
        counter!("vxswitch_port_rx_nombuf_total", &port()).absolute(s.rx_nombuf);
    }
    let c = feed.counters;
    for s in Stat::ALL {
        counter!(stat_name(*s)).absolute(total_stat(c, *s));
    }
    for r in DropReason::ALL {
        counter!("vxswitch_drops_total", "reason" => r.name()).absolute(total_drops(c, *r));
    }
    for (i, (w, core)) in c.iter().zip(feed.cores).enumerate() {
        let (cycles, frames) = w.busy_totals();
        let labels = [("worker", i.to_string()), ("core", core.to_string())];
        counter!("vxswitch_worker_busy_cycles_total", &labels).absolute(cycles);
        counter!("vxswitch_worker_busy_frames_total", &labels).absolute(frames);
    }
    gauge!("vxswitch_tsc_hz").set(crate::dpdk::tsc_hz() as f64);
    let snap = m.snapshot();
    for (vni, info) in snap.vnis.iter() {
        let vni = [("vni", vni.to_string())];
        for s in VniStat::ALL {
            counter!(vni_stat_name(*s), &vni).absolute(total_vni_stat(c, info.slot, *s));
        }
        gauge!("vxswitch_vni_vteps", &vni).set(info.vteps.len() as f64);
        gauge!("vxswitch_vni_ports", &vni).set(info.local_ports.len() as f64);
    }
    gauge!("vxswitch_mac_entries").set(snap.macs.len() as f64);
    gauge!("vxswitch_mac_capacity").set(m.mac_capacity as f64);
    gauge!("vxswitch_arp_entries").set(snap.arps.len() as f64);
    gauge!("vxswitch_arp_capacity").set(m.arp_capacity as f64);
    gauge!("vxswitch_tunnels").set(snap.tunnels.len() as f64);
    gauge!("vxswitch_snapshot_generation").set(snap.generation as f64);
    gauge!("vxswitch_controller_up").set(f64::from(u8::from(snap.controller_up)));
    gauge!("vxswitch_mbufs_in_use").set(mbufs_in_use as f64);
    let st = &m.stats;
    let mgmt: [(&'static str, u64); 12] = [
        ("vxswitch_snapshot_publishes_total", st.publishes),
        ("vxswitch_macs_learned_total", st.macs_learned),
        ("vxswitch_mac_moves_total", st.mac_moves),
        ("vxswitch_macs_aged_total", st.macs_aged),
        ("vxswitch_mac_table_full_total", st.mac_table_full),
        ("vxswitch_ip_bindings_total", st.ip_bindings),
        ("vxswitch_arp_table_full_total", st.arp_table_full),
        (
            "vxswitch_arp_answered_by_controller_total",
            st.arp_answered_by_controller,
        ),
        ("vxswitch_arp_unanswered_total", st.arp_unanswered),
        ("vxswitch_agent_commands_lost_total", st.agent_cmds_lost),
        (
            "vxswitch_vtep_arp_requests_sent_total",
            st.arp_requests_sent,
        ),
        ("vxswitch_port_security_locks_total", st.port_locks),
    ];
    for (name, v) in mgmt {
        counter!(name).absolute(v);
    }
    counter!("vxswitch_port_mac_limit_refused_total").absolute(
        m.refused
            .port_mac_limit
            .load(std::sync::atomic::Ordering::Relaxed),
    );
}

/// Serves `GET /metrics` (Prometheus' text format) until the runtime ends.
pub async fn serve(listener: std::net::TcpListener, handle: PrometheusHandle) {
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let text = handle.render();
            async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    text,
                )
            }
        }),
    );
    let served = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => axum::serve(l, app).await,
        Err(e) => Err(e),
    };
    if let Err(e) = served {
        tracing::error!("metrics listener: {e}");
    }
}

/// Binds the metrics listener (at start, so that a taken address is an error then).
pub fn bind(addr: std::net::SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let l = std::net::TcpListener::bind(addr)?;
    l.set_nonblocking(true)?;
    Ok(l)
}
