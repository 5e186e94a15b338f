//! The project's PromQL cases (tests/promql/*.test, Prometheus' `promqltest` format), run
//! in-process through the `MetricStore` trait against both backends: the embedded store
//! (a fresh store per segment, data at its own times) and a real VictoriaMetrics started by
//! the test (each segment imported at its own base time, so evals tied to absolute time are
//! left to the embedded run), and a sample over HTTP through the Prometheus-compatible
//! router: import, query, and the error answers (parse position, unsupported, limits).

use wardflux_testkit::victoria as common;

use std::path::PathBuf;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use wardflux_tsdb::embedded::EmbeddedStore;
use wardflux_tsdb::promql::testfile::{self, Command, EvalKind, Outcome};
use wardflux_tsdb::promql::{self, Limits};
use wardflux_tsdb::victoria::{VictoriaStore, parse_query_answer, write_line};
use wardflux_tsdb::{EmbeddedConfig, MetricStore, QueryValue, VictoriaConfig};

const DAY: i64 = 86_400_000;

fn case_files() -> Vec<(String, Vec<Command>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/promql");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "test"))
        .collect();
    files.sort();
    assert!(files.len() >= 6, "case files in {}", dir.display());
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            let cmds = testfile::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, cmds)
        })
        .collect()
}

async fn evaluate(
    store: &dyn MetricStore,
    q: &str,
    kind: EvalKind,
    shift: i64,
) -> Result<QueryValue, String> {
    let r = match kind {
        EvalKind::Instant { at_ms } => promql::eval_instant(store, q, at_ms + shift).await,
        EvalKind::Range {
            start_ms,
            end_ms,
            step_ms,
        } => promql::eval_range(store, q, start_ms + shift, end_ms + shift, step_ms).await,
    };
    r.map_err(|e| e.to_string())
}

/// Evaluates a segment's cases (but those `skip` picks) on `store`, data moved by `shift`;
/// records failures, returns how many ran.
async fn run_evals(
    store: &dyn MetricStore,
    file: &str,
    seg: &testfile::Segment<'_>,
    shift: i64,
    skip: impl Fn(&testfile::Eval) -> bool,
    failures: &mut Vec<String>,
) -> usize {
    let mut ran = 0;
    for (ev, _) in &seg.evals {
        if skip(ev) {
            continue;
        }
        let got = evaluate(store, &ev.query, ev.kind, shift).await;
        ran += 1;
        if let o @ (Outcome::Wrong(_) | Outcome::Unsupported(_)) = testfile::check(ev, got, shift) {
            failures.push(format!("{file}:{} {}: {o:?}", ev.line, ev.query));
        }
    }
    ran
}

fn assert_no_failures(ran: usize, failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} of {ran} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn embedded_config(dir: &std::path::Path) -> EmbeddedConfig {
    let mut cfg = EmbeddedConfig::new(dir);
    // the cases' data lies around 1970: keep it raw
    cfg.raw_retention = std::time::Duration::from_secs(100 * 365 * 86_400);
    cfg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn project_cases_pass_on_the_embedded_store() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut ran, mut failures) = (0, Vec::new());
    for (name, cmds) in case_files() {
        for (si, seg) in testfile::segments(&cmds).into_iter().enumerate() {
            let store =
                EmbeddedStore::open(embedded_config(&tmp.path().join(format!("{name}-{si}"))))
                    .await
                    .unwrap();
            for l in &seg.loads {
                store.append(l.samples(0)).await.unwrap();
            }
            ran += run_evals(&*store, &name, &seg, 0, |_| false, &mut failures).await;
        }
    }
    assert_no_failures(ran, &failures);
    assert!(ran >= 130, "only {ran} cases ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn project_cases_pass_on_victoriametrics() {
    let vm = common::Vm::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let store =
        VictoriaStore::open(VictoriaConfig::single(&vm.url, tmp.path().join("spool"))).unwrap();
    let cancel = CancellationToken::new();
    store.spawn_background(cancel.clone());
    let _guard = cancel.drop_guard();
    let files = case_files();
    let n_segments: i64 = files
        .iter()
        .map(|(_, c)| testfile::segments(c).len() as i64)
        .sum();
    let base0 = wardflux_tsdb::now_ms().div_euclid(DAY) * DAY - 2 * DAY * (n_segments + 2);
    let (mut ran, mut set_aside, mut failures, mut k) = (0, 0usize, Vec::new(), 0i64);
    for (name, cmds) in &files {
        for seg in testfile::segments(cmds) {
            let shift = base0 + 2 * DAY * k;
            k += 1;
            for l in &seg.loads {
                store.append(l.samples(shift)).await.unwrap();
            }
            store.flush().await.unwrap();
            vm.force_flush().await;
            let skip = |ev: &testfile::Eval| {
                testfile::mentions(ev, &seg.loads, not_storable)
                    || seg
                        .evals
                        .iter()
                        .any(|(e, why)| std::ptr::eq(*e, ev) && why.is_some())
            };
            let n = run_evals(&*store, name, &seg, shift, skip, &mut failures).await;
            set_aside += seg.evals.len() - n;
            ran += n;
        }
    }
    assert_no_failures(ran, &failures);
    assert!(
        ran >= 110 && set_aside <= 20,
        "{ran} ran, {set_aside} set aside"
    );
}

/// An HTTP request's path and parameters, the status and an error text it must answer with.
type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], u16, &'a str);

/// Serves the Prometheus router on a free loopback port.
async fn serve(store: Arc<dyn MetricStore>, limits: Limits) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = wardflux_tsdb::http::router_with_limits(store, limits);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sample_over_http() {
    let tmp = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let files = case_files();
    let mut ran = 0;
    for (name, cmds) in &files {
        // the first segment of each file: import through the API, query through the API
        let seg = &testfile::segments(cmds)[0];
        let store = EmbeddedStore::open(embedded_config(&tmp.path().join(name)))
            .await
            .unwrap();
        let url = serve(store, Limits::default()).await;
        let mut body = String::new();
        for l in &seg.loads {
            for s in l.samples(0) {
                write_line(&mut body, &s);
            }
        }
        let r = client
            .post(format!("{url}/api/v1/import/prometheus"))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 204, "{name} import");
        for (ev, _) in &seg.evals {
            let params: Vec<(&str, String)> = match ev.kind {
                EvalKind::Instant { at_ms } => vec![
                    ("query", ev.query.clone()),
                    ("time", format!("{}", at_ms as f64 / 1000.0)),
                ],
                EvalKind::Range {
                    start_ms,
                    end_ms,
                    step_ms,
                } => vec![
                    ("query", ev.query.clone()),
                    ("start", format!("{}", start_ms as f64 / 1000.0)),
                    ("end", format!("{}", end_ms as f64 / 1000.0)),
                    ("step", format!("{step_ms}ms")),
                ],
            };
            let path = match ev.kind {
                EvalKind::Instant { .. } => "query",
                EvalKind::Range { .. } => "query_range",
            };
            let v: serde_json::Value = wardflux_testkit::send_json(
                client.post(format!("{url}/api/v1/{path}")).form(&params),
            )
            .await;
            let got = parse_query_answer(&v).map_err(|e| e.to_string());
            let o = testfile::check(ev, got, 0);
            assert_eq!(o, Outcome::Pass, "{name}:{} {}", ev.line, ev.query);
            ran += 1;
        }
    }
    assert!(ran >= 40, "only {ran} cases over HTTP");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_queries_unsupported_features_and_limits_answer_as_documented() {
    let tmp = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(embedded_config(tmp.path()))
        .await
        .unwrap();
    let cmds = testfile::parse(
        "load 1m\n  m{i=\"1\"} 0+1x100\n  m{i=\"2\"} 0+1x100\n  m{i=\"3\"} 0+1x100\n",
    )
    .unwrap();
    let Command::Load(l) = &cmds[0] else { panic!() };
    store.append(l.samples(0)).await.unwrap();
    let limits = Limits {
        max_series: 2,
        max_samples: 1000,
        max_points_per_series: 50,
    };
    let url = serve(store, limits).await;
    let client = reqwest::Client::new();
    // (path, parameters, status, text the error must contain)
    let cases: &[Case] = &[
        // parse errors: 400 with the position
        (
            "query",
            &[("query", "sum(m) bar")],
            400,
            "1:8: parse error: unexpected \"bar\"",
        ),
        // not implemented: 422 "unsupported: <feature>"
        (
            "query",
            &[("query", "limit_ratio(0.5, m{i=\"1\"})")],
            422,
            "unsupported: limit_ratio",
        ),
        // limits: 422 naming the limit
        ("query", &[("query", "sum(m)")], 422, "max_series = 2"),
        ("query", &[("query", "sum(m{i!=\"3\"})")], 200, ""),
        (
            "query_range",
            &[
                ("query", "m{i=\"1\"}"),
                ("start", "0"),
                ("end", "6000"),
                ("step", "60"),
            ],
            422,
            "max_points_per_series = 50",
        ),
        (
            "query",
            &[("query", "count_over_time(m{i=\"1\"}[1d])")],
            200,
            "",
        ),
        (
            "query",
            &[("query", "count_over_time(m{i!=\"3\"}[1d:1s])")],
            422,
            "max_points_per_series",
        ),
        // evaluation errors: 422
        (
            "query",
            &[(
                "query",
                "label_replace(m{i!=\"3\"}, \"i\", \"x\", \"\", \"\")",
            )],
            422,
            "vector cannot contain metrics with the same labelset",
        ),
        // a bad parameter names the field
        (
            "query",
            &[("query", "m"), ("time", "soon")],
            400,
            "invalid parameter \"time\": cannot parse \"soon\" to a valid timestamp",
        ),
        ("query", &[("query", "\"hello\"")], 200, ""),
    ];
    for &(path, params, status, msg) in cases {
        let mut params = params.to_vec();
        if path == "query" && !params.iter().any(|p| p.0 == "time") {
            params.push(("time", "60"));
        }
        let r = client
            .get(format!("{url}/api/v1/{path}"))
            .query(&params)
            .send()
            .await
            .unwrap();
        let st = r.status().as_u16();
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(st, status, "{params:?}: {v}");
        match st {
            200 => {
                assert_eq!(v["status"], "success");
                if params[0].1 == "\"hello\"" {
                    assert_eq!(v["data"]["resultType"], "string");
                    assert_eq!(v["data"]["result"][1], "hello");
                } else if params[0].1.starts_with("sum") {
                    assert_eq!(v["data"]["result"][0]["value"][1], "2");
                }
            }
            _ => {
                let kind = if st == 400 { "bad_data" } else { "execution" };
                assert_eq!(v["errorType"], kind, "{params:?}");
                let e = v["error"].as_str().unwrap_or_default();
                assert!(e.contains(msg), "{params:?}: {e}");
            }
        }
    }
}

/// Series VictoriaMetrics cannot store as loaded: it drops NaN samples, and keeps about 12
/// significant digits per block (so `1` next to `1e100` becomes 0).
fn not_storable(s: &testfile::LoadSeries) -> bool {
    let vals = s.points.iter().map(|p| p.1);
    let nonzero = || {
        vals.clone()
            .filter(|v| *v != 0.0 && v.is_finite())
            .map(f64::abs)
    };
    let (lo, hi) = (
        nonzero().fold(f64::INFINITY, f64::min),
        nonzero().fold(0.0, f64::max),
    );
    vals.clone().any(f64::is_nan) || (hi > 0.0 && hi / lo > 1e12)
}

/// The embedded store, answering `series_count_hint` from `series()` and counting reads.
struct Hinting {
    inner: Arc<EmbeddedStore>,
    raw_reads: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl MetricStore for Hinting {
    async fn append(&self, b: Vec<wardflux_tsdb::Sample>) -> Result<(), wardflux_tsdb::TsdbError> {
        self.inner.append(b).await
    }
    async fn range(
        &self,
        q: &wardflux_tsdb::RangeQuery,
    ) -> Result<Vec<wardflux_tsdb::SeriesPoints>, wardflux_tsdb::TsdbError> {
        self.inner.range(q).await
    }
    async fn raw(
        &self,
        m: &[wardflux_tsdb::LabelMatcher],
        s: i64,
        e: i64,
    ) -> Result<Vec<wardflux_tsdb::SeriesPoints>, wardflux_tsdb::TsdbError> {
        self.raw_reads
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.raw(m, s, e).await
    }
    async fn latest(
        &self,
        m: &[wardflux_tsdb::LabelMatcher],
    ) -> Result<Vec<wardflux_tsdb::Latest>, wardflux_tsdb::TsdbError> {
        self.inner.latest(m).await
    }
    async fn series(
        &self,
        m: &[Vec<wardflux_tsdb::LabelMatcher>],
        s: i64,
        e: i64,
    ) -> Result<Vec<wardflux_tsdb::SeriesKey>, wardflux_tsdb::TsdbError> {
        self.inner.series(m, s, e).await
    }
    async fn series_count_hint(
        &self,
        m: &[wardflux_tsdb::LabelMatcher],
        s: i64,
        e: i64,
    ) -> Result<Option<usize>, wardflux_tsdb::TsdbError> {
        Ok(Some(self.inner.series(&[m.to_vec()], s, e).await?.len()))
    }
    async fn flush(&self) -> Result<(), wardflux_tsdb::TsdbError> {
        self.inner.flush().await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_that_counts_series_refuses_before_reading_samples() {
    let tmp = tempfile::tempdir().unwrap();
    let inner = EmbeddedStore::open(embedded_config(tmp.path()))
        .await
        .unwrap();
    let cmds =
        testfile::parse("load 1m\n  m{i=\"1\"} 0+1x10\n  m{i=\"2\"} 0+1x10\n  m{i=\"3\"} 0+1x10\n")
            .unwrap();
    let Command::Load(l) = &cmds[0] else { panic!() };
    inner.append(l.samples(0)).await.unwrap();
    let store = Hinting {
        inner,
        raw_reads: Default::default(),
    };
    let limits = Limits {
        max_series: 2,
        ..Limits::default()
    };
    let r = promql::with_limits(limits, promql::eval_instant(&store, "sum(m)", 60_000)).await;
    assert!(
        matches!(&r, Err(wardflux_tsdb::TsdbError::LimitExceeded(m)) if m.contains("max_series = 2")),
        "{r:?}"
    );
    assert_eq!(store.raw_reads.load(std::sync::atomic::Ordering::SeqCst), 0);
    let r = promql::with_limits(
        limits,
        promql::eval_instant(&store, "sum(m{i!=\"3\"})", 60_000),
    )
    .await
    .unwrap();
    assert_eq!(
        r,
        QueryValue::Vector(vec![(Default::default(), 60_000, 2.0)])
    );
    assert_eq!(store.raw_reads.load(std::sync::atomic::Ordering::SeqCst), 1);
}
