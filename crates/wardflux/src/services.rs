//! The running services: which ones the binary starts, their handles for the API
//! ([`Services`], by type) and their tasks, which shutdown cancels and joins.
//!
//! Data flow wired here (and only here):
//! inventory (store events + a periodic reload) -> ICMP targets -> scheduler -> ICMP monitor
//! -> samples to the [`FanoutSink`] (metric store first, then subscribers such as the alert
//! engine) and state changes to the [`FanoutRecorder`] (status history, then subscribers).

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use wardflux_alert::driver::{AlertDriver, AlertHandle, DriverConfig};
use wardflux_alert::notify::Notifier;
use wardflux_alert::outbox::{OutboxConfig, OutboxWorker};
use wardflux_api::state::Services;
use wardflux_collect::Scheduler;
use wardflux_collect::icmp::{IcmpMonitor, IcmpMonitorConfig, IcmpTarget};
use wardflux_collect::snmp::{DeviceLimits, PollDevice, SnmpPoller, SnmpPollerConfig};
use wardflux_discovery::service::Discovery;
use wardflux_model::inventory::DeviceSource;
use wardflux_model::{FanoutRecorder, FanoutSink, MetricSink, MonitoringMode};
use wardflux_store::Store;
use wardflux_tsdb::MetricStore;
use wardflux_zabbix::source::ZabbixSource;

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

/// Starts the monitoring services on one scheduler: the ICMP monitor (unless ICMP is
/// impossible here) and the SNMP item poller. `sink` and `recorder` are the fan-outs the
/// collectors write to; the caller has already put the metric store and the history writer
/// in them. Returns the ICMP monitor, if it runs.
pub fn start(
    running: &mut Running,
    store: Store,
    tsdb: Arc<dyn MetricStore>,
    sink: FanoutSink,
    recorder: FanoutRecorder,
) -> Option<IcmpMonitor> {
    running.services.insert("metric store", tsdb);
    let snmp = wardflux_snmp::SnmpClient::new(wardflux_snmp::ClientConfig::default());
    running.services.insert("snmp engine", snmp.clone());
    let scheduler = Scheduler::new("monitoring");
    let sink: Arc<dyn MetricSink> = Arc::new(sink);
    let sink_for_zabbix = sink.clone();
    let monitor = match wardflux_icmp::Pinger::new(wardflux_icmp::PingerOptions::default()) {
        Ok(pinger) => {
            let monitor = IcmpMonitor::on(
                &scheduler,
                pinger.clone(),
                sink.clone(),
                Arc::new(recorder),
                IcmpMonitorConfig::default(),
            );
            start_discovery(running, store.clone(), pinger.clone(), snmp.clone());
            running.services.insert("pinger", pinger);
            running.services.insert("icmp monitor", monitor.clone());
            let cancel = running.cancel.clone();
            running.spawn(
                "icmp targets",
                follow_inventory(store.clone(), monitor.clone(), cancel),
            );
            Some(monitor)
        }
        Err(e) => {
            let why = format!("{e} (needs root, CAP_NET_RAW or net.ipv4.ping_group_range)");
            tracing::error!(error = %why, "ICMP monitoring disabled");
            running
                .services
                .off::<IcmpMonitor>("icmp monitor", why.clone());
            running
                .services
                .off::<Discovery>("discovery", format!("no ICMP sweep: {why}"));
            running.services.off::<wardflux_icmp::Pinger>("pinger", why);
            None
        }
    };
    // A device the ICMP monitor has confirmed down is not SNMP-polled (no timeouts piling
    // up); without ICMP every device counts as reachable.
    let icmp = monitor.clone();
    let reachable = Arc::new(move |id: Uuid| {
        icmp.as_ref()
            .and_then(|m| m.status(id))
            .is_none_or(|s| s.state != wardflux_model::DeviceState::Down)
    });
    let poller = SnmpPoller::on(
        &scheduler,
        snmp,
        sink,
        reachable,
        SnmpPollerConfig::default(),
    );
    running.services.insert("snmp poller", poller.clone());
    running.services.insert(
        "snmp poller",
        Arc::new(poller.clone()) as Arc<dyn wardflux_model::ItemStates>,
    );
    let cancel = running.cancel.clone();
    running.spawn("snmp items", follow_plans(store.clone(), poller, cancel));
    // Zabbix as a source: idle until a connection is stored and the mode asks for it.
    let zabbix = ZabbixSource::with_sink(store, Some(sink_for_zabbix));
    running.services.insert("zabbix source", zabbix.clone());
    let cancel = running.cancel.clone();
    running.spawn("zabbix sync", zabbix.run(cancel));
    monitor
}

/// Starts the discovery service: scans on demand (API) and on each rule's cron schedule.
/// Runs a previous process left `running` are marked failed first.
fn start_discovery(
    running: &mut Running,
    store: Store,
    pinger: wardflux_icmp::Pinger,
    snmp: wardflux_snmp::SnmpClient,
) {
    let cancel = running.cancel.child_token();
    let discovery = Discovery::new(store.clone(), pinger, snmp, 161, cancel.clone());
    running.services.insert("discovery", discovery.clone());
    running.spawn("discovery", async move {
        match store.fail_interrupted_runs().await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(
                runs = n,
                "discovery runs interrupted by the last stop marked failed"
            ),
            Err(e) => tracing::warn!(error = %e, "could not mark interrupted discovery runs"),
        }
        if let Err(e) = discovery.reload_classifier().await {
            tracing::warn!(error = %e, "could not load the classifier overrides");
        }
        discovery.clone().run_schedule().await;
        // Cancelled: stop running scans and write their runs as failed.
        discovery.close().await;
    });
}

/// Keeps the SNMP poller's devices equal to the templates applied in the store: reloads on
/// every store event (devices, credentials, templates) and, every [`RELOAD_EVERY`], when the
/// store's [`ChangeStamp`](wardflux_store::ChangeStamp) moved ([`Reload`]). Each round also
/// keeps what the poller learned about each agent (`Store::set_snmp_limits`), which seeds
/// the poller after a restart.
async fn follow_plans(store: Store, poller: SnmpPoller, cancel: CancellationToken) {
    let mut events = store.subscribe();
    let mut stored: HashMap<Uuid, DeviceLimits> = HashMap::new();
    let mut ids: Vec<Uuid> = Vec::new();
    let mut reload = Reload::default();
    loop {
        if let Some(stamp) = reload.due(&store).await {
            match store.snmp_limits().await {
                Ok(l) => {
                    stored = l
                        .into_iter()
                        .filter_map(|(id, v)| Some((id, serde_json::from_value(v).ok()?)))
                        .collect();
                }
                Err(e) => tracing::warn!(error = %e, "could not read learned SNMP limits"),
            }
            match poll_devices(&store, &stored).await {
                Ok(devices) => {
                    tracing::debug!(devices = devices.len(), "SNMP poll plans reloaded");
                    ids = devices.iter().map(|d| d.device_id).collect();
                    poller.apply_devices(devices);
                    reload.done(stamp);
                }
                Err(e) => tracing::error!(error = %e, "could not load SNMP poll plans"),
            }
        }
        keep_learned_limits(&store, &poller, &ids, &mut stored).await;
        tokio::select! {
            _ = events.recv() => {}
            () = tokio::time::sleep(RELOAD_EVERY) => {}
            () = cancel.cancelled() => break,
        }
    }
    poller.apply_devices(Vec::new());
}

/// When a periodic reload is worth doing: when the store's change stamp moved since the last
/// successful one (or the store cannot tell), and at least every [`FULL_RELOAD_ROUNDS`]th
/// round whatever the stamp says (SQLite's `data_version` is per connection: a pool that
/// replaced its connection could show an equal value across another process' commit).
/// 10,000 devices rebuilt every 30 s for nothing cost a full copy of every target and plan
/// beside the ones in use (docs/perf/polling.md).
#[derive(Default)]
struct Reload {
    last: Option<wardflux_store::ChangeStamp>,
    rounds: u32,
}

/// Every this many rounds ([`RELOAD_EVERY`] each) a reload happens even with an unchanged
/// stamp: 5 minutes.
const FULL_RELOAD_ROUNDS: u32 = 10;

impl Reload {
    /// `Some(stamp)` (the stamp read before reloading; `None` inside: unknown) when a reload
    /// is due; `None` when nothing changed.
    async fn due(&mut self, store: &Store) -> Option<Option<wardflux_store::ChangeStamp>> {
        let stamp = match store.change_stamp().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the store's change stamp");
                None
            }
        };
        self.rounds += 1;
        if stamp.is_some() && stamp == self.last && self.rounds < FULL_RELOAD_ROUNDS {
            return None;
        }
        self.last = None;
        Some(stamp)
    }

    /// The reload with `stamp` succeeded.
    fn done(&mut self, stamp: Option<wardflux_store::ChangeStamp>) {
        self.last = stamp;
        self.rounds = 0;
    }
}

/// Writes the limits the poller learned since the last round, for the devices whose learned
/// limits differ from the stored ones (`stored` follows what was written).
async fn keep_learned_limits(
    store: &Store,
    poller: &SnmpPoller,
    ids: &[Uuid],
    stored: &mut HashMap<Uuid, DeviceLimits>,
) {
    for id in ids {
        let Some(learned) = poller.limits(*id) else {
            continue;
        };
        if stored.get(id) == Some(&learned) {
            continue;
        }
        let Ok(value) = serde_json::to_value(learned) else {
            continue;
        };
        match store.set_snmp_limits(*id, value).await {
            Ok(()) => {
                stored.insert(*id, learned);
            }
            Err(e) => {
                tracing::warn!(device = %id, error = %e, "could not keep learned SNMP limits")
            }
        }
    }
}

/// Standalone devices with templates applied, each with its SNMP target (credential
/// decrypted here, only to build the target). A device without a usable credential is left
/// out, with a warning naming it.
async fn poll_devices(
    store: &Store,
    learned: &HashMap<Uuid, DeviceLimits>,
) -> Result<Vec<PollDevice>, wardflux_store::StoreError> {
    // Zabbix mode reads everything from Zabbix; standalone and hybrid poll our devices.
    if store.monitoring_profile().await?.mode == MonitoringMode::Zabbix {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    let mut creds = HashMap::new();
    for p in store.poll_plans().await? {
        let d = p.device;
        if d.source != DeviceSource::Standalone {
            continue;
        }
        let Some(cred_id) = p.credential_id else {
            tracing::warn!(device = %d.name, "templates applied but no SNMP credential: not polled");
            continue;
        };
        // Most devices share a few credentials: read and decrypt each once per round.
        if let std::collections::hash_map::Entry::Vacant(slot) = creds.entry(cred_id) {
            let cred = store.get_snmp_credential(cred_id).await?;
            let secrets = store.snmp_secrets(cred_id).await?;
            slot.insert((cred, secrets));
        }
        let (cred, secrets) = &creds[&cred_id];
        let addr = std::net::SocketAddr::new(d.ip, d.snmp_port);
        let mut target = match wardflux_snmp::Target::from_model(addr, cred, secrets) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(device = %d.name, error = %e, "SNMP credential unusable: not polled");
                continue;
            }
        };
        // One retry after 2 s: a silent agent costs a poll 4 s, not net-snmp's 6 x 1 s.
        target.timeout = Duration::from_secs(2);
        target.retries = 1;
        out.push(PollDevice {
            device_id: d.id,
            name: d.name,
            ip: d.ip,
            port: d.snmp_port,
            target,
            plan: p.plan,
            limits: learned.get(&d.id).copied(),
        });
    }
    Ok(out)
}

/// Keeps the ICMP monitor's targets equal to the inventory: reloads on every store event
/// and, every [`RELOAD_EVERY`], when the store's change stamp moved ([`Reload`]); on cancel,
/// empties the monitor (no check starts after).
async fn follow_inventory(store: Store, monitor: IcmpMonitor, cancel: CancellationToken) {
    let mut events = store.subscribe();
    let mut reload = Reload::default();
    loop {
        if let Some(stamp) = reload.due(&store).await {
            match icmp_targets(&store).await {
                Ok(targets) => {
                    tracing::debug!(targets = targets.len(), "ICMP targets reloaded");
                    monitor.apply_targets(targets);
                    reload.done(stamp);
                }
                Err(e) => tracing::error!(error = %e, "could not load ICMP targets"),
            }
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

/// Enabled standalone devices in standalone and hybrid mode (Zabbix-sourced devices are
/// never pinged by us: Zabbix' `icmpping` says whether they are up); none in Zabbix mode.
async fn icmp_targets(store: &Store) -> Result<Vec<IcmpTarget>, wardflux_store::StoreError> {
    let mode = store.monitoring_profile().await?.mode;
    if mode == MonitoringMode::Zabbix {
        return Ok(Vec::new());
    }
    Ok(store
        .all_devices()
        .await?
        .iter()
        .filter(|d| d.enabled && d.source == DeviceSource::Standalone)
        .map(|d| {
            let mut t = IcmpTarget::new(d.id, d.name.clone(), d.ip);
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
