//! Zabbix as a data source of the server (mode `zabbix` or `hybrid`).
//!
//! One task syncs on the configured interval (30 s by default), woken early when the settings
//! or the mode change: it reads one bounded [`Snapshot`] (hosts and groups, `icmpping`,
//! problems), mirrors the hosts into the inventory (`source: zabbix`, whoever reads devices
//! sees them) and keeps the rest in memory: the problems as [`Alert`]s with
//! `origin: zabbix`, the `icmpping` states by device. When a sync fails the last good data
//! stays and [`ZabbixSource::status`] says it is stale, with its age and why; the API shows
//! both. The mirror in the store outlives a restart; problems and ping states come back with
//! the first sync.
//!
//! Concurrency: the cache is one `RwLock` written only by the sync task (and by an
//! acknowledge, which flips one alert); readers clone what they need and never hold it
//! across an `await`. The client sits behind its own lock, swapped when the settings change.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use wardflux_model::alerts::{Alert, AlertOrigin, AlertState, Severity};
use wardflux_model::inventory::DeviceSource;
use wardflux_model::zabbix::{MirrorHost, ZabbixAuthKind, ZabbixSettings, ZabbixStatus};
use wardflux_model::{Labels, MetricSink, MonitoringMode, Sample};
use wardflux_store::{Actor, Store, ZabbixConnection};

use crate::{
    Host, InterfaceKind, Problem, Snapshot, ZabbixAuth, ZabbixClient, ZabbixConfig, ZabbixError,
    fetch_snapshot,
};

/// Namespace of the ids WARD FLUX gives Zabbix problems (UUID v5 of `url#eventid`), so an
/// alert keeps its id from one sync to the next.
const PROBLEM_NS: Uuid = Uuid::from_u128(0x5a62_6269_7800_4d5a_9a1e_5c0d_e7e0_0001);

/// Zabbix severity (0-5) as ours: 5 disaster -> critical, 4 high -> high, 3 average ->
/// medium, 2 warning -> low, 1 information and 0 not classified -> info.
pub fn severity(zabbix: u8) -> Severity {
    match zabbix {
        5.. => Severity::Critical,
        4 => Severity::High,
        3 => Severity::Medium,
        2 => Severity::Low,
        _ => Severity::Info,
    }
}

/// The client configuration of a stored connection.
pub fn config_of(c: &ZabbixConnection) -> ZabbixConfig {
    ZabbixConfig {
        url: c.settings.url.clone(),
        auth: match c.settings.auth {
            ZabbixAuthKind::Password => ZabbixAuth::Password {
                username: c.settings.username.clone().unwrap_or_default(),
                password: c.secret.clone(),
            },
            ZabbixAuthKind::ApiToken => ZabbixAuth::ApiToken(c.secret.clone()),
        },
        timeout: Duration::from_secs(u64::from(c.settings.timeout_s)),
    }
}

/// A device's state as Zabbix' `icmpping` item says.
#[derive(Debug, Clone, PartialEq)]
pub struct ZabbixPing {
    pub up: bool,
    pub clock: DateTime<Utc>,
}

/// Why an acknowledge of a Zabbix problem failed.
#[derive(Debug, thiserror::Error)]
pub enum AckError {
    #[error("Zabbix is not configured")]
    NotConfigured,
    #[error(transparent)]
    Zabbix(#[from] ZabbixError),
}

#[derive(Default)]
struct Cache {
    /// Clock of the value last written to the metric sink, per item (`Written`).
    written: HashMap<Written, DateTime<Utc>>,
    alerts: Vec<Alert>,
    /// Alert id -> Zabbix event id.
    events: HashMap<Uuid, u64>,
    ping: HashMap<Uuid, ZabbixPing>,
    status: ZabbixStatus,
}

struct Inner {
    store: Store,
    /// Where Zabbix' `icmpping` values of Zabbix-only devices go, as `ping_up` samples
    /// (labels `device`, `device_id`, `ip`, `source="zabbix"`): PromQL reads them like ours.
    sink: Option<Arc<dyn MetricSink>>,
    client: Mutex<Option<(ZabbixSettings, Arc<ZabbixClient>)>>,
    cache: RwLock<Cache>,
    wake: Notify,
}

/// The handle the API reads Zabbix data through (cheap to clone).
#[derive(Clone)]
pub struct ZabbixSource {
    inner: Arc<Inner>,
}

impl ZabbixSource {
    /// A source reading its settings from `store`; [`ZabbixSource::run`] is its task.
    pub fn new(store: Store) -> Self {
        Self::with_sink(store, None)
    }

    /// Like [`ZabbixSource::new`], writing `icmpping` values to `sink` as `ping_up`.
    pub fn with_sink(store: Store, sink: Option<Arc<dyn MetricSink>>) -> Self {
        ZabbixSource {
            inner: Arc::new(Inner {
                store,
                sink,
                client: Mutex::new(None),
                cache: RwLock::new(Cache::default()),
                wake: Notify::new(),
            }),
        }
    }

    /// Sync now (settings or mode changed).
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Where the data stands, its age computed now.
    pub fn status(&self) -> ZabbixStatus {
        let mut s = self.inner.cache.read().expect("cache lock").status.clone();
        s.age_s = s.last_success_at.map(|t| (Utc::now() - t).num_seconds());
        s
    }

    /// The open Zabbix problems as alerts (only while the mode reads Zabbix).
    pub fn alerts(&self) -> Vec<Alert> {
        let c = self.inner.cache.read().expect("cache lock");
        if c.status.active {
            c.alerts.clone()
        } else {
            Vec::new()
        }
    }

    /// `icmpping` state of each mirrored device that has the item.
    pub fn ping_states(&self) -> HashMap<Uuid, ZabbixPing> {
        let c = self.inner.cache.read().expect("cache lock");
        if c.status.active {
            c.ping.clone()
        } else {
            HashMap::new()
        }
    }

    /// Whether `id` is a Zabbix problem's alert (only while the mode reads Zabbix, as
    /// [`ZabbixSource::alerts`]).
    pub fn is_zabbix_alert(&self, id: Uuid) -> bool {
        let c = self.inner.cache.read().expect("cache lock");
        c.status.active && c.events.contains_key(&id)
    }

    /// Acknowledges problem `id` in Zabbix (`event.acknowledge`: acknowledge + message, the
    /// user's comment) and marks it here at once. `Ok(None)`: not a Zabbix alert.
    pub async fn acknowledge(
        &self,
        id: Uuid,
        user: &str,
        comment: Option<&str>,
    ) -> Result<Option<Alert>, AckError> {
        let Some(event) = self
            .inner
            .cache
            .read()
            .expect("cache lock")
            .events
            .get(&id)
            .copied()
        else {
            return Ok(None);
        };
        let client = self.client().ok_or(AckError::NotConfigured)?;
        let message = match comment {
            Some(c) => format!("{c} (WARD FLUX user {user})"),
            None => format!("Acknowledged in WARD FLUX by {user}"),
        };
        client.acknowledge(&[event], &message).await?;
        let mut c = self.inner.cache.write().expect("cache lock");
        let a = c.alerts.iter_mut().find(|a| a.id == id).map(|a| {
            a.acknowledged = true;
            a.acknowledged_by = Some(user.to_string());
            a.acknowledged_at = Some(Utc::now());
            a.comment = comment.map(str::to_string);
            a.clone()
        });
        Ok(a)
    }

    /// Connects with `conn` and checks version, login and one authenticated read: the
    /// settings page's test button.
    pub async fn test(conn: &ZabbixConnection) -> Result<String, ZabbixError> {
        let v = ZabbixClient::new(config_of(conn))?.check().await?;
        Ok(v.raw)
    }

    /// The numeric history of item `key` of Zabbix host `host_id` over `from..to`:
    /// `history.get` in bounded windows up to two days, `trend.get` averages beyond.
    /// `Ok(None)`: the host has no such item.
    pub async fn item_series(
        &self,
        host_id: u64,
        key: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Option<Vec<(DateTime<Utc>, f64)>>, AckError> {
        let client = self.client().ok_or(AckError::NotConfigured)?;
        let items = client.items_by_key(&[host_id], key).await?;
        let Some(item) = items.first() else {
            return Ok(None);
        };
        Ok(Some(client.series(item, from, to).await?))
    }

    fn client(&self) -> Option<Arc<ZabbixClient>> {
        self.inner
            .client
            .lock()
            .expect("client lock")
            .as_ref()
            .map(|(_, c)| c.clone())
    }

    /// The sync loop, until `cancel` fires.
    pub async fn run(self, cancel: CancellationToken) {
        loop {
            let interval = match self.round().await {
                Ok(i) => i,
                Err(e) => {
                    tracing::error!(error = %e, "Zabbix source: cannot read its settings");
                    Duration::from_secs(30)
                }
            };
            tokio::select! {
                () = self.inner.wake.notified() => {}
                () = tokio::time::sleep(interval) => {}
                () = cancel.cancelled() => break,
            }
        }
    }

    /// One round: follow the settings and the mode, sync when both ask for it. Returns the
    /// time to the next round.
    async fn round(&self) -> Result<Duration, wardflux_store::StoreError> {
        let store = &self.inner.store;
        let mode = store.monitoring_profile().await?.mode;
        let conn = store.zabbix_connection().await?;
        let active = mode != MonitoringMode::Standalone;
        {
            let mut c = self.inner.cache.write().expect("cache lock");
            c.status.configured = conn.is_some();
            c.status.active = active;
        }
        let Some(conn) = conn else {
            *self.inner.client.lock().expect("client lock") = None;
            return Ok(Duration::from_secs(60));
        };
        let interval = Duration::from_secs(u64::from(conn.settings.sync_interval_s));
        let client = {
            let mut slot = self.inner.client.lock().expect("client lock");
            match slot.as_ref() {
                Some((s, c)) if *s == conn.settings => c.clone(),
                _ => {
                    let c = match ZabbixClient::new(config_of(&conn)) {
                        Ok(c) => Arc::new(c),
                        Err(e) => {
                            drop(slot);
                            self.failed(&e);
                            return Ok(interval);
                        }
                    };
                    *slot = Some((conn.settings.clone(), c.clone()));
                    c
                }
            }
        };
        if active {
            self.sync(&client).await?;
        }
        Ok(interval)
    }

    fn failed(&self, e: &ZabbixError) {
        tracing::warn!(error = %e, kind = e.kind(), "Zabbix sync failed");
        let mut c = self.inner.cache.write().expect("cache lock");
        c.status.last_sync_at = Some(Utc::now());
        c.status.error_kind = Some(e.kind().to_string());
        c.status.error = Some(e.to_string());
        c.status.stale = true;
    }

    /// Reads a snapshot, mirrors its hosts, keeps its problems and ping states.
    async fn sync(&self, client: &ZabbixClient) -> Result<(), wardflux_store::StoreError> {
        let t0 = Instant::now();
        let version = match self.status().version {
            Some(v) => Some(v),
            None => client.version().await.ok().map(|v| v.raw),
        };
        let snap = match fetch_snapshot(client).await {
            Ok(s) => s,
            Err(e) => {
                self.failed(&e);
                return Ok(());
            }
        };
        let hosts: Vec<MirrorHost> = snap.hosts.iter().filter_map(mirror_host).collect();
        let store = &self.inner.store;
        let report = store.mirror_zabbix_hosts(&Actor::system(), &hosts).await?;
        if report.created + report.updated + report.removed > 0 {
            tracing::info!(?report, "Zabbix hosts mirrored");
        }
        let all = store.all_devices().await?;
        let devices: HashMap<u64, (Uuid, String)> = all
            .iter()
            .filter_map(|d| Some((d.zabbix_hostid?, (d.id, d.name.clone()))))
            .collect();
        let (alerts, events) = problems_as_alerts(client.url(), &snap, &devices);
        let samples = self.new_samples(&snap, &all);
        if let Some(sink) = &self.inner.sink
            && !samples.is_empty()
        {
            let batch = samples.iter().map(|(_, _, s)| s.clone()).collect();
            match sink.append(batch).await {
                Ok(()) => {
                    let mut c = self.inner.cache.write().expect("cache lock");
                    for (key, clock, _) in samples {
                        c.written.insert(key, clock);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "Zabbix item values not stored"),
            }
        }
        let ping = snap
            .icmp
            .iter()
            .filter_map(|(host, s)| {
                let (id, _) = devices.get(host)?;
                Some((
                    *id,
                    ZabbixPing {
                        up: s.up,
                        clock: s.clock,
                    },
                ))
            })
            .collect();
        let now = Utc::now();
        let mut c = self.inner.cache.write().expect("cache lock");
        c.status = ZabbixStatus {
            configured: true,
            active: true,
            version,
            last_sync_at: Some(now),
            last_success_at: Some(now),
            stale: false,
            age_s: Some(0),
            error_kind: None,
            error: None,
            hosts: hosts.len(),
            problems: alerts.len(),
            api_calls: snap.api_calls,
            duration_ms: Some(t0.elapsed().as_millis() as u64),
        };
        c.alerts = alerts;
        c.events = events;
        c.ping = ping;
        Ok(())
    }
}

/// What a value written to the metric sink came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Written {
    /// A host's `icmpping`.
    Ping(u64),
    /// An interface item.
    Item(u64),
}

impl ZabbixSource {
    /// The values of Zabbix-only devices that are newer than what was written, as our
    /// series: `icmpping` as `ping_up`, `net.if.in[IF]`/`net.if.out[IF]` as
    /// `interface_in/out_octets_per_second{ifName="IF"}` (divided by 8 when the item's units
    /// are `bps`, as Zabbix' templates keep them). Labels `device`, `device_id`, `ip` and
    /// `source="zabbix"`. Where our engine watches the device too, its series are the answer.
    fn new_samples(
        &self,
        snap: &Snapshot,
        all: &[wardflux_model::inventory::Device],
    ) -> Vec<(Written, DateTime<Utc>, Sample)> {
        let c = self.inner.cache.read().expect("cache lock");
        let fresh = |k: Written, clock: DateTime<Utc>| c.written.get(&k).is_none_or(|w| *w < clock);
        let zabbix_only: HashMap<u64, &wardflux_model::inventory::Device> = all
            .iter()
            .filter(|d| d.source == DeviceSource::Zabbix)
            .filter_map(|d| Some((d.zabbix_hostid?, d)))
            .collect();
        let labels = |d: &wardflux_model::inventory::Device, extra: Option<(&str, &str)>| {
            let (id, ip) = (d.id.to_string(), d.ip.to_string());
            let mut pairs = vec![
                ("device", d.name.as_str()),
                ("device_id", id.as_str()),
                ("ip", ip.as_str()),
                ("source", "zabbix"),
            ];
            pairs.extend(extra);
            Labels::from_pairs(pairs)
        };
        let mut out = Vec::new();
        for (h, s) in &snap.icmp {
            let Some(d) = zabbix_only.get(h) else {
                continue;
            };
            if fresh(Written::Ping(*h), s.clock) {
                out.push((
                    Written::Ping(*h),
                    s.clock,
                    Sample {
                        metric: "ping_up".into(),
                        labels: labels(d, None),
                        timestamp_ms: s.clock.timestamp_millis(),
                        value: if s.up { 1.0 } else { 0.0 },
                    },
                ));
            }
        }
        for item in &snap.interfaces {
            let Some(d) = zabbix_only.get(&item.host_id) else {
                continue;
            };
            let (Some(clock), Some(v)) = (
                item.last_clock,
                item.last_value
                    .as_deref()
                    .and_then(|v| v.trim().parse::<f64>().ok()),
            ) else {
                continue;
            };
            let Some((metric, ifname)) = interface_metric(&item.key) else {
                continue;
            };
            if !fresh(Written::Item(item.id), clock) {
                continue;
            }
            let value = if item.units == "bps" { v / 8.0 } else { v };
            out.push((
                Written::Item(item.id),
                clock,
                Sample {
                    metric: metric.into(),
                    labels: labels(d, Some(("ifName", ifname))),
                    timestamp_ms: clock.timestamp_millis(),
                    value,
                },
            ));
        }
        out
    }
}

/// `net.if.in[eth0]` -> (`interface_in_octets_per_second`, `eth0`); the first key parameter
/// names the interface (quotes dropped).
fn interface_metric(key: &str) -> Option<(&'static str, &str)> {
    let (metric, rest) = if let Some(r) = key.strip_prefix("net.if.in[") {
        ("interface_in_octets_per_second", r)
    } else if let Some(r) = key.strip_prefix("net.if.out[") {
        ("interface_out_octets_per_second", r)
    } else {
        return None;
    };
    let first = rest
        .strip_suffix(']')?
        .split(',')
        .next()?
        .trim()
        .trim_matches('"');
    (!first.is_empty()).then_some((metric, first))
}

/// The address WARD FLUX knows a host by: its main agent interface's IP, else the first
/// interface with an IP (SNMP, IPMI, JMX). A host reached only by DNS name is not mirrored.
fn mirror_host(h: &Host) -> Option<MirrorHost> {
    let rank = |i: &crate::Interface| (!i.main, i.kind != InterfaceKind::Agent);
    let mut ifs: Vec<_> = h.interfaces.iter().collect();
    ifs.sort_by_key(|i| rank(i));
    let ip = ifs.iter().find_map(|i| i.ip.parse().ok())?;
    Some(MirrorHost {
        host_id: h.id,
        name: h.name.clone(),
        hostname: h.host.clone(),
        ip,
        enabled: h.enabled,
        groups: h.groups.iter().map(|g| g.name.clone()).collect(),
    })
}

/// Problems as alerts (`origin: zabbix`), ids stable across syncs, device fields from the
/// mirrored device of the problem's first host.
fn problems_as_alerts(
    url: &str,
    snap: &Snapshot,
    devices: &HashMap<u64, (Uuid, String)>,
) -> (Vec<Alert>, HashMap<Uuid, u64>) {
    let mut events = HashMap::new();
    let alerts = snap
        .problems
        .iter()
        .map(|p| {
            let a = problem_alert(url, p, devices);
            events.insert(a.id, p.event_id);
            a
        })
        .collect();
    (alerts, events)
}

fn problem_alert(url: &str, p: &Problem, devices: &HashMap<u64, (Uuid, String)>) -> Alert {
    let id = Uuid::new_v5(&PROBLEM_NS, format!("{url}#{}", p.event_id).as_bytes());
    let rule_id = Uuid::new_v5(
        &PROBLEM_NS,
        format!("{url}#trigger{}", p.trigger_id).as_bytes(),
    );
    let mut labels = BTreeMap::from([
        ("zabbix_eventid".to_string(), p.event_id.to_string()),
        ("zabbix_triggerid".to_string(), p.trigger_id.to_string()),
    ]);
    let host = p.hosts.first();
    let device = host.and_then(|(h, _)| devices.get(h));
    if let Some((h, name)) = host {
        labels.insert("zabbix_hostid".into(), h.to_string());
        labels.insert(
            "device".into(),
            device
                .map(|(_, n)| n.clone())
                .unwrap_or_else(|| name.clone()),
        );
    }
    if let Some((id, _)) = device {
        labels.insert("device_id".into(), id.to_string());
    }
    let last_ack = p.acks.iter().max_by_key(|a| a.clock);
    Alert {
        id,
        rule_id,
        rule: p.name.clone(),
        severity: severity(p.severity),
        device_id: device.map(|(id, _)| *id),
        device: labels.get("device").cloned(),
        labels,
        value: None,
        state: AlertState::Firing,
        message: p.name.clone(),
        started_at: p.clock,
        firing_at: Some(p.clock),
        resolved_at: None,
        acknowledged: p.acknowledged,
        acknowledged_by: p
            .acknowledged
            .then(|| last_ack.map(|a| a.user.clone()))
            .flatten(),
        acknowledged_at: p.acknowledged.then(|| last_ack.map(|a| a.clock)).flatten(),
        comment: last_ack
            .map(|a| a.message.clone())
            .filter(|m| !m.is_empty()),
        suppressed_by: p.suppressed.then(|| "zabbix:suppressed".to_string()),
        notified_at: None,
        last_notified_at: None,
        escalation_step: 0,
        escalated: false,
        version: 0,
        origin: AlertOrigin::Zabbix,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_keys_name_their_interface() {
        assert_eq!(
            interface_metric("net.if.in[eth0]"),
            Some(("interface_in_octets_per_second", "eth0"))
        );
        assert_eq!(
            interface_metric("net.if.out[\"GigabitEthernet0/1\",bytes]"),
            Some(("interface_out_octets_per_second", "GigabitEthernet0/1"))
        );
        assert_eq!(interface_metric("net.if.discovery"), None);
        assert_eq!(interface_metric("net.if.in[]"), None);
    }

    #[test]
    fn severities_map_as_the_issue_says() {
        let got: Vec<_> = (0..=5).map(|s| severity(s).as_str()).collect();
        assert_eq!(got, ["info", "info", "low", "medium", "high", "critical"]);
    }
}
