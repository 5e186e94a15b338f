//! Embedded store vs VictoriaMetrics on the same data, in the same run.
//!
//! `cargo bench -p wardflux-tsdb --bench tsdb` (env `TSDB_BENCH_DEVICES`, default 1000;
//! `TSDB_BENCH_HOURS`, default 24; `TSDB_BENCH_MIX=hard` for only the two high-entropy series
//! per device; `TSDB_BENCH_PRECOMPUTE=1` to store rollups next to raw samples). Needs the `victoria-metrics` binary (Debian package); it is
//! pinned to one CPU with `taskset -c 0` when taskset exists, as the embedded ingest runs on
//! one thread. Data: per device `ping_rtt_ms` (random walk, microsecond resolution) and
//! `if_in_octets` (counter), one sample a minute with per-device phase and 0-20 ms jitter.
//! Prints figures and embedded/VictoriaMetrics ratios; docs/perf/tsdb.md records them.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wardflux_testkit::Rng;
use wardflux_tsdb::embedded::EmbeddedStore;
use wardflux_tsdb::{
    Aggregation, EmbeddedConfig, LabelMatcher, Labels, MetricStore, RangeQuery, Sample,
};

const MIN: i64 = 60_000;
const HOUR: i64 = 3_600_000;

/// Samples of minute `m` for all devices.
struct Gen {
    rng: Rng,
    rtt_us: Vec<i64>,
    octets: Vec<i64>,
    labels: Vec<(Labels, Labels)>,
    t0: i64,
    /// Only the two high-entropy series per device (`TSDB_BENCH_MIX=hard`).
    hard: bool,
}

impl Gen {
    fn new(devices: usize, t0: i64) -> Self {
        let labels = (0..devices)
            .map(|d| {
                let base = [
                    ("device", format!("dev{d:04}")),
                    (
                        "device_id",
                        format!("{:08x}-0000-4000-8000-{d:012}", d * 7919),
                    ),
                    (
                        "ip",
                        format!("10.{}.{}.{}", d / 65536, (d / 256) % 256, d % 256),
                    ),
                ];
                let ping = Labels::from_pairs(base.clone());
                let mut ifl = Labels::from_pairs(base);
                ifl.insert("ifName", "GigabitEthernet0/1");
                ifl.insert("ifIndex", "10101");
                (ping, ifl)
            })
            .collect();
        Self {
            rng: Rng(0x9E37_79B9_7F4A_7C15),
            rtt_us: (0..devices)
                .map(|d| 800 + (d as i64 * 37) % 20_000)
                .collect(),
            octets: vec![0; devices],
            labels,
            t0,
            hard: std::env::var("TSDB_BENCH_MIX").is_ok_and(|m| m == "hard"),
        }
    }

    fn minute(&mut self, m: i64) -> Vec<Sample> {
        let mut out = Vec::with_capacity(self.labels.len() * 5);
        for d in 0..self.labels.len() {
            let phase = (d as i64 * 59) % MIN / 1000 * 1000;
            let t = self.t0 + m * MIN + phase + (self.rng.next() % 21) as i64;
            let step = (self.rng.next() % 201) as i64 - 100;
            self.rtt_us[d] = (self.rtt_us[d] + step).clamp(100, 200_000);
            self.octets[d] += (self.rng.next() % 2_000_000) as i64;
            out.push(Sample {
                metric: "ping_rtt_ms".into(),
                labels: self.labels[d].0.clone(),
                timestamp_ms: t,
                value: self.rtt_us[d] as f64 / 1000.0,
            });
            out.push(Sample {
                metric: "if_in_octets".into(),
                labels: self.labels[d].1.clone(),
                timestamp_ms: t,
                value: self.octets[d] as f64,
            });
            if self.hard {
                continue;
            }
            // the rest of an ICMP check: mostly constant, as on a healthy network
            let r = self.rng.next() % 1000;
            let loss = if r < 10 {
                50.0
            } else if r == 10 {
                100.0
            } else {
                0.0
            };
            for (metric, v) in [
                ("ping_packet_loss", loss),
                ("ping_availability", f64::from(u8::from(loss < 100.0))),
                ("ping_up", 1.0),
            ] {
                out.push(Sample {
                    metric: metric.into(),
                    labels: self.labels[d].0.clone(),
                    timestamp_ms: t,
                    value: v,
                });
            }
        }
        out
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn dir_size(p: &std::path::Path) -> u64 {
    let mut n = 0;
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            let m = e.metadata().unwrap();
            n += if m.is_dir() {
                dir_size(&e.path())
            } else {
                m.len()
            };
        }
    }
    n
}

fn main() -> anyhow::Result<()> {
    let devices: usize = std::env::var("TSDB_BENCH_DEVICES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let hours: i64 = std::env::var("TSDB_BENCH_HOURS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(24);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let t0 = (wardflux_tsdb::now_ms() - 3 * 86_400_000).div_euclid(HOUR) * HOUR;
    let minutes = hours * 60;
    let per: i64 = if std::env::var("TSDB_BENCH_MIX").is_ok_and(|m| m == "hard") {
        2
    } else {
        5
    };
    println!(
        "data: {devices} devices x {per} series ({}), {hours} h at 1/min = {} samples",
        if per == 2 {
            "ping_rtt_ms, if_in_octets"
        } else {
            "ping_rtt_ms, ping_packet_loss, ping_availability, ping_up, if_in_octets"
        },
        devices as i64 * per * minutes
    );

    // ---------- embedded ingest (one thread), a block cut every simulated hour ----------
    let tmp = tempfile::tempdir()?;
    let mut cfg = EmbeddedConfig::new(tmp.path().join("tsdb"));
    cfg.precompute_rollups = std::env::var("TSDB_BENCH_PRECOMPUTE").is_ok_and(|v| v == "1");
    let store = rt.block_on(EmbeddedStore::open(cfg))?;
    let mut g = Gen::new(devices, t0);
    let batches: Vec<Vec<Sample>> = (0..minutes).map(|m| g.minute(m)).collect();
    let total: usize = batches.iter().map(Vec::len).sum();
    let st = Instant::now();
    for (m, b) in batches.into_iter().enumerate() {
        store.append_sync(b)?;
        if (m + 1) % 60 == 0 {
            rt.block_on(store.cut_block())?;
        }
    }
    rt.block_on(store.cut_block())?;
    store.sync_wal()?;
    let emb_ingest = st.elapsed();
    let emb_rate = total as f64 / emb_ingest.as_secs_f64();
    println!(
        "embedded: ingest {:.0} samples/s ({:.2} s, 1 thread, incl. {} hourly block writes)",
        emb_rate,
        emb_ingest.as_secs_f64(),
        hours + 1
    );
    let st = Instant::now();
    let merged = rt.block_on(store.compact())?;
    let (nblocks, emb_bytes) = store.disk_usage()?;
    let (raw_b, roll_b, other_b) = store.block_bytes();
    let per = |b: u64| b as f64 / total as f64;
    println!(
        "embedded: compaction merged {merged} blocks in {:.2} s; {nblocks} block files: {:.3} bytes/sample on disk = raw {:.3} + 5-min rollups {:.3} + index/footers {:.3}",
        st.elapsed().as_secs_f64(),
        per(emb_bytes),
        per(raw_b),
        per(roll_b),
        per(other_b)
    );

    // ---------- VictoriaMetrics: same data through its import API ----------
    let vm_dir = tempfile::tempdir()?;
    let port = free_port();
    let vm_bin = std::env::var("WARDFLUX_VM_BIN").unwrap_or_else(|_| "victoria-metrics".into());
    let pin = Command::new("taskset")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok();
    let mut cmd = if pin {
        let mut c = Command::new("taskset");
        c.args(["-c", "0", &vm_bin]);
        c
    } else {
        Command::new(&vm_bin)
    };
    let mut vm = cmd
        .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
        .arg(format!("-storageDataPath={}", vm_dir.path().display()))
        .args([
            "-retentionPeriod=100y",
            "-search.latencyOffset=0s",
            "-search.disableCache",
            "-loggerLevel=ERROR",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| {
            anyhow::anyhow!("cannot start {vm_bin} (Debian package victoria-metrics): {e}")
        })?;
    let url = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let res = rt.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if client
                .get(format!("{url}/health"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                break;
            }
            anyhow::ensure!(Instant::now() < deadline, "VictoriaMetrics did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut g = Gen::new(devices, t0);
        // bodies prepared before timing (text formatting is the client's cost, not VM's)
        let bodies: Vec<String> = (0..minutes)
            .collect::<Vec<_>>()
            .chunks(10)
            .map(|ms| {
                let mut s = String::new();
                for &m in ms {
                    for smp in g.minute(m) {
                        wardflux_tsdb::victoria::write_line(&mut s, &smp);
                    }
                }
                s
            })
            .collect();
        let st = Instant::now();
        for b in bodies {
            let r = client
                .post(format!("{url}/api/v1/import/prometheus"))
                .body(b)
                .send()
                .await?;
            anyhow::ensure!(r.status().is_success());
        }
        client
            .get(format!("{url}/internal/force_flush"))
            .send()
            .await?;
        let vm_ingest = st.elapsed();
        // merge its parts fully (as it does in the background over time), then read its own
        // size accounting
        client
            .get(format!("{url}/internal/force_merge"))
            .send()
            .await?;
        // the forced merge runs in the background: wait until the size stops changing
        let size = || async {
            client
                .get(format!("{url}/internal/force_flush"))
                .send()
                .await?;
            let metrics = client
                .get(format!("{url}/metrics"))
                .send()
                .await?
                .text()
                .await?;
            let mut b = 0.0;
            for l in metrics.lines() {
                if l.starts_with("vm_data_size_bytes{type=\"storage/") {
                    b += l
                        .rsplit(' ')
                        .next()
                        .and_then(|v| v.parse::<f64>().ok())
                        .unwrap_or(0.0);
                }
            }
            Ok::<f64, anyhow::Error>(b)
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut data_bytes = size().await?;
        let mut stable = 0;
        while stable < 4 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let b = size().await?;
            stable = if b == data_bytes { stable + 1 } else { 0 };
            data_bytes = b;
        }
        Ok::<_, anyhow::Error>((vm_ingest, data_bytes))
    });
    let (vm_ingest, vm_data_bytes) = match res {
        Ok(x) => x,
        Err(e) => {
            let _ = vm.kill();
            return Err(e);
        }
    };
    let vm_rate = total as f64 / vm_ingest.as_secs_f64();
    let vm_dir_bytes = dir_size(vm_dir.path());
    println!(
        "victoria-metrics{}: ingest {:.0} samples/s over HTTP ({:.2} s); after force_merge {:.3} bytes/sample (vm_data_size_bytes storage/*), {:.3} for its whole data dir (du, incl. index)",
        if pin { " (taskset -c 0)" } else { "" },
        vm_rate,
        vm_ingest.as_secs_f64(),
        vm_data_bytes / total as f64,
        vm_dir_bytes as f64 / total as f64,
    );
    println!(
        "ratio embedded/VM: ingest x{:.2}, bytes/sample x{:.2}",
        emb_rate / vm_rate,
        emb_bytes as f64 / vm_data_bytes.max(1.0)
    );

    // ---------- queries ----------
    let end = t0 + minutes * MIN;
    let start = end - 24 * HOUR.min(minutes * MIN);
    let one = "ping_rtt_ms{device=\"dev0042\"}";
    let agg = "avg(ping_rtt_ms)";
    let agg_rate = "sum(rate(if_in_octets[5m]))";
    let reps = 7;
    let time_store = |f: &dyn Fn() -> usize| -> (Duration, usize) {
        let mut v = Vec::new();
        let mut n = 0;
        for _ in 0..reps {
            let st = Instant::now();
            n = f();
            v.push(st.elapsed());
        }
        (median(v), n)
    };
    let s: Arc<dyn MetricStore> = store.clone();
    let range_api = |matchers: Vec<LabelMatcher>, step: i64| {
        let s = s.clone();
        let rt = &rt;
        move || {
            rt.block_on(s.range(&RangeQuery {
                matchers: matchers.clone(),
                start_ms: start,
                end_ms: end,
                step_ms: step,
                agg: Aggregation::Avg,
            }))
            .unwrap()
            .iter()
            .map(|x| x.points.len())
            .sum()
        }
    };
    let promql = |q: &'static str, step: i64| {
        let s = s.clone();
        let rt = &rt;
        move || match rt
            .block_on(s.prom_query_range(q, start, end, step))
            .unwrap()
        {
            wardflux_tsdb::QueryValue::Matrix(m) => m.iter().map(|x| x.points.len()).sum(),
            _ => 0,
        }
    };
    // a query_range over HTTP against either server (same client, same parameters)
    let http_query = |base: &str, q: &'static str, step: i64| {
        let client = client.clone();
        let url = base.to_string();
        let rt = &rt;
        move || {
            let v: serde_json::Value = rt.block_on(async {
                client
                    .get(format!("{url}/api/v1/query_range"))
                    .query(&[
                        ("query", q.to_string()),
                        ("start", format!("{}", start / 1000)),
                        ("end", format!("{}", end / 1000)),
                        ("step", format!("{}ms", step)),
                    ])
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap()
            });
            v["data"]["result"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|r| r["values"].as_array().map_or(0, Vec::len))
                        .sum()
                })
                .unwrap_or(0)
        }
    };
    // the embedded store behind the same HTTP API, for a like-for-like comparison
    let wf_port = free_port();
    {
        let s = s.clone();
        rt.spawn(async move {
            let l = tokio::net::TcpListener::bind(("127.0.0.1", wf_port))
                .await
                .unwrap();
            axum::serve(l, wardflux_tsdb::http::router(s))
                .await
                .unwrap();
        });
    }
    let wf_url = format!("http://127.0.0.1:{wf_port}");
    rt.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(5);
        while tokio::net::TcpStream::connect(("127.0.0.1", wf_port))
            .await
            .is_err()
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    println!("queries over 24 h (median of {reps}; points returned in brackets):");
    type Run<'a> = Box<dyn Fn() -> usize + 'a>;
    let cases: Vec<(&str, Run, Run, Run)> = [
        ("1 series, step 60s", one, MIN),
        ("1000 series avg(), step 60s", agg, MIN),
        ("1000 series sum(rate[5m]), step 5m", agg_rate, 5 * MIN),
    ]
    .into_iter()
    .map(|(name, q, step)| -> (&str, Run, Run, Run) {
        (
            name,
            Box::new(promql(q, step)),
            Box::new(http_query(&wf_url, q, step)),
            Box::new(http_query(&url, q, step)),
        )
    })
    .collect();
    for (name, emb, wf, vmq) in &cases {
        let (a, na) = time_store(emb.as_ref());
        let (b, nb) = time_store(wf.as_ref());
        let (c, nc) = time_store(vmq.as_ref());
        println!(
            "  {name:36} embedded in-process {:8.2} ms [{na}] | embedded via HTTP {:8.2} ms [{nb}] | VictoriaMetrics HTTP {:8.2} ms [{nc}] | ratio HTTP/HTTP x{:.2}",
            ms(a),
            ms(b),
            ms(c),
            ms(b) / ms(c)
        );
    }
    let (a, na) = time_store(&range_api(
        vec![
            LabelMatcher::eq("__name__", "ping_rtt_ms"),
            LabelMatcher::eq("device", "dev0042"),
        ],
        MIN,
    ));
    println!(
        "  MetricStore::range 1 series step 60s avg: {:.3} ms [{na}]",
        ms(a)
    );
    let (a, na) = time_store(&range_api(
        vec![LabelMatcher::eq("__name__", "ping_rtt_ms")],
        5 * MIN,
    ));
    println!(
        "  MetricStore::range 1000 series step 5m avg (per series): {:.2} ms [{na}]",
        ms(a)
    );
    let _ = vm.kill();
    let _ = vm.wait();
    Ok(())
}
