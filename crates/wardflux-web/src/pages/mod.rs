//! The pages, one module per area; this module holds what every page shares: the
//! surrounding chrome (navigation, user, CSRF token), error pages, login and logout.

mod admin;
mod alerts;
mod devices;
mod discovery;
mod monitor;
mod rules;
mod snmp;
mod templates;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use wardflux_api::AppState;
use wardflux_api::auth::{CLEAR_SESSION_COOKIE, cookie_value, open_session};
use wardflux_api::error::ApiError;
use wardflux_model::inventory::Secret;

use crate::csrf;
use crate::session::{Page, safe_next};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .merge(monitor::router())
        .merge(devices::router())
        .merge(alerts::router())
        .merge(admin::router())
        .merge(rules::router())
        .merge(templates::router())
        .merge(snmp::router())
        .merge(discovery::router())
}

/// What the layout (`base.html`) shows around every page.
pub struct Chrome {
    pub username: String,
    pub role: &'static str,
    pub csrf: String,
    /// The navigation entry to mark as current.
    pub active: &'static str,
    /// Large type (wall screens), remembered in a cookie by app.js.
    pub large: bool,
    /// `dark`, `light`, or empty (follow the system), remembered in a cookie by app.js.
    pub theme: &'static str,
    /// The stale-Zabbix-data warning, when there is one.
    pub stale: Option<String>,
}

impl Chrome {
    pub fn new(page: &Page, headers: &HeaderMap, active: &'static str) -> Self {
        let cookies: Vec<&str> = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|c| c.split(';'))
            .map(str::trim)
            .collect();
        let large = cookies.contains(&"wardflux_large=1");
        let theme = if cookies.contains(&"wardflux_theme=dark") {
            "dark"
        } else if cookies.contains(&"wardflux_theme=light") {
            "light"
        } else {
            ""
        };
        Self {
            username: page.username().to_string(),
            role: page.user.user.role.as_str(),
            csrf: page.csrf.clone(),
            active,
            large,
            theme,
            stale: page.stale.clone(),
        }
    }

    pub fn asset(&self, name: &str) -> &'static str {
        crate::assets::url(name)
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    message: &'a str,
    css: &'static str,
}

/// A full error page with `status`.
pub fn error_page(status: StatusCode, message: &str) -> Response {
    let page = ErrorPage {
        status: status.as_u16(),
        message,
        css: crate::assets::url("app.css"),
    };
    (status, page).into_response()
}

/// Maps an API/store error to an error page (validation errors carry their message; anything
/// unexpected is logged and shown without details).
pub fn api_error(e: ApiError) -> Response {
    let status = e.status();
    if status.is_server_error() {
        tracing::error!(error = %e, "UI request failed");
        return error_page(
            status,
            "Something went wrong on the server; it has been logged.",
        );
    }
    error_page(status, &e.to_string())
}

/// What every action (a form post) checks before it touches anything: the session's CSRF
/// token, the role, and the id in the path (a 404 page unless it is a UUID).
pub fn action(
    page: &Page,
    csrf: &str,
    role: wardflux_model::inventory::Role,
    id: &str,
    what: &str,
) -> Result<uuid::Uuid, Response> {
    page.check_csrf(csrf)?;
    page.require(role)?;
    id.parse()
        .map_err(|_| error_page(StatusCode::NOT_FOUND, &format!("No such {what}.")))
}

/// Where a form post goes next: back to `path` (an optional `#fragment` after the query)
/// with `?done=` the message, or `?error=` a validation error's text; anything unexpected is
/// an error page instead (logged, no details).
pub fn outcome(path: &str, r: Result<String, ApiError>) -> Response {
    let (path, fragment) = path
        .split_once('#')
        .map_or((path, String::new()), |(p, f)| (p, format!("#{f}")));
    let query = match r {
        Ok(done) => format!("done={}", crate::view::query_escape(&done)),
        Err(e) if e.status().is_server_error() => return api_error(e),
        Err(e) => format!("error={}", crate::view::query_escape(&e.to_string())),
    };
    Redirect::to(&format!("{path}?{query}{fragment}")).into_response()
}

/// Converts anything the store returns into an error page.
pub fn store_error(e: wardflux_store::StoreError) -> Response {
    api_error(ApiError::from(e))
}

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
struct LoginPage {
    csrf: String,
    next: String,
    username: String,
    error: Option<String>,
    css: &'static str,
    favicon: &'static str,
}

#[derive(Deserialize)]
struct NextParam {
    next: Option<String>,
}

fn login_page(status: StatusCode, next: &str, username: &str, error: Option<String>) -> Response {
    let token = csrf::random();
    let cookie = format!(
        "{}={token}; Path=/login; HttpOnly; SameSite=Strict; Max-Age=3600",
        csrf::LOGIN_COOKIE
    );
    let page = LoginPage {
        csrf: token,
        next: next.to_string(),
        username: username.to_string(),
        error,
        css: crate::assets::url("app.css"),
        favicon: crate::assets::url("favicon.svg"),
    };
    (status, [(header::SET_COOKIE, cookie)], page).into_response()
}

/// `GET /login`: the form (already logged in: straight to where it was going).
async fn login_form(
    State(st): State<AppState>,
    Query(p): Query<NextParam>,
    req: axum::extract::Request,
) -> Response {
    let next = safe_next(p.next.as_deref()).to_string();
    let (mut parts, _) = req.into_parts();
    if Page::from_request_parts(&mut parts, &st).await.is_ok() {
        return Redirect::to(&next).into_response();
    }
    login_page(StatusCode::OK, &next, "", None)
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

/// `POST /login`: checks the form's double-submit token, then the password (throttled like
/// the API's login); success sets the session cookie and goes to `next`.
async fn login(
    State(st): State<AppState>,
    ConnectInfo(addr): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    axum::Form(f): axum::Form<LoginForm>,
) -> Response {
    let next = safe_next(f.next.as_deref()).to_string();
    let mut parts = axum::http::Request::new(()).into_parts().0;
    parts.headers = headers;
    let expected = cookie_value(&parts, csrf::LOGIN_COOKIE).unwrap_or("");
    if !csrf::matches(expected, &f.csrf) {
        return error_page(
            StatusCode::FORBIDDEN,
            "The login form's security token is missing or stale. Open the login page again.",
        );
    }
    match open_session(&st, &f.username, &Secret::new(f.password), addr.ip()).await {
        Ok(session) => {
            ([(header::SET_COOKIE, session.cookie)], Redirect::to(&next)).into_response()
        }
        Err(e) => {
            let status = e.status();
            let msg = match status {
                StatusCode::UNAUTHORIZED | StatusCode::BAD_REQUEST => {
                    "Wrong username or password.".to_string()
                }
                StatusCode::TOO_MANY_REQUESTS => {
                    "Too many failed attempts; wait a moment and try again.".to_string()
                }
                _ => return api_error(e),
            };
            login_page(status, &next, &f.username, Some(msg))
        }
    }
}

#[derive(Deserialize)]
struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// `POST /logout`: ends the session (the token is revoked in the store).
async fn logout(
    State(st): State<AppState>,
    page: Page,
    axum::Form(f): axum::Form<CsrfOnly>,
) -> Response {
    if let Err(r) = page.check_csrf(&f.csrf) {
        return r;
    }
    if let Some(id) = page.user.token_id {
        if let Err(e) = st.store.delete_token(&page.user.actor(), id).await {
            return store_error(e);
        }
        // Verified tokens are cached: the revoked one must stop working now.
        st.credentials_changed();
    }
    (
        [(header::SET_COOKIE, CLEAR_SESSION_COOKIE)],
        Redirect::to("/login"),
    )
        .into_response()
}
