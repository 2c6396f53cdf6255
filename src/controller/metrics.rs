//! The controller's Prometheus metrics (`[controller] metrics = "ADDR:PORT"`, `GET /metrics`):
//! host sessions, the tables of the VNIs it owns, queries answered, messages by type. The
//! sessions count into `Counts` under the controller's lock as they go; a scrape reads
//! everything into the recorder and renders it.

use super::sessions::{lock, Shared};
use super::slices::SLICES;
use crate::proto::{agent_message::Body as A, controller_message::Body as C, ControllerMessage};
use metrics::{counter, describe_counter, describe_gauge, gauge};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusRecorder};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

/// What the sessions carried since the start.
#[derive(Debug, Default)]
pub struct Counts {
    /// Agent messages received, by type.
    pub received: BTreeMap<&'static str, u64>,
    /// Messages queued to hosts, by type (keepalives, sent by each session, are not here).
    pub sent: BTreeMap<&'static str, u64>,
    /// Messages a host's full queue refused (its session is closed; it resyncs).
    pub send_failed: u64,
    /// ARP and MAC queries answered: [unknown, found].
    pub arp_queries: [u64; 2],
    pub mac_queries: [u64; 2],
}

impl Counts {
    pub fn received(&mut self, body: Option<&A>) {
        self.count_in(match body {
            Some(A::Hello(_)) => "hello",
            Some(A::Join(_)) => "join",
            Some(A::Leave(_)) => "leave",
            Some(A::Mac(_)) => "mac_report",
            Some(A::Ip(_)) => "ip_report",
            Some(A::ArpQuery(_)) => "arp_query",
            Some(A::MacQuery(_)) => "mac_query",
            Some(A::SyncDone(_)) => "sync_done",
            Some(A::Keepalive(_)) => "keepalive",
            None => "unknown",
        });
    }
    pub fn count_in(&mut self, kind: &'static str) {
        *self.received.entry(kind).or_default() += 1;
    }
    pub fn sent(&mut self, m: &ControllerMessage) {
        let kind = match &m.body {
            Some(C::Welcome(_)) => "welcome",
            Some(C::VtepTable(_)) => "vtep_table",
            Some(C::LogicalSwitch(_)) => "logical_switch",
            Some(C::ArpReply(_)) => "arp_reply",
            Some(C::MacReply(_)) => "mac_reply",
            Some(C::Error(_)) => "error",
            Some(C::Keepalive(_)) => "keepalive",
            Some(C::SliceMap(_)) => "slice_map",
            None => "unknown",
        };
        *self.sent.entry(kind).or_default() += 1;
    }
}

/// The recorder a controller's scrapes render.
pub fn recorder() -> Arc<PrometheusRecorder> {
    let r = Arc::new(PrometheusBuilder::new().build_recorder());
    metrics::with_local_recorder(&*r, describe);
    r
}

fn describe() {
    describe_gauge!("vxswitch_controller_sessions", "Host sessions open");
    describe_gauge!(
        "vxswitch_controller_sessions_synced",
        "Host sessions whose full sync is done"
    );
    describe_gauge!(
        "vxswitch_controller_slices_owned",
        "VNI slices this controller owns now"
    );
    describe_gauge!(
        "vxswitch_controller_logical_switches",
        "Logical switches configured"
    );
    describe_gauge!(
        "vxswitch_controller_vni_vteps",
        "VTEPs in an owned VNI's VTEP table"
    );
    describe_gauge!(
        "vxswitch_controller_vni_macs",
        "Entries in an owned VNI's MAC table"
    );
    describe_gauge!(
        "vxswitch_controller_vni_arps",
        "Entries in an owned VNI's ARP table"
    );
    describe_counter!(
        "vxswitch_controller_messages_received_total",
        "Agent messages received, by type"
    );
    describe_counter!(
        "vxswitch_controller_messages_sent_total",
        "Messages queued to hosts, by type (keepalives excluded)"
    );
    describe_counter!(
        "vxswitch_controller_messages_send_failed_total",
        "Messages a host's full queue refused (the session is closed and resyncs)"
    );
    describe_counter!(
        "vxswitch_controller_queries_total",
        "ARP and MAC queries answered, by kind and result"
    );
    describe_counter!(
        "vxswitch_controller_refusals_total",
        "What was refused, by reason"
    );
}

/// Reads the controller into `recorder` and renders Prometheus' text format.
pub fn render(state: &Shared, recorder: &PrometheusRecorder) -> String {
    metrics::with_local_recorder(recorder, || {
        let c = lock(state);
        let now = Instant::now();
        gauge!("vxswitch_controller_sessions").set(c.sessions.len() as f64);
        let synced = c.sessions.values().filter(|s| s.synced).count();
        gauge!("vxswitch_controller_sessions_synced").set(synced as f64);
        let owned = (0..SLICES).filter(|s| c.own.owns(*s, now)).count();
        gauge!("vxswitch_controller_slices_owned").set(owned as f64);
        gauge!("vxswitch_controller_logical_switches").set(c.switches().len() as f64);
        for vni in c.tables.vnis() {
            let (vteps, macs, arps) = c.tables.sizes(vni);
            let l = [("vni", vni.to_string())];
            gauge!("vxswitch_controller_vni_vteps", &l).set(vteps as f64);
            gauge!("vxswitch_controller_vni_macs", &l).set(macs as f64);
            gauge!("vxswitch_controller_vni_arps", &l).set(arps as f64);
        }
        for (kind, n) in &c.counts.received {
            counter!("vxswitch_controller_messages_received_total", "type" => *kind).absolute(*n);
        }
        for (kind, n) in &c.counts.sent {
            counter!("vxswitch_controller_messages_sent_total", "type" => *kind).absolute(*n);
        }
        counter!("vxswitch_controller_messages_send_failed_total").absolute(c.counts.send_failed);
        for (kind, counts) in [("arp", c.counts.arp_queries), ("mac", c.counts.mac_queries)] {
            for (result, n) in ["unknown", "found"].into_iter().zip(counts) {
                counter!("vxswitch_controller_queries_total", "kind" => kind, "result" => result)
                    .absolute(n);
            }
        }
        let r = &c.refusals;
        for (reason, n) in [
            ("tls_handshake", r.tls_handshake),
            ("impersonation", r.impersonation),
            ("not_joined", r.not_joined),
            ("api_unauthenticated", r.api_unauthenticated),
            ("session_limit", r.session_limit),
            ("table_full", r.table_full),
            ("stale_report", r.stale_reports),
            ("duplicate_frozen", r.duplicates_frozen),
            ("frozen_report", r.frozen_reports),
        ] {
            counter!("vxswitch_controller_refusals_total", "reason" => reason).absolute(n);
        }
    });
    recorder.handle().render()
}

/// Serves `GET /metrics` on `listener` until the runtime ends.
pub async fn serve(listener: tokio::net::TcpListener, state: Shared) {
    let recorder = recorder();
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let text = render(&state, &recorder);
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
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!("controller: metrics listener: {e}");
    }
}
