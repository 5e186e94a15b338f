//! Starts the collectors and connects them to the stores: the ICMP monitor gets its
//! targets from the inventory and reports state changes to the status-history table and to
//! the alert engine, which also taps the metric sink (see `start_alerts`).

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use wardflux_alert::driver::{AlertDriver, AlertHandle, DeviceEvent, DriverConfig};
use wardflux_alert::notify::Notifier;
use wardflux_alert::outbox::{OutboxConfig, OutboxWorker};
use wardflux_api::state::Services;
use wardflux_collect::icmp::{
    IcmpMonitor, IcmpMonitorConfig, IcmpTarget, StateChange, StateRecorder,
};
use wardflux_collect::state::TransitionKind;
use wardflux_model::MetricSink;
use wardflux_store::Store;

/// Writes every device state change to the status-history table and tells the alert engine.
struct StoreRecorder(Store, Option<AlertHandle>);

#[async_trait::async_trait]
impl StateRecorder for StoreRecorder {
    async fn record(&self, c: StateChange) {
        let (from, to) = match c.kind {
            TransitionKind::Changed => (c.from.as_str(), c.to.as_str()),
            TransitionKind::FlappingStarted => (c.from.as_str(), "flapping"),
            TransitionKind::FlappingStopped => ("flapping", c.to.as_str()),
        };
        let reason = format!(
            "icmp; decided at {}",
            c.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        );
        match c.to {
            wardflux_collect::state::DeviceState::Down => {
                tracing::warn!(device = %c.name, ip = %c.ip, from, to, since = %c.since, "device state change")
            }
            _ => {
                tracing::info!(device = %c.name, ip = %c.ip, from, to, since = %c.since, "device state change")
            }
        }
        if let Some(h) = &self.1 {
            h.device(DeviceEvent {
                device_id: c.device_id,
                name: c.name.clone(),
                ip: c.ip.to_string(),
                down: c.to == wardflux_collect::state::DeviceState::Down,
                flapping: c.kind == TransitionKind::FlappingStarted,
                since: c.since,
                at: c.at,
            });
        }
        if let Err(e) = self
            .0
            .record_status_change(c.device_id, from, to, c.since, Some(reason))
            .await
        {
            tracing::error!(device_id = %c.device_id, error = %e, "could not record a state change");
        }
    }
}

/// How often the target list is re-read even without a change notification (changes
/// made by another node sharing the database).
const RELOAD_EVERY: Duration = Duration::from_secs(30);

/// Starts the ICMP monitor. Without ICMP permission the server still runs; the ICMP
/// routes then answer 503 and the log says how to grant it.
pub fn start(
    store: Store,
    sink: Arc<dyn MetricSink>,
    alerts: Option<AlertHandle>,
    cancel: CancellationToken,
) -> Services {
    let mut services = Services {
        alerts: alerts.clone(),
        snmp: Some(wardflux_snmp::SnmpClient::new(
            wardflux_snmp::ClientConfig::default(),
        )),
        ..Services::default()
    };
    let pinger = match wardflux_icmp::Pinger::new(wardflux_icmp::PingerOptions::default()) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "ICMP monitoring disabled");
            return services;
        }
    };
    let monitor = IcmpMonitor::new(
        pinger.clone(),
        sink,
        Arc::new(StoreRecorder(store.clone(), alerts.clone())),
        IcmpMonitorConfig::default(),
    );
    services.pinger = Some(pinger);
    services.icmp = Some(monitor.clone());
    let changed = Arc::clone(&services.inventory_changed);
    tokio::spawn(async move {
        loop {
            match store.all_devices().await {
                Ok(devices) => {
                    let targets: Vec<IcmpTarget> = devices
                        .into_iter()
                        .filter(|d| d.enabled)
                        .filter_map(|d| {
                            let ip = d.ip.parse().ok()?;
                            let mut t = IcmpTarget::new(d.id, d.name, ip);
                            t.interval = Duration::from_secs(d.icmp_interval_s.max(1) as u64);
                            Some(t)
                        })
                        .collect();
                    tracing::debug!(targets = targets.len(), "ICMP targets reloaded");
                    monitor.apply_targets(targets);
                    // The device tree (parents, groups) of the alert engine.
                    if let Some(h) = &alerts {
                        h.reload();
                    }
                }
                Err(e) => tracing::error!(error = %e, "could not load ICMP targets"),
            }
            tokio::select! {
                () = changed.notified() => {}
                () = tokio::time::sleep(RELOAD_EVERY) => {}
                () = cancel.cancelled() => break,
            }
        }
        monitor.apply_targets(Vec::new());
    });
    services
}

/// Starts the alert engine (restoring its state from the store) and the outbox worker.
pub async fn start_alerts(
    store: Store,
    tsdb: Arc<dyn wardflux_tsdb::MetricStore>,
    cancel: CancellationToken,
) -> anyhow::Result<AlertHandle> {
    let notifier = Notifier::new(Duration::from_secs(10))?;
    let worker = OutboxWorker::new(store.clone(), notifier, OutboxConfig::default());
    let (driver, handle) =
        AlertDriver::new(store, tsdb, DriverConfig::default(), worker.waker()).await?;
    tokio::spawn(worker.run(cancel.clone()));
    tokio::spawn(driver.run(cancel));
    Ok(handle)
}
