//! Who is looking at a page: the session cookie's user (the API's own sessions), the CSRF
//! token of that session, role checks, and the security headers of every UI response.

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use wardflux_api::AppState;
use wardflux_api::auth::{CurrentUser, SESSION_COOKIE, cookie_value};
use wardflux_model::inventory::Role;
use wardflux_zabbix::source::ZabbixSource;

use crate::csrf;
use crate::pages::error_page;

/// A logged-in user viewing a page (any role). Without a valid session the request is sent
/// to `/login` (htmx requests get `HX-Redirect`, so a fragment never renders the login page
/// inside itself).
#[derive(Clone)]
pub struct Page {
    pub user: CurrentUser,
    /// The session's CSRF token, for the forms of the page.
    pub csrf: String,
    /// What the page chrome says while the Zabbix data shown is stale (see
    /// [`crate::view::stale_note`]); `None` when it is fresh or the mode reads no Zabbix.
    pub stale: Option<String>,
}

impl Page {
    pub fn can(&self, role: Role) -> bool {
        self.user.user.role.allows(role)
    }

    pub fn username(&self) -> &str {
        &self.user.user.username
    }

    /// 403 with an error page unless the user's role allows `role`.
    pub fn require(&self, role: Role) -> Result<(), Response> {
        if self.can(role) {
            Ok(())
        } else {
            Err(error_page(
                StatusCode::FORBIDDEN,
                &format!("This action needs the {} role.", role.as_str()),
            ))
        }
    }

    /// 403 unless `given` is this session's CSRF token.
    pub fn check_csrf(&self, given: &str) -> Result<(), Response> {
        if csrf::matches(&self.csrf, given) {
            Ok(())
        } else {
            Err(error_page(
                StatusCode::FORBIDDEN,
                "The form's security token is missing or stale. Reload the page and try again.",
            ))
        }
    }
}

impl FromRequestParts<AppState> for Page {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Response> {
        let Some(token) = cookie_value(parts, SESSION_COOKIE).map(str::to_string) else {
            return Err(to_login(parts));
        };
        // Pages authenticate by the cookie only (an Authorization header is the API's).
        parts.headers.remove(header::AUTHORIZATION);
        match CurrentUser::from_request_parts(parts, st).await {
            Ok(user) => Ok(Page {
                user,
                csrf: csrf::for_session(&token),
                stale: st
                    .services
                    .get::<ZabbixSource>()
                    .ok()
                    .and_then(|z| crate::view::stale_note(&z.status())),
            }),
            Err(_) => Err(to_login(parts)),
        }
    }
}

fn to_login(parts: &Parts) -> Response {
    if parts.headers.contains_key("hx-request") {
        return (
            StatusCode::OK,
            [("hx-redirect", HeaderValue::from_static("/login"))],
        )
            .into_response();
    }
    let here = parts
        .uri
        .path_and_query()
        .map_or("/", axum::http::uri::PathAndQuery::as_str);
    if here == "/" {
        return Redirect::to("/login").into_response();
    }
    let next: String = form_encode(here);
    Redirect::to(&format!("/login?next={next}")).into_response()
}

/// Percent-encodes a path for a query value.
fn form_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Where to go after login: a local path only (`/x`, never `//host` or a URL).
pub fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n,
        _ => "/",
    }
}

/// Security headers of every UI response: only this origin may supply scripts, styles,
/// images and connections; no framing; no MIME sniffing.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; \
             form-action 'self'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_a_local_path_only() {
        assert_eq!(safe_next(Some("/devices?x=1")), "/devices?x=1");
        assert_eq!(safe_next(Some("//evil.example/")), "/");
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(safe_next(Some("/\\evil")), "/");
        assert_eq!(safe_next(None), "/");
        assert_eq!(form_encode("/devices?q=a b"), "/devices%3Fq%3Da%20b");
    }
}
