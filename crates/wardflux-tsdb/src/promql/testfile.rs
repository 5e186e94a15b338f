//! The PromQL test file format of Prometheus' `promqltest` (`load`, `clear`, `eval instant`,
//! `eval range`, expected series), so the same cases can run in-process against the
//! [`crate::MetricStore`] backends and over HTTP against the server and VictoriaMetrics.
//!
//! ```text
//! load 5m
//!   http_requests{job="api"} 0+10x10      # 11 samples: 0, 10, ... 100 at 0, 5m, ... 50m
//!   other 1 _ 3 _x2 stale                 # _ = no sample, stale = staleness marker
//!
//! eval instant at 50m sum by (job) (http_requests)
//!   {job="api"} 100
//!
//! eval range from 0 to 10m step 5m http_requests
//!   http_requests{job="api"} 0 10 20
//! ```
//!
//! `eval_fail`/`expect fail` expect an error, `eval_ordered`/`expect ordered` an ordered
//! vector; warnings and infos (`eval_warn`, `expect warn`, ...) are accepted and not checked
//! (this evaluator emits no annotations). Values compare as Prometheus' test does (relative
//! tolerance 1e-6, NaN equals NaN). Native histogram samples (`{{...}}`) are parsed only so
//! that the cases using them can be set aside.

use std::collections::HashSet;

use super::eval::STALE_NAN_BITS;
use crate::{Labels, QueryValue, Sample, SeriesKey};

/// A malformed test file line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {msg}")]
pub struct TestFileError {
    pub line: usize,
    pub msg: String,
}

/// One series of a `load` command.
#[derive(Debug, Clone)]
pub struct LoadSeries {
    pub key: SeriesKey,
    /// (time, value); a staleness marker is Prometheus' stale NaN.
    pub points: Vec<(i64, f64)>,
    pub has_histograms: bool,
    pub has_stale: bool,
}

#[derive(Debug, Clone)]
pub struct Load {
    pub line: usize,
    pub step_ms: i64,
    pub series: Vec<LoadSeries>,
}

impl Load {
    /// The float samples, timestamps moved by `shift_ms`.
    pub fn samples(&self, shift_ms: i64) -> Vec<Sample> {
        self.series
            .iter()
            .flat_map(|s| {
                s.points.iter().map(move |&(t, v)| Sample {
                    metric: s.key.metric.to_string(),
                    labels: s.key.labels.clone(),
                    timestamp_ms: t + shift_ms,
                    value: v,
                })
            })
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvalKind {
    Instant {
        at_ms: i64,
    },
    Range {
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    },
}

/// An expected series: one value per step (`None` = no point).
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectedSeries {
    pub key: SeriesKey,
    pub values: Vec<Option<f64>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expected {
    Series(Vec<ExpectedSeries>),
    Scalar(f64),
    String(String),
    /// A range vector answering an instant query (`expect range vector from A to B step C`).
    Matrix {
        start_ms: i64,
        step_ms: i64,
        series: Vec<ExpectedSeries>,
    },
    /// Native histograms or a result form this runner does not compare.
    Other(String),
}

#[derive(Debug, Clone)]
pub struct Eval {
    pub line: usize,
    pub query: String,
    pub kind: EvalKind,
    pub expect_fail: bool,
    pub ordered: bool,
    pub expected: Expected,
}

#[derive(Debug, Clone)]
pub enum Command {
    Clear,
    Load(Load),
    Eval(Eval),
}

/// Parses a test file.
pub fn parse(text: &str) -> Result<Vec<Command>, TestFileError> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim();
        let ln = i + 1;
        i += 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let err = |msg: String| TestFileError { line: ln, msg };
        let (cmd, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        match cmd {
            "clear" => out.push(Command::Clear),
            "load" | "load_with_nhcb" => {
                let step_ms = parse_duration(rest.trim()).map_err(err)?;
                let mut series = Vec::new();
                while i < lines.len() && !lines[i].trim().is_empty() {
                    let l = lines[i].trim();
                    i += 1;
                    if l.starts_with('#') {
                        continue;
                    }
                    let (key, vals) =
                        parse_series_desc(l).map_err(|m| TestFileError { line: i, msg: m })?;
                    let vals =
                        expand_values(vals).map_err(|m| TestFileError { line: i, msg: m })?;
                    let mut s = LoadSeries {
                        key,
                        points: Vec::new(),
                        has_histograms: false,
                        has_stale: false,
                    };
                    for (k, v) in vals.into_iter().enumerate() {
                        let t = k as i64 * step_ms;
                        match v {
                            Value::Missing => {}
                            Value::Float(f) => s.points.push((t, f)),
                            Value::Stale => {
                                s.has_stale = true;
                                s.points.push((t, f64::from_bits(STALE_NAN_BITS)));
                            }
                            Value::Histogram => s.has_histograms = true,
                        }
                    }
                    series.push(s);
                }
                out.push(Command::Load(Load {
                    line: ln,
                    step_ms,
                    series,
                }));
            }
            c if c.starts_with("eval") => {
                let variant = c.strip_prefix("eval").unwrap_or("");
                let (kind, query) = parse_eval_header(rest).map_err(err)?;
                let mut ev = Eval {
                    line: ln,
                    query,
                    kind,
                    expect_fail: variant == "_fail",
                    ordered: variant == "_ordered",
                    expected: Expected::Series(Vec::new()),
                };
                let mut series = Vec::new();
                let mut matrix: Option<(i64, i64)> = None;
                let mut steps = match kind {
                    EvalKind::Instant { .. } => 1,
                    EvalKind::Range {
                        start_ms,
                        end_ms,
                        step_ms,
                    } => ((end_ms - start_ms) / step_ms.max(1) + 1) as usize,
                };
                while i < lines.len() && !lines[i].trim().is_empty() {
                    let l = lines[i].trim();
                    i += 1;
                    if l.starts_with('#') {
                        continue;
                    }
                    if let Some(e) = l.strip_prefix("expect ") {
                        let e = e.trim();
                        if e.starts_with("fail") {
                            ev.expect_fail = true;
                        } else if e == "ordered" {
                            ev.ordered = true;
                        } else if let Some(s) = e.strip_prefix("string ") {
                            ev.expected = Expected::String(unquote(s.trim()).unwrap_or_default());
                        } else if let Some(r) = e.strip_prefix("range vector from ") {
                            let w: Vec<&str> = r.split_whitespace().collect();
                            let [from, "to", to, "step", step] = w.as_slice() else {
                                return Err(err(format!("bad expectation {e:?}")));
                            };
                            let (a, b, st) = (
                                parse_duration(from).map_err(err)?,
                                parse_duration(to).map_err(err)?,
                                parse_duration(step).map_err(err)?,
                            );
                            matrix = Some((a, st));
                            steps = ((b - a) / st.max(1) + 1) as usize;
                        }
                        continue;
                    }
                    if l.contains("{{") {
                        ev.expected = Expected::Other("native histograms".into());
                        continue;
                    }
                    if let Ok(v) = parse_float(l) {
                        ev.expected = Expected::Scalar(v);
                        continue;
                    }
                    if l.starts_with('"') {
                        ev.expected = Expected::String(unquote(l).unwrap_or_default());
                        continue;
                    }
                    let (key, vals) =
                        parse_series_desc(l).map_err(|m| TestFileError { line: i, msg: m })?;
                    let vals =
                        expand_values(vals).map_err(|m| TestFileError { line: i, msg: m })?;
                    let mut values: Vec<Option<f64>> = vals
                        .into_iter()
                        .map(|v| match v {
                            Value::Float(f) => Some(f),
                            _ => None,
                        })
                        .collect();
                    values.resize(steps, None);
                    series.push(ExpectedSeries { key, values });
                }
                if matches!(ev.expected, Expected::Series(_)) {
                    ev.expected = match matrix {
                        Some((start_ms, step_ms)) => Expected::Matrix {
                            start_ms,
                            step_ms,
                            series,
                        },
                        None => Expected::Series(series),
                    };
                }
                out.push(Command::Eval(ev));
            }
            other => {
                return Err(err(format!("unknown command {other:?}")));
            }
        }
    }
    Ok(out)
}

/// A run of evals and the data they see: every load since the last `clear` up to them.
#[derive(Debug, Clone)]
pub struct Segment<'a> {
    pub loads: Vec<&'a Load>,
    /// Each eval with the reason it is set aside, if it is.
    pub evals: Vec<(&'a Eval, Option<&'static str>)>,
}

/// Splits a file into segments: a new segment starts where a `load` follows an eval or at
/// `clear`, so that evals before a `load` do not see its data.
pub fn segments(cmds: &[Command]) -> Vec<Segment<'_>> {
    let mut out: Vec<Segment> = Vec::new();
    let mut loads: Vec<&Load> = Vec::new();
    let mut cur: Option<Segment> = None;
    for c in cmds {
        match c {
            Command::Clear => {
                out.extend(cur.take());
                loads.clear();
            }
            Command::Load(l) => {
                out.extend(cur.take());
                loads.push(l);
            }
            Command::Eval(e) => {
                let seg = cur.get_or_insert_with(|| Segment {
                    loads: loads.clone(),
                    evals: Vec::new(),
                });
                let why = set_aside(e, &loads);
                seg.evals.push((e, why));
            }
        }
    }
    out.extend(cur);
    out
}

/// Why a case cannot be run against imported data: native histograms, staleness markers
/// (the text import has neither), or a query or answer tied to absolute time (data is moved
/// in time when imported).
fn set_aside(e: &Eval, loads: &[&Load]) -> Option<&'static str> {
    if matches!(e.expected, Expected::Other(_)) {
        return Some("native histograms");
    }
    if mentions(e, loads, |s| s.has_histograms) {
        return Some("native histograms");
    }
    if mentions(e, loads, |s| s.has_stale) {
        return Some("staleness markers");
    }
    if uses_absolute_time(&e.query) {
        return Some("absolute time");
    }
    None
}

/// True when the query names (or matches with `__name__=~`) a loaded series for which `pred`
/// holds.
pub fn mentions(e: &Eval, loads: &[&Load], pred: impl Fn(&LoadSeries) -> bool) -> bool {
    let names: HashSet<&str> = loads
        .iter()
        .flat_map(|l| l.series.iter())
        .filter(|s| pred(s))
        .map(|s| &*s.key.metric)
        .collect();
    if names.is_empty() {
        return false;
    }
    identifiers(&e.query)
        .iter()
        .any(|i| names.contains(i.as_str()))
        || name_patterns(&e.query)
            .iter()
            .any(|p| names.iter().any(|n| p.is_match(n)))
}

/// The regular expressions of `__name__=~"..."` matchers in a query.
fn name_patterns(q: &str) -> Vec<regex::Regex> {
    let mut out = Vec::new();
    let mut rest = q;
    while let Some(i) = rest.find("__name__=~") {
        rest = &rest[i + "__name__=~".len()..];
        let Some(quote) = rest.chars().next() else {
            break;
        };
        if let Some(end) = rest[1..].find(quote)
            && let Ok(r) = regex::Regex::new(&format!("^(?:{})$", &rest[1..=end]))
        {
            out.push(r);
        }
    }
    out
}

fn identifiers(q: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    for c in q.chars() {
        if let Some(qc) = quote {
            if c == qc {
                quote = None;
            }
            continue;
        }
        if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
            cur.push(c);
        } else {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            if c == '"' || c == '\'' || c == '`' {
                quote = Some(c);
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    // also the names in {__name__=~"a|b"} style selectors
    for part in q.split(['"', '\'', '|', '(', ')']) {
        if part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && !part.is_empty() {
            out.push(part.to_string());
        }
    }
    out
}

/// True when a query's answer depends on absolute time: `time()`, `timestamp()`, date
/// functions of the evaluation time, `@ <time>`, `start()`/`end()`, `ts_of_*`.
pub fn uses_absolute_time(q: &str) -> bool {
    let compact: String = q.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.contains("time()")
        || compact.contains("timestamp(")
        || compact.contains("start()")
        || compact.contains("end()")
        || compact.contains("ts_of_")
    {
        return true;
    }
    for f in [
        "year()",
        "month()",
        "day_of_month()",
        "day_of_week()",
        "day_of_year()",
        "days_in_month()",
        "hour()",
        "minute()",
    ] {
        if compact.contains(f) {
            return true;
        }
    }
    let b = compact.as_bytes();
    b.iter().enumerate().any(|(i, &c)| {
        c == b'@'
            && b.get(i + 1)
                .is_some_and(|n| n.is_ascii_digit() || *n == b'-' || *n == b'.')
    })
}

enum Value {
    Missing,
    Float(f64),
    Stale,
    Histogram,
}

fn parse_float(s: &str) -> Result<f64, String> {
    let t = s.trim();
    match t {
        "NaN" | "nan" => Ok(f64::NAN),
        "Inf" | "+Inf" | "inf" | "+inf" => Ok(f64::INFINITY),
        "-Inf" | "-inf" => Ok(f64::NEG_INFINITY),
        _ => {
            let ok = !t.is_empty()
                && t.chars()
                    .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'));
            if !ok {
                return Err(format!("bad number {t:?}"));
            }
            t.parse::<f64>()
                .map_err(|e| format!("bad number {t:?}: {e}"))
        }
    }
}

/// Expands `a+bxN` (N+1 values), `a-bxN`, `axN` (`0x59` is 60 zeros, not hex), `_xN` (N
/// blanks), `_`, `stale`, numbers.
fn expand_values(s: &str) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    for tok in value_tokens(s) {
        if tok.starts_with("{{") {
            let times = tok
                .rsplit_once("}}x")
                .and_then(|(_, n)| n.parse::<usize>().ok())
                .map_or(1, |n| n + 1);
            for _ in 0..times {
                out.push(Value::Histogram);
            }
            continue;
        }
        match tok.as_str() {
            "_" => out.push(Value::Missing),
            "stale" => out.push(Value::Stale),
            t => {
                if let Some((head, n)) = t.rsplit_once('x')
                    && let Ok(n) = n.parse::<usize>()
                    && !head.is_empty()
                {
                    if head == "_" {
                        for _ in 0..n {
                            out.push(Value::Missing);
                        }
                        continue;
                    }
                    if head == "stale" {
                        for _ in 0..n {
                            out.push(Value::Stale);
                        }
                        continue;
                    }
                    // split head into start and increment at a sign not after 'e'/start
                    let hb = head.as_bytes();
                    let split = (1..hb.len()).rev().find(|&k| {
                        (hb[k] == b'+' || hb[k] == b'-') && !matches!(hb[k - 1], b'e' | b'E')
                    });
                    let (start, inc) = match split {
                        Some(k) => (parse_float(&head[..k])?, parse_float(&head[k..])?),
                        None => (parse_float(head)?, 0.0),
                    };
                    for k in 0..=n {
                        out.push(Value::Float(start + inc * k as f64));
                    }
                    continue;
                }
                out.push(Value::Float(parse_float(t)?));
            }
        }
    }
    Ok(out)
}

/// Splits on whitespace, keeping `{{ ... }}` (and what follows it up to whitespace) whole.
fn value_tokens(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0usize;
    let cs: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < cs.len() {
        let c = cs[i];
        if c == '{' && cs.get(i + 1) == Some(&'{') {
            depth += 1;
            cur.push_str("{{");
            i += 2;
            continue;
        }
        if c == '}' && cs.get(i + 1) == Some(&'}') && depth > 0 {
            depth -= 1;
            cur.push_str("}}");
            i += 2;
            continue;
        }
        if c.is_whitespace() && depth == 0 {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        } else {
            cur.push(c);
        }
        i += 1;
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn unquote(s: &str) -> Option<String> {
    let q = s.chars().next()?;
    if !matches!(q, '"' | '\'' | '`') || s.len() < 2 || !s.ends_with(q) {
        return None;
    }
    let inner = &s[1..s.len() - 1];
    if q == '`' {
        return Some(inner.to_string());
    }
    let mut out = String::new();
    let mut it = inner.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                c => out.push(c),
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// `name{a="b", "dotted.name"='c'} rest` → (key, rest).
fn parse_series_desc(l: &str) -> Result<(SeriesKey, &str), String> {
    let b = l.as_bytes();
    let mut p = 0;
    while p < b.len() && (b[p].is_ascii_alphanumeric() || b[p] == b'_' || b[p] == b':') {
        p += 1;
    }
    let mut key = SeriesKey::new(&l[..p], Labels::new());
    if p < b.len() && b[p] == b'{' {
        p += 1;
        loop {
            while p < b.len() && (b[p] == b' ' || b[p] == b',' || b[p] == b'\t') {
                p += 1;
            }
            if p >= b.len() {
                return Err("unterminated label set".into());
            }
            if b[p] == b'}' {
                p += 1;
                break;
            }
            let name = if b[p] == b'"' {
                let (s, np) = quoted(l, p)?;
                p = np;
                s
            } else {
                let st = p;
                while p < b.len() && (b[p].is_ascii_alphanumeric() || b[p] == b'_') {
                    p += 1;
                }
                l[st..p].to_string()
            };
            while p < b.len() && b[p] == b' ' {
                p += 1;
            }
            if p >= b.len() || b[p] != b'=' {
                return Err(format!("expected '=' after label {name:?}"));
            }
            p += 1;
            while p < b.len() && b[p] == b' ' {
                p += 1;
            }
            let (value, np) = quoted(l, p)?;
            p = np;
            if name == "__name__" {
                key.metric = value.into();
            } else {
                key.labels.insert(name, value);
            }
        }
    } else if p == 0 {
        return Err(format!("expected a series, got {l:?}"));
    }
    Ok((key, &l[p..]))
}

fn quoted(l: &str, p: usize) -> Result<(String, usize), String> {
    let b = l.as_bytes();
    let q = *b.get(p).ok_or("expected a quoted string")?;
    if q != b'"' && q != b'\'' {
        return Err(format!("expected a quoted string at {p}"));
    }
    let mut e = p + 1;
    while e < b.len() && b[e] != q {
        if b[e] == b'\\' {
            e += 1;
        }
        e += 1;
    }
    if e >= b.len() {
        return Err("unterminated string".into());
    }
    let s = unquote(&l[p..=e]).ok_or("bad string")?;
    Ok((s, e + 1))
}

/// A Prometheus duration (`5m`, `10s53ms`, `1h30m`) or plain seconds, to milliseconds.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let (neg, body) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    if let Ok(f) = body.parse::<f64>() {
        let ms = (f * 1000.0).round() as i64;
        return Ok(if neg { -ms } else { ms });
    }
    let total =
        crate::http::duration_units_ms(body).ok_or_else(|| format!("bad duration {s:?}"))?;
    Ok(if neg { -total } else { total })
}

fn parse_eval_header(rest: &str) -> Result<(EvalKind, String), String> {
    let words: Vec<&str> = rest.split_whitespace().collect();
    let tail = |n: usize| -> String {
        // the query is everything after the first n words
        let mut r = rest.trim_start();
        for _ in 0..n {
            r = r.trim_start();
            let end = r.find(char::is_whitespace).unwrap_or(r.len());
            r = &r[end..];
        }
        r.trim().to_string()
    };
    match words.as_slice() {
        ["instant", "at", t, ..] => Ok((
            EvalKind::Instant {
                at_ms: parse_duration(t)?,
            },
            tail(3),
        )),
        ["range", "from", s, "to", e, "step", st, ..] => Ok((
            EvalKind::Range {
                start_ms: parse_duration(s)?,
                end_ms: parse_duration(e)?,
                step_ms: parse_duration(st)?,
            },
            tail(7),
        )),
        _ => Err(format!("bad eval command {rest:?}")),
    }
}

/// The result of one case.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Pass,
    /// The evaluator said it does not implement something.
    Unsupported(String),
    Wrong(String),
}

/// Prometheus' `almost.Equal` with epsilon 1e-6; NaN equals NaN.
pub fn close(a: f64, b: f64) -> bool {
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let (abs_sum, diff) = (a.abs() + b.abs(), (a - b).abs());
    if a == 0.0 || b == 0.0 || abs_sum < f64::MIN_POSITIVE {
        return diff < 1e-6 * f64::MIN_POSITIVE;
    }
    diff / abs_sum.min(f64::MAX) < 1e-6
}

/// Is an error message a refusal of something not implemented?
pub fn is_unsupported(msg: &str) -> bool {
    let m = msg.to_ascii_lowercase();
    m.contains("unsupported")
        || m.contains("not supported")
        || m.contains("unknown function")
        || m.contains("unknown func ")
        || m.contains("not implemented")
}

/// Checks an answer (`Err` = the error message) against a case; timestamps of the answer
/// are moved back by `shift_ms` (the shift applied when the data was loaded).
pub fn check(e: &Eval, got: Result<QueryValue, String>, shift_ms: i64) -> Outcome {
    let got = match got {
        Err(m) if e.expect_fail => {
            let _ = m;
            return Outcome::Pass;
        }
        Err(m) if is_unsupported(&m) => return Outcome::Unsupported(m),
        Err(m) => return Outcome::Wrong(format!("error: {m}")),
        Ok(_) if e.expect_fail => return Outcome::Wrong("expected an error".into()),
        Ok(v) => v,
    };
    let wrong = |m: String| Outcome::Wrong(m);
    match (&e.expected, &e.kind, got) {
        (Expected::Scalar(want), _, QueryValue::Scalar(_, v)) => {
            if close(*want, v) {
                Outcome::Pass
            } else {
                wrong(format!("scalar {v}, want {want}"))
            }
        }
        (Expected::String(want), _, QueryValue::String(_, v)) => {
            if *want == v {
                Outcome::Pass
            } else {
                wrong(format!("string {v:?}, want {want:?}"))
            }
        }
        (Expected::Series(want), EvalKind::Instant { .. }, QueryValue::Vector(got)) => {
            if want.len() != got.len() {
                return wrong(format!(
                    "{} series, want {}: {:?}",
                    got.len(),
                    want.len(),
                    got.iter()
                        .map(|g| super::eval::key_text(&g.0))
                        .collect::<Vec<_>>()
                ));
            }
            for (k, w) in want.iter().enumerate() {
                let pos = got.iter().position(|g| g.0 == w.key);
                let Some(pos) = pos else {
                    return wrong(format!("missing {}", super::eval::key_text(&w.key)));
                };
                if e.ordered && pos != k {
                    return wrong(format!(
                        "{} at position {pos}, want {k}",
                        super::eval::key_text(&w.key)
                    ));
                }
                let want_v = w.values.first().copied().flatten();
                match want_v {
                    Some(wv) if close(wv, got[pos].2) => {}
                    _ => {
                        return wrong(format!(
                            "{} = {}, want {:?}",
                            super::eval::key_text(&w.key),
                            got[pos].2,
                            want_v
                        ));
                    }
                }
            }
            Outcome::Pass
        }
        (Expected::Series(want), EvalKind::Instant { .. }, QueryValue::Scalar(..))
            if want.is_empty() =>
        {
            wrong("scalar answer, want an empty vector".into())
        }
        (
            Expected::Series(want),
            EvalKind::Range {
                start_ms, step_ms, ..
            },
            QueryValue::Matrix(got),
        )
        | (
            Expected::Matrix {
                start_ms,
                step_ms,
                series: want,
            },
            EvalKind::Instant { .. },
            QueryValue::Matrix(got),
        ) => compare_matrix(want, &got, *start_ms, *step_ms, shift_ms),
        (want, _, got) => wrong(format!("answer {got:?}, want {want:?}")),
    }
}

/// Compares a matrix answer with expected series sampled at `start + k*step`.
fn compare_matrix(
    want: &[ExpectedSeries],
    got: &[crate::SeriesPoints],
    start_ms: i64,
    step_ms: i64,
    shift_ms: i64,
) -> Outcome {
    let wrong = Outcome::Wrong;
    let got: Vec<&crate::SeriesPoints> = got.iter().filter(|s| !s.points.is_empty()).collect();
    if want.len() != got.len() {
        return wrong(format!("{} series, want {}", got.len(), want.len()));
    }
    for w in want {
        let Some(g) = got.iter().find(|g| g.key == w.key) else {
            return wrong(format!("missing {}", super::eval::key_text(&w.key)));
        };
        let mut have: Vec<Option<f64>> = vec![None; w.values.len()];
        for &(t, v) in &g.points {
            let off = t - shift_ms - start_ms;
            if off % step_ms.max(1) != 0 || off < 0 {
                return wrong(format!("point at unexpected time {t}"));
            }
            let k = (off / step_ms.max(1)) as usize;
            if k >= have.len() {
                return wrong(format!("point past the end at {t}"));
            }
            have[k] = Some(v);
        }
        let same = have.iter().zip(&w.values).all(|(h, x)| match (h, x) {
            (None, None) => true,
            (Some(a), Some(b)) => close(*a, *b),
            _ => false,
        });
        if !same {
            return wrong(format!(
                "{}: {have:?}, want {:?}",
                super::eval::key_text(&w.key),
                w.values
            ));
        }
    }
    Outcome::Pass
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_and_eval_commands_parse() {
        let cmds = parse(
            "load 5m\n  m{a=\"b\"} 0+10x2 _ stale -1-1x1 _x2 3x1\n\n\
             eval instant at 10m sum(m)\n  {} 20\n\n\
             eval_ordered instant at 1h30m topk(1, m)\n  expect warn\n  m{a=\"b\"} 5\n\n\
             eval range from 0 to 10m step 5m m\n  m{a=\"b\"} 0 _ 1x1\n\n\
             eval instant at 0 -1\n  -1\n",
        )
        .unwrap();
        let Command::Load(l) = &cmds[0] else { panic!() };
        assert_eq!(l.step_ms, 300_000);
        let pts: Vec<(i64, f64)> = l.series[0].points.clone();
        assert_eq!(pts[..3], [(0, 0.0), (300_000, 10.0), (600_000, 20.0)]);
        assert!(l.series[0].has_stale);
        assert_eq!(pts[4], (1_500_000, -1.0));
        assert_eq!(pts[5], (1_800_000, -2.0));
        assert_eq!(pts[6], (2_700_000, 3.0));
        let Command::Eval(e) = &cmds[2] else { panic!() };
        assert!(e.ordered);
        assert_eq!(e.kind, EvalKind::Instant { at_ms: 5_400_000 });
        assert_eq!(e.query, "topk(1, m)");
        let Command::Eval(e) = &cmds[3] else { panic!() };
        let Expected::Series(s) = &e.expected else {
            panic!()
        };
        assert_eq!(s[0].values, [Some(0.0), None, Some(1.0)]);
        let Command::Eval(e) = &cmds[4] else { panic!() };
        assert_eq!(e.expected, Expected::Scalar(-1.0));
    }

    #[test]
    fn absolute_time_is_recognised() {
        assert!(uses_absolute_time("vector(time())"));
        assert!(uses_absolute_time("x @ 100"));
        assert!(uses_absolute_time("year()"));
        assert!(!uses_absolute_time("year(vector(1136239445))"));
        assert!(!uses_absolute_time("rate(x[5m] @ end())") || uses_absolute_time("end()"));
        assert!(!uses_absolute_time("rate(x[5m])"));
    }
}
