//! `/api/v1/config`: export from one installation, import into another (a second app with
//! its own database), a second import changes nothing, secrets only with a passphrase in
//! the header, a bad document refused with every problem's path, admins only.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

async fn populate(app: &TestApp) {
    let core = app.create_device("core", "127.31.0.1").await;
    let (s, v) = app
        .post(
            "/api/v1/devices",
            json!({"name": "edge", "ip": "127.31.0.2", "parent_id": core["id"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = app
        .post(
            "/api/v1/device-groups",
            json!({"name": "backbone", "device_ids": [core["id"], v["id"]]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = app
        .post(
            "/api/v1/monitoring/alerts/channels",
            json!({"name": "email", "type": "email", "config": {
                "host": "127.0.0.1", "port": 2525, "tls": "none", "username": "noc",
                "password": "smtp-secret-77", "from": "noc@bank.example", "to": ["ops@bank.example"]}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = app
        .post(
            "/api/v1/monitoring/alerts/rules",
            json!({"name": "Slow", "expression": "icmp_rtt_seconds > 1 for 1m",
                   "severity": "high", "notifications": ["email"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
}

fn without_time(mut v: Value) -> Value {
    let o = v.as_object_mut().unwrap();
    o.remove("exported_at");
    o.remove("secrets");
    v
}

/// `method path` as the admin with the passphrase header.
async fn with_pass(
    app: &TestApp,
    method: Method,
    path: &str,
    pass: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut b = app
        .client
        .request(method, app.url(path))
        .bearer_auth(&app.admin)
        .header("X-Wardflux-Passphrase", pass);
    if let Some(v) = body {
        b = b.json(&v);
    }
    let r = b.send().await.unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn export_import_into_another_installation() {
    let src = spawn_app().await;
    populate(&src).await;
    let (s, doc) = src.get("/api/v1/config/export").await;
    assert_eq!(s, StatusCode::OK, "{doc}");
    assert_eq!(doc["format"], "wardflux-config");
    assert_eq!(doc["devices"][1]["parent_ip"], "127.31.0.1");
    assert!(!doc.to_string().contains("smtp-secret-77"));
    assert!(doc.get("secrets").is_none());

    let dst = spawn_app().await;
    let (s, dry) = dst
        .post("/api/v1/config/import?dry_run=true", doc.clone())
        .await;
    assert_eq!(s, StatusCode::OK, "{dry}");
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dst.get("/api/v1/devices").await.1["total"], 0);
    let (s, r) = dst.post("/api/v1/config/import", doc.clone()).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["created"], dry["created"]);
    // The channel came without its password: reported, not hidden.
    assert_eq!(r["needs_secret"], 1, "{r}");
    let (_, mut again) = dst.get("/api/v1/config/export").await;
    assert_eq!(again["channels"][0]["secrets_set"], json!([]));
    again["channels"][0]["secrets_set"] = json!(["password"]);
    assert_eq!(without_time(again), without_time(doc.clone()));
    let (s, r2) = dst.post("/api/v1/config/import", doc.clone()).await;
    assert_eq!(s, StatusCode::OK, "{r2}");
    assert_eq!(
        (r2["created"].as_u64(), r2["updated"].as_u64()),
        (Some(0), Some(0)),
        "{r2}"
    );

    // Secrets: only with a passphrase, and only that passphrase opens them.
    let (s, v) = src.get("/api/v1/config/export?include_secrets=true").await;
    assert_error(
        s,
        &v,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("X-Wardflux-Passphrase"),
    );
    let (s, sdoc) = with_pass(
        &src,
        Method::GET,
        "/api/v1/config/export?include_secrets=true",
        "pass phrase 1",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{sdoc}");
    assert!(
        sdoc["secrets"]
            .as_str()
            .unwrap()
            .contains("BEGIN AGE ENCRYPTED FILE")
    );
    assert!(!sdoc.to_string().contains("smtp-secret-77"));
    let (s, v) = with_pass(
        &dst,
        Method::POST,
        "/api/v1/config/import",
        "wrong",
        Some(sdoc.clone()),
    )
    .await;
    assert_error(
        s,
        &v,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("X-Wardflux-Passphrase"),
    );
    let (s, v) = dst.post("/api/v1/config/import", sdoc.clone()).await;
    assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY, Some("secrets"));
    let (s, r) = with_pass(
        &dst,
        Method::POST,
        "/api/v1/config/import",
        "pass phrase 1",
        Some(sdoc),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["updated"], 1, "the channel's password arrives: {r}");
    let ch = dst.store.list_channels().await.unwrap();
    let (_, full) = dst.store.channel_with_secrets(ch[0].id).await.unwrap();
    assert_eq!(full["password"], "smtp-secret-77");
}

#[tokio::test]
async fn bad_document_lists_every_problem_and_writes_nothing() {
    let app = spawn_app().await;
    let doc = json!({
        "format": "wardflux-config", "version": 1,
        "devices": [{"name": "a", "ip": "127.32.0.1"}, {"name": "b", "ip": "nope"},
                    {"name": "c", "ip": "127.32.0.3", "parent_ip": "127.32.0.9"}],
        "alert_rules": [{"name": "r", "expression": "((", "severity": "high"}],
        "channels": [{"name": "w", "type": "webhook", "config": {}, "secrets_set": []}]
    });
    let (s, v) = app.post("/api/v1/config/import", doc).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"], "validation_error");
    let paths: Vec<&str> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    for want in [
        "devices[1].ip",
        "devices[2].parent_ip",
        "alert_rules[0].expression",
        "channels[0].config.url",
    ] {
        assert!(paths.contains(&want), "{want} missing from {v}");
    }
    assert_eq!(app.get("/api/v1/devices").await.1["total"], 0);
    let (s, v) = app.post("/api/v1/config/import", json!([1])).await;
    assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY, Some("$"));
}

#[tokio::test]
async fn operators_and_viewers_are_refused() {
    let app = spawn_app().await;
    for token in [&app.operator, &app.viewer] {
        let r = app
            .req(Method::GET, "/api/v1/config/export", token, None)
            .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let r = app
            .req(
                Method::POST,
                "/api/v1/config/import",
                token,
                Some(json!({"format": "wardflux-config", "version": 1})),
            )
            .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }
}
