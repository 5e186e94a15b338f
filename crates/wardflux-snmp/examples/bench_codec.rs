//! Benchmark (b): varbinds encoded + decoded per CPU-second.
//!
//! `cargo run --release -p wardflux-snmp --example bench_codec`
//!
//! One v2c Response of 40 varbinds (a polling mix: Counter64, Counter32, Gauge32, TimeTicks,
//! INTEGER, short OCTET STRING, OID, IpAddress) is encoded and decoded again in a loop on one
//! thread, through this crate's `codec` API (conversions to and from the crate's own types
//! included). CPU time is the thread's own (`/proc/thread-self/schedstat`).

use std::hint::black_box;

use wardflux_snmp::codec::{decode_message, encode_v2c_response};
use wardflux_snmp::{Oid, Value, VarBind};

fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .expect("/proc/thread-self/schedstat")
}

fn main() {
    let mut vbs = Vec::new();
    for i in 1..=5u32 {
        let base = |col: u32| Oid::from_arcs(&[1, 3, 6, 1, 2, 1, 31, 1, 1, 1, col, 10100 + i]);
        vbs.push(VarBind {
            oid: base(6),
            value: Value::Counter64(9_876_543_210_123 + u64::from(i)),
        });
        vbs.push(VarBind {
            oid: base(10),
            value: Value::Counter64(1_234_567_890_123 + u64::from(i)),
        });
        vbs.push(VarBind {
            oid: base(15),
            value: Value::Gauge32(1000),
        });
        vbs.push(VarBind {
            oid: base(1),
            value: Value::OctetString(format!("Gi1/0/{i}").into_bytes()),
        });
        let old = |col: u32| Oid::from_arcs(&[1, 3, 6, 1, 2, 1, 2, 2, 1, col, 10100 + i]);
        vbs.push(VarBind {
            oid: old(10),
            value: Value::Counter32(4_000_000_000 - i),
        });
        vbs.push(VarBind {
            oid: old(16),
            value: Value::Counter32(3_000_000_000 + i),
        });
        vbs.push(VarBind {
            oid: old(8),
            value: Value::Integer(1),
        });
        vbs.push(VarBind {
            oid: old(4),
            value: Value::IpAddress([10, 0, 0, i as u8]),
        });
    }
    assert_eq!(vbs.len(), 40);
    vbs[0] = VarBind {
        oid: "1.3.6.1.2.1.1.3.0".parse().unwrap(),
        value: Value::TimeTicks(123_456_789),
    };
    vbs[1] = VarBind {
        oid: "1.3.6.1.2.1.1.2.0".parse().unwrap(),
        value: Value::ObjectIdentifier("1.3.6.1.4.1.9.1.516".parse().unwrap()),
    };

    // correctness first: the round trip is lossless
    let bytes = encode_v2c_response("public", 42, &vbs).unwrap();
    let back = decode_message(&bytes).unwrap();
    assert_eq!(back.varbinds, vbs);
    assert_eq!(back.request_id, Some(42));

    let mut iterations = 0u64;
    let start = thread_cpu_ns();
    loop {
        for _ in 0..1000 {
            let bytes = encode_v2c_response("public", 42, black_box(&vbs)).unwrap();
            let m = decode_message(black_box(&bytes)).unwrap();
            black_box(m);
        }
        iterations += 1000;
        if thread_cpu_ns() - start > 3_000_000_000 {
            break;
        }
    }
    let cpu = (thread_cpu_ns() - start) as f64 / 1e9;
    let varbinds = iterations as f64 * vbs.len() as f64;
    println!(
        "{} messages of {} varbinds ({} bytes) encoded+decoded in {:.2} CPU-s",
        iterations,
        vbs.len(),
        bytes.len(),
        cpu
    );
    println!(
        "{:.0} varbinds encoded+decoded per CPU-second",
        varbinds / cpu
    );
    println!(
        "{:.0} messages encoded+decoded per CPU-second",
        iterations as f64 / cpu
    );
}
