//! The stored records of templates, their device assignments and monitoring items, as the
//! store returns them and the API shows them.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use wardflux_model::inventory::Device;
use wardflux_model::{SharedPlan, ValueType};

use crate::Template;

/// A stored template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MonitoringTemplate {
    pub id: Uuid,
    pub name: String,
    /// The shipped file it was loaded from (`cisco_ios.json`) while unmodified; `None` for
    /// user templates and for shipped ones a user edited (those are no longer updated).
    pub builtin: Option<String>,
    /// Incremented on every change.
    pub version: i64,
    /// The template as written.
    pub template: Template,
    /// Devices it is applied to, with their macro overrides.
    pub devices: Vec<TemplateAssignment>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A template applied to a device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TemplateAssignment {
    pub device_id: Uuid,
    /// Macro overrides for this device (`{"{$CPU_HIGH}": "50"}`).
    #[serde(default)]
    pub macros: BTreeMap<String, String>,
}

/// A stored scalar item of a device (one per template item applied to it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MonitoringItem {
    pub id: Uuid,
    pub device_id: Uuid,
    pub template_id: Option<Uuid>,
    pub key: String,
    pub name: String,
    pub oid: String,
    pub interval_seconds: u32,
    pub value_type: ValueType,
    pub units: Option<String>,
    pub enabled: bool,
}

/// What the SNMP poller runs for one device: the device (address, SNMP port), the id of the
/// SNMP credential to use (decrypt with `Store::snmp_secrets`; `None`: no credential
/// configured, the device cannot be polled) and the merged plan of every template applied,
/// shared with every device that has the same templates and macro values (its scalar item
/// ids on this device: [`SharedPlan::item_id`], or [`SharedPlan::for_device`]).
#[derive(Debug, Clone, PartialEq)]
pub struct DevicePlan {
    pub device: Device,
    pub credential_id: Option<Uuid>,
    pub plan: Arc<SharedPlan>,
}
