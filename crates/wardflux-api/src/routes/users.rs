//! `/api/v1/users`: user management (admin only; anyone may change their own password).

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use wardflux_model::inventory::{Role, Secret, User};

use uuid::Uuid;

use crate::auth::{Admin, CurrentUser, Viewer};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{IdPath, Json};
use crate::state::AppState;
use utoipa_axum::{router::OpenApiRouter, routes};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    pub username: String,
    #[schema(value_type = String, format = Password)]
    pub password: Secret,
    pub role: Role,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    #[serde(default)]
    pub role: Option<Role>,
    #[serde(default)]
    pub disabled: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPassword {
    #[schema(value_type = String, format = Password)]
    pub password: Secret,
}

/// List users.
#[utoipa::path(get, path = "/api/v1/users", tag = "users",
    responses((status = 200, body = Vec<User>), (status = 403, body = ErrorBody)))]
pub async fn list_users(State(st): State<AppState>, _: Admin) -> ApiResult<axum::Json<Vec<User>>> {
    Ok(axum::Json(st.store.list_users().await?))
}

/// Create a user.
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = CreateUser,
    responses((status = 201, body = User), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_user(
    State(st): State<AppState>,
    Admin(me): Admin,
    Json(req): Json<CreateUser>,
) -> ApiResult<(StatusCode, axum::Json<User>)> {
    let u = st
        .store
        .create_user(&me.actor(), &req.username, &req.password, req.role)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(u)))
}

/// Get a user.
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = User), (status = 404, body = ErrorBody)))]
pub async fn get_user(
    State(st): State<AppState>,
    _: Admin,
    IdPath(id): IdPath,
) -> ApiResult<axum::Json<User>> {
    Ok(axum::Json(st.store.get_user(id).await?))
}

/// Change a user's role or disable them.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", params(("id" = uuid::Uuid, Path)),
    request_body = UpdateUser,
    responses((status = 200, body = User), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update_user(
    State(st): State<AppState>,
    Admin(me): Admin,
    IdPath(id): IdPath,
    Json(req): Json<UpdateUser>,
) -> ApiResult<axum::Json<User>> {
    Ok(axum::Json(
        update_user_as(&st, &me, id, req.role, req.disabled).await?,
    ))
}

/// Changes user `id`'s role or disables them, as admin `me` (who cannot demote or disable
/// themselves); their cached credentials are dropped. Shared by the API and the UI.
pub async fn update_user_as(
    st: &AppState,
    me: &CurrentUser,
    id: Uuid,
    role: Option<Role>,
    disabled: Option<bool>,
) -> ApiResult<User> {
    if id == me.user.id && (disabled == Some(true) || role.is_some_and(|r| r != Role::Admin)) {
        return Err(ApiError::Conflict {
            field: "role".into(),
            message: "you cannot demote or disable yourself".into(),
        });
    }
    let u = st
        .store
        .update_user(&me.actor(), id, role, disabled)
        .await?;
    st.credentials_changed();
    Ok(u)
}

/// Delete a user.
#[utoipa::path(delete, path = "/api/v1/users/{id}", tag = "users", params(("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_user(
    State(st): State<AppState>,
    Admin(me): Admin,
    IdPath(id): IdPath,
) -> ApiResult<StatusCode> {
    delete_user_as(&st, &me, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes user `id` as admin `me` (not themselves). Shared by the API and the UI.
pub async fn delete_user_as(st: &AppState, me: &CurrentUser, id: Uuid) -> ApiResult<()> {
    if id == me.user.id {
        return Err(ApiError::Conflict {
            field: "id".into(),
            message: "you cannot delete yourself".into(),
        });
    }
    st.store.delete_user(&me.actor(), id).await?;
    st.credentials_changed();
    Ok(())
}

/// Set a password: admins for anyone, everyone for themselves.
#[utoipa::path(put, path = "/api/v1/users/{id}/password", operation_id = "set_user_password", tag = "users", params(("id" = uuid::Uuid, Path)),
    request_body = SetPassword,
    responses((status = 204), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_password(
    State(st): State<AppState>,
    Viewer(me): Viewer,
    IdPath(id): IdPath,
    Json(req): Json<SetPassword>,
) -> ApiResult<StatusCode> {
    set_password_as(&st, &me, id, &req.password).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sets user `id`'s password as `me` (admins for anyone, everyone for themselves); the old
/// password stops working at once, also for basic auth. Shared by the API and the UI.
pub async fn set_password_as(
    st: &AppState,
    me: &CurrentUser,
    id: Uuid,
    password: &Secret,
) -> ApiResult<()> {
    if id != me.user.id && me.user.role != Role::Admin {
        return Err(ApiError::Forbidden(
            "only admins may set other users' passwords",
        ));
    }
    st.store.set_password(&me.actor(), id, password).await?;
    st.credentials_changed();
    Ok(())
}

/// This module's routes and their OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, update_user, delete_user))
        .routes(routes!(set_password))
}
