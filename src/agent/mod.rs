//! The hypervisor's control-plane side, on its own thread: sessions to every controller
//! (the agent proper) and the control socket that `vxswitch show`/`ping` talk to. The
//! management thread stays the single writer of the tables; it hands reports and queries
//! here and takes the controllers' answers back, without ever waiting on a socket.
#![forbid(unsafe_code)]

pub mod control;
mod hub;
mod messages;
mod session;

pub use control::{ControlEnv, EchoBoard};
pub use hub::{ConnStatus, Hub, LocalState};
pub use messages::{AgentCmd, ControlUpdate, MacEdit, MacEditDone, MacEditTarget, RemoteVtep};

use crate::config::AgentConfig;
use crate::proto;
use crate::tables::VtepIdentity;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// The management thread's end: commands out (never blocking), updates in.
pub struct AgentLink {
    cmds: Option<mpsc::Sender<AgentCmd>>,
    updates: std::sync::mpsc::Receiver<ControlUpdate>,
}

impl AgentLink {
    /// Queues a command; false if the agent's queue was full (a full sync repairs it).
    /// Without controllers there is nobody to tell, and nothing is lost.
    pub fn send(&mut self, c: AgentCmd) -> bool {
        self.cmds.as_ref().is_none_or(|tx| tx.try_send(c).is_ok())
    }
    pub fn try_recv(&self) -> Option<ControlUpdate> {
        self.updates.try_recv().ok()
    }
}

/// The Hello this host opens every session with.
pub fn hello(cfg: &AgentConfig, vtep: &VtepIdentity) -> proto::Hello {
    proto::Hello {
        version: proto::PROTOCOL_VERSION,
        host: cfg.host.clone(),
        vtep_ip: proto::ip_u32(vtep.ip),
        vtep_prefix_len: u32::from(vtep.prefix_len),
        vtep_mac: proto::mac_bytes(vtep.mac),
    }
}

/// Starts the control-plane thread; it runs until `stop` is set.
pub fn spawn(
    agent: Option<&AgentConfig>,
    vtep: &VtepIdentity,
    socket: std::os::unix::net::UnixListener,
    mut env: ControlEnv,
    stop: Arc<AtomicBool>,
) -> std::io::Result<(AgentLink, std::thread::JoinHandle<()>)> {
    let (up_tx, up_rx) = std::sync::mpsc::channel();
    let (cmd_tx, cmd_rx) = mpsc::channel::<AgentCmd>(65536);
    let hub = agent.map(|a| Arc::new(Hub::new(&a.controllers, hello(a, vtep), up_tx)));
    env.hub = hub.clone();
    let controllers: Vec<_> = agent.map(|a| a.controllers.clone()).unwrap_or_default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let handle = std::thread::Builder::new()
        .name("vxs-agent".into())
        .spawn(move || {
            rt.block_on(async move {
                tokio::spawn(control::serve(socket, Arc::new(env)));
                if let Some(hub) = hub {
                    for (i, c) in controllers.into_iter().enumerate() {
                        tokio::spawn(session::run(i, c, Arc::clone(&hub)));
                    }
                    tokio::spawn(route(cmd_rx, hub));
                }
                while !stop.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            });
        })?;
    let link = AgentLink {
        cmds: agent.map(|_| cmd_tx),
        updates: up_rx,
    };
    Ok((link, handle))
}

/// Records each command in the host's state (for full syncs) and sends it to the
/// controller that owns its VNI. Reports for a VNI not joined yet are only recorded: the
/// join sends them along. A query nobody can take is answered "unknown" at once.
async fn route(mut cmds: mpsc::Receiver<AgentCmd>, hub: Arc<Hub>) {
    while let Some(c) = cmds.recv().await {
        let vni = hub::vni_of(&c);
        let msgs = {
            let mut local = hub.local();
            local.apply(&c);
            match c {
                AgentCmd::Join(_) => local.sync_messages(|v| v == vni),
                AgentCmd::Mac { .. } | AgentCmd::Ip { .. } if !local.is_joined(vni) => Vec::new(),
                _ => vec![hub::to_proto(&c)],
            }
        };
        let sent = match hub.session_for(vni) {
            Some(tx) => msgs.into_iter().all(|m| tx.try_send(m).is_ok()),
            None => false,
        };
        if !sent {
            match c {
                AgentCmd::ArpQuery { vni, ip } => hub.update(ControlUpdate::ArpAnswer {
                    vni,
                    ip,
                    found: None,
                }),
                AgentCmd::MacQuery { vni, mac } => hub.update(ControlUpdate::MacAnswer {
                    vni,
                    mac,
                    vtep: None,
                }),
                _ => {}
            }
        }
    }
}
