//! `vxswitch lab --failover`: the controller that owns VNI 5001 is killed (SIGKILL) while VM A
//! pings VM B every 10 ms; VM C is powered on behind esxi02 right after. The timeline, as
//! seen from the survivors' APIs: failure detected (the dead member's etcd lease expired), the
//! slice moved (a survivor owns the VNI), the tables rebuilt from the hosts' reports (A and B
//! complete, then C), pings lost, and when A first reached C. Then the killed controller
//! comes back and the slices rebalance.

use super::controlled::ControlledLab;
use super::process::Process;
use super::sh::{self, LabError};
use super::topology::controller_ip;
use super::{LabArgs, VM_A, VM_B, VM_C, VNI};
use crate::api::rest::ClusterStatus;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Pings A -> B during the run (10 ms apart: 12 s).
const PINGS: u32 = 1200;
/// How long the timeline is watched after the kill.
const WATCH: Duration = Duration::from_secs(10);

/// One failover, times counted from the kill.
#[derive(Clone, Debug, Default)]
pub struct Failover {
    pub killed: String,
    pub new_owner: Option<String>,
    /// The dead member left etcd's member list (its lease expired).
    pub detected: Option<Duration>,
    /// A survivor owns the VNI.
    pub moved: Option<Duration>,
    /// The new owner's tables hold A and B again (VTEPs, MACs, IP bindings).
    pub rebuilt: Option<Duration>,
    /// ... and VM C, powered on after the kill.
    pub rebuilt_with_c: Option<Duration>,
    /// A's first ping answered by C.
    pub c_reached: Option<Duration>,
    pub pings_sent: u32,
    pub pings_lost: u32,
}

/// The lab's VNI tables on controller `i` are (VTEPs, MACs, IP bindings) at least.
fn tables_at(lab: &ControlledLab, i: usize, want: (usize, usize, usize)) -> bool {
    let vni = VNI.to_string();
    let n = |which: &str| {
        lab.ctl_view_on::<Vec<serde_json::Value>>(i, &["show", "logical-switches", which, &vni])
            .map_or(0, |v| v.len())
    };
    n("vtep-table") >= want.0 && n("mac-table") >= want.1 && n("arp-table") >= want.2
}

/// Kills the owner of the lab's VNI during A's pings to B and powers on VM C; the lab must
/// be running with three controllers, VM C present and off, A and B on and known.
pub fn fail_owner(lab: &mut ControlledLab) -> Result<Failover, LabError> {
    let owner = lab
        .owner_of_vni(0)
        .ok_or_else(|| LabError::Step("nobody owns VNI 5001".into()))?;
    let k = lab
        .controller_index(&owner)
        .ok_or_else(|| LabError::Step(format!("owner {owner} is no lab controller")))?;
    let survivors: Vec<usize> = (0..lab.controllers.len()).filter(|&i| i != k).collect();
    let vm_a = lab.topo.vms[0].ns.clone();
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", &vm_a, "ping", "-i", "0.01", "-W", "1"])
        .args(["-c", &PINGS.to_string(), VM_B.1]);
    let mut ping = Process::spawn("ping", cmd, &lab.dir.join("failover-ping.log"))?;
    std::thread::sleep(Duration::from_secs(1));

    let t0 = Instant::now();
    lab.controllers[k].kill();
    let c = lab.topo.vms.len() - 1;
    lab.topo.power_on(c)?;
    // A pings C until it answers, on its own thread (each try takes up to 200 ms).
    let reached = Arc::new(std::sync::Mutex::new(None));
    let done = Arc::new(AtomicBool::new(false));
    let pinger = {
        let (reached, done) = (Arc::clone(&reached), Arc::clone(&done));
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) && t0.elapsed() < WATCH {
                let (ok, _) = sh::try_in_ns(&vm_a, &["ping", "-c", "1", "-W", "0.2", VM_C.0]);
                if ok {
                    *reached.lock().unwrap_or_else(|p| p.into_inner()) = Some(t0.elapsed());
                    return;
                }
            }
        })
    };
    let mut f = Failover {
        killed: owner.clone(),
        ..Failover::default()
    };
    // The member list and the owner are watched side by side (each look is a CLI call).
    f.detected = std::thread::scope(|s| {
        let lab = &*lab;
        let detect = s.spawn(|| {
            while t0.elapsed() < WATCH {
                let gone = lab
                    .ctl_view_on::<ClusterStatus>(
                        survivors[0],
                        &["show", "control-cluster", "status"],
                    )
                    .is_some_and(|s| s.error.is_none() && !s.members.iter().any(|m| m.id == owner));
                if gone {
                    return Some(t0.elapsed());
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            None
        });
        while t0.elapsed() < WATCH && f.rebuilt_with_c.is_none() {
            if f.moved.is_none() {
                if let Some(o) = lab
                    .owner_of_vni(survivors[1 % survivors.len()])
                    .filter(|o| *o != owner)
                {
                    f.moved = Some(t0.elapsed());
                    f.new_owner = Some(o);
                }
            }
            if let Some(i) = f.new_owner.as_deref().and_then(|o| lab.controller_index(o)) {
                if f.rebuilt.is_none() && tables_at(lab, i, (2, 2, 2)) {
                    f.rebuilt = Some(t0.elapsed());
                }
                if f.rebuilt.is_some() && tables_at(lab, i, (2, 3, 3)) {
                    f.rebuilt_with_c = Some(t0.elapsed());
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        detect.join().ok().flatten()
    });
    while t0.elapsed() < WATCH && reached.lock().is_ok_and(|r| r.is_none()) {
        std::thread::sleep(Duration::from_millis(50));
    }
    done.store(true, Ordering::Relaxed);
    let _ = pinger.join();
    f.c_reached = *reached.lock().unwrap_or_else(|p| p.into_inner());
    ping.wait_exit(Duration::from_secs(20));
    let (sent, received) = ping_counts(&ping.output());
    f.pings_sent = sent;
    f.pings_lost = sent.saturating_sub(received);
    Ok(f)
}

/// "N packets transmitted, M received" from ping's summary.
fn ping_counts(out: &str) -> (u32, u32) {
    let line = out
        .lines()
        .find(|l| l.contains("transmitted"))
        .unwrap_or("");
    let num = |word: &str| {
        line.split(',')
            .find(|p| p.contains(word))
            .and_then(|p| p.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    (num("transmitted"), num("received"))
}

fn ms(d: Option<Duration>) -> String {
    d.map_or("never".into(), |d| {
        format!("{:.0} ms", d.as_secs_f64() * 1e3)
    })
}

impl Failover {
    pub fn print(&self) {
        println!(
            "timeline after kill -9 of {} (owner of VNI {VNI}):",
            self.killed
        );
        println!(
            "  failure detected (lease expired, member gone)  {}",
            ms(self.detected)
        );
        println!(
            "  slice moved to {:<32} {}",
            self.new_owner.as_deref().unwrap_or("-"),
            ms(self.moved)
        );
        println!(
            "  tables rebuilt on the new owner (A, B)        {}",
            ms(self.rebuilt)
        );
        println!(
            "  ... with VM C (powered on at the kill)         {}",
            ms(self.rebuilt_with_c)
        );
        println!(
            "  A reaches C                                    {}",
            ms(self.c_reached)
        );
        println!(
            "  pings A -> B every 10 ms: {} sent, {} lost",
            self.pings_sent, self.pings_lost
        );
    }

    /// The goals: no ping lost, the tables complete again, C reachable within 3 s.
    pub fn meets_goals(&self) -> bool {
        self.pings_sent > 0
            && self.pings_lost == 0
            && self.rebuilt_with_c.is_some()
            && self.c_reached.is_some_and(|d| d <= Duration::from_secs(3))
    }
}

/// Waits until every controller is a member again and the slices are spread over all.
pub fn wait_rebalanced(lab: &ControlledLab, timeout: Duration) -> Result<ClusterStatus, LabError> {
    let n = lab.controllers.len();
    let start = Instant::now();
    while start.elapsed() < timeout {
        if let Some(s) = lab.ctl_view_on::<ClusterStatus>(0, &["show", "control-cluster", "status"])
        {
            let even = s.members.len() == n
                && s.members
                    .iter()
                    .all(|m| m.slices.abs_diff(crate::controller::slices::SLICES / n) <= 1);
            if even {
                return Ok(s);
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(LabError::Step(
        "slices did not rebalance over all controllers".into(),
    ))
}

/// The `--failover` demo.
pub fn run(args: &LabArgs) -> Result<(), LabError> {
    let exe = std::env::current_exe().map_err(|e| LabError::Step(e.to_string()))?;
    println!(
        "== vxswitch lab --failover: three controllers (192.168.110.201-203, etcd), VNI {VNI}"
    );
    println!(
        "   esxi01: VM A {}; esxi02: VM B {} and VM C {} (off)",
        VM_A.1, VM_B.1, VM_C.0
    );
    let mut lab = ControlledLab::start(&exe, &args.prefix, 3, true)?;
    let r = demo(&mut lab);
    let outputs = lab.stop();
    if r.is_err() {
        for (name, out) in &outputs {
            println!("== {name} output");
            for l in out
                .lines()
                .rev()
                .take(30)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
            {
                println!("   {l}");
            }
        }
    }
    drop(lab);
    println!("== lab removed");
    r?;
    println!("lab --failover: PASS");
    Ok(())
}

fn demo(lab: &mut ControlledLab) -> Result<(), LabError> {
    let vni = VNI.to_string();
    lab.print_ctl(
        "manager",
        &["ls", "create", "--vni", &vni, "--name", "web-tier"],
    );
    lab.wait(
        "sessions to all three controllers",
        Duration::from_secs(20),
        ControlledLab::connected,
    )?;
    lab.topo.power_on(0)?;
    lab.topo.power_on(1)?;
    lab.wait("the owner's tables", Duration::from_secs(20), |l| {
        (0..3).any(|i| {
            l.owner_of_vni(i).and_then(|o| l.controller_index(&o)) == Some(i)
                && tables_at(l, i, (2, 2, 2))
        })
    })?;
    let (ok, out) = sh::try_in_ns(&lab.topo.vms[0].ns, &["ping", "-c", "2", "-W", "1", VM_B.1]);
    if !ok {
        return Err(LabError::Step(format!(
            "A cannot ping B before the failure:\n{out}"
        )));
    }
    lab.print_ctl("controller", &["show", "control-cluster", "status"]);
    lab.print_ctl("controller", &["show", "logical-switches", "vni", &vni]);
    println!("\n---------- kill -9 of the owner while A pings B every 10 ms; VM C powers on");
    let f = fail_owner(lab)?;
    f.print();
    let survivor = (0..3)
        .find(|&i| Some(controller_ip(i)) != Some(f.killed.clone()))
        .unwrap_or(0);
    lab.print_ctl_on(survivor, &["show", "control-cluster", "status"]);
    lab.print_ctl_on(survivor, &["show", "logical-switches", "vni", &vni]);
    lab.print_host(0, &["show", "connections"]);
    println!("\n---------- the killed controller restarts; the leader rebalances");
    let k = lab
        .controller_index(&f.killed)
        .ok_or_else(|| LabError::Step("killed controller unknown".into()))?;
    lab.restart_controller(k)?;
    wait_rebalanced(lab, Duration::from_secs(20))?;
    lab.print_ctl("controller", &["show", "control-cluster", "status"]);
    if !f.meets_goals() {
        return Err(LabError::Step(
            "failover missed its goals: 0 pings lost, tables rebuilt, C reachable within 3 s"
                .into(),
        ));
    }
    Ok(())
}
