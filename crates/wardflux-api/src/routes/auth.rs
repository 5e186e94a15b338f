//! `/api/v1/auth/*`: login (token + session cookie), logout, who am I, API tokens.

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use wardflux_model::inventory::{ApiToken, Secret, User};

use crate::auth::Viewer;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{IdPath, Json};
use crate::state::AppState;
use utoipa_axum::{router::OpenApiRouter, routes};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    #[schema(value_type = String, format = Password)]
    pub password: Secret,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    /// Use as `Authorization: Bearer <token>`; also set as the session cookie.
    pub token: String,
    pub token_type: &'static str,
    pub expires_at: DateTime<Utc>,
    pub user: User,
}

/// Log in with username and password.
#[utoipa::path(post, path = "/api/v1/auth/login", operation_id = "log_in", tag = "auth",
    request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn login(
    State(st): State<AppState>,
    ConnectInfo(addr): ConnectInfo<std::net::SocketAddr>,
    Json(req): Json<LoginRequest>,
) -> ApiResult<impl IntoResponse> {
    let session = crate::auth::open_session(&st, &req.username, &req.password, addr.ip()).await?;
    let mut headers = HeaderMap::new();
    headers.insert(header::SET_COOKIE, session.cookie);
    Ok((
        headers,
        axum::Json(LoginResponse {
            token: session.token,
            token_type: "Bearer",
            expires_at: session.expires_at,
            user: session.user,
        }),
    ))
}

/// End the current session (revokes the token the request came with).
#[utoipa::path(post, path = "/api/v1/auth/logout", operation_id = "log_out", tag = "auth",
    responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn logout(
    State(st): State<AppState>,
    Viewer(me): Viewer,
) -> ApiResult<impl IntoResponse> {
    if let Some(id) = me.token_id {
        st.store.delete_token(&me.actor(), id).await?;
        st.credentials_changed();
    }
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, crate::auth::CLEAR_SESSION_COOKIE)],
    ))
}

/// The authenticated user.
#[utoipa::path(get, path = "/api/v1/auth/me", operation_id = "get_current_user", tag = "auth",
    responses((status = 200, body = User), (status = 401, body = ErrorBody)))]
pub async fn me(Viewer(me): Viewer) -> axum::Json<User> {
    axum::Json(me.user)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    pub name: String,
    /// Lifetime in days (1-3650); none = no expiry.
    #[serde(default)]
    pub expires_in_days: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NewToken {
    /// Shown once; only its hash is stored.
    pub token: String,
    pub info: ApiToken,
}

/// List your API tokens (never their values).
#[utoipa::path(get, path = "/api/v1/auth/tokens", operation_id = "list_api_tokens", tag = "auth",
    responses((status = 200, body = Vec<ApiToken>), (status = 401, body = ErrorBody)))]
pub async fn list_tokens(
    State(st): State<AppState>,
    Viewer(me): Viewer,
) -> ApiResult<axum::Json<Vec<ApiToken>>> {
    let mut v = st.store.list_tokens(me.user.id).await?;
    v.retain(|t| t.kind == "api");
    Ok(axum::Json(v))
}

/// Create an API token for automation, acting as yourself with your role.
#[utoipa::path(post, path = "/api/v1/auth/tokens", operation_id = "create_api_token", tag = "auth", request_body = TokenRequest,
    responses((status = 201, body = NewToken), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_token(
    State(st): State<AppState>,
    Viewer(me): Viewer,
    Json(req): Json<TokenRequest>,
) -> ApiResult<(StatusCode, axum::Json<NewToken>)> {
    let name = req.name.trim();
    if name.is_empty() || name.chars().count() > 128 {
        return Err(ApiError::Validation(
            wardflux_model::inventory::FieldError::new("name", "must be 1-128 characters"),
        ));
    }
    let expires_at = match req.expires_in_days {
        None => None,
        Some(d) if (1..=3650).contains(&d) => Some(Utc::now() + chrono::Duration::days(d)),
        Some(_) => {
            return Err(ApiError::Validation(
                wardflux_model::inventory::FieldError::new(
                    "expires_in_days",
                    "must be between 1 and 3650",
                ),
            ));
        }
    };
    let (info, token) = st
        .store
        .create_token(&me.actor(), me.user.id, name, "api", expires_at)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(NewToken { token, info })))
}

/// Revoke one of your API tokens (admins may revoke anyone's).
#[utoipa::path(delete, path = "/api/v1/auth/tokens/{id}", operation_id = "delete_api_token", tag = "auth",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_token(
    State(st): State<AppState>,
    Viewer(me): Viewer,
    IdPath(id): IdPath,
) -> ApiResult<StatusCode> {
    let mine = st.store.list_tokens(me.user.id).await?;
    if !mine.iter().any(|t| t.id == id) && me.user.role != wardflux_model::inventory::Role::Admin {
        return Err(ApiError::NotFound("token".into()));
    }
    st.store.delete_token(&me.actor(), id).await?;
    st.credentials_changed();
    Ok(StatusCode::NO_CONTENT)
}

/// This module's routes and their OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(delete_token))
}
