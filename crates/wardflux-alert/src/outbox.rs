//! The outbox worker: delivers the notification rows the engine wrote to the SQL store.
//!
//! Each pass leases the due rows (`Store::claim_notifications`; rows due together with the
//! same channel and group key are one batch, i.e. one message), sends the batches
//! concurrently, and records each attempt. Retryable failures come back with exponential
//! backoff (1 s, 2 s, 4 s ... capped at 5 min) until `max_attempts`; permanent ones fail at
//! once. A worker killed mid-delivery leaves its rows leased; they become due again when the
//! lease ends, so a restart loses nothing and re-sends only what was not recorded as
//! delivered (with the same idempotency key). Evaluation never waits for any of this: the
//! engine only writes rows and pokes [`OutboxWorker::waker`].

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use wardflux_model::alerts::NotificationKind;
use wardflux_store::Store;
use wardflux_store::alerts::{DeliveryOutcome, OutboxBatch};

use crate::notify::{AlertSnapshot, ChannelConfig, Message, Notifier, SendError};

#[derive(Debug, Clone)]
pub struct OutboxConfig {
    /// Rows leased per pass.
    pub batch_limit: u64,
    /// How long a leased row is reserved for one attempt (longer than the send timeout).
    pub lease: Duration,
    pub max_attempts: i32,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// Longest sleep between passes when nothing is due (rows written by other processes).
    pub idle_poll: Duration,
    /// Batches sent at once.
    pub concurrency: usize,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            batch_limit: 500,
            lease: Duration::from_secs(60),
            max_attempts: 10,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            idle_poll: Duration::from_secs(1),
            concurrency: 16,
        }
    }
}

/// Backoff before attempt `attempt + 1` after `attempt` failures.
pub fn backoff(cfg: &OutboxConfig, attempt: i32) -> Duration {
    let exp = u32::try_from(attempt.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    cfg.backoff_base
        .saturating_mul(2u32.saturating_pow(exp))
        .min(cfg.backoff_max)
}

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("store: {0}")]
    Store(#[from] wardflux_store::StoreError),
}

pub struct OutboxWorker {
    store: Store,
    notifier: Notifier,
    cfg: OutboxConfig,
    /// Poked by the engine after writing rows; `Notify` keeps one permit, so a poke during a
    /// pass is not lost.
    wake: Arc<Notify>,
}

impl OutboxWorker {
    pub fn new(store: Store, notifier: Notifier, cfg: OutboxConfig) -> Self {
        Self {
            store,
            notifier,
            cfg,
            wake: Arc::new(Notify::new()),
        }
    }

    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Runs until `shutdown`. Store errors are logged and retried on the next pass.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            if let Err(e) = self.run_once().await {
                tracing::warn!(error = %e, "outbox pass failed");
            }
            let sleep = match self.store.next_notification_due().await {
                Ok(Some(t)) => (t - Utc::now())
                    .to_std()
                    .unwrap_or(Duration::ZERO)
                    .min(self.cfg.idle_poll),
                _ => self.cfg.idle_poll,
            };
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(sleep) => {}
            }
        }
    }

    /// One pass: delivers every batch due now. Returns the number of batches attempted.
    pub async fn run_once(&self) -> Result<usize, OutboxError> {
        let batches = self
            .store
            .claim_notifications(Utc::now(), self.cfg.batch_limit, self.cfg.lease)
            .await?;
        let n = batches.len();
        futures::stream::iter(batches)
            .for_each_concurrent(self.cfg.concurrency, |b| async move {
                if let Err(e) = self.deliver(&b).await {
                    tracing::warn!(error = %e, batch = %b.batch_id, "recording a delivery failed");
                }
            })
            .await;
        Ok(n)
    }

    async fn deliver(&self, b: &OutboxBatch) -> Result<(), OutboxError> {
        let started = std::time::Instant::now();
        let result = self.send(b).await;
        let outcome = match result {
            Ok(()) => DeliveryOutcome::Delivered,
            Err(e) if e.retryable && b.attempts + 1 < self.cfg.max_attempts => {
                let wait = backoff(&self.cfg, b.attempts + 1);
                DeliveryOutcome::Retry {
                    error: e.message,
                    at: Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default(),
                }
            }
            Err(e) => DeliveryOutcome::Failed { error: e.message },
        };
        if !matches!(outcome, DeliveryOutcome::Delivered) {
            tracing::info!(batch = %b.batch_id, ?outcome, "notification not delivered");
        }
        self.store
            .record_delivery(b, &outcome, started.elapsed())
            .await?;
        Ok(())
    }

    async fn send(&self, b: &OutboxBatch) -> Result<(), SendError> {
        let (channel, config) = self
            .store
            .channel_with_secrets(b.channel_id)
            .await
            .map_err(|e| SendError::retryable(format!("reading the channel: {e}")))?;
        if !channel.enabled {
            return Err(SendError::permanent("channel is disabled"));
        }
        let cfg = ChannelConfig::parse(channel.kind, &config)
            .map_err(|e| SendError::permanent(format!("channel config: {e}")))?;
        let alerts: Vec<AlertSnapshot> = b
            .payloads
            .iter()
            .filter_map(|p| serde_json::from_value(p.clone()).ok())
            .collect();
        if alerts.is_empty() && b.kind != NotificationKind::Test {
            return Err(SendError::permanent("no alert in the notification"));
        }
        let msg = Message {
            kind: b.kind,
            channel: channel.name,
            idempotency_key: b.batch_id.to_string(),
            alerts,
        };
        self.notifier.send(&cfg, &msg).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let c = OutboxConfig::default();
        let got: Vec<u64> = (1..=12).map(|a| backoff(&c, a).as_secs()).collect();
        assert_eq!(got, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
    }
}
