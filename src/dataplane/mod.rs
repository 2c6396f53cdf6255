//! The data plane: the per-packet pipeline (one file per stage), the worker loop that runs
//! it over DPDK bursts, and the management thread that owns the tables.
#![forbid(unsafe_code)]

mod access;
mod control;
pub mod counters;
mod decap;
mod encap;
pub mod events;
mod flood;
mod learn;
mod link;
pub mod manager;
pub mod pipeline;
mod queries;
mod run;
mod stack;
mod static_macs;
mod suppress;
mod uplink;
pub mod worker;

pub use counters::{Counters, DropReason, Stat};
pub use encap::src_port as flow_port;
pub use pipeline::{process, Ctx, Pipeline};
pub use run::run;
pub use static_macs::nth_mac;
