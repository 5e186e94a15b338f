//! `/api/v1/monitoring/alerts`: rules, active alerts and history, acknowledge/resolve, the
//! delivery log, notification channels and maintenance windows (docs/alerts.md).
//!
//! Expressions, templates, channel configs and maintenance schedules are checked here with
//! `wardflux-alert` before the store sees them; a rule that does not parse answers 422 with
//! `field: "expression"` and the `column` of the error. After every change the running alert
//! driver (if any) is told to reload.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;
use wardflux_alert::notify::{AlertSnapshot, ChannelConfig, Message, Notifier};
use wardflux_alert::rule::{self, RuleError};
use wardflux_model::alerts::{
    Alert, AlertRule, AlertRuleInput, AlertState, Channel, ChannelInput, MaintenanceInput,
    MaintenanceWindow, NotificationKind, NotificationRecord, Severity,
};
use wardflux_model::inventory::{FieldError, Page};
use wardflux_store::alerts::{AlertQuery, HistoryQuery, OutboxInput, RuleQuery};

use crate::auth::{Admin, Operator, Viewer};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{IdPath, Json, Query};
use crate::state::AppState;
use wardflux_alert::driver::AlertHandle;
use wardflux_zabbix::source::ZabbixSource;

/// The alert routes, with their OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_rules, create_rule))
        .routes(routes!(get_rule, update_rule, delete_rule))
        .routes(routes!(validate_rule))
        .routes(routes!(preview_rule))
        .routes(routes!(active))
        .routes(routes!(history))
        .routes(routes!(acknowledge))
        .routes(routes!(unacknowledge))
        .routes(routes!(resolve))
        .routes(routes!(notifications))
        .routes(routes!(list_channels, create_channel))
        .routes(routes!(get_channel, update_channel, delete_channel))
        .routes(routes!(test_channel))
        .routes(routes!(list_maintenance, create_maintenance))
        .routes(routes!(
            get_maintenance,
            update_maintenance,
            delete_maintenance
        ))
}

/// A 422 that also carries the column of an expression error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExpressionErrorBody {
    pub error: &'static str,
    pub message: String,
    pub field: &'static str,
    /// 1-based column (characters) of the error in `expression`.
    pub column: usize,
}

/// Errors of these routes: the API's, plus expression errors with their column.
#[derive(Debug)]
pub enum AlertsError {
    Api(ApiError),
    Expression(RuleError),
}

impl From<ApiError> for AlertsError {
    fn from(e: ApiError) -> Self {
        AlertsError::Api(e)
    }
}

impl From<wardflux_store::StoreError> for AlertsError {
    fn from(e: wardflux_store::StoreError) -> Self {
        AlertsError::Api(e.into())
    }
}

impl IntoResponse for AlertsError {
    fn into_response(self) -> Response {
        match self {
            AlertsError::Api(e) => e.into_response(),
            AlertsError::Expression(e) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                axum::Json(ExpressionErrorBody {
                    error: "validation_error",
                    message: format!("expression: column {}: {}", e.column, e.message),
                    field: "expression",
                    column: e.column,
                }),
            )
                .into_response(),
        }
    }
}

type Result<T> = std::result::Result<T, AlertsError>;

/// Tells the alert engine to reload rules, channels and maintenance windows (after any
/// change to them, from the API or the UI).
pub fn reload(st: &AppState) {
    if let Ok(h) = st.services.get::<AlertHandle>() {
        h.reload();
    }
}

fn tsdb(
    st: &AppState,
) -> std::result::Result<std::sync::Arc<dyn wardflux_tsdb::MetricStore>, ApiError> {
    st.services
        .get::<std::sync::Arc<dyn wardflux_tsdb::MetricStore>>()
}

/// A rule as answered by create/update/validate: the rule, plus warnings.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleResponse {
    #[serde(flatten)]
    pub rule: AlertRule,
    /// E.g. metrics no series has yet (accepted: they may appear later).
    pub warnings: Vec<String>,
}

/// Parses the expression and the template; returns warnings.
async fn check_rule(st: &AppState, input: &AlertRuleInput) -> Result<Vec<String>> {
    let parsed = rule::parse(&input.expression).map_err(AlertsError::Expression)?;
    if let Some(m) = &input.message {
        wardflux_alert::template::check(m)
            .map_err(|e| ApiError::from(FieldError::new("message", e)))?;
    }
    let mut warnings = Vec::new();
    if let Ok(db) = tsdb(st) {
        let now = Utc::now().timestamp_millis();
        let known = db
            .label_values("__name__", &[], now - 7 * 86_400_000, now)
            .await
            .unwrap_or_default();
        for m in &parsed.metrics {
            if !known.contains(m) {
                warnings.push(format!(
                    "no series of metric {m:?} yet; the rule will apply once it is written"
                ));
            }
        }
    }
    Ok(warnings)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RuleParams {
    pub severity: Option<Severity>,
    pub enabled: Option<bool>,
    /// Substring of the name.
    pub search: Option<String>,
}

/// List alert rules.
#[utoipa::path(get, path = "/api/v1/monitoring/alerts/rules", operation_id = "list_alert_rules", tag = "alerts", params(RuleParams),
    responses((status = 200, body = Vec<AlertRule>)))]
pub async fn list_rules(
    State(st): State<AppState>,
    _: Viewer,
    Query(p): Query<RuleParams>,
) -> Result<axum::Json<Vec<AlertRule>>> {
    let q = RuleQuery {
        severity: p.severity,
        enabled: p.enabled,
        search: p.search,
    };
    Ok(axum::Json(st.store.list_alert_rules(&q).await?))
}

/// Create an alert rule (`{"name", "expression", "severity", "notifications", ...}`).
#[utoipa::path(post, path = "/api/v1/monitoring/alerts/rules", operation_id = "create_alert_rule", tag = "alerts", request_body = AlertRuleInput,
    responses((status = 201, body = RuleResponse), (status = 409, body = ErrorBody),
              (status = 422, body = ExpressionErrorBody)))]
pub async fn create_rule(
    State(st): State<AppState>,
    Admin(me): Admin,
    Json(input): Json<AlertRuleInput>,
) -> Result<(StatusCode, axum::Json<RuleResponse>)> {
    let saved = save_rule(&st, &me.actor(), None, input).await?;
    Ok((StatusCode::CREATED, axum::Json(saved)))
}

/// Checks a rule and creates it (`id` none) or replaces rule `id`; the engine reloads its
/// rules (the API's create/update and the UI's editor).
pub async fn save_rule(
    st: &AppState,
    actor: &wardflux_model::inventory::Actor,
    id: Option<Uuid>,
    input: AlertRuleInput,
) -> Result<RuleResponse> {
    let warnings = check_rule(st, &input).await?;
    let rule = match id {
        None => st.store.create_alert_rule(actor, input).await?,
        Some(id) => st.store.update_alert_rule(actor, id, input).await?,
    };
    reload(st);
    Ok(RuleResponse { rule, warnings })
}

/// Get an alert rule.
#[utoipa::path(get, path = "/api/v1/monitoring/alerts/rules/{id}", operation_id = "get_alert_rule", tag = "alerts", params(("id" = Uuid, Path)),
    responses((status = 200, body = AlertRule), (status = 404, body = ErrorBody)))]
pub async fn get_rule(
    State(st): State<AppState>,
    _: Viewer,
    IdPath(id): IdPath,
) -> Result<axum::Json<AlertRule>> {
    Ok(axum::Json(st.store.get_alert_rule(id).await?))
}

/// Replace an alert rule. Built-in rules keep their name's meaning and expression.
#[utoipa::path(put, path = "/api/v1/monitoring/alerts/rules/{id}", operation_id = "replace_alert_rule", tag = "alerts", params(("id" = Uuid, Path)),
    request_body = AlertRuleInput,
    responses((status = 200, body = RuleResponse), (status = 404, body = ErrorBody), (status = 422, body = ExpressionErrorBody)))]
pub async fn update_rule(
    State(st): State<AppState>,
    Admin(me): Admin,
    IdPath(id): IdPath,
    Json(input): Json<AlertRuleInput>,
) -> Result<axum::Json<RuleResponse>> {
    Ok(axum::Json(
        save_rule(&st, &me.actor(), Some(id), input).await?,
    ))
}

/// Delete an alert rule (built-in rules: 409; disable them instead).
#[utoipa::path(delete, path = "/api/v1/monitoring/alerts/rules/{id}", operation_id = "delete_alert_rule", tag = "alerts", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_rule(
    State(st): State<AppState>,
    Admin(me): Admin,
    IdPath(id): IdPath,
) -> Result<StatusCode> {
    delete_rule_by_id(&st, &me.actor(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes rule `id` and reloads the engine's rules.
pub async fn delete_rule_by_id(
    st: &AppState,
    actor: &wardflux_model::inventory::Actor,
    id: Uuid,
) -> std::result::Result<(), ApiError> {
    st.store.delete_alert_rule(actor, id).await?;
    reload(st);
    Ok(())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpressionInput {
    pub expression: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ValidateResponse {
    pub valid: bool,
    /// The PromQL evaluated (aliases expanded).
    pub query: String,
    pub for_seconds: u64,
    pub metrics: Vec<String>,
    pub warnings: Vec<String>,
}

/// Parse a rule expression without saving anything.
#[utoipa::path(post, path = "/api/v1/monitoring/alerts/rules/validate", operation_id = "validate_alert_rule", tag = "alerts", request_body = ExpressionInput,
    responses((status = 200, body = ValidateResponse), (status = 422, body = ExpressionErrorBody)))]
pub async fn validate_rule(
    State(st): State<AppState>,
    _: Viewer,
    Json(input): Json<ExpressionInput>,
) -> Result<axum::Json<ValidateResponse>> {
    Ok(axum::Json(
        validate_expression(&st, &input.expression).await?,
    ))
}

/// Parses a rule expression and lists what would make it never fire (unknown metrics).
pub async fn validate_expression(st: &AppState, expression: &str) -> Result<ValidateResponse> {
    let p = rule::parse(expression).map_err(AlertsError::Expression)?;
    let probe = AlertRuleInput::new("x", expression, Severity::Info);
    let warnings = check_rule(st, &probe).await?;
    Ok(ValidateResponse {
        valid: true,
        query: p.query,
        for_seconds: p.for_.as_secs(),
        metrics: p.metrics.into_iter().collect(),
        warnings,
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewSeries {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// Which series the expression returns now (each would be an alert instance).
#[utoipa::path(post, path = "/api/v1/monitoring/alerts/rules/preview", operation_id = "preview_alert_rule", tag = "alerts", request_body = ExpressionInput,
    responses((status = 200, body = Vec<PreviewSeries>), (status = 422, body = ExpressionErrorBody), (status = 503, body = ErrorBody)))]
pub async fn preview_rule(
    State(st): State<AppState>,
    _: Viewer,
    Json(input): Json<ExpressionInput>,
) -> Result<axum::Json<Vec<PreviewSeries>>> {
    Ok(axum::Json(
        preview_expression(&st, &input.expression).await?,
    ))
}

/// The series rule expression `expression` returns now: each would be an alert instance.
pub async fn preview_expression(st: &AppState, expression: &str) -> Result<Vec<PreviewSeries>> {
    let p = rule::parse(expression).map_err(AlertsError::Expression)?;
    let v =
        wardflux_tsdb::promql::eval_instant(&*tsdb(st)?, &p.query, Utc::now().timestamp_millis())
            .await
            .map_err(|e| ApiError::bad_request(Some("expression"), e.to_string()))?;
    let out = match v {
        wardflux_tsdb::QueryValue::Vector(v) => v
            .into_iter()
            .map(|(k, _, value)| PreviewSeries {
                labels: k
                    .labels
                    .iter()
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .collect(),
                value,
            })
            .collect(),
        _ => Vec::new(),
    };
    Ok(out)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ActiveParams {
    pub severity: Option<Severity>,
    /// Device id or name.
    pub device: Option<String>,
    /// Rule id.
    pub rule: Option<Uuid>,
    pub acknowledged: Option<bool>,
}

/// Pending and firing alerts (suppressed ones included, with `suppressed_by`): our engine's
/// and, in `zabbix` and `hybrid` mode, Zabbix' open problems (`origin: zabbix`, as of the
/// last sync: `GET /api/v1/zabbix/status` says whether that is stale).
#[utoipa::path(get, path = "/api/v1/monitoring/alerts/active", operation_id = "list_active_alerts", tag = "alerts", params(ActiveParams),
    responses((status = 200, body = Vec<Alert>)))]
pub async fn active(
    State(st): State<AppState>,
    _: Viewer,
    Query(p): Query<ActiveParams>,
) -> Result<(axum::http::HeaderMap, axum::Json<Vec<Alert>>)> {
    let q = AlertQuery {
        severity: p.severity,
        device: p.device,
        rule_id: p.rule,
        acknowledged: p.acknowledged,
    };
    let mut out = st.store.list_active_alerts(&q).await?;
    if let Ok(z) = st.services.get::<ZabbixSource>() {
        let wanted = |a: &Alert| {
            q.severity.is_none_or(|s| a.severity == s)
                && q.rule_id.is_none_or(|r| a.rule_id == r)
                && q.acknowledged.is_none_or(|k| a.acknowledged == k)
                && q.device.as_deref().is_none_or(|d| {
                    a.device.as_deref() == Some(d)
                        || a.device_id.is_some_and(|id| id.to_string() == d)
                })
        };
        out.extend(z.alerts().into_iter().filter(wanted));
    }
    Ok((super::settings::stale_warning(&st), axum::Json(out)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct HistoryParams {
    /// Start of the range (RFC 3339), by the alert's start.
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub rule: Option<Uuid>,
    pub device_id: Option<Uuid>,
    /// 1-1000, default 100.
    pub limit: Option<u64>,
    pub offset: Option<u64>,
}

/// Alerts that fired, newest first, with paging.
#[utoipa::path(get, path = "/api/v1/monitoring/alerts/history", operation_id = "list_alert_history", tag = "alerts", params(HistoryParams),
    responses((status = 200, body = Page<Alert>), (status = 422, body = ErrorBody)))]
pub async fn history(
    State(st): State<AppState>,
    _: Viewer,
    Query(p): Query<HistoryParams>,
) -> Result<axum::Json<Page<Alert>>> {
    let q = HistoryQuery {
        from: p.from,
        to: p.to,
        rule_id: p.rule,
        device_id: p.device_id,
        limit: p.limit,
        offset: p.offset,
    };
    Ok(axum::Json(st.store.alert_history(&q).await?))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AckInput {
    #[serde(default)]
    pub comment: Option<String>,
}

/// Acknowledge an alert (who and when are recorded; stops escalation). A Zabbix problem
/// (`origin: zabbix`) is acknowledged in Zabbix (`event.acknowledge`, with the comment).
#[utoipa::path(post, path = "/api/v1/monitoring/alerts/{id}/acknowledge", operation_id = "acknowledge_alert", tag = "alerts", params(("id" = Uuid, Path)),
    request_body(content = Option<AckInput>),
    responses((status = 200, body = Alert), (status = 404, body = ErrorBody),
        (status = 502, body = ErrorBody, description = "Zabbix refused or did not answer")))]
pub async fn acknowledge(
    State(st): State<AppState>,
    Operator(me): Operator,
    IdPath(id): IdPath,
    input: Option<Json<AckInput>>,
) -> Result<axum::Json<Alert>> {
    let comment = input
        .and_then(|Json(i)| i.comment)
        .filter(|c| !c.is_empty());
    Ok(axum::Json(acknowledge_alert(&st, &me, id, comment).await?))
}

/// Acknowledges alert `id` as `me` (the API and the UI share it): a Zabbix problem in Zabbix
/// (`event.acknowledge` with the comment), any other alert in the store.
pub async fn acknowledge_alert(
    st: &AppState,
    me: &crate::auth::CurrentUser,
    id: Uuid,
    comment: Option<String>,
) -> std::result::Result<Alert, ApiError> {
    if let Ok(z) = st.services.get::<ZabbixSource>()
        && z.is_zabbix_alert(id)
    {
        return match z
            .acknowledge(id, &me.user.username, comment.as_deref())
            .await
        {
            Ok(Some(a)) => Ok(a),
            Ok(None) => Err(ApiError::NotFound("alert".into())),
            Err(e) => Err(ApiError::Upstream(format!("Zabbix: {e}"))),
        };
    }
    Ok(st
        .store
        .set_alert_acknowledged(&me.actor(), id, true, comment)
        .await?)
}

/// Remove an acknowledgement.
#[utoipa::path(post, path = "/api/v1/monitoring/alerts/{id}/unacknowledge", operation_id = "unacknowledge_alert", tag = "alerts", params(("id" = Uuid, Path)),
    responses((status = 200, body = Alert), (status = 404, body = ErrorBody)))]
pub async fn unacknowledge(
    State(st): State<AppState>,
    Operator(me): Operator,
    IdPath(id): IdPath,
) -> Result<axum::Json<Alert>> {
    Ok(axum::Json(
        st.store
            .set_alert_acknowledged(&me.actor(), id, false, None)
            .await?,
    ))
}

/// Resolve an alert by hand; a notified alert sends its resolved notification. If the
/// condition still holds, the next evaluation raises a new alert.
#[utoipa::path(post, path = "/api/v1/monitoring/alerts/{id}/resolve", operation_id = "resolve_alert", tag = "alerts", params(("id" = Uuid, Path)),
    responses((status = 200, body = Alert), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn resolve(
    State(st): State<AppState>,
    Operator(me): Operator,
    IdPath(id): IdPath,
) -> Result<axum::Json<Alert>> {
    Ok(axum::Json(resolve_alert(&st, &me.actor(), id).await?))
}

/// Resolves an alert by hand: queues the resolved notification of each of its rule's
/// channels (if it was notified at all) in the same transaction, and tells the engine to
/// forget it (the API's `POST .../resolve` and the UI's button).
pub async fn resolve_alert(
    st: &AppState,
    actor: &wardflux_model::inventory::Actor,
    id: Uuid,
) -> std::result::Result<Alert, ApiError> {
    let a = st.store.get_alert(id).await?;
    let mut rows = Vec::new();
    if a.notified_at.is_some() {
        let rule = st.store.get_alert_rule(a.rule_id).await?;
        let mut snap = AlertSnapshot::of(&a);
        snap.status = AlertState::Resolved;
        snap.resolved_at = Some(Utc::now());
        let payload = serde_json::to_value(snap).unwrap_or_default();
        for c in st.store.list_channels().await? {
            if rule.notifications.contains(&c.name) {
                rows.push(OutboxInput {
                    channel_id: c.id,
                    rule_id: Some(rule.id),
                    kind: NotificationKind::Resolved,
                    payload: payload.clone(),
                    group_key: format!("{}:manual:{id}", rule.id),
                    not_before: Utc::now(),
                    alert_ids: vec![id],
                });
            }
        }
    }
    let out = st.store.resolve_alert(actor, id, &rows).await?;
    if let Ok(h) = st.services.get::<AlertHandle>() {
        h.forget(id);
    }
    Ok(out)
}

/// The delivery log of an alert.
#[utoipa::path(get, path = "/api/v1/monitoring/alerts/{id}/notifications", operation_id = "list_alert_notifications", tag = "alerts", params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<NotificationRecord>), (status = 404, body = ErrorBody)))]
pub async fn notifications(
    State(st): State<AppState>,
    _: Viewer,
    IdPath(id): IdPath,
) -> Result<axum::Json<Vec<NotificationRecord>>> {
    Ok(axum::Json(st.store.alert_notifications(id).await?))
}

/// List notification channels (secrets are never returned; `secrets_set` names them).
#[utoipa::path(get, path = "/api/v1/monitoring/alerts/channels", operation_id = "list_alert_channels", tag = "alerts",
    responses((status = 200, body = Vec<Channel>)))]
pub async fn list_channels(
    State(st): State<AppState>,
    _: Viewer,
) -> Result<axum::Json<Vec<Channel>>> {
    Ok(axum::Json(st.store.list_channels().await?))
}

/// Create a channel (`{"name", "type", "config"}`).
#[utoipa::path(post, path = "/api/v1/monitoring/alerts/channels", operation_id = "create_alert_channel", tag = "alerts", request_body = ChannelInput,
    responses((status = 201, body = Channel), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_channel(
    State(st): State<AppState>,
    Admin(me): Admin,
    Json(input): Json<ChannelInput>,
) -> Result<(StatusCode, axum::Json<Channel>)> {
    let c = add_channel(&st, &me.actor(), input).await?;
    Ok((StatusCode::CREATED, axum::Json(c)))
}

/// Checks a channel's settings for its type and stores it; the engine reloads (the API's
/// create and the UI's form).
pub async fn add_channel(
    st: &AppState,
    actor: &wardflux_model::inventory::Actor,
    input: ChannelInput,
) -> std::result::Result<Channel, ApiError> {
    ChannelConfig::parse(input.kind, &input.config).map_err(ApiError::from)?;
    let c = st.store.create_channel(actor, input).await?;
    reload(st);
    Ok(c)
}

/// Get a channel.
#[utoipa::path(get, path = "/api/v1/monitoring/alerts/channels/{id}", operation_id = "get_alert_channel", tag = "alerts", params(("id" = Uuid, Path)),
    responses((status = 200, body = Channel), (status = 404, body = ErrorBody)))]
pub async fn get_channel(
    State(st): State<AppState>,
    _: Viewer,
    IdPath(id): IdPath,
) -> Result<axum::Json<Channel>> {
    Ok(axum::Json(st.store.get_channel(id).await?))
}

/// Replace a channel; secrets left out keep their stored values.
#[utoipa::path(put, path = "/api/v1/monitoring/alerts/channels/{id}", operation_id = "replace_alert_channel", tag = "alerts", params(("id" = Uuid, Path)),
    request_body = ChannelInput,
    responses((status = 200, body = Channel), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_channel(
    State(st): State<AppState>,
    Admin(me): Admin,
    IdPath(id): IdPath,
    Json(input): Json<ChannelInput>,
) -> Result<axum::Json<Channel>> {
    let (old, stored) = st.store.channel_with_secrets(id).await?;
    let stored = if old.kind == input.kind {
        stored
    } else {
        serde_json::Value::Null
    };
    ChannelConfig::parse_update(input.kind, &input.config, &stored).map_err(ApiError::from)?;
    let c = st.store.update_channel(&me.actor(), id, input).await?;
    reload(&st);
    Ok(axum::Json(c))
}

/// Delete a channel (409 while a rule uses it).
#[utoipa::path(delete, path = "/api/v1/monitoring/alerts/channels/{id}", operation_id = "delete_alert_channel", tag = "alerts", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_channel(
    State(st): State<AppState>,
    Admin(me): Admin,
    IdPath(id): IdPath,
) -> Result<StatusCode> {
    st.store.delete_channel(&me.actor(), id).await?;
    reload(&st);
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TestResult {
    pub delivered: bool,
    /// Why not (the URL of a webhook is never shown: it may carry a token).
    pub error: Option<String>,
    pub retryable: Option<bool>,
}

/// Send a test notification now and report the outcome.
#[utoipa::path(post, path = "/api/v1/monitoring/alerts/channels/{id}/test", operation_id = "send_alert_channel_test", tag = "alerts", params(("id" = Uuid, Path)),
    responses((status = 200, body = TestResult), (status = 404, body = ErrorBody)))]
pub async fn test_channel(
    State(st): State<AppState>,
    _: Admin,
    IdPath(id): IdPath,
) -> Result<axum::Json<TestResult>> {
    Ok(axum::Json(send_test(&st, id).await?))
}

/// Sends a test notification through channel `id` now and reports the outcome.
pub async fn send_test(st: &AppState, id: Uuid) -> std::result::Result<TestResult, ApiError> {
    let (c, config) = st.store.channel_with_secrets(id).await?;
    let cfg = ChannelConfig::parse(c.kind, &config).map_err(ApiError::from)?;
    let notifier = Notifier::new(std::time::Duration::from_secs(10))
        .map_err(|e| ApiError::Unexpected(e.into()))?;
    let msg = Message {
        kind: NotificationKind::Test,
        channel: c.name,
        idempotency_key: Uuid::new_v4().to_string(),
        alerts: Vec::new(),
    };
    Ok(match notifier.send(&cfg, &msg).await {
        Ok(()) => TestResult {
            delivered: true,
            error: None,
            retryable: None,
        },
        Err(e) => TestResult {
            delivered: false,
            error: Some(e.message),
            retryable: Some(e.retryable),
        },
    })
}

pub fn check_window(input: &MaintenanceInput) -> std::result::Result<(), ApiError> {
    let w = MaintenanceWindow {
        id: Uuid::nil(),
        name: input.name.clone(),
        device_ids: vec![],
        group_ids: vec![],
        starts_at: None,
        ends_at: None,
        cron: input.cron.clone(),
        duration_minutes: None,
        timezone: input.timezone.clone().unwrap_or_else(|| "UTC".into()),
        comment: None,
        created_at: Utc::now(),
        updated_at: Utc::now(),
    };
    wardflux_alert::suppress::check_window(&w).map_err(|e| {
        let field = match e {
            wardflux_alert::suppress::WindowError::Cron(_) => "cron",
            wardflux_alert::suppress::WindowError::Zone(_) => "timezone",
        };
        ApiError::from(FieldError::new(field, e.to_string()))
    })
}

/// List maintenance windows.
#[utoipa::path(get, path = "/api/v1/monitoring/alerts/maintenance", operation_id = "list_maintenance_windows", tag = "alerts",
    responses((status = 200, body = Vec<MaintenanceWindow>)))]
pub async fn list_maintenance(
    State(st): State<AppState>,
    _: Viewer,
) -> Result<axum::Json<Vec<MaintenanceWindow>>> {
    Ok(axum::Json(st.store.list_maintenance().await?))
}

/// Create a maintenance window (one-off `starts_at`/`ends_at`, or `cron` + `duration_minutes` in `timezone`).
#[utoipa::path(post, path = "/api/v1/monitoring/alerts/maintenance", operation_id = "create_maintenance_window", tag = "alerts", request_body = MaintenanceInput,
    responses((status = 201, body = MaintenanceWindow), (status = 422, body = ErrorBody)))]
pub async fn create_maintenance(
    State(st): State<AppState>,
    Operator(me): Operator,
    Json(input): Json<MaintenanceInput>,
) -> Result<(StatusCode, axum::Json<MaintenanceWindow>)> {
    check_window(&input)?;
    let w = st.store.create_maintenance(&me.actor(), input).await?;
    reload(&st);
    Ok((StatusCode::CREATED, axum::Json(w)))
}

/// Get a maintenance window.
#[utoipa::path(get, path = "/api/v1/monitoring/alerts/maintenance/{id}", operation_id = "get_maintenance_window", tag = "alerts", params(("id" = Uuid, Path)),
    responses((status = 200, body = MaintenanceWindow), (status = 404, body = ErrorBody)))]
pub async fn get_maintenance(
    State(st): State<AppState>,
    _: Viewer,
    IdPath(id): IdPath,
) -> Result<axum::Json<MaintenanceWindow>> {
    Ok(axum::Json(st.store.get_maintenance(id).await?))
}

/// Replace a maintenance window.
#[utoipa::path(put, path = "/api/v1/monitoring/alerts/maintenance/{id}", operation_id = "replace_maintenance_window", tag = "alerts", params(("id" = Uuid, Path)),
    request_body = MaintenanceInput,
    responses((status = 200, body = MaintenanceWindow), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_maintenance(
    State(st): State<AppState>,
    Operator(me): Operator,
    IdPath(id): IdPath,
    Json(input): Json<MaintenanceInput>,
) -> Result<axum::Json<MaintenanceWindow>> {
    check_window(&input)?;
    let w = st.store.update_maintenance(&me.actor(), id, input).await?;
    reload(&st);
    Ok(axum::Json(w))
}

/// Delete a maintenance window.
#[utoipa::path(delete, path = "/api/v1/monitoring/alerts/maintenance/{id}", operation_id = "delete_maintenance_window", tag = "alerts", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_maintenance(
    State(st): State<AppState>,
    Operator(me): Operator,
    IdPath(id): IdPath,
) -> Result<StatusCode> {
    st.store.delete_maintenance(&me.actor(), id).await?;
    reload(&st);
    Ok(StatusCode::NO_CONTENT)
}
