//! The single writer of the forwarding tables (the management thread's job): builds the
//! first snapshot from config, applies workers' events in batches, ages learned MACs,
//! resolves underlay next hops by ARP, and publishes a new snapshot only when something
//! changed.

use super::events::Event;
use crate::config::{Config, MacTarget};
use crate::tables::{
    ArpEntry, ArpKey, Dest, EntryKind, MacEntry, MacKey, PortIdx, Snapshot, SnapshotCell,
    TunnelTable, VniInfo, VtepIdentity,
};
use crate::wire::{arp::ArpRepr, ethernet, ArpOperation, EtherType, MacAddr};
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
}

/// Seconds between ARP requests for an unresolved next hop, and refreshes of a known one.
const RESOLVE_RETRY_SECS: u32 = 1;
const RESOLVE_REFRESH_SECS: u32 = 60;

pub struct TableManager {
    cell: Arc<SnapshotCell>,
    snap: Snapshot,
    mac_capacity: usize,
    aging_secs: u32,
    /// Next hop -> when we last asked for it.
    asked: HashMap<Ipv4Addr, u32>,
    /// Neighbours configured statically: never asked for, never overwritten.
    static_neighbors: Vec<Ipv4Addr>,
    pub stats: ManagerStats,
}

/// Builds the first snapshot: ports, VNIs, static VTEPs, MACs and ARP entries.
/// Access port i of the config is PortIdx i + 1 (0 is the uplink).
pub fn initial_snapshot(cfg: &Config, vtep: VtepIdentity, now: u32) -> Snapshot {
    let mut port_vni = vec![None];
    port_vni.extend(cfg.access_ports.iter().map(|p| Some(p.vni)));
    let mut s = Snapshot::new(vtep, port_vni);
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
        for ip in &v.vteps {
            if let Some(t) = tunnels.ensure(*ip, &s.vtep) {
                if !info.vteps.contains(&t) {
                    info.vteps.push(t);
                }
            }
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
    pub fn new(cell: Arc<SnapshotCell>, mac_capacity: usize, aging_secs: u32) -> TableManager {
        let snap = (*cell.load()).clone();
        let static_neighbors = snap.neighbors.keys().copied().collect();
        TableManager {
            cell,
            snap,
            mac_capacity,
            aging_secs,
            asked: HashMap::new(),
            static_neighbors,
            stats: ManagerStats::default(),
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
        let mut tunnels: Option<TunnelTable> = None;
        let mut neighbors: Option<HashMap<Ipv4Addr, MacAddr>> = None;
        for e in events {
            match *e {
                Event::MacSeen { vni, mac, dest } => {
                    let key = MacKey { vni, mac };
                    match macs.get(&key) {
                        Some(old) if old.dest == dest || old.kind == EntryKind::Static => continue,
                        Some(_) => self.stats.mac_moves += 1,
                        None if macs.len() >= self.mac_capacity => {
                            self.stats.mac_table_full += 1;
                            continue;
                        }
                        None => self.stats.macs_learned += 1,
                    }
                    macs.insert(key, MacEntry::new(dest, EntryKind::Learned, now));
                    changed = true;
                }
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
            if let Some(t) = tunnels {
                self.snap.tunnels = Arc::new(t);
            }
            if let Some(n) = neighbors {
                self.snap.neighbors = Arc::new(n);
            }
            self.publish();
        }
    }

    /// Removes learned MACs not seen for the aging time.
    pub fn age(&mut self, now: u32) {
        if self.aging_secs == 0 {
            return;
        }
        let limit = self.aging_secs;
        let mut macs = self.snap.macs.edit();
        let n = macs.remove_where(|_, e| {
            e.kind == EntryKind::Learned && now.saturating_sub(e.seen()) >= limit
        });
        if n > 0 {
            self.stats.macs_aged += n as u64;
            self.snap.macs = macs.finish();
            self.publish();
        }
    }

    /// ARP requests to send now for next hops that are unresolved (every second) or due
    /// for a refresh.
    pub fn resolve(&mut self, now: u32) -> Vec<Vec<u8>> {
        let mut hops: Vec<(Ipv4Addr, bool)> = Vec::new();
        for (_, t) in self.snap.tunnels.iter() {
            if let Some(h) = t.next_hop.filter(|h| !self.static_neighbors.contains(h)) {
                if !hops.iter().any(|(x, _)| *x == h) {
                    hops.push((h, t.is_resolved()));
                }
            }
        }
        let mut frames = Vec::new();
        for (hop, resolved) in hops {
            let every = if resolved {
                RESOLVE_REFRESH_SECS
            } else {
                RESOLVE_RETRY_SECS
            };
            let last = self.asked.get(&hop).copied();
            if last.is_some_and(|l| now.saturating_sub(l) < every) {
                continue;
            }
            self.asked.insert(hop, now);
            self.stats.arp_requests_sent += 1;
            frames.push(arp_request(&self.snap.vtep, hop));
        }
        frames
    }

    fn publish(&mut self) {
        self.cell.publish(self.snap.clone());
        self.snap.generation = self.cell.load().generation;
        self.stats.publishes += 1;
    }
}

/// A broadcast ARP request from the VTEP for `target`, padded to 60 bytes.
pub fn arp_request(vtep: &VtepIdentity, target: Ipv4Addr) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    ethernet::emit_header(&mut f, MacAddr::BROADCAST, vtep.mac, EtherType::Arp);
    ArpRepr {
        operation: ArpOperation::Request,
        sender_mac: vtep.mac,
        sender_ip: vtep.ip,
        target_mac: MacAddr::ZERO,
        target_ip: target,
    }
    .emit(&mut f[ethernet::HEADER_LEN..]);
    f
}
