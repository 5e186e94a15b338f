//! `/api/v1/device-groups`: named sets of devices (branches, regions, roles).

use axum::extract::State;
use axum::http::StatusCode;
use wardflux_model::inventory::{DeviceGroup, DeviceGroupInput};

use crate::auth::{Admin, Viewer};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{IdPath, Json};
use crate::state::AppState;
use utoipa_axum::{router::OpenApiRouter, routes};

/// List device groups.
#[utoipa::path(get, path = "/api/v1/device-groups", operation_id = "list_device_groups", tag = "device-groups",
    responses((status = 200, body = Vec<DeviceGroup>)))]
pub async fn list_groups(
    State(st): State<AppState>,
    _: Viewer,
) -> ApiResult<axum::Json<Vec<DeviceGroup>>> {
    Ok(axum::Json(st.store.list_groups().await?))
}

/// Create a device group.
#[utoipa::path(post, path = "/api/v1/device-groups", operation_id = "create_device_group", tag = "device-groups", request_body = DeviceGroupInput,
    responses((status = 201, body = DeviceGroup), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_group(
    State(st): State<AppState>,
    Admin(me): Admin,
    Json(input): Json<DeviceGroupInput>,
) -> ApiResult<(StatusCode, axum::Json<DeviceGroup>)> {
    let g = st.store.create_group(&me.actor(), input).await?;
    Ok((StatusCode::CREATED, axum::Json(g)))
}

/// Get a device group.
#[utoipa::path(get, path = "/api/v1/device-groups/{id}", operation_id = "get_device_group", tag = "device-groups", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = DeviceGroup), (status = 404, body = ErrorBody)))]
pub async fn get_group(
    State(st): State<AppState>,
    _: Viewer,
    IdPath(id): IdPath,
) -> ApiResult<axum::Json<DeviceGroup>> {
    Ok(axum::Json(st.store.get_group(id).await?))
}

/// Replace a device group (name, description, members).
#[utoipa::path(put, path = "/api/v1/device-groups/{id}", operation_id = "replace_device_group", tag = "device-groups", params(("id" = uuid::Uuid, Path)),
    request_body = DeviceGroupInput,
    responses((status = 200, body = DeviceGroup), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_group(
    State(st): State<AppState>,
    Admin(me): Admin,
    IdPath(id): IdPath,
    Json(input): Json<DeviceGroupInput>,
) -> ApiResult<axum::Json<DeviceGroup>> {
    Ok(axum::Json(
        st.store.update_group(&me.actor(), id, input).await?,
    ))
}

/// Delete a device group (its devices stay).
#[utoipa::path(delete, path = "/api/v1/device-groups/{id}", operation_id = "delete_device_group", tag = "device-groups", params(("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_group(
    State(st): State<AppState>,
    Admin(me): Admin,
    IdPath(id): IdPath,
) -> ApiResult<StatusCode> {
    st.store.delete_group(&me.actor(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// This module's routes and their OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_groups, create_group))
        .routes(routes!(get_group, update_group, delete_group))
}
