//! Network discovery (migration m0005): rules, runs and results, and the classifier
//! overrides.
//!
//! - A rule's SNMP credential candidates are one Fernet token of the JSON array of the
//!   candidates with their secrets (`credentials_encrypted`) plus their public views in clear
//!   (`credentials`); the public record never carries a secret. Editing a rule, a candidate
//!   sent without any secret keeps the secrets of the stored candidate of the same name.
//! - A run keeps the candidates it was given (encrypted), and each result keeps the one
//!   that worked (encrypted) with its name in clear, so adding the device later stores it as
//!   the device's own credential.
//! - Results: one row per device identity (`Finding::identity`, unique); a rerun updates the
//!   row (last run, addresses, every field) and keeps `first_seen`. `device_id` is the
//!   monitored device having one of the finding's addresses, recomputed on every record.
//! - Rule changes, classifier overrides and adding devices are audited in their
//!   transaction; runs and results are the scanner's runtime records (no audit rows).
//! - [`Store::add_discovered_devices`] is all or nothing: every refused result is reported
//!   ([`StoreError::Rows`]) and nothing is written.

pub(crate) mod schema;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::IpAddr;

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use serde_json::Value;
use uuid::Uuid;
use wardflux_model::InventoryEvent;
use wardflux_model::discovery::{
    CandidateInput, CandidateView, Classification, DiscoveryAction, DiscoveryResult, DiscoveryRule,
    DiscoveryRuleInput, DiscoveryRun, Finding, ResultQuery, RunState,
};
use wardflux_model::inventory::{DeviceSource, SnmpVersion};

pub use schema::M0005Discovery;
use schema::{result, rule, run, setting};

use crate::entity::device;
use crate::{
    Actor, Change, Cipher, Device, DeviceInput, Page, RowError, Store, StoreError, find,
    map_unique, now,
};

/// Default and maximum page sizes of [`Store::list_discovery_results`].
pub const DEFAULT_RESULT_PAGE: u64 = 100;
pub const MAX_RESULT_PAGE: u64 = 1000;
/// Most runs [`Store::list_discovery_runs`] returns.
pub const MAX_RUNS: u64 = 1000;

const DUP_NAME: &str = "a discovery rule with this name exists";
const INTERRUPTED: &str = "interrupted by a restart";
const CLASSIFIER_OVERRIDES: &str = "discovery.classifier_overrides";

/// What [`Store::record_discovery_findings`] wrote.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecordOutcome {
    /// Distinct results written (new or updated).
    pub found: u64,
    /// Of `found`, rows created (identities not seen before).
    pub new: u64,
    /// The result of each finding, in the findings' order.
    pub result_ids: Vec<Uuid>,
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

fn from_json<T: serde::de::DeserializeOwned>(v: Value, what: &str) -> Result<T, StoreError> {
    serde_json::from_value(v).map_err(|e| corrupt(what, e))
}

fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn sat_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn sat_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// Fernet token of the candidates with their secrets (`None` for none).
fn seal_candidates(cipher: &Cipher, cs: &[CandidateInput]) -> Option<String> {
    if cs.is_empty() {
        return None;
    }
    let all = Value::Array(cs.iter().map(CandidateInput::expose_json).collect());
    Some(cipher.encrypt(&all.to_string()))
}

fn seal_candidate(cipher: &Cipher, c: &CandidateInput) -> String {
    cipher.encrypt(&c.expose_json().to_string())
}

/// The text of a decrypted token as `T`. The parser's message is left out on purpose: it
/// can quote the (secret) text.
fn open_json<T: serde::de::DeserializeOwned>(
    cipher: &Cipher,
    token: &str,
    what: &str,
) -> Result<T, StoreError> {
    let plain = cipher.decrypt(token)?;
    serde_json::from_str(plain.expose())
        .map_err(|_| StoreError::Corrupt(format!("{what}: not a stored candidate list")))
}

fn open_candidates(
    cipher: &Cipher,
    token: Option<&str>,
    what: &str,
) -> Result<Vec<CandidateInput>, StoreError> {
    match token {
        None => Ok(vec![]),
        Some(t) => open_json(cipher, t, what),
    }
}

/// Numeric order of addresses as text: 32 hex digits of the IPv6 form (IPv4 mapped).
fn ip_sort(ip: Option<IpAddr>) -> String {
    match ip {
        Some(IpAddr::V4(a)) => hex::encode(a.to_ipv6_mapped().octets()),
        Some(IpAddr::V6(a)) => hex::encode(a.octets()),
        None => "zz".into(),
    }
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

fn rule_record(m: rule::Model) -> Result<DiscoveryRule, StoreError> {
    let list = |v: Option<Value>, what| -> Result<Vec<String>, StoreError> {
        v.map(|v| from_json(v, what))
            .transpose()
            .map(Option::unwrap_or_default)
    };
    let ranges = match m.ranges {
        Some(v) => from_json(v, "discovery_rules.ranges")?,
        // A seed row: its one column of ranges.
        None => m
            .network_range
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
    };
    let credentials: Vec<CandidateView> = m
        .credentials
        .map(|v| from_json(v, "discovery_rules.credentials"))
        .transpose()?
        .unwrap_or_default();
    Ok(DiscoveryRule {
        id: m.id,
        name: m.name,
        ranges,
        exclusions: list(m.exclusions, "discovery_rules.exclusions")?,
        credentials,
        schedule: m.schedule,
        enabled: m.enabled,
        rate_limit: u32::try_from(m.rate_limit).unwrap_or(1),
        concurrency: u32::try_from(m.concurrency).unwrap_or(1),
        action: m
            .action
            .parse::<DiscoveryAction>()
            .map_err(|e| corrupt("discovery_rules.action", e))?,
        allow_large: m.allow_large,
        last_run: m.last_run,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

/// Fills the writable columns of a rule from a validated input.
fn rule_columns(am: &mut rule::ActiveModel, cipher: &Cipher, i: &DiscoveryRuleInput) {
    let views: Vec<CandidateView> = i.credentials.iter().map(CandidateInput::view).collect();
    am.name = Set(i.name.clone());
    am.network_range = Set(i.ranges.join(","));
    am.ranges = Set(Some(to_json(&i.ranges)));
    am.exclusions = Set(Some(to_json(&i.exclusions)));
    am.credentials = Set(Some(to_json(&views)));
    am.credentials_encrypted = Set(seal_candidates(cipher, &i.credentials));
    am.schedule = Set(i.schedule.clone());
    am.enabled = Set(i.enabled.unwrap_or(true));
    am.rate_limit = Set(i32::try_from(
        i.rate_limit
            .unwrap_or(wardflux_model::discovery::DEFAULT_RATE),
    )
    .unwrap_or(i32::MAX));
    am.concurrency = Set(i32::try_from(
        i.concurrency
            .unwrap_or(wardflux_model::discovery::DEFAULT_CONCURRENCY),
    )
    .unwrap_or(i32::MAX));
    am.action = Set(i.action.unwrap_or_default().as_str().to_string());
    am.allow_large = Set(i.allow_large.unwrap_or(false));
}

/// A candidate sent without any secret whose name matches a stored candidate takes that
/// candidate's secrets (those its version and security level use), so a rule can be edited
/// without typing its secrets again. Others are left for validation to refuse.
pub(crate) fn keep_secrets(input: &mut [CandidateInput], stored: &[CandidateInput]) {
    for c in input.iter_mut() {
        if c.community.is_some() || c.auth_key.is_some() || c.priv_key.is_some() {
            continue;
        }
        let name = c.name.trim();
        if name.is_empty() {
            continue;
        }
        let Some(s) = stored.iter().find(|s| s.name == name) else {
            continue;
        };
        match c.version {
            Some(SnmpVersion::V1 | SnmpVersion::V2c) => c.community = s.community.clone(),
            Some(SnmpVersion::V3) => {
                if c.security_level.is_none_or(|l| l.has_auth()) {
                    c.auth_key = s.auth_key.clone();
                }
                if c.security_level.is_none_or(|l| l.has_priv()) {
                    c.priv_key = s.priv_key.clone();
                }
            }
            None => {}
        }
    }
}

/// `input.validate()`, then candidate names unique within the rule (an edit keeps secrets
/// by name, and results show the name of the candidate that worked).
pub(crate) fn validate_rule(input: &mut DiscoveryRuleInput) -> Result<(), StoreError> {
    input.validate()?;
    let mut names = HashSet::new();
    for (i, c) in input.credentials.iter().enumerate() {
        if !names.insert(c.name.as_str()) {
            return Err(StoreError::invalid(
                &format!("credentials[{i}].name"),
                format!("another candidate is called {:?}", c.name),
            ));
        }
    }
    Ok(())
}

async fn name_taken<C: ConnectionTrait>(
    conn: &C,
    name: &str,
    except: Option<Uuid>,
) -> Result<bool, StoreError> {
    let mut q = rule::Entity::find().filter(rule::Column::Name.eq(name));
    if let Some(id) = except {
        q = q.filter(rule::Column::Id.ne(id));
    }
    Ok(q.count(conn).await? > 0)
}

fn run_record(m: run::Model) -> Result<DiscoveryRun, StoreError> {
    Ok(DiscoveryRun {
        id: m.id,
        rule_id: m.rule_id,
        state: m
            .state
            .parse::<RunState>()
            .map_err(|e| corrupt("discovery_runs.state", e))?,
        done: sat_u64(m.done),
        total: sat_u64(m.total),
        alive: sat_u64(m.alive),
        snmp: sat_u64(m.snmp),
        found: sat_u64(m.found),
        new: sat_u64(m.found_new),
        added: sat_u64(m.added),
        error: m.error,
        started_at: m.started_at,
        finished_at: m.finished_at,
        duration_ms: m.duration_ms.map(sat_u64),
    })
}

fn result_record(m: result::Model) -> Result<DiscoveryResult, StoreError> {
    let ip = m
        .ip_address
        .as_deref()
        .map(|s| {
            s.parse::<IpAddr>()
                .map_err(|e| corrupt("discovery_results.ip_address", e))
        })
        .transpose()?;
    Ok(DiscoveryResult {
        id: m.id,
        rule_id: m.rule_id,
        job_id: m.job_id,
        finding: Finding {
            ip,
            addresses: from_json(m.addresses, "discovery_results.addresses")?,
            alive: m.alive,
            snmp: m.snmp_reachable,
            sys_name: m.hostname,
            sys_descr: m.sys_descr,
            sys_object_id: m.sys_object_id,
            sys_uptime_ticks: m.sys_uptime_ticks.and_then(|t| u32::try_from(t).ok()),
            sys_location: m.sys_location,
            sys_contact: m.sys_contact,
            engine_id: m.engine_id,
            serial: m.serial,
            mac_addresses: from_json(m.mac_addresses, "discovery_results.mac_addresses")?,
            credential: m.credential,
            credential_index: None,
            class: Classification {
                vendor: m.vendor,
                os: m.os,
                device_type: m.device_type,
                rule: m.classifier_rule,
                confidence: m.confidence,
            },
            identity: m.identity,
        },
        device_id: m.device_id,
        first_seen: m.discovered_at,
        last_seen: m.last_seen,
    })
}

/// The monitored device of each address among `ips` (any source; the oldest device when
/// several share an address).
async fn devices_by_ip<C: ConnectionTrait>(
    conn: &C,
    ips: &BTreeSet<String>,
) -> Result<HashMap<String, Uuid>, StoreError> {
    let mut out = HashMap::new();
    let ips: Vec<&String> = ips.iter().collect();
    for chunk in ips.chunks(500) {
        let rows = device::Entity::find()
            .filter(device::Column::Ip.is_in(chunk.iter().map(|s| s.as_str())))
            .order_by_asc(device::Column::CreatedAt)
            .order_by_asc(device::Column::Id)
            .all(conn)
            .await?;
        for d in rows {
            out.entry(d.ip).or_insert(d.id);
        }
    }
    Ok(out)
}

/// A finding's addresses: its `ip` first, then the others.
fn addresses_of(f: &Finding) -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = f.ip.into_iter().collect();
    for a in &f.addresses {
        if !out.contains(a) {
            out.push(*a);
        }
    }
    out
}

/// Fills the columns a finding decides.
fn finding_columns(am: &mut result::ActiveModel, f: &Finding) {
    am.ip_address = Set(f.ip.map(|ip| ip.to_string()));
    am.ip_sort = Set(ip_sort(f.ip));
    am.addresses = Set(to_json(&f.addresses));
    am.alive = Set(f.alive);
    am.snmp_reachable = Set(f.snmp);
    am.hostname = Set(f.sys_name.clone());
    am.sys_descr = Set(f.sys_descr.clone());
    am.sys_object_id = Set(f.sys_object_id.clone());
    am.sys_uptime_ticks = Set(f.sys_uptime_ticks.map(i64::from));
    am.sys_location = Set(f.sys_location.clone());
    am.sys_contact = Set(f.sys_contact.clone());
    am.engine_id = Set(f.engine_id.clone());
    am.serial = Set(f.serial.clone());
    am.mac_addresses = Set(to_json(&f.mac_addresses));
    am.credential = Set(f.credential.clone());
    am.vendor = Set(f.class.vendor.clone());
    am.os = Set(f.class.os.clone());
    am.device_type = Set(f.class.device_type.clone());
    am.classifier_rule = Set(f.class.rule.clone());
    am.confidence = Set(if f.class.confidence.is_finite() {
        f.class.confidence
    } else {
        0.0
    });
}

impl Store {
    // --- rules ---------------------------------------------------------------------------

    /// Creates a rule. The caller has checked the ranges and the cron expression; the other
    /// fields are checked here (`input.validate()`).
    pub async fn create_discovery_rule(
        &self,
        actor: &Actor,
        mut input: DiscoveryRuleInput,
    ) -> Result<DiscoveryRule, StoreError> {
        validate_rule(&mut input)?;
        let txn = self.db.begin().await?;
        if name_taken(&txn, &input.name, None).await? {
            return Err(StoreError::conflict("name", DUP_NAME));
        }
        let t = now();
        let mut am = rule::ActiveModel {
            id: Set(Uuid::new_v4()),
            last_run: Set(None),
            created_at: Set(t),
            updated_at: Set(t),
            ..Default::default()
        };
        rule_columns(&mut am, &self.cipher(), &input);
        let m = am
            .insert(&txn)
            .await
            .map_err(|e| map_unique(e, "name", DUP_NAME))?;
        let r = rule_record(m)?;
        Change::created("discovery_rule.create", "discovery_rule", r.id, &r)
            .commit(txn, actor, r)
            .await
    }

    /// Replaces every writable field of a rule. A candidate sent without any secret keeps
    /// the secrets of the stored candidate of the same name; without one, validation names
    /// the missing secret (`credentials[i].community`).
    pub async fn update_discovery_rule(
        &self,
        actor: &Actor,
        id: Uuid,
        mut input: DiscoveryRuleInput,
    ) -> Result<DiscoveryRule, StoreError> {
        let cipher = self.cipher();
        let txn = self.db.begin().await?;
        let m = find::<rule::Entity, _>(&txn, id, "discovery rule").await?;
        let stored = open_candidates(
            &cipher,
            m.credentials_encrypted.as_deref(),
            "discovery_rules.credentials_encrypted",
        )?;
        keep_secrets(&mut input.credentials, &stored);
        validate_rule(&mut input)?;
        if name_taken(&txn, &input.name, Some(id)).await? {
            return Err(StoreError::conflict("name", DUP_NAME));
        }
        let before = rule_record(m.clone())?;
        let mut am = m.into_active_model();
        rule_columns(&mut am, &cipher, &input);
        am.updated_at = Set(now());
        let after = rule_record(
            am.update(&txn)
                .await
                .map_err(|e| map_unique(e, "name", DUP_NAME))?,
        )?;
        Change::updated(
            "discovery_rule.update",
            "discovery_rule",
            id,
            &before,
            &after,
        )
        .commit(txn, actor, after)
        .await
    }

    /// Deletes a rule; its runs and results stay, with no rule.
    pub async fn delete_discovery_rule(&self, actor: &Actor, id: Uuid) -> Result<(), StoreError> {
        self.delete_audited::<rule::Entity, _>(
            actor,
            id,
            ("discovery rule", "discovery_rule", "discovery_rule.delete"),
            async |_, m| rule_record(m),
        )
        .await
    }

    pub async fn get_discovery_rule(&self, id: Uuid) -> Result<DiscoveryRule, StoreError> {
        rule_record(find::<rule::Entity, _>(&self.db, id, "discovery rule").await?)
    }

    /// Every rule, by name.
    pub async fn list_discovery_rules(&self) -> Result<Vec<DiscoveryRule>, StoreError> {
        rule::Entity::find()
            .order_by_asc(rule::Column::Name)
            .order_by_asc(rule::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(rule_record)
            .collect()
    }

    /// A rule's credential candidates with their secrets, in order (for the scanner; never
    /// expose them in an API).
    pub async fn discovery_candidates(
        &self,
        rule_id: Uuid,
    ) -> Result<Vec<CandidateInput>, StoreError> {
        let m = find::<rule::Entity, _>(&self.db, rule_id, "discovery rule").await?;
        open_candidates(
            &self.cipher(),
            m.credentials_encrypted.as_deref(),
            "discovery_rules.credentials_encrypted",
        )
    }

    // --- runs ----------------------------------------------------------------------------

    /// Starts a run: state `running`, started now, with the candidates it tries (encrypted;
    /// a rule's run given none keeps its rule's). Sets the rule's `last_run`.
    pub async fn start_discovery_run(
        &self,
        rule_id: Option<Uuid>,
        total: u64,
        candidates: &[CandidateInput],
    ) -> Result<DiscoveryRun, StoreError> {
        let txn = self.db.begin().await?;
        let t = now();
        let mut sealed = seal_candidates(&self.cipher(), candidates);
        if let Some(rid) = rule_id {
            let r = find::<rule::Entity, _>(&txn, rid, "discovery rule").await?;
            if candidates.is_empty() {
                sealed = r.credentials_encrypted.clone();
            }
            let mut am = r.into_active_model();
            am.last_run = Set(Some(t));
            am.update(&txn).await?;
        }
        let m = run::ActiveModel {
            id: Set(Uuid::new_v4()),
            rule_id: Set(rule_id),
            state: Set(RunState::Running.as_str().to_string()),
            done: Set(0),
            total: Set(sat_i64(total)),
            alive: Set(0),
            snmp: Set(0),
            found: Set(0),
            found_new: Set(0),
            added: Set(0),
            error: Set(None),
            candidates_encrypted: Set(sealed),
            started_at: Set(t),
            finished_at: Set(None),
            duration_ms: Set(None),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        run_record(m)
    }

    /// Writes a run's progress: counters, state, error, finish time and duration.
    pub async fn update_discovery_run(&self, r: &DiscoveryRun) -> Result<(), StoreError> {
        let m = find::<run::Entity, _>(&self.db, r.id, "discovery run").await?;
        let mut am = m.into_active_model();
        am.state = Set(r.state.as_str().to_string());
        am.done = Set(sat_i64(r.done));
        am.total = Set(sat_i64(r.total));
        am.alive = Set(sat_i64(r.alive));
        am.snmp = Set(sat_i64(r.snmp));
        am.found = Set(sat_i64(r.found));
        am.found_new = Set(sat_i64(r.new));
        am.added = Set(sat_i64(r.added));
        am.error = Set(r.error.clone());
        am.finished_at = Set(r
            .finished_at
            .map(|t| chrono::SubsecRound::trunc_subsecs(t, 6)));
        am.duration_ms = Set(r.duration_ms.map(sat_i64));
        am.update(&self.db).await?;
        Ok(())
    }

    pub async fn get_discovery_run(&self, id: Uuid) -> Result<DiscoveryRun, StoreError> {
        run_record(find::<run::Entity, _>(&self.db, id, "discovery run").await?)
    }

    /// The candidates a run was given, with their secrets (for the scanner).
    pub async fn discovery_run_candidates(
        &self,
        id: Uuid,
    ) -> Result<Vec<CandidateInput>, StoreError> {
        let m = find::<run::Entity, _>(&self.db, id, "discovery run").await?;
        open_candidates(
            &self.cipher(),
            m.candidates_encrypted.as_deref(),
            "discovery_runs.candidates_encrypted",
        )
    }

    /// Runs, newest first, of one rule or all; at most `limit` (1-1000).
    pub async fn list_discovery_runs(
        &self,
        rule_id: Option<Uuid>,
        limit: u64,
    ) -> Result<Vec<DiscoveryRun>, StoreError> {
        let mut q = run::Entity::find();
        if let Some(r) = rule_id {
            q = q.filter(run::Column::RuleId.eq(r));
        }
        q.order_by_desc(run::Column::StartedAt)
            .order_by_desc(run::Column::Id)
            .limit(limit.clamp(1, MAX_RUNS))
            .all(&self.db)
            .await?
            .into_iter()
            .map(run_record)
            .collect()
    }

    /// At server start: runs still `running` were cut by a restart. Marks them `failed`
    /// ("interrupted by a restart", finished now) and returns how many.
    pub async fn fail_interrupted_runs(&self) -> Result<u64, StoreError> {
        let txn = self.db.begin().await?;
        let running = run::Entity::find()
            .filter(run::Column::State.eq(RunState::Running.as_str()))
            .all(&txn)
            .await?;
        let t = now();
        let n = running.len() as u64;
        for m in running {
            let ms = (t - m.started_at).num_milliseconds().max(0);
            let mut am = m.into_active_model();
            am.state = Set(RunState::Failed.as_str().to_string());
            am.error = Set(Some(INTERRUPTED.to_string()));
            am.finished_at = Set(Some(t));
            am.duration_ms = Set(Some(ms));
            am.update(&txn).await?;
        }
        txn.commit().await?;
        Ok(n)
    }

    // --- results -------------------------------------------------------------------------

    /// Writes the findings of a run: one row per identity, created or updated (last run,
    /// rule, addresses, every field; `first_seen` kept). The credential that worked
    /// (`candidates[credential_index]`) is kept encrypted; `device_id` is the monitored
    /// device having one of the finding's addresses. One transaction.
    pub async fn record_discovery_findings(
        &self,
        run_id: Uuid,
        rule_id: Option<Uuid>,
        findings: &[Finding],
        candidates: &[CandidateInput],
    ) -> Result<RecordOutcome, StoreError> {
        let cipher = self.cipher();
        for (i, f) in findings.iter().enumerate() {
            if f.identity.trim().is_empty() {
                return Err(StoreError::invalid(
                    &format!("findings[{i}].identity"),
                    "must not be empty",
                ));
            }
            if let Some(k) = f.credential_index
                && k >= candidates.len()
            {
                return Err(StoreError::invalid(
                    &format!("findings[{i}].credential_index"),
                    format!("no candidate {k} among {}", candidates.len()),
                ));
            }
        }
        let txn = self.db.begin().await?;
        find::<run::Entity, _>(&txn, run_id, "discovery run").await?;
        // A rule deleted while its scan ran: its results stay, with no rule.
        let rule_id = match rule_id {
            Some(r) => rule::Entity::find_by_id(r).one(&txn).await?.map(|m| m.id),
            None => None,
        };
        let ips: BTreeSet<String> = findings
            .iter()
            .flat_map(addresses_of)
            .map(|a| a.to_string())
            .collect();
        let owners = devices_by_ip(&txn, &ips).await?;
        let t = now();
        let mut out = RecordOutcome::default();
        let mut seen = HashSet::new();
        for f in findings {
            let identity = f.identity.trim();
            let device_id = addresses_of(f)
                .iter()
                .find_map(|a| owners.get(&a.to_string()).copied());
            let credential = f
                .credential_index
                .map(|k| seal_candidate(&cipher, &candidates[k]));
            let existing = result::Entity::find()
                .filter(result::Column::Identity.eq(identity))
                .one(&txn)
                .await?;
            let is_new = existing.is_none();
            let mut am = match existing {
                Some(m) => m.into_active_model(),
                None => result::ActiveModel {
                    id: Set(Uuid::new_v4()),
                    identity: Set(identity.to_string()),
                    discovered_at: Set(t),
                    ..Default::default()
                },
            };
            finding_columns(&mut am, f);
            am.rule_id = Set(rule_id);
            am.job_id = Set(run_id);
            am.credential_encrypted = Set(credential);
            am.device_id = Set(device_id);
            am.last_seen = Set(t);
            let m = if is_new {
                am.insert(&txn).await.map_err(|e| {
                    map_unique(e, "identity", "another run recorded this device meanwhile")
                })?
            } else {
                am.update(&txn).await?
            };
            if seen.insert(m.id) {
                out.found += 1;
                out.new += u64::from(is_new);
            }
            out.result_ids.push(m.id);
        }
        txn.commit().await?;
        Ok(out)
    }

    /// Filter and paginate results, ordered by address. `status`: `new` (not a monitored
    /// device) or `known`; limit 1-1000, default 100.
    pub async fn list_discovery_results(
        &self,
        q: &ResultQuery,
    ) -> Result<Page<DiscoveryResult>, StoreError> {
        let limit = q.limit.unwrap_or(DEFAULT_RESULT_PAGE);
        if !(1..=MAX_RESULT_PAGE).contains(&limit) {
            return Err(StoreError::invalid("limit", "must be between 1 and 1000"));
        }
        let offset = q.offset.unwrap_or(0);
        crate::check_offset(offset)?;
        let mut cond = Condition::all();
        match q.status.as_deref().map(str::trim) {
            None | Some("") => {}
            Some("new") => cond = cond.add(result::Column::DeviceId.is_null()),
            Some("known") => cond = cond.add(result::Column::DeviceId.is_not_null()),
            Some(_) => return Err(StoreError::invalid("status", "must be new or known")),
        }
        if let Some(r) = q.rule_id {
            cond = cond.add(result::Column::RuleId.eq(r));
        }
        if let Some(j) = q.job_id {
            cond = cond.add(result::Column::JobId.eq(j));
        }
        if let Some(v) = &q.vendor {
            cond = cond.add(result::Column::Vendor.eq(v.as_str()));
        }
        if let Some(v) = &q.device_type {
            cond = cond.add(result::Column::DeviceType.eq(v.as_str()));
        }
        let sel = result::Entity::find()
            .filter(cond)
            .order_by_asc(result::Column::IpSort)
            .order_by_asc(result::Column::Id);
        let mut page = crate::paged(&self.db, sel, limit, offset).await?;
        let items = std::mem::take(&mut page.items)
            .into_iter()
            .map(result_record)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(page.with(items))
    }

    pub async fn get_discovery_result(&self, id: Uuid) -> Result<DiscoveryResult, StoreError> {
        result_record(find::<result::Entity, _>(&self.db, id, "discovery result").await?)
    }

    /// The credential that worked for a result, with its secrets (`None`: no SNMP).
    pub async fn discovery_result_credential(
        &self,
        id: Uuid,
    ) -> Result<Option<CandidateInput>, StoreError> {
        let m = find::<result::Entity, _>(&self.db, id, "discovery result").await?;
        m.credential_encrypted
            .as_deref()
            .map(|t| open_json(&self.cipher(), t, "discovery_results.credential_encrypted"))
            .transpose()
    }

    // --- adding to monitoring ------------------------------------------------------------

    /// Adds discovered devices to monitoring, all or nothing, in one transaction: for each
    /// result a device (name = sysName or the address, vendor and type from the
    /// classification, location = sysLocation, hostname = sysName), the credential that
    /// worked as the device's own SNMP credential, the template `templates[result]` if given,
    /// and the result's `device_id`. Every refused result is listed in
    /// [`StoreError::Rows`] (row = index in `result_ids`): unknown result, already a device,
    /// no address, address repeated in the request, unknown template.
    pub async fn add_discovered_devices(
        &self,
        actor: &Actor,
        result_ids: &[Uuid],
        templates: &HashMap<Uuid, Uuid>,
    ) -> Result<Vec<Device>, StoreError> {
        if result_ids.is_empty() {
            return Err(StoreError::invalid("result_ids", "must not be empty"));
        }
        let cipher = self.cipher();
        let txn = self.db.begin().await?;
        let mut rows: HashMap<Uuid, result::Model> = HashMap::new();
        for chunk in result_ids.chunks(500) {
            for m in result::Entity::find()
                .filter(result::Column::Id.is_in(chunk.iter().copied()))
                .all(&txn)
                .await?
            {
                rows.insert(m.id, m);
            }
        }
        let wanted_templates: BTreeSet<Uuid> = result_ids
            .iter()
            .filter_map(|r| templates.get(r).copied())
            .collect();
        let mut known_templates = HashSet::new();
        for &tid in &wanted_templates {
            if crate::templates::template_exists(&txn, tid).await? {
                known_templates.insert(tid);
            }
        }
        let ips: BTreeSet<String> = rows
            .values()
            .filter_map(|m| {
                m.ip_address.clone().or_else(|| {
                    from_json::<Vec<IpAddr>>(m.addresses.clone(), "addresses")
                        .ok()?
                        .first()
                        .map(IpAddr::to_string)
                })
            })
            .collect();
        let standalone: HashMap<String, Uuid> = {
            let mut out = HashMap::new();
            let list: Vec<&String> = ips.iter().collect();
            for chunk in list.chunks(500) {
                for d in device::Entity::find()
                    .filter(device::Column::Source.eq(DeviceSource::Standalone.as_str()))
                    .filter(device::Column::Ip.is_in(chunk.iter().map(|s| s.as_str())))
                    .all(&txn)
                    .await?
                {
                    out.insert(d.ip, d.id);
                }
            }
            out
        };

        let mut errors = Vec::new();
        let mut plans = Vec::new();
        let mut listed = HashSet::new();
        let mut ips_used: HashMap<String, usize> = HashMap::new();
        for (i, rid) in result_ids.iter().enumerate() {
            let err = |message: String| RowError {
                row: i as u64,
                field: format!("result_ids[{i}]"),
                message: format!("result {rid}: {message}"),
            };
            if !listed.insert(*rid) {
                errors.push(err("listed more than once".into()));
                continue;
            }
            let Some(m) = rows.get(rid) else {
                errors.push(err("not found".into()));
                continue;
            };
            if let Some(d) = m.device_id {
                errors.push(err(format!("already a monitored device ({d})")));
                continue;
            }
            let r = result_record(m.clone())?;
            let Some(ip) = r
                .finding
                .ip
                .or_else(|| r.finding.addresses.first().copied())
            else {
                errors.push(err("has no address".into()));
                continue;
            };
            let ip_text = ip.to_string();
            if let Some(d) = standalone.get(&ip_text) {
                errors.push(err(format!(
                    "a device with address {ip_text} exists already ({d})"
                )));
                continue;
            }
            if let Some(j) = ips_used.insert(ip_text.clone(), i) {
                errors.push(err(format!(
                    "address {ip_text} is also the address of result_ids[{j}]"
                )));
                continue;
            }
            if let Some(tid) = templates.get(rid)
                && !known_templates.contains(tid)
            {
                errors.push(RowError {
                    field: format!("templates.{rid}"),
                    ..err(format!("no template with id {tid}"))
                });
                continue;
            }
            let f = &r.finding;
            let sys_name = f
                .sys_name
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty());
            let mut input = DeviceInput {
                name: truncate(sys_name.unwrap_or(&ip_text), 255),
                ip: ip_text,
                hostname: sys_name.map(|s| truncate(s, 255)),
                vendor: f.class.vendor.as_deref().map(|s| truncate(s, 255)),
                device_type: f.class.device_type.as_deref().map(|s| truncate(s, 255)),
                location: f.sys_location.as_deref().map(|s| truncate(s.trim(), 255)),
                ..Default::default()
            };
            if let Err(e) = input.validate() {
                errors.push(err(format!("{}: {}", e.field, e.message)));
                continue;
            }
            // The credential that worked, as the device's own (device id set once created).
            let credential = match m.credential_encrypted.as_deref() {
                None => None,
                Some(token) => {
                    let cand: CandidateInput =
                        open_json(&cipher, token, "discovery_results.credential_encrypted")?;
                    let mut ci = cand.to_credential(
                        Uuid::nil(),
                        truncate(&format!("{} ({})", input.name, cand.name), 255),
                    );
                    ci.device_id = None;
                    if let Err(e) = ci.validate() {
                        errors.push(err(format!(
                            "stored credential: {}: {}",
                            e.field, e.message
                        )));
                        continue;
                    }
                    Some(ci)
                }
            };
            plans.push((*rid, input, credential));
        }
        if !errors.is_empty() {
            // Dropping the transaction rolls it back; nothing was written.
            return Err(StoreError::Rows(errors));
        }

        let mut devices = Vec::with_capacity(plans.len());
        let mut with_credential = Vec::new();
        let mut by_template: BTreeMap<Uuid, Vec<Uuid>> = BTreeMap::new();
        for (rid, input, credential) in plans {
            let d = crate::devices::insert_device(&txn, actor, input).await?;
            if let Some(mut ci) = credential {
                ci.device_id = Some(d.id);
                crate::snmp::insert_credential(&txn, &cipher, actor, ci).await?;
                with_credential.push(d.id);
            }
            if let Some(tid) = templates.get(&rid) {
                by_template.entry(*tid).or_default().push(d.id);
            }
            let m = find::<result::Entity, _>(&txn, rid, "discovery result").await?;
            let before = result_record(m.clone())?;
            let mut am = m.into_active_model();
            am.device_id = Set(Some(d.id));
            let after = result_record(am.update(&txn).await?)?;
            Change::updated(
                "discovery_result.add",
                "discovery_result",
                rid,
                &before,
                &after,
            )
            .write(&txn, actor)
            .await?;
            devices.push(d);
        }
        let empty = BTreeMap::new();
        for (tid, ids) in &by_template {
            crate::templates::apply_template_in(&txn, actor, *tid, ids, &empty).await?;
        }
        txn.commit().await?;
        for d in &devices {
            self.publish(InventoryEvent::DeviceAdded(d.id));
        }
        for &d in &with_credential {
            self.publish(InventoryEvent::CredentialsChanged(Some(d)));
        }
        if !by_template.is_empty() {
            self.publish(InventoryEvent::TemplatesChanged);
        }
        Ok(devices)
    }

    // --- classifier overrides ------------------------------------------------------------

    /// The user's classifier rules (JSON text as stored; `None`: none).
    pub async fn classifier_overrides(&self) -> Result<Option<String>, StoreError> {
        Ok(
            setting::Entity::find_by_id(CLASSIFIER_OVERRIDES.to_string())
                .one(&self.db)
                .await?
                .and_then(|m| m.value),
        )
    }

    /// Replaces the classifier overrides (`None` removes them). The API has validated the
    /// JSON with the discovery crate.
    pub async fn set_classifier_overrides(
        &self,
        actor: &Actor,
        json: Option<String>,
    ) -> Result<(), StoreError> {
        let as_json = |s: &Option<String>| {
            s.as_deref()
                .map(|t| serde_json::from_str::<Value>(t).unwrap_or_else(|_| Value::from(t)))
        };
        let txn = self.db.begin().await?;
        let old = setting::Entity::find_by_id(CLASSIFIER_OVERRIDES.to_string())
            .one(&txn)
            .await?;
        let before = as_json(&old.as_ref().and_then(|m| m.value.clone()));
        match (old, &json) {
            (Some(_), None) => {
                setting::Entity::delete_by_id(CLASSIFIER_OVERRIDES.to_string())
                    .exec(&txn)
                    .await?;
            }
            (None, None) => {}
            (Some(m), Some(v)) => {
                let mut am = m.into_active_model();
                am.value = Set(Some(v.clone()));
                am.updated_at = Set(now());
                am.update(&txn).await?;
            }
            (None, Some(v)) => {
                setting::ActiveModel {
                    name: Set(CLASSIFIER_OVERRIDES.to_string()),
                    value: Set(Some(v.clone())),
                    updated_at: Set(now()),
                }
                .insert(&txn)
                .await?;
            }
        }
        Change {
            action: "discovery.classifier_overrides",
            entity: "setting",
            entity_id: Some(CLASSIFIER_OVERRIDES.to_string()),
            before,
            after: as_json(&json),
        }
        .commit(txn, actor, ())
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_sort_orders_numerically_and_puts_none_last() {
        let a = ip_sort(Some("10.0.0.2".parse().unwrap()));
        let b = ip_sort(Some("10.0.0.10".parse().unwrap()));
        let c = ip_sort(Some("2001:db8::1".parse().unwrap()));
        let n = ip_sort(None);
        assert!(a < b, "{a} {b}");
        // IPv4 (mapped ::ffff:0:0/96) sorts before global IPv6 addresses
        assert!(b < c);
        assert!(c < n);
    }

    #[test]
    fn secrets_are_kept_by_name_only_where_the_candidate_uses_them() {
        use wardflux_model::inventory::Secret;
        use wardflux_model::snmp::SecurityLevel;
        let stored = vec![
            CandidateInput {
                name: "lab".into(),
                ..CandidateInput::community("s3cret")
            },
            CandidateInput {
                name: "v3 ops".into(),
                version: Some(SnmpVersion::V3),
                username: Some("ops".into()),
                auth_key: Some(Secret::new("authkey123")),
                priv_key: Some(Secret::new("privkey123")),
                ..Default::default()
            },
        ];
        let mut input = vec![
            CandidateInput {
                name: " lab ".into(),
                version: Some(SnmpVersion::V2c),
                ..Default::default()
            },
            CandidateInput {
                name: "v3 ops".into(),
                version: Some(SnmpVersion::V3),
                username: Some("ops".into()),
                security_level: Some(SecurityLevel::AuthNoPriv),
                ..Default::default()
            },
            CandidateInput {
                name: "other".into(),
                version: Some(SnmpVersion::V2c),
                ..Default::default()
            },
        ];
        keep_secrets(&mut input, &stored);
        assert_eq!(input[0].community, Some(Secret::new("s3cret")));
        assert_eq!(input[1].auth_key, Some(Secret::new("authkey123")));
        assert_eq!(input[1].priv_key, None, "authNoPriv takes no priv key");
        assert_eq!(input[2].community, None);
    }
}
