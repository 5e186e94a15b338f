//! Alert records shared by the alert engine (`wardflux-alert`), the store and the API:
//! rules, alert instances, notification channels, maintenance windows and the delivery log.
//! Plain data; validation that needs the PromQL parser or URL/e-mail parsing lives in
//! `wardflux-alert`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::inventory::FieldError;

macro_rules! str_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "lowercase")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($s => Ok($name::$variant),)+
                    other => Err(format!(
                        "unknown value {other:?}: expected one of {}",
                        [$($s),+].join(", ")
                    )),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

str_enum!(
    /// Severity of a rule (seed plan: critical | high | medium | low | info).
    Severity { Critical = "critical", High = "high", Medium = "medium", Low = "low", Info = "info" }
);

str_enum!(
    /// Life cycle of one alert instance: pending (condition true, `for` not yet elapsed),
    /// firing, resolved.
    AlertState { Pending = "pending", Firing = "firing", Resolved = "resolved" }
);

str_enum!(
    /// Notification channel types.
    ChannelKind {
        Email = "email", Webhook = "webhook", Slack = "slack", Teams = "teams",
        Discord = "discord", Telegram = "telegram",
    }
);

impl ChannelKind {
    /// Config fields that are secrets: stored encrypted, never returned by the API.
    /// Incoming-webhook URLs carry their token in the path, so they are secrets too.
    pub fn secret_fields(self) -> &'static [&'static str] {
        match self {
            ChannelKind::Email => &["password"],
            ChannelKind::Webhook => &["url", "bearer_token"],
            ChannelKind::Slack | ChannelKind::Teams | ChannelKind::Discord => &["url"],
            ChannelKind::Telegram => &["bot_token"],
        }
    }
}

/// Re-notification and escalation of a rule's alerts while they are unacknowledged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Escalation {
    /// Re-notify the rule's channels every N minutes while firing and unacknowledged.
    #[serde(default)]
    pub repeat_minutes: Option<u32>,
    /// After M minutes unacknowledged, also notify `channels` (once).
    #[serde(default)]
    pub after_minutes: Option<u32>,
    /// Channel names notified after `after_minutes`.
    #[serde(default)]
    pub channels: Vec<String>,
}

/// Most entries in a rule's list fields (notifications, escalation channels, labels).
pub const MAX_LIST: usize = 32;
/// Longest rule expression.
pub const MAX_EXPRESSION_CHARS: usize = 10_000;

/// An alert rule (table `alert_rules`).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AlertRule {
    pub id: Uuid,
    pub name: String,
    /// PromQL with an optional trailing `for DURATION`.
    pub expression: String,
    pub severity: Severity,
    /// Channel names.
    pub notifications: Vec<String>,
    pub enabled: bool,
    pub description: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// Message template (`{{ $labels.device }}`, `{{ $value }}`); `None`: a default.
    pub message: Option<String>,
    pub escalation: Option<Escalation>,
    /// `device_unreachable` / `device_flapping` for the built-in rules (editable, not deletable).
    pub builtin: Option<String>,
    /// Scope: only series whose `device_id` label is one of these alert (the rules made from a
    /// template's triggers are scoped to its devices). Absent: every series.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_ids: Option<Vec<Uuid>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The writable fields of a rule (create and full update), the seed's shape plus extras.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertRuleInput {
    pub name: String,
    pub expression: String,
    pub severity: Severity,
    #[serde(default)]
    pub notifications: Vec<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub escalation: Option<Escalation>,
    /// Scope the rule to these devices (see [`AlertRule::device_ids`]).
    #[serde(default)]
    pub device_ids: Option<Vec<Uuid>>,
}

impl AlertRuleInput {
    /// A rule with these three and everything else left out (no channels, enabled, no
    /// labels, message or escalation, every device).
    pub fn new(name: impl Into<String>, expression: impl Into<String>, severity: Severity) -> Self {
        AlertRuleInput {
            name: name.into(),
            expression: expression.into(),
            severity,
            notifications: Vec::new(),
            enabled: None,
            description: None,
            labels: BTreeMap::new(),
            message: None,
            escalation: None,
            device_ids: None,
        }
    }

    /// Field checks that need no parser (the expression is checked by `wardflux-alert`).
    pub fn validate(&mut self) -> Result<(), FieldError> {
        self.name = self.name.trim().to_string();
        if self.name.is_empty() || self.name.len() > 200 {
            return Err(FieldError::new("name", "must be 1-200 characters"));
        }
        if self.expression.trim().is_empty() {
            return Err(FieldError::new("expression", "must not be empty"));
        }
        if self.expression.chars().count() > MAX_EXPRESSION_CHARS {
            return Err(FieldError::new(
                "expression",
                format!("must be at most {MAX_EXPRESSION_CHARS} characters"),
            ));
        }
        let channels = self
            .escalation
            .as_ref()
            .map_or(&[][..], |e| &e.channels[..]);
        for (field, names) in [
            ("notifications", &self.notifications[..]),
            ("escalation.channels", channels),
        ] {
            if names.len() > MAX_LIST {
                return Err(FieldError::new(
                    field,
                    format!("at most {MAX_LIST} channel names"),
                ));
            }
            if names.iter().any(|n| n.chars().count() > 200) {
                return Err(FieldError::new(
                    field,
                    "each channel name must be at most 200 characters",
                ));
            }
        }
        if self.labels.len() > MAX_LIST {
            return Err(FieldError::new(
                "labels",
                format!("at most {MAX_LIST} labels"),
            ));
        }
        if self
            .labels
            .iter()
            .any(|(k, v)| k.len() > 128 || v.chars().count() > 1024)
        {
            return Err(FieldError::new(
                "labels",
                "label names must be at most 128 characters, values at most 1024",
            ));
        }
        for k in self.labels.keys() {
            let ok = k
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ok || k.starts_with("__") {
                return Err(FieldError::new(
                    "labels",
                    format!(
                        "{:?} is not a valid label name",
                        crate::inventory::truncate_for_display(k)
                    ),
                ));
            }
        }
        if let Some(e) = &self.escalation
            && e.repeat_minutes == Some(0)
        {
            return Err(FieldError::new(
                "escalation.repeat_minutes",
                "must be at least 1",
            ));
        }
        Ok(())
    }
}

/// One alert instance (rule + label set) over its life (table `alert_instances`).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Alert {
    pub id: Uuid,
    pub rule_id: Uuid,
    pub rule: String,
    pub severity: Severity,
    pub labels: BTreeMap<String, String>,
    pub device_id: Option<Uuid>,
    pub device: Option<String>,
    pub value: Option<f64>,
    pub state: AlertState,
    /// The rendered message template.
    pub message: String,
    /// When the condition first held (start of pending).
    pub started_at: DateTime<Utc>,
    pub firing_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub acknowledged: bool,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub comment: Option<String>,
    /// Why it is not notified: `parent:<device>`, `self:<device>`, `maintenance:<window>`.
    pub suppressed_by: Option<String>,
    /// When its first firing notification was queued (`None`: not notified, e.g. suppressed).
    pub notified_at: Option<DateTime<Utc>>,
    pub last_notified_at: Option<DateTime<Utc>>,
    /// Re-notifications sent (escalation repeats).
    pub escalation_step: i32,
    /// Whether the escalation channels were notified.
    pub escalated: bool,
    /// Optimistic concurrency: bumped by every write; writers compare it.
    pub version: i64,
    /// Which engine raised it: `standalone` (this one) or `zabbix` (a Zabbix problem, its
    /// event id in the `zabbix_eventid` label).
    #[serde(default)]
    pub origin: AlertOrigin,
}

/// Which engine raised an alert.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AlertOrigin {
    #[default]
    Standalone,
    Zabbix,
}

impl Alert {
    /// A new alert `id` of `rule` on the series `labels`, in `state` since `started_at`. The device
    /// fields come from the `device` and `device_id` labels; it has no value or message yet and
    /// has not fired, been notified, acknowledged, suppressed or escalated (version 0).
    pub fn new(
        id: Uuid,
        rule: &AlertRule,
        labels: BTreeMap<String, String>,
        state: AlertState,
        started_at: DateTime<Utc>,
    ) -> Alert {
        Alert {
            id,
            rule_id: rule.id,
            rule: rule.name.clone(),
            severity: rule.severity,
            device_id: labels.get("device_id").and_then(|d| d.parse().ok()),
            device: labels.get("device").cloned(),
            labels,
            value: None,
            state,
            message: String::new(),
            started_at,
            firing_at: None,
            resolved_at: None,
            acknowledged: false,
            acknowledged_by: None,
            acknowledged_at: None,
            comment: None,
            suppressed_by: None,
            notified_at: None,
            last_notified_at: None,
            escalation_step: 0,
            escalated: false,
            version: 0,
            origin: AlertOrigin::Standalone,
        }
    }
}

/// A notification channel as shown by the API: secrets are never included.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Channel {
    pub id: Uuid,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ChannelKind,
    /// Non-secret settings.
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
    /// Names of the secret settings that are set (their values are never returned).
    pub secrets_set: Vec<String>,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelInput {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ChannelKind,
    /// Settings, secrets included (write only). On update, a secret left out keeps its value.
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// A maintenance window: alerts of its devices (or of its groups' devices) are recorded and
/// marked, not notified. Either one-off (`starts_at`..`ends_at`) or recurring (`cron` in
/// `timezone`, each occurrence lasting `duration_minutes`).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct MaintenanceWindow {
    pub id: Uuid,
    pub name: String,
    pub device_ids: Vec<Uuid>,
    pub group_ids: Vec<Uuid>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub cron: Option<String>,
    pub duration_minutes: Option<u32>,
    /// IANA zone the cron expression is read in (default `UTC`).
    pub timezone: String,
    pub comment: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceInput {
    pub name: String,
    #[serde(default)]
    pub device_ids: Vec<Uuid>,
    #[serde(default)]
    pub group_ids: Vec<Uuid>,
    #[serde(default)]
    pub starts_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub ends_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub cron: Option<String>,
    #[serde(default)]
    pub duration_minutes: Option<u32>,
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
}

str_enum!(
    /// Why a notification is sent.
    NotificationKind { Firing = "firing", Resolved = "resolved", Repeat = "repeat", Escalation = "escalation", Test = "test" }
);

str_enum!(
    /// Outbox row status.
    DeliveryStatus { Pending = "pending", Delivered = "delivered", Failed = "failed" }
);

/// One outbox row as shown in an alert's delivery log.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct NotificationRecord {
    pub id: Uuid,
    pub channel_id: Uuid,
    pub channel: String,
    pub kind: NotificationKind,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub idempotency_key: String,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}
