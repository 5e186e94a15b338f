//! Monitoring templates: the JSON format users write and import, its validation (every
//! error, each with a path naming the item and field: `items[2].oid: not a numeric OID`),
//! and its expansion for one device into a [`PollPlan`] (what the SNMP poller runs) plus the
//! template's triggers with macros filled in (what becomes alert rules).
//!
//! The format is the seed's (`name`, `description`, `device_types`, `items[]` with `name`,
//! `oid`, `interval`, `units`, `value_type`, `triggers[]` with `name`, `expression`,
//! `severity`) plus `key`, `multiplier`, `preprocess`, `labels` per item, `macros`
//! (`{"{$CPU_HIGH}": "90"}`, usable in OIDs, intervals, filter regexes and trigger
//! expressions, overridable per device) and `discovery[]` rules (low-level discovery of table
//! rows, one copy of the rule's item prototypes per row).
//!
//! Ids are deterministic (UUID v5 under the template's id), so re-importing a template by
//! name, re-applying it, or expanding it on another machine yields the same item, prototype
//! and trigger ids: history and item state stay attached.
//!
//! Pure: no I/O, no clock. The shipped templates are in [`builtin`].

pub mod builtin;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use wardflux_model::alerts::Severity;
use wardflux_model::{DiscoverySpec, ItemSpec, PollPlan, Preprocess, RowFilter, ValueType};

/// Default item interval, seconds.
pub const DEFAULT_ITEM_INTERVAL: u32 = 60;
/// Default discovery interval (how often a table is walked again), seconds.
pub const DEFAULT_DISCOVERY_INTERVAL: u32 = 3600;

static MACRO_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\{\$[A-Z0-9_.]+\}$").expect("static regex"));
static MACRO_USE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\{\$[^}]*\}").expect("static regex"));
static OID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\.?[0-2](\.[0-9]+)+$").expect("static regex"));
static KEY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z_][a-z0-9_]*$").expect("static regex"));
static LABEL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-zA-Z_][a-zA-Z0-9_]*$").expect("static regex"));
static FOR_SUFFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(?s)(.*\S)\s+for\s+((?:[0-9]+(?:ms|[smhdwy]))+)\s*$").expect("static regex")
});

/// A template as written (JSON). Validate with [`parse`] or [`validate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Template {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Device types this template is meant for (informative: `router`, `switch`, ...).
    #[serde(default)]
    pub device_types: Vec<String>,
    /// `{"{$CPU_HIGH}": "90"}`: defaults, overridable per device.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub macros: BTreeMap<String, String>,
    #[serde(default)]
    pub items: Vec<ItemDef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub discovery: Vec<DiscoveryDef>,
    #[serde(default)]
    pub triggers: Vec<TriggerDef>,
}

/// An item (scalar: full instance OID) or, inside a discovery rule, an item prototype
/// (column OID; each row's index is appended).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemDef {
    pub name: String,
    /// Metric name written (docs/metrics.md); snake_case of `name` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Numeric OID; may use macros.
    pub oid: String,
    /// Seconds (`60`), or text: `"60"`, `"5m"`, `"{$IF_INTERVAL}"`. Default 60.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Interval>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub units: Option<String>,
    /// `integer | float | gauge | counter | string` (default `gauge`).
    #[serde(default = "default_value_type")]
    pub value_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiplier: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preprocess: Option<Preprocess>,
    /// Extra labels on this item's samples (e.g. `{"pool": "Processor"}`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

fn default_value_type() -> String {
    "gauge".into()
}

/// An interval: seconds as a number, or text (number, duration with unit s/m/h/d, macro).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Interval {
    Seconds(i64),
    Text(String),
}

/// A trigger: an alert rule expression (PromQL with an optional `for`, macros allowed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TriggerDef {
    pub name: String,
    pub expression: String,
    /// `critical | high | medium | low | info`.
    pub severity: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A low-level discovery rule: walk `columns` of a table, keep the rows `filters` pass, poll
/// one copy of `items` per row, labelled with the row's column values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DiscoveryDef {
    pub name: String,
    /// Identity of the rule within the template; snake_case of `name` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// A MIB-free preset filling `columns`, `index_label` and `key_labels` (explicit fields
    /// win): `ifXTable` (ifName, ifDescr, ifAlias, ifType; index `ifIndex`; keyed by ifName,
    /// then ifDescr) or `ifTable` (ifDescr, ifType; keyed by ifDescr) for agents without
    /// ifXTable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// Label -> column OID (without index), e.g. `"ifName": "1.3.6.1.2.1.31.1.1.1.1"`.
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
    /// Label carrying the row index (default `index`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_label: Option<String>,
    /// Labels identifying a row across renumbering, first present wins; the index when empty.
    #[serde(default)]
    pub key_labels: Vec<String>,
    #[serde(default)]
    pub filters: Vec<RowFilter>,
    /// Re-discovery interval (default 3600 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Interval>,
    /// Item prototypes.
    #[serde(default, alias = "item_prototypes")]
    pub items: Vec<ItemDef>,
    /// Trigger prototypes (expressions over the prototypes' metrics; every row's series is
    /// its own alert instance).
    #[serde(
        default,
        alias = "trigger_prototypes",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub triggers: Vec<TriggerDef>,
}

/// `(columns (label, OID), index label, key labels)` of a table preset.
pub type TablePreset = (
    Vec<(&'static str, &'static str)>,
    &'static str,
    Vec<&'static str>,
);

/// Columns, index label and key labels of a table preset (see [`DiscoveryDef::table`]).
pub fn table_preset(name: &str) -> Option<TablePreset> {
    const IF_DESCR: (&str, &str) = ("ifDescr", "1.3.6.1.2.1.2.2.1.2");
    const IF_TYPE: (&str, &str) = ("ifType", "1.3.6.1.2.1.2.2.1.3");
    match name {
        "ifXTable" => Some((
            vec![
                ("ifName", "1.3.6.1.2.1.31.1.1.1.1"),
                IF_DESCR,
                ("ifAlias", "1.3.6.1.2.1.31.1.1.1.18"),
                IF_TYPE,
            ],
            "ifIndex",
            vec!["ifName", "ifDescr"],
        )),
        "ifTable" => Some((vec![IF_DESCR, IF_TYPE], "ifIndex", vec!["ifDescr"])),
        _ => None,
    }
}

/// A trigger with macros expanded, ready to become an alert rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExpandedTrigger {
    /// Stable per template and trigger name ([`trigger_id`]).
    pub id: Uuid,
    pub name: String,
    /// Macros expanded; the rule made from it is scoped to its devices by `device_ids`.
    pub expression: String,
    pub severity: Severity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// One validation problem: where (`items[2].oid`) and what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Every problem found in a template (never empty).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct TemplateErrors(pub Vec<Problem>);

impl fmt::Display for TemplateErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl TemplateErrors {
    /// The first problem (for APIs that name one field).
    pub fn first(&self) -> &Problem {
        &self.0[0]
    }
}

/// Parses and validates template JSON. A structural error (wrong type, unknown field)
/// is one problem with its path; otherwise every semantic problem is returned.
pub fn parse(json: &str) -> Result<Template, TemplateErrors> {
    let de = &mut serde_json::Deserializer::from_str(json);
    let t: Template = serde_path_to_error::deserialize(de).map_err(structural)?;
    validate(&t)?;
    Ok(t)
}

/// As [`parse`], from a JSON value.
pub fn from_value(v: serde_json::Value) -> Result<Template, TemplateErrors> {
    let t: Template = serde_path_to_error::deserialize(v).map_err(structural)?;
    validate(&t)?;
    Ok(t)
}

fn structural<E: fmt::Display>(e: serde_path_to_error::Error<E>) -> TemplateErrors {
    let path = e.path().to_string();
    let path = if path == "." { String::new() } else { path };
    TemplateErrors(vec![Problem {
        path,
        message: e.inner().to_string(),
    }])
}

/// Checks a template with its default macros. Ids play no part in validity.
pub fn validate(t: &Template) -> Result<(), TemplateErrors> {
    build(t, Uuid::nil(), Uuid::nil(), &BTreeMap::new()).map(|_| ())
}

/// Expands a template for one device: macros (the template's, then `overrides`) filled in,
/// keys resolved, ids assigned. Overrides naming a macro the template does not define are
/// refused (`macros.{$X}`).
pub fn expand(
    t: &Template,
    template_id: Uuid,
    device_id: Uuid,
    overrides: &BTreeMap<String, String>,
) -> Result<(PollPlan, Vec<ExpandedTrigger>), TemplateErrors> {
    build(t, template_id, device_id, overrides)
}

/// The `monitoring_items` id of scalar item `key` of a template applied to a device.
pub fn item_id(template_id: Uuid, device_id: Uuid, key: &str) -> Uuid {
    wardflux_model::scalar_item_id(template_id, device_id, key)
}

/// The id of discovery rule `rule_key` of a template (the same on every device).
pub fn discovery_id(template_id: Uuid, rule_key: &str) -> Uuid {
    Uuid::new_v5(&template_id, format!("discovery/{rule_key}").as_bytes())
}

/// The id of item prototype `key` of rule `rule_key` (the same on every device).
pub fn prototype_id(template_id: Uuid, rule_key: &str, key: &str) -> Uuid {
    Uuid::new_v5(
        &template_id,
        format!("prototype/{rule_key}/{key}").as_bytes(),
    )
}

/// The id of a trigger (or trigger prototype) by name.
pub fn trigger_id(template_id: Uuid, name: &str) -> Uuid {
    Uuid::new_v5(&template_id, format!("trigger/{name}").as_bytes())
}

/// `"Interface In Octets"` -> `interface_in_octets`: lower case, runs of anything else than
/// letters and digits become one `_`, a leading digit gets a `_` before it.
pub fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut prev_us = true;
    let mut prev_lower = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            // camelCase boundary: ifHCInOctets -> if_hcin_octets is ugly but stable; only
            // split lower->Upper.
            if c.is_ascii_uppercase() && prev_lower && !prev_us {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
            prev_us = false;
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        } else if !prev_us {
            out.push('_');
            prev_us = true;
            prev_lower = false;
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// Replaces every `{$NAME}` in `s` from `macros`; an unknown or malformed one is an error.
pub fn expand_macros(s: &str, macros: &BTreeMap<String, String>) -> Result<String, String> {
    let mut err = None;
    let out = MACRO_USE.replace_all(s, |c: &regex::Captures| {
        let m = &c[0];
        match macros.get(m) {
            Some(v) => v.clone(),
            None => {
                err.get_or_insert_with(|| {
                    if MACRO_NAME.is_match(m) {
                        format!("unknown macro {m}")
                    } else {
                        format!("malformed macro {m} (macros are {{$NAME}}, upper case)")
                    }
                });
                m.to_string()
            }
        }
    });
    match err {
        Some(e) => Err(e),
        None => Ok(out.into_owned()),
    }
}

/// Parses `"60"`, `"30s"`, `"5m"`, `"1h"`, `"1d"` into seconds.
fn parse_duration(s: &str) -> Option<i64> {
    let s = s.trim();
    let (num, mul) = match s.char_indices().last()? {
        (i, 's') => (&s[..i], 1),
        (i, 'm') => (&s[..i], 60),
        (i, 'h') => (&s[..i], 3600),
        (i, 'd') => (&s[..i], 86400),
        _ => (s, 1),
    };
    num.parse::<i64>().ok()?.checked_mul(mul)
}

fn resolve_interval(
    i: &Option<Interval>,
    default: u32,
    macros: &BTreeMap<String, String>,
) -> Result<u32, String> {
    let secs = match i {
        None => return Ok(default),
        Some(Interval::Seconds(n)) => *n,
        Some(Interval::Text(s)) => {
            let e = expand_macros(s, macros)?;
            parse_duration(&e).ok_or_else(|| {
                format!("{e:?} is not an interval (seconds, or a number with s/m/h/d)")
            })?
        }
    };
    if secs < 1 {
        return Err(format!("must be at least 1 second, got {secs}"));
    }
    u32::try_from(secs).map_err(|_| format!("{secs} is too large"))
}

fn resolve_oid(oid: &str, macros: &BTreeMap<String, String>) -> Result<String, String> {
    let e = expand_macros(oid, macros)?;
    let e = e.trim();
    if !OID.is_match(e) {
        return Err(format!("{e:?} is not a numeric OID"));
    }
    Ok(e.trim_start_matches('.').to_string())
}

fn parse_value_type(s: &str) -> Result<ValueType, String> {
    Ok(match s {
        "integer" => ValueType::Integer,
        "float" => ValueType::Float,
        "gauge" => ValueType::Gauge,
        "counter" => ValueType::Counter,
        "string" => ValueType::String,
        other => {
            return Err(format!(
                "unknown value_type {other:?} (integer, float, gauge, counter, string)"
            ));
        }
    })
}

/// Problems collected while walking a template.
#[derive(Default)]
struct Collect(Vec<Problem>);

impl Collect {
    fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            path: path.into(),
            message: message.into(),
        });
    }
    fn ok<T>(&mut self, path: impl Into<String>, r: Result<T, String>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(m) => {
                self.push(path, m);
                None
            }
        }
    }
}

/// Resolves a list of item definitions (scalars, or the prototypes of one rule).
fn build_items(
    defs: &[ItemDef],
    base: &str,
    macros: &BTreeMap<String, String>,
    id: &dyn Fn(&str) -> Uuid,
    errs: &mut Collect,
) -> Vec<ItemSpec> {
    let mut out = Vec::new();
    let mut keys = BTreeMap::new();
    for (i, d) in defs.iter().enumerate() {
        let p = format!("{base}[{i}]");
        if d.name.trim().is_empty() {
            errs.push(format!("{p}.name"), "must not be empty");
        }
        let key = d.key.clone().unwrap_or_else(|| snake_case(&d.name));
        let key_ok = if !KEY.is_match(&key) {
            let f = if d.key.is_some() { "key" } else { "name" };
            errs.push(
                format!("{p}.{f}"),
                format!("key {key:?} is not a metric name ([a-z_][a-z0-9_]*)"),
            );
            false
        } else if let Some(first) = keys.insert(key.clone(), i) {
            errs.push(
                format!("{p}.key"),
                format!("duplicate key {key:?} (also {base}[{first}])"),
            );
            false
        } else {
            true
        };
        let oid = errs.ok(format!("{p}.oid"), resolve_oid(&d.oid, macros));
        let interval = errs.ok(
            format!("{p}.interval"),
            resolve_interval(&d.interval, DEFAULT_ITEM_INTERVAL, macros),
        );
        let vt = errs.ok(format!("{p}.value_type"), parse_value_type(&d.value_type));
        if let Some(m) = d.multiplier
            && (!m.is_finite() || m == 0.0)
        {
            errs.push(
                format!("{p}.multiplier"),
                "must be a finite non-zero number",
            );
        }
        if vt == Some(ValueType::String) && (d.multiplier.is_some() || d.preprocess.is_some()) {
            errs.push(
                format!("{p}.value_type"),
                "a string item takes no multiplier or preprocess",
            );
        }
        if let Some(Preprocess::Equals { value }) = &d.preprocess
            && !value.is_finite()
        {
            errs.push(format!("{p}.preprocess.value"), "must be a finite number");
        }
        for l in d.labels.keys() {
            if !LABEL.is_match(l) || l == "__name__" {
                errs.push(format!("{p}.labels.{l}"), "not a label name");
            }
        }
        if let (true, Some(oid), Some(interval), Some(vt)) = (key_ok, oid, interval, vt) {
            out.push(ItemSpec {
                id: id(&key),
                key,
                name: d.name.trim().to_string(),
                oid,
                interval_seconds: interval,
                value_type: vt,
                units: d.units.clone().filter(|u| !u.is_empty()),
                multiplier: d.multiplier,
                preprocess: d.preprocess.clone(),
                labels: d.labels.clone(),
            });
        }
    }
    // `preprocess.other` must name an item of the same list, numeric, not itself.
    for (i, d) in defs.iter().enumerate() {
        let Some(other) = d.preprocess.as_ref().and_then(Preprocess::other) else {
            continue;
        };
        let me = d.key.clone().unwrap_or_else(|| snake_case(&d.name));
        match defs
            .iter()
            .find(|o| o.key.clone().unwrap_or_else(|| snake_case(&o.name)) == other)
        {
            None => errs.push(
                format!("{base}[{i}].preprocess.other"),
                format!("names no item: {other:?}"),
            ),
            Some(_) if other == me => errs.push(
                format!("{base}[{i}].preprocess.other"),
                "an item cannot read itself",
            ),
            Some(o) if o.value_type == "string" => errs.push(
                format!("{base}[{i}].preprocess.other"),
                format!("{other:?} is a string item"),
            ),
            Some(_) => {}
        }
    }
    out
}

/// Splits a trailing `for DURATION` off a rule expression.
fn split_for(expr: &str) -> (&str, Option<&str>) {
    match FOR_SUFFIX.captures(expr) {
        Some(c) => (
            c.get(1).map_or(expr, |m| m.as_str()),
            c.get(2).map(|m| m.as_str()),
        ),
        None => (expr.trim(), None),
    }
}

fn build_trigger(
    d: &TriggerDef,
    p: &str,
    template_id: Uuid,
    macros: &BTreeMap<String, String>,
    errs: &mut Collect,
) -> Option<ExpandedTrigger> {
    if d.name.trim().is_empty() {
        errs.push(format!("{p}.name"), "must not be empty");
    }
    let sev = errs.ok(
        format!("{p}.severity"),
        d.severity.parse::<Severity>().map_err(|_| {
            format!(
                "unknown severity {:?} (critical, high, medium, low, info)",
                d.severity
            )
        }),
    );
    let expr = errs.ok(
        format!("{p}.expression"),
        expand_macros(&d.expression, macros),
    );
    let expr = expr.and_then(|e| {
        let (q, _) = split_for(&e);
        match promql_parser::parser::parse(q) {
            Ok(_) => Some(e.trim().to_string()),
            Err(m) => {
                errs.push(format!("{p}.expression"), format!("not PromQL: {m}"));
                None
            }
        }
    });
    Some(ExpandedTrigger {
        id: trigger_id(template_id, d.name.trim()),
        name: d.name.trim().to_string(),
        expression: expr?,
        severity: sev?,
        description: d.description.clone(),
    })
}

fn build(
    t: &Template,
    template_id: Uuid,
    device_id: Uuid,
    overrides: &BTreeMap<String, String>,
) -> Result<(PollPlan, Vec<ExpandedTrigger>), TemplateErrors> {
    let mut errs = Collect::default();
    if t.name.trim().is_empty() || t.name.len() > 200 {
        errs.push("name", "must be 1-200 characters");
    }
    for (k, v) in &t.macros {
        if !MACRO_NAME.is_match(k) {
            errs.push(
                format!("macros.{k}"),
                "macro names are {$NAME} (upper case, digits, _ and .)",
            );
        }
        if MACRO_USE.is_match(v) {
            errs.push(format!("macros.{k}"), "a macro value cannot use macros");
        }
    }
    let mut macros = t.macros.clone();
    for (k, v) in overrides {
        if !t.macros.contains_key(k) {
            errs.push(format!("macros.{k}"), "the template defines no such macro");
        } else if MACRO_USE.is_match(v) {
            errs.push(format!("macros.{k}"), "a macro value cannot use macros");
        } else {
            macros.insert(k.clone(), v.clone());
        }
    }

    let items = build_items(
        &t.items,
        "items",
        &macros,
        &|key| item_id(template_id, device_id, key),
        &mut errs,
    );

    let mut discoveries = Vec::new();
    let mut rule_keys = BTreeMap::new();
    let mut triggers = Vec::new();
    for (j, d) in t.discovery.iter().enumerate() {
        let p = format!("discovery[{j}]");
        if d.name.trim().is_empty() {
            errs.push(format!("{p}.name"), "must not be empty");
        }
        let rkey = d.key.clone().unwrap_or_else(|| snake_case(&d.name));
        if let Some(first) = rule_keys.insert(rkey.clone(), j) {
            errs.push(
                format!("{p}.key"),
                format!("duplicate rule key {rkey:?} (also discovery[{first}])"),
            );
        }
        let preset = match d.table.as_deref() {
            None => None,
            Some(name) => {
                let p_ = table_preset(name);
                if p_.is_none() {
                    errs.push(
                        format!("{p}.table"),
                        format!("unknown table preset {name:?} (ifXTable, ifTable)"),
                    );
                }
                p_
            }
        };
        let mut all_columns: BTreeMap<String, String> = preset
            .iter()
            .flat_map(|(cols, _, _)| cols.iter())
            .map(|(l, o)| (l.to_string(), o.to_string()))
            .collect();
        all_columns.extend(d.columns.clone());
        let mut columns = BTreeMap::new();
        if all_columns.is_empty() {
            errs.push(format!("{p}.columns"), "needs at least one column to walk");
        }
        for (label, oid) in &all_columns {
            if !LABEL.is_match(label) {
                errs.push(format!("{p}.columns.{label}"), "not a label name");
            }
            if let Some(o) = errs.ok(format!("{p}.columns.{label}"), resolve_oid(oid, &macros)) {
                columns.insert(label.clone(), o);
            }
        }
        let index_label = d
            .index_label
            .clone()
            .unwrap_or_else(|| preset.as_ref().map_or("index", |(_, i, _)| *i).to_string());
        let key_labels: Vec<String> = if d.key_labels.is_empty() {
            preset
                .as_ref()
                .map(|(_, _, k)| k.iter().map(|s| s.to_string()).collect())
                .unwrap_or_default()
        } else {
            d.key_labels.clone()
        };
        if !LABEL.is_match(&index_label) {
            errs.push(format!("{p}.index_label"), "not a label name");
        }
        let known = |l: &str| l == index_label || all_columns.contains_key(l);
        for (k, l) in key_labels.iter().enumerate() {
            if !known(l) {
                errs.push(
                    format!("{p}.key_labels[{k}]"),
                    format!("{l:?} is not a column or the index label"),
                );
            }
        }
        let mut filters = Vec::new();
        for (k, f) in d.filters.iter().enumerate() {
            if !known(&f.label) {
                errs.push(
                    format!("{p}.filters[{k}].label"),
                    format!("{:?} is not a column or the index label", f.label),
                );
            }
            let Some(re) = errs.ok(
                format!("{p}.filters[{k}].regex"),
                expand_macros(&f.regex, &macros),
            ) else {
                continue;
            };
            if let Err(e) = Regex::new(&re) {
                errs.push(format!("{p}.filters[{k}].regex"), format!("bad regex: {e}"));
            }
            filters.push(RowFilter {
                label: f.label.clone(),
                regex: re,
                negate: f.negate,
            });
        }
        let interval = errs.ok(
            format!("{p}.interval"),
            resolve_interval(&d.interval, DEFAULT_DISCOVERY_INTERVAL, &macros),
        );
        if d.items.is_empty() {
            errs.push(format!("{p}.items"), "needs at least one item prototype");
        }
        let prototypes = build_items(
            &d.items,
            &format!("{p}.items"),
            &macros,
            &|key| prototype_id(template_id, &rkey, key),
            &mut errs,
        );
        for (k, tr) in d.triggers.iter().enumerate() {
            if let Some(x) = build_trigger(
                tr,
                &format!("{p}.triggers[{k}]"),
                template_id,
                &macros,
                &mut errs,
            ) {
                triggers.push(x);
            }
        }
        discoveries.push(DiscoverySpec {
            id: discovery_id(template_id, &rkey),
            name: d.name.trim().to_string(),
            columns,
            index_label,
            key_labels,
            filters,
            interval_seconds: interval.unwrap_or(DEFAULT_DISCOVERY_INTERVAL),
            prototypes,
        });
    }

    let mut names = BTreeSet::new();
    for (k, tr) in t.triggers.iter().enumerate() {
        if let Some(x) = build_trigger(
            tr,
            &format!("triggers[{k}]"),
            template_id,
            &macros,
            &mut errs,
        ) {
            triggers.push(x);
        }
    }
    for (k, tr) in t
        .triggers
        .iter()
        .chain(t.discovery.iter().flat_map(|d| d.triggers.iter()))
        .enumerate()
    {
        if !names.insert(tr.name.trim()) {
            errs.push(
                format!("triggers[{k}].name"),
                format!("duplicate trigger name {:?}", tr.name.trim()),
            );
        }
    }

    if errs.0.is_empty() {
        Ok((PollPlan { items, discoveries }, triggers))
    } else {
        Err(TemplateErrors(errs.0))
    }
}

#[cfg(test)]
mod tests;

pub mod records;
