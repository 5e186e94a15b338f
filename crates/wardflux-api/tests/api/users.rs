use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn user_lifecycle() {
    let app = spawn_app().await;
    let (s, u) = app
        .post(
            "/api/v1/users",
            json!({"username": "noc.operator", "password": "s3cret-pass", "role": "operator"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{u}");
    assert!(
        u.get("password").is_none() && u.get("password_hash").is_none(),
        "{u}"
    );
    let id = u["id"].as_str().unwrap();
    let t = app.login("noc.operator", "s3cret-pass").await;
    assert_eq!(app.me_status(&t).await, StatusCode::OK);

    let (s, _) = app
        .patch(&format!("/api/v1/users/{id}"), json!({"disabled": true}))
        .await;
    assert_eq!(s, StatusCode::OK);
    // A disabled user's tokens stop working and they cannot log in.
    assert_eq!(app.me_status(&t).await, StatusCode::UNAUTHORIZED);
    let r = app
        .req(
            Method::POST,
            "/api/v1/auth/login",
            "",
            Some(json!({"username": "noc.operator", "password": "s3cret-pass"})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    let (s, v) = app
        .post(
            "/api/v1/users",
            json!({"username": "noc.operator", "password": "another-pass", "role": "viewer"}),
        )
        .await;
    assert_error(s, &v, StatusCode::CONFLICT, Some("username"));
    for (body, code, field) in [
        (
            json!({"username": "", "password": "password-1", "role": "viewer"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "username",
        ),
        (
            json!({"username": "has space", "password": "password-1", "role": "viewer"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "username",
        ),
        (
            json!({"username": "ok", "password": "short", "role": "viewer"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "password",
        ),
        (
            json!({"username": "ok", "password": "password-1", "role": "root"}),
            StatusCode::BAD_REQUEST,
            "role",
        ),
        (
            json!({"username": "ok", "password": "password-1"}),
            StatusCode::BAD_REQUEST,
            "role",
        ),
    ] {
        let (s, v) = app.post("/api/v1/users", body).await;
        assert_error(s, &v, code, Some(field));
    }
    let admin_id = app.user_id("admin").await;
    let r = app
        .req(
            Method::DELETE,
            &format!("/api/v1/users/{admin_id}"),
            &app.admin,
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let (s, _) = app
        .patch(
            &format!("/api/v1/users/{admin_id}"),
            json!({"role": "viewer"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);

    // Self-service password change.
    let vid = app.user_id("viewer").await;
    let r = app
        .req(
            Method::PUT,
            &format!("/api/v1/users/{vid}/password"),
            &app.viewer,
            Some(json!({"password": "new-viewer-pass"})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    app.login("viewer", "new-viewer-pass").await;
    let r = app
        .req(
            Method::PUT,
            &format!("/api/v1/users/{vid}/password"),
            &app.admin,
            Some(json!({"password": "x"})),
        )
        .await;
    let s = r.status();
    let v: Value = r.json().await.unwrap();
    assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY, Some("password"));

    let list: Value = app.get("/api/v1/users").await.1;
    assert_eq!(list.as_array().unwrap().len(), 4);
    assert!(!list.to_string().contains("argon2"), "hash leaked: {list}");
    assert_eq!(
        app.delete(&format!("/api/v1/users/{id}")).await,
        StatusCode::NO_CONTENT
    );
}
