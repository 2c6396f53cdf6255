//! One hypervisor's data plane as a process (`vxswitch dataplane`): bring-up of EAL, pools
//! and ports, the pinned workers that run the pipeline over DPDK bursts, the management
//! thread that is the single writer of the tables (`TableManager`), the control-plane thread
//! (the control socket serving the host API, and the agent's sessions to controllers), and
//! the report printed at stop.
#![forbid(unsafe_code)]

mod buffers;
mod capture_stream;
mod control_plane;
mod control_socket;
mod groups;
mod link;
pub mod manager;
mod metrics;
mod mgmt;
mod ping;
mod port_guard;
mod queries;
pub mod replication;
mod report;
mod run;
mod socket_file;
mod static_macs;
mod updates;
mod views;
mod worker;

pub use manager::{initial_snapshot, TableManager};
pub use run::{run, RunError};
pub use static_macs::MacEditTarget;
