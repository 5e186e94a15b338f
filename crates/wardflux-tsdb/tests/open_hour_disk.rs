//! The open hour on disk (head checkpoint + WAL since) stays at or under 4 bytes a sample on
//! the import benchmark's data (`scripts/bench-tsdb.sh`), the hardest the docs measure: half
//! the series a random walk at microsecond resolution, half a counter growing by a random
//! 0-2,000,000 a step (21 random bits a sample), labels `device`, `site`, `ip`, one scrape of
//! every series each 10 s for an hour, imported as Prometheus text. Checkpoints are written
//! when due, as the background task does on its 1 s tick; the size is read from the files at
//! every scrape of the hour's second half (the first minutes are the series keys' cost, not
//! the samples').
//!
//! `checkpoint_min_wal_bytes` is scaled with the data: the benchmark has 3 M samples and the
//! default 1 MiB (0.35 bytes a sample); this test 720,000 and 256 KiB (the same share).

use std::fmt::Write as _;

use wardflux_testkit::Rng;
use wardflux_tsdb::EmbeddedConfig;
use wardflux_tsdb::embedded::EmbeddedStore;

const SERIES: usize = 2000;
const STEPS: i64 = 360;
const T0: i64 = 1_700_000_000_000;
const MAX_OPEN_BYTES_PER_SAMPLE: f64 = 4.0;

#[tokio::test]
async fn open_hour_on_disk_stays_under_4_bytes_a_sample_on_random_counters() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = EmbeddedConfig::new(tmp.path());
    cfg.checkpoint_min_wal_bytes = 256 << 10;
    let store = EmbeddedStore::open(cfg).await.unwrap();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut val: Vec<u64> = (0..SERIES as u64).map(|i| 800 + (i * 37) % 20000).collect();
    let labels: Vec<String> = (0..SERIES)
        .map(|i| {
            format!(
                "device=\"dev-{i}\",site=\"s{}\",ip=\"10.{}.{}.{}\"",
                i % 50,
                i / 65536,
                i / 256 % 256,
                i % 256
            )
        })
        .collect();
    let (mut worst, mut checkpoints) = (0f64, 0);
    let mut body = String::new();
    for k in 0..STEPS {
        body.clear();
        let t = T0 + k * 10_000;
        for (i, v) in val.iter_mut().enumerate() {
            let ts = t + (rng.next() % 20) as i64;
            if i % 2 == 0 {
                *v = (*v + rng.next() % 201).saturating_sub(100).max(20);
                let s = format!("{:.3}", *v as f64 / 1000.0);
                let s = s.trim_end_matches('0').trim_end_matches('.');
                let _ = writeln!(body, "bench_rtt_ms{{{}}} {s} {ts}", labels[i]);
            } else {
                *v += rng.next() % 2_000_000;
                let _ = writeln!(body, "bench_octets{{{}}} {v} {ts}", labels[i]);
            }
        }
        assert_eq!(store.append_text_sync(&body, t).unwrap(), SERIES);
        if store.checkpoint_due() {
            store.checkpoint().await.unwrap();
            checkpoints += 1;
        }
        if k >= STEPS / 2 {
            let (blocks, bytes) = store.disk_usage().unwrap();
            assert_eq!(blocks, 0);
            let per = bytes as f64 / (SERIES as f64 * (k + 1) as f64);
            worst = worst.max(per);
        }
    }
    let (_, bytes) = store.disk_usage().unwrap();
    let end = bytes as f64 / (SERIES as f64 * STEPS as f64);
    println!(
        "open hour on disk: {end:.2} B/sample at the end, at most {worst:.2} over the second half \
         ({checkpoints} checkpoints)"
    );
    assert!(
        worst <= MAX_OPEN_BYTES_PER_SAMPLE,
        "open hour on disk reached {worst:.2} B/sample, bound {MAX_OPEN_BYTES_PER_SAMPLE}"
    );
}
