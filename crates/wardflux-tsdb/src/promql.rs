//! A PromQL evaluator over any [`MetricStore`].
//!
//! Parsing is `promql-parser` (GreptimeDB's maintained parser); no maintained standalone
//! evaluator exists, so evaluation is written here. Supported: vector and range selectors with
//! `=`, `!=`, `=~`, `!~` matchers and `offset`; number literals, unary minus, parentheses;
//! arithmetic (`+ - * / % ^`), comparisons (with and without `bool`), `and`/`or`/`unless`, with
//! `on`/`ignoring` one-to-one matching; `sum avg min max count group` with `by`/`without`;
//! `rate increase irate delta` and `avg/min/max/sum/count/last_over_time`; `time()`, `vector()`,
//! `abs()`.
//!
//! Semantics follow VictoriaMetrics where it differs from Prometheus (so both backends answer
//! alike): `rate`, `increase` and `delta` start from the last sample before the window when
//! there is one and do not extrapolate; `rate` divides by the time between the samples used.
//! A bare selector takes the last sample within 5 minutes before each step. NaN results of
//! operators are dropped, and `avg/min/max/last_over_time` keep the metric name (as
//! VictoriaMetrics 1.79 does; Prometheus drops it).
//!
//! Evaluation is in two phases: every selector's samples are fetched from the store first
//! (async), then the tree is evaluated synchronously for all steps at once.

use std::collections::HashMap;

use promql_parser::label::MatchOp;
use promql_parser::parser::ast::{
    AggregateExpr, BinaryExpr, Call, LabelModifier, MatrixSelector, Offset, VectorMatchCardinality,
    VectorSelector,
};
use promql_parser::parser::token;
use promql_parser::parser::{self, Expr};

use crate::{LabelMatcher, Labels, MetricStore, QueryValue, SeriesKey, SeriesPoints, TsdbError};

/// Lookback of a bare vector selector.
pub const LOOKBACK_MS: i64 = 300_000;
const MAX_STEPS: i64 = 30_000;

/// Evaluates `query` at one instant.
pub async fn eval_instant<S: MetricStore + ?Sized>(
    store: &S,
    query: &str,
    time_ms: i64,
) -> Result<QueryValue, TsdbError> {
    let v = eval(store, query, time_ms, time_ms, 1).await?;
    Ok(match v {
        Val::Scalar(s) => QueryValue::Scalar(time_ms, s[0]),
        Val::Vector(vs) => {
            let mut out: Vec<(SeriesKey, i64, f64)> = vs
                .into_iter()
                .filter_map(|s| s.vals[0].map(|v| (s.key, time_ms, v)))
                .collect();
            out.sort_by(|a, b| a.0.cmp(&b.0));
            QueryValue::Vector(out)
        }
    })
}

/// Evaluates `query` at `start, start+step, ... <= end`.
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
    if (end_ms - start_ms) / step_ms >= MAX_STEPS {
        return Err(TsdbError::BadQuery(format!(
            "too many points: more than {MAX_STEPS} steps"
        )));
    }
    let n = ((end_ms - start_ms) / step_ms + 1) as usize;
    let v = eval(store, query, start_ms, end_ms, step_ms).await?;
    let times: Vec<i64> = (0..n as i64).map(|i| start_ms + i * step_ms).collect();
    let mut out = match v {
        Val::Scalar(s) => vec![SeriesPoints {
            key: SeriesKey::default(),
            points: times.iter().copied().zip(s).collect(),
        }],
        Val::Vector(vs) => vs
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
    };
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(QueryValue::Matrix(out))
}

#[derive(Debug, Clone)]
struct VSeries {
    key: SeriesKey,
    vals: Vec<Option<f64>>,
}

#[derive(Debug, Clone)]
enum Val {
    Scalar(Vec<f64>),
    Vector(Vec<VSeries>),
}

struct Ctx {
    start: i64,
    step: i64,
    n: usize,
    data: HashMap<usize, Vec<SeriesPoints>>,
}

fn bad(m: impl Into<String>) -> TsdbError {
    TsdbError::BadQuery(m.into())
}

fn offset_ms(o: &Option<Offset>) -> i64 {
    let ms = |d: &std::time::Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    match o {
        Some(Offset::Pos(d)) => ms(d),
        Some(Offset::Neg(d)) => -ms(d),
        None => 0,
    }
}

/// Offsets and ranges up to 1000 years: keeps the time arithmetic far from overflow.
fn check_span(ms: i64) -> Result<(), TsdbError> {
    if ms.unsigned_abs() > 1000 * 365 * 86_400_000 {
        return Err(bad("offset or range longer than 1000 years"));
    }
    Ok(())
}

fn matchers_of(vs: &VectorSelector) -> Result<Vec<LabelMatcher>, TsdbError> {
    if !vs.matchers.or_matchers.is_empty() {
        return Err(bad("`or` inside selectors is not supported"));
    }
    if vs.at.is_some() {
        return Err(bad("the @ modifier is not supported"));
    }
    let mut out = Vec::new();
    if let Some(n) = &vs.name
        && !vs.matchers.matchers.iter().any(|m| m.name == "__name__")
    {
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

/// Collects the fetches a tree needs: (node address, matchers, start, end).
fn plan(
    e: &Expr,
    start: i64,
    end: i64,
    out: &mut Vec<(usize, Vec<LabelMatcher>, i64, i64)>,
) -> Result<(), TsdbError> {
    match e {
        Expr::VectorSelector(vs) => {
            let off = offset_ms(&vs.offset);
            check_span(off)?;
            out.push((
                vs as *const VectorSelector as usize,
                matchers_of(vs)?,
                start - off - LOOKBACK_MS,
                end - off,
            ));
        }
        Expr::MatrixSelector(ms) => {
            let off = offset_ms(&ms.vs.offset);
            let r = i64::try_from(ms.range.as_millis()).unwrap_or(i64::MAX);
            check_span(off)?;
            check_span(r)?;
            // twice the range: rate/increase use the last sample before the window
            out.push((
                ms as *const MatrixSelector as usize,
                matchers_of(&ms.vs)?,
                start - off - 2 * r,
                end - off,
            ));
        }
        Expr::Aggregate(a) => {
            plan(&a.expr, start, end, out)?;
            if let Some(p) = &a.param {
                plan(p, start, end, out)?;
            }
        }
        Expr::Unary(u) => plan(&u.expr, start, end, out)?,
        Expr::Binary(b) => {
            plan(&b.lhs, start, end, out)?;
            plan(&b.rhs, start, end, out)?;
        }
        Expr::Paren(p) => plan(&p.expr, start, end, out)?,
        Expr::Call(c) => {
            for a in &c.args.args {
                plan(a, start, end, out)?;
            }
        }
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) => {}
        Expr::Subquery(_) => return Err(bad("subqueries are not supported")),
        Expr::Extension(_) => return Err(bad("unsupported expression")),
    }
    Ok(())
}

async fn eval<S: MetricStore + ?Sized>(
    store: &S,
    query: &str,
    start: i64,
    end: i64,
    step: i64,
) -> Result<Val, TsdbError> {
    let expr = parser::parse(query).map_err(bad)?;
    let mut fetches = Vec::new();
    plan(&expr, start, end, &mut fetches)?;
    let mut data = HashMap::new();
    for (id, m, s, e) in fetches {
        data.insert(id, store.raw(&m, s, e).await?);
    }
    let n = ((end - start) / step + 1) as usize;
    let ctx = Ctx {
        start,
        step,
        n,
        data,
    };
    ctx.eval(&expr)
}

fn drop_name(mut k: SeriesKey) -> SeriesKey {
    k.metric.clear();
    k
}

fn is_cmp(op: u16) -> bool {
    matches!(
        op,
        token::T_EQLC | token::T_NEQ | token::T_LTE | token::T_LSS | token::T_GTE | token::T_GTR
    )
}

/// Applies a binary operator; a NaN result is "no value" (VictoriaMetrics drops NaN points).
fn arith(op: u16, a: f64, b: f64) -> Option<f64> {
    arith_raw(op, a, b).filter(|v| !v.is_nan())
}

fn arith_raw(op: u16, a: f64, b: f64) -> Option<f64> {
    Some(match op {
        token::T_ADD => a + b,
        token::T_SUB => a - b,
        token::T_MUL => a * b,
        token::T_DIV => a / b,
        token::T_MOD => a % b,
        token::T_POW => a.powf(b),
        token::T_EQLC => f64::from(u8::from(a == b)),
        token::T_NEQ => f64::from(u8::from(a != b)),
        token::T_LTE => f64::from(u8::from(a <= b)),
        token::T_LSS => f64::from(u8::from(a < b)),
        token::T_GTE => f64::from(u8::from(a >= b)),
        token::T_GTR => f64::from(u8::from(a > b)),
        _ => return None,
    })
}

/// Labels used to match series of a binary operation.
fn signature(k: &SeriesKey, m: Option<&LabelModifier>) -> Vec<(String, String)> {
    let all = k.labels.iter().map(|(a, b)| (a.to_string(), b.to_string()));
    match m {
        Some(LabelModifier::Include(ls)) => all
            .filter(|(n, _)| ls.labels.iter().any(|l| l == n))
            .collect(),
        Some(LabelModifier::Exclude(ls)) => all
            .filter(|(n, _)| !ls.labels.iter().any(|l| l == n))
            .collect(),
        None => all.collect(),
    }
}

fn group_key(k: &SeriesKey, m: Option<&LabelModifier>) -> SeriesKey {
    let labels = match m {
        Some(LabelModifier::Include(ls)) => Labels::from_pairs(
            k.labels
                .iter()
                .filter(|(n, _)| ls.labels.iter().any(|l| l == n)),
        ),
        Some(LabelModifier::Exclude(ls)) => Labels::from_pairs(
            k.labels
                .iter()
                .filter(|(n, _)| !ls.labels.iter().any(|l| l == n)),
        ),
        None => Labels::new(),
    };
    SeriesKey {
        metric: String::new(),
        labels,
    }
}

impl Ctx {
    fn times(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.n as i64).map(|i| self.start + i * self.step)
    }

    fn eval(&self, e: &Expr) -> Result<Val, TsdbError> {
        match e {
            Expr::NumberLiteral(n) => Ok(Val::Scalar(vec![n.val; self.n])),
            Expr::Paren(p) => self.eval(&p.expr),
            Expr::Unary(u) => match self.eval(&u.expr)? {
                Val::Scalar(s) => Ok(Val::Scalar(s.into_iter().map(|v| -v).collect())),
                Val::Vector(vs) => Ok(Val::Vector(
                    vs.into_iter()
                        .map(|s| VSeries {
                            key: drop_name(s.key),
                            vals: s.vals.into_iter().map(|v| v.map(|v| -v)).collect(),
                        })
                        .collect(),
                )),
            },
            Expr::VectorSelector(vs) => Ok(Val::Vector(self.instant(vs))),
            Expr::MatrixSelector(_) => Err(bad(
                "a range vector must be passed to a function such as rate()",
            )),
            Expr::StringLiteral(_) => Err(bad("string literals are not supported here")),
            Expr::Aggregate(a) => self.aggregate(a),
            Expr::Binary(b) => self.binary(b),
            Expr::Call(c) => self.call(c),
            Expr::Subquery(_) | Expr::Extension(_) => Err(bad("unsupported expression")),
        }
    }

    fn instant(&self, vs: &VectorSelector) -> Vec<VSeries> {
        let off = offset_ms(&vs.offset);
        let data = self
            .data
            .get(&(vs as *const VectorSelector as usize))
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        data.iter()
            .map(|s| {
                let mut i = 0;
                let pts = &s.points;
                let vals = self
                    .times()
                    .map(|t| {
                        let t = t - off;
                        while i < pts.len() && pts[i].0 <= t {
                            i += 1;
                        }
                        (i > 0 && pts[i - 1].0 > t - LOOKBACK_MS).then(|| pts[i - 1].1)
                    })
                    .collect();
                VSeries {
                    key: s.key.clone(),
                    vals,
                }
            })
            .filter(|s| s.vals.iter().any(Option::is_some))
            .collect()
    }

    fn call(&self, c: &Call) -> Result<Val, TsdbError> {
        let name = c.func.name;
        match name {
            "time" => {
                return Ok(Val::Scalar(
                    self.times().map(|t| t as f64 / 1000.0).collect(),
                ));
            }
            "vector" => {
                let Some(a) = c.args.args.first() else {
                    return Err(bad("vector() needs an argument"));
                };
                return match self.eval(a)? {
                    Val::Scalar(s) => Ok(Val::Vector(vec![VSeries {
                        key: SeriesKey::default(),
                        vals: s.into_iter().map(Some).collect(),
                    }])),
                    Val::Vector(_) => Err(bad("vector() needs a scalar")),
                };
            }
            "abs" => {
                let Some(a) = c.args.args.first() else {
                    return Err(bad("abs() needs an argument"));
                };
                return match self.eval(a)? {
                    Val::Vector(vs) => Ok(Val::Vector(
                        vs.into_iter()
                            .map(|s| VSeries {
                                key: drop_name(s.key),
                                vals: s.vals.into_iter().map(|v| v.map(f64::abs)).collect(),
                            })
                            .collect(),
                    )),
                    Val::Scalar(_) => Err(bad("abs() needs a vector")),
                };
            }
            _ => {}
        }
        let f = match name {
            "rate" | "increase" | "irate" | "delta" | "avg_over_time" | "min_over_time"
            | "max_over_time" | "sum_over_time" | "count_over_time" | "last_over_time" => name,
            other => return Err(bad(format!("function {other}() is not supported"))),
        };
        let Some(Expr::MatrixSelector(ms)) = c.args.args.first().map(|b| b.as_ref()) else {
            return Err(bad(format!("{f}() needs a range vector argument")));
        };
        let off = offset_ms(&ms.vs.offset);
        let range = ms.range.as_millis() as i64;
        let data = self
            .data
            .get(&(ms as *const MatrixSelector as usize))
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let mut out = Vec::with_capacity(data.len());
        for s in data {
            let pts = &s.points;
            let (mut lo, mut hi) = (0usize, 0usize);
            let vals: Vec<Option<f64>> = self
                .times()
                .map(|t| {
                    let t = t - off;
                    while hi < pts.len() && pts[hi].0 <= t {
                        hi += 1;
                    }
                    while lo < hi && pts[lo].0 <= t - range {
                        lo += 1;
                    }
                    let w = &pts[lo..hi];
                    let prev = (lo > 0 && pts[lo - 1].0 > t - 2 * range).then(|| pts[lo - 1]);
                    window_fn(f, w, prev, range)
                })
                .collect();
            if vals.iter().any(Option::is_some) {
                out.push(VSeries {
                    // VictoriaMetrics keeps the name where the value keeps its meaning
                    key: if matches!(
                        f,
                        "avg_over_time" | "min_over_time" | "max_over_time" | "last_over_time"
                    ) {
                        s.key.clone()
                    } else {
                        drop_name(s.key.clone())
                    },
                    vals,
                });
            }
        }
        Ok(Val::Vector(out))
    }

    fn aggregate(&self, a: &AggregateExpr) -> Result<Val, TsdbError> {
        let op = a.op.id();
        if !matches!(
            op,
            token::T_SUM
                | token::T_AVG
                | token::T_MIN
                | token::T_MAX
                | token::T_COUNT
                | token::T_GROUP
        ) {
            return Err(bad(format!("aggregation {} is not supported", a.op)));
        }
        let Val::Vector(vs) = self.eval(&a.expr)? else {
            return Err(bad("aggregation needs a vector"));
        };
        let mut groups: Vec<(SeriesKey, Vec<[f64; 4]>)> = Vec::new();
        let mut idx: HashMap<SeriesKey, usize> = HashMap::new();
        for s in vs {
            let g = group_key(&s.key, a.modifier.as_ref());
            let gi = *idx.entry(g.clone()).or_insert_with(|| {
                groups.push((
                    g,
                    vec![[0.0, f64::INFINITY, f64::NEG_INFINITY, 0.0]; self.n],
                ));
                groups.len() - 1
            });
            for (acc, v) in groups[gi].1.iter_mut().zip(s.vals) {
                if let Some(v) = v {
                    acc[0] += v;
                    acc[1] = if v < acc[1] || acc[1].is_nan() {
                        v
                    } else {
                        acc[1]
                    };
                    acc[2] = if v > acc[2] || acc[2].is_nan() {
                        v
                    } else {
                        acc[2]
                    };
                    acc[3] += 1.0;
                }
            }
        }
        let out = groups
            .into_iter()
            .map(|(key, accs)| VSeries {
                key,
                vals: accs
                    .into_iter()
                    .map(|a| {
                        (a[3] > 0.0).then(|| match op {
                            token::T_SUM => a[0],
                            token::T_AVG => a[0] / a[3],
                            token::T_MIN => a[1],
                            token::T_MAX => a[2],
                            token::T_COUNT => a[3],
                            _ => 1.0,
                        })
                    })
                    .collect(),
            })
            .collect();
        Ok(Val::Vector(out))
    }

    fn binary(&self, b: &BinaryExpr) -> Result<Val, TsdbError> {
        let op = b.op.id();
        let lhs = self.eval(&b.lhs)?;
        let rhs = self.eval(&b.rhs)?;
        let ret_bool = b.return_bool();
        let modifier = b.modifier.as_ref();
        if let Some(m) = modifier
            && matches!(
                m.card,
                VectorMatchCardinality::ManyToOne(_) | VectorMatchCardinality::OneToMany(_)
            )
        {
            return Err(bad("group_left/group_right are not supported"));
        }
        let cmp = is_cmp(op);
        let scalar_left = matches!(lhs, Val::Scalar(_));
        match (lhs, rhs) {
            (Val::Scalar(l), Val::Scalar(r)) => Ok(Val::Scalar(
                l.into_iter()
                    .zip(r)
                    .map(|(a, c)| arith(op, a, c).unwrap_or(f64::NAN))
                    .collect(),
            )),
            (Val::Vector(vs), Val::Scalar(sc)) | (Val::Scalar(sc), Val::Vector(vs)) => {
                if matches!(op, token::T_LAND | token::T_LOR | token::T_LUNLESS) {
                    return Err(bad("set operators need vectors on both sides"));
                }
                let out = vs
                    .into_iter()
                    .map(|s| {
                        let keep_name = cmp && !ret_bool;
                        let vals = s
                            .vals
                            .iter()
                            .zip(&sc)
                            .map(|(v, &c)| {
                                let v = (*v)?;
                                let (x, y) = if scalar_left { (c, v) } else { (v, c) };
                                let r = arith(op, x, y)?;
                                if cmp && !ret_bool {
                                    (r == 1.0).then_some(v)
                                } else {
                                    Some(r)
                                }
                            })
                            .collect();
                        VSeries {
                            key: if keep_name { s.key } else { drop_name(s.key) },
                            vals,
                        }
                    })
                    .filter(|s| s.vals.iter().any(Option::is_some))
                    .collect();
                Ok(Val::Vector(out))
            }
            (Val::Vector(l), Val::Vector(r)) => {
                let matching = modifier.and_then(|m| m.matching.as_ref());
                let sig = |k: &SeriesKey| signature(k, matching);
                match op {
                    token::T_LAND | token::T_LUNLESS | token::T_LOR => {
                        let mut present: HashMap<Vec<(String, String)>, Vec<bool>> = HashMap::new();
                        for s in &r {
                            let p = present
                                .entry(sig(&s.key))
                                .or_insert_with(|| vec![false; self.n]);
                            for (pi, v) in p.iter_mut().zip(&s.vals) {
                                *pi |= v.is_some();
                            }
                        }
                        if op == token::T_LOR {
                            let mut lp: HashMap<Vec<(String, String)>, Vec<bool>> = HashMap::new();
                            for s in &l {
                                let p =
                                    lp.entry(sig(&s.key)).or_insert_with(|| vec![false; self.n]);
                                for (pi, v) in p.iter_mut().zip(&s.vals) {
                                    *pi |= v.is_some();
                                }
                            }
                            let mut out = l;
                            for s in r {
                                let p = lp.get(&sig(&s.key));
                                let vals: Vec<Option<f64>> = s
                                    .vals
                                    .iter()
                                    .enumerate()
                                    .map(|(i, v)| if p.is_some_and(|p| p[i]) { None } else { *v })
                                    .collect();
                                if vals.iter().any(Option::is_some) {
                                    out.push(VSeries { key: s.key, vals });
                                }
                            }
                            return Ok(Val::Vector(out));
                        }
                        let want = op == token::T_LAND;
                        let out = l
                            .into_iter()
                            .map(|s| {
                                let p = present.get(&sig(&s.key));
                                let vals = s
                                    .vals
                                    .iter()
                                    .enumerate()
                                    .map(|(i, v)| {
                                        if p.is_some_and(|p| p[i]) == want {
                                            *v
                                        } else {
                                            None
                                        }
                                    })
                                    .collect();
                                VSeries { key: s.key, vals }
                            })
                            .filter(|s| s.vals.iter().any(Option::is_some))
                            .collect();
                        Ok(Val::Vector(out))
                    }
                    _ => {
                        let mut rmap: HashMap<Vec<(String, String)>, &VSeries> = HashMap::new();
                        for s in &r {
                            if rmap.insert(sig(&s.key), s).is_some() {
                                return Err(bad(
                                    "many-to-many matching: duplicate series on the right-hand side",
                                ));
                            }
                        }
                        let mut out = Vec::new();
                        for s in l {
                            let Some(rs) = rmap.get(&sig(&s.key)) else {
                                continue;
                            };
                            let vals: Vec<Option<f64>> = s
                                .vals
                                .iter()
                                .zip(&rs.vals)
                                .map(|(a, c)| {
                                    let (a, c) = ((*a)?, (*c)?);
                                    let res = arith(op, a, c)?;
                                    if cmp && !ret_bool {
                                        (res == 1.0).then_some(a)
                                    } else {
                                        Some(res)
                                    }
                                })
                                .collect();
                            if !vals.iter().any(Option::is_some) {
                                continue;
                            }
                            let mut key = if cmp && !ret_bool {
                                s.key
                            } else {
                                drop_name(s.key)
                            };
                            if let Some(m) = matching {
                                key.labels = Labels::from_pairs(signature(&key, Some(m)));
                            }
                            out.push(VSeries { key, vals });
                        }
                        Ok(Val::Vector(out))
                    }
                }
            }
        }
    }
}

/// Applies a range function to the window `w` (samples in `(t-range, t]`), `prev` being the
/// last sample before the window (VictoriaMetrics semantics).
fn window_fn(f: &str, w: &[(i64, f64)], prev: Option<(i64, f64)>, range: i64) -> Option<f64> {
    let _ = range;
    if w.is_empty() {
        return None;
    }
    match f {
        "avg_over_time" => Some(w.iter().map(|p| p.1).sum::<f64>() / w.len() as f64),
        "min_over_time" => w.iter().map(|p| p.1).reduce(f64::min),
        "max_over_time" => w.iter().map(|p| p.1).reduce(f64::max),
        "sum_over_time" => Some(w.iter().map(|p| p.1).sum()),
        "count_over_time" => Some(w.len() as f64),
        "last_over_time" => w.last().map(|p| p.1),
        "rate" | "increase" | "delta" => {
            let (base, rest) = match prev {
                Some(p) => (p, w),
                None if w.len() >= 2 => (w[0], &w[1..]),
                None => return None,
            };
            let last = rest[rest.len() - 1];
            let d = if f == "delta" {
                last.1 - base.1
            } else {
                let mut inc = 0.0;
                let mut pv = base.1;
                for p in rest {
                    inc += if p.1 < pv { p.1 } else { p.1 - pv };
                    pv = p.1;
                }
                inc
            };
            if f == "rate" {
                let dt = (last.0 - base.0) as f64 / 1000.0;
                (dt > 0.0).then(|| d / dt)
            } else {
                Some(d)
            }
        }
        "irate" => {
            let (a, b) = if w.len() >= 2 {
                (w[w.len() - 2], w[w.len() - 1])
            } else {
                (prev?, w[0])
            };
            let dt = (b.0 - a.0) as f64 / 1000.0;
            let d = if b.1 < a.1 { b.1 } else { b.1 - a.1 };
            (dt > 0.0).then(|| d / dt)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absurd_ranges_are_errors_not_overflows() {
        let mut v = Vec::new();
        let e = parser::parse("rate(m[100000y])").unwrap();
        assert!(matches!(
            plan(&e, 0, 0, &mut v),
            Err(TsdbError::BadQuery(_))
        ));
        let e = parser::parse("m offset 100000y").unwrap();
        assert!(matches!(
            plan(&e, 0, 0, &mut v),
            Err(TsdbError::BadQuery(_))
        ));
        let e = parser::parse("rate(m[5m] offset 1h)").unwrap();
        assert!(plan(&e, 0, 0, &mut v).is_ok());
    }

    #[test]
    fn window_functions_follow_victoriametrics() {
        let w = [(20_000, 30.0), (30_000, 40.0), (40_000, 5.0)];
        let prev = Some((10_000, 20.0));
        assert_eq!(
            window_fn("increase", &w, prev, 30_000),
            Some(10.0 + 10.0 + 5.0)
        );
        assert_eq!(window_fn("rate", &w, prev, 30_000), Some(25.0 / 30.0));
        assert_eq!(window_fn("delta", &w, prev, 30_000), Some(-15.0));
        assert_eq!(window_fn("irate", &w, prev, 30_000), Some(0.5));
        assert_eq!(window_fn("avg_over_time", &w, prev, 30_000), Some(25.0));
        assert_eq!(window_fn("min_over_time", &w, prev, 30_000), Some(5.0));
        assert_eq!(window_fn("max_over_time", &w, prev, 30_000), Some(40.0));
        assert_eq!(window_fn("rate", &[], prev, 30_000), None);
        assert_eq!(window_fn("rate", &w[..1], None, 30_000), None);
    }
}
