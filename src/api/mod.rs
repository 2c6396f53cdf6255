//! One typed contract per boundary, serde on both sides:
//! - `host`: the data plane's control socket (`vxswitch show/ping/mac` <-> `vxswitch dataplane`);
//! - `rest`: the controller's management API (`vxswitch show logical-switches/ls` <-> controller);
//! - the agent <-> controller protocol is protobuf (`crate::proto`).
//!
//! Clients live here too, so the CLI, the lab, the bench and the tests read the same rows.
#![forbid(unsafe_code)]

pub mod capture;
pub mod counters;
pub mod host;
mod host_client;
pub mod rest;
mod rest_client;
pub mod trace;

pub use counters::{DropReason, Stat, VniStat};
pub use host_client::{HostClient, HostError};
pub use rest_client::{RestClient, RestError};
