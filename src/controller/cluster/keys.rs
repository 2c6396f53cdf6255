//! The cluster's keys in etcd and the records under them (JSON, typed on both sides).
//!
//! ```text
//! <prefix>/members/<id>    MemberRecord, attached to the member's lease
//! <prefix>/election        etcd election: the leader assigns slices
//! <prefix>/slices          StoredMap, written by the leader only; epoch = its mod_revision
//! <prefix>/applied/<id>    the epoch the member applied last (lease-attached)
//! <prefix>/switches/<vni>  a logical switch (api::rest::LogicalSwitch)
//! ```

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(prefix: &str) -> Keys {
        Keys {
            prefix: prefix.to_string(),
        }
    }
    pub fn members(&self) -> String {
        format!("{}/members/", self.prefix)
    }
    pub fn member(&self, id: &str) -> String {
        format!("{}{id}", self.members())
    }
    pub fn election(&self) -> String {
        format!("{}/election", self.prefix)
    }
    pub fn slices(&self) -> String {
        format!("{}/slices", self.prefix)
    }
    pub fn applied_all(&self) -> String {
        format!("{}/applied/", self.prefix)
    }
    pub fn applied(&self, id: &str) -> String {
        format!("{}{id}", self.applied_all())
    }
    pub fn switches(&self) -> String {
        format!("{}/switches/", self.prefix)
    }
    pub fn switch(&self, vni: crate::ids::Vni) -> String {
        format!("{}{vni}", self.switches())
    }
}

/// A live controller, as it announces itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRecord {
    pub id: String,
    /// Where hosts reach its agent listener.
    pub agents: String,
    /// Where the other controllers and operators reach its API.
    pub api: String,
    /// Its etcd lease (the record vanishes with it).
    pub lease: i64,
    /// Unix seconds it joined.
    pub since: u64,
}

/// The slice map as the leader writes it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredMap {
    /// Owner of each slice ("": none).
    pub owners: Vec<String>,
    /// The lease each owner held when the map was written: a member that lost its lease
    /// and came back with another does not own by this map.
    pub leases: BTreeMap<String, i64>,
    /// The leader that wrote it.
    pub leader: String,
}
