//! Alert tables on SQLite and PostgreSQL: rules, channels (secrets encrypted), instances
//! with version checks, the outbox (leases, batches, retries) and maintenance windows.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;
use uuid::Uuid;
use wardflux_model::alerts::{
    Alert, AlertRule, AlertRuleInput, AlertState, Channel, ChannelInput, ChannelKind,
    DeliveryStatus, Escalation, MaintenanceInput, NotificationKind, Severity,
};
use wardflux_model::inventory::Actor;
use wardflux_store::alerts::{
    AlertQuery, BuiltinRule, DeliveryOutcome, HistoryQuery, OutboxInput, RuleQuery,
};
use wardflux_store::{Store, StoreError};

#[macro_use]
mod common;
use common::*;

fn rule(name: &str, channels: &[&str]) -> AlertRuleInput {
    AlertRuleInput {
        notifications: channels.iter().map(|s| s.to_string()).collect(),
        ..AlertRuleInput::new(name, "cpu_usage > 90", Severity::High)
    }
}

fn webhook(name: &str, url: &str) -> ChannelInput {
    ChannelInput {
        name: name.into(),
        kind: ChannelKind::Webhook,
        config: json!({"url": url, "timeout_s": 5}),
        enabled: None,
    }
}

async fn audit_actions(db: &Db) -> Vec<String> {
    let rows = db
        .store
        .connection()
        .query_all_raw(Statement::from_string(
            db.store.connection().get_database_backend(),
            "SELECT action FROM audit_log ORDER BY at, action",
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|r| r.try_get::<String>("", "action").unwrap())
        .collect()
}

both!(rules_channels_and_their_checks, |db| {
    let s = &db.store;
    let a = Actor::system();
    let e = s
        .create_alert_rule(&a, rule("cpu", &["email"]))
        .await
        .unwrap_err();
    assert!(
        matches!(e, StoreError::Invalid(ref f) if f.field == "notifications"),
        "{e:?}"
    );

    let secret_url = "http://127.0.0.1:9/hook/SECRET-TOKEN";
    let ch = s
        .create_channel(&a, webhook("webhook", secret_url))
        .await
        .unwrap();
    assert_eq!(ch.secrets_set, vec!["url"]);
    assert_eq!(ch.config, json!({"timeout_s": 5}));
    // The secret is stored only encrypted.
    let raw = s
        .connection()
        .query_one_raw(Statement::from_string(
            s.connection().get_database_backend(),
            "SELECT config, secret_config_encrypted FROM notification_channels",
        ))
        .await
        .unwrap()
        .unwrap();
    let enc: String = raw.try_get("", "secret_config_encrypted").unwrap();
    assert!(!enc.contains("SECRET-TOKEN"));
    let (_, full) = s.channel_with_secrets(ch.id).await.unwrap();
    assert_eq!(full["url"], secret_url);

    // An update without the secret keeps it.
    let mut upd = webhook("hooks", "");
    upd.config = json!({"timeout_s": 7});
    let mut r = rule("cpu", &["webhook"]);
    r.escalation = Some(Escalation {
        repeat_minutes: Some(10),
        after_minutes: Some(30),
        channels: vec!["webhook".into()],
    });
    r.labels.insert("team".into(), "noc".into());
    let created = s.create_alert_rule(&a, r.clone()).await.unwrap();
    assert_eq!(created.severity, Severity::High);
    assert!(created.enabled);
    let dup = s.create_alert_rule(&a, r).await.unwrap_err();
    assert!(
        matches!(dup, StoreError::Conflict { ref field, .. } if field == "name"),
        "{dup:?}"
    );

    let ch2 = s.update_channel(&a, ch.id, upd).await.unwrap();
    assert_eq!(ch2.name, "hooks");
    assert_eq!(
        s.channel_with_secrets(ch.id).await.unwrap().1["url"],
        secret_url
    );
    // The rename reached the rule.
    let got = s.get_alert_rule(created.id).await.unwrap();
    assert_eq!(got.notifications, vec!["hooks"]);
    assert_eq!(got.escalation.unwrap().channels, vec!["hooks"]);
    assert_eq!(got.labels.get("team").map(String::as_str), Some("noc"));
    let e = s.delete_channel(&a, ch.id).await.unwrap_err();
    assert!(
        matches!(e, StoreError::Conflict { ref field, .. } if field == "name"),
        "{e:?}"
    );

    let list = s
        .list_alert_rules(&RuleQuery {
            severity: Some(Severity::High),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(list.len(), 1);
    assert!(
        s.list_alert_rules(&RuleQuery {
            severity: Some(Severity::Low),
            ..Default::default()
        })
        .await
        .unwrap()
        .is_empty()
    );

    // Built-in rules: created once, editable, not deletable, expression fixed.
    let b = BuiltinRule {
        key: "device_unreachable",
        name: "Device unreachable",
        expression: "ping_up == 0",
        severity: Severity::Critical,
        message: "{{ $labels.device }} is unreachable",
    };
    let b1 = s.ensure_builtin_rule(&b).await.unwrap();
    let b2 = s.ensure_builtin_rule(&b).await.unwrap();
    assert_eq!(b1.id, b2.id);
    assert_eq!(b1.builtin.as_deref(), Some("device_unreachable"));
    let mut edit = rule("Device unreachable", &["hooks"]);
    edit.expression = "ping_up == 0".into();
    edit.severity = Severity::Medium;
    let b3 = s.update_alert_rule(&a, b1.id, edit.clone()).await.unwrap();
    assert_eq!(b3.severity, Severity::Medium);
    edit.expression = "ping_up < 1".into();
    let e = s.update_alert_rule(&a, b1.id, edit).await.unwrap_err();
    assert!(
        matches!(e, StoreError::Invalid(ref f) if f.field == "expression"),
        "{e:?}"
    );
    let e = s.delete_alert_rule(&a, b1.id).await.unwrap_err();
    assert!(
        matches!(e, StoreError::Conflict { ref field, .. } if field == "builtin"),
        "{e:?}"
    );
    s.delete_alert_rule(&a, created.id).await.unwrap();
    s.delete_channel(&a, ch.id).await.unwrap_err(); // still used by the built-in rule
    let actions = audit_actions(&db).await;
    for want in [
        "alert_rule.create",
        "alert_rule.update",
        "alert_rule.delete",
        "channel.create",
        "channel.update",
    ] {
        assert!(actions.iter().any(|x| x == want), "{want} in {actions:?}");
    }
});

fn t(s: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
}

fn alert(rule: &AlertRule, device: &str, state: AlertState, at: i64) -> Alert {
    let labels = BTreeMap::from([("device".to_string(), device.to_string())]);
    Alert {
        value: Some(95.5),
        message: format!("{device} is hot"),
        firing_at: (state == AlertState::Firing).then(|| t(at)),
        ..Alert::new(Uuid::new_v4(), rule, labels, state, t(at))
    }
}

/// Channel `w` (a webhook to a closed port) and rule `cpu` that notifies it.
async fn webhook_and_rule(s: &Store) -> (Channel, AlertRule) {
    let a = Actor::system();
    let ch = s
        .create_channel(&a, webhook("w", "http://127.0.0.1:9/"))
        .await
        .unwrap();
    let r = s.create_alert_rule(&a, rule("cpu", &["w"])).await.unwrap();
    (ch, r)
}

fn note(channel: Uuid, rule: Uuid, alert: Uuid, group: &str, at: i64) -> OutboxInput {
    OutboxInput {
        channel_id: channel,
        rule_id: Some(rule),
        kind: NotificationKind::Firing,
        payload: json!({"alert": alert}),
        group_key: group.into(),
        not_before: t(at),
        alert_ids: vec![alert],
    }
}

both!(
    alert_writes_compare_versions_and_queue_in_one_transaction,
    |db| {
        let s = &db.store;
        let a = Actor::system();
        let (ch, r) = webhook_and_rule(s).await;

        let mut x = alert(&r, "core-1", AlertState::Firing, 0);
        x.notified_at = Some(t(0));
        let n = note(ch.id, r.id, x.id, "g0", 0);
        let x = s.write_alert(&x, None, &[n]).await.unwrap();
        assert_eq!(x.version, 1);
        let stored = s.get_alert(x.id).await.unwrap();
        assert_eq!(stored.rule, "cpu");
        assert_eq!(stored.severity, Severity::High);
        assert_eq!(stored.value, Some(95.5));
        assert_eq!(stored.state, AlertState::Firing);

        // An acknowledge from the API bumps the version: the engine's stale write is refused.
        let acked = s
            .set_alert_acknowledged(&a, x.id, true, Some("on it".into()))
            .await
            .unwrap();
        assert_eq!((acked.acknowledged, acked.version), (true, 2));
        assert_eq!(acked.acknowledged_by.as_deref(), Some("system"));
        assert_eq!(acked.comment.as_deref(), Some("on it"));
        let mut stale = x.clone();
        stale.state = AlertState::Resolved;
        let extra = note(ch.id, r.id, x.id, "g1", 5);
        let e = s
            .write_alert(&stale, Some(1), std::slice::from_ref(&extra))
            .await
            .unwrap_err();
        assert!(
            matches!(e, StoreError::Conflict { ref field, .. } if field == "version"),
            "{e:?}"
        );
        // ... and its outbox row was not written either.
        assert_eq!(s.alert_notifications(x.id).await.unwrap().len(), 1);
        // Re-read, re-apply: works, and keeps the acknowledgement.
        let mut fresh = s.get_alert(x.id).await.unwrap();
        fresh.state = AlertState::Resolved;
        fresh.resolved_at = Some(t(5));
        let v = fresh.version;
        let done = s.write_alert(&fresh, Some(v), &[extra]).await.unwrap();
        assert_eq!(done.version, 3);
        let back = s.get_alert(x.id).await.unwrap();
        assert!(back.acknowledged);
        assert_eq!(back.state, AlertState::Resolved);
        assert_eq!(s.alert_notifications(x.id).await.unwrap().len(), 2);

        // Active list and filters; history.
        let y = s
            .write_alert(&alert(&r, "edge-1", AlertState::Pending, 10), None, &[])
            .await
            .unwrap();
        let active = s.list_active_alerts(&AlertQuery::default()).await.unwrap();
        assert_eq!(active.iter().map(|a| a.id).collect::<Vec<_>>(), vec![y.id]);
        let q = AlertQuery {
            device: Some("core-1".into()),
            ..Default::default()
        };
        assert!(s.list_active_alerts(&q).await.unwrap().is_empty());
        let q = AlertQuery {
            severity: Some(Severity::High),
            acknowledged: Some(false),
            ..Default::default()
        };
        assert_eq!(s.list_active_alerts(&q).await.unwrap().len(), 1);
        let h = s
            .alert_history(&HistoryQuery {
                from: Some(t(-10)),
                to: Some(t(100)),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(h.total, 1, "pending-only instances are not history");
        assert_eq!(h.items[0].id, x.id);

        let r2 = s.resolve_alert(&a, y.id, &[]).await.unwrap();
        assert_eq!(r2.state, AlertState::Resolved);
        let e = s.resolve_alert(&a, y.id, &[]).await.unwrap_err();
        assert!(matches!(e, StoreError::Conflict { .. }));
        let actions = audit_actions(&db).await;
        assert!(actions.contains(&"alert.acknowledge".to_string()));
        assert!(actions.contains(&"alert.resolve".to_string()));
    }
);

both!(outbox_batches_leases_and_retries, |db| {
    let s = &db.store;
    let (ch, r) = webhook_and_rule(s).await;
    // Three alerts: the first alone at t=0, the next two grouped at t=2.
    let mut ids = Vec::new();
    for (i, (group, at)) in [("g@0", 0), ("g@2", 2), ("g@2", 2)].into_iter().enumerate() {
        let x = alert(&r, &format!("d{i}"), AlertState::Firing, 0);
        ids.push(x.id);
        s.write_alert(&x, None, &[note(ch.id, r.id, x.id, group, at)])
            .await
            .unwrap();
    }
    let lease = Duration::from_secs(30);
    let b = s.claim_notifications(t(0), 100, lease).await.unwrap();
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].payloads, vec![json!({"alert": ids[0]})]);
    // Leased: not handed out again before the lease ends.
    assert!(
        s.claim_notifications(t(1), 100, lease)
            .await
            .unwrap()
            .is_empty()
    );
    s.record_delivery(
        &b[0],
        &DeliveryOutcome::Delivered,
        Duration::from_millis(12),
    )
    .await
    .unwrap();

    let b = s.claim_notifications(t(2), 100, lease).await.unwrap();
    assert_eq!(b.len(), 1, "two rows with one group key are one batch");
    assert_eq!(b[0].row_ids.len(), 2);
    let batch = b[0].batch_id;
    s.record_delivery(
        &b[0],
        &DeliveryOutcome::Retry {
            error: "HTTP 500".into(),
            at: t(4),
        },
        Duration::from_millis(3),
    )
    .await
    .unwrap();
    assert!(
        s.claim_notifications(t(3), 100, lease)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(s.next_notification_due().await.unwrap(), Some(t(4)));
    let b = s.claim_notifications(t(4), 100, lease).await.unwrap();
    assert_eq!(b[0].batch_id, batch, "a retry keeps its idempotency key");
    assert_eq!(b[0].attempts, 1);
    s.record_delivery(&b[0], &DeliveryOutcome::Delivered, Duration::from_millis(3))
        .await
        .unwrap();

    let log = s.alert_notifications(ids[1]).await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].status, DeliveryStatus::Delivered);
    assert_eq!(log[0].attempts, 2);
    assert_eq!(log[0].last_error, None);
    assert_eq!(log[0].idempotency_key, batch.to_string());
    assert_eq!(log[0].channel, "w");
    assert_eq!(s.next_notification_due().await.unwrap(), None);

    // A lease that ends (a worker killed mid-delivery) makes the rows due again.
    let x = alert(&r, "dz", AlertState::Firing, 0);
    s.write_alert(&x, None, &[note(ch.id, r.id, x.id, "z", 10)])
        .await
        .unwrap();
    let first = s.claim_notifications(t(10), 100, lease).await.unwrap();
    let again = s.claim_notifications(t(41), 100, lease).await.unwrap();
    assert_eq!(first[0].batch_id, again[0].batch_id);
    s.record_delivery(
        &again[0],
        &DeliveryOutcome::Failed {
            error: "HTTP 404".into(),
        },
        Duration::ZERO,
    )
    .await
    .unwrap();
    let log = s.alert_notifications(x.id).await.unwrap();
    assert_eq!(log[0].status, DeliveryStatus::Failed);
    assert_eq!(log[0].last_error.as_deref(), Some("HTTP 404"));
});

both!(maintenance_windows_crud_and_checks, |db| {
    let s = &db.store;
    let a = Actor::system();
    let dev = Uuid::new_v4();
    let base = MaintenanceInput {
        name: "upgrade".into(),
        device_ids: vec![dev],
        starts_at: Some(t(0)),
        ends_at: Some(t(3600)),
        ..Default::default()
    };
    let cases = [
        (
            "name",
            MaintenanceInput {
                name: " ".into(),
                ..base.clone()
            },
        ),
        (
            "device_ids",
            MaintenanceInput {
                device_ids: vec![],
                ..base.clone()
            },
        ),
        (
            "ends_at",
            MaintenanceInput {
                ends_at: Some(t(-1)),
                ..base.clone()
            },
        ),
        (
            "starts_at",
            MaintenanceInput {
                starts_at: None,
                ..base.clone()
            },
        ),
        (
            "duration_minutes",
            MaintenanceInput {
                cron: Some("0 2 * * SUN".into()),
                ..base.clone()
            },
        ),
    ];
    for (field, input) in cases {
        let e = s.create_maintenance(&a, input).await.unwrap_err();
        assert!(
            matches!(e, StoreError::Invalid(ref x) if x.field == field),
            "{field}: {e:?}"
        );
    }
    let w = s.create_maintenance(&a, base.clone()).await.unwrap();
    assert_eq!(w.timezone, "UTC");
    let rec = MaintenanceInput {
        cron: Some("0 2 * * SUN".into()),
        duration_minutes: Some(120),
        timezone: Some("Europe/Berlin".into()),
        ..base
    };
    let w2 = s.update_maintenance(&a, w.id, rec).await.unwrap();
    assert_eq!(w2.duration_minutes, Some(120));
    assert_eq!(s.list_maintenance().await.unwrap(), vec![w2.clone()]);
    assert_eq!(s.get_maintenance(w.id).await.unwrap(), w2);
    s.delete_maintenance(&a, w.id).await.unwrap();
    assert!(matches!(
        s.get_maintenance(w.id).await,
        Err(StoreError::NotFound { .. })
    ));
});
