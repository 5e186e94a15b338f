//! Configuration-store records: users, devices, groups, SNMP credentials, audit entries.
//!
//! These types are what the store returns and what the API serialises. Secrets never
//! live in a record type: SNMP credentials carry `has_*` flags only; the decrypted values
//! come from [`SnmpSecrets`], whose `Debug` is redacted.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// A validation failure on one named field. The API maps it to 422 `{error, message, field}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, ToSchema)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// User input shown back (in an error, the log or the audit log): at most 64 characters,
/// then "…", so a megabyte of input never becomes a megabyte of answer.
pub fn truncate_for_display(s: &str) -> String {
    const MAX: usize = 64;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// Most tags a device may carry.
pub const MAX_TAGS: usize = 32;

/// A string secret: `Debug` and `Display` never show the value, `Serialize` is absent on purpose.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    /// The plain value; call sites are the few places that must use it (encryption, the wire).
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything, including users and credentials.
    Admin,
    /// Read everything, acknowledge alerts, run checks (ping, SNMP poll/test).
    Operator,
    /// Read only.
    Viewer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Viewer => "viewer",
        }
    }
    /// Whether this role includes everything `required` may do.
    pub fn allows(self, required: Role) -> bool {
        self.rank() >= required.rank()
    }
    fn rank(self) -> u8 {
        match self {
            Role::Viewer => 0,
            Role::Operator => 1,
            Role::Admin => 2,
        }
    }
}

impl std::str::FromStr for Role {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "admin" => Ok(Role::Admin),
            "operator" => Ok(Role::Operator),
            "viewer" => Ok(Role::Viewer),
            _ => Err(FieldError::new(
                "role",
                "must be one of admin, operator, viewer",
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct User {
    pub id: Uuid,
    pub username: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Who performs a change; written to the audit log in the same transaction as the change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: Option<Uuid>,
    /// `admin`, `system` (bootstrap), `cli` ...
    pub name: String,
}

impl Actor {
    pub fn system() -> Self {
        Self {
            user_id: None,
            name: "system".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ApiToken {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    /// `api` for automation tokens, `session` for login sessions.
    pub kind: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Device {
    pub id: Uuid,
    pub name: String,
    #[schema(value_type = String, example = "192.0.2.1")]
    pub ip: std::net::IpAddr,
    pub hostname: Option<String>,
    pub vendor: Option<String>,
    pub device_type: Option<String>,
    pub model: Option<String>,
    pub location: Option<String>,
    pub region: Option<String>,
    pub branch: Option<String>,
    pub tags: Vec<String>,
    pub enabled: bool,
    pub parent_id: Option<Uuid>,
    /// `standalone` (created here) or `zabbix` (mirrored); the IP is unique within a source.
    pub source: DeviceSource,
    /// Every source that knows the device: `[standalone, zabbix]` for a device of ours that
    /// a Zabbix host matched (by IP, then host name), so one device is listed once.
    pub sources: Vec<DeviceSource>,
    /// The Zabbix host id of a mirrored or matched device.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zabbix_hostid: Option<u64>,
    /// ICMP check interval, seconds (default 10).
    pub icmp_interval_s: i32,
    /// UDP port of the device's SNMP agent (default 161; NATed branch routers use others).
    pub snmp_port: u16,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The writable fields of a device (create and full update). Validated by [`DeviceInput::validate`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceInput {
    /// Display name, 1-255 characters; not unique (a device is identified by its id).
    pub name: String,
    /// IPv4 or IPv6 address; unique within the device's source.
    pub ip: String,
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub vendor: Option<String>,
    #[serde(default)]
    pub device_type: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub branch: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub parent_id: Option<Uuid>,
    #[serde(default)]
    pub source: Option<DeviceSource>,
    #[serde(default)]
    pub icmp_interval_s: Option<i32>,
    /// SNMP agent port, 1-65535 (default 161).
    #[serde(default)]
    pub snmp_port: Option<i32>,
}

impl From<&Device> for DeviceInput {
    /// The device's current values as an input, to change a few fields of a full update.
    fn from(d: &Device) -> Self {
        Self {
            name: d.name.clone(),
            ip: d.ip.to_string(),
            hostname: d.hostname.clone(),
            vendor: d.vendor.clone(),
            device_type: d.device_type.clone(),
            model: d.model.clone(),
            location: d.location.clone(),
            region: d.region.clone(),
            branch: d.branch.clone(),
            tags: d.tags.clone(),
            enabled: Some(d.enabled),
            parent_id: d.parent_id,
            source: Some(d.source),
            icmp_interval_s: Some(d.icmp_interval_s),
            snmp_port: Some(i32::from(d.snmp_port)),
        }
    }
}

/// Where a device record comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeviceSource {
    /// Created here (API, import, discovery) and monitored by the standalone engine.
    #[default]
    Standalone,
    /// Mirrored from a Zabbix server.
    Zabbix,
}

impl DeviceSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standalone => "standalone",
            Self::Zabbix => "zabbix",
        }
    }
}

impl std::fmt::Display for DeviceSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for DeviceSource {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "standalone" => Ok(Self::Standalone),
            "zabbix" => Ok(Self::Zabbix),
            _ => Err(FieldError::new("source", "must be standalone or zabbix")),
        }
    }
}

impl DeviceInput {
    /// Checks every field and normalises the IP (`std::net::IpAddr` canonical form).
    pub fn validate(&mut self) -> Result<(), FieldError> {
        self.name = self.name.trim().to_string();
        if self.name.is_empty() {
            return Err(FieldError::new("name", "must not be empty"));
        }
        if self.name.chars().count() > 255 {
            return Err(FieldError::new("name", "must be at most 255 characters"));
        }
        let ip: std::net::IpAddr = self
            .ip
            .trim()
            .parse()
            .map_err(|_| FieldError::new("ip", "must be an IPv4 or IPv6 address"))?;
        self.ip = ip.to_string();
        for (field, v) in [
            ("hostname", &self.hostname),
            ("vendor", &self.vendor),
            ("device_type", &self.device_type),
            ("model", &self.model),
            ("location", &self.location),
            ("region", &self.region),
            ("branch", &self.branch),
        ] {
            if v.as_ref().is_some_and(|s| s.chars().count() > 255) {
                return Err(FieldError::new(field, "must be at most 255 characters"));
            }
        }
        if self.tags.len() > MAX_TAGS {
            return Err(FieldError::new(
                "tags",
                format!("at most {MAX_TAGS} tags per device"),
            ));
        }
        for t in &self.tags {
            if t.trim().is_empty() || t.chars().count() > 64 || t.contains(',') {
                return Err(FieldError::new(
                    "tags",
                    "each tag must be 1-64 characters without commas",
                ));
            }
        }
        if let Some(i) = self.icmp_interval_s
            && !(1..=86_400).contains(&i)
        {
            return Err(FieldError::new(
                "icmp_interval_s",
                "must be between 1 and 86400 seconds",
            ));
        }
        if let Some(p) = self.snmp_port
            && !(1..=65_535).contains(&p)
        {
            return Err(FieldError::new("snmp_port", "must be between 1 and 65535"));
        }
        Ok(())
    }
}

/// Filter, search, sort and pagination for device listing.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeviceQuery {
    /// Case-insensitive substring of name, ip or hostname.
    pub search: Option<String>,
    pub vendor: Option<String>,
    pub device_type: Option<String>,
    pub region: Option<String>,
    pub branch: Option<String>,
    pub location: Option<String>,
    pub source: Option<DeviceSource>,
    pub enabled: Option<bool>,
    /// Devices carrying this tag.
    pub tag: Option<String>,
    /// Devices in this group.
    pub group_id: Option<Uuid>,
    /// One of name, ip, vendor, device_type, region, branch, created_at, updated_at; prefix `-` for descending.
    pub sort: Option<String>,
    /// 1-1000, default 100.
    pub limit: Option<u64>,
    pub offset: Option<u64>,
}

pub const DEVICE_SORT_FIELDS: &[&str] = &[
    "name",
    "ip",
    "vendor",
    "device_type",
    "region",
    "branch",
    "created_at",
    "updated_at",
];

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
    pub limit: u64,
    pub offset: u64,
}

impl<T> Page<T> {
    /// The same page with `f` of each item.
    pub fn map<U>(mut self, f: impl FnMut(T) -> U) -> Page<U> {
        let items = std::mem::take(&mut self.items);
        self.with(items.into_iter().map(f).collect())
    }

    /// The same page with other items (the records made of these).
    pub fn with<U>(self, items: Vec<U>) -> Page<U> {
        Page {
            items,
            total: self.total,
            limit: self.limit,
            offset: self.offset,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DeviceGroup {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub device_ids: Vec<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceGroupInput {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub device_ids: Vec<Uuid>,
}

/// Row-by-row result of a bulk import.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ImportReport {
    pub created: u64,
    /// Whether anything was written (false when any row failed and `partial` was not asked).
    pub committed: bool,
    pub errors: Vec<RowError>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RowError {
    /// 1-based data row number (the CSV header is row 0).
    pub row: u64,
    pub field: String,
    pub message: String,
}

/// Moved to [`crate::snmp`] (with the other SNMP enums); re-exported here for existing users.
pub use crate::snmp::SnmpVersion;

/// An SNMP credential as the API shows it: never a secret, only whether one is set.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SnmpCredential {
    pub id: Uuid,
    pub name: String,
    pub device_id: Option<Uuid>,
    pub version: SnmpVersion,
    pub username: Option<String>,
    /// v3 only.
    pub security_level: Option<crate::snmp::SecurityLevel>,
    pub auth_protocol: Option<crate::snmp::AuthProtocol>,
    pub priv_protocol: Option<crate::snmp::PrivProtocol>,
    pub context: Option<String>,
    pub has_community: bool,
    pub has_auth_key: bool,
    pub has_priv_key: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SnmpCredentialInput {
    /// Required for a shared credential; a per-device one (with `device_id`) without a name
    /// is named after its device.
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub device_id: Option<Uuid>,
    pub version: Option<SnmpVersion>,
    #[schema(value_type = Option<String>, format = Password)]
    #[serde(default)]
    pub community: Option<Secret>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub security_level: Option<crate::snmp::SecurityLevel>,
    #[serde(default)]
    pub auth_protocol: Option<crate::snmp::AuthProtocol>,
    #[schema(value_type = Option<String>, format = Password)]
    #[serde(default)]
    pub auth_key: Option<Secret>,
    #[serde(default)]
    pub priv_protocol: Option<crate::snmp::PrivProtocol>,
    #[schema(value_type = Option<String>, format = Password)]
    #[serde(default)]
    pub priv_key: Option<Secret>,
    #[serde(default)]
    pub context: Option<String>,
}

impl SnmpCredentialInput {
    pub fn validate(&mut self) -> Result<(), FieldError> {
        self.name = self.name.trim().to_string();
        if self.name.is_empty() && self.device_id.is_none() {
            return Err(FieldError::new(
                "name",
                "is required for a shared credential (one without device_id)",
            ));
        }
        if self.name.chars().count() > 255 {
            return Err(FieldError::new("name", "must be at most 255 characters"));
        }
        let version = self
            .version
            .ok_or_else(|| FieldError::new("version", "is required: v1, v2c or v3"))?;
        match version {
            SnmpVersion::V1 | SnmpVersion::V2c => {
                if self.community.as_ref().is_none_or(Secret::is_empty) {
                    return Err(FieldError::new("community", "is required for v1 and v2c"));
                }
                for (f, set) in [
                    ("username", self.username.is_some()),
                    ("auth_key", self.auth_key.is_some()),
                    ("priv_key", self.priv_key.is_some()),
                ] {
                    if set {
                        return Err(FieldError::new(f, "only applies to v3"));
                    }
                }
            }
            SnmpVersion::V3 => {
                if self.community.is_some() {
                    return Err(FieldError::new("community", "does not apply to v3"));
                }
                if self.username.as_deref().is_none_or(|u| u.trim().is_empty()) {
                    return Err(FieldError::new("username", "is required for v3"));
                }
                use crate::snmp::{AuthProtocol, PrivProtocol, SecurityLevel};
                let level = self
                    .security_level
                    .unwrap_or(match (&self.auth_key, &self.priv_key) {
                        (Some(_), Some(_)) => SecurityLevel::AuthPriv,
                        (Some(_), None) => SecurityLevel::AuthNoPriv,
                        _ => SecurityLevel::NoAuthNoPriv,
                    });
                if level.has_auth() {
                    self.auth_protocol.get_or_insert(AuthProtocol::Sha1);
                    match &self.auth_key {
                        Some(k) if k.expose().len() >= 8 => {}
                        _ => {
                            return Err(FieldError::new(
                                "auth_key",
                                "is required for this security level and must be at least 8 characters",
                            ));
                        }
                    }
                } else if self.auth_key.is_some() || self.auth_protocol.is_some() {
                    return Err(FieldError::new("auth_key", "not allowed with noAuthNoPriv"));
                }
                if level.has_priv() {
                    self.priv_protocol.get_or_insert(PrivProtocol::Aes128);
                    match &self.priv_key {
                        Some(k) if k.expose().len() >= 8 => {}
                        _ => {
                            return Err(FieldError::new(
                                "priv_key",
                                "is required for authPriv and must be at least 8 characters",
                            ));
                        }
                    }
                } else if self.priv_key.is_some() || self.priv_protocol.is_some() {
                    return Err(FieldError::new("priv_key", "only allowed with authPriv"));
                }
                self.security_level = Some(level);
            }
        }
        Ok(())
    }
}

/// Decrypted SNMP secrets for the poller. Never serialised, `Debug` redacted.
#[derive(Debug, Clone, Default)]
pub struct SnmpSecrets {
    pub community: Option<Secret>,
    pub auth_key: Option<Secret>,
    pub priv_key: Option<Secret>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct MonitoringProfile {
    pub id: Uuid,
    pub name: String,
    pub mode: crate::MonitoringMode,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub actor_id: Option<Uuid>,
    /// e.g. `device.create`, `user.update`, `snmp_credential.create`
    pub action: String,
    pub entity: String,
    pub entity_id: Option<String>,
    /// Record before the change (secrets stripped), if any.
    pub before: Option<serde_json::Value>,
    /// Record after the change (secrets stripped), if any.
    pub after: Option<serde_json::Value>,
}

/// One device state transition (table `device_status_history`).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct StatusChange {
    pub id: Uuid,
    pub device_id: Uuid,
    pub from_state: crate::DeviceState,
    pub to_state: crate::DeviceState,
    pub at: DateTime<Utc>,
    pub reason: Option<String>,
}
