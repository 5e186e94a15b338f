//! Parsing (with error positions), selector matchers, and the fetch plan: which samples each
//! selector of a query needs.
//!
//! `promql-parser` reports a failed parse without a position ("invalid promql query"), so the
//! position is found here: the query is cut after each of its tokens, from the last one
//! backwards, and the longest cut that parses once its open brackets are closed (or once an
//! operand is added) marks where the query stops making sense. A heuristic, but it names the
//! right token for the usual mistakes (a stray word, a missing operand or bracket). Queries of
//! more than 300 tokens are bisected instead, so a long malformed query costs a few parses.

use std::time::{Duration, SystemTime};

use promql_parser::label::MatchOp;
use promql_parser::parser::ast::{AtModifier, Offset, VectorSelector};
use promql_parser::parser::{self, Expr, token};

use super::{DEFAULT_SUBQUERY_STEP_MS, LOOKBACK_MS};
use crate::{LabelMatcher, TsdbError};

/// Parses a query; a syntax error names its 1-based line:column like Prometheus
/// (`1:5: parse error: unexpected "bar"`).
///
/// Parsed expressions are cached per process (up to [`PARSE_CACHE`], emptied when full):
/// alert rules are evaluated many times a second and dashboards repeat their queries, and the
/// parser compiles every regex matcher it meets (a template rule scoped to 10,000 devices
/// carries a 370 KB alternation).
pub fn parse_expr(query: &str) -> Result<Expr, TsdbError> {
    static CACHE: std::sync::LazyLock<std::sync::Mutex<std::collections::HashMap<String, Expr>>> =
        std::sync::LazyLock::new(Default::default);
    let lock = || CACHE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(e) = lock().get(query) {
        return Ok(e.clone());
    }
    let e = parser::parse(query).map_err(|msg| TsdbError::BadQuery(locate_error(query, &msg)))?;
    let mut cache = lock();
    if cache.len() >= PARSE_CACHE {
        cache.clear();
    }
    cache.insert(query.to_string(), e.clone());
    Ok(e)
}

/// How many parsed expressions [`parse_expr`] keeps.
pub const PARSE_CACHE: usize = 256;

/// A rough PromQL tokenizer: (start, end) byte offsets of each token.
fn tokens(q: &str) -> Vec<(usize, usize)> {
    let b = q.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let st = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'#' {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if c == b'"' || c == b'\'' || c == b'`' {
            i += 1;
            while i < b.len() && b[i] != c {
                if b[i] == b'\\' && c != b'`' {
                    i += 1;
                }
                i += 1;
            }
            i = (i + 1).min(b.len());
        } else if c.is_ascii_alphanumeric() || c == b'_' || c == b':' || c == b'.' {
            while i < b.len()
                && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b':' || b[i] == b'.')
            {
                i += 1;
            }
        } else if i + 1 < b.len()
            && matches!(&b[i..i + 2], b"==" | b"!=" | b"<=" | b">=" | b"=~" | b"!~")
        {
            i += 2;
        } else {
            // one (possibly multi-byte) character
            i += q[i..].chars().next().map_or(1, char::len_utf8);
        }
        out.push((st, i));
    }
    out
}

fn closers(prefix: &str) -> String {
    let mut stack = Vec::new();
    for (s, e) in tokens(prefix) {
        match &prefix[s..e] {
            "(" => stack.push(')'),
            "[" => stack.push(']'),
            "{" => stack.push('}'),
            ")" | "]" | "}" => {
                stack.pop();
            }
            _ => {}
        }
    }
    stack.iter().rev().collect()
}

/// Above this many tokens the cut is found by bisection (a few parses, a rougher position)
/// rather than by trying every cut (quadratic in the query's length).
const LINEAR_SCAN_TOKENS: usize = 300;

fn locate_error(q: &str, msg: &str) -> String {
    let toks = tokens(q);
    let parses = |s: &str| parser::parse(s).is_ok();
    // does the query up to token k still make sense (parse once closed or completed)?
    let viable = |k: usize| {
        let prefix = if k == 0 { "" } else { &q[..toks[k - 1].1] };
        let close = closers(prefix);
        [
            format!("{prefix}{close}"),
            format!("{prefix} x{close}"),
            format!("{prefix} 1){close}"),
        ]
        .iter()
        .any(|c| !c.trim().is_empty() && parses(c))
    };
    let found = if toks.len() <= LINEAR_SCAN_TOKENS {
        (0..=toks.len()).rev().find(|&k| viable(k))
    } else if viable(toks.len()) {
        Some(toks.len())
    } else {
        let (mut lo, mut hi) = (0, toks.len());
        while hi - lo > 1 {
            let mid = (lo + hi) / 2;
            if viable(mid) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Some(lo)
    };
    let Some(k) = found else {
        return format!("1:1: parse error: {msg}");
    };
    let (pos, what) = match toks.get(k) {
        Some(&(s, e)) => (s, format!("unexpected {:?}", &q[s..e])),
        None => (q.len(), "unexpected end of input".to_string()),
    };
    let line = q[..pos].matches('\n').count() + 1;
    let col = pos - q[..pos].rfind('\n').map_or(0, |n| n + 1) + 1;
    format!("{line}:{col}: parse error: {what} ({msg})")
}

/// The matchers of a selector: the metric name (if written) as `__name__="..."`, then the
/// label matchers in order. The one conversion used by the evaluator and the HTTP API.
pub fn selector_matchers(vs: &VectorSelector) -> Result<Vec<LabelMatcher>, TsdbError> {
    if !vs.matchers.or_matchers.is_empty() {
        return Err(TsdbError::Unsupported("`or` inside a selector".into()));
    }
    let mut out = Vec::with_capacity(vs.matchers.matchers.len() + 1);
    if let Some(n) = &vs.name {
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

/// The start and end of the query being evaluated (what `@ start()`/`@ end()` mean).
pub(super) struct QueryTimes {
    pub start: i64,
    pub end: i64,
}

/// One store read: the samples of `matchers` in `[start, end]`, for the selector node `id`.
pub(super) struct Fetch {
    pub id: usize,
    pub matchers: Vec<LabelMatcher>,
    pub start: i64,
    pub end: i64,
}

/// The address of a syntax node: the key of its fetched data.
pub(super) fn node_id<T>(n: &T) -> usize {
    n as *const T as usize
}

pub(super) fn dur_ms(d: &Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

pub(super) fn offset_ms(o: &Option<Offset>) -> i64 {
    match o {
        Some(Offset::Pos(d)) => dur_ms(d),
        Some(Offset::Neg(d)) => -dur_ms(d),
        None => 0,
    }
}

pub(super) fn at_ms(at: &Option<AtModifier>, q_start: i64, q_end: i64) -> Option<i64> {
    match at {
        None => None,
        Some(AtModifier::Start) => Some(q_start),
        Some(AtModifier::End) => Some(q_end),
        Some(AtModifier::At(t)) => Some(match t.duration_since(SystemTime::UNIX_EPOCH) {
            Ok(d) => dur_ms(&d),
            Err(e) => -dur_ms(&e.duration()),
        }),
    }
}

/// Offsets, ranges and `@` times up to 1000 years: keeps time arithmetic far from overflow.
fn check_span(ms: i64) -> Result<(), TsdbError> {
    if ms.unsigned_abs() > 1000 * 365 * 86_400_000 {
        return Err(TsdbError::BadQuery(
            "offset, range or @ time beyond 1000 years".into(),
        ));
    }
    Ok(())
}

/// The times `[lo, hi]` a node with `at`/`offset` is evaluated at, for outer times `[s, e]`.
fn shifted(
    at: &Option<AtModifier>,
    off: i64,
    s: i64,
    e: i64,
    q: &QueryTimes,
) -> Result<(i64, i64), TsdbError> {
    check_span(off)?;
    Ok(match at_ms(at, q.start, q.end) {
        Some(a) => {
            check_span(a)?;
            (a - off, a - off)
        }
        None => (s - off, e - off),
    })
}

/// Records the reads `e` needs when evaluated at times in `[start, end]`.
pub(super) fn plan(
    e: &Expr,
    start: i64,
    end: i64,
    q: &QueryTimes,
    out: &mut Vec<Fetch>,
) -> Result<(), TsdbError> {
    match e {
        Expr::VectorSelector(vs) => {
            let (lo, hi) = shifted(&vs.at, offset_ms(&vs.offset), start, end, q)?;
            out.push(Fetch {
                id: node_id(vs),
                matchers: selector_matchers(vs)?,
                start: lo - LOOKBACK_MS + 1,
                end: hi,
            });
        }
        Expr::MatrixSelector(ms) => {
            let range = dur_ms(&ms.range);
            check_span(range)?;
            let (lo, hi) = shifted(&ms.vs.at, offset_ms(&ms.vs.offset), start, end, q)?;
            out.push(Fetch {
                id: node_id(ms),
                matchers: selector_matchers(&ms.vs)?,
                start: lo - range + 1,
                end: hi,
            });
        }
        Expr::Subquery(sq) => {
            let range = dur_ms(&sq.range);
            check_span(range)?;
            let (lo, hi) = shifted(&sq.at, offset_ms(&sq.offset), start, end, q)?;
            let step = sq.step.as_ref().map_or(DEFAULT_SUBQUERY_STEP_MS, dur_ms);
            plan(&sq.expr, subquery_first(lo, range, step), hi, q, out)?;
        }
        Expr::Aggregate(a) => {
            plan(&a.expr, start, end, q, out)?;
            if let Some(p) = &a.param {
                plan(p, start, end, q, out)?;
            }
        }
        Expr::Unary(u) => plan(&u.expr, start, end, q, out)?,
        Expr::Binary(b) => {
            plan(&b.lhs, start, end, q, out)?;
            plan(&b.rhs, start, end, q, out)?;
        }
        Expr::Paren(p) => plan(&p.expr, start, end, q, out)?,
        Expr::Call(c) => {
            for a in &c.args.args {
                plan(a, start, end, q, out)?;
            }
        }
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) => {}
        Expr::Extension(_) => return Err(TsdbError::Unsupported("extension expressions".into())),
    }
    Ok(())
}

/// First inner evaluation time of a subquery whose window ends at `lo`: the first multiple
/// of `step` after `lo - range` (windows are left-open; steps are aligned to the epoch).
pub(super) fn subquery_first(lo: i64, range: i64, step: i64) -> i64 {
    (lo - range).div_euclid(step.max(1)) * step.max(1) + step.max(1)
}

/// True when the query's top operation defines the order of an instant vector result.
pub(super) fn is_ordered(e: &Expr) -> bool {
    match e {
        Expr::Paren(p) => is_ordered(&p.expr),
        Expr::Call(c) => matches!(
            c.func.name,
            "sort" | "sort_desc" | "sort_by_label" | "sort_by_label_desc"
        ),
        Expr::Aggregate(a) => matches!(a.op.id(), token::T_TOPK | token::T_BOTTOMK),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_name_the_position() {
        let e = parse_expr("foo bar").unwrap_err().to_string();
        assert!(e.contains("1:5: parse error: unexpected \"bar\""), "{e}");
        let e = parse_expr("sum(rate(x[5m])").unwrap_err().to_string();
        assert!(e.contains("unexpected end of input"), "{e}");
        let e = parse_expr("1 +").unwrap_err().to_string();
        assert!(
            e.contains("1:4: parse error: unexpected end of input"),
            "{e}"
        );
        let e = parse_expr("up{job=\"a\"} +\n  ) ").unwrap_err().to_string();
        assert!(e.contains("2:3: parse error: unexpected \")\""), "{e}");
        // a long query is located by bisection, in a few parses
        let long = format!("{} foo bar", vec!["x"; 400].join(" + "));
        let t = std::time::Instant::now();
        let e = parse_expr(&long).unwrap_err().to_string();
        assert!(e.contains("1:1599: parse error: unexpected \"foo\""), "{e}");
        assert!(t.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn absurd_ranges_are_errors_not_overflows() {
        let q = QueryTimes { start: 0, end: 0 };
        let mut v = Vec::new();
        for bad in [
            "rate(m[100000y])",
            "m offset 100000y",
            "m @ 100000000000000",
        ] {
            let e = parser::parse(bad).unwrap();
            assert!(
                matches!(plan(&e, 0, 0, &q, &mut v), Err(TsdbError::BadQuery(_))),
                "{bad}"
            );
        }
        let e = parser::parse("rate(m[5m] offset 1h)").unwrap();
        assert!(plan(&e, 0, 0, &q, &mut v).is_ok());
    }

    #[test]
    fn subqueries_align_to_the_epoch_and_exclude_the_left_edge() {
        assert_eq!(subquery_first(3_600_000, 600_000, 60_000), 3_060_000);
        assert_eq!(subquery_first(3_630_000, 600_000, 60_000), 3_060_000);
        assert_eq!(subquery_first(-30_000, 60_000, 60_000), -60_000);
    }
}
