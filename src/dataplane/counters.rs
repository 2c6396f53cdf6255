//! Per-worker counters: plain single-writer integers (relaxed load + store, no locked
//! instruction), summed by the reader. Every drop has a reason, as VPP's error lists.

use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! counter_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $text:literal,)* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(usize)]
        pub enum $name { $($variant,)* }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];
            pub const COUNT: usize = Self::ALL.len();
            /// The name used in printouts and metrics.
            pub fn name(self) -> &'static str {
                match self { $($name::$variant => $text,)* }
            }
        }
    };
}

counter_enum! {
    /// Why a frame was dropped.
    DropReason {
        BadEthernet => "bad_ethernet",
        BadSourceMac => "bad_source_mac",
        PortNotBound => "port_not_bound",
        SamePort => "same_port",
        NoDestination => "no_destination",
        Oversize => "oversize",
        NoNeighbor => "no_neighbor",
        NoHeadroom => "no_headroom",
        NoMbuf => "no_mbuf",
        MultiSegment => "multi_segment",
        BadArp => "bad_arp",
        BadIpv4 => "bad_ipv4",
        BadIpv4Checksum => "bad_ipv4_checksum",
        IpFragment => "ip_fragment",
        BadUdp => "bad_udp",
        BadIcmp => "bad_icmp",
        NotForVtep => "not_for_vtep",
        BadVxlan => "bad_vxlan",
        BadVxlanFlags => "bad_vxlan_flags",
        UnknownVni => "unknown_vni",
        UnknownVtep => "unknown_source_vtep",
        BadInnerFrame => "bad_inner_frame",
        SplitHorizon => "split_horizon",
    }
}

counter_enum! {
    /// What the pipeline did.
    Stat {
        RxAccess => "rx_access",
        RxUplink => "rx_uplink",
        ToLocalPort => "to_local_port",
        Encapsulated => "encapsulated",
        Decapsulated => "decapsulated",
        Flooded => "flooded",
        FloodLocalCopies => "flood_local_copies",
        FloodTunnelCopies => "flood_tunnel_copies",
        ArpRepliesSent => "vtep_arp_replies",
        IcmpRepliesSent => "vtep_icmp_replies",
        NeighborUpdates => "vtep_neighbor_updates",
        StackFramesSent => "vtep_frames_sent",
        ArpProxyReplies => "arp_proxy_replies",
        ArpQueries => "arp_controller_queries",
        ArpRequestsFlooded => "arp_requests_flooded",
        IpSnooped => "ip_bindings_snooped",
        MacQueries => "mac_controller_queries",
        EchoRepliesReceived => "vtep_echo_replies_received",
        EventsQueued => "events_queued",
        EventsLost => "events_lost",
    }
}

/// One worker's counters.
#[derive(Debug)]
pub struct Counters {
    drops: [AtomicU64; DropReason::COUNT],
    stats: [AtomicU64; Stat::COUNT],
    /// TSC cycles spent in poll rounds that received something (testpmd's "busy cycles").
    busy_cycles: AtomicU64,
    /// Frames received in those rounds.
    busy_frames: AtomicU64,
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            drops: std::array::from_fn(|_| AtomicU64::new(0)),
            stats: std::array::from_fn(|_| AtomicU64::new(0)),
            busy_cycles: AtomicU64::new(0),
            busy_frames: AtomicU64::new(0),
        }
    }
}

#[inline]
fn bump(c: &AtomicU64, n: u64) {
    // Single writer: a plain add, published with relaxed ordering.
    c.store(c.load(Ordering::Relaxed) + n, Ordering::Relaxed);
}

impl Counters {
    #[inline]
    pub fn dropped(&self, r: DropReason) {
        bump(&self.drops[r as usize], 1);
    }
    #[inline]
    pub fn add(&self, s: Stat, n: u64) {
        bump(&self.stats[s as usize], n);
    }
    pub fn drops(&self, r: DropReason) -> u64 {
        self.drops[r as usize].load(Ordering::Relaxed)
    }
    pub fn stat(&self, s: Stat) -> u64 {
        self.stats[s as usize].load(Ordering::Relaxed)
    }
    /// A poll round that received `frames` took `cycles`.
    #[inline]
    pub fn busy(&self, cycles: u64, frames: u64) {
        bump(&self.busy_cycles, cycles);
        bump(&self.busy_frames, frames);
    }
    /// (busy cycles, frames received in busy rounds).
    pub fn busy_totals(&self) -> (u64, u64) {
        (
            self.busy_cycles.load(Ordering::Relaxed),
            self.busy_frames.load(Ordering::Relaxed),
        )
    }
}

/// The sum over workers of a drop reason.
pub fn total_drops(all: &[std::sync::Arc<Counters>], r: DropReason) -> u64 {
    all.iter().map(|c| c.drops(r)).sum()
}

/// The sum over workers of a stat.
pub fn total_stat(all: &[std::sync::Arc<Counters>], s: Stat) -> u64 {
    all.iter().map(|c| c.stat(s)).sum()
}
