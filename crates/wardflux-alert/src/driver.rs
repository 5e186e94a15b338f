//! The driver: runs the pure pieces against the real world.
//!
//! - [`AlertSink`] wraps the `MetricSink` the collectors write to. After the inner sink has
//!   taken a batch, it tells the driver which metric names the batch held (and which devices
//!   were just checked, from `ping_availability`); the driver re-evaluates only the rules whose
//!   selectors name one of them (evaluate on ingest), with `wardflux_tsdb::promql::eval_instant`
//!   over the metric store. Ingest never waits for evaluation or delivery.
//! - A 1 s timer re-evaluates rules with live instances (`for`, staleness) or `absent()`, and
//!   every rule every `full_eval_ticks`; it also re-decides held and suppressed alerts and runs
//!   escalation.
//! - Device state changes (from the state machine via [`AlertHandle::device`]) drive the
//!   built-in rules `Device unreachable` and `Device flapping` and the dependency tree.
//! - Every transition is written with its outbox rows in one transaction
//!   (`Store::write_alert`); a version conflict (an acknowledge raced the write) re-reads the
//!   row, keeps the human's fields and writes again. State is restored from the store before
//!   the first evaluation.
//!
//! One task owns all state (no locks): inputs arrive on an unbounded channel, which never
//! blocks a writer; bursts are coalesced (all queued inputs are drained before evaluating).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use wardflux_model::alerts::{Alert, AlertRule, AlertState, MaintenanceWindow, NotificationKind};
use wardflux_model::inventory::DeviceQuery;
use wardflux_model::{
    DeviceState, Labels, MetricSink, ReachabilityProbe, Sample, SinkError, StateChange,
    StateRecorder, TransitionKind,
};
use wardflux_store::alerts::{OutboxInput, RuleQuery};
use wardflux_store::{Store, StoreError};
use wardflux_tsdb::{MetricStore, QueryValue};

use crate::engine::{Engine, Instance, Transition};
use crate::escalation::{self, Action, Progress};
use crate::group::Grouper;
use crate::notify::AlertSnapshot;
use crate::rule::{self, ParsedRule};
use crate::suppress::{Decision, DeviceNode, Topology};
use crate::template;

/// Keys of the built-in rules.
pub const UNREACHABLE: &str = "device_unreachable";
pub const FLAPPING: &str = "device_flapping";

/// The built-in rules (their expressions describe them; the device state machine drives them).
pub fn builtin_rules() -> [wardflux_store::alerts::BuiltinRule; 2] {
    use wardflux_model::alerts::Severity;
    [
        wardflux_store::alerts::BuiltinRule {
            key: UNREACHABLE,
            name: "Device unreachable",
            expression: "ping_up == 0",
            severity: Severity::Critical,
            message: "{{ $labels.device }} ({{ $labels.ip }}) is unreachable",
        },
        wardflux_store::alerts::BuiltinRule {
            key: FLAPPING,
            name: "Device flapping",
            expression: "changes(ping_up[5m]) >= 3",
            severity: Severity::High,
            message: "{{ $labels.device }} ({{ $labels.ip }}) is flapping",
        },
    ]
}

#[derive(Debug, Clone)]
pub struct DriverConfig {
    pub tick: Duration,
    pub group_window: Duration,
    /// One device check cycle (ICMP interval + confirmation): the dependency holds.
    pub check_cycle: Duration,
    /// Every this many ticks, evaluate every rule.
    pub full_eval_ticks: u32,
    /// A PromQL rule is evaluated on ingest at most once per this gap; batches arriving
    /// sooner are folded into one evaluation at the end of the gap. Bounds the cost of rules on
    /// metrics written many times a second (one SNMP poll batch per device) to a few
    /// evaluations a second, at the price of at most this much latency.
    pub min_eval_gap: Duration,
}

impl Default for DriverConfig {
    fn default() -> Self {
        Self {
            tick: Duration::from_secs(1),
            group_window: crate::group::DEFAULT_WINDOW,
            check_cycle: Duration::from_secs(15),
            full_eval_ticks: 30,
            min_eval_gap: Duration::from_millis(250),
        }
    }
}

/// A confirmed reachability change of a device.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceEvent {
    pub device_id: Uuid,
    pub name: String,
    pub ip: String,
    pub down: bool,
    pub flapping: bool,
    /// Since when the device is in this state (down: the first failed check).
    pub since: DateTime<Utc>,
    pub at: DateTime<Utc>,
}

/// A completed ICMP check of a device, read from the samples it wrote.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Checked {
    pub device_id: Uuid,
    /// The check's start.
    pub at: DateTime<Utc>,
    /// The confirmed state after the check (`ping_up`): `Some(false)` when down. The state
    /// change itself reaches the driver a moment later through the recorder; reading it here
    /// too means no decision between the two can take "checked" for "reachable".
    pub up: Option<bool>,
}

pub enum Input {
    Touched(Vec<String>),
    Checked(Vec<Checked>),
    Device(DeviceEvent),
    /// Rules, channels, maintenance windows or devices changed.
    Reload,
    /// An alert was resolved by hand.
    Forget(Uuid),
    /// Who checks parents out of schedule (the ICMP monitor, once it runs).
    Prober(Arc<dyn ReachabilityProbe>),
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Touched(n) => f.debug_tuple("Touched").field(n).finish(),
            Self::Checked(c) => f.debug_tuple("Checked").field(c).finish(),
            Self::Device(e) => f.debug_tuple("Device").field(e).finish(),
            Self::Reload => f.write_str("Reload"),
            Self::Forget(id) => f.debug_tuple("Forget").field(id).finish(),
            Self::Prober(_) => f.write_str("Prober"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// How the rest of the process talks to the driver. Cheap to clone; sending never blocks.
#[derive(Debug, Clone)]
pub struct AlertHandle {
    tx: mpsc::UnboundedSender<Input>,
}

impl AlertHandle {
    pub fn send(&self, input: Input) {
        // The driver has stopped: nothing to alert on any more.
        let _ = self.tx.send(input);
    }
    pub fn reload(&self) {
        self.send(Input::Reload);
    }
    pub fn device(&self, e: DeviceEvent) {
        self.send(Input::Device(e));
    }
    pub fn forget(&self, alert_id: Uuid) {
        self.send(Input::Forget(alert_id));
    }
    /// Lets the engine check parents now when a child is confirmed down first.
    pub fn set_prober(&self, prober: Arc<dyn ReachabilityProbe>) {
        self.send(Input::Prober(prober));
    }
}

/// The engine hears of device state changes directly (built-in `Device unreachable` and
/// `Device flapping` rules, dependency suppression): subscribe the handle to the monitor's
/// recorder fan-out.
#[async_trait::async_trait]
impl StateRecorder for AlertHandle {
    async fn record(&self, c: StateChange) {
        self.device(DeviceEvent {
            device_id: c.device_id,
            name: c.name,
            ip: c.ip.to_string(),
            down: c.to == DeviceState::Down,
            flapping: c.kind == TransitionKind::FlappingStarted,
            since: c.since,
            at: c.at,
        });
    }
}

/// A `MetricSink` that tells the driver what it wrote.
pub struct AlertSink<S> {
    inner: S,
    handle: AlertHandle,
}

impl<S> AlertSink<S> {
    pub fn new(inner: S, handle: AlertHandle) -> Self {
        Self { inner, handle }
    }
}

#[async_trait::async_trait]
impl<S: MetricSink> MetricSink for AlertSink<S> {
    async fn append(&self, batch: Vec<Sample>) -> Result<(), SinkError> {
        let mut names = BTreeSet::new();
        let mut checked: Vec<Checked> = Vec::new();
        for s in &batch {
            if !names.contains(s.metric.as_str()) {
                names.insert(s.metric.clone());
            }
            if s.metric == "ping_availability"
                && let Some(id) = s.labels.get("device_id").and_then(|d| d.parse().ok())
                && let Some(t) = DateTime::from_timestamp_millis(s.timestamp_ms)
            {
                checked.push(Checked {
                    device_id: id,
                    at: t,
                    up: None,
                });
            }
        }
        // One check writes ping_availability and ping_up in one batch.
        for s in batch.iter().filter(|s| s.metric == "ping_up") {
            let id: Option<Uuid> = s.labels.get("device_id").and_then(|d| d.parse().ok());
            if let Some(c) = checked.iter_mut().find(|c| Some(c.device_id) == id) {
                c.up = Some(s.value > 0.5);
            }
        }
        self.inner.append(batch).await?;
        if !checked.is_empty() {
            self.handle.send(Input::Checked(checked));
        }
        self.handle
            .send(Input::Touched(names.into_iter().collect()));
        Ok(())
    }
}

/// A `MetricStore` that tells the driver what was appended, for writers that use the store
/// directly (the Prometheus import API). Everything else is delegated unchanged.
pub struct AlertMetricStore {
    inner: Arc<dyn MetricStore>,
    handle: AlertHandle,
}

impl AlertMetricStore {
    pub fn new(inner: Arc<dyn MetricStore>, handle: AlertHandle) -> Self {
        Self { inner, handle }
    }
}

#[async_trait::async_trait]
impl MetricStore for AlertMetricStore {
    async fn append(&self, batch: Vec<Sample>) -> Result<(), wardflux_tsdb::TsdbError> {
        let names: BTreeSet<String> = batch.iter().map(|s| s.metric.clone()).collect();
        self.inner.append(batch).await?;
        self.handle
            .send(Input::Touched(names.into_iter().collect()));
        Ok(())
    }
    async fn range(
        &self,
        q: &wardflux_tsdb::RangeQuery,
    ) -> Result<Vec<wardflux_tsdb::SeriesPoints>, wardflux_tsdb::TsdbError> {
        self.inner.range(q).await
    }
    async fn raw(
        &self,
        m: &[wardflux_tsdb::LabelMatcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<wardflux_tsdb::SeriesPoints>, wardflux_tsdb::TsdbError> {
        self.inner.raw(m, start_ms, end_ms).await
    }
    async fn latest(
        &self,
        m: &[wardflux_tsdb::LabelMatcher],
    ) -> Result<Vec<wardflux_tsdb::Latest>, wardflux_tsdb::TsdbError> {
        self.inner.latest(m).await
    }
    async fn series(
        &self,
        sets: &[Vec<wardflux_tsdb::LabelMatcher>],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<wardflux_tsdb::SeriesKey>, wardflux_tsdb::TsdbError> {
        self.inner.series(sets, start_ms, end_ms).await
    }
    async fn label_names(
        &self,
        sets: &[Vec<wardflux_tsdb::LabelMatcher>],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<String>, wardflux_tsdb::TsdbError> {
        self.inner.label_names(sets, start_ms, end_ms).await
    }
    async fn label_values(
        &self,
        name: &str,
        sets: &[Vec<wardflux_tsdb::LabelMatcher>],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<String>, wardflux_tsdb::TsdbError> {
        self.inner.label_values(name, sets, start_ms, end_ms).await
    }
    async fn flush(&self) -> Result<(), wardflux_tsdb::TsdbError> {
        self.inner.flush().await
    }
    async fn close(&self) {
        self.inner.close().await
    }
    async fn prom_query(
        &self,
        query: &str,
        time_ms: i64,
    ) -> Result<QueryValue, wardflux_tsdb::TsdbError> {
        self.inner.prom_query(query, time_ms).await
    }
    async fn prom_query_range(
        &self,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<QueryValue, wardflux_tsdb::TsdbError> {
        self.inner
            .prom_query_range(query, start_ms, end_ms, step_ms)
            .await
    }
}

struct Loaded {
    rule: AlertRule,
    parsed: Option<ParsedRule>,
    channels: Vec<Uuid>,
    escalation_channels: Vec<Uuid>,
    /// The rule's device scope (`device_id` label values), when it has one.
    scope: Option<HashSet<String>>,
}

/// The driver's state; owned by one task ([`AlertDriver::run`]).
pub struct AlertDriver {
    store: Store,
    metrics: Arc<dyn MetricStore>,
    cfg: DriverConfig,
    engine: Engine,
    rules: HashMap<Uuid, Loaded>,
    /// Pending and firing alerts by id.
    live: HashMap<Uuid, Alert>,
    topo: Topology,
    windows: Vec<MaintenanceWindow>,
    grouper: Grouper<(Uuid, Uuid, NotificationKind)>,
    devices_down: HashMap<Uuid, DeviceEvent>,
    devices_flapping: HashMap<Uuid, DeviceEvent>,
    outbox_wake: Arc<Notify>,
    rx: mpsc::UnboundedReceiver<Input>,
    ticks: u32,
    prober: Option<Arc<dyn ReachabilityProbe>>,
    /// When each device was last probed (see [`AlertDriver::probe`]).
    probed: HashMap<Uuid, DateTime<Utc>>,
    /// When each PromQL rule was last evaluated, and the rules touched since that wait for
    /// the end of their gap ([`DriverConfig::min_eval_gap`]).
    last_eval: HashMap<Uuid, DateTime<Utc>>,
    deferred: BTreeSet<Uuid>,
}

fn labels_map(l: &Labels) -> BTreeMap<String, String> {
    l.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

impl AlertDriver {
    /// Makes sure the built-in rules exist, loads everything and restores the live alerts.
    pub async fn new(
        store: Store,
        metrics: Arc<dyn MetricStore>,
        cfg: DriverConfig,
        outbox_wake: Arc<Notify>,
    ) -> Result<(Self, AlertHandle), DriverError> {
        for b in builtin_rules() {
            store.ensure_builtin_rule(&b).await?;
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let mut d = Self {
            store,
            metrics,
            engine: Engine::new(),
            rules: HashMap::new(),
            live: HashMap::new(),
            topo: Topology::new(cfg.check_cycle),
            windows: Vec::new(),
            grouper: Grouper::new(cfg.group_window),
            devices_down: HashMap::new(),
            devices_flapping: HashMap::new(),
            outbox_wake,
            rx,
            ticks: 0,
            prober: None,
            probed: HashMap::new(),
            last_eval: HashMap::new(),
            deferred: BTreeSet::new(),
            cfg,
        };
        d.reload(Utc::now()).await?;
        for a in d.store.list_active_alerts(&Default::default()).await? {
            let labels = Labels::from_pairs(a.labels.clone());
            d.engine.restore(
                a.rule_id,
                labels,
                Instance {
                    id: a.id,
                    state: a.state,
                    started_at: a.started_at,
                    firing_at: a.firing_at,
                    value: a.value.unwrap_or(f64::NAN),
                },
            );
            d.live.insert(a.id, a);
        }
        Ok((d, AlertHandle { tx }))
    }

    /// Live alerts (for tests and diagnostics).
    pub fn live(&self) -> impl Iterator<Item = &Alert> {
        self.live.values()
    }

    /// Runs until `shutdown`.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(self.cfg.tick);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            let deferred = self.next_deferred();
            tokio::select! {
                () = shutdown.cancelled() => return,
                input = self.rx.recv() => {
                    let Some(first) = input else { return };
                    let mut inputs = vec![first];
                    while let Ok(i) = self.rx.try_recv() {
                        inputs.push(i);
                    }
                    if let Err(e) = self.handle(Utc::now(), inputs).await {
                        tracing::warn!(error = %e, "alert evaluation failed");
                    }
                }
                _ = tick.tick() => {
                    if let Err(e) = self.tick(Utc::now()).await {
                        tracing::warn!(error = %e, "alert tick failed");
                    }
                }
                () = sleep_until_utc(deferred) => {
                    if let Err(e) = self.run_deferred(Utc::now()).await {
                        tracing::warn!(error = %e, "alert evaluation failed");
                    }
                }
            }
        }
    }

    /// Processes inputs (coalesced) at `now`.
    pub async fn handle(
        &mut self,
        now: DateTime<Utc>,
        inputs: Vec<Input>,
    ) -> Result<(), DriverError> {
        let mut names: BTreeSet<String> = BTreeSet::new();
        let mut devices_changed = false;
        let mut reload = false;
        for i in inputs {
            match i {
                Input::Touched(n) => names.extend(n),
                Input::Checked(c) => {
                    for c in c {
                        let r = self.topo.reach.entry(c.device_id).or_default();
                        r.last_check = Some(r.last_check.map_or(c.at, |l| l.max(c.at)));
                        if c.up == Some(false) && !r.down {
                            r.down = true;
                            r.down_since = Some(c.at);
                        }
                    }
                }
                Input::Prober(p) => self.prober = Some(p),
                Input::Device(e) => {
                    self.device_event(e);
                    devices_changed = true;
                }
                Input::Reload => reload = true,
                Input::Forget(id) => {
                    if let Some(a) = self.live.remove(&id) {
                        self.engine.forget(a.rule_id, id);
                    }
                }
            }
        }
        if reload {
            self.reload(now).await?;
        }
        let gap = chrono::Duration::from_std(self.cfg.min_eval_gap).unwrap_or_default();
        let mut ids = Vec::new();
        for (id, l) in &self.rules {
            match (&l.parsed, &l.rule.builtin) {
                (_, Some(_)) if devices_changed => ids.push(*id),
                (Some(p), None) if reload || names.iter().any(|n| p.touches(n)) => {
                    if reload || self.last_eval.get(id).is_none_or(|at| *at + gap <= now) {
                        ids.push(*id);
                    } else {
                        self.deferred.insert(*id);
                    }
                }
                _ => {}
            }
        }
        ids.extend(self.due_deferred(now));
        self.evaluate(now, &ids).await
    }

    /// When the earliest deferred evaluation is due ([`DriverConfig::min_eval_gap`]).
    pub fn next_deferred(&self) -> Option<DateTime<Utc>> {
        let gap = chrono::Duration::from_std(self.cfg.min_eval_gap).unwrap_or_default();
        self.deferred
            .iter()
            .filter_map(|id| self.last_eval.get(id).map(|at| *at + gap))
            .min()
    }

    /// Takes the deferred rules whose gap has passed.
    fn due_deferred(&mut self, now: DateTime<Utc>) -> Vec<Uuid> {
        let gap = chrono::Duration::from_std(self.cfg.min_eval_gap).unwrap_or_default();
        let due: Vec<Uuid> = self
            .deferred
            .iter()
            .copied()
            .filter(|id| self.last_eval.get(id).is_none_or(|at| *at + gap <= now))
            .collect();
        for id in &due {
            self.deferred.remove(id);
        }
        due
    }

    /// Evaluates the deferred rules whose gap has passed.
    pub async fn run_deferred(&mut self, now: DateTime<Utc>) -> Result<(), DriverError> {
        let due = self.due_deferred(now);
        if due.is_empty() {
            return Ok(());
        }
        self.evaluate(now, &due).await
    }

    fn device_event(&mut self, e: DeviceEvent) {
        let r = self.topo.reach.entry(e.device_id).or_default();
        let was_down = r.down;
        r.down = e.down;
        r.down_since = e.down.then_some(e.since);
        r.last_check = Some(r.last_check.map_or(e.at, |l| l.max(e.at)));
        if was_down && !e.down {
            r.recovered_at = Some(e.at);
        }
        if e.flapping {
            self.devices_flapping.insert(e.device_id, e.clone());
            self.devices_down.remove(&e.device_id);
        } else {
            self.devices_flapping.remove(&e.device_id);
            if e.down {
                self.devices_down.insert(e.device_id, e);
            } else {
                self.devices_down.remove(&e.device_id);
            }
        }
    }

    /// Reloads rules, channels, maintenance windows and the device tree.
    pub async fn reload(&mut self, now: DateTime<Utc>) -> Result<(), DriverError> {
        let channels: HashMap<String, Uuid> = self
            .store
            .list_channels()
            .await?
            .into_iter()
            .filter(|c| c.enabled)
            .map(|c| (c.name, c.id))
            .collect();
        let ids = |names: &[String]| -> Vec<Uuid> {
            names
                .iter()
                .filter_map(|n| channels.get(n).copied())
                .collect()
        };
        let mut rules = HashMap::new();
        for r in self.store.list_alert_rules(&RuleQuery::default()).await? {
            if !r.enabled {
                continue;
            }
            let parsed = if r.builtin.is_some() {
                None
            } else {
                match rule::parse(&r.expression) {
                    Ok(p) => Some(p),
                    Err(e) => {
                        tracing::warn!(rule = %r.name, error = %e, "rule does not parse; skipped");
                        continue;
                    }
                }
            };
            self.engine
                .set_rule(r.id, parsed.as_ref().map_or(Duration::ZERO, |p| p.for_));
            let esc = r
                .escalation
                .as_ref()
                .map(|e| ids(&e.channels))
                .unwrap_or_default();
            rules.insert(
                r.id,
                Loaded {
                    channels: ids(&r.notifications),
                    escalation_channels: esc,
                    parsed,
                    scope: r
                        .device_ids
                        .as_ref()
                        .map(|d| d.iter().map(Uuid::to_string).collect()),
                    rule: r,
                },
            );
        }
        // Rules deleted or disabled: their alerts resolve.
        let gone: Vec<Uuid> = self
            .rules
            .keys()
            .filter(|id| !rules.contains_key(id))
            .copied()
            .collect();
        let mut transitions = Vec::new();
        for id in gone {
            transitions.extend(self.engine.remove_rule(id, now));
        }
        let old = std::mem::replace(&mut self.rules, rules);
        self.windows = self.store.list_maintenance().await?;
        self.load_topology().await?;
        // Resolve with the old rule definitions still at hand.
        for t in transitions {
            let loaded = old.get(&t.rule_id);
            self.apply(now, t, loaded.map(|l| (&l.rule, l.channels.clone())))
                .await?;
        }
        Ok(())
    }

    async fn load_topology(&mut self) -> Result<(), DriverError> {
        let mut devices = HashMap::new();
        let mut offset = 0;
        loop {
            let page = self
                .store
                .list_devices(&DeviceQuery {
                    limit: Some(1000),
                    offset: Some(offset),
                    ..Default::default()
                })
                .await?;
            let n = page.items.len() as u64;
            for d in page.items {
                devices.insert(
                    d.id,
                    DeviceNode {
                        name: d.name,
                        parent: d.parent_id,
                        groups: Vec::new(),
                    },
                );
            }
            offset += n;
            if n == 0 || offset >= page.total {
                break;
            }
        }
        for g in self.store.list_groups().await? {
            for d in g.device_ids {
                if let Some(n) = devices.get_mut(&d) {
                    n.groups.push(g.id);
                }
            }
        }
        self.topo.devices = devices;
        Ok(())
    }

    /// Evaluates `rule_ids` at `now` and applies the transitions.
    pub async fn evaluate(
        &mut self,
        now: DateTime<Utc>,
        rule_ids: &[Uuid],
    ) -> Result<(), DriverError> {
        let mut wrote = false;
        for id in rule_ids {
            let Some(l) = self.rules.get(id) else {
                continue;
            };
            if l.parsed.is_some() {
                self.last_eval.insert(*id, now);
                self.deferred.remove(id);
            }
            let results: Vec<(Labels, f64)> = match (&l.rule.builtin, &l.parsed) {
                (Some(b), _) => {
                    let set = if b == FLAPPING {
                        &self.devices_flapping
                    } else {
                        &self.devices_down
                    };
                    set.values()
                        .map(|e| {
                            let mut labels = Labels::from_pairs([
                                ("device", e.name.as_str()),
                                ("ip", e.ip.as_str()),
                            ]);
                            labels.insert("device_id", e.device_id.to_string());
                            (labels, if b == FLAPPING { 1.0 } else { 0.0 })
                        })
                        .collect()
                }
                (None, Some(p)) => {
                    match wardflux_tsdb::promql::eval_instant(
                        &*self.metrics,
                        &p.query,
                        now.timestamp_millis(),
                    )
                    .await
                    {
                        Ok(QueryValue::Vector(v)) => v
                            .into_iter()
                            .filter(|(key, _, _)| {
                                l.scope.as_ref().is_none_or(|s| {
                                    key.labels.get("device_id").is_some_and(|d| s.contains(d))
                                })
                            })
                            .map(|(key, _, value)| {
                                let mut labels = key.labels;
                                for (k, v) in &l.rule.labels {
                                    labels.insert(k.clone(), v.clone());
                                }
                                (labels, value)
                            })
                            .collect(),
                        Ok(_) => Vec::new(),
                        Err(e) => {
                            // A failed query must not resolve everything: skip this round.
                            tracing::warn!(rule = %l.rule.name, error = %e, "rule evaluation failed");
                            continue;
                        }
                    }
                }
                (None, None) => continue,
            };
            let transitions = self.engine.step(now, *id, results);
            for t in transitions {
                let Some(l) = self.rules.get(&t.rule_id) else {
                    continue;
                };
                let (rule, channels) = (l.rule.clone(), l.channels.clone());
                wrote |= self.apply(now, t, Some((&rule, channels))).await?;
            }
        }
        if wrote {
            self.outbox_wake.notify_one();
        }
        Ok(())
    }

    fn outbox_rows(
        &mut self,
        now: DateTime<Utc>,
        alert: &Alert,
        channels: &[Uuid],
        kind: NotificationKind,
    ) -> Vec<OutboxInput> {
        let payload = serde_json::to_value(AlertSnapshot::of(alert)).unwrap_or_default();
        channels
            .iter()
            .map(|c| {
                let slot = self.grouper.slot(&(alert.rule_id, *c, kind), now);
                OutboxInput {
                    channel_id: *c,
                    rule_id: Some(alert.rule_id),
                    kind,
                    payload: payload.clone(),
                    group_key: format!("{}:{}", alert.rule_id, slot.timestamp_millis()),
                    not_before: slot,
                    alert_ids: vec![alert.id],
                }
            })
            .collect()
    }

    /// Asks the prober to check `devices` now, each at most once per check cycle (a held
    /// alert is re-decided every tick; one probe per parent is enough for all its children).
    fn probe(&mut self, now: DateTime<Utc>, devices: &[Uuid]) {
        let Some(prober) = &self.prober else {
            return;
        };
        let cycle = chrono::Duration::from_std(self.cfg.check_cycle).unwrap_or_default();
        let due: Vec<Uuid> = devices
            .iter()
            .copied()
            .filter(|d| self.probed.get(d).is_none_or(|at| *at + cycle <= now))
            .collect();
        if due.is_empty() {
            return;
        }
        for d in &due {
            self.probed.insert(*d, now);
        }
        tracing::debug!(devices = ?due, "probing parents before deciding on their children");
        prober.probe_now(&due);
    }

    /// Decides whether a firing, not yet notified alert goes out now; sets its fields.
    fn decide_firing(
        &mut self,
        now: DateTime<Utc>,
        alert: &mut Alert,
        rule: &AlertRule,
        channels: &[Uuid],
    ) -> Vec<OutboxInput> {
        match self
            .topo
            .decide(now, alert.device_id, rule.builtin.is_some(), &self.windows)
        {
            Decision::Notify => {
                alert.suppressed_by = None;
                alert.notified_at = Some(now);
                alert.last_notified_at = Some(now);
                self.outbox_rows(now, alert, channels, NotificationKind::Firing)
            }
            Decision::Suppress(why) => {
                alert.suppressed_by = Some(why);
                Vec::new()
            }
            Decision::Hold { probe, .. } => {
                self.probe(now, &probe);
                if !probe.is_empty() {
                    tracing::debug!(alert = %alert.id, ?probe, "held until the parents are checked");
                }
                Vec::new()
            }
        }
    }

    /// Applies one transition: the alert record, the notification decision, the write.
    /// Returns whether outbox rows were written.
    async fn apply(
        &mut self,
        now: DateTime<Utc>,
        t: Transition,
        rule: Option<(&AlertRule, Vec<Uuid>)>,
    ) -> Result<bool, DriverError> {
        let Some((rule, channels)) = rule else {
            return Ok(false);
        };
        let labels = labels_map(&t.labels);
        let value = t.value.is_finite().then_some(t.value);
        let (mut alert, is_new) = match self.live.remove(&t.instance_id) {
            Some(a) => (a, false),
            None => (
                Alert::new(t.instance_id, rule, labels.clone(), t.to, t.started_at),
                true,
            ),
        };
        alert.rule.clone_from(&rule.name);
        alert.severity = rule.severity;
        alert.state = t.to;
        alert.value = value;
        alert.firing_at = t.firing_at;
        alert.message = template::render(
            rule.message.as_deref().unwrap_or(template::DEFAULT),
            &rule.name,
            &labels,
            value,
        );
        let rows = match t.to {
            AlertState::Pending => Vec::new(),
            AlertState::Firing => self.decide_firing(now, &mut alert, rule, &channels),
            AlertState::Resolved => {
                alert.resolved_at = Some(now);
                if alert.notified_at.is_some() {
                    let mut to = channels.clone();
                    if alert.escalated
                        && let Some(l) = self.rules.get(&rule.id)
                    {
                        to.extend(l.escalation_channels.iter().copied());
                    }
                    self.outbox_rows(now, &alert, &to, NotificationKind::Resolved)
                } else {
                    Vec::new()
                }
            }
        };
        let wrote = !rows.is_empty();
        let stored = self.persist(alert, is_new, &rows).await?;
        if stored.state != AlertState::Resolved {
            self.live.insert(stored.id, stored);
        }
        Ok(wrote)
    }

    /// Writes an alert; on a version conflict re-reads it, keeps the human's fields
    /// (acknowledgement, comment) and writes again.
    async fn persist(
        &mut self,
        mut alert: Alert,
        is_new: bool,
        rows: &[OutboxInput],
    ) -> Result<Alert, DriverError> {
        let expected = (!is_new).then_some(alert.version);
        match self.store.write_alert(&alert, expected, rows).await {
            Ok(a) => Ok(a),
            Err(StoreError::Conflict { field, .. }) if field == "version" => {
                let fresh = self.store.get_alert(alert.id).await?;
                alert.acknowledged = fresh.acknowledged;
                alert.acknowledged_by = fresh.acknowledged_by;
                alert.acknowledged_at = fresh.acknowledged_at;
                alert.comment = fresh.comment;
                Ok(self
                    .store
                    .write_alert(&alert, Some(fresh.version), rows)
                    .await?)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The 1 s timer: re-evaluation for `for`/staleness/`absent()`, held and suppressed
    /// alerts, escalation.
    pub async fn tick(&mut self, now: DateTime<Utc>) -> Result<(), DriverError> {
        self.ticks = self.ticks.wrapping_add(1);
        let full =
            self.cfg.full_eval_ticks > 0 && self.ticks.is_multiple_of(self.cfg.full_eval_ticks);
        let due: Vec<Uuid> = self
            .rules
            .iter()
            .filter(|(id, l)| {
                l.parsed
                    .as_ref()
                    .is_some_and(|p| full || p.uses_absent || self.engine.has_active(**id))
            })
            .map(|(id, _)| *id)
            .collect();
        self.evaluate(now, &due).await?;

        let mut wrote = false;
        let ids: Vec<Uuid> = self
            .live
            .values()
            .filter(|a| a.state == AlertState::Firing)
            .map(|a| a.id)
            .collect();
        for id in ids {
            let Some(mut alert) = self.live.get(&id).cloned() else {
                continue;
            };
            let Some(l) = self.rules.get(&alert.rule_id) else {
                continue;
            };
            let (rule, channels, esc_channels) = (
                l.rule.clone(),
                l.channels.clone(),
                l.escalation_channels.clone(),
            );
            let before = alert.clone();
            let mut rows = Vec::new();
            if alert.notified_at.is_none() {
                rows = self.decide_firing(now, &mut alert, &rule, &channels);
            } else if !alert.acknowledged
                && let (Some(policy), Some(first), Some(last)) =
                    (&rule.escalation, alert.notified_at, alert.last_notified_at)
            {
                let p = Progress {
                    notified_at: first,
                    last_notified_at: last,
                    escalated: alert.escalated,
                };
                for a in escalation::due(policy, p, now) {
                    match a {
                        Action::Repeat => {
                            rows.extend(self.outbox_rows(
                                now,
                                &alert,
                                &channels,
                                NotificationKind::Repeat,
                            ));
                            alert.escalation_step += 1;
                            alert.last_notified_at = Some(now);
                        }
                        Action::Escalate => {
                            rows.extend(self.outbox_rows(
                                now,
                                &alert,
                                &esc_channels,
                                NotificationKind::Escalation,
                            ));
                            alert.escalated = true;
                        }
                    }
                }
            }
            if alert != before {
                wrote |= !rows.is_empty();
                let stored = self.persist(alert, false, &rows).await?;
                self.live.insert(stored.id, stored);
            }
        }
        self.grouper.prune(now);
        if wrote {
            self.outbox_wake.notify_one();
        }
        Ok(())
    }
}

/// Sleeps until `at` (wall clock), or forever when there is nothing to wait for.
async fn sleep_until_utc(at: Option<DateTime<Utc>>) {
    match at {
        Some(at) => {
            let wait = (at - Utc::now()).to_std().unwrap_or_default();
            tokio::time::sleep(wait).await;
        }
        None => std::future::pending().await,
    }
}
