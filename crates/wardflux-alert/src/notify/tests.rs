use serde_json::json;

use super::*;

/// `(kind, config, field named by the error)`
#[test]
fn bad_configs_name_the_field() {
    use ChannelKind::*;
    let cases: &[(ChannelKind, Value, &str)] = &[
        (Webhook, json!({}), "config.url"),
        (Webhook, json!({"url": "ftp://x/"}), "config.url"),
        (Webhook, json!({"url": "not a url"}), "config.url"),
        (
            Webhook,
            json!({"url": "http://127.0.0.1/", "extra": 1}),
            "config.extra",
        ),
        (Slack, json!({"url": 5}), "config.url"),
        (
            Email,
            json!({"port": 25, "from": "a@b.c", "to": ["x@y.z"]}),
            "config.host",
        ),
        (
            Email,
            json!({"host": "h", "port": 70000, "from": "a@b.c", "to": ["x@y.z"]}),
            "config.port",
        ),
        (
            Email,
            json!({"host": "h", "port": 0, "from": "a@b.c", "to": ["x@y.z"]}),
            "config.port",
        ),
        (
            Email,
            json!({"host": "h", "tls": "ssl", "from": "a@b.c", "to": ["x@y.z"]}),
            "config.tls",
        ),
        (
            Email,
            json!({"host": "h", "from": "not-an-address", "to": ["x@y.z"]}),
            "config.from",
        ),
        (
            Email,
            json!({"host": "h", "from": "a@b.c", "to": ["x@y.z", "broken"]}),
            "config.to[1]",
        ),
        (
            Email,
            json!({"host": "h", "from": "a@b.c", "to": []}),
            "config.to",
        ),
        (
            Email,
            json!({"host": "h", "from": "a@b.c", "to": ["x@y.z"], "username": "u"}),
            "config.password",
        ),
        (Telegram, json!({"chat_id": 1}), "config.bot_token"),
        (Telegram, json!({"bot_token": "1:abc"}), "config.chat_id"),
        (
            Telegram,
            json!({"bot_token": "1:abc", "chat_id": 1, "api_url": "file:///x"}),
            "config.api_url",
        ),
    ];
    for (kind, cfg, want) in cases {
        let e = ChannelConfig::parse(*kind, cfg).expect_err(&cfg.to_string());
        assert_eq!(e.field, *want, "{kind} {cfg}: {e}");
    }
    let e = ChannelConfig::parse(Webhook, &json!([1])).unwrap_err();
    assert_eq!(e.field, "config");
}

#[test]
fn good_configs_and_defaults() {
    let c = ChannelConfig::parse(
        ChannelKind::Email,
        &json!({"host": "127.0.0.1", "tls": "tls", "from": "WARD FLUX <noc@bank.example>", "to": "ops@bank.example"}),
    )
    .unwrap();
    let ChannelConfig::Email(e) = c else { panic!() };
    assert_eq!(e.port, 465);
    assert_eq!(e.to.len(), 1);
    let c = ChannelConfig::parse(
        ChannelKind::Telegram,
        &json!({"bot_token": "123:AA-b_c", "chat_id": -100}),
    )
    .unwrap();
    let ChannelConfig::Telegram {
        chat_id, api_url, ..
    } = c
    else {
        panic!()
    };
    assert_eq!(chat_id, "-100");
    assert_eq!(api_url.as_str(), "https://api.telegram.org/");
    // An update without the secret keeps the stored one.
    let c = ChannelConfig::parse_update(
        ChannelKind::Webhook,
        &json!({}),
        &json!({"url": "https://hooks.example/T0K3N"}),
    )
    .unwrap();
    assert!(matches!(c, ChannelConfig::Webhook { ref url, .. } if url.path() == "/T0K3N"));
}

#[test]
fn message_title_status_and_payload() {
    let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    let snap = |dev: &str, status| AlertSnapshot {
        id: Uuid::nil(),
        rule_id: Uuid::nil(),
        rule: "High CPU".into(),
        severity: Severity::High,
        status,
        labels: BTreeMap::from([("device".to_string(), dev.to_string())]),
        value: Some(97.0),
        message: format!("CPU on {dev} is 97%"),
        device: Some(dev.into()),
        started_at: t0,
        resolved_at: None,
    };
    let mut m = Message {
        kind: NotificationKind::Firing,
        channel: "noc".into(),
        idempotency_key: "k1".into(),
        alerts: vec![snap("a", AlertState::Firing), snap("b", AlertState::Firing)],
    };
    assert_eq!(m.title(), "[FIRING:2] High CPU");
    assert!(
        m.text()
            .contains("- [high] CPU on b is 97% (firing, since 2027-01-15 08:00:00 UTC)"),
        "{}",
        m.text()
    );
    let j = m.webhook_json();
    assert_eq!(j["status"], "firing");
    assert_eq!(j["idempotency_key"], "k1");
    assert_eq!(j["alerts"][1]["labels"]["device"], "b");
    assert_eq!(j["alerts"][0]["started_at"], "2027-01-15T08:00:00Z");
    m.alerts.truncate(1);
    m.alerts[0].status = AlertState::Resolved;
    assert_eq!(m.title(), "[RESOLVED] High CPU");
    assert_eq!(m.webhook_json()["status"], "resolved");
}
