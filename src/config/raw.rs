//! The config file as written (TOML, serde): every key optional where a default exists,
//! unknown keys refused. `validate` turns it into `Config`.

use crate::ids::{Ipv4Net, ReplicationMode, Vni};
use crate::wire::MacAddr;
use serde::Deserialize;
use std::net::Ipv4Addr;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Raw {
    pub(super) eal: RawEal,
    #[serde(default)]
    pub(super) dataplane: RawDataplane,
    pub(super) vtep: RawVtep,
    pub(super) uplink: RawUplink,
    #[serde(default, rename = "access_port")]
    pub(super) access_ports: Vec<RawAccessPort>,
    #[serde(default, rename = "vni")]
    pub(super) vnis: Vec<RawVni>,
    #[serde(default, rename = "neighbor")]
    pub(super) neighbors: Vec<RawArp>,
    pub(super) agent: Option<RawAgent>,
    #[serde(default)]
    pub(super) control: RawControl,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAgent {
    pub(super) host: Option<String>,
    pub(super) controllers: Vec<String>,
    #[serde(default = "default_arp_query_timeout_ms")]
    pub(super) arp_query_timeout_ms: u64,
    #[serde(default = "default_controller_timeout_ms")]
    pub(super) controller_timeout_ms: u64,
    pub(super) tls_ca: Option<std::path::PathBuf>,
    pub(super) tls_cert: Option<std::path::PathBuf>,
    pub(super) tls_key: Option<std::path::PathBuf>,
    #[serde(default)]
    pub(super) insecure: bool,
}

pub(super) fn default_arp_query_timeout_ms() -> u64 {
    250
}

pub(super) fn default_controller_timeout_ms() -> u64 {
    crate::proto::DEAD_AFTER.as_millis() as u64
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawControl {
    #[serde(default = "default_socket")]
    pub(super) socket: String,
    pub(super) group: Option<String>,
    pub(super) metrics: Option<std::net::SocketAddr>,
}

impl Default for RawControl {
    fn default() -> Self {
        RawControl {
            socket: default_socket(),
            group: None,
            metrics: None,
        }
    }
}

pub(super) fn default_socket() -> String {
    crate::api::host::DEFAULT_SOCKET.into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEal {
    pub(super) args: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawDataplane {
    pub(super) workers: Vec<usize>,
    pub(super) idle_sleep_us: u64,
    pub(super) aging_secs: u32,
    pub(super) mbufs: u32,
    pub(super) mac_capacity: usize,
    pub(super) arp_capacity: usize,
    pub(super) rx_desc: u16,
    pub(super) tx_desc: u16,
    pub(super) large_mbufs: u32,
}

impl Default for RawDataplane {
    fn default() -> Self {
        RawDataplane {
            workers: vec![0],
            idle_sleep_us: 0,
            aging_secs: 300,
            mbufs: 8191,
            mac_capacity: 1 << 20,
            arp_capacity: 1 << 20,
            rx_desc: 1024,
            tx_desc: 1024,
            large_mbufs: 4095,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawVtep {
    /// Address and prefix on the underlay segment: "192.168.250.51/24".
    pub(super) ip: Ipv4Net,
    pub(super) mac: Option<MacAddr>,
    pub(super) gateway: Option<Ipv4Addr>,
    #[serde(default = "default_udp_port")]
    pub(super) udp_port: u16,
    #[serde(default = "default_mtu")]
    pub(super) mtu: u16,
}

pub(super) fn default_udp_port() -> u16 {
    4789
}
pub(super) fn default_mtu() -> u16 {
    1600
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawUplink {
    pub(super) device: String,
    #[serde(default = "default_multi_segment")]
    pub(super) multi_segment: bool,
}

pub(super) fn default_multi_segment() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAccessPort {
    pub(super) name: String,
    pub(super) device: String,
    pub(super) vni: Vni,
    /// The VM's MTU: the largest IP packet it sends and receives.
    #[serde(default = "default_vm_mtu")]
    pub(super) mtu: u16,
    pub(super) port_security: Option<RawPortSecurity>,
    /// A DHCP server sits behind this port: its ACKs are believed (snooped).
    #[serde(default)]
    pub(super) dhcp_server: bool,
    pub(super) max_macs: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPortSecurity {
    #[serde(default)]
    pub(super) macs: Vec<MacAddr>,
    #[serde(default)]
    pub(super) ips: Vec<Ipv4Addr>,
}

pub(super) fn default_vm_mtu() -> u16 {
    1500
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawVni {
    pub(super) vni: Vni,
    #[serde(default)]
    pub(super) vteps: Vec<Ipv4Addr>,
    #[serde(default, rename = "mac")]
    pub(super) macs: Vec<RawMac>,
    #[serde(default, rename = "arp")]
    pub(super) arps: Vec<RawArp>,
    /// Static operation only; with a controller, the logical switch's setting wins.
    #[serde(default = "default_true")]
    pub(super) arp_suppression: bool,
    /// Static operation only, as `arp_suppression`.
    #[serde(default)]
    pub(super) replication: ReplicationMode,
    /// Of `vteps`, those that are their segment's proxy (UTEP or MTEP).
    #[serde(default)]
    pub(super) proxies: Vec<Ipv4Addr>,
    pub(super) multicast_group: Option<Ipv4Addr>,
}

pub(super) fn default_true() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMac {
    pub(super) mac: MacAddr,
    pub(super) vtep: Option<Ipv4Addr>,
    pub(super) port: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawArp {
    pub(super) ip: Ipv4Addr,
    pub(super) mac: MacAddr,
}
