//! Binary operators: arithmetic, comparisons (filtering or `bool`), `and`/`or`/`unless`, and
//! vector matching (`on`/`ignoring`, `group_left`/`group_right`) with Prometheus' errors for
//! ambiguous matches. Matching is decided per step, as Prometheus does.

use std::collections::HashMap;

use promql_parser::parser::ast::{BinaryExpr, LabelModifier, VectorMatchCardinality};
use promql_parser::parser::token;

use super::eval::{Ctx, Grid, VSeries, Val, bad, exec, key_text};
use crate::{Labels, SeriesKey, TsdbError};

pub(super) fn is_comparison(op: u16) -> bool {
    matches!(
        op,
        token::T_EQLC | token::T_NEQ | token::T_LTE | token::T_LSS | token::T_GTE | token::T_GTR
    )
}

/// `a op b`; for comparisons 1.0 (true) or 0.0 (false).
pub(super) fn apply(op: u16, a: f64, b: f64) -> f64 {
    let t = |c: bool| f64::from(u8::from(c));
    match op {
        token::T_ADD => a + b,
        token::T_SUB => a - b,
        token::T_MUL => a * b,
        token::T_DIV => a / b,
        token::T_MOD => a % b,
        token::T_POW => a.powf(b),
        token::T_ATAN2 => a.atan2(b),
        token::T_EQLC => t(a == b),
        token::T_NEQ => t(a != b),
        token::T_LTE => t(a <= b),
        token::T_LSS => t(a < b),
        token::T_GTE => t(a >= b),
        token::T_GTR => t(a > b),
        _ => f64::NAN,
    }
}

pub(super) fn eval<'a>(cx: &Ctx<'a>, b: &'a BinaryExpr, g: &Grid) -> Result<Val<'a>, TsdbError> {
    let op = b.op.id();
    let lhs = cx.eval(&b.lhs, g)?;
    let rhs = cx.eval(&b.rhs, g)?;
    let ret_bool = b.return_bool();
    let cmp = is_comparison(op);
    let (vs, sc, scalar_left) = match (lhs, rhs) {
        (Val::Scalar(l), Val::Scalar(r)) => {
            return Ok(Val::Scalar(
                l.into_iter().zip(r).map(|(a, c)| apply(op, a, c)).collect(),
            ));
        }
        (Val::Vector(v), Val::Scalar(s)) => (v, s, false),
        (Val::Scalar(s), Val::Vector(v)) => (v, s, true),
        (Val::Vector(l), Val::Vector(r)) => {
            let card = b
                .modifier
                .as_ref()
                .map_or(&VectorMatchCardinality::OneToOne, |m| &m.card);
            let matching = b.modifier.as_ref().and_then(|m| m.matching.as_ref());
            if let Some(m) = &b.modifier
                && (m.fill_values.lhs.is_some() || m.fill_values.rhs.is_some())
            {
                return Err(super::eval::unsupported(
                    "fill modifiers of binary operators",
                ));
            }
            return Ok(Val::Vector(match op {
                token::T_LAND | token::T_LOR | token::T_LUNLESS => set_op(op, l, r, matching, g)?,
                _ => match_vectors(op, l, r, card, matching, ret_bool, g)?,
            }));
        }
        _ => {
            return Err(bad(
                "binary operators need scalar or instant vector operands",
            ));
        }
    };
    if matches!(op, token::T_LAND | token::T_LOR | token::T_LUNLESS) {
        return Err(bad("set operators need instant vectors on both sides"));
    }
    let keep_name = cmp && !ret_bool;
    let out = super::functions::map_series(vs, keep_name, |v, i| {
        let c = sc[i];
        let (x, y) = if scalar_left { (c, v) } else { (v, c) };
        let r = apply(op, x, y);
        if keep_name {
            (r == 1.0).then_some(v)
        } else {
            Some(r)
        }
    })?;
    Ok(Val::Vector(out))
}

/// The labels series are matched on: `on(...)` the listed ones (the metric name only if
/// listed), `ignoring(...)` and the default all but the listed ones and the metric name.
fn signature(k: &SeriesKey, m: Option<&LabelModifier>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    match m {
        Some(LabelModifier::Include(ls)) => {
            for n in &ls.labels {
                if let Some(v) = k.label(n).filter(|v| !v.is_empty()) {
                    out.push((n.clone(), v.to_string()));
                }
            }
            out.sort();
            out.dedup();
        }
        Some(LabelModifier::Exclude(ls)) => {
            for (n, v) in k.labels.iter() {
                if !ls.labels.iter().any(|l| l == n) {
                    out.push((n.to_string(), v.to_string()));
                }
            }
        }
        None => {
            for (n, v) in k.labels.iter() {
                out.push((n.to_string(), v.to_string()));
            }
        }
    }
    out
}

/// Interns signatures to small integers.
fn sig_ids(
    series: &[VSeries],
    m: Option<&LabelModifier>,
    ids: &mut HashMap<Vec<(String, String)>, usize>,
) -> Vec<usize> {
    series
        .iter()
        .map(|s| {
            let sig = signature(&s.key, m);
            let n = ids.len();
            *ids.entry(sig).or_insert(n)
        })
        .collect()
}

fn set_op(
    op: u16,
    l: Vec<VSeries>,
    r: Vec<VSeries>,
    m: Option<&LabelModifier>,
    g: &Grid,
) -> Result<Vec<VSeries>, TsdbError> {
    let mut ids = HashMap::new();
    let ls = sig_ids(&l, m, &mut ids);
    let rs = sig_ids(&r, m, &mut ids);
    let present = |side: &[VSeries], sigs: &[usize]| {
        let mut p = vec![vec![false; g.n]; ids.len()];
        for (s, &id) in side.iter().zip(sigs) {
            for (pi, v) in p[id].iter_mut().zip(&s.vals) {
                *pi |= v.is_some();
            }
        }
        p
    };
    match op {
        token::T_LAND | token::T_LUNLESS => {
            let rp = present(&r, &rs);
            let want = op == token::T_LAND;
            Ok(l.into_iter()
                .zip(ls)
                .filter_map(|(s, id)| {
                    let vals: Vec<Option<f64>> = s
                        .vals
                        .iter()
                        .enumerate()
                        .map(|(i, v)| if rp[id][i] == want { *v } else { None })
                        .collect();
                    vals.iter()
                        .any(Option::is_some)
                        .then_some(VSeries { key: s.key, vals })
                })
                .collect())
        }
        _ => {
            let lp = present(&l, &ls);
            let mut out = l;
            let mut idx: HashMap<SeriesKey, usize> = out
                .iter()
                .enumerate()
                .map(|(i, s)| (s.key.clone(), i))
                .collect();
            for (s, id) in r.into_iter().zip(rs) {
                let vals: Vec<Option<f64>> = s
                    .vals
                    .iter()
                    .enumerate()
                    .map(|(i, v)| if lp[id][i] { None } else { *v })
                    .collect();
                if !vals.iter().any(Option::is_some) {
                    continue;
                }
                match idx.get(&s.key) {
                    Some(&i) => {
                        for (a, b) in out[i].vals.iter_mut().zip(vals) {
                            if a.is_none() {
                                *a = b;
                            }
                        }
                    }
                    None => {
                        idx.insert(s.key.clone(), out.len());
                        out.push(VSeries { key: s.key, vals });
                    }
                }
            }
            Ok(out)
        }
    }
}

/// The labels of a result of vector matching, from the "many" side (Prometheus'
/// `resultMetric`).
fn result_key(
    many: &SeriesKey,
    one: &SeriesKey,
    drop: bool,
    card: &VectorMatchCardinality,
    m: Option<&LabelModifier>,
) -> SeriesKey {
    let mut metric = if drop {
        crate::no_name()
    } else {
        many.metric.clone()
    };
    let mut labels: Vec<(String, String)> = many
        .labels
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    if matches!(card, VectorMatchCardinality::OneToOne) {
        match m {
            Some(LabelModifier::Include(on)) => {
                labels.retain(|(n, _)| on.labels.iter().any(|l| l == n));
                if !on.labels.iter().any(|l| l == "__name__") {
                    metric = crate::no_name();
                }
            }
            Some(LabelModifier::Exclude(ign)) => {
                labels.retain(|(n, _)| !ign.labels.iter().any(|l| l == n));
                if ign.labels.iter().any(|l| l == "__name__") {
                    metric = crate::no_name();
                }
            }
            None => {}
        }
    }
    if let Some(include) = card.labels() {
        for n in &include.labels {
            labels.retain(|(k, _)| k != n);
            match one.label(n).filter(|v| !v.is_empty()) {
                Some(v) if n == "__name__" => metric = v.into(),
                Some(v) => labels.push((n.clone(), v.to_string())),
                None if n == "__name__" => metric = crate::no_name(),
                None => {}
            }
        }
    }
    SeriesKey {
        metric,
        labels: Labels::from_pairs(labels),
    }
}

fn match_vectors(
    op: u16,
    l: Vec<VSeries>,
    r: Vec<VSeries>,
    card: &VectorMatchCardinality,
    m: Option<&LabelModifier>,
    ret_bool: bool,
    g: &Grid,
) -> Result<Vec<VSeries>, TsdbError> {
    let swapped = matches!(card, VectorMatchCardinality::OneToMany(_));
    let (many, one) = if swapped { (r, l) } else { (l, r) };
    let mut ids = HashMap::new();
    let many_sig = sig_ids(&many, m, &mut ids);
    let one_sig = sig_ids(&one, m, &mut ids);
    let cmp = is_comparison(op);
    let drop = !cmp || ret_bool;
    let one_side = if swapped { "left" } else { "right" };
    // per step: signature -> index of the "one" series with a value there
    let mut slot: Vec<(usize, usize)> = vec![(usize::MAX, usize::MAX); ids.len()];
    let mut pair_out: HashMap<(usize, usize), usize> = HashMap::new();
    let mut out: Vec<VSeries> = Vec::new();
    let mut out_idx: HashMap<SeriesKey, usize> = HashMap::new();
    let mut many_seen: Vec<usize> = vec![usize::MAX; ids.len()];
    for i in 0..g.n {
        for (j, s) in one.iter().enumerate() {
            if s.vals[i].is_none() {
                continue;
            }
            let sig = one_sig[j];
            if slot[sig].0 == i {
                return Err(exec(format!(
                    "found duplicate series for the match group on the {one_side} hand-side of \
                     the operation: [{}, {}]; many-to-many matching not allowed: matching \
                     labels must be unique on one side",
                    key_text(&one[slot[sig].1].key),
                    key_text(&s.key)
                )));
            }
            slot[sig] = (i, j);
        }
        for (j, s) in many.iter().enumerate() {
            let Some(mv) = s.vals[i] else { continue };
            let sig = many_sig[j];
            if slot[sig].0 != i {
                continue;
            }
            let k = slot[sig].1;
            let Some(ov) = one[k].vals[i] else { continue };
            if matches!(card, VectorMatchCardinality::OneToOne) {
                if many_seen[sig] == i {
                    return Err(exec(format!(
                        "multiple matches for labels: many-to-one matching must be explicit \
                         (group_left/group_right): {}",
                        key_text(&s.key)
                    )));
                }
                many_seen[sig] = i;
            }
            let (lv, rv) = if swapped { (ov, mv) } else { (mv, ov) };
            let res = apply(op, lv, rv);
            let v = if !cmp || ret_bool {
                res
            } else if res == 1.0 {
                lv
            } else {
                continue;
            };
            let oi = match pair_out.get(&(j, k)) {
                Some(&oi) => oi,
                None => {
                    let key = result_key(&s.key, &one[k].key, drop, card, m);
                    let oi = match out_idx.get(&key) {
                        Some(&oi) => oi,
                        None => {
                            out_idx.insert(key.clone(), out.len());
                            out.push(VSeries {
                                key,
                                vals: vec![None; g.n],
                            });
                            out.len() - 1
                        }
                    };
                    pair_out.insert((j, k), oi);
                    oi
                }
            };
            if out[oi].vals[i].is_some() {
                return Err(exec(format!(
                    "multiple matches for labels: grouping labels must ensure unique matches: {}",
                    key_text(&out[oi].key)
                )));
            }
            out[oi].vals[i] = Some(v);
        }
    }
    Ok(out)
}
