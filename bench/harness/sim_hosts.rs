//! Simulated hypervisors speaking the real agent protocol over loopback, many per process:
//! each keeps a session to every controller, routes its joins and reports by the slice map
//! the controllers announce, keeps its sessions alive, and tells the coordinator when its
//! VTEP tables are complete and when a pushed MAC move reaches it.

use futures_util::{SinkExt, StreamExt};
use prost::Message;
use std::collections::{BTreeSet, HashMap};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Instant;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::codec::{FramedRead, FramedWrite};
use vxswitch::proto::{
    self, agent_message::Body as A, controller_message::Body as C, AgentMessage, ControllerMessage,
};

/// The workload: which host each VM is on and which VNI it belongs to.
pub struct Workload {
    pub hosts: usize,
    pub vnis: usize,
    pub vms: usize,
}

impl Workload {
    pub fn vni(&self, vm: usize) -> u32 {
        5000 + (vm % self.vnis) as u32
    }
    /// Spread by a mixing function, so that VNIs do not all land on the same hosts.
    pub fn host(&self, vm: usize) -> usize {
        let mut z = (vm as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) % self.hosts as u64) as usize
    }
    pub fn mac(vm: usize) -> Vec<u8> {
        let v = vm as u32;
        let b = v.to_be_bytes();
        vec![2, 0, b[0], b[1], b[2], b[3]]
    }
    pub fn vtep(host: usize) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 64, 0, 0)) + host as u32 + 1)
    }
    /// Members (hosts) of every VNI, and each host's VMs.
    pub fn layout(&self) -> (HashMap<u32, BTreeSet<usize>>, Vec<Vec<usize>>) {
        let mut members: HashMap<u32, BTreeSet<usize>> = HashMap::new();
        let mut vms = vec![Vec::new(); self.hosts];
        for vm in 0..self.vms {
            let (h, v) = (self.host(vm), self.vni(vm));
            members.entry(v).or_default().insert(h);
            vms[h].push(vm);
        }
        (members, vms)
    }
}

/// What hosts tell the coordinator.
pub enum Event {
    /// The host's VTEP tables are all complete.
    Converged(Instant),
    /// A MacReply arrived: (host, vni, mac, vtep, when).
    MacMoved(usize, u32, Vec<u8>, u32, Instant),
    Failed(usize, String),
}

/// What the coordinator tells a host: report this VM's MAC (it moved here).
pub struct Report {
    pub vni: u32,
    pub mac: Vec<u8>,
    /// MAC mobility: the number of the location taken over, plus one.
    pub seq: u32,
}

fn bytes(m: &AgentMessage) -> bytes::Bytes {
    bytes::Bytes::from(m.encode_to_vec())
}

type Writer = FramedWrite<tokio::net::tcp::OwnedWriteHalf, tokio_util::codec::LengthDelimitedCodec>;

/// Runs host `h` with its VMs until the coordinator drops its command channel.
#[allow(clippy::too_many_arguments)]
pub async fn host(
    h: usize,
    w: std::sync::Arc<Workload>,
    my_vms: Vec<usize>,
    expect: std::sync::Arc<HashMap<u32, BTreeSet<usize>>>,
    controllers: Vec<SocketAddr>,
    events: mpsc::UnboundedSender<Event>,
    mut cmds: mpsc::UnboundedReceiver<Report>,
) {
    let (in_tx, mut inbox) = mpsc::unbounded_channel::<(usize, ControllerMessage)>();
    let mut writers: Vec<Writer> = Vec::new();
    let mut ids: Vec<String> = Vec::new();
    let hello = AgentMessage::of(A::Hello(proto::Hello {
        version: proto::PROTOCOL_VERSION,
        host: format!("sim{h}"),
        vtep_ip: u32::from(Workload::vtep(h)),
        vtep_prefix_len: 16,
        vtep_mac: vec![2, 0xee, 0, 0, (h >> 8) as u8, h as u8],
    }));
    let (mut epoch, mut owners) = (0u64, Vec::<String>::new());
    // The map each controller announced last (a controller applies it before announcing).
    let mut announced: Vec<Vec<String>> = Vec::new();
    for (i, c) in controllers.iter().enumerate() {
        let s = match TcpStream::connect(c).await {
            Ok(s) => s,
            Err(e) => {
                let _ = events.send(Event::Failed(h, format!("connect {c}: {e}")));
                return;
            }
        };
        let _ = s.set_nodelay(true);
        let (rd, wr) = s.into_split();
        let mut rd = FramedRead::new(rd, proto::codec());
        let mut wr = FramedWrite::new(wr, proto::codec());
        if wr.send(bytes(&hello)).await.is_err() {
            let _ = events.send(Event::Failed(h, format!("hello to {c}")));
            return;
        }
        let welcome = match rd.next().await {
            Some(Ok(b)) => ControllerMessage::decode(&b[..]).ok().and_then(|m| m.body),
            _ => None,
        };
        let Some(C::Welcome(wl)) = welcome else {
            let _ = events.send(Event::Failed(h, format!("no welcome from {c}")));
            return;
        };
        if wl.epoch >= epoch && !wl.slice_owner.is_empty() {
            epoch = wl.epoch;
            owners = wl.slice_owner.clone();
        }
        ids.push(wl.controller);
        announced.push(wl.slice_owner);
        writers.push(wr);
        let tx = in_tx.clone();
        tokio::spawn(async move {
            while let Some(Ok(b)) = rd.next().await {
                if let Ok(m) = ControllerMessage::decode(&b[..]) {
                    if tx.send((i, m)).is_err() {
                        return;
                    }
                }
            }
        });
    }
    let owner = |owners: &[String], vni: u32| -> Option<String> {
        owners
            .get(vni as usize % owners.len().max(1))
            .filter(|o| !o.is_empty())
            .cloned()
    };
    let route = |owners: &[String], vni: u32| -> Option<usize> {
        let o = owner(owners, vni)?;
        ids.iter().position(|id| *id == o)
    };
    // The full report per VNI: the join, then MACs and IP bindings.
    let mut report: std::collections::BTreeMap<u32, Vec<AgentMessage>> = Default::default();
    for &vm in &my_vms {
        let vni = w.vni(vm);
        report
            .entry(vni)
            .or_insert_with(|| vec![AgentMessage::of(A::Join(proto::VniJoin { vni }))])
            .extend([
                AgentMessage::of(A::Mac(proto::MacReport {
                    vni,
                    mac: Workload::mac(vm),
                    withdrawn: false,
                    seq: 0,
                })),
                AgentMessage::of(A::Ip(proto::IpReport {
                    vni,
                    ip: u32::from(Ipv4Addr::new(172, 16, 0, 0)) + vm as u32,
                    mac: Workload::mac(vm),
                    withdrawn: false,
                })),
            ]);
    }
    let joined: BTreeSet<u32> = report.keys().copied().collect();
    for (i, wr) in writers.iter_mut().enumerate() {
        for (vni, msgs) in &report {
            if owner(&announced[i], *vni).as_deref() == Some(ids[i].as_str()) {
                for m in msgs {
                    let _ = wr.feed(bytes(m)).await;
                }
            }
        }
    }
    for wr in &mut writers {
        let done = AgentMessage::of(A::SyncDone(proto::SyncDone {}));
        let _ = wr.send(bytes(&done)).await;
    }
    let mut tables: HashMap<u32, usize> = HashMap::new();
    let mut converged = false;
    let mut keepalive = tokio::time::interval(proto::KEEPALIVE_EVERY);
    loop {
        tokio::select! {
            m = inbox.recv() => {
                let Some((i, m)) = m else { return };
                match m.body {
                    Some(C::VtepTable(t)) => {
                        tables.insert(t.vni, t.vteps.len());
                        if !converged && joined.iter().all(|v| {
                            tables.get(v) == expect.get(v).map(BTreeSet::len).as_ref()
                        }) {
                            converged = true;
                            let _ = events.send(Event::Converged(Instant::now()));
                        }
                    }
                    Some(C::MacReply(r)) if r.found => {
                        let _ = events.send(Event::MacMoved(h, r.vni, r.mac, r.vtep_ip, Instant::now()));
                    }
                    Some(C::SliceMap(s)) if !s.slice_owner.is_empty() => {
                        // As the agent does: the VNIs this controller took over get their
                        // full report.
                        for (vni, msgs) in &report {
                            let now = owner(&s.slice_owner, *vni);
                            if now.as_deref() == Some(ids[i].as_str()) && owner(&announced[i], *vni) != now {
                                for m in msgs {
                                    let _ = writers[i].feed(bytes(m)).await;
                                }
                            }
                        }
                        let _ = futures_util::SinkExt::<bytes::Bytes>::flush(&mut writers[i]).await;
                        announced[i] = s.slice_owner.clone();
                        if s.epoch >= epoch {
                            epoch = s.epoch;
                            owners = s.slice_owner;
                        }
                    }
                    _ => {}
                }
            }
            c = cmds.recv() => {
                let Some(r) = c else { return };
                let m = AgentMessage::of(A::Mac(proto::MacReport { vni: r.vni, mac: r.mac, withdrawn: false, seq: r.seq }));
                if let Some(i) = route(&owners, r.vni) {
                    let _ = writers[i].send(bytes(&m)).await;
                }
            }
            _ = keepalive.tick() => {
                let k = AgentMessage::of(A::Keepalive(proto::Keepalive {}));
                for wr in &mut writers {
                    let _ = wr.send(bytes(&k)).await;
                }
            }
        }
    }
}
