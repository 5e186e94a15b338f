//! Monitoring items: what the SNMP poller reads from one device and how each value becomes a
//! sample. This is the seam between templates (which produce a [`PollPlan`] per device from a
//! template, the device and its macros) and the poller (which runs it). Plain data, so a
//! plan can travel in a scheduler job's payload to another machine.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// How an item's raw value is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ValueType {
    /// A whole number, written as read (after `multiplier`).
    Integer,
    /// A decimal number (also numbers an agent sends as text or Opaque float).
    Float,
    /// A gauge, written as read.
    Gauge,
    /// A Counter32/Counter64: written as a per-second rate between two polls, with wrap and
    /// reboot detection (the first poll writes nothing).
    Counter,
    /// Text: kept as the item's last value and in the device's inventory, never a metric.
    String,
}

impl ValueType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Integer => "integer",
            Self::Float => "float",
            Self::Gauge => "gauge",
            Self::Counter => "counter",
            Self::String => "string",
        }
    }
    /// Whether the item writes samples.
    pub fn is_numeric(self) -> bool {
        self != Self::String
    }
}

/// A value derived from this item's value and another item of the same device (of the same
/// discovered row, for prototypes). `other` names the other item by its `key`. Applied after
/// `multiplier`; the other item is read in the same poll.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Preprocess {
    /// `100 * this / (this + other)`: percent used from used and free.
    PercentOfSum { other: String },
    /// `100 * this / other`: percent from a part and a total.
    PercentOf { other: String },
    /// `this / other`.
    Ratio { other: String },
    /// `other - this`: used from free and total (`this` = free, `other` = total), or free
    /// from used and total. Added with the templates (Net-SNMP memory, MikroTik hrStorage).
    Difference { other: String },
    /// `100 - this`: usage from idle.
    Complement100,
    /// `1` when the value equals `value`, else `0` (ifOperStatus up(1) -> interface_status).
    Equals { value: f64 },
}

impl Preprocess {
    /// The key of the other item this step reads, if any.
    pub fn other(&self) -> Option<&str> {
        match self {
            Self::PercentOfSum { other }
            | Self::PercentOf { other }
            | Self::Ratio { other }
            | Self::Difference { other } => Some(other),
            Self::Complement100 | Self::Equals { .. } => None,
        }
    }
}

/// One item to poll: a scalar (full instance OID) or, inside a [`DiscoverySpec`], a
/// prototype (column OID; the row's index is appended).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ItemSpec {
    /// Stable identity: the `monitoring_items` row, or for a prototype the prototype's id
    /// (each discovered row's item is identified by prototype id + row key).
    pub id: Uuid,
    /// Metric name written (docs/metrics.md), unique within a device (within a row for
    /// prototypes).
    pub key: String,
    /// Display name.
    pub name: String,
    /// Numeric dotted OID, macros already expanded.
    pub oid: String,
    pub interval_seconds: u32,
    pub value_type: ValueType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub units: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiplier: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preprocess: Option<Preprocess>,
    /// Labels added to this item's samples beyond the identity labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// A row filter of a discovery rule: the row is kept when `label`'s value matches `regex`
/// (or does not, with `negate`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RowFilter {
    pub label: String,
    pub regex: String,
    #[serde(default)]
    pub negate: bool,
}

/// Low-level discovery (as Zabbix LLD): walk the columns of a table, keep the rows the
/// filters pass, and poll one copy of each prototype per row, labelled from the columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DiscoverySpec {
    pub id: Uuid,
    pub name: String,
    /// Label name -> column OID (without index), e.g. `ifName` -> `1.3.6.1.2.1.31.1.1.1.1`:
    /// each row's samples carry these labels with the row's values.
    pub columns: BTreeMap<String, String>,
    /// Label carrying the row index (e.g. `ifIndex`).
    pub index_label: String,
    /// Labels that identify a row across renumbering, first present wins (e.g. `ifName`,
    /// `ifDescr`); the index when none is present.
    pub key_labels: Vec<String>,
    #[serde(default)]
    pub filters: Vec<RowFilter>,
    /// How often the table is walked again (default 3600).
    pub interval_seconds: u32,
    pub prototypes: Vec<ItemSpec>,
}

/// Everything the poller needs for one device (credentials travel separately, encrypted at
/// rest and decrypted only by whoever builds the SNMP target).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
pub struct PollPlan {
    pub items: Vec<ItemSpec>,
    pub discoveries: Vec<DiscoverySpec>,
}

/// What happened to an item at its last poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    /// Not polled yet.
    Pending,
    Ok,
    /// The agent has no such object (noSuchObject/noSuchInstance/noSuchName) or answered
    /// with a type the item cannot read; the error says which.
    NotSupported,
    Timeout,
    /// The device is ICMP-down: not polled until it is up.
    Unreachable,
    Error,
}

/// An item's state as the poller last saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ItemState {
    pub item_id: Uuid,
    pub device_id: Uuid,
    pub key: String,
    pub name: String,
    pub oid: String,
    pub value_type: ValueType,
    /// Identity labels excluded: the discovered row's labels, if any.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    pub status: ItemStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The last value written (numbers after rate/multiplier/preprocess) or read (text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_value: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_polled: Option<DateTime<Utc>>,
}

/// The poller's live item states, for the items listing (`GET /api/v1/monitoring/items`).
/// The binary registers an `Arc<dyn ItemStates>` in the API's services registry once the
/// poller runs; without it the API lists stored items as `pending`. Synchronous: the poller
/// keeps its states in memory.
pub trait ItemStates: Send + Sync {
    /// States of one device's items (scalar and discovered rows), or of every device.
    fn item_states(&self, device_id: Option<Uuid>) -> Vec<ItemState>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preprocess_reads_its_json_form() {
        let p: Preprocess =
            serde_json::from_str(r#"{"op":"percent_of_sum","other":"memory_free_bytes"}"#).unwrap();
        assert_eq!(p.other(), Some("memory_free_bytes"));
        let p: Preprocess = serde_json::from_str(r#"{"op":"complement100"}"#).unwrap();
        assert_eq!(p, Preprocess::Complement100);
        assert!(serde_json::from_str::<Preprocess>(r#"{"op":"sqrt"}"#).is_err());
    }

    #[test]
    fn value_types_spell_as_the_seed() {
        for (t, s) in [
            (ValueType::Integer, "\"integer\""),
            (ValueType::Counter, "\"counter\""),
            (ValueType::String, "\"string\""),
        ] {
            assert_eq!(serde_json::to_string(&t).unwrap(), s);
            assert_eq!(t.as_str(), &s[1..s.len() - 1]);
        }
    }
}
