//! Ethernet ports: lookup by device name, configuration, start/stop, statistics.

use super::{strerror, sys, DpdkError, Eal, Mempool, RxBurst, BURST_SIZE};
use crate::wire::MacAddr;
use std::ffi::CString;
use std::marker::PhantomData;
use std::ops::Deref;

// RSS hash types (RTE_ETH_RSS_*, macros bindgen cannot evaluate).
const RSS_IPV4: u64 = 1 << 2;
const RSS_NONFRAG_IPV4_TCP: u64 = 1 << 4;
const RSS_NONFRAG_IPV4_UDP: u64 = 1 << 5;
/// RTE_ETH_TX_OFFLOAD_MULTI_SEGS: the port transmits mbuf chains.
const TX_OFFLOAD_MULTI_SEGS: u64 = 1 << 15;
// Linux errno values a driver returns for "MTU change not supported".
const ENOSYS: i32 = 38;
const ENOTSUP: i32 = 95;

/// How to set a port up.
#[derive(Debug, Clone)]
pub struct PortConfig {
    pub rx_queues: u16,
    pub tx_queues: u16,
    pub rx_desc: u16,
    pub tx_desc: u16,
    /// Largest L3 packet the port must carry (the VTEP MTU on the uplink).
    pub mtu: u16,
    /// Enable multi-segment TX if the driver declares it (only the uplink is sent chains).
    pub multi_seg_tx: bool,
}

/// Counters the driver keeps for a port.
#[derive(Debug, Clone, Copy, Default)]
pub struct PortStats {
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_missed: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    pub rx_nombuf: u64,
}

impl PortStats {
    /// Reads the driver's counters of port `id`; any thread may read them while workers run
    /// (an id that is not a started port reads as zeros).
    pub fn read(id: u16) -> PortStats {
        let mut s = sys::rte_eth_stats::default();
        // SAFETY: s is a valid out-struct; ethdev checks the port id and fails cleanly.
        unsafe { sys::rte_eth_stats_get(id, &mut s) };
        PortStats {
            rx_packets: s.ipackets,
            tx_packets: s.opackets,
            rx_bytes: s.ibytes,
            tx_bytes: s.obytes,
            rx_missed: s.imissed,
            rx_errors: s.ierrors,
            tx_errors: s.oerrors,
            rx_nombuf: s.rx_nombuf,
        }
    }
}

/// A probed ethdev port; it borrows the `Eal`.
#[derive(Debug)]
pub struct Port<'eal> {
    id: u16,
    name: String,
    _eal: PhantomData<&'eal Eal>,
}

/// A started port: it borrows the port and the pool its RX rings take mbufs from, and stops
/// and closes the port when dropped (before the pool can go).
#[derive(Debug)]
pub struct StartedPort<'p> {
    port: &'p Port<'p>,
    multi_seg_tx: bool,
    _pool: PhantomData<&'p Mempool<'p>>,
}

impl StartedPort<'_> {
    /// net_af_packet opens each queue's socket for every interface of the namespace, sets
    /// its ring up, and binds it to its own interface only then: frames that crossed any
    /// link of the host meanwhile (a management network's ARP, another port's traffic) wait
    /// in the ring as if this port had received them. Nothing has polled the port yet, so
    /// all it holds is dropped, and its counters start from zero. Returns how many.
    fn discard_stale(&self, queues: u16) -> u64 {
        let mut burst = RxBurst::default();
        let mut dropped = 0u64;
        for q in 0..queues {
            // Bounded: a ring holds a few thousand frames at most.
            for _ in 0..1024 {
                let n = burst.poll(self, q);
                drop(burst.drain());
                dropped += n as u64;
                if n < BURST_SIZE {
                    break;
                }
            }
        }
        // SAFETY: the port id is valid; resetting a started port's counters is allowed.
        unsafe { sys::rte_eth_stats_reset(self.port.id) };
        dropped
    }

    /// Whether the driver declared multi-segment TX (and it was enabled): replicas that
    /// share their payload are mbuf chains, and go only to such ports as they are.
    pub fn multi_seg_tx(&self) -> bool {
        self.multi_seg_tx
    }
}

impl<'p> Deref for StartedPort<'p> {
    type Target = Port<'p>;
    fn deref(&self) -> &Port<'p> {
        self.port
    }
}

impl Drop for StartedPort<'_> {
    fn drop(&mut self) {
        // SAFETY: no worker polls this port any more: workers borrow the started port and
        // were joined before it could drop. Closing returns the rings' mbufs to the pool,
        // which this value borrows, so it is still alive.
        unsafe {
            sys::rte_eth_dev_stop(self.port.id);
            sys::rte_eth_dev_close(self.port.id);
        }
    }
}

impl<'eal> Port<'eal> {
    /// Finds the port EAL created for `name` (a vdev name such as `net_pcap0` or a PCI
    /// address). A vdev that failed to probe is reported here, not silently renumbered.
    pub fn by_name(_eal: &'eal Eal, name: &str) -> Result<Port<'eal>, DpdkError> {
        let c = CString::new(name).map_err(|_| DpdkError::NoSuchDevice(name.to_owned()))?;
        let mut id = 0u16;
        // SAFETY: c is a valid C string and id a valid out-pointer.
        let rc = unsafe { sys::rte_eth_dev_get_port_by_name(c.as_ptr(), &mut id) };
        if rc != 0 {
            return Err(DpdkError::NoSuchDevice(name.to_owned()));
        }
        Ok(Port {
            id,
            name: name.to_owned(),
            _eal: PhantomData,
        })
    }

    pub fn id(&self) -> u16 {
        self.id
    }

    fn fail(&self, call: &'static str, rc: i32) -> DpdkError {
        DpdkError::Port {
            port: self.id,
            name: self.name.clone(),
            call,
            reason: strerror(rc),
        }
    }

    /// Configures queues (RSS over several RX queues) and multi-segment TX where the driver
    /// has it, sets the MTU where the driver supports it, starts the port (its RX rings
    /// filled from `pool`) and enables promiscuous mode (a switch port must see every MAC).
    pub fn start<'p>(
        &'p self,
        cfg: &PortConfig,
        pool: &'p Mempool<'_>,
    ) -> Result<StartedPort<'p>, DpdkError> {
        let mut info = sys::rte_eth_dev_info::default();
        // SAFETY: info is a valid out-struct for this port id.
        let rc = unsafe { sys::rte_eth_dev_info_get(self.id, &mut info) };
        if rc != 0 {
            return Err(self.fail("rte_eth_dev_info_get", rc));
        }
        if cfg.rx_queues > info.max_rx_queues || cfg.tx_queues > info.max_tx_queues {
            return Err(DpdkError::Port {
                port: self.id,
                name: self.name.clone(),
                call: "queue count",
                reason: format!(
                    "needs {} rx / {} tx queues, driver {} allows {} / {}",
                    cfg.rx_queues,
                    cfg.tx_queues,
                    info_driver(&info),
                    info.max_rx_queues,
                    info.max_tx_queues
                ),
            });
        }
        let mut conf = sys::rte_eth_conf::default();
        let multi_seg_tx = cfg.multi_seg_tx && info.tx_offload_capa & TX_OFFLOAD_MULTI_SEGS != 0;
        if multi_seg_tx {
            conf.txmode.offloads |= TX_OFFLOAD_MULTI_SEGS;
        }
        if cfg.rx_queues > 1 {
            conf.rxmode.mq_mode = sys::rte_eth_rx_mq_mode_RTE_ETH_MQ_RX_RSS;
            conf.rx_adv_conf.rss_conf.rss_hf =
                (RSS_IPV4 | RSS_NONFRAG_IPV4_TCP | RSS_NONFRAG_IPV4_UDP)
                    & info.flow_type_rss_offloads;
        }
        // SAFETY: conf is a valid, initialised configuration for this port.
        let rc =
            unsafe { sys::rte_eth_dev_configure(self.id, cfg.rx_queues, cfg.tx_queues, &conf) };
        if rc != 0 {
            return Err(self.fail("rte_eth_dev_configure", rc));
        }
        // Ethernet header + CRC around the L3 MTU, as ethdev checks it.
        let frame_len = u32::from(cfg.mtu) + 18;
        if cfg.mtu > info.max_mtu || frame_len > info.max_rx_pktlen {
            // Virtual drivers such as af_packet report the Ethernet default but pass what the
            // kernel interface carries; a real NIC would drop larger frames.
            tracing::warn!(
                "vxswitch: port {} ({}): driver's max frame is {} bytes, below MTU {}; MTU left to the device",
                self.id, self.name, info.max_rx_pktlen, cfg.mtu
            );
        } else {
            // SAFETY: the port is configured and stopped.
            let rc = unsafe { sys::rte_eth_dev_set_mtu(self.id, cfg.mtu) };
            if rc != 0 && rc != -ENOTSUP && rc != -ENOSYS {
                return Err(self.fail("rte_eth_dev_set_mtu", rc));
            }
        }
        // SAFETY: the port id is valid.
        let socket = unsafe { sys::rte_eth_dev_socket_id(self.id) }.max(0) as u32;
        for q in 0..cfg.rx_queues {
            // SAFETY: the queue index is below the configured count; the pool outlives the
            // started port, which borrows it and closes the port on drop; default rxconf.
            let rc = unsafe {
                sys::rte_eth_rx_queue_setup(
                    self.id,
                    q,
                    cfg.rx_desc,
                    socket,
                    std::ptr::null(),
                    pool.as_ptr(),
                )
            };
            if rc != 0 {
                return Err(self.fail("rte_eth_rx_queue_setup", rc));
            }
        }
        for q in 0..cfg.tx_queues {
            // SAFETY: the queue index is below the configured count; default txconf (null).
            let rc = unsafe {
                sys::rte_eth_tx_queue_setup(self.id, q, cfg.tx_desc, socket, std::ptr::null())
            };
            if rc != 0 {
                return Err(self.fail("rte_eth_tx_queue_setup", rc));
            }
        }
        // SAFETY: the port is configured with its queues.
        let rc = unsafe { sys::rte_eth_dev_start(self.id) };
        if rc != 0 {
            return Err(self.fail("rte_eth_dev_start", rc));
        }
        let started = StartedPort {
            port: self,
            multi_seg_tx,
            _pool: PhantomData,
        };
        // SAFETY: the port is started. Some virtual drivers do not support promiscuous
        // mode; they already pass every frame, so the result is not an error.
        unsafe { sys::rte_eth_promiscuous_enable(self.id) };
        if info_driver(&info) == AF_PACKET {
            let n = started.discard_stale(cfg.rx_queues);
            if n > 0 {
                tracing::info!(
                    "vxswitch: port {} ({}): discarded {n} frame(s) queued before it started (af_packet sees every link until bound)",
                    self.id, self.name
                );
            }
        }
        Ok(started)
    }

    fn info(&self) -> Option<sys::rte_eth_dev_info> {
        let mut info = sys::rte_eth_dev_info::default();
        // SAFETY: info is a valid out-struct for this port id.
        (unsafe { sys::rte_eth_dev_info_get(self.id, &mut info) } == 0).then_some(info)
    }

    /// The driver's name, e.g. `net_af_packet` or `net_vhost`.
    pub fn driver(&self) -> String {
        match self.info() {
            Some(info) => info_driver(&info),
            None => "?".into(),
        }
    }

    /// The most RX and TX queues the driver gives this port (at least 1 each).
    pub fn max_queues(&self) -> (u16, u16) {
        self.info()
            .map_or((1, 1), |i| (i.max_rx_queues.max(1), i.max_tx_queues.max(1)))
    }

    /// The port's own MAC address.
    pub fn mac(&self) -> MacAddr {
        let mut a = sys::rte_ether_addr::default();
        // SAFETY: a is a valid out-struct.
        unsafe { sys::rte_eth_macaddr_get(self.id, &mut a) };
        MacAddr(a.addr_bytes)
    }

    pub fn stats(&self) -> PortStats {
        PortStats::read(self.id)
    }

    /// Link state as the driver reports it, without waiting. (net_af_packet always says
    /// up; `dataplane::link` asks the kernel for those.)
    pub fn link_up(&self) -> bool {
        let mut l = sys::rte_eth_link::default();
        // SAFETY: l is a valid out-struct for this port id.
        let rc = unsafe { sys::rte_eth_link_get_nowait(self.id, &mut l) };
        rc == 0 && l.link_status() != 0
    }
}

/// The driver whose sockets see every interface until bound (see `discard_stale`).
const AF_PACKET: &str = "net_af_packet";

fn info_driver(info: &sys::rte_eth_dev_info) -> String {
    // SAFETY: driver_name is a static C string set by the driver, or null.
    unsafe { opt_cstr(info.driver_name) }
}

/// # Safety
/// `p` must be null or a valid NUL-terminated string.
unsafe fn opt_cstr(p: *const std::os::raw::c_char) -> String {
    if p.is_null() {
        return "?".into();
    }
    // SAFETY: the caller guarantees p is a valid C string.
    unsafe { std::ffi::CStr::from_ptr(p) }
        .to_string_lossy()
        .into_owned()
}
