//! The agent protocol from both ends, with peers that lie. Controller side: a controller
//! (two logical switches, small limits) takes AgentMessages decoded from the input from up
//! to three hosts (a host's first record, if it decodes as a Hello, is its Hello); a fatal
//! refusal ends that session, the next record opens a new one. Host side: ControllerMessages
//! decoded from the input, and everything the controller sent host 0, go through the
//! agent's handler into a host's table manager, which publishes them. Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Notify};
use vxswitch::agent::{handle_controller_message, ControlUpdate, Hub};
use vxswitch::api::rest::LogicalSwitch;
use vxswitch::controller::limits::Limits;
use vxswitch::controller::ownership::Ownership;
use vxswitch::controller::state::Controller;
use vxswitch::controller::switches::Store;
use vxswitch::ids::{ReplicationMode, Vni};
use vxswitch::proto::{self, agent_message::Body, AgentMessage, ControllerMessage};
use vxswitch::testkit::HostRig;
use vxswitch_fuzz::{records, HOST};

const HOSTS: usize = 3;
/// Tag bits: a ControllerMessage for the host side; a clock tick of the controller.
const TO_HOST: u8 = 0xc0;
const TICK: u8 = 0x80;

struct Peer {
    id: Option<u64>,
    rx: mpsc::Receiver<ControllerMessage>,
    tx: mpsc::Sender<ControllerMessage>,
}

fn hello(k: usize) -> proto::Hello {
    proto::Hello {
        version: proto::PROTOCOL_VERSION,
        host: format!("esxi0{k}"),
        vtep_ip: proto::ip_u32(Ipv4Addr::new(192, 168, 250, 51 + k as u8)),
        vtep_prefix_len: 24,
        vtep_mac: vec![2, 0, 0, 0, 0, 0x51 + k as u8],
    }
}

fn controller() -> Controller {
    let limits = Limits {
        sessions: 2,
        vteps_per_vni: 2,
        macs_per_vni: 8,
        ips_per_vni: 8,
        dup_moves: 3,
        dup_window: Duration::from_secs(60),
        dup_hold: Duration::from_secs(60),
    };
    let mut c = Controller::new(
        "c1".into(),
        Store::mirror(),
        Ownership::single("c1"),
        limits,
    );
    for (vni, mode, group) in [
        (5001, ReplicationMode::Unicast, None),
        (
            5002,
            ReplicationMode::Hybrid,
            Some(Ipv4Addr::new(239, 1, 1, 1)),
        ),
    ] {
        c.create(LogicalSwitch {
            vni: Vni::new(vni).expect("a VNI"),
            name: format!("ls-{vni}"),
            replication_mode: mode,
            arp_suppression: true,
            multicast_group: group,
        })
        .expect("a valid switch");
    }
    c
}

fuzz_target!(|data: &[u8]| {
    let mut c = controller();
    let (up_tx, up_rx) = std::sync::mpsc::channel::<ControlUpdate>();
    let hub = Hub::new(&[], hello(0), Duration::from_secs(3), up_tx);
    let mut rig = HostRig::new(HOST);
    let mut peers: Vec<Peer> = (0..HOSTS)
        .map(|_| {
            let (tx, rx) = mpsc::channel(proto_queue());
            Peer { id: None, rx, tx }
        })
        .collect();
    let start = Instant::now();
    let mut clock = Duration::ZERO;
    for (tag, body) in records(data).take(256) {
        if tag & TO_HOST == TO_HOST {
            if let Ok(m) = ControllerMessage::decode(body) {
                handle_controller_message(&hub, m);
            }
        } else if tag & TICK != 0 {
            clock += Duration::from_secs(u64::from(tag & 0x3f) * 5);
            c.tick(start + clock);
        } else {
            let k = usize::from(tag) % HOSTS;
            let Ok(m) = AgentMessage::decode(body) else {
                continue;
            };
            let p = &mut peers[k];
            match (p.id, m.body) {
                (None, Some(Body::Hello(h))) => p.id = open(&mut c, &h, k, &p.tx),
                (None, body) => {
                    p.id = open(&mut c, &hello(k), k, &p.tx);
                    if let Some(id) = p.id {
                        deliver(&mut c, &mut p.id, id, AgentMessage { body });
                    }
                }
                (Some(id), body) => deliver(&mut c, &mut p.id, id, AgentMessage { body }),
            }
        }
        // What the controller told host 0 reaches its agent; the other hosts' is read.
        while let Ok(m) = peers[0].rx.try_recv() {
            handle_controller_message(&hub, m);
        }
        for p in &mut peers[1..] {
            while p.rx.try_recv().is_ok() {}
        }
        for u in up_rx.try_iter() {
            rig.m.control(u, 1);
        }
        rig.manage();
    }
});

fn proto_queue() -> usize {
    vxswitch::controller::state::SESSION_QUEUE
}

fn open(
    c: &mut Controller,
    h: &proto::Hello,
    k: usize,
    tx: &mpsc::Sender<ControllerMessage>,
) -> Option<u64> {
    let peer = SocketAddr::from(([127, 0, 0, 1], 40000 + k as u16));
    c.open_session(h, peer, None, tx.clone(), Arc::new(Notify::new()))
        .ok()
}

fn deliver(c: &mut Controller, slot: &mut Option<u64>, id: u64, m: AgentMessage) {
    if let Err(r) = c.handle(id, m) {
        if r.fatal {
            c.close_session(id);
            *slot = None;
        }
    }
}
