//! What the data plane's management thread and the agent tell each other. Plain values:
//! the protocol's encoding stays in the agent's sessions.

use crate::tables::Vni;
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

/// Control socket -> management thread: `count` consecutive MACs from `first` added as
/// static entries (or removed), as VPP's `l2fib add ... count N`; answered once published.
#[derive(Debug)]
pub struct MacEdit {
    pub vni: Vni,
    pub first: MacAddr,
    pub count: u32,
    /// Some: add or replace, pointing there; None: remove.
    pub target: Option<MacEditTarget>,
    pub done: tokio::sync::oneshot::Sender<Result<MacEditDone, String>>,
}

/// Where added MACs point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MacEditTarget {
    Vtep(Ipv4Addr),
    /// An access port, by its index (the control socket resolves the name).
    Port(crate::tables::PortIdx),
}

/// What an edit changed and how long making it visible took.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MacEditDone {
    pub changed: u32,
    /// From the first change applied to the new snapshot stored in the cell.
    pub publish: std::time::Duration,
}
