//! Handler errors: validation and client mistakes (4xx) versus unexpected failures (500).
//!
//! Every error is answered with a JSON body `{error, message, field?}`; unexpected
//! failures are logged with their detail and answered with a generic message, so
//! internals never reach the client.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use wardflux_model::inventory::FieldError;
use wardflux_store::StoreError;

/// The JSON body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Machine-readable kind: validation_error, bad_request, unauthorized, forbidden,
    /// not_found, conflict, payload_too_large, too_many_requests, not_implemented,
    /// unavailable, internal_error.
    pub error: &'static str,
    pub message: String,
    /// The offending input field, when one is to blame.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// A batch refused as a whole: every item at fault (`row` = its index in the request).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<wardflux_model::inventory::RowError>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Well-formed input that breaks a rule (422).
    #[error("{0}")]
    Validation(FieldError),
    /// Malformed input: bad JSON, wrong type, unknown field, bad query string (400).
    #[error("{message}")]
    BadRequest {
        message: String,
        field: Option<String>,
    },
    #[error("authentication required")]
    Unauthorized(&'static str),
    #[error("forbidden")]
    Forbidden(&'static str),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{message}")]
    Conflict { field: String, message: String },
    /// A batch refused as a whole (409), with every item at fault; nothing was written.
    #[error("{message}")]
    Rows {
        field: String,
        message: String,
        errors: Vec<wardflux_model::inventory::RowError>,
    },
    #[error("too many requests")]
    TooManyRequests { retry_after_s: u64 },
    /// A request body over the route's limit (413).
    #[error("{0}")]
    PayloadTooLarge(String),
    /// A feature that is planned but not built yet (501).
    #[error("{0}")]
    NotImplemented(String),
    /// A service this route needs is not running (503).
    #[error("{0}")]
    Unavailable(String),
    /// A peer server this route relays to (Zabbix) refused or did not answer (502).
    #[error("{0}")]
    Upstream(String),
    /// A failure that is not the client's doing (500); the cause is logged, not sent.
    #[error("unexpected: {0}")]
    Unexpected(#[source] BoxError),
}

/// Any error, kept with its cause chain for the log.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl ApiError {
    /// The HTTP status this error answers with (the UI shows it on its error page).
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } | ApiError::Rows { .. } => StatusCode::CONFLICT,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Upstream(_) => StatusCode::BAD_GATEWAY,
            ApiError::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn bad_request(field: Option<&str>, message: impl Into<String>) -> Self {
        Self::BadRequest {
            message: message.into(),
            field: field.map(str::to_string),
        }
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        Self::Validation(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { entity } => Self::NotFound(entity.to_string()),
            StoreError::Conflict { field, message } => Self::Conflict {
                field: field.to_string(),
                message: message.to_string(),
            },
            StoreError::Invalid(fe) => Self::Validation(fe),
            StoreError::Rows(errors) => Self::Rows {
                field: "result_ids".into(),
                message: format!(
                    "{} of the request's items cannot be applied; nothing was written: {}",
                    errors.len(),
                    errors
                        .iter()
                        .take(5)
                        .map(|e| e.message.clone())
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
                errors,
            },
            other => Self::Unexpected(Box::new(other)),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, error, message, field) = match self {
            ApiError::Validation(fe) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_error",
                format!("{}: {}", fe.field, fe.message),
                Some(fe.field),
            ),
            ApiError::BadRequest { message, field } => {
                (StatusCode::BAD_REQUEST, "bad_request", message, field)
            }
            ApiError::Unauthorized(why) => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                why.to_string(),
                None,
            ),
            ApiError::Forbidden(why) => (StatusCode::FORBIDDEN, "forbidden", why.to_string(), None),
            ApiError::NotFound(what) => (
                StatusCode::NOT_FOUND,
                "not_found",
                format!("{what} not found"),
                None,
            ),
            ApiError::Conflict { field, message } => {
                (StatusCode::CONFLICT, "conflict", message, Some(field))
            }
            ApiError::Rows {
                field,
                message,
                errors,
            } => {
                let body = ErrorBody {
                    error: "conflict",
                    message,
                    field: Some(field),
                    errors,
                };
                return (StatusCode::CONFLICT, Json(body)).into_response();
            }
            ApiError::TooManyRequests { retry_after_s } => {
                let body = ErrorBody {
                    error: "too_many_requests",
                    message: format!("too many failed attempts; retry in {retry_after_s} s"),
                    field: None,
                    errors: Vec::new(),
                };
                return (
                    StatusCode::TOO_MANY_REQUESTS,
                    [("retry-after", retry_after_s.to_string())],
                    Json(body),
                )
                    .into_response();
            }
            ApiError::PayloadTooLarge(why) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                why,
                None,
            ),
            ApiError::NotImplemented(why) => {
                (StatusCode::NOT_IMPLEMENTED, "not_implemented", why, None)
            }
            ApiError::Unavailable(why) => {
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable", why, None)
            }
            ApiError::Upstream(why) => (StatusCode::BAD_GATEWAY, "upstream", why, None),
            ApiError::Unexpected(detail) => {
                let mut chain = detail.to_string();
                let mut cause = detail.source();
                while let Some(c) = cause {
                    chain.push_str(": ");
                    chain.push_str(&c.to_string());
                    cause = c.source();
                }
                tracing::error!(error = %chain, "unexpected error while handling a request");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "internal error; see the server log".to_string(),
                    None,
                )
            }
        };
        let mut resp = (
            status,
            Json(ErrorBody {
                error,
                message,
                field,
                errors: Vec::new(),
            }),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                "www-authenticate",
                axum::http::HeaderValue::from_static("Bearer realm=\"wardflux\""),
            );
        }
        resp
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
