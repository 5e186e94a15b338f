//! `/api/v1/settings/*`: the mode switch and the Zabbix connection (validation naming the
//! field, secrets write-only, a password kept for the same user, audited), and the sync
//! status. The sync itself runs against a real Zabbix in `crates/wardflux/tests/zabbix.rs`.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn zabbix_connection_and_mode() {
    let app = spawn_app().await;
    let (s, v) = app.get("/api/v1/settings/zabbix").await;
    assert_error(s, &v, StatusCode::NOT_FOUND, None);
    assert_eq!(
        app.get("/api/v1/settings/mode").await.1["mode"],
        "standalone"
    );
    let (s, v) = app
        .put("/api/v1/settings/mode", json!({"mode": "zabbix"}))
        .await;
    assert_error(s, &v, StatusCode::CONFLICT, Some("mode"));

    // Field errors, nothing stored.
    for (body, field) in [
        (
            json!({"url": "ftp://z", "username": "a", "password": "b"}),
            "url",
        ),
        (json!({"url": "http://z"}), "username"),
        (json!({"url": "http://z", "username": "a"}), "password"),
        (
            json!({"url": "http://z", "username": "a", "password": "b", "api_token": "t"}),
            "api_token",
        ),
        (
            json!({"url": "http://z", "username": "a", "password": "b", "sync_interval_s": 1}),
            "sync_interval_s",
        ),
    ] {
        let (s, v) = app.put("/api/v1/settings/zabbix", body.clone()).await;
        assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY, Some(field));
    }
    let (s, v) = app
        .put(
            "/api/v1/settings/zabbix",
            json!({"url": "http://z", "pass": "x"}),
        )
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, None);
    assert_eq!(
        app.get("/api/v1/settings/zabbix").await.0,
        StatusCode::NOT_FOUND
    );

    let (s, v) = app
        .put(
            "/api/v1/settings/zabbix",
            json!({"url": "http://127.0.0.1:9/zabbix", "username": "Admin", "password": "zbx-SECRET-7"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["has_password"], true);
    assert!(!v.to_string().contains("zbx-SECRET-7"));
    // The same user without a password keeps it; the answer never shows it.
    let (s, v) = app
        .put(
            "/api/v1/settings/zabbix",
            json!({"url": "http://127.0.0.1:9/", "username": "Admin", "timeout_s": 1}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, v) = app.get("/api/v1/settings/zabbix").await;
    assert_eq!(v["url"], "http://127.0.0.1:9/");
    assert_eq!(v["has_password"], true);
    assert_eq!(v["timeout_s"], 1);
    let audit = app.get("/api/v1/audit?limit=100").await.1.to_string();
    assert!(audit.contains("settings.zabbix.update"), "{audit}");
    assert!(!audit.contains("zbx-SECRET-7"));

    // The test button reports the error's kind (nothing listens on port 9).
    let (s, v) = app
        .call(reqwest::Method::POST, "/api/v1/settings/zabbix/test", None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["ok"].clone(), v["error_kind"].clone()),
        (json!(false), json!("unreachable")),
        "{v}"
    );
    // An unsaved variant is checked like a PUT.
    let (s, v) = app
        .post("/api/v1/settings/zabbix/test", json!({"url": "nope"}))
        .await;
    assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY, Some("url"));

    // Now the mode may change, on both paths, and is audited.
    let (s, v) = app
        .put("/api/v1/settings/mode", json!({"mode": "hybrid"}))
        .await;
    assert_eq!((s, v["mode"].as_str()), (StatusCode::OK, Some("hybrid")));
    assert_eq!(
        app.get("/api/v1/monitoring/profile").await.1["mode"],
        "hybrid"
    );
    let (s, _) = app
        .put("/api/v1/monitoring/profile", json!({"mode": "zabbix"}))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(app.get("/api/v1/settings/mode").await.1["mode"], "zabbix");
    let audit = app.get("/api/v1/audit?limit=100").await.1.to_string();
    assert!(audit.contains("monitoring_profile.update"));
    let (s, v) = app.get("/api/v1/zabbix/status").await;
    assert_eq!(s, StatusCode::OK);
    assert!(v["stale"].is_boolean(), "{v}");
}
