//! The storm, end to end: the real ICMP monitor pings a branch router and the 200 devices
//! behind it inside a network namespace made for the test, the engine and the outbox run as
//! the server runs them, and nft silences the whole branch at once. Exactly one notification
//! (the router's) reaches the webhook; the 200 children's alerts are recorded as suppressed
//! by their parent, although the children are confirmed down first (the engine has the
//! parent probed out of schedule instead of waiting for its next check).

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use wardflux_alert::driver::{AlertSink, DriverConfig};
use wardflux_collect::{DeviceState, IcmpMonitor, IcmpMonitorConfig, IcmpTarget, StateConfig};
use wardflux_icmp::{Pinger, PingerOptions};
use wardflux_model::inventory::{Actor, DeviceInput};
use wardflux_store::alerts::AlertQuery;
use wardflux_testkit::netns::Netns;
use wardflux_tsdb::StoreSink;

mod common;
use common::*;

const CHILDREN: usize = 200;
const INTERVAL: Duration = Duration::from_secs(2);
/// The router is checked far less often than its children, so its scheduled check cannot
/// come in time: only the engine's out-of-schedule probe can tell the children's alerts that
/// their parent is down before their hold (one check cycle) runs out.
const ROUTER_INTERVAL: Duration = Duration::from_secs(120);

/// Polls `cond` every 50 ms until it holds, or fails after `within`.
async fn wait_until<F, Fut>(what: &str, within: Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    while !cond().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silenced_branch_of_200_devices_sends_one_notification() {
    let w = world().await;
    let a = Actor::system();
    let dev = |name: String, ip: String, parent: Option<Uuid>| DeviceInput {
        name,
        ip,
        parent_id: parent,
        ..Default::default()
    };
    let router = w
        .store
        .create_device(&a, dev("branch-gw".into(), "127.7.0.1".into(), None))
        .await
        .unwrap();
    let mut devices = vec![router.clone()];
    for i in 1..=CHILDREN {
        let ip = format!("127.7.{}.{}", 1 + i / 250, i % 250);
        let c = w
            .store
            .create_device(&a, dev(format!("atm-{i}"), ip, Some(router.id)))
            .await
            .unwrap();
        devices.push(c);
    }

    let ns = Netns::new();
    let worker = outbox_worker(&w.store, fast_outbox());
    let monitor_cfg = IcmpMonitorConfig {
        timeout: Duration::from_millis(200),
        confirm_probes: 3,
        confirm_interval: Duration::from_millis(300),
        state: StateConfig::default(),
    };
    let (driver, handle) = driver_for(
        &w,
        DriverConfig {
            // One check cycle: the interval plus the confirmation time.
            check_cycle: INTERVAL + Duration::from_secs(1),
            ..DriverConfig::default()
        },
        &worker,
    )
    .await;
    // The driver made the built-in rules; edited as an operator would, then reloaded.
    unreachable_notifies_webhook(&w.store).await;
    handle.reload();
    let cancel = CancellationToken::new();
    let engine = tokio::spawn(driver.run(cancel.clone()));
    let outbox = tokio::spawn(worker.run(cancel.clone()));

    // Wired as the server wires them: samples through the engine's sink into the metric
    // store, state changes straight to the engine, parents probed by the monitor.
    let pinger = Pinger::new(PingerOptions {
        netns: Some(ns.name.clone().into()),
        ..PingerOptions::default()
    })
    .unwrap();
    let sink = AlertSink::new(StoreSink(w.metrics.clone()), handle.clone());
    let monitor = IcmpMonitor::new(
        pinger,
        Arc::new(sink),
        Arc::new(handle.clone()),
        monitor_cfg,
    );
    handle.set_prober(Arc::new(monitor.clone()));
    monitor.apply_targets(
        devices
            .iter()
            .map(|d| IcmpTarget {
                interval: if d.id == router.id {
                    ROUTER_INTERVAL
                } else {
                    INTERVAL
                },
                ..IcmpTarget::new(d.id, d.name.clone(), d.ip)
            })
            .collect(),
    );
    monitor.check_now(router.id).await.unwrap();
    wait_until("every device up", Duration::from_secs(15), || async {
        monitor
            .snapshot()
            .iter()
            .all(|s| s.state == DeviceState::Up)
    })
    .await;

    // The whole branch goes silent at one instant.
    ns.kill(&format!(
        "127.7.0.1, 127.7.1.1-127.7.1.{}",
        CHILDREN.min(249)
    ));
    wait_until(
        "201 active alerts, the 200 children suppressed by their parent",
        Duration::from_secs(30),
        || async {
            let active = w
                .store
                .list_active_alerts(&AlertQuery::default())
                .await
                .unwrap();
            active.len() == CHILDREN + 1
                && active
                    .iter()
                    .filter(|a| a.suppressed_by.as_deref() == Some("parent:branch-gw"))
                    .count()
                    == CHILDREN
                && active
                    .iter()
                    .any(|a| a.device_id == Some(router.id) && a.notified_at.is_some())
        },
    )
    .await;
    let got = w.rx.wait_for(1).await;
    assert_eq!(got[0].body["status"], "firing");
    let alerts = got[0].body["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["labels"]["device"], "branch-gw");

    // Two more full check cycles of every device pass: still nothing else is sent.
    let runs = monitor.scheduler_stats().runs;
    wait_until("two more check rounds", Duration::from_secs(20), || async {
        monitor.scheduler_stats().runs >= runs + 2 * CHILDREN as u64
    })
    .await;
    let active = w
        .store
        .list_active_alerts(&AlertQuery::default())
        .await
        .unwrap();
    assert!(
        active
            .iter()
            .filter(|a| a.device_id != Some(router.id))
            .all(|a| a.notified_at.is_none()
                && a.suppressed_by.as_deref() == Some("parent:branch-gw")),
        "every child stays suppressed and unnotified"
    );
    let all = w.rx.received();
    assert_eq!(all.len(), 1, "exactly one notification: {all:?}");

    cancel.cancel();
    engine.await.unwrap();
    outbox.await.unwrap();
}
