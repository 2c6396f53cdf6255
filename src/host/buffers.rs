//! Mbuf pools and what each port needs of them, decided before any port starts: the
//! standard pool (2 KiB frames, every port whose frames fit) and, when a port's frames do
//! not fit (a jumbo MTU, af_packet ring slots sized for 64 KiB GSO frames), a large pool
//! sized for the largest. Each pool is checked against the mbufs the ports' descriptors can
//! hold, so that a port never starves for buffers at full load.

use crate::api::host::GuestOffloads;
use crate::config::Config;
use crate::dpdk::BURST_SIZE;

/// Frame bytes of a standard mbuf (behind DPDK's 128-byte headroom).
pub const STD_ROOM: u32 = 2048;
/// DPDK's RTE_PKTMBUF_HEADROOM, in front of every mbuf's data.
pub const HEADROOM: u32 = 128;
/// Per-lcore cache of each pool.
pub const POOL_CACHE: u32 = 256;
/// Bytes of an af_packet ring slot (`framesz`) the PMD keeps for its own header
/// (TPACKET2_HDRLEN minus the sockaddr_ll): the rest must fit one mbuf.
const AF_PACKET_SLOT_HEADER: u32 = 32;
const AF_PACKET_DEFAULT_FRAMESZ: u32 = 2048;
const AF_PACKET_DEFAULT_BLOCKSZ: u32 = 4096;
/// Ethernet header, two VLAN tags and the CRC around an MTU, as NIC drivers count a frame.
const L2_OVERHEAD: u32 = 26;
/// An untagged frame's header over its MTU, as a kernel interface passes it.
const ETHERNET_HEADER: u32 = 14;

/// The af_packet PMD: kernel-backed ports, whose ring slots bound their frames.
pub const AF_PACKET: &str = "net_af_packet";
/// The vhost-user PMD: completes a guest's partial checksums itself when the port asks for
/// no RX checksum offload (its default with compliant offload flags).
const VHOST: &str = "net_vhost";

/// Drivers that copy frames in and out of their own memory: RX takes an mbuf per frame
/// and TX frees it at once, so their descriptors hold no mbufs.
const COPYING_DRIVERS: &[&str] = &[
    AF_PACKET,
    "net_pcap",
    "net_null",
    "net_tap",
    VHOST,
    "net_memif",
];

/// A port as the pool plan sees it.
#[derive(Debug, Clone)]
pub struct PortNeeds {
    /// The config key that sets the port up (`uplink`, `access_port[0]`).
    pub key: String,
    pub device: String,
    pub driver: String,
    pub mtu: u16,
    pub rx_queues: u16,
    pub tx_queues: u16,
}

impl PortNeeds {
    /// Frame bytes one RX mbuf of this port must hold.
    pub fn rx_room(&self, cfg: &Config) -> Result<u32, String> {
        if self.driver == AF_PACKET {
            let arg = |key: &str, default: u32| match cfg.vdev_arg(&self.device, key) {
                None => Ok(default),
                Some(v) => v
                    .parse::<u32>()
                    .map_err(|_| format!("eal.args: {key}={v} of {} is not a number", self.device)),
            };
            let framesz = arg("framesz", AF_PACKET_DEFAULT_FRAMESZ)?;
            let blocksz = arg("blocksz", AF_PACKET_DEFAULT_BLOCKSZ)?;
            // The PMD reads slot i at i * framesz: a block must hold whole slots only.
            if framesz == 0 || blocksz % framesz != 0 {
                return Err(format!(
                    "eal.args: {}: blocksz={blocksz} is not a multiple of framesz={framesz} (the af_packet PMD reads slots at framesz strides; for 64 KiB GSO frames use framesz=65408,blocksz=2093056)",
                    self.device
                ));
            }
            let room = framesz.saturating_sub(AF_PACKET_SLOT_HEADER);
            // The kernel cuts a frame to its slot: an MTU-sized frame must fit whole.
            let frame = u32::from(self.mtu) + ETHERNET_HEADER;
            if room < frame {
                return Err(format!(
                    "{}: mtu {} needs {frame}-byte frames, but {}'s af_packet slots hold {room} (framesz={framesz}): raise framesz to at least {} in eal.args",
                    self.key,
                    self.mtu,
                    self.device,
                    frame + AF_PACKET_SLOT_HEADER
                ));
            }
            return Ok(room);
        }
        Ok(u32::from(self.mtu) + L2_OVERHEAD)
    }

    /// A VM port on a kernel interface: its frames may need the NIC work a guest left
    /// undone (`dataplane::offload`).
    pub fn is_kernel_backed(&self) -> bool {
        self.driver == AF_PACKET
    }

    /// Whether `workers` workers share its TX queues (fewer queues than workers).
    pub fn shares_tx(&self, workers: u16) -> bool {
        self.tx_queues < workers
    }

    /// Who finishes a VM's partial checksums and TSO frames on this port (`access`: a VM
    /// port, not the uplink).
    pub fn guest_offloads(&self, access: bool) -> GuestOffloads {
        match (access, self.driver.as_str()) {
            (false, _) => GuestOffloads::NotAVmPort,
            _ if self.is_kernel_backed() => GuestOffloads::Switch,
            (true, VHOST) => GuestOffloads::Driver,
            (true, _) => GuestOffloads::None,
        }
    }

    fn holds_mbufs(&self) -> bool {
        !COPYING_DRIVERS.contains(&self.driver.as_str())
    }
}

/// Which pool each port receives into, and the pools' sizes.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolPlan {
    /// Frame bytes of a large mbuf, when some port needs them.
    pub large_room: Option<u32>,
    /// Per port (in the order given): receives into the large pool.
    pub rx_large: Vec<bool>,
}

/// Plans the pools for `ports` served by `workers` workers; the error names the key to
/// change.
pub fn plan(cfg: &Config, ports: &[PortNeeds], workers: u32) -> Result<PoolPlan, String> {
    let mut rooms = Vec::with_capacity(ports.len());
    for p in ports {
        let room = p.rx_room(cfg)?;
        if room + HEADROOM > u32::from(u16::MAX) {
            return Err(format!(
                "{}: frames of {room} bytes do not fit one mbuf (at most {}): lower the MTU or the af_packet framesz",
                p.key,
                u32::from(u16::MAX) - HEADROOM
            ));
        }
        rooms.push(room);
    }
    let rx_large: Vec<bool> = rooms.iter().map(|&r| r > STD_ROOM).collect();
    let large_room = rooms.iter().copied().filter(|&r| r > STD_ROOM).max();
    check(
        cfg,
        ports,
        workers,
        &rx_large,
        false,
        cfg.mbufs,
        "dataplane.mbufs",
    )?;
    if large_room.is_some() {
        check(
            cfg,
            ports,
            workers,
            &rx_large,
            true,
            cfg.large_mbufs,
            "dataplane.large_mbufs",
        )?;
    }
    Ok(PoolPlan {
        large_room,
        rx_large,
    })
}

/// The mbufs a pool must have: the RX descriptors of the ports receiving into it, every
/// port's TX descriptors (any frame may leave on any port), and what each worker keeps in
/// flight (a burst, its TX buffers, its header stash and the pool's per-lcore cache).
fn check(
    cfg: &Config,
    ports: &[PortNeeds],
    workers: u32,
    rx_large: &[bool],
    large: bool,
    have: u32,
    key: &str,
) -> Result<(), String> {
    let burst = BURST_SIZE as u32;
    let rx: u32 = ports
        .iter()
        .zip(rx_large)
        .filter(|(p, &l)| l == large && p.holds_mbufs())
        .map(|(p, _)| u32::from(cfg.rx_desc) * u32::from(p.rx_queues))
        .sum();
    let tx: u32 = ports
        .iter()
        .filter(|p| p.holds_mbufs())
        .map(|p| u32::from(cfg.tx_desc) * u32::from(p.tx_queues))
        .sum();
    let in_flight = workers * (burst * (3 + ports.len() as u32) + POOL_CACHE);
    let need = rx + tx + in_flight;
    if have < need {
        return Err(format!(
            "{key}: {have} mbufs cannot cover the ports' RX descriptors ({rx}), TX descriptors ({tx}) and what {workers} worker(s) keep in flight ({in_flight}): at least {need}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(extra_eal: &str, dataplane: &str) -> Config {
        Config::parse(&format!(
            r#"
[eal]
args = ["--vdev", "net_af_packet1,iface=vm1{extra_eal}"]
[dataplane]
{dataplane}
[vtep]
ip = "192.168.250.51/24"
mtu = 9100
[uplink]
device = "0000:01:00.0"
[[access_port]]
name = "vm"
device = "net_af_packet1"
vni = 5001
"#
        ))
        .unwrap()
    }

    fn ports(uplink_mtu: u16) -> Vec<PortNeeds> {
        vec![
            PortNeeds {
                key: "uplink".into(),
                device: "0000:01:00.0".into(),
                driver: "net_ice".into(),
                mtu: uplink_mtu,
                rx_queues: 1,
                tx_queues: 1,
            },
            PortNeeds {
                key: "access_port[0]".into(),
                device: "net_af_packet1".into(),
                driver: "net_af_packet".into(),
                mtu: 1500,
                rx_queues: 1,
                tx_queues: 1,
            },
        ]
    }

    #[test]
    fn standard_frames_need_no_large_pool() {
        let c = cfg("", "");
        let p = plan(&c, &ports(1600), 1).unwrap();
        assert_eq!(p.large_room, None);
        assert_eq!(p.rx_large, vec![false, false]);
    }

    #[test]
    fn jumbo_uplink_and_large_af_packet_slots_use_the_large_pool() {
        let c = cfg(",framesz=65408,blocksz=2093056", "");
        let p = plan(&c, &ports(9100), 1).unwrap();
        assert_eq!(p.rx_large, vec![true, true]);
        assert_eq!(p.large_room, Some(65408 - 32));
    }

    #[test]
    fn pools_too_small_for_the_descriptors_are_refused_by_key() {
        // NIC uplink: 1024 RX + 1024 TX descriptors hold mbufs; the af_packet port none.
        let c = cfg("", "mbufs = 2048");
        let e = plan(&c, &ports(1600), 1).unwrap_err();
        assert!(e.starts_with("dataplane.mbufs: 2048 mbufs"), "{e}");
        assert!(e.contains("at least 2464"), "{e}");
        let c = cfg(",framesz=65408,blocksz=2093056", "large_mbufs = 1024");
        let e = plan(&c, &ports(9100), 1).unwrap_err();
        assert!(e.starts_with("dataplane.large_mbufs"), "{e}");
    }

    #[test]
    fn slots_larger_than_an_mbuf_are_refused() {
        let c = cfg(",framesz=131072,blocksz=131072", "");
        let e = plan(&c, &ports(1600), 1).unwrap_err();
        assert!(e.starts_with("access_port[0]: frames of"), "{e}");
        let c = cfg(",framesz=65424,blocksz=65536", "");
        let e = plan(&c, &ports(1600), 1).unwrap_err();
        assert!(e.contains("not a multiple of framesz"), "{e}");
        let mut jumbo_vm = ports(9100);
        jumbo_vm[1].mtu = 9000;
        let c = cfg(",framesz=4096,blocksz=4096", "");
        let e = plan(&c, &jumbo_vm, 1).unwrap_err();
        assert!(
            e.starts_with("access_port[0]: mtu 9000") && e.contains("at least 9046"),
            "{e}"
        );
        let c = cfg(",framesz=big", "");
        assert!(plan(&c, &ports(1600), 1)
            .unwrap_err()
            .contains("not a number"));
    }
}
