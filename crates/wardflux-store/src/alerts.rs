//! Alert rules, notification channels, alert instances, the notification outbox with its
//! delivery log, and maintenance windows.
//!
//! - Every state change of an alert and the outbox rows it causes are written in one
//!   transaction ([`Store::write_alert`]); the write compares the instance's `version`, so a
//!   writer working from a stale copy (the engine racing an acknowledge from the API) gets
//!   `Conflict{field: "version"}` and must re-read, never overwrite (Alertmanager PR #3826).
//! - The outbox is at-least-once: [`Store::claim_notifications`] leases due rows (moves their
//!   `next_attempt_at` forward by the lease), so rows of a worker killed mid-delivery become due
//!   again; rows delivered before the kill are `delivered` and never sent again. Rows due
//!   together with the same channel and group key form one batch (one message); the batch
//!   keeps its id, and with it its idempotency key, across retries.
//! - Channel secrets (per [`ChannelKind::secret_fields`]) are one Fernet token of a JSON
//!   object; the public record lists only which secrets are set.
//! - Configuration changes and human actions on alerts write audit rows; engine transitions
//!   do not (they are the alert history itself).

pub(crate) mod schema;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use serde_json::Value;
use uuid::Uuid;
use wardflux_model::alerts::{
    Alert, AlertRule, AlertRuleInput, AlertState, Channel, ChannelInput, ChannelKind,
    DeliveryStatus, MaintenanceInput, MaintenanceWindow, NotificationKind, NotificationRecord,
    Severity,
};

pub use schema::M0002Alerts;
use schema::{alert_instance, alert_rule, delivery, maintenance, notification_alert, outbox};

use crate::entity::notification_channel;
use crate::{Actor, Change, Page, Store, StoreError, find, map_unique, now};

fn parse_enum<T: std::str::FromStr<Err = String>>(s: &str, what: &str) -> Result<T, StoreError> {
    s.parse()
        .map_err(|e| StoreError::Corrupt(format!("stored {what}: {e}")))
}

fn from_json<T: serde::de::DeserializeOwned>(v: Value, what: &str) -> Result<T, StoreError> {
    serde_json::from_value(v).map_err(|e| StoreError::Corrupt(format!("stored {what}: {e}")))
}

fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// Canonical text of a label set (sorted keys): the identity of an instance within a rule.
pub fn fingerprint(labels: &BTreeMap<String, String>) -> String {
    serde_json::to_string(labels).unwrap_or_default()
}

// --- rules ---------------------------------------------------------------------------------

impl TryFrom<alert_rule::Model> for AlertRule {
    type Error = StoreError;
    fn try_from(m: alert_rule::Model) -> Result<Self, StoreError> {
        Ok(AlertRule {
            id: m.id,
            name: m.name,
            expression: m.expression,
            severity: parse_enum(&m.severity, "severity")?,
            notifications: from_json(m.notification_channels, "notifications")?,
            enabled: m.enabled,
            description: m.description,
            labels: m
                .labels
                .map(|l| from_json(l, "labels"))
                .transpose()?
                .unwrap_or_default(),
            message: m.message,
            escalation: m
                .escalation
                .map(|e| from_json(e, "escalation"))
                .transpose()?,
            builtin: m.builtin,
            device_ids: m
                .device_ids
                .map(|d| from_json(d, "device_ids"))
                .transpose()?,
            created_at: m.created_at,
            updated_at: m.updated_at,
        })
    }
}

/// Filters of [`Store::list_alert_rules`].
#[derive(Debug, Clone, Default)]
pub struct RuleQuery {
    pub severity: Option<Severity>,
    pub enabled: Option<bool>,
    /// Substring of the name (case-sensitive).
    pub search: Option<String>,
}

/// A built-in rule the binary makes sure exists.
#[derive(Debug, Clone)]
pub struct BuiltinRule {
    pub key: &'static str,
    pub name: &'static str,
    pub expression: &'static str,
    pub severity: Severity,
    pub message: &'static str,
}

async fn check_channel_names<C: ConnectionTrait>(
    conn: &C,
    input: &AlertRuleInput,
) -> Result<(), StoreError> {
    let known: Vec<String> = notification_channel::Entity::find()
        .all(conn)
        .await?
        .into_iter()
        .map(|c| c.name)
        .collect();
    let esc = input
        .escalation
        .as_ref()
        .map(|e| e.channels.as_slice())
        .unwrap_or_default();
    for (field, names) in [
        ("notifications", input.notifications.as_slice()),
        ("escalation.channels", esc),
    ] {
        if let Some(n) = names.iter().find(|n| !known.contains(n)) {
            return Err(StoreError::invalid(
                field,
                format!("no notification channel named {n:?}"),
            ));
        }
    }
    Ok(())
}

fn rule_model(input: &AlertRuleInput) -> alert_rule::ActiveModel {
    alert_rule::ActiveModel {
        name: Set(input.name.clone()),
        expression: Set(input.expression.trim().to_string()),
        severity: Set(input.severity.as_str().to_string()),
        enabled: Set(input.enabled.unwrap_or(true)),
        notification_channels: Set(to_json(&input.notifications)),
        description: Set(input.description.clone().filter(|d| !d.is_empty())),
        labels: Set(Some(to_json(&input.labels))),
        message: Set(input.message.clone().filter(|m| !m.is_empty())),
        escalation: Set(input.escalation.as_ref().map(to_json)),
        device_ids: Set(input.device_ids.as_ref().map(to_json)),
        ..Default::default()
    }
}

impl Store {
    /// Creates a rule. The expression must have been checked by the caller (the rule language
    /// lives in `wardflux-alert`); here: names, channels, uniqueness.
    pub async fn create_alert_rule(
        &self,
        actor: &Actor,
        mut input: AlertRuleInput,
    ) -> Result<AlertRule, StoreError> {
        input.validate()?;
        let txn = self.db.begin().await?;
        check_channel_names(&txn, &input).await?;
        let t = now();
        let mut am = rule_model(&input);
        am.id = Set(Uuid::new_v4());
        am.builtin = Set(None);
        am.created_at = Set(t);
        am.updated_at = Set(t);
        let m = am
            .insert(&txn)
            .await
            .map_err(|e| map_unique(e, "name", "a rule with this name exists"))?;
        let r = AlertRule::try_from(m)?;
        Change::created("alert_rule.create", "alert_rule", r.id, &r)
            .commit(txn, actor, r)
            .await
    }

    /// Makes sure a built-in rule exists (created once; later edits by users are kept).
    pub async fn ensure_builtin_rule(&self, b: &BuiltinRule) -> Result<AlertRule, StoreError> {
        if let Some(m) = alert_rule::Entity::find()
            .filter(alert_rule::Column::Builtin.eq(b.key))
            .one(&self.db)
            .await?
        {
            return m.try_into();
        }
        let t = now();
        let m = alert_rule::ActiveModel {
            id: Set(Uuid::new_v4()),
            name: Set(b.name.to_string()),
            expression: Set(b.expression.to_string()),
            severity: Set(b.severity.as_str().to_string()),
            enabled: Set(true),
            notification_channels: Set(Value::Array(vec![])),
            description: Set(None),
            labels: Set(Some(Value::Object(Default::default()))),
            message: Set(Some(b.message.to_string())),
            escalation: Set(None),
            builtin: Set(Some(b.key.to_string())),
            device_ids: Set(None),
            created_at: Set(t),
            updated_at: Set(t),
        };
        match m.insert(&self.db).await {
            Ok(m) => m.try_into(),
            // Another process created it first.
            Err(e) if e.sql_err().is_some() => alert_rule::Entity::find()
                .filter(alert_rule::Column::Builtin.eq(b.key))
                .one(&self.db)
                .await?
                .ok_or(StoreError::NotFound {
                    entity: "alert rule",
                })?
                .try_into(),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn list_alert_rules(&self, q: &RuleQuery) -> Result<Vec<AlertRule>, StoreError> {
        let mut cond = Condition::all();
        if let Some(s) = q.severity {
            cond = cond.add(alert_rule::Column::Severity.eq(s.as_str()));
        }
        if let Some(e) = q.enabled {
            cond = cond.add(alert_rule::Column::Enabled.eq(e));
        }
        if let Some(s) = q.search.as_deref().filter(|s| !s.is_empty()) {
            cond = cond.add(alert_rule::Column::Name.contains(s));
        }
        let sel = alert_rule::Entity::find()
            .filter(cond)
            .order_by_asc(alert_rule::Column::Name);
        crate::records(&self.db, sel).await
    }

    pub async fn get_alert_rule(&self, id: Uuid) -> Result<AlertRule, StoreError> {
        find::<alert_rule::Entity, _>(&self.db, id, "alert rule")
            .await?
            .try_into()
    }

    /// Full update. A built-in rule keeps its name and expression (they are what the device
    /// state machine drives); its severity, channels, message, escalation and `enabled` change.
    pub async fn update_alert_rule(
        &self,
        actor: &Actor,
        id: Uuid,
        mut input: AlertRuleInput,
    ) -> Result<AlertRule, StoreError> {
        input.validate()?;
        let txn = self.db.begin().await?;
        let old = find::<alert_rule::Entity, _>(&txn, id, "alert rule").await?;
        if old.builtin.is_some() && input.expression.trim() != old.expression {
            return Err(StoreError::invalid(
                "expression",
                "the expression of a built-in rule cannot change",
            ));
        }
        check_channel_names(&txn, &input).await?;
        let before = AlertRule::try_from(old.clone())?;
        let mut am = rule_model(&input);
        am.id = Set(id);
        am.builtin = Set(old.builtin.clone());
        // A PUT without `device_ids` keeps the stored scope: editing a template rule's
        // channels must not widen it to every device.
        if input.device_ids.is_none() {
            am.device_ids = Set(old.device_ids.clone());
        }
        am.created_at = Set(old.created_at);
        am.updated_at = Set(now());
        let m = am
            .update(&txn)
            .await
            .map_err(|e| map_unique(e, "name", "a rule with this name exists"))?;
        let r = AlertRule::try_from(m)?;
        Change::updated("alert_rule.update", "alert_rule", id, &before, &r)
            .commit(txn, actor, r)
            .await
    }

    /// Deletes a rule and its alerts. Built-in rules are refused (`Conflict{builtin}`).
    pub async fn delete_alert_rule(&self, actor: &Actor, id: Uuid) -> Result<(), StoreError> {
        self.delete_audited::<alert_rule::Entity, _>(
            actor,
            id,
            ("alert rule", "alert_rule", "alert_rule.delete"),
            async |_, m| {
                if m.builtin.is_some() {
                    return Err(StoreError::conflict(
                        "builtin",
                        "a built-in rule cannot be deleted; disable it instead",
                    ));
                }
                AlertRule::try_from(m)
            },
        )
        .await
    }
}

// --- channels ------------------------------------------------------------------------------

fn split_secrets(kind: ChannelKind, config: &Value) -> Result<(Value, Value), StoreError> {
    let Value::Object(map) = config else {
        return Err(StoreError::invalid("config", "must be a JSON object"));
    };
    let mut public = serde_json::Map::new();
    let mut secret = serde_json::Map::new();
    for (k, v) in map {
        if kind.secret_fields().contains(&k.as_str()) {
            if !v.is_null() {
                secret.insert(k.clone(), v.clone());
            }
        } else {
            public.insert(k.clone(), v.clone());
        }
    }
    Ok((Value::Object(public), Value::Object(secret)))
}

fn secret_names(secret: &Value) -> Vec<String> {
    secret
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

impl Store {
    fn channel_record(&self, m: notification_channel::Model) -> Result<Channel, StoreError> {
        let secrets = self.channel_secret_json(&m)?;
        Ok(Channel {
            id: m.id,
            name: m.name,
            kind: parse_enum(&m.kind, "channel type")?,
            config: m.config,
            secrets_set: secret_names(&secrets),
            enabled: m.enabled,
            created_at: m.created_at,
            updated_at: m.updated_at,
        })
    }

    fn channel_secret_json(&self, m: &notification_channel::Model) -> Result<Value, StoreError> {
        match &m.secret_config_encrypted {
            None => Ok(Value::Object(Default::default())),
            Some(t) => {
                let plain = self.cipher().decrypt(t)?;
                serde_json::from_str(plain.expose())
                    .map_err(|e| StoreError::Crypto(format!("channel secrets: {e}")))
            }
        }
    }

    /// Creates a channel. The config must have been validated by the caller
    /// (`wardflux_alert::notify::ChannelConfig::parse`).
    pub async fn create_channel(
        &self,
        actor: &Actor,
        input: ChannelInput,
    ) -> Result<Channel, StoreError> {
        let name = input.name.trim().to_string();
        if name.is_empty() || name.len() > 100 {
            return Err(StoreError::invalid("name", "must be 1-100 characters"));
        }
        let (public, secret) = split_secrets(input.kind, &input.config)?;
        let t = now();
        let txn = self.db.begin().await?;
        let m = notification_channel::ActiveModel {
            id: Set(Uuid::new_v4()),
            name: Set(name),
            kind: Set(input.kind.as_str().to_string()),
            config: Set(public),
            secret_config_encrypted: Set(Some(self.cipher().encrypt(&secret.to_string()))),
            enabled: Set(input.enabled.unwrap_or(true)),
            created_at: Set(t),
            updated_at: Set(t),
        }
        .insert(&txn)
        .await
        .map_err(|e| map_unique(e, "name", "a channel with this name exists"))?;
        let c = self.channel_record(m)?;
        Change::created("channel.create", "notification_channel", c.id, &c)
            .commit(txn, actor, c)
            .await
    }

    /// Full update; a secret left out of `config` keeps its stored value. Renaming a channel
    /// renames it in every rule that uses it, in the same transaction.
    pub async fn update_channel(
        &self,
        actor: &Actor,
        id: Uuid,
        input: ChannelInput,
    ) -> Result<Channel, StoreError> {
        let name = input.name.trim().to_string();
        if name.is_empty() || name.len() > 100 {
            return Err(StoreError::invalid("name", "must be 1-100 characters"));
        }
        let txn = self.db.begin().await?;
        let old = find::<notification_channel::Entity, _>(&txn, id, "channel").await?;
        let before = self.channel_record(old.clone())?;
        let (public, mut secret) = split_secrets(input.kind, &input.config)?;
        if input.kind.as_str() == old.kind
            && let (Value::Object(new), Value::Object(kept)) =
                (&mut secret, self.channel_secret_json(&old)?)
        {
            for (k, v) in kept {
                new.entry(k).or_insert(v);
            }
        }
        let mut am = old.clone().into_active_model();
        am.name = Set(name.clone());
        am.kind = Set(input.kind.as_str().to_string());
        am.config = Set(public);
        am.secret_config_encrypted = Set(Some(self.cipher().encrypt(&secret.to_string())));
        am.enabled = Set(input.enabled.unwrap_or(old.enabled));
        am.updated_at = Set(now());
        let m = am
            .update(&txn)
            .await
            .map_err(|e| map_unique(e, "name", "a channel with this name exists"))?;
        if name != old.name {
            rename_channel_in_rules(&txn, &old.name, &name).await?;
        }
        let c = self.channel_record(m)?;
        Change::updated("channel.update", "notification_channel", id, &before, &c)
            .commit(txn, actor, c)
            .await
    }

    pub async fn list_channels(&self) -> Result<Vec<Channel>, StoreError> {
        notification_channel::Entity::find()
            .order_by_asc(notification_channel::Column::Name)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|m| self.channel_record(m))
            .collect()
    }

    pub async fn get_channel(&self, id: Uuid) -> Result<Channel, StoreError> {
        let m = find::<notification_channel::Entity, _>(&self.db, id, "channel").await?;
        self.channel_record(m)
    }

    /// The channel with its full config, secrets included, for sending. Never expose it.
    pub async fn channel_with_secrets(&self, id: Uuid) -> Result<(Channel, Value), StoreError> {
        let m = find::<notification_channel::Entity, _>(&self.db, id, "channel").await?;
        let mut config = m.config.clone();
        if let (Value::Object(c), Value::Object(s)) = (&mut config, self.channel_secret_json(&m)?) {
            c.extend(s);
        }
        Ok((self.channel_record(m)?, config))
    }

    /// Deletes a channel; refused while a rule names it (`Conflict{name}`).
    pub async fn delete_channel(&self, actor: &Actor, id: Uuid) -> Result<(), StoreError> {
        self.delete_audited::<notification_channel::Entity, _>(
            actor,
            id,
            ("channel", "notification_channel", "channel.delete"),
            async |txn, m| {
                for r in alert_rule::Entity::find().all(txn).await? {
                    let r = AlertRule::try_from(r)?;
                    let esc = r.escalation.map(|e| e.channels).unwrap_or_default();
                    if r.notifications.contains(&m.name) || esc.contains(&m.name) {
                        return Err(StoreError::conflict(
                            "name",
                            format!("channel is used by rule {:?}", r.name),
                        ));
                    }
                }
                self.channel_record(m)
            },
        )
        .await
    }
}

async fn rename_channel_in_rules<C: ConnectionTrait>(
    conn: &C,
    old: &str,
    new: &str,
) -> Result<(), StoreError> {
    for m in alert_rule::Entity::find().all(conn).await? {
        let mut r = AlertRule::try_from(m.clone())?;
        let mut changed = false;
        for n in r
            .notifications
            .iter_mut()
            .chain(r.escalation.iter_mut().flat_map(|e| e.channels.iter_mut()))
        {
            if n == old {
                *n = new.to_string();
                changed = true;
            }
        }
        if changed {
            let mut am = m.into_active_model();
            am.notification_channels = Set(to_json(&r.notifications));
            am.escalation = Set(r.escalation.as_ref().map(to_json));
            am.update(conn).await?;
        }
    }
    Ok(())
}

// --- alert instances -----------------------------------------------------------------------

fn alert_record(
    m: alert_instance::Model,
    rules: &HashMap<Uuid, (String, Severity)>,
) -> Result<Alert, StoreError> {
    {
        let (rule, severity) = rules
            .get(&m.rule_id)
            .cloned()
            .unwrap_or_else(|| (String::new(), Severity::Info));
        Ok(Alert {
            id: m.id,
            rule_id: m.rule_id,
            rule,
            severity,
            labels: from_json(m.labels, "labels")?,
            device_id: m.device_id,
            device: m.device,
            value: m.value,
            state: parse_enum(&m.state, "alert state")?,
            message: m.message,
            started_at: m.started_at,
            firing_at: m.firing_at,
            resolved_at: m.resolved_at,
            acknowledged: m.acknowledged,
            acknowledged_by: m.acknowledged_by,
            acknowledged_at: m.acknowledged_at,
            comment: m.comment,
            suppressed_by: m.suppressed_by,
            notified_at: m.notified_at,
            last_notified_at: m.last_notified_at,
            escalation_step: m.escalation_step,
            escalated: m.escalated,
            version: m.version,
            origin: wardflux_model::alerts::AlertOrigin::Standalone,
        })
    }
}

fn instance_model(a: &Alert) -> alert_instance::ActiveModel {
    alert_instance::ActiveModel {
        id: Set(a.id),
        rule_id: Set(a.rule_id),
        labels: Set(to_json(&a.labels)),
        fingerprint: Set(fingerprint(&a.labels)),
        device_id: Set(a.device_id),
        device: Set(a.device.clone()),
        state: Set(a.state.as_str().to_string()),
        value: Set(a.value.filter(|v| v.is_finite())),
        message: Set(a.message.clone()),
        started_at: Set(a.started_at),
        firing_at: Set(a.firing_at),
        resolved_at: Set(a.resolved_at),
        acknowledged: Set(a.acknowledged),
        acknowledged_by: Set(a.acknowledged_by.clone()),
        acknowledged_at: Set(a.acknowledged_at),
        comment: Set(a.comment.clone()),
        suppressed_by: Set(a.suppressed_by.clone()),
        notified_at: Set(a.notified_at),
        last_notified_at: Set(a.last_notified_at),
        escalation_step: Set(a.escalation_step),
        escalated: Set(a.escalated),
        version: Set(a.version),
        updated_at: Set(now()),
    }
}

/// A notification to queue with an alert write.
#[derive(Debug, Clone)]
pub struct OutboxInput {
    pub channel_id: Uuid,
    pub rule_id: Option<Uuid>,
    pub kind: NotificationKind,
    /// What the notifier renders (the alert snapshots); stored as is.
    pub payload: Value,
    /// Rows due at the same time with the same channel and group key go out as one message.
    pub group_key: String,
    pub not_before: DateTime<Utc>,
    /// Alerts this row is about (the delivery log per alert).
    pub alert_ids: Vec<Uuid>,
}

/// Filters of [`Store::list_active_alerts`].
#[derive(Debug, Clone, Default)]
pub struct AlertQuery {
    pub severity: Option<Severity>,
    /// Device id, or device name.
    pub device: Option<String>,
    pub rule_id: Option<Uuid>,
    pub acknowledged: Option<bool>,
}

/// Filters of [`Store::alert_history`].
#[derive(Debug, Clone, Default)]
pub struct HistoryQuery {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub rule_id: Option<Uuid>,
    pub device_id: Option<Uuid>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
}

async fn insert_outbox<C: ConnectionTrait>(
    conn: &C,
    rows: &[OutboxInput],
) -> Result<(), StoreError> {
    for r in rows {
        let id = Uuid::new_v4();
        outbox::ActiveModel {
            id: Set(id),
            channel_id: Set(r.channel_id),
            rule_id: Set(r.rule_id),
            kind: Set(r.kind.as_str().to_string()),
            payload: Set(r.payload.clone()),
            group_key: Set(r.group_key.clone()),
            batch_id: Set(None),
            idempotency_key: Set(id.to_string()),
            status: Set(DeliveryStatus::Pending.as_str().to_string()),
            attempts: Set(0),
            next_attempt_at: Set(r.not_before),
            last_error: Set(None),
            created_at: Set(now()),
            delivered_at: Set(None),
        }
        .insert(conn)
        .await?;
        for a in &r.alert_ids {
            notification_alert::ActiveModel {
                outbox_id: Set(id),
                alert_id: Set(*a),
            }
            .insert(conn)
            .await?;
        }
    }
    Ok(())
}

impl Store {
    async fn rule_names<C: ConnectionTrait>(
        &self,
        conn: &C,
    ) -> Result<HashMap<Uuid, (String, Severity)>, StoreError> {
        alert_rule::Entity::find()
            .all(conn)
            .await?
            .into_iter()
            .map(|m| Ok((m.id, (m.name, parse_enum(&m.severity, "severity")?))))
            .collect()
    }

    async fn alert_records(
        &self,
        ms: Vec<alert_instance::Model>,
    ) -> Result<Vec<Alert>, StoreError> {
        let rules = self.rule_names(&self.db).await?;
        ms.into_iter().map(|m| alert_record(m, &rules)).collect()
    }

    /// Writes an alert (insert when `expected_version` is `None`, else an update of the row
    /// whose version is `expected_version`) and its outbox rows in one transaction. The stored
    /// version is `expected_version + 1` (1 on insert). A stale version: `Conflict{version}`.
    pub async fn write_alert(
        &self,
        alert: &Alert,
        expected_version: Option<i64>,
        notifications: &[OutboxInput],
    ) -> Result<Alert, StoreError> {
        let txn = self.db.begin().await?;
        let mut a = alert.clone();
        match expected_version {
            None => {
                a.version = 1;
                instance_model(&a).insert(&txn).await?;
            }
            Some(v) => {
                a.version = v + 1;
                let mut am = instance_model(&a);
                am.id = sea_orm::ActiveValue::Unchanged(a.id);
                let res = alert_instance::Entity::update_many()
                    .set(am)
                    .filter(alert_instance::Column::Id.eq(a.id))
                    .filter(alert_instance::Column::Version.eq(v))
                    .exec(&txn)
                    .await?;
                if res.rows_affected == 0 {
                    return Err(StoreError::conflict(
                        "version",
                        "the alert changed since it was read",
                    ));
                }
            }
        }
        insert_outbox(&txn, notifications).await?;
        txn.commit().await?;
        Ok(a)
    }

    pub async fn get_alert(&self, id: Uuid) -> Result<Alert, StoreError> {
        let m = find::<alert_instance::Entity, _>(&self.db, id, "alert").await?;
        let rules = self.rule_names(&self.db).await?;
        alert_record(m, &rules)
    }

    /// Pending and firing alerts, newest first.
    pub async fn list_active_alerts(&self, q: &AlertQuery) -> Result<Vec<Alert>, StoreError> {
        let mut cond = Condition::all().add(
            alert_instance::Column::State
                .is_in([AlertState::Pending.as_str(), AlertState::Firing.as_str()]),
        );
        if let Some(r) = q.rule_id {
            cond = cond.add(alert_instance::Column::RuleId.eq(r));
        }
        if let Some(a) = q.acknowledged {
            cond = cond.add(alert_instance::Column::Acknowledged.eq(a));
        }
        if let Some(d) = q.device.as_deref() {
            cond = cond.add(match d.parse::<Uuid>() {
                Ok(id) => alert_instance::Column::DeviceId.eq(id),
                Err(_) => alert_instance::Column::Device.eq(d),
            });
        }
        if let Some(s) = q.severity {
            let ids: Vec<Uuid> = alert_rule::Entity::find()
                .filter(alert_rule::Column::Severity.eq(s.as_str()))
                .all(&self.db)
                .await?
                .into_iter()
                .map(|m| m.id)
                .collect();
            cond = cond.add(alert_instance::Column::RuleId.is_in(ids));
        }
        let ms = alert_instance::Entity::find()
            .filter(cond)
            .order_by_desc(alert_instance::Column::StartedAt)
            .order_by_asc(alert_instance::Column::Id)
            .all(&self.db)
            .await?;
        self.alert_records(ms).await
    }

    /// Alerts that fired (or were resolved), by start time within `[from, to)`, newest first.
    pub async fn alert_history(&self, q: &HistoryQuery) -> Result<Page<Alert>, StoreError> {
        let limit = q.limit.unwrap_or(100);
        if !(1..=1000).contains(&limit) {
            return Err(StoreError::invalid("limit", "must be between 1 and 1000"));
        }
        let offset = q.offset.unwrap_or(0);
        crate::check_offset(offset)?;
        let mut cond = Condition::all().add(alert_instance::Column::FiringAt.is_not_null());
        if let Some(f) = q.from {
            cond = cond.add(alert_instance::Column::StartedAt.gte(f));
        }
        if let Some(t) = q.to {
            cond = cond.add(alert_instance::Column::StartedAt.lt(t));
        }
        if let Some(r) = q.rule_id {
            cond = cond.add(alert_instance::Column::RuleId.eq(r));
        }
        if let Some(d) = q.device_id {
            cond = cond.add(alert_instance::Column::DeviceId.eq(d));
        }
        let sel = alert_instance::Entity::find()
            .filter(cond)
            .order_by_desc(alert_instance::Column::StartedAt)
            .order_by_asc(alert_instance::Column::Id);
        let mut page = crate::paged(&self.db, sel, limit, offset).await?;
        let items = self.alert_records(std::mem::take(&mut page.items)).await?;
        Ok(page.with(items))
    }

    /// Acknowledges (`Some(comment)` or `None` comment) or un-acknowledges an alert, with an
    /// audit row. Bumps the version, so the engine re-reads before its next write.
    pub async fn set_alert_acknowledged(
        &self,
        actor: &Actor,
        id: Uuid,
        acknowledged: bool,
        comment: Option<String>,
    ) -> Result<Alert, StoreError> {
        let txn = self.db.begin().await?;
        let m = find::<alert_instance::Entity, _>(&txn, id, "alert").await?;
        let rules = self.rule_names(&txn).await?;
        let before = alert_record(m.clone(), &rules)?;
        let mut am = m.clone().into_active_model();
        am.acknowledged = Set(acknowledged);
        am.acknowledged_by = Set(acknowledged.then(|| actor.name.clone()));
        am.acknowledged_at = Set(acknowledged.then(now));
        am.comment = Set(if acknowledged {
            comment
        } else {
            m.comment.clone()
        });
        am.version = Set(m.version + 1);
        am.updated_at = Set(now());
        let after = alert_record(am.update(&txn).await?, &rules)?;
        let action = if acknowledged {
            "alert.acknowledge"
        } else {
            "alert.unacknowledge"
        };
        Change::updated(action, "alert", id, &before, &after)
            .commit(txn, actor, after)
            .await
    }

    /// Resolves an alert by hand (state `resolved`, audit row) and queues `notifications`
    /// with it. The engine must then forget the instance.
    pub async fn resolve_alert(
        &self,
        actor: &Actor,
        id: Uuid,
        notifications: &[OutboxInput],
    ) -> Result<Alert, StoreError> {
        let txn = self.db.begin().await?;
        let m = find::<alert_instance::Entity, _>(&txn, id, "alert").await?;
        if m.state == AlertState::Resolved.as_str() {
            return Err(StoreError::conflict(
                "state",
                "the alert is already resolved",
            ));
        }
        let rules = self.rule_names(&txn).await?;
        let before = alert_record(m.clone(), &rules)?;
        let mut am = m.clone().into_active_model();
        am.state = Set(AlertState::Resolved.as_str().to_string());
        am.resolved_at = Set(Some(now()));
        am.version = Set(m.version + 1);
        am.updated_at = Set(now());
        let after = alert_record(am.update(&txn).await?, &rules)?;
        insert_outbox(&txn, notifications).await?;
        Change::updated("alert.resolve", "alert", id, &before, &after)
            .commit(txn, actor, after)
            .await
    }

    /// The delivery log of one alert: every outbox row about it, oldest first.
    pub async fn alert_notifications(
        &self,
        alert_id: Uuid,
    ) -> Result<Vec<NotificationRecord>, StoreError> {
        find::<alert_instance::Entity, _>(&self.db, alert_id, "alert").await?;
        let ids: Vec<Uuid> = notification_alert::Entity::find()
            .filter(notification_alert::Column::AlertId.eq(alert_id))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|l| l.outbox_id)
            .collect();
        let rows = outbox::Entity::find()
            .filter(outbox::Column::Id.is_in(ids))
            .order_by_asc(outbox::Column::CreatedAt)
            .order_by_asc(outbox::Column::Id)
            .all(&self.db)
            .await?;
        let names: HashMap<Uuid, String> = notification_channel::Entity::find()
            .all(&self.db)
            .await?
            .into_iter()
            .map(|c| (c.id, c.name))
            .collect();
        rows.into_iter()
            .map(|r| {
                Ok(NotificationRecord {
                    id: r.id,
                    channel_id: r.channel_id,
                    channel: names.get(&r.channel_id).cloned().unwrap_or_default(),
                    kind: parse_enum(&r.kind, "notification kind")?,
                    status: parse_enum(&r.status, "delivery status")?,
                    attempts: r.attempts,
                    next_attempt_at: r.next_attempt_at,
                    last_error: r.last_error,
                    idempotency_key: r.batch_id.map_or(r.idempotency_key, |b| b.to_string()),
                    created_at: r.created_at,
                    delivered_at: r.delivered_at,
                })
            })
            .collect()
    }
}

// --- outbox --------------------------------------------------------------------------------

/// Rows leased together: one message to one channel.
#[derive(Debug, Clone)]
pub struct OutboxBatch {
    /// Also the message's idempotency key.
    pub batch_id: Uuid,
    pub channel_id: Uuid,
    pub kind: NotificationKind,
    /// Payloads of the rows, oldest first.
    pub payloads: Vec<Value>,
    pub row_ids: Vec<Uuid>,
    /// Attempts made before this one.
    pub attempts: i32,
}

/// Outcome of one delivery attempt of a batch.
#[derive(Debug, Clone)]
pub enum DeliveryOutcome {
    Delivered,
    /// Try again at the time given.
    Retry {
        error: String,
        at: DateTime<Utc>,
    },
    /// Give up (permanent error or attempts exhausted).
    Failed {
        error: String,
    },
}

impl Store {
    /// Leases up to `limit` due rows (grouped into batches) until `now + lease`.
    pub async fn claim_notifications(
        &self,
        now_: DateTime<Utc>,
        limit: u64,
        lease: std::time::Duration,
    ) -> Result<Vec<OutboxBatch>, StoreError> {
        let until = now_ + chrono::Duration::from_std(lease).unwrap_or_default();
        let txn = self.db.begin().await?;
        let rows = outbox::Entity::find()
            .filter(outbox::Column::Status.eq(DeliveryStatus::Pending.as_str()))
            .filter(outbox::Column::NextAttemptAt.lte(now_))
            .order_by_asc(outbox::Column::NextAttemptAt)
            .order_by_asc(outbox::Column::CreatedAt)
            .order_by_asc(outbox::Column::Id)
            .limit(limit)
            .all(&txn)
            .await?;
        // Batch key: an existing batch id, else (channel, kind, group key).
        let mut order: Vec<String> = Vec::new();
        let mut groups: HashMap<String, Vec<outbox::Model>> = HashMap::new();
        for r in rows {
            let key = match r.batch_id {
                Some(b) => format!("b:{b}"),
                None => format!("g:{}:{}:{}", r.channel_id, r.kind, r.group_key),
            };
            if !groups.contains_key(&key) {
                order.push(key.clone());
            }
            groups.entry(key).or_default().push(r);
        }
        let mut out = Vec::new();
        for key in order {
            let rows = groups.remove(&key).unwrap_or_default();
            let first = &rows[0];
            let batch_id = first.batch_id.unwrap_or(first.id);
            let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
            // Conditional lease: a row another worker leased meanwhile is not taken twice.
            let res = outbox::Entity::update_many()
                .col_expr(outbox::Column::NextAttemptAt, Expr::value(until))
                .col_expr(outbox::Column::BatchId, Expr::value(batch_id))
                .filter(outbox::Column::Id.is_in(ids.clone()))
                .filter(outbox::Column::Status.eq(DeliveryStatus::Pending.as_str()))
                .filter(outbox::Column::NextAttemptAt.lte(now_))
                .exec(&txn)
                .await?;
            if res.rows_affected as usize != ids.len() {
                continue;
            }
            out.push(OutboxBatch {
                batch_id,
                channel_id: first.channel_id,
                kind: parse_enum(&first.kind, "notification kind")?,
                attempts: rows.iter().map(|r| r.attempts).max().unwrap_or(0),
                payloads: rows.iter().map(|r| r.payload.clone()).collect(),
                row_ids: ids,
            });
        }
        txn.commit().await?;
        Ok(out)
    }

    /// Records one attempt of a batch: the delivery log rows and the rows' new status.
    pub async fn record_delivery(
        &self,
        batch: &OutboxBatch,
        outcome: &DeliveryOutcome,
        duration: std::time::Duration,
    ) -> Result<(), StoreError> {
        let t = now();
        let txn = self.db.begin().await?;
        let attempt = batch.attempts + 1;
        let (ok, retryable, error) = match outcome {
            DeliveryOutcome::Delivered => (true, false, None),
            DeliveryOutcome::Retry { error, .. } => (false, true, Some(error.clone())),
            DeliveryOutcome::Failed { error } => (false, false, Some(error.clone())),
        };
        for id in &batch.row_ids {
            delivery::ActiveModel {
                id: Set(Uuid::new_v4()),
                outbox_id: Set(*id),
                at: Set(t),
                attempt: Set(attempt),
                ok: Set(ok),
                retryable: Set(retryable),
                error: Set(error.clone()),
                duration_ms: Set(i32::try_from(duration.as_millis()).unwrap_or(i32::MAX)),
            }
            .insert(&txn)
            .await?;
        }
        let mut upd = outbox::Entity::update_many()
            .col_expr(outbox::Column::Attempts, Expr::value(attempt))
            .col_expr(outbox::Column::LastError, Expr::value(error.clone()))
            .filter(outbox::Column::Id.is_in(batch.row_ids.clone()));
        upd = match outcome {
            DeliveryOutcome::Delivered => upd
                .col_expr(
                    outbox::Column::Status,
                    Expr::value(DeliveryStatus::Delivered.as_str()),
                )
                .col_expr(outbox::Column::DeliveredAt, Expr::value(Some(t))),
            DeliveryOutcome::Retry { at, .. } => {
                upd.col_expr(outbox::Column::NextAttemptAt, Expr::value(*at))
            }
            DeliveryOutcome::Failed { .. } => upd.col_expr(
                outbox::Column::Status,
                Expr::value(DeliveryStatus::Failed.as_str()),
            ),
        };
        upd.exec(&txn).await?;
        txn.commit().await?;
        Ok(())
    }

    /// The earliest `next_attempt_at` of a pending row (when the worker should wake up).
    pub async fn next_notification_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(outbox::Entity::find()
            .filter(outbox::Column::Status.eq(DeliveryStatus::Pending.as_str()))
            .order_by_asc(outbox::Column::NextAttemptAt)
            .one(&self.db)
            .await?
            .map(|r| r.next_attempt_at))
    }

    /// Queues notifications not tied to an alert write (channel tests).
    pub async fn enqueue_notifications(&self, rows: &[OutboxInput]) -> Result<(), StoreError> {
        let txn = self.db.begin().await?;
        insert_outbox(&txn, rows).await?;
        txn.commit().await?;
        Ok(())
    }
}

// --- maintenance windows -------------------------------------------------------------------

impl TryFrom<maintenance::Model> for MaintenanceWindow {
    type Error = StoreError;
    fn try_from(m: maintenance::Model) -> Result<Self, StoreError> {
        Ok(MaintenanceWindow {
            id: m.id,
            name: m.name,
            device_ids: from_json(m.device_ids, "device_ids")?,
            group_ids: from_json(m.group_ids, "group_ids")?,
            starts_at: m.starts_at,
            ends_at: m.ends_at,
            cron: m.cron,
            duration_minutes: m.duration_minutes.and_then(|d| u32::try_from(d).ok()),
            timezone: m.timezone,
            comment: m.comment,
            created_at: m.created_at,
            updated_at: m.updated_at,
        })
    }
}

pub(crate) fn check_maintenance(i: &mut MaintenanceInput) -> Result<(), StoreError> {
    i.name = i.name.trim().to_string();
    if i.name.is_empty() || i.name.len() > 200 {
        return Err(StoreError::invalid("name", "must be 1-200 characters"));
    }
    if i.device_ids.is_empty() && i.group_ids.is_empty() {
        return Err(StoreError::invalid(
            "device_ids",
            "name at least one device or group (group_ids)",
        ));
    }
    match (&i.cron, i.starts_at, i.ends_at) {
        (Some(_), _, _) => {
            if !i
                .duration_minutes
                .is_some_and(|d| (1..=10_080).contains(&d))
            {
                return Err(StoreError::invalid(
                    "duration_minutes",
                    "a recurring window needs a duration of 1-10080 minutes",
                ));
            }
        }
        (None, Some(s), Some(e)) if e > s => {}
        (None, Some(_), Some(_)) => {
            return Err(StoreError::invalid("ends_at", "must be after starts_at"));
        }
        (None, None, _) => {
            return Err(StoreError::invalid(
                "starts_at",
                "a one-off window needs starts_at and ends_at (or give cron)",
            ));
        }
        (None, Some(_), None) => {
            return Err(StoreError::invalid(
                "ends_at",
                "a one-off window needs ends_at",
            ));
        }
    }
    Ok(())
}

fn maintenance_model(i: &MaintenanceInput) -> maintenance::ActiveModel {
    maintenance::ActiveModel {
        name: Set(i.name.clone()),
        device_ids: Set(to_json(&i.device_ids)),
        group_ids: Set(to_json(&i.group_ids)),
        starts_at: Set(i.starts_at),
        ends_at: Set(i.ends_at),
        cron: Set(i.cron.clone()),
        duration_minutes: Set(i.duration_minutes.and_then(|d| i32::try_from(d).ok())),
        timezone: Set(i.timezone.clone().unwrap_or_else(|| "UTC".into())),
        comment: Set(i.comment.clone()),
        ..Default::default()
    }
}

impl Store {
    /// Creates a maintenance window. The cron expression and zone must have been checked by
    /// the caller (`wardflux_alert::suppress::check_window`).
    pub async fn create_maintenance(
        &self,
        actor: &Actor,
        mut input: MaintenanceInput,
    ) -> Result<MaintenanceWindow, StoreError> {
        check_maintenance(&mut input)?;
        let t = now();
        let txn = self.db.begin().await?;
        let mut am = maintenance_model(&input);
        am.id = Set(Uuid::new_v4());
        am.created_at = Set(t);
        am.updated_at = Set(t);
        let w = MaintenanceWindow::try_from(am.insert(&txn).await?)?;
        Change::created("maintenance.create", "maintenance_window", w.id, &w)
            .commit(txn, actor, w)
            .await
    }

    pub async fn update_maintenance(
        &self,
        actor: &Actor,
        id: Uuid,
        mut input: MaintenanceInput,
    ) -> Result<MaintenanceWindow, StoreError> {
        check_maintenance(&mut input)?;
        let txn = self.db.begin().await?;
        let old = find::<maintenance::Entity, _>(&txn, id, "maintenance window").await?;
        let before = MaintenanceWindow::try_from(old.clone())?;
        let mut am = maintenance_model(&input);
        am.id = Set(id);
        am.created_at = Set(old.created_at);
        am.updated_at = Set(now());
        let w = MaintenanceWindow::try_from(am.update(&txn).await?)?;
        Change::updated("maintenance.update", "maintenance_window", id, &before, &w)
            .commit(txn, actor, w)
            .await
    }

    pub async fn list_maintenance(&self) -> Result<Vec<MaintenanceWindow>, StoreError> {
        let sel = maintenance::Entity::find().order_by_asc(maintenance::Column::Name);
        crate::records(&self.db, sel).await
    }

    pub async fn get_maintenance(&self, id: Uuid) -> Result<MaintenanceWindow, StoreError> {
        find::<maintenance::Entity, _>(&self.db, id, "maintenance window")
            .await?
            .try_into()
    }

    pub async fn delete_maintenance(&self, actor: &Actor, id: Uuid) -> Result<(), StoreError> {
        self.delete_audited::<maintenance::Entity, _>(
            actor,
            id,
            (
                "maintenance window",
                "maintenance_window",
                "maintenance.delete",
            ),
            async |_, m| MaintenanceWindow::try_from(m),
        )
        .await
    }
}
