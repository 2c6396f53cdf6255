//! The forwarding tables and the immutable snapshot they form.
//!
//! One writer (the management thread) builds a new `Snapshot` and publishes it; workers load
//! it once per burst and never write table structure. A publish copies only what changed:
//! MAC and ARP tables are sharded copy-on-write maps, so an update clones the few shards it
//! touches, not the table.
#![forbid(unsafe_code)]

mod arp;
mod mac;
mod port_policy;
mod shard;
mod sharded;
mod snapshot;
pub mod tunnel;
mod vnis;

pub use arp::{ArpEntry, ArpKey, ArpTable};
pub use mac::{Dest, EntryKind, MacEntry, MacKey, MacTable};
pub use port_policy::{PortGuard, PortPolicy};
pub use sharded::{Editor, ShardKey, ShardedMap};
pub use snapshot::{BumCopy, CopyKind, Replication, Snapshot, SnapshotCell, VniInfo, VtepIdentity};
pub use tunnel::{Tunnel, TunnelTable};
pub use vnis::VniTable;

/// A port of this switch: 0 is the uplink, 1.. are the access (VM) ports.
pub type PortIdx = u16;
/// Index of a remote VTEP in the tunnel table.
pub type TunnelIdx = u16;

/// PortIdx of the uplink.
pub const UPLINK: PortIdx = 0;
