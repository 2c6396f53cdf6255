//! What an access port's VM may do, as the data path checks it per frame: port security's
//! allowed source addresses, whether DHCP server messages from it are believed, and (for
//! the management thread) how many MACs it may have.

use crate::wire::MacAddr;
use smallvec::SmallVec;
use std::net::Ipv4Addr;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortPolicy {
    /// Port security; None: off (any source).
    pub guard: Option<PortGuard>,
    /// A DHCP server sits behind the port (the uplink: always).
    pub dhcp_server: bool,
    /// Most MACs the management thread learns behind the port; None: no limit.
    pub max_macs: Option<u32>,
}

/// Port security (NSX SpoofGuard, OVN port_security): the source MACs and IPv4 addresses the
/// VM may use. A list the config left empty takes the first address the VM uses (the
/// management thread adds it on the worker's claim), then holds to it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortGuard {
    pub macs: SmallVec<[MacAddr; 2]>,
    pub ips: SmallVec<[Ipv4Addr; 2]>,
    pub learn_mac: bool,
    pub learn_ip: bool,
}

impl PortGuard {
    /// The MAC list is still waiting for the VM's first MAC.
    #[inline]
    pub fn takes_mac(&self) -> bool {
        self.learn_mac && self.macs.is_empty()
    }
    /// The address list is still waiting for the VM's first address.
    #[inline]
    pub fn takes_ip(&self) -> bool {
        self.learn_ip && self.ips.is_empty()
    }
    /// Locks a list still waiting to the VM's first MAC; true if it did.
    pub fn lock_mac(&mut self, mac: MacAddr) -> bool {
        let take = self.takes_mac();
        if take {
            self.macs.push(mac);
        }
        take
    }
    /// Locks a list still waiting to the VM's first address; true if it did.
    pub fn lock_ip(&mut self, ip: Ipv4Addr) -> bool {
        let take = self.takes_ip();
        if take {
            self.ips.push(ip);
        }
        take
    }
}
