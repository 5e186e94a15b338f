//! Whole-configuration export and import: the standalone configuration (groups, devices with
//! their parents and groups, SNMP credentials, user templates and every template assignment
//! with its macros, notification channels, user alert rules, maintenance windows, discovery
//! rules) as one versioned JSON document that imports into another installation.
//!
//! - Every cross-reference is a natural key, never a UUID: a device is its `ip` (standalone
//!   source), a group, template, channel, rule, maintenance window or discovery rule its
//!   `name`, a credential its `name` and `device_ip`. Zabbix-mirrored devices, built-in alert
//!   rules and the rules a template makes from its triggers are not exported (the binary and
//!   the templates recreate them); built-in templates are referenced by name only.
//! - Secrets: a document carries none unless asked; then they are all in one `secrets` string,
//!   an ASCII-armoured age file encrypted to a passphrase (age's scrypt recipient: a
//!   well-reviewed format and crate rather than crypto written here).
//! - Import validates the whole document first and reports every problem with its path
//!   (`devices[3].ip`); nothing is written while there is one. It then merges by natural key
//!   in dependency order through the store's own functions (each its own transaction with its
//!   audit row): new records are created, changed ones updated, nothing is deleted. A record
//!   equal to what is stored is left alone, so importing the same document twice changes
//!   nothing the second time.
//! - The rule language, channel configs and maintenance schedules are checked by
//!   `wardflux-alert`, which depends on this crate: the caller hands those checks in as
//!   [`ConfigChecks`].

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use sea_orm::EntityTrait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;
use wardflux_model::alerts::{
    AlertRuleInput, ChannelInput, ChannelKind, Escalation, MaintenanceInput, Severity,
};
use wardflux_model::discovery::{
    CandidateInput, CandidateView, DiscoveryAction, DiscoveryRuleInput,
};
use wardflux_model::inventory::{DeviceSource, SnmpVersion};
use wardflux_model::snmp::{AuthProtocol, PrivProtocol, SecurityLevel};
use wardflux_template::Template;

use crate::alerts::RuleQuery;
use crate::{Actor, DeviceGroupInput, DeviceInput, Secret, SnmpCredentialInput, Store, StoreError};

/// The `format` of a configuration document.
pub const FORMAT: &str = "wardflux-config";
/// The document version this build writes and reads.
pub const VERSION: u32 = 1;

/// The whole configuration. Sections are sorted by their natural key, so two exports of
/// the same configuration are equal but for `exported_at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigDocument {
    pub format: String,
    pub version: u32,
    pub exported_at: DateTime<Utc>,
    pub groups: Vec<GroupDoc>,
    pub devices: Vec<DeviceDoc>,
    pub credentials: Vec<CredentialDoc>,
    pub templates: Vec<TemplateDoc>,
    pub template_assignments: Vec<AssignmentDoc>,
    pub channels: Vec<ChannelDoc>,
    pub alert_rules: Vec<RuleDoc>,
    pub maintenance: Vec<MaintenanceDoc>,
    pub discovery_rules: Vec<DiscoveryRuleDoc>,
    /// The secrets, age-encrypted to a passphrase (ASCII armour); absent unless asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupDoc {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

fn yes() -> bool {
    true
}
fn default_icmp() -> i32 {
    crate::devices::DEFAULT_ICMP_INTERVAL_S
}
fn default_port() -> u16 {
    crate::DEFAULT_SNMP_PORT as u16
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceDoc {
    pub name: String,
    pub ip: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The parent's `ip` (a standalone device in this document or already stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_ip: Option<String>,
    #[serde(default = "default_icmp")]
    pub icmp_interval_s: i32,
    #[serde(default = "default_port")]
    pub snmp_port: u16,
    /// Names of the groups the device is in (the document decides a listed device's groups).
    #[serde(default)]
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialDoc {
    pub name: String,
    /// The device it is bound to (`None`: a global credential).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_ip: Option<String>,
    pub version: SnmpVersion,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_level: Option<SecurityLevel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_protocol: Option<AuthProtocol>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priv_protocol: Option<PrivProtocol>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    #[serde(default)]
    pub has_community: bool,
    #[serde(default)]
    pub has_auth_key: bool,
    #[serde(default)]
    pub has_priv_key: bool,
}

/// A user template (or a shipped one a user edited), as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateDoc {
    pub name: String,
    pub template: Template,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignmentDoc {
    /// Template name (in this document or stored, e.g. a shipped template).
    pub template: String,
    pub device_ip: String,
    #[serde(default)]
    pub macros: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelDoc {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ChannelKind,
    /// Non-secret settings.
    pub config: Value,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Names of the secret settings it has (their values are in `secrets` when exported).
    #[serde(default)]
    pub secrets_set: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDoc {
    pub name: String,
    pub expression: String,
    pub severity: Severity,
    /// Channel names.
    #[serde(default)]
    pub notifications: Vec<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation: Option<Escalation>,
    /// The devices it is limited to, by ip (`None`: every device).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_ips: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceDoc {
    pub name: String,
    #[serde(default)]
    pub device_ips: Vec<String>,
    #[serde(default)]
    pub group_names: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_minutes: Option<u32>,
    #[serde(default = "utc")]
    pub timezone: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

fn utc() -> String {
    "UTC".into()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscoveryRuleDoc {
    pub name: String,
    pub ranges: Vec<String>,
    #[serde(default)]
    pub exclusions: Vec<String>,
    /// Credential candidates in order, without their secrets (`has_*` flags).
    #[serde(default)]
    pub credentials: Vec<CandidateView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    pub rate_limit: u32,
    pub concurrency: u32,
    #[serde(default)]
    pub action: DiscoveryAction,
    #[serde(default)]
    pub allow_large: bool,
}

/// The plaintext inside `secrets`. Never logged: no `Debug`.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretBundle {
    #[serde(default)]
    credentials: Vec<CredentialSecrets>,
    /// Channel name -> its secret settings.
    #[serde(default)]
    channels: BTreeMap<String, serde_json::Map<String, Value>>,
    /// Discovery rule name -> candidate name -> its secrets.
    #[serde(default)]
    discovery_rules: BTreeMap<String, BTreeMap<String, SnmpSecretValues>>,
}

#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialSecrets {
    name: String,
    #[serde(default)]
    device_ip: Option<String>,
    #[serde(flatten)]
    values: SnmpSecretValues,
}

#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
struct SnmpSecretValues {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    community: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    auth_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    priv_key: Option<String>,
}

impl SnmpSecretValues {
    fn from_secrets(s: &crate::SnmpSecrets) -> Self {
        let f = |v: &Option<Secret>| v.as_ref().map(|s| s.expose().to_string());
        SnmpSecretValues {
            community: f(&s.community),
            auth_key: f(&s.auth_key),
            priv_key: f(&s.priv_key),
        }
    }
    fn is_empty(&self) -> bool {
        self.community.is_none() && self.auth_key.is_none() && self.priv_key.is_none()
    }
}

/// One problem of a document: where (`devices[3].ip`) and what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Errors of export and import.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The document was refused; nothing was written. Every problem, with its path.
    #[error("{} problem(s) in the document: {}", .0.len(), join(.0))]
    Invalid(Vec<Problem>),
    /// The passphrase does not open the document's secrets.
    #[error("secrets: wrong passphrase (it does not decrypt this document's secrets)")]
    WrongPassphrase(#[source] age::DecryptError),
    /// The document's secrets cannot be decrypted for another reason (damaged, not age).
    #[error("secrets: cannot decrypt: {0}")]
    Decrypt(#[source] age::DecryptError),
    #[error("secrets: cannot encrypt: {0}")]
    Encrypt(#[source] age::EncryptError),
    /// Writing failed part-way: `done` lists what had been applied before.
    #[error("import stopped at {at}: {source}")]
    Apply {
        at: String,
        done: Vec<ImportEntry>,
        #[source]
        source: StoreError,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn join(p: &[Problem]) -> String {
    p.iter()
        .map(Problem::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Checks that live in crates above the store (the rule language, channel configs, cron
/// and time zones of maintenance windows: `wardflux-alert`). Each returns the message of
/// the problem, or a field-level error whose field is appended to the record's path.
pub trait ConfigChecks: Send + Sync {
    fn rule_expression(&self, _expression: &str) -> Result<(), String> {
        Ok(())
    }
    /// `config` is the full config, secrets included.
    fn channel_config(&self, _kind: ChannelKind, _config: &Value) -> Result<(), Problem> {
        Ok(())
    }
    fn maintenance(&self, _input: &MaintenanceInput) -> Result<(), Problem> {
        Ok(())
    }
}

/// Checks nothing beyond the store's own validation (tests of this crate).
pub struct StoreChecksOnly;
impl ConfigChecks for StoreChecksOnly {}

/// What import did (or, in a dry run, would do) with one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Created,
    Updated,
    Unchanged,
    /// New, but its secrets are not in the document: credentials and discovery rules are
    /// not created (the store refuses them without), channels are created without them.
    NeedsSecret,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportEntry {
    /// The document section (`devices`).
    pub section: String,
    /// The record's natural key (`10.0.0.1`, `core routers`).
    pub key: String,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigImportReport {
    pub dry_run: bool,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub needs_secret: u64,
    pub entries: Vec<ImportEntry>,
}

impl ConfigImportReport {
    fn new(dry_run: bool, entries: Vec<ImportEntry>) -> Self {
        let n = |o| entries.iter().filter(|e| e.outcome == o).count() as u64;
        ConfigImportReport {
            dry_run,
            created: n(Outcome::Created),
            updated: n(Outcome::Updated),
            unchanged: n(Outcome::Unchanged),
            needs_secret: n(Outcome::NeedsSecret),
            entries,
        }
    }
}

// --- secrets -------------------------------------------------------------------------------

/// Highest scrypt work factor accepted when decrypting (2^22: a few seconds, bounded so a
/// hostile document cannot make the server work for minutes).
const MAX_WORK_FACTOR: u8 = 22;

fn seal(bundle: &SecretBundle, passphrase: &Secret) -> Result<String, ConfigError> {
    let plain = serde_json::to_vec(bundle).unwrap_or_default();
    let recipient = age::scrypt::Recipient::new(age::secrecy::SecretString::from(
        passphrase.expose().to_string(),
    ));
    age::encrypt_and_armor(&recipient, &plain).map_err(ConfigError::Encrypt)
}

fn open(armored: &str, passphrase: &Secret) -> Result<SecretBundle, ConfigError> {
    let mut identity = age::scrypt::Identity::new(age::secrecy::SecretString::from(
        passphrase.expose().to_string(),
    ));
    identity.set_max_work_factor(MAX_WORK_FACTOR);
    let plain = age::decrypt(&identity, armored.as_bytes()).map_err(|e| match e {
        age::DecryptError::DecryptionFailed
        | age::DecryptError::NoMatchingKeys
        | age::DecryptError::KeyDecryptionFailed => ConfigError::WrongPassphrase(e),
        e => ConfigError::Decrypt(e),
    })?;
    serde_json::from_slice(&plain).map_err(|e| {
        ConfigError::Invalid(vec![Problem {
            path: "secrets".into(),
            message: format!("decrypted, but not a secrets object: {e}"),
        }])
    })
}

// --- export --------------------------------------------------------------------------------

/// The configuration as stored, with the ids the import needs to find records again.
struct Current {
    doc: ConfigDocument,
    /// Standalone device ip -> id.
    device_ids: HashMap<String, Uuid>,
    /// Group name -> (id, member ids).
    groups: HashMap<String, (Uuid, BTreeSet<Uuid>)>,
    /// (name, device ip) -> id.
    credentials: HashMap<(String, Option<String>), Uuid>,
    /// Template name -> id (every template, shipped ones included).
    templates: HashMap<String, Uuid>,
    channels: HashMap<String, Uuid>,
    /// User rules by name; `reserved` holds the names of built-in and template rules.
    rules: HashMap<String, Uuid>,
    reserved_rules: HashSet<String>,
    maintenance: HashMap<String, Uuid>,
    discovery: HashMap<String, Uuid>,
}

fn non_empty(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

impl Store {
    async fn current(&self) -> Result<Current, StoreError> {
        let standalone: Vec<_> = self
            .all_devices()
            .await?
            .iter()
            .filter(|d| d.source == DeviceSource::Standalone)
            .cloned()
            .collect();
        let ip_of: HashMap<Uuid, String> = standalone
            .iter()
            .map(|d| (d.id, d.ip.to_string()))
            .collect();
        let device_ids: HashMap<String, Uuid> = standalone
            .iter()
            .map(|d| (d.ip.to_string(), d.id))
            .collect();

        let groups_stored = self.list_groups().await?;
        let mut groups_of: HashMap<Uuid, BTreeSet<String>> = HashMap::new();
        let mut groups = HashMap::new();
        let mut group_docs = Vec::new();
        for g in &groups_stored {
            for d in &g.device_ids {
                groups_of.entry(*d).or_default().insert(g.name.clone());
            }
            groups.insert(
                g.name.clone(),
                (g.id, g.device_ids.iter().copied().collect::<BTreeSet<_>>()),
            );
            group_docs.push(GroupDoc {
                name: g.name.clone(),
                description: non_empty(g.description.clone()),
            });
        }

        let mut devices: Vec<DeviceDoc> = standalone
            .iter()
            .map(|d| DeviceDoc {
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
                enabled: d.enabled,
                parent_ip: d.parent_id.and_then(|p| ip_of.get(&p).cloned()),
                icmp_interval_s: d.icmp_interval_s,
                snmp_port: d.snmp_port,
                groups: groups_of
                    .remove(&d.id)
                    .unwrap_or_default()
                    .into_iter()
                    .collect(),
            })
            .collect();
        devices.sort_by_key(|d| ip_order(&d.ip));

        let mut credentials = HashMap::new();
        let mut credential_docs = Vec::new();
        for c in self.list_snmp_credentials().await? {
            let device_ip = match c.device_id {
                None => None,
                // Bound to a Zabbix-mirrored device: not part of the standalone configuration.
                Some(d) => match ip_of.get(&d) {
                    Some(ip) => Some(ip.clone()),
                    None => continue,
                },
            };
            credentials.insert((c.name.clone(), device_ip.clone()), c.id);
            credential_docs.push(CredentialDoc {
                name: c.name,
                device_ip,
                version: c.version,
                username: c.username,
                security_level: c.security_level,
                auth_protocol: c.auth_protocol,
                priv_protocol: c.priv_protocol,
                context: c.context,
                has_community: c.has_community,
                has_auth_key: c.has_auth_key,
                has_priv_key: c.has_priv_key,
            });
        }
        credential_docs.sort_by(|a, b| (&a.name, &a.device_ip).cmp(&(&b.name, &b.device_ip)));

        let mut templates = HashMap::new();
        let mut template_docs = Vec::new();
        let mut assignments = Vec::new();
        for t in self.list_templates().await? {
            templates.insert(t.name.clone(), t.id);
            if t.builtin.is_none() {
                template_docs.push(TemplateDoc {
                    name: t.name.clone(),
                    template: t.template.clone(),
                });
            }
            for a in &t.devices {
                if let Some(ip) = ip_of.get(&a.device_id) {
                    assignments.push(AssignmentDoc {
                        template: t.name.clone(),
                        device_ip: ip.clone(),
                        macros: a.macros.clone(),
                    });
                }
            }
        }
        template_docs.sort_by(|a, b| a.name.cmp(&b.name));
        assignments.sort_by(|a, b| {
            (&a.template, ip_order(&a.device_ip)).cmp(&(&b.template, ip_order(&b.device_ip)))
        });

        let mut channels = HashMap::new();
        let mut channel_docs = Vec::new();
        for c in self.list_channels().await? {
            channels.insert(c.name.clone(), c.id);
            let mut secrets_set = c.secrets_set.clone();
            secrets_set.sort();
            channel_docs.push(ChannelDoc {
                name: c.name,
                kind: c.kind,
                config: c.config,
                enabled: c.enabled,
                secrets_set,
            });
        }

        let linked: HashSet<Uuid> = crate::templates::schema::rule_link::Entity::find()
            .all(&self.db)
            .await?
            .into_iter()
            .map(|l| l.rule_id)
            .collect();
        let mut rules = HashMap::new();
        let mut reserved_rules = HashSet::new();
        let mut rule_docs = Vec::new();
        for r in self.list_alert_rules(&RuleQuery::default()).await? {
            if r.builtin.is_some() || linked.contains(&r.id) {
                reserved_rules.insert(r.name);
                continue;
            }
            if let Some(ids) = &r.device_ids
                && !ids.is_empty()
                && !ids.iter().any(|d| ip_of.contains_key(d))
            {
                // Limited to Zabbix-mirrored devices only: not standalone configuration (and
                // exported as `device_ips: []` it would watch nothing elsewhere). Kept out of
                // the update map too, so an import never touches it.
                reserved_rules.insert(r.name);
                continue;
            }
            rules.insert(r.name.clone(), r.id);
            rule_docs.push(RuleDoc {
                name: r.name,
                expression: r.expression,
                severity: r.severity,
                notifications: r.notifications,
                enabled: r.enabled,
                description: r.description,
                labels: r.labels,
                message: r.message,
                escalation: r.escalation,
                device_ips: r.device_ids.map(|ids| {
                    let mut ips: Vec<String> =
                        ids.iter().filter_map(|d| ip_of.get(d).cloned()).collect();
                    ips.sort_by_key(|a| ip_order(a));
                    ips
                }),
            });
        }

        let group_name: HashMap<Uuid, String> = groups_stored
            .iter()
            .map(|g| (g.id, g.name.clone()))
            .collect();
        let mut maintenance = HashMap::new();
        let mut maintenance_docs = Vec::new();
        for w in self.list_maintenance().await? {
            maintenance.entry(w.name.clone()).or_insert(w.id);
            let mut device_ips: Vec<String> = w
                .device_ids
                .iter()
                .filter_map(|d| ip_of.get(d).cloned())
                .collect();
            device_ips.sort_by_key(|a| ip_order(a));
            let mut group_names: Vec<String> = w
                .group_ids
                .iter()
                .filter_map(|g| group_name.get(g).cloned())
                .collect();
            group_names.sort();
            if device_ips.is_empty() && group_names.is_empty() {
                // Only Zabbix-mirrored devices: not part of the standalone configuration.
                continue;
            }
            maintenance_docs.push(MaintenanceDoc {
                name: w.name,
                device_ips,
                group_names,
                starts_at: w.starts_at,
                ends_at: w.ends_at,
                cron: w.cron,
                duration_minutes: w.duration_minutes,
                timezone: w.timezone,
                comment: w.comment,
            });
        }

        let mut discovery = HashMap::new();
        let mut discovery_docs = Vec::new();
        for r in self.list_discovery_rules().await? {
            discovery.insert(r.name.clone(), r.id);
            discovery_docs.push(DiscoveryRuleDoc {
                name: r.name,
                ranges: r.ranges,
                exclusions: r.exclusions,
                credentials: r.credentials,
                schedule: r.schedule,
                enabled: r.enabled,
                rate_limit: r.rate_limit,
                concurrency: r.concurrency,
                action: r.action,
                allow_large: r.allow_large,
            });
        }
        discovery_docs.sort_by(|a, b| a.name.cmp(&b.name));

        Ok(Current {
            doc: ConfigDocument {
                format: FORMAT.into(),
                version: VERSION,
                exported_at: crate::now(),
                groups: group_docs,
                devices,
                credentials: credential_docs,
                templates: template_docs,
                template_assignments: assignments,
                channels: channel_docs,
                alert_rules: rule_docs,
                maintenance: maintenance_docs,
                discovery_rules: discovery_docs,
                secrets: None,
            },
            device_ids,
            groups,
            credentials,
            templates,
            channels,
            rules,
            reserved_rules,
            maintenance,
            discovery,
        })
    }

    /// The secrets of the stored configuration (what `secrets` would carry).
    async fn current_secrets(&self, cur: &Current) -> Result<SecretBundle, StoreError> {
        let mut b = SecretBundle::default();
        for c in &cur.doc.credentials {
            let id = cur.credentials[&(c.name.clone(), c.device_ip.clone())];
            let values = SnmpSecretValues::from_secrets(&self.snmp_secrets(id).await?);
            if !values.is_empty() {
                b.credentials.push(CredentialSecrets {
                    name: c.name.clone(),
                    device_ip: c.device_ip.clone(),
                    values,
                });
            }
        }
        for c in &cur.doc.channels {
            let (ch, full) = self.channel_with_secrets(cur.channels[&c.name]).await?;
            let secret: serde_json::Map<String, Value> = full
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(k, _)| ch.secrets_set.contains(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if !secret.is_empty() {
                b.channels.insert(c.name.clone(), secret);
            }
        }
        for r in &cur.doc.discovery_rules {
            let mut per = BTreeMap::new();
            for cand in self.discovery_candidates(cur.discovery[&r.name]).await? {
                let values = SnmpSecretValues::from_secrets(&crate::SnmpSecrets {
                    community: cand.community.clone(),
                    auth_key: cand.auth_key.clone(),
                    priv_key: cand.priv_key.clone(),
                });
                if !values.is_empty() {
                    per.insert(cand.name.clone(), values);
                }
            }
            if !per.is_empty() {
                b.discovery_rules.insert(r.name.clone(), per);
            }
        }
        Ok(b)
    }

    /// The standalone configuration as one document. With a passphrase, every secret goes
    /// into `secrets`, encrypted to it; without, the document carries no secret at all.
    pub async fn export_config(
        &self,
        passphrase: Option<&Secret>,
    ) -> Result<ConfigDocument, ConfigError> {
        let cur = self.current().await?;
        let mut doc = cur.doc.clone();
        if let Some(p) = passphrase {
            let bundle = self.current_secrets(&cur).await?;
            doc.secrets = Some(seal(&bundle, p)?);
        }
        Ok(doc)
    }
}

/// Sort key of an address in text: numeric order, IPv4 before IPv6, unparsable last.
fn ip_order(ip: &str) -> (u8, u128, String) {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V4(a)) => (0, u32::from(a) as u128, String::new()),
        Ok(IpAddr::V6(a)) => (1, u128::from(a), String::new()),
        Err(_) => (2, 0, ip.to_string()),
    }
}

// --- import: parsing and validation ----------------------------------------------------------

/// Collects problems with their paths.
#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            path: path.into(),
            message: message.into(),
        });
    }
}

/// Reads one section: every element on its own, so each bad one is reported at its index.
fn section<T: serde::de::DeserializeOwned>(
    obj: &serde_json::Map<String, Value>,
    name: &str,
    p: &mut Problems,
) -> Vec<T> {
    match obj.get(name) {
        None | Some(Value::Null) => vec![],
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, v)| match serde_json::from_value(v.clone()) {
                Ok(t) => Some(t),
                Err(e) => {
                    p.add(format!("{name}[{i}]"), e.to_string());
                    None
                }
            })
            .collect(),
        Some(_) => {
            p.add(name, "must be an array");
            vec![]
        }
    }
}

const SECTIONS: [&str; 9] = [
    "groups",
    "devices",
    "credentials",
    "templates",
    "template_assignments",
    "channels",
    "alert_rules",
    "maintenance",
    "discovery_rules",
];

/// Parses a document (structure only; [`Store::import_config`] checks the rest).
pub fn parse_document(v: &Value) -> Result<ConfigDocument, ConfigError> {
    let mut p = Problems::default();
    let Some(obj) = v.as_object() else {
        return Err(ConfigError::Invalid(vec![Problem {
            path: "$".into(),
            message: "a configuration document is a JSON object".into(),
        }]));
    };
    match obj.get("format").and_then(Value::as_str) {
        Some(FORMAT) => {}
        _ => p.add("format", format!("must be {FORMAT:?}")),
    }
    match obj.get("version").and_then(Value::as_u64) {
        Some(v) if v == VERSION as u64 => {}
        Some(v) => p.add(
            "version",
            format!("version {v} is not supported (this build reads {VERSION})"),
        ),
        None => p.add("version", "is required (a number)"),
    }
    for k in obj.keys() {
        if !SECTIONS.contains(&k.as_str())
            && !["format", "version", "exported_at", "secrets"].contains(&k.as_str())
        {
            p.add(k.as_str(), "unknown field");
        }
    }
    let exported_at = match obj.get("exported_at") {
        None | Some(Value::Null) => crate::now(),
        Some(v) => match serde_json::from_value(v.clone()) {
            Ok(t) => t,
            Err(e) => {
                p.add("exported_at", e.to_string());
                crate::now()
            }
        },
    };
    let secrets = match obj.get("secrets") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            p.add("secrets", "must be a string (an age-encrypted block)");
            None
        }
    };
    let doc = ConfigDocument {
        format: FORMAT.into(),
        version: VERSION,
        exported_at,
        groups: section(obj, "groups", &mut p),
        devices: section(obj, "devices", &mut p),
        credentials: section(obj, "credentials", &mut p),
        templates: section(obj, "templates", &mut p),
        template_assignments: section(obj, "template_assignments", &mut p),
        channels: section(obj, "channels", &mut p),
        alert_rules: section(obj, "alert_rules", &mut p),
        maintenance: section(obj, "maintenance", &mut p),
        discovery_rules: section(obj, "discovery_rules", &mut p),
        secrets,
    };
    if p.0.is_empty() {
        Ok(doc)
    } else {
        Err(ConfigError::Invalid(p.0))
    }
}

/// Canonical address text, or `None`.
fn canon_ip(s: &str) -> Option<String> {
    s.trim().parse::<IpAddr>().ok().map(|a| a.to_string())
}

fn sorted_unique(v: &[String]) -> Vec<String> {
    v.iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

fn device_input(d: &DeviceDoc) -> DeviceInput {
    DeviceInput {
        name: d.name.clone(),
        ip: d.ip.clone(),
        hostname: d.hostname.clone(),
        vendor: d.vendor.clone(),
        device_type: d.device_type.clone(),
        model: d.model.clone(),
        location: d.location.clone(),
        region: d.region.clone(),
        branch: d.branch.clone(),
        tags: d.tags.clone(),
        enabled: Some(d.enabled),
        parent_id: None,
        source: Some(DeviceSource::Standalone),
        icmp_interval_s: Some(d.icmp_interval_s),
        snmp_port: Some(i32::from(d.snmp_port)),
    }
}

fn secret(v: &Option<String>) -> Option<Secret> {
    v.as_ref().map(|s| Secret::new(s.clone()))
}

fn credential_input(c: &CredentialDoc, s: Option<&SnmpSecretValues>) -> SnmpCredentialInput {
    SnmpCredentialInput {
        name: c.name.clone(),
        device_id: None,
        version: Some(c.version),
        community: s.and_then(|s| secret(&s.community)),
        username: c.username.clone(),
        security_level: c.security_level,
        auth_protocol: c.auth_protocol,
        auth_key: s.and_then(|s| secret(&s.auth_key)),
        priv_protocol: c.priv_protocol,
        priv_key: s.and_then(|s| secret(&s.priv_key)),
        context: c.context.clone(),
    }
}

fn candidate_input(c: &CandidateView, s: Option<&SnmpSecretValues>) -> CandidateInput {
    CandidateInput {
        name: c.name.clone(),
        version: Some(c.version),
        community: s.and_then(|s| secret(&s.community)),
        username: c.username.clone(),
        security_level: c.security_level,
        auth_protocol: c.auth_protocol,
        auth_key: s.and_then(|s| secret(&s.auth_key)),
        priv_protocol: c.priv_protocol,
        priv_key: s.and_then(|s| secret(&s.priv_key)),
        context: None,
    }
}

/// Fills secrets the document says exist but does not carry with a placeholder, so that
/// field validation can run (such records are created only with real secrets).
fn placeholder(has: bool, v: &mut Option<Secret>) {
    if has && v.is_none() {
        *v = Some(Secret::new("placeholder"));
    }
}

fn rule_input(r: &RuleDoc, device_ids: Option<Vec<Uuid>>) -> AlertRuleInput {
    AlertRuleInput {
        name: r.name.clone(),
        expression: r.expression.clone(),
        severity: r.severity,
        notifications: r.notifications.clone(),
        enabled: Some(r.enabled),
        description: r.description.clone(),
        labels: r.labels.clone(),
        message: r.message.clone(),
        escalation: r.escalation.clone(),
        device_ids,
    }
}

fn maintenance_input(
    w: &MaintenanceDoc,
    devices: Vec<Uuid>,
    groups: Vec<Uuid>,
) -> MaintenanceInput {
    MaintenanceInput {
        name: w.name.clone(),
        device_ids: devices,
        group_ids: groups,
        starts_at: w.starts_at,
        ends_at: w.ends_at,
        cron: w.cron.clone(),
        duration_minutes: w.duration_minutes,
        timezone: Some(w.timezone.clone()),
        comment: w.comment.clone(),
    }
}

fn discovery_input(r: &DiscoveryRuleDoc, creds: Vec<CandidateInput>) -> DiscoveryRuleInput {
    DiscoveryRuleInput {
        name: r.name.clone(),
        ranges: r.ranges.clone(),
        exclusions: r.exclusions.clone(),
        credentials: creds,
        schedule: r.schedule.clone(),
        enabled: Some(r.enabled),
        rate_limit: Some(r.rate_limit),
        concurrency: Some(r.concurrency),
        action: Some(r.action),
        allow_large: Some(r.allow_large),
    }
}

fn field_path(base: &str, e: &StoreError) -> Problem {
    match e {
        StoreError::Invalid(fe) => Problem {
            path: format!("{base}.{}", fe.field),
            message: fe.message.clone(),
        },
        e => Problem {
            path: base.to_string(),
            message: e.to_string(),
        },
    }
}

/// Brings a document's records into the canonical form export writes (addresses,
/// tags, sorted name lists), so that equal configurations compare equal.
fn normalise(doc: &mut ConfigDocument) {
    for d in &mut doc.devices {
        d.name = d.name.trim().to_string();
        if let Some(ip) = canon_ip(&d.ip) {
            d.ip = ip;
        }
        d.parent_ip = d
            .parent_ip
            .as_deref()
            .map(|p| canon_ip(p).unwrap_or(p.to_string()));
        for f in [
            &mut d.hostname,
            &mut d.vendor,
            &mut d.device_type,
            &mut d.model,
            &mut d.location,
            &mut d.region,
            &mut d.branch,
        ] {
            *f = non_empty(f.take());
        }
        d.tags = sorted_unique(&d.tags);
        d.groups = sorted_unique(&d.groups);
    }
    for g in &mut doc.groups {
        g.name = g.name.trim().to_string();
        g.description = non_empty(g.description.take());
    }
    for c in &mut doc.credentials {
        c.device_ip = c
            .device_ip
            .as_deref()
            .map(|p| canon_ip(p).unwrap_or(p.to_string()));
        c.context = non_empty(c.context.take());
    }
    for a in &mut doc.template_assignments {
        a.template = a.template.trim().to_string();
        if let Some(ip) = canon_ip(&a.device_ip) {
            a.device_ip = ip;
        }
    }
    for c in &mut doc.channels {
        c.name = c.name.trim().to_string();
        c.secrets_set.sort();
    }
    for r in &mut doc.alert_rules {
        r.name = r.name.trim().to_string();
        r.expression = r.expression.trim().to_string();
        r.description = non_empty(r.description.take());
        r.message = non_empty(r.message.take());
        if let Some(ips) = &mut r.device_ips {
            for ip in ips.iter_mut() {
                if let Some(c) = canon_ip(ip) {
                    *ip = c;
                }
            }
            ips.sort_by_key(|a| ip_order(a));
        }
    }
    for w in &mut doc.maintenance {
        w.name = w.name.trim().to_string();
        for ip in w.device_ips.iter_mut() {
            if let Some(c) = canon_ip(ip) {
                *ip = c;
            }
        }
        w.device_ips.sort_by_key(|a| ip_order(a));
        w.group_names = sorted_unique(&w.group_names);
        w.comment = non_empty(w.comment.take());
    }
    for r in &mut doc.discovery_rules {
        r.name = r.name.trim().to_string();
    }
}

fn dup_check(
    p: &mut Problems,
    section: &str,
    what: &str,
    keys: impl Iterator<Item = (usize, String)>,
) {
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, k) in keys {
        if let Some(first) = seen.insert(k.clone(), i) {
            p.add(
                format!("{section}[{i}].{what}"),
                format!("{k:?} appears again (first at {section}[{first}])"),
            );
        }
    }
}

impl Store {
    /// Imports a configuration document (see the module docs). `passphrase` opens its
    /// `secrets`; a document with secrets and no passphrase is refused (path `secrets`).
    /// With `dry_run`, nothing is written and the report says what would happen.
    pub async fn import_config(
        &self,
        actor: &Actor,
        document: &Value,
        passphrase: Option<&Secret>,
        checks: &dyn ConfigChecks,
        dry_run: bool,
    ) -> Result<ConfigImportReport, ConfigError> {
        let mut doc = parse_document(document)?;
        let bundle = match (&doc.secrets, passphrase) {
            (None, _) => None,
            (Some(s), Some(p)) => Some(open(s, p)?),
            (Some(_), None) => {
                return Err(ConfigError::Invalid(vec![Problem {
                    path: "secrets".into(),
                    message: "the document carries encrypted secrets: give its passphrase".into(),
                }]));
            }
        };
        normalise(&mut doc);
        let cur = self.current().await?;
        let plan = self.validate(&doc, bundle.as_ref(), &cur, checks).await?;
        let entries = self.plan(&doc, bundle.as_ref(), &cur).await?;
        if dry_run {
            return Ok(ConfigImportReport::new(true, entries));
        }
        self.apply(actor, &doc, bundle.as_ref(), cur, plan, &entries)
            .await?;
        Ok(ConfigImportReport::new(false, entries))
    }

    /// Every problem of the document against the stored configuration; the order devices
    /// must be written in (parents first) when there is none.
    async fn validate(
        &self,
        doc: &ConfigDocument,
        bundle: Option<&SecretBundle>,
        cur: &Current,
        checks: &dyn ConfigChecks,
    ) -> Result<Vec<usize>, ConfigError> {
        let mut p = Problems::default();

        // groups
        for (i, g) in doc.groups.iter().enumerate() {
            if g.name.is_empty() || g.name.chars().count() > 255 {
                p.add(
                    format!("groups[{i}].name"),
                    "is required (1-255 characters)",
                );
            }
            if g.description
                .as_ref()
                .is_some_and(|d| d.chars().count() > 4096)
            {
                p.add(
                    format!("groups[{i}].description"),
                    "must be at most 4096 characters",
                );
            }
        }
        dup_check(
            &mut p,
            "groups",
            "name",
            doc.groups
                .iter()
                .enumerate()
                .map(|(i, g)| (i, g.name.clone())),
        );
        let group_known =
            |n: &str| doc.groups.iter().any(|g| g.name == n) || cur.groups.contains_key(n);

        // devices
        let mut doc_ips: HashMap<String, usize> = HashMap::new();
        for (i, d) in doc.devices.iter().enumerate() {
            let mut input = device_input(d);
            if let Err(fe) = input.validate() {
                p.add(format!("devices[{i}].{}", fe.field), fe.message);
                continue;
            }
            if let Some(first) = doc_ips.insert(input.ip.clone(), i) {
                p.add(
                    format!("devices[{i}].ip"),
                    format!("{} appears again (first at devices[{first}])", input.ip),
                );
            }
            for (j, g) in d.groups.iter().enumerate() {
                if !group_known(g) {
                    p.add(
                        format!("devices[{i}].groups[{j}]"),
                        format!("no group named {g:?} in the document or the store"),
                    );
                }
            }
        }
        let device_known = |ip: &str| doc_ips.contains_key(ip) || cur.device_ids.contains_key(ip);
        // Parents: known, and no cycle once the document's parents replace the stored ones.
        let mut parent_of: HashMap<String, String> = cur
            .doc
            .devices
            .iter()
            .filter_map(|d| Some((d.ip.clone(), d.parent_ip.clone()?)))
            .collect();
        for d in &doc.devices {
            match &d.parent_ip {
                Some(pip) => parent_of.insert(d.ip.clone(), pip.clone()),
                None => parent_of.remove(&d.ip),
            };
        }
        for (i, d) in doc.devices.iter().enumerate() {
            let Some(pip) = &d.parent_ip else { continue };
            if canon_ip(pip).is_none() {
                p.add(format!("devices[{i}].parent_ip"), "not an IP address");
            } else if *pip == d.ip {
                p.add(
                    format!("devices[{i}].parent_ip"),
                    "a device cannot be its own parent",
                );
            } else if !device_known(pip) {
                p.add(
                    format!("devices[{i}].parent_ip"),
                    format!("no device with ip {pip} in the document or the store"),
                );
            } else {
                let mut seen = HashSet::from([d.ip.clone()]);
                let mut at = pip.clone();
                while let Some(next) = parent_of.get(&at) {
                    if !seen.insert(at.clone()) {
                        break;
                    }
                    if *next == d.ip {
                        p.add(format!("devices[{i}].parent_ip"), "makes a parent cycle");
                        break;
                    }
                    at = next.clone();
                }
            }
        }

        // credentials
        dup_check(
            &mut p,
            "credentials",
            "name",
            doc.credentials.iter().enumerate().map(|(i, c)| {
                (
                    i,
                    format!(
                        "{}{}",
                        c.name,
                        c.device_ip
                            .as_deref()
                            .map(|d| format!(" on {d}"))
                            .unwrap_or_default()
                    ),
                )
            }),
        );
        for (i, c) in doc.credentials.iter().enumerate() {
            if c.name.trim().is_empty() {
                p.add(format!("credentials[{i}].name"), "is required");
            }
            if let Some(ip) = &c.device_ip
                && !device_known(ip)
            {
                p.add(
                    format!("credentials[{i}].device_ip"),
                    format!("no device with ip {ip} in the document or the store"),
                );
            }
            let s = bundle.and_then(|b| {
                b.credentials
                    .iter()
                    .find(|s| s.name == c.name && s.device_ip == c.device_ip)
                    .map(|s| &s.values)
            });
            let mut input = credential_input(c, s);
            placeholder(c.has_community, &mut input.community);
            placeholder(c.has_auth_key, &mut input.auth_key);
            placeholder(c.has_priv_key, &mut input.priv_key);
            if let Err(fe) = input.validate() {
                p.add(format!("credentials[{i}].{}", fe.field), fe.message);
            }
        }

        // templates and assignments
        dup_check(
            &mut p,
            "templates",
            "name",
            doc.templates
                .iter()
                .enumerate()
                .map(|(i, t)| (i, t.name.clone())),
        );
        for (i, t) in doc.templates.iter().enumerate() {
            if t.name != t.template.name {
                p.add(
                    format!("templates[{i}].name"),
                    format!("differs from template.name {:?}", t.template.name),
                );
            }
            if let Err(e) = wardflux_template::validate(&t.template) {
                for pr in e.0 {
                    p.add(format!("templates[{i}].template.{}", pr.path), pr.message);
                }
            }
        }
        dup_check(
            &mut p,
            "template_assignments",
            "device_ip",
            doc.template_assignments
                .iter()
                .enumerate()
                .map(|(i, a)| (i, format!("{} on {}", a.template, a.device_ip))),
        );
        for (i, a) in doc.template_assignments.iter().enumerate() {
            if !device_known(&a.device_ip) {
                p.add(
                    format!("template_assignments[{i}].device_ip"),
                    format!(
                        "no device with ip {} in the document or the store",
                        a.device_ip
                    ),
                );
            }
            let t = match doc.templates.iter().find(|t| t.name == a.template) {
                Some(t) => Some(t.template.clone()),
                None => match cur.templates.get(&a.template) {
                    Some(id) => Some(self.get_template(*id).await?.template),
                    None => {
                        p.add(
                            format!("template_assignments[{i}].template"),
                            format!(
                                "no template named {:?} in the document or the store",
                                a.template
                            ),
                        );
                        None
                    }
                },
            };
            if let Some(t) = t
                && let Err(e) = wardflux_template::expand(&t, Uuid::nil(), Uuid::nil(), &a.macros)
            {
                for pr in e.0 {
                    p.add(format!("template_assignments[{i}].macros"), pr.to_string());
                }
            }
        }

        // channels
        dup_check(
            &mut p,
            "channels",
            "name",
            doc.channels
                .iter()
                .enumerate()
                .map(|(i, c)| (i, c.name.clone())),
        );
        for (i, c) in doc.channels.iter().enumerate() {
            if c.name.is_empty() || c.name.len() > 100 {
                p.add(format!("channels[{i}].name"), "must be 1-100 characters");
            }
            let Value::Object(public) = &c.config else {
                p.add(format!("channels[{i}].config"), "must be a JSON object");
                continue;
            };
            if let Some(k) = public
                .keys()
                .find(|k| c.kind.secret_fields().contains(&k.as_str()))
            {
                p.add(
                    format!("channels[{i}].config.{k}"),
                    "is a secret: it belongs in the encrypted secrets",
                );
                continue;
            }
            let secrets = bundle.and_then(|b| b.channels.get(&c.name));
            let stored = cur.channels.contains_key(&c.name);
            // The full config can be checked when its secrets are known or it has none.
            if secrets.is_some() || c.secrets_set.is_empty() || !stored {
                let mut full = public.clone();
                if let Some(s) = secrets {
                    full.extend(s.clone());
                } else {
                    for k in &c.secrets_set {
                        full.insert(k.clone(), Value::String("placeholder".into()));
                    }
                }
                if let Err(pr) = checks.channel_config(c.kind, &Value::Object(full)) {
                    p.add(format!("channels[{i}].config{}", dot(&pr.path)), pr.message);
                }
            }
        }
        let channel_known =
            |n: &str| doc.channels.iter().any(|c| c.name == n) || cur.channels.contains_key(n);

        // alert rules
        dup_check(
            &mut p,
            "alert_rules",
            "name",
            doc.alert_rules
                .iter()
                .enumerate()
                .map(|(i, r)| (i, r.name.clone())),
        );
        for (i, r) in doc.alert_rules.iter().enumerate() {
            let mut input = rule_input(r, None);
            if let Err(fe) = input.validate() {
                p.add(format!("alert_rules[{i}].{}", fe.field), fe.message);
            }
            if cur.reserved_rules.contains(&r.name) {
                p.add(
                    format!("alert_rules[{i}].name"),
                    "a built-in or template rule has this name",
                );
            }
            if let Err(m) = checks.rule_expression(&r.expression) {
                p.add(format!("alert_rules[{i}].expression"), m);
            }
            let esc = r
                .escalation
                .as_ref()
                .map(|e| e.channels.as_slice())
                .unwrap_or_default();
            for (field, names) in [
                ("notifications", r.notifications.as_slice()),
                ("escalation.channels", esc),
            ] {
                for (j, n) in names.iter().enumerate() {
                    if !channel_known(n) {
                        p.add(
                            format!("alert_rules[{i}].{field}[{j}]"),
                            format!("no channel named {n:?} in the document or the store"),
                        );
                    }
                }
            }
            for (j, ip) in r.device_ips.iter().flatten().enumerate() {
                if !device_known(ip) {
                    p.add(
                        format!("alert_rules[{i}].device_ips[{j}]"),
                        format!("no device with ip {ip} in the document or the store"),
                    );
                }
            }
        }

        // maintenance
        dup_check(
            &mut p,
            "maintenance",
            "name",
            doc.maintenance
                .iter()
                .enumerate()
                .map(|(i, w)| (i, w.name.clone())),
        );
        for (i, w) in doc.maintenance.iter().enumerate() {
            for (j, ip) in w.device_ips.iter().enumerate() {
                if !device_known(ip) {
                    p.add(
                        format!("maintenance[{i}].device_ips[{j}]"),
                        format!("no device with ip {ip} in the document or the store"),
                    );
                }
            }
            for (j, g) in w.group_names.iter().enumerate() {
                if !group_known(g) {
                    p.add(
                        format!("maintenance[{i}].group_names[{j}]"),
                        format!("no group named {g:?} in the document or the store"),
                    );
                }
            }
            // Placeholder ids stand for the references (checked above) in the field checks.
            let mut input = maintenance_input(
                w,
                w.device_ips.iter().map(|_| Uuid::nil()).collect(),
                w.group_names.iter().map(|_| Uuid::nil()).collect(),
            );
            if let Err(e) = crate::alerts::check_maintenance(&mut input) {
                p.0.push(field_path(&format!("maintenance[{i}]"), &e));
            } else if let Err(pr) = checks.maintenance(&input) {
                p.add(format!("maintenance[{i}]{}", dot(&pr.path)), pr.message);
            }
        }

        // discovery rules
        dup_check(
            &mut p,
            "discovery_rules",
            "name",
            doc.discovery_rules
                .iter()
                .enumerate()
                .map(|(i, r)| (i, r.name.clone())),
        );
        for (i, r) in doc.discovery_rules.iter().enumerate() {
            let secrets = bundle.and_then(|b| b.discovery_rules.get(&r.name));
            let creds = r
                .credentials
                .iter()
                .map(|c| {
                    let mut ci = candidate_input(c, secrets.and_then(|s| s.get(&c.name)));
                    placeholder(c.has_community, &mut ci.community);
                    placeholder(c.has_auth_key, &mut ci.auth_key);
                    placeholder(c.has_priv_key, &mut ci.priv_key);
                    ci
                })
                .collect();
            let mut input = discovery_input(r, creds);
            if let Err(e) = crate::discovery::validate_rule(&mut input) {
                p.0.push(field_path(&format!("discovery_rules[{i}]"), &e));
            }
        }

        if !p.0.is_empty() {
            return Err(ConfigError::Invalid(p.0));
        }
        // Parents first: order by depth within the document.
        let limit = doc.devices.len() + cur.doc.devices.len();
        let depth = |ip: &String| {
            let mut n = 0;
            let mut at = ip.clone();
            while let Some(next) = parent_of.get(&at) {
                n += 1;
                at = next.clone();
                if n > limit {
                    break;
                }
            }
            n
        };
        let mut order: Vec<usize> = (0..doc.devices.len()).collect();
        order.sort_by_key(|&i| depth(&doc.devices[i].ip));
        Ok(order)
    }

    /// What each record of the document does to the store.
    async fn plan(
        &self,
        doc: &ConfigDocument,
        bundle: Option<&SecretBundle>,
        cur: &Current,
    ) -> Result<Vec<ImportEntry>, StoreError> {
        let stored_secrets = match bundle {
            Some(_) => Some(self.current_secrets(cur).await?),
            None => None,
        };
        let mut out = Vec::new();
        let mut push = |section: &str, key: String, outcome| {
            out.push(ImportEntry {
                section: section.into(),
                key,
                outcome,
            })
        };
        fn cmp<T: PartialEq>(old: Option<&T>, new: &T, secrets_same: bool) -> Outcome {
            match old {
                None => Outcome::Created,
                Some(o) if o == new && secrets_same => Outcome::Unchanged,
                Some(_) => Outcome::Updated,
            }
        }
        for g in &doc.groups {
            let old = cur.doc.groups.iter().find(|o| o.name == g.name);
            push("groups", g.name.clone(), cmp(old, g, true));
        }
        for d in &doc.devices {
            let old = cur.doc.devices.iter().find(|o| o.ip == d.ip);
            push("devices", d.ip.clone(), cmp(old, d, true));
        }
        for c in &doc.credentials {
            let key = format!(
                "{}{}",
                c.name,
                c.device_ip
                    .as_deref()
                    .map(|d| format!(" on {d}"))
                    .unwrap_or_default()
            );
            let old = cur
                .doc
                .credentials
                .iter()
                .find(|o| o.name == c.name && o.device_ip == c.device_ip);
            let find = |b: &SecretBundle| {
                b.credentials
                    .iter()
                    .find(|s| s.name == c.name && s.device_ip == c.device_ip)
                    .map(|s| s.values.clone())
            };
            let new_s = bundle.and_then(find);
            let same = match (&new_s, &stored_secrets) {
                (Some(n), Some(s)) => find(s).as_ref() == Some(n),
                _ => true,
            };
            let needs = c.has_community || c.has_auth_key || c.has_priv_key;
            let o = match old {
                None if needs && new_s.is_none() => Outcome::NeedsSecret,
                // The has_* flags are derived: compare the rest (and the secrets when given).
                Some(o) => {
                    let mut o = o.clone();
                    let mut n = c.clone();
                    o.has_community = false;
                    o.has_auth_key = false;
                    o.has_priv_key = false;
                    n.has_community = false;
                    n.has_auth_key = false;
                    n.has_priv_key = false;
                    cmp(Some(&o), &n, same)
                }
                None => Outcome::Created,
            };
            push("credentials", key, o);
        }
        for t in &doc.templates {
            let old = cur.doc.templates.iter().find(|o| o.name == t.name);
            push("templates", t.name.clone(), cmp(old, t, true));
        }
        for a in &doc.template_assignments {
            let old = cur
                .doc
                .template_assignments
                .iter()
                .find(|o| o.template == a.template && o.device_ip == a.device_ip);
            push(
                "template_assignments",
                format!("{} on {}", a.template, a.device_ip),
                cmp(old, a, true),
            );
        }
        for c in &doc.channels {
            let old = cur.doc.channels.iter().find(|o| o.name == c.name);
            let new_s = bundle.and_then(|b| b.channels.get(&c.name));
            let same = match (new_s, &stored_secrets) {
                (Some(n), Some(s)) => s.channels.get(&c.name) == Some(n),
                _ => true,
            };
            let o = match old {
                None if !c.secrets_set.is_empty() && new_s.is_none() => Outcome::NeedsSecret,
                Some(o) => {
                    // secrets_set is derived from the secrets.
                    let mut n = c.clone();
                    n.secrets_set = o.secrets_set.clone();
                    cmp(Some(o), &n, same)
                }
                None => Outcome::Created,
            };
            push("channels", c.name.clone(), o);
        }
        for r in &doc.alert_rules {
            let old = cur.doc.alert_rules.iter().find(|o| o.name == r.name);
            push("alert_rules", r.name.clone(), cmp(old, r, true));
        }
        for w in &doc.maintenance {
            let old = cur.doc.maintenance.iter().find(|o| o.name == w.name);
            push("maintenance", w.name.clone(), cmp(old, w, true));
        }
        for r in &doc.discovery_rules {
            let old = cur.doc.discovery_rules.iter().find(|o| o.name == r.name);
            let new_s = bundle.and_then(|b| b.discovery_rules.get(&r.name));
            let same = match (new_s, &stored_secrets) {
                (Some(n), Some(s)) => s.discovery_rules.get(&r.name) == Some(n),
                _ => true,
            };
            let needs = r
                .credentials
                .iter()
                .any(|c| c.has_community || c.has_auth_key || c.has_priv_key);
            let o = match old {
                None if needs && new_s.is_none() => Outcome::NeedsSecret,
                old => cmp(old, r, same),
            };
            push("discovery_rules", r.name.clone(), o);
        }
        Ok(out)
    }

    /// Writes the plan in dependency order. Each write is the store's own transaction with
    /// its audit row; a failure stops the import and names what had been applied.
    async fn apply(
        &self,
        actor: &Actor,
        doc: &ConfigDocument,
        bundle: Option<&SecretBundle>,
        mut cur: Current,
        device_order: Vec<usize>,
        entries: &[ImportEntry],
    ) -> Result<(), ConfigError> {
        let mut done: Vec<ImportEntry> = Vec::new();
        let outcome = |section: &str, key: &str| {
            entries
                .iter()
                .find(|e| e.section == section && e.key == key)
                .map(|e| e.outcome)
                .unwrap_or(Outcome::Unchanged)
        };
        // Devices, parents first.
        for &i in &device_order {
            let d = &doc.devices[i];
            let o = outcome("devices", &d.ip);
            if o == Outcome::Unchanged {
                continue;
            }
            let mut input = device_input(d);
            input.parent_id = d
                .parent_ip
                .as_ref()
                .and_then(|p| cur.device_ids.get(p).copied());
            let r = match cur.device_ids.get(&d.ip) {
                Some(&id) => self.update_device(actor, id, input).await,
                None => self.create_device(actor, input).await,
            };
            let dev = r.map_err(|source| ConfigError::Apply {
                at: format!("devices: {}", d.ip),
                done: done.clone(),
                source,
            })?;
            cur.device_ids.insert(d.ip.clone(), dev.id);
            done.push(ImportEntry {
                section: "devices".into(),
                key: d.ip.clone(),
                outcome: o,
            });
        }

        // Groups: the document's groups, and the membership of the devices it lists.
        let listed: HashSet<Uuid> = doc
            .devices
            .iter()
            .filter_map(|d| cur.device_ids.get(&d.ip).copied())
            .collect();
        let mut names: BTreeSet<String> = doc.groups.iter().map(|g| g.name.clone()).collect();
        names.extend(cur.groups.keys().cloned());
        for name in names {
            let mut members: BTreeSet<Uuid> = cur
                .groups
                .get(&name)
                .map(|g| g.1.clone())
                .unwrap_or_default();
            let before = members.clone();
            members.retain(|m| !listed.contains(m));
            for d in &doc.devices {
                if d.groups.contains(&name) {
                    members.insert(cur.device_ids[&d.ip]);
                }
            }
            let g_doc = doc.groups.iter().find(|g| g.name == name);
            let o = outcome("groups", &name);
            let description = match g_doc {
                Some(g) => g.description.clone(),
                None => cur
                    .doc
                    .groups
                    .iter()
                    .find(|g| g.name == name)
                    .and_then(|g| g.description.clone()),
            };
            let input = DeviceGroupInput {
                name: name.clone(),
                description,
                device_ids: members.iter().copied().collect(),
            };
            let r = match cur.groups.get(&name) {
                None => self.create_group(actor, input).await.map(Some),
                Some(&(id, _))
                    if members != before || (g_doc.is_some() && o == Outcome::Updated) =>
                {
                    self.update_group(actor, id, input).await.map(Some)
                }
                Some(_) => Ok(None),
            };
            let r = r.map_err(|source| ConfigError::Apply {
                at: format!("groups: {name}"),
                done: done.clone(),
                source,
            })?;
            if let Some(g) = r {
                cur.groups.insert(name.clone(), (g.id, members));
                if g_doc.is_some() {
                    done.push(ImportEntry {
                        section: "groups".into(),
                        key: name,
                        outcome: o,
                    });
                }
            }
        }

        // Credentials.
        for c in &doc.credentials {
            let key = format!(
                "{}{}",
                c.name,
                c.device_ip
                    .as_deref()
                    .map(|d| format!(" on {d}"))
                    .unwrap_or_default()
            );
            let o = outcome("credentials", &key);
            if matches!(o, Outcome::Unchanged | Outcome::NeedsSecret) {
                continue;
            }
            let s = bundle.and_then(|b| {
                b.credentials
                    .iter()
                    .find(|s| s.name == c.name && s.device_ip == c.device_ip)
                    .map(|s| &s.values)
            });
            let mut input = credential_input(c, s);
            input.device_id = c
                .device_ip
                .as_ref()
                .and_then(|ip| cur.device_ids.get(ip).copied());
            let r = match cur.credentials.get(&(c.name.clone(), c.device_ip.clone())) {
                Some(&id) => self
                    .update_snmp_credential(actor, id, input)
                    .await
                    .map(|_| ()),
                None => self.create_snmp_credential(actor, input).await.map(|_| ()),
            };
            r.map_err(|source| ConfigError::Apply {
                at: format!("credentials: {key}"),
                done: done.clone(),
                source,
            })?;
            done.push(ImportEntry {
                section: "credentials".into(),
                key,
                outcome: o,
            });
        }

        // Templates, then assignments.
        for t in &doc.templates {
            let o = outcome("templates", &t.name);
            if o == Outcome::Unchanged {
                continue;
            }
            let (rec, _) = self
                .import_template(actor, t.template.clone())
                .await
                .map_err(|source| ConfigError::Apply {
                    at: format!("templates: {}", t.name),
                    done: done.clone(),
                    source,
                })?;
            cur.templates.insert(t.name.clone(), rec.id);
            done.push(ImportEntry {
                section: "templates".into(),
                key: t.name.clone(),
                outcome: o,
            });
        }
        for a in &doc.template_assignments {
            let key = format!("{} on {}", a.template, a.device_ip);
            let o = outcome("template_assignments", &key);
            if o == Outcome::Unchanged {
                continue;
            }
            let tid = cur.templates[&a.template];
            let did = cur.device_ids[&a.device_ip];
            self.apply_template(actor, tid, &[did], &a.macros)
                .await
                .map_err(|source| ConfigError::Apply {
                    at: format!("template_assignments: {key}"),
                    done: done.clone(),
                    source,
                })?;
            done.push(ImportEntry {
                section: "template_assignments".into(),
                key,
                outcome: o,
            });
        }

        // Channels, then the rules that name them.
        for c in &doc.channels {
            let o = outcome("channels", &c.name);
            if o == Outcome::Unchanged {
                continue;
            }
            let mut config = c.config.clone();
            if let (Value::Object(m), Some(s)) =
                (&mut config, bundle.and_then(|b| b.channels.get(&c.name)))
            {
                m.extend(s.clone());
            }
            let input = ChannelInput {
                name: c.name.clone(),
                kind: c.kind,
                config,
                enabled: Some(c.enabled),
            };
            let r = match cur.channels.get(&c.name) {
                Some(&id) => self.update_channel(actor, id, input).await,
                None => self.create_channel(actor, input).await,
            };
            let ch = r.map_err(|source| ConfigError::Apply {
                at: format!("channels: {}", c.name),
                done: done.clone(),
                source,
            })?;
            cur.channels.insert(c.name.clone(), ch.id);
            done.push(ImportEntry {
                section: "channels".into(),
                key: c.name.clone(),
                outcome: o,
            });
        }
        for r in &doc.alert_rules {
            let o = outcome("alert_rules", &r.name);
            if o == Outcome::Unchanged {
                continue;
            }
            let ids = r
                .device_ips
                .as_ref()
                .map(|ips| ips.iter().map(|ip| cur.device_ids[ip]).collect());
            let input = rule_input(r, ids);
            let res = match cur.rules.get(&r.name) {
                Some(&id) => self.update_alert_rule(actor, id, input).await,
                None => self.create_alert_rule(actor, input).await,
            };
            res.map_err(|source| ConfigError::Apply {
                at: format!("alert_rules: {}", r.name),
                done: done.clone(),
                source,
            })?;
            done.push(ImportEntry {
                section: "alert_rules".into(),
                key: r.name.clone(),
                outcome: o,
            });
        }

        for w in &doc.maintenance {
            let o = outcome("maintenance", &w.name);
            if o == Outcome::Unchanged {
                continue;
            }
            let devices = w.device_ips.iter().map(|ip| cur.device_ids[ip]).collect();
            let groups = w.group_names.iter().map(|g| cur.groups[g].0).collect();
            let input = maintenance_input(w, devices, groups);
            let res = match cur.maintenance.get(&w.name) {
                Some(&id) => self.update_maintenance(actor, id, input).await,
                None => self.create_maintenance(actor, input).await,
            };
            res.map_err(|source| ConfigError::Apply {
                at: format!("maintenance: {}", w.name),
                done: done.clone(),
                source,
            })?;
            done.push(ImportEntry {
                section: "maintenance".into(),
                key: w.name.clone(),
                outcome: o,
            });
        }

        for r in &doc.discovery_rules {
            let o = outcome("discovery_rules", &r.name);
            if matches!(o, Outcome::Unchanged | Outcome::NeedsSecret) {
                continue;
            }
            let secrets = bundle.and_then(|b| b.discovery_rules.get(&r.name));
            let creds = r
                .credentials
                .iter()
                .map(|c| candidate_input(c, secrets.and_then(|s| s.get(&c.name))))
                .collect();
            let input = discovery_input(r, creds);
            let res = match cur.discovery.get(&r.name) {
                Some(&id) => self.update_discovery_rule(actor, id, input).await,
                None => self.create_discovery_rule(actor, input).await,
            };
            res.map_err(|source| ConfigError::Apply {
                at: format!("discovery_rules: {}", r.name),
                done: done.clone(),
                source,
            })?;
            done.push(ImportEntry {
                section: "discovery_rules".into(),
                key: r.name.clone(),
                outcome: o,
            });
        }
        Ok(())
    }
}

fn dot(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!(".{path}")
    }
}
