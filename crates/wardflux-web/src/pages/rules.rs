//! `/alerts/rules`: alert rules (list, editor with validation as you type and a preview of
//! the series that would fire), notification channels ("send test") and maintenance
//! windows. Every check is the API's own (`wardflux_api::routes::alerts`), so the page and
//! the REST API accept and refuse the same rules.

use std::str::FromStr;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{NaiveDateTime, TimeZone, Utc};
use serde::Deserialize;
use uuid::Uuid;
use wardflux_api::AppState;
use wardflux_api::routes::alerts::{self as api, AlertsError};
use wardflux_model::alerts::{AlertRule, AlertRuleInput, MaintenanceInput, Severity};
use wardflux_model::inventory::Role;

use super::{Chrome, action, api_error, error_page, store_error};
use crate::form::Fields;
use crate::session::Page;
use crate::view;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/alerts/rules", get(list))
        .route("/alerts/rules/new", get(new_rule))
        .route("/alerts/rules/save", post(save))
        .route("/alerts/rules/{id}", get(edit_rule))
        .route("/alerts/rules/{id}/delete", post(delete))
        .route("/ui/rules/check", get(check))
        .route("/alerts/channels", post(add_channel))
        .route("/alerts/channels/{id}/test", post(test_channel))
        .route("/alerts/channels/{id}/delete", post(delete_channel))
        .route("/alerts/maintenance", post(add_window))
        .route("/alerts/maintenance/{id}/delete", post(delete_window))
}

struct RuleRow {
    id: Uuid,
    name: String,
    expression: String,
    severity: String,
    channels: String,
    enabled: bool,
    builtin: bool,
    scope: String,
}

struct ChannelRow {
    id: Uuid,
    name: String,
    kind: String,
    enabled: bool,
}

struct WindowRow {
    id: Uuid,
    name: String,
    when: String,
    scope: String,
    active: bool,
    comment: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "rules.html")]
struct Rules {
    chrome: Chrome,
    rules: Vec<RuleRow>,
    channels: Vec<ChannelRow>,
    windows: Vec<WindowRow>,
    groups: Vec<(Uuid, String)>,
    kinds: Vec<&'static str>,
    is_admin: bool,
    can_operate: bool,
    flash: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct Flash {
    done: Option<String>,
    error: Option<String>,
}

async fn list(
    State(st): State<AppState>,
    page: Page,
    headers: HeaderMap,
    Query(f): Query<Flash>,
) -> Response {
    let all = Default::default();
    let (rules, channels, windows, groups) = match tokio::try_join!(
        st.store.list_alert_rules(&all),
        st.store.list_channels(),
        st.store.list_maintenance(),
        st.store.list_groups(),
    ) {
        Ok(x) => x,
        Err(e) => return store_error(e),
    };
    let now = Utc::now();
    let group_name = |id: &Uuid| {
        groups
            .iter()
            .find(|g| g.id == *id)
            .map_or_else(|| id.to_string(), |g| g.name.clone())
    };
    Rules {
        chrome: Chrome::new(&page, &headers, "rules"),
        rules: rules
            .into_iter()
            .map(|r| RuleRow {
                id: r.id,
                name: r.name,
                expression: r.expression,
                severity: r.severity.to_string(),
                channels: r.notifications.join(", "),
                enabled: r.enabled,
                builtin: r.builtin.is_some(),
                scope: r
                    .device_ids
                    .map_or("all devices".into(), |d| format!("{} devices", d.len())),
            })
            .collect(),
        channels: channels
            .into_iter()
            .map(|c| ChannelRow {
                id: c.id,
                name: c.name,
                kind: c.kind.to_string(),
                enabled: c.enabled,
            })
            .collect(),
        windows: windows
            .into_iter()
            .map(|w| WindowRow {
                id: w.id,
                active: wardflux_alert::suppress::window_active(&w, now),
                when: match (&w.cron, w.starts_at, w.ends_at) {
                    (Some(c), _, _) => format!(
                        "{c} ({}), for {} min",
                        w.timezone,
                        w.duration_minutes.unwrap_or(60)
                    ),
                    (None, Some(s), Some(e)) => format!("{} to {}", view::short(s), view::short(e)),
                    _ => "not scheduled".into(),
                },
                scope: {
                    let mut s: Vec<String> = w.group_ids.iter().map(group_name).collect();
                    if !w.device_ids.is_empty() {
                        s.push(format!("{} devices", w.device_ids.len()));
                    }
                    if s.is_empty() {
                        "nothing".into()
                    } else {
                        s.join(", ")
                    }
                },
                name: w.name,
                comment: w.comment.unwrap_or_default(),
            })
            .collect(),
        groups: groups.into_iter().map(|g| (g.id, g.name)).collect(),
        kinds: wardflux_model::alerts::ChannelKind::ALL
            .iter()
            .map(|k| k.as_str())
            .collect(),
        is_admin: page.can(Role::Admin),
        can_operate: page.can(Role::Operator),
        flash: f.done,
        error: f.error,
    }
    .into_response()
}

/// The editor's fields (a new rule, a stored one, or what was just posted).
struct RuleForm {
    id: Option<Uuid>,
    name: String,
    expression: String,
    severity: String,
    notifications: Vec<String>,
    enabled: bool,
    description: String,
    message: String,
    builtin: bool,
}

impl From<AlertRule> for RuleForm {
    fn from(r: AlertRule) -> Self {
        Self {
            id: Some(r.id),
            name: r.name,
            expression: r.expression,
            severity: r.severity.to_string(),
            notifications: r.notifications,
            enabled: r.enabled,
            description: r.description.unwrap_or_default(),
            message: r.message.unwrap_or_default(),
            builtin: r.builtin.is_some(),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "rule_edit.html")]
struct RuleEdit {
    chrome: Chrome,
    rule: RuleForm,
    channels: Vec<String>,
    severities: [&'static str; 5],
    error: Option<String>,
}

const SEVERITIES: [&str; 5] = ["critical", "high", "medium", "low", "info"];

async fn editor(
    st: &AppState,
    page: &Page,
    headers: &HeaderMap,
    status: StatusCode,
    rule: RuleForm,
    error: Option<String>,
) -> Response {
    let channels = match st.store.list_channels().await {
        Ok(c) => c.into_iter().map(|c| c.name).collect(),
        Err(e) => return store_error(e),
    };
    let page = RuleEdit {
        chrome: Chrome::new(page, headers, "rules"),
        rule,
        channels,
        severities: SEVERITIES,
        error,
    };
    (status, page).into_response()
}

/// `GET /alerts/rules/new` (admin).
async fn new_rule(State(st): State<AppState>, page: Page, headers: HeaderMap) -> Response {
    if let Err(r) = page.require(Role::Admin) {
        return r;
    }
    let rule = RuleForm {
        id: None,
        name: String::new(),
        expression: String::new(),
        severity: "high".into(),
        notifications: Vec::new(),
        enabled: true,
        description: String::new(),
        message: String::new(),
        builtin: false,
    };
    editor(&st, &page, &headers, StatusCode::OK, rule, None).await
}

/// `GET /alerts/rules/{id}`: the editor (admins) or the rule read-only (everyone else).
async fn edit_rule(
    State(st): State<AppState>,
    page: Page,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = id.parse::<Uuid>() else {
        return error_page(StatusCode::NOT_FOUND, "No such rule.");
    };
    match st.store.get_alert_rule(id).await {
        Ok(r) => editor(&st, &page, &headers, StatusCode::OK, r.into(), None).await,
        Err(e) => store_error(e),
    }
}

fn alerts_error(e: AlertsError) -> (StatusCode, String) {
    match e {
        AlertsError::Api(e) => (e.status(), e.to_string()),
        AlertsError::Expression(e) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("Expression, column {}: {}", e.column, e.message),
        ),
    }
}

/// `POST /alerts/rules/save` (admin): creates or replaces; a refused rule comes back in the
/// editor with the reason and everything typed kept.
async fn save(
    State(st): State<AppState>,
    page: Page,
    headers: HeaderMap,
    f: Fields,
) -> Result<Response, Response> {
    page.check_csrf(f.get("csrf"))?;
    page.require(Role::Admin)?;
    let id = match f.opt("id") {
        None => None,
        Some(s) => Some(
            s.parse::<Uuid>()
                .map_err(|_| error_page(StatusCode::NOT_FOUND, "No such rule."))?,
        ),
    };
    let form = RuleForm {
        id,
        name: f.get("name").to_string(),
        expression: f.get("expression").to_string(),
        severity: f.get("severity").to_string(),
        notifications: f.all("channel"),
        enabled: f.checked("enabled"),
        description: f.get("description").to_string(),
        message: f.get("message").to_string(),
        builtin: false,
    };
    let Ok(severity) = Severity::from_str(&form.severity) else {
        let msg = format!("Severity: choose one of {}.", SEVERITIES.join(", "));
        return Ok(editor(
            &st,
            &page,
            &headers,
            StatusCode::UNPROCESSABLE_ENTITY,
            form,
            Some(msg),
        )
        .await);
    };
    let mut input = AlertRuleInput::new(&form.name, &form.expression, severity);
    input.notifications = form.notifications.clone();
    input.enabled = Some(form.enabled);
    input.description = Some(form.description.clone()).filter(|s| !s.is_empty());
    input.message = Some(form.message.clone()).filter(|s| !s.is_empty());
    if let Some(id) = id {
        // Fields the editor does not show are kept as stored.
        let old = st.store.get_alert_rule(id).await.map_err(store_error)?;
        input.labels = old.labels;
        input.escalation = old.escalation;
        input.device_ids = old.device_ids;
    }
    match api::save_rule(&st, &page.user.actor(), id, input).await {
        Ok(saved) => {
            let mut msg = format!("Rule {} saved.", saved.rule.name);
            for w in saved.warnings {
                msg.push_str(&format!(" Note: {w}."));
            }
            Ok(
                Redirect::to(&format!("/alerts/rules?done={}", view::query_escape(&msg)))
                    .into_response(),
            )
        }
        Err(AlertsError::Api(e)) if e.status().is_server_error() => Err(api_error(e)),
        Err(e) => {
            let (status, msg) = alerts_error(e);
            Ok(editor(&st, &page, &headers, status, form, Some(msg)).await)
        }
    }
}

/// `POST /alerts/rules/{id}/delete` (admin; built-in rules are refused by the store).
async fn delete(
    State(st): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    f: Fields,
) -> Result<Response, Response> {
    let id = action(&page, f.get("csrf"), Role::Admin, &id, "rule")?;
    api::delete_rule_by_id(&st, &page.user.actor(), id)
        .await
        .map_err(api_error)?;
    Ok(Redirect::to("/alerts/rules?done=Rule%20deleted.").into_response())
}

#[derive(Deserialize)]
struct CheckParams {
    #[serde(default)]
    expression: String,
}

struct PreviewRow {
    labels: String,
    value: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "rule_check.html")]
struct Check {
    empty: bool,
    error: Option<String>,
    /// The expression with a caret under the error's column.
    caret: Option<(String, String)>,
    query: String,
    for_seconds: u64,
    warnings: Vec<String>,
    preview: Option<Vec<PreviewRow>>,
    preview_error: Option<String>,
    more: usize,
}

/// How many matching series the preview lists.
const PREVIEW_ROWS: usize = 20;

/// `GET /ui/rules/check?expression=...`: the editor's live check (any role: it changes
/// nothing). Parses the expression, then evaluates it now to show which series would fire.
async fn check(State(st): State<AppState>, _page: Page, Query(p): Query<CheckParams>) -> Response {
    let expr = p.expression.trim();
    let mut out = Check {
        empty: expr.is_empty(),
        error: None,
        caret: None,
        query: String::new(),
        for_seconds: 0,
        warnings: Vec::new(),
        preview: None,
        preview_error: None,
        more: 0,
    };
    if out.empty {
        return out.into_response();
    }
    match api::validate_expression(&st, expr).await {
        Err(AlertsError::Expression(e)) => {
            out.caret = Some((
                expr.to_string(),
                format!("{}^", " ".repeat(e.column.saturating_sub(1))),
            ));
            out.error = Some(format!("Column {}: {}", e.column, e.message));
        }
        Err(e) => out.error = Some(alerts_error(e).1),
        Ok(v) => {
            out.query = v.query;
            out.for_seconds = v.for_seconds;
            out.warnings = v.warnings;
            match api::preview_expression(&st, expr).await {
                Ok(series) => {
                    out.more = series.len().saturating_sub(PREVIEW_ROWS);
                    out.preview = Some(
                        series
                            .into_iter()
                            .take(PREVIEW_ROWS)
                            .map(|s| PreviewRow {
                                labels: s
                                    .labels
                                    .iter()
                                    .map(|(k, v)| format!("{k}=\"{v}\""))
                                    .collect::<Vec<_>>()
                                    .join(", "),
                                value: view::number(s.value),
                            })
                            .collect(),
                    );
                }
                Err(e) => out.preview_error = Some(alerts_error(e).1),
            }
        }
    }
    out.into_response()
}

/// `POST /alerts/channels/{id}/test` (admin): sends a test notification now.
async fn test_channel(
    State(st): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    f: Fields,
) -> Result<Response, Response> {
    let id = action(&page, f.get("csrf"), Role::Admin, &id, "channel")?;
    let r = api::send_test(&st, id).await.map_err(api_error)?;
    let to = if r.delivered {
        "done=Test%20notification%20delivered.".to_string()
    } else {
        format!(
            "error={}",
            view::query_escape(&format!(
                "Test notification not delivered: {}",
                r.error.unwrap_or_default()
            ))
        )
    };
    Ok(Redirect::to(&format!("/alerts/rules?{to}")).into_response())
}

/// Parses a `datetime-local` value (`2026-11-30T14:05`) in IANA zone `tz`.
fn local_time(
    v: &str,
    tz: chrono_tz::Tz,
    field: &str,
) -> Result<Option<chrono::DateTime<Utc>>, String> {
    if v.is_empty() {
        return Ok(None);
    }
    let naive = NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S"))
        .map_err(|_| format!("{field}: expected a date and time like 2026-12-01T22:00"))?;
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|t| Some(t.with_timezone(&Utc)))
        .ok_or_else(|| format!("{field}: that local time does not exist in {tz}"))
}

/// The maintenance form's fields as the API's input, or the first field error.
fn window_input(f: &Fields) -> Result<MaintenanceInput, String> {
    let tz_name = f.opt("timezone").unwrap_or_else(|| "UTC".into());
    let tz = chrono_tz::Tz::from_str(&tz_name)
        .map_err(|_| format!("Time zone: unknown zone {tz_name:?} (e.g. Europe/Berlin, UTC)"))?;
    let starts_at = local_time(f.get("starts_at"), tz, "Start")?;
    let ends_at = local_time(f.get("ends_at"), tz, "End")?;
    let cron = f.opt("cron");
    let duration_minutes = match f.opt("duration_minutes") {
        None => None,
        Some(d) => Some(
            d.parse::<u32>()
                .ok()
                .filter(|d| (1..=10_080).contains(d))
                .ok_or("Duration: whole minutes from 1 to 10080")?,
        ),
    };
    if cron.is_none() && (starts_at.is_none() || ends_at.is_none()) {
        return Err("Give a start and an end, or a cron schedule with a duration.".into());
    }
    if let (Some(s), Some(e)) = (starts_at, ends_at)
        && e <= s
    {
        return Err("End: must be after the start.".into());
    }
    let mut group_ids = Vec::new();
    for g in f.all("group") {
        group_ids.push(g.parse().map_err(|_| "Groups: unknown group".to_string())?);
    }
    Ok(MaintenanceInput {
        name: f.get("name").to_string(),
        device_ids: Vec::new(),
        group_ids,
        starts_at,
        ends_at,
        cron,
        duration_minutes,
        timezone: Some(tz_name),
        comment: f.opt("comment"),
    })
}

/// `POST /alerts/maintenance` (operator): a one-off or recurring window for device groups.
async fn add_window(
    State(st): State<AppState>,
    page: Page,
    f: Fields,
) -> Result<Response, Response> {
    page.check_csrf(f.get("csrf"))?;
    page.require(Role::Operator)?;
    let back = |msg: &str| {
        Redirect::to(&format!(
            "/alerts/rules?error={}#maintenance",
            view::query_escape(msg)
        ))
        .into_response()
    };
    let input = match window_input(&f) {
        Ok(i) => i,
        Err(msg) => return Ok(back(&msg)),
    };
    if let Err(e) = api::check_window(&input) {
        return Ok(back(&e.to_string()));
    }
    match st.store.create_maintenance(&page.user.actor(), input).await {
        Ok(w) => {
            api::reload(&st);
            Ok(Redirect::to(&format!(
                "/alerts/rules?done={}#maintenance",
                view::query_escape(&format!("Maintenance window {} saved.", w.name))
            ))
            .into_response())
        }
        Err(e) => {
            let e = wardflux_api::error::ApiError::from(e);
            if e.status().is_server_error() {
                return Err(api_error(e));
            }
            Ok(back(&e.to_string()))
        }
    }
}

/// `POST /alerts/maintenance/{id}/delete` (operator).
async fn delete_window(
    State(st): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    f: Fields,
) -> Result<Response, Response> {
    let id = action(
        &page,
        f.get("csrf"),
        Role::Operator,
        &id,
        "maintenance window",
    )?;
    st.store
        .delete_maintenance(&page.user.actor(), id)
        .await
        .map_err(store_error)?;
    api::reload(&st);
    Ok(
        Redirect::to("/alerts/rules?done=Maintenance%20window%20deleted.#maintenance")
            .into_response(),
    )
}

/// `POST /alerts/channels` (admin): a channel from its type and its settings as JSON (the
/// same `config` object as the API; secrets in it are stored encrypted and never shown).
async fn add_channel(
    State(st): State<AppState>,
    page: Page,
    f: Fields,
) -> Result<Response, Response> {
    page.check_csrf(f.get("csrf"))?;
    page.require(Role::Admin)?;
    let back = |r| Ok(super::outcome("/alerts/rules#channels", r));
    let kind = match wardflux_model::alerts::ChannelKind::from_str(f.get("type")) {
        Ok(k) => k,
        Err(_) => {
            return back(Err(wardflux_api::error::ApiError::bad_request(
                Some("type"),
                "type: choose one of the listed channel types",
            )));
        }
    };
    let config = match serde_json::from_str::<serde_json::Value>(f.get("config")) {
        Ok(c) if c.is_object() => c,
        _ => {
            return back(Err(wardflux_api::error::ApiError::bad_request(
                Some("config"),
                "config: a JSON object, e.g. {\"url\": \"https://hooks.example/...\"}",
            )));
        }
    };
    let input = wardflux_model::alerts::ChannelInput {
        name: f.get("name").to_string(),
        kind,
        config,
        enabled: Some(true),
    };
    back(
        api::add_channel(&st, &page.user.actor(), input)
            .await
            .map(|c| format!("Channel {} saved.", c.name)),
    )
}

/// `POST /alerts/channels/{id}/delete` (admin).
async fn delete_channel(
    State(st): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    f: Fields,
) -> Result<Response, Response> {
    let id = action(&page, f.get("csrf"), Role::Admin, &id, "channel")?;
    st.store
        .delete_channel(&page.user.actor(), id)
        .await
        .map_err(store_error)?;
    api::reload(&st);
    Ok(Redirect::to("/alerts/rules?done=Channel%20deleted.#channels").into_response())
}
