//! The agents' TCP sessions: mutual TLS (unless the config says insecure), Hello first
//! (version checked, and the VTEP IP one the host's certificate names), then reports and
//! queries. A malformed frame gets an Error and the session is closed cleanly; an unknown
//! message or a bad field gets an Error and the session goes on. Nothing here can take the
//! node down.

use super::state::{Controller, SESSION_QUEUE};
use crate::auth::PeerIdentity;
use crate::proto::{
    self, agent_message::Body, controller_message::Body as Cb, next_frame, send, ControllerMessage,
    ErrorCode, Framed,
};
use prost::Message;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Notify};
use tokio_rustls::TlsAcceptor;

/// Time a new connection has to say Hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

pub type Shared = Arc<Mutex<Controller>>;

/// Accepts agents' sessions (over TLS with `tls`); a host silent for `timeout` is gone.
pub async fn serve(
    listener: TcpListener,
    state: Shared,
    timeout: Duration,
    tls: Option<TlsAcceptor>,
) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                let state = Arc::clone(&state);
                match tls.clone() {
                    None => {
                        tokio::spawn(session(stream, peer, state, timeout, None));
                    }
                    Some(acceptor) => {
                        tokio::spawn(secure(acceptor, stream, peer, state, timeout));
                    }
                }
            }
            Err(e) => {
                tracing::warn!("controller: accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// The TLS handshake (the client's certificate from the CA required), then the session
/// with the certificate as the host's identity. A failed handshake is counted and logged.
async fn secure(
    acceptor: TlsAcceptor,
    stream: TcpStream,
    peer: SocketAddr,
    state: Shared,
    timeout: Duration,
) {
    let err = match tokio::time::timeout(HELLO_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(s)) => {
            let id = PeerIdentity::of(s.get_ref().1.peer_certificates());
            if id.is_some() {
                return session(s, peer, state, timeout, id).await;
            }
            "no client certificate".to_string()
        }
        Ok(Err(e)) => e.to_string(),
        Err(_) => "no handshake in time".to_string(),
    };
    lock(&state).refusals.tls_handshake += 1;
    tracing::warn!("controller: agent connection from {peer} refused: TLS: {err}");
}

async fn session<S: AsyncRead + AsyncWrite + Send + 'static>(
    stream: S,
    peer: SocketAddr,
    state: Shared,
    timeout: Duration,
    identity: Option<PeerIdentity>,
) {
    let (rd, wr) = tokio::io::split(stream);
    let Framed { mut rd, mut wr } = Framed::new(rd, wr);
    let (tx, mut rx) = mpsc::channel::<ControllerMessage>(SESSION_QUEUE);
    let writer = tokio::spawn(async move {
        // The first keepalive a period after the start: the Welcome goes first.
        let start = tokio::time::Instant::now() + proto::KEEPALIVE_EVERY;
        let mut keepalive = tokio::time::interval_at(start, proto::KEEPALIVE_EVERY);
        loop {
            let m = tokio::select! {
                biased;
                m = rx.recv() => match m {
                    Some(m) => m,
                    None => break,
                },
                _ = keepalive.tick() => ControllerMessage::of(Cb::Keepalive(proto::Keepalive {})),
            };
            if send(&mut wr, &m).await.is_err() {
                break;
            }
        }
    });
    let close = Arc::new(Notify::new());
    let hello = match tokio::time::timeout(HELLO_TIMEOUT, next_frame(&mut rd)).await {
        Ok(Ok(Some(b))) => proto::AgentMessage::decode(&b[..])
            .ok()
            .and_then(|m| m.body),
        _ => None,
    };
    let id = match hello {
        Some(Body::Hello(h)) => {
            let r = lock(&state).open_session(
                &h,
                peer,
                identity.as_ref(),
                tx.clone(),
                Arc::clone(&close),
            );
            match r {
                Ok(id) => {
                    tracing::info!(
                        "controller: session {id} from {peer}: host {} vtep {}",
                        h.host,
                        proto::ip(h.vtep_ip)
                    );
                    Some(id)
                }
                Err(r) => {
                    let _ = tx.try_send(ControllerMessage::error(r.code, r.msg));
                    None
                }
            }
        }
        _ => {
            let _ = tx.try_send(ControllerMessage::error(
                ErrorCode::HelloFirst,
                "the first message must be a Hello",
            ));
            None
        }
    };
    if let Some(id) = id {
        loop {
            let frame = tokio::select! {
                f = tokio::time::timeout(timeout, next_frame(&mut rd)) => match f {
                    Ok(f) => f,
                    Err(_) => {
                        tracing::info!(
                            "controller: session {id} from {peer}: silent for {timeout:?}, host gone"
                        );
                        break;
                    }
                },
                _ = close.notified() => break,
            };
            let bytes = match frame {
                Ok(Some(b)) => b,
                Ok(None) => break,
                Err(e) => {
                    let _ = tx.try_send(ControllerMessage::error(
                        ErrorCode::Malformed,
                        e.to_string(),
                    ));
                    break;
                }
            };
            let m = match proto::AgentMessage::decode(&bytes[..]) {
                Ok(m) => m,
                Err(e) => {
                    let _ = tx.try_send(ControllerMessage::error(
                        ErrorCode::Malformed,
                        format!("not an AgentMessage: {e}"),
                    ));
                    break;
                }
            };
            let r = lock(&state).handle(id, m);
            if let Err(r) = r {
                let _ = tx.try_send(ControllerMessage::error(r.code, r.msg));
                if r.fatal {
                    break;
                }
            }
        }
        lock(&state).close_session(id);
        tracing::info!("controller: session {id} from {peer} closed");
    }
    drop(tx);
    // The writer flushes what is queued, but a peer that stopped reading cannot hold it.
    let mut writer = writer;
    if tokio::time::timeout(Duration::from_secs(1), &mut writer)
        .await
        .is_err()
    {
        writer.abort();
    }
}

/// The node's one lock; a panic while holding it cannot happen in the handlers (no
/// unwrap on input), and a poisoned lock is still usable state.
pub fn lock(s: &Shared) -> std::sync::MutexGuard<'_, Controller> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}
