//! The cluster's operator views, and reads forwarded to a VNI's owner: only the owner holds
//! a VNI's tables, so the API of any other member asks the owner's API for them.

use super::etcd::op;
use super::keys::MemberRecord;
use super::Handle;
use crate::api::rest::{ClusterMember, ClusterStatus, SliceRow};
use crate::auth::ApiToken;
use crate::controller::sessions::{lock, Shared};
use crate::controller::slices::{slice_of, SLICES};
use etcd_client::GetOptions;
use std::time::{Duration, Instant};

/// Marks a request one controller forwarded to another (which then answers itself).
pub const FORWARDED: &str = "x-vxswitch-forwarded";

/// How long a forwarded read may take.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(3);

/// `show control-cluster status`: the members etcd lists, the leader, this node's share.
pub async fn status(h: Option<&Handle>, node: &Shared) -> ClusterStatus {
    let (id, majority, epoch, owners, here) = {
        let c = lock(node);
        let now = Instant::now();
        let here = (0..SLICES).filter(|&s| c.own.owns(s, now)).count();
        (
            c.id.clone(),
            c.own.has_authority(now),
            c.own.epoch,
            c.own.owners.clone(),
            here,
        )
    };
    let count = |m: &str| owners.iter().filter(|o| o.as_str() == m).count();
    let mut st = ClusterStatus {
        controller: id.clone(),
        mode: "single".into(),
        majority,
        leader: None,
        members: Vec::new(),
        epoch,
        slices_here: here,
        error: None,
    };
    let Some(h) = h else {
        st.leader = Some(id.clone());
        st.members.push(ClusterMember {
            id: id.clone(),
            agents: String::new(),
            api: String::new(),
            since: 0,
            slices: count(&id),
        });
        return st;
    };
    st.mode = "cluster".into();
    match members(h).await {
        Ok(ms) => {
            st.members = ms
                .into_iter()
                .map(|m| ClusterMember {
                    slices: count(&m.id),
                    id: m.id,
                    agents: m.agents,
                    api: m.api,
                    since: m.since,
                })
                .collect()
        }
        Err(e) => st.error = Some(e),
    }
    let mut c = h.client.clone();
    if let Ok(r) = op("reading the leader", c.leader(h.keys.election())).await {
        st.leader = r
            .kv()
            .map(|kv| String::from_utf8_lossy(kv.value()).into_owned());
    }
    st
}

/// The live members as etcd lists them.
pub async fn members(h: &Handle) -> Result<Vec<MemberRecord>, String> {
    let mut c = h.client.clone();
    let got = op(
        "reading members",
        c.get(h.keys.members(), Some(GetOptions::new().with_prefix())),
    )
    .await?;
    Ok(got
        .kvs()
        .iter()
        .filter_map(|kv| serde_json::from_slice(kv.value()).ok())
        .collect())
}

/// `show control-cluster slices`: every slice's owner and the configured VNIs in it.
pub fn slices(node: &Shared) -> Vec<SliceRow> {
    let c = lock(node);
    let mut rows: Vec<SliceRow> = (0..SLICES)
        .map(|s| SliceRow {
            slice: s,
            controller: c.own.owners[s].clone(),
            vnis: Vec::new(),
        })
        .collect();
    for ls in c.switches() {
        rows[slice_of(ls.vni)].vnis.push(ls.vni);
    }
    rows
}

/// A read answered by the owner's API: (status, JSON body); None if it could not be asked.
pub async fn forward(
    h: &Handle,
    owner: &str,
    path: &str,
    token: Option<&ApiToken>,
) -> Option<(u16, Vec<u8>)> {
    let api = members(h)
        .await
        .ok()?
        .into_iter()
        .find(|m| m.id == owner)?
        .api;
    let url = format!("http://{api}{path}");
    let auth = token.map(ApiToken::header);
    tokio::task::spawn_blocking(move || {
        let agent = ureq::AgentBuilder::new().timeout(FORWARD_TIMEOUT).build();
        let mut req = agent.get(&url).set(FORWARDED, "1");
        if let Some(a) = &auth {
            req = req.set("Authorization", a);
        }
        let r = match req.call() {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(_) => return None,
        };
        let status = r.status();
        let mut body = Vec::new();
        std::io::Read::read_to_end(&mut r.into_reader(), &mut body).ok()?;
        Some((status, body))
    })
    .await
    .ok()
    .flatten()
}
