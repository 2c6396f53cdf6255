//! Static MAC entries added and removed at run time from the control socket, in ranges
//! (`vxswitch mac add --count N`, as VPP's `l2fib add ... count`): how operators pin a MAC
//! and how the bench loads a 1M-entry table or churns it. One edit, one publish.

use super::manager::TableManager;
use crate::agent::{MacEditDone, MacEditTarget};
use crate::tables::{Dest, EntryKind, MacEntry, MacKey, Vni};
use crate::wire::MacAddr;
use std::sync::Arc;
use std::time::Instant;

/// The largest MAC value (48 bits).
const MAC_MAX: u64 = (1 << 48) - 1;

/// The `i`-th MAC after `first`, counting as a 48-bit number.
pub fn nth_mac(first: MacAddr, i: u64) -> MacAddr {
    let b = (first.as_u64() + i).to_be_bytes();
    MacAddr([b[2], b[3], b[4], b[5], b[6], b[7]])
}

impl TableManager {
    /// Adds (`target` Some) or removes `count` MACs from `first` in `vni`, then publishes.
    /// A refused edit changes nothing.
    pub fn edit_macs(
        &mut self,
        vni: Vni,
        first: MacAddr,
        count: u32,
        target: Option<MacEditTarget>,
        now: u32,
    ) -> Result<MacEditDone, String> {
        if !self.snap.vnis.contains_key(&vni) {
            return Err(format!("vni: {vni} has no port on this host"));
        }
        if count == 0 {
            return Err("count: must be at least 1".into());
        }
        if first.0[0] & 1 != 0 {
            return Err(format!("mac: {first} is a group address"));
        }
        if first.as_u64() + u64::from(count) - 1 > MAC_MAX
            || (first.as_u64() ^ (first.as_u64() + u64::from(count) - 1)) >> 40 != 0
        {
            return Err("count: the range leaves the first MAC's unicast block".into());
        }
        let started = Instant::now();
        let mut macs = self.snap.macs.edit();
        let mut changed = 0u32;
        match target {
            Some(t) => {
                let new = (0..count)
                    .filter(|i| {
                        let mac = nth_mac(first, u64::from(*i));
                        macs.get(&MacKey { vni, mac }).is_none()
                    })
                    .count();
                if macs.len() + new > self.mac_capacity {
                    return Err(format!(
                        "count: {new} new entries do not fit (mac table {} of {})",
                        macs.len(),
                        self.mac_capacity
                    ));
                }
                let dest = match t {
                    MacEditTarget::Port(p) => {
                        if self.snap.port_vni.get(usize::from(p)).copied().flatten() != Some(vni) {
                            return Err(format!("port: not an access port of vni {vni}"));
                        }
                        Dest::Local(p)
                    }
                    MacEditTarget::Vtep(ip) => {
                        if ip == self.snap.vtep.ip {
                            return Err(format!("vtep: {ip} is this host's own VTEP"));
                        }
                        match self.snap.tunnels.index_of(ip) {
                            Some(t) => Dest::Remote(t),
                            None => {
                                let mut tunnels = (*self.snap.tunnels).clone();
                                let t = self
                                    .ensure_tunnel(&mut tunnels, ip)
                                    .ok_or_else(|| "vtep: the tunnel table is full".to_string())?;
                                self.snap.tunnels = Arc::new(tunnels);
                                Dest::Remote(t)
                            }
                        }
                    }
                };
                for i in 0..count {
                    let key = MacKey {
                        vni,
                        mac: nth_mac(first, u64::from(i)),
                    };
                    let same = macs
                        .get(&key)
                        .is_some_and(|e| e.dest == dest && e.kind == EntryKind::Static);
                    if !same {
                        macs.insert(key, MacEntry::new(dest, EntryKind::Static, now));
                        changed += 1;
                    }
                }
            }
            None => {
                for i in 0..count {
                    let key = MacKey {
                        vni,
                        mac: nth_mac(first, u64::from(i)),
                    };
                    changed += u32::from(macs.remove(&key).is_some());
                }
            }
        }
        if changed > 0 {
            self.snap.macs = macs.finish();
            self.publish();
        }
        Ok(MacEditDone {
            changed,
            publish: started.elapsed(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nth_mac_counts_across_bytes() {
        let m: MacAddr = "02:00:00:00:00:ff".parse().unwrap();
        assert_eq!(nth_mac(m, 1).to_string(), "02:00:00:00:01:00");
        assert_eq!(nth_mac(m, 0), m);
    }
}
