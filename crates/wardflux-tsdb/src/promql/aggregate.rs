//! Aggregation operators: `sum avg min max count group stddev stdvar quantile topk bottomk
//! limitk count_values`, with `by`/`without`, per step.

use std::collections::HashMap;

use promql_parser::parser::Expr;
use promql_parser::parser::ast::{AggregateExpr, LabelModifier};
use promql_parser::parser::token;

use super::eval::{Ctx, Grid, VSeries, Val, bad, unsupported};
use super::functions::{KahanSum, Mean, StdDev, go_max, go_min, quantile};
use crate::http::fmt_value;
use crate::{Labels, SeriesKey, TsdbError};

/// The group a series belongs to: `by` keeps the listed labels (the metric name too if
/// listed), `without` drops the listed ones and the metric name.
fn group_key(k: &SeriesKey, m: Option<&LabelModifier>) -> SeriesKey {
    match m {
        Some(LabelModifier::Include(ls)) => SeriesKey {
            metric: if ls.labels.iter().any(|l| l == "__name__") {
                k.metric.clone()
            } else {
                crate::no_name()
            },
            labels: Labels::from_pairs(
                k.labels
                    .iter()
                    .filter(|(n, _)| ls.labels.iter().any(|l| l == n)),
            ),
        },
        Some(LabelModifier::Exclude(ls)) => SeriesKey {
            metric: crate::no_name(),
            labels: Labels::from_pairs(
                k.labels
                    .iter()
                    .filter(|(n, _)| !ls.labels.iter().any(|l| l == n)),
            ),
        },
        None => SeriesKey::default(),
    }
}

fn scalar_param<'a>(cx: &Ctx<'a>, p: Option<&'a Expr>, g: &Grid) -> Result<Vec<f64>, TsdbError> {
    match p.map(|p| cx.eval(p, g)).transpose()? {
        Some(Val::Scalar(s)) => Ok(s),
        _ => Err(bad("this aggregation needs a scalar parameter")),
    }
}

fn string_param(p: Option<&Expr>) -> Result<String, TsdbError> {
    match p {
        Some(Expr::StringLiteral(s)) => Ok(s.val.clone()),
        Some(Expr::Paren(p)) => string_param(Some(&p.expr)),
        _ => Err(bad("count_values needs a string parameter")),
    }
}

pub(super) fn eval<'a>(cx: &Ctx<'a>, a: &'a AggregateExpr, g: &Grid) -> Result<Val<'a>, TsdbError> {
    let op = a.op.id();
    let param = a.param.as_deref();
    let Val::Vector(vs) = cx.eval(&a.expr, g)? else {
        return Err(bad(format!("{} needs an instant vector", a.op)));
    };
    let m = a.modifier.as_ref();
    // group index of every series
    let mut groups: Vec<SeriesKey> = Vec::new();
    let mut idx: HashMap<SeriesKey, usize> = HashMap::new();
    let member: Vec<usize> = vs
        .iter()
        .map(|s| {
            let k = group_key(&s.key, m);
            let n = groups.len();
            *idx.entry(k.clone()).or_insert_with(|| {
                groups.push(k);
                n
            })
        })
        .collect();
    let out = match op {
        token::T_TOPK | token::T_BOTTOMK | token::T_LIMITK => {
            let k = scalar_param(cx, param, g)?;
            select_k(op, vs, &member, groups.len(), &k, g)
        }
        token::T_COUNT_VALUES => {
            let label = string_param(param)?;
            if label.is_empty() || !crate::http::valid_label_name(&label) {
                return Err(bad(format!("invalid label name {label:?}")));
            }
            count_values(&label, vs, &member, &groups, g)
        }
        token::T_LIMIT_RATIO => return Err(unsupported("limit_ratio")),
        token::T_QUANTILE => {
            let q = scalar_param(cx, param, g)?;
            let mut vals: Vec<Vec<Vec<f64>>> = vec![vec![Vec::new(); g.n]; groups.len()];
            for (s, &gi) in vs.iter().zip(&member) {
                for (i, v) in s.vals.iter().enumerate() {
                    if let Some(v) = v {
                        vals[gi][i].push(*v);
                    }
                }
            }
            groups
                .into_iter()
                .zip(vals)
                .map(|(key, per_step)| VSeries {
                    key,
                    vals: per_step
                        .into_iter()
                        .enumerate()
                        .map(|(i, mut v)| (!v.is_empty()).then(|| quantile(q[i], &mut v)))
                        .collect(),
                })
                .collect()
        }
        token::T_SUM
        | token::T_AVG
        | token::T_MIN
        | token::T_MAX
        | token::T_COUNT
        | token::T_GROUP
        | token::T_STDDEV
        | token::T_STDVAR => fold(op, vs, &member, groups, g),
        _ => return Err(unsupported(format!("aggregation {}", a.op))),
    };
    Ok(Val::Vector(out))
}

#[derive(Clone, Default)]
struct Acc {
    count: f64,
    sum: KahanSum,
    mean: Mean,
    sd: StdDev,
    ext: f64,
}

fn fold(
    op: u16,
    vs: Vec<VSeries>,
    member: &[usize],
    groups: Vec<SeriesKey>,
    g: &Grid,
) -> Vec<VSeries> {
    let mut accs: Vec<Vec<Acc>> = vec![vec![Acc::default(); g.n]; groups.len()];
    for (s, &gi) in vs.iter().zip(member) {
        for (acc, v) in accs[gi].iter_mut().zip(&s.vals) {
            let Some(v) = *v else { continue };
            acc.count += 1.0;
            match op {
                token::T_SUM => acc.sum.add(v),
                token::T_AVG => acc.mean.add(v),
                token::T_STDDEV | token::T_STDVAR => acc.sd.add(v),
                token::T_MIN => {
                    acc.ext = if acc.count == 1.0 {
                        v
                    } else {
                        go_min_nan_last(acc.ext, v)
                    }
                }
                token::T_MAX => {
                    acc.ext = if acc.count == 1.0 {
                        v
                    } else {
                        go_max_nan_last(acc.ext, v)
                    }
                }
                _ => {}
            }
        }
    }
    groups
        .into_iter()
        .zip(accs)
        .map(|(key, accs)| VSeries {
            key,
            vals: accs
                .into_iter()
                .map(|a| {
                    (a.count > 0.0).then(|| match op {
                        token::T_SUM => a.sum.value(),
                        token::T_AVG => a.mean.value(),
                        token::T_MIN | token::T_MAX => a.ext,
                        token::T_COUNT => a.count,
                        token::T_STDVAR => a.sd.variance(),
                        token::T_STDDEV => a.sd.variance().sqrt(),
                        _ => 1.0,
                    })
                })
                .collect(),
        })
        .collect()
}

/// min/max keeping a number over NaN (NaN only when every value is NaN), as Prometheus.
fn go_min_nan_last(acc: f64, v: f64) -> f64 {
    if acc.is_nan() {
        v
    } else if v.is_nan() {
        acc
    } else {
        go_min(acc, v)
    }
}

fn go_max_nan_last(acc: f64, v: f64) -> f64 {
    if acc.is_nan() {
        v
    } else if v.is_nan() {
        acc
    } else {
        go_max(acc, v)
    }
}

/// `topk`/`bottomk`/`limitk`: the selected series keep their labels; per group and step,
/// sorted by value (NaN last). Output order: by group, then by value at the last step
/// (the order of an instant query's answer).
fn select_k(
    op: u16,
    vs: Vec<VSeries>,
    member: &[usize],
    n_groups: usize,
    k: &[f64],
    g: &Grid,
) -> Vec<VSeries> {
    let mut keep: Vec<Vec<bool>> = vec![vec![false; g.n]; vs.len()];
    let mut by_group: Vec<Vec<usize>> = vec![Vec::new(); n_groups];
    for (si, &gi) in member.iter().enumerate() {
        by_group[gi].push(si);
    }
    let mut order: Vec<usize> = Vec::new();
    for (i, &kf) in k.iter().enumerate().take(g.n) {
        let kk = if kf.is_nan() || kf < 1.0 {
            0
        } else {
            kf.min(1e15) as usize
        };
        for members in &by_group {
            let mut cand: Vec<usize> = members
                .iter()
                .copied()
                .filter(|&si| vs[si].vals[i].is_some())
                .collect();
            if op != token::T_LIMITK {
                cand.sort_by(|&a, &b| {
                    let (x, y) = (vs[a].vals[i].unwrap_or(0.0), vs[b].vals[i].unwrap_or(0.0));
                    match (x.is_nan(), y.is_nan()) {
                        (true, true) => std::cmp::Ordering::Equal,
                        (true, false) => std::cmp::Ordering::Greater,
                        (false, true) => std::cmp::Ordering::Less,
                        _ if op == token::T_TOPK => y.total_cmp(&x),
                        _ => x.total_cmp(&y),
                    }
                });
            }
            cand.truncate(kk);
            for &si in &cand {
                keep[si][i] = true;
            }
            if i + 1 == g.n {
                order.extend(cand);
            }
        }
    }
    let mut vs: Vec<Option<VSeries>> = vs.into_iter().map(Some).collect();
    let mut out: Vec<VSeries> = Vec::new();
    let mut taken = vec![false; vs.len()];
    let mut push = |si: usize, vs: &mut Vec<Option<VSeries>>| {
        if taken[si] {
            return;
        }
        taken[si] = true;
        if let Some(mut s) = vs[si].take() {
            for (v, &kp) in s.vals.iter_mut().zip(&keep[si]) {
                if !kp {
                    *v = None;
                }
            }
            if s.vals.iter().any(Option::is_some) {
                out.push(s);
            }
        }
    };
    for si in order {
        push(si, &mut vs);
    }
    for si in 0..vs.len() {
        push(si, &mut vs);
    }
    out
}

fn count_values(
    label: &str,
    vs: Vec<VSeries>,
    member: &[usize],
    groups: &[SeriesKey],
    g: &Grid,
) -> Vec<VSeries> {
    let mut out: Vec<VSeries> = Vec::new();
    let mut idx: HashMap<SeriesKey, usize> = HashMap::new();
    for (s, &gi) in vs.iter().zip(member) {
        for (i, v) in s.vals.iter().enumerate() {
            let Some(v) = v else { continue };
            let mut key = groups[gi].clone();
            if label == "__name__" {
                key.metric = fmt_value(*v).into();
            } else {
                key.labels.insert(label, fmt_value(*v));
            }
            let oi = *idx.entry(key.clone()).or_insert_with(|| {
                out.push(VSeries {
                    key,
                    vals: vec![None; g.n],
                });
                out.len() - 1
            });
            let c = out[oi].vals[i].get_or_insert(0.0);
            *c += 1.0;
        }
    }
    out
}
