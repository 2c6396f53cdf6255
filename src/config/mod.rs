//! The data plane's TOML configuration: parsed into typed values (addresses, VNIs, MACs are
//! checked as they are read) with unknown keys refused, then validated once as a whole; every
//! error names the key it is about.
#![forbid(unsafe_code)]

mod raw;
mod security;

pub(crate) use security::{tls_files, RawTls};

use crate::ids::{ReplicationMode, Vni};
use crate::wire::MacAddr;
use raw::Raw;
use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Syntax {
        path: String,
        source: toml::de::Error,
    },
    #[error("{key}: {msg}")]
    Invalid { key: String, msg: String },
}

fn invalid(key: impl Into<String>, msg: impl Into<String>) -> ConfigError {
    ConfigError::invalid(key, msg)
}

impl ConfigError {
    /// A value refused, naming its key.
    pub fn invalid(key: impl Into<String>, msg: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            key: key.into(),
            msg: msg.into(),
        }
    }
}

/// A validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub eal_args: Vec<String>,
    pub workers: Vec<usize>,
    /// Sleep after an empty poll round, in microseconds (0: busy-poll).
    pub idle_sleep_us: u64,
    pub aging_secs: u32,
    pub mbufs: u32,
    pub mac_capacity: usize,
    pub arp_capacity: usize,
    pub rx_desc: u16,
    pub tx_desc: u16,
    /// Mbufs of the pool for ports whose frames do not fit a standard 2 KiB mbuf (jumbo
    /// MTUs, af_packet rings with large slots); made only when such a port exists.
    pub large_mbufs: u32,
    pub vtep: VtepConfig,
    pub uplink_device: String,
    /// Flood replicas leave the uplink as mbuf chains (a header mbuf + the shared payload)
    /// where its driver declares multi-segment TX; false copies each into one mbuf, for
    /// drivers that leave their vector TX path in multi-segment mode (VPP's no-multi-seg).
    pub uplink_multi_segment: bool,
    pub access_ports: Vec<AccessPort>,
    pub vnis: Vec<VniConfig>,
    /// Static entries of the VTEP's underlay ARP cache.
    pub neighbors: Vec<(Ipv4Addr, MacAddr)>,
    /// Sessions to controllers; None: static tables only.
    pub agent: Option<AgentConfig>,
    /// The Unix socket `vxswitch show` and `vxswitch ping` talk to.
    pub control_socket: std::path::PathBuf,
    /// The group that may use it too (mode 0660); None: root only (mode 0600).
    pub control_group: Option<String>,
    /// Where Prometheus scrapes `GET /metrics`; None: no metrics listener.
    pub metrics: Option<std::net::SocketAddr>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AgentConfig {
    /// This host's name as controllers show it.
    pub host: String,
    pub controllers: Vec<std::net::SocketAddr>,
    /// How long a VM's ARP request waits for the controller before it is flooded.
    pub arp_query_timeout: std::time::Duration,
    /// A controller silent this long (not even a keepalive) is gone: the session is dropped
    /// and opened again.
    pub controller_timeout: std::time::Duration,
    /// Mutual TLS to the controllers; None: plaintext (`insecure = true`).
    pub tls: Option<crate::auth::TlsFiles>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VtepConfig {
    pub ip: Ipv4Addr,
    pub prefix_len: u8,
    /// None: use the uplink port's own MAC.
    pub mac: Option<MacAddr>,
    pub gateway: Option<Ipv4Addr>,
    pub udp_port: u16,
    pub mtu: u16,
}

impl VtepConfig {
    /// The VTEP as the data path sees it; `port_mac` is used when no MAC is configured.
    pub fn identity(&self, port_mac: MacAddr) -> crate::tables::VtepIdentity {
        crate::tables::VtepIdentity {
            ip: self.ip,
            prefix_len: self.prefix_len,
            mac: self.mac.unwrap_or(port_mac),
            gateway: self.gateway,
            udp_port: self.udp_port,
            mtu: self.mtu,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct AccessPort {
    pub name: String,
    pub device: String,
    pub vni: Vni,
    pub mtu: u16,
    /// The VM may send only from these addresses; None: from any.
    pub security: Option<PortSecurity>,
    /// A DHCP server sits behind this port: its ACKs are snooped. Other ports' are not, and
    /// with port security on they are dropped.
    pub dhcp_server: bool,
    /// At most this many MACs are learned behind the port; None: no limit.
    pub max_macs: Option<u32>,
}

/// Most addresses port security lists per port (a VM with a few interfaces' worth).
const MAX_GUARDED: usize = 16;

/// Logical switches one host takes: each gets a u16 slot (its counters, its place in
/// `tables::VniTable`), u16::MAX meaning none.
pub const MAX_SWITCHES: usize = u16::MAX as usize;

/// Port security (NSX SpoofGuard, OVN port_security): the source MACs and IPv4 addresses a
/// VM may use. An empty list takes the first one the VM uses and then holds to it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortSecurity {
    pub macs: Vec<MacAddr>,
    pub ips: Vec<Ipv4Addr>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VniConfig {
    pub vni: Vni,
    pub vteps: Vec<Ipv4Addr>,
    pub macs: Vec<StaticMac>,
    pub arps: Vec<(Ipv4Addr, MacAddr)>,
    pub arp_suppression: bool,
    pub replication: ReplicationMode,
    pub multicast_group: Option<Ipv4Addr>,
    pub proxies: Vec<Ipv4Addr>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum MacTarget {
    Vtep(Ipv4Addr),
    Port(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct StaticMac {
    pub mac: MacAddr,
    pub target: MacTarget,
}

impl Config {
    /// The value of `key` in the `--vdev` arguments of `device`, e.g. `iface` of
    /// `net_af_packet0,iface=up0`.
    pub fn vdev_arg(&self, device: &str, key: &str) -> Option<&str> {
        vdev_arg(&self.eal_args, device, key)
    }

    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        load_toml(path, Config::parse)
    }

    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        validate(parse_toml(text)?)
    }
}

/// Reads the file at `path` and parses it with `parse`; a read error or broken TOML names
/// the file.
pub fn load_toml<T>(
    path: &Path,
    parse: impl FnOnce(&str) -> Result<T, ConfigError>,
) -> Result<T, ConfigError> {
    let p = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: p.clone(),
        source,
    })?;
    parse(&text).map_err(|e| match e {
        ConfigError::Syntax { source, .. } => ConfigError::Syntax { path: p, source },
        other => other,
    })
}

/// TOML text as `T`: a value that does not fit names its key (`vni[0].mac[1].mac: ...`),
/// broken TOML says where.
pub fn parse_toml<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, ConfigError> {
    serde_path_to_error::deserialize(toml::Deserializer::new(text)).map_err(|e| {
        let key = e.path().to_string();
        let source = e.into_inner();
        if key == "." {
            ConfigError::Syntax {
                path: String::new(),
                source,
            }
        } else {
            invalid(key, source.message())
        }
    })
}

/// The value of `key` in the `--vdev` argument of `device` among EAL arguments.
pub fn vdev_arg<'a>(eal_args: &'a [String], device: &str, key: &str) -> Option<&'a str> {
    eal_args
        .iter()
        .filter_map(|a| a.strip_prefix(device)?.strip_prefix(','))
        .flat_map(|kv| kv.split(','))
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
}

/// The largest MTU of any port (the underlay's jumbo frames).
pub const MAX_MTU: u16 = 9216;
/// What VXLAN adds to an inner frame's IP packet: outer IPv4, UDP, VXLAN, inner Ethernet.
const ENCAP_OVERHEAD: u16 = 50;

fn validate(raw: Raw) -> Result<Config, ConfigError> {
    let d = raw.dataplane;
    if d.workers.is_empty() {
        return Err(invalid("dataplane.workers", "needs at least one core"));
    }
    let mut seen = d.workers.clone();
    seen.sort_unstable();
    seen.dedup();
    if seen.len() != d.workers.len() {
        return Err(invalid("dataplane.workers", "a core is listed twice"));
    }
    if d.mbufs < 1024 {
        return Err(invalid("dataplane.mbufs", "at least 1024"));
    }
    if d.rx_desc == 0 || d.tx_desc == 0 {
        return Err(invalid("dataplane.rx_desc/tx_desc", "must be > 0"));
    }
    if raw.vtep.ip.prefix_len == 0 {
        return Err(invalid("vtep.ip", "prefix length 0 is not 1-32"));
    }
    if let Some(m) = raw.vtep.mac.filter(|m| !m.is_unicast()) {
        return Err(invalid("vtep.mac", format!("{m} is not a unicast address")));
    }
    if raw.vtep.mtu < 576 || raw.vtep.mtu > MAX_MTU {
        return Err(invalid(
            "vtep.mtu",
            format!("{} is outside 576-{MAX_MTU}", raw.vtep.mtu),
        ));
    }
    if d.large_mbufs < 256 {
        return Err(invalid("dataplane.large_mbufs", "at least 256"));
    }
    if raw.vtep.udp_port == 0 {
        return Err(invalid("vtep.udp_port", "must not be 0"));
    }
    let vtep = VtepConfig {
        ip: raw.vtep.ip.addr,
        prefix_len: raw.vtep.ip.prefix_len,
        mac: raw.vtep.mac,
        gateway: raw.vtep.gateway,
        udp_port: raw.vtep.udp_port,
        mtu: raw.vtep.mtu,
    };
    if raw.uplink.device.is_empty() {
        return Err(invalid("uplink.device", "must name a DPDK device"));
    }
    let mut access_ports: Vec<AccessPort> = Vec::new();
    for (i, p) in raw.access_ports.into_iter().enumerate() {
        let key = format!("access_port[{i}]");
        if p.name.is_empty() {
            return Err(invalid(format!("{key}.name"), "must not be empty"));
        }
        if access_ports.iter().any(|a| a.name == p.name) {
            return Err(invalid(
                format!("{key}.name"),
                format!("{:?} is used twice", p.name),
            ));
        }
        if p.device == raw.uplink.device || access_ports.iter().any(|a| a.device == p.device) {
            return Err(invalid(
                format!("{key}.device"),
                format!("{:?} is used twice", p.device),
            ));
        }
        // A full-size VM frame plus the 50 bytes of VXLAN must fit the underlay: NSX
        // asks the same (underlay MTU >= VM MTU + 50), since VXLAN never fragments.
        if p.mtu < 576 || p.mtu > MAX_MTU - ENCAP_OVERHEAD {
            return Err(invalid(
                format!("{key}.mtu"),
                format!("{} is outside 576-{}", p.mtu, MAX_MTU - ENCAP_OVERHEAD),
            ));
        }
        if p.mtu + ENCAP_OVERHEAD > raw.vtep.mtu {
            return Err(invalid(
                format!("{key}.mtu"),
                format!(
                    "{} needs vtep.mtu >= {} (VXLAN adds {ENCAP_OVERHEAD} bytes), vtep.mtu is {}",
                    p.mtu,
                    p.mtu + ENCAP_OVERHEAD,
                    raw.vtep.mtu
                ),
            ));
        }
        let security = match p.port_security {
            None => None,
            Some(ps) => {
                if let Some(m) = ps.macs.iter().find(|m| !m.is_unicast()) {
                    return Err(invalid(
                        format!("{key}.port_security.macs"),
                        format!("{m} is not a unicast MAC"),
                    ));
                }
                let host = |ip: &Ipv4Addr| {
                    !(ip.is_unspecified() || ip.is_broadcast() || ip.is_multicast())
                };
                if let Some(ip) = ps.ips.iter().find(|ip| !host(ip)) {
                    return Err(invalid(
                        format!("{key}.port_security.ips"),
                        format!("{ip} is not a host address"),
                    ));
                }
                if ps.macs.len() > MAX_GUARDED || ps.ips.len() > MAX_GUARDED {
                    return Err(invalid(
                        format!("{key}.port_security"),
                        format!("at most {MAX_GUARDED} MACs and {MAX_GUARDED} addresses"),
                    ));
                }
                Some(PortSecurity {
                    macs: ps.macs,
                    ips: ps.ips,
                })
            }
        };
        if p.max_macs == Some(0) {
            return Err(invalid(
                format!("{key}.max_macs"),
                "0 would learn nothing: leave it out for no limit",
            ));
        }
        access_ports.push(AccessPort {
            name: p.name,
            device: p.device,
            vni: p.vni,
            mtu: p.mtu,
            security,
            dhcp_server: p.dhcp_server,
            max_macs: p.max_macs,
        });
    }
    let mut vnis: Vec<VniConfig> = Vec::new();
    let mut configured: HashSet<Vni> = HashSet::new();
    let mut switches: HashSet<Vni> = access_ports.iter().map(|p| p.vni).collect();
    for (i, v) in raw.vnis.into_iter().enumerate() {
        let key = format!("vni[{i}]");
        if !configured.insert(v.vni) {
            return Err(invalid(
                format!("{key}.vni"),
                format!("{} is configured twice", v.vni),
            ));
        }
        if switches.insert(v.vni) && switches.len() > MAX_SWITCHES {
            return Err(invalid(
                format!("{key}.vni"),
                format!("a host takes at most {MAX_SWITCHES} logical switches"),
            ));
        }
        if let Some(j) = v.vteps.iter().position(|a| *a == vtep.ip) {
            return Err(invalid(
                format!("{key}.vteps[{j}]"),
                "is this host's own VTEP",
            ));
        }
        if let Some(j) = v.proxies.iter().position(|p| !v.vteps.contains(p)) {
            return Err(invalid(
                format!("{key}.proxies[{j}]"),
                format!("{} is not in {key}.vteps", v.proxies[j]),
            ));
        }
        match v.multicast_group {
            Some(g) if !g.is_multicast() => {
                return Err(invalid(
                    format!("{key}.multicast_group"),
                    format!("{g} is not a multicast address"),
                ))
            }
            None if v.replication.needs_group() => {
                return Err(invalid(
                    format!("{key}.multicast_group"),
                    format!("is required in {} mode", v.replication),
                ))
            }
            _ => {}
        }
        let mut macs = Vec::new();
        for (j, m) in v.macs.iter().enumerate() {
            let k = format!("{key}.mac[{j}]");
            if !m.mac.is_unicast() {
                return Err(invalid(
                    format!("{k}.mac"),
                    format!("{} is not unicast", m.mac),
                ));
            }
            let target = match (&m.vtep, &m.port) {
                (Some(a), None) => {
                    if !v.vteps.contains(a) {
                        return Err(invalid(
                            format!("{k}.vtep"),
                            format!("{a} is not in {key}.vteps"),
                        ));
                    }
                    MacTarget::Vtep(*a)
                }
                (None, Some(p)) => {
                    if !access_ports.iter().any(|a| &a.name == p && a.vni == v.vni) {
                        return Err(invalid(
                            format!("{k}.port"),
                            format!("no access port {p:?} on VNI {}", v.vni),
                        ));
                    }
                    MacTarget::Port(p.clone())
                }
                _ => return Err(invalid(&k, "needs exactly one of `vtep` or `port`")),
            };
            macs.push(StaticMac { mac: m.mac, target });
        }
        vnis.push(VniConfig {
            vni: v.vni,
            vteps: v.vteps,
            macs,
            arps: v.arps.iter().map(|a| (a.ip, a.mac)).collect(),
            arp_suppression: v.arp_suppression,
            replication: v.replication,
            multicast_group: v.multicast_group,
            proxies: v.proxies,
        });
    }
    let mut neighbors = Vec::new();
    for (i, n) in raw.neighbors.iter().enumerate() {
        if !n.mac.is_unicast() {
            return Err(invalid(
                format!("neighbor[{i}].mac"),
                format!("{} is not unicast", n.mac),
            ));
        }
        neighbors.push((n.ip, n.mac));
    }
    let agent = match raw.agent {
        None => None,
        Some(a) => {
            if a.controllers.is_empty() {
                return Err(invalid(
                    "agent.controllers",
                    "needs at least one controller",
                ));
            }
            let mut controllers = Vec::new();
            for (i, c) in a.controllers.iter().enumerate() {
                let with_port = if c.contains(':') {
                    c.clone()
                } else {
                    format!("{c}:{}", crate::proto::DEFAULT_PORT)
                };
                controllers.push(with_port.parse().map_err(|_| {
                    invalid(
                        format!("agent.controllers[{i}]"),
                        format!("{c:?} is not an IPv4 address[:port]"),
                    )
                })?);
            }
            if a.arp_query_timeout_ms == 0 || a.arp_query_timeout_ms > 5000 {
                return Err(invalid("agent.arp_query_timeout_ms", "must be 1-5000"));
            }
            let keepalive = crate::proto::KEEPALIVE_EVERY.as_millis() as u64;
            if a.controller_timeout_ms < keepalive * 3 / 2 || a.controller_timeout_ms > 60_000 {
                return Err(invalid(
                    "agent.controller_timeout_ms",
                    format!(
                        "must be {}-60000 (controllers send a keepalive every {keepalive} ms)",
                        keepalive * 3 / 2
                    ),
                ));
            }
            Some(AgentConfig {
                host: a.host.unwrap_or_else(|| format!("vtep-{}", vtep.ip)),
                controllers,
                arp_query_timeout: std::time::Duration::from_millis(a.arp_query_timeout_ms),
                controller_timeout: std::time::Duration::from_millis(a.controller_timeout_ms),
                tls: tls_files(RawTls {
                    section: "agent",
                    ca: a.tls_ca,
                    cert: a.tls_cert,
                    key: a.tls_key,
                    insecure: a.insecure,
                })?,
            })
        }
    };
    if raw.control.socket.is_empty() {
        return Err(invalid("control.socket", "must be a path"));
    }
    if raw.control.group.as_deref() == Some("") {
        return Err(invalid("control.group", "must name a group"));
    }
    Ok(Config {
        agent,
        control_socket: raw.control.socket.into(),
        control_group: raw.control.group,
        metrics: raw.control.metrics,
        neighbors,
        eal_args: raw.eal.args,
        workers: d.workers,
        idle_sleep_us: d.idle_sleep_us,
        aging_secs: d.aging_secs,
        mbufs: d.mbufs,
        mac_capacity: d.mac_capacity,
        arp_capacity: d.arp_capacity,
        rx_desc: d.rx_desc,
        tx_desc: d.tx_desc,
        large_mbufs: d.large_mbufs,
        vtep,
        uplink_device: raw.uplink.device,
        uplink_multi_segment: raw.uplink.multi_segment,
        access_ports,
        vnis,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
        [eal]
        args = ["--no-huge", "-m", "256"]
        [vtep]
        ip = "192.168.250.51/24"
        mac = "02:00:00:00:00:51"
        [uplink]
        device = "net_pcap0"
        [[access_port]]
        name = "vm-a"
        device = "net_pcap1"
        vni = 5001
        [[vni]]
        vni = 5001
        vteps = ["192.168.250.52"]
        [[vni.mac]]
        mac = "02:bb:bb:bb:bb:bb"
        vtep = "192.168.250.52"
        [[vni.arp]]
        ip = "172.16.10.12"
        mac = "02:bb:bb:bb:bb:bb"
    "#;

    fn err(text: &str) -> String {
        Config::parse(text).unwrap_err().to_string()
    }

    #[test]
    fn a_good_config_loads_with_defaults() {
        let c = Config::parse(GOOD).unwrap();
        assert_eq!(c.vtep.prefix_len, 24);
        assert_eq!(c.vtep.udp_port, 4789);
        assert_eq!(c.vtep.mtu, 1600);
        assert_eq!(c.aging_secs, 300);
        assert_eq!(
            c.vnis[0].macs[0].target,
            MacTarget::Vtep("192.168.250.52".parse().unwrap())
        );
    }

    #[test]
    fn replication_settings_are_checked() {
        let with = |extra: &str| {
            GOOD.replace(
                "vteps = [\"192.168.250.52\"]",
                &format!("vteps = [\"192.168.250.52\"]\n{extra}"),
            )
        };
        let c = Config::parse(&with("replication = \"hybrid\"\nmulticast_group = \"239.1.1.1\"\nproxies = [\"192.168.250.52\"]")).unwrap();
        assert_eq!(c.vnis[0].replication, ReplicationMode::Hybrid);
        assert_eq!(
            c.vnis[0].proxies,
            ["192.168.250.52".parse::<Ipv4Addr>().unwrap()]
        );
        assert!(err(&with("replication = \"multicast\"")).starts_with("vni[0].multicast_group:"));
        assert!(err(&with("multicast_group = \"10.0.0.1\"")).starts_with("vni[0].multicast_group:"));
        assert!(err(&with("proxies = [\"192.168.250.99\"]")).starts_with("vni[0].proxies[0]:"));
        assert!(err(&with("replication = \"flood\"")).contains("replication"));
    }

    #[test]
    fn more_switches_than_a_host_has_slots_for_are_refused() {
        let many = |n: u32| {
            let mut text = GOOD.to_string();
            for v in 10_000..10_000 + n {
                text.push_str(&format!("[[vni]]\nvni = {v}\n"));
            }
            Config::parse(&text)
        };
        // 5001 and MAX_SWITCHES - 1 more fill every slot; one more does not fit.
        let n = MAX_SWITCHES as u32 - 1;
        assert_eq!(many(n).unwrap().vnis.len(), MAX_SWITCHES);
        let e = many(n + 1).unwrap_err().to_string();
        assert!(e.starts_with(&format!("vni[{}].vni:", n + 1)), "{e}");
    }

    #[test]
    fn unknown_keys_are_refused_by_name() {
        let e = err(&GOOD.replace("[uplink]", "[uplink]\nspeed = 10"));
        assert!(e.contains("speed"), "{e}");
    }

    #[test]
    fn errors_name_the_key() {
        assert!(err(&GOOD.replace("192.168.250.51/24", "192.168.250.51")).starts_with("vtep.ip:"));
        assert!(err(&GOOD.replace("192.168.250.51/24", "192.168.250.51/0")).starts_with("vtep.ip:"));
        assert!(
            err(&GOOD.replace("vni = 5001\n        [[vni]]", "vni = 0\n        [[vni]]"))
                .starts_with("access_port[0].vni:")
        );
        assert!(err(&GOOD.replace(
            "mac = \"02:bb:bb:bb:bb:bb\"\n        vtep",
            "mac = \"02:bb\"\n        vtep"
        ))
        .starts_with("vni[0].mac[0].mac:"));
        assert!(
            err(&GOOD.replace("vtep = \"192.168.250.52\"", "vtep = \"192.168.250.99\""))
                .starts_with("vni[0].mac[0].vtep:")
        );
        assert!(
            err(&GOOD.replace("[vtep]", "[dataplane]\nworkers = [1, 1]\n[vtep]"))
                .starts_with("dataplane.workers:")
        );
    }

    #[test]
    fn the_agent_s_timeouts_have_defaults_and_bounds() {
        let with = |extra: &str| {
            let agent = format!("[agent]\ncontrollers = [\"10.0.0.1\"]\ninsecure = true\n{extra}");
            let text = GOOD.replace("[[vni]]", &format!("{agent}[[vni]]"));
            Config::parse(&text).map(|c| c.agent.unwrap())
        };
        let a = with("").unwrap();
        assert_eq!(a.controller_timeout, crate::proto::DEAD_AFTER);
        assert_eq!(a.controllers[0].port(), crate::proto::DEFAULT_PORT);
        let a = with("controller_timeout_ms = 2000\n").unwrap();
        assert_eq!(a.controller_timeout, std::time::Duration::from_secs(2));
        let e = with("controller_timeout_ms = 1000\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("agent.controller_timeout_ms:"), "{e}");
    }
}

#[cfg(test)]
mod shipped_configs {
    #[test]
    /// Every data-plane config (all but controller*.toml, checked by the controller's tests).
    fn every_config_in_configs_dir_is_valid() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("configs");
        let mut n = 0;
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let controller = p
                .file_name()
                .is_some_and(|f| f.to_string_lossy().starts_with("controller"));
            if p.extension().is_some_and(|x| x == "toml") && !controller {
                super::Config::load(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                n += 1;
            }
        }
        assert!(n >= 2);
    }
}
