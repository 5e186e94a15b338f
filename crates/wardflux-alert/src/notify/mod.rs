//! Notification channels: validated configuration, the message built from alert snapshots,
//! and delivery (e-mail through lettre; webhook, Slack, Teams, Discord and Telegram over
//! HTTP with reqwest). Every send returns either success or a [`SendError`] classified as
//! retryable (connection errors, timeouts, HTTP 408/425/429/5xx, SMTP 4xx) or permanent (other
//! HTTP 4xx, SMTP 5xx, a bad address): the outbox retries only the former.
//!
//! The generic webhook payload (documented in docs/alerts.md) is shaped like Alertmanager's:
//! `status`, `alerts[]`, plus `idempotency_key` (also sent as the `Idempotency-Key` header,
//! and as the Message-ID of mails) which stays the same across retries of one message, so a
//! receiver can drop duplicates of the at-least-once delivery.

mod email;
mod http;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;
use wardflux_model::alerts::{Alert, AlertState, ChannelKind, NotificationKind, Severity};
use wardflux_model::inventory::FieldError;

pub use email::EmailConfig;
pub use http::HttpSender;

/// What a notification says about one alert, frozen when it was queued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertSnapshot {
    pub id: Uuid,
    pub rule_id: Uuid,
    pub rule: String,
    pub severity: Severity,
    pub status: AlertState,
    pub labels: BTreeMap<String, String>,
    pub value: Option<f64>,
    pub message: String,
    pub device: Option<String>,
    pub started_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
}

impl AlertSnapshot {
    pub fn of(a: &Alert) -> Self {
        Self {
            id: a.id,
            rule_id: a.rule_id,
            rule: a.rule.clone(),
            severity: a.severity,
            status: a.state,
            labels: a.labels.clone(),
            value: a.value,
            message: a.message.clone(),
            device: a.device.clone(),
            started_at: a.started_at,
            resolved_at: a.resolved_at,
        }
    }
}

/// One message to one channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub kind: NotificationKind,
    pub channel: String,
    pub idempotency_key: String,
    pub alerts: Vec<AlertSnapshot>,
}

impl Message {
    /// `firing` if any alert in it is firing, else `resolved`.
    pub fn status(&self) -> &'static str {
        if self.alerts.iter().any(|a| a.status != AlertState::Resolved) {
            "firing"
        } else {
            "resolved"
        }
    }

    /// `[FIRING:3] High CPU` / `[RESOLVED] Device unreachable`.
    pub fn title(&self) -> String {
        let mut rules: Vec<&str> = self.alerts.iter().map(|a| a.rule.as_str()).collect();
        rules.dedup();
        let what = if self.kind == NotificationKind::Test {
            "WARD FLUX test notification".to_string()
        } else {
            rules.join(", ")
        };
        let n = self.alerts.len();
        match (self.status(), n) {
            (s, 0 | 1) => format!("[{}] {what}", s.to_uppercase()),
            (s, n) => format!("[{}:{n}] {what}", s.to_uppercase()),
        }
    }

    /// Plain-text body: one line per alert.
    pub fn text(&self) -> String {
        let mut out = String::new();
        if self.kind == NotificationKind::Test {
            out.push_str("This is a test notification from WARD FLUX.\n");
        }
        for a in &self.alerts {
            out.push_str(&format!(
                "- [{}] {} ({}, since {})\n",
                a.severity,
                a.message,
                a.status,
                a.started_at.format("%Y-%m-%d %H:%M:%S UTC")
            ));
        }
        out
    }

    /// The generic webhook JSON (Alertmanager-like).
    pub fn webhook_json(&self) -> Value {
        serde_json::json!({
            "version": "1",
            "receiver": self.channel,
            "status": self.status(),
            "kind": self.kind,
            "idempotency_key": self.idempotency_key,
            "title": self.title(),
            "alerts": self.alerts,
        })
    }
}

/// A failed send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    pub retryable: bool,
    pub message: String,
}

impl SendError {
    pub fn retryable(m: impl Into<String>) -> Self {
        Self {
            retryable: true,
            message: m.into(),
        }
    }
    pub fn permanent(m: impl Into<String>) -> Self {
        Self {
            retryable: false,
            message: m.into(),
        }
    }
}

/// A validated channel configuration.
#[derive(Debug, Clone)]
pub enum ChannelConfig {
    Email(EmailConfig),
    Webhook {
        url: reqwest::Url,
        bearer_token: Option<String>,
    },
    Slack {
        url: reqwest::Url,
    },
    Teams {
        url: reqwest::Url,
    },
    Discord {
        url: reqwest::Url,
    },
    Telegram {
        bot_token: String,
        chat_id: String,
        api_url: reqwest::Url,
    },
}

pub(crate) fn field(name: &str, message: impl Into<String>) -> FieldError {
    FieldError::new(format!("config.{name}"), message)
}

pub(crate) fn get_str<'a>(
    cfg: &'a serde_json::Map<String, Value>,
    name: &str,
) -> Result<Option<&'a str>, FieldError> {
    match cfg.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(field(name, "must be a string")),
    }
}

pub(crate) fn req_str<'a>(
    cfg: &'a serde_json::Map<String, Value>,
    name: &str,
) -> Result<&'a str, FieldError> {
    get_str(cfg, name)?
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| field(name, "is required"))
}

fn url(cfg: &serde_json::Map<String, Value>, name: &str) -> Result<reqwest::Url, FieldError> {
    let s = req_str(cfg, name)?;
    let u = reqwest::Url::parse(s.trim()).map_err(|e| field(name, format!("not a URL: {e}")))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(field(name, "scheme must be http or https"));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err(field(name, "must name a host"));
    }
    Ok(u)
}

fn check_known(cfg: &serde_json::Map<String, Value>, known: &[&str]) -> Result<(), FieldError> {
    match cfg.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(field(
            k,
            format!("unknown setting; expected {}", known.join(", ")),
        )),
        None => Ok(()),
    }
}

impl ChannelConfig {
    /// Validates `config` for `kind`; errors name the field as `config.<name>`.
    pub fn parse(kind: ChannelKind, config: &Value) -> Result<Self, FieldError> {
        let Value::Object(cfg) = config else {
            return Err(FieldError::new("config", "must be a JSON object"));
        };
        Ok(match kind {
            ChannelKind::Email => ChannelConfig::Email(EmailConfig::parse(cfg)?),
            ChannelKind::Webhook => {
                check_known(cfg, &["url", "bearer_token"])?;
                ChannelConfig::Webhook {
                    url: url(cfg, "url")?,
                    bearer_token: get_str(cfg, "bearer_token")?.map(str::to_string),
                }
            }
            ChannelKind::Slack => {
                check_known(cfg, &["url"])?;
                ChannelConfig::Slack {
                    url: url(cfg, "url")?,
                }
            }
            ChannelKind::Teams => {
                check_known(cfg, &["url"])?;
                ChannelConfig::Teams {
                    url: url(cfg, "url")?,
                }
            }
            ChannelKind::Discord => {
                check_known(cfg, &["url"])?;
                ChannelConfig::Discord {
                    url: url(cfg, "url")?,
                }
            }
            ChannelKind::Telegram => {
                check_known(cfg, &["bot_token", "chat_id", "api_url"])?;
                let bot_token = req_str(cfg, "bot_token")?.trim().to_string();
                if !bot_token
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == ':' || c == '_' || c == '-')
                {
                    return Err(field("bot_token", "is not a Telegram bot token"));
                }
                let chat_id = match cfg.get("chat_id") {
                    Some(Value::Number(n)) => n.to_string(),
                    Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
                    _ => return Err(field("chat_id", "is required (a number or @channel)")),
                };
                let api_url = match get_str(cfg, "api_url")? {
                    Some(_) => url(cfg, "api_url")?,
                    None => reqwest::Url::parse("https://api.telegram.org")
                        .map_err(|e| field("api_url", e.to_string()))?,
                };
                ChannelConfig::Telegram {
                    bot_token,
                    chat_id,
                    api_url,
                }
            }
        })
    }

    /// Like [`ChannelConfig::parse`], but secrets that are absent from `config` are taken
    /// from `stored` (an update that leaves a secret out keeps it).
    pub fn parse_update(
        kind: ChannelKind,
        config: &Value,
        stored: &Value,
    ) -> Result<Self, FieldError> {
        let mut merged = config.clone();
        if let (Value::Object(m), Value::Object(old)) = (&mut merged, stored) {
            for k in kind.secret_fields() {
                if !m.contains_key(*k)
                    && let Some(v) = old.get(*k)
                {
                    m.insert((*k).to_string(), v.clone());
                }
            }
        }
        Self::parse(kind, &merged)
    }
}

/// Sends messages; one per process (it holds the HTTP connection pool).
#[derive(Debug, Clone)]
pub struct Notifier {
    http: HttpSender,
    timeout: Duration,
}

impl Notifier {
    /// `timeout`: per delivery attempt.
    pub fn new(timeout: Duration) -> Result<Self, SendError> {
        Ok(Self {
            http: HttpSender::new(timeout)?,
            timeout,
        })
    }

    pub async fn send(&self, cfg: &ChannelConfig, msg: &Message) -> Result<(), SendError> {
        match cfg {
            ChannelConfig::Email(e) => e.send(msg, self.timeout).await,
            other => self.http.send(other, msg).await,
        }
    }
}

#[cfg(test)]
mod tests;
