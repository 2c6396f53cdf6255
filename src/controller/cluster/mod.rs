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
use std::time::Duration;

/// What the cluster's tasks and the API share: the etcd client and the key layout.
#[derive(Clone)]
pub struct Handle {
    pub client: etcd_client::Client,
    pub keys: Keys,
    pub lease_ttl: Duration,
    pub id: String,
    /// Set when the node stops: membership ends without retrying.
    pub leaving: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// Starts the cluster's own thread and runtime (the etcd client, membership, leadership and
/// the watches), so that a controller busy with thousands of host sessions never starves
/// its lease's keepalive; returns the handle the API writes through. The client connects
/// lazily: an etcd that is down now is waited for (the node owns nothing meanwhile), while a
/// malformed endpoint is an error at once.
pub fn start(cfg: &ControllerConfig, k: &ClusterConfig, state: &Shared) -> Result<Handle, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    let me = MemberRecord {
        id: cfg.id.clone(),
        agents: format!("{}:{}", cfg.id, cfg.listen.port()),
        api: cfg.api_address(),
        lease: 0,
        since: 0,
    };
    let (k, state) = (k.clone(), std::sync::Arc::clone(state));
    std::thread::Builder::new()
        .name("cluster".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = tx.send(Err(format!("cluster runtime: {e}")));
                    return;
                }
            };
            rt.block_on(async move {
                let h = match etcd::connect(&k.etcd).await {
                    Ok(client) => Handle {
                        client,
                        keys: Keys::new(&k.prefix),
                        lease_ttl: k.lease_ttl,
                        id: me.id.clone(),
                        leaving: Default::default(),
                    },
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                let _ = tx.send(Ok(h.clone()));
                member::run(h, me, state).await;
            });
        })
        .map_err(|e| format!("cluster thread: {e}"))?;
    rx.recv_timeout(Duration::from_secs(10))
        .map_err(|_| "cluster thread did not start".to_string())?
}

/// Gives the lease back when the node stops: its slices move at once, not a TTL later.
pub async fn leave(h: &Handle, state: &Shared) {
    h.leaving.store(true, std::sync::atomic::Ordering::Relaxed);
    let lease = lock(state).own.lease();
    if let Some(lease) = lease {
        lock(state).own.set_lease(None, None);
        let mut c = h.client.clone();
        let _ = etcd::op("revoking the lease", c.lease_revoke(lease)).await;
    }
}
