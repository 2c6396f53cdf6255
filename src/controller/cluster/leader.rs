//! The leader: elected with etcd's election API (its key lives on its lease), it assigns
//! the slices over the live members each time membership changes (`slices::assign`: even
//! shares, fewest moves). A slice never has two owners: one moving away from a live member
//! is first written unowned, and given to its new owner only after every member that applies
//! maps has acknowledged that epoch; one whose owner's lease expired is given at once (that
//! owner stopped before etcd expired it, see `ownership`). Every write is a transaction on
//! the leader key still existing, so a deposed leader writes nothing.

use super::etcd::op;
use super::keys::{MemberRecord, StoredMap};
use super::Handle;
use crate::controller::slices::{assign, SLICES};
use etcd_client::{Client, Compare, CompareOp, GetOptions, Txn, TxnOp, WatchOptions};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

enum Fail {
    /// The leader key is gone: this node is no longer leader.
    Deposed,
    /// An etcd request failed: the round is tried again.
    Retry(String),
}

impl From<String> for Fail {
    fn from(e: String) -> Fail {
        Fail::Retry(e)
    }
}

/// Campaigns, then leads until deposed; returns why it stopped.
pub async fn lead(h: &Handle, id: &str, lease: i64) -> String {
    let mut c = h.client.clone();
    // A campaign waits for as long as another member leads: no deadline on it.
    let key = match c.campaign(h.keys.election(), id, lease).await {
        Ok(mut r) => match r.take_leader() {
            Some(k) => k.key().to_vec(),
            None => return "campaign: etcd named no leader key".into(),
        },
        Err(e) => return format!("campaign: {e}"),
    };
    tracing::info!("controller {id}: elected leader, assigning slices");
    loop {
        match round(h, &mut c, &key, id).await {
            Ok(rev) => wait_for_members(h, &mut c, rev).await,
            Err(Fail::Deposed) => return "deposed as leader".into(),
            Err(Fail::Retry(e)) => {
                tracing::warn!("controller {id}: leader: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// One assignment over the members as they are now; returns the revision it read them at.
async fn round(h: &Handle, c: &mut Client, key: &[u8], id: &str) -> Result<i64, Fail> {
    let got = op(
        "reading members",
        c.get(h.keys.members(), Some(GetOptions::new().with_prefix())),
    )
    .await?;
    let rev = got.header().map_or(0, |x| x.revision());
    let live: BTreeMap<String, i64> = got
        .kvs()
        .iter()
        .filter_map(|kv| serde_json::from_slice::<MemberRecord>(kv.value()).ok())
        .map(|m| (m.id, m.lease))
        .collect();
    let (mut cur, cur_epoch) = read_map(h, c).await?;
    cur.owners.resize(SLICES, String::new());
    let prev: Vec<Option<String>> = cur
        .owners
        .iter()
        .map(|o| live.contains_key(o).then(|| o.clone()))
        .collect();
    let ids: Vec<String> = live.keys().cloned().collect();
    let want = assign(&prev, &ids);
    let moving: Vec<usize> = (0..SLICES)
        .filter(|&s| prev[s].is_some() && want[s] != prev[s])
        .collect();
    let mut unowned_at = cur.owners.iter().any(String::is_empty).then_some(cur_epoch);
    if !moving.is_empty() {
        let mut phase = cur.clone();
        for &s in &moving {
            phase.owners[s].clear();
        }
        phase.leases = live.clone();
        phase.leader = id.to_string();
        let epoch = write(h, c, key, &phase).await?;
        tracing::info!(
            "controller {id}: leader: {} slice(s) leave a live member: unowned at epoch {epoch} until every member applied it",
            moving.len()
        );
        unowned_at = Some(epoch);
    }
    if let Some(epoch) = unowned_at {
        wait_applied(h, c, epoch).await?;
    }
    let next = StoredMap {
        owners: want.into_iter().map(Option::unwrap_or_default).collect(),
        leases: live,
        leader: id.to_string(),
    };
    if next != cur || unowned_at.is_some() {
        let epoch = write(h, c, key, &next).await?;
        let per: BTreeMap<&str, usize> = next.owners.iter().fold(BTreeMap::new(), |mut m, o| {
            *m.entry(o.as_str()).or_default() += 1;
            m
        });
        tracing::info!("controller {id}: leader: slice map epoch {epoch}: {per:?}");
    }
    Ok(rev)
}

async fn read_map(h: &Handle, c: &mut Client) -> Result<(StoredMap, u64), String> {
    let got = op("reading the slice map", c.get(h.keys.slices(), None)).await?;
    Ok(match got.kvs().first() {
        Some(kv) => (
            serde_json::from_slice(kv.value()).unwrap_or_default(),
            kv.mod_revision().max(0) as u64,
        ),
        None => (StoredMap::default(), 0),
    })
}

/// Writes the map if this node still leads; returns its epoch.
async fn write(h: &Handle, c: &mut Client, key: &[u8], map: &StoredMap) -> Result<u64, Fail> {
    let json = serde_json::to_vec(map).map_err(|e| Fail::Retry(e.to_string()))?;
    let txn = Txn::new()
        .when([Compare::version(key.to_vec(), CompareOp::Greater, 0)])
        .and_then([TxnOp::put(h.keys.slices(), json, None)]);
    let r = op("writing the slice map", c.txn(txn)).await?;
    if !r.succeeded() {
        return Err(Fail::Deposed);
    }
    Ok(r.header().map_or(0, |x| x.revision()).max(0) as u64)
}

/// Waits until every member that applies maps has applied `epoch` or later (a member
/// whose lease expired has no acknowledgement left and owns nothing).
async fn wait_applied(h: &Handle, c: &mut Client, epoch: u64) -> Result<(), String> {
    let start = Instant::now();
    let mut told = Duration::ZERO;
    loop {
        let got = op(
            "reading acknowledgements",
            c.get(h.keys.applied_all(), Some(GetOptions::new().with_prefix())),
        )
        .await?;
        let behind: Vec<String> = got
            .kvs()
            .iter()
            .filter(|kv| {
                std::str::from_utf8(kv.value())
                    .ok()
                    .and_then(|v| v.parse::<u64>().ok())
                    .is_none_or(|v| v < epoch)
            })
            .map(|kv| String::from_utf8_lossy(kv.key()).into_owned())
            .collect();
        if behind.is_empty() {
            return Ok(());
        }
        if start.elapsed() >= told + Duration::from_secs(2) {
            told = start.elapsed();
            tracing::warn!("leader: waiting for {behind:?} to apply slice map epoch {epoch}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Returns when membership changed after `rev` (or after a while, to look again).
async fn wait_for_members(h: &Handle, c: &mut Client, rev: i64) {
    let opts = WatchOptions::new()
        .with_prefix()
        .with_start_revision(rev + 1);
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        if let Ok((_w, mut events)) = c.watch(h.keys.members(), Some(opts)).await {
            while let Ok(Some(resp)) = events.message().await {
                if !resp.events().is_empty() || resp.canceled() {
                    return;
                }
            }
        }
    })
    .await;
}
