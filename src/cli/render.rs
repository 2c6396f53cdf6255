//! How the CLI prints answers for people: aligned tables of the typed rows, ping's lines.

use crate::api::host::{
    MacKind, PingReply, PingReport, PortRow, ProxyRole, Replicas, Response, SessionState,
};
use crate::api::VniStat;
use std::fmt::Write as _;
use std::net::Ipv4Addr;

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".into(), |v| v.to_string())
}

/// A host answer as the table an operator reads.
pub fn render_host(r: &Response) -> String {
    match r {
        Response::VtepList(rows) => table(
            &["IP", "Segment", "Is MTEP", "Role", "Next hop", "Resolved"],
            &rows
                .iter()
                .map(|v| {
                    vec![
                        v.ip.to_string(),
                        opt(v.segment),
                        v.is_mtep.to_string(),
                        opt(v.role.map(ProxyRole::name)),
                        opt(v.next_hop),
                        if v.resolved { "yes" } else { "no" }.into(),
                    ]
                })
                .collect::<Vec<_>>(),
        ),
        Response::Vnis(rows) => table(
            &[
                "VNI",
                "BUM-Replication",
                "Group",
                "Role",
                "Ports",
                "VTEPs",
                "Copies",
                "BUM frames",
                "To VTEPs",
                "To proxies",
                "To group",
                "Relayed in/out",
            ],
            &rows
                .iter()
                .map(|v| {
                    let c = |s: VniStat| v.counters.get(&s).copied().unwrap_or(0).to_string();
                    vec![
                        v.vni.to_string(),
                        v.replication.to_string(),
                        opt(v.multicast_group),
                        opt(v.role.map(ProxyRole::name)),
                        v.ports.to_string(),
                        v.vteps.to_string(),
                        v.copies_per_frame.to_string(),
                        c(VniStat::BumFrames),
                        c(VniStat::UnicastCopies),
                        c(VniStat::ProxyCopies),
                        c(VniStat::GroupCopies),
                        format!(
                            "{}/{}",
                            c(VniStat::ReplicateReceived),
                            c(VniStat::ReplicateForwarded)
                        ),
                    ]
                })
                .collect::<Vec<_>>(),
        ),
        Response::MacList(rows) => table(
            &["Inner MAC", "Outer MAC", "Outer IP", "Port", "Kind"],
            &rows
                .iter()
                .map(|m| {
                    vec![
                        m.inner_mac.to_string(),
                        opt(m.outer_mac),
                        opt(m.outer_ip),
                        opt(m.port.as_ref()),
                        match m.kind {
                            MacKind::Static => "static",
                            MacKind::Learned => "learned",
                        }
                        .into(),
                    ]
                })
                .collect::<Vec<_>>(),
        ),
        Response::ArpList(rows) => table(
            &["IP", "MAC"],
            &rows
                .iter()
                .map(|a| vec![a.ip.to_string(), a.mac.to_string()])
                .collect::<Vec<_>>(),
        ),
        Response::Connections(rows) => table(
            &[
                "Proto",
                "Local Address",
                "Foreign Address",
                "State",
                "Controller",
                "Owns VNIs",
                "Last error",
            ],
            &rows
                .iter()
                .map(|c| {
                    vec![
                        "tcp".into(),
                        opt(c.local),
                        c.controller.to_string(),
                        match c.state {
                            SessionState::Connecting => "CONNECTING",
                            SessionState::Established => "ESTABLISHED",
                            SessionState::Down => "DOWN",
                        }
                        .into(),
                        opt(c.id.as_ref()),
                        c.vnis
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(","),
                        opt(c.last_error.as_ref()),
                    ]
                })
                .collect::<Vec<_>>(),
        ),
        Response::Routes(rows) => table(
            &["Network", "Netmask", "Gateway", "Interface", "Source"],
            &rows
                .iter()
                .map(|r| {
                    let network = if r.destination.prefix_len == 0 {
                        "default".to_string()
                    } else {
                        r.destination.addr.to_string()
                    };
                    vec![
                        network,
                        r.destination.netmask().to_string(),
                        r.gateway.unwrap_or(Ipv4Addr::UNSPECIFIED).to_string(),
                        r.interface.clone(),
                        r.source.to_string(),
                    ]
                })
                .collect::<Vec<_>>(),
        ),
        Response::Neighbors(rows) => table(
            &["Neighbor", "Mac Address", "Interface"],
            &rows
                .iter()
                .map(|n| vec![n.ip.to_string(), n.mac.to_string(), n.interface.clone()])
                .collect::<Vec<_>>(),
        ),
        Response::Stats(s) => {
            let mut rows: Vec<Vec<String>> = s
                .stats
                .iter()
                .filter(|(_, v)| **v != 0)
                .map(|(k, v)| vec![k.name().to_string(), v.to_string()])
                .collect();
            rows.extend(
                s.drops
                    .iter()
                    .filter(|(_, v)| **v != 0)
                    .map(|(k, v)| vec![format!("drop {}", k.name()), v.to_string()]),
            );
            rows.push(vec!["mbufs_in_use".into(), s.mbufs_in_use.to_string()]);
            let mut out = table(&["Counter", "Value"], &rows);
            if !s.workers.is_empty() {
                let per_worker: Vec<Vec<String>> = s
                    .workers
                    .iter()
                    .enumerate()
                    .map(|(i, w)| {
                        let per_frame = (w.busy_frames > 0)
                            .then(|| format!("{:.0}", w.busy_cycles as f64 / w.busy_frames as f64));
                        vec![
                            i.to_string(),
                            w.core.to_string(),
                            w.busy_frames.to_string(),
                            per_frame.unwrap_or_else(|| "-".into()),
                        ]
                    })
                    .collect();
                out.push('\n');
                out.push_str(&table(
                    &["Worker", "Core", "Busy Frames", "Cycles/Frame"],
                    &per_worker,
                ));
            }
            out
        }
        Response::Ports(rows) => render_ports(rows),
        Response::PortSecurity(rows) => table(
            &[
                "Port",
                "VNI",
                "Port Security",
                "MACs",
                "IPs",
                "DHCP Server",
                "MACs Learned",
            ],
            &rows
                .iter()
                .map(|r| {
                    let list = |v: Vec<String>| {
                        if v.is_empty() {
                            "-".into()
                        } else {
                            v.join(",")
                        }
                    };
                    vec![
                        r.port.clone(),
                        r.vni.to_string(),
                        r.mode.name().into(),
                        list(r.macs.iter().map(ToString::to_string).collect()),
                        list(r.ips.iter().map(ToString::to_string).collect()),
                        if r.dhcp_server { "trusted" } else { "-" }.into(),
                        match r.max_macs {
                            Some(m) => format!("{}/{m}", r.macs_learned),
                            None => r.macs_learned.to_string(),
                        },
                    ]
                })
                .collect::<Vec<_>>(),
        ),
        Response::Ping(p) => render_ping(p),
        Response::MacEdit(d) => format!(
            "{} MAC entries changed, published in {:.1} us\n",
            d.changed, d.publish_us
        ),
        Response::Trace(r) => super::trace::render(r),
        Response::Capture(c) => format!("{} frame(s), {} lost\n", c.frames.len(), c.lost),
    }
}

/// Counters, then each port's setup (pool, how replicas leave, who finishes VMs'
/// offloads).
fn render_ports(rows: &[PortRow]) -> String {
    let counters = table(
        &[
            "Port",
            "Rx Packets",
            "Tx Packets",
            "Rx Missed",
            "Rx Errors",
            "Tx Errors",
            "Rx No Mbuf",
        ],
        &rows
            .iter()
            .map(|p| {
                vec![
                    p.name.clone(),
                    p.rx_packets.to_string(),
                    p.tx_packets.to_string(),
                    p.rx_missed.to_string(),
                    p.rx_errors.to_string(),
                    p.tx_errors.to_string(),
                    p.rx_nombuf.to_string(),
                ]
            })
            .collect::<Vec<_>>(),
    );
    let setup = table(
        &[
            "Port",
            "Id",
            "Device",
            "Driver",
            "MTU",
            "Rx Mbufs",
            "Queues Rx/Tx",
            "Replicas",
            "Guest Offloads",
        ],
        &rows
            .iter()
            .map(|p| {
                let s = &p.setup;
                vec![
                    p.name.clone(),
                    p.port_id.to_string(),
                    s.device.clone(),
                    s.driver.clone(),
                    s.mtu.to_string(),
                    format!("{} ({} B)", s.rx_pool.name(), s.rx_mbuf_bytes),
                    format!(
                        "{}/{}{}",
                        s.rx_queues,
                        s.tx_queues,
                        if s.tx_shared { " shared" } else { "" }
                    ),
                    s.replicas.map_or("-", Replicas::name).to_string(),
                    s.guest_offloads.name().to_string(),
                ]
            })
            .collect::<Vec<_>>(),
    );
    format!("{counters}\n{setup}")
}

pub fn render_ping(v: &PingReport) -> String {
    let mut out = format!(
        "PING {} ({}) from {}: {} data bytes (DF)\n",
        v.dst, v.dst, v.src, v.size
    );
    for r in &v.replies {
        match r {
            PingReply::Timeout { seq } => {
                let _ = writeln!(out, "icmp_seq={seq} timeout");
            }
            PingReply::Reply {
                seq,
                from,
                bytes,
                rtt_ms,
            } => {
                let _ = writeln!(
                    out,
                    "{bytes} bytes from {from}: icmp_seq={seq} time={rtt_ms:.3} ms"
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "{} packets transmitted, {} received",
        v.sent, v.received
    );
    out
}

/// A left-aligned text table.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut w: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.len());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: Vec<&str>| {
        let l: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = w[i]))
            .collect();
        let _ = writeln!(out, "{}", l.join("  ").trim_end());
    };
    line(&mut out, headers.to_vec());
    let rules: Vec<String> = w.iter().map(|n| "-".repeat(*n)).collect();
    line(&mut out, rules.iter().map(String::as_str).collect());
    for r in rows {
        line(&mut out, r.iter().map(String::as_str).collect());
    }
    out
}

/// The controller's refusal counters, one per line (`show refusals`).
pub fn refusals(r: &crate::api::rest::Refusals) -> String {
    let rows = [
        ("tls_handshake", r.tls_handshake),
        ("impersonation", r.impersonation),
        ("not_joined", r.not_joined),
        ("api_unauthenticated", r.api_unauthenticated),
        ("session_limit", r.session_limit),
        ("table_full", r.table_full),
        ("stale_reports", r.stale_reports),
        ("duplicates_frozen", r.duplicates_frozen),
        ("frozen_reports", r.frozen_reports),
    ];
    table(
        &["Refused", "Count"],
        &rows
            .iter()
            .map(|(k, v)| vec![k.to_string(), v.to_string()])
            .collect::<Vec<_>>(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::host;

    #[test]
    fn table_aligns_columns() {
        let t = table(
            &["VNI", "IP"],
            &[vec!["5001".into(), "192.168.250.51".into()]],
        );
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "VNI   IP");
        assert_eq!(lines[1], "----  --------------");
        assert_eq!(lines[2], "5001  192.168.250.51");
    }

    #[test]
    fn routes_render_as_an_operator_reads_them() {
        let r = Response::Routes(vec![
            host::Route {
                destination: "192.168.250.0/24".parse().unwrap(),
                gateway: None,
                interface: "uplink".into(),
                source: Ipv4Addr::new(192, 168, 250, 51),
            },
            host::Route {
                destination: crate::ids::Ipv4Net::new(Ipv4Addr::UNSPECIFIED, 0).unwrap(),
                gateway: Some(Ipv4Addr::new(192, 168, 250, 1)),
                interface: "uplink".into(),
                source: Ipv4Addr::new(192, 168, 250, 51),
            },
        ]);
        let t = render_host(&r);
        assert!(t.contains("192.168.250.0  255.255.255.0  0.0.0.0"), "{t}");
        assert!(
            t.contains("default        0.0.0.0        192.168.250.1"),
            "{t}"
        );
    }
}
