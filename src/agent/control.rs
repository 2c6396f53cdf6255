//! The data plane's control socket (a Unix socket, one JSON request line, one JSON answer
//! line): the host-side views `vxswitch show ...` prints, the counters, and `vxswitch ping`
//! from the VTEP's own stack. Read-only on the tables: it loads the published snapshot.

use super::hub::Hub;
use super::messages::{MacEdit, MacEditTarget, RemoteVtep};
use crate::dataplane::counters::{total_drops, total_stat, Counters, DropReason, Stat};
use crate::dataplane::pipeline::SlowFrame;
use crate::tables::{Dest, SnapshotCell, Vni, UPLINK};
use crate::wire::MacAddr;
use crossbeam_queue::ArrayQueue;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

/// Echo replies to the VTEP, by (id, seq), as the management thread saw them arrive.
#[derive(Default)]
pub struct EchoBoard {
    seen: Mutex<HashMap<(u16, u16), (Ipv4Addr, Instant)>>,
}

impl EchoBoard {
    pub fn record(&self, from: Ipv4Addr, id: u16, seq: u16) {
        let mut m = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if m.len() < 4096 {
            m.insert((id, seq), (from, Instant::now()));
        }
    }
    fn take(&self, id: u16, seq: u16) -> Option<(Ipv4Addr, Instant)> {
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&(id, seq))
    }
}

/// What the views read.
pub struct ControlEnv {
    pub cell: Arc<SnapshotCell>,
    pub counters: Vec<Arc<Counters>>,
    /// Port names by PortIdx (0: the uplink).
    pub port_names: Vec<String>,
    pub slow_tx: Arc<ArrayQueue<SlowFrame>>,
    pub echoes: Arc<EchoBoard>,
    /// The agent's hub, when controllers are configured.
    pub hub: Option<Arc<Hub>>,
    /// DPDK port ids by PortIdx, for the driver's counters.
    pub port_ids: Vec<u16>,
    /// Static MAC edits, applied and published by the management thread.
    pub edits: std::sync::mpsc::Sender<MacEdit>,
}

/// Binds the socket (replacing a stale one) before the runtime starts, so that an error
/// reaches the operator at start-up.
pub fn bind(path: &Path) -> std::io::Result<std::os::unix::net::UnixListener> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let _ = std::fs::remove_file(path);
    let l = std::os::unix::net::UnixListener::bind(path)?;
    l.set_nonblocking(true)?;
    Ok(l)
}

pub async fn serve(listener: std::os::unix::net::UnixListener, env: Arc<ControlEnv>) {
    let Ok(listener) = UnixListener::from_std(listener) else {
        return;
    };
    loop {
        if let Ok((s, _)) = listener.accept().await {
            tokio::spawn(client(s, Arc::clone(&env)));
        }
    }
}

async fn client(s: UnixStream, env: Arc<ControlEnv>) {
    let (rd, mut wr) = s.into_split();
    let mut line = String::new();
    let mut rd = BufReader::new(rd.take(64 * 1024));
    if rd.read_line(&mut line).await.is_err() {
        return;
    }
    let answer = match serde_json::from_str::<Value>(&line) {
        Ok(req) => answer(&env, &req).await,
        Err(e) => Err(format!("request is not JSON: {e}")),
    };
    let out = match answer {
        Ok(v) => json!({"ok": v}),
        Err(e) => json!({"error": e}),
    };
    let _ = wr.write_all(format!("{out}\n").as_bytes()).await;
}

fn vni_arg(req: &Value) -> Result<Vni, String> {
    req["vni"]
        .as_u64()
        .filter(|v| (1..=u64::from(crate::tables::VNI_MAX)).contains(v))
        .map(|v| v as Vni)
        .ok_or_else(|| "vni: a VNI (1-16777215) is required".to_string())
}

async fn answer(env: &ControlEnv, req: &Value) -> Result<Value, String> {
    let snap = env.cell.load();
    let vtep = &snap.vtep;
    match req["show"].as_str() {
        Some("vtep-list") => {
            let vni = vni_arg(req)?;
            let info = snap
                .vnis
                .get(&vni)
                .ok_or(format!("vni: {vni} has no port here"))?;
            let known: Vec<RemoteVtep> = env
                .hub
                .as_ref()
                .map(|h| h.vtep_table(vni))
                .unwrap_or_default();
            Ok(Value::Array(
                info.vteps
                    .iter()
                    .filter_map(|t| snap.tunnels.get(*t))
                    .map(|t| {
                        let segment = known
                            .iter()
                            .find(|v| v.ip == t.ip)
                            .map(|v| segment_of(v.ip, v.prefix_len))
                            .or_else(|| {
                                vtep.on_segment(t.ip)
                                    .then(|| segment_of(t.ip, vtep.prefix_len))
                            });
                        json!({"ip": t.ip.to_string(), "segment": segment.map(|s| s.to_string()),
                               "is_mtep": false, "next_hop": t.next_hop.map(|h| h.to_string()),
                               "resolved": t.is_resolved()})
                    })
                    .collect(),
            ))
        }
        Some("mac-list") => {
            let vni = vni_arg(req)?;
            let mut rows: Vec<Value> = snap
                .macs
                .iter()
                .filter(|(k, _)| k.vni == vni)
                .map(|(k, e)| match e.dest {
                    Dest::Remote(t) => {
                        let t = snap.tunnels.get(t);
                        json!({"inner_mac": k.mac.to_string(),
                               "outer_mac": t.and_then(|t| t.next_hop_mac).map(|m| m.to_string()),
                               "outer_ip": t.map(|t| t.ip.to_string()), "port": null,
                               "kind": format!("{:?}", e.kind).to_lowercase()})
                    }
                    Dest::Local(p) => json!({"inner_mac": k.mac.to_string(), "outer_mac": null,
                        "outer_ip": null, "port": env.port_names.get(usize::from(p)),
                        "kind": format!("{:?}", e.kind).to_lowercase()}),
                })
                .collect();
            rows.sort_by(|a, b| a["inner_mac"].as_str().cmp(&b["inner_mac"].as_str()));
            Ok(Value::Array(rows))
        }
        Some("arp-list") => {
            let vni = vni_arg(req)?;
            let mut rows: Vec<(Ipv4Addr, String)> = snap
                .arps
                .iter()
                .filter(|(k, _)| k.vni == vni)
                .map(|(k, e)| (k.ip, e.mac.to_string()))
                .collect();
            rows.sort();
            Ok(rows
                .into_iter()
                .map(|(ip, mac)| json!({"ip": ip.to_string(), "mac": mac}))
                .collect())
        }
        Some("connections") => Ok(match &env.hub {
            Some(h) => serde_json::to_value(h.conns()).unwrap_or(Value::Null),
            None => json!([]),
        }),
        Some("routes") => {
            let mut r = vec![
                json!({"network": segment_of(vtep.ip, vtep.prefix_len).to_string(),
                "netmask": netmask(vtep.prefix_len).to_string(), "gateway": "0.0.0.0",
                "interface": env.port_names[usize::from(UPLINK)], "source": vtep.ip.to_string()}),
            ];
            if let Some(g) = vtep.gateway {
                r.push(json!({"network": "default", "netmask": "0.0.0.0", "gateway": g.to_string(),
                    "interface": env.port_names[usize::from(UPLINK)], "source": vtep.ip.to_string()}));
            }
            Ok(Value::Array(r))
        }
        Some("neighbors") => {
            let mut n: Vec<(Ipv4Addr, String)> = snap
                .neighbors
                .iter()
                .map(|(ip, m)| (*ip, m.to_string()))
                .collect();
            n.sort();
            Ok(n.into_iter()
                .map(|(ip, mac)| {
                    json!({"ip": ip.to_string(), "mac": mac,
                    "interface": env.port_names[usize::from(UPLINK)]})
                })
                .collect())
        }
        Some("stats") => {
            let mut stats = serde_json::Map::new();
            for s in Stat::ALL {
                stats.insert(s.name().into(), json!(total_stat(&env.counters, *s)));
            }
            let mut drops = serde_json::Map::new();
            for r in DropReason::ALL {
                drops.insert(r.name().into(), json!(total_drops(&env.counters, *r)));
            }
            let (busy_cycles, busy_frames) = env
                .counters
                .iter()
                .map(|c| c.busy_totals())
                .fold((0, 0), |(a, b), (c, d)| (a + c, b + d));
            Ok(
                json!({"stats": stats, "drops": drops, "generation": snap.generation,
                      "controller_up": snap.controller_up, "macs": snap.macs.len(),
                      "arps": snap.arps.len(), "busy_cycles": busy_cycles,
                      "busy_frames": busy_frames, "tsc_hz": crate::dpdk::tsc_hz()}),
            )
        }
        Some("ports") => Ok(Value::Array(
            env.port_ids
                .iter()
                .zip(&env.port_names)
                .map(|(&id, name)| {
                    let s = crate::dpdk::PortStats::read(id);
                    json!({"name": name, "port_id": id, "rx_packets": s.rx_packets,
                           "tx_packets": s.tx_packets, "rx_missed": s.rx_missed,
                           "rx_errors": s.rx_errors, "tx_errors": s.tx_errors,
                           "rx_nombuf": s.rx_nombuf})
                })
                .collect(),
        )),
        Some(other) => Err(format!("show: unknown view {other:?}")),
        None if req.get("ping").is_some() => ping(env, &req["ping"]).await,
        None if req.get("mac").is_some() => mac_edit(env, &req["mac"]).await,
        None => Err("request needs \"show\", \"ping\" or \"mac\"".into()),
    }
}

/// `{"op": "add"|"del", "vni", "mac", "count"?, "vtep"? | "port"?}`: static MAC entries.
async fn mac_edit(env: &ControlEnv, req: &Value) -> Result<Value, String> {
    let vni = vni_arg(req)?;
    let first: MacAddr = req["mac"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or("mac: a MAC address (aa:bb:cc:dd:ee:ff) is required")?;
    let count = match &req["count"] {
        Value::Null => 1,
        v => v
            .as_u64()
            .and_then(|c| u32::try_from(c).ok())
            .ok_or("count: a number of MACs (1-4294967295)")?,
    };
    let target = match req["op"].as_str() {
        Some("add") => Some(match (req["vtep"].as_str(), req["port"].as_str()) {
            (Some(ip), None) => MacEditTarget::Vtep(
                ip.parse()
                    .map_err(|_| format!("vtep: {ip:?} is not an IPv4 address"))?,
            ),
            (None, Some(name)) => MacEditTarget::Port(
                env.port_names
                    .iter()
                    .skip(1)
                    .position(|n| n == name)
                    .map(|i| (i + 1) as crate::tables::PortIdx)
                    .ok_or_else(|| format!("port: no access port named {name:?}"))?,
            ),
            _ => return Err("add needs one of \"vtep\" or \"port\"".into()),
        }),
        Some("del") => None,
        _ => return Err("op: \"add\" or \"del\"".into()),
    };
    let (done, answer) = tokio::sync::oneshot::channel();
    env.edits
        .send(MacEdit {
            vni,
            first,
            count,
            target,
            done,
        })
        .map_err(|_| "the management thread is not running".to_string())?;
    let r = answer
        .await
        .map_err(|_| "the management thread dropped the edit".to_string())??;
    Ok(json!({"changed": r.changed, "publish_us": r.publish.as_secs_f64() * 1e6}))
}

fn segment_of(ip: Ipv4Addr, prefix_len: u8) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(ip) & u32::from(netmask(prefix_len)))
}

fn netmask(prefix_len: u8) -> Ipv4Addr {
    Ipv4Addr::from(if prefix_len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix_len.min(32)))
    })
}

/// ICMP echo from the VTEP's address (always DF: the VTEP never fragments).
async fn ping(env: &ControlEnv, req: &Value) -> Result<Value, String> {
    let dst: Ipv4Addr = req["dst"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or("ping.dst: an IPv4 address is required")?;
    let size = req["size"].as_u64().unwrap_or(56) as usize;
    let count = req["count"].as_u64().unwrap_or(3).clamp(1, 100) as u16;
    let snap = env.cell.load();
    let vtep = &snap.vtep;
    let max = usize::from(vtep.mtu) - 28;
    if size > max {
        return Err(format!(
            "ping.size: {size} bytes do not fit the VTEP's MTU {} with DF ({max} at most)",
            vtep.mtu
        ));
    }
    let hop = vtep
        .next_hop(dst)
        .ok_or(format!("ping.dst: no route to {dst}"))?;
    let mac = match snap.neighbors.get(&hop).copied() {
        Some(m) => m,
        None => resolve(env, hop).await?,
    };
    static NEXT_ID: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(1);
    let id =
        (std::process::id() as u16) ^ NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut replies = Vec::new();
    for seq in 0..count {
        let bytes = crate::traffic::echo_request(mac, vtep.mac, (vtep.ip, dst), id, seq, size);
        let sent = Instant::now();
        if env
            .slow_tx
            .push(SlowFrame::Send {
                port: UPLINK,
                bytes,
            })
            .is_err()
        {
            return Err("ping: the slow path queue is full".into());
        }
        let mut got = None;
        while sent.elapsed() < Duration::from_secs(1) {
            if let Some((from, at)) = env.echoes.take(id, seq) {
                got = Some((from, at.saturating_duration_since(sent)));
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        replies.push(match got {
            Some((from, rtt)) => json!({"seq": seq, "from": from.to_string(),
                "bytes": size + 8, "rtt_ms": rtt.as_secs_f64() * 1000.0}),
            None => json!({"seq": seq, "timeout": true}),
        });
        if seq + 1 < count {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let received = replies.iter().filter(|r| r.get("rtt_ms").is_some()).count();
    Ok(
        json!({"dst": dst.to_string(), "src": vtep.ip.to_string(), "size": size,
              "dont_fragment": true, "sent": count, "received": received, "replies": replies}),
    )
}

/// ARPs for an unresolved next hop from the VTEP and waits up to a second for the answer.
async fn resolve(env: &ControlEnv, hop: Ipv4Addr) -> Result<crate::wire::MacAddr, String> {
    let vtep = env.cell.load().vtep.clone();
    let bytes = crate::dataplane::manager::arp_request(&vtep, hop);
    let _ = env.slow_tx.push(SlowFrame::Send {
        port: UPLINK,
        bytes,
    });
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(1) {
        if let Some(m) = env.cell.load().neighbors.get(&hop) {
            return Ok(*m);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Err(format!("ping.dst: next hop {hop} does not answer ARP"))
}

/// Sends one request to a data plane's control socket and returns its answer.
pub fn request(socket: &Path, req: &Value) -> Result<Value, String> {
    use std::io::{BufRead, Write};
    let mut s = std::os::unix::net::UnixStream::connect(socket).map_err(|e| {
        format!(
            "{}: {e} (is `vxswitch dataplane` running with this control socket?)",
            socket.display()
        )
    })?;
    s.set_read_timeout(Some(Duration::from_secs(120))).ok();
    writeln!(s, "{req}").map_err(|e| e.to_string())?;
    let mut line = String::new();
    std::io::BufReader::new(s)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    let v: Value = serde_json::from_str(&line).map_err(|e| format!("bad answer: {e}"))?;
    match (v.get("ok"), v.get("error")) {
        (Some(ok), _) => Ok(ok.clone()),
        (_, Some(e)) => Err(e.as_str().unwrap_or("error").to_string()),
        _ => Err("bad answer".into()),
    }
}
