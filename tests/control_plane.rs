//! The control plane end to end: the walk-through's tables in namespaces (VMs, two
//! vxswitch hosts, a controller), ARP suppression on and off as seen on the underlay,
//! headless forwarding with the controller killed, full sync after its restart, and the
//! controller's answer to malformed protocol messages.

mod common;

use common::{assert_no_leak, require_root, EXE};
use prost::Message;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::Path;
use std::time::Duration;
use vxswitch::api::host::SessionState;
use vxswitch::api::rest::LogicalSwitchView;
use vxswitch::api::Stat;
use vxswitch::lab::{sh, ControlledLab, VM_A, VM_B};
use vxswitch::proto::{self, agent_message::Body, AgentMessage, ControllerMessage, ErrorCode};
use vxswitch::wire::MacAddr;

const V5001: vxswitch::ids::Vni = vxswitch::ids::Vni::from_const(5001);

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}
fn mac(s: &str) -> MacAddr {
    s.parse().unwrap()
}

/// The controller's VTEP, MAC and ARP tables of the lab's VNI have (vteps, macs, arps) rows.
fn tables_have(l: &ControlledLab, vteps: usize, macs: usize, arps: usize) -> bool {
    l.vtep_table().len() == vteps && l.mac_table().len() == macs && l.arp_table().len() == arps
}

fn powered_on(lab: &ControlledLab) {
    lab.topo.power_on(0).unwrap();
    lab.topo.power_on(1).unwrap();
    lab.wait("STEP1-3 tables", Duration::from_secs(15), |l| {
        tables_have(l, 2, 2, 2)
    })
    .unwrap();
}

/// (ping A -> B ok, ARP requests for B seen inside VXLAN on the underlay). The capture
/// must have seen the ping's own VXLAN frames, or its count would prove nothing.
fn ping_captured(lab: &ControlledLab, tag: &str) -> (bool, usize) {
    let ((ok, out), crossed) = lab.ping_a_to_b_captured(tag, 3).unwrap();
    if !ok {
        eprintln!("{out}");
    }
    assert!(
        crossed.frames > 0,
        "the {tag} capture saw no VXLAN: {crossed:?}"
    );
    (ok, crossed.arp_requests)
}

#[test]
fn walkthrough_suppression_headless_and_resync() {
    require_root();
    let mut lab = ControlledLab::start(Path::new(EXE), "vxc1", 1, false).unwrap();
    let (ok, _) = lab.ctl(&["ls", "create", "--vni", "5001", "--name", "web"]);
    assert!(ok);
    // STEP0: VMs off: connected, but nobody joined.
    lab.wait(
        "sessions",
        Duration::from_secs(15),
        ControlledLab::connected,
    )
    .unwrap();
    assert_eq!(lab.vtep_table().len(), 0);
    // STEP1-3.
    powered_on(&lab);
    let vteps = lab.vtep_table();
    assert_eq!(vteps[0].ip, ip(VM_A.0));
    assert_eq!(vteps[0].segment, ip("192.168.250.0"));
    assert!(lab
        .mac_table()
        .iter()
        .any(|m| m.mac == mac(VM_B.2) && m.vtep_ip == ip(VM_B.0)));
    assert!(lab
        .arp_table()
        .iter()
        .any(|a| a.ip == ip(VM_A.1) && a.mac == mac(VM_A.2)));
    let hv1_vteps = lab.vtep_list(0);
    assert_eq!(hv1_vteps[0].ip, ip(VM_B.0), "esxi01 floods to esxi02 only");
    // STEP4-6 with suppression on: answered by esxi01, no ARP request on the underlay.
    let (ok, crossed) = ping_captured(&lab, "on");
    assert!(ok);
    assert_eq!(
        crossed, 0,
        "with ARP suppression on, no ARP request crosses the underlay"
    );
    let s = lab.stats(0).unwrap();
    assert!(s.stat(Stat::ArpProxyReplies) >= 1, "{s:?}");
    assert!(lab.learned_behind(0, VM_B.2, VM_B.0));
    assert!(lab.learned_behind(1, VM_A.2, VM_A.0));

    // Suppression off: the request is flooded over VXLAN like any broadcast.
    let (ok, _) = lab.ctl(&["ls", "update", "--vni", "5001", "--arp-suppression", "off"]);
    assert!(ok);
    std::thread::sleep(Duration::from_millis(500));
    let (ok, crossed) = ping_captured(&lab, "off");
    assert!(ok);
    assert!(
        crossed >= 1,
        "with ARP suppression off the ARP request crosses the underlay"
    );
    let (ok, _) = lab.ctl(&["ls", "update", "--vni", "5001", "--arp-suppression", "on"]);
    assert!(ok);
    // A switch with VMs on it cannot be deleted; nothing is lost.
    let (ok, out) = lab.ctl(&["ls", "delete", "--vni", "5001"]);
    assert!(!ok && out.contains("409"), "{out}");

    // Headless: the controller dies, the data plane keeps forwarding.
    lab.controllers[0].kill();
    lab.wait(
        "hosts see the controller down",
        Duration::from_secs(10),
        |l| {
            l.connections(0)
                .first()
                .is_some_and(|c| c.state != SessionState::Established)
        },
    )
    .unwrap();
    let (ok, out) = sh::try_in_ns(
        &lab.topo.vms[0].ns,
        &["ping", "-c", "3", "-i", "0.2", "-W", "2", VM_B.1],
    );
    assert!(ok, "headless ping:\n{out}");
    let (ok, out) = sh::try_in_ns(
        &lab.topo.vms[1].ns,
        &["ping", "-c", "3", "-i", "0.2", "-W", "2", VM_A.1],
    );
    assert!(ok, "headless ping B -> A:\n{out}");

    // Restart: the switch comes back from disk, the tables from the hosts' full sync.
    lab.restart_controller(0).unwrap();
    lab.wait(
        "tables complete after the restart",
        Duration::from_secs(20),
        |l| tables_have(l, 2, 2, 2),
    )
    .unwrap();
    let ls: LogicalSwitchView = lab
        .ctl_view(&["show", "logical-switches", "vni", "5001"])
        .unwrap();
    assert_eq!(
        ls.switch.name, "web",
        "the logical switch survived the restart: {ls:?}"
    );
    let (ok, out) = sh::try_in_ns(&lab.topo.vms[0].ns, &["ping", "-c", "2", "-W", "2", VM_B.1]);
    assert!(ok, "{out}");

    // A VM powers off: its host leaves the VNI, the controller's VTEP table follows.
    sh::in_ns(&lab.topo.vms[1].ns, &["ip", "link", "set", "eth0", "down"]).unwrap();
    lab.wait("esxi02 left VNI 5001", Duration::from_secs(10), |l| {
        l.vtep_table().len() == 1
    })
    .unwrap();
    assert_eq!(lab.mac_table().len(), 1);

    for (name, out) in lab.stop() {
        if !name.starts_with("controller") {
            assert_no_leak(&out);
        }
    }
}

fn frame(m: &AgentMessage) -> Vec<u8> {
    proto::encode(m)
}

/// The next message that is not a keepalive.
fn read_msg(s: &mut TcpStream) -> Option<ControllerMessage> {
    loop {
        let mut len = [0u8; 4];
        s.read_exact(&mut len).ok()?;
        let mut b = vec![0u8; u32::from_be_bytes(len) as usize];
        s.read_exact(&mut b).ok()?;
        let m = ControllerMessage::decode(&b[..]).ok()?;
        if !matches!(m.body, Some(proto::controller_message::Body::Keepalive(_))) {
            return Some(m);
        }
    }
}

fn error_code(m: &Option<ControllerMessage>) -> Option<ErrorCode> {
    match m.as_ref()?.body.as_ref()? {
        proto::controller_message::Body::Error(e) => ErrorCode::try_from(e.code).ok(),
        _ => None,
    }
}

/// A controller on loopback (agents on `agent_port`, API on `api_port`) with its state in a
/// fresh folder; returns it and the folder.
fn controller(tag: &str, agent_port: u16, api_port: u16) -> (common::Daemon, std::path::PathBuf) {
    controller_with(tag, agent_port, api_port, "")
}

/// [`controller`] with more lines in its `[controller]` section.
fn controller_with(
    tag: &str,
    agent_port: u16,
    api_port: u16,
    extra: &str,
) -> (common::Daemon, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("vxs-ctl-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("c.toml");
    std::fs::write(
        &cfg,
        format!("[controller]\nlisten = \"127.0.0.1:{agent_port}\"\napi = \"127.0.0.1:{api_port}\"\nstate_dir = \"{}\"\ninsecure = true\n{extra}", dir.join("state").display()),
    )
    .unwrap();
    let d = common::Daemon::spawn_args(
        &["controller", "--config", &cfg.display().to_string()],
        "vxswitch controller ready",
    );
    (d, dir)
}

#[test]
fn controller_answers_bad_protocol_input_and_keeps_running() {
    let metrics = "127.0.0.1:29464";
    let (mut d, dir) = controller_with("proto", 21234, 28080, &format!("metrics = \"{metrics}\""));
    let connect = || {
        let s = TcpStream::connect("127.0.0.1:21234").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s
    };
    let hello = |version| {
        AgentMessage::of(Body::Hello(proto::Hello {
            version,
            host: "t".into(),
            vtep_ip: 0xc0a8_fa33,
            vtep_prefix_len: 24,
            vtep_mac: vec![2, 0, 0, 0, 0, 0x51],
        }))
    };
    // Not a Hello first.
    let mut s = connect();
    s.write_all(&frame(&AgentMessage::of(Body::Join(proto::VniJoin {
        vni: 5001,
    }))))
    .unwrap();
    assert_eq!(error_code(&read_msg(&mut s)), Some(ErrorCode::HelloFirst));
    // Wrong version: refused, closed.
    let mut s = connect();
    s.write_all(&frame(&hello(99))).unwrap();
    assert_eq!(error_code(&read_msg(&mut s)), Some(ErrorCode::BadVersion));
    assert!(
        read_msg(&mut s).is_none(),
        "closed after a version mismatch"
    );
    // A good session: unknown message and bad fields get errors, the session survives.
    let mut s = connect();
    s.write_all(&frame(&hello(proto::PROTOCOL_VERSION)))
        .unwrap();
    assert!(matches!(
        read_msg(&mut s).and_then(|m| m.body),
        Some(proto::controller_message::Body::Welcome(_))
    ));
    s.write_all(&[0, 0, 0, 3, 0x9a, 0x06, 0x00]).unwrap(); // field 99: a message from the future
    assert_eq!(
        error_code(&read_msg(&mut s)),
        Some(ErrorCode::UnknownMessage)
    );
    s.write_all(&frame(&AgentMessage::of(Body::Join(proto::VniJoin {
        vni: 0,
    }))))
    .unwrap();
    assert_eq!(error_code(&read_msg(&mut s)), Some(ErrorCode::BadField));
    s.write_all(&frame(&AgentMessage::of(Body::Mac(proto::MacReport {
        vni: 5001,
        mac: vec![1, 2],
        withdrawn: false,
        seq: 0,
    }))))
    .unwrap();
    assert_eq!(error_code(&read_msg(&mut s)), Some(ErrorCode::BadField));
    let query = frame(&AgentMessage::of(Body::ArpQuery(proto::ArpQuery {
        vni: 5001,
        ip: 1,
    })));
    // Only about a VNI the host joined.
    s.write_all(&query).unwrap();
    assert_eq!(
        error_code(&read_msg(&mut s)),
        Some(ErrorCode::NotAuthorized)
    );
    s.write_all(&frame(&AgentMessage::of(Body::Join(proto::VniJoin {
        vni: 5001,
    }))))
    .unwrap();
    s.write_all(&query).unwrap();
    assert!(
        matches!(read_msg(&mut s).and_then(|m| m.body), Some(proto::controller_message::Body::ArpReply(r)) if !r.found)
    );
    // Garbage: an error, then a clean close.
    s.write_all(&[0, 0, 0, 3, 0x0a, 0xff, 0xff]).unwrap();
    assert_eq!(error_code(&read_msg(&mut s)), Some(ErrorCode::Malformed));
    assert!(read_msg(&mut s).is_none());
    // An absurd length is refused before anything is allocated.
    let mut s = connect();
    s.write_all(&frame(&hello(proto::PROTOCOL_VERSION)))
        .unwrap();
    let _ = read_msg(&mut s);
    s.write_all(&[0xff, 0xff, 0xff, 0xff]).unwrap();
    assert_eq!(error_code(&read_msg(&mut s)), Some(ErrorCode::Malformed));
    // Still serving.
    let mut s = connect();
    s.write_all(&frame(&hello(proto::PROTOCOL_VERSION)))
        .unwrap();
    assert!(matches!(
        read_msg(&mut s).and_then(|m| m.body),
        Some(proto::controller_message::Body::Welcome(_))
    ));
    // What it counted, as Prometheus reads it: the joined session, the one ARP query
    // answered (the one before the join was refused), the message from the future.
    s.write_all(&frame(&AgentMessage::of(Body::Join(proto::VniJoin {
        vni: 5001,
    }))))
    .unwrap();
    let start = std::time::Instant::now();
    let m = loop {
        let m = common::scrape(metrics);
        let vteps = common::sample(&m, "vxswitch_controller_vni_vteps", &[("vni", "5001")]);
        if vteps == Some(1.0) || start.elapsed() > Duration::from_secs(5) {
            break m;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let get = |name, labels: &[(&str, &str)]| common::sample(&m, name, labels).unwrap_or(-1.0);
    assert_eq!(
        get("vxswitch_controller_vni_vteps", &[("vni", "5001")]),
        1.0
    );
    assert_eq!(get("vxswitch_controller_sessions", &[]), 1.0);
    let answered = [("kind", "arp"), ("result", "unknown")];
    assert_eq!(get("vxswitch_controller_queries_total", &answered), 1.0);
    assert_eq!(
        get(
            "vxswitch_controller_refusals_total",
            &[("reason", "not_joined")]
        ),
        1.0
    );
    let received = |t| {
        get(
            "vxswitch_controller_messages_received_total",
            &[("type", t)],
        )
    };
    assert_eq!(received("unknown"), 1.0);
    assert_eq!((received("join"), received("hello")), (3.0, 4.0));
    let sent = get(
        "vxswitch_controller_messages_sent_total",
        &[("type", "welcome")],
    );
    assert!(sent >= 3.0, "{sent}");
    let out = d.stop();
    assert!(
        out.contains("vxswitch controller ready: id 127.0.0.1"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn rest_api_takes_typed_json_writes_only_and_names_the_field() {
    let (mut d, dir) = controller("rest", 21235, 28081);
    let url = "http://127.0.0.1:28081/api/v1/logical-switches";
    // (status, field named) of a refused request.
    let refused = |r: Result<ureq::Response, ureq::Error>| match r {
        Err(ureq::Error::Status(code, resp)) => {
            let body: vxswitch::api::rest::ApiError = resp.into_json().unwrap();
            (code, body.field)
        }
        other => panic!("not refused: {other:?}"),
    };
    // A cross-site form or text/plain post is not a JSON write.
    let r = ureq::post(url)
        .set("Content-Type", "text/plain")
        .send_string(r#"{"vni": 5001}"#);
    assert_eq!(refused(r), (415, "content-type".to_string()));
    // A JSON write refused: (status, field named).
    let json = |body: &str| {
        refused(
            ureq::post(url)
                .set("Content-Type", "application/json")
                .send_string(body),
        )
    };
    assert_eq!(
        json(r#"{"vni": 5001, "colour": 1}"#),
        (400, "colour".into())
    );
    assert_eq!(json(r#"{"vni": 0}"#), (400, "vni".into()));
    assert_eq!(
        json(r#"{"vni": 5001, "replication_mode": "flood"}"#),
        (400, "replication_mode".into())
    );
    assert_eq!(json("[5001]"), (400, "body".into()));
    assert_eq!(
        refused(ureq::get(&format!("{url}/abc")).call()),
        (400, "vni".into())
    );
    // Nothing of that was stored; a good body is, and reads back typed.
    let api = vxswitch::api::RestClient::new("http://127.0.0.1:28081");
    assert!(api.switches().unwrap().is_empty());
    let spec = vxswitch::api::rest::SwitchSpec {
        vni: Some(V5001),
        name: Some("web".into()),
        ..Default::default()
    };
    let made = api.create(&spec).unwrap();
    assert_eq!(made.switch.name, "web");
    assert_eq!(made.controller, "127.0.0.1");
    assert!(matches!(
        api.create(&spec),
        Err(vxswitch::api::RestError::Refused { status: 409, .. })
    ));
    assert_eq!(api.switches().unwrap(), vec![made]);
    d.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A host that vanishes without closing its connection (it stops sending, even keepalives)
/// is dropped after `proto::DEAD_AFTER` and leaves the VNI's VTEP table; one that keeps
/// sending keepalives stays.
#[test]
fn a_silent_host_is_removed_and_a_live_idle_one_stays() {
    // A bound shorter than the default (3 s).
    let (mut d, dir) = controller_with("silent", 21236, 28082, "host_timeout_ms = 2000\n");
    let api = vxswitch::api::RestClient::new("http://127.0.0.1:28082");
    let spec = vxswitch::api::rest::SwitchSpec {
        vni: Some(V5001),
        ..Default::default()
    };
    api.create(&spec).unwrap();
    let open = |vtep: u32| {
        let mut s = TcpStream::connect("127.0.0.1:21236").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(8))).unwrap();
        s.write_all(&frame(&AgentMessage::of(Body::Hello(proto::Hello {
            version: proto::PROTOCOL_VERSION,
            host: format!("h{vtep:x}"),
            vtep_ip: vtep,
            vtep_prefix_len: 24,
            vtep_mac: vec![2, 0, 0, 0, 0, vtep as u8],
        }))))
        .unwrap();
        s.write_all(&frame(&AgentMessage::of(Body::Join(proto::VniJoin {
            vni: 5001,
        }))))
        .unwrap();
        s
    };
    let (silent, live) = (open(0xc0a8_fa33), open(0xc0a8_fa34));
    let members = || {
        let mut v: Vec<Ipv4Addr> = api
            .vtep_table(V5001)
            .unwrap()
            .iter()
            .map(|r| r.ip)
            .collect();
        v.sort();
        v
    };
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(members().len(), 2);
    // The live host answers the controller's keepalives for 3 s; the silent one says nothing.
    let start = std::time::Instant::now();
    let mut live = live;
    while start.elapsed() < Duration::from_secs(3) {
        live.write_all(&frame(&AgentMessage::of(Body::Keepalive(
            proto::Keepalive {},
        ))))
        .unwrap();
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(members(), [ip("192.168.250.52")], "the silent host left");
    drop(silent);
    let out = d.stop();
    assert!(out.contains("silent for 2s, host gone"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
