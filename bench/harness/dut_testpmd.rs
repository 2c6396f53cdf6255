//! dpdk-testpmd `--forward-mode=io` as the limit: the same vdevs and core, no work on the
//! packets. Driven on its prompt: start (warm-up), stop, start, wait the window, stop, and
//! read the accumulated forward statistics of the last stop.

use crate::dut::{Ctx, Sample};
use crate::proc::Proc;
use crate::scenario::Scenario;
use std::process::Command;
use std::time::{Duration, Instant};

pub const PREFIX: &str = "vxb-tpmd";
const PROMPT: &str = "testpmd> ";

/// The EAL and application arguments of a testpmd on `vdevs` (packet core: the bench's).
pub fn command(ctx: &Ctx, prefix: &str, vdevs: &[String], extra_eal: &[&str], app: &[&str]) -> Command {
    let mut c = Command::new("dpdk-testpmd");
    c.args(["-l", &ctx.lcores(), "--main-lcore", "0", "--file-prefix", prefix, "--no-pci", "--no-telemetry"]);
    c.args(ctx.mem_args(512));
    c.args(extra_eal);
    for v in vdevs {
        c.args(["--vdev", v]);
    }
    c.arg("--");
    c.args(["--nb-cores=1", "--rxd=1024", "--txd=1024", "--burst=32"]);
    c.args(app);
    c
}

/// Values of `key` (e.g. "TX-packets:") in the accumulated block after the last "stop".
fn accumulated(out: &str, key: &str) -> Option<f64> {
    let block = out.rsplit("Accumulated forward statistics").next()?;
    let at = block.find(key)? + key.len();
    block[at..].split_whitespace().next()?.trim_end_matches(|c: char| !c.is_ascii_digit()).parse().ok()
}

pub fn sample(ctx: &Ctx, sc: &Scenario, index: usize) -> Result<Sample, String> {
    let (up, vm) = sc.devices(&ctx.dir);
    let cmd = command(
        ctx,
        PREFIX,
        &[up.vdev, vm.vdev],
        &[],
        &["-i", "--forward-mode=io", "--record-core-cycles"],
    );
    let mut p = Proc::spawn("testpmd", cmd, &ctx.dir.join("testpmd.log"), true)?;
    let mut prompts = 1;
    p.wait_for(PROMPT, prompts, Duration::from_secs(30))?;
    let mut run = |p: &mut Proc, cmd: &str| -> Result<Instant, String> {
        p.send(cmd)?;
        let sent = Instant::now();
        prompts += 1;
        p.wait_for(PROMPT, prompts, Duration::from_secs(30))?;
        Ok(sent)
    };
    let gen = crate::generator::attach(ctx, sc)?;
    run(&mut p, "start")?;
    std::thread::sleep(ctx.warmup);
    run(&mut p, "stop")?;
    let t0 = run(&mut p, "start")?;
    std::thread::sleep(ctx.window);
    let t1 = run(&mut p, "stop")?;
    let out = p.output();
    crate::generator::detach(gen);
    p.send("quit").ok();
    p.stop(Duration::from_secs(10));
    let dt = t1.duration_since(t0).as_secs_f64();
    let tx = accumulated(&out, "TX-packets:").ok_or("testpmd: no TX-packets in the stop report")?;
    let rx = accumulated(&out, "RX-packets:").unwrap_or(0.0);
    let drops = accumulated(&out, "TX-dropped:").unwrap_or(0.0) + accumulated(&out, "RX-dropped:").unwrap_or(0.0);
    Ok(Sample {
        scenario: sc.name.into(),
        dut: "testpmd".into(),
        index,
        mpps: tx / dt / 1e6,
        rx_mpps: rx / dt / 1e6,
        cycles_per_packet: accumulated(&out, "CPU cycles/packet="),
        drops: drops as u64,
        window_s: dt,
        churn: None,
    })
}

#[cfg(test)]
mod tests {
    use super::accumulated;

    #[test]
    fn reads_the_last_accumulated_block() {
        let out = "Accumulated forward statistics\n  RX-packets: 5 RX-dropped: 0\n  TX-packets: 5\n\
                   testpmd> stop\n  +++ Accumulated forward statistics for all ports+++\n  \
                   RX-packets: 1000           RX-dropped: 2             RX-total: 1002\n  \
                   TX-packets: 990            TX-dropped: 10            TX-total: 1000\n\n  \
                   CPU cycles/packet=41.27 (busy cycles=41270 / total RX packets=1000) at 2100 MHz Clock\n";
        assert_eq!(accumulated(out, "TX-packets:"), Some(990.0));
        assert_eq!(accumulated(out, "RX-dropped:"), Some(2.0));
        assert_eq!(accumulated(out, "CPU cycles/packet="), Some(41.27));
    }
}
