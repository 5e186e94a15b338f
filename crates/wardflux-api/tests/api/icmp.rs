//! ICMP routes against the real kernel: 127.0.0.1 answers echo requests.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn status_ping_now_and_history_of_a_live_device() {
    let app = spawn_app().await;
    let d = app.create_device("lo", "127.0.0.1").await;
    let id: uuid::Uuid = d["id"].as_str().unwrap().parse().unwrap();
    let mut t = wardflux_collect::icmp::IcmpTarget::new(id, "lo", "127.0.0.1".parse().unwrap());
    t.interval = Duration::from_secs(1);
    app.icmp.apply_targets(vec![t]);

    eventually("the device to be up", Duration::from_secs(10), || async {
        let (s, v) = app.get("/api/v1/monitoring/icmp/status").await;
        s == StatusCode::OK && v[0]["state"] == "up"
    })
    .await;
    let (_, v) = app
        .get("/api/v1/monitoring/icmp/status?state=up&search=LO")
        .await;
    let row = &v[0];
    assert_eq!(row["device_id"], d["id"]);
    assert!(row["last_rtt_ms"].as_f64().unwrap() >= 0.0, "{row}");
    assert_display_ms(&row["last_rtt_ms"]);
    assert_eq!(row["loss"], 0.0);
    assert!(row["since"].as_str().unwrap().ends_with('Z'));
    let (_, v) = app.get("/api/v1/monitoring/icmp/status?state=down").await;
    assert_eq!(v, json!([]));
    let (s, v) = app
        .get("/api/v1/monitoring/icmp/status?state=sideways")
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, Some("state"));

    // Ping now: operator yes, viewer no.
    let r = app
        .req(
            Method::POST,
            &format!("/api/v1/devices/{id}/ping"),
            &app.operator,
            Some(json!({"count": 2, "timeout_ms": 500})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (
            v["alive"].as_bool(),
            v["sent"].as_u64(),
            v["received"].as_u64()
        ),
        (Some(true), Some(2), Some(2)),
        "{v}"
    );
    for rtt in v["rtt_ms"].as_array().unwrap() {
        assert_display_ms(rtt);
    }
    assert_display_ms(&v["rtt_avg_ms"]);
    let r = app
        .req(
            Method::POST,
            &format!("/api/v1/devices/{id}/ping"),
            &app.viewer,
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let (s, v) = app
        .post(&format!("/api/v1/devices/{id}/ping"), json!({"count": 0}))
        .await;
    assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY, Some("count"));
    let (s, v) = app
        .post(
            &format!("/api/v1/devices/{}/ping", uuid::Uuid::new_v4()),
            json!({}),
        )
        .await;
    assert_error(s, &v, StatusCode::NOT_FOUND, None);

    // History: the checks' samples and the unknown -> up change.
    eventually(
        "RTT samples in the history",
        Duration::from_secs(10),
        || async {
            let (s, v) = app
                .get(&format!("/api/v1/monitoring/icmp/history/{id}?step=1s"))
                .await;
            s == StatusCode::OK && !v["rtt_ms"].as_array().unwrap().is_empty()
        },
    )
    .await;
    let (_, v) = app
        .get(&format!("/api/v1/monitoring/icmp/history/{id}?step=1s"))
        .await;
    assert_eq!(v["step_s"], 1);
    assert_eq!(v["up"][0]["value"], 1.0, "{v}");
    assert_eq!(v["packet_loss"][0]["value"], 0.0);
    assert_eq!(v["state_changes"][0]["to_state"], "up", "{v}");
    assert!(v["rtt_ms"][0]["at"].as_str().unwrap().ends_with('Z'));
    for p in v["rtt_ms"].as_array().unwrap() {
        assert_display_ms(&p["value"]);
    }
    app.icmp.apply_targets(vec![]);
}

#[tokio::test]
async fn history_rejects_bad_parameters() {
    let app = spawn_app().await;
    let d = app.create_device("x", "127.0.0.2").await;
    let id = d["id"].as_str().unwrap();
    let base = format!("/api/v1/monitoring/icmp/history/{id}");
    for (q, status, field) in [
        ("?from=yesterday", StatusCode::BAD_REQUEST, "from"),
        ("?to=nope", StatusCode::BAD_REQUEST, "to"),
        ("?step=fast", StatusCode::BAD_REQUEST, "step"),
        ("?step=0", StatusCode::UNPROCESSABLE_ENTITY, "step"),
        (
            "?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z",
            StatusCode::UNPROCESSABLE_ENTITY,
            "from",
        ),
        (
            "?from=0&to=2000000000&step=1",
            StatusCode::UNPROCESSABLE_ENTITY,
            "step",
        ),
        ("?colour=red", StatusCode::BAD_REQUEST, "colour"),
    ] {
        let (s, v) = app.get(&format!("{base}{q}")).await;
        assert_error(s, &v, status, Some(field));
    }
    let (s, v) = app.get("/api/v1/monitoring/icmp/history/not-a-uuid").await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, Some("device_id"));
    let (s, v) = app
        .get(&format!(
            "/api/v1/monitoring/icmp/history/{}",
            uuid::Uuid::new_v4()
        ))
        .await;
    assert_error(s, &v, StatusCode::NOT_FOUND, None);
    // Unix seconds work and an empty range is an empty answer, not an error.
    let (s, v) = app
        .get(&format!("{base}?from=1700000000&to=1700003600&step=60"))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["rtt_ms"], json!([]));
    assert_eq!(v["from"], "2023-11-14T22:13:20Z");
}

/// A measured duration in milliseconds is shown to the microsecond: at most three decimals
/// (`0.045`, not `0.045172000000000004`).
fn assert_display_ms(v: &Value) {
    assert!(v.is_number(), "{v} is not a number");
    let text = v.to_string();
    let decimals = text.split('.').nth(1).map_or(0, str::len);
    assert!(
        decimals <= 3 && !text.contains('e'),
        "{text} ms is not rounded to the microsecond"
    );
}
