use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wardflux_model::alerts::{Alert, AlertRule, AlertState};
use wardflux_model::{Labels, Sample};

use crate::helpers::*;

/// A local HTTP receiver that records the JSON bodies it gets.
async fn receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    let app = axum::Router::new().fallback(move |body: axum::body::Bytes| {
        let g = g.clone();
        async move {
            g.lock()
                .unwrap()
                .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
            "ok"
        }
    });
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook/TOKEN", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (url, got)
}

async fn channels(app: &TestApp, hook_url: &str) {
    let (s, v) = app
        .post(
            "/api/v1/monitoring/alerts/channels",
            json!({"name": "webhook", "type": "webhook", "config": {"url": hook_url}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = app
        .post(
            "/api/v1/monitoring/alerts/channels",
            json!({"name": "email", "type": "email", "config": {
                "host": "127.0.0.1", "port": 2525, "tls": "none", "username": "noc",
                "password": "smtp-secret", "from": "noc@bank.example", "to": ["ops@bank.example"]}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
}

#[tokio::test]
async fn rules_in_the_seed_shape_with_validation() {
    let app = spawn_app().await;
    let (url, _) = receiver().await;
    channels(&app, &url).await;
    let path = "/api/v1/monitoring/alerts/rules";
    let (s, r) = app
        .post(
            path,
            json!({"name": "High CPU", "expression": "avg(cpu_usage) > 90 for 5m",
                   "severity": "critical", "notifications": ["email", "webhook"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    assert!(r["id"].is_string());
    assert_eq!(r["enabled"], true);
    assert!(
        r["warnings"][0].as_str().unwrap().contains("cpu_usage"),
        "no cpu_usage series yet: {r}"
    );
    let id = r["id"].as_str().unwrap().to_string();
    for expr in ["interface_status == 0", "cpu_usage > 90"] {
        let (s, v) = app
            .post(
                path,
                json!({"name": expr, "expression": expr, "severity": "high", "notifications": ["webhook"]}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }

    // A rule that does not parse: 422 with the message and the column.
    let (s, v) = app
        .post(
            path,
            json!({"name": "bad", "expression": "cpu_usage >> 90", "severity": "low"}),
        )
        .await;
    assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY, Some("expression"));
    assert_eq!(v["column"], 12, "{v}");
    let (s, v) = app
        .post(
            path,
            json!({"name": "bad", "expression": "cpu_usage > 90", "severity": "low", "notifications": ["pager"]}),
        )
        .await;
    assert_error(
        s,
        &v,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("notifications"),
    );
    let (s, v) = app
        .post(
            path,
            json!({"name": "bad", "expression": "cpu_usage > 90", "severity": "urgent"}),
        )
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, Some("severity"));
    let (s, v) = app
        .post(
            path,
            json!({"name": "bad", "expression": "cpu_usage > 90", "severity": "low", "message": "{{ $oops }}"}),
        )
        .await;
    assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY, Some("message"));
    let (s, v) = app
        .post(
            path,
            json!({"name": "High CPU", "expression": "cpu_usage > 1", "severity": "low"}),
        )
        .await;
    assert_error(s, &v, StatusCode::CONFLICT, Some("name"));
    // Operators and viewers read rules but do not write them.
    let r = app
        .req(
            Method::POST,
            path,
            &app.operator,
            Some(json!({"name": "x", "expression": "up", "severity": "low"})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    let (s, list) = app.get(&format!("{path}?severity=critical")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let (s, v) = app
        .put(
            &format!("{path}/{id}"),
            json!({"name": "High CPU", "expression": "avg(cpu_usage) > 95 for 5m",
                   "severity": "high", "notifications": ["webhook"], "enabled": false}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["enabled"], false);
    assert_eq!(app.get(&format!("{path}/{id}")).await.1["severity"], "high");
    assert_eq!(
        app.delete(&format!("{path}/{id}")).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get(&format!("{path}/{id}")).await.0,
        StatusCode::NOT_FOUND
    );

    // validate and preview
    let (s, v) = app
        .post(
            &format!("{path}/validate"),
            json!({"expression": "memory_usage > 80 for 2m"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["for_seconds"], 120);
    assert_eq!(
        v["metrics"],
        json!(["memory_free_bytes", "memory_used_bytes"])
    );
    let (s, v) = app
        .post(
            &format!("{path}/validate"),
            json!({"expression": "avg(cpu_usage > 90"}),
        )
        .await;
    assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY, Some("expression"));
    assert_eq!(v["column"], 19);
    let now = chrono::Utc::now().timestamp_millis();
    let s = |dev: &str, v: f64| Sample {
        metric: "cpu_usage".into(),
        labels: Labels::from_pairs([("device", dev)]),
        timestamp_ms: now,
        value: v,
    };
    app._tsdb
        .append(vec![s("core-1", 97.0), s("core-2", 12.0)])
        .await
        .unwrap();
    let (st, v) = app
        .post(
            &format!("{path}/preview"),
            json!({"expression": "cpu_usage > 90"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v, json!([{"labels": {"device": "core-1"}, "value": 97.0}]));
}

#[tokio::test]
async fn channels_hide_secrets_validate_fields_and_test() {
    let app = spawn_app().await;
    let (url, got) = receiver().await;
    channels(&app, &url).await;
    let (s, list) = app.get("/api/v1/monitoring/alerts/channels").await;
    assert_eq!(s, StatusCode::OK);
    let text = list.to_string();
    assert!(
        !text.contains("TOKEN") && !text.contains("smtp-secret"),
        "{text}"
    );
    let email = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "email")
        .unwrap();
    assert_eq!(email["secrets_set"], json!(["password"]));
    assert_eq!(email["config"]["username"], "noc");

    let bad = [
        (
            json!({"name": "x", "type": "webhook", "config": {"url": "gopher://x"}}),
            "config.url",
        ),
        (
            json!({"name": "x", "type": "email", "config": {"host": "h", "port": 99999, "from": "a@b.c", "to": ["d@e.f"]}}),
            "config.port",
        ),
        (
            json!({"name": "x", "type": "email", "config": {"host": "h", "from": "nope", "to": ["d@e.f"]}}),
            "config.from",
        ),
        (
            json!({"name": "x", "type": "telegram", "config": {"chat_id": 1}}),
            "config.bot_token",
        ),
    ];
    for (body, field) in bad {
        let (s, v) = app.post("/api/v1/monitoring/alerts/channels", body).await;
        assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY, Some(field));
    }
    let hook = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "webhook")
        .unwrap();
    let id = hook["id"].as_str().unwrap();
    // An update without the URL keeps it.
    let (s, v) = app
        .put(
            &format!("/api/v1/monitoring/alerts/channels/{id}"),
            json!({"name": "webhook", "type": "webhook", "config": {}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = app
        .post(
            &format!("/api/v1/monitoring/alerts/channels/{id}/test"),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["delivered"], true, "{v}");
    let bodies = got.lock().unwrap().clone();
    assert_eq!(bodies.len(), 1);
    assert_eq!(bodies[0]["kind"], "test");
}

/// A firing alert of `rule` on `device` (`atm-1` is suppressed by its parent).
fn alert(rule: &AlertRule, device: &str) -> Alert {
    let now = chrono::Utc::now();
    Alert {
        value: Some(97.0),
        message: format!("CPU on {device} is 97%"),
        firing_at: Some(now),
        suppressed_by: (device == "atm-1").then(|| "parent:branch-gw".to_string()),
        ..Alert::new(
            uuid::Uuid::new_v4(),
            rule,
            BTreeMap::from([("device".to_string(), device.to_string())]),
            AlertState::Firing,
            now,
        )
    }
}

#[tokio::test]
async fn active_acknowledge_resolve_and_history() {
    let app = spawn_app().await;
    let (url, _) = receiver().await;
    channels(&app, &url).await;
    let (_, r) = app
        .post(
            "/api/v1/monitoring/alerts/rules",
            json!({"name": "High CPU", "expression": "cpu_usage > 90", "severity": "critical", "notifications": ["webhook"]}),
        )
        .await;
    let rule_id: uuid::Uuid = r["id"].as_str().unwrap().parse().unwrap();
    let rule = app.store.get_alert_rule(rule_id).await.unwrap();
    let a = app
        .store
        .write_alert(&alert(&rule, "core-1"), None, &[])
        .await
        .unwrap();
    app.store
        .write_alert(&alert(&rule, "atm-1"), None, &[])
        .await
        .unwrap();

    let (s, v) = app.get("/api/v1/monitoring/alerts/active").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v.as_array().unwrap().len(), 2);
    let atm = v
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["device"] == "atm-1")
        .unwrap();
    assert_eq!(atm["suppressed_by"], "parent:branch-gw");
    assert_eq!(atm["severity"], "critical");
    assert_eq!(atm["rule"], "High CPU");
    for (q, n) in [
        ("?device=core-1", 1),
        ("?severity=low", 0),
        ("?acknowledged=true", 0),
        (&format!("?rule={rule_id}")[..], 2),
    ] {
        let (s, v) = app
            .get(&format!("/api/v1/monitoring/alerts/active{q}"))
            .await;
        assert_eq!(s, StatusCode::OK, "{q}: {v}");
        assert_eq!(v.as_array().unwrap().len(), n, "{q}");
    }

    let ack = format!("/api/v1/monitoring/alerts/{}/acknowledge", a.id);
    let r = app.req(Method::POST, &ack, &app.viewer, None).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = app
        .req(
            Method::POST,
            &ack,
            &app.operator,
            Some(json!({"comment": "looking"})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (
            v["acknowledged"].clone(),
            v["acknowledged_by"].clone(),
            v["comment"].clone()
        ),
        (json!(true), json!("oper"), json!("looking"))
    );
    assert!(v["acknowledged_at"].is_string());
    let (_, v) = app
        .get("/api/v1/monitoring/alerts/active?acknowledged=true")
        .await;
    assert_eq!(v.as_array().unwrap().len(), 1);
    let r = app
        .req(
            Method::POST,
            &format!("/api/v1/monitoring/alerts/{}/unacknowledge", a.id),
            &app.operator,
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .req(
            Method::POST,
            &format!("/api/v1/monitoring/alerts/{}/resolve", a.id),
            &app.operator,
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["state"], "resolved");
    let (_, v) = app.get("/api/v1/monitoring/alerts/active").await;
    assert_eq!(v.as_array().unwrap().len(), 1);

    let (s, h) = app.get("/api/v1/monitoring/alerts/history?limit=1").await;
    assert_eq!(s, StatusCode::OK, "{h}");
    assert_eq!(
        (h["total"].clone(), h["items"].as_array().unwrap().len()),
        (json!(2), 1)
    );
    let (s, v) = app.get("/api/v1/monitoring/alerts/history?limit=0").await;
    assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY, Some("limit"));
    let (s, v) = app
        .get(&format!("/api/v1/monitoring/alerts/{}/notifications", a.id))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v, json!([]));
    let (s, _) = app
        .get(&format!(
            "/api/v1/monitoring/alerts/{}/notifications",
            uuid::Uuid::new_v4()
        ))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn maintenance_windows_validate_zone_and_cron() {
    let app = spawn_app().await;
    let d = app.create_device("branch-gw", "127.15.0.1").await;
    let path = "/api/v1/monitoring/alerts/maintenance";
    let base = json!({"name": "sunday", "device_ids": [d["id"]], "cron": "0 2 * * SUN",
                      "duration_minutes": 120, "timezone": "Europe/Berlin"});
    let mut bad_zone = base.clone();
    bad_zone["timezone"] = json!("Mars/Olympus");
    let (s, v) = app.post(path, bad_zone).await;
    assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY, Some("timezone"));
    let mut bad_cron = base.clone();
    bad_cron["cron"] = json!("61 * * * *");
    let (s, v) = app.post(path, bad_cron).await;
    assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY, Some("cron"));
    let (s, v) = app
        .post(
            path,
            json!({"name": "x", "device_ids": [d["id"]], "starts_at": "2026-12-01T00:00:00Z"}),
        )
        .await;
    assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY, Some("ends_at"));
    let r = app.req(Method::POST, path, &app.operator, Some(base)).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let w: Value = r.json().await.unwrap();
    assert_eq!(w["timezone"], "Europe/Berlin");
    let (_, list) = app.get(path).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(
        app.delete(&format!("{path}/{}", w["id"].as_str().unwrap()))
            .await,
        StatusCode::NO_CONTENT
    );
}
