//! vxswitch: a DPDK poll-mode VXLAN logical switch (NSX-style) with its control plane.
//!
//! `unsafe` is allowed only under `dpdk/`; every other module forbids it. Modules form
//! layers, each importing only from the ones below it (`tests/layers.rs` checks it):
//!
//! | layer | modules |
//! |---|---|
//! | 0 | `ids`, `wire` (identifiers, zero-copy packet views), `auth` (TLS, tokens, PKI) |
//! | 1 | `api` (host API, REST models and their clients), `tables`, `proto` |
//! | 2 | `config`, `dataplane` (pipeline stages, the frame I/O trait) |
//! | 3 | `agent` (controller client), `dpdk` (implements the frame I/O), `controller` |
//! | 4 | `host` (bring-up, workers, management thread, control socket) |
//! | 5 | `cli`, `lab` |
//! | 6 | `testkit` (tests and bench only) |
#![deny(unsafe_code)]

pub mod agent;
pub mod api;
pub mod auth;
pub mod cli;
pub mod config;
pub mod controller;
pub mod dataplane;
#[allow(unsafe_code)]
pub mod dpdk;
pub mod host;
pub mod ids;
pub mod lab;
pub mod proto;
pub mod tables;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod wire;
