use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn login_returns_token_and_session_cookie() {
    let app = spawn_app().await;
    let r = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"username": "viewer", "password": ADMIN_PW}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let cookie = r
        .headers()
        .get("set-cookie")
        .expect("session cookie")
        .to_str()
        .unwrap()
        .to_string();
    assert!(cookie.starts_with("wardflux_session="));
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let v: Value = r.json().await.unwrap();
    let token = v["token"].as_str().unwrap();
    assert_eq!(v["user"]["role"], "viewer");
    assert!(v["expires_at"].as_str().unwrap().ends_with('Z'));

    let me: Value = app.me(token).await;
    assert_eq!(me["username"], "viewer");

    // The cookie alone authenticates too.
    let kv = cookie.split(';').next().unwrap();
    let r = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .header("cookie", kv)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn bad_credentials_and_bad_input() {
    let app = spawn_app().await;
    let r = app
        .req(
            Method::POST,
            "/api/v1/auth/login",
            "",
            Some(json!({"username": "admin", "password": "wrong-password"})),
        )
        .await;
    let s = r.status();
    let v: Value = r.json().await.unwrap();
    assert_error(s, &v, StatusCode::UNAUTHORIZED, None);

    let r = app
        .req(
            Method::POST,
            "/api/v1/auth/login",
            "",
            Some(json!({"username": "admin"})),
        )
        .await;
    let s = r.status();
    let v: Value = r.json().await.unwrap();
    assert_error(s, &v, StatusCode::BAD_REQUEST, Some("password"));

    let r = app
        .req(
            Method::POST,
            "/api/v1/auth/login",
            "",
            Some(json!({"username": 5, "password": "x"})),
        )
        .await;
    let s = r.status();
    let v: Value = r.json().await.unwrap();
    assert_error(s, &v, StatusCode::BAD_REQUEST, Some("username"));

    let r = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    for bad in ["Bearer nope", "Basic !!!", "Digest x"] {
        let r = app
            .client
            .get(app.url("/api/v1/auth/me"))
            .header("authorization", bad)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{bad}");
    }
}

#[tokio::test]
async fn failed_logins_are_rate_limited() {
    let app = spawn_app().await;
    // Three free failures, the fourth engages the wait (per account and address).
    for _ in 0..4 {
        let r = app
            .req(
                Method::POST,
                "/api/v1/auth/login",
                "",
                Some(json!({"username": "oper", "password": "wrong-password"})),
            )
            .await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    // Even the right password is refused from this address while it waits.
    let r = app
        .req(
            Method::POST,
            "/api/v1/auth/login",
            "",
            Some(json!({"username": "oper", "password": ADMIN_PW})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().get("retry-after").is_some());
    // Other users are unaffected.
    app.login("viewer", ADMIN_PW).await;
}

#[tokio::test]
async fn basic_auth_works_for_scrapers() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .basic_auth("viewer", Some(ADMIN_PW))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .basic_auth("viewer", Some("wrong-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

/// Basic auth is verified once and then cached (one argon2 hash per credential, not per
/// request), but a cached credential dies with a password change or a disabled account.
#[tokio::test]
async fn cached_basic_auth_is_dropped_on_password_change_and_disable() {
    let app = spawn_app().await;
    let me = |pw: &'static str| {
        let (c, url) = (app.client.clone(), app.url("/api/v1/auth/me"));
        async move {
            c.get(url)
                .basic_auth("viewer", Some(pw))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    // Verified, then served from the cache (many requests, the same answer).
    for _ in 0..20 {
        assert_eq!(me(ADMIN_PW).await, StatusCode::OK);
    }
    let id = app.user_id("viewer").await;
    let (s, _) = app
        .put(
            &format!("/api/v1/users/{id}/password"),
            json!({"password": "a-new-password-2"}),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(
        me(ADMIN_PW).await,
        StatusCode::UNAUTHORIZED,
        "old password cached"
    );
    assert_eq!(me("a-new-password-2").await, StatusCode::OK);
    let (s, _) = app
        .patch(&format!("/api/v1/users/{id}"), json!({"disabled": true}))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        me("a-new-password-2").await,
        StatusCode::UNAUTHORIZED,
        "disabled user cached"
    );
}

/// Tokens are verified once and then cached like basic auth (no SQL per request), but a
/// cached token dies at once when its user is disabled (logout and revocation: below).
#[tokio::test]
async fn cached_token_is_dropped_when_its_user_is_disabled() {
    let app = spawn_app().await;
    let t = app.login("viewer", ADMIN_PW).await;
    for _ in 0..20 {
        assert_eq!(app.me_status(&t).await, StatusCode::OK);
    }
    let id = app.user_id("viewer").await;
    let (s, _) = app
        .patch(&format!("/api/v1/users/{id}"), json!({"disabled": true}))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        app.me_status(&t).await,
        StatusCode::UNAUTHORIZED,
        "disabled user's token cached"
    );
}

#[tokio::test]
async fn logout_revokes_the_session() {
    let app = spawn_app().await;
    let t = app.login("viewer", ADMIN_PW).await;
    assert_eq!(
        app.req(Method::POST, "/api/v1/auth/logout", &t, None)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.me_status(&t).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn api_tokens_for_automation() {
    let app = spawn_app().await;
    let r = app
        .req(
            Method::POST,
            "/api/v1/auth/tokens",
            &app.operator,
            Some(json!({"name": "ansible", "expires_in_days": 30})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let v: Value = r.json().await.unwrap();
    let tok = v["token"].as_str().unwrap().to_string();
    let id = v["info"]["id"].as_str().unwrap().to_string();
    let me: Value = app.me(&tok).await;
    assert_eq!(me["username"], "oper");
    let list: Value = app
        .req(Method::GET, "/api/v1/auth/tokens", &app.operator, None)
        .await
        .json()
        .await
        .unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert!(!list[0].to_string().contains(&tok), "token value listed");
    // A viewer cannot revoke someone else's token.
    let s = app
        .req(
            Method::DELETE,
            &format!("/api/v1/auth/tokens/{id}"),
            &app.viewer,
            None,
        )
        .await
        .status();
    assert_eq!(s, StatusCode::NOT_FOUND);
    let s = app
        .req(
            Method::DELETE,
            &format!("/api/v1/auth/tokens/{id}"),
            &app.operator,
            None,
        )
        .await
        .status();
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(app.me_status(&tok).await, StatusCode::UNAUTHORIZED);

    for (body, field) in [
        (json!({"name": ""}), "name"),
        (
            json!({"name": "x", "expires_in_days": 0}),
            "expires_in_days",
        ),
    ] {
        let r = app
            .req(Method::POST, "/api/v1/auth/tokens", &app.admin, Some(body))
            .await;
        let s = r.status();
        let v: Value = r.json().await.unwrap();
        assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY, Some(field));
    }
    let r = app
        .req(
            Method::POST,
            "/api/v1/auth/tokens",
            &app.admin,
            Some(json!({"name": "x", "scope": "all"})),
        )
        .await;
    let s = r.status();
    let v: Value = r.json().await.unwrap();
    assert_error(s, &v, StatusCode::BAD_REQUEST, Some("scope"));
}

/// A client bound to a loopback address of its own, so the server sees it as another host.
fn client_from(last_octet: u8) -> reqwest::Client {
    let ip = std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, last_octet));
    reqwest::Client::builder()
        .local_address(ip)
        .cookie_store(false)
        .build()
        .unwrap()
}

/// Issue 14: wrong passwords sent from 127.0.0.2 throttle 127.0.0.2 (password login and
/// basic auth alike), not the admin logging in from 127.0.0.3; the throttle is audited.
#[tokio::test]
async fn wrong_passwords_from_one_address_do_not_lock_out_another() {
    let app = spawn_app().await;
    let (attacker, admin) = (client_from(2), client_from(3));
    let login = |c: &reqwest::Client, pw: &str| {
        c.post(app.url("/api/v1/auth/login"))
            .json(&json!({"username": "admin", "password": pw}))
            .send()
    };
    let mut statuses = vec![];
    for _ in 0..8 {
        statuses.push(login(&attacker, "wrong-password").await.unwrap().status());
    }
    assert!(
        statuses.contains(&StatusCode::UNAUTHORIZED)
            && statuses.last() == Some(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    // The attacker's own address is slowed, whatever it sends.
    let r = login(&attacker, ADMIN_PW).await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().get("retry-after").is_some());
    let r = attacker
        .get(app.url("/api/v1/auth/me"))
        .basic_auth("admin", Some(ADMIN_PW))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "basic auth too");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "too_many_requests");

    // The admin, from elsewhere, is not.
    let r = login(&admin, ADMIN_PW).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = admin
        .get(app.url("/api/v1/auth/me"))
        .basic_auth("admin", Some(ADMIN_PW))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "Grafana's basic auth");

    // Wrong basic-auth passwords throttle the same way, per address.
    for _ in 0..5 {
        admin
            .get(app.url("/api/v1/auth/me"))
            .basic_auth("viewer", Some("wrong-password"))
            .send()
            .await
            .unwrap();
    }
    let r = admin
        .get(app.url("/api/v1/auth/me"))
        .basic_auth("viewer", Some(ADMIN_PW))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    app.login("viewer", ADMIN_PW).await;

    let (s, v) = app.get("/api/v1/audit?limit=50").await;
    assert_eq!(s, StatusCode::OK);
    let throttles: Vec<&Value> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "auth.throttle")
        .collect();
    assert!(
        throttles
            .iter()
            .any(|e| e["entity_id"] == "admin" && e["after"]["client"] == "127.0.0.2"),
        "{v}"
    );
    assert!(
        throttles
            .iter()
            .any(|e| e["entity_id"] == "viewer" && e["after"]["client"] == "127.0.0.3"),
        "{v}"
    );
}
