//! The control-plane thread: one single-threaded tokio runtime serving the control socket
//! (the host API) and, when controllers are configured, running the agent's sessions.

use super::control_socket::{self, ControlEnv};
use crate::agent::{Agent, AgentLink};
use crate::config::AgentConfig;
use crate::tables::VtepIdentity;
use metrics_exporter_prometheus::PrometheusHandle;
use std::os::unix::net::UnixListener;
use std::sync::Arc;
use std::thread::JoinHandle;
use tokio::sync::oneshot;

/// The running thread; dropping `stop` (or calling `stop`) ends it.
pub struct ControlPlane {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ControlPlane {
    /// Starts the thread: the control socket on `socket`, the agent if `agent` is set (over
    /// TLS with `tls`), `GET /metrics` on the listener given.
    /// Returns the management thread's link to the agent.
    pub fn start(
        agent: Option<&AgentConfig>,
        tls: Option<Arc<rustls::ClientConfig>>,
        vtep: &VtepIdentity,
        socket: UnixListener,
        metrics: Option<(std::net::TcpListener, PrometheusHandle)>,
        mut env: ControlEnv,
    ) -> std::io::Result<(ControlPlane, AgentLink)> {
        let (agent, link) = match agent {
            Some(cfg) => {
                let (a, link) = Agent::new(cfg, tls, vtep);
                (Some(a), link)
            }
            None => (None, AgentLink::none()),
        };
        env.hub = agent.as_ref().map(Agent::hub);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("vxs-control".into())
            .spawn(move || {
                rt.block_on(async move {
                    tokio::spawn(control_socket::serve(socket, Arc::new(env)));
                    if let Some((listener, handle)) = metrics {
                        tokio::spawn(super::metrics::serve(listener, handle));
                    }
                    if let Some(a) = agent {
                        tokio::spawn(a.run());
                    }
                    let _ = stopped.await;
                });
            })?;
        let cp = ControlPlane {
            stop: Some(stop),
            thread: Some(thread),
        };
        Ok((cp, link))
    }

    /// Ends the runtime (sessions close, the socket stops answering) and joins the thread.
    pub fn stop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        self.stop();
    }
}
