//! What one series costs in memory (its key, the maps that find it, its empty stream), counted
//! by an instrumented global allocator (`stats_alloc`), not estimated. Its own test binary, so
//! no other test allocates while it counts.
//!
//! Data: what the SNMP poller writes for 1,000 devices with the Generic SNMP template (3
//! interfaces each): per interface 6 series labelled `device`, `device_id`, `ip`, `ifAlias`,
//! `ifDescr`, `ifName`, `ifType`, plus `system_uptime_seconds`, `snmp_up` and
//! `snmp_poll_duration_seconds` per device: 21,000 series, one sample each. At 10,000 devices
//! (docs/perf/polling.md, issue 12) that is 210,000 series plus the ICMP ones.

use std::alloc::System;
use std::time::Duration;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use wardflux_tsdb::embedded::EmbeddedStore;
use wardflux_tsdb::{EmbeddedConfig, Labels, Sample};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const DEVICES: usize = 1000;
const T0: i64 = 1_700_000_000_000;

/// Bytes the store may hold per series with one sample, everything included (requested
/// bytes; the allocator's size classes add to each allocation). Labels as a
/// `Vec<(String, String)>` (15 allocations for an interface series) made it 700 bytes;
/// packed labels (2 allocations), 444; the metric name shared by every series of that name
/// instead of a `String` per series (each sample below brings its own copy), 411.
const MAX_BYTES_PER_SERIES: f64 = 430.0;

fn device_batch(d: usize, t: i64) -> Vec<Sample> {
    let identity = [
        ("device", format!("dev-{d}")),
        (
            "device_id",
            format!("{:08x}-0000-4000-8000-{d:012}", d * 7919),
        ),
        ("ip", format!("127.79.{}.{}", d / 250, d % 250 + 1)),
    ];
    let mut batch = Vec::new();
    for m in [
        "system_uptime_seconds",
        "snmp_up",
        "snmp_poll_duration_seconds",
    ] {
        batch.push(Sample {
            metric: m.into(),
            labels: Labels::from_pairs(identity.clone()),
            timestamp_ms: t,
            value: 1.0,
        });
    }
    for i in 1..=3 {
        let labels = Labels::from_pairs(identity.clone().into_iter().chain([
            ("ifAlias", format!("uplink {i}")),
            ("ifDescr", format!("GigabitEthernet0/{i}")),
            ("ifName", format!("Gi0/{i}")),
            ("ifType", "6".into()),
        ]));
        // the Generic SNMP template's 6 interface items
        let rates = ["in", "out"].into_iter().flat_map(|dir| {
            ["octets", "errors"].map(|what| format!("interface_{dir}_{what}_per_second"))
        });
        for m in rates.chain(["interface_status".into(), "interface_oper_status".into()]) {
            batch.push(Sample {
                metric: m.as_str().to_owned(), // exact capacity, as the poller's clone
                labels: labels.clone(),
                timestamp_ms: t,
                value: 1.0,
            });
        }
    }
    batch
}

#[tokio::test]
async fn memory_per_series_stays_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = EmbeddedConfig::new(tmp.path());
    cfg.block_interval = Duration::from_secs(7200);
    let store = EmbeddedStore::open(cfg).await.unwrap();
    // one device first, so the maps' first growth and the WAL's buffers are not counted
    store.append_sync(device_batch(DEVICES, T0)).unwrap();
    let before = store.head_stats().series;

    let region = Region::new(GLOBAL);
    for d in 0..DEVICES {
        store.append_sync(device_batch(d, T0)).unwrap();
    }
    let st = region.change();
    let held = st.bytes_allocated as f64 - st.bytes_deallocated as f64;
    let series = store.head_stats().series - before;
    assert_eq!(series, DEVICES * 21);
    let per_series = held / series as f64;
    println!("{series} series: {per_series:.0} B/series held");
    assert!(
        per_series <= MAX_BYTES_PER_SERIES,
        "a series holds {per_series:.0} B, bound {MAX_BYTES_PER_SERIES}"
    );
}
