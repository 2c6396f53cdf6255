//! The controllers' side of the table manager: VM ports coming up and down (joins and
//! leaves), the VTEP tables and logical-switch settings pushed by controllers, and the
//! answers to ARP and MAC queries. Like the workers' events, each call publishes at most
//! one snapshot, and what must be sent goes to the manager's `Outbox`.

use super::manager::TableManager;
use super::queries::{arp_reply_frame, arp_request_frame};
use super::replication;
use crate::agent::{AgentCmd, ControlUpdate, RemoteVtep};
use crate::dataplane::SlowFrame;
use crate::ids::Vni;
use crate::tables::{ArpEntry, ArpKey, Dest, EntryKind, MacEntry, MacKey, TunnelIdx, TunnelTable};
use crate::wire::MacAddr;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

impl TableManager {
    /// A VM port of `vni` came up or went down; the first up joins, the last down leaves.
    pub fn port_link(&mut self, vni: Vni, up: bool) {
        let n = self.ports_up.entry(vni).or_insert(0);
        if up {
            *n += 1;
            if *n == 1 {
                self.out.agent.push(AgentCmd::Join(vni));
            }
        } else if *n > 0 {
            *n -= 1;
            if *n == 0 {
                self.ports_up.remove(&vni);
                self.out.agent.push(AgentCmd::Leave(vni));
            }
        }
    }

    /// Applies one update from the agent.
    pub fn control(&mut self, u: ControlUpdate, now: u32) {
        match u {
            ControlUpdate::Connected(up) => {
                if self.snap.controller_up != up {
                    self.snap.controller_up = up;
                    if !up {
                        // Headless: nobody will answer; flood what was waiting.
                        let keys: Vec<ArpKey> = self.pending_arp.keys().copied().collect();
                        for k in keys {
                            self.unanswered(k);
                        }
                    }
                    self.publish();
                }
            }
            ControlUpdate::VtepTable { vni, vteps } => self.vtep_table(vni, &vteps),
            ControlUpdate::LogicalSwitch {
                vni,
                arp_suppression,
                replication,
                group,
            } => {
                let Some(info) = self.snap.vnis.get(&vni) else {
                    return;
                };
                let inp = self.bum_inputs.entry(vni).or_default();
                let bum_changed = (inp.mode, inp.group) != (replication, group);
                (inp.mode, inp.group) = (replication, group);
                if info.arp_suppression != arp_suppression {
                    let mut vnis = (*self.snap.vnis).clone();
                    if let Some(i) = vnis.get_mut(&vni) {
                        i.arp_suppression = arp_suppression;
                    }
                    self.snap.vnis = Arc::new(vnis);
                    if !bum_changed {
                        self.publish();
                    }
                }
                if bum_changed {
                    self.replan(vni);
                }
            }
            ControlUpdate::ArpAnswer { vni, ip, found } => {
                let key = ArpKey { vni, ip };
                match found {
                    Some((mac, vtep)) => self.arp_answer(key, mac, vtep, now),
                    None => self.unanswered(key),
                }
            }
            ControlUpdate::MacAnswer { vni, mac, vtep } => {
                let key = MacKey { vni, mac };
                let asked = self.mac_asked.remove(&key).is_some();
                let known = self.snap.macs.get(&key).map(|e| e.kind);
                if let Some(ip) = vtep {
                    // Install what was asked; follow a move of what is known (not static).
                    if (asked && known.is_none()) || known == Some(EntryKind::Learned) {
                        let mut macs = self.snap.macs.edit();
                        if self.install_remote(&mut macs, key, ip, now) {
                            self.snap.macs = macs.finish();
                            self.publish();
                        }
                    }
                }
            }
        }
    }

    /// Floods the ARP requests that waited longer than `timeout` for the controller.
    pub fn expire_queries(&mut self, now: Instant, timeout: Duration) {
        let late: Vec<ArpKey> = self
            .pending_arp
            .iter()
            .filter(|(_, p)| now.duration_since(p.asked) >= timeout)
            .map(|(k, _)| *k)
            .collect();
        for k in late {
            self.unanswered(k);
        }
    }

    fn unanswered(&mut self, key: ArpKey) {
        if let Some(p) = self.pending_arp.remove(&key) {
            self.stats.arp_unanswered += 1;
            for w in p.waiters {
                self.out.frames.push(SlowFrame::Flood {
                    vni: key.vni,
                    port: w.0,
                    bytes: arp_request_frame(w, key.ip),
                });
            }
        }
    }

    fn arp_answer(&mut self, key: ArpKey, mac: MacAddr, vtep: Option<Ipv4Addr>, now: u32) {
        if !mac.is_unicast() {
            return self.unanswered(key);
        }
        let mut changed = false;
        if self.snap.arps.get(&key).is_none() && self.snap.arps.len() < self.arp_capacity {
            let mut arps = self.snap.arps.edit();
            arps.insert(
                key,
                ArpEntry {
                    mac,
                    kind: EntryKind::Learned,
                },
            );
            self.snap.arps = arps.finish();
            self.arp_since.insert(key, now);
            changed = true;
        }
        // The controller said where the MAC lives too: the first frame goes straight there.
        if let Some(ip) = vtep {
            let mkey = MacKey { vni: key.vni, mac };
            if self.snap.macs.get(&mkey).is_none() {
                let mut macs = self.snap.macs.edit();
                if self.install_remote(&mut macs, mkey, ip, now) {
                    self.snap.macs = macs.finish();
                    changed = true;
                }
            }
        }
        if changed {
            self.publish();
        }
        if let Some(p) = self.pending_arp.remove(&key) {
            self.stats.arp_answered_by_controller += 1;
            for w in p.waiters {
                self.out.frames.push(SlowFrame::ArpReply {
                    port: w.0,
                    bytes: arp_reply_frame(w, key.ip, mac),
                });
            }
        }
    }

    /// Points `key` at the tunnel to `vtep` (created if new); false if nothing changed.
    fn install_remote(
        &mut self,
        macs: &mut crate::tables::Editor<MacKey, MacEntry>,
        key: MacKey,
        vtep: Ipv4Addr,
        now: u32,
    ) -> bool {
        if vtep == self.snap.vtep.ip {
            return false;
        }
        let Some((t, created)) = self.tunnel_to(vtep) else {
            return false;
        };
        if let Some(tunnels) = created {
            self.snap.tunnels = Arc::new(tunnels);
        }
        let dest = Dest::Remote(t);
        if macs.get(&key).is_some_and(|e| e.dest == dest) {
            return false;
        }
        macs.insert(key, MacEntry::new(dest, EntryKind::Learned, now));
        true
    }

    /// The tunnel to `ip`: its index and, when it had to be created, the new tunnel table,
    /// for the caller to keep once its own change stands.
    pub(super) fn tunnel_to(&self, ip: Ipv4Addr) -> Option<(TunnelIdx, Option<TunnelTable>)> {
        if let Some(t) = self.snap.tunnels.index_of(ip) {
            return Some((t, None));
        }
        let mut tunnels = (*self.snap.tunnels).clone();
        let t = self.ensure_tunnel(&mut tunnels, ip)?;
        Some((t, Some(tunnels)))
    }

    /// The tunnel to `ip`, created if new with its next hop's MAC from the ARP cache.
    fn ensure_tunnel(&self, tunnels: &mut TunnelTable, ip: Ipv4Addr) -> Option<TunnelIdx> {
        let t = tunnels.ensure(ip, &self.snap.vtep)?;
        if let Some(hop) = self.snap.vtep.next_hop(ip) {
            if let Some(mac) = self.snap.neighbors.get(&hop) {
                tunnels.set_neighbor(hop, *mac, &self.snap.vtep);
            }
        }
        Some(t)
    }

    /// The controller's VTEP table for `vni` (all members, this host with its proxy flag).
    fn vtep_table(&mut self, vni: Vni, vteps: &[RemoteVtep]) {
        if !self.snap.vnis.contains_key(&vni) {
            return;
        }
        self.bum_inputs.entry(vni).or_default().members = vteps.to_vec();
        self.replan(vni);
    }

    /// Recomputes `vni`'s members and replication plan; publishes if they changed.
    pub(super) fn replan(&mut self, vni: Vni) {
        let Some(inp) = self.bum_inputs.get(&vni) else {
            return;
        };
        let mut plan = replication::plan(inp, &self.snap.vtep);
        if plan.open {
            if let Some(s) = self.strangers.get(&vni) {
                for ip in s {
                    if !plan.members.contains(ip) {
                        plan.members.push(*ip);
                    }
                }
            }
        }
        let mut tunnels = (*self.snap.tunnels).clone();
        let (vteps, bum) =
            replication::install(&plan, inp, &self.snap.vtep, &mut tunnels, |t, ip| {
                self.ensure_tunnel(t, ip)
            });
        let mut vnis = (*self.snap.vnis).clone();
        let Some(info) = vnis.get_mut(&vni) else {
            return;
        };
        if info.vteps == vteps && info.bum == bum {
            return;
        }
        info.vteps = vteps;
        info.bum = bum;
        self.snap.vnis = Arc::new(vnis);
        self.snap.tunnels = Arc::new(tunnels);
        self.rejoin_groups();
        self.publish();
    }

    /// A VTEP outside the VTEP table sent on a multicast-mode VNI: it becomes a member
    /// (a tunnel to learn its MACs behind), up to MAX_STRANGERS per VNI.
    pub(super) fn stranger(&mut self, vni: Vni, ip: Ipv4Addr) {
        if !self.snap.vnis.get(&vni).is_some_and(|i| i.bum.open) || ip == self.snap.vtep.ip {
            return;
        }
        let known = self.strangers.entry(vni).or_default();
        if known.contains(&ip) || known.len() >= MAX_STRANGERS {
            return;
        }
        known.push(ip);
        self.replan(vni);
    }
}

/// Unknown VTEPs a multicast-mode VNI takes in as peers; more are forwarded, not learned.
const MAX_STRANGERS: usize = 256;
