//! PromQL functions, and the compensated sums and means they and the aggregations share.

use chrono::{DateTime, Datelike, Timelike};
use promql_parser::label::MatchOp;
use promql_parser::parser::Expr;
use promql_parser::parser::ast::{Call, VectorSelector};

use super::eval::{
    Ctx, Grid, RangeVal, VSeries, Val, bad, drop_name, exec, merge_same_labels, unsupported, window,
};
use crate::{Labels, SeriesKey, TsdbError};

/// Kahan-Neumaier compensated sum, as Prometheus' `kahanSumInc`.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct KahanSum {
    sum: f64,
    c: f64,
}

pub(super) fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

impl KahanSum {
    pub fn add(&mut self, v: f64) {
        (self.sum, self.c) = kahan_inc(v, self.sum, self.c);
    }
    pub fn value(&self) -> f64 {
        self.sum + self.c
    }
}

/// Prometheus' mean: a compensated sum divided by the count, switching to an incremental
/// mean from the value on where the sum would overflow.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Mean {
    n: f64,
    sum: f64,
    c: f64,
    incremental: bool,
    mean: f64,
    mc: f64,
}

impl Mean {
    pub fn add(&mut self, v: f64) {
        self.n += 1.0;
        if !self.incremental {
            let (s, c) = kahan_inc(v, self.sum, self.c);
            if !s.is_infinite() || self.n == 1.0 {
                (self.sum, self.c) = (s, c);
                return;
            }
            self.incremental = true;
            self.mean = self.sum / (self.n - 1.0);
            self.mc = self.c / (self.n - 1.0);
        }
        if self.mean.is_infinite() {
            if v.is_infinite() && (self.mean > 0.0) == (v > 0.0) {
                return;
            }
            if !v.is_infinite() && !v.is_nan() {
                return;
            }
        }
        let cur = self.mean + self.mc;
        (self.mean, self.mc) = kahan_inc(v / self.n - cur / self.n, self.mean, self.mc);
    }
    pub fn value(&self) -> f64 {
        if self.incremental {
            self.mean + self.mc
        } else {
            (self.sum + self.c) / self.n
        }
    }
}

/// Welford's variance with compensated running sums (Prometheus' `stddev_over_time`).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct StdDev {
    n: f64,
    mean: f64,
    cmean: f64,
    aux: f64,
    caux: f64,
}

impl StdDev {
    pub fn add(&mut self, v: f64) {
        self.n += 1.0;
        let delta = v - (self.mean + self.cmean);
        (self.mean, self.cmean) = kahan_inc(delta / self.n, self.mean, self.cmean);
        (self.aux, self.caux) =
            kahan_inc(delta * (v - (self.mean + self.cmean)), self.aux, self.caux);
    }
    pub fn variance(&self) -> f64 {
        (self.aux + self.caux) / self.n
    }
}

/// Go's `math.Max`: NaN if either is NaN.
pub(super) fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a > b || (a == 0.0 && b == 0.0 && a.is_sign_positive()) {
        a
    } else {
        b
    }
}

/// Go's `math.Min`: NaN if either is NaN.
pub(super) fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a < b || (a == 0.0 && b == 0.0 && a.is_sign_negative()) {
        a
    } else {
        b
    }
}

/// The answer of a quantile for φ outside [0, 1] (or NaN), as Prometheus: ±Inf or NaN.
fn quantile_edge(q: f64) -> Option<f64> {
    if q.is_nan() {
        Some(f64::NAN)
    } else if q < 0.0 {
        Some(f64::NEG_INFINITY)
    } else if q > 1.0 {
        Some(f64::INFINITY)
    } else {
        None
    }
}

/// The φ-quantile of `v` (not empty) with linear interpolation, as Prometheus' `quantile`.
pub(super) fn quantile(q: f64, v: &mut [f64]) -> f64 {
    if let Some(edge) = quantile_edge(q) {
        return edge;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len() as f64;
    let rank = q * (n - 1.0);
    let lo = rank.floor().max(0.0);
    let hi = (lo + 1.0).min(n - 1.0);
    let w = rank - rank.floor();
    v[lo as usize] * (1.0 - w) + v[hi as usize] * w
}

fn unparen(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(p) => unparen(&p.expr),
        e => e,
    }
}

fn arg(c: &Call, i: usize) -> Result<&Expr, TsdbError> {
    c.args
        .args
        .get(i)
        .map(|b| b.as_ref())
        .ok_or_else(|| bad(format!("{}() needs argument {}", c.func.name, i + 1)))
}

fn vector_arg<'a>(
    cx: &Ctx<'a>,
    c: &'a Call,
    i: usize,
    g: &Grid,
) -> Result<Vec<VSeries>, TsdbError> {
    match cx.eval(arg(c, i)?, g)? {
        Val::Vector(v) => Ok(v),
        _ => Err(bad(format!(
            "{}() needs an instant vector argument",
            c.func.name
        ))),
    }
}

fn scalar_arg<'a>(cx: &Ctx<'a>, c: &'a Call, i: usize, g: &Grid) -> Result<Vec<f64>, TsdbError> {
    match cx.eval(arg(c, i)?, g)? {
        Val::Scalar(v) => Ok(v),
        _ => Err(bad(format!(
            "{}() needs a scalar argument {}",
            c.func.name,
            i + 1
        ))),
    }
}

fn range_arg<'a>(cx: &Ctx<'a>, c: &'a Call, i: usize, g: &Grid) -> Result<RangeVal<'a>, TsdbError> {
    match cx.eval(arg(c, i)?, g)? {
        Val::Range(r) => Ok(r),
        _ => Err(bad(format!(
            "{}() needs a range vector argument",
            c.func.name
        ))),
    }
}

fn string_arg(c: &Call, i: usize) -> Result<String, TsdbError> {
    match unparen(arg(c, i)?) {
        Expr::StringLiteral(s) => Ok(s.val.clone()),
        _ => Err(bad(format!(
            "{}() needs a string argument {}",
            c.func.name,
            i + 1
        ))),
    }
}

/// Applies `f` (value, step) to every value; the metric name is dropped.
fn map_values(
    vs: Vec<VSeries>,
    f: impl Fn(f64, usize) -> Option<f64>,
) -> Result<Val<'static>, TsdbError> {
    Ok(Val::Vector(map_series(vs, false, f)?))
}

/// Applies `f` (value, step) to every value, keeping the metric name or not; series left
/// without values are dropped.
pub(super) fn map_series(
    vs: Vec<VSeries>,
    keep_name: bool,
    f: impl Fn(f64, usize) -> Option<f64>,
) -> Result<Vec<VSeries>, TsdbError> {
    let out: Vec<VSeries> = vs
        .into_iter()
        .filter_map(|s| {
            let vals: Vec<Option<f64>> = s
                .vals
                .iter()
                .enumerate()
                .map(|(i, v)| v.and_then(|v| f(v, i)))
                .collect();
            vals.iter().any(Option::is_some).then(|| VSeries {
                key: if keep_name { s.key } else { drop_name(s.key) },
                vals,
            })
        })
        .collect();
    if keep_name {
        Ok(out)
    } else {
        merge_same_labels(out)
    }
}

/// `absent()`'s answer: one series with value 1 at the steps where `none(step)` holds.
fn absent_where(key: SeriesKey, g: &Grid, none: impl Fn(usize) -> bool) -> Val<'static> {
    let vals: Vec<Option<f64>> = (0..g.n).map(|i| none(i).then_some(1.0)).collect();
    Val::Vector(if vals.iter().any(Option::is_some) {
        vec![VSeries { key, vals }]
    } else {
        vec![]
    })
}

/// Applies a window function per series and step; `keep_name` for the functions that keep
/// the metric name (`last_over_time`, `first_over_time`).
fn over_windows(
    r: &RangeVal,
    g: &Grid,
    keep_name: bool,
    f: impl Fn(&[(i64, f64)], i64, usize) -> Option<f64>,
) -> Result<Val<'static>, TsdbError> {
    let mut out = Vec::with_capacity(r.series.len());
    for s in r.series.iter() {
        let vals: Vec<Option<f64>> = (0..g.n)
            .map(|i| {
                let end = r.eval_time(g.t(i));
                let w = window(&s.points, end, r.range);
                if w.is_empty() { None } else { f(w, end, i) }
            })
            .collect();
        if vals.iter().any(Option::is_some) {
            out.push(VSeries {
                key: if keep_name {
                    s.key.clone()
                } else {
                    drop_name(s.key.clone())
                },
                vals,
            });
        }
    }
    Ok(Val::Vector(merge_same_labels(out)?))
}

/// Prometheus' `extrapolatedRate` (rate, increase, delta): extrapolates to the window's edges
/// when the first/last samples are within 110 % of the average interval of them, never below
/// a counter's zero point.
fn extrapolated(w: &[(i64, f64)], end: i64, range: i64, counter: bool, rate: bool) -> Option<f64> {
    if w.len() < 2 {
        return None;
    }
    let (first, last) = (w[0], w[w.len() - 1]);
    let mut result = last.1 - first.1;
    if counter {
        let mut prev = first.1;
        for p in &w[1..] {
            if p.1 < prev {
                result += prev;
            }
            prev = p.1;
        }
    }
    let range_start = end - range;
    let mut to_start = (first.0 - range_start) as f64 / 1000.0;
    let mut to_end = (end - last.0) as f64 / 1000.0;
    let sampled = (last.0 - first.0) as f64 / 1000.0;
    let avg = sampled / (w.len() - 1) as f64;
    let threshold = avg * 1.1;
    if to_start >= threshold {
        to_start = avg / 2.0;
    }
    if counter && result > 0.0 && first.1 >= 0.0 {
        let to_zero = sampled * (first.1 / result);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    if to_end >= threshold {
        to_end = avg / 2.0;
    }
    let mut factor = (sampled + to_start + to_end) / sampled;
    if rate {
        factor /= range as f64 / 1000.0;
    }
    Some(result * factor)
}

/// Least-squares slope and intercept at `t0` (seconds relative to `t0`), compensated sums.
fn linear_regression(w: &[(i64, f64)], t0: i64) -> (f64, f64) {
    let (mut n, mut sx, mut sy, mut sxy, mut sx2) = (
        0.0,
        KahanSum::default(),
        KahanSum::default(),
        KahanSum::default(),
        KahanSum::default(),
    );
    let init = w[0].1;
    let mut const_y = true;
    for (i, p) in w.iter().enumerate() {
        if const_y && i > 0 && p.1 != init {
            const_y = false;
        }
        n += 1.0;
        let x = (p.0 - t0) as f64 / 1000.0;
        sx.add(x);
        sy.add(p.1);
        sxy.add(x * p.1);
        sx2.add(x * x);
    }
    if const_y {
        if init.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init);
    }
    let (sx, sy, sxy, sx2) = (sx.value(), sy.value(), sxy.value(), sx2.value());
    let cov = sxy - sx * sy / n;
    let var = sx2 - sx * sx / n;
    let slope = cov / var;
    (slope, sy / n - slope * sx / n)
}

/// Labels `absent()` answers with: the selector's `=` matchers (not the name), minus labels
/// matched more than once or otherwise.
fn absent_labels(vs: Option<&VectorSelector>) -> SeriesKey {
    let mut labels: Vec<(String, String)> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    if let Some(vs) = vs {
        for m in &vs.matchers.matchers {
            if m.name == "__name__" {
                continue;
            }
            if matches!(m.op, MatchOp::Equal) && !seen.contains(&m.name.as_str()) {
                labels.push((m.name.clone(), m.value.clone()));
                seen.push(&m.name);
            } else {
                labels.retain(|(n, _)| *n != m.name);
            }
        }
    }
    SeriesKey {
        metric: crate::no_name(),
        labels: Labels::from_pairs(labels),
    }
}

fn selector_of(e: &Expr) -> Option<&VectorSelector> {
    match unparen(e) {
        Expr::VectorSelector(vs) => Some(vs),
        _ => None,
    }
}

/// Natural order: digit runs compare as numbers (`cpu2 < cpu10`).
fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i].is_ascii_digit() && b[j].is_ascii_digit() {
            let (si, sj) = (i, j);
            while i < a.len() && a[i].is_ascii_digit() {
                i += 1;
            }
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            let na = std::str::from_utf8(&a[si..i])
                .unwrap_or("")
                .trim_start_matches('0');
            let nb = std::str::from_utf8(&b[sj..j])
                .unwrap_or("")
                .trim_start_matches('0');
            let o = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
            if o != Ordering::Equal {
                return o;
            }
        } else {
            if a[i] != b[j] {
                return a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
    }
    (a.len() - i).cmp(&(b.len() - j))
}

/// The value of a date function for a Unix time in seconds.
fn date_part(name: &str, secs: f64) -> Option<f64> {
    if !secs.is_finite() {
        return Some(f64::NAN);
    }
    let d = DateTime::from_timestamp(secs.floor() as i64, 0)?;
    Some(match name {
        "year" => f64::from(d.year()),
        "month" => f64::from(d.month()),
        "day_of_month" => f64::from(d.day()),
        "day_of_week" => f64::from(d.weekday().num_days_from_sunday()),
        "day_of_year" => f64::from(d.ordinal()),
        "hour" => f64::from(d.hour()),
        "minute" => f64::from(d.minute()),
        _ => {
            // days_in_month
            let (y, m) = (d.year(), d.month());
            let next = if m == 12 {
                chrono::NaiveDate::from_ymd_opt(y + 1, 1, 1)
            } else {
                chrono::NaiveDate::from_ymd_opt(y, m + 1, 1)
            }?;
            f64::from(next.pred_opt()?.day())
        }
    })
}

fn valid_dst(name: &str) -> Result<(), TsdbError> {
    if crate::http::valid_label_name(name) {
        Ok(())
    } else {
        Err(bad(format!("invalid destination label name {name:?}")))
    }
}

fn set_label(key: &mut SeriesKey, name: &str, value: String) {
    if name == "__name__" {
        key.metric = value.into();
    } else if value.is_empty() {
        key.labels = Labels::from_pairs(key.labels.iter().filter(|(n, _)| *n != name));
    } else {
        key.labels.insert(name, value);
    }
}

/// `histogram_quantile(φ, buckets)` over classic `le` buckets, per group of series that
/// differ only in `le`.
fn histogram_quantile(q: &[f64], vs: Vec<VSeries>, g: &Grid) -> Result<Val<'static>, TsdbError> {
    use std::collections::HashMap;
    let mut groups: Vec<(SeriesKey, Vec<(f64, usize)>)> = Vec::new();
    let mut idx: HashMap<SeriesKey, usize> = HashMap::new();
    for (si, s) in vs.iter().enumerate() {
        let Some(le) = s.key.labels.get("le").and_then(parse_le) else {
            continue;
        };
        let key = SeriesKey {
            metric: crate::no_name(),
            labels: Labels::from_pairs(s.key.labels.iter().filter(|(n, _)| *n != "le")),
        };
        let gi = *idx.entry(key.clone()).or_insert_with(|| {
            groups.push((key, Vec::new()));
            groups.len() - 1
        });
        groups[gi].1.push((le, si));
    }
    let mut out = Vec::new();
    for (key, buckets) in groups {
        let vals: Vec<Option<f64>> = (0..g.n)
            .map(|i| {
                let b: Vec<(f64, f64)> = buckets
                    .iter()
                    .filter_map(|&(le, si)| vs[si].vals[i].map(|c| (le, c)))
                    .collect();
                (!b.is_empty()).then(|| bucket_quantile(q[i], b))
            })
            .collect();
        if vals.iter().any(Option::is_some) {
            out.push(VSeries { key, vals });
        }
    }
    Ok(Val::Vector(out))
}

fn parse_le(s: &str) -> Option<f64> {
    match s.trim() {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        s => s.parse().ok(),
    }
}

/// Prometheus' `BucketQuantile` for classic buckets `(upper bound, cumulative count)`.
fn bucket_quantile(q: f64, mut b: Vec<(f64, f64)>) -> f64 {
    if let Some(edge) = quantile_edge(q) {
        return edge;
    }
    b.sort_by(|x, y| x.0.total_cmp(&y.0));
    if b.last().is_none_or(|x| x.0 != f64::INFINITY) {
        return f64::NAN;
    }
    // merge equal bounds, then force monotonic counts
    let mut m: Vec<(f64, f64)> = Vec::with_capacity(b.len());
    for (le, c) in b {
        match m.last_mut() {
            Some(last) if last.0 == le => last.1 += c,
            _ => m.push((le, c)),
        }
    }
    let mut max = f64::NEG_INFINITY;
    for x in &mut m {
        if x.1 < max {
            x.1 = max;
        } else {
            max = x.1;
        }
    }
    if m.len() < 2 {
        return f64::NAN;
    }
    let obs = m[m.len() - 1].1;
    if obs == 0.0 || obs.is_nan() {
        return f64::NAN;
    }
    let mut rank = q * obs;
    let i = m[..m.len() - 1].partition_point(|x| x.1 < rank);
    if i == m.len() - 1 {
        return m[m.len() - 2].0;
    }
    if i == 0 && m[0].0 <= 0.0 {
        return m[0].0;
    }
    let (mut start, end, mut count) = (0.0, m[i].0, m[i].1);
    if i > 0 {
        start = m[i - 1].0;
        count -= m[i - 1].1;
        rank -= m[i - 1].1;
    }
    start + (end - start) * (rank / count)
}

pub(super) fn call<'a>(cx: &Ctx<'a>, c: &'a Call, g: &Grid) -> Result<Val<'a>, TsdbError> {
    let name = c.func.name;
    let n_args = c.args.args.len();
    let math = |f: fn(f64) -> f64| -> Result<Val<'a>, TsdbError> {
        map_values(vector_arg(cx, c, 0, g)?, |v, _| Some(f(v)))
    };
    match name {
        // scalars and constants
        "time" => Ok(Val::Scalar(
            (0..g.n).map(|i| g.t(i) as f64 / 1000.0).collect(),
        )),
        "pi" => Ok(Val::Scalar(vec![std::f64::consts::PI; g.n])),
        "start" => Ok(Val::Scalar(vec![cx.q_start as f64 / 1000.0; g.n])),
        "end" => Ok(Val::Scalar(vec![cx.q_end as f64 / 1000.0; g.n])),
        "step" => Ok(Val::Scalar(vec![cx.q_step as f64 / 1000.0; g.n])),
        "range" => Ok(Val::Scalar(vec![
            (cx.q_end - cx.q_start) as f64 / 1000.0;
            g.n
        ])),
        "min_of" | "max_of" => {
            let (a, b) = (scalar_arg(cx, c, 0, g)?, scalar_arg(cx, c, 1, g)?);
            let f = if name == "min_of" { go_min } else { go_max };
            Ok(Val::Scalar(
                a.into_iter().zip(b).map(|(x, y)| f(x, y)).collect(),
            ))
        }
        "vector" => {
            let s = scalar_arg(cx, c, 0, g)?;
            Ok(Val::Vector(vec![VSeries {
                key: SeriesKey::default(),
                vals: s.into_iter().map(Some).collect(),
            }]))
        }
        "scalar" => {
            let vs = vector_arg(cx, c, 0, g)?;
            Ok(Val::Scalar(
                (0..g.n)
                    .map(|i| {
                        let mut it = vs.iter().filter_map(|s| s.vals[i]);
                        match (it.next(), it.next()) {
                            (Some(v), None) => v,
                            _ => f64::NAN,
                        }
                    })
                    .collect(),
            ))
        }
        // element-wise math
        "abs" => math(f64::abs),
        "ceil" => math(f64::ceil),
        "floor" => math(f64::floor),
        "sqrt" => math(f64::sqrt),
        "exp" => math(f64::exp),
        "ln" => math(f64::ln),
        "log2" => math(f64::log2),
        "log10" => math(f64::log10),
        "sin" => math(f64::sin),
        "cos" => math(f64::cos),
        "tan" => math(f64::tan),
        "asin" => math(f64::asin),
        "acos" => math(f64::acos),
        "atan" => math(f64::atan),
        "sinh" => math(f64::sinh),
        "cosh" => math(f64::cosh),
        "tanh" => math(f64::tanh),
        "asinh" => math(f64::asinh),
        "acosh" => math(f64::acosh),
        "atanh" => math(f64::atanh),
        "deg" => math(f64::to_degrees),
        "rad" => math(f64::to_radians),
        "sgn" => math(|v| {
            if v > 0.0 {
                1.0
            } else if v < 0.0 {
                -1.0
            } else {
                v
            }
        }),
        "round" => {
            let vs = vector_arg(cx, c, 0, g)?;
            let to = if n_args > 1 {
                scalar_arg(cx, c, 1, g)?
            } else {
                vec![1.0; g.n]
            };
            map_values(vs, |v, i| {
                let inv = 1.0 / to[i];
                Some((v * inv + 0.5).floor() / inv)
            })
        }
        "clamp" => {
            let vs = vector_arg(cx, c, 0, g)?;
            let (lo, hi) = (scalar_arg(cx, c, 1, g)?, scalar_arg(cx, c, 2, g)?);
            map_values(vs, |v, i| {
                (hi[i] >= lo[i] || hi[i].is_nan() || lo[i].is_nan())
                    .then(|| go_max(lo[i], go_min(hi[i], v)))
            })
        }
        "clamp_min" | "clamp_max" => {
            let vs = vector_arg(cx, c, 0, g)?;
            let b = scalar_arg(cx, c, 1, g)?;
            let max = name == "clamp_max";
            map_values(vs, |v, i| {
                Some(if max {
                    go_min(b[i], v)
                } else {
                    go_max(b[i], v)
                })
            })
        }
        "year" | "month" | "day_of_month" | "day_of_week" | "day_of_year" | "days_in_month"
        | "hour" | "minute" => {
            if n_args == 0 {
                let v: Vec<Option<f64>> = (0..g.n)
                    .map(|i| date_part(name, g.t(i) as f64 / 1000.0))
                    .collect();
                return Ok(Val::Vector(vec![VSeries {
                    key: SeriesKey::default(),
                    vals: v,
                }]));
            }
            map_values(vector_arg(cx, c, 0, g)?, |v, _| date_part(name, v))
        }
        "timestamp" => {
            if let Some(vs) = selector_of(arg(c, 0)?) {
                let out: Vec<VSeries> = cx
                    .instant_points(vs, g)
                    .into_iter()
                    .map(|(key, pts)| VSeries {
                        key: drop_name(key),
                        vals: pts
                            .into_iter()
                            .map(|p| p.map(|p| p.0 as f64 / 1000.0))
                            .collect(),
                    })
                    .collect();
                return Ok(Val::Vector(merge_same_labels(out)?));
            }
            map_values(vector_arg(cx, c, 0, g)?, |_, i| {
                Some(g.t(i) as f64 / 1000.0)
            })
        }
        "absent" => {
            let vs = vector_arg(cx, c, 0, g)?;
            let key = absent_labels(selector_of(arg(c, 0)?));
            Ok(absent_where(key, g, |i| {
                vs.iter().all(|s| s.vals[i].is_none())
            }))
        }
        "absent_over_time" => {
            let r = range_arg(cx, c, 0, g)?;
            let key = absent_labels(r.selector);
            Ok(absent_where(key, g, |i| {
                let end = r.eval_time(g.t(i));
                r.series
                    .iter()
                    .all(|s| window(&s.points, end, r.range).is_empty())
            }))
        }
        "label_replace" => {
            let vs = vector_arg(cx, c, 0, g)?;
            let (dst, repl, src, re) = (
                string_arg(c, 1)?,
                string_arg(c, 2)?,
                string_arg(c, 3)?,
                string_arg(c, 4)?,
            );
            let re = regex::Regex::new(&format!("^(?s:{re})$")).map_err(|e| {
                bad(format!(
                    "invalid regular expression in label_replace(): {e}"
                ))
            })?;
            valid_dst(&dst)?;
            let out: Vec<VSeries> = vs
                .into_iter()
                .map(|mut s| {
                    let v = s.key.label(&src).unwrap_or("").to_string();
                    if let Some(caps) = re.captures(&v) {
                        let mut res = String::new();
                        caps.expand(&repl, &mut res);
                        set_label(&mut s.key, &dst, res);
                    }
                    s
                })
                .collect();
            Ok(Val::Vector(merge_same_labels(out)?))
        }
        "label_join" => {
            let vs = vector_arg(cx, c, 0, g)?;
            let (dst, sep) = (string_arg(c, 1)?, string_arg(c, 2)?);
            valid_dst(&dst)?;
            let srcs: Vec<String> = (3..n_args)
                .map(|i| string_arg(c, i))
                .collect::<Result<_, _>>()?;
            let out: Vec<VSeries> = vs
                .into_iter()
                .map(|mut s| {
                    let v: Vec<&str> = srcs.iter().map(|n| s.key.label(n).unwrap_or("")).collect();
                    let v = v.join(&sep);
                    set_label(&mut s.key, &dst, v);
                    s
                })
                .collect();
            Ok(Val::Vector(merge_same_labels(out)?))
        }
        "sort" | "sort_desc" => {
            let mut vs = vector_arg(cx, c, 0, g)?;
            let last = g.n - 1;
            let desc = name == "sort_desc";
            vs.sort_by(|a, b| {
                let (x, y) = (
                    a.vals[last].unwrap_or(f64::NAN),
                    b.vals[last].unwrap_or(f64::NAN),
                );
                match (x.is_nan(), y.is_nan()) {
                    (true, true) => std::cmp::Ordering::Equal,
                    (true, false) => std::cmp::Ordering::Greater,
                    (false, true) => std::cmp::Ordering::Less,
                    _ if desc => y.total_cmp(&x),
                    _ => x.total_cmp(&y),
                }
            });
            Ok(Val::Vector(vs))
        }
        "sort_by_label" | "sort_by_label_desc" => {
            let mut vs = vector_arg(cx, c, 0, g)?;
            let labels: Vec<String> = (1..n_args)
                .map(|i| string_arg(c, i))
                .collect::<Result<_, _>>()?;
            vs.sort_by(|a, b| {
                let o = labels
                    .iter()
                    .map(|l| {
                        natural_cmp(a.key.label(l).unwrap_or(""), b.key.label(l).unwrap_or(""))
                    })
                    .find(|o| o.is_ne())
                    .unwrap_or_else(|| a.key.all_labels().cmp(&b.key.all_labels()));
                if name == "sort_by_label_desc" {
                    o.reverse()
                } else {
                    o
                }
            });
            Ok(Val::Vector(vs))
        }
        "histogram_quantile" => {
            let q = scalar_arg(cx, c, 0, g)?;
            histogram_quantile(&q, vector_arg(cx, c, 1, g)?, g)
        }
        // range-vector functions
        "rate" | "increase" | "delta" => {
            let r = range_arg(cx, c, 0, g)?;
            let (counter, rate) = (name != "delta", name == "rate");
            let range = r.range;
            over_windows(&r, g, false, |w, end, _| {
                extrapolated(w, end, range, counter, rate)
            })
        }
        "irate" | "idelta" => {
            let r = range_arg(cx, c, 0, g)?;
            over_windows(&r, g, false, |w, _, _| {
                if w.len() < 2 {
                    return None;
                }
                let (a, b) = (w[w.len() - 2], w[w.len() - 1]);
                if name == "idelta" {
                    return Some(b.1 - a.1);
                }
                let d = if b.1 < a.1 { b.1 } else { b.1 - a.1 };
                let dt = (b.0 - a.0) as f64 / 1000.0;
                (dt > 0.0).then(|| d / dt)
            })
        }
        "deriv" => {
            let r = range_arg(cx, c, 0, g)?;
            over_windows(&r, g, false, |w, _, _| {
                (w.len() >= 2).then(|| linear_regression(w, w[0].0).0)
            })
        }
        "predict_linear" => {
            let r = range_arg(cx, c, 0, g)?;
            let d = scalar_arg(cx, c, 1, g)?;
            // the prediction starts at the evaluation time, even with `@` or `offset` on the
            // range (Prometheus: the regression's intercept is at the step's time)
            over_windows(&r, g, false, |w, _, i| {
                (w.len() >= 2).then(|| {
                    let (slope, icpt) = linear_regression(w, g.t(i));
                    icpt + slope * d[i]
                })
            })
        }
        "changes" | "resets" => {
            let r = range_arg(cx, c, 0, g)?;
            over_windows(&r, g, false, |w, _, _| {
                let n = w
                    .windows(2)
                    .filter(|p| {
                        let (a, b) = (p[0].1, p[1].1);
                        if name == "resets" {
                            b < a
                        } else {
                            !(a == b || (a.is_nan() && b.is_nan()))
                        }
                    })
                    .count();
                Some(n as f64)
            })
        }
        "avg_over_time" | "sum_over_time" | "stddev_over_time" | "stdvar_over_time"
        | "count_over_time" | "present_over_time" | "last_over_time" | "first_over_time"
        | "min_over_time" | "max_over_time" | "mad_over_time" => {
            let r = range_arg(cx, c, 0, g)?;
            let keep = matches!(name, "last_over_time" | "first_over_time");
            over_windows(&r, g, keep, |w, _, _| {
                let vals = w.iter().map(|p| p.1);
                Some(match name {
                    "avg_over_time" => {
                        let mut m = Mean::default();
                        vals.for_each(|v| m.add(v));
                        m.value()
                    }
                    "sum_over_time" => {
                        let mut s = KahanSum::default();
                        vals.for_each(|v| s.add(v));
                        s.value()
                    }
                    "stddev_over_time" | "stdvar_over_time" => {
                        let mut s = StdDev::default();
                        vals.for_each(|v| s.add(v));
                        if name == "stddev_over_time" {
                            s.variance().sqrt()
                        } else {
                            s.variance()
                        }
                    }
                    "count_over_time" => w.len() as f64,
                    "present_over_time" => 1.0,
                    "last_over_time" => w[w.len() - 1].1,
                    "first_over_time" => w[0].1,
                    "min_over_time" => {
                        vals.fold(f64::NAN, |a, v| if a.is_nan() || v < a { v } else { a })
                    }
                    "max_over_time" => {
                        vals.fold(f64::NAN, |a, v| if a.is_nan() || v > a { v } else { a })
                    }
                    _ => {
                        let mut v: Vec<f64> = vals.collect();
                        let med = quantile(0.5, &mut v);
                        let mut dev: Vec<f64> = v.iter().map(|x| (x - med).abs()).collect();
                        quantile(0.5, &mut dev)
                    }
                })
            })
        }
        "ts_of_min_over_time"
        | "ts_of_max_over_time"
        | "ts_of_first_over_time"
        | "ts_of_last_over_time" => {
            let r = range_arg(cx, c, 0, g)?;
            over_windows(&r, g, false, |w, _, _| {
                let p = match name {
                    "ts_of_first_over_time" => w[0],
                    "ts_of_last_over_time" => w[w.len() - 1],
                    _ => {
                        let max = name == "ts_of_max_over_time";
                        let mut best = w[0];
                        for &p in &w[1..] {
                            let better = if max { p.1 >= best.1 } else { p.1 <= best.1 };
                            if best.1.is_nan() || better {
                                best = p;
                            }
                        }
                        best
                    }
                };
                Some(p.0 as f64 / 1000.0)
            })
        }
        "quantile_over_time" => {
            let q = scalar_arg(cx, c, 0, g)?;
            let r = range_arg(cx, c, 1, g)?;
            over_windows(&r, g, false, |w, _, i| {
                let mut v: Vec<f64> = w.iter().map(|p| p.1).collect();
                Some(quantile(q[i], &mut v))
            })
        }
        "double_exponential_smoothing" => {
            let r = range_arg(cx, c, 0, g)?;
            let (sf, tf) = (scalar_arg(cx, c, 1, g)?, scalar_arg(cx, c, 2, g)?);
            for i in 0..g.n {
                if !(sf[i] > 0.0 && sf[i] < 1.0) {
                    return Err(exec(format!(
                        "invalid smoothing factor. Expected: 0 < sf < 1, got: {}",
                        sf[i]
                    )));
                }
                if !(tf[i] > 0.0 && tf[i] < 1.0) {
                    return Err(exec(format!(
                        "invalid trend factor. Expected: 0 < tf < 1, got: {}",
                        tf[i]
                    )));
                }
            }
            over_windows(&r, g, false, |w, _, i| {
                if w.len() < 2 {
                    return None;
                }
                let (sf, tf) = (sf[i], tf[i]);
                let (mut s0, mut s1, mut b) = (0.0, w[0].1, w[1].1 - w[0].1);
                for (j, p) in w.iter().enumerate().skip(1) {
                    if j > 1 {
                        b = tf * (s1 - s0) + (1.0 - tf) * b;
                    }
                    let x = sf * p.1;
                    let y = (1.0 - sf) * (s1 + b);
                    (s0, s1) = (s1, x + y);
                }
                Some(s1)
            })
        }
        "info" => Err(unsupported("info()")),
        "histogram_avg"
        | "histogram_count"
        | "histogram_sum"
        | "histogram_fraction"
        | "histogram_stddev"
        | "histogram_stdvar"
        | "histogram_quantiles" => Err(unsupported(format!("{name}() (native histograms)"))),
        other => Err(unsupported(format!("function {other}()"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kahan_sum_keeps_small_terms() {
        let mut s = KahanSum::default();
        for v in [1.0, 1e100, 1.0, -1e100] {
            s.add(v);
        }
        assert_eq!(s.value(), 2.0);
        let mut m = Mean::default();
        for _ in 0..4 {
            m.add(1.7e308);
        }
        assert_eq!(m.value(), 1.7e308);
    }

    #[test]
    fn natural_order_compares_numbers() {
        let mut v = vec!["cpu10", "cpu2", "cpu1", "1.11.3", "1.2.3", "4m600", "4m5"];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            v,
            ["1.2.3", "1.11.3", "4m5", "4m600", "cpu1", "cpu2", "cpu10"]
        );
    }

    #[test]
    fn classic_bucket_quantiles() {
        let b = vec![
            (0.1, 50.0),
            (0.5, 90.0),
            (1.0, 100.0),
            (f64::INFINITY, 100.0),
        ];
        assert!((bucket_quantile(0.5, b.clone()) - 0.1).abs() < 1e-12);
        assert!((bucket_quantile(0.7, b.clone()) - 0.3).abs() < 1e-12);
        assert_eq!(bucket_quantile(1.0, b.clone()), 1.0);
        assert!(bucket_quantile(0.5, vec![(1.0, 3.0)]).is_nan());
    }
}
