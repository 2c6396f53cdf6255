//! The controller's TOML configuration.

use super::limits::Limits;
use crate::auth::TlsFiles;
use crate::config::{load_toml, parse_toml, tls_files, ConfigError, RawTls};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    controller: RawController,
    cluster: Option<RawCluster>,
    #[serde(default)]
    limits: RawLimits,
}

/// `[limits]`: what hosts may make this controller hold (defaults: `Limits::default`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    sessions: Option<usize>,
    vteps_per_vni: Option<usize>,
    macs_per_vni: Option<usize>,
    ips_per_vni: Option<usize>,
    dup_moves: Option<u32>,
    dup_window_s: Option<u64>,
    dup_hold_s: Option<u64>,
}

fn limits(r: RawLimits) -> Result<Limits, ConfigError> {
    let d = Limits::default();
    let at_least_one = |key: &str, v: Option<usize>, dflt: usize| match v {
        Some(0) => Err(ConfigError::invalid(
            format!("limits.{key}"),
            "0 would refuse everything: leave it out for the default",
        )),
        v => Ok(v.unwrap_or(dflt)),
    };
    let dup_moves = r.dup_moves.unwrap_or(d.dup_moves);
    if dup_moves < 2 {
        return Err(ConfigError::invalid(
            "limits.dup_moves",
            format!("{dup_moves}: a MAC must be allowed to move at least once"),
        ));
    }
    let secs = |key: &str, v: Option<u64>, dflt: Duration| match v {
        Some(s) if !(1..=86_400).contains(&s) => Err(ConfigError::invalid(
            format!("limits.{key}"),
            format!("{s} is not 1-86400 seconds"),
        )),
        Some(s) => Ok(Duration::from_secs(s)),
        None => Ok(dflt),
    };
    Ok(Limits {
        sessions: at_least_one("sessions", r.sessions, d.sessions)?,
        vteps_per_vni: at_least_one("vteps_per_vni", r.vteps_per_vni, d.vteps_per_vni)?,
        macs_per_vni: at_least_one("macs_per_vni", r.macs_per_vni, d.macs_per_vni)?,
        ips_per_vni: at_least_one("ips_per_vni", r.ips_per_vni, d.ips_per_vni)?,
        dup_moves,
        dup_window: secs("dup_window_s", r.dup_window_s, d.dup_window)?,
        dup_hold: secs("dup_hold_s", r.dup_hold_s, d.dup_hold)?,
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCluster {
    etcd: Vec<String>,
    #[serde(default = "default_ttl")]
    lease_ttl_s: u64,
    #[serde(default = "default_prefix")]
    prefix: String,
    #[serde(default = "default_settle")]
    resync_window_ms: u64,
    api_address: Option<SocketAddr>,
}

fn default_ttl() -> u64 {
    2
}
fn default_prefix() -> String {
    "/vxswitch".into()
}
fn default_settle() -> u64 {
    300
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawController {
    id: Option<String>,
    #[serde(default = "default_listen")]
    listen: SocketAddr,
    #[serde(default = "default_api")]
    api: SocketAddr,
    state_dir: PathBuf,
    #[serde(default = "default_host_timeout")]
    host_timeout_ms: u64,
    tls_ca: Option<PathBuf>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    api_token_file: Option<PathBuf>,
    #[serde(default)]
    insecure: bool,
    metrics: Option<SocketAddr>,
}

fn default_host_timeout() -> u64 {
    crate::proto::DEAD_AFTER.as_millis() as u64
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], crate::proto::DEFAULT_PORT))
}
fn default_api() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

#[derive(Debug, Clone, PartialEq)]
pub struct ControllerConfig {
    /// How hosts and operators name this node (default: the agent listen address).
    pub id: String,
    /// Where agents connect (TCP 1234 by default).
    pub listen: SocketAddr,
    /// The management REST API (loopback unless configured).
    pub api: SocketAddr,
    /// Where Prometheus scrapes `GET /metrics` (no token: bind it to a management
    /// network); None: no metrics listener.
    pub metrics: Option<SocketAddr>,
    /// Mutual TLS on the agent listener; None: plaintext (`insecure = true`).
    pub tls: Option<TlsFiles>,
    /// The bearer token every `/api/v1` request must carry; None: an open API
    /// (`insecure = true`).
    pub api_token: Option<PathBuf>,
    /// Where the logical switches are kept across restarts (single node).
    pub state_dir: PathBuf,
    /// Membership of a controller cluster; None: a single node owning every slice.
    pub cluster: Option<ClusterConfig>,
    /// A host silent this long (not even a keepalive, sent every second) is gone: it leaves
    /// every VTEP table and its peers' flood lists are updated.
    pub host_timeout: Duration,
    /// Table and session limits, duplicate detection.
    pub limits: Limits,
}

/// `[cluster]`: the etcd cluster the controllers coordinate through.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterConfig {
    /// Client URLs of the etcd members (`http://host:2379`).
    pub etcd: Vec<String>,
    /// TTL of this node's etcd lease: a dead controller's slices move this long after it
    /// stopped (etcd grants at least its own minimum, about 2 s with default timers).
    pub lease_ttl: Duration,
    /// Where in etcd's key space the cluster keeps its keys.
    pub prefix: String,
    /// How long a slice just gained holds its VTEP tables back while hosts re-report.
    pub resync_window: Duration,
    /// How the other controllers reach this node's API (default: id and the API port).
    pub api_address: Option<SocketAddr>,
}

impl ControllerConfig {
    pub fn load(path: &Path) -> Result<ControllerConfig, ConfigError> {
        load_toml(path, ControllerConfig::parse)
    }

    pub fn parse(text: &str) -> Result<ControllerConfig, ConfigError> {
        let raw = parse_toml::<Raw>(text)?;
        let c = raw.controller;
        let cluster = match raw.cluster {
            None => None,
            Some(k) => {
                if c.id.is_none() {
                    return Err(ConfigError::invalid(
                        "controller.id",
                        "a cluster member needs an id unique in the cluster",
                    ));
                }
                Some(cluster(k)?)
            }
        };
        let keepalive = crate::proto::KEEPALIVE_EVERY.as_millis() as u64;
        if c.host_timeout_ms < keepalive * 3 / 2 || c.host_timeout_ms > 60_000 {
            return Err(ConfigError::invalid(
                "controller.host_timeout_ms",
                format!(
                    "{} is not {}-60000 (hosts send a keepalive every {keepalive} ms)",
                    c.host_timeout_ms,
                    keepalive * 3 / 2
                ),
            ));
        }
        let tls = tls_files(RawTls {
            section: "controller",
            ca: c.tls_ca,
            cert: c.tls_cert,
            key: c.tls_key,
            insecure: c.insecure,
        })?;
        if c.api_token_file.is_none() && !c.insecure {
            return Err(ConfigError::invalid(
                "controller.api_token_file",
                "the REST API needs a bearer token (`vxswitch pki init` makes one); \
                 `insecure = true` leaves it open (labs and tests only)",
            ));
        }
        Ok(ControllerConfig {
            limits: limits(raw.limits)?,
            tls,
            api_token: c.api_token_file,
            host_timeout: Duration::from_millis(c.host_timeout_ms),
            id: c.id.unwrap_or_else(|| c.listen.ip().to_string()),
            listen: c.listen,
            api: c.api,
            metrics: c.metrics,
            state_dir: c.state_dir,
            cluster,
        })
    }
}

fn cluster(k: RawCluster) -> Result<ClusterConfig, ConfigError> {
    if k.etcd.is_empty() {
        return Err(ConfigError::invalid(
            "cluster.etcd",
            "needs the client URL of at least one etcd member",
        ));
    }
    for (i, e) in k.etcd.iter().enumerate() {
        let ok = e
            .strip_prefix("http://")
            .and_then(|hp| hp.rsplit_once(':'))
            .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
        if !ok {
            return Err(ConfigError::invalid(
                format!("cluster.etcd[{i}]"),
                format!("{e:?} is not an etcd client URL like http://192.168.110.201:2379"),
            ));
        }
    }
    if !(1..=60).contains(&k.lease_ttl_s) {
        return Err(ConfigError::invalid(
            "cluster.lease_ttl_s",
            format!("{} is not 1-60 seconds", k.lease_ttl_s),
        ));
    }
    if !k.prefix.starts_with('/') || k.prefix.ends_with('/') {
        return Err(ConfigError::invalid(
            "cluster.prefix",
            format!(
                "{:?}: a key prefix starts with / and does not end with one",
                k.prefix
            ),
        ));
    }
    if k.resync_window_ms > 10_000 {
        return Err(ConfigError::invalid(
            "cluster.resync_window_ms",
            format!("{} is above 10000", k.resync_window_ms),
        ));
    }
    Ok(ClusterConfig {
        etcd: k.etcd,
        lease_ttl: Duration::from_secs(k.lease_ttl_s),
        prefix: k.prefix,
        resync_window: Duration::from_millis(k.resync_window_ms),
        api_address: k.api_address,
    })
}

impl ControllerConfig {
    /// How other controllers reach this node's API.
    pub fn api_address(&self) -> String {
        match self.cluster.as_ref().and_then(|c| c.api_address) {
            Some(a) => a.to_string(),
            None if !self.api.ip().is_unspecified() => self.api.to_string(),
            None => format!("{}:{}", self.id, self.api.port()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_errors() {
        let c = ControllerConfig::parse("[controller]\nstate_dir = \"/tmp/x\"\ninsecure = true\n")
            .unwrap();
        assert_eq!(c.listen.port(), 1234);
        assert_eq!(c.api.port(), 8080);
        let e = ControllerConfig::parse(
            "[controller]\nstate_dir = \"/x\"\ninsecure = true\napi = \"nope\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("controller.api"), "{e}");
        assert!(ControllerConfig::parse(
            "[controller]\nstate_dir = \"/x\"\ninsecure = true\nport = 1\n"
        )
        .is_err());
        assert_eq!(c.host_timeout, Duration::from_secs(3));
        let e = ControllerConfig::parse(
            "[controller]\nstate_dir = \"/x\"\ninsecure = true\nhost_timeout_ms = 900\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("controller.host_timeout_ms"), "{e}");
    }

    #[test]
    fn tls_and_a_token_unless_insecure() {
        let base = "[controller]\nstate_dir = \"/x\"\n";
        let e = ControllerConfig::parse(base).unwrap_err().to_string();
        assert!(e.starts_with("controller.tls_ca:"), "{e}");
        let tls = format!("{base}tls_ca = \"ca.pem\"\ntls_cert = \"c.pem\"\ntls_key = \"c.key\"\n");
        let e = ControllerConfig::parse(&tls).unwrap_err().to_string();
        assert!(e.starts_with("controller.api_token_file:"), "{e}");
        let c = ControllerConfig::parse(&format!("{tls}api_token_file = \"t\"\n")).unwrap();
        assert!(c.tls.is_some() && c.api_token.is_some());
        assert!(
            c.api.ip().is_loopback(),
            "the API listens on loopback unless configured"
        );
    }

    #[test]
    fn a_cluster_member_is_checked() {
        let ok = "[controller]\nid = \"c1\"\nstate_dir = \"/x\"\ninsecure = true\n[cluster]\netcd = [\"http://10.0.0.1:2379\"]\n";
        let c = ControllerConfig::parse(ok).unwrap();
        let k = c.cluster.as_ref().unwrap();
        assert_eq!(k.lease_ttl, Duration::from_secs(2));
        assert_eq!(k.prefix, "/vxswitch");
        // The API on loopback (the default) is reachable only by members on this machine.
        assert_eq!(c.api_address(), "127.0.0.1:8080");
        let open = ok.replace("insecure", "api = \"0.0.0.0:8080\"\ninsecure");
        assert_eq!(
            ControllerConfig::parse(&open).unwrap().api_address(),
            "c1:8080"
        );
        for (bad, field) in [
            (ok.replace("id = \"c1\"\n", ""), "controller.id"),
            (
                ok.replace("http://10.0.0.1:2379", "10.0.0.1:2379"),
                "cluster.etcd[0]",
            ),
            (
                ok.replace("http://10.0.0.1:2379", "http://10.0.0.1:0"),
                "cluster.etcd[0]",
            ),
            (
                ok.replace("etcd = [\"http://10.0.0.1:2379\"]", "etcd = []"),
                "cluster.etcd",
            ),
            (format!("{ok}lease_ttl_s = 0\n"), "cluster.lease_ttl_s"),
            (format!("{ok}prefix = \"vx/\"\n"), "cluster.prefix"),
        ] {
            let e = ControllerConfig::parse(&bad).unwrap_err().to_string();
            assert!(e.contains(field), "{field}: {e}");
        }
    }

    #[test]
    fn limits_default_and_are_checked() {
        let base = "[controller]\nstate_dir = \"/x\"\ninsecure = true\n";
        assert_eq!(
            ControllerConfig::parse(base).unwrap().limits,
            Limits::default()
        );
        let c = ControllerConfig::parse(&format!(
            "{base}[limits]\nmacs_per_vni = 10\ndup_hold_s = 60\n"
        ))
        .unwrap();
        assert_eq!(c.limits.macs_per_vni, 10);
        assert_eq!(c.limits.dup_hold, Duration::from_secs(60));
        for (bad, key) in [
            ("sessions = 0", "limits.sessions"),
            ("dup_moves = 1", "limits.dup_moves"),
            ("dup_window_s = 0", "limits.dup_window_s"),
            ("macs = 3", "macs"),
        ] {
            let e = ControllerConfig::parse(&format!("{base}[limits]\n{bad}\n"))
                .unwrap_err()
                .to_string();
            assert!(e.contains(key), "{bad}: {e}");
        }
    }

    #[test]
    fn shipped_configs_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs");
        assert!(ControllerConfig::load(&dir.join("controller.toml"))
            .unwrap()
            .cluster
            .is_none());
        let c = ControllerConfig::load(&dir.join("controller-cluster.toml")).unwrap();
        assert_eq!(c.cluster.unwrap().etcd.len(), 3);
    }
}
