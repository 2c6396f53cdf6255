//! The server side of `vxswitch capture`: starts the workers' capture of a port, streams
//! what they copy as `CaptureChunk` lines (at least one a second, so a quiet port still
//! shows the stream alive), and stops at the count, the time limit or the client's going.

use super::control_socket::{any_port, ControlEnv};
use crate::api::capture::{CaptureChunk, CaptureRequest};
use crate::api::host::{Answer, Response};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::unix::OwnedWriteHalf;

/// How often captured frames are sent on.
const CHUNK_EVERY: Duration = Duration::from_millis(50);
/// An empty chunk at least this often.
const HEARTBEAT: Duration = Duration::from_secs(1);

pub async fn stream(env: &ControlEnv, req: &CaptureRequest, wr: &mut OwnedWriteHalf) {
    let count = if req.count == 0 { u64::MAX } else { req.count };
    let started = req.check().and_then(|()| {
        let port = any_port(env, &req.port)?;
        if !env.capture.start(port, &req.directions, req.snaplen, count) {
            return Err("another capture is running".into());
        }
        Ok(())
    });
    if let Err(e) = started {
        let _ = send(wr, &Answer::Error(e)).await;
        return;
    }
    let until = tokio::time::Instant::now() + Duration::from_millis(req.duration_ms);
    let mut taken = 0u64;
    let mut last_sent = tokio::time::Instant::now();
    let mut done = false;
    while !done {
        tokio::time::sleep(CHUNK_EVERY).await;
        // The workers stop copying at the count: everything queued belongs to it.
        let frames = env.capture.drain();
        taken += frames.len() as u64;
        done = taken >= count || tokio::time::Instant::now() >= until;
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

async fn send(wr: &mut OwnedWriteHalf, a: &Answer) -> std::io::Result<()> {
    let mut line = serde_json::to_string(a).expect("answers serialize");
    line.push('\n');
    wr.write_all(line.as_bytes()).await
}
