//! Micro-benchmarks without EAL, so a regression in a lookup or a per-packet stage shows on
//! any machine: MAC table lookups at 1K and 1M entries, a 100-change publish against a
//! 1M-entry table, the flow hash and the encapsulation header write.
//! Each figure is the median of 7 runs, in nanoseconds per operation.

use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::Instant;
use vxswitch::ids::Vni;
use vxswitch::tables::{Dest, EntryKind, MacEntry, MacKey, MacTable, Tunnel, VtepIdentity};
use vxswitch::wire::{vxlan, MacAddr};

const VNI: Vni = Vni::from_const(5001);

fn median_ns(ops: u64, mut f: impl FnMut()) -> f64 {
    let mut runs: Vec<f64> = (0..7)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_nanos() as f64 / ops as f64
        })
        .collect();
    runs.sort_by(|a, b| a.total_cmp(b));
    runs[3]
}

fn key(i: u64) -> MacKey {
    let b = (i * 0x9e37_79b9).to_be_bytes();
    MacKey {
        vni: Vni::new(5001 + (i % 4) as u32).expect("a VNI"),
        mac: MacAddr([2, b[3], b[4], b[5], b[6], b[7]]),
    }
}

fn table(n: u64) -> MacTable {
    let mut e = MacTable::default().edit();
    for i in 0..n {
        e.insert(
            key(i),
            MacEntry::new(Dest::Remote(1), EntryKind::Learned, 0),
        );
    }
    e.finish()
}

fn main() {
    for n in [1_000u64, 1_000_000] {
        let t = table(n);
        let lookups = 1_000_000u64;
        let ns = median_ns(lookups, || {
            for i in 0..lookups {
                black_box(t.get(&key(black_box(i % n))));
            }
        });
        println!("mac_lookup_hit       {n:>8} entries  {ns:6.1} ns/op");
    }
    let t = table(1_000_000);
    let ns = median_ns(1, || {
        let mut e = t.edit();
        for i in 0..100 {
            e.insert(
                key(2_000_000 + i),
                MacEntry::new(Dest::Local(1), EntryKind::Learned, 0),
            );
        }
        black_box(e.finish());
    });
    println!(
        "publish_100_changes  1000000 entries  {:6.1} us/publish",
        ns / 1000.0
    );

    let frame = vxswitch::testkit::traffic::udp(
        MacAddr([2; 6]),
        MacAddr([4; 6]),
        Ipv4Addr::new(1, 1, 1, 1),
        Ipv4Addr::new(2, 2, 2, 2),
        1,
        2,
        18,
    );
    let n = 10_000_000u64;
    let ns = median_ns(n, || {
        for _ in 0..n {
            black_box(vxswitch::dataplane::flow_port(black_box(&frame)));
        }
    });
    println!("flow_hash_src_port                     {ns:6.1} ns/op");

    let vtep = VtepIdentity {
        ip: Ipv4Addr::new(192, 168, 250, 51),
        prefix_len: 24,
        mac: MacAddr([2, 0, 0, 0, 0, 0x51]),
        gateway: None,
        udp_port: 4789,
        mtu: 1600,
    };
    let tunnel = Tunnel::new(
        Ipv4Addr::new(192, 168, 250, 52),
        &vtep,
        Some(MacAddr([2, 0, 0, 0, 0, 0x52])),
    );
    let mut hdr = [0u8; vxlan::ENCAP_OVERHEAD];
    let ns = median_ns(n, || {
        for i in 0..n {
            vxswitch::dataplane::write_outer(
                &tunnel,
                black_box(&mut hdr),
                VNI,
                60 + (i & 7) as usize,
                50000,
            );
        }
    });
    println!("encap_header_write                     {ns:6.1} ns/op");
}
