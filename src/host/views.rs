//! The host API's views: typed rows built from the published snapshot, the workers'
//! counters and the drivers' statistics.

use super::control_socket::ControlEnv;
use crate::api::host::{
    ArpRow, GuardMode, MacKind, MacRow, Neighbor, PortRow, PortSecurityRow, ProxyRole, Route,
    Stats, VniRow, VtepRow, WorkerLoad,
};
use crate::api::{DropReason, Stat, VniStat};
use crate::dataplane::counters::{total_drops, total_stat, total_vni_stat};
use crate::dpdk::PortStats;
use crate::ids::{Ipv4Net, Vni};
use crate::tables::{Dest, EntryKind, Snapshot, UPLINK};
use std::net::Ipv4Addr;

/// The VTEPs `vni` floods to, with their segment (from the controller's VTEP table, or the
/// VTEP's own segment for a configured VTEP on it).
pub fn vtep_list(env: &ControlEnv, snap: &Snapshot, vni: Vni) -> Result<Vec<VtepRow>, String> {
    let info = snap
        .vnis
        .get(&vni)
        .ok_or(format!("vni: {vni} has no port here"))?;
    let known = env
        .hub
        .as_ref()
        .map(|h| h.vtep_table(vni))
        .unwrap_or_default();
    let vtep = &snap.vtep;
    let role = ProxyRole::of(info.bum.mode);
    Ok(info
        .vteps
        .iter()
        .filter_map(|t| snap.tunnels.get(*t))
        .map(|t| {
            let listed = known.iter().find(|v| v.ip == t.ip);
            let segment = listed
                .and_then(|v| Ipv4Net::new(v.ip, v.prefix_len))
                .or_else(|| vtep.on_segment(t.ip).then(|| vtep.net()))
                .map(|n| n.network());
            let proxy = role.filter(|_| listed.is_some_and(|v| v.proxy));
            VtepRow {
                ip: t.ip,
                segment,
                is_mtep: proxy.is_some(),
                role: proxy,
                next_hop: t.next_hop,
                resolved: t.is_resolved(),
            }
        })
        .collect())
}

/// The logical switches with ports here, in VNI order, with their replication counters.
pub fn vnis(env: &ControlEnv, snap: &Snapshot) -> Vec<VniRow> {
    // `VniTable` iterates in VNI order.
    snap.vnis
        .iter()
        .map(|(vni, i)| VniRow {
            vni: *vni,
            replication: i.bum.mode,
            multicast_group: i.bum.group,
            role: ProxyRole::of(i.bum.mode).filter(|_| i.bum.proxy),
            ports: i.local_ports.len(),
            vteps: i.vteps.len(),
            copies_per_frame: i.bum.copies.len(),
            counters: VniStat::ALL
                .iter()
                .map(|s| (*s, total_vni_stat(&env.counters, i.slot, *s)))
                .collect(),
        })
        .collect()
}

/// The MAC table of `vni`, sorted by MAC.
pub fn mac_list(env: &ControlEnv, snap: &Snapshot, vni: Vni) -> Vec<MacRow> {
    let mut rows: Vec<MacRow> = snap
        .macs
        .iter()
        .filter(|(k, _)| k.vni == vni)
        .map(|(k, e)| {
            let kind = match e.kind {
                EntryKind::Static => MacKind::Static,
                EntryKind::Learned => MacKind::Learned,
            };
            match e.dest {
                Dest::Remote(t) => {
                    let t = snap.tunnels.get(t);
                    MacRow {
                        inner_mac: k.mac,
                        outer_mac: t.and_then(|t| t.next_hop_mac),
                        outer_ip: t.map(|t| t.ip),
                        port: None,
                        kind,
                    }
                }
                Dest::Local(p) => MacRow {
                    inner_mac: k.mac,
                    outer_mac: None,
                    outer_ip: None,
                    port: env.ports.get(usize::from(p)).map(|p| p.name.clone()),
                    kind,
                },
            }
        })
        .collect();
    rows.sort_by_key(|r| r.inner_mac);
    rows
}

/// The ARP table of `vni`, sorted by IP.
pub fn arp_list(snap: &Snapshot, vni: Vni) -> Vec<ArpRow> {
    let mut rows: Vec<ArpRow> = snap
        .arps
        .iter()
        .filter(|(k, _)| k.vni == vni)
        .map(|(k, e)| ArpRow {
            ip: k.ip,
            mac: e.mac,
        })
        .collect();
    rows.sort_by_key(|r| r.ip);
    rows
}

fn uplink_name(env: &ControlEnv) -> String {
    env.ports[usize::from(UPLINK)].name.clone()
}

/// The VTEP stack's routes: its segment, and the default route when a gateway is set.
pub fn routes(env: &ControlEnv, snap: &Snapshot) -> Vec<Route> {
    let vtep = &snap.vtep;
    let segment = vtep.net();
    let mut r = vec![Route {
        destination: Ipv4Net {
            addr: segment.network(),
            prefix_len: segment.prefix_len,
        },
        gateway: None,
        interface: uplink_name(env),
        source: vtep.ip,
    }];
    if let Some(g) = vtep.gateway {
        r.push(Route {
            destination: Ipv4Net {
                addr: Ipv4Addr::UNSPECIFIED,
                prefix_len: 0,
            },
            gateway: Some(g),
            interface: uplink_name(env),
            source: vtep.ip,
        });
    }
    r
}

/// The VTEP's ARP cache, sorted by IP.
pub fn neighbors(env: &ControlEnv, snap: &Snapshot) -> Vec<Neighbor> {
    let mut n: Vec<Neighbor> = snap
        .neighbors
        .iter()
        .map(|(ip, mac)| Neighbor {
            ip: *ip,
            mac: *mac,
            interface: uplink_name(env),
        })
        .collect();
    n.sort_by_key(|r| r.ip);
    n
}

/// Every counter summed over the workers, and the tables' state.
pub fn stats(env: &ControlEnv, snap: &Snapshot) -> Stats {
    let (busy_cycles, busy_frames) = env
        .counters
        .iter()
        .map(|c| c.busy_totals())
        .fold((0, 0), |(a, b), (c, d)| (a + c, b + d));
    Stats {
        stats: Stat::ALL
            .iter()
            .map(|s| (*s, total_stat(&env.counters, *s)))
            .collect(),
        drops: DropReason::ALL
            .iter()
            .map(|r| (*r, total_drops(&env.counters, *r)))
            .collect(),
        generation: snap.generation,
        controller_up: snap.controller_up,
        macs: snap.macs.len(),
        arps: snap.arps.len(),
        busy_cycles,
        busy_frames,
        tsc_hz: crate::dpdk::tsc_hz(),
        port_mac_limit_refused: env
            .refused
            .port_mac_limit
            .load(std::sync::atomic::Ordering::Relaxed),
        mbufs_in_use: env.mbufs_in_use.load(std::sync::atomic::Ordering::Relaxed),
        workers: env
            .counters
            .iter()
            .zip(&env.worker_cores)
            .map(|(c, &core)| {
                let (busy_cycles, busy_frames) = c.busy_totals();
                WorkerLoad {
                    core,
                    busy_cycles,
                    busy_frames,
                }
            })
            .collect(),
    }
}

/// The drivers' counters of every port, read live.
pub fn ports(env: &ControlEnv) -> Vec<PortRow> {
    env.ports
        .iter()
        .map(|p| {
            let s = PortStats::read(p.id);
            PortRow {
                name: p.name.clone(),
                port_id: p.id,
                setup: p.setup.clone(),
                rx_packets: s.rx_packets,
                tx_packets: s.tx_packets,
                rx_missed: s.rx_missed,
                rx_errors: s.rx_errors,
                tx_errors: s.tx_errors,
                rx_nombuf: s.rx_nombuf,
                rx_bytes: s.rx_bytes,
                tx_bytes: s.tx_bytes,
            }
        })
        .collect()
}

/// Each VM port's port security as the data path applies it, and the MACs behind it.
pub fn port_security(env: &ControlEnv, snap: &Snapshot) -> Vec<PortSecurityRow> {
    let mut learned = vec![0u32; snap.port_policy.len()];
    for (_, e) in snap.macs.iter() {
        if let (Dest::Local(p), EntryKind::Learned) = (e.dest, e.kind) {
            if let Some(n) = learned.get_mut(usize::from(p)) {
                *n += 1;
            }
        }
    }
    snap.port_policy
        .iter()
        .enumerate()
        .filter_map(|(i, policy)| {
            let vni = snap.port_vni.get(i).copied().flatten()?;
            let g = policy.guard.as_ref();
            Some(PortSecurityRow {
                port: env
                    .ports
                    .get(i)
                    .map_or_else(|| i.to_string(), |p| p.name.clone()),
                vni,
                mode: match g {
                    None => GuardMode::Off,
                    Some(g) if g.takes_mac() || g.takes_ip() => GuardMode::Learning,
                    Some(_) => GuardMode::Enforcing,
                },
                macs: g.map(|g| g.macs.to_vec()).unwrap_or_default(),
                ips: g.map(|g| g.ips.to_vec()).unwrap_or_default(),
                dhcp_server: policy.dhcp_server,
                max_macs: policy.max_macs,
                macs_learned: learned[i],
            })
        })
        .collect()
}
