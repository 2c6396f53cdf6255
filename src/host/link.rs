//! Which VM ports are up: a VM port coming up is a VM powering on (STEP1), so the host
//! joins the port's VNI. The driver's link state is used, except for net_af_packet, whose
//! driver always reports up: there the kernel interface's carrier is the truth (a veth has
//! carrier only while its peer, the VM's interface, is up).

use crate::ids::Vni;
use crate::tables::PortIdx;
use std::path::PathBuf;

pub struct LinkWatch {
    ports: Vec<Watched>,
}

struct Watched {
    port: PortIdx,
    vni: Vni,
    /// /sys/class/net/<iface>/carrier for af_packet ports.
    carrier: Option<PathBuf>,
    up: bool,
}

/// The `iface=` of `device`'s `--vdev` argument, for net_af_packet devices.
pub fn af_packet_iface(eal_args: &[String], device: &str) -> Option<String> {
    if !device.starts_with("net_af_packet") {
        return None;
    }
    crate::config::vdev_arg(eal_args, device, "iface").map(str::to_string)
}

impl LinkWatch {
    /// `ports`: (port, VNI, af_packet interface if any) of every VM port; all start down.
    pub fn new(ports: Vec<(PortIdx, Vni, Option<String>)>) -> LinkWatch {
        LinkWatch {
            ports: ports
                .into_iter()
                .map(|(port, vni, iface)| Watched {
                    port,
                    vni,
                    carrier: iface.map(|i| PathBuf::from(format!("/sys/class/net/{i}/carrier"))),
                    up: false,
                })
                .collect(),
        }
    }

    /// Reads every port's state; returns the (VNI, up) transitions.
    pub fn poll(&mut self, driver_up: impl Fn(PortIdx) -> bool) -> Vec<(Vni, bool)> {
        let mut changes = Vec::new();
        for w in &mut self.ports {
            let up = match &w.carrier {
                Some(p) => std::fs::read_to_string(p).is_ok_and(|s| s.trim() == "1"),
                None => driver_up(w.port),
            };
            if up != w.up {
                w.up = up;
                changes.push((w.vni, up));
            }
        }
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    const V5001: crate::ids::Vni = crate::ids::Vni::from_const(5001);

    #[test]
    fn finds_the_af_packet_interface() {
        let args: Vec<String> = [
            "--vdev",
            "net_af_packet0,iface=up0",
            "--vdev",
            "net_af_packet1,qpairs=1,iface=vm1",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            af_packet_iface(&args, "net_af_packet1").as_deref(),
            Some("vm1")
        );
        assert_eq!(
            af_packet_iface(&args, "net_af_packet0").as_deref(),
            Some("up0")
        );
        assert_eq!(af_packet_iface(&args, "net_pcap0"), None);
    }

    #[test]
    fn reports_transitions_only() {
        let mut w = LinkWatch::new(vec![(1, V5001, None), (2, V5001, None)]);
        let v = Vni::from_const(5001);
        assert_eq!(w.poll(|_| true), vec![(v, true), (v, true)]);
        assert!(w.poll(|_| true).is_empty());
        assert_eq!(w.poll(|p| p == 1), vec![(v, false)]);
    }
}
