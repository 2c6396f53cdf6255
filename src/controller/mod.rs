//! `vxswitch controller`: one controller node. It owns VNI slices (a single node owns them
//! all), keeps the logical switches durable on disk, holds the per-VNI VTEP/MAC/ARP tables
//! the hypervisors report, answers their queries, and serves the management REST API.
#![forbid(unsafe_code)]

pub mod api;
pub mod cluster;
mod config;
pub mod limits;
mod metrics;
pub mod ownership;
pub mod sessions;
pub mod slices;
pub mod state;
pub mod switches;
pub mod tables;

pub use config::ControllerConfig;

use sessions::lock;
use state::Controller;
use std::sync::{Arc, Mutex};
use tokio::signal::unix::{signal, SignalKind};

#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    #[error(transparent)]
    Store(#[from] switches::StoreError),
    #[error("{what} {addr}: {source}")]
    Bind {
        what: &'static str,
        addr: String,
        source: std::io::Error,
    },
    #[error("runtime: {0}")]
    Runtime(std::io::Error),
    #[error("signal handler: {0}")]
    Signal(std::io::Error),
    #[error("cluster: {0}")]
    Cluster(String),
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthError),
}

/// Runs the node until SIGINT/SIGTERM.
pub fn run(cfg: &ControllerConfig) -> Result<(), ControllerError> {
    let tls = match &cfg.tls {
        Some(f) => Some(tokio_rustls::TlsAcceptor::from(crate::auth::server_config(
            f,
        )?)),
        None => {
            tracing::warn!("controller: insecure = true: agent sessions in plaintext, any peer may speak for any VTEP");
            None
        }
    };
    let token = match &cfg.api_token {
        Some(p) => Some(crate::auth::ApiToken::load(p)?),
        None => {
            tracing::warn!("controller: no api_token_file: the REST API takes requests from anyone who reaches {}", cfg.api);
            None
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ControllerError::Runtime)?;
    rt.block_on(async {
        let (store, own, cluster) = match &cfg.cluster {
            None => (
                switches::Store::open(&cfg.state_dir)?,
                ownership::Ownership::single(&cfg.id),
                None,
            ),
            Some(k) => (
                switches::Store::mirror(),
                ownership::Ownership::member(&cfg.id, k.resync_window),
                Some(k),
            ),
        };
        let state = Arc::new(Mutex::new(Controller::new(cfg.id.clone(), store, own, cfg.limits)));
        let cluster = match cluster {
            Some(k) => Some(cluster::start(cfg, k, &state).map_err(ControllerError::Cluster)?),
            None => None,
        };
        let bind = |what, addr: std::net::SocketAddr| async move {
            tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| ControllerError::Bind {
                    what,
                    addr: addr.to_string(),
                    source,
                })
        };
        let agents = bind("agent listener", cfg.listen).await?;
        let api = bind("api listener", cfg.api).await?;
        let metrics = match cfg.metrics {
            Some(a) => Some(bind("metrics listener", a).await?),
            None => None,
        };
        let mut interrupt = signal(SignalKind::interrupt()).map_err(ControllerError::Signal)?;
        let mut terminate = signal(SignalKind::terminate()).map_err(ControllerError::Signal)?;
        let n = lock(&state).switches().len();
        let from = match &cfg.cluster {
            None => format!("{} logical switch(es) from {}", n, cfg.state_dir.display()),
            Some(k) => format!(
                "cluster member (etcd {}, lease ttl {}s, keys under {})",
                k.etcd.join(","),
                k.lease_ttl.as_secs(),
                k.prefix
            ),
        };
        tracing::info!(
            "vxswitch controller ready: id {}, agents on {} ({}), api on http://{}/api/v1 ({}; openapi: /openapi.json), {from}",
            cfg.id,
            cfg.listen,
            if cfg.tls.is_some() { "mutual TLS" } else { "plaintext" },
            cfg.api,
            if cfg.api_token.is_some() { "bearer token" } else { "open" },
        );
        if let Some(l) = metrics {
            tracing::info!(
                "controller: metrics on http://{}/metrics",
                cfg.metrics.map(|a| a.to_string()).unwrap_or_default()
            );
            tokio::spawn(metrics::serve(l, Arc::clone(&state)));
        }
        tokio::spawn(sessions::serve(
            agents,
            Arc::clone(&state),
            cfg.host_timeout,
            tls,
        ));
        let ticked = Arc::clone(&state);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(state::TICK);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                lock(&ticked).tick(std::time::Instant::now());
            }
        });
        let app = api::router(api::App {
            node: Arc::clone(&state),
            cluster: cluster.clone(),
            token,
        });
        tokio::spawn(async move {
            if let Err(e) = axum::serve(api, app).await {
                tracing::error!("controller: api: {e}");
            }
        });
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        tracing::info!("controller {} stopping", cfg.id);
        if let Some(h) = &cluster {
            cluster::leave(h, &state).await;
        }
        Ok(())
    })
}
