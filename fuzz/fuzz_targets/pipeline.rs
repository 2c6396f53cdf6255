//! The whole pipeline on in-memory frames: a host (`vxswitch_fuzz::HOST`) receives a
//! sequence of frames on its ports, with management ticks between them (events applied,
//! the slow path's frames sent, tables aged). Checked after every step: no frame leaks
//! (each one received or made is sent or freed: an mbuf in the real data plane), and every
//! IPv4 frame vxswitch puts on the uplink carries a valid header checksum.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vxswitch::testkit::HostRig;
use vxswitch::wire::{EtherType, EthernetFrame, Ipv4Packet};
use vxswitch_fuzz::{records, HOST, PORTS};

/// A record whose tag has this bit is a management tick, not a frame.
const TICK: u8 = 0x80;

fuzz_target!(|data: &[u8]| {
    let mut rig = HostRig::new(HOST);
    let mut now = 1;
    for (tag, body) in records(data).take(256) {
        if tag & TICK != 0 {
            rig.manage();
            rig.run_slow_path();
            now += 30;
            rig.m.age(now);
        } else {
            rig.send(u16::from(tag % PORTS), body);
        }
        assert_eq!(rig.outstanding(), 0, "a frame was neither sent nor freed");
    }
    rig.manage();
    rig.run_slow_path();
    assert_eq!(
        rig.outstanding(),
        0,
        "a slow-path frame was neither sent nor freed"
    );
    for f in rig.io.sent_on(vxswitch::tables::UPLINK) {
        let Ok(e) = EthernetFrame::new_checked(f) else {
            panic!("a frame on the uplink is not Ethernet: {f:02x?}");
        };
        if e.ethertype() == EtherType::Ipv4 {
            let ip = Ipv4Packet::new_checked(e.payload()).expect("our IPv4 header is whole");
            assert!(
                ip.verify_checksum(),
                "IPv4 checksum on the uplink: {f:02x?}"
            );
        }
    }
});
