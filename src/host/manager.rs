//! The single writer of the forwarding tables (the management thread's job): builds the
//! first snapshot from config, applies workers' events in batches, ages learned MACs,
//! resolves underlay next hops by ARP, and publishes a new snapshot only when something
//! changed. What the controllers must hear and the frames the slow path must send are
//! collected in an `Outbox` for the caller to deliver (see `control.rs` for the other way).

use super::port_guard::port_policies;
pub use super::port_guard::Refused;
use super::queries::{arp_reply_frame, PendingArp};
use super::replication;
use crate::agent::{AgentCmd, RemoteVtep};
use crate::config::{Config, MacTarget, VniConfig};
use crate::dataplane::events::Event;
use crate::dataplane::slow_path::arp_frame;
use crate::dataplane::SlowFrame;
use crate::ids::Vni;
use crate::tables::{
    ArpEntry, ArpKey, Dest, EntryKind, MacEntry, MacKey, PortIdx, PortPolicy, Snapshot,
    SnapshotCell, TunnelTable, VniInfo, VniTable, VtepIdentity,
};
use crate::wire::{ArpOperation, MacAddr};
use hashbrown::HashMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

/// What the manager has done, for printouts and metrics.
#[derive(Debug, Default, Clone, Copy)]
pub struct ManagerStats {
    pub macs_learned: u64,
    pub mac_moves: u64,
    pub macs_aged: u64,
    pub mac_table_full: u64,
    pub publishes: u64,
    pub arp_requests_sent: u64,
    pub ip_bindings: u64,
    pub arp_table_full: u64,
    pub arp_answered_by_controller: u64,
    pub arp_unanswered: u64,
    /// Reports and queries the agent's full queue refused.
    pub agent_cmds_lost: u64,
    /// Port security lists locked to a VM's first MAC or address.
    pub port_locks: u64,
    /// Learned ARP bindings removed with their MAC.
    pub arps_aged: u64,
}

/// What the management loop must deliver after a call into the manager.
#[derive(Debug, Default)]
pub struct Outbox {
    pub agent: Vec<AgentCmd>,
    pub frames: Vec<SlowFrame>,
    /// Echo replies to the VTEP: (from, id, seq).
    pub echoes: Vec<(Ipv4Addr, u16, u16)>,
}

/// Seconds between ARP requests for an unresolved next hop, and refreshes of a known one.
const RESOLVE_RETRY_SECS: u32 = 1;
const RESOLVE_REFRESH_SECS: u32 = 60;

pub struct TableManager {
    cell: Arc<SnapshotCell>,
    pub(super) snap: Snapshot,
    pub(super) mac_capacity: usize,
    pub(super) arp_capacity: usize,
    aging_secs: u32,
    /// What each VNI's BUM replication follows: mode, group, VTEP table, configured VTEPs.
    pub(super) bum_inputs: HashMap<Vni, replication::Inputs>,
    /// VTEPs outside the VTEP table seen sending on multicast-mode VNIs (at most
    /// MAX_STRANGERS per VNI: a tunnel each).
    pub(super) strangers: HashMap<Vni, Vec<Ipv4Addr>>,
    /// IGMP membership: when the groups were last reported, and whether a query asks now.
    pub(super) igmp: super::groups::Membership,
    /// VNIs with at least one VM port up, and how many.
    pub(super) ports_up: HashMap<Vni, usize>,
    /// ARP requests waiting for the controller, by (VNI, target IP).
    pub(super) pending_arp: HashMap<ArpKey, PendingArp>,
    /// MACs asked about, and when (seconds), to ask at most once a second.
    pub(super) mac_asked: HashMap<MacKey, u32>,
    pub out: Outbox,
    /// Next hop -> when we last asked for it.
    asked: HashMap<Ipv4Addr, u32>,
    /// The second and tunnel table `resolve` last scanned: nothing new to ask until either
    /// changes.
    scanned: Option<(u32, Arc<TunnelTable>)>,
    /// Neighbours configured statically: never asked for, never overwritten.
    static_neighbors: Vec<Ipv4Addr>,
    /// Published versions workers may still hold (see `reclaim`).
    retired: Vec<Arc<Snapshot>>,
    pub stats: ManagerStats,
    pub refused: Arc<Refused>,
    /// The MACs learned behind each port with a `max_macs` now.
    port_macs: HashMap<PortIdx, u32>,
    /// When each learned ARP binding was installed (snooped or answered): it ages once it
    /// is that old and its MAC is gone from the MAC table.
    pub(super) arp_since: HashMap<ArpKey, u32>,
}

/// A VNI's replication inputs from the config (the controller may change them later):
/// configured VTEPs are taken to be on segments of this VTEP's prefix length.
fn configured_inputs(v: &VniConfig, me: &VtepIdentity) -> replication::Inputs {
    replication::Inputs {
        mode: v.replication,
        group: v.multicast_group,
        members: Vec::new(),
        configured: v
            .vteps
            .iter()
            .map(|ip| RemoteVtep {
                ip: *ip,
                prefix_len: me.prefix_len,
                mac: MacAddr::ZERO,
                proxy: v.proxies.contains(ip),
            })
            .collect(),
    }
}

/// Builds the first snapshot: ports, VNIs, static VTEPs, MACs and ARP entries.
/// Access port i of the config is PortIdx i + 1 (0 is the uplink).
pub fn initial_snapshot(cfg: &Config, vtep: VtepIdentity, now: u32) -> Snapshot {
    let mut port_vni = vec![None];
    // (Only configured VNIs' flags are read here; the controller may change them later.)
    port_vni.extend(cfg.access_ports.iter().map(|p| Some(p.vni)));
    let mut s = Snapshot::new(vtep, port_vni);
    s.port_policy = Arc::new(port_policies(cfg));
    let mut tunnels = TunnelTable::default();
    let mut vnis: HashMap<_, VniInfo> = HashMap::new();
    for (i, p) in cfg.access_ports.iter().enumerate() {
        vnis.entry(p.vni)
            .or_default()
            .local_ports
            .push((i + 1) as PortIdx);
    }
    let mut macs = s.macs.edit();
    let mut arps = s.arps.edit();
    for v in &cfg.vnis {
        let info = vnis.entry(v.vni).or_default();
        info.arp_suppression = v.arp_suppression;
        for ip in &v.vteps {
            tunnels.ensure(*ip, &s.vtep);
        }
        for m in &v.macs {
            let dest = match &m.target {
                MacTarget::Vtep(ip) => tunnels.index_of(*ip).map(Dest::Remote),
                MacTarget::Port(name) => cfg
                    .access_ports
                    .iter()
                    .position(|p| &p.name == name)
                    .map(|i| Dest::Local((i + 1) as PortIdx)),
            };
            if let Some(dest) = dest {
                macs.insert(
                    MacKey {
                        vni: v.vni,
                        mac: m.mac,
                    },
                    MacEntry::new(dest, EntryKind::Static, now),
                );
            }
        }
        for (ip, mac) in &v.arps {
            arps.insert(
                ArpKey {
                    vni: v.vni,
                    ip: *ip,
                },
                ArpEntry {
                    mac: *mac,
                    kind: EntryKind::Static,
                },
            );
        }
    }
    for v in &cfg.vnis {
        let inp = configured_inputs(v, &s.vtep);
        let p = replication::plan(&inp, &s.vtep);
        let info = vnis.entry(v.vni).or_default();
        (info.vteps, info.bum) = replication::install(&p, &inp, &s.vtep, &mut tunnels, |t, ip| {
            t.ensure(ip, &s.vtep)
        });
    }
    let vnis = VniTable::new(vnis);
    s.port_slot = Arc::new(
        s.port_vni
            .iter()
            .map(|v| v.and_then(|v| vnis.get(&v)).map_or(u16::MAX, |i| i.slot))
            .collect(),
    );
    s.groups = Arc::new(super::groups::joined(&vnis));
    let mut neighbors = HashMap::new();
    for (ip, mac) in &cfg.neighbors {
        tunnels.set_neighbor(*ip, *mac, &s.vtep);
        neighbors.insert(*ip, *mac);
    }
    s.macs = macs.finish();
    s.arps = arps.finish();
    s.vnis = Arc::new(vnis);
    s.tunnels = Arc::new(tunnels);
    s.neighbors = Arc::new(neighbors);
    s
}

impl TableManager {
    pub fn new(cell: Arc<SnapshotCell>, cfg: &Config) -> TableManager {
        let snap = (*cell.load()).clone();
        let bum_inputs = cfg
            .vnis
            .iter()
            .map(|v| (v.vni, configured_inputs(v, &snap.vtep)))
            .collect();
        let static_neighbors = snap.neighbors.keys().copied().collect();
        TableManager {
            cell,
            snap,
            mac_capacity: cfg.mac_capacity,
            arp_capacity: cfg.arp_capacity,
            aging_secs: cfg.aging_secs,
            bum_inputs,
            strangers: HashMap::new(),
            igmp: super::groups::Membership::default(),
            ports_up: HashMap::new(),
            pending_arp: HashMap::new(),
            mac_asked: HashMap::new(),
            out: Outbox::default(),
            asked: HashMap::new(),
            scanned: None,
            static_neighbors,
            retired: Vec::new(),
            stats: ManagerStats::default(),
            refused: Arc::default(),
            port_macs: HashMap::new(),
            arp_since: HashMap::new(),
        }
    }

    /// The last published snapshot.
    pub fn snapshot(&self) -> &Snapshot {
        &self.snap
    }

    /// Applies a batch of worker events and publishes once if anything changed.
    pub fn apply(&mut self, events: &[Event], now: u32) {
        if events.is_empty() {
            return;
        }
        let mut changed = false;
        let mut macs = self.snap.macs.edit();
        let mut arps = self.snap.arps.edit();
        let mut tunnels: Option<TunnelTable> = None;
        let mut neighbors: Option<HashMap<Ipv4Addr, MacAddr>> = None;
        let mut strangers = Vec::new();
        let mut policy: Option<Vec<PortPolicy>> = None;
        for e in events {
            match *e {
                Event::MacSeen { vni, mac, dest } => {
                    let key = MacKey { vni, mac };
                    let old = macs.get(&key);
                    if old.is_some_and(|o| o.dest == dest || o.kind == EntryKind::Static) {
                        continue;
                    }
                    if self.port_full(dest) {
                        Refused::bump(&self.refused.port_mac_limit);
                        continue;
                    }
                    let was_local = match old {
                        Some(old) => {
                            self.stats.mac_moves += 1;
                            matches!(old.dest, Dest::Local(_))
                        }
                        None if macs.len() >= self.mac_capacity => {
                            self.stats.mac_table_full += 1;
                            continue;
                        }
                        None => {
                            self.stats.macs_learned += 1;
                            false
                        }
                    };
                    if let Some(MacEntry {
                        dest: Dest::Local(old),
                        ..
                    }) = macs.insert(key, MacEntry::new(dest, EntryKind::Learned, now))
                    {
                        self.port_macs
                            .entry(old)
                            .and_modify(|n| *n = n.saturating_sub(1));
                    }
                    if let Dest::Local(p) = dest {
                        *self.port_macs.entry(p).or_default() += 1;
                    }
                    changed = true;
                    // The controller hears about VMs behind this VTEP, and when they leave.
                    match dest {
                        Dest::Local(_) => self.out.agent.push(AgentCmd::Mac {
                            vni,
                            mac,
                            withdrawn: false,
                        }),
                        Dest::Remote(_) if was_local => self.out.agent.push(AgentCmd::Mac {
                            vni,
                            mac,
                            withdrawn: true,
                        }),
                        Dest::Remote(_) => {}
                    }
                }
                Event::IpSeen { vni, ip, mac } => {
                    let key = ArpKey { vni, ip };
                    match arps.get(&key) {
                        Some(e) if e.mac == mac || e.kind == EntryKind::Static => continue,
                        None if arps.len() >= self.arp_capacity => {
                            self.stats.arp_table_full += 1;
                            continue;
                        }
                        _ => {}
                    }
                    arps.insert(
                        key,
                        ArpEntry {
                            mac,
                            kind: EntryKind::Learned,
                        },
                    );
                    self.stats.ip_bindings += 1;
                    self.arp_since.insert(key, now);
                    changed = true;
                    self.out.agent.push(AgentCmd::Ip { vni, ip, mac });
                }
                Event::ArpMiss {
                    vni,
                    port,
                    asker_mac,
                    asker_ip,
                    target,
                } => {
                    let key = ArpKey { vni, ip: target };
                    let waiter = (port, asker_mac, asker_ip);
                    // Answered meanwhile (an earlier event of this batch, or a reply).
                    if let Some(e) = arps.get(&key) {
                        self.out.frames.push(SlowFrame::ArpReply {
                            port,
                            bytes: arp_reply_frame(waiter, target, e.mac),
                        });
                        continue;
                    }
                    let first = !self.pending_arp.contains_key(&key);
                    self.pending_arp
                        .entry(key)
                        .or_insert_with(|| PendingArp::new(std::time::Instant::now()))
                        .add(waiter);
                    if first {
                        self.out.agent.push(AgentCmd::ArpQuery { vni, ip: target });
                    }
                }
                Event::MacMiss { vni, mac } => {
                    let key = MacKey { vni, mac };
                    if self.mac_asked.get(&key).is_some_and(|t| *t == now) {
                        continue;
                    }
                    self.mac_asked.insert(key, now);
                    self.out.agent.push(AgentCmd::MacQuery { vni, mac });
                }
                Event::PortMacClaim { port, .. } | Event::PortIpClaim { port, .. } => {
                    let p = policy.get_or_insert_with(|| (*self.snap.port_policy).clone());
                    let Some(g) = p.get_mut(usize::from(port)).and_then(|p| p.guard.as_mut())
                    else {
                        continue;
                    };
                    let locked = match *e {
                        Event::PortMacClaim { mac, .. } => g.lock_mac(mac),
                        Event::PortIpClaim { ip, .. } => g.lock_ip(ip),
                        _ => false,
                    };
                    if locked {
                        self.stats.port_locks += 1;
                        changed = true;
                    }
                }
                Event::EchoReply { from, id, seq } => self.out.echoes.push((from, id, seq)),
                Event::IgmpQuery => self.igmp.queried(),
                Event::VtepSeen { vni, ip } => strangers.push((vni, ip)),
                Event::NeighborSeen { ip, mac } => {
                    if self.static_neighbors.contains(&ip) {
                        continue;
                    }
                    let n = neighbors.get_or_insert_with(|| (*self.snap.neighbors).clone());
                    if n.insert(ip, mac) != Some(mac) {
                        changed = true;
                    }
                    let t = tunnels.get_or_insert_with(|| (*self.snap.tunnels).clone());
                    changed |= t.set_neighbor(ip, mac, &self.snap.vtep);
                }
            }
        }
        if changed {
            self.snap.macs = macs.finish();
            self.snap.arps = arps.finish();
            if let Some(t) = tunnels {
                self.snap.tunnels = Arc::new(t);
            }
            if let Some(n) = neighbors {
                self.snap.neighbors = Arc::new(n);
            }
            if let Some(p) = policy {
                self.snap.port_policy = Arc::new(p);
            }
            self.publish();
        }
        for (vni, ip) in strangers {
            self.stranger(vni, ip);
        }
    }

    /// `dest` is a port that holds its `max_macs` already.
    fn port_full(&self, dest: Dest) -> bool {
        let Dest::Local(p) = dest else {
            return false;
        };
        let limit = self
            .snap
            .port_policy
            .get(usize::from(p))
            .and_then(|p| p.max_macs);
        limit.is_some_and(|l| self.port_macs.get(&p).copied().unwrap_or(0) >= l)
    }

    /// The learned MACs behind each port, counted again from the table (after aging, and
    /// catching any change made elsewhere: static edits, controller answers).
    fn recount_port_macs(&mut self) {
        self.port_macs.clear();
        for (_, e) in self.snap.macs.iter() {
            if let (Dest::Local(p), EntryKind::Learned) = (e.dest, e.kind) {
                *self.port_macs.entry(p).or_default() += 1;
            }
        }
    }

    /// Removes learned MACs not seen for the aging time.
    pub fn age(&mut self, now: u32) {
        if self.aging_secs == 0 {
            return;
        }
        let limit = self.aging_secs;
        let mut macs = self.snap.macs.edit();
        let mut withdrawn = Vec::new();
        let n = macs.remove_where(|k, e| {
            let old = e.kind == EntryKind::Learned && now.saturating_sub(e.seen()) >= limit;
            if old && matches!(e.dest, Dest::Local(_)) {
                withdrawn.push(AgentCmd::Mac {
                    vni: k.vni,
                    mac: k.mac,
                    withdrawn: true,
                });
            }
            old
        });
        self.out.agent.extend(withdrawn);
        self.mac_asked.retain(|_, t| now.saturating_sub(*t) < 2);
        if n > 0 {
            self.stats.macs_aged += n as u64;
            self.snap.macs = macs.finish();
            self.publish();
        }
        if n > 0 || self.snap.port_policy.iter().any(|p| p.max_macs.is_some()) {
            self.recount_port_macs();
        }
        self.age_arps(now);
    }

    /// Removes learned ARP bindings as old as the aging time whose MAC has aged out (or was
    /// never seen): suppression stops answering for a VM that is gone, and the controller
    /// hears that this host no longer vouches for the binding.
    fn age_arps(&mut self, now: u32) {
        let limit = self.aging_secs;
        let (arps, macs) = (&self.snap.arps, &self.snap.macs);
        let mut gone: Vec<(ArpKey, MacAddr)> = Vec::new();
        self.arp_since.retain(|k, since| {
            if now.saturating_sub(*since) < limit {
                return true;
            }
            let Some(e) = arps.get(k).filter(|e| e.kind == EntryKind::Learned) else {
                return false;
            };
            if macs
                .get(&MacKey {
                    vni: k.vni,
                    mac: e.mac,
                })
                .is_some()
            {
                // Its VM is alive: looked at again an aging time from now.
                *since = now;
                return true;
            }
            gone.push((*k, e.mac));
            false
        });
        if gone.is_empty() {
            return;
        }
        let mut arps = self.snap.arps.edit();
        for (key, mac) in &gone {
            arps.remove(key);
            self.out.agent.push(AgentCmd::IpAged {
                vni: key.vni,
                ip: key.ip,
                mac: *mac,
            });
        }
        self.stats.arps_aged += gone.len() as u64;
        self.snap.arps = arps.finish();
        self.publish();
    }

    /// ARP requests to send now: for a next hop never asked about (a new tunnel's first
    /// frames wait on it), again every second while it is unresolved, every minute once
    /// known. Called every tick: it scans the tunnels only when the second or the tunnel
    /// table changed, and allocates only when it has something to send.
    pub fn resolve(&mut self, now: u32) -> Vec<Vec<u8>> {
        let tunnels = &self.snap.tunnels;
        if self
            .scanned
            .as_ref()
            .is_some_and(|(s, t)| *s == now && Arc::ptr_eq(t, tunnels))
        {
            return Vec::new();
        }
        self.scanned = Some((now, Arc::clone(tunnels)));
        let mut frames = Vec::new();
        for (_, t) in self.snap.tunnels.iter() {
            let Some(hop) = t.next_hop.filter(|h| !self.static_neighbors.contains(h)) else {
                continue;
            };
            let every = if t.is_resolved() {
                RESOLVE_REFRESH_SECS
            } else {
                RESOLVE_RETRY_SECS
            };
            if self
                .asked
                .get(&hop)
                .is_some_and(|l| now.saturating_sub(*l) < every)
            {
                continue;
            }
            self.asked.insert(hop, now);
            self.stats.arp_requests_sent += 1;
            frames.push(arp_request(&self.snap.vtep, hop));
        }
        frames
    }

    pub(super) fn publish(&mut self) {
        let t = std::time::Instant::now();
        let old = self.cell.publish(self.snap.clone());
        metrics::histogram!(super::metrics::PUBLISH_SECONDS).record(t.elapsed().as_secs_f64());
        self.retired.push(old);
        self.snap.generation = self.cell.load().generation;
        self.stats.publishes += 1;
    }

    /// Frees the replaced snapshots no worker holds any more: RCU's grace period, so that the
    /// cost of freeing a version (thousands of shard references) never lands on a worker.
    pub fn reclaim(&mut self) {
        self.retired.retain(|s| Arc::strong_count(s) > 1);
    }
}

/// A broadcast ARP request from the VTEP for `target`.
pub fn arp_request(vtep: &VtepIdentity, target: Ipv4Addr) -> Vec<u8> {
    arp_frame(
        ArpOperation::Request,
        vtep.mac,
        vtep.ip,
        MacAddr::ZERO,
        target,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_next_hop_is_asked_at_once_then_every_second_until_it_answers() {
        let cfg = Config::parse(
            "[eal]\nargs = []\n[vtep]\nip = \"10.0.0.1/24\"\n[uplink]\ndevice = \"up\"\n\
             [[access_port]]\nname = \"vm\"\ndevice = \"a\"\nvni = 5001\n\
             [[vni]]\nvni = 5001\nvteps = [\"10.0.0.2\"]\n",
        )
        .unwrap();
        let vtep = cfg.vtep.identity(MacAddr([2, 0, 0, 0, 0, 1]));
        let cell = Arc::new(SnapshotCell::new(initial_snapshot(&cfg, vtep, 0)));
        let mut m = TableManager::new(cell, &cfg);
        assert_eq!(m.resolve(0).len(), 1, "the configured VTEP's next hop");
        assert!(m.resolve(0).is_empty(), "not again within the second");
        // A tunnel that appears mid-second is asked for on that tick.
        let (_, created) = m.tunnel_to(Ipv4Addr::new(10, 0, 0, 3)).unwrap();
        m.snap.tunnels = Arc::new(created.unwrap());
        assert_eq!(m.resolve(0).len(), 1);
        assert!(m.resolve(0).is_empty());
        // Unanswered: both asked again the next second; answered: left alone for a minute.
        assert_eq!(m.resolve(1).len(), 2);
        m.apply(
            &[Event::NeighborSeen {
                ip: Ipv4Addr::new(10, 0, 0, 2),
                mac: MacAddr([2, 0, 0, 0, 0, 2]),
            }],
            2,
        );
        assert_eq!(m.resolve(2).len(), 1, "only the silent one");
        m.reclaim();
    }
}
