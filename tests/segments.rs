//! BUM replication modes on a routed underlay (`vxswitch lab --segments`): five vxswitch
//! hypervisors on two segments joined by a router, a Linux kernel VTEP in the group, one
//! broadcast per mode counted from captures; then the proxy of a segment leaves and another
//! takes over.

mod common;

use common::{require_root, EXE};
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::{Duration, Instant};
use vxswitch::ids::ReplicationMode;
use vxswitch::lab::segments::{SegmentsLab, HOSTS, ROUNDS};

#[test]
fn each_mode_copies_as_promised_and_a_departed_proxy_is_replaced() {
    require_root();
    let lab = SegmentsLab::start(Path::new(EXE), "vxg").unwrap();
    let rounds = lab.rounds(&ROUNDS).unwrap();
    for r in &rounds {
        assert!(r.as_the_mode_promises(), "{r:#?}");
    }
    let expected_sent = |m| match m {
        ReplicationMode::Unicast => [2, 1, 0],
        ReplicationMode::Hybrid => [0, 1, 1],
        ReplicationMode::Multicast => [0, 0, 1],
        ReplicationMode::HeadEnd => [4, 0, 0],
    };
    for r in &rounds {
        assert_eq!(r.sent, expected_sent(r.mode), "{r:#?}");
    }
    let multicast = rounds.iter().find(|r| r.mode == ReplicationMode::Multicast);
    let ping = multicast.and_then(|r| r.kernel_ping.clone()).unwrap();
    assert!(
        ping.0,
        "kernel VTEP's VM -> VM A through the group:\n{}",
        ping.1
    );

    // Segment 2's proxy powers its VM off: its host leaves the VNI, the other takes over.
    let seg2: Vec<Ipv4Addr> = HOSTS[3..].iter().map(|h| h.0.parse().unwrap()).collect();
    let unicast = &rounds[0];
    let old = *unicast.proxies.iter().find(|p| seg2.contains(p)).unwrap();
    let (gone, other) = if old == seg2[0] { (3, 4) } else { (4, 3) };
    lab.set_mode(ReplicationMode::Unicast).unwrap();
    assert!(lab.proxies().contains(&old), "{:?}", lab.proxies());
    lab.power_off(gone).unwrap();
    let start = Instant::now();
    while !lab.proxies().contains(&seg2[other - 3]) {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "no new proxy: {:?}",
            lab.proxies()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let r = &lab.rounds(&[(ReplicationMode::Unicast, 5)]).unwrap()[0];
    assert_eq!(r.sent, [2, 1, 0], "{r:#?}");
    assert_eq!(r.crossed, [1, 0], "{r:#?}");
    assert_eq!(r.received[..3], [0, 1, 1], "{r:#?}");
    assert_eq!((r.received[gone], r.received[other]), (0, 1), "{r:#?}");
}
