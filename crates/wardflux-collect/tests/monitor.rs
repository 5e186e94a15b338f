//! The ICMP monitor against real kernel replies inside a test namespace; devices go silent
//! through nft drop rules at the input hook.

use wardflux_testkit::netns;

mod common;
use common::{MemSink, wait_for};

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;
use wardflux_collect::{
    DeviceState, IcmpMonitor, IcmpMonitorConfig, IcmpTarget, MonitorError, StateChange,
    StateConfig, StateRecorder, TransitionKind,
};
use wardflux_icmp::{Pinger, PingerOptions};

#[derive(Default)]
struct MemRecorder(Mutex<Vec<StateChange>>);

#[async_trait::async_trait]
impl StateRecorder for MemRecorder {
    async fn record(&self, change: StateChange) {
        self.0.lock().unwrap().push(change);
    }
}

impl MemRecorder {
    fn of(&self, id: Uuid) -> Vec<StateChange> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.device_id == id)
            .cloned()
            .collect()
    }
}

struct Rig {
    ns: netns::Netns,
    sink: Arc<MemSink>,
    rec: Arc<MemRecorder>,
    mon: IcmpMonitor,
}

const INTERVAL: Duration = Duration::from_secs(1);

fn cfg(flap_window: Duration) -> IcmpMonitorConfig {
    IcmpMonitorConfig {
        timeout: Duration::from_millis(200),
        confirm_probes: 3,
        confirm_interval: Duration::from_millis(300),
        state: StateConfig {
            flap_threshold: 3,
            flap_window,
        },
    }
}

fn rig(c: IcmpMonitorConfig) -> Rig {
    let ns = netns::Netns::new();
    let pinger = Pinger::new(PingerOptions {
        netns: Some(ns.name.clone().into()),
        ..PingerOptions::default()
    })
    .unwrap();
    let sink = Arc::new(MemSink::default());
    let rec = Arc::new(MemRecorder::default());
    let mon = IcmpMonitor::new(pinger, sink.clone(), rec.clone(), c);
    Rig { ns, sink, rec, mon }
}

fn target(name: &str, ip: &str) -> IcmpTarget {
    IcmpTarget {
        interval: INTERVAL,
        ..IcmpTarget::new(Uuid::new_v4(), name, ip.parse::<IpAddr>().unwrap())
    }
}

/// The monitor updates a device's status before it hands the change to the recorder (an
/// await later), so a test that reads the recorder waits for both.
impl Rig {
    /// Waits (5 s at most) for a check of `device` that lost `loss` percent of its packets.
    async fn wait_check_with_loss(&self, device: &str, loss: f64) {
        let what = format!("a check of {device} with {loss}% loss");
        wait_for(&what, Duration::from_secs(5), || {
            self.sink.values("ping_packet_loss", device).contains(&loss)
        })
        .await;
    }

    /// Waits for `more` checks of `device` after those written so far; fails after `within`.
    async fn wait_more_checks(&self, device: &str, more: usize, within: Duration) {
        let n = self.sink.values("ping_packet_loss", device).len();
        let what = format!("{more} more checks of {device}");
        wait_for(&what, within, || {
            self.sink.values("ping_packet_loss", device).len() >= n + more
        })
        .await;
    }
}

fn settled(r: &Rig, id: Uuid, state: DeviceState) -> bool {
    state_of(&r.mon, id) == state && r.rec.of(id).last().map(|c| c.to) == Some(state)
}

fn state_of(m: &IcmpMonitor, id: Uuid) -> DeviceState {
    m.status(id).unwrap().state
}

fn ms(d: chrono::TimeDelta) -> i64 {
    d.num_milliseconds()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_down_up_with_the_right_timestamps() {
    let r = rig(cfg(Duration::from_secs(300)));
    let a = target("a", "127.6.0.2");
    let id = a.device_id;
    r.mon.apply_targets(vec![a]);
    wait_for("a up", Duration::from_secs(5), || {
        settled(&r, id, DeviceState::Up)
    })
    .await;

    let killed: DateTime<Utc> = Utc::now();
    r.ns.kill("127.6.0.2");
    wait_for("a down", Duration::from_secs(10), || {
        settled(&r, id, DeviceState::Down)
    })
    .await;
    let down = r.rec.of(id).pop().unwrap();
    assert_eq!(
        (down.kind, down.from, down.to),
        (TransitionKind::Changed, DeviceState::Up, DeviceState::Down)
    );
    // down_since is the start of the first failed check: after the kill, within one interval.
    let lag = ms(down.since - killed);
    assert!(
        (-50..=1050).contains(&lag),
        "down since {lag} ms after the kill"
    );
    // Confirmed after timeout + 2 confirmation gaps + timeout.
    let confirm = ms(down.at - down.since);
    assert!(
        (1000..=1500).contains(&confirm),
        "confirmed {confirm} ms after the first failed check"
    );
    assert_eq!(r.mon.status(id).unwrap().down_since, Some(down.since));
    assert!(
        ms(down.at - killed) <= 1000 + 3000,
        "detected within interval + 3 s"
    );

    let revived = Utc::now();
    r.ns.revive("127.6.0.2");
    wait_for("a up again", Duration::from_secs(5), || {
        settled(&r, id, DeviceState::Up)
    })
    .await;
    let up = r.rec.of(id).pop().unwrap();
    assert_eq!((up.from, up.to), (DeviceState::Down, DeviceState::Up));
    let lag = ms(up.since - revived);
    assert!(
        (-50..=1050).contains(&lag),
        "up since {lag} ms after the revival"
    );
    let kinds: Vec<(DeviceState, DeviceState)> =
        r.rec.of(id).iter().map(|c| (c.from, c.to)).collect();
    assert_eq!(
        kinds,
        vec![
            (DeviceState::Unknown, DeviceState::Up),
            (DeviceState::Up, DeviceState::Down),
            (DeviceState::Down, DeviceState::Up)
        ]
    );
    let up_samples = r.sink.values("ping_up", "a");
    assert!(
        up_samples.contains(&0.0) && up_samples.last() == Some(&1.0),
        "{up_samples:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_dropped_packet_or_one_lost_check_raises_nothing() {
    let r = rig(cfg(Duration::from_secs(300)));
    let b = target("b", "127.6.0.3");
    let id = b.device_id;
    r.mon.apply_targets(vec![b]);
    wait_for("b up", Duration::from_secs(5), || {
        state_of(&r.mon, id) == DeviceState::Up
    })
    .await;

    // One of the check's two packets dropped: 50% loss, still up.
    r.ns.drop_next("127.6.0.3", 1);
    r.wait_check_with_loss("b", 50.0).await;
    // Both packets of a check dropped: the confirmation probes answer, still up.
    r.ns.drop_next("127.6.0.3", 2);
    r.wait_check_with_loss("b", 100.0).await;
    r.wait_more_checks("b", 2, Duration::from_secs(5)).await;
    let changes = r.rec.of(id);
    assert_eq!(
        changes.len(),
        1,
        "only the initial unknown -> up: {changes:?}"
    );
    assert_eq!(state_of(&r.mon, id), DeviceState::Up);
    let avail = r.sink.values("ping_availability", "b");
    assert!(
        avail.contains(&0.0),
        "the lost check shows in ping_availability: {avail:?}"
    );
    assert!(r.sink.values("ping_up", "b").iter().all(|v| *v == 1.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flapping_is_detected_suppressed_and_cleared() {
    let window = Duration::from_secs(8);
    let r = rig(cfg(window));
    let c = target("c", "127.6.0.4");
    let id = c.device_id;
    r.mon.apply_targets(vec![c]);
    wait_for("c up", Duration::from_secs(5), || {
        state_of(&r.mon, id) == DeviceState::Up
    })
    .await;
    for i in 0..2 {
        r.ns.kill("127.6.0.4");
        wait_for("c down", Duration::from_secs(5), || {
            state_of(&r.mon, id) == DeviceState::Down
        })
        .await;
        r.ns.revive("127.6.0.4");
        wait_for("c up", Duration::from_secs(5), || {
            state_of(&r.mon, id) == DeviceState::Up
        })
        .await;
        if i == 0 {
            assert!(!r.mon.status(id).unwrap().flapping);
        }
    }
    let st = r.mon.status(id).unwrap();
    assert!(st.flapping, "4 changes within {window:?}");
    let kinds: Vec<(TransitionKind, DeviceState)> =
        r.rec.of(id).iter().map(|c| (c.kind, c.to)).collect();
    assert_eq!(
        kinds,
        vec![
            (TransitionKind::Changed, DeviceState::Up),
            (TransitionKind::Changed, DeviceState::Down),
            (TransitionKind::Changed, DeviceState::Up),
            (TransitionKind::FlappingStarted, DeviceState::Down),
        ],
        "the last up is suppressed"
    );
    // Stable for a whole window: flapping clears with the settled state.
    wait_for("flapping cleared", window + Duration::from_secs(4), || {
        !r.mon.status(id).unwrap().flapping && r.rec.of(id).len() == 5
    })
    .await;
    let last = r.rec.of(id).pop().unwrap();
    assert_eq!(
        (last.kind, last.from, last.to),
        (
            TransitionKind::FlappingStopped,
            DeviceState::Down,
            DeviceState::Up
        )
    );
    assert_eq!(r.rec.of(id).len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn already_down_at_start_samples_ping_now_and_reload() {
    let r = rig(cfg(Duration::from_secs(300)));
    r.ns.kill("127.6.0.5");
    let d = target("d", "127.6.0.5");
    let e = target("e", "127.6.0.6");
    let (did, eid) = (d.device_id, e.device_id);
    let started = Utc::now();
    r.mon.apply_targets(vec![d.clone(), e.clone()]);
    assert_eq!(state_of(&r.mon, did), DeviceState::Unknown);
    wait_for("d down, e up", Duration::from_secs(5), || {
        settled(&r, did, DeviceState::Down) && settled(&r, eid, DeviceState::Up)
    })
    .await;
    let dc = r.rec.of(did);
    assert_eq!(dc.len(), 1);
    assert_eq!(
        (dc[0].from, dc[0].to),
        (DeviceState::Unknown, DeviceState::Down)
    );
    assert!(ms(dc[0].since - started) >= 0 && ms(dc[0].since - started) <= 1050);

    // Samples carry device, device_id and ip.
    let s = r
        .sink
        .0
        .lock()
        .unwrap()
        .iter()
        .find(|s| s.metric == "ping_rtt_ms")
        .cloned()
        .unwrap();
    assert_eq!(s.labels.get("device"), Some("e"));
    assert_eq!(s.labels.get("device_id"), Some(eid.to_string().as_str()));
    assert_eq!(s.labels.get("ip"), Some("127.6.0.6"));
    assert!(s.value > 0.0 && s.value < 100.0);
    assert!(
        r.sink.values("ping_rtt_ms", "d").is_empty(),
        "no RTT without replies"
    );
    assert_eq!(r.sink.values("ping_packet_loss", "d").first(), Some(&100.0));
    // The seed's names plus ping_up, each labelled exactly device, device_id, ip.
    {
        let all = r.sink.0.lock().unwrap();
        let mut names: Vec<&str> = all.iter().map(|s| s.metric.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(
            names,
            vec![
                "ping_availability",
                "ping_packet_loss",
                "ping_rtt_ms",
                "ping_up"
            ]
        );
        for s in all.iter() {
            let keys: Vec<&str> = s.labels.iter().map(|(k, _)| k).collect();
            assert_eq!(keys, vec!["device", "device_id", "ip"], "{s:?}");
        }
        let d_up = all
            .iter()
            .filter(|s| s.metric == "ping_up" && s.labels.get("device") == Some("d"))
            .map(|s| s.value)
            .collect::<Vec<_>>();
        assert!(
            !d_up.is_empty() && d_up.iter().all(|v| *v == 0.0),
            "a device down from the start is written as down: {d_up:?}"
        );
    }

    let snap = r.mon.snapshot();
    assert_eq!(snap.len(), 2);
    let es = snap.iter().find(|s| s.device_id == eid).unwrap();
    assert_eq!((es.loss, es.flapping), (Some(0.0), false));
    assert!(es.last_rtt_ms.is_some() && es.last_check.is_some());

    assert_eq!(r.mon.ping_now(eid).await.unwrap().received, 2);
    assert_eq!(r.mon.ping_now(did).await.unwrap().received, 0);
    assert!(matches!(
        r.mon.ping_now(Uuid::new_v4()).await,
        Err(MonitorError::UnknownDevice(_))
    ));

    // Hot reload: d removed, e kept with its state, f added.
    let f = target("f", "127.6.0.7");
    let fid = f.device_id;
    r.mon.apply_targets(vec![e, f]);
    assert!(r.mon.status(did).is_none());
    assert_eq!(state_of(&r.mon, eid), DeviceState::Up);
    assert_eq!(state_of(&r.mon, fid), DeviceState::Unknown);
    wait_for("f up", Duration::from_secs(5), || {
        state_of(&r.mon, fid) == DeviceState::Up
    })
    .await;
    assert_eq!(r.rec.of(eid).len(), 1, "reload did not reset e");
}

#[test]
fn defaults_are_the_issues() {
    let c = IcmpMonitorConfig::default();
    assert_eq!(
        (c.timeout, c.confirm_probes, c.confirm_interval),
        (Duration::from_millis(500), 3, Duration::from_secs(1)),
        "confirmation: 3 probes 1 s apart"
    );
    assert_eq!(
        c.state,
        StateConfig {
            flap_threshold: 3,
            flap_window: Duration::from_secs(300)
        },
        "flapping: >= 3 changes in 5 minutes"
    );
    let t = IcmpTarget::new(Uuid::new_v4(), "x", "127.0.0.1".parse().unwrap());
    assert_eq!((t.interval, t.packets), (Duration::from_secs(10), 2));
}

/// With the default confirmation (3 probes 1 s apart): a device whose check and first two
/// confirmation probes are lost stays up (the third answers), and a silent device is
/// confirmed down 0.5 + 1 + 1 + 0.5 = 3 s after its failed check started.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_confirmation_is_three_probes_one_second_apart() {
    let r = rig(IcmpMonitorConfig::default());
    let g = target("g", "127.6.0.8");
    let id = g.device_id;
    r.mon.apply_targets(vec![g]);
    wait_for("g up", Duration::from_secs(5), || {
        settled(&r, id, DeviceState::Up)
    })
    .await;
    // The check's 2 packets and the first 2 confirmation probes are dropped.
    r.ns.drop_next("127.6.0.8", 4);
    r.wait_check_with_loss("g", 100.0).await;
    r.wait_more_checks("g", 2, Duration::from_secs(8)).await;
    assert_eq!(
        r.rec.of(id).len(),
        1,
        "still only unknown -> up: {:?}",
        r.rec.of(id)
    );
    assert_eq!(state_of(&r.mon, id), DeviceState::Up);

    r.ns.kill("127.6.0.8");
    wait_for("g down", Duration::from_secs(10), || {
        settled(&r, id, DeviceState::Down)
    })
    .await;
    let down = r.rec.of(id).pop().unwrap();
    assert_eq!((down.from, down.to), (DeviceState::Up, DeviceState::Down));
    let confirm = ms(down.at - down.since);
    assert!(
        (2950..=3400).contains(&confirm),
        "confirmed {confirm} ms after the failed check started (expected 3000)"
    );
}

/// The monitor's schedule lag, runs and skipped checks reach the `metrics` facade (what
/// the server exports on /metrics), labelled `scheduler="icmp"`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_exports_schedule_lag_and_skips_through_the_metrics_facade() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    let ns = netns::Netns::new();
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let pinger = Pinger::new(PingerOptions {
        netns: Some(ns.name.clone().into()),
        ..PingerOptions::default()
    })
    .unwrap();
    let sink = Arc::new(MemSink::default());
    let mon = metrics::with_local_recorder(&recorder, || {
        IcmpMonitor::new(
            pinger,
            sink.clone(),
            Arc::new(MemRecorder::default()),
            cfg(Duration::from_secs(300)),
        )
    });
    mon.apply_targets(vec![target("h", "127.6.0.9"), target("i", "127.6.0.10")]);
    wait_for("4 checks", Duration::from_secs(5), || {
        mon.scheduler_stats().runs >= 4
    })
    .await;
    let st = mon.scheduler_stats();
    let mut seen = std::collections::HashMap::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let labels: Vec<String> = key
            .key()
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        assert_eq!(labels, vec!["scheduler=icmp".to_owned()], "{key:?}");
        seen.insert(key.key().name().to_owned(), value);
    }
    match &seen["wardflux_scheduler_lag_seconds"] {
        DebugValue::Histogram(v) => assert!(
            v.len() >= 4
                && v.iter()
                    .all(|x| x.into_inner() >= 0.0 && x.into_inner() < 1.0),
            "{v:?}"
        ),
        other => panic!("{other:?}"),
    }
    match seen["wardflux_scheduler_runs_total"] {
        DebugValue::Counter(n) => assert!(n >= st.runs, "{n} vs {st:?}"),
        ref other => panic!("{other:?}"),
    }
    assert!(seen.contains_key("wardflux_scheduler_skipped_total"));
    assert_eq!(
        seen["wardflux_scheduler_jobs"],
        DebugValue::Gauge(2.0.into())
    );
}
