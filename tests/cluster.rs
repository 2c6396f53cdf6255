//! The controller cluster end to end: three controllers with their etcd members in
//! namespaces, two hosts, VMs A and B (and C). Kill -9 of the VNI's owner while A pings B
//! (no ping lost, tables rebuilt, C reachable, the killed controller back and the slices
//! rebalanced); a controller cut off from its cluster stops owning before another member
//! takes over, and no two controllers ever answer for the VNI in the same instant; an etcd
//! that cannot be reached at start is waited for without owning anything.

mod common;

use common::{require_root, EXE};
use prost::Message;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use vxswitch::api::rest::{ClusterStatus, SwitchSpec};
use vxswitch::auth::TlsFiles;
use vxswitch::lab::failover::{fail_owner, wait_rebalanced};
use vxswitch::lab::{controller_ip, sh, ControlledLab, VM_A, VM_B};
use vxswitch::proto::{
    self, agent_message::Body, controller_message::Body as C, AgentMessage, ControllerMessage,
    ErrorCode,
};

/// A lab with the switch created, A and B on and known to the owner of VNI 5001.
fn started(prefix: &str, vm_c: bool) -> ControlledLab {
    let lab = ControlledLab::start(Path::new(EXE), prefix, 3, vm_c).unwrap();
    lab.wait(
        "sessions",
        Duration::from_secs(30),
        ControlledLab::connected,
    )
    .unwrap();
    let (ok, out) = lab.ctl(&["ls", "create", "--vni", "5001", "--name", "web"]);
    assert!(ok, "{out}");
    lab.topo.power_on(0).unwrap();
    lab.topo.power_on(1).unwrap();
    wait_tables(&lab, "tables complete", Duration::from_secs(30), 2);
    lab
}

/// Waits until the VNI's owner has `n` VTEPs, MACs and ARP bindings; on a timeout, panics
/// with what the owner and both hosts held (failures seen under a loaded full run).
fn wait_tables(lab: &ControlledLab, what: &str, timeout: Duration, n: usize) {
    let done = lab.wait(what, timeout, |l| {
        l.vtep_table().len() == 2 && l.mac_table().len() == n && l.arp_table().len() == n
    });
    if let Err(e) = done {
        panic!(
            "{e}: (owner, in the majority) as each controller says {:?}; vtep-table {:?}; \
             mac-table {:?}; arp-table {:?}; \
             esxi01 macs {:?}, connections {:?}; esxi02 macs {:?}, connections {:?}",
            (0..3)
                .map(|i| (lab.owner_of_vni(i), lab.in_majority(i)))
                .collect::<Vec<_>>(),
            lab.vtep_table(),
            lab.mac_table(),
            lab.arp_table(),
            lab.mac_list(0),
            lab.connections(0),
            lab.mac_list(1),
            lab.connections(1),
        );
    }
}

fn status(lab: &ControlledLab, i: usize) -> Option<ClusterStatus> {
    lab.ctl_view_on(i, &["show", "control-cluster", "status"])
}

#[test]
fn a_killed_owner_loses_no_ping_and_its_slices_come_back_when_it_does() {
    require_root();
    let mut lab = started("vxk", true);
    let f = fail_owner(&mut lab).unwrap();
    f.print();
    assert!(f.meets_goals(), "{f:?}");
    let new_owner = f.new_owner.clone().unwrap();
    assert_ne!(new_owner, f.killed);
    // The killed controller restarts: it joins, the leader rebalances, and whoever owns the
    // VNI afterwards has its tables again from the hosts.
    let k = lab.controller_index(&f.killed).unwrap();
    lab.restart_controller(k).unwrap();
    let s = wait_rebalanced(&lab, Duration::from_secs(30)).unwrap();
    assert_eq!(s.members.len(), 3, "{s:?}");
    wait_tables(
        &lab,
        "tables complete after the rebalance",
        Duration::from_secs(30),
        3,
    );
    let (ok, out) = sh::try_in_ns(&lab.topo.vms[0].ns, &["ping", "-c", "2", "-W", "1", VM_B.1]);
    assert!(ok, "{out}");
    lab.stop();
}

/// What one controller said to an ARP query for the VNI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Said {
    Owner,
    NotOwner,
    Silent,
}

/// A session (mutual TLS, with a certificate of the lab's CA) speaking for a made-up VTEP;
/// answers the next ARP query's reply or refusal.
struct Prober {
    s: rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
}

impl Prober {
    fn connect(addr: &str, vtep: std::net::Ipv4Addr, tls: &TlsFiles) -> Option<Prober> {
        let addr: std::net::SocketAddr = addr.parse().ok()?;
        let sock = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
        sock.set_read_timeout(Some(Duration::from_millis(500)))
            .ok()?;
        sock.set_nodelay(true).ok()?;
        let cfg = vxswitch::auth::client_config(tls).ok()?;
        let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
        let conn = rustls::ClientConnection::new(cfg, name).ok()?;
        let mut s = rustls::StreamOwned::new(conn, sock);
        let hello = AgentMessage::of(Body::Hello(proto::Hello {
            version: proto::PROTOCOL_VERSION,
            host: "prober".into(),
            vtep_ip: proto::ip_u32(vtep),
            vtep_prefix_len: 24,
            vtep_mac: vec![2, 0x99, 0, 0, 0, 1],
        }));
        s.write_all(&proto::encode(&hello)).ok()?;
        Some(Prober { s })
    }

    fn send_query(&mut self) -> bool {
        let q = AgentMessage::of(Body::ArpQuery(proto::ArpQuery {
            vni: 5001,
            ip: u32::from(VM_A.1.parse::<std::net::Ipv4Addr>().unwrap()),
        }));
        self.s.write_all(&proto::encode(&q)).is_ok()
    }

    /// The prober never joins: an owner refuses it as "not joined" (it checks ownership
    /// first), any other member as "not the owner".
    fn answer(&mut self) -> Said {
        loop {
            let mut len = [0u8; 4];
            if self.s.read_exact(&mut len).is_err() {
                return Said::Silent;
            }
            let mut b = vec![0u8; u32::from_be_bytes(len) as usize];
            if self.s.read_exact(&mut b).is_err() {
                return Said::Silent;
            }
            match ControllerMessage::decode(&b[..]).ok().and_then(|m| m.body) {
                Some(C::Error(e)) if e.code == ErrorCode::NotAuthorized as i32 => {
                    return Said::Owner
                }
                Some(C::Error(e)) if e.code == ErrorCode::NotOwner as i32 => return Said::NotOwner,
                _ => {}
            }
        }
    }
}

#[test]
fn an_isolated_controller_stops_owning_before_another_member_takes_over() {
    require_root();
    let mut lab = started("vxi", false);
    let owner = lab.owner_of_vni(0).unwrap();
    let x = lab.controller_index(&owner).unwrap();
    // Every 20 ms the prober asks all three controllers at once (from esxi01's management
    // network) who answers for VNI 5001.
    let stop = Arc::new(AtomicBool::new(false));
    let hv1 = lab.topo.hvs[0].ns.clone();
    let vtep = std::net::Ipv4Addr::new(192, 168, 250, 99);
    let pki = lab.dir.join("pki");
    vxswitch::auth::pki::issue(&pki, "prober", &[vtep.into()]).unwrap();
    let tls = TlsFiles {
        ca: pki.join(vxswitch::auth::pki::CA_CERT),
        cert: pki.join("prober.pem"),
        key: pki.join("prober.key"),
    };
    let prober = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            sh::enter_netns(&hv1).unwrap();
            let mut p: Vec<Prober> = (0..3)
                .map(|i| {
                    Prober::connect(&format!("{}:1234", controller_ip(i)), vtep, &tls).unwrap()
                })
                .collect();
            let t0 = Instant::now();
            let mut rounds: Vec<(Duration, [Said; 3])> = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let sent: Vec<bool> = p.iter_mut().map(Prober::send_query).collect();
                let mut said = [Said::Silent; 3];
                for i in 0..3 {
                    if sent[i] {
                        said[i] = p[i].answer();
                    }
                }
                rounds.push((t0.elapsed(), said));
                std::thread::sleep(Duration::from_millis(20));
            }
            rounds
        })
    };
    std::thread::sleep(Duration::from_secs(1));
    lab.topo.isolate_controller(x, true).unwrap();
    // A survivor takes the VNI over; the hosts re-report to it.
    let survivor = (0..3).find(|&i| i != x).unwrap();
    lab.wait("a survivor owns the VNI", Duration::from_secs(15), |l| {
        l.owner_of_vni(survivor).is_some_and(|o| o != owner)
    })
    .unwrap();
    // Isolating the owner may take the etcd leader with it: leases (2 s) can lapse and the
    // VNI move more than once before it settles; the hosts re-report each time.
    wait_tables(&lab, "tables on the new owner", Duration::from_secs(30), 2);
    let cut_off = status(&lab, x).unwrap();
    assert!(!cut_off.majority, "{cut_off:?}");
    assert_eq!(cut_off.slices_here, 0, "{cut_off:?}");
    let (ok, out) = sh::try_in_ns(&lab.topo.vms[0].ns, &["ping", "-c", "3", "-W", "1", VM_B.1]);
    assert!(ok, "forwarding goes on: {out}");
    // Back on its cluster: it joins again and gets its share.
    lab.topo.isolate_controller(x, false).unwrap();
    wait_rebalanced(&lab, Duration::from_secs(30)).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    let rounds = prober.join().unwrap();

    let owners = |s: &[Said; 3]| s.iter().filter(|x| **x == Said::Owner).count();
    for (t, s) in &rounds {
        assert!(owners(s) <= 1, "two owners at {t:?}: {s:?}");
    }
    let stopped = rounds
        .iter()
        .position(|(_, s)| s[x] == Said::NotOwner)
        .expect("the isolated controller stopped owning");
    let taken = rounds
        .iter()
        .position(|(_, s)| (0..3).any(|i| i != x && s[i] == Said::Owner))
        .expect("another member took the VNI over");
    assert!(
        stopped < taken,
        "stopped at {:?}, taken over at {:?}",
        rounds[stopped].0,
        rounds[taken].0
    );
    let gaps = rounds.iter().filter(|(_, s)| owners(s) == 0).count();
    println!(
        "{} rounds; isolated owner refused from {:?}, survivor answered from {:?}; {gaps} round(s) without an owner",
        rounds.len(),
        rounds[stopped].0,
        rounds[taken].0
    );
    lab.stop();
}

#[test]
fn an_unreachable_etcd_is_waited_for_and_bad_endpoints_are_refused() {
    require_root();
    let dir = common::test_dir("cluster-no-etcd");
    let bad = format!(
        "[controller]\nid = \"c1\"\nlisten = \"127.0.0.1:21240\"\napi = \"127.0.0.1:28090\"\nstate_dir = \"{}\"\ninsecure = true\n[cluster]\netcd = [\"127.0.0.1:2379\"]\n",
        dir.display()
    );
    let cfg = dir.join("bad.toml");
    std::fs::write(&cfg, &bad).unwrap();
    let out = std::process::Command::new(EXE)
        .args(["controller", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("cluster.etcd[0]"),
        "{err}"
    );
    // Nobody listens on 127.0.0.1:1 (port 1): the controller serves its API, owns nothing,
    // says why, and keeps trying.
    let cfg = dir.join("down.toml");
    std::fs::write(
        &cfg,
        bad.replace("\"127.0.0.1:2379\"", "\"http://127.0.0.1:1\""),
    )
    .unwrap();
    let cfg = cfg.display().to_string();
    let mut d = common::Daemon::spawn_args(&["controller", "--config", &cfg], "controller ready");
    let start = Instant::now();
    while !d.output().contains("not a cluster member") && start.elapsed() < Duration::from_secs(15)
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        d.output().contains("not a cluster member"),
        "{}",
        d.output()
    );
    let s: ClusterStatus = vxswitch::api::RestClient::new("http://127.0.0.1:28090")
        .cluster_status()
        .unwrap();
    assert!(
        !s.majority && s.slices_here == 0 && s.error.is_some(),
        "{s:?}"
    );
    d.stop();
}

#[test]
fn concurrent_updates_through_two_controllers_lose_nothing() {
    require_root();
    let dir = common::test_dir("cluster-updates");
    let mut etcd = {
        let mut cmd = std::process::Command::new("etcd");
        cmd.args(["--name", "t", "--data-dir"])
            .arg(dir.join("etcd"))
            .args(["--listen-client-urls", "http://127.0.0.1:24379"])
            .args(["--advertise-client-urls", "http://127.0.0.1:24379"])
            .args(["--listen-peer-urls", "http://127.0.0.1:24380"])
            .args(["--initial-advertise-peer-urls", "http://127.0.0.1:24380"])
            .args(["--initial-cluster", "t=http://127.0.0.1:24380"]);
        vxswitch::lab::Process::spawn("etcd", cmd, &dir.join("etcd.log")).unwrap()
    };
    etcd.wait_for("ready to serve client requests", 1, Duration::from_secs(30))
        .unwrap();
    let mut ctl = Vec::new();
    for i in 0..2 {
        let cfg = dir.join(format!("c{i}.toml"));
        std::fs::write(
            &cfg,
            format!(
                "[controller]\nid = \"c{i}\"\nlisten = \"127.0.0.1:{}\"\napi = \"127.0.0.1:{}\"\nstate_dir = \"{}\"\ninsecure = true\n[cluster]\netcd = [\"http://127.0.0.1:24379\"]\nprefix = \"/updates\"\n",
                21250 + i,
                28100 + i,
                dir.display()
            ),
        )
        .unwrap();
        let cfg = cfg.display().to_string();
        ctl.push(common::Daemon::spawn_args(
            &["controller", "--config", &cfg],
            "controller ready",
        ));
    }
    let api = |i: usize| vxswitch::api::RestClient::new(&format!("http://127.0.0.1:{}", 28100 + i));
    let vni = vxswitch::ids::Vni::from_const(5001);
    let spec = |f: &dyn Fn(&mut SwitchSpec)| {
        let mut s = SwitchSpec::default();
        f(&mut s);
        s
    };
    api(0).create(&spec(&|s| s.vni = Some(vni))).unwrap();
    // Two operators at once, round after round: one renames the switch through c0, the
    // other flips ARP suppression through c1, both released by one barrier. Each update reads,
    // changes its field and writes only if nobody wrote in between, so after every round
    // both writes are there; a blind write would undo the other one now and then.
    let barrier = Arc::new(std::sync::Barrier::new(3));
    let writer = |i: usize, f: fn(usize, &mut SwitchSpec)| {
        let barrier = Arc::clone(&barrier);
        std::thread::spawn(move || {
            for round in 0..ROUNDS {
                barrier.wait();
                let mut s = SwitchSpec::default();
                f(round, &mut s);
                api(i).update(vni, &s).unwrap();
                barrier.wait();
            }
        })
    };
    const ROUNDS: usize = 40;
    let renames = writer(0, |r, s| s.name = Some(format!("web-{r}")));
    let flips = writer(1, |r, s| s.arp_suppression = Some(r % 2 == 1));
    for round in 0..ROUNDS {
        barrier.wait();
        barrier.wait();
        let start = Instant::now();
        loop {
            let v = api(0).switch(vni).unwrap();
            if v.switch.name == format!("web-{round}")
                && v.switch.arp_suppression == (round % 2 == 1)
            {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(2),
                "round {round}: an update was lost: {v:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    renames.join().unwrap();
    flips.join().unwrap();
    let v = api(1).switch(vni).unwrap();
    assert_eq!(v.switch.name, format!("web-{}", ROUNDS - 1), "{v:?}");
    for mut c in ctl {
        c.stop();
    }
}
