//! `/api/v1/monitoring/templates`: monitoring templates (the JSON format of
//! `wardflux-template`), applying them to devices with macro overrides, and
//! `/api/v1/monitoring/items`: the items they created, with the poller's live state when the
//! poller runs (an `Arc<dyn ItemStates>` in the services registry).
//!
//! A template is checked here before the store sees it: every problem is answered at once,
//! 422 with `field` = the first problem's path (`items[2].oid`) and `problems` listing all;
//! trigger expressions are also parsed by the alert engine's rule language. Viewers read;
//! operators and admins write. Template changes also change alert rules (a template's
//! triggers are rules scoped to its devices), so the alert driver is told to reload.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;
use wardflux_alert::driver::AlertHandle;
use wardflux_model::{ItemState, ItemStates, ItemStatus};
use wardflux_template::records::MonitoringTemplate;
use wardflux_template::{Problem, Template, TemplateErrors};

use crate::auth::{Operator, Viewer};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{IdPath, Json, Query};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_templates, create_template))
        .routes(routes!(get_template, update_template, delete_template))
        .routes(routes!(clone_template))
        .routes(routes!(export_template))
        .routes(routes!(import_template))
        .routes(routes!(apply_template))
        .routes(routes!(unapply_template))
        .routes(routes!(list_items))
}

/// 422 for a template: every problem, the first one's path as `field`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateErrorBody {
    pub error: &'static str,
    pub message: String,
    pub field: String,
    pub problems: Vec<Problem>,
}

#[derive(Debug)]
pub enum TemplatesError {
    Api(ApiError),
    Template(TemplateErrors),
}

impl From<ApiError> for TemplatesError {
    fn from(e: ApiError) -> Self {
        TemplatesError::Api(e)
    }
}

impl From<wardflux_store::StoreError> for TemplatesError {
    fn from(e: wardflux_store::StoreError) -> Self {
        TemplatesError::Api(e.into())
    }
}

impl IntoResponse for TemplatesError {
    fn into_response(self) -> Response {
        match self {
            TemplatesError::Api(e) => e.into_response(),
            TemplatesError::Template(e) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                axum::Json(TemplateErrorBody {
                    error: "validation_error",
                    message: e.to_string(),
                    field: e.first().path.clone(),
                    problems: e.0,
                }),
            )
                .into_response(),
        }
    }
}

type Result<T> = std::result::Result<T, TemplatesError>;

/// Tells the alert engine to reload (a template's triggers are rules).
pub fn reload(st: &AppState) {
    if let Ok(h) = st.services.get::<AlertHandle>() {
        h.reload();
    }
}

/// Parses and validates a template body; trigger expressions (macros at their defaults)
/// must also parse as alert rules.
pub fn check_template(body: serde_json::Value) -> Result<Template> {
    let t = wardflux_template::from_value(body).map_err(TemplatesError::Template)?;
    let mut problems = Vec::new();
    let mut rule = |path: String, expr: &str| {
        let Ok(e) = wardflux_template::expand_macros(expr, &t.macros) else {
            return;
        };
        if let Err(e) = wardflux_alert::rule::parse(&e) {
            problems.push(Problem {
                path,
                message: format!("column {}: {}", e.column, e.message),
            });
        }
    };
    for (k, tr) in t.triggers.iter().enumerate() {
        rule(format!("triggers[{k}].expression"), &tr.expression);
    }
    for (j, d) in t.discovery.iter().enumerate() {
        for (k, tr) in d.triggers.iter().enumerate() {
            rule(
                format!("discovery[{j}].triggers[{k}].expression"),
                &tr.expression,
            );
        }
    }
    if problems.is_empty() {
        Ok(t)
    } else {
        Err(TemplatesError::Template(TemplateErrors(problems)))
    }
}

/// List templates (with the devices each is applied to).
#[utoipa::path(get, path = "/api/v1/monitoring/templates", tag = "templates",
    responses((status = 200, body = Vec<MonitoringTemplate>)))]
pub async fn list_templates(
    State(st): State<AppState>,
    _: Viewer,
) -> Result<axum::Json<Vec<MonitoringTemplate>>> {
    Ok(axum::Json(st.store.list_templates().await?))
}

/// Create a template from its JSON (`name`, `items`, `discovery`, `triggers`, `macros`...).
#[utoipa::path(post, path = "/api/v1/monitoring/templates", tag = "templates", request_body = Template,
    responses((status = 201, body = MonitoringTemplate), (status = 409, body = ErrorBody),
              (status = 422, body = TemplateErrorBody)))]
pub async fn create_template(
    State(st): State<AppState>,
    Operator(me): Operator,
    Json(body): Json<serde_json::Value>,
) -> Result<(StatusCode, axum::Json<MonitoringTemplate>)> {
    let t = check_template(body)?;
    let r = st.store.create_template(&me.actor(), t).await?;
    Ok((StatusCode::CREATED, axum::Json(r)))
}

/// Get a template.
#[utoipa::path(get, path = "/api/v1/monitoring/templates/{id}", tag = "templates", params(("id" = Uuid, Path)),
    responses((status = 200, body = MonitoringTemplate), (status = 404, body = ErrorBody)))]
pub async fn get_template(
    State(st): State<AppState>,
    _: Viewer,
    IdPath(id): IdPath,
) -> Result<axum::Json<MonitoringTemplate>> {
    Ok(axum::Json(st.store.get_template(id).await?))
}

/// Replace a template's content; its devices' items and its alert rules follow.
#[utoipa::path(put, path = "/api/v1/monitoring/templates/{id}", operation_id = "replace_template", tag = "templates", params(("id" = Uuid, Path)),
    request_body = Template,
    responses((status = 200, body = MonitoringTemplate), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = TemplateErrorBody)))]
pub async fn update_template(
    State(st): State<AppState>,
    Operator(me): Operator,
    IdPath(id): IdPath,
    Json(body): Json<serde_json::Value>,
) -> Result<axum::Json<MonitoringTemplate>> {
    let t = check_template(body)?;
    let r = st.store.update_template(&me.actor(), id, t).await?;
    reload(&st);
    Ok(axum::Json(r))
}

/// Delete a template and everything it added (items, assignments, alert rules).
#[utoipa::path(delete, path = "/api/v1/monitoring/templates/{id}", tag = "templates", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_template(
    State(st): State<AppState>,
    Operator(me): Operator,
    IdPath(id): IdPath,
) -> Result<StatusCode> {
    st.store.delete_template(&me.actor(), id).await?;
    reload(&st);
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloneInput {
    /// Name of the copy (default: "<name> (copy)").
    #[serde(default)]
    pub name: Option<String>,
}

/// Copy a template (without its devices).
#[utoipa::path(post, path = "/api/v1/monitoring/templates/{id}/clone", tag = "templates", params(("id" = Uuid, Path)),
    request_body(content = Option<CloneInput>),
    responses((status = 201, body = MonitoringTemplate), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn clone_template(
    State(st): State<AppState>,
    Operator(me): Operator,
    IdPath(id): IdPath,
    body: Option<Json<CloneInput>>,
) -> Result<(StatusCode, axum::Json<MonitoringTemplate>)> {
    let name = body.and_then(|Json(b)| b.name);
    let r = st.store.clone_template(&me.actor(), id, name).await?;
    Ok((StatusCode::CREATED, axum::Json(r)))
}

/// The template's JSON as written (what `import` takes).
#[utoipa::path(get, path = "/api/v1/monitoring/templates/{id}/export", tag = "templates", params(("id" = Uuid, Path)),
    responses((status = 200, body = Template), (status = 404, body = ErrorBody)))]
pub async fn export_template(
    State(st): State<AppState>,
    _: Viewer,
    IdPath(id): IdPath,
) -> Result<Response> {
    let t = st.store.get_template(id).await?;
    let file: String = t
        .name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    Ok((
        [(
            axum::http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file}.json\""),
        )],
        axum::Json(t.template),
    )
        .into_response())
}

/// Import a template: replaces the template of the same name (keeping its id, items and
/// devices: 200) or creates it (201).
#[utoipa::path(post, path = "/api/v1/monitoring/templates/import", tag = "templates", request_body = Template,
    responses((status = 200, body = MonitoringTemplate), (status = 201, body = MonitoringTemplate),
              (status = 422, body = TemplateErrorBody)))]
pub async fn import_template(
    State(st): State<AppState>,
    Operator(me): Operator,
    Json(body): Json<serde_json::Value>,
) -> Result<(StatusCode, axum::Json<MonitoringTemplate>)> {
    let t = check_template(body)?;
    let (r, created) = st.store.import_template(&me.actor(), t).await?;
    reload(&st);
    let code = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((code, axum::Json(r)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplyInput {
    pub device_ids: Vec<Uuid>,
    /// Macro overrides for these devices (`{"{$CPU_HIGH}": "50"}`); each must be a macro the
    /// template defines.
    #[serde(default)]
    pub macros: BTreeMap<String, String>,
}

/// Apply a template to devices (bulk). A device that has it already gets the new macros.
#[utoipa::path(post, path = "/api/v1/monitoring/templates/{id}/apply", tag = "templates", params(("id" = Uuid, Path)),
    request_body = ApplyInput,
    responses((status = 200, body = MonitoringTemplate), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn apply_template(
    State(st): State<AppState>,
    Operator(me): Operator,
    IdPath(id): IdPath,
    Json(input): Json<ApplyInput>,
) -> Result<axum::Json<MonitoringTemplate>> {
    let r = st
        .store
        .apply_template(&me.actor(), id, &input.device_ids, &input.macros)
        .await?;
    reload(&st);
    Ok(axum::Json(r))
}

/// Both ids of `/templates/{id}/devices/{device_id}`; a malformed one is a 400 naming it.
pub struct TemplateDevicePath(pub Uuid, pub Uuid);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for TemplateDevicePath {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> std::result::Result<Self, Self::Rejection> {
        let axum::extract::Path((a, b)): axum::extract::Path<(String, String)> =
            axum::extract::Path::from_request_parts(parts, state)
                .await
                .map_err(|_| ApiError::bad_request(Some("id"), "missing path ids"))?;
        let a = a
            .parse()
            .map_err(|_| ApiError::bad_request(Some("id"), "must be a UUID"))?;
        let b = b
            .parse()
            .map_err(|_| ApiError::bad_request(Some("device_id"), "must be a UUID"))?;
        Ok(TemplateDevicePath(a, b))
    }
}

/// Remove a template from a device: its items there and the device from its alert rules.
#[utoipa::path(delete, path = "/api/v1/monitoring/templates/{id}/devices/{device_id}", operation_id = "unapply_template", tag = "templates",
    params(("id" = Uuid, Path), ("device_id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn unapply_template(
    State(st): State<AppState>,
    Operator(me): Operator,
    TemplateDevicePath(id, device_id): TemplateDevicePath,
) -> Result<StatusCode> {
    st.store
        .unapply_template(&me.actor(), id, device_id)
        .await?;
    reload(&st);
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ItemParams {
    pub device_id: Option<Uuid>,
}

/// Monitoring items: the stored items of the device (or of all devices) with their last
/// state from the poller; `pending` before their first poll or while the poller is not
/// running. Discovered rows' items appear once the poller has discovered them.
#[utoipa::path(get, path = "/api/v1/monitoring/items", operation_id = "list_monitoring_items", tag = "templates", params(ItemParams),
    responses((status = 200, body = Vec<ItemState>)))]
pub async fn list_items(
    State(st): State<AppState>,
    _: Viewer,
    Query(p): Query<ItemParams>,
) -> Result<axum::Json<Vec<ItemState>>> {
    Ok(axum::Json(item_states(&st, p.device_id).await?))
}

/// The stored items of a device (or all) merged with the poller's live state (the API's
/// `/monitoring/items` and the UI's device page).
pub async fn item_states(
    st: &AppState,
    device_id: Option<Uuid>,
) -> std::result::Result<Vec<ItemState>, ApiError> {
    let stored = st.store.list_items(device_id).await?;
    let live: Vec<ItemState> = st
        .services
        .get::<Arc<dyn ItemStates>>()
        .map(|s| s.item_states(device_id))
        .unwrap_or_default();
    let mut by_id: BTreeMap<Uuid, ItemState> = live.into_iter().map(|s| (s.item_id, s)).collect();
    let mut out = Vec::with_capacity(stored.len() + by_id.len());
    for i in stored {
        out.push(by_id.remove(&i.id).unwrap_or(ItemState {
            item_id: i.id,
            device_id: i.device_id,
            key: i.key,
            name: i.name,
            oid: i.oid,
            value_type: i.value_type,
            labels: BTreeMap::new(),
            status: ItemStatus::Pending,
            error: None,
            last_value: None,
            last_polled: None,
        }));
    }
    // Discovered rows' items (not stored: they come and go with the table).
    out.extend(by_id.into_values());
    Ok(out)
}
