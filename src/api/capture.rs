//! `vxswitch capture`: a port's frames as the data plane receives and sends them, streamed
//! over the control socket (one `CaptureChunk` line after another, the last one `done`) and
//! written as a pcap by the CLI.

use serde::{Deserialize, Serialize};

/// The longest capture.
pub const MAX_CAPTURE_MS: u64 = 3_600_000;
/// The most frames one capture takes.
pub const MAX_CAPTURE_FRAMES: u64 = 10_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Received on the port.
    Rx,
    /// Sent on the port.
    Tx,
}

impl Direction {
    pub fn name(self) -> &'static str {
        match self {
            Direction::Rx => "rx",
            Direction::Tx => "tx",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureRequest {
    /// The port, by name ("uplink" or a VM port's).
    pub port: String,
    pub directions: Vec<Direction>,
    /// Stop after this many frames (0: only the time limit).
    pub count: u64,
    /// Stop after this long.
    pub duration_ms: u64,
    /// Bytes kept of each frame.
    pub snaplen: u32,
}

impl CaptureRequest {
    /// Why the request cannot run, naming the field.
    pub fn check(&self) -> Result<(), String> {
        if self.directions.is_empty() {
            return Err("directions: rx, tx or both".into());
        }
        if self.count > MAX_CAPTURE_FRAMES {
            return Err(format!("count: at most {MAX_CAPTURE_FRAMES}"));
        }
        if self.duration_ms == 0 || self.duration_ms > MAX_CAPTURE_MS {
            return Err(format!("duration_ms: 1 to {MAX_CAPTURE_MS}"));
        }
        if self.snaplen == 0 || self.snaplen > 65535 {
            return Err("snaplen: 1 to 65535".into());
        }
        Ok(())
    }
}

/// Frames captured since the last chunk; the last chunk says `done` and what was lost.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureChunk {
    pub frames: Vec<CapturedFrame>,
    pub done: bool,
    /// Frames the workers could not queue (the reader fell behind): counted, not captured.
    pub lost: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapturedFrame {
    pub unix_us: u64,
    pub direction: Direction,
    /// Its length on the wire; `bytes` holds at most the snap length of it.
    pub orig_len: u32,
    pub bytes: Vec<u8>,
}
