//! `vxswitch dataplane`: brings up EAL, the mempool and the ports named in the config,
//! starts the control-plane thread and the pinned workers, and runs the management loop
//! until SIGINT/SIGTERM; then stops everything in order and prints the stop report.

use super::buffers::{self, PortNeeds, HEADROOM, POOL_CACHE, STD_ROOM};
use super::control_plane::ControlPlane;
use super::control_socket::{ControlEnv, PortInfo};
use super::link::{af_packet_iface, LinkWatch};
use super::manager::{initial_snapshot, TableManager};
use super::mgmt::Mgmt;
use super::ping::EchoBoard;
use super::report::report;
use super::socket_file;
use super::worker::{self, WorkerEnv, WorkerPlan};
use crate::api::host::{PortSetup, Replicas, RxPool};
use crate::api::trace::MAX_LIVE_FRAMES;
use crate::config::Config;
use crate::dataplane::capture::Capture;
use crate::dataplane::events::{EventQueue, EVENT_QUEUE_LEN};
use crate::dataplane::trace::LiveTrace;
use crate::dataplane::{Counters, Pipeline, SlowFrame};
use crate::dpdk::{
    self, register_worker_thread, DpdkError, Eal, Mempool, Port, PortConfig, TxLock,
};
use crate::tables::{PortIdx, SnapshotCell};
use crossbeam_queue::ArrayQueue;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Dpdk(#[from] DpdkError),
    #[error("signal handler: {0}")]
    Signal(std::io::Error),
    #[error("dataplane.workers: core {0} does not exist on this machine ({1} cores)")]
    NoSuchCore(usize, usize),
    #[error("{0}")]
    Buffers(String),
    #[error("control.socket {0}: {1}")]
    ControlSocket(String, std::io::Error),
    #[error("agent: {0}")]
    Auth(#[from] crate::auth::AuthError),
    #[error("control.metrics {0}: {1}")]
    Metrics(std::net::SocketAddr, std::io::Error),
}

/// Frames the management thread may have queued for worker 0.
const SLOW_PATH_QUEUE: usize = 256;

pub fn run(cfg: &Config) -> Result<(), RunError> {
    let cores = core_affinity::get_core_ids().map_or(usize::MAX, |c| c.len());
    if let Some(&c) = cfg.workers.iter().find(|&&c| c >= cores) {
        return Err(RunError::NoSuchCore(c, cores));
    }
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop)).map_err(RunError::Signal)?;
    }
    let socket_err = |e| RunError::ControlSocket(cfg.control_socket.display().to_string(), e);
    let agent_tls = match cfg.agent.as_ref() {
        Some(a) => match &a.tls {
            Some(f) => Some(crate::auth::client_config(f)?),
            None => {
                tracing::warn!(
                    "agent: insecure = true: controller sessions in plaintext, unauthenticated"
                );
                None
            }
        },
        None => None,
    };
    let socket = socket_file::claim(&cfg.control_socket, cfg.control_group.as_deref())
        .map_err(socket_err)?;
    let metrics_listener = match cfg.metrics {
        Some(a) => Some(super::metrics::bind(a).map_err(|e| RunError::Metrics(a, e))?),
        None => None,
    };
    let eal = Eal::init(&cfg.eal_args)?;
    let mut probed = vec![Port::by_name(&eal, &cfg.uplink_device)?];
    for a in &cfg.access_ports {
        probed.push(Port::by_name(&eal, &a.device)?);
    }
    let n_workers = cfg.workers.len() as u16;
    // A queue per worker where the driver has enough: the uplink's RX queues spread its
    // traffic (RSS), TX queues let workers transmit without a lock. Fewer are shared.
    let needs: Vec<PortNeeds> = probed
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let (max_rx, max_tx) = p.max_queues();
            let (key, device, mtu) = match i.checked_sub(1) {
                None => ("uplink".to_string(), &cfg.uplink_device, cfg.vtep.mtu),
                Some(a) => {
                    let a_cfg = &cfg.access_ports[a];
                    (format!("access_port[{a}]"), &a_cfg.device, a_cfg.mtu)
                }
            };
            PortNeeds {
                key,
                device: device.clone(),
                driver: p.driver(),
                mtu,
                rx_queues: if i == 0 { n_workers.min(max_rx) } else { 1 },
                tx_queues: n_workers.min(max_tx),
            }
        })
        .collect();
    let plan = buffers::plan(cfg, &needs, u32::from(n_workers)).map_err(RunError::Buffers)?;
    let room = |bytes: u32| (bytes + HEADROOM) as u16;
    let pool = Mempool::new(&eal, "vxs_pool", cfg.mbufs, POOL_CACHE, room(STD_ROOM))?;
    let large = match plan.large_room {
        Some(r) => Some(Mempool::new(
            &eal,
            "vxs_large",
            cfg.large_mbufs,
            POOL_CACHE,
            room(r),
        )?),
        None => None,
    };
    let in_use = || pool.in_use() + large.as_ref().map_or(0, |l| l.in_use());
    let baseline = in_use();
    let mut ports = Vec::with_capacity(probed.len());
    let mut setups = Vec::with_capacity(probed.len());
    for (i, (p, need)) in probed.iter().zip(&needs).enumerate() {
        let pc = PortConfig {
            rx_queues: need.rx_queues,
            tx_queues: need.tx_queues,
            rx_desc: cfg.rx_desc,
            tx_desc: cfg.tx_desc,
            mtu: need.mtu,
            // Replica chains go to the uplink only; other ports keep their fastest TX path.
            multi_seg_tx: i == 0 && cfg.uplink_multi_segment,
        };
        let rx_pool = match (&large, plan.rx_large[i]) {
            (Some(l), true) => l,
            _ => &pool,
        };
        // A failure closes the ports started so far (they close on drop).
        let started = p.start(&pc, rx_pool)?;
        let setup = PortSetup {
            key: need.key.clone(),
            device: need.device.clone(),
            driver: need.driver.clone(),
            mtu: need.mtu,
            rx_mbuf_bytes: u32::try_from(rx_pool.data_room()).unwrap_or(u32::MAX),
            rx_pool: if plan.rx_large[i] {
                RxPool::Large
            } else {
                RxPool::Standard
            },
            replicas: match (i, started.multi_seg_tx()) {
                (0, true) => Some(Replicas::Chained),
                (0, false) => Some(Replicas::Copied),
                _ => None,
            },
            guest_offloads: need.guest_offloads(i > 0),
            rx_queues: need.rx_queues,
            tx_queues: need.tx_queues,
            tx_shared: need.shares_tx(n_workers),
        };
        tracing::info!(
            "vxswitch: {} = port {} ({}, {}): mtu {}, {} rx / {} tx queue(s){}, rx into {} mbufs of {} bytes, replicas {}, guest offloads: {}",
            setup.key,
            p.id(),
            setup.device,
            setup.driver,
            setup.mtu,
            setup.rx_queues,
            setup.tx_queues,
            if setup.tx_shared {
                " (tx shared by workers, locked per burst)"
            } else {
                ""
            },
            setup.rx_pool.name(),
            setup.rx_mbuf_bytes,
            setup.replicas.map_or("-", Replicas::name),
            setup.guest_offloads.name(),
        );
        setups.push(setup);
        ports.push(started);
    }
    let vtep = cfg.vtep.identity(ports[0].mac());
    let started = Instant::now();
    let cell = Arc::new(SnapshotCell::new(initial_snapshot(cfg, vtep.clone(), 0)));
    let mut manager = TableManager::new(Arc::clone(&cell), cfg);
    let clock = Arc::new(AtomicU32::new(0));
    let live_trace = Arc::new(LiveTrace::new(usize::from(MAX_LIVE_FRAMES)));
    let capture = Arc::new(Capture::default());
    let slow_tx = Arc::new(ArrayQueue::new(SLOW_PATH_QUEUE));
    let queue_counts: Vec<(u16, u16)> = needs.iter().map(|n| (n.rx_queues, n.tx_queues)).collect();
    let plans = plan_workers(cfg, &queue_counts, &slow_tx);
    // One lock per TX queue that several workers share.
    let tx_locks: Vec<Vec<TxLock>> = needs
        .iter()
        .map(|n| {
            let locks = if n.shares_tx(n_workers) {
                n.tx_queues
            } else {
                0
            };
            (0..locks).map(|_| TxLock::default()).collect()
        })
        .collect();
    let vni_slots = cell.load().vnis.len();
    let counters: Vec<Arc<Counters>> = plans
        .iter()
        .map(|_| Arc::new(Counters::with_vni_slots(vni_slots)))
        .collect();
    let queues: Vec<Arc<EventQueue>> = plans
        .iter()
        .map(|_| Arc::new(ArrayQueue::new(EVENT_QUEUE_LEN)))
        .collect();
    let echoes = Arc::new(EchoBoard::default());
    let (edit_tx, edit_rx) = std::sync::mpsc::channel();
    let mbufs_in_use = Arc::new(std::sync::atomic::AtomicU64::new(u64::from(in_use())));
    let control_env = ControlEnv {
        cell: Arc::clone(&cell),
        counters: counters.clone(),
        worker_cores: plans.iter().map(|p| p.core).collect(),
        ports: std::iter::once("uplink".to_string())
            .chain(cfg.access_ports.iter().map(|a| a.name.clone()))
            .zip(ports.iter().zip(setups))
            .map(|(name, (p, setup))| PortInfo {
                name,
                id: p.id(),
                setup,
            })
            .collect(),
        slow_tx: Arc::clone(&slow_tx),
        echoes: Arc::clone(&echoes),
        hub: None,
        edits: edit_tx,
        refused: Arc::clone(&manager.refused),
        mbufs_in_use: Arc::clone(&mbufs_in_use),
        trace: Arc::clone(&live_trace),
        capture: Arc::clone(&capture),
        clock: Arc::clone(&clock),
    };
    let port_ids: Vec<(String, u16)> = control_env
        .ports
        .iter()
        .map(|p| (p.name.clone(), p.id))
        .collect();
    let (recorder, metrics_handle) = super::metrics::recorder();
    let (mut control_plane, mut link) = ControlPlane::start(
        cfg.agent.as_ref(),
        agent_tls,
        &vtep,
        socket,
        metrics_listener.map(|l| (l, metrics_handle)),
        control_env,
    )
    .map_err(socket_err)?;
    let cores: Vec<usize> = plans.iter().map(|p| p.core).collect();
    let mut links = LinkWatch::new(
        cfg.access_ports
            .iter()
            .enumerate()
            .map(|(i, a)| {
                (
                    (i + 1) as PortIdx,
                    a.vni,
                    af_packet_iface(&cfg.eal_args, &a.device),
                )
            })
            .collect(),
    );
    // VM ports on a kernel interface: their frames may carry partial checksums.
    let kernel_ports: Vec<(PortIdx, u16)> = (1..ports.len())
        .filter(|&i| needs[i].is_kernel_backed())
        .map(|i| (i as PortIdx, needs[i].mtu))
        .collect();
    let port_refs: Vec<_> = ports.iter().collect();
    let env = WorkerEnv {
        pool: &pool,
        large: large.as_ref(),
        ports: &port_refs,
        tx_locks: &tx_locks,
        cell: &cell,
        stop: &stop,
        clock: &clock,
        idle_sleep: (cfg.idle_sleep_us > 0).then(|| Duration::from_micros(cfg.idle_sleep_us)),
        trace: &live_trace,
        capture: &capture,
    };
    tracing::info!(
        "vxswitch: {} | VTEP {}/{} mac {} udp {} mtu {} | uplink {} | {} access port(s) | {} worker(s) on cores {:?}",
        dpdk::version(),
        vtep.ip,
        vtep.prefix_len,
        vtep.mac,
        vtep.udp_port,
        vtep.mtu,
        cfg.uplink_device,
        cfg.access_ports.len(),
        plans.len(),
        cfg.workers
    );
    let tx_counts = std::thread::scope(|s| {
        let handles: Vec<_> = plans
            .iter()
            .zip(&counters)
            .zip(&queues)
            .map(|((plan, c), q)| {
                let (env, eal) = (&env, &eal);
                let pipeline =
                    Pipeline::new(Arc::clone(c), Arc::clone(q)).with_kernel_ports(&kernel_ports);
                s.spawn(move || {
                    if !core_affinity::set_for_current(core_affinity::CoreId { id: plan.core }) {
                        tracing::warn!("vxswitch: could not pin a worker to core {}", plan.core);
                    }
                    match register_worker_thread(eal) {
                        Ok(lcore) => tracing::info!(
                            "vxswitch: worker on core {} is lcore {lcore} (its own mempool cache)",
                            plan.core
                        ),
                        Err(e) => tracing::warn!("vxswitch: {e} (no mempool cache: slower)"),
                    }
                    worker::run(env, plan, pipeline)
                })
            })
            .collect();
        tracing::info!(
            "vxswitch ready (control socket {}{})",
            cfg.control_socket.display(),
            cfg.agent.as_ref().map_or(String::new(), |a| format!(
                ", controllers {:?}",
                a.controllers
            ))
        );
        let mut mgmt = Mgmt {
            manager: &mut manager,
            link: &mut link,
            links: &mut links,
            ports: &ports,
            slow_tx: &slow_tx,
            echoes: &echoes,
            edits: &edit_rx,
            arp_timeout: cfg.agent.as_ref().map(|a| a.arp_query_timeout),
            mbufs_in_use: &in_use,
            mbufs_shown: &mbufs_in_use,
            metrics: cfg.metrics.map(|_| super::metrics::Feed {
                counters: &counters,
                cores: &cores,
                ports: &port_ids,
            }),
        };
        if let Some(addr) = cfg.metrics {
            tracing::info!("vxswitch: metrics on http://{addr}/metrics");
            metrics::with_local_recorder(&*recorder, || {
                super::metrics::describe();
                mgmt.run(&queues, &clock, &stop, started)
            });
        } else {
            mgmt.run(&queues, &clock, &stop, started);
        }
        stop.store(true, Ordering::SeqCst);
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect::<Vec<_>>()
    });
    control_plane.stop();
    let _ = std::fs::remove_file(&cfg.control_socket);
    let port_stats: Vec<_> = ports.iter().map(|p| p.stats()).collect();
    drop(port_refs);
    // Closing the ports gives back the mbufs their rings hold.
    drop(ports);
    let in_use = in_use().saturating_sub(baseline);
    print!(
        "{}",
        report(
            cfg,
            &port_stats,
            &tx_counts,
            &counters,
            &manager,
            started.elapsed(),
            in_use
        )
    );
    let _ = std::io::stdout().flush();
    Ok(())
}

/// The RX queues (the uplink's, then one per access port) are dealt round-robin over the
/// workers, so a single-queue uplink does not pile the access ports on its worker too.
/// Worker i transmits on TX queue i % n of a port with n queues (shared when n is below the
/// worker count); worker 0 also sends the slow path's frames. `queues`: (rx, tx) per port.
fn plan_workers(
    cfg: &Config,
    queues: &[(u16, u16)],
    slow_tx: &Arc<ArrayQueue<SlowFrame>>,
) -> Vec<WorkerPlan> {
    let n = cfg.workers.len();
    let mut plans: Vec<WorkerPlan> = cfg
        .workers
        .iter()
        .enumerate()
        .map(|(i, &core)| WorkerPlan {
            core,
            rx: Vec::new(),
            tx_queues: queues.iter().map(|&(_, tx)| i as u16 % tx).collect(),
            slow_tx: (i == 0).then(|| Arc::clone(slow_tx)),
        })
        .collect();
    let rx = queues
        .iter()
        .enumerate()
        .flat_map(|(p, &(rx, _))| (0..rx).map(move |q| (p as PortIdx, q)));
    for (k, pq) in rx.enumerate() {
        plans[k % n].rx.push(pq);
    }
    plans
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_workers() -> Config {
        Config::parse(
            r#"
[eal]
args = []
[dataplane]
workers = [0, 1]
[vtep]
ip = "192.168.250.51/24"
[uplink]
device = "net_null0"
"#,
        )
        .unwrap()
    }

    #[test]
    fn single_queue_ports_are_dealt_over_the_workers_and_share_tx_queue_0() {
        let slow = Arc::new(ArrayQueue::new(1));
        let plans = plan_workers(&two_workers(), &[(1, 1), (1, 1), (1, 1)], &slow);
        assert_eq!(plans[0].rx, [(0, 0), (2, 0)]);
        assert_eq!(plans[1].rx, [(1, 0)]);
        assert!(plans.iter().all(|p| p.tx_queues == [0, 0, 0]));
        assert!(plans[0].slow_tx.is_some() && plans[1].slow_tx.is_none());
    }

    #[test]
    fn a_queue_per_worker_where_the_port_has_them() {
        let slow = Arc::new(ArrayQueue::new(1));
        let plans = plan_workers(&two_workers(), &[(2, 2), (1, 1)], &slow);
        assert_eq!(plans[0].rx, [(0, 0), (1, 0)]);
        assert_eq!(plans[1].rx, [(0, 1)]);
        assert_eq!(plans[0].tx_queues, [0, 0]);
        assert_eq!(plans[1].tx_queues, [1, 0]);
    }
}
