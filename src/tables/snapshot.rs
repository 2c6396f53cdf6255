//! The snapshot workers forward with, and the cell it is published through (RCU style:
//! readers hold the old version until their next burst, the writer never waits for them).

use super::{ArpTable, MacTable, PortIdx, PortPolicy, TunnelIdx, TunnelTable, VniTable};
use crate::ids::{Ipv4Net, ReplicationMode, Vni};
use crate::wire::MacAddr;
use arc_swap::{ArcSwap, Cache};
use hashbrown::HashMap;
use smallvec::SmallVec;
use std::net::Ipv4Addr;
use std::sync::Arc;

/// This host's VTEP: the address and settings its own IP stack uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VtepIdentity {
    pub ip: Ipv4Addr,
    pub prefix_len: u8,
    pub mac: MacAddr,
    pub gateway: Option<Ipv4Addr>,
    pub udp_port: u16,
    /// Largest IPv4 packet the underlay carries.
    pub mtu: u16,
}

impl VtepIdentity {
    /// The VTEP's address on its segment.
    pub fn net(&self) -> Ipv4Net {
        Ipv4Net {
            addr: self.ip,
            prefix_len: self.prefix_len,
        }
    }
    /// True if `ip` is on the VTEP's own segment (L2-adjacent).
    pub fn on_segment(&self, ip: Ipv4Addr) -> bool {
        self.net().contains(ip)
    }
    /// The VTEP the unit tests use: 192.168.250.51/24 via 192.168.250.1, MTU 1600.
    #[cfg(test)]
    pub(crate) fn example() -> VtepIdentity {
        VtepIdentity {
            ip: Ipv4Addr::new(192, 168, 250, 51),
            prefix_len: 24,
            mac: MacAddr([2, 0, 0, 0, 0, 0x51]),
            gateway: Some(Ipv4Addr::new(192, 168, 250, 1)),
            udp_port: 4789,
            mtu: 1600,
        }
    }
    /// Where to send a packet for `dst`: itself on the segment, else the gateway.
    pub fn next_hop(&self, dst: Ipv4Addr) -> Option<Ipv4Addr> {
        if self.on_segment(dst) {
            Some(dst)
        } else {
            self.gateway
        }
    }
}

/// One logical switch on this host: its local ports, its remote VTEPs, how its BUM frames
/// are replicated and whether hosts answer ARP for it.
#[derive(Clone, Debug)]
pub struct VniInfo {
    pub local_ports: SmallVec<[PortIdx; 8]>,
    /// The remote VTEPs that joined it: frames from them are accepted and their MACs learned.
    pub vteps: SmallVec<[TunnelIdx; 16]>,
    pub bum: Replication,
    pub arp_suppression: bool,
    /// Its position in `VniTable` and the index of its per-worker counters
    /// (`Counters::vni_add`).
    pub slot: u16,
}

impl Default for VniInfo {
    fn default() -> Self {
        VniInfo {
            local_ports: SmallVec::new(),
            vteps: SmallVec::new(),
            bum: Replication::default(),
            arp_suppression: true,
            slot: u16::MAX,
        }
    }
}

/// What a copy of a BUM frame is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopyKind {
    /// To one VTEP, for itself.
    Vtep = 0,
    /// To another segment's proxy, marked "replicate locally".
    Proxy = 1,
    /// To the logical switch's multicast group.
    Group = 2,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BumCopy {
    pub tunnel: TunnelIdx,
    pub kind: CopyKind,
}

/// A logical switch's BUM replication plan, computed by the management thread from the
/// mode, the group and the VTEP table (`host::replication`): the data path only walks it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Replication {
    pub mode: ReplicationMode,
    pub group: Option<Ipv4Addr>,
    /// The copies of a BUM frame from a local VM.
    pub copies: SmallVec<[BumCopy; 16]>,
    /// Where a marked frame from another segment goes on (this VTEP is its segment's proxy):
    /// the other VTEPs of the segment, or the segment's group. Empty otherwise.
    pub relay: SmallVec<[TunnelIdx; 8]>,
    /// Multicast mode: VTEPs outside the VTEP table are peers too (no controller needed).
    pub open: bool,
    /// This VTEP is its segment's proxy (for views; `relay` is what the data path uses).
    pub proxy: bool,
}

/// Everything a worker needs to forward, immutable once published.
#[derive(Clone)]
pub struct Snapshot {
    /// Increases with every publish; workers use it to tell versions apart.
    pub generation: u64,
    pub vtep: Arc<VtepIdentity>,
    /// The VNI of each port (None for the uplink), indexed by PortIdx.
    pub port_vni: Arc<Vec<Option<Vni>>>,
    /// The counter slot (`VniInfo::slot`) of each port's VNI, indexed by PortIdx (u16::MAX:
    /// none), so that per-VNI counting costs no VNI lookup per frame.
    pub port_slot: Arc<Vec<u16>>,
    /// Port security and DHCP trust of each port, indexed by PortIdx.
    pub port_policy: Arc<Vec<PortPolicy>>,
    pub vnis: Arc<VniTable>,
    pub tunnels: Arc<TunnelTable>,
    pub macs: MacTable,
    pub arps: ArpTable,
    /// The VTEP's ARP cache for underlay neighbours.
    pub neighbors: Arc<HashMap<Ipv4Addr, MacAddr>>,
    /// A controller session is up: ARP and MAC misses may be asked about.
    pub controller_up: bool,
    /// The multicast groups the VTEP joined (hybrid and multicast logical switches).
    pub groups: Arc<SmallVec<[Ipv4Addr; 4]>>,
}

impl Snapshot {
    pub fn new(vtep: VtepIdentity, port_vni: Vec<Option<Vni>>) -> Snapshot {
        Snapshot {
            generation: 0,
            vtep: Arc::new(vtep),
            port_vni: Arc::new(port_vni),
            port_slot: Arc::default(),
            port_policy: Arc::default(),
            vnis: Arc::default(),
            tunnels: Arc::default(),
            macs: MacTable::default(),
            arps: ArpTable::default(),
            neighbors: Arc::default(),
            controller_up: false,
            groups: Arc::default(),
        }
    }
}

/// The published snapshot: one writer stores, many workers load.
pub struct SnapshotCell {
    current: ArcSwap<Snapshot>,
}

impl SnapshotCell {
    pub fn new(s: Snapshot) -> SnapshotCell {
        SnapshotCell {
            current: ArcSwap::from_pointee(s),
        }
    }
    /// Publishes `s` with the next generation number; returns the version it replaced, for
    /// the writer to free once no worker holds it (workers never free a snapshot).
    pub fn publish(&self, mut s: Snapshot) -> Arc<Snapshot> {
        s.generation = self.current.load().generation + 1;
        self.current.swap(Arc::new(s))
    }
    pub fn load(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }
    /// A worker's reader: checks for a new version with one atomic load.
    pub fn reader(&self) -> Cache<&ArcSwap<Snapshot>, Arc<Snapshot>> {
        Cache::new(&self.current)
    }
}
