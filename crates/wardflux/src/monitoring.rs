//! Starts the collectors and connects them to the stores: the ICMP monitor gets its
//! targets from the inventory and reports state changes to the status-history table.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use wardflux_api::state::Services;
use wardflux_collect::icmp::{
    IcmpMonitor, IcmpMonitorConfig, IcmpTarget, StateChange, StateRecorder,
};
use wardflux_collect::state::TransitionKind;
use wardflux_model::MetricSink;
use wardflux_store::Store;

/// Writes every device state change to the status-history table.
struct StoreRecorder(Store);

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
pub fn start(store: Store, sink: Arc<dyn MetricSink>, cancel: CancellationToken) -> Services {
    let mut services = Services {
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
        Arc::new(StoreRecorder(store.clone())),
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
