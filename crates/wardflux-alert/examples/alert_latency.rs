//! Benchmark (docs/perf/alerts.md): latency from the write of the sample that completes a
//! condition to the webhook receiving the POST, with 10,000 active series and 500 rules
//! loaded; and engine CPU per 1,000 samples ingested.
//!
//! Setup: SQLite store (synchronous=FULL) and the embedded metric store in a temp dir, the
//! driver and the outbox worker in-process, an axum webhook receiver on 127.0.0.1:0.
//! Series: 50 metrics `bench_m0..49` x 200 devices. Rules: `bench_m{j%50} > 1000+j` (never
//! true) for j in 1..500, plus the measured rule `bench_m0{device="d7"} > 90`. A trial writes
//! the 200-series batch of `bench_m0` with d7 at 95 and waits for the firing POST, then writes
//! it with d7 at 10 and waits for the resolved POST; trials are 2.1 s apart (see below).
//!
//! `cargo run --release -p wardflux-alert --example alert_latency -- [trials]`

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use wardflux_alert::driver::{AlertDriver, AlertSink, DriverConfig};
use wardflux_alert::notify::Notifier;
use wardflux_alert::outbox::{OutboxConfig, OutboxWorker};
use wardflux_model::alerts::{AlertRuleInput, ChannelInput, ChannelKind, Severity};
use wardflux_model::inventory::Actor;
use wardflux_model::{Labels, MetricSink, Sample};
use wardflux_store::{Cipher, Store};
use wardflux_tsdb::{EmbeddedConfig, MetricStore, StoreSink};

const METRICS: usize = 50;
const DEVICES: usize = 200;
const RULES: usize = 500;

fn cpu_seconds() -> f64 {
    // utime + stime of this process, in clock ticks (100 Hz on Linux).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let t = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (t(11) + t(12)) / 100.0
}

fn batch(metric: usize, hot: Option<f64>, at_ms: i64) -> Vec<Sample> {
    (0..DEVICES)
        .map(|d| Sample {
            metric: format!("bench_m{metric}"),
            labels: Labels::from_pairs([("device", format!("d{d}"))]),
            timestamp_ms: at_ms,
            value: if metric == 0 && d == 7 {
                hot.unwrap_or(10.0)
            } else {
                (d % 80) as f64
            },
        })
        .collect()
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let trials: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite:{}?mode=rwc", dir.path().join("a.db").display());
    let store = Store::connect(&url, Cipher::from_key(&Cipher::generate_key())?).await?;
    store.migrate().await?;
    let metrics: Arc<dyn MetricStore> =
        wardflux_tsdb::embedded::EmbeddedStore::open(EmbeddedConfig::new(dir.path().join("tsdb")))
            .await?;

    // Receiver: reports (status, arrival time).
    let (tx, mut rx) = mpsc::unbounded_channel::<(String, Instant)>();
    let tx = Arc::new(Mutex::new(tx));
    let app = axum::Router::new().fallback(move |body: axum::body::Bytes| {
        let tx = tx.clone();
        async move {
            let at = Instant::now();
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let _ = tx
                .lock()
                .unwrap()
                .send((v["status"].as_str().unwrap_or("").to_string(), at));
            "ok"
        }
    });
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let hook = format!("http://{}/hook", l.local_addr()?);
    tokio::spawn(async move { axum::serve(l, app).await });

    let a = Actor::system();
    store
        .create_channel(
            &a,
            ChannelInput {
                name: "hook".into(),
                kind: ChannelKind::Webhook,
                config: json!({"url": hook}),
                enabled: None,
            },
        )
        .await?;
    let rule = |name: String, expression: String| AlertRuleInput {
        notifications: vec!["hook".into()],
        ..AlertRuleInput::new(name, expression, Severity::High)
    };
    store
        .create_alert_rule(
            &a,
            rule("measured".into(), "bench_m0{device=\"d7\"} > 90".into()),
        )
        .await?;
    for j in 1..RULES {
        store
            .create_alert_rule(
                &a,
                rule(
                    format!("r{j}"),
                    format!("bench_m{} > {}", j % METRICS, 1000 + j),
                ),
            )
            .await?;
    }
    let now = Utc::now().timestamp_millis();
    for m in 0..METRICS {
        metrics.append(batch(m, None, now)).await?;
    }

    let worker = OutboxWorker::new(
        store.clone(),
        Notifier::new(Duration::from_secs(5))?,
        OutboxConfig::default(),
    );
    let (driver, handle) = AlertDriver::new(
        store.clone(),
        metrics.clone(),
        DriverConfig::default(),
        worker.waker(),
    )
    .await?;
    let stop = CancellationToken::new();
    tokio::spawn(driver.run(stop.clone()));
    tokio::spawn(worker.run(stop.clone()));
    let sink = AlertSink::new(StoreSink(metrics.clone()), handle.clone());

    let mut lat = Vec::with_capacity(trials);
    let mut last_firing: Option<Instant> = None;
    for _ in 0..trials {
        // Trials start more than one grouping window (2 s) after the previous firing message:
        // each is then the first of its group, sent at once (a re-fire within the window
        // would wait for the window's end, by design).
        if let Some(l) = last_firing {
            tokio::time::sleep_until((l + Duration::from_millis(2100)).into()).await;
        }
        let t0 = Instant::now();
        sink.append(batch(0, Some(95.0), Utc::now().timestamp_millis()))
            .await?;
        loop {
            let (status, at) = rx.recv().await.expect("receiver");
            if status == "firing" {
                lat.push((at - t0).as_secs_f64() * 1000.0);
                last_firing = Some(at);
                break;
            }
        }
        sink.append(batch(0, Some(10.0), Utc::now().timestamp_millis()))
            .await?;
        loop {
            let (status, _) = rx.recv().await.expect("receiver");
            if status == "resolved" {
                break;
            }
        }
    }
    let (p50, p99, max) = (pct(&mut lat, 0.50), pct(&mut lat, 0.99), pct(&mut lat, 1.0));
    println!(
        "sample -> webhook over {trials} trials ({} series, {RULES} rules): p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms",
        METRICS * DEVICES
    );

    // Engine cost: ingest 200 batches of 1,000 samples (5 metrics x 200 devices) through the
    // AlertSink (each batch re-evaluates the 50 rules on its 5 metrics), then the same through
    // the bare sink; the marker sample at the end waits for the driver to catch up.
    let rounds = 200;
    let (cpu_alerts, wall_alerts) = ingest(&sink, &metrics, &mut rx, true, rounds).await?;
    let (cpu_bare, wall_bare) = ingest(&sink, &metrics, &mut rx, false, rounds).await?;
    let k = rounds as f64; // thousands of samples
    println!(
        "ingest {rounds}k samples: with alerts {cpu_alerts:.2} s CPU ({wall_alerts:.2?} wall, includes waiting for the marker alert), bare {cpu_bare:.2} s CPU ({wall_bare:.2?} wall); engine cost {:.2} ms CPU per 1,000 samples",
        (cpu_alerts - cpu_bare) / k * 1000.0
    );
    stop.cancel();
    Ok(())
}

/// Ingests `rounds` batches of 1,000 samples; with alerts, waits for the driver to catch up
/// (a marker alert fires and resolves after the last batch). Returns CPU seconds and wall time.
async fn ingest<S: MetricSink>(
    sink: &AlertSink<S>,
    metrics: &Arc<dyn MetricStore>,
    rx: &mut mpsc::UnboundedReceiver<(String, Instant)>,
    with_alerts: bool,
    rounds: usize,
) -> anyhow::Result<(f64, Duration)> {
    let bare = StoreSink(metrics.clone());
    let c0 = cpu_seconds();
    let t0 = Instant::now();
    for r in 0..rounds {
        let ts = Utc::now().timestamp_millis();
        let mut b = Vec::with_capacity(1000);
        for m in 0..5 {
            b.extend(batch(1 + (r * 5 + m) % (METRICS - 1), None, ts));
        }
        if with_alerts {
            sink.append(b).await?;
        } else {
            bare.append(b).await?;
        }
    }
    if with_alerts {
        sink.append(batch(0, Some(95.0), Utc::now().timestamp_millis()))
            .await?;
        while rx.recv().await.expect("receiver").0 != "firing" {}
        sink.append(batch(0, Some(10.0), Utc::now().timestamp_millis()))
            .await?;
        while rx.recv().await.expect("receiver").0 != "resolved" {}
    }
    Ok((cpu_seconds() - c0, t0.elapsed()))
}
