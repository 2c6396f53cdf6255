//! What tests and the bench need and the daemon does not: in-memory frame I/O for the
//! pipeline, a whole host in memory (`HostRig`), frame builders for traffic (pcap files: `wire::pcap`). Compiled only with the `testkit` feature (the tests turn it on; `vxswitch
//! dataplane` never carries it).
#![forbid(unsafe_code)]

pub mod host_rig;
pub mod mem_io;
pub mod traffic;

pub use host_rig::HostRig;
pub use mem_io::{MemFrame, MemIo, MEM_HEADROOM};
