//! The host API: what `vxswitch show ...`, `ping` and `mac` ask a running data plane over
//! its control socket, and the typed rows it answers with. One JSON request line, one JSON
//! answer line (`{"ok": ...}` or `{"error": "..."}`); a request the host does not know is
//! refused by name. The CLI, the lab, the bench and the tests all read these types.

use super::capture::{CaptureChunk, CaptureRequest};
use super::counters::{DropReason, Stat, VniStat};
use super::trace::{LiveTraceRequest, TraceReport, TraceRequest};
use crate::ids::{Ipv4Net, ReplicationMode, Vni};
use crate::wire::MacAddr;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};

/// Where `vxswitch show` finds a data plane when told nothing else.
pub const DEFAULT_SOCKET: &str = "/run/vxswitch/vxswitch.sock";

/// Largest request line the host reads.
pub const MAX_REQUEST: u64 = 64 * 1024;

/// One request to a data plane.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// The VTEPs a VNI floods to.
    VtepList { vni: Vni },
    /// The logical switches with ports here: replication and its counters.
    Vnis,
    /// The MAC table of a VNI.
    MacList { vni: Vni },
    /// The ARP table of a VNI (what ARP suppression answers from).
    ArpList { vni: Vni },
    /// Sessions to controllers.
    Connections,
    /// The VTEP stack's routes.
    Routes,
    /// The VTEP stack's ARP cache.
    Neighbors,
    /// Counters, drops by reason, table sizes.
    Stats,
    /// The drivers' counters of every port.
    Ports,
    /// Each VM port's port security: what its VM may send from, and DHCP trust.
    PortSecurity,
    /// ICMP echo from the VTEP's own address.
    Ping(PingRequest),
    /// Adds (or re-points) `count` static MACs from `mac`.
    MacAdd {
        vni: Vni,
        mac: MacAddr,
        #[serde(default = "one")]
        count: u32,
        to: MacTarget,
    },
    /// A frame's path through the pipeline against the live tables, not sent.
    Trace(TraceRequest),
    /// The next frames of a port, forwarded as usual, with their paths.
    TraceLive(LiveTraceRequest),
    /// A port's frames as they pass: answered by a stream of `Capture` chunks, at least
    /// one a second, the last one `done`.
    Capture(CaptureRequest),
    /// Removes `count` MACs (any kind) from `mac`.
    MacDel {
        vni: Vni,
        mac: MacAddr,
        #[serde(default = "one")]
        count: u32,
    },
}

impl Request {
    /// A request line, or why it is not one (naming the field, or the unknown request).
    pub fn from_line(line: &str) -> Result<Request, String> {
        let de = &mut serde_json::Deserializer::from_str(line);
        serde_path_to_error::deserialize(de).map_err(|e| match e.path().to_string().as_str() {
            "." => format!("request: {}", e.inner()),
            path => format!("{path}: {}", e.inner()),
        })
    }
}

fn one() -> u32 {
    1
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PingRequest {
    pub dst: Ipv4Addr,
    /// ICMP data bytes.
    pub size: u16,
    pub count: u16,
}

/// Where added MACs point.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MacTarget {
    /// Behind this remote VTEP.
    Vtep(Ipv4Addr),
    /// On this access port (by name).
    Port(String),
}

/// The host's answer to one request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    VtepList(Vec<VtepRow>),
    Vnis(Vec<VniRow>),
    MacList(Vec<MacRow>),
    ArpList(Vec<ArpRow>),
    Connections(Vec<Connection>),
    Routes(Vec<Route>),
    Neighbors(Vec<Neighbor>),
    Stats(Stats),
    Ports(Vec<PortRow>),
    PortSecurity(Vec<PortSecurityRow>),
    Ping(PingReport),
    MacEdit(MacEditDone),
    Trace(TraceReport),
    Capture(CaptureChunk),
}

/// What travels back on the socket.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    Ok(Response),
    Error(String),
}

/// A remote VTEP of a VNI, as `show vtep list` prints it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VtepRow {
    pub ip: Ipv4Addr,
    /// The VTEP's underlay segment, when known.
    pub segment: Option<Ipv4Addr>,
    /// Its segment's proxy for this VNI (UTEP in unicast mode, MTEP in hybrid mode).
    pub is_mtep: bool,
    #[serde(default)]
    pub role: Option<ProxyRole>,
    pub next_hop: Option<Ipv4Addr>,
    /// The next hop's MAC is known: frames can go.
    pub resolved: bool,
}

/// What a segment's proxy is called in its logical switch's mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ProxyRole {
    Utep,
    Mtep,
}

impl ProxyRole {
    pub fn of(mode: ReplicationMode) -> Option<ProxyRole> {
        match mode {
            ReplicationMode::Unicast => Some(ProxyRole::Utep),
            ReplicationMode::Hybrid => Some(ProxyRole::Mtep),
            ReplicationMode::Multicast | ReplicationMode::HeadEnd => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            ProxyRole::Utep => "UTEP",
            ProxyRole::Mtep => "MTEP",
        }
    }
}

/// A logical switch with ports on this host: how it replicates BUM frames and what it did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VniRow {
    pub vni: Vni,
    pub replication: ReplicationMode,
    pub multicast_group: Option<Ipv4Addr>,
    /// This VTEP is its segment's proxy for the VNI.
    pub role: Option<ProxyRole>,
    pub ports: usize,
    pub vteps: usize,
    /// Copies of a VM's BUM frame, in the order sent: to VTEPs, proxies, the group.
    pub copies_per_frame: usize,
    pub counters: BTreeMap<VniStat, u64>,
}

/// How a MAC entry got there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MacKind {
    Static,
    Learned,
}

/// One MAC entry: behind a remote VTEP (outer MAC and IP) or on a local port.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MacRow {
    pub inner_mac: MacAddr,
    pub outer_mac: Option<MacAddr>,
    pub outer_ip: Option<Ipv4Addr>,
    pub port: Option<String>,
    pub kind: MacKind,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArpRow {
    pub ip: Ipv4Addr,
    pub mac: MacAddr,
}

/// The state of a session to a controller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SessionState {
    Connecting,
    Established,
    Down,
}

/// One controller session, as `show connections` prints it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    pub controller: SocketAddr,
    pub local: Option<SocketAddr>,
    pub state: SessionState,
    /// The controller's id, once it said Welcome.
    pub id: Option<String>,
    /// Unix seconds of the last state change.
    pub since: u64,
    pub last_error: Option<String>,
    /// This host's VNIs the controller owns (their reports and queries go there).
    #[serde(default)]
    pub vnis: Vec<Vni>,
}

/// A route of the VTEP stack: its segment, or the default route via the gateway.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// The destination prefix (0.0.0.0/0 for the default route).
    pub destination: Ipv4Net,
    pub gateway: Option<Ipv4Addr>,
    pub interface: String,
    pub source: Ipv4Addr,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Neighbor {
    pub ip: Ipv4Addr,
    pub mac: MacAddr,
    pub interface: String,
}

/// The data plane's counters summed over workers, and its tables' state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub stats: BTreeMap<Stat, u64>,
    pub drops: BTreeMap<DropReason, u64>,
    /// Table snapshots published so far.
    pub generation: u64,
    pub controller_up: bool,
    pub macs: usize,
    pub arps: usize,
    /// TSC cycles of poll rounds that received something, and the frames of those rounds.
    pub busy_cycles: u64,
    pub busy_frames: u64,
    pub tsc_hz: u64,
    /// The same per worker, in worker order (absent from older data planes).
    #[serde(default)]
    pub workers: Vec<WorkerLoad>,
    /// MACs not learned because their port had `max_macs` already.
    #[serde(default)]
    pub port_mac_limit_refused: u64,
    /// Mbufs taken from the pools (filled RX rings, frames in flight, anything held), as
    /// the management thread sampled it last (each second): flat under steady load.
    #[serde(default)]
    pub mbufs_in_use: u64,
}

/// One worker's busy cycles and the frames of its busy rounds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerLoad {
    pub core: usize,
    pub busy_cycles: u64,
    pub busy_frames: u64,
}

impl Stats {
    pub fn stat(&self, s: Stat) -> u64 {
        self.stats.get(&s).copied().unwrap_or(0)
    }
    pub fn total_drops(&self) -> u64 {
        self.drops.values().sum()
    }
}

/// One port: how it was set up and its driver counters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortRow {
    pub name: String,
    pub port_id: u16,
    /// Absent from data planes older than the field: shown as the defaults.
    #[serde(default)]
    pub setup: PortSetup,
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_missed: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    pub rx_nombuf: u64,
    #[serde(default)]
    pub rx_bytes: u64,
    #[serde(default)]
    pub tx_bytes: u64,
}

/// A VM port's port security, as the data path applies it now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortSecurityRow {
    pub port: String,
    pub vni: Vni,
    pub mode: GuardMode,
    /// The source MACs and IPv4 addresses the VM may use (empty when off, or still learning).
    pub macs: Vec<MacAddr>,
    pub ips: Vec<Ipv4Addr>,
    /// DHCP ACKs from the port are believed (snooped into the ARP table).
    pub dhcp_server: bool,
    /// Most MACs learned behind the port; None: no limit.
    pub max_macs: Option<u32>,
    /// Learned MACs behind the port now.
    pub macs_learned: u32,
}

/// Where a port's allowed addresses come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuardMode {
    /// No port security: any source.
    Off,
    /// Waiting for the VM's first MAC or address (some list still empty).
    Learning,
    /// Every list is set (configured, or locked to the VM's first ones).
    Enforcing,
}

impl GuardMode {
    pub fn name(self) -> &'static str {
        match self {
            GuardMode::Off => "off",
            GuardMode::Learning => "learning",
            GuardMode::Enforcing => "enforcing",
        }
    }
}

/// How a port was set up at start; fixed while the data plane runs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortSetup {
    /// The config key that made it (`uplink`, `access_port[0]`).
    pub key: String,
    pub device: String,
    pub driver: String,
    pub mtu: u16,
    /// Frame bytes of each mbuf the port receives into, and from which pool.
    pub rx_mbuf_bytes: u32,
    pub rx_pool: RxPool,
    /// How flood replicas leave it (the uplink only).
    pub replicas: Option<Replicas>,
    pub guest_offloads: GuestOffloads,
    pub rx_queues: u16,
    pub tx_queues: u16,
    /// Fewer TX queues than workers: workers share them, each taking the queue's lock once
    /// per burst.
    pub tx_shared: bool,
}

/// The mbuf pool a port receives into.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RxPool {
    /// 2 KiB frames.
    #[default]
    Standard,
    /// Frames larger than 2 KiB (jumbo MTU, af_packet slots for GSO frames).
    Large,
}

/// How flood replicas leave the uplink.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Replicas {
    /// A private header mbuf chained to the shared payload (the port declares multi-segment
    /// TX).
    Chained,
    /// Copied into one mbuf each (the driver takes single segments only, or
    /// `uplink.multi_segment = false`).
    Copied,
}

/// Who finishes the NIC work a VM leaves undone (partial checksums, TSO).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuestOffloads {
    /// The uplink: its frames come from the underlay.
    #[default]
    NotAVmPort,
    /// vxswitch: a kernel-backed port loses the kernel's flags, so the switch completes
    /// partial TCP/UDP checksums and segments GSO frames to the port MTU.
    Switch,
    /// The vhost-user driver completes checksums from the virtio header; TSO is not offered.
    Driver,
    /// The port's frames arrive complete (pcap, memif, tap, NICs).
    None,
}

impl RxPool {
    pub fn name(self) -> &'static str {
        match self {
            RxPool::Standard => "standard",
            RxPool::Large => "large",
        }
    }
}

impl Replicas {
    pub fn name(self) -> &'static str {
        match self {
            Replicas::Chained => "chained",
            Replicas::Copied => "copied",
        }
    }
}

impl GuestOffloads {
    pub fn name(self) -> &'static str {
        match self {
            GuestOffloads::NotAVmPort => "-",
            GuestOffloads::Switch => "switch",
            GuestOffloads::Driver => "driver",
            GuestOffloads::None => "none",
        }
    }
}

/// What `vxswitch ping` saw.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PingReport {
    pub dst: Ipv4Addr,
    pub src: Ipv4Addr,
    pub size: u16,
    pub dont_fragment: bool,
    pub sent: u16,
    pub received: u16,
    pub replies: Vec<PingReply>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PingReply {
    Reply {
        seq: u16,
        from: Ipv4Addr,
        bytes: usize,
        rtt_ms: f64,
    },
    Timeout {
        seq: u16,
    },
}

/// What a static MAC edit changed and how long making it visible took.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct MacEditDone {
    pub changed: u32,
    /// From the first change applied to the new snapshot published, in microseconds.
    pub publish_us: f64,
}

/// Takes one kind of answer out of a `Response`: `let s: Stats = client.get(Request::Stats)?`.
macro_rules! answer_of {
    ($($variant:ident => $ty:ty,)*) => {$(
        impl TryFrom<Response> for $ty {
            type Error = Response;
            fn try_from(r: Response) -> Result<$ty, Response> {
                match r {
                    Response::$variant(v) => Ok(v),
                    other => Err(other),
                }
            }
        }
    )*};
}

answer_of! {
    VtepList => Vec<VtepRow>,
    Vnis => Vec<VniRow>,
    MacList => Vec<MacRow>,
    ArpList => Vec<ArpRow>,
    Connections => Vec<Connection>,
    Routes => Vec<Route>,
    Neighbors => Vec<Neighbor>,
    Stats => Stats,
    Ports => Vec<PortRow>,
    PortSecurity => Vec<PortSecurityRow>,
    Ping => PingReport,
    MacEdit => MacEditDone,
    Trace => TraceReport,
    Capture => CaptureChunk,
}

impl Response {
    /// The answer's rows alone as JSON (what `--json` prints).
    pub fn rows_json(&self) -> serde_json::Result<serde_json::Value> {
        match self {
            Response::VtepList(r) => serde_json::to_value(r),
            Response::Vnis(r) => serde_json::to_value(r),
            Response::MacList(r) => serde_json::to_value(r),
            Response::ArpList(r) => serde_json::to_value(r),
            Response::Connections(r) => serde_json::to_value(r),
            Response::Routes(r) => serde_json::to_value(r),
            Response::Neighbors(r) => serde_json::to_value(r),
            Response::Stats(r) => serde_json::to_value(r),
            Response::Ports(r) => serde_json::to_value(r),
            Response::PortSecurity(r) => serde_json::to_value(r),
            Response::Ping(r) => serde_json::to_value(r),
            Response::MacEdit(r) => serde_json::to_value(r),
            Response::Trace(r) => serde_json::to_value(r),
            Response::Capture(r) => serde_json::to_value(r),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Request, String> {
        Request::from_line(line)
    }

    #[test]
    fn requests_round_trip_and_unknown_ones_are_named() {
        for r in [
            Request::Stats,
            Request::MacList {
                vni: Vni::from_const(5001),
            },
            Request::MacAdd {
                vni: Vni::from_const(5001),
                mac: MacAddr([2, 0, 0, 0, 0, 1]),
                count: 3,
                to: MacTarget::Vtep(Ipv4Addr::new(10, 0, 0, 2)),
            },
            Request::Ping(PingRequest {
                dst: Ipv4Addr::new(10, 0, 0, 2),
                size: 56,
                count: 1,
            }),
            Request::Trace(TraceRequest {
                port: "vm-a".into(),
                frame: vec![2, 0, 0, 0, 0, 1],
            }),
            Request::TraceLive(LiveTraceRequest {
                port: "uplink".into(),
                count: 3,
                wait_ms: 1000,
            }),
        ] {
            let line = serde_json::to_string(&r).unwrap();
            assert_eq!(parse(&line).unwrap(), r, "{line}");
        }
        let e = parse(r#"{"reboot": {}}"#).unwrap_err();
        assert!(e.starts_with("request: unknown variant `reboot`"), "{e}");
        let e = parse("not json").unwrap_err();
        assert!(e.starts_with("request:"), "{e}");
        let e = parse(r#"{"mac_list": {"vni": 0}}"#).unwrap_err();
        assert!(e.starts_with("mac_list.vni: 0 is not a VNI"), "{e}");
        let e = parse(r#"{"mac_list": {"vni": 1, "colour": 2}}"#).unwrap_err();
        assert!(e.starts_with("mac_list.colour"), "{e}");
        let e =
            parse(r#"{"ping": {"dst": "10.0.0.2", "size": 56, "count": 1, "x": 1}}"#).unwrap_err();
        assert!(e.starts_with("ping.x"), "{e}");
        let e = parse(r#"{"mac_del": {"vni": 1, "mac": "02:00"}}"#).unwrap_err();
        assert!(e.starts_with("mac_del.mac"), "{e}");
    }

    /// Every kind of answer, with its optional parts present, comes back as it went.
    #[test]
    fn every_answer_round_trips() {
        let ip = Ipv4Addr::new(192, 168, 250, 52);
        let mac = MacAddr([2, 0, 0, 0, 0, 0x52]);
        let answers = [
            Response::VtepList(vec![VtepRow {
                ip,
                segment: Some(Ipv4Addr::new(192, 168, 250, 0)),
                is_mtep: true,
                role: Some(ProxyRole::Utep),
                next_hop: Some(ip),
                resolved: true,
            }]),
            Response::MacList(vec![MacRow {
                inner_mac: mac,
                outer_mac: Some(mac),
                outer_ip: Some(ip),
                port: Some("vm".into()),
                kind: MacKind::Learned,
            }]),
            Response::ArpList(vec![ArpRow { ip, mac }]),
            Response::Connections(vec![Connection {
                controller: "192.168.110.201:1234".parse().unwrap(),
                local: Some("192.168.110.51:40000".parse().unwrap()),
                state: SessionState::Established,
                id: Some("c1".into()),
                since: 1,
                last_error: Some("e".into()),
                vnis: vec![Vni::from_const(5001)],
            }]),
            Response::Routes(vec![
                Route {
                    destination: "192.168.250.0/24".parse().unwrap(),
                    gateway: None,
                    interface: "uplink".into(),
                    source: ip,
                },
                Route {
                    destination: "0.0.0.0/0".parse().unwrap(),
                    gateway: Some(Ipv4Addr::new(192, 168, 250, 1)),
                    interface: "uplink".into(),
                    source: ip,
                },
            ]),
            Response::Neighbors(vec![Neighbor {
                ip,
                mac,
                interface: "uplink".into(),
            }]),
            Response::Stats(Stats {
                stats: Stat::ALL.iter().map(|s| (*s, 1)).collect(),
                drops: DropReason::ALL.iter().map(|r| (*r, 2)).collect(),
                generation: 3,
                controller_up: true,
                macs: 4,
                arps: 5,
                busy_cycles: 6,
                busy_frames: 7,
                tsc_hz: 8,
                port_mac_limit_refused: 9,
                mbufs_in_use: 10,
                workers: vec![WorkerLoad {
                    core: 1,
                    busy_cycles: 6,
                    busy_frames: 7,
                }],
            }),
            Response::Ports(vec![PortRow {
                name: "uplink".into(),
                port_id: 0,
                setup: PortSetup {
                    key: "access_port[0]".into(),
                    device: "net_af_packet1".into(),
                    driver: "net_af_packet".into(),
                    mtu: 9000,
                    rx_mbuf_bytes: 65376,
                    rx_pool: RxPool::Large,
                    replicas: Some(Replicas::Copied),
                    guest_offloads: GuestOffloads::Switch,
                    rx_queues: 1,
                    tx_queues: 1,
                    tx_shared: true,
                },
                rx_packets: 1,
                tx_packets: 2,
                rx_missed: 3,
                rx_errors: 4,
                tx_errors: 5,
                rx_nombuf: 6,
                rx_bytes: 7,
                tx_bytes: 8,
            }]),
            Response::Ping(PingReport {
                dst: ip,
                src: ip,
                size: 56,
                dont_fragment: true,
                sent: 2,
                received: 1,
                replies: vec![
                    PingReply::Reply {
                        seq: 0,
                        from: ip,
                        bytes: 64,
                        rtt_ms: 0.5,
                    },
                    PingReply::Timeout { seq: 1 },
                ],
            }),
            Response::MacEdit(MacEditDone {
                changed: 1,
                publish_us: 2.5,
            }),
        ];
        for r in answers {
            let line = serde_json::to_string(&Answer::Ok(r.clone())).unwrap();
            let back: Answer =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line}: {e}"));
            assert_eq!(back, Answer::Ok(r));
        }
    }

    #[test]
    fn an_answer_gives_its_own_type_only() {
        let r = Response::MacEdit(MacEditDone {
            changed: 2,
            publish_us: 1.0,
        });
        let line = serde_json::to_string(&Answer::Ok(r.clone())).unwrap();
        let Answer::Ok(back) = serde_json::from_str(&line).unwrap() else {
            panic!("{line}")
        };
        assert!(Stats::try_from(back.clone()).is_err());
        assert_eq!(MacEditDone::try_from(back).unwrap().changed, 2);
    }
}
