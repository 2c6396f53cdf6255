//! The source document's topology in network namespaces: VMs, hypervisors and an underlay
//! bridge, every name carrying the lab's prefix so that several labs can run at once.
//! Everything is removed on drop, also after an error (`sh::Namespaces`).

use super::sh::{self, LabError};

/// One VM: a namespace with `eth0` whose peer is a port in its hypervisor's namespace.
#[derive(Clone, Debug)]
pub struct Vm {
    pub ns: String,
    pub ip: &'static str,
    pub mac: &'static str,
}

/// One hypervisor: a namespace holding the VM-facing veth and the uplink veth `up0`.
#[derive(Clone, Debug)]
pub struct Hypervisor {
    pub ns: String,
    pub vtep_ip: &'static str,
    /// The VTEP's default gateway on its /24 segment.
    pub gateway: &'static str,
    /// The VM-facing interface name inside the hypervisor namespace.
    pub vm_port: String,
    /// Its links' MTUs.
    pub mtu: Mtu,
    /// vxswitch copies flood replicas instead of chaining them (`uplink.multi_segment`).
    pub copy_replicas: bool,
    /// vxswitch's worker count (its single-queue af_packet ports then share TX queues).
    pub workers: usize,
    /// A second VM port (VM C's), when the lab has one here.
    pub extra_port: Option<String>,
}

pub struct Topology {
    pub prefix: String,
    pub underlay_ns: String,
    /// The controllers' namespaces on the management network (controller i at
    /// `controller_ip(i)`).
    pub controller_ns: Vec<String>,
    pub vms: Vec<Vm>,
    pub hvs: Vec<Hypervisor>,
    namespaces: sh::Namespaces,
}

/// The underlay segment and its bridge address.
pub const SEGMENT_PREFIX: u8 = 24;
pub const UNDERLAY_GW: &str = "192.168.250.1";
/// Controller `i`'s address on the management network (hosts' agents <-> controllers,
/// apart from the underlay): 192.168.110.201, .202, .203 as in the source document.
pub fn controller_ip(i: usize) -> String {
    format!("192.168.110.{}", 201 + i)
}

/// Controller `i`'s address on the cluster network, where the etcd members talk (apart from
/// the hosts' sessions, so that a controller can be cut off its cluster and not its hosts).
pub fn cluster_ip(i: usize) -> String {
    format!("192.168.111.{}", 201 + i)
}

/// VM C: powered on during the failover demo, behind hypervisor 2.
pub const VM_C: (&str, &str) = ("172.16.10.13", "02:cc:cc:cc:cc:cc");

/// The MTUs of the underlay links and of the VMs' links: the underlay carries a VM's
/// largest frame plus VXLAN's 50 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mtu {
    pub underlay: u16,
    pub vm: u16,
}

impl Mtu {
    /// The source document's: a 1600-byte underlay under 1500-byte VMs.
    pub const STANDARD: Mtu = Mtu {
        underlay: 1600,
        vm: 1500,
    };
    /// Jumbo frames: 9000-byte VMs over a 9100-byte underlay.
    pub const JUMBO: Mtu = Mtu {
        underlay: 9100,
        vm: 9000,
    };
}

/// How the lab starts.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// VMs' interfaces up at once (else they stay down until `power_on`).
    pub vms_on: bool,
    /// Controllers on a management network (0: none).
    pub controllers: usize,
    pub mtu: Mtu,
    /// VM C on hypervisor 2 (a second VM port there), powered off.
    pub vm_c: bool,
}

impl Topology {
    /// Builds: underlay namespace with bridge br0 (192.168.250.1/24); per hypervisor a
    /// namespace with `up0` bridged into the underlay; per VM a namespace with eth0
    /// (address, MAC) linked to its hypervisor; links at `opts.mtu`.
    pub fn build(
        prefix: &str,
        pairs: &[(&'static str, &'static str, &'static str)],
        opts: Options,
    ) -> Result<Topology, LabError> {
        let mut t = Topology {
            prefix: prefix.to_owned(),
            underlay_ns: format!("{prefix}-ul"),
            controller_ns: Vec::new(),
            vms: Vec::new(),
            hvs: Vec::new(),
            namespaces: sh::Namespaces::default(),
        };
        t.add_ns(&t.underlay_ns.clone())?;
        let ul = t.underlay_ns.clone();
        sh::in_ns(&ul, &["ip", "link", "add", "br0", "type", "bridge"])?;
        sh::in_ns(
            &ul,
            &[
                "ip",
                "addr",
                "add",
                &format!("{UNDERLAY_GW}/{SEGMENT_PREFIX}"),
                "dev",
                "br0",
            ],
        )?;
        for (i, (vtep_ip, vm_ip, vm_mac)) in pairs.iter().enumerate() {
            let n = i + 1;
            let hv = Hypervisor {
                ns: format!("{prefix}-hv{n}"),
                vtep_ip,
                gateway: UNDERLAY_GW,
                vm_port: format!("vm{n}"),
                mtu: opts.mtu,
                copy_replicas: false,
                workers: 1,
                extra_port: None,
            };
            let vm = Vm {
                ns: format!("{prefix}-vm{n}"),
                ip: vm_ip,
                mac: vm_mac,
            };
            t.add_ns(&hv.ns)?;
            t.add_ns(&vm.ns)?;
            let ul_port = format!("hv{n}");
            sh::veth((&hv.ns, "up0", None), (&ul, &ul_port), opts.mtu.underlay)?;
            sh::in_ns(&ul, &["ip", "link", "set", &ul_port, "master", "br0", "up"])?;
            sh::in_ns(&hv.ns, &["ip", "link", "set", "up0", "up"])?;
            sh::veth(
                (&vm.ns, "eth0", Some(vm_mac)),
                (&hv.ns, &hv.vm_port),
                opts.mtu.vm,
            )?;
            sh::in_ns(&hv.ns, &["ip", "link", "set", &hv.vm_port, "up"])?;
            sh::in_ns(
                &vm.ns,
                &["ip", "addr", "add", &format!("{vm_ip}/24"), "dev", "eth0"],
            )?;
            // A VM announces itself with a gratuitous ARP when its interface comes up.
            sh::in_ns(
                &vm.ns,
                &["sysctl", "-qw", "net.ipv4.conf.eth0.arp_notify=1"],
            )?;
            if opts.vms_on {
                sh::in_ns(&vm.ns, &["ip", "link", "set", "eth0", "up"])?;
            }
            t.hvs.push(hv);
            t.vms.push(vm);
        }
        if opts.vm_c && t.hvs.len() >= 2 {
            t.add_vm_c(opts.mtu)?;
        }
        sh::in_ns(&ul, &["ip", "link", "set", "br0", "up"])?;
        if opts.controllers > 0 {
            t.management(opts.controllers)?;
        }
        Ok(t)
    }

    /// VM C behind hypervisor 2, on its port `vmc` (the VM's interface stays down).
    fn add_vm_c(&mut self, mtu: Mtu) -> Result<(), LabError> {
        let vm = Vm {
            ns: format!("{}-vmc", self.prefix),
            ip: VM_C.0,
            mac: VM_C.1,
        };
        self.add_ns(&vm.ns)?;
        let hv = &mut self.hvs[1];
        sh::veth((&vm.ns, "eth0", Some(vm.mac)), (&hv.ns, "vmc"), mtu.vm)?;
        sh::in_ns(&hv.ns, &["ip", "link", "set", "vmc", "up"])?;
        sh::in_ns(
            &vm.ns,
            &["ip", "addr", "add", &format!("{}/24", vm.ip), "dev", "eth0"],
        )?;
        sh::in_ns(
            &vm.ns,
            &["sysctl", "-qw", "net.ipv4.conf.eth0.arp_notify=1"],
        )?;
        hv.extra_port = Some("vmc".into());
        self.vms.push(vm);
        Ok(())
    }

    /// Bridge br1 in the underlay namespace as the management network: controller i's
    /// namespace at `controller_ip(i)`, each hypervisor's `mgmt0` at 192.168.110.5N.
    fn management(&mut self, controllers: usize) -> Result<(), LabError> {
        let ul = self.underlay_ns.clone();
        sh::in_ns(&ul, &["ip", "link", "add", "br1", "type", "bridge"])?;
        sh::in_ns(&ul, &["ip", "link", "set", "br1", "up"])?;
        let mut ends = Vec::new();
        for i in 0..controllers {
            let ns = format!("{}-c{}", self.prefix, i + 1);
            self.add_ns(&ns)?;
            ends.push((
                ns.clone(),
                "eth0".to_string(),
                format!("{}/24", controller_ip(i)),
                format!("c{}", i + 1),
            ));
            self.controller_ns.push(ns);
        }
        for (i, hv) in self.hvs.iter().enumerate() {
            ends.push((
                hv.ns.clone(),
                "mgmt0".into(),
                format!("192.168.110.{}/24", 51 + i),
                format!("m{}", i + 1),
            ));
        }
        for (ns, dev, addr, peer) in ends {
            sh::veth((&ns, &dev, None), (&ul, &peer), 1500)?;
            sh::in_ns(&ul, &["ip", "link", "set", &peer, "master", "br1", "up"])?;
            sh::in_ns(&ns, &["ip", "addr", "add", &addr, "dev", &dev])?;
            sh::in_ns(&ns, &["ip", "link", "set", &dev, "up"])?;
        }
        if controllers > 1 {
            self.cluster_network()?;
        }
        Ok(())
    }

    /// Bridge br2 in the underlay namespace as the controllers' cluster network: controller
    /// i's `eth1` at `cluster_ip(i)`.
    fn cluster_network(&mut self) -> Result<(), LabError> {
        let ul = self.underlay_ns.clone();
        sh::in_ns(&ul, &["ip", "link", "add", "br2", "type", "bridge"])?;
        sh::in_ns(&ul, &["ip", "link", "set", "br2", "up"])?;
        for (i, ns) in self.controller_ns.iter().enumerate() {
            let peer = format!("k{}", i + 1);
            sh::veth((ns, "eth1", None), (&ul, &peer), 1500)?;
            sh::in_ns(&ul, &["ip", "link", "set", &peer, "master", "br2", "up"])?;
            let addr = format!("{}/24", cluster_ip(i));
            sh::in_ns(ns, &["ip", "addr", "add", &addr, "dev", "eth1"])?;
            sh::in_ns(ns, &["ip", "link", "set", "eth1", "up"])?;
        }
        Ok(())
    }

    /// Cuts controller i off the cluster network (its etcd member and client lose the other
    /// members; its hosts still reach it), or connects it again.
    pub fn isolate_controller(&self, i: usize, cut: bool) -> Result<(), LabError> {
        let state = if cut { "down" } else { "up" };
        let port = format!("k{}", i + 1);
        sh::in_ns(&self.underlay_ns, &["ip", "link", "set", &port, state]).map(|_| ())
    }

    /// Powers VM `i` on (VM C is the last VM): its interface comes up (and it announces
    /// itself by GARP).
    pub fn power_on(&self, i: usize) -> Result<(), LabError> {
        sh::in_ns(&self.vms[i].ns, &["ip", "link", "set", "eth0", "up"]).map(|_| ())
    }

    fn add_ns(&mut self, ns: &str) -> Result<(), LabError> {
        self.namespaces.add(ns)
    }
}
