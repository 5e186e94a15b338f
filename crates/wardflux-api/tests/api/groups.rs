use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn group_crud_and_membership() {
    let app = spawn_app().await;
    let a = app.create_device("a", "127.14.0.1").await;
    let b = app.create_device("b", "127.14.0.2").await;
    let (s, g) = app
        .post(
            "/api/v1/device-groups",
            json!({"name": "east-branches", "description": "East", "device_ids": [a["id"]]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{g}");
    let id = g["id"].as_str().unwrap();
    assert_eq!(g["device_ids"], json!([a["id"]]));
    let (s, v) = app.get(&format!("/api/v1/devices?group_id={id}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["total"], 1);

    let (s, g2) = app
        .put(
            &format!("/api/v1/device-groups/{id}"),
            json!({"name": "east", "device_ids": [a["id"], b["id"]]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{g2}");
    assert_eq!(g2["device_ids"].as_array().unwrap().len(), 2);
    assert_eq!(
        app.get("/api/v1/device-groups")
            .await
            .1
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let (s, v) = app
        .post("/api/v1/device-groups", json!({"name": "east"}))
        .await;
    assert_error(s, &v, StatusCode::CONFLICT, Some("name"));
    let (s, v) = app.post("/api/v1/device-groups", json!({"name": ""})).await;
    assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY, Some("name"));
    let (s, v) = app
        .post(
            "/api/v1/device-groups",
            json!({"name": "x", "device_ids": ["00000000-0000-0000-0000-000000000009"]}),
        )
        .await;
    assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY, Some("device_ids"));
    let (s, v) = app
        .post(
            "/api/v1/device-groups",
            json!({"name": "x", "device_ids": ["zz"]}),
        )
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, None);

    // Deleting a member device drops it from the group; deleting the group keeps devices.
    assert_eq!(
        app.delete(&format!("/api/v1/devices/{}", b["id"].as_str().unwrap()))
            .await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get(&format!("/api/v1/device-groups/{id}")).await.1["device_ids"],
        json!([a["id"]])
    );
    assert_eq!(
        app.delete(&format!("/api/v1/device-groups/{id}")).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.get("/api/v1/devices").await.1["total"], 1);
    let (s, v) = app.get(&format!("/api/v1/device-groups/{id}")).await;
    assert_error(s, &v, StatusCode::NOT_FOUND, None);
}
