//! The SNMP item poller: runs each device's [`PollPlan`] (items and discovery rules, from a
//! template) as `snmp` jobs on the shared [`Scheduler`], turns the answers into samples for
//! the `MetricSink` and keeps every item's [`ItemState`].
//!
//! - Jobs are data: one job per (device, interval) group (key `poll:<seconds>s`) and one per
//!   discovery rule (key `discovery:<id>`, at the rule's interval, default 1 h). The payload
//!   is empty: the runner reads the device's plan (and keeps the state that must stay here,
//!   counter readings and discovered rows) in a per-device slot, as the ICMP monitor does; a
//!   runner elsewhere would read the plan from the store by device id. (The plan as JSON
//!   in every job's payload cost ~27 KB per device, docs/perf/polling.md.)
//!   [`SnmpPoller::apply_devices`] is a hot reload: unchanged groups
//!   keep their schedule (same job id and interval) and unchanged items keep their counter
//!   readings.
//! - Plans are shared: devices given the same [`SharedPlan`] (same templates, same macro
//!   values) hold one compiled copy of it; a scalar item's runtime is keyed by its id in the
//!   plan and its id on the device (what [`SnmpPoller::items`] reports) is derived when
//!   listed ([`SharedPlan::item_id`]).
//! - One poll of a group is one GET with every OID due (the engine splits it only on its
//!   per-PDU limit or on tooBig), plus sysUpTime when a counter is among them, so the rate
//!   uses the agent's own clock and a reboot (uptime went back) gives no sample, not a
//!   spike (`wardflux_snmp::oids::counter_rate`: Counter32 wrap, Counter64 reset). A v1
//!   agent answering noSuchName for one varbind fails the whole PDU: that OID is marked
//!   not supported and the GET is sent again without it, so one missing OID does not take
//!   the device's other items down.
//! - Discovery walks each column of a table with GETBULK (the engine adapts
//!   max-repetitions, falls back to GETNEXT, and reads out-of-order agents), on the first
//!   poll and then at the rule's interval. Rows are filtered by regex on any column and
//!   keyed by the first non-empty key label (e.g. `ifName`), so an interface whose ifIndex
//!   changed keeps its item state, its series and its labels: the index label (`ifIndex`)
//!   is a sample label only for rows keyed by their index (it is always in the item state).
//!   A counter whose OID changed with the index starts over (no rate across two
//!   interfaces).
//! - A device the caller's `reachable` says is down (ICMP) is not polled: its items turn
//!   `unreachable` and no timeouts pile up. Timeouts on a reachable device are counted per
//!   device ([`SnmpDeviceStatus::timeouts`]) and in the `wardflux_snmp_timeouts_total`
//!   counter of the `metrics` facade.
//! - Learned limits ([`DeviceLimits`]: max-repetitions, GETBULK, 64-bit counters) are
//!   readable with [`SnmpPoller::limits`] and seeded through [`PollDevice::limits`], so the
//!   binary can persist them with the device.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use regex::Regex;
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use wardflux_model::items::{
    DiscoverySpec, ItemSpec, ItemState, ItemStatus, Preprocess, ScalarIds, SharedPlan, ValueType,
};
use wardflux_model::metrics::{Labels, MetricSink, Sample};
use wardflux_snmp::oids::{CounterReading, counter_rate};
use wardflux_snmp::{
    LearnedLimits, Oid, OidCheck, SnmpClient, SnmpError, Target, Value, WalkMethod, WalkOptions,
};

use crate::scheduler::{Job, JobRunner, Scheduler};

/// The scheduler job kind of SNMP polls and walks.
pub const JOB_KIND: &str = "snmp";

/// sysUpTime.0, read with every poll that has counters.
const SYS_UPTIME: &[u32] = &[1, 3, 6, 1, 2, 1, 1, 3, 0];

/// Poller settings.
#[derive(Debug, Clone)]
pub struct SnmpPollerConfig {
    /// Discovery interval for rules that give none (0).
    pub default_discovery_interval: Duration,
    /// Most GETs one poll sends again after v1 noSuchName answers (each drops one OID).
    pub max_nosuchname_retries: usize,
}

impl Default for SnmpPollerConfig {
    fn default() -> Self {
        Self {
            default_discovery_interval: Duration::from_secs(3600),
            max_nosuchname_retries: 32,
        }
    }
}

/// One device to poll, as plain data (the caller decrypts the credential into `target`).
#[derive(Debug, Clone)]
pub struct PollDevice {
    pub device_id: Uuid,
    pub name: String,
    pub ip: IpAddr,
    /// SNMP port (161 unless the device is reached through NAT or a proxy).
    pub port: u16,
    /// Version, credentials, timeout, retries and max-repetitions; its address is replaced
    /// by `ip:port`.
    pub target: Target,
    /// The plan, shared with every device that has the same one (`Arc::new(plan.into())`
    /// for a plan of one device): the poller compiles and holds each distinct plan once.
    pub plan: Arc<SharedPlan>,
    /// Limits learned by an earlier run (persisted by the caller), applied before the
    /// device's first request. Ignored for a device already polled.
    pub limits: Option<DeviceLimits>,
}

/// What the poller learned about a device's agent; `None` fields are not known yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DeviceLimits {
    /// Max-repetitions its walks settled on after tooBig answers (`None`: the target's
    /// value works).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_repetitions: Option<u32>,
    /// Whether it answers GETBULK (false: walked with GETNEXT).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub getbulk: Option<bool>,
    /// Whether its counter items answer Counter64 (true as soon as one does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counters64: Option<bool>,
}

/// A discovery rule's last walk.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DiscoveryStatus {
    pub id: Uuid,
    pub name: String,
    /// Rows kept (after filters) by the last successful walk.
    pub rows: usize,
    pub last_run: Option<DateTime<Utc>>,
    /// Why the last walk failed (the rows of the walk before stay in use).
    pub error: Option<String>,
}

/// A device's SNMP polling status.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SnmpDeviceStatus {
    pub device_id: Uuid,
    pub name: String,
    /// Whether the last poll got an answer (`None`: not polled yet or unreachable).
    pub up: Option<bool>,
    pub last_poll: Option<DateTime<Utc>>,
    pub last_duration_seconds: Option<f64>,
    /// Requests of polls and walks that timed out, since the device was added.
    pub timeouts: u64,
    pub limits: DeviceLimits,
    pub discoveries: Vec<DiscoveryStatus>,
}

#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error("device {0} is not SNMP-polled")]
    UnknownDevice(Uuid),
}

/// A compiled row filter.
struct Filter {
    label: String,
    /// Shared by every rule with the same pattern in one apply: a template applied to
    /// 10,000 devices compiles its filter once, not 10,000 times.
    regex: Arc<Regex>,
    negate: bool,
}

/// Compiled patterns by source, for one apply.
type Regexes = HashMap<String, Arc<Regex>>;

/// A discovery rule with its OIDs parsed and regexes compiled (once per apply).
struct Disc {
    spec: DiscoverySpec,
    columns: Vec<(String, Oid)>,
    filters: Vec<Filter>,
    /// Why the rule cannot run (bad OID or regex); reported as its walk error.
    invalid: Option<String>,
}

impl Disc {
    fn compile(spec: DiscoverySpec, regexes: &mut Regexes) -> Self {
        let mut invalid = None;
        let mut columns = Vec::with_capacity(spec.columns.len());
        for (label, oid) in &spec.columns {
            match oid.parse::<Oid>() {
                Ok(o) => columns.push((label.clone(), o)),
                Err(e) => invalid = Some(format!("column {label}: {e}")),
            }
        }
        let mut filters = Vec::with_capacity(spec.filters.len());
        for f in &spec.filters {
            let compiled = match regexes.get(&f.regex) {
                Some(r) => Ok(r.clone()),
                None => Regex::new(&f.regex).map(|r| {
                    let r = Arc::new(r);
                    regexes.insert(f.regex.clone(), r.clone());
                    r
                }),
            };
            match compiled {
                Ok(regex) => filters.push(Filter {
                    label: f.label.clone(),
                    regex,
                    negate: f.negate,
                }),
                Err(e) => invalid = Some(format!("filter on {}: {e}", f.label)),
            }
        }
        Self {
            spec,
            columns,
            filters,
            invalid,
        }
    }

    /// Whether a new spec walks the same rows (so rows already walked stay valid).
    fn same_rows(&self, other: &DiscoverySpec) -> bool {
        self.spec.columns == other.columns
            && self.spec.filters == other.filters
            && self.spec.index_label == other.index_label
            && self.spec.key_labels == other.key_labels
    }
}

/// One discovered row.
#[derive(Debug, Clone)]
struct Row {
    /// Dotted index (appended to column OIDs).
    index: String,
    /// Identity across walks: the first non-empty key label's value, else the index.
    /// Shared with the keys of the row's item runtimes.
    key: Arc<str>,
    /// Column labels plus the index label (packed: one allocation for all of them).
    labels: Labels,
    /// Whether `key` is the index (then the index label is a sample label too).
    keyed_by_index: bool,
}

impl Row {
    /// Labels for this row's samples: the index label only when rows are keyed by index, so
    /// a renumbered row keyed by name keeps its series.
    fn sample_labels<'a>(
        &'a self,
        index_label: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.labels
            .iter()
            .filter(move |(k, _)| self.keyed_by_index || *k != index_label)
    }
}

#[derive(Default)]
struct DiscState {
    rows: Option<Arc<Vec<Row>>>,
    last_run: Option<DateTime<Utc>>,
    error: Option<String>,
}

/// A plan as the poller runs it: discovery rules compiled, intervals collected. One per
/// distinct [`SharedPlan`] in an apply, shared by every device that has it (10,000 devices
/// with one template hold one).
struct Compiled {
    /// [`SharedPlan::fingerprint`] of the plan it was compiled from.
    fingerprint: u64,
    /// The plan's scalar items; its discovery rules are in `discs` (not held twice).
    items: Vec<ItemSpec>,
    scalar_ids: ScalarIds,
    discs: Vec<Arc<Disc>>,
    /// The distinct intervals of the items and prototypes (one poll job each).
    intervals: Vec<u32>,
}

impl Compiled {
    fn compile(
        plan: SharedPlan,
        fingerprint: u64,
        old: &[Arc<Compiled>],
        regexes: &mut Regexes,
    ) -> Self {
        let discs = plan
            .plan
            .discoveries
            .into_iter()
            .map(|s| {
                // Keep the compiled rule when unchanged.
                old.iter()
                    .flat_map(|c| c.discs.iter())
                    .find(|x| x.spec == s)
                    .cloned()
                    .unwrap_or_else(|| Arc::new(Disc::compile(s, regexes)))
            })
            .collect();
        let mut c = Self {
            fingerprint,
            items: plan.plan.items,
            scalar_ids: plan.scalar_ids,
            discs,
            intervals: Vec::new(),
        };
        let mut intervals: Vec<u32> = c
            .all_items()
            .map(|i| i.interval_seconds)
            .filter(|s| *s > 0)
            .collect();
        intervals.sort_unstable();
        intervals.dedup();
        c.intervals = intervals;
        c
    }

    /// Whether this is what `plan` says.
    fn same_plan(&self, plan: &SharedPlan) -> bool {
        self.items == plan.plan.items
            && self.scalar_ids == plan.scalar_ids
            && self.discs.len() == plan.plan.discoveries.len()
            && self
                .discs
                .iter()
                .zip(&plan.plan.discoveries)
                .all(|(d, s)| d.spec == *s)
    }

    /// Every item and prototype.
    fn all_items(&self) -> impl Iterator<Item = &ItemSpec> {
        self.items
            .iter()
            .chain(self.discs.iter().flat_map(|d| d.spec.prototypes.iter()))
    }

    /// The id on `device_id` of scalar item number `index` (the API's `item_id`; the
    /// poller keys the item's runtime by the id in the plan).
    fn item_id(&self, index: usize, device_id: Uuid) -> Uuid {
        let item = &self.items[index];
        match &self.scalar_ids {
            ScalarIds::AsWritten => item.id,
            ScalarIds::Derived(templates) => {
                wardflux_model::scalar_item_id(templates[index], device_id, &item.key)
            }
        }
    }
}

/// A device's configuration as of the last apply.
struct DeviceCfg {
    name: String,
    ip: IpAddr,
    target: Target,
    plan: Arc<Compiled>,
}

/// An item's runtime: what its last poll said and, for counters, the last reading. What the
/// plan and the row already hold (key, name, OID, value type, row labels) is not copied here:
/// [`SnmpPoller::items`] joins them when listing. 210,000 items (10,000 devices) held a full
/// [`ItemState`] each before, about 1.2 KB with its strings and label map; this is ~100 bytes.
struct ItemRt {
    status: ItemStatus,
    /// Shared by every item a poll failed for in the same way (a timeout: all of them).
    error: Option<Arc<str>>,
    last: LastValue,
    polled: Option<DateTime<Utc>>,
    prev: Option<Prev>,
}

impl ItemRt {
    const fn new() -> Self {
        Self {
            status: ItemStatus::Pending,
            error: None,
            last: LastValue::None,
            polled: None,
            prev: None,
        }
    }
}

/// An item's last value: a number written or a text read.
enum LastValue {
    None,
    Number(f64),
    Text(Box<str>),
}

/// A counter's last reading, compact: the OID it was read from by its hash (so a
/// renumbered row does not compute a rate across two interfaces), the raw counter and
/// its width, the agent's uptime and the local time.
#[derive(Clone, Copy)]
struct Prev {
    oid: u64,
    value: u64,
    wide: bool,
    uptime_ticks: Option<u32>,
    at_secs: f64,
}

impl Prev {
    fn of(oid: &Oid, r: &CounterReading) -> Option<Self> {
        let (value, wide) = match r.value {
            Value::Counter32(v) => (u64::from(v), false),
            Value::Counter64(v) => (v, true),
            _ => return None,
        };
        Some(Self {
            oid: oid_hash(oid),
            value,
            wide,
            uptime_ticks: r.uptime_ticks,
            at_secs: r.at_secs,
        })
    }

    fn reading(&self) -> CounterReading {
        CounterReading {
            value: if self.wide {
                Value::Counter64(self.value)
            } else {
                // built from a Counter32 only
                Value::Counter32(u32::try_from(self.value).unwrap_or(u32::MAX))
            },
            uptime_ticks: self.uptime_ticks,
            at_secs: self.at_secs,
        }
    }
}

/// A stable (per process) 64-bit hash of an OID.
fn oid_hash(oid: &Oid) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    oid.hash(&mut h);
    h.finish()
}

/// An item runtime's key: item (or prototype) id and, for a discovered item, its row's key.
type ItemKey = (Uuid, Option<Arc<str>>);

/// A device's item runtimes, sorted by key in a vector sized to fit: 19 items take 19
/// entries (2.4 KB), where a hash map took 32 buckets (4.1 KB).
#[derive(Default)]
struct ItemRts(Vec<(ItemKey, ItemRt)>);

impl ItemRts {
    fn get(&self, key: &ItemKey) -> Option<&ItemRt> {
        let i = self.0.binary_search_by(|(k, _)| k.cmp(key)).ok()?;
        Some(&self.0[i].1)
    }

    /// The runtime of `key`, added (pending) if missing. Call [`ItemRts::fit`] after adding.
    fn get_or_add(&mut self, key: ItemKey) -> &mut ItemRt {
        let i = match self.0.binary_search_by(|(k, _)| k.cmp(&key)) {
            Ok(i) => i,
            Err(i) => {
                self.0.insert(i, (key, ItemRt::new()));
                i
            }
        };
        &mut self.0[i].1
    }

    /// Gives back what growing left unused.
    fn fit(&mut self) {
        if self.0.capacity() > self.0.len() {
            self.0.shrink_to_fit();
        }
    }

    fn retain(&mut self, mut keep: impl FnMut(&ItemKey, &mut ItemRt) -> bool) {
        self.0.retain_mut(|(k, v)| keep(k, v));
        self.fit();
    }

    fn iter(&self) -> impl Iterator<Item = (&ItemKey, &ItemRt)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    fn iter_mut(&mut self) -> impl Iterator<Item = (&ItemKey, &mut ItemRt)> {
        self.0.iter_mut().map(|(k, v)| (&*k, v))
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}

#[derive(Default)]
struct LastPoll {
    up: Option<bool>,
    at: Option<DateTime<Utc>>,
    duration: Option<f64>,
}

/// Per-device slot. The std mutexes are held for a few field updates, never across an
/// await.
struct Slot {
    device_id: Uuid,
    cfg: Mutex<Arc<DeviceCfg>>,
    /// Discovery id -> last walk.
    discs: Mutex<HashMap<Uuid, DiscState>>,
    /// (item or prototype id, row key) -> runtime.
    items: Mutex<ItemRts>,
    /// Limits to seed into the engine before the first request (taken once).
    seed: Mutex<Option<DeviceLimits>>,
    counters64: Mutex<Option<bool>>,
    last: Mutex<LastPoll>,
    timeouts: AtomicU64,
    /// Serialises this device's polls and walks (its groups, its discovery jobs and
    /// `poll_now`), so counter readings and rows change in one order and the device sees
    /// one request at a time from us. A tokio mutex: it is held across the requests.
    busy: tokio::sync::Mutex<()>,
}

type Reachable = Arc<dyn Fn(Uuid) -> bool + Send + Sync>;

/// Shared by the poller handle and every run (Arc): the device map sits under a std
/// mutex, locked only to look up or replace slots.
struct Inner {
    /// Lets a run (started from `&self` by the scheduler) own the poller while it awaits.
    me: std::sync::Weak<Inner>,
    client: SnmpClient,
    sink: Arc<dyn MetricSink>,
    reachable: Reachable,
    cfg: SnmpPollerConfig,
    devices: Mutex<HashMap<Uuid, Arc<Slot>>>,
    m_timeouts: metrics::Counter,
}

/// The SNMP item poller. Cheap to clone.
#[derive(Clone)]
pub struct SnmpPoller {
    inner: Arc<Inner>,
    scheduler: Scheduler,
}

/// Which items a poll reads.
#[derive(Clone, Copy)]
enum Due {
    /// Items with this interval (a scheduled group).
    Interval(u32),
    /// Every item of the device (`poll_now`).
    All,
}

impl Due {
    fn covers(self, item: &ItemSpec) -> bool {
        match self {
            Due::Interval(s) => item.interval_seconds == s,
            Due::All => item.interval_seconds > 0,
        }
    }
}

impl JobRunner for Inner {
    fn run(&self, job: &Job) -> BoxFuture<'static, ()> {
        let slot = lock(&self.devices).get(&job.id.device_id).cloned();
        let this = self.me.upgrade();
        let key = job.id.key.clone();
        Box::pin(async move {
            let (Some(slot), Some(inner)) = (slot, this) else {
                return;
            };
            if let Some(secs) = key
                .strip_prefix("poll:")
                .and_then(|s| s.strip_suffix('s'))
                .and_then(|s| s.parse().ok())
            {
                inner.poll(&slot, Due::Interval(secs), false).await;
            } else if let Some(id) = key
                .strip_prefix("discovery:")
                .and_then(|s| s.parse::<Uuid>().ok())
            {
                inner.rediscover(&slot, id).await;
            }
        })
    }
}

impl SnmpPoller {
    /// Creates an idle poller whose polls are `snmp` jobs on a shared scheduler.
    /// `reachable(device_id)` says whether a device may be polled (the binary answers from
    /// the ICMP monitor: not down).
    pub fn on(
        scheduler: &Scheduler,
        client: SnmpClient,
        sink: Arc<dyn MetricSink>,
        reachable: Arc<dyn Fn(Uuid) -> bool + Send + Sync>,
        config: SnmpPollerConfig,
    ) -> Self {
        let inner = Arc::new_cyclic(|me| Inner {
            me: me.clone(),
            client,
            sink,
            reachable,
            cfg: config,
            devices: Mutex::new(HashMap::new()),
            m_timeouts: metrics::counter!("wardflux_snmp_timeouts_total"),
        });
        scheduler.register(JOB_KIND, inner.clone());
        Self {
            inner,
            scheduler: scheduler.clone(),
        }
    }

    /// Replaces the polled device set (hot reload). Known devices keep their item states,
    /// counter readings and discovered rows (rows are walked again when the rule's columns,
    /// filters or keys changed, or the device's address or credentials did); items no
    /// longer in a plan are dropped; missing devices are dropped.
    pub fn apply_devices(&self, devices: Vec<PollDevice>) {
        let mut jobs = Vec::new();
        {
            let mut map = lock(&self.inner.devices);
            let mut next = HashMap::with_capacity(devices.len());
            let mut regexes = Regexes::new();
            // The compiled plans in use, each once, by fingerprint: an unchanged plan is kept,
            // not compiled again; plans compiled in this apply join them.
            let mut plans: HashMap<u64, Vec<Arc<Compiled>>> = HashMap::new();
            for slot in map.values() {
                let c = lock(&slot.cfg).plan.clone();
                let same = plans.entry(c.fingerprint).or_default();
                if !same.iter().any(|o| Arc::ptr_eq(o, &c)) {
                    same.push(c);
                }
            }
            let old_plans: Vec<Arc<Compiled>> = plans.values().flatten().cloned().collect();
            // Plans given by address (the `Arc` is held in the value, so an address is not
            // reused while the map lives).
            let mut given: HashMap<*const SharedPlan, (Arc<SharedPlan>, Arc<Compiled>)> =
                HashMap::new();
            for d in devices {
                let mut target = d.target;
                target.addr = SocketAddr::new(d.ip, d.port);
                let plan = match given.get(&Arc::as_ptr(&d.plan)) {
                    Some((_, c)) => c.clone(),
                    None => {
                        // An equal plan in use or compiled in this apply (a caller that gives
                        // each device its own copy still gets one compiled plan per content).
                        let print = d.plan.fingerprint();
                        let same = plans.entry(print).or_default();
                        let c = match same.iter().find(|o| o.same_plan(&d.plan)) {
                            Some(o) => o.clone(),
                            None => {
                                let p = SharedPlan::clone(&d.plan);
                                let c =
                                    Arc::new(Compiled::compile(p, print, &old_plans, &mut regexes));
                                same.push(c.clone());
                                c
                            }
                        };
                        given.insert(Arc::as_ptr(&d.plan), (d.plan.clone(), c.clone()));
                        c
                    }
                };
                drop(d.plan);
                let old = map.remove(&d.device_id);
                // An unchanged device (the periodic reload, mostly) keeps its configuration:
                // the new copy is dropped now, not held beside the old one.
                if let Some(slot) = old.as_ref().filter(|o| {
                    let c = lock(&o.cfg);
                    c.name == d.name
                        && c.ip == d.ip
                        && c.target == target
                        && Arc::ptr_eq(&c.plan, &plan)
                }) {
                    let cfg = lock(&slot.cfg).clone();
                    jobs.extend(jobs_for(d.device_id, &cfg, &self.inner.cfg));
                    next.insert(d.device_id, slot.clone());
                    continue;
                }
                let cfg = Arc::new(DeviceCfg {
                    name: d.name,
                    ip: d.ip,
                    target,
                    plan,
                });
                jobs.extend(jobs_for(d.device_id, &cfg, &self.inner.cfg));
                let slot = match old {
                    Some(slot) => {
                        reconcile(&slot, &cfg);
                        *lock(&slot.cfg) = cfg;
                        slot
                    }
                    None => Arc::new(Slot {
                        device_id: d.device_id,
                        cfg: Mutex::new(cfg),
                        discs: Mutex::new(HashMap::new()),
                        items: Mutex::new(ItemRts::default()),
                        seed: Mutex::new(d.limits),
                        counters64: Mutex::new(d.limits.and_then(|l| l.counters64)),
                        last: Mutex::new(LastPoll::default()),
                        timeouts: AtomicU64::new(0),
                        busy: tokio::sync::Mutex::new(()),
                    }),
                };
                next.insert(d.device_id, slot);
            }
            *map = next;
        }
        self.scheduler.apply(JOB_KIND, jobs);
    }

    /// Item states, of one device or of all, sorted by device, key and row labels.
    pub fn items(&self, device_id: Option<Uuid>) -> Vec<ItemState> {
        let slots: Vec<Arc<Slot>> = {
            let map = lock(&self.inner.devices);
            match device_id {
                Some(id) => map.get(&id).cloned().into_iter().collect(),
                None => map.values().cloned().collect(),
            }
        };
        let mut out: Vec<ItemState> = slots.iter().flat_map(|s| states_of(s)).collect();
        out.sort_by(|a, b| (a.device_id, &a.key, &a.labels).cmp(&(b.device_id, &b.key, &b.labels)));
        out
    }

    /// Polls every item of a device now (discovering its tables first if they were never
    /// walked), writes the samples like a scheduled poll, and returns the device's item
    /// states. Counters need a previous reading for a rate: their first poll returns no
    /// value. Runs even when `reachable` says the device is down (an explicit request).
    pub async fn poll_now(&self, device_id: Uuid) -> Result<Vec<ItemState>, PollError> {
        let slot = lock(&self.inner.devices)
            .get(&device_id)
            .cloned()
            .ok_or(PollError::UnknownDevice(device_id))?;
        self.inner.poll(&slot, Due::All, true).await;
        Ok(self.items(Some(device_id)))
    }

    /// What was learned about a device's agent (`None` for an unknown device).
    pub fn limits(&self, device_id: Uuid) -> Option<DeviceLimits> {
        let slot = lock(&self.inner.devices).get(&device_id).cloned()?;
        Some(self.inner.limits_of(&slot))
    }

    /// A device's polling status (`None` for an unknown device).
    pub fn status(&self, device_id: Uuid) -> Option<SnmpDeviceStatus> {
        let slot = lock(&self.inner.devices).get(&device_id).cloned()?;
        let cfg = lock(&slot.cfg).clone();
        let last = lock(&slot.last);
        let discs = lock(&slot.discs);
        Some(SnmpDeviceStatus {
            device_id,
            name: cfg.name.clone(),
            up: last.up,
            last_poll: last.at,
            last_duration_seconds: last.duration,
            timeouts: slot.timeouts.load(Ordering::Relaxed),
            limits: self.inner.limits_of(&slot),
            discoveries: cfg
                .plan
                .discs
                .iter()
                .map(|d| {
                    let st = discs.get(&d.spec.id);
                    DiscoveryStatus {
                        id: d.spec.id,
                        name: d.spec.name.clone(),
                        rows: st.and_then(|s| s.rows.as_ref()).map_or(0, |r| r.len()),
                        last_run: st.and_then(|s| s.last_run),
                        error: st.and_then(|s| s.error.clone()),
                    }
                })
                .collect(),
        })
    }

    /// Scheduler counters (runs, skipped polls, lag) of the scheduler this poller is on.
    pub fn scheduler_stats(&self) -> crate::scheduler::StatsSnapshot {
        self.scheduler.stats()
    }
}

/// A device's item states: each runtime joined with its spec and row.
fn states_of(slot: &Slot) -> Vec<ItemState> {
    let cfg = lock(&slot.cfg).clone();
    let rows: HashMap<Uuid, Arc<Vec<Row>>> = lock(&slot.discs)
        .iter()
        .filter_map(|(id, d)| Some((*id, d.rows.clone()?)))
        .collect();
    // id in the plan -> (spec, its rule, its id on this device)
    let mut specs: HashMap<Uuid, (&ItemSpec, Option<&Disc>, Uuid)> = HashMap::new();
    for (i, spec) in cfg.plan.items.iter().enumerate() {
        specs.insert(spec.id, (spec, None, cfg.plan.item_id(i, slot.device_id)));
    }
    for disc in &cfg.plan.discs {
        for spec in &disc.spec.prototypes {
            specs.insert(spec.id, (spec, Some(&**disc), spec.id));
        }
    }
    let items = lock(&slot.items);
    let mut out = Vec::with_capacity(items.len());
    for ((id, row_key), rt) in items.iter() {
        let Some(&(spec, disc, item_id)) = specs.get(id) else {
            continue;
        };
        let row = match (disc, row_key) {
            (Some(d), Some(k)) => rows
                .get(&d.spec.id)
                .and_then(|r| r.iter().find(|r| r.key == *k)),
            _ => None,
        };
        let (oid, labels) = match row {
            Some(r) => (
                format!("{}.{}", spec.oid.trim_end_matches('.'), r.index),
                r.labels
                    .iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect(),
            ),
            None => (spec.oid.clone(), BTreeMap::new()),
        };
        out.push(ItemState {
            item_id,
            device_id: slot.device_id,
            key: spec.key.clone(),
            name: spec.name.clone(),
            oid,
            value_type: spec.value_type,
            labels,
            status: rt.status,
            error: rt.error.as_deref().map(str::to_owned),
            last_value: match &rt.last {
                LastValue::None => None,
                LastValue::Number(v) => {
                    serde_json::Number::from_f64(*v).map(serde_json::Value::Number)
                }
                LastValue::Text(t) => Some(serde_json::Value::String(t.to_string())),
            },
            last_polled: rt.polled,
        });
    }
    out
}

/// The jobs of one device: a poll per interval group, a walk per discovery rule.
fn jobs_for(device_id: Uuid, cfg: &DeviceCfg, pc: &SnmpPollerConfig) -> Vec<Job> {
    let plan = &cfg.plan;
    let mut jobs = Vec::with_capacity(plan.intervals.len() + plan.discs.len());
    for &secs in &plan.intervals {
        let mut job = Job::new(JOB_KIND, device_id, Duration::from_secs(u64::from(secs)));
        job.id.key = format!("poll:{secs}s");
        jobs.push(job);
    }
    for d in plan.discs.iter().map(|d| &d.spec) {
        if d.prototypes.is_empty() {
            continue;
        }
        let interval = if d.interval_seconds == 0 {
            pc.default_discovery_interval
        } else {
            Duration::from_secs(u64::from(d.interval_seconds))
        };
        let mut job = Job::new(JOB_KIND, device_id, interval);
        job.id.key = format!("discovery:{}", d.id);
        jobs.push(job);
    }
    jobs
}

/// Brings a known device's runtime in line with its new configuration.
fn reconcile(slot: &Slot, new: &DeviceCfg) {
    let old = lock(&slot.cfg).clone();
    let target_changed = old.target != new.target;
    {
        let mut discs = lock(&slot.discs);
        discs.retain(|id, _| {
            let Some(spec) = new.plan.discs.iter().map(|d| &d.spec).find(|d| d.id == *id) else {
                return false;
            };
            let same = old
                .plan
                .discs
                .iter()
                .find(|d| d.spec.id == *id)
                .is_some_and(|d| d.same_rows(spec));
            same && !target_changed
        });
    }
    // Items keep their state when their id is still in the plan and they read the same
    // way; a changed OID or value type starts the counter over.
    let specs: HashMap<Uuid, &ItemSpec> = new.plan.all_items().map(|i| (i.id, i)).collect();
    lock(&slot.items).retain(|(id, _), rt| match specs.get(id) {
        None => false,
        Some(spec) => {
            // a counter's reading is of no use to another value type (and a counter
            // whose OID changed starts over at its next poll: the OID hash differs)
            if spec.value_type != ValueType::Counter {
                rt.prev = None;
            }
            true
        }
    });
}

/// One OID to read in a poll.
struct Want<'a> {
    spec: &'a ItemSpec,
    /// The rule and row of a discovered item.
    row: Option<(&'a Arc<Disc>, &'a Row)>,
    oid: Result<Oid, String>,
}

impl Want<'_> {
    fn key(&self) -> ItemKey {
        (self.spec.id, self.row.map(|(_, r)| r.key.clone()))
    }

    fn row_key(&self) -> Option<&str> {
        self.row.map(|(_, r)| &*r.key)
    }
}

/// The outcome of one item in a poll.
struct Outcome {
    status: ItemStatus,
    error: Option<Arc<str>>,
    /// The number after rate and multiplier (before preprocess).
    base: Option<f64>,
    text: Option<String>,
    reading: Option<(Oid, CounterReading)>,
}

impl Outcome {
    fn fail(status: ItemStatus, error: impl Into<Arc<str>>) -> Self {
        Self {
            status,
            error: Some(error.into()),
            base: None,
            text: None,
            reading: None,
        }
    }
}

impl Inner {
    fn limits_of(&self, slot: &Slot) -> DeviceLimits {
        let cfg = lock(&slot.cfg).clone();
        let seeded = *lock(&slot.seed);
        let learned = self.client.learned_limits(&cfg.target);
        DeviceLimits {
            max_repetitions: learned
                .and_then(|l| l.max_repetitions)
                .or(seeded.and_then(|s| s.max_repetitions)),
            getbulk: learned
                .map(|l| l.getbulk)
                .or(seeded.and_then(|s| s.getbulk)),
            counters64: *lock(&slot.counters64),
        }
    }

    /// Hands limits learned by an earlier run to the engine, once, before the first request.
    async fn seed_engine(&self, slot: &Slot, target: &Target) {
        let seed = lock(&slot.seed).take();
        if let Some(l) = seed {
            let learned = LearnedLimits {
                max_repetitions: l.max_repetitions,
                getbulk: l.getbulk.unwrap_or(true),
            };
            if let Err(e) = self.client.seed_limits(target, learned).await {
                tracing::warn!(device_id = %slot.device_id, error = %e, "SNMP limits not seeded");
            }
        }
    }

    fn count_timeout(&self, slot: &Slot) {
        slot.timeouts.fetch_add(1, Ordering::Relaxed);
        self.m_timeouts.increment(1);
    }

    /// The discovery job: walks the rule's table again.
    async fn rediscover(&self, slot: &Slot, id: Uuid) {
        let cfg = lock(&slot.cfg).clone();
        let Some(disc) = cfg.plan.discs.iter().find(|d| d.spec.id == id).cloned() else {
            return;
        };
        if !(self.reachable)(slot.device_id) {
            return;
        }
        let _busy = slot.busy.lock().await;
        self.seed_engine(slot, &cfg.target).await;
        let _ = self.discover(slot, &cfg, &disc).await;
    }

    /// Walks a rule's columns and stores the rows the filters keep (under `busy`). A failed
    /// walk keeps the previous rows: a timeout is not an empty table.
    async fn discover(
        &self,
        slot: &Slot,
        cfg: &DeviceCfg,
        disc: &Disc,
    ) -> Result<Arc<Vec<Row>>, String> {
        let now = Utc::now();
        let result = self.walk_rows(cfg, disc).await;
        let mut discs = lock(&slot.discs);
        let st = discs.entry(disc.spec.id).or_default();
        st.last_run = Some(now);
        match result {
            Ok(rows) => {
                let rows = Arc::new(rows);
                st.rows = Some(rows.clone());
                st.error = None;
                drop(discs);
                // Rows that vanished take their items with them.
                let keys: HashSet<&str> = rows.iter().map(|r| &*r.key).collect();
                let protos: HashSet<Uuid> = disc.spec.prototypes.iter().map(|p| p.id).collect();
                lock(&slot.items).retain(|(id, key), _| {
                    !protos.contains(id) || key.as_deref().is_some_and(|k| keys.contains(k))
                });
                Ok(rows)
            }
            Err(e) => {
                if matches!(e, SnmpError::Timeout { .. }) {
                    self.count_timeout(slot);
                }
                let msg = e.to_string();
                tracing::warn!(device = %cfg.name, rule = %disc.spec.name, error = %msg, "SNMP discovery failed");
                st.error = Some(msg.clone());
                match &st.rows {
                    Some(rows) => Ok(rows.clone()),
                    None => Err(msg),
                }
            }
        }
    }

    async fn walk_rows(&self, cfg: &DeviceCfg, disc: &Disc) -> Result<Vec<Row>, SnmpError> {
        if let Some(e) = &disc.invalid {
            return Err(SnmpError::Config(e.clone()));
        }
        let opts = WalkOptions {
            method: WalkMethod::GetBulk,
            oid_check: OidCheck::Unchecked,
        };
        // Without label columns, the first prototype's column lists the rows.
        let mut columns = disc.columns.clone();
        if columns.is_empty()
            && let Some(p) = disc.spec.prototypes.first()
        {
            let oid = p
                .oid
                .parse::<Oid>()
                .map_err(|e| SnmpError::Config(e.to_string()))?;
            columns.push((String::new(), oid));
        }
        let mut table: BTreeMap<Vec<u32>, BTreeMap<String, String>> = BTreeMap::new();
        for (label, col) in &columns {
            let n = col.len();
            self.client
                .walk_with(&cfg.target, col, opts, |vb| {
                    if vb.value.is_exception() || vb.oid.len() <= n {
                        return;
                    }
                    let row = table.entry(vb.oid.arcs()[n..].to_vec()).or_default();
                    if !label.is_empty() {
                        row.insert(label.clone(), value_text(&vb.value));
                    }
                })
                .await?;
        }
        let mut rows = Vec::with_capacity(table.len());
        let mut seen: HashSet<String> = HashSet::new();
        for (index, mut labels) in table {
            let index = index
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(".");
            labels.insert(disc.spec.index_label.clone(), index.clone());
            let keep = disc.filters.iter().all(|f| {
                let v = labels.get(&f.label).map_or("", String::as_str);
                f.regex.is_match(v) != f.negate
            });
            if !keep {
                continue;
            }
            let named = disc
                .spec
                .key_labels
                .iter()
                .filter(|l| **l != disc.spec.index_label)
                .find_map(|l| labels.get(l).filter(|v| !v.is_empty()).cloned());
            let (mut key, keyed_by_index) = match named {
                Some(v) => (v, false),
                None => (index.clone(), true),
            };
            if !seen.insert(key.clone()) {
                // Two rows with one name: the later one is told apart by its index.
                key = format!("{key}#{index}");
                seen.insert(key.clone());
            }
            rows.push(Row {
                index,
                key: key.into(),
                labels: Labels::from_pairs(labels),
                keyed_by_index,
            });
        }
        Ok(rows)
    }

    /// One poll of a device: the items `due` selects, in one GET.
    async fn poll(&self, slot: &Slot, due: Due, forced: bool) {
        let cfg = lock(&slot.cfg).clone();
        if !forced && !(self.reachable)(slot.device_id) {
            self.mark_unreachable(slot, &cfg, due);
            return;
        }
        let _busy = slot.busy.lock().await;
        let started = Utc::now();
        let clock = tokio::time::Instant::now();
        self.seed_engine(slot, &cfg.target).await;

        // (rule, its prototypes due now, its rows)
        type Table<'a> = (&'a Arc<Disc>, Vec<&'a ItemSpec>, Arc<Vec<Row>>);
        let mut tables: Vec<Table> = Vec::new();
        for disc in &cfg.plan.discs {
            let protos: Vec<&ItemSpec> = disc
                .spec
                .prototypes
                .iter()
                .filter(|i| due.covers(i))
                .collect();
            if protos.is_empty() {
                continue;
            }
            let known = lock(&slot.discs)
                .get(&disc.spec.id)
                .and_then(|s| s.rows.clone());
            let rows = match known {
                Some(rows) => rows,
                None => match self.discover(slot, &cfg, disc).await {
                    Ok(rows) => rows,
                    Err(_) => continue,
                },
            };
            tables.push((disc, protos, rows));
        }
        let mut wants: Vec<Want> = Vec::new();
        for spec in cfg.plan.items.iter().filter(|i| due.covers(i)) {
            wants.push(Want {
                spec,
                row: None,
                oid: spec.oid.parse::<Oid>().map_err(|e| e.to_string()),
            });
        }
        for (disc, protos, rows) in &tables {
            for row in rows.iter() {
                for spec in protos {
                    let oid = format!("{}.{}", spec.oid.trim_end_matches('.'), row.index);
                    wants.push(Want {
                        spec,
                        row: Some((disc, row)),
                        oid: oid.parse::<Oid>().map_err(|e| e.to_string()),
                    });
                }
            }
        }
        if wants.is_empty() {
            return;
        }

        let uptime_oid = Oid::from_arcs(SYS_UPTIME);
        let mut oids: Vec<Oid> = Vec::with_capacity(wants.len() + 1);
        let mut seen: HashSet<&Oid> = HashSet::new();
        for w in &wants {
            if let Ok(o) = &w.oid
                && seen.insert(o)
            {
                oids.push(o.clone());
            }
        }
        let has_counters = wants
            .iter()
            .any(|w| w.spec.value_type == ValueType::Counter);
        if has_counters && !seen.contains(&uptime_oid) {
            oids.push(uptime_oid.clone());
        }
        drop(seen);

        // One GET; v1 noSuchName drops the named OID and asks again.
        let mut missing: HashMap<Oid, String> = HashMap::new();
        let mut retries = 0;
        let answer: Result<HashMap<Oid, Value>, SnmpError> = loop {
            if oids.is_empty() {
                break Ok(HashMap::new());
            }
            match self.client.get(&cfg.target, &oids).await {
                Ok(vbs) => break Ok(vbs.into_iter().map(|vb| (vb.oid, vb.value)).collect()),
                Err(SnmpError::ErrorStatus {
                    status: 2,
                    index,
                    oid,
                    ..
                }) if retries < self.cfg.max_nosuchname_retries => {
                    let bad = oid.map(|o| *o).or_else(|| {
                        usize::try_from(index)
                            .ok()
                            .and_then(|i| i.checked_sub(1))
                            .and_then(|i| oids.get(i).cloned())
                    });
                    let Some(bad) = bad.filter(|b| oids.contains(b)) else {
                        break Err(SnmpError::Protocol(
                            "noSuchName without a usable error index".into(),
                        ));
                    };
                    oids.retain(|o| *o != bad);
                    missing.insert(bad, "noSuchName".into());
                    retries += 1;
                }
                Err(e) => break Err(e),
            }
        };
        let elapsed = clock.elapsed().as_secs_f64();

        let outcomes: Vec<Outcome> = match &answer {
            Err(e) => {
                let status = if matches!(e, SnmpError::Timeout { .. }) {
                    self.count_timeout(slot);
                    ItemStatus::Timeout
                } else {
                    ItemStatus::Error
                };
                let msg: Arc<str> = e.to_string().into();
                wants
                    .iter()
                    .map(|_| Outcome::fail(status, msg.clone()))
                    .collect()
            }
            Ok(values) => {
                let uptime = match values.get(&uptime_oid) {
                    Some(Value::TimeTicks(t)) => Some(*t),
                    _ => None,
                };
                let at_secs = started.timestamp_millis() as f64 / 1000.0;
                let prevs = lock(&slot.items);
                let outs = wants
                    .iter()
                    .map(|w| {
                        let prev = prevs.get(&w.key()).and_then(|r| r.prev);
                        evaluate(w, values, &missing, prev, uptime, at_secs)
                    })
                    .collect();
                drop(prevs);
                outs
            }
        };

        // 64-bit counters present?
        if answer.is_ok() {
            let readings: Vec<&Value> = outcomes
                .iter()
                .filter_map(|o| o.reading.as_ref().map(|(_, r)| &r.value))
                .collect();
            if !readings.is_empty() {
                let any64 = readings.iter().any(|v| matches!(v, Value::Counter64(_)));
                let mut c = lock(&slot.counters64);
                if any64 || c.is_none() {
                    *c = Some(any64 || c.unwrap_or(false));
                }
            }
        }

        // Preprocess: the other item of the same row (or among the scalars), same poll.
        let mut by_key: HashMap<(Option<&str>, &str), usize> = HashMap::new();
        for (i, w) in wants.iter().enumerate() {
            by_key.insert((w.row_key(), w.spec.key.as_str()), i);
        }
        let mut finals: Vec<Option<f64>> = Vec::with_capacity(wants.len());
        let mut errors: Vec<Option<Arc<str>>> = vec![None; wants.len()];
        for (i, w) in wants.iter().enumerate() {
            let o = &outcomes[i];
            let Some(this) = o.base else {
                finals.push(None);
                continue;
            };
            let Some(pp) = &w.spec.preprocess else {
                finals.push(Some(this));
                continue;
            };
            let other = match pp.other() {
                None => None,
                Some(k) => match by_key.get(&(w.row_key(), k)) {
                    Some(j) if outcomes[*j].status == ItemStatus::Ok => match outcomes[*j].base {
                        Some(v) => Some(v),
                        // e.g. a counter's first poll: nothing to combine yet
                        None => {
                            finals.push(None);
                            continue;
                        }
                    },
                    _ => {
                        errors[i] = Some(
                            format!(
                                "preprocess {:?} reads `{k}`, which has no value in this poll",
                                pp
                            )
                            .into(),
                        );
                        finals.push(None);
                        continue;
                    }
                },
            };
            finals.push(preprocess(pp, this, other));
        }

        // Samples.
        let ts = started.timestamp_millis();
        let (device_id, ip) = (slot.device_id.to_string(), cfg.ip.to_string());
        let identity = [
            ("device", cfg.name.as_str()),
            ("device_id", device_id.as_str()),
            ("ip", ip.as_str()),
        ];
        let scalar_labels = Labels::from_pairs(identity);
        // Each row's label set is packed once per poll, not once per item.
        let mut row_labels: HashMap<(Uuid, &str), Labels> = HashMap::new();
        let mut batch = Vec::with_capacity(wants.len() + 2);
        for (i, w) in wants.iter().enumerate() {
            let Some(value) = finals[i] else { continue };
            if !w.spec.value_type.is_numeric() || errors[i].is_some() {
                continue;
            }
            let base =
                match w.row {
                    None => &scalar_labels,
                    Some((disc, row)) => row_labels
                        .entry((disc.spec.id, &*row.key))
                        .or_insert_with(|| {
                            Labels::from_pairs(
                                identity
                                    .into_iter()
                                    .chain(row.sample_labels(&disc.spec.index_label)),
                            )
                        }),
                };
            let labels = if w.spec.labels.is_empty() {
                base.clone()
            } else {
                // identity, then the item's labels, then the row's: later ones win
                let row = w
                    .row
                    .into_iter()
                    .flat_map(|(disc, row)| row.sample_labels(&disc.spec.index_label));
                Labels::from_pairs(
                    identity
                        .into_iter()
                        .chain(w.spec.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                        .chain(row),
                )
            };
            batch.push(Sample {
                metric: w.spec.key.clone(),
                labels,
                timestamp_ms: ts,
                value,
            });
        }
        let up = answer.is_ok();
        for (metric, value) in [
            ("snmp_up", if up { 1.0 } else { 0.0 }),
            ("snmp_poll_duration_seconds", elapsed),
        ] {
            batch.push(Sample {
                metric: metric.to_owned(),
                labels: scalar_labels.clone(),
                timestamp_ms: ts,
                value,
            });
        }

        // States.
        {
            let mut items = lock(&slot.items);
            for (i, (w, o)) in wants.iter().zip(outcomes).enumerate() {
                let rt = items.get_or_add(w.key());
                let (status, error) = match errors[i].take() {
                    Some(e) => (ItemStatus::Error, Some(e)),
                    None => (o.status, o.error),
                };
                rt.status = status;
                rt.error = error;
                rt.polled = Some(started);
                if let Some(v) = finals[i] {
                    rt.last = LastValue::Number(v);
                } else if let Some(t) = o.text {
                    rt.last = LastValue::Text(t.into());
                }
                if o.reading.is_some() || answer.is_ok() {
                    // A fresh reading replaces the last; an answered poll without one
                    // (not supported, reboot) clears it. A timeout keeps it.
                    rt.prev = o.reading.as_ref().and_then(|(oid, r)| Prev::of(oid, r));
                }
            }
            items.fit();
        }
        {
            let mut last = lock(&slot.last);
            last.up = Some(up);
            last.at = Some(started);
            last.duration = Some(elapsed);
        }
        if let Err(e) = self.sink.append(batch).await {
            tracing::warn!(device = %cfg.name, error = %e, "SNMP samples not stored");
        }
    }

    /// A device ICMP says is down: its due items turn `unreachable` (values kept), nothing
    /// is sent.
    fn mark_unreachable(&self, slot: &Slot, cfg: &DeviceCfg, due: Due) {
        let ids: HashSet<Uuid> = cfg
            .plan
            .all_items()
            .filter(|i| due.covers(i))
            .map(|i| i.id)
            .collect();
        let mut items = lock(&slot.items);
        for spec in cfg.plan.items.iter().filter(|i| ids.contains(&i.id)) {
            items.get_or_add((spec.id, None));
        }
        items.fit();
        let why: Arc<str> = "device is down (ICMP): not polled".into();
        for ((id, _), rt) in items.iter_mut() {
            if ids.contains(id) {
                rt.status = ItemStatus::Unreachable;
                rt.error = Some(why.clone());
            }
        }
        lock(&slot.last).up = None;
    }
}

/// One item's value from the answer: rate, number or text.
fn evaluate(
    w: &Want,
    values: &HashMap<Oid, Value>,
    missing: &HashMap<Oid, String>,
    prev: Option<Prev>,
    uptime: Option<u32>,
    at_secs: f64,
) -> Outcome {
    let oid = match &w.oid {
        Ok(o) => o,
        Err(e) => return Outcome::fail(ItemStatus::Error, format!("invalid OID: {e}")),
    };
    if let Some(m) = missing.get(oid) {
        return Outcome::fail(ItemStatus::NotSupported, format!("{m} ({oid})"));
    }
    let Some(value) = values.get(oid) else {
        return Outcome::fail(
            ItemStatus::Error,
            format!("no value for {oid} in the answer"),
        );
    };
    let exception = match value {
        Value::NoSuchObject => Some("noSuchObject"),
        Value::NoSuchInstance => Some("noSuchInstance"),
        Value::EndOfMibView => Some("endOfMibView"),
        _ => None,
    };
    if let Some(x) = exception {
        return Outcome::fail(ItemStatus::NotSupported, format!("{x} ({oid})"));
    }
    let mult = w.spec.multiplier.unwrap_or(1.0);
    let ok = |base: Option<f64>, text: Option<String>, reading| Outcome {
        status: ItemStatus::Ok,
        error: None,
        base,
        text,
        reading,
    };
    match w.spec.value_type {
        ValueType::String => ok(None, Some(value_text(value)), None),
        ValueType::Counter => {
            let value = match value {
                Value::Counter32(_) | Value::Counter64(_) => value.clone(),
                Value::OpaqueCounter64(v) => Value::Counter64(*v),
                other => {
                    return Outcome::fail(
                        ItemStatus::NotSupported,
                        format!("{oid} is a {}, not a counter", other.type_name()),
                    );
                }
            };
            let reading = CounterReading {
                value,
                uptime_ticks: uptime,
                at_secs,
            };
            let rate = prev
                .filter(|p| p.oid == oid_hash(oid))
                .and_then(|p| counter_rate(&p.reading(), &reading))
                .map(|r| r * mult);
            ok(rate, None, Some((oid.clone(), reading)))
        }
        ValueType::Integer | ValueType::Float | ValueType::Gauge => match number(value) {
            Some(v) => ok(Some(v * mult), None, None),
            None => Outcome::fail(
                ItemStatus::NotSupported,
                format!("{oid} is a {}, not a number", value.type_name()),
            ),
        },
    }
}

fn preprocess(pp: &Preprocess, this: f64, other: Option<f64>) -> Option<f64> {
    let v = match (pp, other) {
        (Preprocess::PercentOfSum { .. }, Some(o)) => {
            let sum = this + o;
            (sum != 0.0).then(|| 100.0 * this / sum)?
        }
        (Preprocess::PercentOf { .. }, Some(o)) => (o != 0.0).then(|| 100.0 * this / o)?,
        (Preprocess::Ratio { .. }, Some(o)) => (o != 0.0).then(|| this / o)?,
        (Preprocess::Difference { .. }, Some(o)) => o - this,
        (Preprocess::Complement100, _) => 100.0 - this,
        (Preprocess::Equals { value }, _) => {
            if this == *value {
                1.0
            } else {
                0.0
            }
        }
        // The other item gave no number in this poll: no derived value.
        (
            Preprocess::PercentOfSum { .. }
            | Preprocess::PercentOf { .. }
            | Preprocess::Ratio { .. }
            | Preprocess::Difference { .. },
            None,
        ) => return None,
    };
    v.is_finite().then_some(v)
}

/// A numeric value, including numbers agents send as text.
fn number(v: &Value) -> Option<f64> {
    v.as_f64().or_else(|| {
        v.as_bytes()
            .and_then(|b| std::str::from_utf8(b).ok())
            .and_then(|s| s.trim().trim_end_matches('\0').parse::<f64>().ok())
    })
}

/// A value as label or item text: strings as text (hex when binary), numbers as numbers.
fn value_text(v: &Value) -> String {
    match v {
        Value::OctetString(b) => {
            let b = b.strip_suffix(&[0]).unwrap_or(b);
            if wardflux_snmp::render::is_text(b) {
                String::from_utf8_lossy(b).into_owned()
            } else {
                b.iter()
                    .map(|x| format!("{x:02x}"))
                    .collect::<Vec<_>>()
                    .join(":")
            }
        }
        Value::ObjectIdentifier(o) => o.to_string(),
        Value::IpAddress(a) => std::net::Ipv4Addr::from(*a).to_string(),
        other => match (other.as_i64(), other.as_f64()) {
            (Some(i), _) => i.to_string(),
            (None, Some(f)) => f.to_string(),
            _ => wardflux_snmp::render::value_text(other),
        },
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests;

/// The items listing of the API reads the poller's live states through this seam.
impl wardflux_model::ItemStates for SnmpPoller {
    fn item_states(&self, device_id: Option<Uuid>) -> Vec<ItemState> {
        self.items(device_id)
    }
}
