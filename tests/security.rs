//! The authenticated control plane, attacked: a controller with mutual TLS and an API token
//! on loopback, and peers that try what the old plaintext protocol let anyone do (speak for
//! another host's VTEP, connect without a certificate or with one from another CA, ask about
//! a VNI they did not join, use the REST API without the token). Each attempt must be
//! refused, counted, and leave what is stored as it was.

mod common;

use prost::Message;
use rustls::pki_types::ServerName;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;
use vxswitch::api::rest::{Refusals, SwitchSpec};
use vxswitch::api::{RestClient, RestError};
use vxswitch::auth::{pki, ApiToken, TlsFiles};
use vxswitch::proto::{
    self, agent_message::Body, controller_message::Body as C, AgentMessage, ControllerMessage,
    ErrorCode,
};

const AGENTS: &str = "127.0.0.1:21260";
const API: &str = "http://127.0.0.1:28120";
const V5001: vxswitch::ids::Vni = vxswitch::ids::Vni::from_const(5001);

fn files(dir: &Path, name: &str) -> TlsFiles {
    TlsFiles {
        ca: dir.join(pki::CA_CERT),
        cert: dir.join(format!("{name}.pem")),
        key: dir.join(format!("{name}.key")),
    }
}

/// Anything that carries the protocol's frames: a TLS session or a plain socket.
trait Wire: Read + Write {}
impl<T: Read + Write> Wire for T {}

/// A TLS session to the controller as `name` of the CA in `dir`; Err if the handshake or
/// the first read fails.
fn tls(dir: &Path, name: &str) -> Result<Box<dyn Wire>, String> {
    tls_to(AGENTS, dir, name)
}

/// The same, to the controller listening on `agents`.
fn tls_to(agents: &str, dir: &Path, name: &str) -> Result<Box<dyn Wire>, String> {
    let cfg = vxswitch::auth::client_config(&files(dir, name)).map_err(|e| e.to_string())?;
    let name = ServerName::IpAddress(Ipv4Addr::LOCALHOST.into());
    let conn = rustls::ClientConnection::new(cfg, name).map_err(|e| e.to_string())?;
    let sock = TcpStream::connect(agents).map_err(|e| e.to_string())?;
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut s = rustls::StreamOwned::new(conn, sock);
    while s.conn.is_handshaking() {
        s.conn
            .complete_io(&mut s.sock)
            .map_err(|e| format!("handshake: {e}"))?;
    }
    Ok(Box::new(s))
}

fn send(s: &mut dyn Wire, b: Body) {
    let _ = s.write_all(&proto::encode(&AgentMessage::of(b)));
    let _ = s.flush();
}

/// The next message that is not a keepalive or a push (VTEP table, logical switch); None
/// once the session is closed.
fn next(s: &mut dyn Wire) -> Option<ControllerMessage> {
    loop {
        let mut len = [0u8; 4];
        s.read_exact(&mut len).ok()?;
        let mut b = vec![0u8; u32::from_be_bytes(len) as usize];
        s.read_exact(&mut b).ok()?;
        let m = ControllerMessage::decode(&b[..]).ok()?;
        let push = matches!(
            m.body,
            Some(C::Keepalive(_) | C::VtepTable(_) | C::LogicalSwitch(_))
        );
        if !push {
            return Some(m);
        }
    }
}

fn error_code(m: Option<ControllerMessage>) -> Option<ErrorCode> {
    match m?.body? {
        C::Error(e) => ErrorCode::try_from(e.code).ok(),
        _ => None,
    }
}

fn hello(vtep: Ipv4Addr) -> Body {
    Body::Hello(proto::Hello {
        version: proto::PROTOCOL_VERSION,
        host: "h".into(),
        vtep_ip: proto::ip_u32(vtep),
        vtep_prefix_len: 24,
        vtep_mac: vec![2, 0, 0, 0, 0, vtep.octets()[3]],
    })
}

struct Setup {
    dir: PathBuf,
    ca: PathBuf,
    token: ApiToken,
    controller: common::Daemon,
}

/// The CA with the controller's, esxi01's (10.1.1.1) and esxi02's (10.1.1.2) pairs, another
/// CA with a "rogue" pair for 10.1.1.1, and the controller running on them.
fn setup() -> Setup {
    setup_on("security", AGENTS, API, "")
}

/// `setup` with the controller on other ports (tests run side by side), `config` added to
/// its file; esxi03 (10.1.1.3) has a pair too.
fn setup_on(tag: &str, agents: &str, api: &str, config: &str) -> Setup {
    let dir = common::test_dir(tag);
    let ca = dir.join("pki");
    let ip = |s: &str| std::net::IpAddr::V4(s.parse().unwrap());
    pki::init(&ca).unwrap();
    pki::issue(&ca, "controller", &[ip("127.0.0.1")]).unwrap();
    pki::issue(&ca, "esxi01", &[ip("10.1.1.1")]).unwrap();
    pki::issue(&ca, "esxi02", &[ip("10.1.1.2")]).unwrap();
    pki::issue(&ca, "esxi03", &[ip("10.1.1.3")]).unwrap();
    let other = dir.join("other-ca");
    pki::init(&other).unwrap();
    pki::issue(&other, "rogue", &[ip("10.1.1.1")]).unwrap();
    let f = files(&ca, "controller");
    let cfg = dir.join("controller.toml");
    std::fs::write(
        &cfg,
        format!(
            "[controller]\nlisten = \"{agents}\"\napi = \"{}\"\nstate_dir = \"{}\"\n\
             tls_ca = \"{}\"\ntls_cert = \"{}\"\ntls_key = \"{}\"\napi_token_file = \"{}\"\n{config}",
            api.trim_start_matches("http://"),
            dir.join("state").display(),
            f.ca.display(),
            f.cert.display(),
            f.key.display(),
            ca.join(pki::API_TOKEN).display()
        ),
    )
    .unwrap();
    let controller = common::Daemon::spawn_args(
        &["controller", "--config", &cfg.display().to_string()],
        "vxswitch controller ready",
    );
    let token = ApiToken::load(&ca.join(pki::API_TOKEN)).unwrap();
    Setup {
        dir,
        ca,
        token,
        controller,
    }
}

#[test]
fn the_authenticated_control_plane_refuses_impersonation_strangers_and_anonymous_calls() {
    let mut s = setup();
    let api = RestClient::new(API).with_token(&s.token);
    api.create(&SwitchSpec {
        vni: Some(V5001),
        ..Default::default()
    })
    .unwrap();
    let (a, b) = (Ipv4Addr::new(10, 1, 1, 1), Ipv4Addr::new(10, 1, 1, 2));

    // esxi01, as itself: welcomed, joins, reports VM A's MAC.
    let mut esxi01 = tls(&s.ca, "esxi01").unwrap();
    send(&mut *esxi01, hello(a));
    assert!(matches!(
        next(&mut *esxi01).and_then(|m| m.body),
        Some(C::Welcome(_))
    ));
    send(&mut *esxi01, Body::Join(proto::VniJoin { vni: 5001 }));
    let vm_a = vec![2, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa];
    send(
        &mut *esxi01,
        Body::Mac(proto::MacReport {
            vni: 5001,
            mac: vm_a.clone(),
            withdrawn: false,
            seq: 0,
        }),
    );
    let stored = || {
        (
            api.vtep_table(V5001).unwrap(),
            api.mac_table(V5001).unwrap(),
        )
    };
    vxswitch::lab::sh::wait_until("esxi01's MAC in the table", Duration::from_secs(5), || {
        stored().1.len() == 1
    })
    .unwrap();
    let before = stored();
    assert_eq!(before.0.len(), 1);

    // esxi02's certificate, claiming esxi01's VTEP: refused, its session closed.
    let mut esxi02 = tls(&s.ca, "esxi02").unwrap();
    send(&mut *esxi02, hello(a));
    assert_eq!(
        error_code(next(&mut *esxi02)),
        Some(ErrorCode::NotAuthorized)
    );
    assert!(next(&mut *esxi02).is_none(), "closed after impersonation");
    // A certificate from another CA, naming esxi01's VTEP: no session at all.
    let rogue = tls(&s.dir.join("other-ca"), "rogue").and_then(|mut r| {
        send(&mut *r, hello(a));
        next(&mut *r).ok_or_else(|| "closed".to_string())
    });
    assert!(rogue.is_err(), "a foreign CA's certificate was accepted");
    // Plaintext, as the old protocol spoke: no Welcome, the connection is closed.
    let mut plain = TcpStream::connect(AGENTS).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    send(&mut plain, hello(a));
    assert!(next(&mut plain).is_none(), "a plaintext Hello was answered");

    // esxi01's session outlived all of that, and so did its VTEP and MAC.
    assert_eq!(stored(), before);
    // Questions only about VNIs it joined.
    send(
        &mut *esxi01,
        Body::MacQuery(proto::MacQuery {
            vni: 5002,
            mac: vm_a.clone(),
        }),
    );
    assert_eq!(
        error_code(next(&mut *esxi01)),
        Some(ErrorCode::NotAuthorized)
    );
    send(
        &mut *esxi01,
        Body::MacQuery(proto::MacQuery {
            vni: 5001,
            mac: vm_a,
        }),
    );
    assert!(matches!(
        next(&mut *esxi01).and_then(|m| m.body),
        Some(C::MacReply(r)) if r.found && r.vtep_ip == proto::ip_u32(a)
    ));
    // esxi02 as itself is welcome.
    let mut esxi02 = tls(&s.ca, "esxi02").unwrap();
    send(&mut *esxi02, hello(b));
    assert!(matches!(
        next(&mut *esxi02).and_then(|m| m.body),
        Some(C::Welcome(_))
    ));

    // The REST API: no token or a wrong one is refused before anything runs.
    let anonymous = RestClient::new(API);
    fn status<T: std::fmt::Debug>(r: Result<T, RestError>) -> (u16, String) {
        match r {
            Err(RestError::Refused { status, body }) => (status, body.field),
            other => panic!("not refused: {other:?}"),
        }
    }
    assert_eq!(status(anonymous.switches()), (401, "authorization".into()));
    assert_eq!(
        status(anonymous.mac_table(V5001)),
        (401, "authorization".into())
    );
    let spec = SwitchSpec {
        vni: Some(vxswitch::ids::Vni::from_const(5002)),
        ..Default::default()
    };
    assert_eq!(
        status(anonymous.create(&spec)),
        (401, "authorization".into())
    );
    let wrong = RestClient::new(API).with_token(&ApiToken::generate());
    assert_eq!(status(wrong.delete(V5001)), (401, "authorization".into()));
    let r = ureq::get(&format!("{API}/api/v1/hypervisors")).call();
    match r {
        Err(ureq::Error::Status(401, resp)) => {
            assert_eq!(resp.header("WWW-Authenticate"), Some("Bearer"))
        }
        other => panic!("{other:?}"),
    }
    // The OpenAPI document is public.
    assert_eq!(
        ureq::get(&format!("{API}/openapi.json"))
            .call()
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        api.switches().unwrap().len(),
        1,
        "a refused write stored something"
    );
    assert_eq!(stored(), before);

    // Every refusal counted.
    let r = api.refusals().unwrap();
    assert_eq!(
        r,
        Refusals {
            tls_handshake: 2,
            impersonation: 1,
            not_joined: 1,
            api_unauthenticated: 5,
            ..Refusals::default()
        }
    );
    let out = s.controller.stop();
    assert!(
        out.contains("(mutual TLS)") && out.contains("bearer token"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&s.dir);
}

/// A MAC report as a host sends it.
fn mac_report(mac: &[u8], seq: u32) -> Body {
    Body::Mac(proto::MacReport {
        vni: 5001,
        mac: mac.to_vec(),
        withdrawn: false,
        seq,
    })
}

/// The next answer that is an Error, or a MacReply (other pushes skipped).
fn next_reply(s: &mut dyn Wire) -> Option<C> {
    next(s).and_then(|m| m.body)
}

#[test]
fn limits_stale_reports_and_a_flapping_mac_are_refused_and_counted() {
    const AGENTS2: &str = "127.0.0.1:21261";
    const API2: &str = "http://127.0.0.1:28121";
    let limits = "[limits]\nsessions = 2\nmacs_per_vni = 2\ndup_moves = 3\ndup_window_s = 60\n";
    let mut s = setup_on("security-limits", AGENTS2, API2, limits);
    let api = RestClient::new(API2).with_token(&s.token);
    api.create(&SwitchSpec {
        vni: Some(V5001),
        ..Default::default()
    })
    .unwrap();
    let (a, b) = (Ipv4Addr::new(10, 1, 1, 1), Ipv4Addr::new(10, 1, 1, 2));
    let host = |name: &str, vtep: Ipv4Addr| {
        let mut h = tls_to(AGENTS2, &s.ca, name).unwrap();
        send(&mut *h, hello(vtep));
        assert!(matches!(next_reply(&mut *h), Some(C::Welcome(_))));
        send(&mut *h, Body::Join(proto::VniJoin { vni: 5001 }));
        h
    };
    let mut esxi01 = host("esxi01", a);
    let mut esxi02 = host("esxi02", b);
    // A third host: past the session limit.
    let mut esxi03 = tls_to(AGENTS2, &s.ca, "esxi03").unwrap();
    send(&mut *esxi03, hello(Ipv4Addr::new(10, 1, 1, 3)));
    assert!(matches!(next_reply(&mut *esxi03), Some(C::Error(_))));
    assert!(next(&mut *esxi03).is_none(), "closed at the session limit");

    // Two MACs fill the VNI's table; a third is refused.
    let (vm_a, vm_b, vm_x) = (
        [2, 0xaa, 0, 0, 0, 1],
        [2, 0xbb, 0, 0, 0, 2],
        [2, 0x55, 0, 0, 0, 3],
    );
    send(&mut *esxi01, mac_report(&vm_a, 0));
    send(&mut *esxi02, mac_report(&vm_b, 0));
    vxswitch::lab::sh::wait_until("both MACs stored", Duration::from_secs(5), || {
        api.mac_table(V5001).unwrap().len() == 2
    })
    .unwrap();
    send(&mut *esxi01, mac_report(&vm_x, 0));
    assert!(matches!(next_reply(&mut *esxi01), Some(C::Error(e)) if e.message.contains("limit")));

    // VM A moves to esxi02 (which knew it at 0 and so says 1): both hosts hear where it is.
    send(&mut *esxi02, mac_report(&vm_a, 1));
    for h in [&mut esxi01, &mut esxi02] {
        assert!(matches!(
            next_reply(&mut **h),
            Some(C::MacReply(r)) if r.vtep_ip == proto::ip_u32(b) && r.seq == 1
        ));
    }
    // esxi01 re-sends its old report (a resync after a failover): stale, refused, and told
    // where A is now; A stays behind esxi02.
    send(&mut *esxi01, mac_report(&vm_a, 0));
    assert!(
        matches!(next_reply(&mut *esxi01), Some(C::MacReply(r)) if r.vtep_ip == proto::ip_u32(b) && r.seq == 1)
    );
    assert!(matches!(next_reply(&mut *esxi01), Some(C::Error(e)) if e.message.contains("older")));
    let where_a = || {
        api.mac_table(V5001)
            .unwrap()
            .into_iter()
            .find(|r| r.mac.0 == vm_a)
            .unwrap()
    };
    assert_eq!((where_a().vtep_ip, where_a().seq), (b, 1));

    // A and esxi01 fight over it (a duplicate MAC): the third move in 60 s freezes it.
    send(&mut *esxi01, mac_report(&vm_a, 2)); // move 2: to esxi01
    for h in [&mut esxi01, &mut esxi02] {
        assert!(matches!(next_reply(&mut **h), Some(C::MacReply(r)) if r.seq == 2));
    }
    send(&mut *esxi02, mac_report(&vm_a, 3)); // move 3: one too many
    assert!(matches!(next_reply(&mut *esxi02), Some(C::Error(e)) if e.message.contains("frozen")));
    send(&mut *esxi02, mac_report(&vm_a, 9));
    assert!(matches!(next_reply(&mut *esxi02), Some(C::Error(e)) if e.message.contains("frozen")));
    let frozen = where_a();
    assert!(frozen.frozen);
    assert_eq!((frozen.vtep_ip, frozen.seq), (a, 2), "frozen where it was");
    assert_eq!(
        api.mac_table(V5001).unwrap().len(),
        2,
        "nothing stored was lost"
    );

    let r = api.refusals().unwrap();
    assert_eq!(
        (
            r.session_limit,
            r.table_full,
            r.stale_reports,
            r.duplicates_frozen,
            r.frozen_reports
        ),
        (1, 1, 1, 1, 1)
    );
    let out = s.controller.stop();
    assert!(out.contains("flaps between locations"), "{out}");
}
