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
use wardflux_model::alerts::{Alert, AlertOrigin};
use wardflux_model::inventory::Role;
use wardflux_store::alerts::{AlertQuery, HistoryQuery};
use wardflux_zabbix::source::ZabbixSource;

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
    /// A Zabbix problem (`origin: zabbix`), as of the last sync.
    pub zabbix: bool,
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
            zabbix: a.origin == AlertOrigin::Zabbix,
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "alerts.html")]
struct Alerts {
    chrome: Chrome,
    severity: String,
    range: String,
    rule: String,
    rules: Vec<(Uuid, String)>,
    /// Link to the next (older) page of the history, when there is one.
    older: Option<String>,
    alerts: Vec<AlertRow>,
    history: Vec<AlertRow>,
    can_operate: bool,
    flash: Option<String>,
}

#[derive(Deserialize)]
struct AlertParams {
    #[serde(default)]
    severity: String,
    /// History range: `24h`, `7d`, `30d`, or empty for all.
    #[serde(default)]
    range: String,
    /// History of one rule (its id).
    #[serde(default)]
    rule: String,
    #[serde(default)]
    offset: u64,
    done: Option<String>,
}

/// Rows per page of the history.
const HISTORY_PAGE: u64 = 100;

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
    let mut active = match st
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
    // Zabbix' open problems (mode zabbix or hybrid), as the API's active list has them.
    if let Ok(z) = st.services.get::<ZabbixSource>() {
        active.extend(
            z.alerts()
                .into_iter()
                .filter(|a| severity.is_none_or(|s| a.severity == s)),
        );
    }
    let from = match p.range.as_str() {
        "" => None,
        "24h" => Some(chrono::Duration::hours(24)),
        "7d" => Some(chrono::Duration::days(7)),
        "30d" => Some(chrono::Duration::days(30)),
        _ => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "Unknown range: use 24h, 7d or 30d.",
            );
        }
    }
    .map(|d| chrono::Utc::now() - d);
    let rule_id = if p.rule.is_empty() {
        None
    } else {
        match p.rule.parse::<Uuid>() {
            Ok(id) => Some(id),
            Err(_) => return error_page(StatusCode::BAD_REQUEST, "Unknown rule."),
        }
    };
    let history = match st
        .store
        .alert_history(&HistoryQuery {
            from,
            rule_id,
            limit: Some(HISTORY_PAGE),
            offset: Some(p.offset),
            ..HistoryQuery::default()
        })
        .await
    {
        Ok(h) => h,
        Err(e) => return store_error(e),
    };
    let older = (p.offset + HISTORY_PAGE < history.total).then(|| {
        format!(
            "/alerts?severity={}&range={}&rule={}&offset={}",
            view::query_escape(&p.severity),
            view::query_escape(&p.range),
            view::query_escape(&p.rule),
            p.offset + HISTORY_PAGE
        )
    });
    let history = history.items;
    let rules = match st.store.list_alert_rules(&Default::default()).await {
        Ok(r) => r.into_iter().map(|r| (r.id, r.name)).collect(),
        Err(e) => return store_error(e),
    };
    Alerts {
        chrome: Chrome::new(&page, &headers, "alerts"),
        severity: p.severity,
        range: p.range,
        rule: p.rule,
        rules,
        older,
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
    wardflux_api::routes::alerts::acknowledge_alert(&st, &page.user, id, comment)
        .await
        .map_err(super::api_error)?;
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
