//! One broadcast per mode under captures: what the lab counts and checks.

use super::{SegmentsLab, HOSTS};
use crate::api::VniStat;
use crate::ids::ReplicationMode;
use crate::lab::capture::{start_tcpdump, vxlan_inner};
use crate::lab::sh::{self, LabError};
use crate::lab::STOP_GRACE;
use crate::wire::pcap::read;
use crate::wire::{EtherType, EthernetFrame, IpProtocol, Ipv4Packet};
use std::net::Ipv4Addr;
use std::time::Duration;

/// Where a capture counts copies.
#[derive(Clone, Copy, Debug)]
enum Seen {
    /// Delivered to hypervisor i's VTEP.
    Vtep(usize),
    /// Delivered to the kernel VTEP.
    Kernel,
    /// Routed between the segments: 0 from 1 to 2, 1 from 2 to 1.
    Crossed(usize),
}

/// What one mode's broadcast did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Round {
    pub mode: ReplicationMode,
    /// hv1's per-VNI counters for the frame: copies to VTEPs, to proxies, to the group.
    pub sent: [u64; 3],
    /// Copies that crossed the router, from segment 1 to 2 and back.
    pub crossed: [usize; 2],
    /// Copies each VTEP received (hv1's included: it must be 0).
    pub received: Vec<usize>,
    /// Copies the Linux kernel VTEP (segment 2, in the group) received.
    pub kernel_received: usize,
    /// Multicast mode: the kernel VTEP's VM pinged VM A (both ways through the group), with
    /// ping's summary.
    pub kernel_ping: Option<(bool, String)>,
    /// The proxy of each segment as the hosts show it (unicast and hybrid modes).
    pub proxies: Vec<Ipv4Addr>,
    /// Per segment, the VTEP ports its switch learned in the group (IGMP snooping).
    pub snooped: [Vec<String>; 2],
}

impl Round {
    /// Exactly one copy per other VTEP, none back to the sender, none back across the router,
    /// across the router what the mode promises, and in group modes every VTEP in the group.
    pub fn as_the_mode_promises(&self) -> bool {
        let across = match self.mode {
            ReplicationMode::HeadEnd => 2,
            _ => 1,
        };
        let joined = !self.mode.needs_group()
            || self.snooped == [vec!["hv1", "hv2", "hv3"], vec!["hv4", "hv5"]];
        // The kernel VTEP in the group gets multicast mode's routed copy.
        let kernel = self.mode != ReplicationMode::Multicast
            || (self.kernel_received == 1 && self.kernel_ping.as_ref().is_some_and(|p| p.0));
        self.received[0] == 0
            && self.received[1..].iter().all(|&n| n == 1)
            && self.crossed == [across, 0]
            && joined
            && kernel
    }
}

impl SegmentsLab {
    /// Runs `rounds` (mode, mark) under one set of captures: per round, the switch set to
    /// the mode and one broadcast from VM A whose ping pattern is the mark.
    pub fn rounds(&self, rounds: &[(ReplicationMode, u8)]) -> Result<Vec<Round>, LabError> {
        // "out" of a switch port: what the switch delivered to that VTEP; "out" of a router
        // port: what the router sent into that segment.
        let mut points: Vec<(Seen, String, String)> = Vec::new();
        for (i, (vtep, ..)) in HOSTS.iter().enumerate() {
            let sw = &self.switch_ns[usize::from(!vtep.starts_with("192.168.250."))];
            points.push((Seen::Vtep(i), sw.clone(), format!("hv{}", i + 1)));
        }
        points.push((Seen::Kernel, self.switch_ns[1].clone(), "kv".into()));
        points.push((Seen::Crossed(1), self.router_ns.clone(), "r0".into()));
        points.push((Seen::Crossed(0), self.router_ns.clone(), "r1".into()));
        let mut dumps = Vec::new();
        let mut files = Vec::new();
        for (seen, ns, dev) in &points {
            let f = self.dir.join(format!("{ns}-{dev}.pcap"));
            dumps.push(start_tcpdump(ns, dev, "out", &f)?);
            files.push((*seen, f));
        }
        let mut out = Vec::new();
        for &(mode, mark) in rounds {
            self.set_mode(mode)?;
            // The round's one BUM frame: no ARP of VM A for earlier peers in the window.
            sh::in_ns(&self.vms[0], &["ip", "neigh", "flush", "dev", "eth0"])?;
            let before = self.vni_row(0).map(|r| r.counters).unwrap_or_default();
            let pattern = format!("{mark:02x}");
            sh::in_ns(
                &self.vms[0],
                &[
                    "ping",
                    "-b",
                    "-c",
                    "1",
                    "-s",
                    "32",
                    "-p",
                    &pattern,
                    "-W",
                    "1",
                    "172.16.10.255",
                ],
            )
            .ok();
            std::thread::sleep(Duration::from_millis(700));
            let after = self.vni_row(0).map(|r| r.counters).unwrap_or_default();
            let d = |s: VniStat| {
                after.get(&s).copied().unwrap_or(0) - before.get(&s).copied().unwrap_or(0)
            };
            out.push(Round {
                mode,
                sent: [
                    d(VniStat::UnicastCopies),
                    d(VniStat::ProxyCopies),
                    d(VniStat::GroupCopies),
                ],
                crossed: [0, 0],
                received: vec![0; HOSTS.len()],
                kernel_received: 0,
                kernel_ping: (mode == ReplicationMode::Multicast).then(|| self.kernel_ping(3)),
                proxies: self.proxies(),
                snooped: self.snooped(),
            });
        }
        for mut d in dumps {
            d.stop(STOP_GRACE);
        }
        for (seen, file) in &files {
            let frames = std::fs::File::open(file).and_then(read).unwrap_or_default();
            for b in &frames {
                let Some(mark) = broadcast_mark(b) else {
                    continue;
                };
                let Some(i) = rounds.iter().position(|(_, m)| *m == mark) else {
                    continue;
                };
                let r = &mut out[i];
                match *seen {
                    Seen::Vtep(v) => r.received[v] += 1,
                    Seen::Kernel => r.kernel_received += 1,
                    Seen::Crossed(dir) => r.crossed[dir] += 1,
                }
            }
        }
        Ok(out)
    }
}

/// The round mark of a VXLAN frame carrying VM A's broadcast ping (the last byte of its
/// pattern-filled data), if it is one.
fn broadcast_mark(b: &[u8]) -> Option<u8> {
    let inner = vxlan_inner(b)?;
    let eth = EthernetFrame::new_checked(inner).ok()?;
    if !eth.dst().is_broadcast() || eth.ethertype() != EtherType::Ipv4 {
        return None;
    }
    let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
    if ip.protocol() != IpProtocol::Icmp || ip.dst() != Ipv4Addr::new(172, 16, 10, 255) {
        return None;
    }
    ip.payload().last().copied()
}
