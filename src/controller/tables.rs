//! The controller's per-VNI tables (soft state, rebuilt from the hosts' reports): VTEP table
//! (who joined the VNI), MAC table (VM MAC -> VTEP, with a mobility sequence number: a VM
//! that moves wins by sequence, not by arrival order) and ARP table (VM IP -> MAC), and per
//! segment of each VNI its proxy (the UTEP or MTEP that replicates BUM frames from other
//! segments within its own; kept while it stays, else the lowest address). Each table has a
//! size limit, and an address that flaps between locations too often is frozen where it is
//! (duplicate detection, RFC 7432 section 15). Pure logic: no I/O, no locks; time is passed
//! in.

use crate::ids::{Ipv4Net, Vni};
use crate::wire::MacAddr;
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::time::Instant;

use super::limits::Flaps;
pub use super::limits::Limits;

/// Where a MAC is, and its mobility sequence number (raised by each move).
#[derive(Clone, Copy, Debug)]
struct MacLoc {
    vtep: Ipv4Addr,
    seq: u32,
    flaps: Flaps,
}

/// An IP's MAC, and the VTEP that reported the binding.
#[derive(Clone, Copy, Debug)]
struct IpBinding {
    mac: MacAddr,
    by: Ipv4Addr,
    flaps: Flaps,
}

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
    macs: BTreeMap<MacAddr, MacLoc>,
    arps: BTreeMap<Ipv4Addr, IpBinding>,
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
    /// The MAC was behind another VTEP before: hosts that know it must follow (to `seq`).
    Moved {
        from: Ipv4Addr,
        seq: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    #[error("vni {0}: this VTEP has not joined it")]
    NotJoined(Vni),
    #[error("vni {vni}: the {table} table holds its limit of {limit}: a new entry refused")]
    Full {
        vni: Vni,
        table: &'static str,
        limit: usize,
    },
    /// `newly`: this report's move was one too many and froze it.
    #[error("vni {vni}: {what} flaps between locations (a duplicate address?): frozen at {at}")]
    Frozen {
        vni: Vni,
        what: String,
        at: String,
        newly: bool,
    },
    #[error("vni {vni}: mac {mac} report has sequence {seq}, older than {held} behind {at}: the MAC moved since")]
    Stale {
        vni: Vni,
        mac: MacAddr,
        seq: u32,
        held: u32,
        at: Ipv4Addr,
    },
}

/// The entry `table` holds for `key`, or None once a new one (`new()`) is inserted; refused
/// when the table is at its limit (`room`: VNI, table name, limit), what it holds unchanged.
fn held_or_insert<'t, K: Ord, V>(
    table: &'t mut BTreeMap<K, V>,
    key: K,
    (vni, name, limit): (Vni, &'static str, usize),
    new: impl FnOnce() -> V,
) -> Result<Option<&'t mut V>, TableError> {
    if table.contains_key(&key) {
        return Ok(table.get_mut(&key));
    }
    if table.len() >= limit {
        return Err(TableError::Full {
            vni,
            table: name,
            limit,
        });
    }
    table.insert(key, new());
    Ok(None)
}

/// One MAC table entry as the views show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MacView {
    pub mac: MacAddr,
    pub vtep: Ipv4Addr,
    pub seq: u32,
    pub frozen: bool,
}

#[derive(Default, Debug)]
pub struct Tables {
    vnis: BTreeMap<Vni, VniTables>,
    pub limits: Limits,
}

impl Tables {
    pub fn new(limits: Limits) -> Tables {
        Tables {
            vnis: BTreeMap::new(),
            limits,
        }
    }

    /// A VTEP joins a VNI; true if the VNI's VTEP table changed.
    pub fn join(&mut self, vni: Vni, v: VtepInfo) -> Result<bool, TableError> {
        let limit = self.limits.vteps_per_vni;
        let t = self.vnis.entry(vni).or_default();
        if !t.vteps.contains_key(&v.ip) && t.vteps.len() >= limit {
            return Err(TableError::Full {
                vni,
                table: "VTEP",
                limit,
            });
        }
        let changed = t.vteps.get(&v.ip) != Some(&v);
        t.vteps.insert(v.ip, v);
        t.pick_proxies();
        Ok(changed)
    }

    /// A VTEP leaves a VNI: its MACs and IP bindings there go with it. True if it was in.
    pub fn leave(&mut self, vni: Vni, vtep: Ipv4Addr) -> bool {
        let Some(t) = self.vnis.get_mut(&vni) else {
            return false;
        };
        let was = t.vteps.remove(&vtep).is_some();
        t.pick_proxies();
        t.macs.retain(|_, at| at.vtep != vtep);
        t.arps.retain(|_, b| b.by != vtep);
        if t.vteps.is_empty() && t.macs.is_empty() && t.arps.is_empty() {
            self.vnis.remove(&vni);
        }
        was
    }

    /// Keeps only the VNIs `keep` accepts (a controller that lost their slices drops them).
    pub fn retain_vnis(&mut self, keep: impl Fn(Vni) -> bool) {
        self.vnis.retain(|v, _| keep(*v));
    }

    /// (VTEPs, MACs, IP bindings) held for `vni`.
    pub fn sizes(&self, vni: Vni) -> (usize, usize, usize) {
        self.vnis
            .get(&vni)
            .map_or((0, 0, 0), |t| (t.vteps.len(), t.macs.len(), t.arps.len()))
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

    /// A host reports a VM MAC behind its VTEP, with the MAC's mobility sequence number as
    /// the host knows it (the number of the location it took the MAC from, plus one; 0 if it
    /// knew of none). A report older than the location held is stale; one as new as it
    /// moves the MAC (a host that never heard of the old location) with the next number.
    pub fn report_mac(
        &mut self,
        vni: Vni,
        mac: MacAddr,
        vtep: Ipv4Addr,
        seq: u32,
        now: Instant,
    ) -> Result<MacChange, TableError> {
        self.joined(vni, vtep)?;
        let limits = self.limits;
        let t = self.vnis.get_mut(&vni).ok_or(TableError::NotJoined(vni))?;
        let new = || MacLoc {
            vtep,
            seq,
            flaps: Flaps::default(),
        };
        let room = (vni, "MAC", limits.macs_per_vni);
        let Some(loc) = held_or_insert(&mut t.macs, mac, room, new)? else {
            return Ok(MacChange::New);
        };
        if loc.vtep == vtep {
            loc.seq = loc.seq.max(seq);
            return Ok(MacChange::Unchanged);
        }
        let frozen = |newly| TableError::Frozen {
            vni,
            what: format!("mac {mac}"),
            at: loc.vtep.to_string(),
            newly,
        };
        if loc.flaps.frozen(now) {
            return Err(frozen(false));
        }
        if seq < loc.seq {
            return Err(TableError::Stale {
                vni,
                mac,
                seq,
                held: loc.seq,
                at: loc.vtep,
            });
        }
        if loc.flaps.moved(now, &limits) {
            return Err(frozen(true));
        }
        let from = loc.vtep;
        loc.vtep = vtep;
        loc.seq = seq.max(loc.seq.saturating_add(1));
        Ok(MacChange::Moved { from, seq: loc.seq })
    }

    /// A host withdraws a MAC (aged out); only the VTEP it is behind may withdraw it, and
    /// not while it is frozen.
    pub fn withdraw_mac(&mut self, vni: Vni, mac: MacAddr, vtep: Ipv4Addr, now: Instant) -> bool {
        match self.vnis.get_mut(&vni) {
            Some(t)
                if t.macs
                    .get(&mac)
                    .is_some_and(|l| l.vtep == vtep && !l.flaps.frozen(now)) =>
            {
                t.macs.remove(&mac).is_some()
            }
            _ => false,
        }
    }

    /// A host reports an IP/MAC binding; true if the ARP table changed. An IP whose MAC
    /// flaps is frozen like a MAC.
    pub fn report_ip(
        &mut self,
        vni: Vni,
        ip: Ipv4Addr,
        mac: MacAddr,
        vtep: Ipv4Addr,
        now: Instant,
    ) -> Result<bool, TableError> {
        self.joined(vni, vtep)?;
        let limits = self.limits;
        let t = self.vnis.get_mut(&vni).ok_or(TableError::NotJoined(vni))?;
        let new = || IpBinding {
            mac,
            by: vtep,
            flaps: Flaps::default(),
        };
        let Some(b) = held_or_insert(&mut t.arps, ip, (vni, "ARP", limits.ips_per_vni), new)?
        else {
            return Ok(true);
        };
        if b.mac == mac {
            b.by = vtep;
            return Ok(false);
        }
        let frozen = |newly| TableError::Frozen {
            vni,
            what: format!("ip {ip}"),
            at: b.mac.to_string(),
            newly,
        };
        if b.flaps.frozen(now) {
            return Err(frozen(false));
        }
        if b.flaps.moved(now, &limits) {
            return Err(frozen(true));
        }
        b.mac = mac;
        b.by = vtep;
        Ok(true)
    }

    /// A host withdraws a binding (aged out there): only the VTEP that reported the binding
    /// held, with the same MAC, and not while it is frozen.
    pub fn withdraw_ip(
        &mut self,
        vni: Vni,
        ip: Ipv4Addr,
        mac: MacAddr,
        vtep: Ipv4Addr,
        now: Instant,
    ) -> bool {
        match self.vnis.get_mut(&vni) {
            Some(t)
                if t.arps
                    .get(&ip)
                    .is_some_and(|b| b.by == vtep && b.mac == mac && !b.flaps.frozen(now)) =>
            {
                t.arps.remove(&ip).is_some()
            }
            _ => false,
        }
    }

    /// Where `mac` is, and its sequence number.
    pub fn lookup_mac(&self, vni: Vni, mac: MacAddr) -> Option<(Ipv4Addr, u32)> {
        self.vnis.get(&vni)?.macs.get(&mac).map(|l| (l.vtep, l.seq))
    }

    /// The MAC for `ip`, and the VTEP that MAC is behind when known.
    pub fn lookup_ip(&self, vni: Vni, ip: Ipv4Addr) -> Option<(MacAddr, Option<Ipv4Addr>)> {
        let t = self.vnis.get(&vni)?;
        let b = t.arps.get(&ip)?;
        Some((b.mac, t.macs.get(&b.mac).map(|l| l.vtep)))
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

    pub fn macs(&self, vni: Vni, now: Instant) -> Vec<MacView> {
        self.vnis
            .get(&vni)
            .map(|t| {
                t.macs
                    .iter()
                    .map(|(m, l)| MacView {
                        mac: *m,
                        vtep: l.vtep,
                        seq: l.seq,
                        frozen: l.flaps.frozen(now),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Each IP, its MAC, and whether the binding is frozen.
    pub fn arps(&self, vni: Vni, now: Instant) -> Vec<(Ipv4Addr, MacAddr, bool)> {
        self.vnis
            .get(&vni)
            .map(|t| {
                t.arps
                    .iter()
                    .map(|(i, b)| (*i, b.mac, b.flaps.frozen(now)))
                    .collect()
            })
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
    use std::time::Duration;
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

    fn joined(vteps: &[u8]) -> Tables {
        let mut t = Tables::default();
        for (i, last) in vteps.iter().enumerate() {
            t.join(V5001, vtep(*last, i as u64 + 1)).unwrap();
        }
        t
    }

    #[test]
    fn join_builds_the_vtep_table_with_segments() {
        let mut t = Tables::default();
        assert_eq!(t.join(V5001, vtep(51, 1)), Ok(true));
        assert_eq!(t.join(V5001, vtep(51, 1)), Ok(false));
        assert_eq!(t.join(V5001, vtep(52, 2)), Ok(true));
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
        for v in [vtep(53, 3), vtep(51, 1), other(62, 5), other(61, 4)] {
            t.join(V5001, v).unwrap();
        }
        let p = |t: &Tables| t.proxies(V5001).into_iter().collect::<Vec<_>>();
        let ip = |a, b| Ipv4Addr::new(192, 168, a, b);
        // The first to join stays proxy though a lower address joined later.
        assert_eq!(p(&t), vec![ip(250, 53), ip(251, 62)]);
        t.leave(V5001, ip(250, 53));
        assert_eq!(p(&t), vec![ip(250, 51), ip(251, 62)]);
        t.join(V5001, vtep(52, 2)).unwrap();
        assert_eq!(p(&t), vec![ip(250, 51), ip(251, 62)]);
        assert_eq!(t.drop_session(5), vec![V5001]);
        assert_eq!(p(&t), vec![ip(250, 51), ip(251, 61)]);
        t.leave(V5001, ip(251, 61));
        assert_eq!(p(&t), vec![ip(250, 51)]);
    }

    #[test]
    fn reports_need_a_join_first() {
        let mut t = Tables::default();
        let (ip, now) = (Ipv4Addr::new(192, 168, 250, 51), Instant::now());
        assert_eq!(
            t.report_mac(V5001, A, ip, 0, now),
            Err(TableError::NotJoined(V5001))
        );
        t.join(V5001, vtep(51, 1)).unwrap();
        assert_eq!(t.report_mac(V5001, A, ip, 0, now), Ok(MacChange::New));
        assert_eq!(t.report_mac(V5001, A, ip, 0, now), Ok(MacChange::Unchanged));
    }

    #[test]
    fn a_moved_vm_is_followed_and_a_late_report_of_the_old_place_is_stale() {
        let mut t = joined(&[51, 52]);
        let (v1, v2) = (vtep(51, 1).ip, vtep(52, 2).ip);
        let now = Instant::now();
        t.report_mac(V5001, A, v1, 0, now).unwrap();
        let ip = Ipv4Addr::new(172, 16, 10, 11);
        t.report_ip(V5001, ip, A, v1, now).unwrap();
        // esxi02 knew A at sequence 0 behind esxi01: it reports 1.
        assert_eq!(
            t.report_mac(V5001, A, v2, 1, now),
            Ok(MacChange::Moved { from: v1, seq: 1 })
        );
        assert_eq!(t.lookup_mac(V5001, A), Some((v2, 1)));
        assert_eq!(t.lookup_ip(V5001, ip), Some((A, Some(v2))));
        // esxi01 re-reports what it had (a resync after a controller failover, in any
        // order): older than what is held, refused; A stays behind esxi02.
        assert!(matches!(
            t.report_mac(V5001, A, v1, 0, now),
            Err(TableError::Stale { held: 1, .. })
        ));
        assert_eq!(t.lookup_mac(V5001, A), Some((v2, 1)));
        // A host that never heard of the MAC reports 0: refused too (it is told where the
        // MAC is, with its number); when the VM sends there again it reports that plus one.
        t.join(V5001, vtep(53, 3)).unwrap();
        let v3 = vtep(53, 3).ip;
        assert!(t.report_mac(V5001, A, v3, 0, now).is_err());
        assert_eq!(
            t.report_mac(V5001, A, v3, 2, now),
            Ok(MacChange::Moved { from: v2, seq: 2 })
        );
        // A report at the held number from elsewhere moves it to the next number.
        assert_eq!(
            t.report_mac(V5001, A, v2, 2, now),
            Ok(MacChange::Moved { from: v3, seq: 3 })
        );
        // The old host's late withdrawal does not remove the new location.
        assert!(!t.withdraw_mac(V5001, A, v1, now));
        assert!(!t.withdraw_mac(V5001, A, v3, now));
        assert!(t.withdraw_mac(V5001, A, v2, now));
        assert_eq!(t.lookup_mac(V5001, A), None);
    }

    #[test]
    fn a_flapping_mac_is_frozen_where_it_is_then_released() {
        let mut t = joined(&[51, 52]);
        let (v1, v2) = (vtep(51, 1).ip, vtep(52, 2).ip);
        let l = t.limits;
        let t0 = Instant::now();
        t.report_mac(V5001, A, v1, 0, t0).unwrap();
        // Two hosts fighting over one MAC (a duplicate, or a loop): moves 1-4 pass...
        let mut seq = 0;
        for i in 1..l.dup_moves {
            seq += 1;
            let to = if i % 2 == 1 { v2 } else { v1 };
            assert!(matches!(
                t.report_mac(V5001, A, to, seq, t0 + Duration::from_secs(i.into())),
                Ok(MacChange::Moved { .. })
            ));
        }
        let held = t.lookup_mac(V5001, A).unwrap();
        // ... the 5th within 180 s freezes it where it is.
        let t5 = t0 + Duration::from_secs(10);
        let to = if held.0 == v1 { v2 } else { v1 };
        assert!(matches!(
            t.report_mac(V5001, A, to, seq + 1, t5),
            Err(TableError::Frozen { newly: true, .. })
        ));
        assert!(matches!(
            t.report_mac(V5001, A, to, seq + 9, t5 + Duration::from_secs(1)),
            Err(TableError::Frozen { newly: false, .. })
        ));
        assert!(!t.withdraw_mac(V5001, A, held.0, t5));
        assert_eq!(t.lookup_mac(V5001, A), Some(held));
        assert!(t.macs(V5001, t5)[0].frozen);
        // After the hold it may move again.
        let later = t5 + l.dup_hold + Duration::from_secs(1);
        assert!(!t.macs(V5001, later)[0].frozen);
        assert!(matches!(
            t.report_mac(V5001, A, to, seq + 1, later),
            Ok(MacChange::Moved { .. })
        ));
    }

    #[test]
    fn moves_spread_over_more_than_the_window_never_freeze() {
        let mut t = joined(&[51, 52]);
        let (v1, v2) = (vtep(51, 1).ip, vtep(52, 2).ip);
        let t0 = Instant::now();
        t.report_mac(V5001, A, v1, 0, t0).unwrap();
        for i in 1..20u32 {
            let to = if i % 2 == 1 { v2 } else { v1 };
            let at = t0 + Duration::from_secs(u64::from(i) * 61);
            assert!(t.report_mac(V5001, A, to, i, at).is_ok(), "move {i}");
        }
    }

    #[test]
    fn a_flapping_ip_binding_is_frozen() {
        let mut t = joined(&[51, 52]);
        let v1 = vtep(51, 1).ip;
        let ip = Ipv4Addr::new(172, 16, 10, 11);
        let now = Instant::now();
        t.report_ip(V5001, ip, A, v1, now).unwrap();
        let mut last = A;
        let mut frozen = None;
        for i in 1..=t.limits.dup_moves {
            let m = MacAddr([2, 0, 0, 0, 0, i as u8]);
            match t.report_ip(V5001, ip, m, v1, now) {
                Ok(_) => last = m,
                Err(e) => {
                    frozen = Some(e);
                    break;
                }
            }
        }
        assert!(matches!(
            frozen,
            Some(TableError::Frozen { newly: true, .. })
        ));
        assert_eq!(t.lookup_ip(V5001, ip), Some((last, None)));
        assert!(t.arps(V5001, now)[0].2);
    }

    #[test]
    fn tables_stop_at_their_limits_and_keep_what_they_hold() {
        let mut t = Tables::new(Limits {
            vteps_per_vni: 2,
            macs_per_vni: 2,
            ips_per_vni: 1,
            ..Limits::default()
        });
        let now = Instant::now();
        t.join(V5001, vtep(51, 1)).unwrap();
        t.join(V5001, vtep(52, 2)).unwrap();
        assert!(matches!(
            t.join(V5001, vtep(53, 3)),
            Err(TableError::Full { table: "VTEP", .. })
        ));
        // A member re-joining is not a new entry.
        assert_eq!(t.join(V5001, vtep(52, 2)), Ok(false));
        let v1 = vtep(51, 1).ip;
        let m = |i| MacAddr([2, 0, 0, 0, 0, i]);
        t.report_mac(V5001, m(1), v1, 0, now).unwrap();
        t.report_mac(V5001, m(2), v1, 0, now).unwrap();
        assert!(matches!(
            t.report_mac(V5001, m(3), v1, 0, now),
            Err(TableError::Full { table: "MAC", .. })
        ));
        // A held MAC still moves at the limit.
        assert!(t.report_mac(V5001, m(2), vtep(52, 2).ip, 1, now).is_ok());
        let ip = |i| Ipv4Addr::new(172, 16, 10, i);
        t.report_ip(V5001, ip(1), m(1), v1, now).unwrap();
        assert!(t.report_ip(V5001, ip(2), m(2), v1, now).is_err());
        assert_eq!(t.vteps(V5001).len(), 2);
        assert_eq!(t.macs(V5001, now).len(), 2);
        assert_eq!(t.lookup_ip(V5001, ip(1)), Some((m(1), Some(v1))));
    }

    #[test]
    fn leave_and_disconnect_remove_what_the_vtep_reported() {
        let mut t = Tables::default();
        let v1 = vtep(51, 1);
        let now = Instant::now();
        t.join(V5001, v1.clone()).unwrap();
        t.join(V5002, v1.clone()).unwrap();
        t.join(V5001, vtep(52, 2)).unwrap();
        t.report_mac(V5001, A, v1.ip, 0, now).unwrap();
        t.report_ip(V5001, Ipv4Addr::new(172, 16, 10, 11), A, v1.ip, now)
            .unwrap();
        assert!(t.leave(V5001, v1.ip));
        assert!(t.macs(V5001, now).is_empty());
        assert!(t.arps(V5001, now).is_empty());
        assert_eq!(t.vteps(V5001).len(), 1);
        assert_eq!(t.joined_by(1), vec![Vni::from_const(5002)]);
        assert_eq!(t.drop_session(1), vec![Vni::from_const(5002)]);
        assert!(t.vteps(V5002).is_empty());
        assert_eq!(t.vteps(V5001).len(), 1);
    }

    #[test]
    fn ip_report_changes_only_on_a_new_mac() {
        let mut t = joined(&[51]);
        let v1 = vtep(51, 1);
        let now = Instant::now();
        let ip = Ipv4Addr::new(172, 16, 10, 11);
        assert_eq!(t.report_ip(V5001, ip, A, v1.ip, now), Ok(true));
        assert_eq!(t.report_ip(V5001, ip, A, v1.ip, now), Ok(false));
        assert_eq!(t.lookup_ip(V5001, ip), Some((A, None)));
        assert_eq!(t.lookup_ip(V5001, Ipv4Addr::new(172, 16, 10, 99)), None);
        // Aged out on its host: only that host, for that MAC, withdraws it.
        t.join(V5001, vtep(52, 2)).unwrap();
        assert!(!t.withdraw_ip(V5001, ip, A, vtep(52, 2).ip, now));
        assert!(!t.withdraw_ip(V5001, ip, MacAddr([2, 0, 0, 0, 0, 1]), v1.ip, now));
        assert!(t.withdraw_ip(V5001, ip, A, v1.ip, now));
        assert_eq!(t.lookup_ip(V5001, ip), None);
    }
}
