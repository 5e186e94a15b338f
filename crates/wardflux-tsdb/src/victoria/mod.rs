//! The VictoriaMetrics backend: writes through `/api/v1/import/prometheus`, reads through the
//! Prometheus query API and `/api/v1/export`.
//!
//! Every appended batch first goes to an on-disk spool (length+count+CRC framed records in
//! segment files, one `write(2)` per batch, so acknowledged batches survive a crash of this
//! process), and one background task delivers the spool to VictoriaMetrics strictly in order,
//! several batches per request, remembering its position in a small `cursor` file. While
//! VictoriaMetrics is unreachable the spool grows up to `spool_max_bytes`; batches past the bound
//! are refused with [`TsdbError::SpoolFull`], counted in `wardflux_tsdb_spool_dropped_samples_total`
//! (metrics facade) and logged. Batches VictoriaMetrics rejects with 4xx are counted in
//! `wardflux_tsdb_rejected_samples_total` and skipped so they cannot block the queue. The spool
//! itself (files, frames, cursor) is [`spool`]; this module is the HTTP side.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::{
    Aggregation, LabelMatcher, Labels, Latest, MetricStore, QueryValue, RangeQuery, Sample,
    SeriesKey, SeriesPoints, TsdbError, VictoriaConfig, now_ms, selector_promql,
};

mod spool;

use spool::Spool;

/// The VictoriaMetrics store.
pub struct VictoriaStore {
    cfg: VictoriaConfig,
    client: reqwest::Client,
    spool: Spool,
    /// Wakes the sender after an append.
    wake: Notify,
    /// Wakes `flush` callers when the sender has caught up.
    drained: Notify,
    /// Cuts the sender's retry back-off short (from `flush`).
    retry: Notify,
    /// The delivery task, for `close`.
    background: crate::Background,
}

/// Appends one sample as a Prometheus exposition line (`name{l="v"} value ts_ms`).
pub fn write_line(out: &mut String, s: &Sample) {
    use std::fmt::Write as _;
    out.push_str(&s.metric);
    if !s.labels.is_empty() {
        out.push('{');
        for (i, (k, v)) in s.labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(k);
            out.push_str("=\"");
            for c in v.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '"' => out.push_str("\\\""),
                    '\n' => out.push_str("\\n"),
                    c => out.push(c),
                }
            }
            out.push('"');
        }
        out.push('}');
    }
    out.push(' ');
    out.push_str(&crate::http::fmt_value(s.value));
    let _ = writeln!(out, " {}", s.timestamp_ms);
}

fn key_from_json(m: &serde_json::Map<String, serde_json::Value>) -> SeriesKey {
    let mut key = SeriesKey::default();
    let mut labels = Labels::new();
    for (k, v) in m {
        let v = v.as_str().unwrap_or_default().to_string();
        if k == "__name__" {
            key.metric = v.into();
        } else {
            labels.insert(k.clone(), v);
        }
    }
    key.labels = labels;
    key
}

fn json_point(p: &serde_json::Value) -> Option<(i64, f64)> {
    let a = p.as_array()?;
    let t = a.first()?.as_f64()?;
    let v = parse_value(a.get(1)?.as_str()?)?;
    Some(((t * 1000.0).round() as i64, v))
}

fn parse_value(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        s => s.parse().ok(),
    }
}

/// Parses a Prometheus query API answer (`{"status":"success","data":{...}}`).
pub fn parse_query_answer(v: &serde_json::Value) -> Result<QueryValue, TsdbError> {
    if v["status"] != "success" {
        return Err(TsdbError::BadQuery(
            v["error"].as_str().unwrap_or("query failed").to_string(),
        ));
    }
    let data = &v["data"];
    let empty = Vec::new();
    let result = data["result"].as_array().unwrap_or(&empty);
    let metric = |r: &serde_json::Value| {
        key_from_json(r["metric"].as_object().unwrap_or(&serde_json::Map::new()))
    };
    match data["resultType"].as_str() {
        Some("matrix") => Ok(QueryValue::Matrix(
            result
                .iter()
                .map(|r| SeriesPoints {
                    key: metric(r),
                    points: r["values"]
                        .as_array()
                        .unwrap_or(&empty)
                        .iter()
                        .filter_map(json_point)
                        .collect(),
                })
                .collect(),
        )),
        Some("vector") => Ok(QueryValue::Vector(
            result
                .iter()
                .filter_map(|r| json_point(&r["value"]).map(|(t, v)| (metric(r), t, v)))
                .collect(),
        )),
        Some("scalar") => {
            let (t, v) = json_point(&data["result"])
                .ok_or_else(|| TsdbError::BadResponse("bad scalar".into()))?;
            Ok(QueryValue::Scalar(t, v))
        }
        other => Err(TsdbError::BadResponse(format!(
            "unexpected resultType {other:?}"
        ))),
    }
}

fn secs(ms: i64) -> String {
    format!("{:.3}", ms as f64 / 1000.0)
}

impl VictoriaStore {
    /// Opens the spool (creating `spool_dir`) and the HTTP client. Call
    /// [`spawn_background`](Self::spawn_background) to start delivery ([`crate::open`] does).
    pub fn open(mut cfg: VictoriaConfig) -> Result<Arc<Self>, TsdbError> {
        for u in [&mut cfg.insert_url, &mut cfg.select_url] {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                return Err(TsdbError::Config(format!(
                    "VictoriaMetrics URL {u:?} must start with http:// or https://"
                )));
            }
            *u = u.trim_end_matches('/').to_string();
        }
        let spool = Spool::open(&cfg.spool_dir, cfg.spool_max_bytes)?;
        let client = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .build()
            .map_err(|source| TsdbError::Http {
                what: "building the HTTP client",
                source,
            })?;
        Ok(Arc::new(Self {
            cfg,
            client,
            spool,
            wake: Notify::new(),
            drained: Notify::new(),
            retry: Notify::new(),
            background: crate::Background::default(),
        }))
    }

    /// Bytes waiting in the spool.
    pub fn spooled_bytes(&self) -> u64 {
        self.spool.pending()
    }

    fn spool(&self, batch: &[Sample]) -> Result<(), TsdbError> {
        let mut body = String::with_capacity(batch.len() * 64);
        for s in batch {
            write_line(&mut body, s);
        }
        self.spool.push(&body, batch.len())?;
        self.wake.notify_one();
        Ok(())
    }

    async fn post(&self, body: Vec<u8>) -> Result<(), (bool, String)> {
        let url = format!("{}/api/v1/import/prometheus", self.cfg.insert_url);
        match self.client.post(url).body(body).send().await {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) if r.status().is_client_error() => Err((false, format!("HTTP {}", r.status()))),
            Ok(r) => Err((true, format!("HTTP {}", r.status()))),
            Err(e) => Err((true, e.to_string())),
        }
    }

    /// Starts the delivery task; it stops when `shutdown` is cancelled (undelivered batches stay
    /// in the spool for the next start).
    pub fn spawn_background(
        self: &Arc<Self>,
        shutdown: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        let (shutdown, done) = self.background.start(&shutdown);
        tokio::spawn(async move {
            let _done = done;
            me.deliver(shutdown).await
        })
    }

    async fn deliver(&self, shutdown: CancellationToken) {
        let mut cursor = self.spool.start_cursor();
        let mut backoff = Duration::from_millis(50);
        loop {
            if shutdown.is_cancelled() {
                return;
            }
            // observed before reading: if the writer had moved on to a later segment, this
            // segment was complete before the read, so an empty read means it is delivered
            let writer_seq = self.spool.writer_seq();
            let (body, next_off, samples, bytes) = match self.spool.read_frames(cursor) {
                Ok(x) => x,
                Err(e) => {
                    tracing::error!(error = %e, "spool read failed");
                    tokio::select! { _ = shutdown.cancelled() => return, _ = tokio::time::sleep(Duration::from_secs(1)) => {} }
                    continue;
                }
            };
            if body.is_empty() {
                if bytes > 0 {
                    cursor.1 = next_off;
                    continue;
                }
                if cursor.0 < writer_seq {
                    // the segment is complete and delivered
                    cursor = self.spool.next_segment(cursor);
                    continue;
                }
                self.drained.notify_waiters();
                tokio::select! { _ = shutdown.cancelled() => return, _ = self.wake.notified() => {} }
                continue;
            }
            match self.post(body).await {
                Ok(()) => {
                    backoff = Duration::from_millis(50);
                }
                Err((true, e)) => {
                    tracing::warn!(error = %e, spooled_bytes = self.spooled_bytes(), "VictoriaMetrics unreachable, spooling");
                    // a flush() cuts the wait short
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(backoff) => {}
                        _ = self.retry.notified() => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                    continue;
                }
                Err((false, e)) => {
                    metrics::counter!("wardflux_tsdb_rejected_samples_total").increment(samples);
                    tracing::error!(error = %e, samples, "VictoriaMetrics rejected a batch: skipped");
                }
            }
            cursor.1 = next_off;
            self.spool.delivered(bytes);
            if let Err(e) = self.spool.save_cursor(cursor) {
                tracing::error!(error = %e, "spool cursor write failed");
            }
        }
    }

    async fn get_json(
        &self,
        path: &str,
        params: &[(&str, String)],
    ) -> Result<serde_json::Value, TsdbError> {
        let url = format!("{}{}", self.cfg.select_url, path);
        let r = self
            .client
            .post(url)
            .form(params)
            .send()
            .await
            .map_err(|source| TsdbError::Http {
                what: "query request",
                source,
            })?;
        let status = r.status();
        let v: serde_json::Value = r.json().await.map_err(|source| TsdbError::Http {
            what: "query answer",
            source,
        })?;
        if v["status"] == "error" {
            let msg = v["error"].as_str().unwrap_or("error").to_string();
            return Err(if status.is_client_error() {
                TsdbError::BadQuery(msg)
            } else {
                TsdbError::Remote {
                    status: status.as_u16(),
                    message: msg,
                }
            });
        }
        if !status.is_success() {
            return Err(TsdbError::Remote {
                status: status.as_u16(),
                message: String::new(),
            });
        }
        Ok(v)
    }

    fn match_params(
        sets: &[Vec<LabelMatcher>],
        start: i64,
        end: i64,
    ) -> Vec<(&'static str, String)> {
        let mut p: Vec<(&str, String)> = sets
            .iter()
            .map(|m| ("match[]", selector_promql(m)))
            .collect();
        // VictoriaMetrics treats start=0 as absent (then: end - 1 day)
        p.push(("start", secs(start.max(1000))));
        p.push(("end", secs(end)));
        p
    }

    fn string_list(v: &serde_json::Value) -> Vec<String> {
        let mut out: Vec<String> = v["data"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        out
    }
}

#[async_trait::async_trait]
impl MetricStore for VictoriaStore {
    async fn append(&self, batch: Vec<Sample>) -> Result<(), TsdbError> {
        if batch.is_empty() {
            return Ok(());
        }
        self.spool(&batch)
    }

    async fn range(&self, q: &RangeQuery) -> Result<Vec<SeriesPoints>, TsdbError> {
        let f = q.agg.over_time_fn();
        let query = format!(
            "{f}({}[{}ms]) keep_metric_names",
            selector_promql(&q.matchers),
            q.step_ms
        );
        let _ = Aggregation::Avg;
        match self
            .prom_query_range(&query, q.start_ms, q.end_ms, q.step_ms)
            .await?
        {
            QueryValue::Matrix(mut m) => {
                m.sort_by(|a, b| a.key.cmp(&b.key));
                Ok(m)
            }
            _ => Err(TsdbError::BadResponse("expected a matrix".into())),
        }
    }

    async fn raw(
        &self,
        matchers: &[LabelMatcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<SeriesPoints>, TsdbError> {
        let url = format!("{}/api/v1/export", self.cfg.select_url);
        let params = Self::match_params(&[matchers.to_vec()], start_ms, end_ms);
        let text = self
            .client
            .post(url)
            .form(&params)
            .send()
            .await
            .map_err(|source| TsdbError::Http {
                what: "export request",
                source,
            })?
            .text()
            .await
            .map_err(|source| TsdbError::Http {
                what: "export answer",
                source,
            })?;
        let mut out: Vec<SeriesPoints> = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let v: serde_json::Value =
                serde_json::from_str(line).map_err(|source| TsdbError::Json {
                    what: "export line",
                    source,
                })?;
            let key = key_from_json(v["metric"].as_object().unwrap_or(&serde_json::Map::new()));
            let empty = Vec::new();
            let ts = v["timestamps"].as_array().unwrap_or(&empty);
            let vs = v["values"].as_array().unwrap_or(&empty);
            let mut points: Vec<(i64, f64)> = ts
                .iter()
                .zip(vs)
                .filter_map(|(t, x)| {
                    Some((
                        t.as_i64()?,
                        x.as_f64().or_else(|| x.as_str().and_then(parse_value))?,
                    ))
                })
                .filter(|p| p.0 >= start_ms && p.0 <= end_ms)
                .collect();
            points.sort_by_key(|p| p.0);
            if !points.is_empty() {
                out.push(SeriesPoints { key, points });
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    async fn latest(&self, matchers: &[LabelMatcher]) -> Result<Vec<Latest>, TsdbError> {
        let now = now_ms();
        let raw = self
            .raw(matchers, now - 7 * 86_400_000, now + 86_400_000)
            .await?;
        Ok(raw
            .into_iter()
            .filter_map(|s| {
                s.points.last().map(|&(t, v)| Latest {
                    key: s.key.clone(),
                    timestamp_ms: t,
                    value: v,
                })
            })
            .collect())
    }

    async fn series(
        &self,
        matcher_sets: &[Vec<LabelMatcher>],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<SeriesKey>, TsdbError> {
        let v = self
            .get_json(
                "/api/v1/series",
                &Self::match_params(matcher_sets, start_ms, end_ms),
            )
            .await?;
        let mut out: Vec<SeriesKey> = v["data"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|m| m.as_object().map(key_from_json))
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        Ok(out)
    }

    async fn label_names(
        &self,
        matcher_sets: &[Vec<LabelMatcher>],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<String>, TsdbError> {
        let v = self
            .get_json(
                "/api/v1/labels",
                &Self::match_params(matcher_sets, start_ms, end_ms),
            )
            .await?;
        Ok(Self::string_list(&v))
    }

    async fn label_values(
        &self,
        name: &str,
        matcher_sets: &[Vec<LabelMatcher>],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<String>, TsdbError> {
        let path = format!("/api/v1/label/{name}/values");
        let v = self
            .get_json(&path, &Self::match_params(matcher_sets, start_ms, end_ms))
            .await?;
        Ok(Self::string_list(&v))
    }

    async fn flush(&self) -> Result<(), TsdbError> {
        let deadline = tokio::time::Instant::now() + self.cfg.timeout * 3;
        loop {
            let w = self.drained.notified();
            if self.spooled_bytes() == 0 {
                return Ok(());
            }
            self.wake.notify_one();
            self.retry.notify_one();
            if tokio::time::timeout_at(deadline, w).await.is_err() && self.spooled_bytes() > 0 {
                return Err(TsdbError::Unflushed(self.spooled_bytes()));
            }
        }
    }

    async fn close(&self) {
        self.background.close().await;
    }

    async fn prom_query(&self, query: &str, time_ms: i64) -> Result<QueryValue, TsdbError> {
        let v = self
            .get_json(
                "/api/v1/query",
                &[("query", query.to_string()), ("time", secs(time_ms))],
            )
            .await?;
        parse_query_answer(&v)
    }

    async fn prom_query_range(
        &self,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<QueryValue, TsdbError> {
        let v = self
            .get_json(
                "/api/v1/query_range",
                &[
                    ("query", query.to_string()),
                    ("start", secs(start_ms)),
                    ("end", secs(end_ms)),
                    ("step", format!("{step_ms}ms")),
                ],
            )
            .await?;
        parse_query_answer(&v)
    }
}
