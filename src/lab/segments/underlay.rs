//! The routed underlay of the segments lab: namespaces, the segments' switches (IGMP
//! snooping with a querier), the router with smcroute, the hypervisors with their VMs and
//! management links, and the Linux kernel VTEP in the group.

use super::{SegmentsLab, GROUP, HOSTS, KERNEL};
use crate::lab::process::Process;
use crate::lab::sh::{self, LabError};
use crate::lab::topology::{controller_ip, Hypervisor, Mtu};
use crate::lab::VNI;
use std::process::Command;
use std::time::Duration;

impl SegmentsLab {
    pub(super) fn build(&mut self, prefix: &str) -> Result<(), LabError> {
        let (r, c) = (self.router_ns.clone(), self.controller_ns.clone());
        for ns in [&r, &c, &self.switch_ns[0], &self.switch_ns[1]] {
            self.namespaces.add(ns)?;
        }
        // The management network: a bridge in the controller's namespace.
        sh::in_ns(&c, &["ip", "link", "add", "mg", "type", "bridge"])?;
        sh::in_ns(
            &c,
            &[
                "ip",
                "addr",
                "add",
                &format!("{}/24", controller_ip(0)),
                "dev",
                "mg",
            ],
        )?;
        sh::in_ns(&c, &["ip", "link", "set", "mg", "up"])?;
        sh::in_ns(&r, &["sysctl", "-qw", "net.ipv4.ip_forward=1"])?;
        for (k, sw) in self.switch_ns.clone().iter().enumerate() {
            // The segment's switch: IGMP snooping with a querier, as a datacenter ToR.
            sh::in_ns(
                sw,
                &[
                    "ip",
                    "link",
                    "add",
                    "br0",
                    "type",
                    "bridge",
                    "mcast_snooping",
                    "1",
                    "mcast_querier",
                    "1",
                ],
            )?;
            let dev = format!("r{k}");
            let gw = format!("192.168.{}.1/24", 250 + k);
            sh::veth((&r, &dev, None), (sw, "rt"), Mtu::STANDARD.underlay)?;
            sh::in_ns(sw, &["ip", "link", "set", "rt", "master", "br0", "up"])?;
            // The router's port gets the segment's multicast (it routes the group).
            sh::in_ns(
                sw,
                &["bridge", "link", "set", "dev", "rt", "mcast_router", "2"],
            )?;
            sh::in_ns(&r, &["ip", "addr", "add", &gw, "dev", &dev])?;
            sh::in_ns(&r, &["ip", "link", "set", &dev, "up"])?;
            sh::in_ns(sw, &["ip", "link", "set", "br0", "up"])?;
        }
        for (i, (vtep, gw, vm_ip)) in HOSTS.iter().enumerate() {
            let n = i + 1;
            let hv = Hypervisor {
                ns: format!("{prefix}-hv{n}"),
                vtep_ip: vtep,
                gateway: gw,
                vm_port: format!("vm{n}"),
                mtu: Mtu::STANDARD,
                copy_replicas: false,
                workers: 1,
                extra_port: None,
            };
            let vm = format!("{prefix}-vm{n}");
            self.namespaces.add(&hv.ns)?;
            self.namespaces.add(&vm)?;
            let sw = &self.switch_ns[usize::from(!vtep.starts_with("192.168.250."))];
            let port = format!("hv{n}");
            sh::veth((&hv.ns, "up0", None), (sw, &port), Mtu::STANDARD.underlay)?;
            sh::in_ns(sw, &["ip", "link", "set", &port, "master", "br0", "up"])?;
            sh::in_ns(&hv.ns, &["ip", "link", "set", "up0", "up"])?;
            sh::veth((&hv.ns, "mgmt0", None), (&c, &format!("m{n}")), 1500)?;
            sh::in_ns(
                &c,
                &["ip", "link", "set", &format!("m{n}"), "master", "mg", "up"],
            )?;
            sh::in_ns(
                &hv.ns,
                &[
                    "ip",
                    "addr",
                    "add",
                    &format!("192.168.110.{}/24", 50 + n),
                    "dev",
                    "mgmt0",
                ],
            )?;
            sh::in_ns(&hv.ns, &["ip", "link", "set", "mgmt0", "up"])?;
            let mac = format!("02:00:00:10:00:{n:02x}");
            sh::veth((&vm, "eth0", Some(&mac)), (&hv.ns, &hv.vm_port), 1500)?;
            sh::in_ns(&hv.ns, &["ip", "link", "set", &hv.vm_port, "up"])?;
            sh::in_ns(
                &vm,
                &["ip", "addr", "add", &format!("{vm_ip}/24"), "dev", "eth0"],
            )?;
            self.hvs.push(hv);
            self.vms.push(vm);
        }
        self.kernel_vtep(prefix)?;
        self.smcroute = Some(self.start_smcroute()?);
        Ok(())
    }

    /// A Linux kernel VTEP on segment 2 in VNI 5001's group: `vxlan0 group 239.1.1.1`
    /// bridged to its VM, as a Linux host without vxswitch would be set up.
    fn kernel_vtep(&mut self, prefix: &str) -> Result<(), LabError> {
        let (kv, vm) = (format!("{prefix}-kv"), format!("{prefix}-kvm"));
        self.namespaces.add(&kv)?;
        self.namespaces.add(&vm)?;
        sh::veth(
            (&kv, "up0", None),
            (&self.switch_ns[1], "kv"),
            Mtu::STANDARD.underlay,
        )?;
        sh::in_ns(
            &self.switch_ns[1],
            &["ip", "link", "set", "kv", "master", "br0", "up"],
        )?;
        let vni = VNI.to_string();
        for cmd in [
            vec!["ip", "addr", "add", "192.168.251.70/24", "dev", "up0"],
            vec!["ip", "link", "set", "up0", "up"],
            vec!["ip", "route", "add", "default", "via", "192.168.251.1"],
            // As a NIC would: whole, checksummed frames on the wire.
            vec![
                "ethtool", "-K", "up0", "tx", "off", "tso", "off", "gso", "off",
            ],
            vec![
                "ip", "link", "add", "vxlan0", "type", "vxlan", "id", &vni, "group", GROUP, "dev",
                "up0", "dstport", "4789", "ttl", "16", "local", KERNEL.0,
            ],
            vec!["ip", "link", "add", "br0", "type", "bridge"],
            vec!["ip", "link", "set", "vxlan0", "master", "br0", "up"],
        ] {
            sh::in_ns(&kv, &cmd)?;
        }
        sh::veth((&vm, "eth0", Some("02:00:00:10:00:70")), (&kv, "vm"), 1500)?;
        sh::in_ns(&kv, &["ip", "link", "set", "vm", "master", "br0", "up"])?;
        sh::in_ns(&kv, &["ip", "link", "set", "br0", "up"])?;
        sh::in_ns(
            &vm,
            &[
                "ip",
                "addr",
                "add",
                &format!("{}/24", KERNEL.1),
                "dev",
                "eth0",
            ],
        )?;
        sh::in_ns(&vm, &["ip", "link", "set", "eth0", "up"])?;
        self.kernel_vm = vm;
        Ok(())
    }

    /// smcroute in the router: the group is routed both ways between the segments.
    fn start_smcroute(&self) -> Result<Process, LabError> {
        let conf = self.dir.join("smcroute.conf");
        let text = format!(
            "phyint r0 enable\nphyint r1 enable\nmroute from r0 group {GROUP} to r1\nmroute from r1 group {GROUP} to r0\n"
        );
        std::fs::write(&conf, text)
            .map_err(|e| LabError::Step(format!("{}: {e}", conf.display())))?;
        let ident = format!("vxs-{}", self.router_ns);
        let mut cmd = Command::new("ip");
        cmd.args([
            "netns",
            "exec",
            &self.router_ns,
            "smcrouted",
            "-n",
            "-N",
            "-l",
            "info",
            "-i",
            &ident,
            "-f",
        ])
        .arg(&conf)
        .arg("-u")
        .arg(self.dir.join("smcroute.sock"))
        .arg("-P")
        .arg(self.dir.join("smcroute.pid"));
        // (*,G) routes are installed on the group's first packet; ready means configured.
        let mut p = Process::spawn("smcroute", cmd, &self.dir.join("smcroute.log"))?;
        p.wait_for("Ready", 1, Duration::from_secs(10))?;
        Ok(p)
    }
}
