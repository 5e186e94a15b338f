//! Every route × every role → the expected status.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

const A: u16 = 401;
const F: u16 = 403;

#[tokio::test]
async fn rbac_matrix() {
    let app = spawn_app().await;
    // Fixtures: one of each resource per role column that may delete/modify it.
    let mk_dev = |n: u32| json!({"name": format!("d{n}"), "ip": format!("127.9.0.{n}")});
    let dev = app.create_device("fixture", "127.9.1.1").await;
    let dev_id = dev["id"].as_str().unwrap().to_string();
    let (_, grp) = app
        .post("/api/v1/device-groups", json!({"name": "g-fixture"}))
        .await;
    let grp_id = grp["id"].as_str().unwrap().to_string();
    let (_, cred) = app
        .post(
            "/api/v1/monitoring/snmp/credentials",
            json!({"name": "c", "version": "v2c", "community": "fixture-secret"}),
        )
        .await;
    let cred_id = cred["id"].as_str().unwrap().to_string();
    let (_, user) = app
        .post(
            "/api/v1/users",
            json!({"username": "victim", "password": "password-123", "role": "viewer"}),
        )
        .await;
    let user_id = user["id"].as_str().unwrap().to_string();
    let viewer_id = app
        .store
        .user_by_username("viewer")
        .await
        .unwrap()
        .unwrap()
        .id;

    // (method, path, body, [anonymous, viewer, operator, admin])
    let rows: Vec<(Method, String, Option<Value>, [u16; 4])> = vec![
        (
            Method::GET,
            "/api/v1/auth/me".into(),
            None,
            [A, 200, 200, 200],
        ),
        (
            Method::GET,
            "/api/v1/auth/tokens".into(),
            None,
            [A, 200, 200, 200],
        ),
        (Method::GET, "/metrics".into(), None, [A, 200, 200, 200]),
        (Method::GET, "/api/v1/audit".into(), None, [A, F, F, 200]),
        (Method::GET, "/api/v1/users".into(), None, [A, F, F, 200]),
        (
            Method::POST,
            "/api/v1/users".into(),
            Some(json!({"username": "u1", "password": "password-123", "role": "viewer"})),
            [A, F, F, 201],
        ),
        (
            Method::GET,
            format!("/api/v1/users/{user_id}"),
            None,
            [A, F, F, 200],
        ),
        (
            Method::PATCH,
            format!("/api/v1/users/{user_id}"),
            Some(json!({"role": "operator"})),
            [A, F, F, 200],
        ),
        (
            Method::PUT,
            format!("/api/v1/users/{user_id}/password"),
            Some(json!({"password": "password-456"})),
            [A, F, F, 204],
        ),
        (
            Method::GET,
            "/api/v1/devices".into(),
            None,
            [A, 200, 200, 200],
        ),
        (
            Method::POST,
            "/api/v1/devices".into(),
            Some(mk_dev(1)),
            [A, F, F, 201],
        ),
        (
            Method::GET,
            format!("/api/v1/devices/{dev_id}"),
            None,
            [A, 200, 200, 200],
        ),
        (
            Method::PATCH,
            format!("/api/v1/devices/{dev_id}"),
            Some(json!({"location": "rack 2"})),
            [A, F, F, 200],
        ),
        (
            Method::PUT,
            format!("/api/v1/devices/{dev_id}"),
            Some(json!({"name": "fixture2", "ip": "127.9.1.1"})),
            [A, F, F, 200],
        ),
        (
            Method::GET,
            "/api/v1/devices/export?format=json".into(),
            None,
            [A, 200, 200, 200],
        ),
        (
            Method::POST,
            "/api/v1/devices/import?format=json".into(),
            Some(json!([mk_dev(2)])),
            [A, F, F, 200],
        ),
        (
            Method::GET,
            "/api/v1/device-groups".into(),
            None,
            [A, 200, 200, 200],
        ),
        (
            Method::POST,
            "/api/v1/device-groups".into(),
            Some(json!({"name": "g1"})),
            [A, F, F, 201],
        ),
        (
            Method::GET,
            format!("/api/v1/device-groups/{grp_id}"),
            None,
            [A, 200, 200, 200],
        ),
        (
            Method::PUT,
            format!("/api/v1/device-groups/{grp_id}"),
            Some(json!({"name": "g-fixture", "device_ids": [dev_id]})),
            [A, F, F, 200],
        ),
        (
            Method::GET,
            "/api/v1/config/export".into(),
            None,
            [A, F, F, 200],
        ),
        (
            Method::POST,
            "/api/v1/config/import?dry_run=true".into(),
            Some(json!({"format": "wardflux-config", "version": 1})),
            [A, F, F, 200],
        ),
        (
            Method::GET,
            "/api/v1/monitoring/profile".into(),
            None,
            [A, 200, 200, 200],
        ),
        (
            Method::PUT,
            "/api/v1/monitoring/profile".into(),
            Some(json!({"mode": "standalone"})),
            [A, F, F, 200],
        ),
        (
            Method::GET,
            "/api/v1/monitoring/snmp/credentials".into(),
            None,
            [A, 200, 200, 200],
        ),
        (
            Method::POST,
            "/api/v1/monitoring/snmp/credentials".into(),
            Some(json!({"name": "c2", "version": "v2c", "community": "xyz-secret"})),
            [A, F, F, 201],
        ),
        (
            Method::GET,
            format!("/api/v1/monitoring/snmp/credentials/{cred_id}"),
            None,
            [A, 200, 200, 200],
        ),
        (
            Method::GET,
            "/api/v1/monitoring/icmp/status".into(),
            None,
            [A, 200, 200, 200],
        ),
        (
            Method::GET,
            format!("/api/v1/monitoring/icmp/history/{dev_id}"),
            None,
            [A, 200, 200, 200],
        ),
        (
            Method::POST,
            format!("/api/v1/devices/{dev_id}/ping"),
            Some(json!({"count": 1, "timeout_ms": 200})),
            [A, F, 200, 200],
        ),
        (
            Method::GET,
            format!("/api/v1/monitoring/snmp/test?device_id={dev_id}&timeout_ms=100&retries=0"),
            None,
            [A, F, 200, 200],
        ),
        (
            Method::POST,
            "/api/v1/monitoring/snmp/test".into(),
            Some(json!({"device_id": dev_id, "timeout_ms": 100, "retries": 0})),
            [A, F, 200, 200],
        ),
        (
            Method::POST,
            "/api/v1/monitoring/snmp/poll".into(),
            Some(
                json!({"device_id": dev_id, "oids": ["1.3.6.1.2.1.1.3.0"], "timeout_ms": 100, "retries": 0}),
            ),
            [A, F, 200, 200],
        ),
        (
            Method::POST,
            "/api/v1/query?query=up".into(),
            None,
            [A, 200, 200, 200],
        ),
        (
            Method::GET,
            "/api/v1/query_range?query=up&start=0&end=60&step=15".into(),
            None,
            [A, 200, 200, 200],
        ),
        (
            Method::POST,
            "/api/v1/series?match[]=up".into(),
            None,
            [A, 200, 200, 200],
        ),
        (
            Method::POST,
            "/api/v1/labels".into(),
            None,
            [A, 200, 200, 200],
        ),
        (
            Method::POST,
            "/api/v1/label/job/values".into(),
            None,
            [A, 200, 200, 200],
        ),
        (
            Method::GET,
            "/api/v1/status/buildinfo".into(),
            None,
            [A, 200, 200, 200],
        ),
        (
            Method::GET,
            "/api/v1/metadata".into(),
            None,
            [A, 200, 200, 200],
        ),
        (
            Method::POST,
            "/api/v1/auth/tokens".into(),
            Some(json!({"name": "rbac-token"})),
            [A, 201, 201, 201],
        ),
        (
            Method::DELETE,
            "/api/v1/auth/tokens/00000000-0000-0000-0000-000000000000".into(),
            None,
            [A, 404, 404, 404],
        ),
        (
            Method::GET,
            "/api/v1/query?query=up".into(),
            None,
            [A, 200, 200, 200],
        ),
        (
            Method::POST,
            "/api/v1/query_range?query=up&start=0&end=60&step=15".into(),
            None,
            [A, 200, 200, 200],
        ),
        (
            Method::GET,
            "/api/v1/series?match[]=up".into(),
            None,
            [A, 200, 200, 200],
        ),
        (
            Method::GET,
            "/api/v1/labels".into(),
            None,
            [A, 200, 200, 200],
        ),
        (
            Method::GET,
            "/api/v1/label/job/values".into(),
            None,
            [A, 200, 200, 200],
        ),
        (
            Method::POST,
            "/api/v1/import/prometheus".into(),
            None,
            [A, F, 204, 204],
        ),
        // Deletes last, so the rows above find their fixtures.
        (
            Method::DELETE,
            format!("/api/v1/monitoring/snmp/credentials/{cred_id}"),
            None,
            [A, F, F, 204],
        ),
        (
            Method::DELETE,
            format!("/api/v1/device-groups/{grp_id}"),
            None,
            [A, F, F, 204],
        ),
        (
            Method::DELETE,
            format!("/api/v1/devices/{dev_id}"),
            None,
            [A, F, F, 204],
        ),
        (
            Method::DELETE,
            format!("/api/v1/users/{user_id}"),
            None,
            [A, F, F, 204],
        ),
        (
            Method::GET,
            "/api/v1/monitoring/alerts/rules".into(),
            None,
            [A, 200, 200, 200],
        ),
        (
            Method::POST,
            "/api/v1/monitoring/alerts/rules".into(),
            Some(json!({})),
            [A, F, F, 400],
        ),
        (
            Method::GET,
            "/api/v1/monitoring/alerts/rules/00000000-0000-0000-0000-000000000000".into(),
            None,
            [A, 404, 404, 404],
        ),
        (
            Method::PUT,
            "/api/v1/monitoring/alerts/rules/00000000-0000-0000-0000-000000000000".into(),
            Some(json!({})),
            [A, F, F, 400],
        ),
        (
            Method::DELETE,
            "/api/v1/monitoring/alerts/rules/00000000-0000-0000-0000-000000000000".into(),
            None,
            [A, F, F, 404],
        ),
        (
            Method::POST,
            "/api/v1/monitoring/alerts/rules/validate".into(),
            Some(json!({})),
            [A, 400, 400, 400],
        ),
        (
            Method::POST,
            "/api/v1/monitoring/alerts/rules/preview".into(),
            Some(json!({})),
            [A, 400, 400, 400],
        ),
        (
            Method::GET,
            "/api/v1/monitoring/alerts/active".into(),
            None,
            [A, 200, 200, 200],
        ),
        (
            Method::GET,
            "/api/v1/monitoring/alerts/history".into(),
            None,
            [A, 200, 200, 200],
        ),
        (
            Method::POST,
            "/api/v1/monitoring/alerts/00000000-0000-0000-0000-000000000000/acknowledge".into(),
            Some(json!({})),
            [A, F, 404, 404],
        ),
        (
            Method::POST,
            "/api/v1/monitoring/alerts/00000000-0000-0000-0000-000000000000/unacknowledge".into(),
            Some(json!({})),
            [A, F, 404, 404],
        ),
        (
            Method::POST,
            "/api/v1/monitoring/alerts/00000000-0000-0000-0000-000000000000/resolve".into(),
            Some(json!({})),
            [A, F, 404, 404],
        ),
        (
            Method::GET,
            "/api/v1/monitoring/alerts/00000000-0000-0000-0000-000000000000/notifications".into(),
            None,
            [A, 404, 404, 404],
        ),
        (
            Method::GET,
            "/api/v1/monitoring/alerts/channels".into(),
            None,
            [A, 200, 200, 200],
        ),
        (
            Method::POST,
            "/api/v1/monitoring/alerts/channels".into(),
            Some(json!({})),
            [A, F, F, 400],
        ),
        (
            Method::GET,
            "/api/v1/monitoring/alerts/channels/00000000-0000-0000-0000-000000000000".into(),
            None,
            [A, 404, 404, 404],
        ),
        (
            Method::PUT,
            "/api/v1/monitoring/alerts/channels/00000000-0000-0000-0000-000000000000".into(),
            Some(json!({})),
            [A, F, F, 400],
        ),
        (
            Method::DELETE,
            "/api/v1/monitoring/alerts/channels/00000000-0000-0000-0000-000000000000".into(),
            None,
            [A, F, F, 404],
        ),
        (
            Method::POST,
            "/api/v1/monitoring/alerts/channels/00000000-0000-0000-0000-000000000000/test".into(),
            Some(json!({})),
            [A, F, F, 404],
        ),
        (
            Method::GET,
            "/api/v1/monitoring/alerts/maintenance".into(),
            None,
            [A, 200, 200, 200],
        ),
        (
            Method::POST,
            "/api/v1/monitoring/alerts/maintenance".into(),
            Some(json!({})),
            [A, F, 400, 400],
        ),
        (
            Method::GET,
            "/api/v1/monitoring/alerts/maintenance/00000000-0000-0000-0000-000000000000".into(),
            None,
            [A, 404, 404, 404],
        ),
        (
            Method::PUT,
            "/api/v1/monitoring/alerts/maintenance/00000000-0000-0000-0000-000000000000".into(),
            Some(json!({})),
            [A, F, 400, 400],
        ),
        (
            Method::DELETE,
            "/api/v1/monitoring/alerts/maintenance/00000000-0000-0000-0000-000000000000".into(),
            None,
            [A, F, 404, 404],
        ),
        (
            Method::GET,
            "/api/v1/monitoring/templates".into(),
            None,
            [A, 200, 200, 200],
        ),
        (
            Method::POST,
            "/api/v1/monitoring/templates".into(),
            Some(json!({})),
            [A, F, 422, 422],
        ),
        (
            Method::GET,
            "/api/v1/monitoring/templates/00000000-0000-0000-0000-000000000000".into(),
            None,
            [A, 404, 404, 404],
        ),
        (
            Method::PUT,
            "/api/v1/monitoring/templates/00000000-0000-0000-0000-000000000000".into(),
            Some(json!({})),
            [A, F, 422, 422],
        ),
        (
            Method::DELETE,
            "/api/v1/monitoring/templates/00000000-0000-0000-0000-000000000000".into(),
            None,
            [A, F, 404, 404],
        ),
        (
            Method::POST,
            "/api/v1/monitoring/templates/00000000-0000-0000-0000-000000000000/clone".into(),
            Some(json!({})),
            [A, F, 404, 404],
        ),
        (
            Method::GET,
            "/api/v1/monitoring/templates/00000000-0000-0000-0000-000000000000/export".into(),
            None,
            [A, 404, 404, 404],
        ),
        (
            Method::POST,
            "/api/v1/monitoring/templates/import".into(),
            Some(json!({})),
            [A, F, 422, 422],
        ),
        (
            Method::POST,
            "/api/v1/monitoring/templates/00000000-0000-0000-0000-000000000000/apply".into(),
            Some(json!({"device_ids": [dev_id]})),
            [A, F, 404, 404],
        ),
        (
            Method::DELETE,
            "/api/v1/monitoring/templates/00000000-0000-0000-0000-000000000000/devices/00000000-0000-0000-0000-000000000000".into(),
            None,
            [A, F, 404, 404],
        ),
        (
            Method::GET,
            "/api/v1/monitoring/items".into(),
            None,
            [A, 200, 200, 200],
        ),
        (
            Method::GET,
            "/api/v1/monitoring/discovery/rules".into(),
            None,
            [A, 200, 200, 200],
        ),
        (
            Method::POST,
            "/api/v1/monitoring/discovery/rules".into(),
            Some(json!({"name": "r", "ranges": ["10.0.0.0/8"]})),
            [A, F, F, 422],
        ),
        (
            Method::GET,
            "/api/v1/monitoring/discovery/rules/00000000-0000-0000-0000-000000000000".into(),
            None,
            [A, 404, 404, 404],
        ),
        (
            Method::PUT,
            "/api/v1/monitoring/discovery/rules/00000000-0000-0000-0000-000000000000".into(),
            Some(json!({"name": "r", "ranges": ["127.0.0.1"]})),
            [A, F, F, 404],
        ),
        (
            Method::DELETE,
            "/api/v1/monitoring/discovery/rules/00000000-0000-0000-0000-000000000000".into(),
            None,
            [A, F, F, 404],
        ),
        (
            Method::POST,
            "/api/v1/monitoring/discovery/rules/00000000-0000-0000-0000-000000000000/run".into(),
            Some(json!({})),
            [A, F, 404, 404],
        ),
        (
            Method::POST,
            "/api/v1/monitoring/discovery/scan".into(),
            Some(json!({"rule_id": "00000000-0000-0000-0000-000000000000"})),
            [A, F, 404, 404],
        ),
        (
            Method::GET,
            "/api/v1/monitoring/discovery/jobs".into(),
            None,
            [A, 200, 200, 200],
        ),
        (
            Method::GET,
            "/api/v1/monitoring/discovery/jobs/00000000-0000-0000-0000-000000000000".into(),
            None,
            [A, 404, 404, 404],
        ),
        (
            Method::GET,
            "/api/v1/monitoring/discovery/results".into(),
            None,
            [A, 200, 200, 200],
        ),
        (
            Method::GET,
            "/api/v1/monitoring/discovery/results/00000000-0000-0000-0000-000000000000".into(),
            None,
            [A, 404, 404, 404],
        ),
        (
            Method::POST,
            "/api/v1/monitoring/discovery/add-devices".into(),
            Some(json!({"result_ids": ["00000000-0000-0000-0000-000000000000"]})),
            [A, F, F, 409],
        ),
        (
            Method::GET,
            "/api/v1/monitoring/discovery/classifier".into(),
            None,
            [A, 200, 200, 200],
        ),
        (
            Method::PUT,
            "/api/v1/monitoring/discovery/classifier".into(),
            Some(json!({"rules": [{"id": ""}]})),
            [A, F, F, 422],
        ),
        (
            Method::GET,
            "/api/v1/settings/mode".into(),
            None,
            [A, 200, 200, 200],
        ),
        (
            Method::PUT,
            "/api/v1/settings/mode".into(),
            Some(json!({"mode": "standalone"})),
            [A, F, F, 200],
        ),
        (
            Method::GET,
            "/api/v1/settings/zabbix".into(),
            None,
            [A, F, F, 404],
        ),
        (
            Method::PUT,
            "/api/v1/settings/zabbix".into(),
            Some(json!({"url": "ftp://x"})),
            [A, F, F, 422],
        ),
        (
            Method::POST,
            "/api/v1/settings/zabbix/test".into(),
            None,
            [A, F, F, 404],
        ),
        (
            Method::GET,
            "/api/v1/zabbix/status".into(),
            None,
            [A, 200, 200, 200],
        ),
        (
            Method::POST,
            "/api/v1/zabbix/import".into(),
            Some(json!({"dry_run": true})),
            [A, F, F, 409],
        ),
        // Last: a password change may end the user's other sessions.
        (
            Method::PUT,
            format!("/api/v1/users/{viewer_id}/password"),
            Some(json!({"password": ADMIN_PW})),
            [A, 204, F, 204],
        ),
    ];
    let tokens = [
        "",
        app.viewer.as_str(),
        app.operator.as_str(),
        app.admin.as_str(),
    ];
    // Every documented route (the document is built from the router) has a row here, so a
    // new route cannot skip its role check unnoticed. Public routes are listed on purpose.
    let public = [
        "GET /healthz",
        "POST /api/v1/auth/login",
        "POST /api/v1/auth/logout",
        "GET /api/v1/openapi.json",
    ];
    let doc = app.get("/api/v1/openapi.json").await.1;
    let mut missing = Vec::new();
    for (template, item) in doc["paths"].as_object().unwrap() {
        let re = regex_lite_template(template);
        for m in item.as_object().unwrap().keys() {
            let key = format!("{} {template}", m.to_uppercase());
            if public.contains(&key.as_str()) {
                continue;
            }
            let covered = rows.iter().any(|(rm, rp, _, _)| {
                rm.as_str().eq_ignore_ascii_case(m) && re(rp.split('?').next().unwrap())
            });
            if !covered {
                missing.push(key);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "routes without an RBAC row: {missing:?}"
    );
    let mut failures = Vec::new();
    for (method, path, body, want) in &rows {
        for (i, tok) in tokens.iter().enumerate() {
            let got = app
                .req(method.clone(), path, tok, body.clone())
                .await
                .status()
                .as_u16();
            if got != want[i] {
                failures.push(format!(
                    "{method} {path} as {}: got {got}, want {}",
                    ["anonymous", "viewer", "operator", "admin"][i],
                    want[i]
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "RBAC mismatches:\n{}",
        failures.join("\n")
    );
}

/// A viewer gets 403 on every write route, and nothing changes.
#[tokio::test]
async fn viewer_cannot_write_anything() {
    let app = spawn_app().await;
    let dev = app.create_device("keep", "127.9.2.1").await;
    let id = dev["id"].as_str().unwrap();
    let before = app.get("/api/v1/devices").await.1;
    for (m, p, b) in [
        (
            Method::POST,
            "/api/v1/devices".to_string(),
            json!({"name": "x", "ip": "127.9.2.2"}),
        ),
        (
            Method::PUT,
            format!("/api/v1/devices/{id}"),
            json!({"name": "x", "ip": "127.9.2.1"}),
        ),
        (Method::DELETE, format!("/api/v1/devices/{id}"), json!(null)),
        (
            Method::POST,
            "/api/v1/devices/import?format=json".to_string(),
            json!([{"name": "x", "ip": "127.9.2.3"}]),
        ),
        (
            Method::POST,
            "/api/v1/device-groups".to_string(),
            json!({"name": "x"}),
        ),
        (
            Method::POST,
            "/api/v1/users".to_string(),
            json!({"username": "x", "password": "password-1", "role": "admin"}),
        ),
        (
            Method::PUT,
            "/api/v1/monitoring/profile".to_string(),
            json!({"mode": "zabbix"}),
        ),
        (
            Method::PUT,
            "/api/v1/settings/zabbix".to_string(),
            json!({"url": "http://127.0.0.1/", "username": "u", "password": "p"}),
        ),
        (
            Method::POST,
            "/api/v1/monitoring/snmp/credentials".to_string(),
            json!({"name": "c", "version": "v2c", "community": "public"}),
        ),
        (
            Method::POST,
            format!("/api/v1/devices/{id}/ping"),
            json!({}),
        ),
        (
            Method::POST,
            "/api/v1/monitoring/snmp/poll".to_string(),
            json!({"device_id": id, "oids": ["1.3.6.1.2.1.1.3.0"]}),
        ),
        (
            Method::POST,
            "/api/v1/import/prometheus".to_string(),
            json!("x 1"),
        ),
    ] {
        let r = app.req(m.clone(), &p, &app.viewer, Some(b)).await;
        let s = r.status();
        let v: Value = r.json().await.unwrap();
        assert_error(s, &v, StatusCode::FORBIDDEN, None);
    }
    assert_eq!(app.get("/api/v1/devices").await.1, before);
}

/// A matcher for an OpenAPI path template (`/a/{id}/b`): each `{...}` matches one segment.
fn regex_lite_template(template: &str) -> impl Fn(&str) -> bool {
    let parts: Vec<String> = template.split('/').map(str::to_string).collect();
    move |path: &str| {
        let segs: Vec<&str> = path.split('/').collect();
        segs.len() == parts.len()
            && parts
                .iter()
                .zip(&segs)
                .all(|(p, s)| (p.starts_with('{') && !s.is_empty()) || p == s)
    }
}
