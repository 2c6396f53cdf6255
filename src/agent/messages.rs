//! What the data plane's management thread and the agent tell each other. Plain values:
//! the protocol's encoding stays in the agent's sessions.

use crate::ids::{ReplicationMode, Vni};
use crate::wire::MacAddr;
use std::net::Ipv4Addr;

/// Management thread -> agent: reports and queries for the controllers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AgentCmd {
    /// The first VM port of the VNI came up on this host.
    Join(Vni),
    /// The last VM port of the VNI went down.
    Leave(Vni),
    /// A VM MAC behind this VTEP (or withdrawn: aged out, moved away).
    Mac {
        vni: Vni,
        mac: MacAddr,
        withdrawn: bool,
    },
    /// A snooped IP/MAC binding.
    Ip {
        vni: Vni,
        ip: Ipv4Addr,
        mac: MacAddr,
    },
    /// A binding this host reported aged out (its VM silent for the aging time).
    IpAged {
        vni: Vni,
        ip: Ipv4Addr,
        mac: MacAddr,
    },
    ArpQuery {
        vni: Vni,
        ip: Ipv4Addr,
    },
    MacQuery {
        vni: Vni,
        mac: MacAddr,
    },
}

/// A remote VTEP as the controller lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteVtep {
    pub ip: Ipv4Addr,
    pub prefix_len: u8,
    pub mac: MacAddr,
    /// Its segment's proxy for the VNI (UTEP or MTEP).
    pub proxy: bool,
}

/// Agent -> management thread: what the controllers said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ControlUpdate {
    /// Whether any controller session is established.
    Connected(bool),
    VtepTable {
        vni: Vni,
        vteps: Vec<RemoteVtep>,
    },
    LogicalSwitch {
        vni: Vni,
        arp_suppression: bool,
        replication: ReplicationMode,
        group: Option<Ipv4Addr>,
    },
    /// None: nobody knows (or the owner is unreachable). Some((mac, vtep)): the binding and,
    /// when the controller knows it, the VTEP the MAC is behind.
    ArpAnswer {
        vni: Vni,
        ip: Ipv4Addr,
        found: Option<(MacAddr, Option<Ipv4Addr>)>,
    },
    /// Where a MAC lives, as an answer or because it moved.
    MacAnswer {
        vni: Vni,
        mac: MacAddr,
        vtep: Option<Ipv4Addr>,
    },
}
