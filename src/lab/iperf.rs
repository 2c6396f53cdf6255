//! TCP and UDP transfers between lab VMs with iperf3 (Debian's), read from its JSON report:
//! what a user runs to see that real traffic, with the VMs' default offloads, crosses the
//! switch.

use super::sh::LabError;
use serde::Deserialize;
use std::process::{Command, Stdio};
use std::time::Duration;

/// What one transfer moved. The sender's count is the whole transfer once iperf3 ends
/// without error (TCP delivered it all; in reverse mode the server may send one block
/// more than asked); the receiver's is what it had read when the test
/// ended, a little less on a short transfer.
#[derive(Debug, Clone, Copy)]
pub struct Transfer {
    pub sent: u64,
    pub received: u64,
    pub bits_per_second: f64,
    /// TCP's retransmitted segments (0 for UDP).
    pub retransmits: u64,
    /// UDP datagrams the receiver saw missing (0 for TCP).
    pub lost_packets: u64,
}

/// What iperf3 sends.
#[derive(Debug, Clone, Copy)]
pub enum Proto {
    Tcp,
    /// Datagrams of `len` bytes at `bits_per_second`.
    Udp {
        len: u32,
        bits_per_second: u64,
    },
}

/// The part of `iperf3 -J` read here.
#[derive(Deserialize)]
struct Report {
    #[serde(default)]
    error: Option<String>,
    end: Option<End>,
}

#[derive(Deserialize)]
struct End {
    sum_sent: Sum,
    sum_received: Sum,
    /// UDP only: the receiver's loss count.
    sum: Option<Sum>,
}

#[derive(Deserialize)]
struct Sum {
    bytes: u64,
    bits_per_second: f64,
    #[serde(default)]
    retransmits: u64,
    #[serde(default)]
    lost_packets: u64,
}

/// How long a transfer may take, connection included.
const LIMIT: Duration = Duration::from_secs(30);

/// Sends `bytes` over TCP from the VM in namespace `client_ns` to the iperf3 server it
/// starts in `server_ns` on `server_ip` (the other way with `reverse`); bounded in time.
pub fn tcp(
    client_ns: &str,
    server_ns: &str,
    server_ip: &str,
    bytes: u64,
    reverse: bool,
) -> Result<Transfer, LabError> {
    transfer(client_ns, server_ns, server_ip, bytes, Proto::Tcp, reverse)
}

/// [`tcp`] for any [`Proto`].
pub fn transfer(
    client_ns: &str,
    server_ns: &str,
    server_ip: &str,
    bytes: u64,
    proto: Proto,
    reverse: bool,
) -> Result<Transfer, LabError> {
    let fail = |what: String| LabError::Step(format!("iperf3 {client_ns} -> {server_ip}: {what}"));
    let mut server = Command::new("ip")
        .args([
            "netns", "exec", server_ns, "iperf3", "-s", "-1", "-B", server_ip,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| fail(format!("starting the server: {e}")))?;
    std::thread::sleep(Duration::from_millis(300));
    let limit = LIMIT.as_secs().to_string();
    let n = bytes.to_string();
    let mut args = vec![
        "timeout",
        &limit,
        "ip",
        "netns",
        "exec",
        client_ns,
        "iperf3",
        "-J",
        "-c",
        server_ip,
        "-n",
        &n,
        "--connect-timeout",
        "3000",
    ];
    let (len, rate);
    if let Proto::Udp {
        len: l,
        bits_per_second,
    } = proto
    {
        (len, rate) = (l.to_string(), bits_per_second.to_string());
        args.extend(["-u", "-l", &len, "-b", &rate]);
    }
    if reverse {
        args.push("-R");
    }
    let out = Command::new(args[0]).args(&args[1..]).output();
    let _ = server.kill();
    let _ = server.wait();
    let out = out.map_err(|e| fail(format!("running the client: {e}")))?;
    let report: Report = serde_json::from_slice(&out.stdout).map_err(|e| {
        fail(format!(
            "no report ({e}); exit {:?}: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        ))
    })?;
    if let Some(e) = report.error {
        return Err(fail(e));
    }
    let end = report
        .end
        .ok_or_else(|| fail("report without a summary".into()))?;
    Ok(Transfer {
        sent: end.sum_sent.bytes,
        received: end.sum_received.bytes,
        bits_per_second: end.sum_received.bits_per_second,
        retransmits: end.sum_sent.retransmits,
        lost_packets: end.sum.map_or(0, |s| s.lost_packets),
    })
}

/// Sends `bytes` from VM A (`a_ns`) to VM B (`b_ns`, at `b_ip`) and back, printing what
/// a user types and what each transfer did; true when both delivered everything.
pub fn print_both_ways(a_ns: &str, b_ns: &str, b_ip: &str, bytes: u64) -> bool {
    let mut ok = true;
    for (reverse, what) in [(false, "A -> B"), (true, "B -> A")] {
        println!(
            "VM A# iperf3 -c {b_ip} -n {bytes}{}",
            if reverse { " -R" } else { "" }
        );
        match tcp(a_ns, b_ns, b_ip, bytes, reverse) {
            Ok(t) => {
                println!(
                    "  {what}: {} bytes sent, {:.2} Gbit/s at the receiver, {} retransmits",
                    t.sent,
                    t.bits_per_second / 1e9,
                    t.retransmits
                );
                ok &= t.sent >= bytes;
            }
            Err(e) => {
                println!("  {what}: {e}");
                ok = false;
            }
        }
    }
    ok
}
