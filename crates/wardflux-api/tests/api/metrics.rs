//! The Prometheus-compatible routes behind wardflux's auth: ingest and query.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

async fn import(app: &TestApp, token: &str, body: &str) -> (StatusCode, String) {
    let r = app
        .client
        .post(app.url("/api/v1/import/prometheus"))
        .bearer_auth(token)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

#[tokio::test]
async fn import_needs_operator_and_query_needs_viewer() {
    let app = spawn_app().await;
    let now = chrono::Utc::now().timestamp_millis();
    let body = format!(
        "wf_test_temp{{site=\"tbilisi\"}} 21.5 {now}\nwf_test_temp{{site=\"batumi\"}} 24 {now}\n"
    );
    assert_eq!(
        import(&app, &app.viewer, &body).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(import(&app, "", &body).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        import(&app, &app.operator, &body).await.0,
        StatusCode::NO_CONTENT
    );

    let (s, text) = import(&app, &app.admin, "ok_metric 1\nbroken{ 2\n").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{text}");
    assert!(text.contains('2'), "the error names line 2: {text}");

    let r = app
        .client
        .get(app.url("/api/v1/query"))
        .query(&[
            ("query", "sum(wf_test_temp)"),
            ("time", &format!("{}", now as f64 / 1000.0)),
        ])
        .bearer_auth(&app.viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "success", "{v}");
    assert_eq!(v["data"]["resultType"], "vector");
    assert_eq!(v["data"]["result"][0]["value"][1], "45.5", "{v}");

    // Basic auth works too (Grafana's data source setting).
    let r = app
        .client
        .get(app.url("/api/v1/label/site/values"))
        .basic_auth("viewer", Some(ADMIN_PW))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["data"], serde_json::json!(["batumi", "tbilisi"]), "{v}");
    let r = app
        .client
        .get(app.url("/api/v1/labels"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}
