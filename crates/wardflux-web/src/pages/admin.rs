//! `/settings` (users and roles, each user's own
//! password; the audit log for admins). User changes go through the API's own functions
//! (`wardflux_api::routes::users`), so the same rules hold: an admin cannot demote, disable
//! or delete themselves, and changed credentials stop working at once.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use uuid::Uuid;
use wardflux_api::AppState;
use wardflux_api::error::ApiError;
use wardflux_api::routes::users;
use wardflux_model::inventory::{Role, Secret};

use super::{Chrome, action, outcome, store_error};
use crate::form::Fields;
use crate::session::Page;
use crate::view;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/settings", get(settings))
        .route("/settings/users", post(add_user))
        .route("/settings/users/{id}", post(update_user))
        .route("/settings/users/{id}/password", post(set_password))
        .route("/settings/users/{id}/delete", post(delete_user))
        .route("/settings/password", post(own_password))
}

#[derive(Template, WebTemplate)]
#[template(path = "settings.html")]
struct Settings {
    chrome: Chrome,
    users: Vec<UserRow>,
    roles: [&'static str; 3],
    is_admin: bool,
    audit: Vec<(String, String, String, String, String)>,
    /// Shared SNMP credentials: id, name, description.
    credentials: Vec<(Uuid, String, String)>,
    choices: super::snmp::Choices,
    flash: Option<String>,
    error: Option<String>,
}

struct UserRow {
    id: Uuid,
    username: String,
    role: &'static str,
    enabled: bool,
    me: bool,
}

#[derive(Deserialize)]
struct Flash {
    done: Option<String>,
    error: Option<String>,
}

async fn settings(
    State(st): State<AppState>,
    page: Page,
    headers: HeaderMap,
    Query(f): Query<Flash>,
) -> Response {
    let is_admin = page.can(Role::Admin);
    let users = if is_admin {
        match st.store.list_users().await {
            Ok(u) => u,
            Err(e) => return store_error(e),
        }
    } else {
        Vec::new()
    };
    let audit = if is_admin {
        match st.store.list_audit(50, 0).await {
            Ok(p) => p
                .items
                .into_iter()
                .map(|a| {
                    (
                        view::iso(a.at),
                        view::short(a.at),
                        a.actor,
                        a.action,
                        format!("{} {}", a.entity, a.entity_id.unwrap_or_default()),
                    )
                })
                .collect(),
            Err(e) => return store_error(e),
        }
    } else {
        Vec::new()
    };
    let credentials = if is_admin {
        match st.store.list_snmp_credentials().await {
            Ok(c) => c
                .into_iter()
                .filter(|c| c.device_id.is_none())
                .map(|c| (c.id, c.name.clone(), super::snmp::describe(&c)))
                .collect(),
            Err(e) => return store_error(e),
        }
    } else {
        Vec::new()
    };
    Settings {
        chrome: Chrome::new(&page, &headers, "settings"),
        credentials,
        choices: super::snmp::Choices::default(),
        users: users
            .into_iter()
            .map(|u| UserRow {
                me: u.id == page.user.user.id,
                id: u.id,
                username: u.username,
                role: u.role.as_str(),
                enabled: !u.disabled,
            })
            .collect(),
        roles: ["viewer", "operator", "admin"],
        is_admin,
        audit,
        flash: f.done.filter(|m| !m.is_empty()),
        error: f.error,
    }
    .into_response()
}

fn role(f: &Fields) -> Result<Role, ApiError> {
    f.get("role")
        .parse()
        .map_err(|_| ApiError::bad_request(Some("role"), "role: one of viewer, operator, admin"))
}

/// `POST /settings/users` (admin): a new user with a role and an initial password.
async fn add_user(State(st): State<AppState>, page: Page, f: Fields) -> Result<Response, Response> {
    page.check_csrf(f.get("csrf"))?;
    page.require(Role::Admin)?;
    let r = async {
        let role = role(&f)?;
        let u = st
            .store
            .create_user(
                &page.user.actor(),
                f.get("username"),
                &Secret::new(f.get("password").to_string()),
                role,
            )
            .await?;
        Ok(format!("User {} created.", u.username))
    }
    .await;
    Ok(outcome("/settings", r))
}

/// `POST /settings/users/{id}` (admin): role and enabled.
async fn update_user(
    State(st): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    f: Fields,
) -> Result<Response, Response> {
    let id = action(&page, f.get("csrf"), Role::Admin, &id, "user")?;
    let r = async {
        let role = role(&f)?;
        let u = users::update_user_as(&st, &page.user, id, Some(role), Some(!f.checked("enabled")))
            .await?;
        Ok(format!("User {} saved.", u.username))
    }
    .await;
    Ok(outcome("/settings", r))
}

/// `POST /settings/users/{id}/password` (admin): sets another user's password.
async fn set_password(
    State(st): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    f: Fields,
) -> Result<Response, Response> {
    let id = action(&page, f.get("csrf"), Role::Admin, &id, "user")?;
    let pw = Secret::new(f.get("password").to_string());
    let r = users::set_password_as(&st, &page.user, id, &pw)
        .await
        .map(|()| "Password set.".to_string());
    Ok(outcome("/settings", r))
}

/// `POST /settings/users/{id}/delete` (admin; not yourself).
async fn delete_user(
    State(st): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    f: Fields,
) -> Result<Response, Response> {
    let id = action(&page, f.get("csrf"), Role::Admin, &id, "user")?;
    let r = users::delete_user_as(&st, &page.user, id)
        .await
        .map(|()| "User deleted.".to_string());
    Ok(outcome("/settings", r))
}

/// `POST /settings/password` (anyone): changes one's own password; the two entries must match.
async fn own_password(
    State(st): State<AppState>,
    page: Page,
    f: Fields,
) -> Result<Response, Response> {
    page.check_csrf(f.get("csrf"))?;
    if f.get("password") != f.get("confirm") {
        return Ok(outcome(
            "/settings",
            Err(ApiError::bad_request(
                Some("confirm"),
                "confirm: the two passwords differ",
            )),
        ));
    }
    let pw = Secret::new(f.get("password").to_string());
    let r = users::set_password_as(&st, &page.user, page.user.user.id, &pw)
        .await
        .map(|()| "Your password is changed.".to_string());
    Ok(outcome("/settings", r))
}
