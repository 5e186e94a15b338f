//! Network discovery records: rules (what to scan, with which SNMP credentials, when),
//! runs (one scan of a rule or of ad-hoc ranges) and results (one per device found,
//! whichever addresses it answered on). Seed tables: `discovery_rules`,
//! `discovery_results`; runs are kept in `discovery_runs`.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::inventory::{FieldError, Secret};
use crate::snmp::{AuthProtocol, PrivProtocol, SecurityLevel, SnmpVersion};

/// Default probe rate of a rule: ICMP echoes plus SNMP requests per second.
pub const DEFAULT_RATE: u32 = 2000;
/// Default number of hosts probed at once (SNMP stage).
pub const DEFAULT_CONCURRENCY: u32 = 256;
/// Largest prefix scanned without `allow_large` (a /16: 65,534 hosts).
pub const LARGE_SCAN: usize = 65_536;

/// What a rule does with devices it finds that are not monitored yet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DiscoveryAction {
    /// Only record them as results (an operator adds them).
    #[default]
    Record,
    /// Add them as devices with the credential that worked and the matching template.
    Add,
}

impl DiscoveryAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Record => "record",
            Self::Add => "add",
        }
    }
}

impl std::str::FromStr for DiscoveryAction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "record" => Ok(Self::Record),
            "add" => Ok(Self::Add),
            o => Err(format!("unknown action {o:?}: expected record or add")),
        }
    }
}

/// One SNMP credential a scan tries, in order. Secrets are write-only: this type is not
/// `Serialize`; [`CandidateInput::expose_json`] is the one way out, for the store to
/// encrypt.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CandidateInput {
    /// Shown in results as the credential that worked (never its secret). Defaults to
    /// `v2c #1`, `v3 admin`...
    #[serde(default)]
    pub name: String,
    pub version: Option<SnmpVersion>,
    #[schema(value_type = Option<String>, format = Password)]
    #[serde(default)]
    pub community: Option<Secret>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub security_level: Option<SecurityLevel>,
    #[serde(default)]
    pub auth_protocol: Option<AuthProtocol>,
    #[schema(value_type = Option<String>, format = Password)]
    #[serde(default)]
    pub auth_key: Option<Secret>,
    #[serde(default)]
    pub priv_protocol: Option<PrivProtocol>,
    #[schema(value_type = Option<String>, format = Password)]
    #[serde(default)]
    pub priv_key: Option<Secret>,
    #[serde(default)]
    pub context: Option<String>,
}

impl CandidateInput {
    /// A v2c community candidate.
    pub fn community(community: &str) -> Self {
        Self {
            version: Some(SnmpVersion::V2c),
            community: Some(Secret::new(community)),
            ..Self::default()
        }
    }

    /// v2c candidates for `communities`, in order, named `community #1`, `#2`... (the
    /// name shown as the credential that worked; never the community itself).
    pub fn communities<S: AsRef<str>>(communities: impl IntoIterator<Item = S>) -> Vec<Self> {
        communities
            .into_iter()
            .enumerate()
            .map(|(i, c)| Self {
                name: format!("community #{}", i + 1),
                ..Self::community(c.as_ref())
            })
            .collect()
    }

    /// Checks the fields with the device credential's rules; fills the default name from
    /// its position (`index`, from 0).
    pub fn validate(&mut self, index: usize) -> Result<(), FieldError> {
        let mut as_cred = crate::inventory::SnmpCredentialInput {
            name: if self.name.trim().is_empty() {
                "x".into()
            } else {
                self.name.clone()
            },
            device_id: None,
            version: self.version,
            community: self.community.clone(),
            username: self.username.clone(),
            security_level: self.security_level,
            auth_protocol: self.auth_protocol,
            auth_key: self.auth_key.clone(),
            priv_protocol: self.priv_protocol,
            priv_key: self.priv_key.clone(),
            context: self.context.clone(),
        };
        as_cred
            .validate()
            .map_err(|e| FieldError::new(format!("credentials[{index}].{}", e.field), e.message))?;
        self.security_level = as_cred.security_level;
        self.auth_protocol = as_cred.auth_protocol;
        self.priv_protocol = as_cred.priv_protocol;
        self.name = self.name.trim().to_string();
        if self.name.is_empty() {
            self.name = match (self.version, &self.username) {
                (Some(SnmpVersion::V3), Some(u)) => format!("v3 {}", u.trim()),
                (Some(v), _) => format!("{} #{}", v.as_str(), index + 1),
                (None, _) => format!("#{}", index + 1),
            };
        }
        Ok(())
    }

    /// The candidate with its secrets in clear, as JSON: only for the store, which
    /// encrypts it at once. Read back with `serde_json::from_value`.
    pub fn expose_json(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name,
            "version": self.version,
            "community": self.community.as_ref().map(Secret::expose),
            "username": self.username,
            "security_level": self.security_level,
            "auth_protocol": self.auth_protocol,
            "auth_key": self.auth_key.as_ref().map(Secret::expose),
            "priv_protocol": self.priv_protocol,
            "priv_key": self.priv_key.as_ref().map(Secret::expose),
            "context": self.context,
        })
    }

    /// The public view: no secret, only whether one is set.
    pub fn view(&self) -> CandidateView {
        CandidateView {
            name: self.name.clone(),
            version: self.version.unwrap_or(SnmpVersion::V2c),
            username: self.username.clone(),
            security_level: self.security_level,
            auth_protocol: self.auth_protocol,
            priv_protocol: self.priv_protocol,
            has_community: self.community.is_some(),
            has_auth_key: self.auth_key.is_some(),
            has_priv_key: self.priv_key.is_some(),
        }
    }

    /// As a device credential input (what add-devices stores for the device).
    pub fn to_credential(
        &self,
        device_id: Uuid,
        name: String,
    ) -> crate::inventory::SnmpCredentialInput {
        crate::inventory::SnmpCredentialInput {
            name,
            device_id: Some(device_id),
            version: self.version,
            community: self.community.clone(),
            username: self.username.clone(),
            security_level: self.security_level,
            auth_protocol: self.auth_protocol,
            auth_key: self.auth_key.clone(),
            priv_protocol: self.priv_protocol,
            priv_key: self.priv_key.clone(),
            context: self.context.clone(),
        }
    }
}

/// A credential candidate as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CandidateView {
    pub name: String,
    pub version: SnmpVersion,
    pub username: Option<String>,
    pub security_level: Option<SecurityLevel>,
    pub auth_protocol: Option<AuthProtocol>,
    pub priv_protocol: Option<PrivProtocol>,
    pub has_community: bool,
    pub has_auth_key: bool,
    pub has_priv_key: bool,
}

/// The writable fields of a discovery rule.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DiscoveryRuleInput {
    pub name: String,
    /// CIDR prefixes (`10.1.0.0/22`), single addresses, or `first-last` address ranges.
    pub ranges: Vec<String>,
    /// Prefixes, addresses or ranges never probed.
    #[serde(default)]
    pub exclusions: Vec<String>,
    /// SNMP credentials tried in order on each live host (v2c communities, v3 users).
    #[serde(default)]
    pub credentials: Vec<CandidateInput>,
    /// Cron expression (5 or 6 fields, UTC); none: run only on demand.
    #[serde(default)]
    pub schedule: Option<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Probes (ICMP echoes and SNMP requests) per second, 1-100000.
    #[serde(default)]
    pub rate_limit: Option<u32>,
    /// Hosts probed by SNMP at once, 1-4096.
    #[serde(default)]
    pub concurrency: Option<u32>,
    #[serde(default)]
    pub action: Option<DiscoveryAction>,
    /// Allow ranges larger than a /16 in all.
    #[serde(default)]
    pub allow_large: Option<bool>,
}

impl DiscoveryRuleInput {
    /// Trims, fills defaults, checks every field except the ranges themselves (parsed by
    /// the discovery crate, which owns the address rules) and the cron expression.
    pub fn validate(&mut self) -> Result<(), FieldError> {
        self.name = self.name.trim().to_string();
        if self.name.is_empty() || self.name.chars().count() > 255 {
            return Err(FieldError::new("name", "is required (1-255 characters)"));
        }
        if self.ranges.is_empty() {
            return Err(FieldError::new(
                "ranges",
                "give at least one CIDR prefix, address or first-last range",
            ));
        }
        for (i, c) in self.credentials.iter_mut().enumerate() {
            c.validate(i)?;
        }
        self.schedule = self
            .schedule
            .take()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        let rate = *self.rate_limit.get_or_insert(DEFAULT_RATE);
        if !(1..=100_000).contains(&rate) {
            return Err(FieldError::new(
                "rate_limit",
                "must be 1-100000 probes per second",
            ));
        }
        let conc = *self.concurrency.get_or_insert(DEFAULT_CONCURRENCY);
        if !(1..=4096).contains(&conc) {
            return Err(FieldError::new("concurrency", "must be 1-4096 hosts"));
        }
        self.enabled.get_or_insert(true);
        self.action.get_or_insert(DiscoveryAction::Record);
        self.allow_large.get_or_insert(false);
        Ok(())
    }
}

/// A discovery rule as stored and shown.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DiscoveryRule {
    pub id: Uuid,
    pub name: String,
    pub ranges: Vec<String>,
    pub exclusions: Vec<String>,
    pub credentials: Vec<CandidateView>,
    pub schedule: Option<String>,
    pub enabled: bool,
    pub rate_limit: u32,
    pub concurrency: u32,
    pub action: DiscoveryAction,
    pub allow_large: bool,
    /// Start of the last run (seed: `last_run`).
    pub last_run: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// State of one discovery run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    Running,
    Done,
    Failed,
}

impl RunState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }
}

impl std::str::FromStr for RunState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "running" => Ok(Self::Running),
            "done" => Ok(Self::Done),
            "failed" => Ok(Self::Failed),
            o => Err(format!("unknown run state {o:?}")),
        }
    }
}

/// One scan (the API's "job"): of a rule, or of ad-hoc ranges.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DiscoveryRun {
    /// The job id `POST .../discovery/scan` returns.
    pub id: Uuid,
    pub rule_id: Option<Uuid>,
    pub state: RunState,
    /// Addresses probed so far (ICMP), of `total`.
    pub done: u64,
    pub total: u64,
    /// Live hosts (answered ping or SNMP).
    pub alive: u64,
    /// Hosts where an SNMP credential worked.
    pub snmp: u64,
    /// Distinct devices found (results written by this run).
    pub found: u64,
    /// Of `found`, results not seen before.
    pub new: u64,
    /// Devices added to monitoring by the rule's `add` action.
    pub added: u64,
    pub error: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<u64>,
}

/// What the classifier says about a device.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Classification {
    /// `cisco`, `juniper`, `mikrotik`... (from the sysObjectID's enterprise number).
    pub vendor: Option<String>,
    /// `ios`, `ios-xe`, `nx-os`, `junos`, `routeros`, `linux`, `windows`...
    pub os: Option<String>,
    /// router, switch, firewall, wireless, server, printer, ups or other.
    pub device_type: Option<String>,
    /// Id of the classifier rule that decided the OS and type (`cisco-ios-xe`), or
    /// `enterprise:9` when only the vendor is known.
    pub rule: Option<String>,
    /// 0-1: 1.0 a sysObjectID prefix and a sysDescr pattern agree; less for one signal.
    pub confidence: f64,
}

/// What a scan learned about one device (the CLI's `--json` element; the API's result
/// adds ids and dates).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Finding {
    /// The address the device answered on first (lowest), as found.
    #[schema(value_type = String)]
    pub ip: Option<IpAddr>,
    /// Every address this device answered on in the run.
    #[schema(value_type = Vec<String>)]
    pub addresses: Vec<IpAddr>,
    pub alive: bool,
    /// True when an SNMP credential worked.
    pub snmp: bool,
    pub sys_name: Option<String>,
    pub sys_descr: Option<String>,
    pub sys_object_id: Option<String>,
    pub sys_uptime_ticks: Option<u32>,
    pub sys_location: Option<String>,
    pub sys_contact: Option<String>,
    /// snmpEngineID, hex.
    pub engine_id: Option<String>,
    /// ENTITY-MIB entPhysicalSerialNum of the first entity that has one.
    pub serial: Option<String>,
    /// ifPhysAddress values (only read when neither engine ID nor serial identify it).
    pub mac_addresses: Vec<String>,
    /// Name of the credential that worked (never its secret).
    pub credential: Option<String>,
    /// Which candidate worked (index into the rule's or request's list).
    #[serde(skip)]
    pub credential_index: Option<usize>,
    #[serde(flatten)]
    pub class: Classification,
    /// How duplicates are recognised: `engine:...`, `serial:...`, `mac:...` or `ip:...`.
    pub identity: String,
}

/// A result as stored and shown by the API.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DiscoveryResult {
    pub id: Uuid,
    pub rule_id: Option<Uuid>,
    /// The last run that saw it.
    pub job_id: Uuid,
    #[serde(flatten)]
    pub finding: Finding,
    /// The monitored device it is (same address or identity), if any.
    pub device_id: Option<Uuid>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

/// Filters of `GET .../discovery/results`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ResultQuery {
    pub rule_id: Option<Uuid>,
    pub job_id: Option<Uuid>,
    /// `new`: not a monitored device yet; `known`: already one.
    pub status: Option<String>,
    pub vendor: Option<String>,
    pub device_type: Option<String>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
}
