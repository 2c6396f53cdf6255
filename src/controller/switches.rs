//! Logical switches (the management plane's objects) and their durable store: one JSON
//! file, rewritten atomically (temp file, fsync, rename), so a restart keeps every switch
//! and a crash mid-write leaves the previous version whole.

use crate::proto::ReplicationMode;
use crate::tables::VNI_MAX;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogicalSwitch {
    pub vni: u32,
    pub name: String,
    /// "unicast", "hybrid" or "multicast".
    pub replication_mode: String,
    /// Hosts answer VMs' ARP requests from the ARP table (default on).
    pub arp_suppression: bool,
    /// Underlay group for BUM traffic in hybrid and multicast modes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multicast_group: Option<Ipv4Addr>,
}

impl LogicalSwitch {
    pub fn mode(&self) -> ReplicationMode {
        ReplicationMode::parse(&self.replication_mode).unwrap_or(ReplicationMode::Unicast)
    }
}

/// A refused API body or store file: which field, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {msg}")]
pub struct InvalidField {
    pub field: String,
    pub msg: String,
}

fn bad(field: &str, msg: impl Into<String>) -> InvalidField {
    InvalidField {
        field: field.to_string(),
        msg: msg.into(),
    }
}

const FIELDS: [&str; 5] = [
    "vni",
    "name",
    "replication_mode",
    "arp_suppression",
    "multicast_group",
];

/// Builds a switch from a create (base None) or update (base Some) request body.
/// An update may not change the VNI; fields it leaves out keep their values.
pub fn from_json(
    body: &Value,
    base: Option<&LogicalSwitch>,
) -> Result<LogicalSwitch, InvalidField> {
    let obj: &Map<String, Value> = body
        .as_object()
        .ok_or_else(|| bad("body", "must be a JSON object"))?;
    if let Some(k) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(bad(
            k,
            format!("unknown field; known: {}", FIELDS.join(", ")),
        ));
    }
    let vni = match (obj.get("vni"), base) {
        (Some(v), b) => {
            let n = v
                .as_u64()
                .filter(|n| (1..=u64::from(VNI_MAX)).contains(n))
                .ok_or_else(|| bad("vni", format!("must be an integer 1-{VNI_MAX}")))?
                as u32;
            if let Some(b) = b {
                if b.vni != n {
                    return Err(bad("vni", "cannot be changed; delete and create instead"));
                }
            }
            n
        }
        (None, Some(b)) => b.vni,
        (None, None) => return Err(bad("vni", "is required")),
    };
    let name = match obj.get("name") {
        Some(v) => {
            let s = v.as_str().ok_or_else(|| bad("name", "must be a string"))?;
            if s.is_empty() || s.len() > 64 || s.chars().any(char::is_control) {
                return Err(bad("name", "must be 1-64 printable characters"));
            }
            s.to_string()
        }
        None => base.map_or_else(|| format!("ls-{vni}"), |b| b.name.clone()),
    };
    let replication_mode = match obj.get("replication_mode") {
        Some(v) => {
            let s = v.as_str().unwrap_or("");
            ReplicationMode::parse(s)
                .ok_or_else(|| {
                    bad(
                        "replication_mode",
                        "must be \"unicast\", \"hybrid\" or \"multicast\"",
                    )
                })?
                .name()
                .to_string()
        }
        None => base.map_or_else(|| "unicast".to_string(), |b| b.replication_mode.clone()),
    };
    let arp_suppression = match obj.get("arp_suppression") {
        Some(v) => v
            .as_bool()
            .ok_or_else(|| bad("arp_suppression", "must be true or false"))?,
        None => base.is_none_or(|b| b.arp_suppression),
    };
    let multicast_group = match obj.get("multicast_group") {
        Some(Value::Null) => None,
        Some(v) => {
            let g: Ipv4Addr = v
                .as_str()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| bad("multicast_group", "must be an IPv4 address string"))?;
            if !g.is_multicast() {
                return Err(bad(
                    "multicast_group",
                    format!("{g} is not a multicast address"),
                ));
            }
            Some(g)
        }
        None => base.and_then(|b| b.multicast_group),
    };
    if replication_mode != "unicast" && multicast_group.is_none() {
        return Err(bad(
            "multicast_group",
            format!("is required in {replication_mode} mode"),
        ));
    }
    Ok(LogicalSwitch {
        vni,
        name,
        replication_mode,
        arp_suppression,
        multicast_group,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not a logical-switch store: {msg}")]
    Corrupt { path: String, msg: String },
}

/// The durable set of logical switches, keyed by VNI.
pub struct Store {
    path: PathBuf,
    switches: BTreeMap<u32, LogicalSwitch>,
}

impl Store {
    /// Opens (or starts) the store in `dir`; a file that does not parse is an error, never
    /// silently replaced.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        let path = dir.join("logical-switches.json");
        let io = |source| StoreError::Io {
            path: path.display().to_string(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let switches = match std::fs::read(&path) {
            Ok(b) => {
                let list: Vec<LogicalSwitch> =
                    serde_json::from_slice(&b).map_err(|e| StoreError::Corrupt {
                        path: path.display().to_string(),
                        msg: e.to_string(),
                    })?;
                list.into_iter().map(|s| (s.vni, s)).collect()
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(io(e)),
        };
        Ok(Store { path, switches })
    }

    pub fn get(&self, vni: u32) -> Option<&LogicalSwitch> {
        self.switches.get(&vni)
    }

    pub fn list(&self) -> impl Iterator<Item = &LogicalSwitch> {
        self.switches.values()
    }

    /// Stores (creates or replaces) a switch; on a write error nothing changes.
    pub fn put(&mut self, s: LogicalSwitch) -> Result<(), StoreError> {
        let old = self.switches.insert(s.vni, s.clone());
        self.save().inspect_err(|_| {
            match old {
                Some(o) => self.switches.insert(o.vni, o),
                None => self.switches.remove(&s.vni),
            };
        })
    }

    pub fn remove(&mut self, vni: u32) -> Result<Option<LogicalSwitch>, StoreError> {
        let Some(old) = self.switches.remove(&vni) else {
            return Ok(None);
        };
        match self.save() {
            Ok(()) => Ok(Some(old)),
            Err(e) => {
                self.switches.insert(vni, old);
                Err(e)
            }
        }
    }

    fn save(&self) -> Result<(), StoreError> {
        let io = |source| StoreError::Io {
            path: self.path.display().to_string(),
            source,
        };
        let list: Vec<&LogicalSwitch> = self.switches.values().collect();
        let body = serde_json::to_vec_pretty(&list).expect("switches serialize");
        let tmp = self.path.with_extension("json.tmp");
        let mut f = std::fs::File::create(&tmp).map_err(io)?;
        f.write_all(&body).map_err(io)?;
        f.sync_all().map_err(io)?;
        std::fs::rename(&tmp, &self.path).map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("vxs-store-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn create_fills_defaults() {
        let s = from_json(&json!({"vni": 5001}), None).unwrap();
        assert_eq!(s.name, "ls-5001");
        assert_eq!(s.replication_mode, "unicast");
        assert!(s.arp_suppression);
    }

    #[test]
    fn bad_fields_are_named() {
        let cases = [
            (json!({}), "vni"),
            (json!({"vni": 0}), "vni"),
            (json!({"vni": 16777216}), "vni"),
            (json!({"vni": "5001"}), "vni"),
            (json!({"vni": 1, "name": ""}), "name"),
            (
                json!({"vni": 1, "replication_mode": "flood"}),
                "replication_mode",
            ),
            (
                json!({"vni": 1, "arp_suppression": "yes"}),
                "arp_suppression",
            ),
            (
                json!({"vni": 1, "replication_mode": "hybrid"}),
                "multicast_group",
            ),
            (
                json!({"vni": 1, "multicast_group": "10.0.0.1"}),
                "multicast_group",
            ),
            (json!({"vni": 1, "colour": "red"}), "colour"),
            (json!([1]), "body"),
        ];
        for (body, field) in cases {
            assert_eq!(from_json(&body, None).unwrap_err().field, field, "{body}");
        }
    }

    #[test]
    fn update_keeps_what_it_leaves_out_and_never_changes_the_vni() {
        let base = from_json(&json!({"vni": 5001, "name": "web"}), None).unwrap();
        let u = from_json(&json!({"arp_suppression": false}), Some(&base)).unwrap();
        assert_eq!(u.name, "web");
        assert!(!u.arp_suppression);
        assert_eq!(
            from_json(&json!({"vni": 5002}), Some(&base))
                .unwrap_err()
                .field,
            "vni"
        );
    }

    #[test]
    fn store_survives_reopen_and_refuses_a_corrupt_file() {
        let d = tmpdir("reopen");
        let mut st = Store::open(&d).unwrap();
        st.put(from_json(&json!({"vni": 5001, "name": "web"}), None).unwrap())
            .unwrap();
        st.put(from_json(&json!({"vni": 5002}), None).unwrap())
            .unwrap();
        st.remove(5002).unwrap();
        let again = Store::open(&d).unwrap();
        assert_eq!(again.list().count(), 1);
        assert_eq!(again.get(5001).unwrap().name, "web");
        std::fs::write(d.join("logical-switches.json"), b"{not json").unwrap();
        assert!(matches!(Store::open(&d), Err(StoreError::Corrupt { .. })));
        let _ = std::fs::remove_dir_all(&d);
    }
}
