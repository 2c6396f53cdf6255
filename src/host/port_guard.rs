//! The access ports' policy as the management thread keeps it: port security and DHCP
//! trust from the config, and what it refused on the ports' behalf.

use crate::config::Config;
use crate::tables::{PortGuard, PortPolicy};

/// Port security and DHCP trust by PortIdx (the uplink trusts DHCP: servers elsewhere reach
/// the VMs through it).
pub(super) fn port_policies(cfg: &Config) -> Vec<PortPolicy> {
    let uplink = PortPolicy {
        guard: None,
        dhcp_server: true,
        max_macs: None,
    };
    std::iter::once(uplink)
        .chain(cfg.access_ports.iter().map(|p| PortPolicy {
            guard: p.security.as_ref().map(|s| PortGuard {
                macs: s.macs.iter().copied().collect(),
                ips: s.ips.iter().copied().collect(),
                learn_mac: s.macs.is_empty(),
                learn_ip: s.ips.is_empty(),
            }),
            dhcp_server: p.dhcp_server,
            max_macs: p.max_macs,
        }))
        .collect()
}

/// What the management thread refused, readable live by the control socket (single writer).
#[derive(Debug, Default)]
pub struct Refused {
    /// MACs not learned because their port had `max_macs` already.
    pub port_mac_limit: std::sync::atomic::AtomicU64,
}

impl Refused {
    pub(super) fn bump(c: &std::sync::atomic::AtomicU64) {
        use std::sync::atomic::Ordering::Relaxed;
        c.store(c.load(Relaxed) + 1, Relaxed);
    }
}
