//! The operator's commands: `vxswitch show ...` (controller views over the REST API, host
//! views over the data plane's control socket), `vxswitch ping` from a VTEP, `vxswitch mac`
//! for static MACs and `vxswitch ls ...` to manage logical switches. Arguments are parsed
//! into the API's typed values; answers are typed rows, rendered as tables or as `--json`.
#![forbid(unsafe_code)]

mod capture;
mod render;
mod trace;

pub use capture::{capture, CaptureArgs};
pub use trace::{trace, TraceArgs};

use crate::api::host::{self, MacTarget, PingReport, PingRequest, Request};
use crate::api::rest::{LogicalSwitchView, SwitchSpec};
use crate::api::{HostClient, RestClient};
use crate::auth::ApiToken;
use crate::ids::{ReplicationMode, Vni};
use crate::wire::MacAddr;
use clap::{Args, Subcommand};
use render::{render_host, render_ping, table};
use serde::Serialize;
use std::net::Ipv4Addr;
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
    /// The file holding the controller API's bearer token (`vxswitch pki init` makes it).
    #[arg(long, global = true, env = "VXSWITCH_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// The data plane's control socket (host views and `ping`).
    #[arg(long, global = true, env = "VXSWITCH_SOCKET", default_value = host::DEFAULT_SOCKET)]
    pub socket: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

impl Target {
    /// The controller's API, with the token when a token file is given.
    fn api(&self) -> Result<RestClient, String> {
        let api = RestClient::new(&self.controller);
        match &self.token_file {
            None => Ok(api),
            Some(p) => Ok(api.with_token(&ApiToken::load(p).map_err(|e| e.to_string())?)),
        }
    }
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
    /// Controller: what it refused (TLS, impersonation, unauthenticated API calls...).
    Refusals,
    /// Controller: the control cluster (members, leader, majority) or its VNI slices.
    #[command(name = "control-cluster")]
    ControlCluster {
        #[command(subcommand)]
        what: ClusterView,
    },
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
    /// Host: the logical switches with ports here: BUM replication, this VTEP's role, copies.
    Vnis,
    /// Host: the VTEP stack's routes.
    Routes,
    /// Host: the VTEP stack's ARP cache (underlay neighbours).
    Neighbors,
    /// Host: data-plane counters and drops by reason.
    Stats,
    /// Host: the driver's packet counters of every port.
    Ports,
    /// Host: each VM port's port security (allowed MACs and IPs, DHCP trust, MAC limit).
    #[command(name = "port-security")]
    PortSecurity,
}

#[derive(Subcommand, Debug)]
pub enum LsView {
    /// Owning controller, BUM replication, ARP proxy.
    Vni { vni: Vni },
    #[command(name = "vtep-table")]
    VtepTable { vni: Vni },
    #[command(name = "mac-table")]
    MacTable { vni: Vni },
    #[command(name = "arp-table")]
    ArpTable { vni: Vni },
}

#[derive(Subcommand, Debug)]
pub enum ClusterView {
    /// Members, leader, join and majority status, this node's slices.
    Status,
    /// Slice -> controller and the VNIs in it (slices without VNIs with --all).
    Slices {
        #[arg(long)]
        all: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum HostList {
    List {
        #[arg(long)]
        vni: Vni,
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
        vni: Vni,
    },
}

/// Static MAC entries on this host's data plane (as VPP's `l2fib add|del`).
#[derive(Subcommand, Debug)]
pub enum Mac {
    /// Add (or re-point) MACs: `--count N` adds N consecutive addresses from --mac.
    Add {
        #[arg(long)]
        vni: Vni,
        #[arg(long)]
        mac: MacAddr,
        /// The remote VTEP the MACs are behind.
        #[arg(long, conflicts_with = "port", required_unless_present = "port")]
        vtep: Option<Ipv4Addr>,
        /// The access port the MACs are on.
        #[arg(long)]
        port: Option<String>,
        #[arg(long, default_value_t = 1)]
        count: u32,
    },
    /// Remove MACs (any kind): `--count N` removes N consecutive addresses from --mac.
    Del {
        #[arg(long)]
        vni: Vni,
        #[arg(long)]
        mac: MacAddr,
        #[arg(long, default_value_t = 1)]
        count: u32,
    },
}

#[derive(Args, Debug)]
pub struct LsArgs {
    #[arg(long)]
    pub vni: Vni,
    #[arg(long)]
    pub name: Option<String>,
    /// unicast, hybrid, multicast or head-end
    #[arg(long)]
    pub replication: Option<ReplicationMode>,
    /// on or off
    #[arg(long, value_parser = on_off)]
    pub arp_suppression: Option<bool>,
    #[arg(long)]
    pub multicast_group: Option<Ipv4Addr>,
}

fn on_off(s: &str) -> Result<bool, String> {
    match s {
        "on" | "true" | "enabled" => Ok(true),
        "off" | "false" | "disabled" => Ok(false),
        _ => Err(format!("{s:?} is not on/off")),
    }
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
        } => Request::MacAdd {
            vni: *vni,
            mac: *mac,
            count: *count,
            to: match (vtep, port) {
                (Some(ip), _) => MacTarget::Vtep(*ip),
                (None, Some(p)) => MacTarget::Port(p.clone()),
                (None, None) => return Err("mac add needs --vtep or --port".into()),
            },
        },
        Mac::Del { vni, mac, count } => Request::MacDel {
            vni: *vni,
            mac: *mac,
            count: *count,
        },
    };
    host_view(t, &req)
}

/// `vxswitch ping`: ICMP echo from the VTEP's own stack, DF set. Fails when nothing came back.
pub fn ping(t: &Target, dst: Ipv4Addr, size: u16, count: u16) -> Result<String, String> {
    let req = Request::Ping(PingRequest { dst, size, count });
    let report: PingReport = HostClient::new(&t.socket)
        .get(req)
        .map_err(|e| e.to_string())?;
    let out = if t.json {
        json(&report)
    } else {
        render_ping(&report)
    };
    if report.received == 0 {
        return Err(out);
    }
    Ok(out)
}

/// Runs a `show` and returns what to print.
pub fn show(what: &Show, t: &Target) -> Result<String, String> {
    let host_req = match what {
        Show::LogicalSwitches { what } => return show_controller(what.as_ref(), t),
        Show::ControlCluster { what } => return show_cluster(what, t),
        Show::Refusals => {
            let r = t.api()?.refusals().map_err(|e| e.to_string())?;
            return Ok(if t.json {
                json(&r)
            } else {
                render::refusals(&r)
            });
        }
        Show::Hypervisors => {
            let h = t.api()?.hypervisors().map_err(|e| e.to_string())?;
            let rows = h
                .iter()
                .map(|h| {
                    let vnis: Vec<String> = h.vnis.iter().map(Vni::to_string).collect();
                    vec![
                        h.host.clone(),
                        h.address.to_string(),
                        h.vtep_ip.to_string(),
                        h.vtep_mac.to_string(),
                        h.synced.to_string(),
                        format!("[{}]", vnis.join(",")),
                    ]
                })
                .collect::<Vec<_>>();
            return Ok(if t.json {
                json(&h)
            } else {
                table(
                    &["Host", "Address", "VTEP-IP", "VTEP-MAC", "Synced", "VNIs"],
                    &rows,
                )
            });
        }
        Show::Vtep {
            list: HostList::List { vni },
        } => Request::VtepList { vni: *vni },
        Show::Mac {
            list: HostList::List { vni },
        } => Request::MacList { vni: *vni },
        Show::Arp {
            list: HostList::List { vni },
        } => Request::ArpList { vni: *vni },
        Show::Connections => Request::Connections,
        Show::Vnis => Request::Vnis,
        Show::Routes => Request::Routes,
        Show::Neighbors => Request::Neighbors,
        Show::Stats => Request::Stats,
        Show::Ports => Request::Ports,
        Show::PortSecurity => Request::PortSecurity,
    };
    host_view(t, &host_req)
}

/// One host request, its answer rendered.
fn host_view(t: &Target, req: &Request) -> Result<String, String> {
    let r = HostClient::new(&t.socket)
        .call(req)
        .map_err(|e| e.to_string())?;
    if t.json {
        let rows = r.rows_json().map_err(|e| e.to_string())?;
        return Ok(json(&rows));
    }
    Ok(render_host(&r))
}

fn show_controller(what: Option<&LsView>, t: &Target) -> Result<String, String> {
    let api = t.api()?;
    let e = |e: crate::api::RestError| e.to_string();
    let (value, text) = match what {
        None => {
            let l = api.switches().map_err(e)?;
            let rows = l
                .iter()
                .map(|v| {
                    vec![
                        v.switch.vni.to_string(),
                        v.switch.name.clone(),
                        v.controller.clone(),
                        v.switch.replication_mode.to_string(),
                        enabled(v.switch.arp_suppression),
                    ]
                })
                .collect::<Vec<_>>();
            let text = table(
                &["VNI", "Name", "Controller", "BUM-Replication", "ARP-Proxy"],
                &rows,
            );
            (json(&l), text)
        }
        Some(LsView::Vni { vni }) => {
            let v: LogicalSwitchView = api.switch(*vni).map_err(e)?;
            let count = |n: Option<usize>| n.map_or("-".into(), |n| n.to_string());
            let text = table(
                &[
                    "VNI",
                    "Controller",
                    "BUM-Replication",
                    "ARP-Proxy",
                    "Connections",
                    "VTEPs",
                ],
                &[vec![
                    v.switch.vni.to_string(),
                    if v.controller.is_empty() {
                        "(moving)".into()
                    } else {
                        v.controller.clone()
                    },
                    format!("Enabled ({})", v.switch.replication_mode),
                    enabled(v.switch.arp_suppression),
                    count(v.connections),
                    count(v.vteps),
                ]],
            );
            (json(&v), text)
        }
        Some(LsView::VtepTable { vni }) => {
            let r = api.vtep_table(*vni).map_err(e)?;
            let rows = r
                .iter()
                .map(|v| {
                    vec![
                        v.vni.to_string(),
                        v.ip.to_string(),
                        v.segment.to_string(),
                        v.mac.to_string(),
                        v.host.clone(),
                        if v.proxy { "yes" } else { "-" }.into(),
                    ]
                })
                .collect::<Vec<_>>();
            let text = table(&["VNI", "IP", "Segment", "MAC", "Host", "Proxy"], &rows);
            (json(&r), text)
        }
        Some(LsView::MacTable { vni }) => {
            let r = api.mac_table(*vni).map_err(e)?;
            let rows = r
                .iter()
                .map(|m| vec![m.vni.to_string(), m.mac.to_string(), m.vtep_ip.to_string()])
                .collect::<Vec<_>>();
            (json(&r), table(&["VNI", "MAC", "VTEP-IP"], &rows))
        }
        Some(LsView::ArpTable { vni }) => {
            let r = api.arp_table(*vni).map_err(e)?;
            let rows = r
                .iter()
                .map(|a| vec![a.vni.to_string(), a.ip.to_string(), a.mac.to_string()])
                .collect::<Vec<_>>();
            (json(&r), table(&["VNI", "IP", "MAC"], &rows))
        }
    };
    Ok(if t.json { value } else { text })
}

fn show_cluster(what: &ClusterView, t: &Target) -> Result<String, String> {
    let api = t.api()?;
    let e = |e: crate::api::RestError| e.to_string();
    match what {
        ClusterView::Status => {
            let s = api.cluster_status().map_err(e)?;
            if t.json {
                return Ok(json(&s));
            }
            let yes = |b: bool| if b { "yes" } else { "no" };
            let mut out = format!(
                "Controller:      {}\nMode:            {}\nJoin status:     {}\nMajority status: {}\nLeader:          {}\nSlice map epoch: {}\nSlices here:     {}\n",
                s.controller,
                s.mode,
                if s.majority { "Join complete" } else { "Not joined" },
                if s.majority { "Connected to cluster majority" } else { "Interrupted connection to cluster majority" },
                s.leader.as_deref().unwrap_or("-"),
                s.epoch,
                s.slices_here,
            );
            if let Some(err) = &s.error {
                out.push_str(&format!("etcd:            {err}\n"));
            }
            let rows = s
                .members
                .iter()
                .map(|m| {
                    vec![
                        m.id.clone(),
                        m.agents.clone(),
                        m.api.clone(),
                        m.slices.to_string(),
                        yes(s.leader.as_deref() == Some(m.id.as_str())).into(),
                    ]
                })
                .collect::<Vec<_>>();
            out.push('\n');
            out.push_str(&table(
                &["Member", "Agents", "API", "Slices", "Leader"],
                &rows,
            ));
            Ok(out)
        }
        ClusterView::Slices { all } => {
            let s = api.cluster_slices().map_err(e)?;
            let rows: Vec<_> = s.iter().filter(|r| *all || !r.vnis.is_empty()).collect();
            if t.json {
                return Ok(json(&rows));
            }
            let mut per: std::collections::BTreeMap<&str, usize> = Default::default();
            for r in &s {
                *per.entry(r.controller.as_str()).or_default() += 1;
            }
            let text = rows
                .iter()
                .map(|r| {
                    let v: Vec<String> = r.vnis.iter().map(Vni::to_string).collect();
                    vec![
                        r.slice.to_string(),
                        if r.controller.is_empty() {
                            "(moving)".into()
                        } else {
                            r.controller.clone()
                        },
                        v.join(","),
                    ]
                })
                .collect::<Vec<_>>();
            let mut out = table(&["Slice", "Controller", "VNIs"], &text);
            out.push_str(&format!(
                "\n{} slices (slice = vni % {}):",
                s.len(),
                s.len()
            ));
            for (c, n) in per {
                out.push_str(&format!(
                    " {}={n}",
                    if c.is_empty() { "(moving)" } else { c }
                ));
            }
            out.push('\n');
            Ok(out)
        }
    }
}

/// `vxswitch ls create|update|delete`.
pub fn ls(cmd: &Ls, t: &Target) -> Result<String, String> {
    let api = t.api()?;
    let spec = |a: &LsArgs, with_vni: bool| SwitchSpec {
        vni: with_vni.then_some(a.vni),
        name: a.name.clone(),
        replication_mode: a.replication,
        arp_suppression: a.arp_suppression,
        multicast_group: a.multicast_group.map(Some),
    };
    let v = match cmd {
        Ls::Create(a) => api.create(&spec(a, true)),
        Ls::Update(a) => api.update(a.vni, &spec(a, false)),
        Ls::Delete { vni } => {
            api.delete(*vni).map_err(|e| e.to_string())?;
            return Ok(format!("logical switch {vni} deleted\n"));
        }
    };
    Ok(json(&v.map_err(|e| e.to_string())?))
}

fn json(v: &impl Serialize) -> String {
    format!("{}\n", serde_json::to_string_pretty(v).unwrap_or_default())
}

fn enabled(on: bool) -> String {
    if on { "Enabled" } else { "Disabled" }.into()
}
