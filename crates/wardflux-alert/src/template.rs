//! Message templates: `{{ $labels.NAME }}`, `{{ $value }}` and `{{ $rule }}`, the subset of
//! Prometheus' alert templates that messages need. Hand-written (about 40 lines) because a
//! full template engine would bring a second syntax users must learn for three placeholders.
//! Unknown placeholders and missing labels render as empty text; [`check`] rejects
//! unbalanced braces and unknown placeholders when the rule is saved.

use std::collections::BTreeMap;

/// The message of a rule without a template.
pub const DEFAULT: &str = "{{ $rule }}: {{ $labels.device }} value {{ $value }}";

/// Renders `template`.
pub fn render(
    template: &str,
    rule: &str,
    labels: &BTreeMap<String, String>,
    value: Option<f64>,
) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            out.push_str(&rest[open..]);
            return out;
        };
        match placeholder(after[..close].trim()) {
            Some(Placeholder::Value) => {
                if let Some(v) = value {
                    out.push_str(&fmt_value(v));
                }
            }
            Some(Placeholder::Rule) => out.push_str(rule),
            Some(Placeholder::Label(name)) => {
                if let Some(v) = labels.get(name) {
                    out.push_str(v);
                }
            }
            None => {}
        }
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    out
}

/// Checks a template: every `{{` is closed and names a known placeholder.
pub fn check(template: &str) -> Result<(), String> {
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let close = after.find("}}").ok_or("a `{{` is never closed with `}}`")?;
        let p = after[..close].trim();
        if placeholder(p).is_none() {
            return Err(format!(
                "unknown placeholder {{{{ {p} }}}}: use $labels.NAME, $value or $rule"
            ));
        }
        rest = &after[close + 2..];
    }
    Ok(())
}

enum Placeholder<'a> {
    Value,
    Rule,
    Label(&'a str),
}

fn placeholder(p: &str) -> Option<Placeholder<'_>> {
    match p {
        "$value" | ".Value" => Some(Placeholder::Value),
        "$rule" => Some(Placeholder::Rule),
        _ => p
            .strip_prefix("$labels.")
            .or_else(|| p.strip_prefix(".Labels."))
            .filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
            .map(Placeholder::Label),
    }
}

/// A value as people read it: integers without a fraction, others with up to 2 decimals.
pub fn fmt_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_labels_value_and_rule() {
        let labels = BTreeMap::from([("device".to_string(), "core-1".to_string())]);
        let cases: &[(&str, Option<f64>, &str)] = &[
            (
                "CPU on {{ $labels.device }} is {{ $value }}%",
                Some(93.456),
                "CPU on core-1 is 93.46%",
            ),
            ("{{$labels.device}} down", None, "core-1 down"),
            ("{{ $labels.missing }}x", Some(1.0), "x"),
            ("{{ $rule }} {{ $value }}", Some(100.0), "High CPU 100"),
            ("broken {{ $value", Some(1.0), "broken {{ $value"),
            (DEFAULT, Some(0.5), "High CPU: core-1 value 0.5"),
        ];
        for (tpl, v, want) in cases {
            assert_eq!(render(tpl, "High CPU", &labels, *v), *want, "{tpl}");
        }
    }

    #[test]
    fn check_rejects_unclosed_and_unknown() {
        assert!(check("{{ $labels.device }} at {{ $value }}").is_ok());
        assert!(
            check("{{ $labels.device")
                .unwrap_err()
                .contains("never closed")
        );
        assert!(
            check("{{ $foo }}")
                .unwrap_err()
                .contains("unknown placeholder")
        );
    }
}
