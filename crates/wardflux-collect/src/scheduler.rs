//! The scheduler for periodic per-device jobs (ICMP checks now, SNMP item polls next).
//!
//! Jobs are data ([`Job`]: kind, device, key, interval, JSON payload), so a work queue can
//! carry them to another machine later. What a job does is looked up by its kind in the
//! scheduler's registry of [`JobRunner`]s: a new kind of job is a new runner registered
//! with [`Scheduler::register`], not a change here. Each kind owns its own job set
//! ([`Scheduler::apply`] replaces the jobs of one kind), so the ICMP monitor and the SNMP
//! poller share one scheduler without knowing about each other.
//!
//! - Each job has an identity ([`JobId`]) and an interval. Its phase within the interval comes from a hash of
//!   the key (as Prometheus spreads scrapes), so start times are spread across the interval
//!   and stay put across reloads and restarts: no thundering herd.
//! - Runs are due at fixed-rate instants `phase + k * interval` (no drift). A job that is
//!   still running when it is due again is not started twice: the run is skipped and counted.
//! - Schedule lag (job start minus due instant) is measured per run.
//! - [`Scheduler::apply`] replaces one kind's job set (hot reload, like Prometheus'
//!   ApplyConfig): unchanged jobs keep their schedule, removed ones stop, new ones start.
//!
//! One driver task owns the schedule (a binary heap); each due run is a short-lived task,
//! so no task lives per device between runs.
//!
//! Exported through the `metrics` facade (install the recorder before creating the scheduler;
//! handles bind to the recorder current at creation), all labelled `scheduler`:
//! `wardflux_scheduler_lag_seconds` (histogram), `wardflux_scheduler_skipped_total`,
//! `wardflux_scheduler_runs_total` (counters), `wardflux_scheduler_jobs` (gauge).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::time::Instant;
use uuid::Uuid;

/// Identity of a job: the kind that runs it, the device it is for, and which of that
/// device's jobs of this kind it is (empty when a kind has one job per device).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct JobId {
    pub kind: String,
    pub device_id: Uuid,
    #[serde(default)]
    pub key: String,
}

/// One periodic job, as plain data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    #[serde(flatten)]
    pub id: JobId,
    pub interval: Duration,
    /// Everything a runner on another machine would need (the ICMP target, the SNMP items);
    /// a local runner may keep richer state of its own keyed by the job's id.
    #[serde(default)]
    pub payload: serde_json::Value,
}

impl Job {
    pub fn new(kind: &str, device_id: Uuid, interval: Duration) -> Self {
        Self {
            id: JobId {
                kind: kind.to_owned(),
                device_id,
                key: String::new(),
            },
            interval,
            payload: serde_json::Value::Null,
        }
    }
}

/// Runs the jobs of one kind. `run` is called once per due run and returns the run's
/// future; the scheduler never starts a job again while its previous run is in flight.
pub trait JobRunner: Send + Sync + 'static {
    fn run(&self, job: &Job) -> BoxFuture<'static, ()>;
}

impl<F> JobRunner for F
where
    F: Fn(&Job) -> BoxFuture<'static, ()> + Send + Sync + 'static,
{
    fn run(&self, job: &Job) -> BoxFuture<'static, ()> {
        self(job)
    }
}

/// Upper bounds of the internal lag histogram buckets, in microseconds.
const LAG_BOUNDS_US: &[u64] = &[
    100, 250, 500, 1_000, 2_000, 3_000, 4_000, 5_000, 7_500, 10_000, 15_000, 20_000, 30_000,
    50_000, 100_000, 250_000, 500_000, 1_000_000, 5_000_000,
];

/// Counters of a scheduler. Shared (Arc, atomics) between the driver, the run tasks and
/// readers: every writer only adds, so no lock is needed.
pub struct SchedulerStats {
    runs: AtomicU64,
    skipped: AtomicU64,
    lag_buckets: Vec<AtomicU64>,
    lag_sum_us: AtomicU64,
    lag_max_us: AtomicU64,
    m_lag: metrics::Histogram,
    m_skipped: metrics::Counter,
    m_runs: metrics::Counter,
    m_jobs: metrics::Gauge,
}

/// A point-in-time copy of [`SchedulerStats`].
#[derive(Debug, Clone, PartialEq)]
pub struct StatsSnapshot {
    pub runs: u64,
    pub skipped: u64,
    pub lag_max: Duration,
    pub lag_mean: Duration,
    /// (upper bound, count) per bucket; the last bound is `Duration::MAX`.
    pub lag_buckets: Vec<(Duration, u64)>,
}

impl StatsSnapshot {
    /// Upper bound of the bucket holding quantile `q` of the lag (0 when nothing ran).
    pub fn lag_quantile(&self, q: f64) -> Duration {
        let total: u64 = self.lag_buckets.iter().map(|b| b.1).sum();
        if total == 0 {
            return Duration::ZERO;
        }
        let rank = (q * total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (bound, n) in &self.lag_buckets {
            seen += n;
            if seen >= rank {
                return (*bound).min(self.lag_max);
            }
        }
        self.lag_max
    }
}

impl SchedulerStats {
    fn new(name: &str) -> Self {
        let label = name.to_owned();
        Self {
            runs: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
            lag_buckets: (0..=LAG_BOUNDS_US.len())
                .map(|_| AtomicU64::new(0))
                .collect(),
            lag_sum_us: AtomicU64::new(0),
            lag_max_us: AtomicU64::new(0),
            m_lag: metrics::histogram!("wardflux_scheduler_lag_seconds", "scheduler" => label.clone()),
            m_skipped: metrics::counter!("wardflux_scheduler_skipped_total", "scheduler" => label.clone()),
            m_runs: metrics::counter!("wardflux_scheduler_runs_total", "scheduler" => label.clone()),
            m_jobs: metrics::gauge!("wardflux_scheduler_jobs", "scheduler" => label),
        }
    }

    fn record_run(&self, lag: Duration) {
        self.runs.fetch_add(1, Ordering::Relaxed);
        self.m_runs.increment(1);
        self.m_lag.record(lag.as_secs_f64());
        let us = u64::try_from(lag.as_micros()).unwrap_or(u64::MAX);
        let i = LAG_BOUNDS_US.partition_point(|b| *b < us);
        self.lag_buckets[i].fetch_add(1, Ordering::Relaxed);
        self.lag_sum_us.fetch_add(us, Ordering::Relaxed);
        self.lag_max_us.fetch_max(us, Ordering::Relaxed);
    }

    fn record_skip(&self, n: u64) {
        self.skipped.fetch_add(n, Ordering::Relaxed);
        self.m_skipped.increment(n);
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        let runs = self.runs.load(Ordering::Relaxed);
        let sum = self.lag_sum_us.load(Ordering::Relaxed);
        StatsSnapshot {
            runs,
            skipped: self.skipped.load(Ordering::Relaxed),
            lag_max: Duration::from_micros(self.lag_max_us.load(Ordering::Relaxed)),
            lag_mean: Duration::from_micros(sum.checked_div(runs).unwrap_or(0)),
            lag_buckets: self
                .lag_buckets
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    let bound = LAG_BOUNDS_US
                        .get(i)
                        .map_or(Duration::MAX, |us| Duration::from_micros(*us));
                    (bound, n.load(Ordering::Relaxed))
                })
                .collect(),
        }
    }
}

struct Entry {
    job: Arc<Job>,
    runner: Arc<dyn JobRunner>,
    /// Set while a run is in progress; shared with that run's task.
    running: Arc<AtomicBool>,
    generation: u64,
}

enum Command {
    Register(String, Arc<dyn JobRunner>),
    Apply(String, Vec<Job>),
}

/// Handle to a running scheduler. Dropping the last clone stops the driver (runs already
/// started finish on their own).
#[derive(Clone)]
pub struct Scheduler {
    tx: mpsc::UnboundedSender<Command>,
    stats: Arc<SchedulerStats>,
    _driver: Arc<AbortOnDrop>,
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);
impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Scheduler {
    /// Starts an empty scheduler (inside a tokio runtime) with phases on a
    /// [`DEFAULT_GRANULARITY`] grid. `name` labels its metrics.
    pub fn new(name: &str) -> Self {
        Self::with_granularity(name, DEFAULT_GRANULARITY)
    }

    /// Like [`Scheduler::new`], with phases rounded down to multiples of `granularity`
    /// (at least 1 ms). Coarser slots start more jobs per wakeup: cheaper, still spread.
    pub fn with_granularity(name: &str, granularity: Duration) -> Self {
        let stats = Arc::new(SchedulerStats::new(name));
        let (tx, rx) = mpsc::unbounded_channel();
        let granularity = granularity.max(Duration::from_millis(1));
        let driver = tokio::spawn(drive(rx, Arc::clone(&stats), Instant::now(), granularity));
        Self {
            tx,
            stats,
            _driver: Arc::new(AbortOnDrop(driver)),
        }
    }

    /// Registers (or replaces) the runner of a job kind. Register before applying jobs of
    /// that kind: jobs of a kind without a runner are ignored with a warning.
    pub fn register(&self, kind: &str, runner: Arc<dyn JobRunner>) {
        let _ = self.tx.send(Command::Register(kind.to_owned(), runner));
    }

    /// Replaces the jobs of `kind` (jobs of other kinds are untouched). Jobs whose id and
    /// interval are unchanged keep their phase and in-flight state (their payload is
    /// updated); others are (re)scheduled or removed.
    pub fn apply(&self, kind: &str, jobs: Vec<Job>) {
        let _ = self.tx.send(Command::Apply(kind.to_owned(), jobs));
    }

    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }
}

/// Default phase grid: 10,000 jobs on a 10 s interval start ~10 at a time every 10 ms,
/// so one wakeup serves several jobs (measured: fewer syscalls and wakeups per check).
pub const DEFAULT_GRANULARITY: Duration = Duration::from_millis(10);

/// Phase of a key within its interval: a stable hash mapped onto [0, interval), rounded
/// down to a multiple of `granularity` (tokio's timer has 1 ms resolution anyway).
pub fn phase_of<K: Hash>(key: &K, interval: Duration, granularity: Duration) -> Duration {
    // DefaultHasher::new() has fixed keys: the phase is stable across restarts.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    let frac = (h.finish() >> 11) as f64 / (1u64 << 53) as f64;
    let g = granularity.min(interval).as_nanos().max(1);
    let slots = interval.as_nanos() / g;
    let slot = ((slots as f64) * frac) as u128;
    Duration::from_nanos(u64::try_from(slot.min(slots.saturating_sub(1)) * g).unwrap_or(u64::MAX))
}

/// First due instant at or after `now` on the grid `epoch + phase + k * interval`.
fn first_due(epoch: Instant, phase: Duration, interval: Duration, now: Instant) -> Instant {
    let start = epoch + phase;
    if now <= start || interval.is_zero() {
        return start;
    }
    let elapsed = now - start;
    let k = elapsed.as_nanos().div_ceil(interval.as_nanos());
    start + interval.saturating_mul(u32::try_from(k).unwrap_or(u32::MAX))
}

async fn drive(
    mut rx: mpsc::UnboundedReceiver<Command>,
    stats: Arc<SchedulerStats>,
    epoch: Instant,
    granularity: Duration,
) {
    let mut runners: HashMap<String, Arc<dyn JobRunner>> = HashMap::new();
    let mut jobs: HashMap<JobId, Entry> = HashMap::new();
    let mut heap: BinaryHeap<Reverse<(Instant, u64, JobId)>> = BinaryHeap::new();
    let mut next_generation: u64 = 0;
    loop {
        let head = heap.peek().map(|Reverse((at, _, _))| *at);
        tokio::select! {
            biased;
            cmd = rx.recv() => {
                let (kind, specs) = match cmd {
                    None => return,
                    Some(Command::Register(kind, runner)) => {
                        for e in jobs.values_mut().filter(|e| e.job.id.kind == kind) {
                            e.runner = Arc::clone(&runner);
                        }
                        runners.insert(kind, runner);
                        continue;
                    }
                    Some(Command::Apply(kind, specs)) => (kind, specs),
                };
                let Some(runner) = runners.get(&kind).cloned() else {
                    tracing::warn!(kind, jobs = specs.len(), "no runner registered for this job kind: jobs ignored");
                    continue;
                };
                let now = Instant::now();
                let mut old: HashMap<JobId, Entry> = jobs.extract_if(|id, _| id.kind == kind).collect();
                for job in specs {
                    if job.interval.is_zero() || job.id.kind != kind {
                        tracing::warn!(id = ?job.id, "job with zero interval or of another kind ignored");
                        continue;
                    }
                    let id = job.id.clone();
                    match old.remove(&id) {
                        Some(mut e) if e.job.interval == job.interval => {
                            e.job = Arc::new(job);
                            jobs.insert(id, e);
                        }
                        prev => {
                            next_generation += 1;
                            let due = first_due(epoch, phase_of(&id, job.interval, granularity), job.interval, now);
                            heap.push(Reverse((due, next_generation, id.clone())));
                            jobs.insert(id, Entry {
                                job: Arc::new(job),
                                runner: Arc::clone(&runner),
                                // A job being re-timed keeps its in-flight guard: no overlap.
                                running: prev.map_or_else(|| Arc::new(AtomicBool::new(false)), |o| o.running),
                                generation: next_generation,
                            });
                        }
                    }
                }
                stats.m_jobs.set(jobs.len() as f64);
                // Drop heap entries of removed or re-timed jobs when they pile up.
                if heap.len() > 2 * jobs.len() + 64 {
                    heap.retain(|Reverse((_, g, k))| jobs.get(k).is_some_and(|e| e.generation == *g));
                }
            }
            () = sleep_until_opt(head) => {
                let now = Instant::now();
                while let Some(Reverse((at, generation, _))) = heap.peek() {
                    if *at > now {
                        break;
                    }
                    let (at, generation) = (*at, *generation);
                    let Some(Reverse((_, _, id))) = heap.pop() else { break };
                    let Some(e) = jobs.get(&id) else { continue };
                    if e.generation != generation {
                        continue;
                    }
                    if e.running.swap(true, Ordering::AcqRel) {
                        stats.record_skip(1);
                    } else {
                        let running = Arc::clone(&e.running);
                        let fut = e.runner.run(&e.job);
                        let stats = Arc::clone(&stats);
                        tokio::spawn(async move {
                            let _clear = ClearOnDrop(running);
                            stats.record_run(Instant::now().saturating_duration_since(at));
                            fut.await;
                        });
                    }
                    // Fixed rate; if the driver itself fell more than an interval behind,
                    // the runs it missed count as skipped.
                    let interval = e.job.interval;
                    let mut next = at + interval;
                    let mut missed = 0;
                    while next <= now {
                        next += interval;
                        missed += 1;
                    }
                    if missed > 0 {
                        stats.record_skip(missed);
                    }
                    heap.push(Reverse((next, generation, id)));
                }
            }
        }
    }
}

struct ClearOnDrop(Arc<AtomicBool>);
impl Drop for ClearOnDrop {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests;
