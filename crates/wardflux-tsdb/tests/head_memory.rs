//! The open hour's memory and disk per sample stay bounded: counted by an instrumented global
//! allocator (`stats_alloc`), not estimated. Its own test binary, so no other test allocates
//! while it counts.
//!
//! Data: what the ICMP monitor writes for 500 devices pinged every 10 s for one hour, one
//! append per device and check as the collector does (`ping_rtt_ms` random walk at microsecond
//! resolution, `ping_packet_loss`, `ping_availability`, `ping_up`), timestamps with 0-30 ms of
//! scheduler jitter: 720,000 samples in 2,000 series.

use std::alloc::System;
use std::time::Duration;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use wardflux_testkit::Rng;
use wardflux_tsdb::embedded::EmbeddedStore;
use wardflux_tsdb::{EmbeddedConfig, LabelMatcher, Labels, MetricStore, Sample};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const DEVICES: usize = 500;
const CHECKS: i64 = 360;
const T0: i64 = 1_700_000_000_000;

/// Memory the store may hold per sample of the open hour, everything included (series keys
/// and maps, compressed streams, WAL buffers). The head before the streams held 16 bytes a
/// sample plus the slack of growing vectors (about 24 in all).
const MAX_BYTES_PER_SAMPLE: f64 = 3.5;

fn check_batch(d: usize, t: i64, rtt_us: i64) -> Vec<Sample> {
    let labels = Labels::from_pairs([
        ("device", format!("branch-{d}")),
        (
            "device_id",
            format!("{:08x}-0000-4000-8000-{d:012}", d * 7919),
        ),
        ("ip", format!("127.78.{}.{}", d / 250, d % 250 + 1)),
    ]);
    let s = |metric: &str, value: f64| Sample {
        metric: metric.to_string(),
        labels: labels.clone(),
        timestamp_ms: t,
        value,
    };
    vec![
        s("ping_rtt_ms", rtt_us as f64 / 1000.0),
        s("ping_packet_loss", 0.0),
        s("ping_availability", 1.0),
        s("ping_up", 1.0),
    ]
}

#[tokio::test]
async fn open_hour_memory_and_disk_per_sample_stay_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = EmbeddedConfig::new(tmp.path());
    cfg.block_interval = Duration::from_secs(7200);
    let store = EmbeddedStore::open(cfg).await.unwrap();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut rtt: Vec<i64> = (0..DEVICES).map(|d| 300 + (d as i64 * 37) % 5000).collect();

    let region = Region::new(GLOBAL);
    let mut samples = 0usize;
    for c in 0..CHECKS {
        for (d, r) in rtt.iter_mut().enumerate() {
            *r = (*r + (rng.next() % 101) as i64 - 50).max(20);
            let t = T0 + c * 10_000 + (d as i64 % 1000) * 10 + (rng.next() % 30) as i64;
            let b = check_batch(d, t, *r);
            samples += b.len();
            store.append_sync(b).unwrap();
        }
    }
    let st = region.change();
    // (stats_alloc counts a realloc's growth in bytes_allocated, its shrinking in bytes_deallocated)
    let held = st.bytes_allocated as f64 - st.bytes_deallocated as f64;
    let per_sample = held / samples as f64;
    let stats = store.head_stats();
    assert_eq!(stats.samples, samples);
    assert_eq!(stats.series, DEVICES * 4);
    let chunk_per_sample = stats.chunk_bytes as f64 / samples as f64;
    println!(
        "{samples} samples in {} series: {per_sample:.2} B/sample held ({chunk_per_sample:.2} in compressed streams)",
        stats.series
    );
    assert!(
        per_sample <= MAX_BYTES_PER_SAMPLE,
        "the open hour holds {per_sample:.2} B/sample, bound {MAX_BYTES_PER_SAMPLE}"
    );

    // on disk: the WAL is replaced by a checkpoint of the compressed head once due
    assert!(store.checkpoint_due());
    store.checkpoint().await.unwrap();
    let (_, open_bytes) = store.disk_usage().unwrap();
    let open = open_bytes as f64 / samples as f64;
    assert!(open <= 4.0, "open hour on disk: {open:.2} B/sample");
    // sealed: one block
    store.cut_block().await.unwrap();
    let (blocks, sealed_bytes) = store.disk_usage().unwrap();
    let sealed = sealed_bytes as f64 / samples as f64;
    println!("on disk: open hour {open:.2} B/sample, sealed {sealed:.2} B/sample");
    assert_eq!(blocks, 1);
    assert!(sealed <= 2.0, "sealed hour on disk: {sealed:.2} B/sample");

    // and nothing was lost on the way
    let got = store
        .raw(
            &[LabelMatcher::eq("__name__", "ping_up")],
            T0,
            T0 + CHECKS * 10_000 + 60_000,
        )
        .await
        .unwrap();
    assert_eq!(got.len(), DEVICES);
    assert!(got.iter().all(|s| s.points.len() == CHECKS as usize));
}
