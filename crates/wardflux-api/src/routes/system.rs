//! Health, the server's own metrics, and the audit log.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use wardflux_model::inventory::{AuditEntry, Page};

use crate::auth::{Admin, Viewer};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::Query;
use crate::state::{AppState, ComponentHealth, HealthStatus};
use utoipa_axum::{router::OpenApiRouter, routes};

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` when every component is up; `degraded` when one is down or disabled.
    pub status: &'static str,
    /// The configuration store's backend: sqlite or postgres.
    pub store: &'static str,
    pub version: &'static str,
    /// Each component (store, metric store, each monitor and engine) with its state.
    pub components: Vec<ComponentHealth>,
}

/// Health of the server and each of its components; no authentication (for load
/// balancers). 503 only when the configuration store does not answer.
#[utoipa::path(get, path = "/healthz", tag = "system", operation_id = "get_health",
    responses((status = 200, body = Health), (status = 503, body = Health)))]
pub async fn healthz(State(st): State<AppState>) -> impl IntoResponse {
    let store_ok = tokio::time::timeout(std::time::Duration::from_millis(800), st.store.ping())
        .await
        .is_ok_and(|r| r.is_ok());
    let mut components = vec![ComponentHealth {
        name: "store".into(),
        status: if store_ok {
            HealthStatus::Up
        } else {
            HealthStatus::Down
        },
        detail: (!store_ok).then(|| "the configuration database does not answer".into()),
    }];
    components.extend(st.services.health().await);
    let all_up = components.iter().all(|c| c.status == HealthStatus::Up);
    let body = Health {
        status: if all_up { "ok" } else { "degraded" },
        store: st.store.backend(),
        version: env!("CARGO_PKG_VERSION"),
        components,
    };
    let code = if store_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(body))
}

/// The server's own metrics in Prometheus text format (viewer role; use a bearer token
/// or basic auth in the scrape config).
#[utoipa::path(get, path = "/metrics", operation_id = "get_prometheus_metrics", tag = "system",
    responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain"), (status = 401, body = ErrorBody)))]
pub async fn metrics(State(st): State<AppState>, _: Viewer) -> ApiResult<impl IntoResponse> {
    let handle = st
        .metrics
        .as_ref()
        .ok_or_else(|| ApiError::Unexpected("metrics recorder not installed".into()))?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    /// 1-1000, default 100
    pub limit: Option<u64>,
    pub offset: Option<u64>,
}

/// The audit log of configuration changes, newest first.
#[utoipa::path(get, path = "/api/v1/audit", operation_id = "list_audit_events", tag = "system", params(AuditParams),
    responses((status = 200, body = Page<AuditEntry>), (status = 403, body = ErrorBody)))]
pub async fn audit(
    State(st): State<AppState>,
    _: Admin,
    Query(p): Query<AuditParams>,
) -> ApiResult<axum::Json<Page<AuditEntry>>> {
    let limit = p.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::Validation(
            wardflux_model::inventory::FieldError::new("limit", "must be between 1 and 1000"),
        ));
    }
    Ok(axum::Json(
        st.store.list_audit(limit, p.offset.unwrap_or(0)).await?,
    ))
}

/// This module's routes and their OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(metrics))
        .routes(routes!(audit))
}
