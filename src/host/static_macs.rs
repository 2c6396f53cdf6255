//! Static MAC entries added and removed at run time from the control socket, in ranges
//! (`vxswitch mac add --count N`, as VPP's `l2fib add ... count`): how operators pin a MAC
//! and how the bench loads a 1M-entry table or churns it. One edit, one publish.

use super::manager::TableManager;
use crate::api::host::MacEditDone;
use crate::ids::Vni;
use crate::tables::{Dest, EntryKind, MacEntry, MacKey, PortIdx};
use crate::wire::MacAddr;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Instant;

/// Where added MACs point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MacEditTarget {
    Vtep(Ipv4Addr),
    /// An access port, by its index (the control socket resolves the name).
    Port(PortIdx),
}

/// Control socket -> management thread: `count` consecutive MACs from `first` added as
/// static entries (or removed), answered once published.
#[derive(Debug)]
pub struct MacEditJob {
    pub vni: Vni,
    pub first: MacAddr,
    pub count: u32,
    /// Some: add or replace, pointing there; None: remove.
    pub target: Option<MacEditTarget>,
    pub done: tokio::sync::oneshot::Sender<Result<MacEditDone, String>>,
}

impl TableManager {
    /// Adds (`target` Some) or removes `count` MACs from `first` in `vni`, then publishes.
    /// A refused edit changes nothing.
    pub fn edit_macs(
        &mut self,
        vni: Vni,
        first: MacAddr,
        count: u32,
        target: Option<MacEditTarget>,
        now: u32,
    ) -> Result<MacEditDone, String> {
        if !self.snap.vnis.contains_key(&vni) {
            return Err(format!("vni: {vni} has no port on this host"));
        }
        if count == 0 {
            return Err("count: must be at least 1".into());
        }
        if first.0[0] & 1 != 0 {
            return Err(format!("mac: {first} is a group address"));
        }
        // The range keeps the first byte (so also the group bit, and within 48 bits).
        if (first.as_u64() ^ (first.as_u64() + u64::from(count) - 1)) >> 40 != 0 {
            return Err("count: the range leaves the first MAC's unicast block".into());
        }
        let started = Instant::now();
        let mut macs = self.snap.macs.edit();
        let mut changed = 0u32;
        let mut new_tunnels = None;
        match target {
            Some(t) => {
                let dest = match t {
                    MacEditTarget::Port(p) => {
                        if self.snap.port_vni.get(usize::from(p)).copied().flatten() != Some(vni) {
                            return Err(format!("port: not an access port of vni {vni}"));
                        }
                        Dest::Local(p)
                    }
                    MacEditTarget::Vtep(ip) => {
                        if ip == self.snap.vtep.ip {
                            return Err(format!("vtep: {ip} is this host's own VTEP"));
                        }
                        let (t, created) = self
                            .tunnel_to(ip)
                            .ok_or_else(|| "vtep: the tunnel table is full".to_string())?;
                        new_tunnels = created;
                        Dest::Remote(t)
                    }
                };
                let before = macs.len();
                for i in 0..count {
                    let key = MacKey {
                        vni,
                        mac: first.offset(u64::from(i)),
                    };
                    let same = macs
                        .get(&key)
                        .is_some_and(|e| e.dest == dest && e.kind == EntryKind::Static);
                    if !same {
                        macs.insert(key, MacEntry::new(dest, EntryKind::Static, now));
                        changed += 1;
                    }
                }
                // Checked after the fact: a refused edit is dropped unpublished.
                if macs.len() > self.mac_capacity {
                    return Err(format!(
                        "count: {} new entries do not fit (mac table {before} of {})",
                        macs.len() - before,
                        self.mac_capacity
                    ));
                }
            }
            None => {
                for i in 0..count {
                    let key = MacKey {
                        vni,
                        mac: first.offset(u64::from(i)),
                    };
                    changed += u32::from(macs.remove(&key).is_some());
                }
            }
        }
        if changed > 0 {
            if let Some(tunnels) = new_tunnels {
                self.snap.tunnels = Arc::new(tunnels);
            }
            self.snap.macs = macs.finish();
            self.publish();
        }
        Ok(MacEditDone {
            changed,
            publish_us: started.elapsed().as_secs_f64() * 1e6,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    const V5001: crate::ids::Vni = crate::ids::Vni::from_const(5001);
    use crate::config::Config;
    use crate::host::manager::initial_snapshot;
    use crate::tables::SnapshotCell;
    use std::net::Ipv4Addr;

    fn manager() -> (Arc<SnapshotCell>, TableManager) {
        let cfg = Config::parse(
            "[eal]\nargs = []\n[dataplane]\nmac_capacity = 1000\n[vtep]\nip = \"10.0.0.1/24\"\n\
             mac = \"02:00:00:00:00:01\"\n[uplink]\ndevice = \"up\"\n[[access_port]]\n\
             name = \"vm\"\ndevice = \"a\"\nvni = 5001\n[[vni]]\nvni = 5001\n",
        )
        .unwrap();
        let cell = Arc::new(SnapshotCell::new(initial_snapshot(
            &cfg,
            cfg.vtep.identity(MacAddr([2, 0, 0, 0, 0, 1])),
            0,
        )));
        let m = TableManager::new(Arc::clone(&cell), &cfg);
        (cell, m)
    }

    fn first() -> MacAddr {
        "02:00:00:aa:00:00".parse().unwrap()
    }

    #[test]
    fn a_range_is_added_published_once_and_removed() {
        let (cell, mut m) = manager();
        let vtep = MacEditTarget::Vtep(Ipv4Addr::new(10, 0, 0, 2));
        let done = m
            .edit_macs(V5001, first(), 300, Some(vtep.clone()), 0)
            .unwrap();
        assert_eq!(done.changed, 300);
        let snap = cell.load();
        assert_eq!(snap.generation, 1);
        assert_eq!(snap.macs.len(), 300);
        let last = MacKey {
            vni: V5001,
            mac: first().offset(299),
        };
        assert!(matches!(
            snap.macs.get(&last).map(|e| (e.dest, e.kind)),
            Some((Dest::Remote(_), EntryKind::Static))
        ));
        // The same edit again changes nothing and publishes nothing.
        assert_eq!(
            m.edit_macs(V5001, first(), 300, Some(vtep), 0)
                .unwrap()
                .changed,
            0
        );
        assert_eq!(cell.load().generation, 1);
        assert_eq!(
            m.edit_macs(V5001, first(), 100, None, 0).unwrap().changed,
            100
        );
        assert_eq!(cell.load().macs.len(), 200);
        m.reclaim();
    }

    #[test]
    fn bad_edits_are_refused_and_change_nothing() {
        let (cell, mut m) = manager();
        let vm = Some(MacEditTarget::Port(1));
        let group: MacAddr = "03:00:00:00:00:00".parse().unwrap();
        let last: MacAddr = "02:ff:ff:ff:ff:ff".parse().unwrap();
        for (vni, mac, count, target) in [
            (5002, first(), 1, vm.clone()),
            (5001, first(), 0, vm.clone()),
            (5001, group, 1, vm.clone()),
            (5001, last, 2, vm.clone()),
            (5001, first(), 1001, vm.clone()),
            (
                5001,
                first(),
                1001,
                Some(MacEditTarget::Vtep(Ipv4Addr::new(10, 0, 0, 3))),
            ),
            (5001, first(), 1, Some(MacEditTarget::Port(0))),
            (
                5001,
                first(),
                1,
                Some(MacEditTarget::Vtep(Ipv4Addr::new(10, 0, 0, 1))),
            ),
        ] {
            assert!(
                m.edit_macs(Vni::from_const(vni), mac, count, target, 0)
                    .is_err(),
                "{vni} {mac} {count}"
            );
        }
        assert_eq!(cell.load().generation, 0);
        assert_eq!(cell.load().macs.len(), 0);
        // Not even the tunnel a refused edit would have needed is kept.
        assert!(m
            .snapshot()
            .tunnels
            .index_of(Ipv4Addr::new(10, 0, 0, 3))
            .is_none());
    }
}
