//! The running services: which ones the binary starts, their handles for the API
//! ([`Services`], by type) and their tasks, which shutdown cancels and joins.
//!
//! Data flow wired here (and only here):
//! inventory (store events + a periodic reload) -> ICMP targets -> scheduler -> ICMP monitor
//! -> samples to the [`FanoutSink`] (metric store first, then subscribers such as the alert
//! engine) and state changes to the [`FanoutRecorder`] (status history, then subscribers).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use wardflux_alert::driver::{AlertDriver, AlertHandle, DriverConfig};
use wardflux_alert::notify::Notifier;
use wardflux_alert::outbox::{OutboxConfig, OutboxWorker};
use wardflux_api::state::Services;
use wardflux_collect::Scheduler;
use wardflux_collect::icmp::{IcmpMonitor, IcmpMonitorConfig, IcmpTarget};
use wardflux_model::inventory::DeviceSource;
use wardflux_model::{FanoutRecorder, FanoutSink, MetricSink, MonitoringMode};
use wardflux_store::Store;
use wardflux_tsdb::MetricStore;

/// How often the target list is re-read even without a change event (changes made by
/// another process sharing the database).
const RELOAD_EVERY: Duration = Duration::from_secs(30);

/// How long shutdown waits for each task after cancelling it.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// The services of one server process.
pub struct Running {
    /// Handles for the API (moved into `AppState` before serving).
    pub services: Services,
    /// Every background task, by name; joined at shutdown.
    tasks: Vec<(&'static str, JoinHandle<()>)>,
    cancel: CancellationToken,
}

impl Running {
    pub fn new(cancel: CancellationToken) -> Self {
        Self {
            services: Services::new(),
            tasks: Vec::new(),
            cancel,
        }
    }

    /// Spawns a background task that must stop when the cancellation token fires.
    pub fn spawn(&mut self, name: &'static str, fut: impl Future<Output = ()> + Send + 'static) {
        self.tasks.push((name, tokio::spawn(fut)));
    }

    /// Cancels every service and waits for each task (at most [`STOP_GRACE`] each).
    pub async fn shutdown(self) {
        self.cancel.cancel();
        for (name, task) in self.tasks {
            match tokio::time::timeout(STOP_GRACE, task).await {
                Ok(Ok(())) => tracing::debug!(task = name, "stopped"),
                Ok(Err(e)) => tracing::error!(task = name, error = %e, "task failed"),
                Err(_) => tracing::warn!(task = name, "did not stop in time"),
            }
        }
    }
}

/// Starts the monitoring services. `sink` and `recorder` are the fan-outs the collectors
/// write to; the caller has already put the metric store and the history writer in them.
/// Returns the ICMP monitor, unless ICMP is impossible here.
pub fn start(
    running: &mut Running,
    store: Store,
    tsdb: Arc<dyn MetricStore>,
    sink: FanoutSink,
    recorder: FanoutRecorder,
) -> Option<IcmpMonitor> {
    running.services.insert("metric store", tsdb);
    running.services.insert(
        "snmp engine",
        wardflux_snmp::SnmpClient::new(wardflux_snmp::ClientConfig::default()),
    );
    let pinger = match wardflux_icmp::Pinger::new(wardflux_icmp::PingerOptions::default()) {
        Ok(p) => p,
        Err(e) => {
            let why = format!("{e} (needs root, CAP_NET_RAW or net.ipv4.ping_group_range)");
            tracing::error!(error = %why, "ICMP monitoring disabled");
            running
                .services
                .off::<IcmpMonitor>("icmp monitor", why.clone());
            running.services.off::<wardflux_icmp::Pinger>("pinger", why);
            return None;
        }
    };
    let scheduler = Scheduler::new("monitoring");
    let sink: Arc<dyn MetricSink> = Arc::new(sink);
    let monitor = IcmpMonitor::on(
        &scheduler,
        pinger.clone(),
        sink,
        Arc::new(recorder),
        IcmpMonitorConfig::default(),
    );
    running.services.insert("pinger", pinger);
    running.services.insert("icmp monitor", monitor.clone());
    let cancel = running.cancel.clone();
    running.spawn(
        "icmp targets",
        follow_inventory(store, monitor.clone(), cancel),
    );
    Some(monitor)
}

/// Keeps the ICMP monitor's targets equal to the inventory: reloads on every store event
/// and every [`RELOAD_EVERY`]; on cancel, empties the monitor (no check starts after).
async fn follow_inventory(store: Store, monitor: IcmpMonitor, cancel: CancellationToken) {
    let mut events = store.subscribe();
    loop {
        match icmp_targets(&store).await {
            Ok(targets) => {
                tracing::debug!(targets = targets.len(), "ICMP targets reloaded");
                monitor.apply_targets(targets);
            }
            Err(e) => tracing::error!(error = %e, "could not load ICMP targets"),
        }
        tokio::select! {
            // Any event (or a lag, which means several) is a reason to reload.
            _ = events.recv() => {}
            () = tokio::time::sleep(RELOAD_EVERY) => {}
            () = cancel.cancelled() => break,
        }
    }
    monitor.apply_targets(Vec::new());
}

/// Enabled standalone devices (in standalone mode, the only one implemented: Zabbix-sourced
/// devices are not pinged by us).
async fn icmp_targets(store: &Store) -> Result<Vec<IcmpTarget>, wardflux_store::StoreError> {
    let mode = store.monitoring_profile().await?.mode;
    if mode != MonitoringMode::Standalone {
        return Ok(Vec::new());
    }
    Ok(store
        .all_devices()
        .await?
        .into_iter()
        .filter(|d| d.enabled && d.source == DeviceSource::Standalone)
        .map(|d| {
            let mut t = IcmpTarget::new(d.id, d.name, d.ip);
            t.interval = Duration::from_secs(d.icmp_interval_s.max(1) as u64);
            t
        })
        .collect())
}

/// Starts the alert engine (restoring its state from the store) and the outbox worker.
pub async fn start_alerts(
    running: &mut Running,
    store: Store,
    tsdb: Arc<dyn MetricStore>,
) -> anyhow::Result<AlertHandle> {
    let notifier = Notifier::new(Duration::from_secs(10))?;
    let worker = OutboxWorker::new(store.clone(), notifier, OutboxConfig::default());
    let (driver, handle) =
        AlertDriver::new(store, tsdb, DriverConfig::default(), worker.waker()).await?;
    let cancel = running.cancel.clone();
    running.spawn("alert outbox", worker.run(cancel.clone()));
    running.spawn("alert engine", driver.run(cancel));
    Ok(handle)
}

/// Registers the alert engine's handle for the API and keeps its device tree (parents,
/// groups) current: reloads on every inventory event.
pub fn follow_inventory_for_alerts(running: &mut Running, store: Store, alerts: AlertHandle) {
    running.services.insert("alert engine", alerts.clone());
    let cancel = running.cancel.clone();
    let mut events = store.subscribe();
    running.spawn("alert inventory", async move {
        loop {
            tokio::select! {
                _ = events.recv() => alerts.reload(),
                () = cancel.cancelled() => break,
            }
        }
    });
}
