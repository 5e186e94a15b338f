//! Embedded store: kill -9 during sustained writes (with block cuts, compactions and head
//! checkpoints), torn WAL tails, retention and rollups, reopen after shutdown or from a
//! checkpoint.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use wardflux_tsdb::embedded::EmbeddedStore;
use wardflux_tsdb::{
    Aggregation, EmbeddedConfig, LabelMatcher, Labels, MetricStore, RangeQuery, Sample, now_ms,
};

const SERIES: usize = 10;
const T0: i64 = 1_700_000_000_000;
const CHILD_ENV: &str = "WARDFLUX_TSDB_CRASH_CHILD_DIR";

fn crash_cfg(dir: &std::path::Path) -> EmbeddedConfig {
    let mut c = EmbeddedConfig::new(dir);
    c.block_interval = Duration::from_millis(300); // cut and compact blocks while being killed, too
    c.compact_blocks = 3;
    c.precompute_rollups = true; // the other tests use the default (false)
    // head checkpoints replace the WAL between the cuts, so the kill can hit them too
    c.fsync_interval = Duration::from_millis(50);
    c.checkpoint_min_wal_bytes = 4 << 10;
    c.raw_retention = Duration::from_secs(100 * 365 * 86_400);
    c.rollup_retention = Duration::from_secs(100 * 365 * 86_400);
    c
}

fn sample(s: usize, i: i64) -> Sample {
    Sample {
        metric: "crash_test".into(),
        labels: Labels::from_pairs([("s", s.to_string())]),
        timestamp_ms: T0 + i * 1000,
        value: i as f64 * 0.5,
    }
}

/// Child: writes step after step of all series and prints `ACK i` after each acknowledged
/// append, until killed.
async fn crash_child(dir: String) {
    let store = EmbeddedStore::open(crash_cfg(std::path::Path::new(&dir)))
        .await
        .unwrap();
    store.spawn_background(CancellationToken::new());
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut out = std::io::stdout();
    let mut i = 0i64;
    while Instant::now() < deadline {
        let batch: Vec<Sample> = (0..SERIES).map(|s| sample(s, i)).collect();
        MetricStore::append(&*store, batch).await.unwrap();
        writeln!(out, "ACK {i}").unwrap();
        out.flush().unwrap();
        i += 1;
        if i % 64 == 0 {
            tokio::task::yield_now().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_writes_loses_nothing_acknowledged() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        crash_child(dir).await;
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("tsdb");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "kill_9_during_writes_loses_nothing_acknowledged",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<i64>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(n) = line.strip_prefix("ACK ").and_then(|n| n.parse().ok()) {
                let _ = tx.send(n);
            }
        }
    });
    // let it write for a while (several block cuts and fsyncs), then kill -9 mid-stream
    let start = Instant::now();
    let mut last = -1;
    while start.elapsed() < Duration::from_millis(2500) || last < 2000 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "child too slow: {last} acks"
        );
        if let Ok(n) = rx.recv_timeout(Duration::from_millis(100)) {
            last = n;
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    reader.join().unwrap();
    while let Ok(n) = rx.try_recv() {
        last = last.max(n);
    }
    assert!(last > 2000);
    let names: Vec<String> = std::fs::read_dir(dir.join("blocks"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        names.iter().any(|n| n.contains('-')),
        "no compaction before the kill: {names:?}"
    );

    // reopen: the store opens, and every acknowledged step is there, intact and in order
    let store = EmbeddedStore::open(crash_cfg(&dir)).await.unwrap();
    let all = store
        .raw(
            &[LabelMatcher::eq("__name__", "crash_test")],
            i64::MIN,
            i64::MAX,
        )
        .await
        .unwrap();
    assert_eq!(all.len(), SERIES);
    for s in &all {
        assert!(
            s.points.len() as i64 > last,
            "{:?}: {} points, {last} acknowledged",
            s.key,
            s.points.len()
        );
        for (i, p) in s.points.iter().enumerate() {
            assert_eq!(
                *p,
                (T0 + i as i64 * 1000, i as f64 * 0.5),
                "{:?} point {i}",
                s.key
            );
        }
    }
    // and it keeps working
    MetricStore::append(&*store, vec![sample(0, 1_000_000)])
        .await
        .unwrap();
    let l = store.latest(&[LabelMatcher::eq("s", "0")]).await.unwrap();
    assert_eq!(l[0].timestamp_ms, T0 + 1_000_000_000);
}

#[tokio::test]
async fn torn_wal_tail_is_ignored_and_store_opens() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("tsdb");
    {
        let store = EmbeddedStore::open(crash_cfg(&dir)).await.unwrap();
        for i in 0..100 {
            MetricStore::append(&*store, vec![sample(1, i)])
                .await
                .unwrap();
        }
        store.flush().await.unwrap();
    }
    // simulate a write torn by a crash: half a record, then garbage
    let wal = std::fs::read_dir(dir.join("wal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    let mut f = std::fs::OpenOptions::new().append(true).open(&wal).unwrap();
    f.write_all(&[200, 0, 0, 0, 1, 2, 3, 4, 9, 9]).unwrap();
    drop(f);
    let store = EmbeddedStore::open(crash_cfg(&dir)).await.unwrap();
    let all = store.raw(&[], i64::MIN, i64::MAX).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].points.len(), 100);
    // a corrupt record in the middle of a later segment: earlier records survive
    MetricStore::append(&*store, vec![sample(1, 100)])
        .await
        .unwrap();
    drop(store);
    let store = EmbeddedStore::open(crash_cfg(&dir)).await.unwrap();
    assert_eq!(
        store.raw(&[], i64::MIN, i64::MAX).await.unwrap()[0]
            .points
            .len(),
        101
    );
}

const DAY: i64 = 86_400_000;
const HOUR: i64 = 3_600_000;

#[tokio::test]
async fn retention_drops_raw_then_rollups_and_long_ranges_use_rollups() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = EmbeddedConfig::new(tmp.path().join("tsdb"));
    cfg.raw_retention = Duration::from_secs(86_400);
    cfg.rollup_retention = Duration::from_secs(10 * 86_400);
    let store = EmbeddedStore::open(cfg.clone()).await.unwrap();
    let now = now_ms();
    let day0 = (now - 5 * DAY).div_euclid(DAY) * DAY; // raw expires, rollups stay
    let old0 = (now - 20 * DAY).div_euclid(DAY) * DAY; // everything expires
    let mk = |t0: i64| -> Vec<Sample> {
        (0..2 * 24 * 60)
            .map(|i| Sample {
                metric: "ret_test".into(),
                labels: Labels::from_pairs([("dev", "a")]),
                timestamp_ms: t0 + i * 60_000,
                value: (i % 10) as f64,
            })
            .collect()
    };
    MetricStore::append(&*store, mk(old0)).await.unwrap();
    assert_eq!(store.cut_block().await.unwrap(), 2 * 24 * 60);
    MetricStore::append(&*store, mk(day0)).await.unwrap();
    assert_eq!(store.cut_block().await.unwrap(), 2 * 24 * 60);
    let m = [LabelMatcher::eq("__name__", "ret_test")];
    // step 1 h: minute values cycle 0..9, so each window (t-1h, t] holds 60 samples, avg 4.5
    let q = |agg, start: i64| RangeQuery {
        matchers: m.to_vec(),
        start_ms: start,
        end_ms: start + 46 * HOUR, // the window after this holds 59 samples
        step_ms: HOUR,
        agg,
    };
    assert_eq!(
        store.raw(&m, day0, day0 + DAY).await.unwrap()[0]
            .points
            .len(),
        24 * 60 + 1
    );
    let (rw, del) = store.apply_retention(now).await.unwrap();
    assert_eq!(
        (rw, del),
        (1, 1),
        "20-day-old block deleted, 5-day-old block loses its raw chunks"
    );
    // raw samples gone: raw() now gives each bucket's last value at the bucket end
    let raw = store.raw(&m, i64::MIN, i64::MAX).await.unwrap();
    assert_eq!(raw[0].points.len(), 2 * 24 * 12 + 1);
    assert_eq!(
        raw[0].points[0],
        (day0, 0.0),
        "the sample at day0 ends bucket (day0-5m, day0]"
    );
    assert_eq!(
        raw[0].points[1],
        (day0 + 300_000, 5.0),
        "samples at +1..+5 min, the last is 5"
    );
    // so PromQL still answers over expired raw data, at 5-minute resolution
    let v = store
        .prom_query("max_over_time(ret_test[1h])", day0 + 2 * HOUR)
        .await
        .unwrap();
    match v {
        // over the last values (0 or 5 here); exact min/max come from MetricStore::range
        wardflux_tsdb::QueryValue::Vector(v) => assert_eq!(v[0].2, 5.0),
        other => panic!("{other:?}"),
    }
    // rollups answer ranges: exact avg/min/max/count/sum
    let before = store
        .range(&q(Aggregation::Avg, day0 + HOUR))
        .await
        .unwrap();
    assert_eq!(before[0].points.len(), 47);
    assert!(
        before[0].points.iter().all(|p| p.1 == 4.5),
        "{:?}",
        &before[0].points[..3]
    );
    for (agg, v) in [
        (Aggregation::Min, 0.0),
        (Aggregation::Max, 9.0),
        (Aggregation::Count, 60.0),
        (Aggregation::Sum, 270.0),
    ] {
        let r = store.range(&q(agg, day0 + HOUR)).await.unwrap();
        assert_eq!(r[0].points.len(), 47);
        assert!(
            r[0].points.iter().all(|p| p.1 == v),
            "{agg:?}: {:?}",
            &r[0].points[..3]
        );
    }
    // latest falls back to the rollups' last value
    let l = store.latest(&m).await.unwrap();
    assert_eq!(
        l[0].timestamp_ms,
        day0 + 2 * DAY,
        "bucket end of the last sample"
    );
    assert_eq!(l[0].value, 9.0);
    // series lookups still see it; the 20-day-old data is gone
    assert_eq!(
        store
            .series(&[m.to_vec()], day0, day0 + 2 * DAY)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        store
            .series(&[m.to_vec()], old0, old0 + 2 * DAY)
            .await
            .unwrap()
            .is_empty()
    );

    // survives reopen (rewritten block is a valid block)
    drop(store);
    let store = EmbeddedStore::open(cfg).await.unwrap();
    assert_eq!(
        store
            .range(&q(Aggregation::Avg, day0 + HOUR))
            .await
            .unwrap(),
        before
    );
}

#[tokio::test]
async fn shutdown_then_reopen_keeps_everything() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = EmbeddedConfig::new(tmp.path().join("tsdb"));
    let cancel = CancellationToken::new();
    let store: Arc<dyn MetricStore> = wardflux_tsdb::open(
        wardflux_tsdb::TsdbConfig::Embedded(cfg.clone()),
        cancel.clone(),
    )
    .await
    .unwrap();
    let samples: Vec<Sample> = (0..5000).map(|i| sample(i % 7, i as i64)).collect();
    store.append(samples).await.unwrap();
    // the collectors' seam
    let sink = wardflux_tsdb::StoreSink(store.clone());
    wardflux_model::metrics::MetricSink::append(&sink, vec![sample(99, 1)])
        .await
        .unwrap();
    cancel.cancel();
    // the background task cuts a final block and then refuses appends
    let deadline = Instant::now() + Duration::from_secs(10);
    // (a duplicate of an existing sample, so a late append before the close changes nothing)
    while store.append(vec![sample(0, 0)]).await.is_ok() {
        assert!(Instant::now() < deadline, "store still open after shutdown");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        std::fs::read_dir(cfg.dir.join("blocks")).unwrap().count(),
        1
    );
    drop(store);
    let store = EmbeddedStore::open(cfg).await.unwrap();
    let all = store.raw(&[], i64::MIN, i64::MAX).await.unwrap();
    assert_eq!(all.len(), 8);
    assert_eq!(all.iter().map(|s| s.points.len()).sum::<usize>(), 5001);
}

#[tokio::test]
async fn compaction_merges_blocks_and_a_crash_leftover_is_not_counted_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("tsdb");
    let store = EmbeddedStore::open(crash_cfg(&dir)).await.unwrap();
    // 5 cuts of 120 steps each
    for c in 0..5 {
        for i in c * 120..(c + 1) * 120 {
            MetricStore::append(&*store, (0..SERIES).map(|s| sample(s, i)).collect())
                .await
                .unwrap();
        }
        store.cut_block().await.unwrap();
    }
    let blocks = |d: &std::path::Path| {
        let mut v: Vec<String> = std::fs::read_dir(d.join("blocks"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    };
    let singles = blocks(&dir);
    assert_eq!(singles.len(), 5);
    let saved = std::fs::read(dir.join("blocks").join(&singles[0])).unwrap();
    let m = [LabelMatcher::eq("__name__", "crash_test")];
    let q = RangeQuery {
        matchers: m.to_vec(),
        start_ms: T0 - 300_000,
        end_ms: T0 + 600_000,
        step_ms: 300_000,
        agg: Aggregation::Count,
    };
    let want_range = store.range(&q).await.unwrap();
    let want_raw = store.raw(&m, i64::MIN, i64::MAX).await.unwrap();
    assert_eq!(store.compact().await.unwrap(), 3);
    let after = blocks(&dir);
    assert_eq!(after.len(), 3, "{after:?}");
    assert!(after.iter().any(|n| n.contains('-')), "{after:?}");
    assert_eq!(store.raw(&m, i64::MIN, i64::MAX).await.unwrap(), want_raw);
    assert_eq!(store.range(&q).await.unwrap(), want_range);
    drop(store);
    // a crash between writing the merged block and deleting its inputs leaves an input behind
    std::fs::write(dir.join("blocks").join(&singles[0]), saved).unwrap();
    let store = EmbeddedStore::open(crash_cfg(&dir)).await.unwrap();
    assert_eq!(blocks(&dir), after, "the leftover input is deleted on open");
    assert_eq!(store.raw(&m, i64::MIN, i64::MAX).await.unwrap(), want_raw);
    assert_eq!(
        store.range(&q).await.unwrap(),
        want_range,
        "rollups not counted twice"
    );
}

/// A checkpoint replaces the WAL segments before it; reopening restores the head from it and
/// replays only the WAL written after it, and appends continue the restored streams.
#[tokio::test]
async fn checkpoint_replaces_the_wal_and_reopen_restores_the_head() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = EmbeddedConfig::new(tmp.path().join("tsdb"));
    let files = |ext: &str| -> Vec<String> {
        std::fs::read_dir(cfg.dir.join("wal"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(ext))
            .collect()
    };
    let store = EmbeddedStore::open(cfg.clone()).await.unwrap();
    for i in 0..300 {
        store
            .append_sync((0..SERIES).map(|s| sample(s, i)).collect())
            .unwrap();
    }
    let wal_before = store.head_stats().wal_bytes;
    let size = store.checkpoint().await.unwrap();
    assert!(size > 0);
    assert_eq!(files(".ckpt").len(), 1);
    // the segments it replaces are gone: only the fresh, empty one is left
    assert_eq!(files(".wal").len(), 1);
    assert_eq!(store.head_stats().wal_bytes, 0);
    assert!(
        (size as f64) < wal_before as f64 / 4.0,
        "checkpoint {size} B for {wal_before} B of WAL"
    );
    for i in 300..400 {
        store
            .append_sync((0..SERIES).map(|s| sample(s, i)).collect())
            .unwrap();
    }
    drop(store); // no shutdown: what a crash leaves
    let store = EmbeddedStore::open(cfg.clone()).await.unwrap();
    assert_eq!(store.head_stats().samples, 400 * SERIES);
    for i in 400..450 {
        store
            .append_sync((0..SERIES).map(|s| sample(s, i)).collect())
            .unwrap();
    }
    let all = store.raw(&[], i64::MIN, i64::MAX).await.unwrap();
    assert_eq!(all.len(), SERIES);
    for s in &all {
        let want: Vec<(i64, f64)> = (0..450).map(|i| (T0 + i * 1000, i as f64 * 0.5)).collect();
        assert_eq!(s.points, want, "{:?}", s.key);
    }
    // a block cut makes the checkpoint obsolete
    store.cut_block().await.unwrap();
    assert!(files(".ckpt").is_empty());
}

/// `close` stops the background task and returns only after its final block cut: the
/// head is in a block and the WAL is empty, without the caller cancelling anything, and a
/// second `close` returns at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_waits_for_the_final_block_cut() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("tsdb");
    let mut cfg = EmbeddedConfig::new(&dir);
    cfg.raw_retention = Duration::from_secs(100 * 365 * 86_400);
    let store = EmbeddedStore::open(cfg).await.unwrap();
    let shutdown = CancellationToken::new();
    store.spawn_background(shutdown.clone());
    for i in 0..2000 {
        let batch: Vec<Sample> = (0..SERIES).map(|s| sample(s, i)).collect();
        MetricStore::append(&*store, batch).await.unwrap();
    }
    assert_eq!(store.head_stats().samples, 2000 * SERIES);
    MetricStore::close(&*store).await;
    assert!(
        !shutdown.is_cancelled(),
        "close stops only the store's task"
    );
    assert_eq!(store.head_stats().samples, 0, "the head was not cut");
    let blocks = std::fs::read_dir(dir.join("blocks")).unwrap().count();
    assert!(blocks >= 1, "no block written");
    let wal: u64 = std::fs::read_dir(dir.join("wal"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert_eq!(wal, 0, "the WAL still holds the head");
    MetricStore::close(&*store).await;
}

/// Repeated selectors are answered from the selection cache; a series added after a
/// selection is seen by the next one (the cache is emptied when a series appears), and
/// different matcher sets never share an entry.
#[tokio::test]
async fn a_cached_selection_sees_series_added_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(EmbeddedConfig::new(dir.path()))
        .await
        .unwrap();
    let t = now_ms();
    let s = |site: &str, v: f64| Sample {
        metric: "sel_test".into(),
        labels: Labels::from_pairs([("site", site.to_string())]),
        timestamp_ms: t,
        value: v,
    };
    MetricStore::append(&*store, vec![s("a", 1.0), s("b", 2.0)])
        .await
        .unwrap();
    let all = vec![LabelMatcher::eq("__name__", "sel_test")];
    let site_a = vec![
        LabelMatcher::eq("__name__", "sel_test"),
        LabelMatcher::eq("site", "a"),
    ];
    let not_a = vec![
        LabelMatcher::eq("__name__", "sel_test"),
        LabelMatcher::re("site", "[^a]").unwrap(),
    ];
    let latest = |m: &Vec<LabelMatcher>| {
        let store = store.clone();
        let m = m.clone();
        async move {
            let mut v: Vec<f64> = store
                .latest(&m)
                .await
                .unwrap()
                .into_iter()
                .map(|l| l.value)
                .collect();
            v.sort_by(f64::total_cmp);
            v
        }
    };
    for _ in 0..2 {
        assert_eq!(latest(&all).await, [1.0, 2.0]);
        assert_eq!(latest(&site_a).await, [1.0]);
        assert_eq!(latest(&not_a).await, [2.0]);
    }
    MetricStore::append(&*store, vec![s("c", 3.0)])
        .await
        .unwrap();
    assert_eq!(
        latest(&all).await,
        [1.0, 2.0, 3.0],
        "a new series after a cached selection"
    );
    assert_eq!(latest(&not_a).await, [2.0, 3.0]);
    assert_eq!(latest(&site_a).await, [1.0]);
    // A new sample of a known series keeps the entries and is read.
    MetricStore::append(
        &*store,
        vec![Sample {
            timestamp_ms: t + 1000,
            ..s("a", 5.0)
        }],
    )
    .await
    .unwrap();
    assert_eq!(latest(&site_a).await, [5.0]);
}
