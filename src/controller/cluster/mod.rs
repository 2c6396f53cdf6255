//! The controller cluster on etcd (`[cluster]` in the controller's config): membership by
//! lease, a leader elected through etcd's election API that assigns the VNI slices, and the
//! logical switches kept in etcd. The tables themselves never go through etcd: hosts report
//! them to each slice's owner, again when a slice moves. See `ownership` for why two
//! controllers never answer for one VNI.

mod etcd;
mod keys;
mod leader;
mod member;
pub mod switches;
pub mod views;

pub use keys::{Keys, MemberRecord, StoredMap};

use super::config::{ClusterConfig, ControllerConfig};
use super::sessions::{lock, Shared};
use std::time::{Duration, Instant};

/// What the cluster's tasks and the API share: the etcd client and the key layout.
#[derive(Clone)]
pub struct Handle {
    pub client: etcd_client::Client,
    pub keys: Keys,
    pub lease_ttl: Duration,
    pub id: String,
}

impl Handle {
    /// A client of the configured etcd members; it connects lazily, so an etcd that is down
    /// now is waited for (the node owns nothing meanwhile), while a malformed endpoint is an
    /// error at once.
    pub async fn new(id: &str, cfg: &ClusterConfig) -> Result<Handle, String> {
        Ok(Handle {
            client: etcd::connect(&cfg.etcd).await?,
            keys: Keys::new(&cfg.prefix),
            lease_ttl: cfg.lease_ttl,
            id: id.to_string(),
        })
    }
}

/// Runs membership (and through it leadership and the watches) and the node's clock tick.
pub fn spawn(h: &Handle, cfg: &ControllerConfig, state: &Shared) {
    let me = MemberRecord {
        id: cfg.id.clone(),
        agents: format!("{}:{}", cfg.id, cfg.listen.port()),
        api: cfg.api_address(),
        lease: 0,
        since: 0,
    };
    tokio::spawn(member::run(h.clone(), me, std::sync::Arc::clone(state)));
    let state = std::sync::Arc::clone(state);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_millis(20));
        loop {
            every.tick().await;
            lock(&state).tick(Instant::now());
        }
    });
}

/// Gives the lease back when the node stops: its slices move at once, not a TTL later.
pub async fn leave(h: &Handle, state: &Shared) {
    let lease = lock(state).own.lease();
    if let Some(lease) = lease {
        lock(state).own.set_lease(None, None);
        let mut c = h.client.clone();
        let _ = etcd::op("revoking the lease", c.lease_revoke(lease)).await;
    }
}
