//! A PromQL evaluator over any [`MetricStore`], with Prometheus 3 semantics.
//!
//! Parsing is `promql-parser` (GreptimeDB's maintained parser, see `docs/promql.md`); no
//! maintained standalone evaluator exists for Rust, so evaluation is written here. What is
//! supported, and where Prometheus 2 and 3 differ, is listed in `docs/promql.md`; everything
//! else is refused with [`TsdbError::Unsupported`] (HTTP 422 `unsupported: <feature>`), never
//! answered wrongly.
//!
//! Design: evaluation is in two phases. [`plan`] walks the syntax tree once and records, for
//! every selector node, the matchers and the widest time window any step, offset, `@` or
//! subquery can read; the samples of those windows are fetched from the store (the only async
//! part), counted against the [`Limits`], then the tree is evaluated synchronously for all
//! steps of the query at once ([`eval`]): an instant vector is a list of series, each with one
//! optional value per step of a time grid, so a range query costs one pass, not one pass per
//! step. Subqueries evaluate their inner expression on their own aligned grid. The modules:
//! `eval` (values, selectors, subqueries, `@`), `functions`, `aggregate`, `binary` (arithmetic,
//! comparisons, set operators, vector matching) and [`testfile`] (the `load`/`eval` test
//! format, used by the project's tests and the conformance runner).
//!
//! Sums (`sum`, `avg`, `sum_over_time`, `avg_over_time`, regression) use Kahan-Neumaier
//! compensation as Prometheus does; averages fall back to an incremental mean where the sum
//! would overflow. NaN results of operators are kept (Prometheus), not dropped.

mod aggregate;
mod binary;
mod eval;
mod functions;
mod plan;
pub mod testfile;

use std::collections::HashMap;

use crate::{MetricStore, QueryValue, SeriesKey, SeriesPoints, TsdbError};

pub use plan::{parse_expr, selector_matchers};

/// Lookback of a bare vector selector: the newest sample in `(t - 5m, t]`.
pub const LOOKBACK_MS: i64 = 300_000;
/// Step of a subquery written without one (`x[1h:]`), as Prometheus' default evaluation
/// interval.
pub const DEFAULT_SUBQUERY_STEP_MS: i64 = 60_000;

/// Bounds on what one query may read, like VictoriaMetrics' `-search.maxSeries` and
/// `-search.maxPointsPerTimeseries`. A query past a bound fails with
/// [`TsdbError::LimitExceeded`] (HTTP 422) naming the limit, before it can exhaust memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Series all selectors of one query may touch together (default 100,000).
    pub max_series: usize,
    /// Raw samples all selectors of one query may read together (default 20,000,000, about
    /// 320 MB while the query runs).
    pub max_samples: usize,
    /// Points per series of a range query, and steps of one subquery (default 30,000, as
    /// VictoriaMetrics' `-search.maxPointsPerTimeseries`).
    pub max_points_per_series: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_series: 100_000,
            max_samples: 20_000_000,
            max_points_per_series: 30_000,
        }
    }
}

tokio::task_local! {
    /// Limits of the request being served (set by the HTTP layer with [`with_limits`]).
    static LIMITS: Limits;
}

/// Runs `fut` with `limits` applying to every query it evaluates through
/// [`eval_instant`]/[`eval_range`], including those reached through the [`MetricStore`]
/// trait's default `prom_query`. A task-local rather than a parameter so the trait stays as it
/// is and backends that evaluate remotely (VictoriaMetrics) are unaffected.
pub async fn with_limits<F: std::future::Future>(limits: Limits, fut: F) -> F::Output {
    LIMITS.scope(limits, fut).await
}

fn current_limits() -> Limits {
    LIMITS.try_with(|l| *l).unwrap_or_default()
}

/// Evaluates `query` at one instant (`time_ms`). The result is a scalar, an instant vector
/// (in the order PromQL defines for `sort*`/`topk`/`bottomk`, else sorted by series), a
/// range vector (for `x[5m]` or a subquery) or a string.
pub async fn eval_instant<S: MetricStore + ?Sized>(
    store: &S,
    query: &str,
    time_ms: i64,
) -> Result<QueryValue, TsdbError> {
    let expr = parse_expr(query)?;
    let limits = current_limits();
    let grid = eval::Grid {
        start: time_ms,
        step: 1,
        n: 1,
    };
    let data = fetch(store, &expr, time_ms, time_ms, &limits).await?;
    let cx = eval::Ctx {
        data: &data,
        q_start: time_ms,
        q_end: time_ms,
        q_step: 0,
        limits,
    };
    let v = cx.eval(&expr, &grid)?;
    Ok(match v {
        eval::Val::Scalar(s) => QueryValue::Scalar(time_ms, s[0]),
        eval::Val::Str(s) => QueryValue::String(time_ms, s),
        eval::Val::Vector(vs) => {
            let mut out: Vec<(SeriesKey, i64, f64)> = vs
                .into_iter()
                .filter_map(|s| s.vals[0].map(|v| (s.key, time_ms, v)))
                .collect();
            if !plan::is_ordered(&expr) {
                out.sort_by(|a, b| a.0.cmp(&b.0));
            }
            QueryValue::Vector(out)
        }
        eval::Val::Range(r) => {
            let mut out: Vec<SeriesPoints> = r
                .series
                .iter()
                .map(|s| SeriesPoints {
                    key: s.key.clone(),
                    points: eval::window(&s.points, r.eval_time(time_ms), r.range).to_vec(),
                })
                .filter(|s| !s.points.is_empty())
                .collect();
            out.sort_by(|a, b| a.key.cmp(&b.key));
            QueryValue::Matrix(out)
        }
    })
}

/// Evaluates `query` at `start, start+step, ... <= end`; the answer is a matrix sorted by
/// series (or a one-series matrix for a scalar expression, as Prometheus answers).
pub async fn eval_range<S: MetricStore + ?Sized>(
    store: &S,
    query: &str,
    start_ms: i64,
    end_ms: i64,
    step_ms: i64,
) -> Result<QueryValue, TsdbError> {
    if step_ms <= 0 || end_ms < start_ms {
        return Err(TsdbError::BadQuery(
            "step must be > 0 and end >= start".into(),
        ));
    }
    let limits = current_limits();
    let steps = (end_ms - start_ms) / step_ms + 1;
    if steps > limits.max_points_per_series as i64 {
        return Err(TsdbError::LimitExceeded(format!(
            "the range query would return {steps} points per series, more than \
             max_points_per_series = {}; use a larger step",
            limits.max_points_per_series
        )));
    }
    let expr = parse_expr(query)?;
    let grid = eval::Grid {
        start: start_ms,
        step: step_ms,
        n: steps as usize,
    };
    let data = fetch(store, &expr, start_ms, end_ms, &limits).await?;
    let cx = eval::Ctx {
        data: &data,
        q_start: start_ms,
        q_end: end_ms,
        q_step: step_ms,
        limits,
    };
    let v = cx.eval(&expr, &grid)?;
    let times: Vec<i64> = (0..grid.n).map(|i| grid.t(i)).collect();
    let mut out = match v {
        eval::Val::Scalar(s) => vec![SeriesPoints {
            key: SeriesKey::default(),
            points: times.iter().copied().zip(s).collect(),
        }],
        eval::Val::Vector(vs) => vs
            .into_iter()
            .map(|s| SeriesPoints {
                key: s.key,
                points: times
                    .iter()
                    .zip(s.vals)
                    .filter_map(|(&t, v)| v.map(|v| (t, v)))
                    .collect(),
            })
            .filter(|s| !s.points.is_empty())
            .collect(),
        eval::Val::Range(_) | eval::Val::Str(_) => {
            return Err(TsdbError::BadQuery(
                "invalid expression type for range query: must be scalar or instant vector".into(),
            ));
        }
    };
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(QueryValue::Matrix(out))
}

/// Fetches the samples every selector of `expr` needs for a query over `[start, end]`,
/// checking the limits after each selector.
async fn fetch<S: MetricStore + ?Sized>(
    store: &S,
    expr: &promql_parser::parser::Expr,
    start: i64,
    end: i64,
    limits: &Limits,
) -> Result<HashMap<usize, Vec<SeriesPoints>>, TsdbError> {
    let mut fetches = Vec::new();
    plan::plan(
        expr,
        start,
        end,
        &plan::QueryTimes { start, end },
        &mut fetches,
    )?;
    let (mut series, mut samples) = (0usize, 0usize);
    let mut data = HashMap::with_capacity(fetches.len());
    let too_many = || {
        TsdbError::LimitExceeded(format!(
            "the query would touch more than max_series = {} series; narrow the selectors",
            limits.max_series
        ))
    };
    for f in fetches {
        if let Some(n) = store.series_count_hint(&f.matchers, f.start, f.end).await?
            && series + n > limits.max_series
        {
            return Err(too_many());
        }
        let got = store.raw(&f.matchers, f.start, f.end).await?;
        series += got.len();
        samples += got.iter().map(|s| s.points.len()).sum::<usize>();
        if series > limits.max_series {
            return Err(too_many());
        }
        if samples > limits.max_samples {
            return Err(TsdbError::LimitExceeded(format!(
                "the query would read more than max_samples = {} samples; shorten the ranges \
                 or narrow the selectors",
                limits.max_samples
            )));
        }
        data.insert(f.id, got);
    }
    Ok(data)
}
