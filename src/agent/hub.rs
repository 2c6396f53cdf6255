//! What the agent's tasks share: the host's own state (what a full sync re-reports), the
//! live sessions by controller, the slice map, and each session's status for
//! `vxswitch show connections`.

use super::messages::{AgentCmd, ControlUpdate, RemoteVtep};
use crate::api::host::{Connection, SessionState};
use crate::ids::Vni;
use crate::proto::{self, agent_message::Body, AgentMessage};
use crate::wire::MacAddr;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Mutex, MutexGuard};
use tokio::sync::mpsc;

/// The host's state as the controllers must know it; rebuilt into messages on every
/// (re)connect.
#[derive(Default, Debug)]
pub struct LocalState {
    joined: BTreeSet<Vni>,
    macs: BTreeSet<(Vni, MacAddr)>,
    ips: BTreeMap<(Vni, Ipv4Addr), MacAddr>,
    /// MAC mobility: the newest sequence number heard or claimed per MAC.
    seqs: HashMap<(Vni, MacAddr), MacSeq>,
}

/// A MAC's mobility sequence number, and whether the location it numbers is this host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct MacSeq {
    n: u32,
    mine: bool,
}

impl LocalState {
    pub fn apply(&mut self, c: &AgentCmd) {
        match *c {
            AgentCmd::Join(v) => {
                self.joined.insert(v);
            }
            AgentCmd::Leave(v) => {
                self.joined.remove(&v);
                self.macs.retain(|(x, _)| *x != v);
                self.ips.retain(|(x, _), _| *x != v);
            }
            AgentCmd::Mac {
                vni,
                mac,
                withdrawn,
            } => {
                let key = (vni, mac);
                let seq = self.seqs.get(&key).copied();
                if withdrawn {
                    self.macs.remove(&key);
                    if let Some(s) = self.seqs.get_mut(&key) {
                        s.mine = false;
                    }
                } else {
                    self.macs.insert(key);
                    // Taking the MAC from the location last heard of: the next number.
                    let n = match seq {
                        Some(s) if s.mine => s.n,
                        Some(s) => s.n.saturating_add(1),
                        None => 0,
                    };
                    self.seqs.insert(key, MacSeq { n, mine: true });
                }
            }
            AgentCmd::Ip { vni, ip, mac } => {
                self.ips.insert((vni, ip), mac);
            }
            AgentCmd::IpAged { vni, ip, .. } => {
                self.ips.remove(&(vni, ip));
            }
            AgentCmd::ArpQuery { .. } | AgentCmd::MacQuery { .. } => {}
        }
    }

    /// A controller said where `mac` is (`mine`: here) and with which sequence number; an
    /// older number than one heard already is old news.
    pub fn heard(&mut self, vni: Vni, mac: MacAddr, n: u32, mine: bool) {
        let s = self.seqs.entry((vni, mac)).or_insert(MacSeq { n, mine });
        if n >= s.n {
            *s = MacSeq { n, mine };
        }
    }

    /// The sequence number this host reports `mac` with.
    fn seq(&self, vni: Vni, mac: MacAddr) -> u32 {
        self.seqs.get(&(vni, mac)).map_or(0, |s| s.n)
    }

    pub fn is_joined(&self, vni: Vni) -> bool {
        self.joined.contains(&vni)
    }

    pub fn joined(&self) -> impl Iterator<Item = Vni> + '_ {
        self.joined.iter().copied()
    }

    /// The full sync for the VNIs `owns` accepts: joins, then MACs, then IP bindings.
    pub fn sync_messages(&self, owns: impl Fn(Vni) -> bool) -> Vec<AgentMessage> {
        let mut out = Vec::new();
        let joined: Vec<Vni> = self.joined.iter().copied().filter(|v| owns(*v)).collect();
        for &v in &joined {
            out.push(self.to_proto(&AgentCmd::Join(v)));
        }
        for &(vni, mac) in &self.macs {
            if joined.contains(&vni) {
                out.push(self.to_proto(&AgentCmd::Mac {
                    vni,
                    mac,
                    withdrawn: false,
                }));
            }
        }
        for (&(vni, ip), &mac) in &self.ips {
            if joined.contains(&vni) {
                out.push(self.to_proto(&AgentCmd::Ip { vni, ip, mac }));
            }
        }
        out
    }

    /// The message for `c` (a MAC report with its mobility sequence number).
    pub fn to_proto(&self, c: &AgentCmd) -> AgentMessage {
        AgentMessage::of(match *c {
            AgentCmd::Join(vni) => Body::Join(proto::VniJoin { vni: vni.get() }),
            AgentCmd::Leave(vni) => Body::Leave(proto::VniLeave { vni: vni.get() }),
            AgentCmd::Mac {
                vni,
                mac,
                withdrawn,
            } => Body::Mac(proto::MacReport {
                vni: vni.get(),
                mac: proto::mac_bytes(mac),
                withdrawn,
                seq: self.seq(vni, mac),
            }),
            AgentCmd::Ip { vni, ip, mac } => Body::Ip(proto::IpReport {
                vni: vni.get(),
                ip: proto::ip_u32(ip),
                mac: proto::mac_bytes(mac),
                withdrawn: false,
            }),
            AgentCmd::IpAged { vni, ip, mac } => Body::Ip(proto::IpReport {
                vni: vni.get(),
                ip: proto::ip_u32(ip),
                mac: proto::mac_bytes(mac),
                withdrawn: true,
            }),
            AgentCmd::ArpQuery { vni, ip } => Body::ArpQuery(proto::ArpQuery {
                vni: vni.get(),
                ip: proto::ip_u32(ip),
            }),
            AgentCmd::MacQuery { vni, mac } => Body::MacQuery(proto::MacQuery {
                vni: vni.get(),
                mac: proto::mac_bytes(mac),
            }),
        })
    }
}

pub fn vni_of(c: &AgentCmd) -> Vni {
    match *c {
        AgentCmd::Join(v) | AgentCmd::Leave(v) => v,
        AgentCmd::Mac { vni, .. }
        | AgentCmd::Ip { vni, .. }
        | AgentCmd::IpAged { vni, .. }
        | AgentCmd::ArpQuery { vni, .. }
        | AgentCmd::MacQuery { vni, .. } => vni,
    }
}

/// VNI slice ownership as a controller announced it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SliceMap {
    pub epoch: u64,
    /// Owner of each slice; "" while a slice moves.
    pub owners: Vec<String>,
}

impl SliceMap {
    /// The controller that owns `vni`, if any.
    pub fn owner(&self, vni: Vni) -> Option<&str> {
        if self.owners.is_empty() {
            return None;
        }
        let o = &self.owners[vni.get() as usize % self.owners.len()];
        (!o.is_empty()).then_some(o.as_str())
    }
}

pub struct Hub {
    local: Mutex<LocalState>,
    sessions: Mutex<HashMap<String, mpsc::Sender<AgentMessage>>>,
    /// The newest map any controller announced: where reports and queries go.
    slices: Mutex<SliceMap>,
    conns: Mutex<Vec<Connection>>,
    updates: Mutex<std::sync::mpsc::Sender<ControlUpdate>>,
    /// The last VTEP table pushed per VNI (segments for `vxswitch show vtep list`).
    vtep_tables: Mutex<HashMap<Vni, Vec<RemoteVtep>>>,
    pub hello: proto::Hello,
    /// A controller silent this long is gone.
    pub dead_after: std::time::Duration,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Hub {
    pub fn new(
        controllers: &[SocketAddr],
        hello: proto::Hello,
        dead_after: std::time::Duration,
        updates: std::sync::mpsc::Sender<ControlUpdate>,
    ) -> Hub {
        Hub {
            local: Mutex::default(),
            sessions: Mutex::default(),
            slices: Mutex::default(),
            conns: Mutex::new(
                controllers
                    .iter()
                    .map(|c| Connection {
                        controller: *c,
                        local: None,
                        state: SessionState::Connecting,
                        id: None,
                        since: unix_now(),
                        last_error: None,
                        vnis: Vec::new(),
                    })
                    .collect(),
            ),
            updates: Mutex::new(updates),
            vtep_tables: Mutex::default(),
            hello,
            dead_after,
        }
    }

    pub fn local(&self) -> MutexGuard<'_, LocalState> {
        lock(&self.local)
    }

    pub fn update(&self, u: ControlUpdate) {
        if let ControlUpdate::VtepTable { vni, vteps } = &u {
            lock(&self.vtep_tables).insert(*vni, vteps.clone());
        }
        let _ = lock(&self.updates).send(u);
    }

    pub fn vtep_table(&self, vni: Vni) -> Vec<RemoteVtep> {
        lock(&self.vtep_tables)
            .get(&vni)
            .cloned()
            .unwrap_or_default()
    }

    pub fn set_status(&self, i: usize, f: impl FnOnce(&mut Connection)) {
        if let Some(c) = lock(&self.conns).get_mut(i) {
            f(c);
            c.since = unix_now();
        }
    }

    /// The sessions' states, each with the VNIs of this host its controller owns.
    pub fn conns(&self) -> Vec<Connection> {
        let mut conns = lock(&self.conns).clone();
        let joined: Vec<Vni> = self.local().joined().collect();
        let map = lock(&self.slices).clone();
        for c in &mut conns {
            c.vnis = joined
                .iter()
                .copied()
                .filter(|v| c.id.is_some() && map.owner(*v) == c.id.as_deref())
                .collect();
        }
        conns
    }

    /// Takes `map` if it is at least as new as the one in use.
    pub fn set_slices(&self, map: &SliceMap) {
        let mut s = lock(&self.slices);
        if !map.owners.is_empty() && map.epoch >= s.epoch {
            *s = map.clone();
        }
    }

    /// The controller that owns `vni`, per the newest slice map.
    pub fn owner(&self, vni: Vni) -> Option<String> {
        lock(&self.slices).owner(vni).map(str::to_string)
    }

    pub fn register(&self, id: &str, tx: mpsc::Sender<AgentMessage>) {
        let n = {
            let mut s = lock(&self.sessions);
            s.insert(id.to_string(), tx);
            s.len()
        };
        if n == 1 {
            self.update(ControlUpdate::Connected(true));
        }
    }

    pub fn unregister(&self, id: &str) {
        let n = {
            let mut s = lock(&self.sessions);
            s.remove(id);
            s.len()
        };
        if n == 0 {
            self.update(ControlUpdate::Connected(false));
        }
    }

    /// The session to the owner of `vni` could not take a message: it ends (its queue's
    /// last sender goes) and reconnects with a full sync.
    pub fn resync(&self, vni: Vni) {
        let Some(owner) = self.owner(vni) else {
            return;
        };
        if lock(&self.sessions).remove(&owner).is_some() {
            tracing::warn!("agent: the session to {owner} fell behind (queue full): resyncing");
        }
    }

    /// The session to the owner of `vni`, if it is up.
    pub fn session_for(&self, vni: Vni) -> Option<mpsc::Sender<AgentMessage>> {
        let owner = self.owner(vni)?;
        lock(&self.sessions).get(&owner).cloned()
    }
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    const V5001: crate::ids::Vni = crate::ids::Vni::from_const(5001);
    const V5002: crate::ids::Vni = crate::ids::Vni::from_const(5002);

    #[test]
    fn full_sync_reports_joins_macs_and_ips_of_owned_vnis_only() {
        let mut s = LocalState::default();
        let a: MacAddr = "02:aa:aa:aa:aa:aa".parse().unwrap();
        for c in [
            AgentCmd::Join(V5001),
            AgentCmd::Join(V5002),
            AgentCmd::Mac {
                vni: V5001,
                mac: a,
                withdrawn: false,
            },
            AgentCmd::Ip {
                vni: V5001,
                ip: Ipv4Addr::new(172, 16, 10, 11),
                mac: a,
            },
            AgentCmd::Mac {
                vni: V5002,
                mac: a,
                withdrawn: false,
            },
            AgentCmd::Leave(V5002),
        ] {
            s.apply(&c);
        }
        let m = s.sync_messages(|_| true);
        assert_eq!(m.len(), 3);
        assert!(matches!(
            m[0].body,
            Some(Body::Join(proto::VniJoin { vni: 5001 }))
        ));
        assert!(matches!(m[1].body, Some(Body::Mac(_))));
        assert!(matches!(m[2].body, Some(Body::Ip(_))));
        assert!(s.sync_messages(|v| v != V5001).is_empty());
        s.apply(&AgentCmd::Mac {
            vni: V5001,
            mac: a,
            withdrawn: true,
        });
        assert_eq!(s.sync_messages(|_| true).len(), 2);
    }

    #[test]
    fn a_session_that_cannot_take_a_report_is_ended_for_a_full_sync() {
        let (up, _rx) = std::sync::mpsc::channel();
        let hub = Hub::new(&[], proto::Hello::default(), Duration::from_secs(3), up);
        hub.set_slices(&SliceMap {
            epoch: 1,
            owners: vec!["c1".into()],
        });
        let (tx, mut rx) = mpsc::channel(1);
        hub.register("c1", tx);
        assert!(hub.session_for(V5001).is_some());
        hub.resync(V5001);
        assert!(hub.session_for(V5001).is_none());
        // The session task sees its queue closed: it ends, reconnects and syncs in full.
        assert!(rx.try_recv().is_err() && rx.is_closed());
    }

    #[test]
    fn mac_reports_carry_the_mobility_sequence_of_what_they_take_over() {
        let mut s = LocalState::default();
        let a: MacAddr = "02:aa:aa:aa:aa:aa".parse().unwrap();
        let report = |s: &mut LocalState, withdrawn| {
            let c = AgentCmd::Mac {
                vni: V5001,
                mac: a,
                withdrawn,
            };
            s.apply(&c);
            match s.to_proto(&c).body {
                Some(Body::Mac(r)) => r.seq,
                other => panic!("{other:?}"),
            }
        };
        s.apply(&AgentCmd::Join(V5001));
        assert_eq!(report(&mut s, false), 0, "never heard of: 0");
        assert_eq!(report(&mut s, false), 0, "its own: unchanged");
        // The controller says A moved to another VTEP at 1; A shows up here again.
        s.heard(V5001, a, 1, false);
        assert_eq!(report(&mut s, false), 2);
        // The controller confirms; old news changes nothing; a resync re-reports 2.
        s.heard(V5001, a, 2, true);
        s.heard(V5001, a, 1, false);
        assert!(matches!(
            s.sync_messages(|_| true)[1].body,
            Some(Body::Mac(proto::MacReport { seq: 2, .. }))
        ));
        // Aged out here and back later: above the number it left with.
        report(&mut s, true);
        assert_eq!(report(&mut s, false), 3);
    }
}
