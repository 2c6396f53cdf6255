//! `vxswitch dataplane`: brings up EAL, the mempool and the ports named in the config,
//! starts pinned workers, and runs the management thread until SIGINT/SIGTERM; then stops
//! cleanly and prints per-port counters, drops by reason, and the mempool's in-use count.

use super::counters::{total_drops, total_stat, Counters, DropReason, Stat};
use super::events::{Event, EventQueue, EVENT_QUEUE_LEN};
use super::link::{af_packet_iface, LinkWatch};
use super::manager::{initial_snapshot, TableManager};
use super::pipeline::{Pipeline, SlowFrame};
use super::worker::{self, WorkerEnv, WorkerPlan};
use crate::agent::{self, AgentLink, ControlEnv, EchoBoard, MacEdit};
use crate::config::Config;
use crate::dpdk::{
    self, register_worker_thread, DpdkError, Eal, Mempool, Port, PortConfig, TxCounts,
};
use crate::tables::{PortIdx, SnapshotCell, UPLINK};
use crossbeam_queue::ArrayQueue;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc::RecvTimeoutError;
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
    #[error("control.socket {0}: {1}")]
    ControlSocket(String, std::io::Error),
}

/// Management loop period: how often events are applied and published.
const MGMT_TICK: Duration = Duration::from_millis(1);
/// How often VM ports' link state is read.
const LINK_POLL: Duration = Duration::from_millis(100);
/// Mbuf data room: 2 KiB of frame behind DPDK's 128-byte headroom.
const DATA_ROOM: u16 = 2048 + 128;

pub fn run(cfg: &Config) -> Result<(), RunError> {
    let cores = core_affinity::get_core_ids().map_or(usize::MAX, |c| c.len());
    if let Some(&c) = cfg.workers.iter().find(|&&c| c >= cores) {
        return Err(RunError::NoSuchCore(c, cores));
    }
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop)).map_err(RunError::Signal)?;
    }
    let socket = agent::control::bind(&cfg.control_socket)
        .map_err(|e| RunError::ControlSocket(cfg.control_socket.display().to_string(), e))?;
    let eal = Eal::init(&cfg.eal_args)?;
    let mut ports = vec![Port::by_name(&eal, &cfg.uplink_device)?];
    for a in &cfg.access_ports {
        ports.push(Port::by_name(&eal, &a.device)?);
    }
    let pool = Mempool::new(&eal, "vxs_pool", cfg.mbufs, 256, DATA_ROOM)?;
    let baseline = pool.in_use();
    let n_workers = cfg.workers.len() as u16;
    for (i, p) in ports.iter().enumerate() {
        let rx_queues = if i == 0 { n_workers } else { 1 };
        let mtu = if i == 0 { cfg.vtep.mtu } else { 1500 };
        let pc = PortConfig {
            rx_queues,
            tx_queues: n_workers,
            rx_desc: cfg.rx_desc,
            tx_desc: cfg.tx_desc,
            mtu,
        };
        if let Err(e) = p.start(&pc, &pool) {
            ports.iter().take(i).for_each(Port::close);
            return Err(e.into());
        }
    }
    let vtep = cfg.vtep.identity(ports[0].mac());
    let started = Instant::now();
    let cell = Arc::new(SnapshotCell::new(initial_snapshot(cfg, vtep.clone(), 0)));
    let mut manager = TableManager::new(Arc::clone(&cell), cfg);
    let clock = AtomicU32::new(0);
    let slow_tx = Arc::new(ArrayQueue::new(256));
    let plans = plan_workers(cfg, ports.len(), &slow_tx);
    let counters: Vec<Arc<Counters>> = plans.iter().map(|_| Arc::default()).collect();
    let queues: Vec<Arc<EventQueue>> = plans
        .iter()
        .map(|_| Arc::new(ArrayQueue::new(EVENT_QUEUE_LEN)))
        .collect();
    let port_refs: Vec<&Port> = ports.iter().collect();
    let echoes = Arc::new(EchoBoard::default());
    let (edit_tx, edit_rx) = std::sync::mpsc::channel();
    let control_env = ControlEnv {
        cell: Arc::clone(&cell),
        counters: counters.clone(),
        port_names: std::iter::once("uplink".to_string())
            .chain(cfg.access_ports.iter().map(|a| a.name.clone()))
            .collect(),
        slow_tx: Arc::clone(&slow_tx),
        echoes: Arc::clone(&echoes),
        hub: None,
        port_ids: ports.iter().map(Port::id).collect(),
        edits: edit_tx,
    };
    let agent_stop = Arc::new(AtomicBool::new(false));
    let (mut link, agent_thread) = match agent::spawn(
        cfg.agent.as_ref(),
        &vtep,
        socket,
        control_env,
        Arc::clone(&agent_stop),
    ) {
        Ok(x) => x,
        Err(e) => {
            ports.iter().for_each(Port::close);
            return Err(RunError::ControlSocket(
                cfg.control_socket.display().to_string(),
                e,
            ));
        }
    };
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
    let env = WorkerEnv {
        pool: &pool,
        ports: &port_refs,
        cell: &cell,
        stop: &stop,
        clock: &clock,
        idle_sleep: (cfg.idle_sleep_us > 0).then(|| Duration::from_micros(cfg.idle_sleep_us)),
    };
    println!(
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
    let tx_counts: Vec<Vec<TxCounts>> = std::thread::scope(|s| {
        let handles: Vec<_> = plans
            .iter()
            .zip(&counters)
            .zip(&queues)
            .map(|((plan, c), q)| {
                let (env, eal) = (&env, &eal);
                let pipeline = Pipeline::new(Arc::clone(c), Arc::clone(q));
                s.spawn(move || {
                    if !core_affinity::set_for_current(core_affinity::CoreId { id: plan.core }) {
                        eprintln!("vxswitch: could not pin a worker to core {}", plan.core);
                    }
                    if let Err(e) = register_worker_thread(eal) {
                        eprintln!("vxswitch: {e}");
                    }
                    worker::run(env, plan, pipeline)
                })
            })
            .collect();
        println!(
            "vxswitch ready (control socket {}{})",
            cfg.control_socket.display(),
            cfg.agent.as_ref().map_or(String::new(), |a| format!(
                ", controllers {:?}",
                a.controllers
            ))
        );
        let _ = std::io::stdout().flush();
        let mut m = Mgmt {
            manager: &mut manager,
            link: &mut link,
            links: &mut links,
            ports: &ports,
            slow_tx: &slow_tx,
            echoes: &echoes,
            edits: &edit_rx,
            arp_timeout: cfg.agent.as_ref().map(|a| a.arp_query_timeout),
        };
        m.run(&queues, &clock, &stop, started);
        stop.store(true, Ordering::SeqCst);
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    agent_stop.store(true, Ordering::SeqCst);
    let _ = agent_thread.join();
    let _ = std::fs::remove_file(&cfg.control_socket);
    let port_stats: Vec<_> = ports.iter().map(Port::stats).collect();
    ports.iter().for_each(Port::close);
    let in_use = pool.in_use().saturating_sub(baseline);
    report(
        cfg,
        &port_stats,
        &tx_counts,
        &counters,
        &manager,
        started.elapsed(),
        in_use,
    );
    drop(pool);
    drop(eal);
    Ok(())
}

/// Worker i gets uplink RX queue i, TX queue i on every port, and the access ports
/// round-robin; worker 0 also sends the VTEP stack's own frames.
fn plan_workers(
    cfg: &Config,
    n_ports: usize,
    slow_tx: &Arc<ArrayQueue<SlowFrame>>,
) -> Vec<WorkerPlan> {
    let n = cfg.workers.len();
    let mut plans: Vec<WorkerPlan> = cfg
        .workers
        .iter()
        .enumerate()
        .map(|(i, &core)| WorkerPlan {
            core,
            rx: vec![(0, i as u16)],
            tx_queue: i as u16,
            slow_tx: (i == 0).then(|| Arc::clone(slow_tx)),
        })
        .collect();
    for p in 1..n_ports {
        plans[(p - 1) % n].rx.push((p as PortIdx, 0));
    }
    plans
}

/// The management thread's loop and what it drives.
struct Mgmt<'a> {
    manager: &'a mut TableManager,
    link: &'a mut AgentLink,
    links: &'a mut LinkWatch,
    ports: &'a [Port],
    slow_tx: &'a ArrayQueue<SlowFrame>,
    echoes: &'a EchoBoard,
    /// Static MAC edits from the control socket; waiting on it is the loop's tick.
    edits: &'a std::sync::mpsc::Receiver<MacEdit>,
    arp_timeout: Option<Duration>,
}

impl Mgmt<'_> {
    /// Applies workers' events and controllers' updates, watches VM ports, ages, resolves
    /// next hops, and delivers what the manager produced, until stopped.
    fn run(
        &mut self,
        queues: &[Arc<EventQueue>],
        clock: &AtomicU32,
        stop: &AtomicBool,
        started: Instant,
    ) {
        let mut batch: Vec<Event> = Vec::with_capacity(EVENT_QUEUE_LEN);
        let mut last_second = u32::MAX;
        let mut last_link_poll: Option<Instant> = None;
        while !stop.load(Ordering::Relaxed) {
            let now = started.elapsed().as_secs() as u32;
            clock.store(now, Ordering::Relaxed);
            // Links first: a VM that powers on joins its VNI before its MACs are reported.
            let t = Instant::now();
            if last_link_poll.is_none_or(|l| t.duration_since(l) >= LINK_POLL) {
                last_link_poll = Some(t);
                let ports = self.ports;
                for (vni, up) in self.links.poll(|p| ports[usize::from(p)].link_up()) {
                    self.manager.port_link(vni, up);
                }
            }
            for q in queues {
                while let Some(e) = q.pop() {
                    batch.push(e);
                }
            }
            self.manager.apply(&batch, now);
            batch.clear();
            while let Some(u) = self.link.try_recv() {
                self.manager.control(u, now);
            }
            if let Some(timeout) = self.arp_timeout {
                self.manager.expire_queries(t, timeout);
            }
            if now != last_second {
                last_second = now;
                self.manager.age(now);
                for bytes in self.manager.resolve(now) {
                    let _ = self.slow_tx.push(SlowFrame::Send {
                        port: UPLINK,
                        bytes,
                    });
                }
            }
            self.deliver();
            self.manager.reclaim();
            // Sleep one tick, or less when an edit arrives: an edit is published at once.
            let mut next = match self.edits.recv_timeout(MGMT_TICK) {
                Ok(e) => Some(e),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => {
                    std::thread::sleep(MGMT_TICK);
                    None
                }
            };
            while let Some(e) = next {
                let r = self
                    .manager
                    .edit_macs(e.vni, e.first, e.count, e.target, now);
                let _ = e.done.send(r);
                next = self.edits.try_recv().ok();
            }
        }
    }

    fn deliver(&mut self) {
        let out = std::mem::take(&mut self.manager.out);
        for c in out.agent {
            if !self.link.send(c) {
                self.manager.stats.agent_cmds_lost += 1;
            }
        }
        for f in out.frames {
            // A full slow path loses the frame; the VM's ARP retries.
            let _ = self.slow_tx.push(f);
        }
        for (from, id, seq) in out.echoes {
            self.echoes.record(from, id, seq);
        }
    }
}

fn report(
    cfg: &Config,
    port_stats: &[dpdk::PortStats],
    tx: &[Vec<TxCounts>],
    counters: &[Arc<Counters>],
    m: &TableManager,
    elapsed: Duration,
    in_use: u32,
) {
    let mut out = String::new();
    use std::fmt::Write as _;
    let _ = writeln!(out, "vxswitch stopped after {:.1} s", elapsed.as_secs_f64());
    let _ = writeln!(
        out,
        "{:<4} {:<12} {:<24} {:>10} {:>10} {:>10} {:>10}",
        "port", "name", "device", "rx", "tx", "rx_missed", "tx_refused"
    );
    for (i, s) in port_stats.iter().enumerate() {
        let (name, dev) = if i == 0 {
            ("uplink", cfg.uplink_device.as_str())
        } else {
            (
                cfg.access_ports[i - 1].name.as_str(),
                cfg.access_ports[i - 1].device.as_str(),
            )
        };
        let refused: u64 = tx.iter().map(|w| w.get(i).map_or(0, |c| c.refused)).sum();
        let _ = writeln!(
            out,
            "{i:<4} {name:<12} {dev:<24} {:>10} {:>10} {:>10} {refused:>10}",
            s.rx_packets, s.tx_packets, s.rx_missed
        );
    }
    let _ = writeln!(out, "stats:");
    for s in Stat::ALL {
        let v = total_stat(counters, *s);
        if v > 0 {
            let _ = writeln!(out, "  {:<24} {v}", s.name());
        }
    }
    let _ = writeln!(out, "drops:");
    for r in DropReason::ALL {
        let v = total_drops(counters, *r);
        if v > 0 {
            let _ = writeln!(out, "  {:<24} {v}", r.name());
        }
    }
    let st = m.stats;
    let snap = m.snapshot();
    let _ = writeln!(
        out,
        "tables: macs {} (learned {}, moved {}, aged {}, refused {}), publishes {}, arp_requests {}",
        snap.macs.len(),
        st.macs_learned,
        st.mac_moves,
        st.macs_aged,
        st.mac_table_full,
        st.publishes,
        st.arp_requests_sent
    );
    let _ = writeln!(
        out,
        "control: ip_bindings {} (refused {}), arp_answered_by_controller {}, arp_unanswered {}, agent_cmds_lost {}",
        st.ip_bindings, st.arp_table_full, st.arp_answered_by_controller, st.arp_unanswered, st.agent_cmds_lost
    );
    let _ = writeln!(out, "mbufs_in_use_after_close {in_use}");
    print!("{out}");
    let _ = std::io::stdout().flush();
}
