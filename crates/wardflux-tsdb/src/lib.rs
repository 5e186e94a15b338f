//! Metric storage for WARD FLUX: one [`MetricStore`] interface with two backends.
//!
//! * [`embedded`]: the default, an in-process store (write-ahead log + immutable compressed
//!   block files + 5-minute rollups, retention), needing no external server.
//! * [`victoria`]: VictoriaMetrics (single node or cluster) with a bounded on-disk spool so no
//!   sample is lost while it is unreachable.
//!
//! On top of the interface sit a PromQL evaluator ([`promql`], parsing by `promql-parser`) and a
//! Prometheus-compatible HTTP API ([`http`]) that Grafana can use as a Prometheus data source.
//! Both backends also implement the collectors' seam, [`wardflux_model::metrics::MetricSink`].
//!
//! Wiring: build a [`TsdbConfig`], call [`open`] with a `CancellationToken`; the background
//! flush/compaction (embedded) or replay (VictoriaMetrics) task stops when the token is
//! cancelled, after a final flush. Mount [`http::router`] behind the server's auth layer.

pub mod codec;
pub mod embedded;
pub mod expo;
pub mod http;
pub mod promql;
pub mod victoria;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
pub use wardflux_model::metrics::{Labels, MetricSink, Sample, SinkError};

/// Errors of the metric store. Variants wrapping another error keep it as their
/// [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
pub enum TsdbError {
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    #[error("corrupt data in {path}: {reason}")]
    Corrupt { path: String, reason: String },
    /// The query is malformed (HTTP 400): a parse error names its position.
    #[error("bad query: {0}")]
    BadQuery(String),
    /// The query uses something this evaluator does not implement (HTTP 422).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The query is well-formed but cannot be evaluated, e.g. an ambiguous vector match
    /// (HTTP 422).
    #[error("{0}")]
    Execution(String),
    /// The query would read more than a configured limit allows (HTTP 422); the message
    /// names the limit.
    #[error("query limit exceeded: {0}")]
    LimitExceeded(String),
    /// A malformed exposition line given to [`MetricStore::append_text`].
    #[error(transparent)]
    Parse(#[from] expo::ExpoError),
    /// A request to the remote backend (VictoriaMetrics) failed: connect, timeout, body.
    #[error("{what}: {source}")]
    Http {
        what: &'static str,
        #[source]
        source: reqwest::Error,
    },
    /// The remote backend answered with an error status.
    #[error("backend answered HTTP {status}: {message}")]
    Remote { status: u16, message: String },
    /// The remote backend answered something this client cannot read.
    #[error("unexpected backend response: {0}")]
    BadResponse(String),
    /// A JSON answer of the remote backend did not parse.
    #[error("{what}: {source}")]
    Json {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    /// The spool was not delivered before the flush deadline.
    #[error("{0} bytes still spooled")]
    Unflushed(u64),
    #[error("bad configuration: {0}")]
    Config(String),
    /// A blocking task of the store (block write, compaction, replay) panicked or was cancelled.
    #[error("store task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error("spool full: {0} samples dropped")]
    SpoolFull(usize),
    #[error("store is closed")]
    Closed,
}

impl From<TsdbError> for SinkError {
    fn from(e: TsdbError) -> Self {
        match e {
            TsdbError::BadQuery(m) | TsdbError::Execution(m) => SinkError::Rejected(m),
            TsdbError::Parse(e) => SinkError::Rejected(e.to_string()),
            other => SinkError::Unavailable(other.to_string()),
        }
    }
}

/// A metric name, shared: the embedded store holds one per distinct name and every series
/// of that name points to it (10,000 devices write ~250,000 series of about 20 names; each
/// held its own copy of the name before). Cloning is a reference count.
pub type MetricName = Arc<str>;

/// The empty metric name (a series whose name was dropped), without an allocation.
pub fn no_name() -> MetricName {
    static EMPTY: std::sync::LazyLock<MetricName> = std::sync::LazyLock::new(|| Arc::from(""));
    EMPTY.clone()
}

/// The identity of one series: metric name plus labels (without `__name__`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesKey {
    pub metric: MetricName,
    pub labels: Labels,
}

impl SeriesKey {
    pub fn new(metric: impl Into<MetricName>, labels: Labels) -> Self {
        Self {
            metric: metric.into(),
            labels,
        }
    }

    /// Value of a label, `__name__` being the metric name; `None` when absent.
    pub fn label(&self, name: &str) -> Option<&str> {
        if name == "__name__" {
            Some(&self.metric)
        } else {
            self.labels.get(name)
        }
    }

    /// All labels including `__name__` (when the name is not empty), sorted by name.
    pub fn all_labels(&self) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = self
            .labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if !self.metric.is_empty() {
            v.push(("__name__".to_string(), self.metric.to_string()));
        }
        v.sort();
        v
    }
}

/// How a label matcher compares.
#[derive(Debug, Clone)]
pub enum MatchKind {
    Eq,
    Ne,
    Re(Pattern),
    NotRe(Pattern),
}

/// A compiled PromQL regular expression (fully anchored, `.` matches newlines).
///
/// A pattern that is only literals joined by `|` (what Grafana's multi-value variables and
/// the templates' device scopes write: `id1|id2|...` with thousands of values) is kept as a
/// set and matched by one hash lookup, as Prometheus' fast regex matcher does: compiling such
/// an alternation costs milliseconds and matching it walks an automaton. Other patterns are
/// compiled once per process and shared: rules and dashboards send the same patterns again
/// and again ([`Pattern::new`] keeps up to [`PATTERN_CACHE`] of them).
#[derive(Debug, Clone)]
pub struct Pattern(std::sync::Arc<PatternKind>);

#[derive(Debug)]
enum PatternKind {
    Set(std::collections::HashSet<String>),
    Regex(regex::Regex),
}

/// How many compiled patterns [`Pattern::new`] keeps (the cache is emptied when full).
pub const PATTERN_CACHE: usize = 1024;

impl Pattern {
    pub fn new(pattern: &str) -> Result<Self, regex::Error> {
        static CACHE: std::sync::LazyLock<
            std::sync::Mutex<std::collections::HashMap<String, Pattern>>,
        > = std::sync::LazyLock::new(Default::default);
        let lock = || CACHE.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = lock().get(pattern) {
            return Ok(p.clone());
        }
        let kind = match literal_alternatives(pattern) {
            Some(set) => PatternKind::Set(set),
            None => PatternKind::Regex(regex::Regex::new(&format!("^(?s:{pattern})$"))?),
        };
        let p = Pattern(std::sync::Arc::new(kind));
        let mut cache = lock();
        if cache.len() >= PATTERN_CACHE {
            cache.clear();
        }
        cache.insert(pattern.to_string(), p.clone());
        Ok(p)
    }

    pub fn is_match(&self, v: &str) -> bool {
        match &*self.0 {
            PatternKind::Set(s) => s.contains(v),
            PatternKind::Regex(r) => r.is_match(v),
        }
    }
}

/// The alternatives of a pattern made only of literal text and `|` (no other regex syntax),
/// or `None`.
fn literal_alternatives(pattern: &str) -> Option<std::collections::HashSet<String>> {
    const META: &[char] = &[
        '\\', '.', '+', '*', '?', '(', ')', '[', ']', '{', '}', '^', '$',
    ];
    if pattern.contains(META) {
        return None;
    }
    Some(pattern.split('|').map(str::to_string).collect())
}

/// One label matcher, PromQL semantics: a missing label matches as the empty string;
/// regular expressions are fully anchored and `.` matches any character, newline included
/// (Prometheus 3).
#[derive(Debug, Clone)]
pub struct LabelMatcher {
    pub name: String,
    pub value: String,
    pub kind: MatchKind,
}

impl LabelMatcher {
    pub fn eq(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
            kind: MatchKind::Eq,
        }
    }

    pub fn ne(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
            kind: MatchKind::Ne,
        }
    }

    /// `name=~"pattern"`; fails on an invalid regular expression.
    pub fn re(name: impl Into<String>, pattern: &str) -> Result<Self, TsdbError> {
        let r = Pattern::new(pattern)
            .map_err(|e| TsdbError::BadQuery(format!("bad regex {pattern:?}: {e}")))?;
        Ok(Self {
            name: name.into(),
            value: pattern.to_string(),
            kind: MatchKind::Re(r),
        })
    }

    /// `name!~"pattern"`.
    pub fn not_re(name: impl Into<String>, pattern: &str) -> Result<Self, TsdbError> {
        let mut m = Self::re(name, pattern)?;
        if let MatchKind::Re(r) = m.kind {
            m.kind = MatchKind::NotRe(r);
        }
        Ok(m)
    }

    pub fn matches_value(&self, v: &str) -> bool {
        match &self.kind {
            MatchKind::Eq => v == self.value,
            MatchKind::Ne => v != self.value,
            MatchKind::Re(r) => r.is_match(v),
            MatchKind::NotRe(r) => !r.is_match(v),
        }
    }

    pub fn matches(&self, key: &SeriesKey) -> bool {
        self.matches_value(key.label(&self.name).unwrap_or(""))
    }

    /// The matcher in PromQL syntax, e.g. `job=~"a|b"`.
    pub fn to_promql(&self) -> String {
        let op = match self.kind {
            MatchKind::Eq => "=",
            MatchKind::Ne => "!=",
            MatchKind::Re(_) => "=~",
            MatchKind::NotRe(_) => "!~",
        };
        format!("{}{}{}", self.name, op, quote(&self.value))
    }
}

/// `{a="b",...}` selector text for a matcher list.
pub fn selector_promql(matchers: &[LabelMatcher]) -> String {
    let parts: Vec<String> = matchers.iter().map(LabelMatcher::to_promql).collect();
    format!("{{{}}}", parts.join(","))
}

fn quote(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '"' => o.push_str("\\\""),
            '\n' => o.push_str("\\n"),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// True when every matcher matches the key.
pub fn matches_all(matchers: &[LabelMatcher], key: &SeriesKey) -> bool {
    matchers.iter().all(|m| m.matches(key))
}

/// Per-step aggregation of a range query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregation {
    Avg,
    Min,
    Max,
    Sum,
    Count,
    Last,
}

impl Aggregation {
    /// The PromQL `*_over_time` function with the same meaning.
    pub fn over_time_fn(self) -> &'static str {
        match self {
            Aggregation::Avg => "avg_over_time",
            Aggregation::Min => "min_over_time",
            Aggregation::Max => "max_over_time",
            Aggregation::Sum => "sum_over_time",
            Aggregation::Count => "count_over_time",
            Aggregation::Last => "last_over_time",
        }
    }
}

/// A range query: for every `t = start + k*step <= end`, aggregate each matching series'
/// samples with timestamps in `(t - step, t]` (as PromQL's `avg_over_time(m[step])` does).
/// Times in milliseconds since the epoch. Long ranges on the embedded store are answered
/// from the 5-minute rollups when `start` and `step` are multiples of 5 minutes.
#[derive(Debug, Clone)]
pub struct RangeQuery {
    pub matchers: Vec<LabelMatcher>,
    pub start_ms: i64,
    pub end_ms: i64,
    pub step_ms: i64,
    pub agg: Aggregation,
}

/// Points of one series.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesPoints {
    pub key: SeriesKey,
    pub points: Vec<(i64, f64)>,
}

/// The most recent sample of one series.
#[derive(Debug, Clone, PartialEq)]
pub struct Latest {
    pub key: SeriesKey,
    pub timestamp_ms: i64,
    pub value: f64,
}

/// Result of a PromQL query.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryValue {
    Scalar(i64, f64),
    Vector(Vec<(SeriesKey, i64, f64)>),
    Matrix(Vec<SeriesPoints>),
    /// A string literal query (`"text"`): its time and text.
    String(i64, String),
}

/// The metric store interface. All times are milliseconds since the Unix epoch.
#[async_trait::async_trait]
pub trait MetricStore: Send + Sync {
    /// Appends a batch. On return the samples are durable (embedded: in the WAL; VictoriaMetrics:
    /// in the spool or acknowledged) and, for the embedded store, visible to queries.
    async fn append(&self, batch: Vec<Sample>) -> Result<(), TsdbError>;

    /// Appends Prometheus exposition text (whole lines, as the import API receives them);
    /// lines without a timestamp get `default_ts_ms`. A bad line fails the call with
    /// [`TsdbError::Parse`] (line numbers from 1 in `text`) and nothing of `text` is stored.
    /// Returns the number of samples. Default: [`expo::parse`], then [`append`](Self::append);
    /// the embedded store skips parsing the labels of series text it has seen before.
    async fn append_text(&self, text: &str, default_ts_ms: i64) -> Result<usize, TsdbError> {
        let samples = expo::parse(text, default_ts_ms)?;
        let n = samples.len();
        self.append(samples).await?;
        Ok(n)
    }

    /// Range query with step and aggregation (see [`RangeQuery`]). Series sorted by key.
    async fn range(&self, q: &RangeQuery) -> Result<Vec<SeriesPoints>, TsdbError>;

    /// Raw samples with timestamps in `[start_ms, end_ms]`, sorted by key, then time.
    /// Embedded store: where raw samples have expired (`raw_retention`), each 5-minute
    /// rollup's last value at its bucket end instead, so PromQL over old data still works at
    /// 5-minute resolution (`rate()` of counters stays exact over whole buckets).
    async fn raw(
        &self,
        matchers: &[LabelMatcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<SeriesPoints>, TsdbError>;

    /// The latest sample of every matching series (VictoriaMetrics: within the last 7 days).
    async fn latest(&self, matchers: &[LabelMatcher]) -> Result<Vec<Latest>, TsdbError>;

    /// Series matching any of the matcher sets with samples in `[start_ms, end_ms]`.
    async fn series(
        &self,
        matcher_sets: &[Vec<LabelMatcher>],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<SeriesKey>, TsdbError>;

    /// Label names (with `__name__`) of the matching series (all series when `matcher_sets` is empty).
    async fn label_names(
        &self,
        matcher_sets: &[Vec<LabelMatcher>],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<String>, TsdbError> {
        let series = self.series(&all_or(matcher_sets), start_ms, end_ms).await?;
        let mut names: Vec<String> = series
            .iter()
            .flat_map(|k| k.all_labels().into_iter().map(|(n, _)| n))
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// Values of one label over the matching series, sorted.
    async fn label_values(
        &self,
        name: &str,
        matcher_sets: &[Vec<LabelMatcher>],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<String>, TsdbError> {
        let series = self.series(&all_or(matcher_sets), start_ms, end_ms).await?;
        Ok(label_values_of(&series, name))
    }

    /// How many series match, when the backend can tell cheaply (from its index, without
    /// reading samples); `None` when it cannot. The PromQL evaluator asks this before reading a
    /// selector's samples, so a query past `promql::Limits::max_series` is refused before it
    /// costs memory. Default: `None` (the limit is then checked after the read).
    async fn series_count_hint(
        &self,
        _matchers: &[LabelMatcher],
        _start_ms: i64,
        _end_ms: i64,
    ) -> Result<Option<usize>, TsdbError> {
        Ok(None)
    }

    /// Makes everything appended so far durable and visible to readers (embedded: fsync;
    /// VictoriaMetrics: waits until the spool is delivered).
    async fn flush(&self) -> Result<(), TsdbError>;

    /// Stops the background task started by [`open`] (or `spawn_background`) and waits
    /// until it has done its last work (embedded: the final block cut and WAL fsync), so a
    /// process that exits after this cuts nothing off. Cancelling the shutdown token given
    /// to [`open`] stops the task too, without waiting. Default: nothing to stop.
    async fn close(&self) {}

    /// PromQL instant query at `time_ms`. Default: the built-in evaluator.
    async fn prom_query(&self, query: &str, time_ms: i64) -> Result<QueryValue, TsdbError> {
        promql::eval_instant(self, query, time_ms).await
    }

    /// PromQL range query. Default: the built-in evaluator.
    async fn prom_query_range(
        &self,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<QueryValue, TsdbError> {
        promql::eval_range(self, query, start_ms, end_ms, step_ms).await
    }
}

/// The distinct non-empty values of label `name` over `series`, sorted.
pub(crate) fn label_values_of(series: &[SeriesKey], name: &str) -> Vec<String> {
    let mut vals: Vec<String> = series
        .iter()
        .filter_map(|k| k.label(name).map(str::to_string))
        .filter(|v| !v.is_empty())
        .collect();
    vals.sort();
    vals.dedup();
    vals
}

pub(crate) fn all_or(sets: &[Vec<LabelMatcher>]) -> Vec<Vec<LabelMatcher>> {
    if sets.is_empty() {
        vec![vec![]]
    } else {
        sets.to_vec()
    }
}

/// Wraps a store as a collectors' sink: the one adapter between the collectors' seam
/// (`MetricSink`) and either backend (`MetricStore::append`).
pub struct StoreSink(pub Arc<dyn MetricStore>);

#[async_trait::async_trait]
impl MetricSink for StoreSink {
    async fn append(&self, batch: Vec<Sample>) -> Result<(), SinkError> {
        self.0.append(batch).await.map_err(SinkError::from)
    }
}

/// Options of the embedded store.
#[derive(Debug, Clone)]
pub struct EmbeddedConfig {
    pub dir: PathBuf,
    /// Raw samples are kept this long (default 30 days).
    pub raw_retention: Duration,
    /// 5-minute min/avg/max rollups are kept this long (default 365 days).
    pub rollup_retention: Duration,
    /// The in-memory head is written out as an immutable block this often (default 1 h).
    pub block_interval: Duration,
    /// WAL fsync interval (default 1 s): what a power loss may cost; kill -9 costs nothing.
    pub fsync_interval: Duration,
    /// Range queries spanning at least this use rollups (default 2 days).
    pub rollup_min_range: Duration,
    /// This many consecutive block cuts are merged into one block (default 24: about a day).
    pub compact_blocks: usize,
    /// Also store the 5-minute rollups next to the raw samples (default false). Rollups are
    /// always written when raw samples expire; while raw samples exist, rollup-based range
    /// queries compute them from the raw chunks. `true` makes long-range queries within raw
    /// retention cheaper at about +2 bytes/sample on disk (measured in docs/perf/tsdb.md).
    pub precompute_rollups: bool,
    /// A head checkpoint replaces the WAL once the WAL since the last one is larger than
    /// this and than half the compressed head (default 1 MiB). Bounds the open hour on disk.
    pub checkpoint_min_wal_bytes: u64,
}

impl EmbeddedConfig {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            raw_retention: Duration::from_secs(30 * 86_400),
            rollup_retention: Duration::from_secs(365 * 86_400),
            block_interval: Duration::from_secs(3600),
            fsync_interval: Duration::from_secs(1),
            rollup_min_range: Duration::from_secs(2 * 86_400),
            compact_blocks: 24,
            precompute_rollups: false,
            checkpoint_min_wal_bytes: 1 << 20,
        }
    }
}

/// Options of the VictoriaMetrics backend. Single node: both URLs `http://host:8428`;
/// cluster: `http://vminsert:8480/insert/0/prometheus` and `http://vmselect:8481/select/0/prometheus`.
#[derive(Debug, Clone)]
pub struct VictoriaConfig {
    pub insert_url: String,
    pub select_url: String,
    pub spool_dir: PathBuf,
    /// Bound of the on-disk spool; batches past it are dropped, counted and logged.
    pub spool_max_bytes: u64,
    /// HTTP timeout of one request (default 10 s).
    pub timeout: Duration,
}

impl VictoriaConfig {
    pub fn single(url: &str, spool_dir: impl Into<PathBuf>) -> Self {
        Self {
            insert_url: url.trim_end_matches('/').to_string(),
            select_url: url.trim_end_matches('/').to_string(),
            spool_dir: spool_dir.into(),
            spool_max_bytes: 1 << 30,
            timeout: Duration::from_secs(10),
        }
    }
}

/// Which backend to open.
#[derive(Debug, Clone)]
pub enum TsdbConfig {
    Embedded(EmbeddedConfig),
    Victoria(VictoriaConfig),
}

/// Opens the configured backend and starts its background task, which runs until `shutdown`
/// is cancelled (then flushes once more). Must be called inside a Tokio runtime.
pub async fn open(
    config: TsdbConfig,
    shutdown: CancellationToken,
) -> Result<Arc<dyn MetricStore>, TsdbError> {
    match config {
        TsdbConfig::Embedded(c) => {
            let s = embedded::EmbeddedStore::open(c).await?;
            s.spawn_background(shutdown);
            Ok(s)
        }
        TsdbConfig::Victoria(c) => {
            let s = victoria::VictoriaStore::open(c)?;
            s.spawn_background(shutdown);
            Ok(s)
        }
    }
}

/// A store's background task as [`MetricStore::close`] stops and awaits it: the task runs
/// until a child of the caller's shutdown token is cancelled and holds a guard that marks
/// it finished when dropped (also when it panics).
#[derive(Default)]
pub(crate) struct Background {
    stop: std::sync::Mutex<Option<CancellationToken>>,
    finished: CancellationToken,
}

impl Background {
    /// The token the task runs until, and the guard it keeps until it is done.
    pub(crate) fn start(
        &self,
        shutdown: &CancellationToken,
    ) -> (CancellationToken, tokio_util::sync::DropGuard) {
        let stop = shutdown.child_token();
        *self.stop.lock().unwrap_or_else(|p| p.into_inner()) = Some(stop.clone());
        (stop, self.finished.clone().drop_guard())
    }

    /// Stops the task and waits until it is done; returns at once when none was started.
    pub(crate) async fn close(&self) {
        let stop = self.stop.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(stop) = stop {
            stop.cancel();
            self.finished.cancelled().await;
        }
    }
}

/// Milliseconds since the epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod pattern_tests {
    use super::*;

    #[test]
    fn literal_alternations_are_sets_and_match_like_the_regex() {
        let ids: Vec<String> = (0..2000).map(|i| format!("dev-{i:04}")).collect();
        let pattern = ids.join("|");
        let p = Pattern::new(&pattern).unwrap();
        assert!(matches!(&*p.0, PatternKind::Set(_)));
        let re = regex::Regex::new(&format!("^(?s:{pattern})$")).unwrap();
        for v in [
            "dev-0000",
            "dev-1999",
            "dev-2000",
            "dev-00",
            "",
            "xdev-0001",
            "dev-0001x",
        ] {
            assert_eq!(p.is_match(v), re.is_match(v), "{v}");
        }
        // An empty alternative matches the empty value (a missing label), as in the regex.
        let p = Pattern::new("a|").unwrap();
        assert!(p.is_match("") && p.is_match("a") && !p.is_match("b"));
    }

    #[test]
    fn other_patterns_are_anchored_regexes_compiled_once() {
        let p = Pattern::new("ab.*|c[0-9]+").unwrap();
        assert!(matches!(&*p.0, PatternKind::Regex(_)));
        assert!(p.is_match("ab\nx") && p.is_match("c12") && !p.is_match("xab"));
        let again = Pattern::new("ab.*|c[0-9]+").unwrap();
        assert!(
            std::sync::Arc::ptr_eq(&p.0, &again.0),
            "served from the cache"
        );
        assert!(Pattern::new("a(").is_err());
        let m = LabelMatcher::not_re("job", "x|y").unwrap();
        assert!(!m.matches_value("x") && m.matches_value("z"));
    }
}
