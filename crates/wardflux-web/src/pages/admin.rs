//! `/settings` (users and roles, each user's own
//! password; the audit log for admins; the monitoring mode and the Zabbix connection with
//! its test and sync status). User changes go through the API's own functions
//! (`wardflux_api::routes::users`), so the same rules hold: an admin cannot demote, disable
//! or delete themselves, and changed credentials stop working at once. The mode and the
//! Zabbix connection likewise go through `wardflux_api::routes::settings` (`set_mode`,
//! `unsaved_connection`) and the store's `set_zabbix_settings`, as the REST API does.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use uuid::Uuid;
use wardflux_api::AppState;
use wardflux_api::error::ApiError;
use wardflux_api::routes::{settings as api_settings, users};
use wardflux_model::MonitoringMode;
use wardflux_model::inventory::{FieldError, Role, Secret};
use wardflux_model::zabbix::{ZabbixAuthKind, ZabbixSettings, ZabbixSettingsInput, ZabbixStatus};
use wardflux_zabbix::source::ZabbixSource;

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
        .route("/settings/mode", post(set_mode))
        .route("/settings/zabbix", post(save_zabbix))
        .route("/settings/zabbix/test", post(test_zabbix))
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
    /// The monitoring mode (`standalone`, `zabbix`, `hybrid`).
    mode: &'static str,
    modes: [&'static str; 3],
    /// The Zabbix connection form (admins), filled from the stored connection or, after a
    /// test or a refused save, from what was posted (never a secret).
    zform: ZabbixForm,
    /// The outcome of "Test connection": ok, and its text.
    ztest: Option<(bool, String)>,
    /// A refused save of the Zabbix form: its message.
    zerror: Option<String>,
    zstatus: StatusView,
}

/// The Zabbix connection form's values.
#[derive(Default)]
struct ZabbixForm {
    url: String,
    /// `password` or `api_token`.
    auth: &'static str,
    username: String,
    has_password: bool,
    has_api_token: bool,
    sync_interval_s: String,
    timeout_s: String,
}

impl ZabbixForm {
    fn stored(s: Option<ZabbixSettings>) -> Self {
        match s {
            None => Self {
                auth: "password",
                sync_interval_s: wardflux_model::zabbix::DEFAULT_SYNC_INTERVAL_S.to_string(),
                timeout_s: wardflux_model::zabbix::DEFAULT_TIMEOUT_S.to_string(),
                ..Self::default()
            },
            Some(s) => Self {
                url: s.url,
                auth: match s.auth {
                    ZabbixAuthKind::Password => "password",
                    ZabbixAuthKind::ApiToken => "api_token",
                },
                username: s.username.unwrap_or_default(),
                has_password: s.has_password,
                has_api_token: s.has_api_token,
                sync_interval_s: s.sync_interval_s.to_string(),
                timeout_s: s.timeout_s.to_string(),
            },
        }
    }

    /// What was posted (secrets dropped), over what is stored.
    fn posted(f: &Fields, stored: Option<ZabbixSettings>) -> Self {
        Self {
            url: f.get("url").to_string(),
            auth: if f.get("auth") == "api_token" {
                "api_token"
            } else {
                "password"
            },
            username: f.get("username").to_string(),
            sync_interval_s: f.get("sync_interval_s").to_string(),
            timeout_s: f.get("timeout_s").to_string(),
            ..Self::stored(stored)
        }
    }
}

/// The Zabbix sync status as the page shows it.
#[derive(Default)]
struct StatusView {
    configured: bool,
    active: bool,
    version: String,
    /// ISO and short forms of the last success, or empty.
    last_success: (String, String),
    last_sync: (String, String),
    hosts: usize,
    problems: usize,
    api_calls: u64,
    duration: String,
    /// The stale warning with its age, when the data is stale.
    stale: Option<String>,
    error: String,
}

impl From<ZabbixStatus> for StatusView {
    fn from(s: ZabbixStatus) -> Self {
        let at = |t: Option<chrono::DateTime<chrono::Utc>>| {
            t.map_or((String::new(), String::new()), |t| {
                (view::iso(t), view::short(t))
            })
        };
        Self {
            stale: view::stale_note(&s),
            configured: s.configured,
            active: s.active,
            version: s.version.unwrap_or_default(),
            last_success: at(s.last_success_at),
            last_sync: at(s.last_sync_at),
            hosts: s.hosts,
            problems: s.problems,
            api_calls: s.api_calls,
            duration: s.duration_ms.map(|d| format!("{d} ms")).unwrap_or_default(),
            error: match (s.error_kind, s.error) {
                (Some(k), Some(e)) => format!("{k}: {e}"),
                (Some(k), None) => k,
                (None, Some(e)) => e,
                (None, None) => String::new(),
            },
        }
    }
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
    render(
        &st,
        &page,
        &headers,
        Extra {
            flash: f.done.filter(|m| !m.is_empty()),
            error: f.error,
            ..Extra::default()
        },
    )
    .await
}

/// What a page render shows beyond the stored state.
#[derive(Default)]
struct Extra {
    flash: Option<String>,
    error: Option<String>,
    zform: Option<ZabbixForm>,
    ztest: Option<(bool, String)>,
    zerror: Option<String>,
    status: Option<StatusCode>,
}

async fn render(st: &AppState, page: &Page, headers: &HeaderMap, x: Extra) -> Response {
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
    let mode = match st.store.monitoring_profile().await {
        Ok(p) => p.mode.as_str(),
        Err(e) => return store_error(e),
    };
    let zform = match x.zform {
        Some(f) => f,
        None if is_admin => match st.store.zabbix_settings().await {
            Ok(s) => ZabbixForm::stored(s),
            Err(e) => return store_error(e),
        },
        None => ZabbixForm::default(),
    };
    let zstatus = st
        .services
        .get::<ZabbixSource>()
        .map(|z| StatusView::from(z.status()))
        .unwrap_or_default();
    let html = Settings {
        chrome: Chrome::new(page, headers, "settings"),
        mode,
        modes: ["standalone", "zabbix", "hybrid"],
        zform,
        ztest: x.ztest,
        zerror: x.zerror,
        zstatus,
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
        flash: x.flash,
        error: x.error,
    };
    (x.status.unwrap_or(StatusCode::OK), html).into_response()
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

/// `POST /settings/mode` (admin): switches the monitoring mode at runtime (the API's
/// `set_mode`: Zabbix modes need a stored connection).
async fn set_mode(State(st): State<AppState>, page: Page, f: Fields) -> Result<Response, Response> {
    page.check_csrf(f.get("csrf"))?;
    page.require(Role::Admin)?;
    let r = async {
        let mode: MonitoringMode = f
            .get("mode")
            .parse()
            .map_err(|e: String| ApiError::bad_request(Some("mode"), format!("mode: {e}")))?;
        let p = api_settings::set_mode(&st, &page.user.actor(), mode).await?;
        Ok(format!("Monitoring mode: {}.", p.mode.as_str()))
    }
    .await;
    Ok(outcome("/settings", r))
}

/// The connection the Zabbix form describes: `auth` picks a password or an API token;
/// blank secrets stay unset (the stored one is kept where the input allows it).
fn zabbix_input(f: &Fields) -> Result<ZabbixSettingsInput, ApiError> {
    let seconds = |name: &str| -> Result<Option<u32>, ApiError> {
        let v = f.get(name);
        if v.is_empty() {
            return Ok(None);
        }
        v.parse()
            .map(Some)
            .map_err(|_| FieldError::new(name, "must be a whole number of seconds").into())
    };
    let token = f.get("auth") == "api_token";
    Ok(ZabbixSettingsInput {
        url: f.get("url").to_string(),
        username: if token { None } else { f.opt("username") },
        password: if token {
            None
        } else {
            f.opt("password").map(Secret::new)
        },
        api_token: if token {
            f.opt("api_token").map(Secret::new)
        } else {
            None
        },
        sync_interval_s: seconds("sync_interval_s")?,
        timeout_s: seconds("timeout_s")?,
    })
}

/// `POST /settings/zabbix` (admin): stores the connection (secrets encrypted; an empty
/// password keeps the stored one) and wakes the sync, as `PUT /api/v1/settings/zabbix` does.
/// A refused form is shown again with its message and values (never its secrets).
async fn save_zabbix(
    State(st): State<AppState>,
    page: Page,
    headers: HeaderMap,
    f: Fields,
) -> Result<Response, Response> {
    page.check_csrf(f.get("csrf"))?;
    page.require(Role::Admin)?;
    let saved = match zabbix_input(&f) {
        Ok(input) => st
            .store
            .set_zabbix_settings(&page.user.actor(), input)
            .await
            .map_err(ApiError::from),
        Err(e) => Err(e),
    };
    match saved {
        Ok(s) => {
            if let Ok(z) = st.services.get::<ZabbixSource>() {
                z.wake();
            }
            // `#top`: the form's `#h-zconn` would otherwise carry over the redirect, and the
            // message is at the top.
            Ok(outcome(
                "/settings#top",
                Ok(format!("Zabbix connection to {} saved.", s.url)),
            ))
        }
        Err(e) if e.status().is_server_error() => Err(super::api_error(e)),
        Err(e) => {
            let stored = st.store.zabbix_settings().await.map_err(store_error)?;
            Ok(render(
                &st,
                &page,
                &headers,
                Extra {
                    zform: Some(ZabbixForm::posted(&f, stored)),
                    zerror: Some(e.to_string()),
                    status: Some(e.status()),
                    ..Extra::default()
                },
            )
            .await)
        }
    }
}

/// `POST /settings/zabbix/test` (admin): tries the form's connection without saving it
/// (the API's `unsaved_connection`: a blank password is the stored one) and shows Zabbix'
/// version or the error's kind and message, the form kept as it was.
async fn test_zabbix(
    State(st): State<AppState>,
    page: Page,
    headers: HeaderMap,
    f: Fields,
) -> Result<Response, Response> {
    page.check_csrf(f.get("csrf"))?;
    page.require(Role::Admin)?;
    let stored = st.store.zabbix_connection().await.map_err(store_error)?;
    let shown = stored.as_ref().map(|c| c.settings.clone());
    let conn = zabbix_input(&f).and_then(|i| api_settings::unsaved_connection(i, stored));
    let (ztest, zerror, status) = match conn {
        Err(e) if e.status().is_server_error() => return Err(super::api_error(e)),
        Err(e) => (None, Some(e.to_string()), Some(e.status())),
        Ok(conn) => (
            Some(match ZabbixSource::test(&conn).await {
                Ok(v) => (true, format!("Connected: Zabbix {v}")),
                Err(e) => (false, format!("{}: {e}", e.kind())),
            }),
            None,
            None,
        ),
    };
    Ok(render(
        &st,
        &page,
        &headers,
        Extra {
            zform: Some(ZabbixForm::posted(&f, shown)),
            ztest,
            zerror,
            status,
            ..Extra::default()
        },
    )
    .await)
}
