//! Oversized and hostile input (issue 14): over-limit bodies are 413 in the JSON error
//! format, echoed input is shortened, list fields have bounded sizes.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn an_oversized_json_body_is_413_with_a_json_error() {
    let app = spawn_app().await;
    let big = "x".repeat(5 * 1024 * 1024);
    let r = app
        .req(
            Method::POST,
            "/api/v1/devices",
            &app.admin,
            Some(json!({"name": big, "ip": "127.0.0.9"})),
        )
        .await;
    let status = r.status();
    let body: Value = r.json().await.expect("a JSON error body");
    assert_error(status, &body, StatusCode::PAYLOAD_TOO_LARGE, None);
    assert_eq!(body["error"], "payload_too_large");
    assert!(body["message"].as_str().unwrap().contains("MiB"), "{body}");
}

#[tokio::test]
async fn an_oversized_csv_import_is_413_with_a_json_error() {
    let app = spawn_app().await;
    let mut csv = String::from("name,ip\n");
    while csv.len() <= 17 * 1024 * 1024 {
        csv.push_str("some-router-with-a-long-name,127.0.0.1\n");
    }
    let r = app
        .client
        .post(app.url("/api/v1/devices/import"))
        .bearer_auth(&app.admin)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    let status = r.status();
    assert_eq!(
        r.headers().get("content-type").unwrap(),
        "application/json",
        "{status}"
    );
    let body: Value = r.json().await.unwrap();
    assert_error(status, &body, StatusCode::PAYLOAD_TOO_LARGE, None);
    assert_eq!(body["error"], "payload_too_large");
}

#[tokio::test]
async fn an_unknown_csv_column_is_echoed_shortened() {
    let app = spawn_app().await;
    let column = "c".repeat(1024 * 1024);
    let r = app
        .client
        .post(app.url("/api/v1/devices/import"))
        .bearer_auth(&app.admin)
        .header("content-type", "text/csv")
        .body(format!("name,ip,{column}\nr1,127.0.0.1,x\n"))
        .send()
        .await
        .unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    assert!(text.len() < 2000, "{} bytes answered", text.len());
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_error(status, &body, StatusCode::BAD_REQUEST, None);
    let msg = body["message"].as_str().unwrap();
    assert!(
        msg.contains(&format!("{}…", "c".repeat(64))) && msg.contains("expected"),
        "{msg}"
    );
}

#[tokio::test]
async fn list_fields_have_bounded_sizes_naming_the_field() {
    let app = spawn_app().await;
    let tags: Vec<String> = (0..33).map(|i| format!("t{i}")).collect();
    let (s, v) = app
        .post(
            "/api/v1/devices",
            json!({"name": "r1", "ip": "127.0.0.9", "tags": tags}),
        )
        .await;
    assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY, Some("tags"));
    assert!(v["message"].as_str().unwrap().contains("32"), "{v}");
    let (s, v) = app
        .post(
            "/api/v1/devices",
            json!({"name": "r1", "ip": "127.0.0.9", "tags": tags[..32]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "32 tags are fine: {v}");

    let path = "/api/v1/monitoring/alerts/rules";
    let labels: serde_json::Map<String, Value> =
        (0..33).map(|i| (format!("l{i}"), json!("v"))).collect();
    let (s, v) = app
        .post(
            path,
            json!({"name": "r", "expression": "up == 0", "severity": "high", "labels": labels}),
        )
        .await;
    assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY, Some("labels"));
    let long_label = "a".repeat(100_000);
    let (s, v) = app
        .post(
            path,
            json!({"name": "r", "expression": "up == 0", "severity": "high",
                   "labels": {long_label: "v"}}),
        )
        .await;
    assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY, Some("labels"));
    assert!(v.to_string().len() < 1000, "label name echoed whole");
    let names: Vec<String> = (0..33).map(|i| format!("c{i}")).collect();
    let (s, v) = app
        .post(
            path,
            json!({"name": "r", "expression": "up == 0", "severity": "high", "notifications": names}),
        )
        .await;
    assert_error(
        s,
        &v,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("notifications"),
    );
}
