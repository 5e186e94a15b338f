//! Classification of a device from its sysObjectID and sysDescr, by rules kept as data
//! (`classifier.json`, embedded; users extend or override it). Pure: no I/O.
//!
//! # The file
//!
//! ```json
//! {
//!   "enterprises": { "9": "cisco", "2636": "juniper", "14988": "mikrotik" },
//!   "rules": [
//!     { "id": "cisco-nx-os", "vendor": "cisco", "os": "nx-os", "device_type": "switch",
//!       "object_id": ["1.3.6.1.4.1.9.12.3.1.3"], "descr": "(?i)\\bNX-OS\\b",
//!       "priority": 0, "source": "CISCO-PRODUCTS-MIB ciscoNexus*" }
//!   ]
//! }
//! ```
//!
//! - `enterprises`: IANA private enterprise number (the arc after `1.3.6.1.4.1`) → vendor
//!   slug (lowercase letters, digits, `-`, `_`, `.`).
//! - `rules[]`: `id` (required, unique, a slug), `device_type` (required: router, switch,
//!   firewall, wireless, server, printer, ups or other), `vendor` and `os` (optional slugs;
//!   without `vendor` the vendor comes from the enterprise number), at least one of
//!   `object_id` (sysObjectID prefixes, matched on whole arcs, with or without a leading
//!   dot) and `descr` (a regular expression in the `regex` crate's syntax, searched anywhere
//!   in sysDescr), `priority` (integer, default 0) and `source`/`note` (free text: where the
//!   rule comes from). Unknown keys are errors, so a misspelt key never silently disables a
//!   rule.
//!
//! # Which rule wins
//!
//! A rule is a candidate when one of its prefixes matches the sysObjectID or its pattern
//! matches the sysDescr. Candidates are ranked by, in order:
//!
//! 1. the number of signals that matched (a prefix and a pattern beat either alone);
//! 2. no contradiction: a rule whose pattern was tried on the sysDescr and failed ranks
//!    below one that was not contradicted (an ASA with a sysObjectID missing from the ASA
//!    rule still has the ASA pattern, while its prefix match on the generic IOS rule is
//!    contradicted by the IOS pattern);
//! 3. `priority` (higher first), counted only when the rule's pattern matched or it has
//!    none: priorities rank patterns, so a refinement (Catalyst within IOS) does not win
//!    on a bare prefix match;
//! 4. the length of the matching prefix (longer, i.e. more specific, first; a prefix match
//!    beats a pattern-only match);
//! 5. position: user rules before the shipped ones, then file order (so generic rules are
//!    listed before their refinements).
//!
//! Confidence: 1.0 when a prefix and a pattern matched, 0.8 a prefix only, 0.6 a pattern
//! only. When no rule matches and the sysObjectID is under `1.3.6.1.4.1.<n>` with `n` in
//! `enterprises`, the result names the vendor only: rule `enterprise:<n>`, confidence 0.3.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, LazyLock};

use regex::Regex;
use serde_json::{Map, Value};
use wardflux_model::discovery::Classification;

/// The device types a rule may name.
pub const DEVICE_TYPES: &[&str] = &[
    "router", "switch", "firewall", "wireless", "server", "printer", "ups", "other",
];

/// Confidence when a sysObjectID prefix and a sysDescr pattern of the same rule agree.
pub const CONFIDENCE_BOTH: f64 = 1.0;
/// Confidence when only a sysObjectID prefix matched.
pub const CONFIDENCE_OBJECT_ID: f64 = 0.8;
/// Confidence when only a sysDescr pattern matched.
pub const CONFIDENCE_DESCR: f64 = 0.6;
/// Confidence of a vendor known from the enterprise number alone.
pub const CONFIDENCE_ENTERPRISE: f64 = 0.3;

/// `1.3.6.1.4.1`: private enterprises.
const ENTERPRISES: [u32; 6] = [1, 3, 6, 1, 4, 1];

static SHIPPED_JSON: &str = include_str!("../classifier.json");

static SHIPPED: LazyLock<Classifier> = LazyLock::new(|| {
    Classifier::from_json(SHIPPED_JSON)
        .unwrap_or_else(|e| panic!("the shipped classifier.json is invalid: {e}"))
});

/// The shipped rules file, as embedded (for the API to show and for users to copy).
pub fn shipped_json() -> &'static str {
    SHIPPED_JSON
}

/// Errors in a classifier file (path of the bad entry, and why).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ClassifierError {
    pub path: String,
    pub message: String,
}

fn err(path: impl Into<String>, message: impl Into<String>) -> ClassifierError {
    ClassifierError {
        path: path.into(),
        message: message.into(),
    }
}

/// One compiled rule.
#[derive(Debug, Clone)]
struct Rule {
    id: String,
    vendor: Option<String>,
    os: Option<String>,
    device_type: String,
    object_ids: Vec<Vec<u32>>,
    descr: Option<Regex>,
    priority: i64,
}

/// A compiled rule set.
#[derive(Debug, Clone, Default)]
pub struct Classifier {
    /// In precedence order for ties (user rules first, then file order).
    rules: Arc<Vec<Rule>>,
    enterprises: Arc<BTreeMap<u32, String>>,
}

impl Classifier {
    /// The shipped rules (`classifier.json`), parsed once.
    pub fn shipped() -> Classifier {
        SHIPPED.clone()
    }

    /// The shipped rules file, as embedded (same as the free [`shipped_json`]).
    pub fn shipped_json() -> &'static str {
        SHIPPED_JSON
    }

    /// Rules from a JSON document of the shipped file's format.
    pub fn from_json(text: &str) -> Result<Classifier, ClassifierError> {
        let doc: Value = serde_json::from_str(text).map_err(|e| err("$", e.to_string()))?;
        let Value::Object(top) = doc else {
            return Err(err(
                "$",
                "expected an object with `enterprises` and `rules`",
            ));
        };
        for key in top.keys() {
            if key != "enterprises" && key != "rules" && key != "note" {
                return Err(err(
                    key.as_str(),
                    "unknown key (expected enterprises, rules, note)",
                ));
            }
        }
        let mut enterprises = BTreeMap::new();
        match top.get("enterprises") {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) => {
                for (number, vendor) in map {
                    let path = format!("enterprises.{number}");
                    let n: u32 = number.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                        err(&path, "key must be an enterprise number (1, 2, ...)")
                    })?;
                    let Value::String(vendor) = vendor else {
                        return Err(err(&path, "expected a vendor slug (a string)"));
                    };
                    check_slug(&path, vendor)?;
                    enterprises.insert(n, vendor.clone());
                }
            }
            Some(_) => {
                return Err(err(
                    "enterprises",
                    "expected an object of enterprise number → vendor",
                ));
            }
        }
        let mut rules = Vec::new();
        match top.get("rules") {
            None | Some(Value::Null) => {}
            Some(Value::Array(list)) => {
                let mut seen: BTreeMap<String, usize> = BTreeMap::new();
                for (i, value) in list.iter().enumerate() {
                    let rule = parse_rule(&format!("rules[{i}]"), value)?;
                    if let Some(first) = seen.insert(rule.id.clone(), i) {
                        return Err(err(
                            format!("rules[{i}].id"),
                            format!("duplicate id `{}` (also rules[{first}])", rule.id),
                        ));
                    }
                    rules.push(rule);
                }
            }
            Some(_) => return Err(err("rules", "expected an array of rules")),
        }
        Ok(Classifier {
            rules: Arc::new(rules),
            enterprises: Arc::new(enterprises),
        })
    }

    /// `overrides` first, then `self`: a user rule with the id of a shipped one replaces it;
    /// new ids are added and take precedence on ties; user enterprises extend or override.
    pub fn with_overrides(&self, overrides: &Classifier) -> Classifier {
        let replaced: HashSet<&str> = overrides.rules.iter().map(|r| r.id.as_str()).collect();
        let rules: Vec<Rule> = overrides
            .rules
            .iter()
            .cloned()
            .chain(
                self.rules
                    .iter()
                    .filter(|r| !replaced.contains(r.id.as_str()))
                    .cloned(),
            )
            .collect();
        let mut enterprises = (*self.enterprises).clone();
        enterprises.extend(overrides.enterprises.iter().map(|(n, v)| (*n, v.clone())));
        Classifier {
            rules: Arc::new(rules),
            enterprises: Arc::new(enterprises),
        }
    }

    /// The rule ids, in precedence order.
    pub fn rule_ids(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| r.id.as_str())
    }

    /// The vendor slug of an enterprise number, if the rules know it.
    pub fn enterprise_vendor(&self, number: u32) -> Option<&str> {
        self.enterprises.get(&number).map(String::as_str)
    }

    /// Vendor, OS and device type of a device, with the rule that decided and how sure it is.
    /// `sys_object_id` may have a leading dot (`.1.3.6.1.4.1.9.1.516`); anything that is not
    /// a numeric OID counts as absent.
    pub fn classify(&self, sys_object_id: Option<&str>, sys_descr: Option<&str>) -> Classification {
        let arcs = sys_object_id.and_then(parse_oid);
        let descr = sys_descr.filter(|d| !d.trim().is_empty());
        // (signals, not contradicted, priority, prefix length): the greatest wins, the
        // earlier rule on a full tie.
        let mut best: Option<((u8, bool, i64, usize), usize)> = None;
        for (position, rule) in self.rules.iter().enumerate() {
            let prefix_len = match &arcs {
                Some(arcs) => rule
                    .object_ids
                    .iter()
                    .filter(|p| arcs.starts_with(p))
                    .map(Vec::len)
                    .max(),
                None => None,
            };
            let descr_hit = match (&rule.descr, descr) {
                (Some(re), Some(d)) => Some(re.is_match(d)),
                _ => None,
            };
            let signals = u8::from(prefix_len.is_some()) + u8::from(descr_hit == Some(true));
            if signals == 0 {
                continue;
            }
            let contradicted = descr_hit == Some(false);
            let priority = if rule.descr.is_none() || descr_hit == Some(true) {
                rule.priority
            } else {
                0
            };
            let key = (signals, !contradicted, priority, prefix_len.unwrap_or(0));
            if best.as_ref().is_none_or(|(k, _)| key > *k) {
                best = Some((key, position));
            }
        }
        let enterprise = arcs.as_deref().and_then(enterprise_number);
        let enterprise_vendor = enterprise.and_then(|n| self.enterprises.get(&n)).cloned();
        match best {
            Some(((signals, _, _, prefix_len), position)) => {
                let rule = &self.rules[position];
                let confidence = match (prefix_len > 0, signals) {
                    (_, 2) => CONFIDENCE_BOTH,
                    (true, _) => CONFIDENCE_OBJECT_ID,
                    (false, _) => CONFIDENCE_DESCR,
                };
                Classification {
                    vendor: rule.vendor.clone().or(enterprise_vendor),
                    os: rule.os.clone(),
                    device_type: Some(rule.device_type.clone()),
                    rule: Some(rule.id.clone()),
                    confidence,
                }
            }
            None => match (enterprise, enterprise_vendor) {
                (Some(n), Some(vendor)) => Classification {
                    vendor: Some(vendor),
                    os: None,
                    device_type: None,
                    rule: Some(format!("enterprise:{n}")),
                    confidence: CONFIDENCE_ENTERPRISE,
                },
                _ => Classification::default(),
            },
        }
    }
}

/// The enterprise number of an OID under `1.3.6.1.4.1`.
fn enterprise_number(arcs: &[u32]) -> Option<u32> {
    arcs.strip_prefix(&ENTERPRISES[..])
        .and_then(|rest| rest.first())
        .copied()
}

/// `1.3.6.1.4.1.9`, `.1.3.6.1.4.1.9` or `iso.3.6.1.4.1.9` → arcs; anything else → None.
fn parse_oid(text: &str) -> Option<Vec<u32>> {
    let text = text.trim();
    let text = text.strip_prefix('.').unwrap_or(text);
    let owned;
    let text = match text.strip_prefix("iso.") {
        Some(rest) => {
            owned = format!("1.{rest}");
            owned.as_str()
        }
        None => text,
    };
    if text.is_empty() {
        return None;
    }
    text.split('.').map(|arc| arc.parse::<u32>().ok()).collect()
}

fn check_slug(path: &str, value: &str) -> Result<(), ClassifierError> {
    let ok = !value.is_empty()
        && value.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && value.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_' || c == '.'
        });
    if ok {
        Ok(())
    } else {
        Err(err(
            path,
            format!(
                "`{value}` is not a slug (lowercase letters, digits, '-', '_', '.', starting with a letter or digit)"
            ),
        ))
    }
}

fn opt_string<'a>(
    obj: &'a Map<String, Value>,
    path: &str,
    key: &str,
) -> Result<Option<&'a str>, ClassifierError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(err(format!("{path}.{key}"), "expected a string")),
    }
}

const RULE_KEYS: &[&str] = &[
    "id",
    "vendor",
    "os",
    "device_type",
    "object_id",
    "descr",
    "priority",
    "source",
    "note",
];

fn parse_rule(path: &str, value: &Value) -> Result<Rule, ClassifierError> {
    let Value::Object(obj) = value else {
        return Err(err(path, "expected an object"));
    };
    for key in obj.keys() {
        if !RULE_KEYS.contains(&key.as_str()) {
            return Err(err(
                format!("{path}.{key}"),
                format!("unknown key (expected one of {})", RULE_KEYS.join(", ")),
            ));
        }
    }
    let id = opt_string(obj, path, "id")?.ok_or_else(|| err(format!("{path}.id"), "missing"))?;
    check_slug(&format!("{path}.id"), id)?;
    let vendor = opt_string(obj, path, "vendor")?;
    if let Some(v) = vendor {
        check_slug(&format!("{path}.vendor"), v)?;
    }
    let os = opt_string(obj, path, "os")?;
    if let Some(v) = os {
        check_slug(&format!("{path}.os"), v)?;
    }
    let device_type = opt_string(obj, path, "device_type")?
        .ok_or_else(|| err(format!("{path}.device_type"), "missing"))?;
    if !DEVICE_TYPES.contains(&device_type) {
        return Err(err(
            format!("{path}.device_type"),
            format!(
                "unknown device type `{device_type}` (expected one of {})",
                DEVICE_TYPES.join(", ")
            ),
        ));
    }
    let mut object_ids = Vec::new();
    match obj.get("object_id") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => {
            if list.is_empty() {
                return Err(err(
                    format!("{path}.object_id"),
                    "empty list (leave the key out instead)",
                ));
            }
            for (j, item) in list.iter().enumerate() {
                let item_path = format!("{path}.object_id[{j}]");
                let Value::String(text) = item else {
                    return Err(err(item_path, "expected an OID string"));
                };
                let arcs = parse_oid(text)
                    .ok_or_else(|| err(&item_path, format!("`{text}` is not a numeric OID")))?;
                if arcs.len() < 2 {
                    return Err(err(
                        item_path,
                        format!("`{text}` is too short to be a sysObjectID prefix"),
                    ));
                }
                object_ids.push(arcs);
            }
        }
        Some(_) => {
            return Err(err(
                format!("{path}.object_id"),
                "expected a list of OID prefixes",
            ));
        }
    }
    let descr = match opt_string(obj, path, "descr")? {
        None => None,
        Some("") => return Err(err(format!("{path}.descr"), "empty pattern")),
        Some(pattern) => Some(Regex::new(pattern).map_err(|e| {
            err(
                format!("{path}.descr"),
                // The regex crate's message spans lines (a caret under the error).
                format!(
                    "bad regular expression: {}",
                    e.to_string().replace('\n', " ")
                ),
            )
        })?),
    };
    if object_ids.is_empty() && descr.is_none() {
        return Err(err(
            path,
            "a rule needs `object_id` prefixes, a `descr` pattern or both",
        ));
    }
    let priority = match obj.get("priority") {
        None | Some(Value::Null) => 0,
        Some(Value::Number(n)) => n
            .as_i64()
            .ok_or_else(|| err(format!("{path}.priority"), "expected an integer"))?,
        Some(_) => return Err(err(format!("{path}.priority"), "expected an integer")),
    };
    opt_string(obj, path, "source")?;
    opt_string(obj, path, "note")?;
    Ok(Rule {
        id: id.to_owned(),
        vendor: vendor.map(str::to_owned),
        os: os.map(str::to_owned),
        device_type: device_type.to_owned(),
        object_ids,
        descr,
        priority,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oid_parsing_takes_leading_dots_and_iso() {
        assert_eq!(parse_oid(".1.3.6.1.4.1.9"), Some(vec![1, 3, 6, 1, 4, 1, 9]));
        assert_eq!(
            parse_oid("iso.3.6.1.4.1.9"),
            Some(vec![1, 3, 6, 1, 4, 1, 9])
        );
        assert_eq!(parse_oid(" 1.3.6 "), Some(vec![1, 3, 6]));
        assert_eq!(parse_oid("1.3.x"), None);
        assert_eq!(parse_oid("1..3"), None);
        assert_eq!(parse_oid(""), None);
        assert_eq!(parse_oid("."), None);
    }

    #[test]
    fn enterprise_number_needs_the_private_arc() {
        assert_eq!(enterprise_number(&[1, 3, 6, 1, 4, 1, 9, 1, 516]), Some(9));
        assert_eq!(enterprise_number(&[1, 3, 6, 1, 4, 1]), None);
        assert_eq!(enterprise_number(&[1, 3, 6, 1, 2, 1, 1]), None);
    }
}
