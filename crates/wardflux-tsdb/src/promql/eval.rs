//! Values, the evaluation context, selectors, subqueries and the `@` modifier.

use std::borrow::Cow;
use std::collections::HashMap;

use promql_parser::parser::Expr;
use promql_parser::parser::ast::{MatrixSelector, SubqueryExpr, VectorSelector};

use super::plan::{at_ms, dur_ms, node_id, offset_ms, subquery_first};
use super::{DEFAULT_SUBQUERY_STEP_MS, LOOKBACK_MS, Limits};
use crate::{SeriesKey, SeriesPoints, TsdbError};

/// Prometheus' staleness marker: a NaN with this bit pattern ends a series.
pub(super) const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

pub(super) fn is_stale(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// A sample: (time in ms, value).
pub(super) type Point = (i64, f64);

/// Evaluation times `start + i*step` for `i < n`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Grid {
    pub start: i64,
    pub step: i64,
    pub n: usize,
}

impl Grid {
    pub fn t(&self, i: usize) -> i64 {
        self.start + i as i64 * self.step
    }
}

/// One series of an instant vector: a value (or none) per step of the grid.
#[derive(Debug, Clone)]
pub(super) struct VSeries {
    pub key: SeriesKey,
    pub vals: Vec<Option<f64>>,
}

/// A range vector: raw points, and how a step's time maps to its window
/// `(T - range, T]` with `T = (at or t) - offset`.
#[derive(Debug)]
pub(super) struct RangeVal<'a> {
    pub series: Cow<'a, [SeriesPoints]>,
    pub range: i64,
    pub offset: i64,
    pub at: Option<i64>,
    /// The selector, when the range vector is one (absent_over_time takes its labels).
    pub selector: Option<&'a VectorSelector>,
}

impl RangeVal<'_> {
    pub fn eval_time(&self, t: i64) -> i64 {
        self.at.unwrap_or(t) - self.offset
    }
}

#[derive(Debug)]
pub(super) enum Val<'a> {
    Scalar(Vec<f64>),
    Vector(Vec<VSeries>),
    Range(RangeVal<'a>),
    Str(String),
}

/// The points of `pts` (sorted by time) in `(end - range, end]`.
pub(super) fn window(pts: &[(i64, f64)], end: i64, range: i64) -> &[(i64, f64)] {
    let hi = pts.partition_point(|p| p.0 <= end);
    let lo = pts[..hi].partition_point(|p| p.0 <= end - range);
    &pts[lo..hi]
}

pub(super) fn bad(m: impl Into<String>) -> TsdbError {
    TsdbError::BadQuery(m.into())
}

pub(super) fn exec(m: impl Into<String>) -> TsdbError {
    TsdbError::Execution(m.into())
}

pub(super) fn unsupported(m: impl Into<String>) -> TsdbError {
    TsdbError::Unsupported(m.into())
}

/// Everything evaluation reads: the fetched samples by selector node, and the query's times.
pub(super) struct Ctx<'a> {
    pub data: &'a HashMap<usize, Vec<SeriesPoints>>,
    pub q_start: i64,
    pub q_end: i64,
    /// 0 for an instant query.
    pub q_step: i64,
    pub limits: Limits,
}

impl<'a> Ctx<'a> {
    pub fn eval(&self, e: &'a Expr, g: &Grid) -> Result<Val<'a>, TsdbError> {
        match e {
            Expr::NumberLiteral(n) => Ok(Val::Scalar(vec![n.val; g.n])),
            Expr::StringLiteral(s) => Ok(Val::Str(s.val.clone())),
            Expr::Paren(p) => self.eval(&p.expr, g),
            Expr::Unary(u) => match self.eval(&u.expr, g)? {
                Val::Scalar(s) => Ok(Val::Scalar(s.into_iter().map(|v| -v).collect())),
                Val::Vector(vs) => {
                    let out = vs
                        .into_iter()
                        .map(|s| VSeries {
                            key: drop_name(s.key),
                            vals: s.vals.into_iter().map(|v| v.map(|v| -v)).collect(),
                        })
                        .collect();
                    Ok(Val::Vector(merge_same_labels(out)?))
                }
                _ => Err(bad("unary minus needs a scalar or an instant vector")),
            },
            Expr::VectorSelector(vs) => Ok(Val::Vector(self.instant_selector(vs, g))),
            Expr::MatrixSelector(ms) => Ok(Val::Range(self.range_selector(ms))),
            Expr::Subquery(sq) => Ok(Val::Range(self.subquery(sq, g)?)),
            Expr::Aggregate(a) => super::aggregate::eval(self, a, g),
            Expr::Binary(b) => super::binary::eval(self, b, g),
            Expr::Call(c) => super::functions::call(self, c, g),
            Expr::Extension(_) => Err(unsupported("extension expressions")),
        }
    }

    pub fn at(&self, at: &Option<promql_parser::parser::ast::AtModifier>) -> Option<i64> {
        at_ms(at, self.q_start, self.q_end)
    }

    fn fetched(&self, id: usize) -> &'a [SeriesPoints] {
        self.data.get(&id).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The newest sample in `(T - 5m, T]` of each series at each step (none if it is a
    /// staleness marker).
    pub fn instant_selector(&self, vs: &VectorSelector, g: &Grid) -> Vec<VSeries> {
        self.instant_points(vs, g)
            .into_iter()
            .map(|(key, pts)| VSeries {
                key,
                vals: pts.into_iter().map(|p| p.map(|p| p.1)).collect(),
            })
            .collect()
    }

    /// Like [`Self::instant_selector`], with the timestamp of each value (for `timestamp()`).
    pub fn instant_points(
        &self,
        vs: &VectorSelector,
        g: &Grid,
    ) -> Vec<(SeriesKey, Vec<Option<Point>>)> {
        let off = offset_ms(&vs.offset);
        let at = self.at(&vs.at);
        let mut out = Vec::new();
        for s in self.fetched(node_id(vs)) {
            let pts = &s.points;
            let mut hi = 0usize;
            let mut any = false;
            let vals: Vec<Option<Point>> = (0..g.n)
                .map(|i| {
                    let t = at.unwrap_or(g.t(i)) - off;
                    if at.is_some() {
                        hi = pts.partition_point(|p| p.0 <= t);
                    } else {
                        while hi < pts.len() && pts[hi].0 <= t {
                            hi += 1;
                        }
                    }
                    let p = *pts.get(hi.checked_sub(1)?)?;
                    let v = (p.0 > t - LOOKBACK_MS && !is_stale(p.1)).then_some(p);
                    any |= v.is_some();
                    v
                })
                .collect();
            if any {
                out.push((s.key.clone(), vals));
            }
        }
        out
    }

    pub fn range_selector(&self, ms: &'a MatrixSelector) -> RangeVal<'a> {
        let data = self.fetched(node_id(ms));
        let series = if data.iter().any(|s| s.points.iter().any(|p| is_stale(p.1))) {
            Cow::Owned(
                data.iter()
                    .map(|s| SeriesPoints {
                        key: s.key.clone(),
                        points: s
                            .points
                            .iter()
                            .copied()
                            .filter(|p| !is_stale(p.1))
                            .collect(),
                    })
                    .collect(),
            )
        } else {
            Cow::Borrowed(data)
        };
        RangeVal {
            series,
            range: dur_ms(&ms.range),
            offset: offset_ms(&ms.vs.offset),
            at: self.at(&ms.vs.at),
            selector: Some(&ms.vs),
        }
    }

    /// Evaluates the inner expression on its own grid (multiples of the subquery step) and
    /// keeps the points as a range vector.
    fn subquery(&self, sq: &'a SubqueryExpr, g: &Grid) -> Result<RangeVal<'a>, TsdbError> {
        let off = offset_ms(&sq.offset);
        let at = self.at(&sq.at);
        let range = dur_ms(&sq.range);
        let step = sq.step.as_ref().map_or(DEFAULT_SUBQUERY_STEP_MS, dur_ms);
        if step <= 0 {
            return Err(bad("subquery step must be positive"));
        }
        let (lo, hi) = match at {
            Some(a) => (a - off, a - off),
            None => (g.start - off, g.t(g.n - 1) - off),
        };
        let first = subquery_first(lo, range, step);
        let mut series = Vec::new();
        if hi >= first {
            let n = (hi - first) / step + 1;
            if n > self.limits.max_points_per_series as i64 {
                return Err(TsdbError::LimitExceeded(format!(
                    "a subquery would evaluate {n} steps, more than max_points_per_series = {}",
                    self.limits.max_points_per_series
                )));
            }
            let inner = Grid {
                start: first,
                step,
                n: n as usize,
            };
            match self.eval(&sq.expr, &inner)? {
                Val::Vector(vs) => {
                    for s in vs {
                        let points: Vec<(i64, f64)> = s
                            .vals
                            .iter()
                            .enumerate()
                            .filter_map(|(i, v)| v.map(|v| (inner.t(i), v)))
                            .collect();
                        if !points.is_empty() {
                            series.push(SeriesPoints { key: s.key, points });
                        }
                    }
                }
                Val::Scalar(s) => series.push(SeriesPoints {
                    key: SeriesKey::default(),
                    points: s
                        .into_iter()
                        .enumerate()
                        .map(|(i, v)| (inner.t(i), v))
                        .collect(),
                }),
                _ => {
                    return Err(bad(
                        "a subquery needs an instant vector or scalar expression",
                    ));
                }
            }
        }
        Ok(RangeVal {
            series: Cow::Owned(series),
            range,
            offset: off,
            at,
            selector: None,
        })
    }
}

pub(super) fn drop_name(mut k: SeriesKey) -> SeriesKey {
    k.metric = crate::no_name();
    k
}

/// Merges series whose label sets became equal (after dropping the metric name or relabeling)
/// when they never have a value at the same step; PromQL refuses a vector holding one label
/// set twice.
pub(super) fn merge_same_labels(vs: Vec<VSeries>) -> Result<Vec<VSeries>, TsdbError> {
    // the usual case, all label sets distinct, is settled by hashes without copying keys
    use std::hash::BuildHasher as _;
    let hasher = std::hash::RandomState::new();
    let mut hashes: Vec<u64> = vs.iter().map(|s| hasher.hash_one(&s.key)).collect();
    hashes.sort_unstable();
    if hashes.windows(2).all(|w| w[0] != w[1]) {
        return Ok(vs);
    }
    let mut idx: HashMap<SeriesKey, usize> = HashMap::with_capacity(vs.len());
    let mut out: Vec<VSeries> = Vec::with_capacity(vs.len());
    for s in vs {
        match idx.get(&s.key) {
            None => {
                idx.insert(s.key.clone(), out.len());
                out.push(s);
            }
            Some(&i) => {
                let o = &mut out[i];
                for (a, b) in o.vals.iter_mut().zip(s.vals) {
                    if b.is_some() {
                        if a.is_some() {
                            return Err(exec(format!(
                                "vector cannot contain metrics with the same labelset: {}",
                                key_text(&s.key)
                            )));
                        }
                        *a = b;
                    }
                }
            }
        }
    }
    Ok(out)
}

/// `{a="1", b="2"}` (with the metric name first when there is one), for error messages.
pub(super) fn key_text(k: &SeriesKey) -> String {
    let labels: Vec<String> = k.labels.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
    format!("{}{{{}}}", k.metric, labels.join(", "))
}
