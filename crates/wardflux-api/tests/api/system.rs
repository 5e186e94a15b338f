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
    // Each component by name with its state, not one "ok" for everything.
    let names: Vec<&str> = v["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            assert_eq!(c["status"], "up", "{c}");
            c["name"].as_str().unwrap()
        })
        .collect();
    for want in [
        "store",
        "metric store",
        "icmp monitor",
        "pinger",
        "snmp engine",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
}

/// Every method+path the router serves is in the OpenAPI document, and vice versa. The
/// REST routes are documented by construction (utoipa's router builds both); the
/// Prometheus-compatible ones come from the list `wardflux_tsdb` builds its router from.
#[tokio::test]
async fn openapi_describes_every_route() {
    let app = spawn_app().await;
    let r = app.req(Method::GET, "/api/v1/openapi.json", "", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let doc: Value = r.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc["paths"].as_object().unwrap();
    for info in wardflux_tsdb::http::ROUTES {
        let item = paths
            .get(info.path)
            .unwrap_or_else(|| panic!("{} served but not documented", info.path));
        for m in info.methods {
            assert!(item.get(*m).is_some(), "{m} {} not documented", info.path);
        }
    }
    for p in [
        "/api/v1/status/buildinfo",
        "/api/v1/metadata",
        "/api/v1/openapi.json",
        "/healthz",
    ] {
        assert!(paths.contains_key(p), "{p} missing");
    }
    let mut ops = 0;
    let mut ids = std::collections::HashSet::new();
    for (path, item) in paths {
        for (m, op) in item.as_object().unwrap() {
            ops += 1;
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{m} {path} has no responses"
            );
            if let Some(id) = op["operationId"].as_str() {
                assert!(ids.insert(id.to_string()), "operationId {id} used twice");
            }
        }
    }
    assert!(ops >= 45, "only {ops} operations documented");
    // The documented routes really exist: an anonymous call never gets 404/405.
    for (path, item) in paths {
        let p = path
            .replace("{id}", "00000000-0000-0000-0000-000000000000")
            .replace("{device_id}", "00000000-0000-0000-0000-000000000000")
            .replace("{name}", "job");
        for m in item.as_object().unwrap().keys() {
            let method = Method::from_bytes(m.to_uppercase().as_bytes()).unwrap();
            let s = app.req(method, &p, "", None).await.status();
            assert!(
                s != StatusCode::NOT_FOUND && s != StatusCode::METHOD_NOT_ALLOWED,
                "{m} {path} answered {s}"
            );
        }
    }
}

/// The served document passes a real OpenAPI 3.1 validator (Python's
/// openapi-spec-validator, which scripts/test.sh installs under target/openapi-venv), and
/// every operation has a unique id that says what it does.
#[tokio::test]
async fn openapi_document_validates_with_unique_meaningful_ids() {
    let app = spawn_app().await;
    let r = app.req(Method::GET, "/api/v1/openapi.json", "", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let mut ids = std::collections::HashMap::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (m, op) in item.as_object().unwrap() {
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{m} {path} has no operationId"));
            if let Some(other) = ids.insert(id.to_string(), format!("{m} {path}")) {
                panic!("operationId {id} used by {other} and {m} {path}");
            }
            // One word such as `test`, `poll`, `status`, `me` says nothing in a client
            // generated from the document: a verb and an object at least.
            assert!(
                id.contains('_'),
                "operationId {id:?} of {m} {path} is too generic"
            );
            for (status, resp) in op["responses"].as_object().unwrap() {
                assert!(
                    resp["description"].as_str().is_some_and(|d| !d.is_empty()),
                    "{m} {path} response {status} has no description"
                );
            }
        }
    }
    for (id, route) in [
        ("test_snmp_agent", "post /api/v1/monitoring/snmp/test"),
        ("poll_snmp_now", "post /api/v1/monitoring/snmp/poll"),
        ("get_icmp_status", "get /api/v1/monitoring/icmp/status"),
        ("update_device", "patch /api/v1/devices/{id}"),
        ("replace_device", "put /api/v1/devices/{id}"),
    ] {
        assert_eq!(ids.get(id).map(String::as_str), Some(route), "{id}");
    }

    let validator = openapi_validator();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, &text).unwrap();
    let out = std::process::Command::new(&validator)
        .arg("--validation-errors")
        .arg("all")
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", validator.display()));
    assert!(
        out.status.success(),
        "openapi-spec-validator rejected the document:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `$WARDFLUX_OPENAPI_VALIDATOR`, else the one scripts/test.sh installs, else `PATH`'s.
/// A missing validator fails the test (it is a peer like snmpd), naming the fix.
fn openapi_validator() -> std::path::PathBuf {
    if let Some(p) = std::env::var_os("WARDFLUX_OPENAPI_VALIDATOR") {
        return p.into();
    }
    let venv = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/openapi-venv/bin/openapi-spec-validator");
    if venv.exists() {
        return venv;
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("openapi-spec-validator"))
            .find(|p| p.exists())
    });
    on_path.unwrap_or_else(|| {
        panic!(
            "openapi-spec-validator not found (CI={}): run scripts/test.sh, which installs it \
             under target/openapi-venv, or set WARDFLUX_OPENAPI_VALIDATOR",
            std::env::var("CI").unwrap_or_default()
        )
    })
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
