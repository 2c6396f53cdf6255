//! Logical switches (the management plane's objects) and their durable store: one JSON
//! file, rewritten atomically (temp file, fsync, rename, fsync of the directory), so a
//! restart keeps every switch and a crash mid-write leaves the previous version whole. The
//! store's directory is locked while a controller uses it, and what it reads back is checked
//! as an API request would be.

pub use crate::api::rest::LogicalSwitch;
use crate::api::rest::SwitchSpec;
use crate::ids::Vni;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

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

/// A JSON object body as `T`, or the field it fails on (`body` when it is not an object:
/// serde would read a struct from an array by position).
pub fn parse_body<T: serde::de::DeserializeOwned>(b: &[u8]) -> Result<T, InvalidField> {
    if b.trim_ascii_start().first() != Some(&b'{') {
        return Err(bad("body", "must be a JSON object"));
    }
    let de = &mut serde_json::Deserializer::from_slice(b);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { "body" } else { path.as_str() };
        bad(field, e.inner().to_string())
    })
}

/// The switch a create (`base` None) or update (`base` Some) request makes. An update may
/// not change the VNI; fields it leaves out keep their values; a create fills defaults
/// (name `ls-<vni>`, unicast, ARP suppression on).
pub fn apply(
    spec: SwitchSpec,
    base: Option<&LogicalSwitch>,
) -> Result<LogicalSwitch, InvalidField> {
    let vni = match (spec.vni, base) {
        (Some(v), Some(b)) if v != b.vni => {
            return Err(bad("vni", "cannot be changed; delete and create instead"))
        }
        (Some(v), _) => v,
        (None, Some(b)) => b.vni,
        (None, None) => return Err(bad("vni", "is required")),
    };
    let name = match spec.name {
        Some(s) if s.is_empty() || s.len() > 64 || s.chars().any(char::is_control) => {
            return Err(bad("name", "must be 1-64 printable characters"))
        }
        Some(s) => s,
        None => base.map_or_else(|| format!("ls-{vni}"), |b| b.name.clone()),
    };
    let replication_mode = spec
        .replication_mode
        .or(base.map(|b| b.replication_mode))
        .unwrap_or_default();
    let arp_suppression = spec
        .arp_suppression
        .unwrap_or(base.is_none_or(|b| b.arp_suppression));
    let multicast_group = match spec.multicast_group {
        Some(Some(g)) if !g.is_multicast() => {
            return Err(bad(
                "multicast_group",
                format!("{g} is not a multicast address"),
            ))
        }
        Some(g) => g,
        None => base.and_then(|b| b.multicast_group),
    };
    if replication_mode.needs_group() && multicast_group.is_none() {
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
    #[error("{path}: in use by another controller (locked)")]
    Locked { path: String },
}

/// The set of logical switches, keyed by VNI: durable in a file (single node), or a copy
/// of what etcd holds (cluster members write to etcd and fill this from its watch).
pub struct Store {
    path: Option<PathBuf>,
    switches: BTreeMap<Vni, LogicalSwitch>,
    /// Held open (and locked) for the store's life: one controller per directory.
    _lock: Option<std::fs::File>,
}

impl Store {
    /// A cluster member's copy of etcd's switches.
    pub fn mirror() -> Store {
        Store {
            path: None,
            switches: BTreeMap::new(),
            _lock: None,
        }
    }

    /// Opens (or starts) the store in `dir` and locks it; a file that does not parse, or
    /// holds a switch the API would refuse, is an error, never silently replaced.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        let path = dir.join("logical-switches.json");
        let io = |source| StoreError::Io {
            path: path.display().to_string(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("lock"))
            .map_err(io)?;
        match rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(rustix::io::Errno::WOULDBLOCK) => {
                return Err(StoreError::Locked {
                    path: dir.display().to_string(),
                })
            }
            Err(e) => return Err(io(e.into())),
        }
        let switches = match std::fs::read(&path) {
            Ok(b) => read_switches(&b).map_err(|msg| StoreError::Corrupt {
                path: path.display().to_string(),
                msg,
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(io(e)),
        };
        Ok(Store {
            path: Some(path),
            switches,
            _lock: Some(lock),
        })
    }

    pub fn get(&self, vni: Vni) -> Option<&LogicalSwitch> {
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

    pub fn remove(&mut self, vni: Vni) -> Result<Option<LogicalSwitch>, StoreError> {
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
        let Some(path) = &self.path else {
            return Ok(());
        };
        let io = |source| StoreError::Io {
            path: path.display().to_string(),
            source,
        };
        let list: Vec<&LogicalSwitch> = self.switches.values().collect();
        let body = serde_json::to_vec_pretty(&list).expect("switches serialize");
        let tmp = path.with_extension("json.tmp");
        let mut f = std::fs::File::create(&tmp).map_err(io)?;
        f.write_all(&body).map_err(io)?;
        f.sync_all().map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)?;
        // The rename itself is durable only once the directory is.
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io)
    }
}

/// The switches of a store file, each checked as the API checks a create (a hand-edited or
/// damaged file is refused, naming the switch and field).
fn read_switches(b: &[u8]) -> Result<BTreeMap<Vni, LogicalSwitch>, String> {
    let list: Vec<LogicalSwitch> = serde_json::from_slice(b).map_err(|e| e.to_string())?;
    let mut out = BTreeMap::new();
    for (i, ls) in list.into_iter().enumerate() {
        let spec = SwitchSpec {
            vni: Some(ls.vni),
            name: Some(ls.name.clone()),
            replication_mode: Some(ls.replication_mode),
            arp_suppression: Some(ls.arp_suppression),
            multicast_group: Some(ls.multicast_group),
        };
        let checked = apply(spec, None).map_err(|e| format!("[{i}].{e}"))?;
        if checked != ls {
            return Err(format!("[{i}]: vni {} is not as the API stores it", ls.vni));
        }
        if out.insert(ls.vni, ls).is_some() {
            return Err(format!("[{i}].vni: {} appears twice", checked.vni));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::ReplicationMode;

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("vxs-store-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    /// A body as the API parses it, then applied: the field named by either step.
    fn from_json(body: &str, base: Option<&LogicalSwitch>) -> Result<LogicalSwitch, InvalidField> {
        apply(parse_body(body.as_bytes())?, base)
    }

    #[test]
    fn create_fills_defaults() {
        let s = from_json(r#"{"vni": 5001}"#, None).unwrap();
        assert_eq!(s.name, "ls-5001");
        assert_eq!(s.replication_mode, ReplicationMode::Unicast);
        assert!(s.arp_suppression);
    }

    #[test]
    fn bad_fields_are_named() {
        let cases = [
            ("{}", "vni"),
            (r#"{"vni": 0}"#, "vni"),
            (r#"{"vni": 16777216}"#, "vni"),
            (r#"{"vni": "5001"}"#, "vni"),
            (r#"{"vni": 1, "name": ""}"#, "name"),
            (
                r#"{"vni": 1, "replication_mode": "flood"}"#,
                "replication_mode",
            ),
            (r#"{"vni": 1, "arp_suppression": "yes"}"#, "arp_suppression"),
            (
                r#"{"vni": 1, "replication_mode": "hybrid"}"#,
                "multicast_group",
            ),
            (
                r#"{"vni": 1, "multicast_group": "10.0.0.1"}"#,
                "multicast_group",
            ),
            (r#"{"vni": 1, "colour": "red"}"#, "colour"),
            ("[1]", "body"),
        ];
        for (body, field) in cases {
            assert_eq!(from_json(body, None).unwrap_err().field, field, "{body}");
        }
    }

    #[test]
    fn update_keeps_what_it_leaves_out_and_never_changes_the_vni() {
        let base = from_json(r#"{"vni": 5001, "name": "web"}"#, None).unwrap();
        let u = from_json(r#"{"arp_suppression": false}"#, Some(&base)).unwrap();
        assert_eq!(u.name, "web");
        assert!(!u.arp_suppression);
        assert_eq!(
            from_json(r#"{"vni": 5002}"#, Some(&base))
                .unwrap_err()
                .field,
            "vni"
        );
        let h = from_json(
            r#"{"replication_mode": "hybrid", "multicast_group": "239.1.1.1"}"#,
            Some(&base),
        )
        .unwrap();
        assert_eq!(h.replication_mode, ReplicationMode::Hybrid);
        let e = from_json(r#"{"multicast_group": null}"#, Some(&h)).unwrap_err();
        assert_eq!(e.field, "multicast_group", "hybrid keeps needing its group");
    }

    #[test]
    fn store_survives_reopen_and_refuses_a_corrupt_file() {
        let d = tmpdir("reopen");
        let mut st = Store::open(&d).unwrap();
        st.put(from_json(r#"{"vni": 5001, "name": "web"}"#, None).unwrap())
            .unwrap();
        st.put(from_json(r#"{"vni": 5002}"#, None).unwrap())
            .unwrap();
        st.remove(Vni::from_const(5002)).unwrap();
        drop(st);
        let again = Store::open(&d).unwrap();
        assert_eq!(again.list().count(), 1);
        assert_eq!(again.get(Vni::from_const(5001)).unwrap().name, "web");
        // A second controller on the same directory is refused while the first holds it.
        assert!(matches!(Store::open(&d), Err(StoreError::Locked { .. })));
        drop(again);
        let file = d.join("logical-switches.json");
        std::fs::write(&file, b"{not json").unwrap();
        assert!(matches!(Store::open(&d), Err(StoreError::Corrupt { .. })));
        // Valid JSON, but not what the API would have stored.
        let ls = |vni: u32, name: &str, mode: &str| {
            format!(
                r#"{{"vni":{vni},"name":"{name}","replication_mode":"{mode}","arp_suppression":true}}"#
            )
        };
        for (body, field) in [
            (
                format!("[{}]", ls(5001, "a", "hybrid")),
                "[0].multicast_group",
            ),
            (format!("[{}]", ls(5001, "", "unicast")), "[0].name"),
            (
                format!(
                    "[{},{}]",
                    ls(5001, "a", "unicast"),
                    ls(5001, "b", "unicast")
                ),
                "[1].vni",
            ),
        ] {
            std::fs::write(&file, &body).unwrap();
            match Store::open(&d) {
                Err(StoreError::Corrupt { msg, .. }) => assert!(msg.starts_with(field), "{msg}"),
                other => panic!("{body}: {:?}", other.map(|s| s.list().count())),
            }
        }
        let _ = std::fs::remove_dir_all(&d);
    }
}
