//! `vxswitch ping`: ICMP echo from the VTEP's own address (always DF: the VTEP never
//! fragments), sent by worker 0 through the slow path; the replies come back as worker
//! events that the management thread posts on the echo board.

use super::control_socket::ControlEnv;
use super::manager::arp_request;
use crate::api::host::{PingReply, PingReport, PingRequest};
use crate::dataplane::slow_path::echo_request_frame;
use crate::dataplane::SlowFrame;
use crate::tables::UPLINK;
use crate::wire::MacAddr;
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Echoes per request at most.
const MAX_COUNT: u16 = 100;
/// How long an echo or a next hop's ARP answer is waited for.
const WAIT: Duration = Duration::from_secs(1);
/// Between echoes.
const INTERVAL: Duration = Duration::from_millis(200);

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

pub async fn ping(env: &ControlEnv, req: &PingRequest) -> Result<PingReport, String> {
    let snap = env.cell.load();
    let vtep = &snap.vtep;
    let (dst, size) = (req.dst, req.size);
    let max = vtep.mtu.saturating_sub(28);
    if size > max {
        return Err(format!(
            "ping.size: {size} bytes do not fit the VTEP's MTU {} with DF ({max} at most)",
            vtep.mtu
        ));
    }
    let count = req.count.clamp(1, MAX_COUNT);
    let hop = vtep
        .next_hop(dst)
        .ok_or(format!("ping.dst: no route to {dst}"))?;
    let mac = match snap.neighbors.get(&hop).copied() {
        Some(m) => m,
        None => resolve(env, hop).await?,
    };
    static NEXT_ID: AtomicU16 = AtomicU16::new(1);
    let id = (std::process::id() as u16) ^ NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let mut replies = Vec::new();
    for seq in 0..count {
        let bytes = echo_request_frame(mac, vtep.mac, (vtep.ip, dst), id, seq, usize::from(size));
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
        while sent.elapsed() < WAIT {
            if let Some((from, at)) = env.echoes.take(id, seq) {
                got = Some((from, at.saturating_duration_since(sent)));
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        replies.push(match got {
            Some((from, rtt)) => PingReply::Reply {
                seq,
                from,
                bytes: usize::from(size) + 8,
                rtt_ms: rtt.as_secs_f64() * 1000.0,
            },
            None => PingReply::Timeout { seq },
        });
        if seq + 1 < count {
            tokio::time::sleep(INTERVAL).await;
        }
    }
    let received = replies
        .iter()
        .filter(|r| matches!(r, PingReply::Reply { .. }))
        .count() as u16;
    Ok(PingReport {
        dst,
        src: vtep.ip,
        size,
        dont_fragment: true,
        sent: count,
        received,
        replies,
    })
}

/// ARPs for an unresolved next hop from the VTEP and waits for the answer.
async fn resolve(env: &ControlEnv, hop: Ipv4Addr) -> Result<MacAddr, String> {
    let bytes = arp_request(&env.cell.load().vtep, hop);
    let _ = env.slow_tx.push(SlowFrame::Send {
        port: UPLINK,
        bytes,
    });
    let start = Instant::now();
    while start.elapsed() < WAIT {
        if let Some(m) = env.cell.load().neighbors.get(&hop) {
            return Ok(*m);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Err(format!("ping.dst: next hop {hop} does not answer ARP"))
}
