//! One session to one controller: connect (mutual TLS: the controller's certificate must
//! come from the CA and name the address dialled), Hello/Welcome with version check, full
//! sync, then reports out and pushes in. On any failure the session is marked down and retried
//! with exponential back-off (100 ms doubling to 5 s); the data plane keeps forwarding.

use super::hub::{Hub, SliceMap};
use super::inbound;
use crate::api::host::SessionState;
use crate::proto::{
    self, agent_message::Body as A, controller_message::Body as C, next_frame, send, AgentMessage,
    ControllerMessage, Framed,
};
use prost::Message;
use rustls::pki_types::ServerName;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// The local address of a session's stream (for `show connections`).
trait Local {
    fn local(&self) -> Option<SocketAddr>;
}

impl Local for TcpStream {
    fn local(&self) -> Option<SocketAddr> {
        self.local_addr().ok()
    }
}

impl Local for TlsStream<TcpStream> {
    fn local(&self) -> Option<SocketAddr> {
        self.get_ref().0.local_addr().ok()
    }
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const WELCOME_TIMEOUT: Duration = Duration::from_secs(5);
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

pub async fn run(i: usize, addr: SocketAddr, tls: Option<TlsConnector>, hub: Arc<Hub>) {
    let mut backoff = BACKOFF_MIN;
    loop {
        hub.set_status(i, |c| c.state = SessionState::Connecting);
        let (err, was_up) = match connect(addr, tls.as_ref()).await {
            Ok(Channel::Plain(s)) => session(i, s, &hub).await,
            Ok(Channel::Tls(s)) => session(i, *s, &hub).await,
            Err(e) => (e, false),
        };
        if was_up {
            backoff = BACKOFF_MIN;
        }
        hub.set_status(i, |c| {
            c.state = SessionState::Down;
            c.local = None;
            c.last_error = Some(err);
        });
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

enum Channel {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// A connection to `addr`, with the TLS handshake done when `tls` is set.
async fn connect(addr: SocketAddr, tls: Option<&TlsConnector>) -> Result<Channel, String> {
    let s = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(format!("connect: {e}")),
        Err(_) => return Err("connect: timed out".to_string()),
    };
    let _ = s.set_nodelay(true);
    let Some(tls) = tls else {
        return Ok(Channel::Plain(s));
    };
    let name = ServerName::IpAddress(addr.ip().into());
    match tokio::time::timeout(WELCOME_TIMEOUT, tls.connect(name, s)).await {
        Ok(Ok(s)) => Ok(Channel::Tls(Box::new(s))),
        Ok(Err(e)) => Err(format!("tls: {e}")),
        Err(_) => Err("tls: no handshake in time".to_string()),
    }
}

/// Runs an open connection until it fails; returns why, and whether it got established.
async fn session<S: AsyncRead + AsyncWrite + Local>(
    i: usize,
    stream: S,
    hub: &Hub,
) -> (String, bool) {
    let local = stream.local();
    let (rd, wr) = tokio::io::split(stream);
    let Framed { mut rd, mut wr } = Framed::new(rd, wr);
    let hello = AgentMessage::of(A::Hello(hub.hello.clone()));
    if let Err(e) = send(&mut wr, &hello).await {
        return (format!("hello: {e}"), false);
    }
    // The Welcome, past any keepalive an older controller may send first.
    let welcome = tokio::time::timeout(WELCOME_TIMEOUT, async {
        loop {
            let m = match next_frame(&mut rd).await {
                Ok(Some(b)) => ControllerMessage::decode(&b[..]).ok().and_then(|m| m.body),
                Ok(None) => return Err("closed before welcome".to_string()),
                Err(e) => return Err(format!("welcome: {e}")),
            };
            if !matches!(m, Some(C::Keepalive(_))) {
                return Ok(m);
            }
        }
    })
    .await;
    let welcome = match welcome {
        Ok(Ok(m)) => m,
        Ok(Err(e)) => return (e, false),
        Err(_) => return ("no welcome in time".into(), false),
    };
    let w = match welcome {
        Some(C::Welcome(w)) => w,
        Some(C::Error(e)) => return (format!("refused: {}", e.message), false),
        _ => return ("first message was not a welcome".into(), false),
    };
    if w.version != proto::PROTOCOL_VERSION {
        return (
            format!(
                "controller speaks protocol {}, this host {}",
                w.version,
                proto::PROTOCOL_VERSION
            ),
            false,
        );
    }
    let id = w.controller.clone();
    // The map as this controller applies it: the host reports to it what it owns there.
    let mut announced = SliceMap {
        epoch: w.epoch,
        owners: w.slice_owner,
    };
    hub.set_slices(&announced);
    let (tx, mut rx) = mpsc::channel::<AgentMessage>(4096);
    hub.register(&id, tx);
    hub.set_status(i, |c| {
        c.state = SessionState::Established;
        c.local = local;
        c.id = Some(id.clone());
        c.last_error = None;
    });
    // Full sync: everything this host knows for the VNIs this controller owns.
    let sync = hub
        .local()
        .sync_messages(|vni| announced.owner(vni) == Some(id.as_str()));
    let mut err = None;
    for m in sync
        .iter()
        .chain([&AgentMessage::of(A::SyncDone(proto::SyncDone {}))])
    {
        if let Err(e) = send(&mut wr, m).await {
            err = Some(format!("sync: {e}"));
            break;
        }
    }
    let mut keepalive = tokio::time::interval(proto::KEEPALIVE_EVERY);
    // The controller is gone if nothing (not even a keepalive) came for `dead_after`.
    let mut dead_at = tokio::time::Instant::now() + hub.dead_after;
    while err.is_none() {
        tokio::select! {
            f = next_frame(&mut rd) => {
                dead_at = tokio::time::Instant::now() + hub.dead_after;
                match f {
                    Ok(Some(b)) => match ControllerMessage::decode(&b[..]) {
                        Ok(ControllerMessage { body: Some(C::SliceMap(m)) }) => {
                            let map = SliceMap { epoch: m.epoch, owners: m.slice_owner };
                            if let Err(e) = take_over(&mut wr, hub, &id, &announced, &map).await {
                                err = Some(format!("write: {e}"));
                            }
                            announced = map;
                        }
                        Ok(m) => inbound::handle(hub, m),
                        Err(e) => err = Some(format!("malformed message from controller: {e}")),
                    },
                    Ok(None) => err = Some("controller closed the session".into()),
                    Err(e) => err = Some(e.to_string()),
                }
            },
            _ = tokio::time::sleep_until(dead_at) => {
                err = Some(format!("controller silent for {:?}", hub.dead_after));
            },
            _ = keepalive.tick() => {
                let k = AgentMessage::of(A::Keepalive(proto::Keepalive {}));
                if let Err(e) = send(&mut wr, &k).await {
                    err = Some(format!("write: {e}"));
                }
            },
            m = rx.recv() => match m {
                Some(m) => if let Err(e) = send(&mut wr, &m).await {
                    err = Some(format!("write: {e}"));
                },
                None => err = Some("replaced".into()),
            },
        }
    }
    hub.unregister(&id);
    (err.unwrap_or_default(), true)
}

/// A controller announced a new slice map: the host routes by it if it is the newest, and
/// sends this controller the full report of every joined VNI it owns now and did not own in
/// the map it announced before (it applies a map before announcing it, so it takes them).
async fn take_over<W: tokio::io::AsyncWrite + Unpin>(
    wr: &mut proto::FrameWriter<W>,
    hub: &Hub,
    id: &str,
    before: &SliceMap,
    now: &SliceMap,
) -> std::io::Result<()> {
    hub.set_slices(now);
    let gained = hub
        .local()
        .sync_messages(|vni| now.owner(vni) == Some(id) && before.owner(vni) != Some(id));
    for m in &gained {
        send(wr, m).await?;
    }
    Ok(())
}
