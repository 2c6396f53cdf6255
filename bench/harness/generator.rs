//! The VM side of the vhost-user scenarios: a testpmd in its own process on
//! `net_virtio_user` (what a VM's virtio port is to the DUT's vhost-user port), sending the
//! scenario's pcap into the DUT or draining what the DUT delivers. Its packet core is core 0,
//! beside the DUT's main thread; the DUT keeps its worker core to itself.

use crate::dut::Ctx;
use crate::scenario::{vhost_socket, Feed, Scenario};
use std::process::Command;
use std::time::Duration;
use vxswitch::lab::Process;

pub const PREFIX: &str = "vxb-gen";

/// Starts the generator when the scenario is fed over vhost-user; the DUT must be listening.
pub fn attach(ctx: &Ctx, sc: &Scenario) -> Result<Option<Process>, String> {
    if sc.feed != Feed::Vhost {
        return Ok(None);
    }
    let mut c = Command::new("dpdk-testpmd");
    c.args([
        "-l",
        &format!("0,{}", ctx.worker_core),
        "--main-lcore",
        &ctx.worker_core.to_string(),
    ]);
    // virtio-user hands the vhost-user side virtual addresses: EAL must not pick physical
    // ones (it does when it can read them).
    c.args([
        "--file-prefix",
        PREFIX,
        "--no-pci",
        "--no-telemetry",
        "--iova-mode=va",
    ]);
    if ctx.hugepages {
        c.args(["--socket-mem", "256", "--single-file-segments"]);
    } else {
        c.args(["--no-huge", "-m", "256"]);
    }
    let virtio = format!(
        "net_virtio_user0,path={},queues=1,queue_size=1024",
        vhost_socket(&ctx.dir).display()
    );
    c.args(["--vdev", &virtio]);
    let mode = match sc.vm_pcap() {
        Some(f) => {
            c.args([
                "--vdev",
                &format!(
                    "net_pcap1,rx_pcap={},infinite_rx=1",
                    ctx.dir.join(f).display()
                ),
            ]);
            "--forward-mode=io"
        }
        None => "--forward-mode=rxonly",
    };
    c.args([
        "--",
        "-i",
        "--auto-start",
        mode,
        "--nb-cores=1",
        "--rxd=1024",
        "--txd=1024",
        "--burst=32",
    ]);
    let mut p = Process::spawn_interactive("generator", c, &ctx.dir.join("generator.log"))
        .map_err(|e| e.to_string())?;
    p.wait_for("testpmd> ", 1, Duration::from_secs(30))
        .map_err(|e| e.to_string())?;
    Ok(Some(p))
}

/// Stops the generator first (a peer leaving mid-traffic is the DUT's problem, not the
/// bench's), then cleans its runtime files.
pub fn detach(g: Option<Process>) {
    if let Some(mut g) = g {
        g.send_line("quit").ok();
        g.wait_exit(Duration::from_secs(5));
        g.stop(Duration::from_secs(5));
        crate::host::clean_dpdk(PREFIX);
    }
}
