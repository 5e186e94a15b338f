//! Discovery through the API on either store (SQLite, or PostgreSQL in the test command's
//! second pass): ad-hoc scans and rule runs of loopback addresses (alive, no SNMP agent:
//! ping-only results), job progress, results and their filters, reruns that update rows,
//! add-devices all or nothing, the classifier overrides. The SNMP side (agents answering,
//! classification, identity across addresses) is tested against snmpsim in
//! `crates/wardflux/tests/discovery.rs`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

async fn finished(app: &TestApp, job: &str) -> Value {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (_, r) = app
            .get(&format!("/api/v1/monitoring/discovery/jobs/{job}"))
            .await;
        if r["state"] != "running" {
            return r;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the scan did not end: {r}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn scan_record_rerun_and_add() {
    let app = spawn_app().await;
    // An ad-hoc scan: 3 live loopback addresses, none with an agent, one excluded.
    let (st, b) = app
        .post(
            "/api/v1/monitoring/discovery/scan",
            json!({"ranges": ["127.44.0.1-127.44.0.4"], "exclusions": ["127.44.0.4"],
                   "communities": ["public"], "rate_limit": 500}),
        )
        .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{b}");
    let job = b["job_id"].as_str().unwrap().to_string();
    let run = finished(&app, &job).await;
    assert_eq!(run["state"], "done", "{run}");
    assert_eq!(run["total"], 3);
    assert_eq!(run["done"], 3);
    assert_eq!(run["alive"], 3);
    assert_eq!(run["snmp"], 0);
    assert_eq!(run["found"], 3);
    assert_eq!(run["new"], 3);
    assert!(
        run["duration_ms"].is_u64() && !run["finished_at"].is_null(),
        "{run}"
    );

    let (_, page) = app
        .get(&format!(
            "/api/v1/monitoring/discovery/results?job_id={job}"
        ))
        .await;
    assert_eq!(page["total"], 3, "{page}");
    let ips: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["ip"].as_str().unwrap())
        .collect();
    assert_eq!(ips, ["127.44.0.1", "127.44.0.2", "127.44.0.3"]);
    for r in page["items"].as_array().unwrap() {
        assert_eq!(r["alive"], true);
        assert_eq!(r["snmp"], false);
        assert!(r["credential"].is_null() && r["rule_id"].is_null());
    }

    // The same range as a rule: the rerun updates the three rows.
    let (st, rule) = app
        .post(
            "/api/v1/monitoring/discovery/rules",
            json!({"name": "lo", "ranges": ["127.44.0.1-127.44.0.3"],
                   "credentials": [{"version": "v2c", "community": "secret-community"}]}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{rule}");
    assert!(!rule.to_string().contains("secret-community"));
    let rule_id = rule["id"].as_str().unwrap().to_string();
    let (st, b) = app
        .post(
            &format!("/api/v1/monitoring/discovery/rules/{rule_id}/run"),
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{b}");
    let job2 = b["job_id"].as_str().unwrap().to_string();
    let run2 = finished(&app, &job2).await;
    assert_eq!(run2["found"], 3, "{run2}");
    assert_eq!(run2["new"], 0, "a rerun finds nothing new: {run2}");
    assert_eq!(run2["rule_id"], rule_id.as_str());
    let (_, all) = app.get("/api/v1/monitoring/discovery/results").await;
    assert_eq!(all["total"], 3, "a rerun added rows: {all}");
    let (_, rule) = app
        .get(&format!("/api/v1/monitoring/discovery/rules/{rule_id}"))
        .await;
    assert!(!rule["last_run"].is_null(), "{rule}");
    let (_, jobs) = app
        .get(&format!(
            "/api/v1/monitoring/discovery/jobs?rule_id={rule_id}"
        ))
        .await;
    assert_eq!(jobs.as_array().unwrap().len(), 1, "{jobs}");

    // Add one ping-only host: a device under ICMP only; a second add conflicts and names it.
    let first = all["items"][0]["id"].as_str().unwrap().to_string();
    let (st, added) = app
        .post(
            "/api/v1/monitoring/discovery/add-devices",
            json!({"result_ids": [first]}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{added}");
    assert_eq!(added["devices"][0]["ip"], "127.44.0.1");
    assert_eq!(
        added["devices"][0]["name"], "127.44.0.1",
        "no sysName: named by address"
    );
    let second = all["items"][1]["id"].as_str().unwrap().to_string();
    let (st, b) = app
        .post(
            "/api/v1/monitoring/discovery/add-devices",
            json!({"result_ids": [second, first]}),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{b}");
    assert_eq!(b["errors"].as_array().unwrap().len(), 1, "{b}");
    assert_eq!(b["errors"][0]["row"], 1, "{b}");
    assert!(b["message"].as_str().unwrap().contains(&first), "{b}");
    let (_, devs) = app.get("/api/v1/devices").await;
    assert_eq!(devs["total"], 1, "all or nothing: {devs}");
    let (_, known) = app
        .get("/api/v1/monitoring/discovery/results?status=known")
        .await;
    assert_eq!(known["total"], 1);
    assert_eq!(known["items"][0]["device_id"], added["devices"][0]["id"]);
    let (_, new) = app
        .get("/api/v1/monitoring/discovery/results?status=new")
        .await;
    assert_eq!(new["total"], 2);
}

#[tokio::test]
async fn bad_scans_and_rules_name_the_field() {
    let app = spawn_app().await;
    for (body, field) in [
        (json!({"ranges": ["10.0.0.0/15"]}), "ranges"),
        (json!({"ranges": ["127.0.0.1/40"]}), "ranges[0]"),
        (
            json!({"ranges": ["127.0.0.1"], "exclusions": ["x"]}),
            "exclusions[0]",
        ),
        (
            json!({"ranges": ["127.0.0.1"], "rate_limit": 0}),
            "rate_limit",
        ),
        (
            json!({"ranges": ["127.0.0.1"], "concurrency": 5000}),
            "concurrency",
        ),
        (
            json!({"ranges": ["127.0.0.1"], "credentials": [{"version": "v3"}]}),
            "credentials[0].username",
        ),
        (
            json!({"rule_id": "00000000-0000-4000-8000-000000000000", "ranges": ["127.0.0.1"]}),
            "rule_id",
        ),
    ] {
        let (st, b) = app
            .post("/api/v1/monitoring/discovery/scan", body.clone())
            .await;
        assert_error(st, &b, StatusCode::UNPROCESSABLE_ENTITY, Some(field));
    }
    // Operators run stored rules but do not scan with credentials of their own.
    let st = app
        .req(
            reqwest::Method::POST,
            "/api/v1/monitoring/discovery/scan",
            &app.operator,
            Some(json!({"ranges": ["127.0.0.1"]})),
        )
        .await
        .status();
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (_, jobs) = app.get("/api/v1/monitoring/discovery/jobs").await;
    assert_eq!(jobs, json!([]), "nothing started");

    // The classifier: a bad override names its entry; a good one classifies the next scans.
    let (st, b) = app
        .put(
            "/api/v1/monitoring/discovery/classifier",
            json!({"rules": [{"id": "x", "device_type": "toaster", "descr": "x"}]}),
        )
        .await;
    assert_error(
        st,
        &b,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("rules[0].device_type"),
    );
    let (st, b) = app
        .put(
            "/api/v1/monitoring/discovery/classifier",
            json!({"rules": [{"id": "acme-box", "vendor": "acme", "device_type": "other", "descr": "^ACME"}]}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(b["overrides"]["rules"][0]["id"], "acme-box");
    assert!(b["shipped"]["rules"].as_array().unwrap().len() >= 20);
    let (_, got) = app.get("/api/v1/monitoring/discovery/classifier").await;
    assert_eq!(got["overrides"], b["overrides"]);
    let (st, b) = app
        .put("/api/v1/monitoring/discovery/classifier", Value::Null)
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert!(b["overrides"].is_null());
}
