//! `vxswitch trace`: a frame's path through the pipeline, stage by stage, as the data plane
//! decided it (ovn-trace and VPP's packet trace in spirit). The stages record these steps
//! only when the frame is traced; ports are PortIdx (0: the uplink), named by the report.

use super::counters::DropReason;
use crate::ids::{ReplicationMode, Vni};
use crate::wire::MacAddr;
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;

/// Most frames a live trace records.
pub const MAX_LIVE_FRAMES: u16 = 256;
/// Longest a live trace waits for its frames.
pub const MAX_LIVE_WAIT_MS: u32 = 60_000;

/// Trace a frame against the live tables without sending it (nothing is learned, reported
/// or transmitted: the stages run on a copy with their own counters and event queue).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceRequest {
    /// The port it arrives on, by name ("uplink" or an access port's).
    pub port: String,
    /// The whole Ethernet frame.
    pub frame: Vec<u8>,
}

/// Record the next `count` frames received on `port` as the workers forward them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiveTraceRequest {
    pub port: String,
    pub count: u16,
    /// Give up after this long with what was recorded.
    pub wait_ms: u32,
}

/// The traced frames, each with its steps; `ports` names the PortIdx the steps carry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TraceReport {
    /// Sent to no port: the frames were traced against the tables, not forwarded.
    pub dry_run: bool,
    pub ports: Vec<String>,
    pub frames: Vec<TracedFrame>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TracedFrame {
    /// The snapshot (table generation) it was forwarded against.
    pub generation: u64,
    pub steps: Vec<Step>,
}

/// One stage's decision.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "stage")]
pub enum Step {
    /// Received on a port.
    Rx { port: u16, len: usize },
    /// A VM's frame: its logical switch and Ethernet header.
    VmFrame {
        vni: Vni,
        src: MacAddr,
        dst: MacAddr,
        ethertype: u16,
    },
    /// The source MAC against the MAC table.
    Learn {
        vni: Vni,
        mac: MacAddr,
        at: Location,
        outcome: LearnOutcome,
    },
    /// ARP suppression of a VM's ARP frame.
    Arp {
        target: Ipv4Addr,
        decision: ArpDecision,
    },
    /// The destination MAC's lookup.
    Lookup {
        vni: Vni,
        mac: MacAddr,
        result: LookupResult,
    },
    /// VXLAN encapsulation towards a VTEP.
    Encap {
        vni: Vni,
        vtep: Ipv4Addr,
        next_hop_mac: Option<MacAddr>,
        udp_src_port: u16,
    },
    /// BUM replication: the plan's tunnel copies and the local ports.
    Flood {
        vni: Vni,
        mode: ReplicationMode,
        copies: Vec<FloodCopy>,
        local_ports: Vec<u16>,
    },
    /// What an uplink frame is.
    Uplink { kind: UplinkKind },
    /// Decapsulation of a VXLAN frame.
    Decap {
        vni: Vni,
        from: Ipv4Addr,
        replicate_locally: bool,
    },
    /// Dropped, and why (the counter `vxswitch show stats` and /metrics count it under).
    Drop { reason: DropReason },
    /// Queued for transmission on a port (not sent in a dry run).
    Tx { port: u16, len: usize },
}

/// Where a MAC is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Location {
    Port(u16),
    Vtep(Ipv4Addr),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LearnOutcome {
    /// Already there: its age is refreshed.
    Known,
    /// New or moved: reported to the management thread (once per snapshot).
    Reported,
    /// Reported already under this snapshot.
    AlreadyReported,
    /// A static entry elsewhere: never moved by traffic.
    StaticElsewhere,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum ArpDecision {
    /// Answered from the ARP table, in place, back to the asking port.
    Suppressed { mac: MacAddr },
    /// Not in the table: the controller is asked, the request held.
    AskController,
    /// Not in the table and no controller (or the event queue full): flooded.
    Flooded,
    /// Gratuitous ARP, a probe, a reply, or the asker's own address: passed on as it is.
    Passed,
    /// Suppression is off on this logical switch.
    Off,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "result")]
pub enum LookupResult {
    Port {
        port: u16,
    },
    Vtep {
        vtep: Ipv4Addr,
    },
    /// Unknown unicast: flooded (and asked about).
    Miss,
    /// Broadcast or multicast: flooded.
    Bum,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FloodCopy {
    pub vtep: Ipv4Addr,
    pub kind: CopyTo,
}

/// What a flood copy is for (`tables::CopyKind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CopyTo {
    /// A VTEP, for itself.
    Vtep,
    /// Another segment's proxy (UTEP/MTEP), marked "replicate locally".
    Proxy,
    /// The multicast group.
    Group,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UplinkKind {
    Arp,
    Icmp,
    Igmp,
    Vxlan,
}
