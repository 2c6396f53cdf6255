//! The agent <-> controller protocol: messages generated from `proto/vxswitch.proto`, the
//! length-prefixed framing, and checked conversions of the address fields.
#![forbid(unsafe_code)]

mod framing;

pub use framing::{codec, encode, next_frame, send, FrameWriter, Framed, MAX_FRAME};

#[allow(clippy::all, missing_docs)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/vxswitch.v1.rs"));
}

pub use generated::*;

use crate::ids::{self, Vni};
use crate::wire::MacAddr;
use std::net::Ipv4Addr;
use std::time::Duration;

/// Bumped on any change a peer of the previous version would misread.
pub const PROTOCOL_VERSION: u32 = 1;

/// Default TCP port of the controllers' agent sessions.
pub const DEFAULT_PORT: u16 = 1234;

/// Each side of a session sends a Keepalive this often...
pub const KEEPALIVE_EVERY: Duration = Duration::from_secs(1);
/// ...and takes a peer silent this long for gone, though its connection never closed (a
/// host that lost power, a controller behind a dead link). The controller's bound is
/// configurable (`controller.host_timeout_ms`); this is its default and the agent's.
pub const DEAD_AFTER: Duration = Duration::from_secs(3);

/// Why a field of a decoded message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {msg}")]
pub struct FieldError {
    pub field: &'static str,
    pub msg: String,
}

fn field_err(field: &'static str, msg: impl Into<String>) -> FieldError {
    FieldError {
        field,
        msg: msg.into(),
    }
}

/// A replication mode field.
pub fn replication(field: &'static str, v: i32) -> Result<ids::ReplicationMode, FieldError> {
    ReplicationMode::try_from(v)
        .map(Into::into)
        .map_err(|_| field_err(field, format!("{v} is no replication mode")))
}

/// An optional multicast group field (0: none).
pub fn group(field: &'static str, v: u32) -> Result<Option<Ipv4Addr>, FieldError> {
    match ip(v) {
        g if g.is_unspecified() => Ok(None),
        g if g.is_multicast() => Ok(Some(g)),
        g => Err(field_err(field, format!("{g} is not a multicast address"))),
    }
}

/// A VNI field.
pub fn vni(field: &'static str, v: u32) -> Result<Vni, FieldError> {
    Vni::try_from(v).map_err(|e| field_err(field, e.to_string()))
}

/// A MAC field: exactly 6 bytes.
pub fn mac(field: &'static str, b: &[u8]) -> Result<MacAddr, FieldError> {
    if b.len() != 6 {
        return Err(field_err(
            field,
            format!("a MAC is 6 bytes, got {}", b.len()),
        ));
    }
    Ok(MacAddr::from_bytes(b))
}

/// A unicast MAC field (a VM or VTEP address).
pub fn unicast_mac(field: &'static str, b: &[u8]) -> Result<MacAddr, FieldError> {
    let m = mac(field, b)?;
    if !m.is_unicast() {
        return Err(field_err(field, format!("{m} is not a unicast MAC")));
    }
    Ok(m)
}

/// An IPv4 field, as carried in fixed32.
pub fn ip(v: u32) -> Ipv4Addr {
    Ipv4Addr::from(v)
}

pub fn ip_u32(a: Ipv4Addr) -> u32 {
    u32::from(a)
}

pub fn mac_bytes(m: MacAddr) -> Vec<u8> {
    m.0.to_vec()
}

impl ControllerMessage {
    pub fn of(body: controller_message::Body) -> ControllerMessage {
        ControllerMessage { body: Some(body) }
    }
    pub fn error(code: ErrorCode, message: impl Into<String>) -> ControllerMessage {
        ControllerMessage::of(controller_message::Body::Error(Error {
            code: code as i32,
            message: message.into(),
        }))
    }
}

impl AgentMessage {
    pub fn of(body: agent_message::Body) -> AgentMessage {
        AgentMessage { body: Some(body) }
    }
}

impl From<ids::ReplicationMode> for ReplicationMode {
    fn from(m: ids::ReplicationMode) -> ReplicationMode {
        match m {
            ids::ReplicationMode::Unicast => ReplicationMode::Unicast,
            ids::ReplicationMode::Hybrid => ReplicationMode::Hybrid,
            ids::ReplicationMode::Multicast => ReplicationMode::Multicast,
            ids::ReplicationMode::HeadEnd => ReplicationMode::HeadEnd,
        }
    }
}

impl From<ReplicationMode> for ids::ReplicationMode {
    fn from(m: ReplicationMode) -> ids::ReplicationMode {
        match m {
            ReplicationMode::Unicast => ids::ReplicationMode::Unicast,
            ReplicationMode::Hybrid => ids::ReplicationMode::Hybrid,
            ReplicationMode::Multicast => ids::ReplicationMode::Multicast,
            ReplicationMode::HeadEnd => ids::ReplicationMode::HeadEnd,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn agent_message_round_trips() {
        let m = AgentMessage::of(agent_message::Body::Ip(IpReport {
            vni: 5001,
            ip: ip_u32(Ipv4Addr::new(172, 16, 10, 11)),
            mac: vec![2, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa],
            withdrawn: true,
        }));
        let b = m.encode_to_vec();
        assert_eq!(AgentMessage::decode(&b[..]).unwrap(), m);
    }

    #[test]
    fn unknown_oneof_member_decodes_as_empty_body() {
        // Field 99 is no member of AgentMessage's oneof: a newer peer's message.
        let b = [0x9a, 0x06, 0x00];
        assert_eq!(AgentMessage::decode(&b[..]).unwrap().body, None);
    }

    #[test]
    fn garbage_is_a_decode_error() {
        assert!(AgentMessage::decode(&[0x0a, 0xff, 0xff][..]).is_err());
    }

    #[test]
    fn field_checks_name_the_field() {
        assert_eq!(vni("join.vni", 0).unwrap_err().field, "join.vni");
        assert!(vni("v", Vni::MAX + 1).is_err());
        assert!(mac("mac.mac", &[1, 2, 3]).is_err());
        assert!(unicast_mac("mac.mac", &[1, 0, 0, 0, 0, 1]).is_err());
        assert_eq!(
            unicast_mac("m", &[2, 0xbb, 0xbb, 0xbb, 0xbb, 0xbb]).unwrap(),
            "02:bb:bb:bb:bb:bb".parse().unwrap()
        );
    }
}
