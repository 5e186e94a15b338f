//! `/api/v1/config`: the whole standalone configuration as one document
//! (`wardflux_store::config`), exported and imported by admins. Secrets are exported only
//! with `include_secrets=true` and a passphrase in the `X-Wardflux-Passphrase` header (never
//! in the URL, which ends up in logs); the same header opens them on import.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use wardflux_alert::config_checks::AlertChecks;
use wardflux_model::inventory::Secret;
use wardflux_store::config::ConfigError;

use crate::auth::Admin;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;
use crate::state::AppState;

/// The header carrying the passphrase of a document's secrets.
pub const PASSPHRASE_HEADER: &str = "x-wardflux-passphrase";

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// Include every secret, encrypted to the passphrase given in `X-Wardflux-Passphrase`.
    #[serde(default)]
    pub include_secrets: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// Only report what would be created, updated or left unchanged.
    #[serde(default)]
    pub dry_run: bool,
}

/// One problem of a refused document.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentProblem {
    /// Where: `devices[3].ip`.
    pub path: String,
    pub message: String,
}

/// A refused document (422): every problem with its path; nothing was written.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentErrors {
    /// `validation_error`.
    pub error: &'static str,
    pub message: String,
    /// The first problem's path.
    pub field: Option<String>,
    pub errors: Vec<DocumentProblem>,
}

/// What an import did or (dry run) would do.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportReportBody {
    pub dry_run: bool,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// New records whose secrets the document did not carry.
    pub needs_secret: u64,
    /// Every record: `{section, key, outcome}` (`created`, `updated`, `unchanged`,
    /// `needs_secret`).
    #[schema(value_type = Vec<Object>)]
    pub entries: Value,
}

/// Errors of these routes: a bad document is a 422 listing every problem.
pub struct ConfigApiError(ConfigError);

impl From<ConfigError> for ConfigApiError {
    fn from(e: ConfigError) -> Self {
        Self(e)
    }
}

fn problems(list: Vec<(String, String)>) -> Response {
    let message = list
        .iter()
        .map(|(p, m)| format!("{p}: {m}"))
        .collect::<Vec<_>>()
        .join("; ");
    let body = DocumentErrors {
        error: "validation_error",
        message,
        field: list.first().map(|p| p.0.clone()),
        errors: list
            .into_iter()
            .map(|(path, message)| DocumentProblem { path, message })
            .collect(),
    };
    (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(body)).into_response()
}

impl IntoResponse for ConfigApiError {
    fn into_response(self) -> Response {
        match self.0 {
            ConfigError::Invalid(list) => {
                problems(list.into_iter().map(|p| (p.path, p.message)).collect())
            }
            ConfigError::WrongPassphrase(_) => problems(vec![(
                "X-Wardflux-Passphrase".into(),
                "wrong passphrase: it does not decrypt this document's secrets".into(),
            )]),
            e @ ConfigError::Decrypt(_) => problems(vec![("secrets".into(), e.to_string())]),
            ConfigError::Apply { at, source, .. } => {
                tracing::warn!(%at, error = %source, "configuration import stopped");
                ApiError::from(source).into_response()
            }
            ConfigError::Store(e) => ApiError::from(e).into_response(),
            e @ ConfigError::Encrypt(_) => ApiError::Unexpected(Box::new(e)).into_response(),
        }
    }
}

fn passphrase(headers: &HeaderMap) -> Result<Option<Secret>, ConfigApiError> {
    match headers.get(PASSPHRASE_HEADER) {
        None => Ok(None),
        Some(v) => {
            let s = v.to_str().map_err(|_| {
                ConfigApiError(ConfigError::Invalid(vec![
                    wardflux_store::config::Problem {
                        path: "X-Wardflux-Passphrase".into(),
                        message: "must be visible ASCII".into(),
                    },
                ]))
            })?;
            if s.is_empty() {
                return Err(ConfigApiError(ConfigError::Invalid(vec![
                    wardflux_store::config::Problem {
                        path: "X-Wardflux-Passphrase".into(),
                        message: "must not be empty".into(),
                    },
                ])));
            }
            Ok(Some(Secret::new(s)))
        }
    }
}

/// Export the whole standalone configuration as one document.
///
/// Without `include_secrets` the document carries no secret (credentials and channels show
/// which secrets they have). With it, the `X-Wardflux-Passphrase` header is required and every
/// secret is in `secrets`, age-encrypted to that passphrase.
#[utoipa::path(get, path = "/api/v1/config/export", operation_id = "export_configuration", tag = "config",
    params(ExportQuery, ("X-Wardflux-Passphrase" = Option<String>, Header, description = "passphrase for include_secrets")),
    responses((status = 200, description = "the configuration document (format wardflux-config, version 1)", body = serde_json::Value),
              (status = 422, body = DocumentErrors)))]
pub async fn export_config(
    State(st): State<AppState>,
    _: Admin,
    Query(q): Query<ExportQuery>,
    headers: HeaderMap,
) -> Result<axum::Json<Value>, ConfigApiError> {
    let pass = passphrase(&headers)?;
    let pass = match (q.include_secrets, pass) {
        (false, _) => None,
        (true, Some(p)) => Some(p),
        (true, None) => {
            return Err(ConfigApiError(ConfigError::Invalid(vec![
                wardflux_store::config::Problem {
                    path: "X-Wardflux-Passphrase".into(),
                    message: "include_secrets needs the passphrase to encrypt them with".into(),
                },
            ])));
        }
    };
    let doc = st.store.export_config(pass.as_ref()).await?;
    Ok(axum::Json(serde_json::to_value(doc).unwrap_or(Value::Null)))
}

/// Import a configuration document: validated as a whole first (422 with every problem's
/// path, nothing written), then merged by natural key: new records created, changed ones
/// updated, nothing deleted. `dry_run=true` only reports.
#[utoipa::path(post, path = "/api/v1/config/import", operation_id = "import_configuration", tag = "config",
    params(ImportQuery, ("X-Wardflux-Passphrase" = Option<String>, Header, description = "opens the document's secrets")),
    request_body = serde_json::Value,
    responses((status = 200, body = ImportReportBody), (status = 400, body = ErrorBody), (status = 422, body = DocumentErrors)))]
pub async fn import_config(
    State(st): State<AppState>,
    Admin(me): Admin,
    Query(q): Query<ImportQuery>,
    headers: HeaderMap,
    Json(doc): Json<Value>,
) -> Result<axum::Json<Value>, ConfigApiError> {
    let pass = passphrase(&headers)?;
    let report = st
        .store
        .import_config(&me.actor(), &doc, pass.as_ref(), &AlertChecks, q.dry_run)
        .await?;
    Ok(axum::Json(
        serde_json::to_value(report).unwrap_or(Value::Null),
    ))
}

/// This module's routes and their OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(export_config))
        .routes(routes!(import_config))
}
