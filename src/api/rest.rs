//! The controller's management REST API: logical switches and the per-VNI tables, as typed
//! bodies both the controller (axum) and the CLI (ureq) use. The OpenAPI document
//! (`controller/openapi.json`) describes the same shapes.

use crate::ids::{ReplicationMode, Vni};
use crate::wire::MacAddr;
use serde::{Deserialize, Deserializer, Serialize};
use std::net::{Ipv4Addr, SocketAddr};

/// The API's path prefix.
pub const BASE: &str = "/api/v1";

/// A logical switch: one VNI and how the hosts treat it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogicalSwitch {
    pub vni: Vni,
    pub name: String,
    pub replication_mode: ReplicationMode,
    /// Hosts answer VMs' ARP requests from the ARP table.
    pub arp_suppression: bool,
    /// Underlay group for BUM traffic in hybrid and multicast modes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multicast_group: Option<Ipv4Addr>,
}

/// A logical switch as the API serves it: with the controller that owns its VNI ("" while
/// its slice moves, or from a controller cut off from the majority) and, as that owner counts them, the hosts joined to it and their VTEPs
/// (None when the owner could not be asked).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogicalSwitchView {
    #[serde(flatten)]
    pub switch: LogicalSwitch,
    pub controller: String,
    #[serde(default)]
    pub connections: Option<usize>,
    #[serde(default)]
    pub vteps: Option<usize>,
}

/// The body of a create (POST, `vni` required) or an update (PUT, every field optional:
/// what is left out keeps its value; `"multicast_group": null` removes the group).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwitchSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vni: Option<Vni>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication_mode: Option<ReplicationMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arp_suppression: Option<bool>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub multicast_group: Option<Option<Ipv4Addr>>,
}

/// A field that is present, possibly `null`: Some(None) is "clear it", absent is None.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Every VTEP that joined a VNI.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VtepTableRow {
    pub vni: Vni,
    pub ip: Ipv4Addr,
    /// The VTEP's underlay segment (network address).
    pub segment: Ipv4Addr,
    pub mac: MacAddr,
    pub host: String,
    /// Its segment's proxy for the VNI (UTEP in unicast mode, MTEP in hybrid mode).
    #[serde(default)]
    pub proxy: bool,
}

/// A VM MAC and the VTEP it is behind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MacTableRow {
    pub vni: Vni,
    pub mac: MacAddr,
    pub vtep_ip: Ipv4Addr,
    /// Mobility sequence number: raised by each move.
    #[serde(default)]
    pub seq: u32,
    /// Frozen where it is for flapping between VTEPs (a duplicate MAC?).
    #[serde(default)]
    pub frozen: bool,
}

/// A VM IP and its MAC.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArpTableRow {
    pub vni: Vni,
    pub ip: Ipv4Addr,
    pub mac: MacAddr,
    /// Frozen to this MAC for flapping between MACs (a duplicate address?).
    #[serde(default)]
    pub frozen: bool,
}

/// A hypervisor connected to this controller.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hypervisor {
    pub session: u64,
    pub host: String,
    pub address: SocketAddr,
    pub vtep_ip: Ipv4Addr,
    pub vtep_mac: MacAddr,
    /// Unix seconds.
    pub connected_since: u64,
    /// The host's full sync is complete.
    pub synced: bool,
    pub vnis: Vec<Vni>,
}

/// What this controller refused since it started, by reason (`show refusals`): each count
/// is a request that changed nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusals {
    /// Agent connections whose TLS handshake failed (no certificate, another CA, plaintext).
    pub tls_handshake: u64,
    /// Hellos for a VTEP IP the host's certificate does not name.
    pub impersonation: u64,
    /// Queries about a VNI the asking host has not joined.
    pub not_joined: u64,
    /// REST requests without the API's bearer token.
    pub api_unauthenticated: u64,
    /// Hellos past the controller's session limit.
    #[serde(default)]
    pub session_limit: u64,
    /// New VTEPs, MACs or IP bindings past a VNI's table limit.
    #[serde(default)]
    pub table_full: u64,
    /// MAC reports older (by mobility sequence) than the location held.
    #[serde(default)]
    pub stale_reports: u64,
    /// MACs and IPs frozen for flapping between locations (duplicate detection).
    #[serde(default)]
    pub duplicates_frozen: u64,
    /// Reports refused because their MAC or IP was frozen.
    #[serde(default)]
    pub frozen_reports: u64,
}

/// The control cluster as one controller sees it (`show control-cluster status`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterStatus {
    /// The controller answering.
    pub controller: String,
    /// `single` (the embedded node owns every slice) or `cluster` (members on etcd).
    pub mode: String,
    /// This node holds a live etcd lease, i.e. it is in the majority (a single node: always).
    pub majority: bool,
    pub leader: Option<String>,
    pub members: Vec<ClusterMember>,
    /// The slice map in use here and how many of its slices this node owns now.
    pub epoch: u64,
    pub slices_here: usize,
    /// Why etcd could not be read, if it could not.
    pub error: Option<String>,
}

/// A live member of the control cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterMember {
    pub id: String,
    /// Its agent listener and API.
    pub agents: String,
    pub api: String,
    /// Unix seconds it joined.
    pub since: u64,
    /// Slices the map in use gives it.
    pub slices: usize,
}

/// One VNI slice (`show control-cluster slices`): its owner and the configured VNIs in it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SliceRow {
    pub slice: usize,
    /// "" while it moves.
    pub controller: String,
    pub vnis: Vec<Vni>,
}

/// Every refusal: the field it is about and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub error: String,
    pub field: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_tells_absent_from_null() {
        let s: SwitchSpec = serde_json::from_str(r#"{"multicast_group": null}"#).unwrap();
        assert_eq!(s.multicast_group, Some(None));
        let s: SwitchSpec = serde_json::from_str("{}").unwrap();
        assert_eq!(s.multicast_group, None);
        let s: SwitchSpec = serde_json::from_str(r#"{"multicast_group": "239.1.1.1"}"#).unwrap();
        assert_eq!(s.multicast_group, Some(Some(Ipv4Addr::new(239, 1, 1, 1))));
        assert!(serde_json::from_str::<SwitchSpec>(r#"{"colour": 1}"#).is_err());
    }

    #[test]
    fn a_view_is_the_switch_and_its_owner() {
        let v = LogicalSwitchView {
            switch: LogicalSwitch {
                vni: Vni::from_const(5001),
                name: "web".into(),
                replication_mode: ReplicationMode::Unicast,
                arp_suppression: true,
                multicast_group: None,
            },
            controller: "c1".into(),
            connections: Some(2),
            vteps: Some(2),
        };
        let j = serde_json::to_value(&v).unwrap();
        assert_eq!(j["vni"], 5001);
        assert_eq!(j["replication_mode"], "unicast");
        assert_eq!(serde_json::from_value::<LogicalSwitchView>(j).unwrap(), v);
    }
}
