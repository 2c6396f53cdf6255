//! The data plane's control socket: the server side of the host API (`api::host`). One
//! request line in, one answer line out; every request goes through `answer`, the one
//! dispatcher. Read-only on the tables (views load the published snapshot); static MAC edits
//! are handed to the management thread, the tables' single writer.

use super::ping::{self, EchoBoard};
use super::static_macs::{MacEditJob, MacEditTarget};
use super::views;
use crate::agent::Hub;
use crate::api::host::{Answer, MacTarget, PortSetup, Request, Response, MAX_REQUEST};
use crate::api::trace::{LiveTraceRequest, TraceReport, MAX_LIVE_FRAMES, MAX_LIVE_WAIT_MS};
use crate::dataplane::capture::Capture;
use crate::dataplane::trace::{dry_run, LiveTrace};
use crate::dataplane::{Counters, SlowFrame};
use crate::ids::Vni;
use crate::tables::{PortIdx, SnapshotCell};
use crate::wire::MacAddr;
use crossbeam_queue::ArrayQueue;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

/// What the host API's answers are made of.
pub struct ControlEnv {
    pub cell: Arc<SnapshotCell>,
    pub counters: Vec<Arc<Counters>>,
    /// The core of each worker, in the order of `counters`.
    pub worker_cores: Vec<usize>,
    /// The ports by PortIdx (0: the uplink).
    pub ports: Vec<PortInfo>,
    pub slow_tx: Arc<ArrayQueue<SlowFrame>>,
    pub echoes: Arc<EchoBoard>,
    /// The agent's hub, when controllers are configured.
    pub hub: Option<Arc<Hub>>,
    /// Static MAC edits, applied and published by the management thread.
    pub edits: std::sync::mpsc::Sender<MacEditJob>,
    /// What the management thread refused.
    pub refused: Arc<super::manager::Refused>,
    /// Mbufs in use, sampled each second by the management thread.
    pub mbufs_in_use: Arc<std::sync::atomic::AtomicU64>,
    /// The workers' live trace.
    pub trace: Arc<LiveTrace>,
    /// The workers' live capture.
    pub capture: Arc<Capture>,
    /// The management thread's seconds clock (what learning stamps entries with).
    pub clock: Arc<std::sync::atomic::AtomicU32>,
}

/// A port as the host API shows it.
pub struct PortInfo {
    pub name: String,
    /// The DPDK port id, for the driver's counters.
    pub id: u16,
    pub setup: PortSetup,
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
    let mut rd = BufReader::new(rd.take(MAX_REQUEST));
    if rd.read_line(&mut line).await.is_err() {
        return;
    }
    let answer = match Request::from_line(&line) {
        Ok(Request::Capture(c)) => return super::capture_stream::stream(&env, &c, &mut wr).await,
        Ok(req) => match answer(&env, req).await {
            Ok(r) => Answer::Ok(r),
            Err(e) => Answer::Error(e),
        },
        Err(e) => Answer::Error(e),
    };
    let mut out = serde_json::to_string(&answer).expect("answers serialize");
    out.push('\n');
    let _ = wr.write_all(out.as_bytes()).await;
}

/// The one dispatcher of the host API.
async fn answer(env: &ControlEnv, req: Request) -> Result<Response, String> {
    let snap = env.cell.load();
    Ok(match req {
        Request::VtepList { vni } => Response::VtepList(views::vtep_list(env, &snap, vni)?),
        Request::Vnis => Response::Vnis(views::vnis(env, &snap)),
        Request::MacList { vni } => Response::MacList(views::mac_list(env, &snap, vni)),
        Request::ArpList { vni } => Response::ArpList(views::arp_list(&snap, vni)),
        Request::Connections => {
            Response::Connections(env.hub.as_ref().map(|h| h.conns()).unwrap_or_default())
        }
        Request::Routes => Response::Routes(views::routes(env, &snap)),
        Request::Neighbors => Response::Neighbors(views::neighbors(env, &snap)),
        Request::Stats => Response::Stats(views::stats(env, &snap)),
        Request::Ports => Response::Ports(views::ports(env)),
        Request::PortSecurity => Response::PortSecurity(views::port_security(env, &snap)),
        Request::Ping(p) => Response::Ping(ping::ping(env, &p).await?),
        Request::MacAdd {
            vni,
            mac,
            count,
            to,
        } => {
            let target = match to {
                MacTarget::Vtep(ip) => MacEditTarget::Vtep(ip),
                MacTarget::Port(name) => MacEditTarget::Port(access_port(env, &name)?),
            };
            mac_edit(env, vni, mac, count, Some(target)).await?
        }
        Request::MacDel { vni, mac, count } => mac_edit(env, vni, mac, count, None).await?,
        Request::Trace(t) => {
            let port = any_port(env, &t.port)?;
            let now = env.clock.load(std::sync::atomic::Ordering::Relaxed);
            Response::Trace(TraceReport {
                dry_run: true,
                ports: port_names(env),
                frames: vec![dry_run(&snap, port, &t.frame, now)],
            })
        }
        Request::TraceLive(t) => Response::Trace(live_trace(env, &t).await?),
        Request::Capture(_) => return Err("capture: a streamed request".into()),
    })
}

/// A port by name, the uplink included.
pub(super) fn any_port(env: &ControlEnv, name: &str) -> Result<PortIdx, String> {
    env.ports
        .iter()
        .position(|p| p.name == name)
        .map(|i| i as PortIdx)
        .ok_or_else(|| format!("port: no port named {name:?}"))
}

fn port_names(env: &ControlEnv) -> Vec<String> {
    env.ports.iter().map(|p| p.name.clone()).collect()
}

/// Arms the workers' trace of a port, waits for its frames (or the time given), disarms.
async fn live_trace(env: &ControlEnv, t: &LiveTraceRequest) -> Result<TraceReport, String> {
    let port = any_port(env, &t.port)?;
    if t.count == 0 || t.count > MAX_LIVE_FRAMES {
        return Err(format!("count: 1 to {MAX_LIVE_FRAMES} frames"));
    }
    if t.wait_ms > MAX_LIVE_WAIT_MS {
        return Err(format!("wait_ms: at most {MAX_LIVE_WAIT_MS}"));
    }
    if !env.trace.arm(port, u32::from(t.count)) {
        return Err("another live trace is running".into());
    }
    let until =
        tokio::time::Instant::now() + std::time::Duration::from_millis(u64::from(t.wait_ms));
    let mut frames = Vec::new();
    while frames.len() < usize::from(t.count) && tokio::time::Instant::now() < until {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        frames.extend(env.trace.drain());
    }
    env.trace.disarm();
    frames.extend(env.trace.drain());
    Ok(TraceReport {
        dry_run: false,
        ports: port_names(env),
        frames,
    })
}

fn access_port(env: &ControlEnv, name: &str) -> Result<PortIdx, String> {
    env.ports
        .iter()
        .skip(1)
        .position(|p| p.name == name)
        .map(|i| (i + 1) as PortIdx)
        .ok_or_else(|| format!("port: no access port named {name:?}"))
}

/// Hands a static MAC edit to the management thread and waits for it to be published.
async fn mac_edit(
    env: &ControlEnv,
    vni: Vni,
    first: MacAddr,
    count: u32,
    target: Option<MacEditTarget>,
) -> Result<Response, String> {
    let (done, answer) = tokio::sync::oneshot::channel();
    env.edits
        .send(MacEditJob {
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
    Ok(Response::MacEdit(r))
}
