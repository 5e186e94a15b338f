use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

const COMMUNITY: &str = "c0mmunity-Secret-7731";
const AUTH_KEY: &str = "auth-Key-Secret-9921";
const PRIV_KEY: &str = "priv-Key-Secret-4410";

#[tokio::test]
async fn snmp_credentials_are_write_only() {
    let app = spawn_app().await;
    let d = app.create_device("sw1", "127.15.0.1").await;
    let (s, v2) = app
        .post("/api/v1/monitoring/snmp/credentials", json!({"name": "branch v2c", "version": "v2c", "community": COMMUNITY, "device_id": d["id"]}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v2}");
    assert_eq!(v2["has_community"], true);
    let (s, v3) = app
        .post(
            "/api/v1/monitoring/snmp/credentials",
            json!({"name": "core v3", "version": "v3", "username": "noc", "security_level": "authPriv",
                   "auth_protocol": "SHA-256", "auth_key": AUTH_KEY, "priv_protocol": "AES-256-C", "priv_key": PRIV_KEY}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v3}");
    assert_eq!(v3["has_auth_key"], true);
    assert_eq!(v3["has_priv_key"], true);
    assert_eq!(v3["priv_protocol"], "AES-256-C");

    let mut seen = String::new();
    for p in [
        "/api/v1/monitoring/snmp/credentials".to_string(),
        format!(
            "/api/v1/monitoring/snmp/credentials/{}",
            v3["id"].as_str().unwrap()
        ),
        "/api/v1/audit?limit=1000".to_string(),
    ] {
        let (s, v) = app.get(&p).await;
        assert_eq!(s, StatusCode::OK);
        seen.push_str(&v.to_string());
    }
    seen.push_str(&v2.to_string());
    seen.push_str(&v3.to_string());
    for secret in [COMMUNITY, AUTH_KEY, PRIV_KEY] {
        assert!(
            !seen.contains(secret),
            "{secret} appeared in an API response"
        );
    }
    // Not in plain text in the database file either.
    if let Some(f) = &app.db_file {
        let mut bytes = std::fs::read(f).unwrap();
        let wal = f.with_extension("db-wal");
        if let Ok(w) = std::fs::read(&wal) {
            bytes.extend(w);
        }
        for secret in [COMMUNITY, AUTH_KEY, PRIV_KEY] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} stored in plain text"
            );
        }
    }
    // But the store can decrypt them for the poller.
    let sec = app
        .store
        .snmp_secrets(v3["id"].as_str().unwrap().parse().unwrap())
        .await
        .unwrap();
    assert_eq!(sec.auth_key.unwrap().expose(), AUTH_KEY);
}

#[tokio::test]
async fn snmp_credential_validation() {
    let app = spawn_app().await;
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (
            json!({"name": "x", "version": "v2c"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "community",
        ),
        (
            json!({"name": "x"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "version",
        ),
        (
            json!({"name": "x", "version": "v4", "community": "c"}),
            StatusCode::BAD_REQUEST,
            "version",
        ),
        (
            json!({"name": "", "version": "v2c", "community": "c"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "name",
        ),
        (
            json!({"name": "x", "version": "v2c", "community": "c", "username": "u"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "username",
        ),
        (
            json!({"name": "x", "version": "v3"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "username",
        ),
        (
            json!({"name": "x", "version": "v3", "username": "u", "security_level": "authPriv", "auth_key": "authkey-123"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "priv_key",
        ),
        (
            json!({"name": "x", "version": "v3", "username": "u", "auth_protocol": "SHA-1024", "auth_key": "authkey-123"}),
            StatusCode::BAD_REQUEST,
            "auth_protocol",
        ),
        (
            json!({"name": "x", "version": "v3", "username": "u", "auth_key": "short"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "auth_key",
        ),
        (
            json!({"name": "x", "version": "v3", "username": "u", "auth_key": "authkey-123", "priv_protocol": "ROT13", "priv_key": "privkey-123"}),
            StatusCode::BAD_REQUEST,
            "priv_protocol",
        ),
        (
            json!({"name": "x", "version": "v3", "username": "u", "security_level": "superPriv"}),
            StatusCode::BAD_REQUEST,
            "security_level",
        ),
        (
            json!({"name": "x", "version": "v2c", "community": "c", "device_id": "00000000-0000-0000-0000-000000000003"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "device_id",
        ),
        (
            json!({"name": "x", "version": "v2c", "community": "c", "port": 161}),
            StatusCode::BAD_REQUEST,
            "port",
        ),
    ];
    for (body, code, field) in cases {
        let (s, v) = app
            .post("/api/v1/monitoring/snmp/credentials", body.clone())
            .await;
        assert_error(s, &v, code, Some(field));
        assert!(
            !v.to_string().contains("authkey-123"),
            "secret echoed in error: {v}"
        );
    }
    assert_eq!(
        app.get("/api/v1/monitoring/snmp/credentials").await.1,
        json!([])
    );
}

/// The seed's shape: a per-device credential with no name is accepted and named after its
/// device; a shared one still needs a name.
#[tokio::test]
async fn per_device_credential_needs_no_name() {
    let app = spawn_app().await;
    let d = app.create_device("branch-7-rtr", "127.11.0.7").await;
    let (s, c) = app
        .post(
            "/api/v1/monitoring/snmp/credentials",
            json!({"device_id": d["id"], "version": "2c", "community": "public"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    assert_eq!(c["name"], "branch-7-rtr (v2c)");
    assert_eq!(c["version"], "v2c");
    let (s, v) = app
        .post(
            "/api/v1/monitoring/snmp/credentials",
            json!({"version": "v2c", "community": "public"}),
        )
        .await;
    assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY, Some("name"));
}

#[tokio::test]
async fn monitoring_profile_mode() {
    let app = spawn_app().await;
    let (s, p) = app.get("/api/v1/monitoring/profile").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(p["mode"], "standalone");
    // Zabbix and hybrid need a Zabbix connection first: refused with 409, nothing stored.
    for mode in ["zabbix", "hybrid"] {
        let (s, v) = app
            .put("/api/v1/monitoring/profile", json!({"mode": mode}))
            .await;
        assert_error(s, &v, StatusCode::CONFLICT, Some("mode"));
        assert!(v["message"].as_str().unwrap().contains(mode), "{v}");
        assert_eq!(
            app.get("/api/v1/monitoring/profile").await.1["mode"],
            "standalone"
        );
    }
    let (s, p) = app
        .put("/api/v1/monitoring/profile", json!({"mode": "standalone"}))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(p["mode"], "standalone");
    let (s, v) = app
        .put("/api/v1/monitoring/profile", json!({"mode": "cloud"}))
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, Some("mode"));
    let (s, v) = app.put("/api/v1/monitoring/profile", json!({})).await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, Some("mode"));
}
