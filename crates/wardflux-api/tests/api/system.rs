use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::*;

#[tokio::test]
async fn healthz_answers_without_auth() {
    let app = spawn_app().await;
    let r = app.req(Method::GET, "/healthz", "", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "ok");
}

/// Every method+path the router serves is in the OpenAPI document, and vice versa.
#[tokio::test]
async fn openapi_describes_every_route() {
    let app = spawn_app().await;
    let r = app.req(Method::GET, "/api/v1/openapi.json", "", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let doc: Value = r.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc["paths"].as_object().unwrap();
    let expected: &[(&str, &[&str])] = &[
        ("/healthz", &["get"]),
        ("/metrics", &["get"]),
        ("/api/v1/openapi.json", &["get"]),
        ("/api/v1/audit", &["get"]),
        ("/api/v1/auth/login", &["post"]),
        ("/api/v1/auth/logout", &["post"]),
        ("/api/v1/auth/me", &["get"]),
        ("/api/v1/auth/tokens", &["get", "post"]),
        ("/api/v1/auth/tokens/{id}", &["delete"]),
        ("/api/v1/users", &["get", "post"]),
        ("/api/v1/users/{id}", &["get", "patch", "delete"]),
        ("/api/v1/users/{id}/password", &["put"]),
        ("/api/v1/devices", &["get", "post"]),
        ("/api/v1/devices/{id}", &["get", "put", "delete"]),
        ("/api/v1/devices/import", &["post"]),
        ("/api/v1/devices/export", &["get"]),
        ("/api/v1/device-groups", &["get", "post"]),
        ("/api/v1/device-groups/{id}", &["get", "put", "delete"]),
        ("/api/v1/monitoring/profile", &["get", "put"]),
        ("/api/v1/monitoring/snmp/credentials", &["get", "post"]),
        (
            "/api/v1/monitoring/snmp/credentials/{id}",
            &["get", "delete"],
        ),
        ("/api/v1/monitoring/icmp/status", &["get"]),
        ("/api/v1/devices/{id}/ping", &["post"]),
        ("/api/v1/monitoring/icmp/history/{device_id}", &["get"]),
        ("/api/v1/monitoring/snmp/test", &["get"]),
        ("/api/v1/monitoring/snmp/poll", &["post"]),
        ("/api/v1/query", &["get", "post"]),
        ("/api/v1/query_range", &["get", "post"]),
        ("/api/v1/series", &["get", "post"]),
        ("/api/v1/labels", &["get", "post"]),
        ("/api/v1/label/{name}/values", &["get"]),
        ("/api/v1/import/prometheus", &["post"]),
        ("/api/v1/monitoring/alerts/rules", &["get", "post"]),
        (
            "/api/v1/monitoring/alerts/rules/{id}",
            &["get", "put", "delete"],
        ),
        ("/api/v1/monitoring/alerts/rules/validate", &["post"]),
        ("/api/v1/monitoring/alerts/rules/preview", &["post"]),
        ("/api/v1/monitoring/alerts/active", &["get"]),
        ("/api/v1/monitoring/alerts/history", &["get"]),
        ("/api/v1/monitoring/alerts/{id}/acknowledge", &["post"]),
        ("/api/v1/monitoring/alerts/{id}/unacknowledge", &["post"]),
        ("/api/v1/monitoring/alerts/{id}/resolve", &["post"]),
        ("/api/v1/monitoring/alerts/{id}/notifications", &["get"]),
        ("/api/v1/monitoring/alerts/channels", &["get", "post"]),
        (
            "/api/v1/monitoring/alerts/channels/{id}",
            &["get", "put", "delete"],
        ),
        ("/api/v1/monitoring/alerts/channels/{id}/test", &["post"]),
        ("/api/v1/monitoring/alerts/maintenance", &["get", "post"]),
        (
            "/api/v1/monitoring/alerts/maintenance/{id}",
            &["get", "put", "delete"],
        ),
    ];
    for (path, methods) in expected {
        let item = paths
            .get(*path)
            .unwrap_or_else(|| panic!("{path} missing from the OpenAPI document"));
        for m in *methods {
            assert!(item.get(*m).is_some(), "{m} {path} missing");
            assert!(
                item[*m]["responses"]
                    .as_object()
                    .is_some_and(|r| !r.is_empty()),
                "{m} {path} has no responses"
            );
        }
    }
    for (path, item) in paths {
        let listed = expected.iter().find(|(p, _)| p == path);
        let listed =
            listed.unwrap_or_else(|| panic!("{path} documented but not in this test's list"));
        for m in item.as_object().unwrap().keys() {
            assert!(
                listed.1.contains(&m.as_str()),
                "{m} {path} documented but not expected"
            );
        }
    }
    // The documented routes really exist: an anonymous call never gets 404/405.
    for (path, methods) in expected {
        let p = path
            .replace("{id}", "00000000-0000-0000-0000-000000000000")
            .replace("{device_id}", "00000000-0000-0000-0000-000000000000")
            .replace("{name}", "job");
        for m in *methods {
            let method = Method::from_bytes(m.to_uppercase().as_bytes()).unwrap();
            let s = app.req(method, &p, "", None).await.status();
            assert!(
                s != StatusCode::NOT_FOUND && s != StatusCode::METHOD_NOT_ALLOWED,
                "{m} {path} answered {s}"
            );
        }
    }
}

#[tokio::test]
async fn metrics_in_prometheus_format() {
    let app = spawn_app().await;
    app.get("/api/v1/devices").await;
    let r = app.req(Method::GET, "/metrics", &app.viewer, None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.unwrap();
    assert!(
        text.contains("wardflux_http_requests_total"),
        "no request counter in: {text}"
    );
    let anon = app.req(Method::GET, "/metrics", "", None).await;
    assert_eq!(anon.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn unknown_route_and_method_are_json_errors() {
    let app = spawn_app().await;
    let (s, v) = app.get("/api/v1/nope").await;
    assert_error(s, &v, StatusCode::NOT_FOUND, None);
    let r = app
        .req(Method::PATCH, "/api/v1/devices", &app.admin, None)
        .await;
    let s = r.status();
    let v: Value = r.json().await.unwrap();
    assert_error(s, &v, StatusCode::METHOD_NOT_ALLOWED, None);
}

#[tokio::test]
async fn audit_log_records_who_what_before_after() {
    let app = spawn_app().await;
    let d = app.create_device("core-1", "127.0.0.10").await;
    let id = d["id"].as_str().unwrap();
    let (s, _) = app
        .put(
            &format!("/api/v1/devices/{id}"),
            serde_json::json!({"name": "core-1b", "ip": "127.0.0.10"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = app.get("/api/v1/audit?limit=10").await;
    assert_eq!(s, StatusCode::OK);
    let items = v["items"].as_array().unwrap();
    let upd = items
        .iter()
        .find(|e| e["action"] == "device.update")
        .expect("device.update audited");
    assert_eq!(upd["actor"], "admin");
    assert_eq!(upd["before"]["name"], "core-1");
    assert_eq!(upd["after"]["name"], "core-1b");
    assert!(items.iter().any(|e| e["action"] == "device.create"));
    let (s, v) = app.get("/api/v1/audit?limit=0").await;
    assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY, Some("limit"));
}
