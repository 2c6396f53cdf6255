//! Logical switches in etcd: every member keeps a copy that follows etcd's watch; the API of
//! any member writes with transactions (create only if absent, update and delete only if the
//! switch is still the version read), so two controllers never lose each other's writes.

use super::etcd::{op, read_and_watch};
use super::Handle;
use crate::api::rest::SwitchSpec;
use crate::controller::sessions::{lock, Shared};
use crate::controller::state::ApiError;
use crate::controller::switches::{self, LogicalSwitch};
use crate::ids::Vni;
use etcd_client::{Compare, CompareOp, EventType, KeyValue, Txn, TxnOp};
use std::time::Duration;

/// Attempts of an update that keeps meeting concurrent writes (a few ms apart).
const UPDATE_TRIES: u32 = 20;

/// Mirrors etcd's switches into the node's store until the watch fails (then again).
pub async fn follow(h: &Handle, state: &Shared) -> String {
    let mut c = h.client.clone();
    loop {
        let r: Result<(), String> = async {
            let (got, _w, mut events) =
                read_and_watch(&mut c, "logical switches", h.keys.switches(), true).await?;
            let all: Vec<LogicalSwitch> = got.kvs().iter().filter_map(parse).collect();
            {
                let mut s = lock(state);
                let stale: Vec<Vni> = s
                    .switches()
                    .iter()
                    .map(|l| l.vni)
                    .filter(|v| !all.iter().any(|l| l.vni == *v))
                    .collect();
                for v in stale {
                    s.switch_deleted(v);
                }
                for ls in all {
                    s.switch_written(ls);
                }
            }
            while let Some(resp) = events.message().await.map_err(|e| e.to_string())? {
                for ev in resp.events() {
                    let Some(kv) = ev.kv() else { continue };
                    match ev.event_type() {
                        EventType::Put => {
                            if let Some(ls) = parse(kv) {
                                lock(state).switch_written(ls);
                            }
                        }
                        EventType::Delete => {
                            let key = String::from_utf8_lossy(kv.key());
                            if let Some(vni) = key
                                .strip_prefix(&h.keys.switches())
                                .and_then(|v| v.parse::<Vni>().ok())
                            {
                                lock(state).switch_deleted(vni);
                            }
                        }
                    }
                }
                if resp.canceled() {
                    break;
                }
            }
            Err("logical switch watch ended".into())
        }
        .await;
        if let Err(e) = r {
            tracing::warn!("controller: {e}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn parse(kv: &KeyValue) -> Option<LogicalSwitch> {
    match serde_json::from_slice(kv.value()) {
        Ok(ls) => Some(ls),
        Err(e) => {
            tracing::warn!(
                "controller: ignoring {}: not a logical switch: {e}",
                String::from_utf8_lossy(kv.key())
            );
            None
        }
    }
}

fn unavailable(e: String) -> ApiError {
    ApiError::Unavailable(e)
}

/// Creates `ls` unless its VNI exists (in etcd, whoever wrote it).
pub async fn create(h: &Handle, ls: &LogicalSwitch) -> Result<(), ApiError> {
    let key = h.keys.switch(ls.vni);
    let json = serde_json::to_vec(ls).map_err(|e| unavailable(e.to_string()))?;
    let txn = Txn::new()
        .when([Compare::version(key.clone(), CompareOp::Equal, 0)])
        .and_then([TxnOp::put(key, json, None)]);
    let mut c = h.client.clone();
    let r = op("creating the logical switch", c.txn(txn))
        .await
        .map_err(unavailable)?;
    if !r.succeeded() {
        return Err(ApiError::Conflict(format!(
            "vni: logical switch {} exists",
            ls.vni
        )));
    }
    Ok(())
}

/// The switch as etcd has it now, and the revision to compare a write against.
async fn current(h: &Handle, vni: Vni) -> Result<(LogicalSwitch, i64), ApiError> {
    let mut c = h.client.clone();
    let got = op(
        "reading the logical switch",
        c.get(h.keys.switch(vni), None),
    )
    .await
    .map_err(unavailable)?;
    let kv = got
        .kvs()
        .first()
        .ok_or_else(|| ApiError::NotFound(format!("vni: no logical switch {vni}")))?;
    let ls =
        parse(kv).ok_or_else(|| unavailable(format!("switch {vni} in etcd does not parse")))?;
    Ok((ls, kv.mod_revision()))
}

/// Applies `spec` to the switch as stored, written only if nobody wrote it in between
/// (read again and retried when someone did).
pub async fn update(h: &Handle, vni: Vni, spec: SwitchSpec) -> Result<LogicalSwitch, ApiError> {
    let mut c = h.client.clone();
    for attempt in 0..UPDATE_TRIES {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(u64::from(attempt))).await;
        }
        let (base, rev) = current(h, vni).await?;
        let ls = switches::apply(spec.clone(), Some(&base))?;
        let key = h.keys.switch(vni);
        let json = serde_json::to_vec(&ls).map_err(|e| unavailable(e.to_string()))?;
        let txn = Txn::new()
            .when([Compare::mod_revision(key.clone(), CompareOp::Equal, rev)])
            .and_then([TxnOp::put(key, json, None)]);
        let r = op("updating the logical switch", c.txn(txn))
            .await
            .map_err(unavailable)?;
        if r.succeeded() {
            return Ok(ls);
        }
    }
    Err(ApiError::Conflict(format!(
        "vni: logical switch {vni} kept changing under this update; try again"
    )))
}

/// Deletes the switch as read (a concurrent update makes this a conflict).
pub async fn delete(h: &Handle, vni: Vni) -> Result<(), ApiError> {
    let (_, rev) = current(h, vni).await?;
    let key = h.keys.switch(vni);
    let txn = Txn::new()
        .when([Compare::mod_revision(key.clone(), CompareOp::Equal, rev)])
        .and_then([TxnOp::delete(key, None)]);
    let mut c = h.client.clone();
    let r = op("deleting the logical switch", c.txn(txn))
        .await
        .map_err(unavailable)?;
    if !r.succeeded() {
        return Err(ApiError::Conflict(format!(
            "vni: logical switch {vni} changed while being deleted; try again"
        )));
    }
    Ok(())
}
