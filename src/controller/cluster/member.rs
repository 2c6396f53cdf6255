//! This node's membership: a lease kept alive, the member record on it, and while the lease
//! lives, the tasks that follow the slice map and the logical switches and that campaign for
//! leadership. When the lease is lost (etcd unreachable, quorum lost, a keepalive unanswered
//! until the local deadline) everything stops at once: the node owns nothing until it holds
//! a new lease and a map names it with that lease.

use super::etcd::{op, read_and_watch};
use super::keys::{MemberRecord, StoredMap};
use super::{leader, switches, Handle};
use crate::controller::sessions::{lock, Shared};
use etcd_client::{EventType, KeyValue, PutOptions};
use std::time::{Duration, Instant};

pub async fn run(h: Handle, me: MemberRecord, state: Shared) {
    let mut last = String::new();
    loop {
        let why = membership(&h, &me, &state).await;
        lock(&state).own.set_lease(None, None);
        lock(&state).tick(Instant::now());
        if h.leaving.load(std::sync::atomic::Ordering::Relaxed) {
            tracing::info!("controller {}: left the cluster", me.id);
            return;
        }
        if why != last {
            tracing::info!(
                "controller {}: not a cluster member: {why}; owning nothing, retrying",
                me.id
            );
            last = why;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// One lease's life; returns why it ended.
async fn membership(h: &Handle, me: &MemberRecord, state: &Shared) -> String {
    let mut c = h.client.clone();
    let sent = Instant::now();
    let ttl_s = h.lease_ttl.as_secs() as i64;
    let grant = match op("granting a lease", c.lease_grant(ttl_s, None)).await {
        Ok(g) => g,
        Err(e) => return e,
    };
    let lease = grant.id();
    let ttl = Duration::from_secs(grant.ttl().max(1) as u64);
    let rec = MemberRecord {
        lease,
        since: super::etcd::unix_now(),
        ..me.clone()
    };
    let json = serde_json::to_vec(&rec).unwrap_or_default();
    let put = c.put(
        h.keys.member(&me.id),
        json,
        Some(PutOptions::new().with_lease(lease)),
    );
    if let Err(e) = op("announcing this member", put).await {
        let _ = op("revoking the lease", c.lease_revoke(lease)).await;
        return e;
    }
    lock(state)
        .own
        .set_lease(Some(lease), Some(local_deadline(sent, ttl)));
    tracing::info!(
        "controller {}: cluster member, lease {lease:x} (ttl {}s)",
        me.id,
        ttl.as_secs()
    );
    let why = tokio::select! {
        e = keepalive(h, lease, ttl, state) => e,
        e = follow_map(h, &me.id, lease, state) => e,
        e = leader::lead(h, &me.id, lease) => e,
        e = switches::follow(h, state) => e,
    };
    // Best effort: a lease given back frees this node's slices at once.
    let _ = op("revoking the lease", c.lease_revoke(lease)).await;
    why
}

/// The lease is valid by this node's clock until this: etcd counts the TTL from when it
/// received the keepalive, later than `sent`, and a tenth is kept as margin.
fn local_deadline(sent: Instant, ttl: Duration) -> Instant {
    sent + ttl * 9 / 10
}

/// Renews the lease three times per TTL; returns when it is lost. One request is in flight
/// at a time, so the answer read is the one to the request sent at `sent`; an answer may
/// take until the lease's local deadline (a busy etcd), a broken stream is opened again.
async fn keepalive(h: &Handle, lease: i64, ttl: Duration, state: &Shared) -> String {
    let every = ttl / 3;
    let mut c = h.client.clone();
    let mut valid_until = Instant::now() + ttl * 9 / 10;
    let mut stream = None;
    loop {
        let sent = Instant::now();
        let left = valid_until.saturating_duration_since(sent);
        if left.is_zero() {
            return format!("lease {lease:x} lost: no keepalive answered in {ttl:?}");
        }
        let renewed = tokio::time::timeout(left, async {
            if stream.is_none() {
                stream = Some(c.lease_keep_alive(lease).await?);
            }
            match stream.as_mut() {
                Some((keeper, answers)) => {
                    keeper.keep_alive().await?;
                    answers.message().await
                }
                None => Ok(None),
            }
        })
        .await;
        match renewed {
            Ok(Ok(Some(r))) if r.ttl() > 0 => {
                let took = sent.elapsed();
                if took > every {
                    tracing::warn!(
                        "controller {}: lease keepalive answered in {took:?} (lease ttl {ttl:?}): etcd or this node is overloaded",
                        h.id
                    );
                }
                valid_until = local_deadline(sent, Duration::from_secs(r.ttl() as u64));
                lock(state).own.set_lease(Some(lease), Some(valid_until));
                tokio::time::sleep_until((sent + every).into()).await;
            }
            Ok(Ok(Some(_))) => return format!("etcd says lease {lease:x} expired"),
            Ok(Ok(None)) | Ok(Err(_)) => {
                // The stream broke: open another, soon.
                stream = None;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(_) => return format!("lease {lease:x} lost: no keepalive answered in {ttl:?}"),
        }
    }
}

/// Applies every slice map the leader writes, and acknowledges it (the leader waits for
/// the old owners' acknowledgement before it gives a moving slice to another member).
async fn follow_map(h: &Handle, id: &str, lease: i64, state: &Shared) -> String {
    let mut c = h.client.clone();
    loop {
        let r: Result<(), String> = async {
            let (got, _watcher, mut events) =
                read_and_watch(&mut c, "the slice map", h.keys.slices(), false).await?;
            if let Some(kv) = got.kvs().first() {
                apply(h, id, lease, kv, state).await;
            }
            while let Some(resp) = events.message().await.map_err(|e| e.to_string())? {
                for ev in resp.events() {
                    if let (EventType::Put, Some(kv)) = (ev.event_type(), ev.kv()) {
                        apply(h, id, lease, kv, state).await;
                    }
                }
                if resp.canceled() {
                    break;
                }
            }
            Err("slice map watch ended".into())
        }
        .await;
        if let Err(e) = r {
            tracing::warn!("controller {id}: {e}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn apply(h: &Handle, id: &str, lease: i64, kv: &KeyValue, state: &Shared) {
    let map: StoredMap = match serde_json::from_slice(kv.value()) {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!("controller {id}: ignoring a slice map that does not parse: {e}");
            return;
        }
    };
    let epoch = kv.mod_revision().max(0) as u64;
    let mine = map.owners.iter().filter(|o| o.as_str() == id).count();
    lock(state).apply_map(epoch, map.owners, map.leases.get(id).copied());
    tracing::info!(
        "controller {id}: slice map epoch {epoch} from leader {}: {mine} slice(s) here",
        map.leader
    );
    let mut c = h.client.clone();
    let put = c.put(
        h.keys.applied(id),
        epoch.to_string(),
        Some(PutOptions::new().with_lease(lease)),
    );
    if let Err(e) = op("acknowledging the slice map", put).await {
        tracing::warn!("controller {id}: {e}");
    }
}
