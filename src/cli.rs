//! The operator's commands: `vxswitch show ...` (controller views over the REST API, host
//! views over the data plane's control socket), `vxswitch ping` from a VTEP, and
//! `vxswitch ls ...` to manage logical switches. Human tables by default, `--json` for
//! scripts.
#![forbid(unsafe_code)]

use crate::agent::control::request;
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::path::PathBuf;

/// Where the views come from.
#[derive(Args, Clone, Debug)]
pub struct Target {
    /// The controller's API (controller views and `ls`).
    #[arg(
        long,
        global = true,
        env = "VXSWITCH_CONTROLLER",
        default_value = "http://127.0.0.1:8080"
    )]
    pub controller: String,
    /// The data plane's control socket (host views and `ping`).
    #[arg(long, global = true, env = "VXSWITCH_SOCKET", default_value = crate::config::DEFAULT_CONTROL_SOCKET)]
    pub socket: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum Show {
    /// Controller: logical switches, or one VNI's owner and tables.
    #[command(name = "logical-switches")]
    LogicalSwitches {
        #[command(subcommand)]
        what: Option<LsView>,
    },
    /// Controller: hypervisors connected to it.
    Hypervisors,
    /// Host: the VTEPs a VNI floods to.
    Vtep {
        #[command(subcommand)]
        list: HostList,
    },
    /// Host: the MAC table of a VNI (inner MAC, outer MAC, outer IP).
    Mac {
        #[command(subcommand)]
        list: HostList,
    },
    /// Host: the ARP table of a VNI (what ARP suppression answers from).
    Arp {
        #[command(subcommand)]
        list: HostList,
    },
    /// Host: sessions to controllers.
    Connections,
    /// Host: the VTEP stack's routes.
    Routes,
    /// Host: the VTEP stack's ARP cache (underlay neighbours).
    Neighbors,
    /// Host: data-plane counters and drops by reason.
    Stats,
    /// Host: the driver's packet counters of every port.
    Ports,
}

#[derive(Subcommand, Debug)]
pub enum LsView {
    /// Owning controller, BUM replication, ARP proxy.
    Vni { vni: u32 },
    #[command(name = "vtep-table")]
    VtepTable { vni: u32 },
    #[command(name = "mac-table")]
    MacTable { vni: u32 },
    #[command(name = "arp-table")]
    ArpTable { vni: u32 },
}

#[derive(Subcommand, Debug)]
pub enum HostList {
    List {
        #[arg(long)]
        vni: u32,
    },
}

#[derive(Subcommand, Debug)]
pub enum Ls {
    /// Create a logical switch.
    Create(LsArgs),
    /// Change a logical switch (what is not given stays).
    Update(LsArgs),
    /// Delete a logical switch (refused while VMs are on it).
    Delete {
        #[arg(long)]
        vni: u32,
    },
}

/// Static MAC entries on this host's data plane (as VPP's `l2fib add|del`).
#[derive(Subcommand, Debug)]
pub enum Mac {
    /// Add (or re-point) MACs: `--count N` adds N consecutive addresses from --mac.
    Add {
        #[arg(long)]
        vni: u32,
        #[arg(long)]
        mac: String,
        /// The remote VTEP the MACs are behind.
        #[arg(long, conflicts_with = "port", required_unless_present = "port")]
        vtep: Option<String>,
        /// The access port the MACs are on.
        #[arg(long)]
        port: Option<String>,
        #[arg(long, default_value_t = 1)]
        count: u32,
    },
    /// Remove MACs (any kind): `--count N` removes N consecutive addresses from --mac.
    Del {
        #[arg(long)]
        vni: u32,
        #[arg(long)]
        mac: String,
        #[arg(long, default_value_t = 1)]
        count: u32,
    },
}

/// `vxswitch mac add|del`: one edit, published as one new table version.
pub fn mac(cmd: &Mac, t: &Target) -> Result<String, String> {
    let req = match cmd {
        Mac::Add {
            vni,
            mac,
            vtep,
            port,
            count,
        } => json!({"mac": {"op": "add", "vni": vni, "mac": mac, "vtep": vtep, "port": port,
                            "count": count}}),
        Mac::Del { vni, mac, count } => {
            json!({"mac": {"op": "del", "vni": vni, "mac": mac, "count": count}})
        }
    };
    let v = request(&t.socket, &req)?;
    Ok(if t.json {
        format!("{v}\n")
    } else {
        format!(
            "{} MAC entries changed, published in {:.1} us\n",
            s(&v["changed"]),
            v["publish_us"].as_f64().unwrap_or(0.0)
        )
    })
}

#[derive(Args, Debug)]
pub struct LsArgs {
    #[arg(long)]
    pub vni: u32,
    #[arg(long)]
    pub name: Option<String>,
    /// unicast, hybrid or multicast
    #[arg(long)]
    pub replication: Option<String>,
    /// on or off
    #[arg(long)]
    pub arp_suppression: Option<String>,
    #[arg(long)]
    pub multicast_group: Option<String>,
}

fn http(method: &str, url: &str, body: Option<Value>) -> Result<Value, String> {
    let req = ureq::request(method, url).timeout(std::time::Duration::from_secs(10));
    let r = match body {
        Some(b) => req.send_json(b),
        None => req.call(),
    };
    match r {
        Ok(resp) if resp.status() == 204 => Ok(Value::Null),
        Ok(resp) => resp.into_json().map_err(|e| format!("{url}: {e}")),
        Err(ureq::Error::Status(code, resp)) => {
            let v: Value = resp.into_json().unwrap_or(Value::Null);
            Err(format!(
                "{code}: {}",
                v["error"].as_str().unwrap_or("request refused")
            ))
        }
        Err(e) => Err(format!("{url}: {e}")),
    }
}

fn api(t: &Target, path: &str) -> Result<Value, String> {
    http(
        "GET",
        &format!("{}/api/v1/{path}", t.controller.trim_end_matches('/')),
        None,
    )
}

fn s(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
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
    line(
        &mut out,
        w.iter()
            .map(|n| "-".repeat(*n))
            .collect::<Vec<_>>()
            .iter()
            .map(|s| s.as_str())
            .collect(),
    );
    for r in rows {
        line(&mut out, r.iter().map(|s| s.as_str()).collect());
    }
    out
}

fn rows(v: &Value, cols: &[&str]) -> Vec<Vec<String>> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|r| cols.iter().map(|c| s(&r[*c])).collect())
                .collect()
        })
        .unwrap_or_default()
}

/// Turns a view's JSON into the table an operator reads.
type Render = Box<dyn Fn(&Value) -> String>;

/// Runs a `show` and returns what to print.
pub fn show(what: &Show, t: &Target) -> Result<String, String> {
    let (v, render): (Value, Render) = match what {
        Show::LogicalSwitches { what: None } => (
            api(t, "logical-switches")?,
            Box::new(|v| {
                let mut r = rows(
                    v,
                    &[
                        "vni",
                        "name",
                        "controller",
                        "replication_mode",
                        "arp_suppression",
                    ],
                );
                for row in &mut r {
                    row[4] = enabled(&row[4]);
                }
                table(
                    &["VNI", "Name", "Controller", "BUM-Replication", "ARP-Proxy"],
                    &r,
                )
            }),
        ),
        Show::LogicalSwitches {
            what: Some(LsView::Vni { vni }),
        } => (
            api(t, &format!("logical-switches/{vni}"))?,
            Box::new(|v| {
                table(
                    &["VNI", "Controller", "BUM-Replication", "ARP-Proxy"],
                    &[vec![
                        s(&v["vni"]),
                        s(&v["controller"]),
                        format!("Enabled ({})", s(&v["replication_mode"])),
                        enabled(&s(&v["arp_suppression"])),
                    ]],
                )
            }),
        ),
        Show::LogicalSwitches {
            what: Some(LsView::VtepTable { vni }),
        } => (
            api(t, &format!("logical-switches/{vni}/vtep-table"))?,
            Box::new(|v| {
                table(
                    &["VNI", "IP", "Segment", "MAC", "Host"],
                    &rows(v, &["vni", "ip", "segment", "mac", "host"]),
                )
            }),
        ),
        Show::LogicalSwitches {
            what: Some(LsView::MacTable { vni }),
        } => (
            api(t, &format!("logical-switches/{vni}/mac-table"))?,
            Box::new(|v| {
                table(
                    &["VNI", "MAC", "VTEP-IP"],
                    &rows(v, &["vni", "mac", "vtep_ip"]),
                )
            }),
        ),
        Show::LogicalSwitches {
            what: Some(LsView::ArpTable { vni }),
        } => (
            api(t, &format!("logical-switches/{vni}/arp-table"))?,
            Box::new(|v| table(&["VNI", "IP", "MAC"], &rows(v, &["vni", "ip", "mac"]))),
        ),
        Show::Hypervisors => (
            api(t, "hypervisors")?,
            Box::new(|v| {
                table(
                    &["Host", "Address", "VTEP-IP", "VTEP-MAC", "Synced", "VNIs"],
                    &rows(
                        v,
                        &["host", "address", "vtep_ip", "vtep_mac", "synced", "vnis"],
                    ),
                )
            }),
        ),
        Show::Vtep {
            list: HostList::List { vni },
        } => (
            request(&t.socket, &json!({"show": "vtep-list", "vni": vni}))?,
            Box::new(|v| {
                let mut r = rows(v, &["ip", "segment", "is_mtep", "next_hop", "resolved"]);
                for row in &mut r {
                    row[4] = if row[4] == "true" {
                        "yes".into()
                    } else {
                        "no".into()
                    };
                }
                table(&["IP", "Segment", "Is MTEP", "Next hop", "Resolved"], &r)
            }),
        ),
        Show::Mac {
            list: HostList::List { vni },
        } => (
            request(&t.socket, &json!({"show": "mac-list", "vni": vni}))?,
            Box::new(|v| {
                table(
                    &["Inner MAC", "Outer MAC", "Outer IP", "Port", "Kind"],
                    &rows(v, &["inner_mac", "outer_mac", "outer_ip", "port", "kind"]),
                )
            }),
        ),
        Show::Arp {
            list: HostList::List { vni },
        } => (
            request(&t.socket, &json!({"show": "arp-list", "vni": vni}))?,
            Box::new(|v| table(&["IP", "MAC"], &rows(v, &["ip", "mac"]))),
        ),
        Show::Connections => (
            request(&t.socket, &json!({"show": "connections"}))?,
            Box::new(|v| {
                table(
                    &[
                        "Proto",
                        "Local Address",
                        "Foreign Address",
                        "State",
                        "Controller",
                        "Last error",
                    ],
                    &v.as_array()
                        .map(|a| {
                            a.iter()
                                .map(|r| {
                                    vec![
                                        "tcp".into(),
                                        s(&r["local"]),
                                        s(&r["controller"]),
                                        s(&r["state"]),
                                        s(&r["id"]),
                                        s(&r["last_error"]),
                                    ]
                                })
                                .collect::<Vec<_>>()
                        })
                        .unwrap_or_default(),
                )
            }),
        ),
        Show::Routes => (
            request(&t.socket, &json!({"show": "routes"}))?,
            Box::new(|v| {
                table(
                    &["Network", "Netmask", "Gateway", "Interface", "Source"],
                    &rows(v, &["network", "netmask", "gateway", "interface", "source"]),
                )
            }),
        ),
        Show::Neighbors => (
            request(&t.socket, &json!({"show": "neighbors"}))?,
            Box::new(|v| {
                table(
                    &["Neighbor", "Mac Address", "Interface"],
                    &rows(v, &["ip", "mac", "interface"]),
                )
            }),
        ),
        Show::Stats => (
            request(&t.socket, &json!({"show": "stats"}))?,
            Box::new(|v| {
                let mut r = Vec::new();
                for (k, x) in v["stats"].as_object().into_iter().flatten() {
                    if x.as_u64() != Some(0) {
                        r.push(vec![k.clone(), s(x)]);
                    }
                }
                for (k, x) in v["drops"].as_object().into_iter().flatten() {
                    if x.as_u64() != Some(0) {
                        r.push(vec![format!("drop {k}"), s(x)]);
                    }
                }
                table(&["Counter", "Value"], &r)
            }),
        ),
        Show::Ports => (
            request(&t.socket, &json!({"show": "ports"}))?,
            Box::new(|v| {
                table(
                    &[
                        "Port",
                        "Rx Packets",
                        "Tx Packets",
                        "Rx Missed",
                        "Rx Errors",
                        "Tx Errors",
                        "Rx No Mbuf",
                    ],
                    &rows(
                        v,
                        &[
                            "name",
                            "rx_packets",
                            "tx_packets",
                            "rx_missed",
                            "rx_errors",
                            "tx_errors",
                            "rx_nombuf",
                        ],
                    ),
                )
            }),
        ),
    };
    Ok(if t.json {
        format!("{}\n", serde_json::to_string_pretty(&v).unwrap_or_default())
    } else {
        render(&v)
    })
}

fn enabled(b: &str) -> String {
    if b == "true" {
        "Enabled".into()
    } else {
        "Disabled".into()
    }
}

/// `vxswitch ping`: ICMP echo from the VTEP's own stack, DF set.
pub fn ping(t: &Target, dst: &str, size: usize, count: u16) -> Result<String, String> {
    let v = request(
        &t.socket,
        &json!({"ping": {"dst": dst, "size": size, "count": count}}),
    )?;
    if t.json {
        return Ok(format!(
            "{}\n",
            serde_json::to_string_pretty(&v).unwrap_or_default()
        ));
    }
    let mut out = format!(
        "PING {} ({}) from {}: {} data bytes (DF)\n",
        s(&v["dst"]),
        s(&v["dst"]),
        s(&v["src"]),
        size
    );
    for r in v["replies"].as_array().into_iter().flatten() {
        if r.get("timeout").is_some() {
            let _ = writeln!(out, "icmp_seq={} timeout", s(&r["seq"]));
        } else {
            let _ = writeln!(
                out,
                "{} bytes from {}: icmp_seq={} time={:.3} ms",
                s(&r["bytes"]),
                s(&r["from"]),
                s(&r["seq"]),
                r["rtt_ms"].as_f64().unwrap_or(0.0)
            );
        }
    }
    let _ = writeln!(
        out,
        "{} packets transmitted, {} received",
        s(&v["sent"]),
        s(&v["received"])
    );
    if v["received"].as_u64() == Some(0) {
        return Err(out);
    }
    Ok(out)
}

/// `vxswitch ls create|update|delete`.
pub fn ls(cmd: &Ls, t: &Target) -> Result<String, String> {
    let base = format!(
        "{}/api/v1/logical-switches",
        t.controller.trim_end_matches('/')
    );
    let body = |a: &LsArgs, with_vni: bool| -> Result<Value, String> {
        let mut b = serde_json::Map::new();
        if with_vni {
            b.insert("vni".into(), json!(a.vni));
        }
        if let Some(n) = &a.name {
            b.insert("name".into(), json!(n));
        }
        if let Some(r) = &a.replication {
            b.insert("replication_mode".into(), json!(r));
        }
        if let Some(x) = &a.arp_suppression {
            let on = match x.as_str() {
                "on" | "true" | "enabled" => true,
                "off" | "false" | "disabled" => false,
                _ => return Err(format!("--arp-suppression: {x:?} is not on/off")),
            };
            b.insert("arp_suppression".into(), json!(on));
        }
        if let Some(g) = &a.multicast_group {
            b.insert("multicast_group".into(), json!(g));
        }
        Ok(Value::Object(b))
    };
    let v = match cmd {
        Ls::Create(a) => http("POST", &base, Some(body(a, true)?))?,
        Ls::Update(a) => http("PUT", &format!("{base}/{}", a.vni), Some(body(a, false)?))?,
        Ls::Delete { vni } => {
            http("DELETE", &format!("{base}/{vni}"), None)?;
            return Ok(format!("logical switch {vni} deleted\n"));
        }
    };
    Ok(format!(
        "{}\n",
        serde_json::to_string_pretty(&v).unwrap_or_default()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
