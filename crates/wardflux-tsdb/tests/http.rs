//! Grafana compatibility: the same data imported through `POST /api/v1/import/prometheus` into
//! wardflux's router (embedded store behind it) and into a real VictoriaMetrics; the same
//! Prometheus API requests to both must give the same JSON shape and values. Also the
//! router over the VictoriaMetrics backend (queries proxied) and import error handling.

use wardflux_testkit::victoria as common;

use std::sync::Arc;

use serde_json::Value;
use tokio_util::sync::CancellationToken;
use wardflux_tsdb::embedded::EmbeddedStore;
use wardflux_tsdb::victoria::VictoriaStore;
use wardflux_tsdb::{EmbeddedConfig, MetricStore, VictoriaConfig, now_ms};

const MIN: i64 = 60_000;
const HOUR: i64 = 3_600_000;

/// An embedded store in a new temp dir (kept as long as the returned guard lives).
async fn embedded() -> (tempfile::TempDir, Arc<EmbeddedStore>) {
    let dir = tempfile::tempdir().unwrap();
    let emb = EmbeddedStore::open(EmbeddedConfig::new(dir.path().join("tsdb")))
        .await
        .unwrap();
    (dir, emb)
}

async fn serve(store: Arc<dyn MetricStore>) -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, wardflux_tsdb::http::router(store)).await });
    format!("http://{addr}")
}

/// Two days of one-minute samples: 3 gauges, 2 counters, as exposition text.
fn body(t0: i64) -> String {
    let mut s = String::from("# TYPE g gauge\n");
    for i in 0..2 * 24 * 60 {
        let t = t0 + i * MIN;
        for (k, dev) in ["a", "b", "c"].iter().enumerate() {
            let v = ((i * 7 + k as i64 * 5) % 19) as f64 * 0.25 + k as f64;
            s.push_str(&format!(
                "ping_rtt_ms{{device=\"{dev}\",ip=\"127.0.0.{k}\"}} {v} {t}\n"
            ));
        }
        for (k, dev) in ["a", "b"].iter().enumerate() {
            let c = (i * (i % 3 + 1) + k as i64 * 100) * 8;
            s.push_str(&format!(
                "if_in_octets{{device=\"{dev}\",ifName=\"eth0\"}} {c} {t}\n"
            ));
        }
    }
    s
}

async fn import(client: &reqwest::Client, base: &str, body: &str) -> reqwest::Response {
    client
        .post(format!("{base}/api/v1/import/prometheus"))
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

/// Sorts `result` arrays by their metric so order does not matter.
fn normalise(mut v: Value) -> Value {
    if let Some(r) = v.pointer_mut("/data/result").and_then(Value::as_array_mut) {
        r.sort_by_key(|x| x["metric"].to_string());
    }
    if let Some(r) = v.pointer_mut("/data").and_then(Value::as_array_mut) {
        r.sort_by_key(|x| x.to_string());
    }
    v
}

fn num(v: &Value) -> f64 {
    match v {
        Value::String(s) => match s.as_str() {
            "NaN" => f64::NAN,
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            s => s.parse().unwrap(),
        },
        v => v.as_f64().unwrap(),
    }
}

/// Same JSON structure; sample values (strings) compared as numbers with a tolerance.
fn assert_json_same(what: &str, a: &Value, b: &Value) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut kx: Vec<_> = x.keys().collect();
            let mut ky: Vec<_> = y.keys().filter(|k| *k != "stats").collect();
            kx.sort();
            ky.sort();
            assert_eq!(kx, ky, "{what}: keys");
            for k in kx {
                assert_json_same(&format!("{what}.{k}"), &x[k], &y[k]);
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{what}: lengths differ: {a} vs {b}");
            // a [timestamp, "value"] pair
            if x.len() == 2 && x[0].is_number() && x[1].is_string() {
                assert_eq!(x[0].as_f64(), y[0].as_f64(), "{what}: timestamp");
                assert!(y[1].is_string(), "{what}: value must be a string");
                let (p, q) = (num(&x[1]), num(&y[1]));
                assert!(
                    p == q || (p - q).abs() <= 1e-9 * p.abs().max(q.abs()),
                    "{what}: {p} vs {q}"
                );
                return;
            }
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                assert_json_same(&format!("{what}[{i}]"), p, q);
            }
        }
        _ => assert_eq!(a, b, "{what}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grafana_sees_the_same_answers_as_from_victoriametrics() {
    let vm = common::Vm::start().await;
    let (_dir, emb) = embedded().await;
    let cancel = CancellationToken::new();
    let _guard = cancel.clone().drop_guard();
    emb.spawn_background(cancel.clone());
    let wf = serve(emb.clone()).await;
    let client = reqwest::Client::new();

    let t0 = (now_ms() - 3 * 86_400_000).div_euclid(HOUR) * HOUR;
    let data = body(t0);
    for base in [&wf, &vm.url] {
        let r = import(&client, base, &data).await;
        assert_eq!(r.status().as_u16(), 204, "{base}");
    }
    vm.force_flush().await;

    // the router over the VictoriaMetrics backend (proxying) must answer the same as well
    let spool = tempfile::tempdir().unwrap();
    let vs = VictoriaStore::open(VictoriaConfig::single(&vm.url, spool.path())).unwrap();
    vs.spawn_background(cancel.clone());
    let wf_vm = serve(vs).await;

    let s = |ms: i64| format!("{}", ms as f64 / 1000.0);
    let (a, b) = (t0 + 6 * HOUR, t0 + 30 * HOUR);
    let mut requests: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for q in [
        "ping_rtt_ms",
        "ping_rtt_ms{device=~\"a|b\"}",
        "avg by (device) (ping_rtt_ms)",
        "sum without (ip) (ping_rtt_ms)",
        "max(ping_rtt_ms) - min(ping_rtt_ms)",
        "ping_rtt_ms > 3",
        "ping_rtt_ms > bool 3",
        // functions both engines define alike (rate/increase/delta extrapolate in
        // Prometheus 3, not in VictoriaMetrics: tests/promql/rates.test checks those)
        "irate(if_in_octets[5m]) * 8",
        "sum(sum_over_time(ping_rtt_ms[1h]))",
        "irate(if_in_octets{device=\"a\"}[5m])",
        "count_over_time(ping_rtt_ms[15m])",
        "sum by (device) (avg_over_time(ping_rtt_ms[30m]))",
        "count(ping_rtt_ms)",
    ] {
        requests.push((
            "/api/v1/query".into(),
            vec![("query".into(), q.into()), ("time".into(), s(a + 30_000))],
        ));
        requests.push((
            "/api/v1/query_range".into(),
            vec![
                ("query".into(), q.into()),
                ("start".into(), s(a)),
                ("end".into(), s(b)),
                ("step".into(), "300".into()),
            ],
        ));
        requests.push((
            "/api/v1/query_range".into(),
            vec![
                ("query".into(), q.into()),
                ("start".into(), s(a + 17_000)),
                ("end".into(), s(a + 2 * HOUR)),
                ("step".into(), "1m".into()),
            ],
        ));
    }
    let win = vec![
        ("start".to_string(), s(t0)),
        ("end".to_string(), s(t0 + 2 * 86_400_000)),
    ];
    let with = |extra: &[(&str, &str)]| {
        let mut v = win.clone();
        v.extend(extra.iter().map(|(a, b)| (a.to_string(), b.to_string())));
        v
    };
    requests.push((
        "/api/v1/series".into(),
        with(&[("match[]", "ping_rtt_ms{device!=\"c\"}")]),
    ));
    requests.push((
        "/api/v1/series".into(),
        with(&[
            ("match[]", "if_in_octets"),
            ("match[]", "{__name__=~\"ping.*\"}"),
        ]),
    ));
    requests.push(("/api/v1/labels".into(), with(&[])));
    requests.push((
        "/api/v1/labels".into(),
        with(&[("match[]", "if_in_octets")]),
    ));
    requests.push(("/api/v1/label/device/values".into(), with(&[])));
    requests.push(("/api/v1/label/__name__/values".into(), with(&[])));
    requests.push((
        "/api/v1/label/ifName/values".into(),
        with(&[("match[]", "if_in_octets{device=\"b\"}")]),
    ));

    for (i, (path, params)) in requests.iter().enumerate() {
        let want = normalise(
            wardflux_testkit::send_json(client.get(format!("{}{path}", vm.url)).query(params))
                .await,
        );
        assert_eq!(
            want["status"], "success",
            "VictoriaMetrics {path} {params:?}: {want}"
        );
        for base in [&wf, &wf_vm] {
            // Grafana uses POST with a form body by default; check GET too, alternately
            let req = if i % 2 == 0 {
                client.post(format!("{base}{path}")).form(params)
            } else {
                client.get(format!("{base}{path}")).query(params)
            };
            let r = req.send().await.unwrap();
            assert_eq!(r.status().as_u16(), 200, "{base}{path} {params:?}");
            assert!(
                r.headers()[reqwest::header::CONTENT_TYPE]
                    .to_str()
                    .unwrap()
                    .starts_with("application/json"),
                "content type"
            );
            let got = normalise(r.json().await.unwrap());
            assert_json_same(&format!("{base}{path} {params:?}"), &got, &want);
        }
    }

    // what Grafana's data source check asks besides queries
    let v: Value =
        wardflux_testkit::send_json(client.get(format!("{wf}/api/v1/status/buildinfo"))).await;
    assert_eq!(v["status"], "success");
    assert_eq!(v["data"]["application"], "wardflux");
    // Our own version (not a fake Prometheus one), as x.y.z so Grafana can parse it.
    let version = v["data"]["version"].as_str().unwrap();
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
    assert_eq!(
        version
            .split('.')
            .filter(|p| p.parse::<u32>().is_ok())
            .count(),
        3
    );
    let v: Value = wardflux_testkit::send_json(client.get(format!("{wf}/api/v1/metadata"))).await;
    assert_eq!(v, serde_json::json!({"status": "success", "data": {}}));

    // errors: Prometheus' shape, 400 for bad input
    for (path, params) in [
        ("/api/v1/query", vec![("query", "sum(")]),
        ("/api/v1/query", vec![]),
        (
            "/api/v1/query_range",
            vec![("query", "up"), ("start", "x"), ("end", "1"), ("step", "1")],
        ),
        (
            "/api/v1/query_range",
            vec![
                ("query", "up"),
                ("start", "10"),
                ("end", "1"),
                ("step", "1"),
            ],
        ),
        ("/api/v1/series", vec![]),
        ("/api/v1/series", vec![("match[]", "sum(up)")]),
    ] {
        let r = client
            .get(format!("{wf}{path}"))
            .query(&params)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 400, "{path} {params:?}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["status"], "error");
        assert_eq!(v["errorType"], "bad_data");
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
}

#[tokio::test]
async fn import_rejects_bad_lines_naming_them_and_accepts_good_ones() {
    let (_dir, emb) = embedded().await;
    let wf = serve(emb.clone()).await;
    let client = reqwest::Client::new();
    let r = import(
        &client,
        &wf,
        "ok{a=\"1\"} 1 1700000000000\n# comment\nbroken{a=\"1\" 2 1700000000000\n",
    )
    .await;
    assert_eq!(r.status().as_u16(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "error");
    assert!(v["error"].as_str().unwrap().starts_with("line 3: "), "{v}");
    // nothing of a rejected body is stored
    assert!(emb.raw(&[], i64::MIN, i64::MAX).await.unwrap().is_empty());
    // without timestamps: now
    let before = now_ms();
    let r = import(
        &client,
        &wf,
        "ok{a=\"1\"} 1.5\nok{a=\"2\"} 2 1700000000000\n",
    )
    .await;
    assert_eq!(r.status().as_u16(), 204);
    let all = emb.raw(&[], i64::MIN, i64::MAX).await.unwrap();
    assert_eq!(all.len(), 2);
    assert!(all[0].points[0].0 >= before && all[0].points[0].1 == 1.5);
    assert_eq!(all[1].points, vec![(1_700_000_000_000, 2.0)]);

    // gzip bodies, as VictoriaMetrics accepts them; other encodings are refused
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, b"gz_metric{a=\"1\"} 7 1700000000000\n").unwrap();
    let r = client
        .post(format!("{wf}/api/v1/import/prometheus"))
        .header("Content-Encoding", "gzip")
        .body(gz.finish().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let got = emb
        .raw(
            &[wardflux_tsdb::LabelMatcher::eq("__name__", "gz_metric")],
            i64::MIN,
            i64::MAX,
        )
        .await
        .unwrap();
    assert_eq!(got[0].points, vec![(1_700_000_000_000, 7.0)]);
    let r = client
        .post(format!("{wf}/api/v1/import/prometheus"))
        .header("Content-Encoding", "gzip")
        .body("not gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let r = client
        .post(format!("{wf}/api/v1/import/prometheus"))
        .header("Content-Encoding", "br")
        .body("x 1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 415);
}

/// A body over the limit is refused with 413 and the JSON error body, whether its
/// Content-Length says so up front or it only turns out too long while streaming.
#[tokio::test]
async fn import_over_the_size_limit_gets_413_with_a_json_error() {
    use tower::ServiceExt;
    let (_dir, emb) = embedded().await;
    let router = wardflux_tsdb::http::router(emb.clone());
    let limit = wardflux_tsdb::http::MAX_IMPORT_BYTES;
    let check = |r: axum::response::Response| async move {
        assert_eq!(r.status().as_u16(), 413);
        let b = http_body_util::BodyExt::collect(r.into_body())
            .await
            .unwrap()
            .to_bytes();
        let v: Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["status"], "error");
        assert_eq!(v["errorType"], "bad_data");
        assert!(
            v["error"].as_str().unwrap().contains(&limit.to_string()),
            "{v}"
        );
    };
    // declared too long: refused before reading
    let req = axum::http::Request::post("/api/v1/import/prometheus")
        .header("content-length", (limit + 1).to_string())
        .body(axum::body::Body::from("x 1 1700000000000\n"))
        .unwrap();
    check(router.clone().oneshot(req).await.unwrap()).await;
    // chunked, too long while streaming: 64 KiB lines of valid text
    let line = format!("big{{pad=\"{}\"}} 1 1700000000000\n", "p".repeat(65_000));
    let chunks = limit / line.len() + 2;
    let stream = futures::stream::iter(
        (0..chunks).map(move |_| Ok::<_, std::io::Error>(axum::body::Bytes::from(line.clone()))),
    );
    let req = axum::http::Request::post("/api/v1/import/prometheus")
        .body(axum::body::Body::from_stream(stream))
        .unwrap();
    check(router.clone().oneshot(req).await.unwrap()).await;
    // under the limit the same route still works
    let req = axum::http::Request::post("/api/v1/import/prometheus")
        .body(axum::body::Body::from("small 1 1700000000000\n"))
        .unwrap();
    assert_eq!(router.oneshot(req).await.unwrap().status().as_u16(), 204);
}

/// Long bodies are stored in batches as they arrive; a bad line is named by its number in
/// the whole body, and the batches before it are kept.
#[tokio::test]
async fn long_import_is_stored_in_batches_and_errors_name_the_body_line() {
    let (_dir, emb) = embedded().await;
    let wf = serve(emb.clone()).await;
    let client = reqwest::Client::new();
    let mut text = String::new();
    let n = 80_000;
    for i in 0..n {
        text.push_str(&format!(
            "long_metric{{series=\"s{}\"}} {i} {}\n",
            i % 100,
            1_700_000_000_000i64 + i * 1000
        ));
    }
    assert!(text.len() > 3 << 20, "more than three batches");
    let r = import(&client, &wf, &text).await;
    assert_eq!(r.status().as_u16(), 204);
    let got = emb.raw(&[], i64::MIN, i64::MAX).await.unwrap();
    assert_eq!(got.len(), 100);
    assert_eq!(
        got.iter().map(|s| s.points.len()).sum::<usize>(),
        n as usize
    );
    text.push_str("broken{ 1\n");
    let r = import(&client, &wf, &text).await;
    assert_eq!(r.status().as_u16(), 400);
    let v: Value = r.json().await.unwrap();
    let line = n + 1;
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .starts_with(&format!("line {line}: ")),
        "{v}"
    );
}
