//! The hypervisor's controller client: one session per configured controller, the host's
//! own state re-reported on every (re)connect, and each report or query routed to the
//! controller that owns its VNI. It runs on the host's control-plane runtime; the management
//! thread (the tables' single writer) hands it commands and takes its updates back over
//! channels, never waiting on a socket. It knows nothing of the data plane.
#![forbid(unsafe_code)]

mod hub;
mod inbound;
mod messages;
mod session;

pub use hub::{Hub, LocalState};
pub use inbound::handle as handle_controller_message;
pub use messages::{AgentCmd, ControlUpdate, RemoteVtep};

use crate::config::AgentConfig;
use crate::proto;
use crate::tables::VtepIdentity;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Commands the agent may have queued before a full one is refused (a full sync repairs it).
const COMMAND_QUEUE: usize = 65536;

/// The management thread's end: commands out (never blocking), updates in.
pub struct AgentLink {
    cmds: Option<mpsc::Sender<AgentCmd>>,
    updates: Option<std::sync::mpsc::Receiver<ControlUpdate>>,
}

impl AgentLink {
    /// The link of a host without controllers: nobody to tell, nothing to hear.
    pub fn none() -> AgentLink {
        AgentLink {
            cmds: None,
            updates: None,
        }
    }
    /// Queues a command; false if the agent's queue was full (a full sync repairs it).
    /// Without controllers nothing is lost.
    pub fn send(&mut self, c: AgentCmd) -> bool {
        self.cmds.as_ref().is_none_or(|tx| tx.try_send(c).is_ok())
    }
    pub fn try_recv(&self) -> Option<ControlUpdate> {
        self.updates.as_ref()?.try_recv().ok()
    }
}

/// The agent's tasks, ready to run.
pub struct Agent {
    hub: Arc<Hub>,
    controllers: Vec<SocketAddr>,
    /// Mutual TLS to every controller; None: plaintext (`insecure = true`).
    tls: Option<tokio_rustls::TlsConnector>,
    cmds: mpsc::Receiver<AgentCmd>,
}

impl Agent {
    /// An agent for `cfg` speaking for `vtep`, and the management thread's link to it.
    pub fn new(
        cfg: &AgentConfig,
        tls: Option<Arc<rustls::ClientConfig>>,
        vtep: &VtepIdentity,
    ) -> (Agent, AgentLink) {
        let (up_tx, up_rx) = std::sync::mpsc::channel();
        let (cmd_tx, cmd_rx) = mpsc::channel(COMMAND_QUEUE);
        let hub = Arc::new(Hub::new(
            &cfg.controllers,
            hello(cfg, vtep),
            cfg.controller_timeout,
            up_tx,
        ));
        let agent = Agent {
            hub,
            controllers: cfg.controllers.clone(),
            tls: tls.map(tokio_rustls::TlsConnector::from),
            cmds: cmd_rx,
        };
        let link = AgentLink {
            cmds: Some(cmd_tx),
            updates: Some(up_rx),
        };
        (agent, link)
    }

    /// What the sessions share: connection states and the VTEP tables (for the host API).
    pub fn hub(&self) -> Arc<Hub> {
        Arc::clone(&self.hub)
    }

    /// Runs the sessions and the command router until the runtime stops.
    pub async fn run(self) {
        for (i, c) in self.controllers.into_iter().enumerate() {
            tokio::spawn(session::run(i, c, self.tls.clone(), Arc::clone(&self.hub)));
        }
        route(self.cmds, self.hub).await;
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

/// Records each command in the host's state (for full syncs) and sends it to the
/// controller that owns its VNI. Reports for a VNI not joined yet are only recorded: the
/// join sends them along. A session whose queue is full is restarted (a full sync). A query nobody can take is answered "unknown" at once.
async fn route(mut cmds: mpsc::Receiver<AgentCmd>, hub: Arc<Hub>) {
    while let Some(c) = cmds.recv().await {
        let vni = hub::vni_of(&c);
        let msgs = {
            let mut local = hub.local();
            local.apply(&c);
            match c {
                AgentCmd::Join(_) => local.sync_messages(|v| v == vni),
                AgentCmd::Mac { .. } | AgentCmd::Ip { .. } | AgentCmd::IpAged { .. }
                    if !local.is_joined(vni) =>
                {
                    Vec::new()
                }
                _ => vec![local.to_proto(&c)],
            }
        };
        let sent = match hub.session_for(vni) {
            Some(tx) => {
                let all = msgs.into_iter().all(|m| tx.try_send(m).is_ok());
                if !all {
                    // A report lost would leave the controller's tables drifting from the
                    // host's: the session restarts and re-sends everything instead.
                    hub.resync(vni);
                }
                all
            }
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
