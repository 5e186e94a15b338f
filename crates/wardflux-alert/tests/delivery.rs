//! Real delivery: mail to aiosmtpd (plain and STARTTLS), every HTTP format to a local
//! receiver, retries after a 500, and a worker restart that neither loses nor duplicates.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;
use wardflux_alert::notify::{AlertSnapshot, ChannelConfig, Message, Notifier};
use wardflux_alert::outbox::{OutboxConfig, OutboxWorker};
use wardflux_model::alerts::{
    Alert, AlertRuleInput, AlertState, ChannelInput, ChannelKind, DeliveryStatus, NotificationKind,
    Severity,
};
use wardflux_model::inventory::Actor;
use wardflux_store::Store;
use wardflux_store::alerts::OutboxInput;

mod common;
use common::*;

fn snapshot(device: &str, status: AlertState) -> AlertSnapshot {
    AlertSnapshot {
        id: Uuid::new_v4(),
        rule_id: Uuid::new_v4(),
        rule: "High CPU".into(),
        severity: Severity::Critical,
        status,
        labels: BTreeMap::from([("device".to_string(), device.to_string())]),
        value: Some(97.5),
        message: format!("CPU on {device} is 97.5%"),
        device: Some(device.into()),
        started_at: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
        resolved_at: None,
    }
}

fn message(key: &str) -> Message {
    Message {
        kind: NotificationKind::Firing,
        channel: "noc".into(),
        idempotency_key: key.into(),
        alerts: vec![snapshot("core-1", AlertState::Firing)],
    }
}

#[tokio::test]
async fn mail_reaches_aiosmtpd_plain_and_with_starttls() {
    let notifier = Notifier::new(Duration::from_secs(10)).unwrap();
    for starttls in [false, true] {
        let smtp = Smtp::start(starttls).await;
        let mut cfg = json!({
            "host": "127.0.0.1",
            "port": smtp.port,
            "tls": if starttls { "starttls" } else { "none" },
            "from": "WARD FLUX <noc@bank.example>",
            "to": ["ops@bank.example", "duty@bank.example"],
        });
        if let Some(pem) = &smtp.cert_pem {
            cfg["ca_cert"] = json!(pem);
        }
        let cfg = ChannelConfig::parse(ChannelKind::Email, &cfg).unwrap();
        let key = format!("key-{starttls}");
        notifier.send(&cfg, &message(&key)).await.unwrap();
        let out = smtp.wait_for("CPU on core-1 is 97.5%").await;
        for want in [
            "Subject: [FIRING] High CPU",
            "From: \"WARD FLUX\" <noc@bank.example>",
            "To: ops@bank.example, duty@bank.example",
            &format!("Message-ID: <{key}@wardflux>"),
            "- [critical] CPU on core-1 is 97.5% (firing, since 2027-01-15 08:00:00 UTC)",
        ] {
            assert!(
                out.contains(want),
                "starttls={starttls}: {want:?} not in\n{out}"
            );
        }
        if starttls {
            // The server requires STARTTLS: a client that does not encrypt is refused, and
            // the refusal is permanent (no retries of a misconfiguration).
            let plain = ChannelConfig::parse(
                ChannelKind::Email,
                &json!({"host": "127.0.0.1", "port": smtp.port, "tls": "none",
                        "from": "noc@bank.example", "to": ["ops@bank.example"]}),
            )
            .unwrap();
            let e = notifier.send(&plain, &message("x")).await.unwrap_err();
            assert!(e.message.contains("530"), "{e}");
            assert!(!e.retryable, "{e:?}");
        }
    }
    // Nobody listening: retryable.
    let down = ChannelConfig::parse(
        ChannelKind::Email,
        &json!({"host": "127.0.0.1", "port": 1, "tls": "none",
                "from": "noc@bank.example", "to": ["ops@bank.example"]}),
    )
    .unwrap();
    let e = notifier.send(&down, &message("y")).await.unwrap_err();
    assert!(e.retryable, "{e:?}");
}

async fn channel(store: &Store, name: &str, kind: ChannelKind, config: Value) -> Uuid {
    store
        .create_channel(
            &Actor::system(),
            ChannelInput {
                name: name.into(),
                kind,
                config,
                enabled: None,
            },
        )
        .await
        .unwrap()
        .id
}

/// A firing alert of a fresh rule, written with one outbox row per channel.
async fn fire(store: &Store, channels: &[Uuid], device: &str) -> Alert {
    let names: Vec<String> = store
        .list_channels()
        .await
        .unwrap()
        .into_iter()
        .filter(|c| channels.contains(&c.id))
        .map(|c| c.name)
        .collect();
    let rule = store
        .create_alert_rule(
            &Actor::system(),
            AlertRuleInput {
                notifications: names,
                ..AlertRuleInput::new(
                    format!("High CPU {device}"),
                    "cpu_usage > 90",
                    Severity::Critical,
                )
            },
        )
        .await
        .unwrap();
    let now = Utc::now();
    let mut a = Alert {
        value: Some(97.5),
        message: format!("CPU on {device} is 97.5%"),
        firing_at: Some(now),
        notified_at: Some(now),
        last_notified_at: Some(now),
        ..Alert::new(
            Uuid::new_v4(),
            &rule,
            BTreeMap::from([("device".to_string(), device.to_string())]),
            AlertState::Firing,
            now,
        )
    };
    let snap = serde_json::to_value(AlertSnapshot::of(&a)).unwrap();
    let rows: Vec<OutboxInput> = channels
        .iter()
        .map(|c| OutboxInput {
            channel_id: *c,
            rule_id: Some(rule.id),
            kind: NotificationKind::Firing,
            payload: snap.clone(),
            group_key: format!("{}@0", rule.id),
            not_before: now,
            alert_ids: vec![a.id],
        })
        .collect();
    a = store.write_alert(&a, None, &rows).await.unwrap();
    a
}

fn fast() -> OutboxConfig {
    OutboxConfig {
        backoff_base: Duration::from_millis(1),
        backoff_max: Duration::from_millis(1),
        ..Default::default()
    }
}

#[tokio::test]
async fn every_http_format_reaches_the_receiver() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = sqlite_store(dir.path()).await;
    let rx = Receiver::start(&[]).await;
    let u = |p: &str| format!("{}{p}", rx.url);
    let mut ids = Vec::new();
    for (name, kind, config) in [
        (
            "hook",
            ChannelKind::Webhook,
            json!({"url": u("/hook"), "bearer_token": "s3cret"}),
        ),
        (
            "slack",
            ChannelKind::Slack,
            json!({"url": u("/services/T/B/X")}),
        ),
        (
            "teams",
            ChannelKind::Teams,
            json!({"url": u("/webhookb2/abc")}),
        ),
        (
            "discord",
            ChannelKind::Discord,
            json!({"url": u("/api/webhooks/1/tok")}),
        ),
        (
            "tg",
            ChannelKind::Telegram,
            json!({"bot_token": "123:ABC", "chat_id": -42, "api_url": rx.url}),
        ),
    ] {
        ids.push(channel(&store, name, kind, config).await);
    }
    let a = fire(&store, &ids, "core-1").await;
    let worker = outbox_worker(&store, fast());
    assert_eq!(worker.run_once().await.unwrap(), 5);
    let mut got = rx.wait_for(5).await;
    got.sort_by(|a, b| a.path.cmp(&b.path));
    let by = |p: &str| {
        got.iter()
            .find(|r| r.path == p)
            .unwrap_or_else(|| panic!("{p}: {got:?}"))
    };

    let hook = by("/hook");
    assert_eq!(hook.authorization.as_deref(), Some("Bearer s3cret"));
    assert_eq!(hook.body["status"], "firing");
    assert_eq!(hook.body["receiver"], "hook");
    assert_eq!(hook.body["alerts"][0]["id"], a.id.to_string());
    assert_eq!(hook.body["alerts"][0]["labels"]["device"], "core-1");
    assert_eq!(hook.body["alerts"][0]["value"], 97.5);
    assert_eq!(hook.body["alerts"][0]["severity"], "critical");
    assert_eq!(
        hook.body["idempotency_key"].as_str(),
        hook.idempotency_key.as_deref()
    );

    let slack = by("/services/T/B/X");
    assert!(
        slack.body["text"]
            .as_str()
            .unwrap()
            .starts_with("[FIRING] High CPU core-1")
    );
    let teams = by("/webhookb2/abc");
    assert_eq!(teams.body["@type"], "MessageCard");
    assert!(
        teams.body["text"]
            .as_str()
            .unwrap()
            .contains("CPU on core-1 is 97.5%")
    );
    let discord = by("/api/webhooks/1/tok");
    assert!(
        discord.body["content"]
            .as_str()
            .unwrap()
            .contains("CPU on core-1")
    );
    assert_eq!(
        discord.body["embeds"][0]["title"],
        "[FIRING] High CPU core-1"
    );
    let tg = by("/bot123:ABC/sendMessage");
    assert_eq!(tg.body["chat_id"], "-42");
    assert!(
        tg.body["text"]
            .as_str()
            .unwrap()
            .contains("CPU on core-1 is 97.5%")
    );

    let log = store.alert_notifications(a.id).await.unwrap();
    assert_eq!(log.len(), 5);
    assert!(
        log.iter()
            .all(|n| n.status == DeliveryStatus::Delivered && n.attempts == 1)
    );
    assert_eq!(worker.run_once().await.unwrap(), 0, "nothing is sent twice");
}

#[tokio::test]
async fn a_500_then_200_is_delivered_exactly_once_after_the_retry() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = sqlite_store(dir.path()).await;
    let rx = Receiver::start(&[Answer::Status(500)]).await;
    let ch = channel(
        &store,
        "hook",
        ChannelKind::Webhook,
        json!({"url": format!("{}/hook", rx.url)}),
    )
    .await;
    let a = fire(&store, &[ch], "core-1").await;
    let worker = outbox_worker(&store, fast());
    assert_eq!(worker.run_once().await.unwrap(), 1);
    let log = store.alert_notifications(a.id).await.unwrap();
    assert_eq!(log[0].status, DeliveryStatus::Pending);
    assert!(
        log[0].last_error.as_deref().unwrap().contains("HTTP 500"),
        "{log:?}"
    );
    // The retry is due after the (1 ms) backoff.
    let mut passes = 0;
    while store.alert_notifications(a.id).await.unwrap()[0].status == DeliveryStatus::Pending {
        worker.run_once().await.unwrap();
        passes += 1;
        assert!(passes < 1000, "never retried");
    }
    let got = rx.received();
    assert_eq!(
        got.iter().map(|r| r.answered).collect::<Vec<_>>(),
        vec![Some(500), Some(200)]
    );
    assert_eq!(got[0].idempotency_key, got[1].idempotency_key);
    let log = store.alert_notifications(a.id).await.unwrap();
    assert_eq!(
        (log[0].status, log[0].attempts),
        (DeliveryStatus::Delivered, 2)
    );
    assert_eq!(worker.run_once().await.unwrap(), 0);
    assert_eq!(rx.received().len(), 2);

    // A 404 is permanent: one attempt, then failed.
    let rx404 = Receiver::start(&[Answer::Status(404)]).await;
    let ch = channel(
        &store,
        "gone",
        ChannelKind::Webhook,
        json!({"url": rx404.url}),
    )
    .await;
    let b = fire(&store, &[ch], "core-2").await;
    worker.run_once().await.unwrap();
    let log = store.alert_notifications(b.id).await.unwrap();
    assert_eq!(
        (log[0].status, log[0].attempts),
        (DeliveryStatus::Failed, 1)
    );
}

#[tokio::test]
async fn a_worker_restart_neither_loses_nor_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let (store, key) = sqlite_store(dir.path()).await;
    // First request answered, second held forever (the worker dies while sending it).
    let rx = Receiver::start(&[Answer::Status(200), Answer::Hang]).await;
    let ch = channel(&store, "hook", ChannelKind::Webhook, json!({"url": rx.url})).await;
    let first = fire(&store, &[ch], "core-1").await;
    let cfg = OutboxConfig {
        lease: Duration::from_millis(300),
        concurrency: 1,
        ..fast()
    };
    let w1 = OutboxWorker::new(
        store.clone(),
        Notifier::new(Duration::from_secs(30)).unwrap(),
        cfg.clone(),
    );
    assert_eq!(w1.run_once().await.unwrap(), 1);
    let second = fire(&store, &[ch], "core-2").await;
    let task = tokio::spawn(async move { w1.run_once().await });
    rx.wait_for(2).await;
    task.abort(); // killed mid-delivery
    let _ = task.await;
    drop(store);

    // A new process: a new connection to the same database file, a new worker.
    let url = format!("sqlite:{}?mode=rwc", dir.path().join("t.db").display());
    let store = Store::connect(&url, wardflux_store::Cipher::from_key(&key).unwrap())
        .await
        .unwrap();
    let w2 = outbox_worker(&store, cfg);
    let mut passes = 0;
    while store.alert_notifications(second.id).await.unwrap()[0].status != DeliveryStatus::Delivered
    {
        w2.run_once().await.unwrap(); // due again once the dead worker's lease has ended
        passes += 1;
        assert!(passes < 100_000, "never re-sent");
        tokio::task::yield_now().await;
    }
    let got = rx.received();
    let count = |k: &str| {
        got.iter()
            .filter(|r| r.idempotency_key.as_deref() == Some(k))
            .count()
    };
    let k1 = store.alert_notifications(first.id).await.unwrap()[0]
        .idempotency_key
        .clone();
    let k2 = store.alert_notifications(second.id).await.unwrap()[0]
        .idempotency_key
        .clone();
    assert_eq!(count(&k1), 1, "the delivered one is not sent again");
    assert_eq!(
        count(&k2),
        2,
        "the interrupted one is sent again, with the same key"
    );
    assert_eq!(got.len(), 3);
    assert_eq!(w2.run_once().await.unwrap(), 0);
}
