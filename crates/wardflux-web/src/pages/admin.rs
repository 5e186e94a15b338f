//! `/templates` (the template library) and `/settings` (users and roles; the audit log for
//! admins).

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use wardflux_api::AppState;
use wardflux_model::inventory::Role;

use super::{Chrome, store_error};
use crate::session::Page;
use crate::view;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/templates", get(templates))
        .route("/settings", get(settings))
}

struct TemplateRow {
    name: String,
    description: String,
    types: String,
    items: usize,
    discovery: usize,
    triggers: usize,
    devices: usize,
}

#[derive(Template, WebTemplate)]
#[template(path = "templates.html")]
struct Templates {
    chrome: Chrome,
    templates: Vec<TemplateRow>,
}

async fn templates(State(st): State<AppState>, page: Page, headers: HeaderMap) -> Response {
    match st.store.list_templates().await {
        Ok(ts) => Templates {
            chrome: Chrome::new(&page, &headers, "templates"),
            templates: ts
                .into_iter()
                .map(|t| TemplateRow {
                    name: t.name,
                    description: t.template.description.unwrap_or_default(),
                    types: t.template.device_types.join(", "),
                    items: t.template.items.len(),
                    discovery: t.template.discovery.len(),
                    triggers: t.template.triggers.len(),
                    devices: t.devices.len(),
                })
                .collect(),
        }
        .into_response(),
        Err(e) => store_error(e),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "settings.html")]
struct Settings {
    chrome: Chrome,
    users: Vec<(String, &'static str, bool)>,
    is_admin: bool,
    audit: Vec<(String, String, String, String, String)>,
}

async fn settings(State(st): State<AppState>, page: Page, headers: HeaderMap) -> Response {
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
    Settings {
        chrome: Chrome::new(&page, &headers, "settings"),
        users: users
            .into_iter()
            .map(|u| (u.username, u.role.as_str(), !u.disabled))
            .collect(),
        is_admin,
        audit,
    }
    .into_response()
}
