//! The names of the data plane's counters, as the host API and the stop report carry them
//! (VPP's `vxlan_error.def` in spirit): one enum per kind, a name per member. The data plane
//! counts into arrays indexed by these; readers get them by member, never by string.

use serde::{Deserialize, Serialize};

macro_rules! counter_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $text:literal,)* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[repr(usize)]
        pub enum $name { $(#[serde(rename = $text)] $variant,)* }
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
        BadIgmp => "bad_igmp",
        NotForVtep => "not_for_vtep",
        BadVxlan => "bad_vxlan",
        BadVxlanFlags => "bad_vxlan_flags",
        UnknownVni => "unknown_vni",
        UnknownVtep => "unknown_source_vtep",
        BadInnerFrame => "bad_inner_frame",
        SplitHorizon => "split_horizon",
        Truncated => "truncated",
        SpoofedMac => "port_security_mac",
        SpoofedIp => "port_security_ip",
        SpoofedArp => "port_security_arp",
        RogueDhcp => "dhcp_server_untrusted",
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
        ChecksumsCompleted => "l4_checksums_completed",
        GsoSegments => "gso_segments",
        IgmpQueries => "vtep_igmp_queries",
        UnknownVtepsSeen => "multicast_unknown_vteps_seen",
        DhcpNotSnooped => "dhcp_acks_from_untrusted_ports",
        PortClaims => "port_security_claims",
    }
}

counter_enum! {
    /// What the pipeline did per logical switch: frames in and out of its tunnels, BUM
    /// replication by kind of copy, ARP suppression and questions to the controller.
    VniStat {
        BumFrames => "bum_frames",
        UnicastCopies => "bum_vtep_copies",
        ProxyCopies => "bum_proxy_copies",
        GroupCopies => "bum_group_copies",
        ReplicateReceived => "replicate_locally_received",
        ReplicateForwarded => "replicate_locally_forwarded",
        Encapsulated => "encapsulated",
        Decapsulated => "decapsulated",
        ArpProxyReplies => "arp_proxy_replies",
        ControllerQueries => "controller_queries",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_names_are_the_printed_names() {
        for s in Stat::ALL {
            assert_eq!(
                serde_json::to_string(s).unwrap(),
                format!("\"{}\"", s.name())
            );
        }
        for r in DropReason::ALL {
            let text = format!("\"{}\"", r.name());
            assert_eq!(serde_json::from_str::<DropReason>(&text).unwrap(), *r);
        }
    }
}
