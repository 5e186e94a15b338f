//! `/api/v1/monitoring/*`: the monitoring profile (mode) and SNMP credentials.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use wardflux_model::MonitoringMode;
use wardflux_model::inventory::{MonitoringProfile, SnmpCredential, SnmpCredentialInput};

use crate::auth::{Admin, Viewer};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{IdPath, Json};
use crate::state::AppState;
use utoipa_axum::{router::OpenApiRouter, routes};

/// The active monitoring profile.
#[utoipa::path(get, path = "/api/v1/monitoring/profile", operation_id = "get_monitoring_profile", tag = "monitoring",
    responses((status = 200, body = MonitoringProfile)))]
pub async fn get_profile(
    State(st): State<AppState>,
    _: Viewer,
) -> ApiResult<axum::Json<MonitoringProfile>> {
    Ok(axum::Json(st.store.monitoring_profile().await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetMode {
    pub mode: MonitoringMode,
}

/// Switch the monitoring mode (the seed's path; the same as `PUT /api/v1/settings/mode`).
/// `zabbix` and `hybrid` need a stored Zabbix connection first.
#[utoipa::path(put, path = "/api/v1/monitoring/profile", operation_id = "set_monitoring_profile", tag = "monitoring", request_body = SetMode,
    responses((status = 200, body = MonitoringProfile), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "Zabbix is not configured")))]
pub async fn put_profile(
    State(st): State<AppState>,
    Admin(me): Admin,
    Json(req): Json<SetMode>,
) -> ApiResult<axum::Json<MonitoringProfile>> {
    Ok(axum::Json(
        super::settings::set_mode(&st, &me.actor(), req.mode).await?,
    ))
}

/// List SNMP credentials (never their secrets).
#[utoipa::path(get, path = "/api/v1/monitoring/snmp/credentials", operation_id = "list_snmp_credentials", tag = "monitoring",
    responses((status = 200, body = Vec<SnmpCredential>)))]
pub async fn list_credentials(
    State(st): State<AppState>,
    _: Viewer,
) -> ApiResult<axum::Json<Vec<SnmpCredential>>> {
    Ok(axum::Json(st.store.list_snmp_credentials().await?))
}

/// Store an SNMP credential: a v1/v2c community, or a v3 user with auth and privacy
/// protocols and keys. Secrets are write-only.
#[utoipa::path(post, path = "/api/v1/monitoring/snmp/credentials", operation_id = "create_snmp_credential", tag = "monitoring",
    request_body = SnmpCredentialInput,
    responses((status = 201, body = SnmpCredential), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_credential(
    State(st): State<AppState>,
    Admin(me): Admin,
    Json(input): Json<SnmpCredentialInput>,
) -> ApiResult<(StatusCode, axum::Json<SnmpCredential>)> {
    let c = st.store.create_snmp_credential(&me.actor(), input).await?;
    Ok((StatusCode::CREATED, axum::Json(c)))
}

/// Get an SNMP credential (without secrets).
#[utoipa::path(get, path = "/api/v1/monitoring/snmp/credentials/{id}", operation_id = "get_snmp_credential", tag = "monitoring",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = SnmpCredential), (status = 404, body = ErrorBody)))]
pub async fn get_credential(
    State(st): State<AppState>,
    _: Viewer,
    IdPath(id): IdPath,
) -> ApiResult<axum::Json<SnmpCredential>> {
    Ok(axum::Json(st.store.get_snmp_credential(id).await?))
}

/// Delete an SNMP credential.
#[utoipa::path(delete, path = "/api/v1/monitoring/snmp/credentials/{id}", operation_id = "delete_snmp_credential", tag = "monitoring",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_credential(
    State(st): State<AppState>,
    Admin(me): Admin,
    IdPath(id): IdPath,
) -> ApiResult<StatusCode> {
    st.store.delete_snmp_credential(&me.actor(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// This module's routes and their OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_profile, put_profile))
        .routes(routes!(list_credentials, create_credential))
        .routes(routes!(get_credential, delete_credential))
}
