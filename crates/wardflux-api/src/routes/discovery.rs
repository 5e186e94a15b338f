//! `/api/v1/monitoring/discovery`: discovery rules, scans (jobs) with live progress, their
//! results, adding results as devices, and the classifier's user overrides.
//!
//! Roles: viewers read; operators run a stored rule; admins write rules (they hold SNMP
//! credentials), scan ad-hoc ranges (with credentials of their own), add devices (as
//! creating a device needs admin) and change the classifier. Ranges and cron schedules
//! are checked here with the discovery crate's own rules before the store sees a rule.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;
use wardflux_discovery::Classifier;
use wardflux_discovery::service::{Discovery, StartError, check_schedule};
use wardflux_model::discovery::{
    CandidateInput, DiscoveryResult, DiscoveryRule, DiscoveryRuleInput, DiscoveryRun, ResultQuery,
};
use wardflux_model::inventory::{Device, FieldError, Page};

use crate::auth::{Admin, Operator, Viewer};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{IdPath, Json, Query};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_discovery_rules, create_discovery_rule))
        .routes(routes!(
            get_discovery_rule,
            replace_discovery_rule,
            delete_discovery_rule
        ))
        .routes(routes!(run_discovery_rule))
        .routes(routes!(start_discovery_scan))
        .routes(routes!(list_discovery_jobs))
        .routes(routes!(get_discovery_job))
        .routes(routes!(list_discovery_results))
        .routes(routes!(get_discovery_result))
        .routes(routes!(add_discovered_devices))
        .routes(routes!(get_classifier, replace_classifier_overrides))
}

fn service(st: &AppState) -> ApiResult<Discovery> {
    st.services.get::<Discovery>()
}

impl From<StartError> for ApiError {
    fn from(e: StartError) -> Self {
        match e {
            StartError::Invalid(fe) => ApiError::Validation(fe),
            StartError::Busy(rule, job) => ApiError::Conflict {
                field: "rule_id".into(),
                message: format!(
                    "rule {rule} is already running (job {job}); runs of one rule never overlap"
                ),
            },
            StartError::Store(e) => e.into(),
        }
    }
}

/// Wakes the service's schedule loop after a rule change (a no-op when discovery is off).
pub fn rules_changed(st: &AppState) {
    if let Ok(svc) = service(st) {
        svc.rules_changed();
    }
}

/// Checks what the store cannot: the ranges (syntax, size, the /16 guard) and the cron
/// expression.
pub fn check_rule(input: &DiscoveryRuleInput) -> ApiResult<()> {
    wardflux_discovery::targets(
        &input.ranges,
        &input.exclusions,
        input.allow_large.unwrap_or(false),
    )?;
    if let Some(s) = input.schedule.as_deref().filter(|s| !s.trim().is_empty()) {
        check_schedule(s)?;
    }
    Ok(())
}

/// Creates a rule (the API's and the UI's one way): the checks above, the store, then the
/// schedule loop is woken so a new schedule counts at once.
pub async fn create_rule(
    st: &AppState,
    actor: &wardflux_model::inventory::Actor,
    input: DiscoveryRuleInput,
) -> ApiResult<DiscoveryRule> {
    check_rule(&input)?;
    let r = st.store.create_discovery_rule(actor, input).await?;
    rules_changed(st);
    Ok(r)
}

/// Deletes a rule and wakes the schedule loop (the API's and the UI's one way).
pub async fn delete_rule(
    st: &AppState,
    actor: &wardflux_model::inventory::Actor,
    id: Uuid,
) -> ApiResult<()> {
    st.store.delete_discovery_rule(actor, id).await?;
    rules_changed(st);
    Ok(())
}

/// List discovery rules (credentials without their secrets).
#[utoipa::path(get, path = "/api/v1/monitoring/discovery/rules", tag = "discovery",
    responses((status = 200, body = Vec<DiscoveryRule>)))]
pub async fn list_discovery_rules(
    State(st): State<AppState>,
    _: Viewer,
) -> ApiResult<axum::Json<Vec<DiscoveryRule>>> {
    Ok(axum::Json(st.store.list_discovery_rules().await?))
}

/// Create a discovery rule: ranges, exclusions, SNMP credentials tried in order, a cron
/// schedule, rate and concurrency caps, and what to do with new devices.
#[utoipa::path(post, path = "/api/v1/monitoring/discovery/rules", tag = "discovery",
    request_body = DiscoveryRuleInput,
    responses((status = 201, body = DiscoveryRule), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_discovery_rule(
    State(st): State<AppState>,
    Admin(me): Admin,
    Json(input): Json<DiscoveryRuleInput>,
) -> ApiResult<(StatusCode, axum::Json<DiscoveryRule>)> {
    let r = create_rule(&st, &me.actor(), input).await?;
    Ok((StatusCode::CREATED, axum::Json(r)))
}

/// Get a discovery rule.
#[utoipa::path(get, path = "/api/v1/monitoring/discovery/rules/{id}", tag = "discovery", params(("id" = Uuid, Path)),
    responses((status = 200, body = DiscoveryRule), (status = 404, body = ErrorBody)))]
pub async fn get_discovery_rule(
    State(st): State<AppState>,
    _: Viewer,
    IdPath(id): IdPath,
) -> ApiResult<axum::Json<DiscoveryRule>> {
    Ok(axum::Json(st.store.get_discovery_rule(id).await?))
}

/// Replace a discovery rule. A credential sent without secrets keeps the stored secrets
/// of the credential of the same name.
#[utoipa::path(put, path = "/api/v1/monitoring/discovery/rules/{id}", tag = "discovery", params(("id" = Uuid, Path)),
    request_body = DiscoveryRuleInput,
    responses((status = 200, body = DiscoveryRule), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn replace_discovery_rule(
    State(st): State<AppState>,
    Admin(me): Admin,
    IdPath(id): IdPath,
    Json(input): Json<DiscoveryRuleInput>,
) -> ApiResult<axum::Json<DiscoveryRule>> {
    check_rule(&input)?;
    let r = st
        .store
        .update_discovery_rule(&me.actor(), id, input)
        .await?;
    rules_changed(&st);
    Ok(axum::Json(r))
}

/// Delete a discovery rule (its runs and results stay, without the rule).
#[utoipa::path(delete, path = "/api/v1/monitoring/discovery/rules/{id}", tag = "discovery", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_discovery_rule(
    State(st): State<AppState>,
    Admin(me): Admin,
    IdPath(id): IdPath,
) -> ApiResult<StatusCode> {
    delete_rule(&st, &me.actor(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The id of a started scan.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct JobStarted {
    pub job_id: Uuid,
}

/// Run a rule now (409 while its previous run is going).
#[utoipa::path(post, path = "/api/v1/monitoring/discovery/rules/{id}/run", tag = "discovery", params(("id" = Uuid, Path)),
    responses((status = 202, body = JobStarted), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 503, body = ErrorBody)))]
pub async fn run_discovery_rule(
    State(st): State<AppState>,
    _: Operator,
    IdPath(id): IdPath,
) -> ApiResult<(StatusCode, axum::Json<JobStarted>)> {
    let job_id = service(&st)?.start_rule(id).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(JobStarted { job_id })))
}

/// A scan of a stored rule (`rule_id`) or of ad-hoc ranges.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanRequest {
    /// Run this rule (the other fields must then be absent).
    #[serde(default)]
    pub rule_id: Option<Uuid>,
    /// CIDR prefixes, addresses or first-last ranges.
    #[serde(default)]
    pub ranges: Vec<String>,
    #[serde(default)]
    pub exclusions: Vec<String>,
    /// v2c communities to try, in order (before `credentials`).
    #[schema(value_type = Vec<String>, format = Password)]
    #[serde(default)]
    pub communities: Vec<wardflux_model::inventory::Secret>,
    /// Further credentials (v3 users...), tried after the communities.
    #[serde(default)]
    pub credentials: Vec<CandidateInput>,
    #[serde(default)]
    pub allow_large: bool,
    #[serde(default)]
    pub rate_limit: Option<u32>,
    #[serde(default)]
    pub concurrency: Option<u32>,
}

/// Start a scan; answers at once with the job id (progress at `.../discovery/jobs/{id}`).
#[utoipa::path(post, path = "/api/v1/monitoring/discovery/scan", tag = "discovery", request_body = ScanRequest,
    responses((status = 202, body = JobStarted), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn start_discovery_scan(
    State(st): State<AppState>,
    Operator(me): Operator,
    Json(req): Json<ScanRequest>,
) -> ApiResult<(StatusCode, axum::Json<JobStarted>)> {
    let svc = service(&st)?;
    let job_id = match req.rule_id {
        Some(id) => {
            if !req.ranges.is_empty() || !req.communities.is_empty() || !req.credentials.is_empty()
            {
                return Err(FieldError::new(
                    "rule_id",
                    "give either rule_id or ranges (with communities/credentials), not both",
                )
                .into());
            }
            svc.start_rule(id).await?
        }
        None => {
            // Credentials of their own: as writing a rule does, this needs admin.
            if !me.user.role.allows(wardflux_model::inventory::Role::Admin) {
                return Err(ApiError::Forbidden(
                    "an ad-hoc scan (ranges with credentials) needs the admin role; operators run stored rules",
                ));
            }
            let mut candidates =
                CandidateInput::communities(req.communities.iter().map(|c| c.expose()));
            candidates.extend(req.credentials);
            svc.start_adhoc(
                &req.ranges,
                &req.exclusions,
                candidates,
                req.allow_large,
                req.rate_limit,
                req.concurrency,
            )
            .await?
        }
    };
    Ok((StatusCode::ACCEPTED, axum::Json(JobStarted { job_id })))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct JobQuery {
    pub rule_id: Option<Uuid>,
    /// At most this many, newest first (default 50, at most 500).
    pub limit: Option<u64>,
}

/// Recent scans, newest first.
#[utoipa::path(get, path = "/api/v1/monitoring/discovery/jobs", tag = "discovery", params(JobQuery),
    responses((status = 200, body = Vec<DiscoveryRun>)))]
pub async fn list_discovery_jobs(
    State(st): State<AppState>,
    _: Viewer,
    Query(q): Query<JobQuery>,
) -> ApiResult<axum::Json<Vec<DiscoveryRun>>> {
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let mut runs = st.store.list_discovery_runs(q.rule_id, limit).await?;
    // Running ones with their live counters.
    if let Ok(svc) = service(&st) {
        for r in runs
            .iter_mut()
            .filter(|r| r.state == wardflux_model::discovery::RunState::Running)
        {
            if let Ok(live) = svc.job(r.id).await {
                *r = live;
            }
        }
    }
    Ok(axum::Json(runs))
}

/// A scan's progress: `state` running | done | failed, `done` of `total` addresses,
/// `found` devices.
#[utoipa::path(get, path = "/api/v1/monitoring/discovery/jobs/{id}", tag = "discovery", params(("id" = Uuid, Path)),
    responses((status = 200, body = DiscoveryRun), (status = 404, body = ErrorBody)))]
pub async fn get_discovery_job(
    State(st): State<AppState>,
    _: Viewer,
    IdPath(id): IdPath,
) -> ApiResult<axum::Json<DiscoveryRun>> {
    let run = match service(&st) {
        Ok(svc) => svc.job(id).await?,
        Err(_) => st.store.get_discovery_run(id).await?,
    };
    Ok(axum::Json(run))
}

/// Results: one per device found (whatever addresses it answered on), filtered by rule,
/// job, `status` new | known, vendor, type.
#[utoipa::path(get, path = "/api/v1/monitoring/discovery/results", tag = "discovery", params(ResultQuery),
    responses((status = 200, body = Page<DiscoveryResult>), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list_discovery_results(
    State(st): State<AppState>,
    _: Viewer,
    Query(q): Query<ResultQuery>,
) -> ApiResult<axum::Json<Page<DiscoveryResult>>> {
    Ok(axum::Json(st.store.list_discovery_results(&q).await?))
}

/// One result.
#[utoipa::path(get, path = "/api/v1/monitoring/discovery/results/{id}", tag = "discovery", params(("id" = Uuid, Path)),
    responses((status = 200, body = DiscoveryResult), (status = 404, body = ErrorBody)))]
pub async fn get_discovery_result(
    State(st): State<AppState>,
    _: Viewer,
    IdPath(id): IdPath,
) -> ApiResult<axum::Json<DiscoveryResult>> {
    Ok(axum::Json(st.store.get_discovery_result(id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddDevicesRequest {
    pub result_ids: Vec<Uuid>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AddedDevices {
    pub devices: Vec<Device>,
}

/// Add results as monitored devices, all or nothing: each with its sysName, the
/// classifier's vendor and type, the SNMP credential that worked and the template that
/// matches its classification. A conflict (already a device, unknown result) is answered
/// 409 with every failing result in `errors`, and nothing is added.
#[utoipa::path(post, path = "/api/v1/monitoring/discovery/add-devices", tag = "discovery", request_body = AddDevicesRequest,
    responses((status = 201, body = AddedDevices), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_discovered_devices(
    State(st): State<AppState>,
    Admin(me): Admin,
    Json(req): Json<AddDevicesRequest>,
) -> ApiResult<(StatusCode, axum::Json<AddedDevices>)> {
    if req.result_ids.is_empty() {
        return Err(FieldError::new("result_ids", "give at least one result id").into());
    }
    if req.result_ids.len() > 10_000 {
        return Err(FieldError::new("result_ids", "at most 10000 results at once").into());
    }
    let devices = service(&st)?
        .add_devices(&me.actor(), &req.result_ids)
        .await?;
    crate::routes::templates::reload(&st);
    Ok((StatusCode::CREATED, axum::Json(AddedDevices { devices })))
}

/// The classifier: the shipped rules and the user's overrides (same format).
#[derive(Debug, Serialize, ToSchema)]
pub struct ClassifierView {
    pub shipped: serde_json::Value,
    pub overrides: Option<serde_json::Value>,
}

/// The classifier's shipped rules and the stored overrides.
#[utoipa::path(get, path = "/api/v1/monitoring/discovery/classifier", tag = "discovery",
    responses((status = 200, body = ClassifierView)))]
pub async fn get_classifier(
    State(st): State<AppState>,
    _: Viewer,
) -> ApiResult<axum::Json<ClassifierView>> {
    let shipped = serde_json::from_str(wardflux_discovery::classify::shipped_json())
        .map_err(|e| ApiError::Unexpected(Box::new(e)))?;
    let overrides = match st.store.classifier_overrides().await? {
        Some(t) => Some(serde_json::from_str(&t).map_err(|e| ApiError::Unexpected(Box::new(e)))?),
        None => None,
    };
    Ok(axum::Json(ClassifierView { shipped, overrides }))
}

/// Replace the classifier overrides (rules of the shipped format; a rule with a shipped
/// rule's id replaces it). `null` removes them. Applies to the next scans.
#[utoipa::path(put, path = "/api/v1/monitoring/discovery/classifier", tag = "discovery",
    request_body = serde_json::Value,
    responses((status = 200, body = ClassifierView), (status = 422, body = ErrorBody)))]
pub async fn replace_classifier_overrides(
    State(st): State<AppState>,
    Admin(me): Admin,
    Json(body): Json<serde_json::Value>,
) -> ApiResult<Response> {
    let text = if body.is_null() {
        None
    } else {
        let t = body.to_string();
        Classifier::from_json(&t).map_err(|e| FieldError::new(e.path, e.message))?;
        Some(t)
    };
    st.store.set_classifier_overrides(&me.actor(), text).await?;
    if let Ok(svc) = service(&st) {
        svc.reload_classifier().await?;
    }
    let view = get_classifier(State(st), Viewer(me)).await?;
    Ok(view.into_response())
}
