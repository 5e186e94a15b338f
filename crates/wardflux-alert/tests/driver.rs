//! The engine end to end over the real embedded metric store, a SQLite store and a local
//! webhook receiver: evaluate on ingest, grouping, `for`, dependencies with the built-in
//! rule, acknowledge racing the engine, and a restart that neither forgets nor re-fires.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use wardflux_alert::driver::{AlertSink, DeviceEvent, DriverConfig, Input};
use wardflux_model::alerts::{AlertRuleInput, AlertState, Severity};
use wardflux_model::inventory::{Actor, DeviceInput};
use wardflux_model::{Labels, MetricSink, Sample};
use wardflux_store::Store;
use wardflux_store::alerts::AlertQuery;
use wardflux_tsdb::StoreSink;

mod common;
use common::*;

async fn add_rule(store: &Store, name: &str, expr: &str, message: Option<&str>) -> Uuid {
    store
        .create_alert_rule(
            &Actor::system(),
            AlertRuleInput {
                notifications: vec!["webhook".into()],
                labels: BTreeMap::from([("team".to_string(), "noc".to_string())]),
                message: message.map(str::to_string),
                ..AlertRuleInput::new(name, expr, Severity::Critical)
            },
        )
        .await
        .unwrap()
        .id
}

fn sample(metric: &str, device: &str, extra: &[(&str, &str)], at: DateTime<Utc>, v: f64) -> Sample {
    let mut labels = Labels::from_pairs([("device", device)]);
    for (k, val) in extra {
        labels.insert(*k, *val);
    }
    Sample {
        metric: metric.into(),
        labels,
        timestamp_ms: at.timestamp_millis(),
        value: v,
    }
}

#[tokio::test]
async fn a_sample_reaches_the_webhook_on_ingest_and_resolves_once() {
    let w = world().await;
    add_rule(
        &w.store,
        "High CPU",
        "cpu_usage > 90",
        Some("CPU on {{ $labels.device }} is {{ $value }}%"),
    )
    .await;
    let worker = outbox_worker(&w.store, fast_outbox());
    let (driver, handle) = driver_for(&w, DriverConfig::default(), &worker).await;
    let stop = CancellationToken::new();
    tokio::spawn(driver.run(stop.clone()));
    tokio::spawn(worker.run(stop.clone()));
    let sink = AlertSink::new(StoreSink(w.metrics.clone()), handle);

    let t0 = Instant::now();
    sink.append(vec![
        sample("cpu_usage", "core-1", &[], Utc::now(), 95.0),
        sample("cpu_usage", "core-2", &[], Utc::now(), 40.0),
    ])
    .await
    .unwrap();
    let got = w.rx.wait_for(1).await;
    let latency = t0.elapsed();
    let body = &got[0].body;
    assert_eq!(body["status"], "firing");
    assert_eq!(body["alerts"].as_array().unwrap().len(), 1);
    assert_eq!(body["alerts"][0]["message"], "CPU on core-1 is 95%");
    assert_eq!(body["alerts"][0]["labels"]["team"], "noc");
    assert!(
        latency < Duration::from_secs(1),
        "sample to webhook took {latency:?}"
    );
    eprintln!("sample -> webhook: {latency:?}");

    // Another high sample changes nothing; a low one resolves, once.
    sink.append(vec![sample("cpu_usage", "core-1", &[], Utc::now(), 97.0)])
        .await
        .unwrap();
    sink.append(vec![sample("cpu_usage", "core-1", &[], Utc::now(), 20.0)])
        .await
        .unwrap();
    let got = w.rx.wait_for(2).await;
    assert_eq!(got[1].body["status"], "resolved");
    assert_eq!(got[1].body["alerts"][0]["id"], body["alerts"][0]["id"]);
    let active = w
        .store
        .list_active_alerts(&AlertQuery::default())
        .await
        .unwrap();
    assert!(active.is_empty(), "{active:?}");
    // A metric no rule reads evaluates nothing and sends nothing.
    sink.append(vec![sample("ping_rtt_ms", "core-1", &[], Utc::now(), 1.0)])
        .await
        .unwrap();
    stop.cancel();
    assert_eq!(w.rx.received().len(), 2);
}

#[tokio::test]
async fn an_outage_of_50_interfaces_is_two_messages_and_the_first_is_not_delayed() {
    let w = world().await;
    add_rule(&w.store, "Interface down", "interface_status == 0", None).await;
    let worker = outbox_worker(&w.store, fast_outbox());
    let (mut driver, _) = driver_for(&w, DriverConfig::default(), &worker).await;
    let now = Utc::now();
    let batch: Vec<Sample> = (0..50)
        .map(|i| {
            sample(
                "interface_status",
                "core-1",
                &[("ifIndex", &i.to_string())],
                now,
                0.0,
            )
        })
        .collect();
    w.metrics.append(batch).await.unwrap();
    driver
        .handle(now, vec![Input::Touched(vec!["interface_status".into()])])
        .await
        .unwrap();
    assert_eq!(driver.live().count(), 50);
    // The first goes out at once; the other 49 wait for the end of the 2 s window.
    assert_eq!(worker.run_once().await.unwrap(), 1);
    let first = w.rx.wait_for(1).await;
    assert_eq!(first[0].body["alerts"].as_array().unwrap().len(), 1);
    let next = w.store.next_notification_due().await.unwrap().unwrap();
    assert_eq!(next, now + chrono::Duration::seconds(2));
    let mut passes = 0;
    while w.rx.received().len() < 2 {
        worker.run_once().await.unwrap();
        passes += 1;
        assert!(passes < 1_000_000);
        tokio::task::yield_now().await;
    }
    let got = w.rx.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].body["alerts"].as_array().unwrap().len(), 49);
    assert_eq!(got[1].body["title"], "[FIRING:49] Interface down");
}

#[tokio::test]
async fn for_holds_pending_until_the_duration_has_passed() {
    let w = world().await;
    let rule = add_rule(
        &w.store,
        "Hot",
        "avg by (device) (cpu_usage) > 90 for 5m",
        None,
    )
    .await;
    let worker = outbox_worker(&w.store, fast_outbox());
    let (mut driver, _) = driver_for(&w, DriverConfig::default(), &worker).await;
    let t0 = Utc::now() - chrono::Duration::minutes(10);
    let at = |m: i64| t0 + chrono::Duration::minutes(m);
    for m in 0..=5 {
        w.metrics
            .append(vec![sample("cpu_usage", "core-1", &[], at(m), 95.0)])
            .await
            .unwrap();
        driver.evaluate(at(m), &[rule]).await.unwrap();
        let a: Vec<_> = driver.live().map(|a| a.state).collect();
        let want = if m < 5 {
            AlertState::Pending
        } else {
            AlertState::Firing
        };
        assert_eq!(a, vec![want], "minute {m}");
        worker.run_once().await.unwrap();
        assert_eq!(w.rx.received().len(), usize::from(m == 5), "minute {m}");
    }
    let stored = w
        .store
        .list_active_alerts(&AlertQuery::default())
        .await
        .unwrap();
    assert_eq!(stored[0].started_at, at(0));
    assert_eq!(stored[0].firing_at, Some(at(5)));
}

/// A rule scoped to devices (as template rules are) alerts only for their series, however
/// many other devices write the same metric.
#[tokio::test]
async fn a_scoped_rule_alerts_only_for_its_devices() {
    let w = world().await;
    let mut ids = Vec::new();
    for (name, ip) in [("a", "127.3.9.1"), ("b", "127.3.9.2")] {
        let d = DeviceInput {
            name: name.into(),
            ip: ip.into(),
            ..Default::default()
        };
        ids.push(w.store.create_device(&Actor::system(), d).await.unwrap().id);
    }
    let (mine, other) = (ids[0], ids[1]);
    let rule = w
        .store
        .create_alert_rule(
            &Actor::system(),
            AlertRuleInput {
                device_ids: Some(vec![mine]),
                ..AlertRuleInput::new("Hot, scoped", "cpu_usage > 90", Severity::High)
            },
        )
        .await
        .unwrap();
    let worker = outbox_worker(&w.store, fast_outbox());
    let (mut driver, _) = driver_for(&w, DriverConfig::default(), &worker).await;
    let t = Utc::now() - chrono::Duration::minutes(1);
    let (m, o) = (mine.to_string(), other.to_string());
    w.metrics
        .append(vec![
            sample("cpu_usage", "a", &[("device_id", m.as_str())], t, 95.0),
            sample("cpu_usage", "b", &[("device_id", o.as_str())], t, 99.0),
            sample("cpu_usage", "c", &[], t, 99.0),
        ])
        .await
        .unwrap();
    driver.evaluate(t, &[rule.id]).await.unwrap();
    let live: Vec<_> = driver.live().collect();
    assert_eq!(live.len(), 1, "{live:?}");
    assert_eq!(live[0].device_id, Some(mine));
}

/// Batches that touch a rule within `min_eval_gap` of its last evaluation are folded into one
/// evaluation at the end of the gap (one SNMP poll batch per device must not mean one
/// evaluation per batch), and nothing they carried is lost.
#[tokio::test]
async fn batches_within_the_gap_are_folded_into_one_evaluation_at_its_end() {
    let w = world().await;
    add_rule(&w.store, "Hot", "cpu_usage > 90", None).await;
    let worker = outbox_worker(&w.store, fast_outbox());
    let (mut driver, _) = driver_for(&w, DriverConfig::default(), &worker).await;
    let t0 = Utc::now() - chrono::Duration::minutes(1);
    let ms = |n: i64| t0 + chrono::Duration::milliseconds(n);
    let touched = || Input::Touched(vec!["cpu_usage".into()]);
    let write = |at, v| {
        let metrics = w.metrics.clone();
        async move {
            metrics
                .append(vec![sample("cpu_usage", "core-1", &[], at, v)])
                .await
                .unwrap();
        }
    };
    write(ms(0), 95.0).await;
    driver.handle(ms(0), vec![touched()]).await.unwrap();
    assert_eq!(
        driver.live().count(),
        1,
        "the first batch is evaluated at once"
    );
    assert_eq!(driver.next_deferred(), None);

    write(ms(100), 50.0).await;
    driver.handle(ms(100), vec![touched()]).await.unwrap();
    write(ms(200), 40.0).await;
    driver.handle(ms(200), vec![touched()]).await.unwrap();
    assert_eq!(
        driver.live().count(),
        1,
        "within the gap: not evaluated yet"
    );
    assert_eq!(driver.next_deferred(), Some(ms(250)));

    driver.run_deferred(ms(249)).await.unwrap();
    assert_eq!(driver.live().count(), 1, "not before the gap's end");
    driver.run_deferred(ms(250)).await.unwrap();
    assert_eq!(
        driver.live().count(),
        0,
        "one evaluation saw the last batch: resolved"
    );
    assert_eq!(driver.next_deferred(), None);
}

#[tokio::test]
async fn a_down_parent_suppresses_its_children_and_a_restart_fires_nothing_twice() {
    let w = world().await;
    let a = Actor::system();
    let dev = |name: &str, ip: &str, parent: Option<Uuid>| DeviceInput {
        name: name.into(),
        ip: ip.into(),
        parent_id: parent,
        ..Default::default()
    };
    let parent = w
        .store
        .create_device(&a, dev("branch-gw", "127.3.0.1", None))
        .await
        .unwrap();
    let mut children = Vec::new();
    for i in 0..5 {
        let c = w
            .store
            .create_device(
                &a,
                dev(
                    &format!("atm-{i}"),
                    &format!("127.3.1.{i}"),
                    Some(parent.id),
                ),
            )
            .await
            .unwrap();
        children.push(c);
    }
    let worker = outbox_worker(&w.store, fast_outbox());
    let (mut driver, _) = driver_for(&w, DriverConfig::default(), &worker).await;
    // The built-in rule is editable: it notifies the webhook.
    unreachable_notifies_webhook(&w.store).await;

    // Explicit times in the recent past: the outbox sends rows as soon as they are due.
    let now = Utc::now() - chrono::Duration::seconds(60);
    let ev = |d: &wardflux_model::inventory::Device, down: bool| {
        Input::Device(DeviceEvent {
            device_id: d.id,
            name: d.name.clone(),
            ip: d.ip.to_string(),
            down,
            flapping: false,
            since: now - chrono::Duration::seconds(5),
            at: now,
        })
    };
    // Everything goes down in one burst; the children are reported first.
    let mut burst: Vec<Input> = children.iter().map(|c| ev(c, true)).collect();
    burst.push(ev(&parent, true));
    driver.handle(now, vec![Input::Reload]).await.unwrap();
    driver.handle(now, burst).await.unwrap();
    worker.run_once().await.unwrap();
    let got = w.rx.wait_for(1).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body["alerts"].as_array().unwrap().len(), 1);
    assert_eq!(got[0].body["alerts"][0]["labels"]["device"], "branch-gw");
    let active = w
        .store
        .list_active_alerts(&AlertQuery::default())
        .await
        .unwrap();
    assert_eq!(active.len(), 6);
    let suppressed: Vec<_> = active
        .iter()
        .filter(|a| a.suppressed_by.is_some())
        .collect();
    assert_eq!(suppressed.len(), 5);
    assert!(
        suppressed
            .iter()
            .all(|a| a.suppressed_by.as_deref() == Some("parent:branch-gw")
                && a.notified_at.is_none())
    );

    // The operator acknowledges the parent's alert while the engine holds an old copy.
    let pa = active
        .iter()
        .find(|a| a.device_id == Some(parent.id))
        .unwrap();
    w.store
        .set_alert_acknowledged(&a, pa.id, true, Some("truck rolled".into()))
        .await
        .unwrap();

    // Restart: a new driver restores the six alerts; the same state sends nothing new.
    drop(driver);
    let (mut driver, _) = driver_for(&w, DriverConfig::default(), &worker).await;
    assert_eq!(driver.live().count(), 6);
    let mut burst: Vec<Input> = children.iter().map(|c| ev(c, true)).collect();
    burst.push(ev(&parent, true));
    driver.handle(now, burst).await.unwrap();
    driver
        .tick(now + chrono::Duration::seconds(1))
        .await
        .unwrap();
    worker.run_once().await.unwrap();
    assert_eq!(w.rx.received().len(), 1, "nothing fired twice");

    // The parent recovers, the children stay down: after one check cycle they are notified
    // (in one grouped message after the first), no longer suppressed.
    let later = now + chrono::Duration::seconds(2);
    driver
        .handle(later, vec![ev(&parent, false)])
        .await
        .unwrap();
    worker.run_once().await.unwrap();
    let resolved = w.rx.wait_for(2).await;
    assert_eq!(resolved[1].body["status"], "resolved");
    let kept = w.store.get_alert(pa.id).await.unwrap();
    assert!(
        kept.acknowledged,
        "the engine's write kept the acknowledgement"
    );
    assert_eq!(kept.state, AlertState::Resolved);
    driver
        .tick(later + chrono::Duration::seconds(1))
        .await
        .unwrap();
    assert!(
        w.store
            .list_active_alerts(&AlertQuery::default())
            .await
            .unwrap()
            .iter()
            .all(|a| a.notified_at.is_none()),
        "held for one check cycle"
    );
    driver
        .tick(later + chrono::Duration::seconds(16))
        .await
        .unwrap();
    let active = w
        .store
        .list_active_alerts(&AlertQuery::default())
        .await
        .unwrap();
    assert_eq!(active.len(), 5);
    assert!(
        active
            .iter()
            .all(|a| a.notified_at.is_some() && a.suppressed_by.is_none())
    );
}
