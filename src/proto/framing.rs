//! Framing: a 4-byte big-endian length, then one protobuf message (tokio-util's
//! `LengthDelimitedCodec`). A length above `MAX_FRAME` is refused before anything is
//! allocated for it; a stream that ends inside a frame is an error, between frames a clean end.

use bytes::{Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use prost::Message;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::codec::{FramedRead, FramedWrite, LengthDelimitedCodec};

/// Largest message accepted (a VTEP table of a few thousand hosts fits easily).
pub const MAX_FRAME: usize = 1 << 20;

/// The protocol's codec.
pub fn codec() -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder()
        .length_field_length(4)
        .big_endian()
        .max_frame_length(MAX_FRAME)
        .new_codec()
}

/// The read half of a session: whole frames.
pub type FrameReader<R> = FramedRead<R, LengthDelimitedCodec>;
/// The write half of a session: one message per frame.
pub type FrameWriter<W> = FramedWrite<W, LengthDelimitedCodec>;

/// Both halves of a session's stream, framed.
pub struct Framed<R, W> {
    pub rd: FrameReader<R>,
    pub wr: FrameWriter<W>,
}

impl<R: AsyncRead + Unpin, W: AsyncWrite + Unpin> Framed<R, W> {
    pub fn new(rd: R, wr: W) -> Self {
        Framed {
            rd: FramedRead::new(rd, codec()),
            wr: FramedWrite::new(wr, codec()),
        }
    }
}

/// The next frame's payload; `Ok(None)` on a clean end of stream between frames.
pub async fn next_frame<R: AsyncRead + Unpin>(
    rd: &mut FrameReader<R>,
) -> std::io::Result<Option<BytesMut>> {
    rd.next().await.transpose()
}

/// Writes one message as a frame.
pub async fn send<W: AsyncWrite + Unpin, M: Message>(
    wr: &mut FrameWriter<W>,
    m: &M,
) -> std::io::Result<()> {
    wr.send(Bytes::from(m.encode_to_vec())).await
}

/// One message as bytes on the wire (for peers that write raw bytes, such as tests).
pub fn encode<M: Message>(m: &M) -> Vec<u8> {
    let body = m.encode_to_vec();
    let mut b = Vec::with_capacity(4 + body.len());
    b.extend_from_slice(&(body.len() as u32).to_be_bytes());
    b.extend_from_slice(&body);
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{agent_message::Body, AgentMessage, VniJoin};

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    }

    fn read_all(wire: &[u8]) -> Vec<std::io::Result<Option<BytesMut>>> {
        rt().block_on(async {
            let mut rd = FramedRead::new(wire, codec());
            let mut out = Vec::new();
            loop {
                let r = next_frame(&mut rd).await;
                let end = !matches!(r, Ok(Some(_)));
                out.push(r);
                if end {
                    return out;
                }
            }
        })
    }

    #[test]
    fn frames_round_trip_back_to_back() {
        let a = AgentMessage::of(Body::Join(VniJoin { vni: 5001 }));
        let b = AgentMessage::of(Body::Join(VniJoin { vni: 5002 }));
        let mut wire = encode(&a);
        wire.extend(encode(&b));
        let frames = read_all(&wire);
        assert_eq!(frames.len(), 3);
        let msg = |i: usize| {
            let f = frames[i].as_ref().unwrap().as_ref().unwrap();
            AgentMessage::decode(&f[..]).unwrap()
        };
        assert_eq!(msg(0), a);
        assert_eq!(msg(1), b);
        assert!(frames[2].as_ref().unwrap().is_none());
        // The codec writes what `encode` does.
        let written = rt().block_on(async {
            let mut wr = FramedWrite::new(Vec::new(), codec());
            send(&mut wr, &a).await.unwrap();
            wr.into_inner()
        });
        assert_eq!(written, encode(&a));
    }

    #[test]
    fn oversized_and_truncated_frames_are_errors() {
        let big = ((MAX_FRAME + 1) as u32).to_be_bytes();
        assert!(read_all(&big).last().unwrap().is_err());
        let cut = [0u8, 0, 0, 10, 1, 2];
        assert!(read_all(&cut).last().unwrap().is_err());
        let half_len = [0u8, 0];
        assert!(read_all(&half_len).last().unwrap().is_err());
    }

    #[test]
    fn empty_message_is_a_zero_length_frame() {
        let m = AgentMessage::default();
        assert_eq!(encode(&m), vec![0, 0, 0, 0]);
        let frames = read_all(&[0, 0, 0, 0]);
        assert_eq!(frames[0].as_ref().unwrap().as_ref().unwrap().len(), 0);
    }
}
