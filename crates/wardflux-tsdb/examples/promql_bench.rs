//! Query latency of PromQL functions on 10,000 series over HTTP: this crate's Prometheus
//! router over the embedded store, and VictoriaMetrics, given the same data through
//! `/api/v1/import/prometheus` and the same queries through `/api/v1/query`.
//!
//! Usage: `promql_bench VM_URL [SERIES=10000] [RUNS=15] [ONLY]` (scripts/bench-promql.sh starts
//! VictoriaMetrics and runs this in release mode). Prints the median and 90th percentile
//! latency of each query for both, and the number of series each answered.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use wardflux_tsdb::embedded::EmbeddedStore;
use wardflux_tsdb::victoria::write_line;
use wardflux_tsdb::{EmbeddedConfig, Labels, Sample};

const STEP_MS: i64 = 30_000;
const HOUR_MS: i64 = 3_600_000;

/// One hour of data per device: an interface counter and a latency gauge every 30 s, and an
/// info metric (site, model) every 2 minutes.
fn data(series: usize, t0: i64) -> Vec<Sample> {
    let mut out = Vec::with_capacity(series * 270);
    for d in 0..series {
        let dev = format!("d{d}");
        let site = format!("s{}", d % 100);
        let base = Labels::from_pairs([("device", dev.as_str()), ("site", site.as_str())]);
        let info = Labels::from_pairs([
            ("device", dev.as_str()),
            ("site", site.as_str()),
            ("model", ["c9300", "ex2300", "crs326"][d % 3]),
        ]);
        let dev_only = Labels::from_pairs([("device", dev.as_str())]);
        for k in 0..=HOUR_MS / STEP_MS {
            let t = t0 + k * STEP_MS;
            let x = (d as f64 * 7.3 + k as f64 * 1.7).sin();
            out.push(Sample {
                metric: "bench_octets".into(),
                labels: dev_only.clone(),
                timestamp_ms: t,
                value: (k as f64) * (1000.0 + (d % 17) as f64 * 100.0) + x * 10.0,
            });
            out.push(Sample {
                metric: "bench_rtt_ms".into(),
                labels: base.clone(),
                timestamp_ms: t,
                value: 5.0 + (d % 13) as f64 + 3.0 * x,
            });
            if k % 4 == 0 {
                out.push(Sample {
                    metric: "bench_device_info".into(),
                    labels: info.clone(),
                    timestamp_ms: t,
                    value: 1.0,
                });
            }
        }
    }
    out
}

async fn import(client: &reqwest::Client, url: &str, samples: &[Sample]) -> anyhow::Result<()> {
    for chunk in samples.chunks(200_000) {
        let mut body = String::with_capacity(chunk.len() * 64);
        for s in chunk {
            write_line(&mut body, s);
        }
        let r = client
            .post(format!("{url}/api/v1/import/prometheus"))
            .body(body)
            .send()
            .await?;
        if !r.status().is_success() {
            bail!("import into {url}: {}", r.status());
        }
    }
    let _ = client
        .get(format!("{url}/internal/force_flush"))
        .send()
        .await;
    Ok(())
}

async fn query(
    client: &reqwest::Client,
    url: &str,
    q: &str,
    t: i64,
) -> anyhow::Result<(Duration, usize)> {
    let start = Instant::now();
    let r = client
        .post(format!("{url}/api/v1/query"))
        .form(&[("query", q.to_string()), ("time", format!("{}", t / 1000))])
        .send()
        .await?;
    let v: serde_json::Value = r.json().await?;
    let took = start.elapsed();
    if v["status"] != "success" {
        bail!("{url} {q}: {v}");
    }
    Ok((took, v["data"]["result"].as_array().map_or(1, Vec::len)))
}

fn pct(v: &mut [Duration], p: f64) -> f64 {
    v.sort();
    v[((v.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let vm = args
        .first()
        .context("usage: promql_bench VM_URL [SERIES] [RUNS]")?;
    let series: usize = args.get(1).map_or(Ok(10_000), |s| s.parse())?;
    let runs: usize = args.get(2).map_or(Ok(15), |s| s.parse())?;
    // optional: only the queries containing this text (for profiling one)
    let only = args.get(3).cloned().unwrap_or_default();
    let dir = tempfile::tempdir()?;
    let store = EmbeddedStore::open(EmbeddedConfig::new(dir.path().join("tsdb"))).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let wf = format!("http://{}", listener.local_addr()?);
    let app = wardflux_tsdb::http::router(store);
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = reqwest::Client::new();
    let t0 = (wardflux_tsdb::now_ms() - 2 * HOUR_MS).div_euclid(HOUR_MS) * HOUR_MS;
    let samples = data(series, t0);
    println!("{} series of data, {} samples", series * 3, samples.len());
    for (name, url) in [("wardflux", wf.as_str()), ("victoriametrics", vm.as_str())] {
        let s = Instant::now();
        import(&client, url, &samples).await?;
        println!("import into {name}: {:.1} s", s.elapsed().as_secs_f64());
    }
    drop(samples);
    let t = t0 + HOUR_MS;
    let queries = [
        "topk(10, rate(bench_octets[5m]))",
        "quantile_over_time(0.95, bench_rtt_ms[1h])",
        "sum by (site) (rate(bench_octets[5m]) * on(device) group_left(site, model) bench_device_info)",
        "topk(10, max_over_time(rate(bench_octets[5m])[1h:1m]))",
        "quantile by (site) (0.9, bench_rtt_ms)",
    ];
    println!("query\twardflux median / p90 ms (series)\tvictoriametrics median / p90 ms (series)");
    for q in queries.into_iter().filter(|q| q.contains(only.as_str())) {
        let mut row = format!("`{q}`");
        for url in [wf.as_str(), vm.as_str()] {
            let (_, n) = query(&client, url, q, t).await?; // warm-up
            let mut times = Vec::with_capacity(runs);
            for _ in 0..runs {
                times.push(query(&client, url, q, t).await?.0);
            }
            row.push_str(&format!(
                "\t{:.1} / {:.1} ({n})",
                pct(&mut times, 0.5),
                pct(&mut times, 0.9)
            ));
        }
        println!("{row}");
    }
    Ok(())
}
