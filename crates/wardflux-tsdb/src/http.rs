//! Prometheus-compatible HTTP API over any [`MetricStore`], so Grafana can use wardflux as a
//! Prometheus data source on either backend.
//!
//! `GET`/`POST` (form-encoded) `/api/v1/query`, `/api/v1/query_range`, `/api/v1/series`,
//! `/api/v1/labels`, `/api/v1/label/{name}/values`, and `POST /api/v1/import/prometheus`
//! (text exposition, see [`crate::expo`], optionally `Content-Encoding: gzip`; 204 on success,
//! 400 naming the bad line), plus
//! `/api/v1/status/buildinfo` and an empty `/api/v1/metadata` for Grafana's data source checks.
//! Answers use Prometheus' JSON shapes: `{"status":"success","data":...}`, sample values as
//! strings, timestamps as seconds; errors are `{"status":"error","errorType":..,"error":..}`
//! with 400 (`bad_data`) or 422 (`execution`). The router has no authentication of its own:
//! the API server mounts it behind its bearer/basic auth layer.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::{LabelMatcher, MetricStore, QueryValue, SeriesKey, TsdbError, now_ms};

type Store = Arc<dyn MetricStore>;

/// Largest accepted import body.
pub const MAX_IMPORT_BYTES: usize = 64 << 20;

/// The Prometheus-compatible router (no auth inside; wrap it).
pub fn router(store: Arc<dyn MetricStore>) -> Router {
    Router::new()
        .route("/api/v1/query", get(query).post(query))
        .route("/api/v1/query_range", get(query_range).post(query_range))
        .route("/api/v1/series", get(series).post(series))
        .route("/api/v1/labels", get(labels).post(labels))
        .route(
            "/api/v1/label/{name}/values",
            get(label_values).post(label_values),
        )
        .route("/api/v1/status/buildinfo", get(buildinfo))
        .route("/api/v1/metadata", get(metadata))
        .route(
            "/api/v1/import/prometheus",
            post(import).layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES)),
        )
        .with_state(store)
}

/// Formats a sample value as Prometheus does (`strconv.FormatFloat(v, 'f', -1, 64)`).
pub fn fmt_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

/// A timestamp in seconds as a JSON number (integral when whole, as Prometheus prints it).
pub fn ts_json(ms: i64) -> Value {
    if ms % 1000 == 0 {
        json!(ms / 1000)
    } else {
        json!(ms as f64 / 1000.0)
    }
}

/// An API error answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub msg: String,
}

impl ApiError {
    fn bad(msg: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            kind: "bad_data",
            msg: msg.into(),
        }
    }
}

impl From<TsdbError> for ApiError {
    fn from(e: TsdbError) -> Self {
        match e {
            TsdbError::BadQuery(m) => Self::bad(m),
            TsdbError::SpoolFull(_) | TsdbError::Closed => Self {
                status: StatusCode::SERVICE_UNAVAILABLE,
                kind: "unavailable",
                msg: e.to_string(),
            },
            other => Self {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                kind: "execution",
                msg: other.to_string(),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            axum::Json(json!({"status": "error", "errorType": self.kind, "error": self.msg})),
        )
            .into_response()
    }
}

fn success(data: Value) -> Response {
    axum::Json(json!({"status": "success", "data": data})).into_response()
}

/// Request parameters from the query string and a form-encoded body.
struct Params(Vec<(String, String)>);

impl Params {
    fn new(raw: Option<String>, headers: &HeaderMap, body: &Bytes) -> Self {
        let mut v: Vec<(String, String)> = raw
            .as_deref()
            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default();
        let is_form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|h| h.to_str().ok())
            .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
        if is_form || (!body.is_empty() && headers.get(header::CONTENT_TYPE).is_none()) {
            v.extend(form_urlencoded::parse(body).into_owned());
        }
        Self(v)
    }

    fn get(&self, k: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, v)| n == k && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    fn all(&self, k: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn time(&self, k: &str, default: i64) -> Result<i64, ApiError> {
        match self.get(k) {
            None => Ok(default),
            Some(s) => parse_time(s).ok_or_else(|| {
                ApiError::bad(format!(
                    "invalid parameter \"{k}\": cannot parse {s:?} to a valid timestamp"
                ))
            }),
        }
    }

    fn matchers(&self) -> Result<Vec<Vec<LabelMatcher>>, ApiError> {
        self.all("match[]")
            .into_iter()
            .map(parse_selector)
            .collect::<Result<_, _>>()
    }
}

/// Seconds (float) or RFC 3339 to milliseconds.
pub fn parse_time(s: &str) -> Option<i64> {
    if let Ok(f) = s.parse::<f64>() {
        // |t| < 1e11 s (year 5138) keeps all time arithmetic far from i64 overflow
        return (f.is_finite() && f.abs() < 1.0e11).then(|| (f * 1000.0).round() as i64);
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.timestamp_millis())
        .filter(|t| t.abs() < 100_000_000_000_000)
}

/// Seconds (float) or a Prometheus duration (`1h30m`, `15s`, `100ms`) to milliseconds.
pub fn parse_duration(s: &str) -> Option<i64> {
    if let Ok(f) = s.parse::<f64>() {
        return (f.is_finite() && f > 0.0 && f < 1.0e11).then(|| (f * 1000.0).round() as i64);
    }
    let b = s.as_bytes();
    let (mut p, mut total) = (0usize, 0i64);
    if b.is_empty() {
        return None;
    }
    while p < b.len() {
        let st = p;
        while p < b.len() && b[p].is_ascii_digit() {
            p += 1;
        }
        let n: i64 = s.get(st..p)?.parse().ok()?;
        let us = p;
        while p < b.len() && b[p].is_ascii_alphabetic() {
            p += 1;
        }
        let mult = match &s[us..p] {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            "y" => 365 * 86_400_000,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(mult)?)?;
    }
    (total > 0 && total < 100_000_000_000_000).then_some(total)
}

/// Parses a series selector (`up{job="x"}`, `{__name__=~"a.*"}`) into matchers.
pub fn parse_selector(s: &str) -> Result<Vec<LabelMatcher>, ApiError> {
    use promql_parser::label::MatchOp;
    use promql_parser::parser::{Expr, parse};
    let e = parse(s).map_err(|e| ApiError::bad(format!("invalid match[] {s:?}: {e}")))?;
    let Expr::VectorSelector(vs) = e else {
        return Err(ApiError::bad(format!(
            "match[] {s:?} is not a series selector"
        )));
    };
    let mut out = Vec::new();
    if let Some(n) = &vs.name {
        out.push(LabelMatcher::eq("__name__", n.clone()));
    }
    for m in &vs.matchers.matchers {
        out.push(match &m.op {
            MatchOp::Equal => LabelMatcher::eq(m.name.clone(), m.value.clone()),
            MatchOp::NotEqual => LabelMatcher::ne(m.name.clone(), m.value.clone()),
            MatchOp::Re(_) => LabelMatcher::re(m.name.clone(), &m.value)?,
            MatchOp::NotRe(_) => LabelMatcher::not_re(m.name.clone(), &m.value)?,
        });
    }
    Ok(out)
}

fn metric_json(k: &SeriesKey) -> Value {
    let mut m = serde_json::Map::new();
    for (n, v) in k.all_labels() {
        m.insert(n, Value::String(v));
    }
    Value::Object(m)
}

/// The `data` object of a query answer.
pub fn query_data(v: &QueryValue) -> Value {
    match v {
        QueryValue::Scalar(t, x) => {
            json!({"resultType": "scalar", "result": [ts_json(*t), fmt_value(*x)]})
        }
        QueryValue::Vector(vs) => json!({
            "resultType": "vector",
            "result": vs.iter().map(|(k, t, x)| json!({"metric": metric_json(k), "value": [ts_json(*t), fmt_value(*x)]})).collect::<Vec<_>>(),
        }),
        QueryValue::Matrix(m) => json!({
            "resultType": "matrix",
            "result": m.iter().map(|s| json!({
                "metric": metric_json(&s.key),
                "values": s.points.iter().map(|&(t, x)| json!([ts_json(t), fmt_value(x)])).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        }),
    }
}

async fn query(
    State(s): State<Store>,
    RawQuery(q): RawQuery,
    h: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = Params::new(q, &h, &body);
    let expr = p
        .get("query")
        .ok_or_else(|| ApiError::bad("missing parameter \"query\""))?;
    let t = p.time("time", now_ms())?;
    let v = s.prom_query(expr, t).await?;
    Ok(success(query_data(&v)))
}

async fn query_range(
    State(s): State<Store>,
    RawQuery(q): RawQuery,
    h: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = Params::new(q, &h, &body);
    let expr = p
        .get("query")
        .ok_or_else(|| ApiError::bad("missing parameter \"query\""))?;
    let start = p
        .get("start")
        .ok_or_else(|| ApiError::bad("missing parameter \"start\""))?;
    let end = p
        .get("end")
        .ok_or_else(|| ApiError::bad("missing parameter \"end\""))?;
    let step = p
        .get("step")
        .ok_or_else(|| ApiError::bad("missing parameter \"step\""))?;
    let start = parse_time(start)
        .ok_or_else(|| ApiError::bad(format!("invalid parameter \"start\": {start:?}")))?;
    let end = parse_time(end)
        .ok_or_else(|| ApiError::bad(format!("invalid parameter \"end\": {end:?}")))?;
    let step = parse_duration(step)
        .ok_or_else(|| ApiError::bad(format!("invalid parameter \"step\": {step:?}")))?;
    if end < start {
        return Err(ApiError::bad(
            "invalid parameter \"end\": end timestamp must not be before start time",
        ));
    }
    let v = s.prom_query_range(expr, start, end, step).await?;
    Ok(success(query_data(&v)))
}

/// Default window of series/label lookups without `start`/`end`.
fn window(p: &Params) -> Result<(i64, i64), ApiError> {
    let now = now_ms();
    Ok((p.time("start", 0)?, p.time("end", now + 86_400_000)?))
}

async fn series(
    State(s): State<Store>,
    RawQuery(q): RawQuery,
    h: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = Params::new(q, &h, &body);
    let sets = p.matchers()?;
    if sets.is_empty() {
        return Err(ApiError::bad("no match[] parameter provided"));
    }
    let (start, end) = window(&p)?;
    let keys = s.series(&sets, start, end).await?;
    Ok(success(Value::Array(
        keys.iter().map(metric_json).collect(),
    )))
}

async fn labels(
    State(s): State<Store>,
    RawQuery(q): RawQuery,
    h: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = Params::new(q, &h, &body);
    let sets = p.matchers()?;
    let (start, end) = window(&p)?;
    let names = s.label_names(&sets, start, end).await?;
    Ok(success(json!(names)))
}

async fn label_values(
    State(s): State<Store>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
    h: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let valid = name
        .bytes()
        .enumerate()
        .all(|(i, c)| c.is_ascii_alphabetic() || c == b'_' || (i > 0 && c.is_ascii_digit()))
        && !name.is_empty();
    if !valid {
        return Err(ApiError::bad(format!("invalid label name: {name:?}")));
    }
    let p = Params::new(q, &h, &body);
    let sets = p.matchers()?;
    let (start, end) = window(&p)?;
    let vals = s.label_values(&name, &sets, start, end).await?;
    Ok(success(json!(vals)))
}

/// Grafana asks this to detect the Prometheus flavour and version.
async fn buildinfo() -> Response {
    success(json!({
        "version": "2.40.0",
        "revision": "wardflux",
        "branch": "",
        "buildUser": "",
        "buildDate": "",
        "goVersion": "",
        "application": "wardflux",
        "wardfluxVersion": env!("CARGO_PKG_VERSION"),
    }))
}

/// Metric metadata (type, help): not recorded; an empty map, as Prometheus answers for
/// metrics without metadata.
async fn metadata() -> Response {
    success(json!({}))
}

/// Largest accepted import body after gzip decompression.
pub const MAX_IMPORT_DECODED_BYTES: u64 = 512 << 20;

/// Import lines are parsed and appended in batches of about this many bytes, so an import
/// holds one batch in memory, not the whole body (nor its parsed samples).
const IMPORT_BATCH_BYTES: usize = 1 << 20;

fn too_large(what: &str, limit: u64) -> ApiError {
    ApiError {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        kind: "bad_data",
        msg: format!("{what} larger than {limit} bytes"),
    }
}

/// `POST /api/v1/import/prometheus`: Prometheus text, plain or gzip, streamed. A body over
/// [`MAX_IMPORT_BYTES`] (by its Content-Length, or while it arrives) or over
/// [`MAX_IMPORT_DECODED_BYTES`] decompressed gets 413 with the JSON error body. Bodies up to
/// 1 MiB are stored all or nothing; a longer body is stored in 1 MiB batches of lines as it
/// arrives, so an error (bad line, size limit) keeps the batches before it, as
/// VictoriaMetrics keeps the good lines of a body.
async fn import(
    State(s): State<Store>,
    h: HeaderMap,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    use futures::StreamExt;
    use std::io::Write;
    let enc = h
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity")
        .trim()
        .to_ascii_lowercase();
    let mut gz = match enc.as_str() {
        "identity" | "" => None,
        "gzip" | "x-gzip" => Some(flate2::write::MultiGzDecoder::new(Vec::new())),
        other => {
            return Err(ApiError {
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                kind: "bad_data",
                msg: format!("unsupported Content-Encoding {other:?} (identity or gzip)"),
            });
        }
    };
    let limit = MAX_IMPORT_BYTES as u64;
    let declared = h
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large("body", limit));
    }
    let bad_gzip = |e: std::io::Error| ApiError::bad(format!("bad gzip body: {e}"));
    let mut imp = Importer {
        store: s,
        pending: Vec::new(),
        lines: 0,
        decoded: 0,
        now: now_ms(),
    };
    let mut received = 0u64;
    let mut stream = body.into_data_stream();
    while let Some(frame) = stream.next().await {
        let data = frame.map_err(|e| ApiError::bad(format!("reading the body: {e}")))?;
        received += data.len() as u64;
        if received > limit {
            return Err(too_large("body", limit));
        }
        match &mut gz {
            Some(d) => {
                d.write_all(&data).map_err(bad_gzip)?;
                let out = std::mem::take(d.get_mut());
                imp.feed(&out).await?;
            }
            None => imp.feed(&data).await?,
        }
    }
    if let Some(d) = gz {
        let rest = d.finish().map_err(bad_gzip)?;
        imp.feed(&rest).await?;
    }
    imp.finish().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Cuts an import body into batches of whole lines and appends each.
struct Importer {
    store: Store,
    pending: Vec<u8>,
    /// Lines already appended (for error line numbers).
    lines: usize,
    decoded: u64,
    now: i64,
}

impl Importer {
    async fn feed(&mut self, data: &[u8]) -> Result<(), ApiError> {
        self.decoded += data.len() as u64;
        if self.decoded > MAX_IMPORT_DECODED_BYTES {
            return Err(too_large(
                "body when decompressed",
                MAX_IMPORT_DECODED_BYTES,
            ));
        }
        self.pending.extend_from_slice(data);
        if self.pending.len() > IMPORT_BATCH_BYTES
            && let Some(end) = self.pending.iter().rposition(|&b| b == b'\n')
        {
            let rest = self.pending.split_off(end + 1);
            let batch = std::mem::replace(&mut self.pending, rest);
            self.append(&batch).await?;
        }
        Ok(())
    }

    async fn append(&mut self, batch: &[u8]) -> Result<(), ApiError> {
        let text = std::str::from_utf8(batch)
            .map_err(|e| ApiError::bad(format!("body is not UTF-8: {e}")))?;
        match self.store.append_text(text, self.now).await {
            Err(TsdbError::Parse(mut e)) => {
                e.line += self.lines;
                Err(ApiError::bad(e.to_string()))
            }
            Err(e) => Err(e.into()),
            Ok(_) => {
                self.lines += batch.iter().filter(|&&b| b == b'\n').count();
                Ok(())
            }
        }
    }

    async fn finish(mut self) -> Result<(), ApiError> {
        let batch = std::mem::take(&mut self.pending);
        if batch.is_empty() {
            return Ok(());
        }
        self.append(&batch).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_times_and_durations_format_like_prometheus() {
        assert_eq!(fmt_value(1.5), "1.5");
        assert_eq!(fmt_value(1e21), "1000000000000000000000");
        assert_eq!(fmt_value(f64::INFINITY), "+Inf");
        assert_eq!(fmt_value(f64::NAN), "NaN");
        assert_eq!(ts_json(1_700_000_000_000), json!(1_700_000_000));
        assert_eq!(ts_json(1_700_000_000_123), json!(1_700_000_000.123));
        assert_eq!(parse_time("1700000000.5"), Some(1_700_000_000_500));
        assert_eq!(parse_time("2023-11-14T22:13:20Z"), Some(1_700_000_000_000));
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(parse_time("1e300"), None);
        assert_eq!(parse_time("-9e15"), None);
        assert_eq!(parse_duration("99999999999999999d"), None);
        assert_eq!(parse_duration("1h30m"), Some(5_400_000));
        assert_eq!(parse_duration("15"), Some(15_000));
        assert_eq!(parse_duration("100ms"), Some(100));
        assert_eq!(parse_duration("5x"), None);
        assert_eq!(parse_duration("0"), None);
    }

    #[test]
    fn selectors_parse_to_matchers() {
        let m = parse_selector("up{job=~\"a|b\",x!=\"1\"}").unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].to_promql(), "__name__=\"up\"");
        assert!(parse_selector("sum(up)").is_err());
        assert!(parse_selector("up{").is_err());
    }
}
