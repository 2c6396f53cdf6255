//! What tests and the bench need and the daemon does not: in-memory frame I/O for the
//! pipeline, frame builders for traffic, and a pcap writer. Compiled only with the `testkit`
//! feature (the tests turn it on; `vxswitch dataplane` never carries it).
#![forbid(unsafe_code)]

pub mod mem_io;
pub mod pcap;
pub mod traffic;

pub use mem_io::{MemFrame, MemIo, MEM_HEADROOM};
