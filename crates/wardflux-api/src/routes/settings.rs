//! `/api/v1/settings/*` and `/api/v1/zabbix/*`: the monitoring mode (standalone, zabbix,
//! hybrid; switched at runtime), the Zabbix connection (secrets write-only) with its test,
//! and the Zabbix sync status.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use wardflux_model::MonitoringMode;
use wardflux_model::inventory::{FieldError, MonitoringProfile};
use wardflux_model::zabbix::{ZabbixAuthKind, ZabbixSettings, ZabbixSettingsInput, ZabbixStatus};
use wardflux_store::ZabbixConnection;
use wardflux_zabbix::import::{ImportError, ImportOptions, import};
use wardflux_zabbix::source::{ZabbixSource, config_of};
use wardflux_zabbix::{ZabbixClient, ZabbixError};

use crate::auth::{Admin, Viewer};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::Json;
use crate::state::AppState;

/// The monitoring mode.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Mode {
    pub mode: MonitoringMode,
}

/// The monitoring mode: `standalone` (our engine), `zabbix` (everything read from Zabbix),
/// `hybrid` (both, one device list).
#[utoipa::path(get, path = "/api/v1/settings/mode", operation_id = "get_monitoring_mode", tag = "settings",
    responses((status = 200, body = Mode)))]
pub async fn get_mode(State(st): State<AppState>, _: Viewer) -> ApiResult<axum::Json<Mode>> {
    Ok(axum::Json(Mode {
        mode: st.store.monitoring_profile().await?.mode,
    }))
}

/// Switch the monitoring mode at runtime (admin, audited). `zabbix` and `hybrid` need a
/// stored Zabbix connection (`PUT /api/v1/settings/zabbix`) first.
#[utoipa::path(put, path = "/api/v1/settings/mode", operation_id = "set_monitoring_mode", tag = "settings", request_body = Mode,
    responses((status = 200, body = Mode), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "Zabbix is not configured")))]
pub async fn put_mode(
    State(st): State<AppState>,
    Admin(me): Admin,
    Json(req): Json<Mode>,
) -> ApiResult<axum::Json<Mode>> {
    let p = set_mode(&st, &me.actor(), req.mode).await?;
    Ok(axum::Json(Mode { mode: p.mode }))
}

/// Sets the mode (the API's two routes and the UI share it): refuses Zabbix modes without a
/// connection, then wakes the Zabbix source so the change takes effect at once.
pub async fn set_mode(
    st: &AppState,
    actor: &wardflux_store::Actor,
    mode: MonitoringMode,
) -> ApiResult<MonitoringProfile> {
    if mode != MonitoringMode::Standalone && st.store.zabbix_settings().await?.is_none() {
        return Err(ApiError::Conflict {
            field: "mode".into(),
            message: format!(
                "mode {}: configure the Zabbix connection first (PUT /api/v1/settings/zabbix)",
                mode.as_str()
            ),
        });
    }
    let p = st.store.set_monitoring_mode(actor, mode).await?;
    if let Ok(z) = st.services.get::<ZabbixSource>() {
        z.wake();
    }
    Ok(p)
}

/// The stored Zabbix connection (never its password or token).
#[utoipa::path(get, path = "/api/v1/settings/zabbix", operation_id = "get_zabbix_settings", tag = "settings",
    responses((status = 200, body = ZabbixSettings), (status = 404, body = ErrorBody, description = "not configured")))]
pub async fn get_zabbix(
    State(st): State<AppState>,
    _: Admin,
) -> ApiResult<axum::Json<ZabbixSettings>> {
    st.store
        .zabbix_settings()
        .await?
        .map(axum::Json)
        .ok_or_else(|| ApiError::NotFound("Zabbix connection".into()))
}

/// Store the Zabbix connection: `{"url", "username", "password"}` or `{"url", "api_token"}`
/// (secrets encrypted, write-only; the same user without a password keeps the stored one).
#[utoipa::path(put, path = "/api/v1/settings/zabbix", operation_id = "set_zabbix_settings", tag = "settings",
    request_body = ZabbixSettingsInput,
    responses((status = 200, body = ZabbixSettings), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn put_zabbix(
    State(st): State<AppState>,
    Admin(me): Admin,
    Json(input): Json<ZabbixSettingsInput>,
) -> ApiResult<axum::Json<ZabbixSettings>> {
    let s = st.store.set_zabbix_settings(&me.actor(), input).await?;
    if let Ok(z) = st.services.get::<ZabbixSource>() {
        z.wake();
    }
    Ok(axum::Json(s))
}

/// The outcome of a connection test.
#[derive(Debug, Serialize, ToSchema)]
pub struct ZabbixTest {
    pub ok: bool,
    /// Zabbix' version, when it answered.
    pub version: Option<String>,
    /// `unreachable`, `timeout`, `not_zabbix`, `wrong_credentials`, `blocked`...
    pub error_kind: Option<String>,
    pub error: Option<String>,
}

/// Test a Zabbix connection: the one in the body (unsaved; a missing password is taken from
/// the stored connection of the same user), or the stored one. Answers 200 with `ok` and
/// Zabbix' version, or `ok: false` with the error's kind and message.
#[utoipa::path(post, path = "/api/v1/settings/zabbix/test", operation_id = "test_zabbix_connection", tag = "settings",
    request_body(content = Option<ZabbixSettingsInput>, description = "optional: test these settings instead of the stored ones"),
    responses((status = 200, body = ZabbixTest), (status = 404, body = ErrorBody, description = "nothing to test"),
        (status = 422, body = ErrorBody)))]
pub async fn test_zabbix(
    State(st): State<AppState>,
    _: Admin,
    body: Option<Json<ZabbixSettingsInput>>,
) -> ApiResult<axum::Json<ZabbixTest>> {
    let stored = st.store.zabbix_connection().await?;
    let conn = match body {
        None => stored.ok_or_else(|| ApiError::NotFound("Zabbix connection".into()))?,
        Some(Json(input)) => unsaved_connection(input, stored)?,
    };
    Ok(axum::Json(match ZabbixSource::test(&conn).await {
        Ok(v) => ZabbixTest {
            ok: true,
            version: Some(v),
            error_kind: None,
            error: None,
        },
        Err(e) => ZabbixTest {
            ok: false,
            version: None,
            error_kind: Some(e.kind().into()),
            error: Some(e.to_string()),
        },
    }))
}

/// The connection `input` describes, its secret kept from `stored` where the input may keep
/// it (validated as a `PUT` would be).
pub fn unsaved_connection(
    input: ZabbixSettingsInput,
    stored: Option<ZabbixConnection>,
) -> Result<ZabbixConnection, ApiError> {
    let auth = input.validate(stored.as_ref().map(|c| &c.settings))?;
    let sent = match auth {
        ZabbixAuthKind::Password => input.password.clone(),
        ZabbixAuthKind::ApiToken => input.api_token.clone(),
    }
    .filter(|s| !s.is_empty());
    let secret = match (sent, stored) {
        (Some(s), _) => s,
        (None, Some(c)) => c.secret,
        (None, None) => return Err(FieldError::new("password", "required").into()),
    };
    Ok(ZabbixConnection {
        settings: ZabbixSettings {
            url: input.url.trim().to_string(),
            auth,
            username: input.username.map(|u| u.trim().to_string()),
            has_password: auth == ZabbixAuthKind::Password,
            has_api_token: auth == ZabbixAuthKind::ApiToken,
            sync_interval_s: input
                .sync_interval_s
                .unwrap_or(wardflux_model::zabbix::DEFAULT_SYNC_INTERVAL_S),
            timeout_s: input
                .timeout_s
                .unwrap_or(wardflux_model::zabbix::DEFAULT_TIMEOUT_S),
            updated_at: chrono::Utc::now(),
        },
        secret,
    })
}

/// Where the Zabbix data stands: last sync, whether what is shown is stale and how old,
/// and why the last sync failed.
#[utoipa::path(get, path = "/api/v1/zabbix/status", operation_id = "get_zabbix_sync_status", tag = "settings",
    responses((status = 200, body = ZabbixStatus), (status = 503, body = ErrorBody)))]
pub async fn zabbix_status(
    State(st): State<AppState>,
    _: Viewer,
) -> ApiResult<axum::Json<ZabbixStatus>> {
    Ok(axum::Json(st.services.get::<ZabbixSource>()?.status()))
}

/// `Warning: 110 - "Response is Stale"` (RFC 7234) naming the age and cause, for answers that
/// include Zabbix data the last sync could not refresh; `None` when it is fresh or unused.
pub fn stale_warning(st: &AppState) -> axum::http::HeaderMap {
    let mut h = axum::http::HeaderMap::new();
    let Ok(z) = st.services.get::<ZabbixSource>() else {
        return h;
    };
    let s = z.status();
    if s.active && s.stale {
        let text = format!(
            "110 wardflux \"Zabbix data is {} s old: {}\"",
            s.age_s.unwrap_or(-1),
            s.error_kind.as_deref().unwrap_or("sync failed")
        );
        if let Ok(v) = axum::http::HeaderValue::from_str(&text) {
            h.insert(axum::http::header::WARNING, v);
        }
    }
    h
}

/// What to bring over from Zabbix.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportRequest {
    /// Plan only: the answer says what would change, nothing is written.
    #[serde(default)]
    pub dry_run: bool,
    /// Zabbix host groups to import (empty: all).
    #[serde(default)]
    pub groups: Vec<String>,
    /// More Zabbix template name -> our template name entries, over the built-in table.
    #[serde(default)]
    pub template_map: std::collections::BTreeMap<String, String>,
}

/// Migrate from Zabbix (admin): its SNMP hosts become standalone devices with their groups,
/// SNMP credential (`{$MACROS}` resolved) and our templates in place of theirs (by name).
/// A host whose address is a device already is left alone, so a rerun changes nothing.
/// Uses the stored connection (`PUT /api/v1/settings/zabbix`).
#[utoipa::path(post, path = "/api/v1/zabbix/import", operation_id = "import_from_zabbix", tag = "settings",
    request_body(content = Option<ImportRequest>),
    responses((status = 200, body = Object, description = "created, unchanged and skipped hosts, groups created"),
        (status = 409, body = ErrorBody, description = "Zabbix is not configured"),
        (status = 502, body = ErrorBody, description = "Zabbix refused or did not answer")))]
pub async fn import_from_zabbix(
    State(st): State<AppState>,
    Admin(me): Admin,
    body: Option<Json<ImportRequest>>,
) -> ApiResult<axum::Json<serde_json::Value>> {
    let req = body.map(|Json(b)| b).unwrap_or_default();
    let conn = st
        .store
        .zabbix_connection()
        .await?
        .ok_or_else(|| ApiError::Conflict {
            field: "url".into(),
            message: "configure the Zabbix connection first (PUT /api/v1/settings/zabbix)".into(),
        })?;
    let upstream = |e: ZabbixError| ApiError::Upstream(format!("Zabbix ({}): {e}", e.kind()));
    let client = ZabbixClient::new(config_of(&conn)).map_err(upstream)?;
    let opts = ImportOptions {
        groups: req.groups,
        dry_run: req.dry_run,
        template_map: req.template_map,
    };
    let report = match import(&st.store, &client, &me.actor(), &opts).await {
        Ok(r) => r,
        Err(ImportError::Zabbix(e)) => return Err(upstream(e)),
        Err(ImportError::Store(e)) => return Err(e.into()),
    };
    Ok(axum::Json(
        serde_json::to_value(report).map_err(|e| ApiError::Unexpected(Box::new(e)))?,
    ))
}

/// This module's routes and their OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_mode, put_mode))
        .routes(routes!(get_zabbix, put_zabbix))
        .routes(routes!(test_zabbix))
        .routes(routes!(zabbix_status))
        .routes(routes!(import_from_zabbix))
}
