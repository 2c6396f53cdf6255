//! Length-prefixed framing: a 4-byte big-endian length, then one protobuf message.
//! A length above `MAX_FRAME` is refused before anything is allocated for it.

use prost::Message;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Largest message accepted (a VTEP table of a few thousand hosts fits easily).
pub const MAX_FRAME: usize = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {0} bytes is larger than the {MAX_FRAME}-byte limit")]
    TooLarge(usize),
    #[error("connection closed in the middle of a frame")]
    Truncated,
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// One message as bytes on the wire.
pub fn encode<M: Message>(m: &M) -> Vec<u8> {
    let len = m.encoded_len();
    let mut b = Vec::with_capacity(4 + len);
    b.extend_from_slice(&(len as u32).to_be_bytes());
    m.encode(&mut b).expect("a Vec grows as needed");
    b
}

/// Reads one frame's payload; `Ok(None)` on a clean end of stream between frames.
pub async fn read_frame<R: AsyncRead + Unpin>(r: &mut R) -> Result<Option<Vec<u8>>, FrameError> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len[..1]).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    r.read_exact(&mut len[1..]).await.map_err(eof_truncated)?;
    let n = u32::from_be_bytes(len) as usize;
    if n > MAX_FRAME {
        return Err(FrameError::TooLarge(n));
    }
    let mut buf = vec![0u8; n];
    r.read_exact(&mut buf).await.map_err(eof_truncated)?;
    Ok(Some(buf))
}

fn eof_truncated(e: std::io::Error) -> FrameError {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        FrameError::Truncated
    } else {
        FrameError::Io(e)
    }
}

/// Writes one message as a frame.
pub async fn write_msg<W: AsyncWrite + Unpin, M: Message>(
    w: &mut W,
    m: &M,
) -> Result<(), std::io::Error> {
    w.write_all(&encode(m)).await
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

    #[test]
    fn frames_round_trip_back_to_back() {
        rt().block_on(async {
            let a = AgentMessage::of(Body::Join(VniJoin { vni: 5001 }));
            let b = AgentMessage::of(Body::Join(VniJoin { vni: 5002 }));
            let mut wire = encode(&a);
            wire.extend(encode(&b));
            let mut r = &wire[..];
            let f1 = read_frame(&mut r).await.unwrap().unwrap();
            let f2 = read_frame(&mut r).await.unwrap().unwrap();
            assert_eq!(AgentMessage::decode(&f1[..]).unwrap(), a);
            assert_eq!(AgentMessage::decode(&f2[..]).unwrap(), b);
            assert!(read_frame(&mut r).await.unwrap().is_none());
        });
    }

    #[test]
    fn oversized_and_truncated_frames_are_errors() {
        rt().block_on(async {
            let big = ((MAX_FRAME + 1) as u32).to_be_bytes();
            assert!(matches!(
                read_frame(&mut &big[..]).await,
                Err(FrameError::TooLarge(_))
            ));
            let cut = [0u8, 0, 0, 10, 1, 2];
            assert!(matches!(
                read_frame(&mut &cut[..]).await,
                Err(FrameError::Truncated)
            ));
            let half_len = [0u8, 0];
            assert!(matches!(
                read_frame(&mut &half_len[..]).await,
                Err(FrameError::Truncated)
            ));
        });
    }

    #[test]
    fn empty_message_is_a_zero_length_frame() {
        let m = AgentMessage::default();
        assert_eq!(encode(&m), vec![0, 0, 0, 0]);
    }
}
