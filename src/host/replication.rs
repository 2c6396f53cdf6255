//! BUM replication plans (the source document's section 5): from a logical switch's mode,
//! group and VTEP table, the copies a VM's BUM frame becomes and what this VTEP re-sends when
//! it is its segment's proxy. `plan` works in addresses; `install` turns a plan into the
//! snapshot's tunnels.
//!
//! | mode      | this segment                 | each other segment                     |
//! |-----------|------------------------------|----------------------------------------|
//! | unicast   | one copy per VTEP            | one marked copy to its proxy (UTEP)    |
//! | hybrid    | one copy to the group, TTL 1 | one marked copy to its proxy (MTEP)    |
//! | multicast | one copy to the group        | (the underlay routes the group)        |
//! | head-end  | one copy per VTEP            | one copy per VTEP                      |
//!
//! A segment whose proxy is not known (configured without one, or the controller has not
//! picked one) gets one copy per VTEP: nobody relays an unmarked copy, so nothing is
//! duplicated.

use crate::agent::RemoteVtep;
use crate::ids::{Ipv4Net, ReplicationMode};
use crate::tables::{BumCopy, CopyKind, Replication, TunnelIdx, TunnelTable, VtepIdentity};
use smallvec::SmallVec;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// TTL of a hybrid logical switch's group copies: they stay in their segment.
pub const SEGMENT_TTL: u8 = 1;
/// TTL of a multicast logical switch's group copies: the underlay routes them.
pub const ROUTED_TTL: u8 = crate::tables::tunnel::TTL;

/// What a logical switch's replication follows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inputs {
    pub mode: ReplicationMode,
    pub group: Option<Ipv4Addr>,
    /// The controller's VTEP table (this VTEP included, with its proxy flag).
    pub members: Vec<RemoteVtep>,
    /// VTEPs from the config (static operation): on a segment of this VTEP's prefix length,
    /// proxies where the config says so. The controller's entry for the same VTEP wins.
    pub configured: Vec<RemoteVtep>,
}

impl Inputs {
    /// Every VTEP of the logical switch, this one included, by address.
    fn vteps(&self) -> Vec<&RemoteVtep> {
        let mut all: Vec<&RemoteVtep> = self.members.iter().collect();
        for c in &self.configured {
            if !all.iter().any(|m| m.ip == c.ip) {
                all.push(c);
            }
        }
        all.sort_by_key(|v| v.ip);
        all
    }
}

/// Where a copy goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    Vtep(Ipv4Addr),
    /// A multicast group, with the TTL its copies carry.
    Group(Ipv4Addr, u8),
}

/// A replication plan in addresses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// The remote VTEPs of the logical switch (accepted as senders).
    pub members: Vec<Ipv4Addr>,
    pub copies: Vec<(Target, CopyKind)>,
    /// What a marked frame from another segment is re-sent to (this VTEP is the proxy).
    pub relay: Vec<Target>,
    /// Any VTEP on the group is a peer (multicast mode).
    pub open: bool,
    /// The group this VTEP must join to receive the logical switch's BUM frames.
    pub joins: Option<Ipv4Addr>,
    /// This VTEP is its segment's proxy (UTEP or MTEP).
    pub proxy: bool,
}

pub fn plan(inp: &Inputs, me: &VtepIdentity) -> Plan {
    let vteps = inp.vteps();
    let mut p = Plan {
        members: vteps
            .iter()
            .map(|v| v.ip)
            .filter(|ip| *ip != me.ip)
            .collect(),
        ..Plan::default()
    };
    let mode = match (inp.mode, inp.group) {
        // A group mode without a group cannot send to one: replicate as unicast does.
        (ReplicationMode::Hybrid | ReplicationMode::Multicast, None) => ReplicationMode::Unicast,
        (m, _) => m,
    };
    let group = inp.group.unwrap_or(Ipv4Addr::UNSPECIFIED);
    match mode {
        ReplicationMode::HeadEnd => {
            p.copies = p
                .members
                .iter()
                .map(|ip| (Target::Vtep(*ip), CopyKind::Vtep))
                .collect();
        }
        ReplicationMode::Multicast => {
            p.copies = vec![(Target::Group(group, ROUTED_TTL), CopyKind::Group)];
            p.open = true;
            p.joins = Some(group);
        }
        ReplicationMode::Unicast | ReplicationMode::Hybrid => {
            let hybrid = mode == ReplicationMode::Hybrid;
            let here: Vec<Ipv4Addr> = p
                .members
                .iter()
                .copied()
                .filter(|ip| me.on_segment(*ip))
                .collect();
            let local_group = Target::Group(group, SEGMENT_TTL);
            if hybrid {
                p.joins = Some(group);
                if !here.is_empty() {
                    p.copies.push((local_group, CopyKind::Group));
                }
            } else {
                p.copies
                    .extend(here.iter().map(|ip| (Target::Vtep(*ip), CopyKind::Vtep)));
            }
            p.copies.extend(other_segments(&vteps, me));
            p.proxy = vteps.iter().any(|v| v.ip == me.ip && v.proxy);
            if p.proxy && !here.is_empty() {
                p.relay = if hybrid {
                    vec![local_group]
                } else {
                    here.iter().map(|ip| Target::Vtep(*ip)).collect()
                };
            }
        }
    }
    p
}

/// Per segment other than this VTEP's: one marked copy to its proxy, or one copy per VTEP
/// when it has none.
fn other_segments(vteps: &[&RemoteVtep], me: &VtepIdentity) -> Vec<(Target, CopyKind)> {
    // segment -> (proxy, VTEPs)
    let mut segs: BTreeMap<(Ipv4Addr, u8), (Option<Ipv4Addr>, Vec<Ipv4Addr>)> = BTreeMap::new();
    for v in vteps {
        if v.ip == me.ip || me.on_segment(v.ip) {
            continue;
        }
        let Some(net) = Ipv4Net::new(v.ip, v.prefix_len) else {
            continue;
        };
        let s = segs.entry((net.network(), net.prefix_len)).or_default();
        s.1.push(v.ip);
        if v.proxy && s.0.is_none_or(|p| v.ip < p) {
            s.0 = Some(v.ip);
        }
    }
    let mut out = Vec::new();
    for (proxy, vteps) in segs.into_values() {
        match proxy {
            Some(p) => out.push((Target::Vtep(p), CopyKind::Proxy)),
            None => out.extend(
                vteps
                    .into_iter()
                    .map(|ip| (Target::Vtep(ip), CopyKind::Vtep)),
            ),
        }
    }
    out
}

/// A plan in the snapshot's terms: the VTEPs' tunnel indexes and the replication the data
/// path walks. `ensure` finds or adds the tunnel to a VTEP (None: the table is full).
pub fn install(
    plan: &Plan,
    inp: &Inputs,
    me: &VtepIdentity,
    tunnels: &mut TunnelTable,
    mut ensure: impl FnMut(&mut TunnelTable, Ipv4Addr) -> Option<TunnelIdx>,
) -> (SmallVec<[TunnelIdx; 16]>, Replication) {
    let mut target = |tunnels: &mut TunnelTable, t: Target| match t {
        Target::Vtep(ip) => ensure(tunnels, ip),
        Target::Group(g, ttl) => tunnels.ensure_group(g, ttl, me),
    };
    let vteps = plan
        .members
        .iter()
        .filter_map(|ip| target(tunnels, Target::Vtep(*ip)))
        .collect();
    let copies = plan
        .copies
        .iter()
        .filter_map(|&(t, kind)| {
            Some(BumCopy {
                tunnel: target(tunnels, t)?,
                kind,
            })
        })
        .collect();
    let relay = plan
        .relay
        .iter()
        .filter_map(|t| target(tunnels, *t))
        .collect();
    let bum = Replication {
        mode: inp.mode,
        group: inp.group,
        copies,
        relay,
        open: plan.open,
        proxy: plan.proxy,
    };
    (vteps, bum)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::MacAddr;

    fn me() -> VtepIdentity {
        VtepIdentity::example() // 192.168.250.51/24
    }
    fn v(ip: [u8; 4], proxy: bool) -> RemoteVtep {
        RemoteVtep {
            ip: Ipv4Addr::from(ip),
            prefix_len: 24,
            mac: MacAddr([2, 0, 0, 0, 0, ip[3]]),
            proxy,
        }
    }
    const G: Ipv4Addr = Ipv4Addr::new(239, 1, 1, 1);
    fn vt(ip: [u8; 4]) -> Target {
        Target::Vtep(Ipv4Addr::from(ip))
    }

    /// Two segments: this one (.51 me, .52, .53) and 192.168.251.0/24 (.61 proxy, .62).
    fn table(me_proxy: bool) -> Vec<RemoteVtep> {
        vec![
            v([192, 168, 250, 51], me_proxy),
            v([192, 168, 250, 52], !me_proxy),
            v([192, 168, 250, 53], false),
            v([192, 168, 251, 61], true),
            v([192, 168, 251, 62], false),
        ]
    }
    fn inputs(mode: ReplicationMode, me_proxy: bool) -> Inputs {
        Inputs {
            mode,
            group: Some(G),
            members: table(me_proxy),
            configured: vec![],
        }
    }

    #[test]
    fn unicast_copies_each_vtep_here_and_one_proxy_per_other_segment() {
        let p = plan(&inputs(ReplicationMode::Unicast, false), &me());
        assert_eq!(
            p.copies,
            vec![
                (vt([192, 168, 250, 52]), CopyKind::Vtep),
                (vt([192, 168, 250, 53]), CopyKind::Vtep),
                (vt([192, 168, 251, 61]), CopyKind::Proxy),
            ]
        );
        assert!(p.relay.is_empty() && !p.open && p.joins.is_none());
        assert_eq!(p.members.len(), 4);
        // As the segment's UTEP it relays to the others of its segment only.
        let p = plan(&inputs(ReplicationMode::Unicast, true), &me());
        assert_eq!(
            p.relay,
            vec![vt([192, 168, 250, 52]), vt([192, 168, 250, 53])]
        );
    }

    #[test]
    fn hybrid_sends_to_the_group_here_and_relays_to_it() {
        let p = plan(&inputs(ReplicationMode::Hybrid, true), &me());
        assert_eq!(
            p.copies,
            vec![
                (Target::Group(G, SEGMENT_TTL), CopyKind::Group),
                (vt([192, 168, 251, 61]), CopyKind::Proxy),
            ]
        );
        assert_eq!(p.relay, vec![Target::Group(G, SEGMENT_TTL)]);
        assert_eq!(p.joins, Some(G));
    }

    #[test]
    fn multicast_is_one_routed_group_copy_and_open() {
        let p = plan(&inputs(ReplicationMode::Multicast, true), &me());
        assert_eq!(
            p.copies,
            vec![(Target::Group(G, ROUTED_TTL), CopyKind::Group)]
        );
        assert!(p.relay.is_empty() && p.open);
        assert_eq!(p.joins, Some(G));
        // No controller at all: still one copy to the group.
        let alone = Inputs {
            mode: ReplicationMode::Multicast,
            group: Some(G),
            ..Inputs::default()
        };
        assert_eq!(plan(&alone, &me()).copies.len(), 1);
    }

    #[test]
    fn head_end_copies_every_vtep() {
        let p = plan(&inputs(ReplicationMode::HeadEnd, false), &me());
        assert_eq!(p.copies.len(), 4);
        assert!(p.copies.iter().all(|c| c.1 == CopyKind::Vtep));
        assert!(p.relay.is_empty());
    }

    #[test]
    fn a_segment_without_a_proxy_gets_a_copy_per_vtep() {
        let mut inp = inputs(ReplicationMode::Unicast, false);
        inp.members
            .retain(|v| v.ip != Ipv4Addr::new(192, 168, 251, 61));
        inp.configured = vec![v([10, 9, 9, 9], false), v([192, 168, 250, 53], true)];
        let p = plan(&inp, &me());
        assert_eq!(
            p.copies,
            vec![
                (vt([192, 168, 250, 52]), CopyKind::Vtep),
                (vt([192, 168, 250, 53]), CopyKind::Vtep),
                (vt([10, 9, 9, 9]), CopyKind::Vtep),
                (vt([192, 168, 251, 62]), CopyKind::Vtep),
            ]
        );
        assert_eq!(
            p.members.len(),
            4,
            "the controller's .53 and the configured one merge"
        );
    }

    #[test]
    fn configured_proxies_make_static_unicast_mode() {
        let inp = Inputs {
            mode: ReplicationMode::Unicast,
            group: None,
            members: vec![],
            configured: vec![
                v([192, 168, 250, 52], false),
                v([192, 168, 251, 61], false),
                v([192, 168, 251, 62], true),
            ],
        };
        assert_eq!(
            plan(&inp, &me()).copies,
            vec![
                (vt([192, 168, 250, 52]), CopyKind::Vtep),
                (vt([192, 168, 251, 62]), CopyKind::Proxy),
            ]
        );
    }

    #[test]
    fn a_group_mode_without_a_group_replicates_as_unicast() {
        let mut inp = inputs(ReplicationMode::Hybrid, false);
        inp.group = None;
        assert_eq!(
            plan(&inp, &me()),
            plan(&inputs(ReplicationMode::Unicast, false), &me())
        );
    }
}
