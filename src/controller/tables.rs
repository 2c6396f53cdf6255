//! The controller's per-VNI tables (soft state, rebuilt from the hosts' reports): VTEP table
//! (who joined the VNI), MAC table (VM MAC -> VTEP; the newest report wins, so a VM that
//! moves is followed) and ARP table (VM IP -> MAC), and per segment of each VNI its proxy
//! (the UTEP or MTEP that replicates BUM frames from other segments within its own; kept
//! while it stays, else the lowest address). Pure logic: no I/O, no locks.

use crate::ids::{Ipv4Net, Vni};
use crate::wire::MacAddr;
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

/// Identifies one agent session; a host that reconnects gets a new one.
pub type SessionId = u64;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VtepInfo {
    pub ip: Ipv4Addr,
    pub prefix_len: u8,
    pub mac: MacAddr,
    pub host: String,
    pub session: SessionId,
}

impl VtepInfo {
    /// The VTEP's segment: its network address (e.g. 192.168.250.0).
    pub fn segment(&self) -> Ipv4Addr {
        Ipv4Net {
            addr: self.ip,
            prefix_len: self.prefix_len,
        }
        .network()
    }
}

#[derive(Default, Debug)]
struct VniTables {
    vteps: BTreeMap<Ipv4Addr, VtepInfo>,
    /// MAC -> VTEP IP it was last reported behind.
    macs: BTreeMap<MacAddr, Ipv4Addr>,
    /// IP -> (MAC, VTEP IP that reported it).
    arps: BTreeMap<Ipv4Addr, (MacAddr, Ipv4Addr)>,
    /// Segment (network, prefix length) -> its proxy.
    proxies: BTreeMap<(Ipv4Addr, u8), Ipv4Addr>,
}

impl VniTables {
    /// Keeps each segment's proxy while it is a member there, else picks the lowest address.
    fn pick_proxies(&mut self) {
        let mut picked: BTreeMap<(Ipv4Addr, u8), Ipv4Addr> = BTreeMap::new();
        // In address order: the lowest unless the current proxy is still there.
        for v in self.vteps.values() {
            let seg = (v.segment(), v.prefix_len);
            if self.proxies.get(&seg) == Some(&v.ip) {
                picked.insert(seg, v.ip);
            } else {
                picked.entry(seg).or_insert(v.ip);
            }
        }
        self.proxies = picked;
    }
}

/// What a MAC report changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MacChange {
    Unchanged,
    New,
    /// The MAC was behind another VTEP before: hosts that know it must follow.
    Moved {
        from: Ipv4Addr,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    #[error("vni {0}: this VTEP has not joined it")]
    NotJoined(Vni),
}

#[derive(Default, Debug)]
pub struct Tables {
    vnis: BTreeMap<Vni, VniTables>,
}

impl Tables {
    /// A VTEP joins a VNI; true if the VNI's VTEP table changed.
    pub fn join(&mut self, vni: Vni, v: VtepInfo) -> bool {
        let t = self.vnis.entry(vni).or_default();
        let changed = t.vteps.get(&v.ip) != Some(&v);
        t.vteps.insert(v.ip, v);
        t.pick_proxies();
        changed
    }

    /// A VTEP leaves a VNI: its MACs and IP bindings there go with it. True if it was in.
    pub fn leave(&mut self, vni: Vni, vtep: Ipv4Addr) -> bool {
        let Some(t) = self.vnis.get_mut(&vni) else {
            return false;
        };
        let was = t.vteps.remove(&vtep).is_some();
        t.pick_proxies();
        t.macs.retain(|_, at| *at != vtep);
        t.arps.retain(|_, (_, by)| *by != vtep);
        if t.vteps.is_empty() && t.macs.is_empty() && t.arps.is_empty() {
            self.vnis.remove(&vni);
        }
        was
    }

    /// Keeps only the VNIs `keep` accepts (a controller that lost their slices drops them).
    pub fn retain_vnis(&mut self, keep: impl Fn(Vni) -> bool) {
        self.vnis.retain(|v, _| keep(*v));
    }

    /// The VNIs with any table entry.
    pub fn vnis(&self) -> impl Iterator<Item = Vni> + '_ {
        self.vnis.keys().copied()
    }

    /// A session ended: every VNI it had joined loses that VTEP. Returns those VNIs.
    pub fn drop_session(&mut self, session: SessionId) -> Vec<Vni> {
        let mut hit = Vec::new();
        for (vni, t) in &self.vnis {
            for v in t.vteps.values() {
                if v.session == session {
                    hit.push((*vni, v.ip));
                }
            }
        }
        for (vni, ip) in &hit {
            self.leave(*vni, *ip);
        }
        hit.into_iter().map(|(v, _)| v).collect()
    }

    fn joined(&self, vni: Vni, vtep: Ipv4Addr) -> Result<(), TableError> {
        match self.vnis.get(&vni) {
            Some(t) if t.vteps.contains_key(&vtep) => Ok(()),
            _ => Err(TableError::NotJoined(vni)),
        }
    }

    /// A host reports a VM MAC behind its VTEP; the newest report wins.
    pub fn report_mac(
        &mut self,
        vni: Vni,
        mac: MacAddr,
        vtep: Ipv4Addr,
    ) -> Result<MacChange, TableError> {
        self.joined(vni, vtep)?;
        let t = self.vnis.get_mut(&vni).expect("joined");
        Ok(match t.macs.insert(mac, vtep) {
            None => MacChange::New,
            Some(old) if old == vtep => MacChange::Unchanged,
            Some(old) => MacChange::Moved { from: old },
        })
    }

    /// A host withdraws a MAC (aged out); only the VTEP it is behind may withdraw it.
    pub fn withdraw_mac(&mut self, vni: Vni, mac: MacAddr, vtep: Ipv4Addr) -> bool {
        match self.vnis.get_mut(&vni) {
            Some(t) if t.macs.get(&mac) == Some(&vtep) => t.macs.remove(&mac).is_some(),
            _ => false,
        }
    }

    /// A host reports an IP/MAC binding; true if the ARP table changed.
    pub fn report_ip(
        &mut self,
        vni: Vni,
        ip: Ipv4Addr,
        mac: MacAddr,
        vtep: Ipv4Addr,
    ) -> Result<bool, TableError> {
        self.joined(vni, vtep)?;
        let t = self.vnis.get_mut(&vni).expect("joined");
        Ok(t.arps.insert(ip, (mac, vtep)).map(|(m, _)| m) != Some(mac))
    }

    pub fn lookup_mac(&self, vni: Vni, mac: MacAddr) -> Option<Ipv4Addr> {
        self.vnis.get(&vni)?.macs.get(&mac).copied()
    }

    /// The MAC for `ip`, and the VTEP that MAC is behind when known.
    pub fn lookup_ip(&self, vni: Vni, ip: Ipv4Addr) -> Option<(MacAddr, Option<Ipv4Addr>)> {
        let t = self.vnis.get(&vni)?;
        let (mac, _) = t.arps.get(&ip)?;
        Some((*mac, t.macs.get(mac).copied()))
    }

    pub fn vteps(&self, vni: Vni) -> Vec<VtepInfo> {
        self.vnis
            .get(&vni)
            .map(|t| t.vteps.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The proxies of `vni`'s segments.
    pub fn proxies(&self, vni: Vni) -> BTreeSet<Ipv4Addr> {
        self.vnis
            .get(&vni)
            .map(|t| t.proxies.values().copied().collect())
            .unwrap_or_default()
    }

    pub fn macs(&self, vni: Vni) -> Vec<(MacAddr, Ipv4Addr)> {
        self.vnis
            .get(&vni)
            .map(|t| t.macs.iter().map(|(m, v)| (*m, *v)).collect())
            .unwrap_or_default()
    }

    pub fn arps(&self, vni: Vni) -> Vec<(Ipv4Addr, MacAddr)> {
        self.vnis
            .get(&vni)
            .map(|t| t.arps.iter().map(|(i, (m, _))| (*i, *m)).collect())
            .unwrap_or_default()
    }

    /// Sessions of the VTEPs that joined `vni`.
    pub fn members(&self, vni: Vni) -> BTreeSet<SessionId> {
        self.vnis
            .get(&vni)
            .map(|t| t.vteps.values().map(|v| v.session).collect())
            .unwrap_or_default()
    }

    /// VNIs a session has joined.
    pub fn joined_by(&self, session: SessionId) -> Vec<Vni> {
        self.vnis
            .iter()
            .filter(|(_, t)| t.vteps.values().any(|v| v.session == session))
            .map(|(vni, _)| *vni)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    const V5001: crate::ids::Vni = crate::ids::Vni::from_const(5001);
    const V5002: crate::ids::Vni = crate::ids::Vni::from_const(5002);

    fn vtep(last: u8, session: SessionId) -> VtepInfo {
        VtepInfo {
            ip: Ipv4Addr::new(192, 168, 250, last),
            prefix_len: 24,
            mac: MacAddr([2, 0, 0, 0, 0, last]),
            host: format!("hv{last}"),
            session,
        }
    }
    const A: MacAddr = MacAddr([2, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa]);

    #[test]
    fn join_builds_the_vtep_table_with_segments() {
        let mut t = Tables::default();
        assert!(t.join(V5001, vtep(51, 1)));
        assert!(!t.join(V5001, vtep(51, 1)));
        assert!(t.join(V5001, vtep(52, 2)));
        let v = t.vteps(V5001);
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].segment(), Ipv4Addr::new(192, 168, 250, 0));
        assert_eq!(t.members(V5001).len(), 2);
    }

    #[test]
    fn each_segment_has_one_proxy_kept_while_it_stays() {
        let mut t = Tables::default();
        let other = |last: u8, s| VtepInfo {
            ip: Ipv4Addr::new(192, 168, 251, last),
            ..vtep(last, s)
        };
        t.join(V5001, vtep(53, 3));
        t.join(V5001, vtep(51, 1));
        t.join(V5001, other(62, 5));
        t.join(V5001, other(61, 4));
        let p = |t: &Tables| t.proxies(V5001).into_iter().collect::<Vec<_>>();
        let ip = |a, b| Ipv4Addr::new(192, 168, a, b);
        // The first to join stays proxy though a lower address joined later.
        assert_eq!(p(&t), vec![ip(250, 53), ip(251, 62)]);
        t.leave(V5001, ip(250, 53));
        assert_eq!(p(&t), vec![ip(250, 51), ip(251, 62)]);
        t.join(V5001, vtep(52, 2));
        assert_eq!(p(&t), vec![ip(250, 51), ip(251, 62)]);
        assert_eq!(t.drop_session(5), vec![V5001]);
        assert_eq!(p(&t), vec![ip(250, 51), ip(251, 61)]);
        t.leave(V5001, ip(251, 61));
        assert_eq!(p(&t), vec![ip(250, 51)]);
    }

    #[test]
    fn reports_need_a_join_first() {
        let mut t = Tables::default();
        let ip = Ipv4Addr::new(192, 168, 250, 51);
        assert_eq!(
            t.report_mac(V5001, A, ip),
            Err(TableError::NotJoined(V5001))
        );
        t.join(V5001, vtep(51, 1));
        assert_eq!(t.report_mac(V5001, A, ip), Ok(MacChange::New));
        assert_eq!(t.report_mac(V5001, A, ip), Ok(MacChange::Unchanged));
    }

    #[test]
    fn a_moved_vm_is_followed_newest_report_wins() {
        let mut t = Tables::default();
        let (v1, v2) = (vtep(51, 1), vtep(52, 2));
        t.join(V5001, v1.clone());
        t.join(V5001, v2.clone());
        t.report_mac(V5001, A, v1.ip).unwrap();
        let ip = Ipv4Addr::new(172, 16, 10, 11);
        t.report_ip(V5001, ip, A, v1.ip).unwrap();
        assert_eq!(
            t.report_mac(V5001, A, v2.ip),
            Ok(MacChange::Moved { from: v1.ip })
        );
        assert_eq!(t.lookup_mac(V5001, A), Some(v2.ip));
        assert_eq!(t.lookup_ip(V5001, ip), Some((A, Some(v2.ip))));
        // The old host's late withdrawal does not remove the new location.
        assert!(!t.withdraw_mac(V5001, A, v1.ip));
        assert!(t.withdraw_mac(V5001, A, v2.ip));
        assert_eq!(t.lookup_mac(V5001, A), None);
    }

    #[test]
    fn leave_and_disconnect_remove_what_the_vtep_reported() {
        let mut t = Tables::default();
        let v1 = vtep(51, 1);
        t.join(V5001, v1.clone());
        t.join(V5002, v1.clone());
        t.join(V5001, vtep(52, 2));
        t.report_mac(V5001, A, v1.ip).unwrap();
        t.report_ip(V5001, Ipv4Addr::new(172, 16, 10, 11), A, v1.ip)
            .unwrap();
        assert!(t.leave(V5001, v1.ip));
        assert!(t.macs(V5001).is_empty());
        assert!(t.arps(V5001).is_empty());
        assert_eq!(t.vteps(V5001).len(), 1);
        assert_eq!(t.joined_by(1), vec![Vni::from_const(5002)]);
        assert_eq!(t.drop_session(1), vec![Vni::from_const(5002)]);
        assert!(t.vteps(V5002).is_empty());
        assert_eq!(t.vteps(V5001).len(), 1);
    }

    #[test]
    fn ip_report_changes_only_on_a_new_mac() {
        let mut t = Tables::default();
        let v1 = vtep(51, 1);
        t.join(V5001, v1.clone());
        let ip = Ipv4Addr::new(172, 16, 10, 11);
        assert_eq!(t.report_ip(V5001, ip, A, v1.ip), Ok(true));
        assert_eq!(t.report_ip(V5001, ip, A, v1.ip), Ok(false));
        assert_eq!(t.lookup_ip(V5001, ip), Some((A, None)));
        assert_eq!(t.lookup_ip(V5001, Ipv4Addr::new(172, 16, 10, 99)), None);
    }
}
