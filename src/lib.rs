//! vxswitch: a DPDK poll-mode VXLAN logical switch (NSX-style) with its control plane.
//!
//! `unsafe` is allowed only under `dpdk/`; every other module forbids it.
#![deny(unsafe_code)]

pub mod agent;
pub mod cli;
pub mod config;
pub mod controller;
pub mod dataplane;
#[allow(unsafe_code)]
pub mod dpdk;
pub mod frame;
pub mod lab;
pub mod pcap;
pub mod proto;
pub mod tables;
pub mod traffic;
pub mod wire;
