//! Time helpers shared by blocks and queries: sorting and deduplication, 5-minute rollup
//! buckets (min, max, sum, count, last) and the step grid of range queries.

use crate::{Aggregation, RangeQuery, SeriesKey};

/// Rollup bucket width.
pub const ROLLUP_MS: i64 = 300_000;
/// Per-bucket rollup: min, max, sum, count, last.
pub(super) type Roll = [f64; 5];
/// Rollup buckets of one series.
pub(super) type SeriesRolls = (SeriesKey, Vec<(i64, Roll)>);
/// Sorts by time and keeps the last written value of equal timestamps.
pub(super) fn sort_dedup(v: &mut Vec<(i64, f64)>) {
    if !v.windows(2).all(|w| w[0].0 < w[1].0) {
        // stable sort keeps write order among equal timestamps; keep the last one
        v.sort_by_key(|p| p.0);
        let mut out: Vec<(i64, f64)> = Vec::with_capacity(v.len());
        for &p in v.iter() {
            match out.last_mut() {
                Some(l) if l.0 == p.0 => *l = p,
                _ => out.push(p),
            }
        }
        *v = out;
    }
}

pub(super) fn bucket_end(ts: i64) -> i64 {
    (ts + ROLLUP_MS - 1).div_euclid(ROLLUP_MS) * ROLLUP_MS
}

pub(super) fn rollup(samples: &[(i64, f64)]) -> Vec<(i64, Roll)> {
    let mut out: Vec<(i64, Roll)> = Vec::new();
    for &(t, v) in samples {
        let e = bucket_end(t);
        match out.last_mut() {
            Some((le, r)) if *le == e => {
                r[0] = r[0].min(v);
                r[1] = r[1].max(v);
                r[2] += v;
                r[3] += 1.0;
                r[4] = v;
            }
            _ => out.push((e, [v, v, v, 1.0, v])),
        }
    }
    out
}

pub(super) fn merge_roll(a: &mut Roll, b: &Roll) {
    a[0] = a[0].min(b[0]);
    a[1] = a[1].max(b[1]);
    a[2] += b[2];
    a[3] += b[3];
    a[4] = b[4];
}
/// Grid index of the point whose window `(t-step, t]` holds `ts` (t = start + k*step).
pub(super) fn grid_k(ts: i64, start: i64, step: i64) -> i64 {
    (ts - start + step - 1).div_euclid(step)
}

pub(super) fn finish(agg: Aggregation, r: &Roll) -> f64 {
    match agg {
        Aggregation::Avg => r[2] / r[3],
        Aggregation::Min => r[0],
        Aggregation::Max => r[1],
        Aggregation::Sum => r[2],
        Aggregation::Count => r[3],
        Aggregation::Last => r[4],
    }
}

pub(super) fn to_grid(items: impl Iterator<Item = (i64, Roll)>, q: &RangeQuery) -> Vec<(i64, f64)> {
    let mut cur: Option<(i64, Roll)> = None;
    let mut out = Vec::new();
    for (t, r) in items {
        let k = grid_k(t, q.start_ms, q.step_ms);
        let gt = q.start_ms + k * q.step_ms;
        if k < 0 || gt > q.end_ms {
            continue;
        }
        match &mut cur {
            Some((ct, acc)) if *ct == gt => merge_roll(acc, &r),
            _ => {
                if let Some((ct, acc)) = cur.take() {
                    out.push((ct, finish(q.agg, &acc)));
                }
                cur = Some((gt, r));
            }
        }
    }
    if let Some((ct, acc)) = cur {
        out.push((ct, finish(q.agg, &acc)));
    }
    out
}
