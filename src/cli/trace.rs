//! `vxswitch trace`: a frame's path through a running data plane, stage by stage, against
//! its live tables. A dry run (a frame from fields or each frame of a pcap) changes nothing
//! and sends nothing; `--live` records the next frames a port receives as they are forwarded.

use super::{json, Target};
use crate::api::host::Request;
use crate::api::trace::{
    ArpDecision, CopyTo, LearnOutcome, LiveTraceRequest, Location, LookupResult, Step, TraceReport,
    TraceRequest,
};
use crate::api::HostClient;
use crate::dataplane::slow_path::{arp_frame, echo_request_frame, ethernet_frame};
use crate::wire::{ArpOperation, EtherType, MacAddr};
use clap::Args;
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct TraceArgs {
    /// The port the frames arrive on: "uplink" or a VM port's name.
    #[arg(long)]
    pub port: String,
    /// Record the next frames the port receives, forwarded as usual.
    #[arg(long, conflicts_with_all = ["pcap", "src"])]
    pub live: bool,
    /// With --live: how many frames.
    #[arg(long, default_value_t = 1)]
    pub count: u16,
    /// With --live: seconds to wait for them.
    #[arg(long, default_value_t = 10)]
    pub wait: u32,
    /// Trace each frame of this pcap file (a dry run).
    #[arg(long, conflicts_with = "src")]
    pub pcap: Option<PathBuf>,
    /// A frame from fields (a dry run): its source MAC...
    #[arg(long)]
    pub src: Option<MacAddr>,
    /// ...its destination MAC (broadcast by default)...
    #[arg(long, default_value = "ff:ff:ff:ff:ff:ff")]
    pub dst: MacAddr,
    /// ...an ARP request for this address (from --ip-src)...
    #[arg(long, requires = "ip_src")]
    pub arp: Option<Ipv4Addr>,
    /// ...or an ICMP echo request from --ip-src to --ip-dst (otherwise an empty IPv4 type
    /// frame).
    #[arg(long)]
    pub ip_src: Option<Ipv4Addr>,
    #[arg(long, requires = "ip_src")]
    pub ip_dst: Option<Ipv4Addr>,
}

/// Runs the trace and returns what to print.
pub fn trace(a: &TraceArgs, t: &Target) -> Result<String, String> {
    let host = HostClient::new(&t.socket);
    let report = if a.live {
        let req = Request::TraceLive(LiveTraceRequest {
            port: a.port.clone(),
            count: a.count,
            wait_ms: a.wait.saturating_mul(1000),
        });
        host.get::<TraceReport>(req).map_err(|e| e.to_string())?
    } else {
        let mut all: Option<TraceReport> = None;
        for frame in frames(a)? {
            let req = Request::Trace(TraceRequest {
                port: a.port.clone(),
                frame,
            });
            let r: TraceReport = host.get(req).map_err(|e| e.to_string())?;
            match &mut all {
                None => all = Some(r),
                Some(all) => all.frames.extend(r.frames),
            }
        }
        all.ok_or("the pcap holds no frame")?
    };
    Ok(if t.json {
        json(&report)
    } else {
        render(&report)
    })
}

/// The frames a dry run traces: the pcap's, or one from the fields given.
fn frames(a: &TraceArgs) -> Result<Vec<Vec<u8>>, String> {
    if let Some(p) = &a.pcap {
        let f = std::fs::File::open(p).map_err(|e| format!("{}: {e}", p.display()))?;
        return crate::wire::pcap::read(std::io::BufReader::new(f))
            .map_err(|e| format!("{}: {e}", p.display()));
    }
    let src = a.src.ok_or(
        "say which frame: --src MAC (and --dst, --arp or --ip-src/--ip-dst), --pcap FILE or --live",
    )?;
    Ok(vec![match (a.arp, a.ip_src, a.ip_dst) {
        (Some(target), Some(ip), _) => {
            arp_frame(ArpOperation::Request, src, ip, MacAddr::ZERO, target)
        }
        (None, Some(from), Some(to)) => echo_request_frame(a.dst, src, (from, to), 1, 1, 56),
        _ => ethernet_frame(a.dst, src, EtherType::Ipv4, &[]),
    }])
}

/// Each frame's steps, one line per stage.
pub fn render(r: &TraceReport) -> String {
    let port = |p: u16| {
        r.ports
            .get(usize::from(p))
            .cloned()
            .unwrap_or_else(|| format!("#{p}"))
    };
    let mut out = String::new();
    for (i, f) in r.frames.iter().enumerate() {
        let how = if r.dry_run {
            "dry run: nothing learned or sent"
        } else {
            "live: forwarded"
        };
        let _ = writeln!(
            out,
            "frame {} (tables generation {}, {how})",
            i + 1,
            f.generation
        );
        for s in &f.steps {
            let (stage, what) = step(s, &port, r.dry_run);
            let _ = writeln!(out, "  {stage:<9} {what}");
        }
    }
    if r.frames.is_empty() {
        out.push_str("no frame was traced (none arrived in time)\n");
    }
    out
}

fn step(s: &Step, port: &dyn Fn(u16) -> String, dry_run: bool) -> (&'static str, String) {
    match s {
        Step::Rx { port: p, len } => ("rx", format!("port {}, {len} bytes", port(*p))),
        Step::VmFrame {
            vni,
            src,
            dst,
            ethertype,
        } => (
            "vm-frame",
            format!("vni {vni}, {src} > {dst}, type {ethertype:#06x}"),
        ),
        Step::Learn {
            vni,
            mac,
            at,
            outcome,
        } => {
            let at = match at {
                Location::Port(p) => format!("port {}", port(*p)),
                Location::Vtep(ip) => format!("VTEP {ip}"),
            };
            let outcome = match outcome {
                LearnOutcome::Known if dry_run => "known there",
                LearnOutcome::Known => "known there, age refreshed",
                LearnOutcome::Reported => "new or moved: reported to the management thread",
                LearnOutcome::AlreadyReported => "new or moved, reported already",
                LearnOutcome::StaticElsewhere => "a static entry elsewhere: not moved",
            };
            ("learn", format!("{mac} in vni {vni} at {at}: {outcome}"))
        }
        Step::Arp { target, decision } => {
            let d = match decision {
                ArpDecision::Suppressed { mac } => {
                    format!("suppressed: answered {target} is-at {mac} from the ARP table")
                }
                ArpDecision::AskController => {
                    "not in the ARP table: the controller is asked, the request held".into()
                }
                ArpDecision::Flooded => "not in the ARP table: flooded".into(),
                ArpDecision::Passed => "not a request to answer (reply, gratuitous, probe)".into(),
                ArpDecision::Off => "ARP suppression is off on this switch".into(),
            };
            ("arp", format!("who-has {target}: {d}"))
        }
        Step::Lookup { vni, mac, result } => {
            let r = match result {
                LookupResult::Port { port: p } => format!("local port {}", port(*p)),
                LookupResult::Vtep { vtep } => format!("behind VTEP {vtep}"),
                LookupResult::Miss => "unknown: flooded as BUM".into(),
                LookupResult::Bum => "broadcast/multicast: flooded".into(),
            };
            ("lookup", format!("{mac} in vni {vni}: {r}"))
        }
        Step::Encap {
            vni,
            vtep,
            next_hop_mac,
            udp_src_port,
        } => (
            "encap",
            format!(
                "VXLAN vni {vni} to VTEP {vtep} via {}, udp source port {udp_src_port}",
                next_hop_mac.map_or("an unresolved next hop".into(), |m| m.to_string())
            ),
        ),
        Step::Flood {
            vni,
            mode,
            copies,
            local_ports,
        } => {
            let copies: Vec<String> = copies
                .iter()
                .map(|c| match c.kind {
                    CopyTo::Vtep => c.vtep.to_string(),
                    CopyTo::Proxy => format!("{} (proxy, replicate locally)", c.vtep),
                    CopyTo::Group => format!("{} (group)", c.vtep),
                })
                .collect();
            let ports: Vec<String> = local_ports.iter().map(|p| port(*p)).collect();
            (
                "flood",
                format!(
                    "vni {vni} {} replication: tunnels [{}], local ports [{}]",
                    mode.name(),
                    copies.join(", "),
                    ports.join(", ")
                ),
            )
        }
        Step::Uplink { kind } => ("uplink", format!("{kind:?}").to_lowercase()),
        Step::Decap {
            vni,
            from,
            replicate_locally,
        } => (
            "decap",
            format!(
                "vni {vni} from VTEP {from}{}",
                if *replicate_locally {
                    ", marked replicate locally"
                } else {
                    ""
                }
            ),
        ),
        Step::Drop { reason } => ("drop", format!("reason {}", reason.name())),
        Step::Tx { port: p, len } => ("tx", format!("port {}, {len} bytes", port(*p))),
    }
}
