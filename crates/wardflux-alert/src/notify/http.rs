//! The HTTP channels: generic webhook, Slack, Microsoft Teams and Discord incoming webhooks,
//! Telegram's bot API. One reqwest client (connection pool) for all.

use std::time::Duration;

use serde_json::{Value, json};

use super::{ChannelConfig, Message, SendError};

#[derive(Debug, Clone)]
pub struct HttpSender {
    client: reqwest::Client,
}

/// Discord rejects content over 2000 characters, Telegram over 4096.
fn clip(s: String, max: usize) -> String {
    if s.chars().count() <= max {
        return s;
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn colour(msg: &Message) -> u32 {
    if msg.status() == "resolved" {
        0x2e_b8_86
    } else {
        0xd0_02_1b
    }
}

/// Body of each format (also used by the tests that check what receivers get).
pub fn body(cfg: &ChannelConfig, msg: &Message) -> Value {
    let text = format!("{}\n{}", msg.title(), msg.text());
    match cfg {
        ChannelConfig::Webhook { .. } | ChannelConfig::Email(_) => msg.webhook_json(),
        ChannelConfig::Slack { .. } => json!({
            "text": text,
            "attachments": [{"color": format!("#{:06x}", colour(msg)), "title": msg.title(), "text": msg.text()}],
        }),
        ChannelConfig::Teams { .. } => json!({
            "@type": "MessageCard",
            "@context": "https://schema.org/extensions",
            "summary": msg.title(),
            "themeColor": format!("{:06X}", colour(msg)),
            "title": msg.title(),
            "text": msg.text().replace('\n', "<br>"),
        }),
        ChannelConfig::Discord { .. } => json!({
            "content": clip(text, 2000),
            "embeds": [{"title": clip(msg.title(), 256), "description": clip(msg.text(), 4096), "color": colour(msg)}],
            "allowed_mentions": {"parse": []},
        }),
        ChannelConfig::Telegram { chat_id, .. } => json!({
            "chat_id": chat_id,
            "text": clip(text, 4096),
            "disable_web_page_preview": true,
        }),
    }
}

impl HttpSender {
    pub fn new(timeout: Duration) -> Result<Self, SendError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("wardflux/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SendError::permanent(format!("HTTP client: {e}")))?;
        Ok(Self { client })
    }

    pub(super) async fn send(&self, cfg: &ChannelConfig, msg: &Message) -> Result<(), SendError> {
        let (url, what) = match cfg {
            ChannelConfig::Webhook { url, .. } => (url.clone(), "webhook"),
            ChannelConfig::Slack { url } => (url.clone(), "slack"),
            ChannelConfig::Teams { url } => (url.clone(), "teams"),
            ChannelConfig::Discord { url } => (url.clone(), "discord"),
            ChannelConfig::Telegram {
                bot_token, api_url, ..
            } => {
                let u = api_url
                    .join(&format!("./bot{bot_token}/sendMessage"))
                    .map_err(|e| SendError::permanent(format!("telegram URL: {e}")))?;
                (u, "telegram")
            }
            ChannelConfig::Email(_) => return Err(SendError::permanent("not an HTTP channel")),
        };
        let mut req = self
            .client
            .post(url)
            .header("Idempotency-Key", &msg.idempotency_key)
            .json(&body(cfg, msg));
        if let ChannelConfig::Webhook {
            bearer_token: Some(t),
            ..
        } = cfg
        {
            req = req.bearer_auth(t);
        }
        // Never put the URL in errors: incoming-webhook URLs carry their token.
        let resp = req.send().await.map_err(|e| {
            let kind = if e.is_timeout() {
                "timed out"
            } else if e.is_connect() {
                "cannot connect"
            } else {
                "request failed"
            };
            if e.is_builder() {
                SendError::permanent(format!("{what}: {kind}"))
            } else {
                SendError::retryable(format!("{what}: {kind}"))
            }
        })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let detail: String = resp
            .text()
            .await
            .unwrap_or_default()
            .chars()
            .take(200)
            .collect();
        let text = format!("{what}: HTTP {}: {}", status.as_u16(), detail.trim());
        let code = status.as_u16();
        if status.is_server_error() || matches!(code, 408 | 425 | 429) {
            Err(SendError::retryable(text))
        } else {
            Err(SendError::permanent(text))
        }
    }
}
