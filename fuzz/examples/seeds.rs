//! Writes the fuzzers' seed corpus into fuzz/seeds/<target>/: the frames captured by
//! `fuzz/capture` (fuzz/captures/*.pcap) and a few built ones (a VM's ARP request, GARP,
//! ping, DHCP ACK), wrapped per target; every kind of agent-protocol message both ways;
//! every host API request; the repository's configs. Run from fuzz/:
//! `cargo run --example seeds`. Deterministic: the same inputs give the same files.

use prost::Message;
use std::fs;
use std::net::Ipv4Addr;
use std::path::Path;
use vxswitch::api::host::{MacTarget, PingRequest, Request};
use vxswitch::ids::Vni;
use vxswitch::proto::{self, agent_message::Body as A, controller_message::Body as C};
use vxswitch::testkit::traffic::{self, Outer};
use vxswitch::wire::{ArpOperation, EthernetFrame, MacAddr};
use vxswitch_fuzz::{record, HOST, PORTS};

const VM_A: MacAddr = MacAddr([2, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa]);
const VM_B: MacAddr = MacAddr([2, 0xbb, 0xbb, 0xbb, 0xbb, 0xbb]);
const VTEP_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 0x51]);
const PEER_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 0x52]);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let underlay = read_pcap("captures/underlay.pcap")?;
    let overlay = read_pcap("captures/overlay.pcap")?;
    let built = vm_frames();

    // wire: every frame as it is.
    let wire: Vec<Vec<u8>> = underlay
        .iter()
        .chain(&overlay)
        .chain(&built)
        .cloned()
        .collect();
    write("wire", &wire)?;

    // pipeline: underlay frames on the uplink (also addressed to the host's VTEP MAC, so
    // they get past the first check), overlay and built frames on the VM ports; then whole
    // conversations with management ticks between them.
    let mut pipeline = Vec::new();
    for f in &underlay {
        pipeline.push(record(0, f));
        pipeline.push(record(0, &to_vtep(f)));
    }
    for (i, f) in overlay.iter().chain(&built).enumerate() {
        pipeline.push(record(1 + (i as u8 % (PORTS - 1)), f));
    }
    let mut talk = Vec::new();
    for f in &built {
        talk.extend(record(1, f));
    }
    talk.extend(record(0x80, b""));
    for f in underlay.iter().take(40) {
        talk.extend(record(0, &to_vtep(f)));
    }
    talk.extend(record(0x80, b""));
    pipeline.push(talk);
    write("pipeline", &pipeline)?;

    // agent_protocol: each message alone (host 0), a host's whole session, a push to it.
    let agent = agent_messages();
    let ctl = controller_messages();
    let mut seeds: Vec<Vec<u8>> = agent.iter().map(|m| record(0, m)).collect();
    seeds.extend(ctl.iter().map(|m| record(0xc0, m)));
    let mut session = Vec::new();
    for (k, m) in agent.iter().enumerate() {
        session.extend(record((k % 2) as u8, m));
    }
    session.extend(record(0x80 | 13, b""));
    for m in &ctl {
        session.extend(record(0xc0, m));
    }
    seeds.push(session);
    write("agent_protocol", &seeds)?;

    // control_request: every request, as the CLI sends it.
    let requests: Vec<Vec<u8>> = requests()
        .iter()
        .map(|r| serde_json::to_vec(r).expect("requests serialize"))
        .collect();
    write("control_request", &requests)?;

    // config: the repository's configs and the pipeline target's host.
    let mut configs = vec![HOST.as_bytes().to_vec()];
    let mut paths: Vec<_> = fs::read_dir("../configs")?.collect::<Result<_, _>>()?;
    paths.sort_by_key(|e| e.path());
    for e in paths {
        configs.push(fs::read(e.path())?);
    }
    write("config", &configs)?;
    Ok(())
}

fn read_pcap(path: &str) -> Result<Vec<Vec<u8>>, Box<dyn std::error::Error>> {
    let f = fs::File::open(path).map_err(|e| format!("{path}: {e} (run fuzz/capture)"))?;
    Ok(vxswitch::wire::pcap::read(std::io::BufReader::new(f))?)
}

/// `f` addressed to the pipeline host's VTEP MAC (if it is Ethernet and unicast).
fn to_vtep(f: &[u8]) -> Vec<u8> {
    let mut v = f.to_vec();
    if EthernetFrame::new_checked(f).is_ok_and(|e| e.dst().is_unicast()) {
        v[..6].copy_from_slice(&VTEP_MAC.0);
    }
    v
}

/// Frames of VM A (its own MAC and address): an ARP request for B (suppressed), a GARP,
/// a ping to B, a DHCP ACK it serves; and one of B's frames arriving in VXLAN.
fn vm_frames() -> Vec<Vec<u8>> {
    let a_ip = Ipv4Addr::new(172, 16, 10, 11);
    let b_ip = Ipv4Addr::new(172, 16, 10, 12);
    let ping = traffic::ping(VM_B, VM_A, a_ip, b_ip, 1, 56);
    let outer = Outer {
        dst_mac: VTEP_MAC,
        src_mac: PEER_MAC,
        src_ip: Ipv4Addr::new(192, 168, 250, 52),
        dst_ip: Ipv4Addr::new(192, 168, 250, 51),
        udp_port: 4789,
    };
    let from_b = traffic::ping(VM_A, VM_B, b_ip, a_ip, 1, 56);
    vec![
        traffic::arp(ArpOperation::Request, VM_A, a_ip, MacAddr::ZERO, b_ip),
        traffic::arp(ArpOperation::Request, VM_A, a_ip, MacAddr::ZERO, a_ip),
        ping,
        traffic::dhcp_ack((VM_A, a_ip), VM_B, Ipv4Addr::new(172, 16, 10, 30)),
        traffic::vxlan(&outer, Vni::from_const(5001), 49152, &from_b),
    ]
}

fn agent_messages() -> Vec<Vec<u8>> {
    let mac = |b: u8| vec![2, 0xaa, 0, 0, 0, b];
    let ip = |b: u8| proto::ip_u32(Ipv4Addr::new(172, 16, 10, b));
    let bodies = [
        A::Hello(proto::Hello {
            version: proto::PROTOCOL_VERSION,
            host: "esxi01".into(),
            vtep_ip: proto::ip_u32(Ipv4Addr::new(192, 168, 250, 51)),
            vtep_prefix_len: 24,
            vtep_mac: VTEP_MAC.0.to_vec(),
        }),
        A::Join(proto::VniJoin { vni: 5001 }),
        A::Join(proto::VniJoin { vni: 5002 }),
        A::Mac(proto::MacReport {
            vni: 5001,
            mac: mac(1),
            withdrawn: false,
            seq: 0,
        }),
        A::Mac(proto::MacReport {
            vni: 5001,
            mac: mac(1),
            withdrawn: false,
            seq: 1,
        }),
        A::Ip(proto::IpReport {
            vni: 5001,
            ip: ip(11),
            mac: mac(1),
            withdrawn: false,
        }),
        A::ArpQuery(proto::ArpQuery {
            vni: 5001,
            ip: ip(11),
        }),
        A::MacQuery(proto::MacQuery {
            vni: 5001,
            mac: mac(1),
        }),
        A::SyncDone(proto::SyncDone {}),
        A::Keepalive(proto::Keepalive {}),
        A::Ip(proto::IpReport {
            vni: 5001,
            ip: ip(11),
            mac: mac(1),
            withdrawn: true,
        }),
        A::Mac(proto::MacReport {
            vni: 5001,
            mac: mac(1),
            withdrawn: true,
            seq: 0,
        }),
        A::Leave(proto::VniLeave { vni: 5002 }),
    ];
    bodies
        .into_iter()
        .map(|b| proto::AgentMessage::of(b).encode_to_vec())
        .collect()
}

fn controller_messages() -> Vec<Vec<u8>> {
    let peer = proto::ip_u32(Ipv4Addr::new(192, 168, 250, 52));
    let bodies = [
        C::Welcome(proto::Welcome {
            version: proto::PROTOCOL_VERSION,
            controller: "c1".into(),
            slice_owner: vec!["c1".into()],
            epoch: 1,
        }),
        C::VtepTable(proto::VtepTable {
            vni: 5001,
            vteps: vec![proto::Vtep {
                ip: peer,
                prefix_len: 24,
                mac: PEER_MAC.0.to_vec(),
                proxy: false,
            }],
        }),
        C::LogicalSwitch(proto::LogicalSwitch {
            vni: 5002,
            name: "ls-5002".into(),
            replication: proto::ReplicationMode::Multicast as i32,
            arp_suppression: true,
            multicast_group: proto::ip_u32(Ipv4Addr::new(239, 1, 1, 1)),
        }),
        C::ArpReply(proto::ArpReply {
            vni: 5001,
            ip: proto::ip_u32(Ipv4Addr::new(172, 16, 10, 12)),
            found: true,
            mac: VM_B.0.to_vec(),
            vtep_ip: peer,
        }),
        C::MacReply(proto::MacReply {
            vni: 5001,
            mac: VM_B.0.to_vec(),
            found: true,
            vtep_ip: peer,
            seq: 2,
        }),
        C::Error(proto::Error {
            code: proto::ErrorCode::NotOwner as i32,
            message: "not mine".into(),
        }),
        C::SliceMap(proto::SliceMap {
            epoch: 2,
            slice_owner: vec!["c1".into(), "c2".into()],
        }),
    ];
    bodies
        .into_iter()
        .map(|b| proto::ControllerMessage::of(b).encode_to_vec())
        .collect()
}

fn requests() -> Vec<Request> {
    let vni = Vni::from_const(5001);
    let mac = MacAddr([2, 0, 0, 0, 0, 1]);
    vec![
        Request::VtepList { vni },
        Request::Vnis,
        Request::MacList { vni },
        Request::ArpList { vni },
        Request::Connections,
        Request::Routes,
        Request::Neighbors,
        Request::Stats,
        Request::Ports,
        Request::PortSecurity,
        Request::Ping(PingRequest {
            dst: Ipv4Addr::new(192, 168, 250, 52),
            size: 56,
            count: 1,
        }),
        Request::MacAdd {
            vni,
            mac,
            count: 3,
            to: MacTarget::Vtep(Ipv4Addr::new(10, 0, 0, 2)),
        },
        Request::MacDel { vni, mac, count: 3 },
    ]
}

/// Replaces seeds/<target>/ with `inputs`, named by their order.
fn write(target: &str, inputs: &[Vec<u8>]) -> std::io::Result<()> {
    let dir = Path::new("seeds").join(target);
    if dir.exists() {
        fs::remove_dir_all(&dir)?;
    }
    fs::create_dir_all(&dir)?;
    for (i, input) in inputs.iter().enumerate() {
        fs::write(dir.join(format!("{i:04}")), input)?;
    }
    println!("seeds/{target}: {} inputs", inputs.len());
    Ok(())
}
