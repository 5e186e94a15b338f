//! VictoriaMetrics backend against a real VictoriaMetrics: outages (SIGSTOP, and a stop and
//! restart on the same port and data dir) during writes lose nothing; a bounded spool refuses
//! (and counts) what does not fit and delivers the rest after a restart of wardflux itself.

use wardflux_testkit::victoria as common;

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use wardflux_tsdb::victoria::VictoriaStore;
use wardflux_tsdb::{LabelMatcher, Labels, MetricStore, Sample, TsdbError, VictoriaConfig};

const T0: i64 = 1_700_000_000_000;
const SERIES: usize = 5;

fn step(i: i64) -> Vec<Sample> {
    (0..SERIES)
        .map(|s| Sample {
            metric: "outage_test".into(),
            labels: Labels::from_pairs([("s", s.to_string())]),
            timestamp_ms: T0 + i * 1000,
            value: i as f64 + s as f64 / 10.0,
        })
        .collect()
}

async fn write_steps(store: &VictoriaStore, r: std::ops::Range<i64>) {
    for i in r {
        MetricStore::append(store, step(i)).await.unwrap();
    }
}

/// Asserts VictoriaMetrics holds exactly steps `0..n` of every series. Delivery is
/// at-least-once: a batch VictoriaMetrics took in while its answer timed out (SIGSTOP) is sent
/// again, and VictoriaMetrics without `-dedup.minScrapeInterval` keeps both copies, so
/// identical (timestamp, value) duplicates are collapsed here; anything else is an error.
async fn assert_all_arrived(vm: &common::Vm, store: &VictoriaStore, n: i64) {
    vm.force_flush().await;
    let all = store
        .raw(
            &[LabelMatcher::eq("__name__", "outage_test")],
            T0 - 1000,
            T0 + n * 1000 + 1000,
        )
        .await
        .unwrap();
    assert_eq!(all.len(), SERIES);
    for (s, series) in all.iter().enumerate() {
        let mut series = series.clone();
        series.points.dedup();
        assert_eq!(series.points.len() as i64, n, "series {s}");
        for (i, p) in series.points.iter().enumerate() {
            assert_eq!(
                *p,
                (T0 + i as i64 * 1000, i as f64 + s as f64 / 10.0),
                "series {s} point {i}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_during_writes_loses_nothing() {
    let mut vm = common::Vm::start().await;
    let spool = tempfile::tempdir().unwrap();
    let mut cfg = VictoriaConfig::single(&vm.url, spool.path());
    cfg.timeout = Duration::from_secs(1);
    let store = VictoriaStore::open(cfg).unwrap();
    let cancel = CancellationToken::new();
    let _guard = cancel.clone().drop_guard();
    store.spawn_background(cancel.clone());

    write_steps(&store, 0..300).await;
    store.flush().await.unwrap();
    assert_eq!(store.spooled_bytes(), 0);

    // VictoriaMetrics frozen (SIGSTOP): requests time out, batches wait in the spool
    vm.signal("-STOP");
    write_steps(&store, 300..600).await;
    assert!(store.spooled_bytes() > 0);
    assert!(
        store.flush().await.is_err(),
        "flush must not report success while VictoriaMetrics is frozen"
    );
    vm.signal("-CONT");
    write_steps(&store, 600..700).await;
    store.flush().await.unwrap();

    // VictoriaMetrics stopped, then started again on the same port and data dir
    vm.stop();
    write_steps(&store, 700..1000).await;
    assert!(store.spooled_bytes() > 0);
    assert!(vm.spawn().await, "VictoriaMetrics restart");
    write_steps(&store, 1000..1100).await;
    store.flush().await.unwrap();
    assert_eq!(store.spooled_bytes(), 0);
    assert_all_arrived(&vm, &store, 1100).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bounded_spool_refuses_overflow_and_survives_restart() {
    let port = common::free_port();
    let spool = tempfile::tempdir().unwrap();
    let mut cfg = VictoriaConfig::single(&format!("http://127.0.0.1:{port}"), spool.path());
    cfg.timeout = Duration::from_secs(1);
    cfg.spool_max_bytes = 64 << 10;
    let accepted;
    {
        let store = VictoriaStore::open(cfg.clone()).unwrap();
        let cancel = CancellationToken::new();
        store.spawn_background(cancel.clone());
        // nothing listens on the port: everything goes to the spool until it is full
        let mut i = 0;
        loop {
            match MetricStore::append(&*store, step(i)).await {
                Ok(()) => i += 1,
                Err(TsdbError::SpoolFull(n)) => {
                    assert_eq!(n, SERIES);
                    break;
                }
                Err(e) => panic!("unexpected error {e}"),
            }
            assert!(i < 100_000, "spool never filled");
        }
        assert!(store.spooled_bytes() <= cfg.spool_max_bytes);
        assert!(i > 100, "only {i} steps fit in 64 KiB");
        // later batches are refused too while full, and counted
        let recorder = metrics_util::debugging::DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        let r = metrics::with_local_recorder(&recorder, || {
            futures::executor::block_on(MetricStore::append(&*store, step(i + 1)))
        });
        assert!(matches!(r, Err(TsdbError::SpoolFull(_))));
        let counted: Vec<_> = snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .filter(|(k, ..)| k.key().name() == "wardflux_tsdb_spool_dropped_samples_total")
            .map(|(.., v)| v)
            .collect();
        assert_eq!(
            counted,
            vec![metrics_util::debugging::DebugValue::Counter(SERIES as u64)]
        );
        accepted = i;
        cancel.cancel();
    }
    // VictoriaMetrics comes up, wardflux restarts: the spool on disk is delivered, in full
    let vm = common::Vm::start_at(port).await;
    let store = VictoriaStore::open(cfg).unwrap();
    let cancel = CancellationToken::new();
    let _guard = cancel.clone().drop_guard();
    store.spawn_background(cancel.clone());
    store.flush().await.unwrap();
    assert_eq!(store.spooled_bytes(), 0);
    assert_all_arrived(&vm, &store, accepted).await;
}
