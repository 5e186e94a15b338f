//! Prometheus text exposition parser, accepting what VictoriaMetrics'
//! `/api/v1/import/prometheus` accepts:
//!
//! ```text
//! # comments and blank lines are skipped
//! metric_name{label="value",other="x"} 1.5 1700000000000
//! metric_name 42
//! ```
//!
//! The optional timestamp is in milliseconds since the epoch (integer; a decimal fraction is
//! truncated); lines without one get the `default_ts_ms` passed to [`parse`]. Values may be
//! any float, `NaN`, `+Inf`, `-Inf`. Label values accept the `\\`, `\"` and `\n` escapes; a
//! trailing comma in the label list is allowed. Unlike VictoriaMetrics (which counts and drops
//! bad lines), a bad line fails the whole body with [`ExpoError`] naming its 1-based number.

use wardflux_model::metrics::{Labels, Sample};

/// A malformed exposition line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct ExpoError {
    /// 1-based line number.
    pub line: usize,
    pub reason: String,
}

/// Parses a whole body. Lines without a timestamp get `default_ts_ms`.
pub fn parse(body: &str, default_ts_ms: i64) -> Result<Vec<Sample>, ExpoError> {
    let mut out = Vec::new();
    for (i, line) in body.lines().enumerate() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let s = parse_line(l, default_ts_ms).map_err(|reason| ExpoError {
            line: i + 1,
            reason,
        })?;
        out.push(s);
    }
    Ok(out)
}

fn is_name_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b':'
}

fn is_name_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b':'
}

fn skip_ws(b: &[u8], p: &mut usize) {
    while *p < b.len() && (b[*p] == b' ' || b[*p] == b'\t') {
        *p += 1;
    }
}

fn name(b: &[u8], p: &mut usize, what: &str, allow_colon: bool) -> Result<String, String> {
    let start = *p;
    if *p >= b.len() || !is_name_start(b[*p]) || (!allow_colon && b[*p] == b':') {
        return Err(format!("expected a {what} at column {}", *p + 1));
    }
    while *p < b.len() && is_name_char(b[*p]) && (allow_colon || b[*p] != b':') {
        *p += 1;
    }
    Ok(String::from_utf8_lossy(&b[start..*p]).into_owned())
}

fn parse_value(s: &str) -> Option<f64> {
    match s {
        "NaN" | "nan" => Some(f64::NAN),
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        s => {
            // Rust accepts "infinity"/"nan" spellings that Prometheus does not; both are caught above.
            let v: f64 = s.parse().ok()?;
            Some(v)
        }
    }
}

/// Milliseconds, an integer or a decimal (truncated).
fn parse_ts(ts: &str) -> Option<i64> {
    match ts.parse::<i64>() {
        Ok(t) => Some(t),
        Err(_) => match ts.parse::<f64>() {
            Ok(t) if t.is_finite() && t.abs() < 9.0e18 => Some(t as i64),
            _ => None,
        },
    }
}

/// Splits a trimmed line into its series text as written (`name{...}`), value and
/// timestamp without parsing the labels; `None` when the tail is not `value [timestamp]`.
/// The split of a line with a label value ending in ` <number>"}` is still right: the series
/// text ends with `}` or a name character, never inside a number. Used for series text a full
/// [`parse_line`] has already resolved, so a wrong split can only miss that cache.
pub(crate) fn split_line(l: &str, default_ts: i64) -> Option<(&str, f64, i64)> {
    let ws = [' ', '\t'];
    let (head, last) = l.rsplit_once(ws)?;
    let head = head.trim_end_matches(ws);
    if let Some((series, v)) = head.rsplit_once(ws)
        && let Some(value) = parse_value(v)
        && let Some(ts) = parse_ts(last)
    {
        let series = series.trim_end_matches(ws);
        if !series.is_empty() {
            return Some((series, value, ts));
        }
    }
    Some((head, parse_value(last)?, default_ts))
}

/// Parses one trimmed, non-comment line.
pub(crate) fn parse_line(l: &str, default_ts: i64) -> Result<Sample, String> {
    let b = l.as_bytes();
    let mut p = 0;
    let metric = name(b, &mut p, "metric name", true)?;
    let mut labels = Labels::new();
    let mut q = p;
    skip_ws(b, &mut q);
    if q < b.len() && b[q] == b'{' {
        p = q;
        p += 1;
        loop {
            skip_ws(b, &mut p);
            if p < b.len() && b[p] == b'}' {
                p += 1;
                break;
            }
            let ln = name(b, &mut p, "label name", false)?;
            skip_ws(b, &mut p);
            if p >= b.len() || b[p] != b'=' {
                return Err(format!("expected '=' after label {ln}"));
            }
            p += 1;
            skip_ws(b, &mut p);
            if p >= b.len() || b[p] != b'"' {
                return Err(format!("expected '\"' to open the value of label {ln}"));
            }
            p += 1;
            let mut v = Vec::new();
            loop {
                match b.get(p) {
                    None => return Err(format!("unterminated value of label {ln}")),
                    Some(b'"') => {
                        p += 1;
                        break;
                    }
                    Some(b'\\') => {
                        match b.get(p + 1) {
                            Some(b'n') => v.push(b'\n'),
                            Some(b'\\') => v.push(b'\\'),
                            Some(b'"') => v.push(b'"'),
                            Some(&c) => {
                                v.push(b'\\');
                                v.push(c);
                            }
                            None => return Err(format!("unterminated value of label {ln}")),
                        }
                        p += 2;
                    }
                    Some(&c) => {
                        v.push(c);
                        p += 1;
                    }
                }
            }
            let v = String::from_utf8(v).map_err(|_| format!("label {ln}: value is not UTF-8"))?;
            if ln != "__name__" && !v.is_empty() {
                labels.insert(ln, v);
            }
            skip_ws(b, &mut p);
            match b.get(p) {
                Some(b',') => p += 1,
                Some(b'}') => {
                    p += 1;
                    break;
                }
                _ => return Err(format!("expected ',' or '}}' at column {}", p + 1)),
            }
        }
    }
    let rest = &l[p..];
    if !rest.is_empty() && !rest.starts_with([' ', '\t']) {
        return Err(format!(
            "expected a space before the value at column {}",
            p + 1
        ));
    }
    let mut parts = rest.split_ascii_whitespace();
    let vs = parts.next().ok_or("missing value")?;
    let value = parse_value(vs).ok_or_else(|| format!("bad value {vs:?}"))?;
    let timestamp_ms = match parts.next() {
        None => default_ts,
        Some(ts) => parse_ts(ts).ok_or_else(|| format!("bad timestamp {ts:?}"))?,
    };
    if let Some(extra) = parts.next() {
        return Err(format!("unexpected {extra:?} after the timestamp"));
    }
    Ok(Sample {
        metric,
        labels,
        timestamp_ms,
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_agrees_with_the_full_parse() {
        for l in [
            "m 1",
            "m 1 2",
            "m{a=\"x 5\"} 3",
            "m{a=\"x 5\"} 3 4",
            "m{a=\"5\"}  3\t4",
            "NaN 5",
            "Inf 5 6",
            "m{a=\"b\",} -Inf 1700000000000.9",
        ] {
            let full = parse_line(l, 99).unwrap();
            let (series, v, t) = split_line(l, 99).unwrap();
            assert_eq!(
                (v.to_bits(), t),
                (full.value.to_bits(), full.timestamp_ms),
                "{l}"
            );
            let again = parse_line(&format!("{series} 0"), 0).unwrap();
            assert_eq!(
                (again.metric, again.labels),
                (full.metric, full.labels),
                "{l}"
            );
        }
        assert!(split_line("m", 0).is_none());
        assert!(split_line("m 1 x", 0).is_none());
    }

    #[test]
    fn parses_lines_labels_escapes_and_timestamps() {
        let body = "# HELP x\n\nping_rtt_ms{device=\"r1\",ip=\"127.0.0.1\"} 1.25 1700000000000\n\
                    up 1\n  esc{a=\"q\\\"b\\\\c\\nd\", b = \"x\",} -Inf 5\nnan_m NaN 7\n";
        let s = parse(body, 99).unwrap();
        assert_eq!(s.len(), 4);
        assert_eq!(s[0].metric, "ping_rtt_ms");
        assert_eq!(
            s[0].labels,
            Labels::from_pairs([("device", "r1"), ("ip", "127.0.0.1")])
        );
        assert_eq!((s[0].timestamp_ms, s[0].value), (1_700_000_000_000, 1.25));
        assert_eq!(
            (s[1].metric.as_str(), s[1].timestamp_ms, s[1].value),
            ("up", 99, 1.0)
        );
        assert_eq!(s[2].labels.get("a"), Some("q\"b\\c\nd"));
        assert_eq!(s[2].labels.get("b"), Some("x"));
        assert_eq!((s[2].value, s[2].timestamp_ms), (f64::NEG_INFINITY, 5));
        assert!(s[3].value.is_nan());
    }

    #[test]
    fn bad_lines_name_their_number() {
        for (body, line) in [
            ("ok 1\nbad{ 1\n", 2),
            ("ok 1\n\n# c\n9metric 1\n", 4),
            ("m{a=\"x\"}\n", 1),
            ("m{a=\"x\"} abc\n", 1),
            ("m 1 2 3\n", 1),
            ("m 1 12x\n", 1),
            ("m{a=x} 1\n", 1),
            ("m{a=\"x} 1\n", 1),
            ("m{\"a\"=\"x\"} 1\n", 1),
        ] {
            let e = parse(body, 0).unwrap_err();
            assert_eq!(e.line, line, "{body:?}: {e}");
            assert!(e.to_string().starts_with(&format!("line {line}: ")));
        }
    }
}
