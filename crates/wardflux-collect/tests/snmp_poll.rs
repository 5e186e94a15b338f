//! The SNMP item poller against real agents: snmpsim (a Catalyst 3750 recording, made
//! `live` with moving counters and CPU, a wrapping Counter32, a renumbered copy) and
//! net-snmp snmpd (reboot, missing OIDs over v1 and v2c, a silent agent), all on loopback.
//! Reference values come from net-snmp's `snmpget`. Polls run at 1 s in real time; every wait
//! polls a condition with a deadline.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use uuid::Uuid;
use wardflux_collect::{DeviceLimits, PollDevice, Scheduler, SnmpPoller, SnmpPollerConfig};
use wardflux_model::items::{
    DiscoverySpec, ItemSpec, ItemStatus, PollPlan, Preprocess, RowFilter, ValueType,
};
use wardflux_snmp::{SnmpClient, Target};
use wardflux_testkit::snmp::{Daemon, restart_snmpd, shipped_recording, snmpd, snmpget, snmpsim};

mod common;
use common::{MemSink, wait_for};

fn item(key: &str, oid: &str, value_type: ValueType) -> ItemSpec {
    ItemSpec {
        id: Uuid::new_v4(),
        key: key.to_owned(),
        name: key.replace('_', " "),
        oid: oid.to_owned(),
        interval_seconds: 1,
        value_type,
        units: None,
        multiplier: None,
        preprocess: None,
        labels: BTreeMap::new(),
    }
}

/// A plan of `items` only, no discovery rules.
fn items_only(items: Vec<ItemSpec>) -> PollPlan {
    PollPlan {
        items,
        discoveries: vec![],
    }
}

fn device(d: &Daemon, community: &str, name: &str, plan: PollPlan) -> PollDevice {
    let mut target = Target::v2c(d.addr, community);
    target.timeout = Duration::from_millis(300);
    target.retries = 1;
    PollDevice {
        device_id: Uuid::new_v4(),
        name: name.to_owned(),
        ip: d.addr.ip(),
        port: d.addr.port(),
        target,
        plan: Arc::new(plan.into()),
        limits: None,
    }
}

struct Rig {
    poller: SnmpPoller,
    sink: Arc<MemSink>,
    scheduler: Scheduler,
}

impl Rig {
    /// Polls the one item `item` on a device `name` at `d` (v2c `community`); returns its id.
    fn poll_one(&self, d: &Daemon, community: &str, name: &str, item: ItemSpec) -> Uuid {
        let dev = device(d, community, name, items_only(vec![item]));
        let id = dev.device_id;
        self.poller.apply_devices(vec![dev]);
        id
    }

    /// Waits until the device `id` has `n` samples of `metric`; fails after `within`.
    async fn wait_samples(&self, metric: &str, id: Uuid, n: usize, within: Duration) {
        let what = format!("{n} samples of {metric}");
        wait_for(&what, within, || self.sink.count(metric, id) >= n).await;
    }
}

fn rig(reachable: Arc<dyn Fn(Uuid) -> bool + Send + Sync>) -> Rig {
    let scheduler = Scheduler::new("test");
    let sink = Arc::new(MemSink::default());
    let poller = SnmpPoller::on(
        &scheduler,
        SnmpClient::default(),
        sink.clone(),
        reachable,
        SnmpPollerConfig::default(),
    );
    Rig {
        poller,
        sink,
        scheduler,
    }
}

fn always() -> Arc<dyn Fn(Uuid) -> bool + Send + Sync> {
    Arc::new(|_| true)
}

fn state<'a>(
    states: &'a [wardflux_model::items::ItemState],
    key: &str,
) -> &'a wardflux_model::items::ItemState {
    states
        .iter()
        .find(|s| s.key == key)
        .unwrap_or_else(|| panic!("no state for {key}: {states:?}"))
}

/// The Catalyst recording with moving counters and CPU (snmpsim's numeric variation), as
/// the rig's `live` community: sysUpTime ticks at 100/s, ifIn/OutOctets and ifIn/OutUcastPkts
/// (Counter32, wrapping) at 1000 x (ifIndex % 50 + 1)/s, the ifHC counters at
/// 125000 x (ifIndex % 8 + 1)/s, Cisco CPU as slow sine waves.
fn live_recording() -> String {
    let mut out = String::new();
    for line in shipped_recording("cisco3750").lines() {
        let mut f = line.splitn(3, '|');
        let (oid, tag, value) = (
            f.next().unwrap(),
            f.next().unwrap_or(""),
            f.next().unwrap_or(""),
        );
        let last: u64 = oid
            .rsplit('.')
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let col = |prefix: &str, cols: &[u32]| {
            cols.iter()
                .any(|c| oid.starts_with(&format!("{prefix}.{c}.")))
        };
        let new = if oid == "1.3.6.1.2.1.1.3.0" {
            format!("{oid}|67:numeric|initial={value},rate=100")
        } else if tag == "65" && col("1.3.6.1.2.1.2.2.1", &[10, 11, 16, 17]) {
            format!(
                "{oid}|65:numeric|initial={value},rate={},wrap=1",
                1000 * (last % 50 + 1)
            )
        } else if tag == "70" && col("1.3.6.1.2.1.31.1.1.1", &[6, 7, 10, 11]) {
            format!(
                "{oid}|70:numeric|initial={value},rate={}",
                125_000 * (last % 8 + 1)
            )
        } else if oid == "1.3.6.1.4.1.9.2.1.56.0" {
            format!("{oid}|2:numeric|function=sin,rate=0.05,scale=20,offset=40,max=100")
        } else if oid == "1.3.6.1.4.1.9.2.1.58.0" {
            format!("{oid}|2:numeric|function=sin,rate=0.002,scale=10,offset=30,max=100")
        } else {
            line.to_owned()
        };
        out.push_str(&new);
        out.push('\n');
    }
    out
}

/// A raw counter read twice with snmpget at least `span` apart: (Δraw / Δt).
fn reference_rate(addr: std::net::SocketAddr, community: &str, oid: &str, span: Duration) -> f64 {
    let read = || {
        let before = Instant::now();
        let v: f64 = snmpget(addr, community, oid)
            .expect("snmpget")
            .parse()
            .expect("number");
        let after = Instant::now();
        (v, before + (after - before) / 2)
    };
    let (a, ta) = read();
    // Keep reading until `span` has passed (a condition on the clock, not a fixed sleep).
    loop {
        let (b, tb) = read();
        if tb - ta >= span {
            return (b - a) / (tb - ta).as_secs_f64();
        }
    }
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs().max(1e-9)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_recording_gauges_rates_strings_and_hot_reload() {
    let sim = snmpsim(&[("live", &live_recording())]);
    let r = rig(always());
    let used = item(
        "memory_used_bytes",
        "1.3.6.1.4.1.9.9.48.1.1.1.5.1",
        ValueType::Gauge,
    );
    let free = item(
        "memory_free_bytes",
        "1.3.6.1.4.1.9.9.48.1.1.1.6.1",
        ValueType::Gauge,
    );
    let mut usage = item(
        "memory_usage",
        "1.3.6.1.4.1.9.9.48.1.1.1.5.1",
        ValueType::Gauge,
    );
    usage.preprocess = Some(Preprocess::PercentOfSum {
        other: "memory_free_bytes".into(),
    });
    let plan = items_only(vec![
        item("cpu_usage", "1.3.6.1.4.1.9.2.1.58.0", ValueType::Gauge),
        used,
        free,
        usage,
        item("system_name", "1.3.6.1.2.1.1.5.0", ValueType::String),
        // Counter64, 250000/s
        item("hc_in", "1.3.6.1.2.1.31.1.1.1.6.1", ValueType::Counter),
        // Counter32, 11000/s
        item("in32", "1.3.6.1.2.1.2.2.1.10.60", ValueType::Counter),
    ]);
    let dev = device(&sim, "live", "cat-live", plan);
    let id = dev.device_id;
    r.poller.apply_devices(vec![dev.clone()]);

    r.wait_samples("hc_in", id, 3, Duration::from_secs(10))
        .await;

    // Rates: the configured rates, and what two raw reads by snmpget give.
    let addr = sim.addr;
    let (ref64, ref32) = tokio::task::spawn_blocking(move || {
        (
            reference_rate(
                addr,
                "live",
                "1.3.6.1.2.1.31.1.1.1.6.1",
                Duration::from_secs(2),
            ),
            reference_rate(
                addr,
                "live",
                "1.3.6.1.2.1.2.2.1.10.60",
                Duration::from_secs(2),
            ),
        )
    })
    .await
    .unwrap();
    assert!(close(ref64, 250_000.0, 0.05), "snmpget rate {ref64}");
    for s in r.sink.of("hc_in", id) {
        assert!(close(s.value, ref64, 0.05), "hc_in {} vs {ref64}", s.value);
        assert!(close(s.value, 250_000.0, 0.03), "hc_in {}", s.value);
    }
    for s in r.sink.of("in32", id) {
        assert!(close(s.value, ref32, 0.05), "in32 {} vs {ref32}", s.value);
    }

    // At their interval: one second apart.
    let ts: Vec<i64> = r
        .sink
        .of("hc_in", id)
        .iter()
        .map(|s| s.timestamp_ms)
        .collect();
    for w in ts.windows(2) {
        assert!((800..=1300).contains(&(w[1] - w[0])), "poll spacing {ts:?}");
    }

    // Gauges equal what snmpget reads; strings are states, not samples.
    let addr = sim.addr;
    let (used_ref, cpu_ref, name_ref) = tokio::task::spawn_blocking(move || {
        (
            snmpget(addr, "live", "1.3.6.1.4.1.9.9.48.1.1.1.5.1").unwrap(),
            snmpget(addr, "live", "1.3.6.1.4.1.9.2.1.58.0").unwrap(),
            snmpget(addr, "live", "1.3.6.1.2.1.1.5.0").unwrap(),
        )
    })
    .await
    .unwrap();
    let last = |m: &str| r.sink.of(m, id).last().unwrap().value;
    assert_eq!(last("memory_used_bytes"), used_ref.parse::<f64>().unwrap());
    assert!((last("cpu_usage") - cpu_ref.parse::<f64>().unwrap()).abs() <= 1.0);
    let expected = 100.0 * 34_973_844.0 / (34_973_844.0 + 33_184_936.0);
    assert!((last("memory_usage") - expected).abs() < 1e-9);
    assert_eq!(r.sink.count("system_name", id), 0);
    let states = r.poller.items(Some(id));
    assert_eq!(
        state(&states, "system_name").last_value,
        Some(serde_json::json!(name_ref))
    );
    assert!(
        states.iter().all(|s| s.status == ItemStatus::Ok),
        "{states:?}"
    );

    // Identity labels; per-poll health samples.
    let s = r.sink.of("hc_in", id).pop().unwrap();
    assert_eq!(s.labels.get("device"), Some("cat-live"));
    assert_eq!(s.labels.get("ip"), Some("127.0.0.1"));
    assert!(r.sink.of("snmp_up", id).iter().all(|s| s.value == 1.0));
    assert!(r.sink.count("snmp_poll_duration_seconds", id) >= 3);
    assert_eq!(r.poller.limits(id).unwrap().counters64, Some(true));

    // Hot reload with the same plan: same schedule, counter readings kept (the next poll
    // has a rate, no gap).
    let before = r.sink.count("hc_in", id);
    r.poller.apply_devices(vec![dev.clone()]);
    r.wait_samples("hc_in", id, before + 2, Duration::from_secs(5))
        .await;
    let ts: Vec<i64> = r
        .sink
        .of("hc_in", id)
        .iter()
        .map(|s| s.timestamp_ms)
        .collect();
    for w in ts.windows(2) {
        assert!(
            (800..=1300).contains(&(w[1] - w[0])),
            "gap across reload {ts:?}"
        );
    }
    assert_eq!(r.scheduler.stats().skipped, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counter32_wrap_gives_a_steady_rate() {
    // 10^9 per second: the Counter32 wraps every 4.3 s, one wrap at most between polls.
    let rec = "1.3.6.1.2.1.1.3.0|67:numeric|initial=100,rate=100\n\
               1.3.6.1.2.1.2.2.1.10.1|65:numeric|initial=4000000000,rate=1000000000,wrap=1\n";
    let sim = snmpsim(&[("wrap", rec)]);
    let r = rig(always());
    let id = r.poll_one(
        &sim,
        "wrap",
        "wrapper",
        item("in_octets", "1.3.6.1.2.1.2.2.1.10.1", ValueType::Counter),
    );
    // Six rates cover six intervals, more than 4.3 s: at least one wrap.
    r.wait_samples("in_octets", id, 6, Duration::from_secs(12))
        .await;
    let samples = r.sink.of("in_octets", id);
    assert!(samples.last().unwrap().timestamp_ms - samples[0].timestamp_ms >= 4_500);
    for s in &samples {
        assert!(
            close(s.value, 1e9, 0.03),
            "rate {} (wrap read as a spike or a dip)",
            s.value
        );
    }
    assert_eq!(r.poller.limits(id).unwrap().counters64, Some(false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_reboot_gives_no_spike() {
    let mut agent = snmpd();
    let r = rig(always());
    // snmpInPkts: snmpd's own Counter32, back to zero when it restarts.
    let id = r.poll_one(
        &agent,
        "public",
        "rebooter",
        item("snmp_in_pkts", "1.3.6.1.2.1.11.1.0", ValueType::Counter),
    );
    r.wait_samples("snmp_in_pkts", id, 2, Duration::from_secs(8))
        .await;
    let restarted_ms = chrono::Utc::now().timestamp_millis();
    tokio::task::block_in_place(|| restart_snmpd(&mut agent));
    let after = |m: &str| {
        r.sink
            .of(m, id)
            .into_iter()
            .filter(|s| s.timestamp_ms > restarted_ms)
            .collect::<Vec<_>>()
    };
    wait_for("2 rates after the restart", Duration::from_secs(10), || {
        after("snmp_in_pkts").len() >= 2
    })
    .await;
    for s in r.sink.of("snmp_in_pkts", id) {
        assert!(s.value < 10_000.0, "spike {} across the reboot", s.value);
    }
    let answered = after("snmp_up").iter().filter(|s| s.value == 1.0).count();
    assert!(
        answered > after("snmp_in_pkts").len(),
        "the first answered poll after the reboot must write no rate"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_oids_are_not_supported_and_nothing_else_is_affected() {
    let agent = snmpd();
    let r = rig(always());
    // Polled only by poll_now here: a yearly interval keeps the scheduler out of the way.
    let yearly = |mut i: ItemSpec| {
        i.interval_seconds = 365 * 86_400;
        i
    };
    let plan = || {
        items_only(vec![
            yearly(item("system_name", "1.3.6.1.2.1.1.5.0", ValueType::String)),
            yearly(item("uptime", "1.3.6.1.2.1.1.3.0", ValueType::Gauge)),
            yearly(item(
                "nothing_here",
                "1.3.6.1.4.1.99999.1.0",
                ValueType::Gauge,
            )),
            yearly(item("no_instance", "1.3.6.1.2.1.1.5.1", ValueType::Gauge)),
        ])
    };
    let v2 = device(&agent, "public", "v2", plan());
    let mut v1 = device(&agent, "public", "v1", plan());
    v1.target.version = wardflux_snmp::Version::V1;
    r.poller.apply_devices(vec![v2.clone(), v1.clone()]);

    // snmpInGetRequests counts the GET PDUs the agent received: calibrate what one read of
    // it adds, then check the poll of four items was one GET.
    let addr = agent.addr;
    let gets = move || -> i64 {
        snmpget(addr, "public", "1.3.6.1.2.1.11.15.0")
            .unwrap()
            .parse()
            .unwrap()
    };
    let (a, b) = tokio::task::block_in_place(|| (gets(), gets()));
    let per_read = b - a;
    let s2 = r.poller.poll_now(v2.device_id).await.unwrap();
    let c = tokio::task::block_in_place(gets);
    assert_eq!(c - b - per_read, 1, "four items in one GET");
    assert_eq!(state(&s2, "nothing_here").status, ItemStatus::NotSupported);
    assert!(
        state(&s2, "nothing_here")
            .error
            .as_deref()
            .unwrap()
            .contains("noSuchObject"),
        "{s2:?}"
    );
    assert_eq!(state(&s2, "no_instance").status, ItemStatus::NotSupported);
    assert!(
        state(&s2, "no_instance")
            .error
            .as_deref()
            .unwrap()
            .contains("noSuchInstance")
    );

    // v1: noSuchName fails the whole PDU; the poller drops the named OID and asks again.
    let s1 = r.poller.poll_now(v1.device_id).await.unwrap();
    for s in [&s1, &s2] {
        assert_eq!(state(s, "system_name").status, ItemStatus::Ok, "{s:?}");
        assert_eq!(
            state(s, "system_name").last_value,
            Some(serde_json::json!("wardflux-test"))
        );
        assert_eq!(state(s, "uptime").status, ItemStatus::Ok);
        assert!(state(s, "uptime").last_value.is_some());
    }
    for key in ["nothing_here", "no_instance"] {
        assert_eq!(state(&s1, key).status, ItemStatus::NotSupported, "{s1:?}");
        assert!(
            state(&s1, key)
                .error
                .as_deref()
                .unwrap()
                .contains("noSuchName")
        );
    }
    assert_eq!(r.sink.count("uptime", v1.device_id), 1);
    assert_eq!(r.sink.count("nothing_here", v1.device_id), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_agent_times_out_and_other_devices_stay_on_time() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    let silent = snmpd();
    let healthy = snmpd();
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let r = metrics::with_local_recorder(&recorder, || rig(always()));
    let plan = || items_only(vec![item("uptime", "1.3.6.1.2.1.1.3.0", ValueType::Gauge)]);
    let a = device(&silent, "public", "silent", plan());
    let b = device(&healthy, "public", "healthy", plan());
    let (ida, idb) = (a.device_id, b.device_id);
    r.poller.apply_devices(vec![a, b]);
    wait_for("both polled", Duration::from_secs(5), || {
        r.sink.count("uptime", ida) >= 1 && r.sink.count("uptime", idb) >= 1
    })
    .await;

    silent.stop();
    let stopped_ms = chrono::Utc::now().timestamp_millis();
    wait_for("3 timeouts", Duration::from_secs(10), || {
        r.poller.status(ida).unwrap().timeouts >= 3
    })
    .await;
    let st = r.poller.items(Some(ida));
    assert_eq!(state(&st, "uptime").status, ItemStatus::Timeout, "{st:?}");
    assert_eq!(r.poller.status(ida).unwrap().up, Some(false));
    assert!(
        r.sink.of("snmp_up", ida).iter().any(|s| s.value == 0.0),
        "snmp_up 0 written"
    );

    // The healthy device kept its one-second rhythm meanwhile.
    let ts: Vec<i64> = r
        .sink
        .of("uptime", idb)
        .iter()
        .map(|s| s.timestamp_ms)
        .filter(|t| *t > stopped_ms)
        .collect();
    assert!(ts.len() >= 2, "{ts:?}");
    for w in ts.windows(2) {
        assert!(
            (800..=1300).contains(&(w[1] - w[0])),
            "healthy device late: {ts:?}"
        );
    }
    assert_eq!(
        state(&r.poller.items(Some(idb)), "uptime").status,
        ItemStatus::Ok
    );
    assert_eq!(r.scheduler.stats().skipped, 0);

    let timeouts = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .find(|(k, _, _, _)| k.key().name() == "wardflux_snmp_timeouts_total")
        .map(|(_, _, _, v)| v);
    match timeouts {
        Some(DebugValue::Counter(n)) => assert!(n >= 3, "{n}"),
        other => panic!("wardflux_snmp_timeouts_total: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_device_is_not_polled_until_it_is_up() {
    let agent = snmpd();
    let up = Arc::new(AtomicBool::new(false));
    let flag = up.clone();
    let r = rig(Arc::new(move |_| flag.load(Ordering::Relaxed)));
    let id = r.poll_one(
        &agent,
        "public",
        "down",
        item("uptime", "1.3.6.1.2.1.1.3.0", ValueType::Gauge),
    );
    wait_for("3 scheduled runs", Duration::from_secs(6), || {
        r.scheduler.stats().runs >= 3
    })
    .await;
    let st = r.poller.items(Some(id));
    assert_eq!(state(&st, "uptime").status, ItemStatus::Unreachable);
    assert_eq!(r.sink.0.lock().unwrap().len(), 0, "nothing written");
    assert_eq!(r.poller.status(id).unwrap().timeouts, 0);

    up.store(true, Ordering::Relaxed);
    r.wait_samples("uptime", id, 1, Duration::from_secs(5))
        .await;
    assert_eq!(
        state(&r.poller.items(Some(id)), "uptime").status,
        ItemStatus::Ok
    );
}

/// Devices given one shared plan (as the store hands out one per set of templates and
/// macros) poll alike and each reports its own item ids, derived from template, device and
/// key; a reload with an equal plan (a new copy) keeps their states.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_sharing_a_plan_report_their_own_item_ids() {
    use wardflux_model::items::{ScalarIds, SharedPlan, scalar_item_id};
    let agent = snmpd();
    let r = rig(always());
    let template = Uuid::new_v4();
    let shared = |t: Uuid| {
        let mut uptime = item("uptime", "1.3.6.1.2.1.1.3.0", ValueType::Gauge);
        let mut name = item("system_name", "1.3.6.1.2.1.1.5.0", ValueType::String);
        uptime.id = scalar_item_id(t, Uuid::nil(), "uptime");
        name.id = scalar_item_id(t, Uuid::nil(), "system_name");
        Arc::new(SharedPlan {
            plan: items_only(vec![uptime, name]),
            scalar_ids: ScalarIds::Derived(vec![t, t]),
        })
    };
    let plan = shared(template);
    let mut devs: Vec<PollDevice> = ["a", "b"]
        .into_iter()
        .map(|n| {
            let mut d = device(&agent, "public", n, PollPlan::default());
            d.plan = plan.clone();
            d
        })
        .collect();
    r.poller.apply_devices(devs.clone());
    for d in &devs {
        let states = r.poller.poll_now(d.device_id).await.unwrap();
        let ids: BTreeSet<(String, Uuid)> =
            states.iter().map(|s| (s.key.clone(), s.item_id)).collect();
        let want: BTreeSet<(String, Uuid)> = ["uptime", "system_name"]
            .into_iter()
            .map(|k| (k.to_owned(), scalar_item_id(template, d.device_id, k)))
            .collect();
        assert_eq!(ids, want, "{}", d.name);
        assert!(
            states.iter().all(|s| s.status == ItemStatus::Ok),
            "{states:?}"
        );
    }
    // the reload's new, equal copy: states kept (polled, with their values), ids unchanged
    let ids = |states: Vec<wardflux_model::items::ItemState>| -> BTreeSet<(Uuid, Uuid, bool)> {
        states
            .into_iter()
            .map(|s| (s.device_id, s.item_id, s.last_value.is_some()))
            .collect()
    };
    let polled = ids(r.poller.items(None));
    assert_eq!(polled.len(), 4);
    for d in &mut devs {
        d.plan = shared(template);
    }
    r.poller.apply_devices(devs);
    assert_eq!(ids(r.poller.items(None)), polled);
}

/// The Catalyst recording with every ifTable/ifXTable row moved to ifIndex + 10000 (an
/// agent that renumbered its interfaces after a reboot).
fn renumbered_recording() -> String {
    let mut out = String::new();
    for line in shipped_recording("cisco3750").lines() {
        let mut f = line.splitn(3, '|');
        let (oid, tag, value) = (
            f.next().unwrap(),
            f.next().unwrap_or(""),
            f.next().unwrap_or(""),
        );
        let table = ["1.3.6.1.2.1.2.2.1.", "1.3.6.1.2.1.31.1.1.1."]
            .iter()
            .any(|p| oid.starts_with(p) && oid[p.len()..].split('.').count() == 2);
        if !table {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let (col, index) = oid.rsplit_once('.').unwrap();
        let index: u32 = index.parse().unwrap();
        let value = if col == "1.3.6.1.2.1.2.2.1.1" {
            (index + 10_000).to_string()
        } else {
            value.to_owned()
        };
        out.push_str(&format!("{col}.{}|{tag}|{value}\n", index + 10_000));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interface_discovery_filters_rows_and_survives_renumbering() {
    let sim = snmpsim(&[("renum", &renumbered_recording())]);
    let r = rig(always());
    let mut status = item("interface_status", "1.3.6.1.2.1.2.2.1.8", ValueType::Gauge);
    status.preprocess = Some(Preprocess::Equals { value: 1.0 });
    let disc = DiscoverySpec {
        id: Uuid::new_v4(),
        name: "interfaces".into(),
        columns: BTreeMap::from([
            ("ifName".to_owned(), "1.3.6.1.2.1.31.1.1.1.1".to_owned()),
            ("ifDescr".to_owned(), "1.3.6.1.2.1.2.2.1.2".to_owned()),
            ("ifType".to_owned(), "1.3.6.1.2.1.2.2.1.3".to_owned()),
        ]),
        index_label: "ifIndex".into(),
        key_labels: vec!["ifName".into(), "ifDescr".into()],
        filters: vec![
            RowFilter {
                label: "ifType".into(),
                regex: "^6$".into(),
                negate: false,
            },
            RowFilter {
                label: "ifName".into(),
                regex: "^Fa3/0/".into(),
                negate: false,
            },
            RowFilter {
                label: "ifName".into(),
                regex: "^Fa3/0/4[0-9]$".into(),
                negate: true,
            },
        ],
        interval_seconds: 3600,
        prototypes: vec![
            status,
            item(
                "interface_in_octets_per_second",
                "1.3.6.1.2.1.31.1.1.1.6",
                ValueType::Counter,
            ),
        ],
    };
    let plan = PollPlan {
        items: vec![item(
            "cpu_usage",
            "1.3.6.1.4.1.9.2.1.57.0",
            ValueType::Gauge,
        )],
        discoveries: vec![disc],
    };
    let mut dev = device(&sim, "cisco3750", "catalyst", plan);
    dev.limits = Some(DeviceLimits {
        max_repetitions: Some(7),
        getbulk: Some(true),
        counters64: None,
    });
    let id = dev.device_id;
    r.poller.apply_devices(vec![dev.clone()]);

    // Fa3/0/1 .. Fa3/0/39: 39 rows.
    let names_since = |t: i64| {
        r.sink
            .of("interface_status", id)
            .into_iter()
            .filter(|s| s.timestamp_ms > t)
            .map(|s| s.labels)
            .collect::<BTreeSet<_>>()
    };
    wait_for("39 interfaces polled", Duration::from_secs(15), || {
        names_since(0).len() >= 39
    })
    .await;
    let before = names_since(0);
    assert_eq!(before.len(), 39, "{before:?}");
    for l in &before {
        let name = l.get("ifName").unwrap();
        let n: u32 = name.strip_prefix("Fa3/0/").unwrap().parse().unwrap();
        assert!((1..40).contains(&n), "{name}");
        assert!(l.get("ifDescr").is_some() && l.get("ifType") == Some("6"));
        assert!(
            l.get("ifIndex").is_none(),
            "rows keyed by name carry no index label"
        );
    }
    let status = r.poller.status(id).unwrap();
    assert_eq!(status.discoveries[0].rows, 39);
    assert_eq!(status.limits.max_repetitions, Some(7));
    assert_eq!(status.limits.getbulk, Some(true));
    let fa1_oid = |r: &Rig| {
        r.poller
            .items(Some(id))
            .into_iter()
            .find(|s| {
                s.key == "interface_status"
                    && s.labels.get("ifName").map(String::as_str) == Some("Fa3/0/1")
            })
            .unwrap()
    };
    let old = fa1_oid(&r);
    assert_eq!(
        old.labels.get("ifIndex").map(String::as_str),
        Some(old.oid.rsplit('.').next().unwrap())
    );

    // The agent renumbers (served under another community): the rows are walked again
    // and the same names come back with new indexes, as the same series.
    let switched = chrono::Utc::now().timestamp_millis();
    let mut renum = dev.clone();
    renum.target.credentials = Target::v2c(sim.addr, "renum").credentials;
    r.poller.apply_devices(vec![renum]);
    wait_for(
        "39 interfaces polled again",
        Duration::from_secs(15),
        || names_since(switched).len() >= 39,
    )
    .await;
    assert_eq!(
        names_since(switched),
        before,
        "same series after renumbering"
    );
    let new = fa1_oid(&r);
    let new_index: u32 = new.oid.rsplit('.').next().unwrap().parse().unwrap();
    let old_index: u32 = old.oid.rsplit('.').next().unwrap().parse().unwrap();
    assert_eq!(new_index, old_index + 10_000);
    assert_eq!(new.item_id, old.item_id);
    let statuses = r
        .poller
        .items(Some(id))
        .into_iter()
        .filter(|s| s.key == "interface_status")
        .count();
    assert_eq!(statuses, 39, "no stale rows");
}
