//! dpdk-testpmd `--forward-mode=io` as the limit: the same vdevs and core, no work on the
//! packets. Driven on its prompt: start (warm-up), stop, start, wait the window, stop, and
//! read the accumulated forward statistics of the last stop.

use crate::dut::{Ctx, Sample};
use crate::scenario::Scenario;
use std::process::Command;
use std::time::{Duration, Instant};
use vxswitch::lab::Process;

pub const PREFIX: &str = "vxb-tpmd";
const PROMPT: &str = "testpmd> ";

/// A testpmd on `vdevs` (forwarded in pairs), one packet core per pair on the cores vxswitch's
/// workers get, driven on its prompt.
fn command(ctx: &Ctx, vdevs: &[String], cores: &[usize]) -> Command {
    // Line-buffered, so that each report is in the log before the prompt that follows it.
    let mut c = Command::new("stdbuf");
    c.args(["-oL", "dpdk-testpmd"]);
    // lcore 0 (the prompt) on core 0, lcore k on the k-th packet core.
    let lcores: Vec<String> = std::iter::once("0@0".to_string())
        .chain(
            cores
                .iter()
                .enumerate()
                .map(|(k, c)| format!("{}@{c}", k + 1)),
        )
        .collect();
    c.args([
        "--lcores",
        &lcores.join(","),
        "--main-lcore",
        "0",
        "--file-prefix",
        PREFIX,
        "--no-pci",
        "--no-telemetry",
    ]);
    c.args(ctx.mem_args(512 + 256 * (cores.len() as u32 - 1)));
    for v in vdevs {
        c.args(["--vdev", v]);
    }
    c.arg("--");
    // As many mbufs as vxswitch's pool (testpmd's default would not fit `--no-huge -m 512`).
    c.args([
        &format!("--nb-cores={}", cores.len()),
        "--rxd=1024",
        "--txd=1024",
        "--burst=32",
        &format!("--total-num-mbufs={}", 32767 + 16384 * (cores.len() - 1)),
    ]);
    c.args(["-i", "--forward-mode=io", "--record-core-cycles"]);
    c
}

/// The value after `key` (e.g. "TX-packets:") in the `n`-th (1-based) accumulated block:
/// each `stop` prints one.
fn accumulated(out: &str, n: usize, key: &str) -> Option<f64> {
    let block = out.split("Accumulated forward statistics").nth(n)?;
    let at = block.find(key)? + key.len();
    block[at..]
        .split_whitespace()
        .next()?
        .trim_end_matches(|c: char| !c.is_ascii_digit())
        .parse()
        .ok()
}

pub fn sample(ctx: &Ctx, sc: &Scenario, index: usize) -> Result<Sample, String> {
    let (up, vms) = sc.devices(&ctx.dir);
    // One uplink and one VM port, or per worker a VM port paired with a sink of its own.
    let vdevs: Vec<String> = if sc.workers > 1 {
        vms.iter()
            .enumerate()
            .flat_map(|(k, vm)| [format!("net_null{},no-rx=1", 100 + k), vm.vdev.clone()])
            .collect()
    } else {
        std::iter::once(up.vdev)
            .chain(vms.into_iter().map(|v| v.vdev))
            .collect()
    };
    let cmd = command(ctx, &vdevs, &ctx.worker_cores(sc.workers));
    let mut p = Process::spawn_interactive("testpmd", cmd, &ctx.dir.join("testpmd.log"))
        .map_err(|e| e.to_string())?;
    let mut prompts = 1;
    p.wait_for(PROMPT, prompts, Duration::from_secs(30))
        .map_err(|e| e.to_string())?;
    let mut run = |p: &mut Process, cmd: &str| -> Result<Instant, String> {
        p.send_line(cmd).map_err(|e| e.to_string())?;
        let sent = Instant::now();
        prompts += 1;
        p.wait_for(PROMPT, prompts, Duration::from_secs(30))
            .map_err(|e| e.to_string())?;
        Ok(sent)
    };
    let gen = crate::generator::attach(ctx, sc)?;
    run(&mut p, "start")?;
    std::thread::sleep(ctx.warmup);
    run(&mut p, "stop")?;
    let t0 = run(&mut p, "start")?;
    std::thread::sleep(ctx.window);
    let t1 = run(&mut p, "stop")?;
    crate::generator::detach(gen);
    p.send_line("quit").ok();
    // Read the log once testpmd has quit: then everything it printed is there.
    p.wait_exit(Duration::from_secs(10));
    p.stop(Duration::from_secs(5));
    let out = p.output();
    // Block 1 is the warm-up's stop, block 2 the window's.
    let accumulated = |key: &str| accumulated(&out, 2, key);
    let dt = t1.duration_since(t0).as_secs_f64();
    let tx =
        accumulated("TX-packets:").ok_or("testpmd: no TX-packets in the window's stop report")?;
    let rx = accumulated("RX-packets:").unwrap_or(0.0);
    let drops =
        accumulated("TX-dropped:").unwrap_or(0.0) + accumulated("RX-dropped:").unwrap_or(0.0);
    Ok(Sample::new(
        sc,
        "testpmd",
        index,
        dt,
        (tx as u64, rx as u64, drops as u64),
        accumulated("CPU cycles/packet="),
    ))
}

#[cfg(test)]
mod tests {
    use super::accumulated;

    #[test]
    fn reads_the_window_block_not_the_warm_up_one() {
        let out = "Accumulated forward statistics\n  RX-packets: 5 RX-dropped: 0\n  TX-packets: 5\n\
                   testpmd> stop\n  +++ Accumulated forward statistics for all ports+++\n  \
                   RX-packets: 1000           RX-dropped: 2             RX-total: 1002\n  \
                   TX-packets: 990            TX-dropped: 10            TX-total: 1000\n\n  \
                   CPU cycles/packet=41.27 (busy cycles=41270 / total RX packets=1000) at 2100 MHz Clock\n";
        assert_eq!(accumulated(out, 1, "TX-packets:"), Some(5.0));
        assert_eq!(accumulated(out, 2, "TX-packets:"), Some(990.0));
        assert_eq!(accumulated(out, 2, "RX-dropped:"), Some(2.0));
        assert_eq!(accumulated(out, 2, "CPU cycles/packet="), Some(41.27));
        assert_eq!(accumulated(out, 3, "TX-packets:"), None);
    }
}
