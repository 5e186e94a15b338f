//! `/alerts`: active alerts (acknowledge with a comment, resolve) and the history.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use uuid::Uuid;
use wardflux_api::AppState;
use wardflux_model::alerts::Alert;
use wardflux_model::inventory::Role;
use wardflux_store::alerts::{AlertQuery, HistoryQuery};

use super::{Chrome, action, error_page, store_error};
use crate::session::Page;
use crate::view;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/alerts", get(alerts))
        .route("/alerts/{id}/ack", post(acknowledge))
        .route("/alerts/{id}/resolve", post(resolve))
}

/// An alert as the tables show it.
pub struct AlertRow {
    pub id: Uuid,
    pub severity: String,
    pub rule: String,
    pub message: String,
    pub device_id: Option<Uuid>,
    pub device: String,
    pub state: String,
    pub suppressed_by: String,
    pub since: (String, String),
    pub resolved: String,
    pub acknowledged: bool,
    pub ack_by: String,
    pub comment: String,
}

impl From<Alert> for AlertRow {
    fn from(a: Alert) -> Self {
        Self {
            id: a.id,
            severity: a.severity.to_string(),
            rule: a.rule,
            message: a.message,
            device_id: a.device_id,
            device: a.device.unwrap_or_default(),
            state: a.state.to_string(),
            suppressed_by: a.suppressed_by.unwrap_or_default(),
            since: (view::iso(a.started_at), view::short(a.started_at)),
            resolved: a.resolved_at.map_or("not yet".into(), view::short),
            acknowledged: a.acknowledged,
            ack_by: a.acknowledged_by.unwrap_or_default(),
            comment: a.comment.unwrap_or_default(),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "alerts.html")]
struct Alerts {
    chrome: Chrome,
    severity: String,
    alerts: Vec<AlertRow>,
    history: Vec<AlertRow>,
    can_operate: bool,
    flash: Option<String>,
}

#[derive(Deserialize)]
struct AlertParams {
    #[serde(default)]
    severity: String,
    done: Option<String>,
}

async fn alerts(
    State(st): State<AppState>,
    page: Page,
    headers: HeaderMap,
    Query(p): Query<AlertParams>,
) -> Response {
    let severity = if p.severity.is_empty() {
        None
    } else {
        match p.severity.parse() {
            Ok(s) => Some(s),
            Err(_) => return error_page(StatusCode::BAD_REQUEST, "Unknown severity."),
        }
    };
    let active = match st
        .store
        .list_active_alerts(&AlertQuery {
            severity,
            ..AlertQuery::default()
        })
        .await
    {
        Ok(a) => a,
        Err(e) => return store_error(e),
    };
    let history = match st
        .store
        .alert_history(&HistoryQuery {
            limit: Some(100),
            ..HistoryQuery::default()
        })
        .await
    {
        Ok(h) => h.items,
        Err(e) => return store_error(e),
    };
    Alerts {
        chrome: Chrome::new(&page, &headers, "alerts"),
        severity: p.severity,
        alerts: active.into_iter().map(AlertRow::from).collect(),
        history: history
            .into_iter()
            .filter(|a| severity.is_none_or(|s| a.severity == s))
            .map(AlertRow::from)
            .collect(),
        can_operate: page.can(Role::Operator),
        flash: p.done,
    }
    .into_response()
}

#[derive(Deserialize)]
struct AckForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    comment: String,
}

/// `POST /alerts/{id}/ack` (operator), with an optional comment.
async fn acknowledge(
    State(st): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    axum::Form(f): axum::Form<AckForm>,
) -> Result<Response, Response> {
    let id = action(&page, &f.csrf, Role::Operator, &id, "alert")?;
    let comment =
        Some(f.comment.trim().chars().take(1000).collect::<String>()).filter(|c| !c.is_empty());
    st.store
        .set_alert_acknowledged(&page.user.actor(), id, true, comment)
        .await
        .map_err(store_error)?;
    Ok(Redirect::to("/alerts?done=Acknowledged.").into_response())
}

/// `POST /alerts/{id}/resolve` (operator): resolved by hand, its channels told.
async fn resolve(
    State(st): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    axum::Form(f): axum::Form<AckForm>,
) -> Result<Response, Response> {
    let id = action(&page, &f.csrf, Role::Operator, &id, "alert")?;
    wardflux_api::routes::alerts::resolve_alert(&st, &page.user.actor(), id)
        .await
        .map_err(super::api_error)?;
    Ok(Redirect::to("/alerts?done=Resolved.").into_response())
}
