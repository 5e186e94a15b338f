//! The discovery service of a running server: starts scans (of a rule, or ad hoc) as
//! background jobs with live progress, writes their results to the store, adds devices
//! (the rule's `add` action and the API's add-devices), and runs the rules on their cron
//! schedules. The scan itself ([`crate::scan`]) never touches SQL; this module is the
//! one place that joins it to the store.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;
use wardflux_icmp::Pinger;
use wardflux_model::discovery::{
    CandidateInput, DiscoveryAction, DiscoveryRule, DiscoveryRun, Finding, RunState,
};
use wardflux_model::inventory::{Actor, Device, FieldError};
use wardflux_snmp::SnmpClient;
use wardflux_store::{Store, StoreError};

use crate::classify::Classifier;
use crate::scan::{ScanProgress, ScanSpec, scan};

/// Why a scan did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Invalid(#[from] FieldError),
    /// The rule's previous run is still going (two runs of one rule never overlap).
    #[error("rule {0} is already running (job {1})")]
    Busy(Uuid, Uuid),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A scan in progress: its run record and live counters.
struct Job {
    run: Mutex<DiscoveryRun>,
    progress: ScanProgress,
}

struct Inner {
    store: Store,
    pinger: Pinger,
    client: SnmpClient,
    snmp_port: u16,
    /// Shipped rules plus the store's overrides; swapped whole when an admin changes them.
    classifier: RwLock<Arc<Classifier>>,
    /// Running jobs by id. Entries leave when their run is written back as done/failed.
    jobs: Mutex<HashMap<Uuid, Arc<Job>>>,
    /// Rules with a run in progress (rule id -> job id): the no-overlap guard.
    running: Mutex<HashMap<Uuid, Uuid>>,
    tasks: TaskTracker,
    shutdown: CancellationToken,
    /// Wakes the schedule loop when rules change here (the API calls
    /// [`Discovery::rules_changed`]); changes by another process are read within a minute.
    rules_changed: tokio::sync::Notify,
}

/// Handle to the discovery service. Cheap to clone.
#[derive(Clone)]
pub struct Discovery {
    inner: Arc<Inner>,
}

/// Template names per classified OS (and a fallback for any SNMP device), used when a
/// discovered device is added.
pub fn template_for(f: &Finding) -> Option<&'static str> {
    if !f.snmp {
        return None;
    }
    Some(match f.class.os.as_deref() {
        Some("ios" | "ios-xe") => "Cisco IOS/IOS-XE",
        Some("junos") => "Juniper JunOS",
        Some("linux") => "Linux Net-SNMP",
        Some("windows") => "Windows SNMP",
        Some("fortios") => "Fortinet FortiGate",
        Some("routeros") => "MikroTik RouterOS",
        Some("procurve" | "arubaos-switch") => "HP/Aruba ProCurve",
        _ => "Generic SNMP",
    })
}

/// A rule's schedule: 5 fields (minute precision) or 6 (with seconds first), in UTC.
fn parse_cron(s: &str) -> Result<croner::Cron, croner::errors::CronError> {
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Optional)
        .build()
        .parse(s.trim())
}

/// Rules whose cron schedule fired in `(since, now]`: the scheduler's decision, pure.
pub fn due(rules: &[DiscoveryRule], since: DateTime<Utc>, now: DateTime<Utc>) -> Vec<Uuid> {
    rules
        .iter()
        .filter(|r| r.enabled)
        .filter_map(|r| {
            let cron = parse_cron(r.schedule.as_deref()?).ok()?;
            let next = cron.find_next_occurrence(&since, false).ok()?;
            (next <= now).then_some(r.id)
        })
        .collect()
}

/// When the next rule fires after `now` (none: no enabled scheduled rule).
pub fn next_due(rules: &[DiscoveryRule], now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    rules
        .iter()
        .filter(|r| r.enabled)
        .filter_map(|r| {
            let cron = parse_cron(r.schedule.as_deref()?).ok()?;
            cron.find_next_occurrence(&now, false).ok()
        })
        .min()
}

/// Checks a cron expression as a rule's `schedule`.
pub fn check_schedule(s: &str) -> Result<(), FieldError> {
    parse_cron(s)
        .map(|_| ())
        .map_err(|e| FieldError::new("schedule", format!("not a cron expression: {e}")))
}

impl Discovery {
    /// A service scanning with `pinger` and `client`, probing SNMP on `snmp_port`.
    /// `shutdown` stops running scans (their runs end `failed`, "interrupted").
    pub fn new(
        store: Store,
        pinger: Pinger,
        client: SnmpClient,
        snmp_port: u16,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                pinger,
                client,
                snmp_port,
                classifier: RwLock::new(Arc::new(Classifier::shipped())),
                jobs: Mutex::new(HashMap::new()),
                running: Mutex::new(HashMap::new()),
                tasks: TaskTracker::new(),
                shutdown,
                rules_changed: tokio::sync::Notify::new(),
            }),
        }
    }

    /// Loads the stored classifier overrides (at start and after they change).
    pub async fn reload_classifier(&self) -> Result<(), StoreError> {
        let merged = match self.inner.store.classifier_overrides().await? {
            Some(text) => match Classifier::from_json(&text) {
                Ok(o) => Classifier::shipped().with_overrides(&o),
                Err(e) => {
                    tracing::warn!(error = %e, "discovery: stored classifier overrides do not load; using the shipped rules");
                    Classifier::shipped()
                }
            },
            None => Classifier::shipped(),
        };
        *self.inner.classifier.write().expect("classifier lock") = Arc::new(merged);
        Ok(())
    }

    pub fn classifier(&self) -> Arc<Classifier> {
        self.inner
            .classifier
            .read()
            .expect("classifier lock")
            .clone()
    }

    /// Starts a run of a stored rule. Refused while the rule's previous run is going.
    pub async fn start_rule(&self, rule_id: Uuid) -> Result<Uuid, StartError> {
        let rule = self.inner.store.get_discovery_rule(rule_id).await?;
        let candidates = self.inner.store.discovery_candidates(rule_id).await?;
        let targets = crate::ranges::targets(&rule.ranges, &rule.exclusions, rule.allow_large)?;
        let mut spec = ScanSpec::new(targets.addrs, candidates);
        spec.rate = rule.rate_limit;
        spec.concurrency = rule.concurrency;
        spec.snmp_port = self.inner.snmp_port;
        self.start(Some(rule), spec).await
    }

    /// Starts a scan of ad-hoc ranges with the given candidates (validated here).
    pub async fn start_adhoc(
        &self,
        ranges: &[String],
        exclusions: &[String],
        mut candidates: Vec<CandidateInput>,
        allow_large: bool,
        rate: Option<u32>,
        concurrency: Option<u32>,
    ) -> Result<Uuid, StartError> {
        let targets = crate::ranges::targets(ranges, exclusions, allow_large)?;
        for (i, c) in candidates.iter_mut().enumerate() {
            c.validate(i)?;
        }
        let mut spec = ScanSpec::new(targets.addrs, candidates);
        if let Some(r) = rate {
            if !(1..=100_000).contains(&r) {
                return Err(
                    FieldError::new("rate_limit", "must be 1-100000 probes per second").into(),
                );
            }
            spec.rate = r;
        }
        if let Some(c) = concurrency {
            if !(1..=4096).contains(&c) {
                return Err(FieldError::new("concurrency", "must be 1-4096 hosts").into());
            }
            spec.concurrency = c;
        }
        spec.snmp_port = self.inner.snmp_port;
        self.start(None, spec).await
    }

    async fn start(&self, rule: Option<DiscoveryRule>, spec: ScanSpec) -> Result<Uuid, StartError> {
        let rule_id = rule.as_ref().map(|r| r.id);
        // Claim the rule before the first await that could interleave with another start.
        let claim = Uuid::new_v4();
        if let Some(id) = rule_id {
            let mut running = self.inner.running.lock().expect("running lock");
            if let Some(job) = running.get(&id) {
                return Err(StartError::Busy(id, *job));
            }
            running.insert(id, claim);
        }
        let run = match self
            .inner
            .store
            .start_discovery_run(rule_id, spec.targets.len() as u64, &spec.candidates)
            .await
        {
            Ok(r) => r,
            Err(e) => {
                if let Some(id) = rule_id {
                    self.inner.running.lock().expect("running lock").remove(&id);
                }
                return Err(e.into());
            }
        };
        let job_id = run.id;
        if let Some(id) = rule_id {
            self.inner
                .running
                .lock()
                .expect("running lock")
                .insert(id, job_id);
        }
        let job = Arc::new(Job {
            run: Mutex::new(run),
            progress: ScanProgress::default(),
        });
        job.progress
            .total
            .store(spec.targets.len() as u64, Ordering::Relaxed);
        self.inner
            .jobs
            .lock()
            .expect("jobs lock")
            .insert(job_id, job.clone());
        let this = self.clone();
        let action = rule.map(|r| r.action).unwrap_or_default();
        self.inner.tasks.spawn(async move {
            let outcome = tokio::select! {
                r = this.execute(&job, rule_id, action, spec) => r,
                () = this.inner.shutdown.cancelled() => Err("interrupted by shutdown".to_string()),
            };
            this.finish(&job, rule_id, outcome).await;
        });
        Ok(job_id)
    }

    async fn execute(
        &self,
        job: &Job,
        rule_id: Option<Uuid>,
        action: DiscoveryAction,
        spec: ScanSpec,
    ) -> Result<(), String> {
        let job_id = job.run.lock().expect("run lock").id;
        let classifier = self.classifier();
        let findings = scan(
            &self.inner.pinger,
            &self.inner.client,
            &classifier,
            &spec,
            &job.progress,
        )
        .await;
        let outcome = self
            .inner
            .store
            .record_discovery_findings(job_id, rule_id, &findings, &spec.candidates)
            .await
            .map_err(|e| format!("writing results: {e}"))?;
        {
            let mut run = job.run.lock().expect("run lock");
            run.found = outcome.found;
            run.new = outcome.new;
        }
        if action == DiscoveryAction::Add {
            let new: Vec<Uuid> = findings
                .iter()
                .zip(&outcome.result_ids)
                .filter(|(f, _)| f.snmp)
                .map(|(_, id)| *id)
                .collect();
            // Only results that are no device yet; one failing result must not block the
            // others, so they are added one by one.
            let mut added = 0;
            for id in new {
                match self.inner.store.get_discovery_result(id).await {
                    Ok(r) if r.device_id.is_none() => {}
                    _ => continue,
                }
                match self.add_devices(&Actor::system(), &[id]).await {
                    Ok(d) => added += d.len() as u64,
                    Err(e) => {
                        tracing::warn!(result = %id, error = %e, "discovery: could not add a device")
                    }
                }
            }
            job.run.lock().expect("run lock").added = added;
        }
        Ok(())
    }

    async fn finish(&self, job: &Job, rule_id: Option<Uuid>, outcome: Result<(), String>) {
        let run = {
            let mut run = job.run.lock().expect("run lock");
            self.copy_progress(&mut run, &job.progress);
            let now = Utc::now();
            run.finished_at = Some(now);
            run.duration_ms = Some((now - run.started_at).num_milliseconds().max(0) as u64);
            match &outcome {
                Ok(()) => run.state = RunState::Done,
                Err(e) => {
                    run.state = RunState::Failed;
                    run.error = Some(e.clone());
                }
            }
            run.clone()
        };
        match &outcome {
            Ok(()) => {
                tracing::info!(job = %run.id, total = run.total, alive = run.alive, snmp = run.snmp, found = run.found, new = run.new, ms = run.duration_ms, "discovery run done")
            }
            Err(e) => tracing::warn!(job = %run.id, error = %e, "discovery run failed"),
        }
        if let Err(e) = self.inner.store.update_discovery_run(&run).await {
            tracing::warn!(job = %run.id, error = %e, "discovery: could not save the run");
        }
        self.inner.jobs.lock().expect("jobs lock").remove(&run.id);
        if let Some(id) = rule_id {
            self.inner.running.lock().expect("running lock").remove(&id);
        }
    }

    fn copy_progress(&self, run: &mut DiscoveryRun, p: &ScanProgress) {
        run.done = p.done.load(Ordering::Relaxed);
        run.total = p.total.load(Ordering::Relaxed);
        run.alive = p.alive.load(Ordering::Relaxed);
        run.snmp = p.snmp.load(Ordering::Relaxed);
    }

    /// A job's state: live counters while it runs, the stored run after.
    pub async fn job(&self, id: Uuid) -> Result<DiscoveryRun, StoreError> {
        let live = self.inner.jobs.lock().expect("jobs lock").get(&id).cloned();
        if let Some(job) = live {
            let mut run = job.run.lock().expect("run lock").clone();
            self.copy_progress(&mut run, &job.progress);
            return Ok(run);
        }
        self.inner.store.get_discovery_run(id).await
    }

    /// Adds results as monitored devices, all or nothing, each with the credential that
    /// worked and the template its classification calls for.
    pub async fn add_devices(
        &self,
        actor: &Actor,
        result_ids: &[Uuid],
    ) -> Result<Vec<Device>, StoreError> {
        let mut templates = HashMap::new();
        let mut by_name: HashMap<&'static str, Option<Uuid>> = HashMap::new();
        for id in result_ids {
            let Ok(r) = self.inner.store.get_discovery_result(*id).await else {
                continue; // the store lists it among the errors
            };
            let Some(name) = template_for(&r.finding) else {
                continue;
            };
            let tid = match by_name.get(name) {
                Some(t) => *t,
                None => {
                    let t = self
                        .inner
                        .store
                        .get_template_by_name(name)
                        .await?
                        .map(|t| t.id);
                    by_name.insert(name, t);
                    t
                }
            };
            if let Some(t) = tid {
                templates.insert(*id, t);
            }
        }
        self.inner
            .store
            .add_discovered_devices(actor, result_ids, &templates)
            .await
    }

    /// Runs rules on their schedules until `shutdown`. Wakes at the next cron occurrence
    /// or after a minute (rules changed by the API or another process are read again).
    pub async fn run_schedule(self) {
        let mut since = Utc::now();
        loop {
            let rules = match self.inner.store.list_discovery_rules().await {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(error = %e, "discovery: cannot read rules");
                    Vec::new()
                }
            };
            let now = Utc::now();
            for id in due(&rules, since, now) {
                match self.start_rule(id).await {
                    Ok(job) => tracing::info!(rule = %id, %job, "discovery: scheduled run started"),
                    Err(StartError::Busy(_, job)) => {
                        tracing::info!(rule = %id, %job, "discovery: previous run still going; this occurrence is skipped")
                    }
                    Err(e) => {
                        tracing::warn!(rule = %id, error = %e, "discovery: scheduled run did not start")
                    }
                }
            }
            since = now;
            let wait = next_due(&rules, now)
                .map(|t| (t - now).to_std().unwrap_or_default())
                .unwrap_or(Duration::from_secs(60))
                .min(Duration::from_secs(60))
                + Duration::from_millis(5);
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.inner.rules_changed.notified() => {}
                () = self.inner.shutdown.cancelled() => break,
            }
        }
    }

    /// Tells the schedule loop that rules were created, changed or deleted.
    pub fn rules_changed(&self) {
        self.inner.rules_changed.notify_one();
    }

    /// Stops running scans and waits for their runs to be written.
    pub async fn close(&self) {
        self.inner.shutdown.cancel();
        self.inner.tasks.close();
        self.inner.tasks.wait().await;
    }

    /// Ids of rules with a run in progress.
    pub fn running_rules(&self) -> HashSet<Uuid> {
        self.inner
            .running
            .lock()
            .expect("running lock")
            .keys()
            .copied()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wardflux_model::discovery::DiscoveryAction;

    fn rule(schedule: Option<&str>, enabled: bool) -> DiscoveryRule {
        let t = Utc::now();
        DiscoveryRule {
            id: Uuid::new_v4(),
            name: "r".into(),
            ranges: vec!["127.0.0.1".into()],
            exclusions: vec![],
            credentials: vec![],
            schedule: schedule.map(str::to_string),
            enabled,
            rate_limit: 100,
            concurrency: 10,
            action: DiscoveryAction::Record,
            allow_large: false,
            last_run: None,
            created_at: t,
            updated_at: t,
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_rule_is_due_once_per_occurrence() {
        let hourly = rule(Some("0 * * * *"), true);
        let off = rule(Some("* * * * *"), false);
        let manual = rule(None, true);
        let rules = vec![hourly.clone(), off, manual];
        // The occurrence at 10:00 falls in (09:59:30, 10:00:05]: due once.
        assert_eq!(
            due(
                &rules,
                at("2026-11-30T09:59:30Z"),
                at("2026-11-30T10:00:05Z")
            ),
            vec![hourly.id]
        );
        // The next check starts where the last ended: not due again.
        assert!(
            due(
                &rules,
                at("2026-11-30T10:00:05Z"),
                at("2026-11-30T10:59:59Z")
            )
            .is_empty()
        );
        assert_eq!(
            next_due(&rules, at("2026-11-30T10:00:05Z")),
            Some(at("2026-11-30T11:00:00Z"))
        );
        assert!(check_schedule("0 */6 * * *").is_ok());
        assert!(check_schedule("*/10 * * * * *").is_ok(), "seconds first");
        assert_eq!(
            due(
                &[rule(Some("*/10 * * * * *"), true)],
                at("2026-11-30T10:00:01Z"),
                at("2026-11-30T10:00:10Z")
            )
            .len(),
            1
        );
        assert_eq!(check_schedule("every day").unwrap_err().field, "schedule");
    }
}
