//! `vxswitch capture`: a port's frames as a running data plane receives and sends them,
//! written as a pcap (Wireshark, `tcpdump -r`) or printed a line each. Bounded by a count
//! and a time limit; Ctrl-C ends it early (the data plane stops copying when we go).

use super::Target;
use crate::api::capture::{CaptureChunk, CaptureRequest, Direction};
use crate::api::host::{Request, Response};
use crate::api::{HostClient, HostError};
use crate::wire::pcap::PcapWriter;
use crate::wire::{EthernetFrame, Ipv4Packet};
use clap::Args;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct CaptureArgs {
    /// The port: "uplink" or a VM port's name.
    #[arg(long)]
    pub port: String,
    /// Write the frames to this pcap file; otherwise print a line per frame.
    #[arg(short = 'w', long)]
    pub write: Option<PathBuf>,
    /// Stop after this many frames (0: at --duration only).
    #[arg(short = 'c', long, default_value_t = 0)]
    pub count: u64,
    /// Stop after this many seconds.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// rx, tx or both.
    #[arg(long, default_value = "both", value_parser = ["rx", "tx", "both"])]
    pub direction: String,
    /// Bytes kept of each frame.
    #[arg(long, default_value_t = 65535)]
    pub snaplen: u32,
}

fn directions(s: &str) -> Result<Vec<Direction>, String> {
    match s {
        "rx" => Ok(vec![Direction::Rx]),
        "tx" => Ok(vec![Direction::Tx]),
        "both" => Ok(vec![Direction::Rx, Direction::Tx]),
        _ => Err(format!("{s:?}: rx, tx or both")),
    }
}

/// Runs the capture; returns the summary to print.
pub fn capture(a: &CaptureArgs, t: &Target) -> Result<String, String> {
    let req = Request::Capture(CaptureRequest {
        port: a.port.clone(),
        directions: directions(&a.direction)?,
        count: a.count,
        duration_ms: a.duration.saturating_mul(1000),
        snaplen: a.snaplen,
    });
    let mut pcap = match &a.write {
        Some(p) => {
            let f = std::fs::File::create(p).map_err(|e| format!("{}: {e}", p.display()))?;
            Some(PcapWriter::new(std::io::BufWriter::new(f)).map_err(|e| e.to_string())?)
        }
        None => None,
    };
    let (mut frames, mut lost) = (0u64, 0u64);
    let stdout = std::io::stdout();
    HostClient::new(&t.socket)
        .stream(&req, |r| {
            let Response::Capture(c) = r else {
                return Err(HostError::Refused("not a capture answer".into()));
            };
            let CaptureChunk {
                frames: got,
                done,
                lost: l,
            } = c;
            lost = l;
            for f in got {
                frames += 1;
                let r = match &mut pcap {
                    Some(w) => w.record(f.unix_us, f.orig_len as usize, &f.bytes),
                    None => writeln!(
                        stdout.lock(),
                        "{}",
                        line(f.unix_us, f.direction, f.orig_len, &f.bytes)
                    ),
                };
                r.map_err(|e| HostError::Io("capture output".into(), e))?;
            }
            Ok(!done)
        })
        .map_err(|e| e.to_string())?;
    if let Some(w) = pcap {
        w.finish().map_err(|e| e.to_string())?;
    }
    let to = a
        .write
        .as_ref()
        .map_or(String::new(), |p| format!(" to {}", p.display()));
    Ok(format!(
        "{frames} frame(s) captured on {}{to}, {lost} lost\n",
        a.port
    ))
}

/// A frame as one line: time, direction, length, Ethernet and IPv4 addresses.
fn line(unix_us: u64, d: Direction, len: u32, bytes: &[u8]) -> String {
    let secs = unix_us / 1_000_000;
    let mut s = format!(
        "{:02}:{:02}:{:02}.{:06} {} {len:>5} B",
        secs / 3600 % 24,
        secs / 60 % 60,
        secs % 60,
        unix_us % 1_000_000,
        d.name()
    );
    if let Ok(e) = EthernetFrame::new_checked(bytes) {
        let ty: u16 = e.ethertype().into();
        let _ = write!(s, "  {} > {} type {ty:#06x}", e.src(), e.dst());
        if let Ok(ip) = Ipv4Packet::new_checked(e.payload()) {
            let _ = write!(
                s,
                "  {} > {} proto {}",
                ip.src(),
                ip.dst(),
                u8::from(ip.protocol())
            );
        }
    }
    s
}
