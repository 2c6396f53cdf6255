//! One controller node's state: the durable logical switches, the per-VNI tables, the
//! agent sessions and the VNI slice ownership. Every change that hosts must see is pushed
//! here, to the sessions of the VNI's members, under the one lock the node has.

use super::ownership::{Change, Ownership};
use super::slices::slice_of;
use super::switches::{LogicalSwitch, Store, StoreError};
use super::tables::{Limits, MacChange, SessionId, TableError, Tables, VtepInfo};
use crate::api::rest::Refusals;
use crate::auth::PeerIdentity;
use crate::ids::Vni;
use crate::proto::{
    self, agent_message::Body as A, controller_message::Body as C, ControllerMessage, ErrorCode,
};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Instant, SystemTime};
use tokio::sync::{mpsc, Notify};

/// How often changed VTEP tables go out (and the lease's clock is followed).
pub const TICK: std::time::Duration = std::time::Duration::from_millis(10);

/// Messages a session may have waiting before it is considered stuck and closed.
pub const SESSION_QUEUE: usize = 4096;

/// A refused agent message: the error sent back, and whether the session must end.
#[derive(Debug)]
pub struct Refusal {
    pub code: ErrorCode,
    pub msg: String,
    pub fatal: bool,
}

fn refuse(code: ErrorCode, msg: impl Into<String>) -> Refusal {
    Refusal {
        code,
        msg: msg.into(),
        fatal: false,
    }
}

pub struct Session {
    pub host: String,
    pub peer: SocketAddr,
    pub vtep: VtepInfo,
    pub since: SystemTime,
    /// The agent said its full sync is complete.
    pub synced: bool,
    tx: mpsc::Sender<ControllerMessage>,
    /// Ends the session's tasks (replaced by a newer session of the same VTEP, or stuck).
    pub close: Arc<Notify>,
}

pub struct Controller {
    pub id: String,
    /// Which slices this node answers for.
    pub own: Ownership,
    store: Store,
    pub tables: Tables,
    pub sessions: BTreeMap<SessionId, Session>,
    next_session: SessionId,
    /// VNIs whose VTEP table changed since the last tick: each goes out once per tick, so
    /// that N hosts joining a VNI at once cost N tables, not N squared.
    dirty: BTreeSet<Vni>,
    /// What was refused, by reason (`GET /api/v1/refusals`).
    pub refusals: Refusals,
    /// What the sessions carried (`GET /metrics`).
    pub counts: super::metrics::Counts,
}

/// An API request refused: HTTP status class and a message naming the field.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Invalid(#[from] super::switches::InvalidField),
    #[error("a write needs a JSON body")]
    NotJson,
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The cluster's store (etcd) did not take the request.
    #[error("{0}")]
    Unavailable(String),
}

impl Controller {
    pub fn new(id: String, store: Store, own: Ownership, limits: Limits) -> Controller {
        Controller {
            own,
            id,
            store,
            tables: Tables::new(limits),
            sessions: BTreeMap::new(),
            next_session: 1,
            dirty: BTreeSet::new(),
            refusals: Refusals::default(),
            counts: Default::default(),
        }
    }

    /// The owner of `vni` per the slice map ("" while its slice moves).
    pub fn owner_of(&self, vni: Vni) -> &str {
        &self.own.owners[slice_of(vni)]
    }

    /// The owner of `vni` as this node can vouch for it ("" if it cannot: see
    /// `Ownership::known_owner`), for the API's views.
    pub fn known_owner_of(&self, vni: Vni) -> &str {
        self.own.known_owner(slice_of(vni), Instant::now())
    }

    /// Whether this node answers for `vni` now.
    pub fn owns(&self, vni: Vni) -> bool {
        self.own.owns(slice_of(vni), Instant::now())
    }

    // ---- cluster ----

    /// Takes the cluster's slice map (`my_lease`: the lease it names this node with),
    /// drops the tables of slices lost, and announces the map to every host.
    pub fn apply_map(&mut self, epoch: u64, owners: Vec<String>, my_lease: Option<i64>) {
        if !self.own.set_map(epoch, owners, my_lease) {
            return;
        }
        self.tick(Instant::now());
        let m = self.slice_map_message();
        let ids: Vec<SessionId> = self.sessions.keys().copied().collect();
        for id in ids {
            self.send(id, m.clone());
        }
    }

    /// Runs every `TICK`: follows the lease's clock (slices no longer owned lose their
    /// tables, those gained send their VTEP tables once their settle window has passed) and
    /// sends the VTEP tables that changed.
    pub fn tick(&mut self, now: Instant) {
        let Change { lost, gained: _ } = self.own.refresh(now);
        if !lost.is_empty() {
            self.tables
                .retain_vnis(|vni| !lost.contains(&slice_of(vni)));
        }
        let settled = self.own.settled(now);
        if !settled.is_empty() {
            let vnis: Vec<Vni> = self
                .tables
                .vnis()
                .filter(|v| settled.contains(&slice_of(*v)))
                .collect();
            self.dirty.extend(vnis);
        }
        for vni in std::mem::take(&mut self.dirty) {
            if self.store.get(vni).is_none() || self.own.is_settling(slice_of(vni)) {
                continue;
            }
            let msg = self.vtep_table_message(vni);
            for m in self.tables.members(vni) {
                self.send(m, msg.clone());
            }
        }
    }

    fn slice_map_message(&self) -> ControllerMessage {
        ControllerMessage::of(C::SliceMap(proto::SliceMap {
            epoch: self.own.epoch,
            slice_owner: self.own.owners.clone(),
        }))
    }

    // ---- sessions ----

    /// Registers a session after a valid Hello; an older session of the same VTEP is closed.
    /// Over TLS (`identity`), the Hello's VTEP IP must be one the certificate names.
    pub fn open_session(
        &mut self,
        hello: &proto::Hello,
        peer: SocketAddr,
        identity: Option<&PeerIdentity>,
        tx: mpsc::Sender<ControllerMessage>,
        close: Arc<Notify>,
    ) -> Result<SessionId, Refusal> {
        self.counts.count_in("hello");
        if hello.version != proto::PROTOCOL_VERSION {
            return Err(Refusal {
                code: ErrorCode::BadVersion,
                msg: format!(
                    "protocol version {} not supported (this controller speaks {})",
                    hello.version,
                    proto::PROTOCOL_VERSION
                ),
                fatal: true,
            });
        }
        let fatal = |e: proto::FieldError| Refusal {
            code: ErrorCode::BadField,
            msg: e.to_string(),
            fatal: true,
        };
        let mac = proto::unicast_mac("hello.vtep_mac", &hello.vtep_mac).map_err(fatal)?;
        if hello.vtep_prefix_len == 0 || hello.vtep_prefix_len > 32 {
            return Err(fatal(proto::FieldError {
                field: "hello.vtep_prefix_len",
                msg: format!("{} is not 1-32", hello.vtep_prefix_len),
            }));
        }
        let ip = proto::ip(hello.vtep_ip);
        if let Some(who) = identity.filter(|who| !who.speaks_for(ip)) {
            self.refusals.impersonation += 1;
            return Err(Refusal {
                code: ErrorCode::NotAuthorized,
                msg: format!(
                    "hello.vtep_ip: {ip} is not an address of certificate {:?}",
                    who.name()
                ),
                fatal: true,
            });
        }
        let older: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.vtep.ip == ip)
            .map(|(id, _)| *id)
            .collect();
        let limit = self.tables.limits.sessions;
        if older.is_empty() && self.sessions.len() >= limit {
            self.refusals.session_limit += 1;
            return Err(Refusal {
                code: ErrorCode::Unspecified,
                msg: format!("this controller holds its limit of {limit} host sessions"),
                fatal: true,
            });
        }
        for id in older {
            self.close_session(id);
        }
        let id = self.next_session;
        self.next_session += 1;
        let vtep = VtepInfo {
            ip,
            prefix_len: hello.vtep_prefix_len as u8,
            mac,
            host: hello.host.clone(),
            session: id,
        };
        self.sessions.insert(
            id,
            Session {
                host: hello.host.clone(),
                peer,
                vtep,
                since: SystemTime::now(),
                synced: false,
                tx,
                close,
            },
        );
        self.send(
            id,
            ControllerMessage::of(C::Welcome(proto::Welcome {
                version: proto::PROTOCOL_VERSION,
                controller: self.id.clone(),
                slice_owner: self.own.owners.clone(),
                epoch: self.own.epoch,
            })),
        );
        Ok(id)
    }

    /// Ends a session: its VTEP leaves every VNI and the remaining members are told.
    pub fn close_session(&mut self, id: SessionId) {
        if let Some(s) = self.sessions.remove(&id) {
            s.close.notify_one();
        }
        for vni in self.tables.drop_session(id) {
            self.push_vtep_table(vni);
        }
    }

    /// Applies one message of an open session.
    pub fn handle(&mut self, id: SessionId, m: proto::AgentMessage) -> Result<(), Refusal> {
        let Some(s) = self.sessions.get(&id) else {
            return Err(refuse(ErrorCode::Unspecified, "session closed"));
        };
        let vtep = s.vtep.clone();
        self.counts.received(m.body.as_ref());
        let bad = |e: proto::FieldError| refuse(ErrorCode::BadField, e.to_string());
        match m.body {
            None => return Err(refuse(ErrorCode::UnknownMessage, "unknown message type")),
            Some(A::Hello(_)) => return Err(refuse(ErrorCode::BadField, "hello: already said")),
            Some(A::Keepalive(_)) => {}
            Some(A::Join(j)) => {
                let vni = self.owned_vni("join.vni", j.vni)?;
                let joined = self.tables.join(vni, vtep);
                if self.refused(joined)? {
                    if let Some(ls) = self.store.get(vni).cloned() {
                        self.send(id, ls_message(&ls));
                    }
                    self.push_vtep_table(vni);
                } else {
                    self.send_vtep_table(vni, id);
                }
            }
            Some(A::Leave(l)) => {
                let vni = self.owned_vni("leave.vni", l.vni)?;
                if self.tables.leave(vni, vtep.ip) {
                    self.push_vtep_table(vni);
                }
            }
            Some(A::Mac(r)) => {
                let vni = self.owned_vni("mac.vni", r.vni)?;
                let mac = proto::unicast_mac("mac.mac", &r.mac).map_err(bad)?;
                let now = Instant::now();
                if r.withdrawn {
                    self.tables.withdraw_mac(vni, mac, vtep.ip, now);
                    return Ok(());
                }
                let change = self.tables.report_mac(vni, mac, vtep.ip, r.seq, now);
                if let Err(TableError::Stale { at, held, .. }) = change {
                    // The host is behind: it learns where the MAC is now, and with which
                    // number it may take it back.
                    self.send(id, mac_reply(vni, mac, Some((at, held))));
                }
                if let MacChange::Moved { seq, .. } = self.refused(change)? {
                    // Hosts that know the MAC follow it to its new VTEP; the reporter learns
                    // the number its location holds.
                    let msg = mac_reply(vni, mac, Some((vtep.ip, seq)));
                    for m in self.tables.members(vni) {
                        self.send(m, msg.clone());
                    }
                }
            }
            Some(A::Ip(r)) => {
                let vni = self.owned_vni("ip.vni", r.vni)?;
                let mac = proto::unicast_mac("ip.mac", &r.mac).map_err(bad)?;
                let ip = proto::ip(r.ip);
                if ip.is_unspecified() || ip.is_broadcast() || ip.is_multicast() {
                    return Err(refuse(
                        ErrorCode::BadField,
                        format!("ip.ip: {ip} is not a host address"),
                    ));
                }
                if r.withdrawn {
                    self.tables
                        .withdraw_ip(vni, ip, mac, vtep.ip, Instant::now());
                    return Ok(());
                }
                let r = self.tables.report_ip(vni, ip, mac, vtep.ip, Instant::now());
                self.refused(r)?;
            }
            Some(A::ArpQuery(q)) => {
                let vni = self.owned_vni("arp_query.vni", q.vni)?;
                self.member(id, vni)?;
                let found = self.tables.lookup_ip(vni, proto::ip(q.ip));
                self.counts.arp_queries[usize::from(found.is_some())] += 1;
                let reply = proto::ArpReply {
                    vni: vni.get(),
                    ip: q.ip,
                    found: found.is_some(),
                    mac: found.map(|(m, _)| proto::mac_bytes(m)).unwrap_or_default(),
                    vtep_ip: found
                        .and_then(|(_, v)| v)
                        .map(proto::ip_u32)
                        .unwrap_or_default(),
                };
                self.send(id, ControllerMessage::of(C::ArpReply(reply)));
            }
            Some(A::MacQuery(q)) => {
                let vni = self.owned_vni("mac_query.vni", q.vni)?;
                self.member(id, vni)?;
                let mac = proto::mac("mac_query.mac", &q.mac).map_err(bad)?;
                let at = self.tables.lookup_mac(vni, mac);
                self.counts.mac_queries[usize::from(at.is_some())] += 1;
                self.send(id, mac_reply(vni, mac, at));
            }
            Some(A::SyncDone(_)) => {
                if let Some(s) = self.sessions.get_mut(&id) {
                    s.synced = true;
                }
            }
        }
        Ok(())
    }

    /// A table's refusal, counted by reason, as the error the host is sent.
    fn refused<T>(&mut self, r: Result<T, TableError>) -> Result<T, Refusal> {
        let e = match r {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        let r = &mut self.refusals;
        match &e {
            TableError::NotJoined(_) => {}
            TableError::Full { .. } => r.table_full += 1,
            TableError::Stale { .. } => r.stale_reports += 1,
            TableError::Frozen { newly: true, .. } => {
                r.duplicates_frozen += 1;
                tracing::warn!("controller: {e}");
            }
            TableError::Frozen { newly: false, .. } => r.frozen_reports += 1,
        }
        Err(refuse(ErrorCode::BadField, e.to_string()))
    }

    /// Queries are answered only about VNIs the host joined (it has VMs on them).
    fn member(&mut self, id: SessionId, vni: Vni) -> Result<(), Refusal> {
        if self.tables.members(vni).contains(&id) {
            return Ok(());
        }
        self.refusals.not_joined += 1;
        Err(refuse(
            ErrorCode::NotAuthorized,
            format!("vni {vni}: this host has not joined it"),
        ))
    }

    fn owned_vni(&self, field: &'static str, v: u32) -> Result<Vni, Refusal> {
        let vni = proto::vni(field, v).map_err(|e| refuse(ErrorCode::BadField, e.to_string()))?;
        if !self.own.owns(slice_of(vni), Instant::now()) {
            let why = match self.owner_of(vni) {
                "" => "has no owner (its slice is moving)".to_string(),
                o if o == self.id => {
                    "is not owned here now: this controller lost its etcd lease".to_string()
                }
                o => format!("is owned by {o}"),
            };
            return Err(refuse(ErrorCode::NotOwner, format!("vni {vni} {why}")));
        }
        Ok(vni)
    }

    fn send(&mut self, id: SessionId, m: ControllerMessage) {
        self.counts.sent(&m);
        let stuck = match self.sessions.get(&id) {
            Some(s) => s.tx.try_send(m).is_err(),
            None => false,
        };
        if stuck {
            self.counts.send_failed += 1;
            // A session that cannot keep up is closed; the agent reconnects and resyncs.
            if let Some(s) = self.sessions.get(&id) {
                s.close.notify_one();
            }
        }
    }

    fn vtep_table_message(&self, vni: Vni) -> ControllerMessage {
        let proxies = self.tables.proxies(vni);
        ControllerMessage::of(C::VtepTable(proto::VtepTable {
            vni: vni.get(),
            vteps: self
                .tables
                .vteps(vni)
                .into_iter()
                .map(|v| proto::Vtep {
                    ip: proto::ip_u32(v.ip),
                    prefix_len: u32::from(v.prefix_len),
                    mac: proto::mac_bytes(v.mac),
                    proxy: proxies.contains(&v.ip),
                })
                .collect(),
        }))
    }

    /// The VNI's VTEP table goes to every member at the next tick (only for configured
    /// switches, and not while the hosts are still re-reporting a slice just gained).
    fn push_vtep_table(&mut self, vni: Vni) {
        self.dirty.insert(vni);
    }

    fn send_vtep_table(&mut self, vni: Vni, id: SessionId) {
        if let Some(ls) = self.store.get(vni).cloned() {
            self.send(id, ls_message(&ls));
            let msg = self.vtep_table_message(vni);
            self.send(id, msg);
        }
    }

    // ---- management API ----

    pub fn switches(&self) -> Vec<LogicalSwitch> {
        self.store.list().cloned().collect()
    }

    pub fn switch(&self, vni: Vni) -> Result<LogicalSwitch, ApiError> {
        self.store
            .get(vni)
            .cloned()
            .ok_or_else(|| ApiError::NotFound(format!("vni: no logical switch {vni}")))
    }

    pub fn create(&mut self, ls: LogicalSwitch) -> Result<(), ApiError> {
        if self.store.get(ls.vni).is_some() {
            return Err(ApiError::Conflict(format!(
                "vni: logical switch {} exists",
                ls.vni
            )));
        }
        let vni = ls.vni;
        self.store.put(ls.clone())?;
        for m in self.tables.members(vni) {
            self.send(m, ls_message(&ls));
        }
        self.push_vtep_table(vni);
        Ok(())
    }

    /// A cluster member's copy follows etcd: a switch written (by any controller) is
    /// stored and its members here are told; nothing happens for an identical copy.
    pub fn switch_written(&mut self, ls: LogicalSwitch) {
        if self.store.get(ls.vni) == Some(&ls) {
            return;
        }
        let new = self.store.get(ls.vni).is_none();
        let vni = ls.vni;
        if self.store.put(ls.clone()).is_ok() {
            for m in self.tables.members(vni) {
                self.send(m, ls_message(&ls));
            }
            if new {
                self.push_vtep_table(vni);
            }
        }
    }

    /// A cluster member's copy follows etcd: a switch deleted (by any controller).
    pub fn switch_deleted(&mut self, vni: Vni) {
        let _ = self.store.remove(vni);
    }

    pub fn update(&mut self, ls: LogicalSwitch) -> Result<(), ApiError> {
        self.switch(ls.vni)?;
        self.store.put(ls.clone())?;
        for m in self.tables.members(ls.vni) {
            self.send(m, ls_message(&ls));
        }
        Ok(())
    }

    pub fn delete(&mut self, vni: Vni) -> Result<(), ApiError> {
        self.check_unused(vni)?;
        self.store.remove(vni)?;
        Ok(())
    }

    /// A switch with VM ports on it is not deleted. Only its owner holds the joins: any
    /// other controller (or one whose slice is moving) refuses rather than guess.
    pub fn check_unused(&self, vni: Vni) -> Result<(), ApiError> {
        self.switch(vni)?;
        if !self.own.owns(slice_of(vni), Instant::now()) {
            let owner = match self.owner_of(vni) {
                "" => "no controller (its slice is moving)".to_string(),
                o => format!("controller {o}"),
            };
            return Err(ApiError::Conflict(format!(
                "vni: logical switch {vni} is owned by {owner}: delete it through that controller's API, which knows whether VMs are on it"
            )));
        }
        let members = self.tables.members(vni);
        if !members.is_empty() {
            return Err(ApiError::Conflict(format!(
                "vni: logical switch {vni} still has {} hypervisor(s) with VM ports on it",
                members.len()
            )));
        }
        Ok(())
    }
}

fn ls_message(ls: &LogicalSwitch) -> ControllerMessage {
    ControllerMessage::of(C::LogicalSwitch(proto::LogicalSwitch {
        vni: ls.vni.get(),
        name: ls.name.clone(),
        replication: proto::ReplicationMode::from(ls.replication_mode) as i32,
        arp_suppression: ls.arp_suppression,
        multicast_group: ls.multicast_group.map(proto::ip_u32).unwrap_or_default(),
    }))
}

/// Where `mac` is (VTEP, mobility sequence number), or that nobody knows.
fn mac_reply(
    vni: Vni,
    mac: crate::wire::MacAddr,
    at: Option<(Ipv4Addr, u32)>,
) -> ControllerMessage {
    ControllerMessage::of(C::MacReply(proto::MacReply {
        vni: vni.get(),
        mac: proto::mac_bytes(mac),
        found: at.is_some(),
        vtep_ip: at.map(|(ip, _)| proto::ip_u32(ip)).unwrap_or_default(),
        seq: at.map(|(_, seq)| seq).unwrap_or_default(),
    }))
}
