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
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
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

/// The `monitoring_items` id of scalar item `key` of template `template_id` applied to
/// `device_id` (UUID v5 under the template's id): the same on every machine and after every
/// re-apply, so history and item state stay attached.
pub fn scalar_item_id(template_id: Uuid, device_id: Uuid, key: &str) -> Uuid {
    Uuid::new_v5(&template_id, format!("item/{device_id}/{key}").as_bytes())
}

/// A [`PollPlan`] as the poller receives it: one expansion shared (`Arc`) by every device
/// with the same templates and the same macro values, instead of one copy per device. Only
/// the scalar items' ids differ between those devices; [`SharedPlan::item_id`] derives them.
/// 10,000 devices with one template hold one plan (its ItemSpecs held one copy per device
/// before: about 8 KB each, docs/perf/polling.md).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SharedPlan {
    /// Prototype and discovery ids are the same on every device. A scalar item's `id` here
    /// identifies it within the plan (with [`ScalarIds::Derived`]: its id for the nil device);
    /// its id on a device is [`SharedPlan::item_id`].
    pub plan: PollPlan,
    pub scalar_ids: ScalarIds,
}

/// How the ids of a [`SharedPlan`]'s scalar items on a device are made.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ScalarIds {
    /// The plan's own ids are the device's (a plan made for one device).
    #[default]
    AsWritten,
    /// Per scalar item of the plan, same order: the template it comes from. Its id on a
    /// device is [`scalar_item_id`]`(template, device, key)`.
    Derived(Vec<Uuid>),
}

impl SharedPlan {
    /// The id on `device_id` of the plan's scalar item number `index`.
    pub fn item_id(&self, index: usize, device_id: Uuid) -> Uuid {
        let item = &self.plan.items[index];
        match &self.scalar_ids {
            ScalarIds::AsWritten => item.id,
            ScalarIds::Derived(templates) => scalar_item_id(templates[index], device_id, &item.key),
        }
    }

    /// A hash of what tells plans apart (ids, keys, OIDs, intervals, value types, rule
    /// columns): equal plans have equal fingerprints, so a map of fingerprints finds an equal
    /// plan among thousands without comparing each (devices whose macro overrides only touch
    /// trigger thresholds get equal plans).
    pub fn fingerprint(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        let item = |h: &mut std::collections::hash_map::DefaultHasher, i: &ItemSpec| {
            (i.id, &i.key, &i.oid, i.interval_seconds, i.value_type).hash(h);
        };
        self.plan.items.len().hash(&mut h);
        for i in &self.plan.items {
            item(&mut h, i);
        }
        if let ScalarIds::Derived(t) = &self.scalar_ids {
            t.hash(&mut h);
        }
        for d in &self.plan.discoveries {
            (d.id, &d.columns, &d.filters, d.interval_seconds).hash(&mut h);
            d.prototypes.len().hash(&mut h);
            for i in &d.prototypes {
                item(&mut h, i);
            }
        }
        h.finish()
    }

    /// The plan as expanded for one device (scalar ids derived).
    pub fn for_device(&self, device_id: Uuid) -> PollPlan {
        let mut plan = self.plan.clone();
        for (i, item) in plan.items.iter_mut().enumerate() {
            item.id = self.item_id(i, device_id);
        }
        plan
    }
}

impl From<PollPlan> for SharedPlan {
    /// A plan made for one device: its ids are used as they are.
    fn from(plan: PollPlan) -> Self {
        Self {
            plan,
            scalar_ids: ScalarIds::AsWritten,
        }
    }
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

    fn spec(key: &str, interval_seconds: u32) -> ItemSpec {
        ItemSpec {
            id: scalar_item_id(Uuid::from_u128(7), Uuid::nil(), key),
            key: key.into(),
            name: key.into(),
            oid: "1.3.6.1.2.1.1.3.0".into(),
            interval_seconds,
            value_type: ValueType::Gauge,
            units: None,
            multiplier: None,
            preprocess: None,
            labels: BTreeMap::new(),
        }
    }

    #[test]
    fn shared_plans_derive_each_device_s_item_ids() {
        let t = Uuid::from_u128(7);
        let shared = SharedPlan {
            plan: PollPlan {
                items: vec![spec("uptime", 60)],
                discoveries: vec![],
            },
            scalar_ids: ScalarIds::Derived(vec![t]),
        };
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        assert_eq!(shared.item_id(0, a), scalar_item_id(t, a, "uptime"));
        assert_ne!(shared.item_id(0, a), shared.item_id(0, b));
        assert_eq!(
            shared.for_device(b).items[0].id,
            scalar_item_id(t, b, "uptime")
        );
        // a plan of one device keeps its ids
        let own = SharedPlan::from(shared.plan.clone());
        assert_eq!(own.item_id(0, a), shared.plan.items[0].id);
        // equal plans, equal fingerprints; another interval, another plan
        assert_eq!(shared.fingerprint(), shared.clone().fingerprint());
        let mut slower = shared.clone();
        slower.plan.items[0].interval_seconds = 300;
        assert_ne!(shared.fingerprint(), slower.fingerprint());
        assert_ne!(shared.fingerprint(), own.fingerprint());
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
