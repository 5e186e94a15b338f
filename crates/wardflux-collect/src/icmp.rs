//! The ICMP monitor: every device pinged on its own interval by the [`Scheduler`], its
//! reachability kept by a [`Tracker`], samples written to the metric sink and every state
//! change handed to a [`StateRecorder`] (the status-history table).
//!
//! Per check (defaults): `packets` (2) echo requests back to back, timeout 500 ms each.
//! If none answers and the device is not already down, up to 3 confirmation probes 1 s
//! apart; only if all fail is the device declared down. Worst-case detection after a
//! device goes silent: interval + timeout + 2 s + timeout = interval + 3 s.
//!
//! Samples (labels `device`, `device_id`, `ip`; timestamp = check start):
//! - `ping_rtt_ms`: mean RTT of the check's replies at microsecond resolution (absent when
//!   none answered); whole microseconds keep the value in the metric store's cheap decimal
//!   encoding (docs/metrics.md),
//! - `ping_packet_loss`: percent of the check's packets lost (0-100),
//! - `ping_availability`: 1 if the check got any reply, else 0 (raw, unconfirmed),
//! - `ping_up`: the confirmed state, 1 up / 0 down (absent while unknown).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;
use wardflux_icmp::{IcmpError, PingResult, Pinger};
use wardflux_model::{Labels, MetricSink, Sample};

use crate::scheduler::{Job, JobRunner, Scheduler};
use crate::state::{DeviceState, StateConfig, Step, Tracker};
pub use wardflux_model::events::{StateChange, StateRecorder};

/// The scheduler job kind of ICMP checks (one job per device; the payload is empty: the
/// runner reads the [`IcmpTarget`] from the device's slot, and a JSON copy per device cost
/// ~1.4 KB each, docs/perf/polling.md).
pub const JOB_KIND: &str = "icmp";

/// A device to monitor, as plain data (from the inventory).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IcmpTarget {
    pub device_id: Uuid,
    pub name: String,
    pub ip: IpAddr,
    /// Check interval (default 10 s).
    pub interval: Duration,
    /// Echo requests per check (default 2).
    pub packets: u32,
}

impl IcmpTarget {
    /// A target with the default interval (10 s) and packet count (2).
    pub fn new(device_id: Uuid, name: impl Into<String>, ip: IpAddr) -> Self {
        Self {
            device_id,
            name: name.into(),
            ip,
            interval: Duration::from_secs(10),
            packets: 2,
        }
    }
}

/// Tuning of the monitor.
#[derive(Debug, Clone)]
pub struct IcmpMonitorConfig {
    /// Timeout of each echo request (fping's and Zabbix' default: 500 ms).
    pub timeout: Duration,
    /// Confirmation probes after a failed check.
    pub confirm_probes: u32,
    /// Gap between confirmation probes.
    pub confirm_interval: Duration,
    pub state: StateConfig,
}

impl Default for IcmpMonitorConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_millis(500),
            confirm_probes: 3,
            confirm_interval: Duration::from_secs(1),
            state: StateConfig::default(),
        }
    }
}

/// One device's status, for the API.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DeviceStatus {
    pub device_id: Uuid,
    pub name: String,
    pub ip: IpAddr,
    pub state: DeviceState,
    pub since: DateTime<Utc>,
    pub down_since: Option<DateTime<Utc>>,
    pub last_check: Option<DateTime<Utc>>,
    pub last_rtt_ms: Option<f64>,
    /// Percent of the last check's packets lost.
    pub loss: Option<f64>,
    pub flapping: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    #[error("device {0} is not monitored")]
    UnknownDevice(Uuid),
    #[error(transparent)]
    Icmp(#[from] IcmpError),
}

/// Per-device slot. Its mutexes are std ones: held for a few field updates, never across
/// an await.
struct Device {
    target: Mutex<IcmpTarget>,
    tracker: Mutex<Tracker>,
    last: Mutex<LastCheck>,
    /// Set while a check of this device runs. The scheduler never overlaps two scheduled
    /// runs of one job, but an out-of-schedule [`IcmpMonitor::check_now`] could meet one:
    /// whoever sets the flag checks, the other returns (the running check gives the verdict).
    checking: std::sync::atomic::AtomicBool,
}

/// Clears [`Device::checking`] when the check ends, however it ends.
struct CheckGuard<'a>(&'a Device);

impl Drop for CheckGuard<'_> {
    fn drop(&mut self) {
        self.0
            .checking
            .store(false, std::sync::atomic::Ordering::Release);
    }
}

impl Device {
    fn begin_check(&self) -> Option<CheckGuard<'_>> {
        self.checking
            .compare_exchange(
                false,
                true,
                std::sync::atomic::Ordering::Acquire,
                std::sync::atomic::Ordering::Relaxed,
            )
            .is_ok()
            .then_some(CheckGuard(self))
    }
}

#[derive(Default, Clone)]
struct LastCheck {
    at: Option<DateTime<Utc>>,
    rtt_ms: Option<f64>,
    loss: Option<f64>,
}

/// Shared by the monitor handle and every check run (Arc): the device map sits under a
/// std mutex, locked only to look up or replace slots.
struct Inner {
    /// Lets a run (started from `&self` by the scheduler) own the monitor while it awaits.
    me: std::sync::Weak<Inner>,
    pinger: Pinger,
    sink: Arc<dyn MetricSink>,
    recorder: Arc<dyn StateRecorder>,
    cfg: IcmpMonitorConfig,
    devices: Mutex<HashMap<Uuid, Arc<Device>>>,
}

/// The ICMP monitor. Cheap to clone.
#[derive(Clone)]
pub struct IcmpMonitor {
    inner: Arc<Inner>,
    scheduler: Scheduler,
}

/// Runs the `icmp` jobs: looks the device's slot up by the job's device id (the slot
/// holds its state machine, which must stay on this node).
impl JobRunner for Inner {
    fn run(&self, job: &Job) -> futures::future::BoxFuture<'static, ()> {
        let dev = lock(&self.devices).get(&job.id.device_id).cloned();
        let this = self.self_ref();
        Box::pin(async move {
            if let (Some(dev), Some(inner)) = (dev, this)
                && let Some(_guard) = dev.begin_check()
            {
                inner.check(&dev).await;
            }
        })
    }
}

impl IcmpMonitor {
    /// Creates an idle monitor on a scheduler of its own (inside a tokio runtime); give it
    /// devices with [`IcmpMonitor::apply_targets`].
    pub fn new(
        pinger: Pinger,
        sink: Arc<dyn MetricSink>,
        recorder: Arc<dyn StateRecorder>,
        cfg: IcmpMonitorConfig,
    ) -> Self {
        Self::on(&Scheduler::new("icmp"), pinger, sink, recorder, cfg)
    }

    /// Creates an idle monitor whose checks are `icmp` jobs on a shared scheduler.
    pub fn on(
        scheduler: &Scheduler,
        pinger: Pinger,
        sink: Arc<dyn MetricSink>,
        recorder: Arc<dyn StateRecorder>,
        cfg: IcmpMonitorConfig,
    ) -> Self {
        let inner = Arc::new_cyclic(|me| Inner {
            me: me.clone(),
            pinger,
            sink,
            recorder,
            cfg,
            devices: Mutex::new(HashMap::new()),
        });
        scheduler.register(JOB_KIND, inner.clone());
        Self {
            inner,
            scheduler: scheduler.clone(),
        }
    }

    /// Replaces the monitored device set (hot reload). Known devices keep their state;
    /// new ones start `Unknown`; missing ones are dropped.
    pub fn apply_targets(&self, targets: Vec<IcmpTarget>) {
        let now = Utc::now();
        let mut specs = Vec::with_capacity(targets.len());
        {
            let mut devices = lock(&self.inner.devices);
            let mut next = HashMap::with_capacity(targets.len());
            for t in targets {
                let id = t.device_id;
                let interval = t.interval;
                let dev = match devices.remove(&id) {
                    Some(d) => {
                        *lock(&d.target) = t;
                        d
                    }
                    None => Arc::new(Device {
                        target: Mutex::new(t),
                        tracker: Mutex::new(Tracker::new(self.inner.cfg.state.clone(), now)),
                        last: Mutex::new(LastCheck::default()),
                        checking: Default::default(),
                    }),
                };
                next.insert(id, dev);
                specs.push(Job::new(JOB_KIND, id, interval));
            }
            *devices = next;
        }
        self.scheduler.apply(JOB_KIND, specs);
    }

    /// Every monitored device's status.
    pub fn snapshot(&self) -> Vec<DeviceStatus> {
        let devices: Vec<Arc<Device>> = lock(&self.inner.devices).values().cloned().collect();
        devices.iter().map(|d| d.status()).collect()
    }

    /// One device's status.
    pub fn status(&self, device_id: Uuid) -> Option<DeviceStatus> {
        let dev = lock(&self.inner.devices).get(&device_id).cloned();
        dev.map(|d| d.status())
    }

    /// Pings a monitored device now (its configured packet count and the monitor's
    /// timeout). Does not change its state or write samples.
    pub async fn ping_now(&self, device_id: Uuid) -> Result<PingResult, MonitorError> {
        let dev = lock(&self.inner.devices)
            .get(&device_id)
            .cloned()
            .ok_or(MonitorError::UnknownDevice(device_id))?;
        let (ip, packets) = {
            let t = lock(&dev.target);
            (t.ip, t.packets.max(1))
        };
        Ok(self
            .inner
            .pinger
            .ping(ip, packets, self.inner.cfg.timeout)
            .await?)
    }

    /// Checks a device now, out of schedule: the same check as a scheduled one (confirmation
    /// probes, samples, state changes to the recorder). When a check of the device is already
    /// running, waits for nothing and returns the current status: that check gives the verdict.
    pub async fn check_now(&self, device_id: Uuid) -> Result<DeviceStatus, MonitorError> {
        let dev = lock(&self.inner.devices)
            .get(&device_id)
            .cloned()
            .ok_or(MonitorError::UnknownDevice(device_id))?;
        if let Some(_guard) = dev.begin_check() {
            self.inner.check(&dev).await;
        }
        Ok(dev.status())
    }

    /// Scheduler counters (runs, skipped checks, lag).
    pub fn scheduler_stats(&self) -> crate::scheduler::StatsSnapshot {
        self.scheduler.stats()
    }
}

impl Device {
    fn status(&self) -> DeviceStatus {
        let t = lock(&self.target).clone();
        let last = lock(&self.last).clone();
        let m = lock(&self.tracker);
        DeviceStatus {
            device_id: t.device_id,
            name: t.name,
            ip: t.ip,
            state: m.state(),
            since: m.since(),
            down_since: m.down_since(),
            last_check: last.at,
            last_rtt_ms: last.rtt_ms,
            loss: last.loss,
            flapping: m.flapping(),
        }
    }
}

impl Inner {
    fn self_ref(&self) -> Option<Arc<Inner>> {
        self.me.upgrade()
    }

    async fn check(&self, dev: &Device) {
        let target = lock(&dev.target).clone();
        let started = Utc::now();
        let result = match self
            .pinger
            .ping(target.ip, target.packets.max(1), self.cfg.timeout)
            .await
        {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(device = %target.name, ip = %target.ip, error = %e, "ICMP check impossible");
                return;
            }
        };
        let step = lock(&dev.tracker).on_check(result.is_alive(), started, Utc::now());
        let transitions = match step {
            Step::Done(t) => t,
            Step::Confirm => {
                let any = self.confirm(target.ip).await;
                lock(&dev.tracker).on_confirmation(any, Utc::now())
            }
        };
        let rtt_ms = result.avg_rtt().map(|d| d.as_secs_f64() * 1000.0);
        let loss = result.loss * 100.0;
        *lock(&dev.last) = LastCheck {
            at: Some(started),
            rtt_ms,
            loss: Some(loss),
        };
        let state = lock(&dev.tracker).state();
        self.write_samples(&target, started, rtt_ms, loss, result.is_alive(), state)
            .await;
        for t in transitions {
            // Logged once, by whoever records it (the binary's history writer), not here too.
            self.recorder
                .record(StateChange {
                    device_id: target.device_id,
                    name: target.name.clone(),
                    ip: target.ip,
                    kind: t.kind,
                    from: t.from,
                    to: t.to,
                    since: t.since,
                    at: t.at,
                    source: JOB_KIND,
                })
                .await;
        }
    }

    /// Up to `confirm_probes` single probes, `confirm_interval` apart; stops at the first reply.
    async fn confirm(&self, ip: IpAddr) -> bool {
        let start = tokio::time::Instant::now();
        for i in 0..self.cfg.confirm_probes {
            if i > 0 {
                tokio::time::sleep_until(start + self.cfg.confirm_interval * i).await;
            }
            if let Ok(Some(_)) = self.pinger.probe(ip, self.cfg.timeout).await {
                return true;
            }
        }
        false
    }

    async fn write_samples(
        &self,
        t: &IcmpTarget,
        started: DateTime<Utc>,
        rtt_ms: Option<f64>,
        loss: f64,
        alive: bool,
        state: DeviceState,
    ) {
        let labels = Labels::from_pairs([
            ("device", t.name.clone()),
            ("device_id", t.device_id.to_string()),
            ("ip", t.ip.to_string()),
        ]);
        let ts = started.timestamp_millis();
        let sample = |metric: &str, value: f64| Sample {
            metric: metric.to_owned(),
            labels: labels.clone(),
            timestamp_ms: ts,
            value,
        };
        let mut batch = Vec::with_capacity(4);
        if let Some(rtt) = rtt_ms {
            batch.push(sample("ping_rtt_ms", (rtt * 1000.0).round() / 1000.0));
        }
        batch.push(sample("ping_packet_loss", loss));
        batch.push(sample("ping_availability", if alive { 1.0 } else { 0.0 }));
        match state {
            DeviceState::Up => batch.push(sample("ping_up", 1.0)),
            DeviceState::Down => batch.push(sample("ping_up", 0.0)),
            DeviceState::Unknown | DeviceState::Flapping => {}
        }
        if let Err(e) = self.sink.append(batch).await {
            tracing::warn!(device = %t.name, error = %e, "ICMP samples not stored");
        }
    }
}

/// Out-of-schedule checks for the alert engine's parent-chain probe: each runs in a task of
/// its own (a few seconds at most: one check and its confirmation probes), so the caller never
/// waits; devices not monitored are ignored.
impl wardflux_model::ReachabilityProbe for IcmpMonitor {
    fn probe_now(&self, device_ids: &[Uuid]) {
        for id in device_ids.iter().copied() {
            let m = self.clone();
            tokio::spawn(async move {
                let _ = m.check_now(id).await;
            });
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
