//! The server side of `vxswitch capture`: starts the workers' capture of a port, streams
//! what they copy as `CaptureChunk` lines (at least one a second, so a quiet port still
//! shows the stream alive), and stops at the count, the time limit or the client's going.

use super::control_socket::ControlEnv;
use crate::api::capture::{CaptureChunk, CaptureRequest, CapturedFrame};
use crate::api::host::{Answer, Response};
use crate::tables::PortIdx;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::unix::OwnedWriteHalf;

/// How often captured frames are sent on.
const CHUNK_EVERY: Duration = Duration::from_millis(50);
/// An empty chunk at least this often.
const HEARTBEAT: Duration = Duration::from_secs(1);

pub async fn stream(env: &ControlEnv, req: &CaptureRequest, wr: &mut OwnedWriteHalf) {
    let started = req.check().and_then(|()| {
        let port = env
            .ports
            .iter()
            .position(|p| p.name == req.port)
            .ok_or_else(|| format!("port: no port named {:?}", req.port))?;
        if !env
            .capture
            .start(port as PortIdx, &req.directions, req.snaplen, count(req))
        {
            return Err("another capture is running".into());
        }
        Ok(())
    });
    if let Err(e) = started {
        let _ = send(wr, &Answer::Error(e)).await;
        return;
    }
    let until = tokio::time::Instant::now() + Duration::from_millis(req.duration_ms);
    let mut left = count(req);
    let mut last_sent = tokio::time::Instant::now();
    let mut done = false;
    while !done {
        tokio::time::sleep(CHUNK_EVERY).await;
        let frames = take(env, &mut left);
        done = left == 0 || tokio::time::Instant::now() >= until;
        if done {
            env.capture.stop();
        }
        if frames.is_empty() && !done && last_sent.elapsed() < HEARTBEAT {
            continue;
        }
        last_sent = tokio::time::Instant::now();
        let chunk = CaptureChunk {
            frames,
            done,
            lost: env.capture.lost(),
        };
        if send(wr, &Answer::Ok(Response::Capture(chunk)))
            .await
            .is_err()
        {
            // The client went (Ctrl-C): stop copying.
            env.capture.stop();
            return;
        }
    }
}

/// Up to `left` of the frames queued (the rest are dropped: the count is reached).
fn take(env: &ControlEnv, left: &mut u64) -> Vec<CapturedFrame> {
    let mut out = Vec::new();
    env.capture.drain(|c| {
        if *left > 0 {
            *left -= 1;
            out.push(CapturedFrame {
                unix_us: c.unix_us,
                direction: c.direction,
                orig_len: c.orig_len,
                bytes: c.bytes,
            });
        }
    });
    out
}

async fn send(wr: &mut OwnedWriteHalf, a: &Answer) -> std::io::Result<()> {
    let mut line = serde_json::to_string(a).expect("answers serialize");
    line.push('\n');
    wr.write_all(line.as_bytes()).await
}

/// The frames asked for (0: as many as come in the time).
fn count(req: &CaptureRequest) -> u64 {
    if req.count == 0 {
        u64::MAX
    } else {
        req.count
    }
}
