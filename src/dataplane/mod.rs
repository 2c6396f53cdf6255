//! The data plane's per-packet work: one file per pipeline stage, all generic over the frame
//! I/O trait (`frame.rs`) so that the same code runs on DPDK mbufs in a worker and on
//! in-memory frames in tests; the events workers send the management thread; the counters.
//! Nothing here allocates, locks or logs per packet.
#![forbid(unsafe_code)]

mod access;
pub mod capture;
pub mod counters;
mod decap;
mod encap;
pub mod events;
mod flood;
pub mod frame;
mod guard;
mod learn;
mod offload;
pub mod pipeline;
mod recent;
pub mod slow_path;
mod stack;
mod suppress;
pub mod trace;
mod uplink;

pub use counters::{Counters, DropReason, Stat, VniStat};
pub use encap::{src_port as flow_port, write_outer};
pub use frame::{Frame, FrameIo};
pub use pipeline::{process, Ctx, Pipeline};
pub use slow_path::{inject, SlowFrame};
