//! Prometheus-compatible HTTP API over any [`MetricStore`], so Grafana can use wardflux as a
//! Prometheus data source on either backend.
//!
//! `GET`/`POST` (form-encoded) `/api/v1/query`, `/api/v1/query_range` (PromQL, see
//! [`crate::promql`]; answered within [`Limits`]), `/api/v1/series`,
//! `/api/v1/labels`, `/api/v1/label/{name}/values`, and `POST /api/v1/import/prometheus`
//! (text exposition, see [`crate::expo`], optionally `Content-Encoding: gzip`; 204 on success,
//! 400 naming the bad line), plus
//! `/api/v1/status/buildinfo` and an empty `/api/v1/metadata` for Grafana's data source checks.
//! Answers use Prometheus' JSON shapes: `{"status":"success","data":...}`, sample values as
//! strings, timestamps as seconds; errors are `{"status":"error","errorType":..,"error":..}`
//! with 400 (`bad_data`: malformed input, parse errors with their position) or 422
//! (`execution`: evaluation errors, `unsupported: <feature>`, and limits, named). The router
//! has no authentication of its own: the API server mounts it behind its bearer/basic auth
//! layer. Time and duration parameters are parsed by [`parse_time`]/[`parse_duration`],
//! which the API crate can share.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::promql::{Limits, selector_matchers, with_limits};
use crate::{LabelMatcher, MetricStore, QueryValue, SeriesKey, TsdbError, now_ms};

type Store = Arc<dyn MetricStore>;

/// State of the routes: the store and the query limits.
#[derive(Clone)]
struct St {
    store: Store,
    limits: Limits,
}

/// Largest accepted import body.
pub const MAX_IMPORT_BYTES: usize = 64 << 20;

/// One route of the Prometheus-compatible API, for the server's OpenAPI document and role
/// checks. [`router`] is built from [`ROUTES`], so the list cannot miss a served route.
#[derive(Debug, Clone, Copy)]
pub struct RouteInfo {
    pub path: &'static str,
    /// `get` and/or `post`.
    pub methods: &'static [&'static str],
    pub summary: &'static str,
    /// Whether the route writes (needs a higher role than reading).
    pub writes: bool,
}

impl RouteInfo {
    /// A route that only reads, served for GET and POST (Prometheus accepts both).
    const fn read(path: &'static str, summary: &'static str) -> Self {
        Self::new(path, &["get", "post"], summary, false)
    }

    const fn new(
        path: &'static str,
        methods: &'static [&'static str],
        summary: &'static str,
        writes: bool,
    ) -> Self {
        Self {
            path,
            methods,
            summary,
            writes,
        }
    }
}

/// Every route [`router`] serves.
pub const ROUTES: &[RouteInfo] = &[
    RouteInfo::read(
        "/api/v1/query",
        "PromQL instant query (Prometheus HTTP API)",
    ),
    RouteInfo::read(
        "/api/v1/query_range",
        "PromQL range query (Prometheus HTTP API)",
    ),
    RouteInfo::read("/api/v1/series", "Series matching match[] selectors"),
    RouteInfo::read("/api/v1/labels", "Label names"),
    RouteInfo::read("/api/v1/label/{name}/values", "Values of one label"),
    RouteInfo::new(
        "/api/v1/status/buildinfo",
        &["get"],
        "Build information (what Grafana's data source check reads)",
        false,
    ),
    RouteInfo::new(
        "/api/v1/metadata",
        &["get"],
        "Metric metadata (none is recorded: an empty map)",
        false,
    ),
    RouteInfo::new(
        "/api/v1/import/prometheus",
        &["post"],
        "Ingest Prometheus text exposition lines",
        true,
    ),
];

/// The Prometheus-compatible router (no auth inside; wrap it), with default [`Limits`].
pub fn router(store: Arc<dyn MetricStore>) -> Router {
    router_with_limits(store, Limits::default())
}

/// The router, refusing queries past `limits` with 422 naming the limit.
pub fn router_with_limits(store: Arc<dyn MetricStore>, limits: Limits) -> Router {
    ROUTES
        .iter()
        .fold(Router::new(), |r, info| {
            r.route(info.path, method_router(info.path))
        })
        .with_state(St { store, limits })
}

fn method_router(path: &str) -> axum::routing::MethodRouter<St> {
    match path {
        "/api/v1/query" => get(query).post(query),
        "/api/v1/query_range" => get(query_range).post(query_range),
        "/api/v1/series" => get(series).post(series),
        "/api/v1/labels" => get(labels).post(labels),
        "/api/v1/label/{name}/values" => get(label_values).post(label_values),
        "/api/v1/status/buildinfo" => get(buildinfo),
        "/api/v1/metadata" => get(metadata),
        "/api/v1/import/prometheus" => post(import).layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES)),
        other => unreachable!("route {other} is in ROUTES but has no handler"),
    }
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
            TsdbError::Unsupported(_) | TsdbError::Execution(_) | TsdbError::LimitExceeded(_) => {
                Self {
                    status: StatusCode::UNPROCESSABLE_ENTITY,
                    kind: "execution",
                    msg: e.to_string(),
                }
            }
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

/// Read from the whole request, so every handler takes its parameters the same way (last
/// extractor: it consumes the body).
impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = Response;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Response> {
        let raw = req.uri().query().map(str::to_string);
        let headers = req.headers().clone();
        let body = Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(Self::new(raw, &headers, &body))
    }
}

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
            Some(s) => Ok(parse_time(k, s)?),
        }
    }

    fn required(&self, k: &str) -> Result<&str, ApiError> {
        self.get(k)
            .ok_or_else(|| ApiError::bad(format!("missing parameter \"{k}\"")))
    }

    fn matchers(&self) -> Result<Vec<Vec<LabelMatcher>>, ApiError> {
        self.all("match[]")
            .into_iter()
            .map(parse_selector)
            .collect::<Result<_, _>>()
    }
}

/// A time or duration request parameter that does not parse; the message names the field,
/// as Prometheus words it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid parameter \"{field}\": cannot parse {value:?} to a valid {what}")]
pub struct ParamError {
    /// The parameter's name, e.g. `start`.
    pub field: String,
    pub value: String,
    /// `timestamp` or `duration`.
    pub what: &'static str,
}

impl From<ParamError> for ApiError {
    fn from(e: ParamError) -> Self {
        Self::bad(e.to_string())
    }
}

/// The time parameter `field`: Unix seconds (float) or RFC 3339, to milliseconds. Times
/// beyond year 5138 are refused (they keep all time arithmetic far from overflow).
pub fn parse_time(field: &str, s: &str) -> Result<i64, ParamError> {
    let err = || ParamError {
        field: field.to_string(),
        value: s.to_string(),
        what: "timestamp",
    };
    if let Ok(f) = s.parse::<f64>() {
        return (f.is_finite() && f.abs() < 1.0e11)
            .then(|| (f * 1000.0).round() as i64)
            .ok_or_else(err);
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.timestamp_millis())
        .filter(|t| t.abs() < 100_000_000_000_000)
        .ok_or_else(err)
}

/// The duration parameter `field`: seconds (float) or a Prometheus duration (`1h30m`, `15s`,
/// `100ms`), to milliseconds; must be positive.
pub fn parse_duration(field: &str, s: &str) -> Result<i64, ParamError> {
    let err = || ParamError {
        field: field.to_string(),
        value: s.to_string(),
        what: "duration",
    };
    if let Ok(f) = s.parse::<f64>() {
        return (f.is_finite() && f > 0.0 && f < 1.0e11)
            .then(|| (f * 1000.0).round() as i64)
            .ok_or_else(err);
    }
    match duration_units_ms(s) {
        Some(total) if total > 0 && total < 100_000_000_000_000 => Ok(total),
        _ => Err(err()),
    }
}

/// A Prometheus duration made of units (`1h30m`, `15s`, `100ms`, `1y2w`) to milliseconds;
/// `None` if malformed or overflowing.
pub(crate) fn duration_units_ms(s: &str) -> Option<i64> {
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
    Some(total)
}

/// True for a valid label name (`[a-zA-Z_][a-zA-Z0-9_]*`).
pub fn valid_label_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .enumerate()
            .all(|(i, c)| c.is_ascii_alphabetic() || c == b'_' || (i > 0 && c.is_ascii_digit()))
}

/// Parses a series selector (`up{job="x"}`, `{__name__=~"a.*"}`) into matchers.
pub fn parse_selector(s: &str) -> Result<Vec<LabelMatcher>, ApiError> {
    use promql_parser::parser::{Expr, parse};
    let e = parse(s).map_err(|e| ApiError::bad(format!("invalid match[] {s:?}: {e}")))?;
    let Expr::VectorSelector(vs) = e else {
        return Err(ApiError::bad(format!(
            "match[] {s:?} is not a series selector"
        )));
    };
    Ok(selector_matchers(&vs)?)
}

fn metric_json(k: &SeriesKey) -> Value {
    let mut m = serde_json::Map::new();
    for (n, v) in k.all_labels() {
        m.insert(n, Value::String(v));
    }
    Value::Object(m)
}

/// Appends `s` as a JSON string.
fn push_json_str(out: &mut String, s: &str) {
    use std::fmt::Write as _;
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends a series' labels as a JSON object, `__name__` in its sorted place.
fn push_metric(out: &mut String, k: &SeriesKey) {
    out.push('{');
    let mut first = true;
    let mut name_done = k.metric.is_empty();
    let mut pair = |out: &mut String, n: &str, v: &str| {
        if !first {
            out.push(',');
        }
        first = false;
        push_json_str(out, n);
        out.push(':');
        push_json_str(out, v);
    };
    for (n, v) in k.labels.iter() {
        if !name_done && n > "__name__" {
            pair(out, "__name__", &k.metric);
            name_done = true;
        }
        pair(out, n, v);
    }
    if !name_done {
        pair(out, "__name__", &k.metric);
    }
    out.push('}');
}

/// Appends `[time, "value"]`.
fn push_point(out: &mut String, t: i64, v: f64) {
    use std::fmt::Write as _;
    out.push('[');
    if t % 1000 == 0 {
        let _ = write!(out, "{}", t / 1000);
    } else {
        let _ = write!(out, "{}", t as f64 / 1000.0);
    }
    out.push_str(",\"");
    out.push_str(&fmt_value(v));
    out.push_str("\"]");
}

/// A successful query answer, `{"status":"success","data":{...}}`, written straight to text:
/// answers of many series are the common case for Grafana, and building them as
/// `serde_json::Value` trees first cost more than evaluating the query.
pub fn query_answer_json(v: &QueryValue) -> String {
    let mut out = String::with_capacity(256);
    out.push_str(r#"{"status":"success","data":{"resultType":"#);
    match v {
        QueryValue::Scalar(t, x) => {
            out.push_str(r#""scalar","result":"#);
            push_point(&mut out, *t, *x);
        }
        QueryValue::String(t, x) => {
            out.push_str(r#""string","result":"#);
            out.push_str(&format!("[{},", ts_json(*t)));
            push_json_str(&mut out, x);
            out.push(']');
        }
        QueryValue::Vector(vs) => {
            out.reserve(vs.len() * 96);
            out.push_str(r#""vector","result":["#);
            for (i, (k, t, x)) in vs.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(r#"{"metric":"#);
                push_metric(&mut out, k);
                out.push_str(r#","value":"#);
                push_point(&mut out, *t, *x);
                out.push('}');
            }
            out.push(']');
        }
        QueryValue::Matrix(m) => {
            out.push_str(r#""matrix","result":["#);
            for (i, s) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(r#"{"metric":"#);
                push_metric(&mut out, &s.key);
                out.push_str(r#","values":["#);
                for (j, &(t, x)) in s.points.iter().enumerate() {
                    if j > 0 {
                        out.push(',');
                    }
                    push_point(&mut out, t, x);
                }
                out.push_str("]}");
            }
            out.push(']');
        }
    }
    out.push_str("}}");
    out
}

fn json_response(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
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
        QueryValue::String(t, x) => json!({"resultType": "string", "result": [ts_json(*t), x]}),
    }
}

async fn query(State(st): State<St>, p: Params) -> Result<Response, ApiError> {
    let expr = p.required("query")?;
    let t = p.time("time", now_ms())?;
    let v = with_limits(st.limits, st.store.prom_query(expr, t)).await?;
    Ok(json_response(query_answer_json(&v)))
}

async fn query_range(State(st): State<St>, p: Params) -> Result<Response, ApiError> {
    let expr = p.required("query")?;
    let start = parse_time("start", p.required("start")?)?;
    let end = parse_time("end", p.required("end")?)?;
    let step = parse_duration("step", p.required("step")?)?;
    if end < start {
        return Err(ApiError::bad(
            "invalid parameter \"end\": end timestamp must not be before start time",
        ));
    }
    let v = with_limits(st.limits, st.store.prom_query_range(expr, start, end, step)).await?;
    Ok(json_response(query_answer_json(&v)))
}

/// Default window of series/label lookups without `start`/`end`.
fn window(p: &Params) -> Result<(i64, i64), ApiError> {
    let now = now_ms();
    Ok((p.time("start", 0)?, p.time("end", now + 86_400_000)?))
}

async fn series(State(st): State<St>, p: Params) -> Result<Response, ApiError> {
    let sets = p.matchers()?;
    if sets.is_empty() {
        return Err(ApiError::bad("no match[] parameter provided"));
    }
    let (start, end) = window(&p)?;
    let keys = st.store.series(&sets, start, end).await?;
    Ok(success(Value::Array(
        keys.iter().map(metric_json).collect(),
    )))
}

async fn labels(State(st): State<St>, p: Params) -> Result<Response, ApiError> {
    let sets = p.matchers()?;
    let (start, end) = window(&p)?;
    let names = st.store.label_names(&sets, start, end).await?;
    Ok(success(json!(names)))
}

async fn label_values(
    State(st): State<St>,
    Path(name): Path<String>,
    p: Params,
) -> Result<Response, ApiError> {
    if !valid_label_name(&name) {
        return Err(ApiError::bad(format!("invalid label name: {name:?}")));
    }
    let sets = p.matchers()?;
    let (start, end) = window(&p)?;
    let vals = st.store.label_values(&name, &sets, start, end).await?;
    Ok(success(json!(vals)))
}

/// Grafana asks this to detect the flavour and version; it needs only a `version` that
/// parses. The answer says what this is: wardflux, its own version, its PromQL dialect.
async fn buildinfo() -> Response {
    success(json!({
        "application": "wardflux",
        "version": env!("CARGO_PKG_VERSION"),
        "revision": "",
        "branch": "",
        "buildUser": "",
        "buildDate": "",
        "goVersion": "",
        "promql": "Prometheus 3 semantics, see docs/promql.md",
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
    State(st): State<St>,
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
        store: st.store,
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
        let t = |s| parse_time("time", s).ok();
        assert_eq!(t("1700000000.5"), Some(1_700_000_000_500));
        assert_eq!(t("2023-11-14T22:13:20Z"), Some(1_700_000_000_000));
        assert_eq!(t("yesterday"), None);
        assert_eq!(t("1e300"), None);
        assert_eq!(t("-9e15"), None);
        assert_eq!(
            parse_time("start", "yesterday").unwrap_err().to_string(),
            "invalid parameter \"start\": cannot parse \"yesterday\" to a valid timestamp"
        );
        let d = |s| parse_duration("step", s).ok();
        assert_eq!(d("99999999999999999d"), None);
        assert_eq!(d("1h30m"), Some(5_400_000));
        assert_eq!(d("15"), Some(15_000));
        assert_eq!(d("100ms"), Some(100));
        assert_eq!(d("5x"), None);
        assert_eq!(d("0"), None);
        let e = parse_duration("step", "5x").unwrap_err();
        assert_eq!(e.field, "step");
        assert!(e.to_string().contains("valid duration"));
    }

    #[test]
    fn query_answers_written_as_text_equal_the_json_values() {
        let k = SeriesKey::new(
            "up",
            crate::Labels::from_pairs([("A", "x\"y"), ("job", "a\\b\n"), ("_x", "1")]),
        );
        for v in [
            QueryValue::Scalar(1_500, f64::NAN),
            QueryValue::String(2_000, "a\"b".into()),
            QueryValue::Vector(vec![
                (k.clone(), 1_000, 1.5),
                (SeriesKey::default(), 1_001, 2.0),
            ]),
            QueryValue::Matrix(vec![crate::SeriesPoints {
                key: k.clone(),
                points: vec![(1_000, f64::INFINITY), (61_500, -0.0)],
            }]),
            QueryValue::Vector(vec![]),
        ] {
            let text: Value = serde_json::from_str(&query_answer_json(&v)).unwrap();
            let want = json!({"status": "success", "data": query_data(&v)});
            assert_eq!(text, want, "{v:?}");
        }
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
