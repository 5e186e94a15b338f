//! The rule language: a PromQL expression (parsed by `promql-parser`, evaluated by
//! `wardflux_tsdb::promql`) with an optional trailing `for DURATION`, which is rule syntax
//! (Prometheus' `for:` field), not PromQL, so it is split off here first.
//!
//! Metric aliases (docs/metrics.md): `cpu_usage` and `interface_status` are what the
//! collectors write; `memory_usage` (percent) is computed from `memory_used_bytes` and
//! `memory_free_bytes`, so one rule covers every vendor. Aliases are expanded in the AST and
//! the query is printed back; an expression without aliases is evaluated as written.
//!
//! Error columns: `promql-parser` reports errors as text without a position (its LR parser's
//! spans are dropped), so the column is found here: the first prefix of the input that no
//! short completion (`1`, `)`, `"}`, ...) turns into a valid expression ends at the
//! offending character. A heuristic, but exact for the usual mistakes (a doubled operator,
//! an unclosed parenthesis or brace, a bad duration, a range function without a range).

use std::collections::BTreeSet;
use std::time::Duration;

use promql_parser::label::{METRIC_NAME, MatchOp};
use promql_parser::parser::value::ValueType;
use promql_parser::parser::{self, Expr, VectorSelector};

/// A rule expression that does not parse: the message and the 1-based column (in characters)
/// of the offending character in the expression as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[error("column {column}: {message}")]
pub struct RuleError {
    pub message: String,
    pub column: usize,
}

/// A parsed rule expression.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedRule {
    /// The PromQL to evaluate (aliases expanded).
    pub query: String,
    /// `for` duration (zero: fires at the first evaluation that returns the series).
    pub for_: Duration,
    /// Metric names the query reads (after alias expansion): a written batch with one of
    /// these names re-evaluates the rule.
    pub metrics: BTreeSet<String>,
    /// A selector without a fixed metric name: every batch re-evaluates the rule.
    pub any_metric: bool,
    /// Uses `absent()`/`absent_over_time()`: also re-evaluated by the timer.
    pub uses_absent: bool,
}

impl ParsedRule {
    /// Whether a batch with metric `name` can change this rule's result.
    pub fn touches(&self, name: &str) -> bool {
        self.any_metric || self.metrics.contains(name)
    }
}

/// Metric aliases and what they expand to (`{M}` is replaced by the selector's matchers).
pub const ALIASES: &[(&str, &str)] = &[(
    "memory_usage",
    "(100 * memory_used_bytes{M} / (memory_used_bytes{M} + memory_free_bytes{M}))",
)];

/// Parses `avg(cpu_usage) > 90 for 5m`.
pub fn parse(expression: &str) -> Result<ParsedRule, RuleError> {
    let (promql, for_) = split_for(expression)?;
    if promql.trim().is_empty() {
        return Err(RuleError {
            message: "expression is empty".into(),
            column: 1,
        });
    }
    let mut expr = parser::parse(promql).map_err(|message| RuleError {
        column: error_column(promql),
        message,
    })?;
    if expr.value_type() != ValueType::Vector {
        return Err(RuleError {
            message: format!(
                "an alert expression must return an instant vector, this one returns a {}",
                expr.value_type()
            ),
            column: 1,
        });
    }
    let mut info = Info::default();
    let rewritten = rewrite(&mut expr, &mut info).map_err(|message| RuleError {
        column: promql
            .find("memory_usage")
            .map_or(1, |b| char_col(promql, b)),
        message,
    })?;
    let query = if rewritten {
        expr.to_string()
    } else {
        promql.trim().to_string()
    };
    Ok(ParsedRule {
        query,
        for_,
        metrics: info.metrics,
        any_metric: info.any_metric,
        uses_absent: info.uses_absent,
    })
}

/// Splits a trailing `for DURATION` off. Returns the PromQL part (a prefix of `expr`).
fn split_for(expr: &str) -> Result<(&str, Duration), RuleError> {
    let trimmed = expr.trim_end();
    let Some(sp) = trimmed.rfind(char::is_whitespace) else {
        return Ok((expr, Duration::ZERO));
    };
    let last = &trimmed[sp + 1..];
    let before = trimmed[..sp].trim_end();
    let Some(kw) = before.len().checked_sub(3) else {
        return Ok((expr, Duration::ZERO));
    };
    let is_for = before[kw..].eq_ignore_ascii_case("for")
        && before[..kw].chars().last().is_some_and(char::is_whitespace);
    if !is_for {
        // `... for` with nothing after it.
        if last.eq_ignore_ascii_case("for") {
            return Err(RuleError {
                message: "`for` needs a duration, e.g. `for 5m`".into(),
                column: char_col(expr, sp + 1),
            });
        }
        return Ok((expr, Duration::ZERO));
    }
    let d = promql_parser::util::parse_duration(last).map_err(|e| RuleError {
        message: format!("bad `for` duration {last:?}: {e} (e.g. 30s, 5m, 1h)"),
        column: char_col(expr, sp + 1),
    })?;
    Ok((&expr[..kw], d))
}

/// 1-based character column of byte offset `b`.
fn char_col(s: &str, b: usize) -> usize {
    s[..b].chars().count() + 1
}

const COMPLETIONS: &[&str] = &[
    "",
    "1",
    " 1",
    ")",
    "1)",
    " 1)",
    "))",
    " 1))",
    ")))",
    "}",
    "\"}",
    "\")",
    "\"",
    "]",
    "m]",
    "m])",
    "[1m])",
    "x)",
    "x))",
    " x",
    "x",
    ") x",
    "(x)",
    " (x)",
    ") (x)",
    "x) (x)",
    "\"}[1m])",
    "}[1m])",
    "1m])",
    "\"})",
    "})",
    ", x)",
    "=\"\"}",
    "=\"\"})",
    "=\"\"}[1m])",
    "\"\"}",
    "\"\"})",
    "x[1m])",
];

fn viable(prefix: &str) -> bool {
    COMPLETIONS.iter().any(|c| {
        let mut s = String::with_capacity(prefix.len() + c.len());
        s.push_str(prefix);
        s.push_str(c);
        parser::parse(&s).is_ok()
    })
}

/// See the module doc: the column of the first character after which the input can no longer
/// become valid; past the end when every prefix could (e.g. an unclosed parenthesis).
fn error_column(input: &str) -> usize {
    if input.len() > 1000 {
        return 1;
    }
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let mut col = 0;
    let mut chars = input.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        col += 1;
        // Check at word ends only: `sum(x) b` is the start of `by`, not an error.
        if c.is_whitespace() || (word(c) && chars.peek().is_some_and(|&(_, n)| word(n))) {
            continue;
        }
        if !viable(&input[..i + c.len_utf8()]) {
            return col;
        }
    }
    input.chars().count() + 1
}

#[derive(Default)]
struct Info {
    metrics: BTreeSet<String>,
    any_metric: bool,
    uses_absent: bool,
}

fn selector_name(vs: &VectorSelector) -> Option<String> {
    vs.name.clone().or_else(|| {
        vs.matchers
            .matchers
            .iter()
            .find(|m| m.name == METRIC_NAME && matches!(m.op, MatchOp::Equal))
            .map(|m| m.value.clone())
    })
}

fn note(vs: &VectorSelector, info: &mut Info) {
    match selector_name(vs) {
        Some(n) => {
            info.metrics.insert(n);
        }
        None => info.any_metric = true,
    }
}

fn alias_for(vs: &VectorSelector) -> Option<&'static str> {
    let name = selector_name(vs)?;
    ALIASES
        .iter()
        .find(|(a, _)| *a == name)
        .map(|(_, expansion)| *expansion)
}

fn matchers_text(vs: &VectorSelector) -> String {
    let ms: Vec<String> = vs
        .matchers
        .matchers
        .iter()
        .filter(|m| m.name != METRIC_NAME)
        .map(|m| format!("{}{}{:?}", m.name, m.op, m.value))
        .collect();
    format!("{{{}}}", ms.join(","))
}

/// Expands aliases in place and collects metric names. Returns whether anything changed.
fn rewrite(e: &mut Expr, info: &mut Info) -> Result<bool, String> {
    Ok(match e {
        Expr::VectorSelector(vs) => {
            if let Some(exp) = alias_for(vs) {
                if vs.offset.is_some() || vs.at.is_some() {
                    return Err("offset/@ on memory_usage is not supported".into());
                }
                let text = exp.replace("{M}", &matchers_text(vs));
                let mut new = parser::parse(&text).map_err(|m| format!("alias expansion: {m}"))?;
                rewrite(&mut new, info)?;
                *e = new;
                true
            } else {
                note(vs, info);
                false
            }
        }
        Expr::MatrixSelector(ms) => {
            if alias_for(&ms.vs).is_some() {
                return Err(
                    "memory_usage is computed from two metrics and cannot take a range [..]; \
                     use memory_used_bytes and memory_free_bytes"
                        .into(),
                );
            }
            note(&ms.vs, info);
            false
        }
        Expr::Aggregate(a) => {
            let mut ch = rewrite(&mut a.expr, info)?;
            if let Some(p) = &mut a.param {
                ch |= rewrite(p, info)?;
            }
            ch
        }
        Expr::Unary(u) => rewrite(&mut u.expr, info)?,
        Expr::Binary(b) => {
            let l = rewrite(&mut b.lhs, info)?;
            let r = rewrite(&mut b.rhs, info)?;
            l || r
        }
        Expr::Paren(p) => rewrite(&mut p.expr, info)?,
        Expr::Subquery(s) => rewrite(&mut s.expr, info)?,
        Expr::Call(c) => {
            if c.func.name.starts_with("absent") {
                info.uses_absent = true;
            }
            let mut ch = false;
            for a in &mut c.args.args {
                ch |= rewrite(a, info)?;
            }
            ch
        }
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => false,
    })
}

#[cfg(test)]
mod tests;
