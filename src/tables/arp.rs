//! The ARP table: (VNI, IPv4) -> MAC, what ARP suppression answers from.

use super::{EntryKind, ShardKey, ShardedMap};
use crate::ids::Vni;
use crate::wire::MacAddr;
use std::net::Ipv4Addr;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct ArpKey {
    pub vni: Vni,
    pub ip: Ipv4Addr,
}

impl ShardKey for ArpKey {
    #[inline(always)]
    fn shard_hash(&self) -> u64 {
        (u64::from(self.vni.get()) << 32) | u64::from(u32::from(self.ip))
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ArpEntry {
    pub mac: MacAddr,
    pub kind: EntryKind,
}

pub type ArpTable = ShardedMap<ArpKey, ArpEntry>;
