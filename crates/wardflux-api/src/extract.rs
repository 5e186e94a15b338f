//! Request extractors whose rejections are [`ApiError`]s naming the offending field.
//!
//! axum's own `Json`/`Query`/`Path` answer with plain-text bodies; ours go through
//! `serde_path_to_error` so a bad body says which field is wrong, in our JSON shape.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Largest JSON body accepted (bulk imports use their own limit).
pub const MAX_JSON_BYTES: usize = 1024 * 1024;

/// JSON body extractor: 400 with the field path on malformed input, 415 is answered as 400 too.
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let ct = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !ct.starts_with("application/json") {
            return Err(ApiError::bad_request(
                None,
                "expected a JSON body with Content-Type: application/json",
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(body_rejection)?;
        parse_json(&bytes).map(Json)
    }
}

/// An optional JSON body: an empty body is `None`; anything else must be valid JSON.
impl<S: Send + Sync, T: DeserializeOwned> axum::extract::OptionalFromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(body_rejection)?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        parse_json(&bytes).map(|v| Some(Json(v)))
    }
}

/// A body that could not be read: 413 when it is over the limit, else 400.
fn body_rejection(e: axum::extract::rejection::BytesRejection) -> ApiError {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge(format!(
            "request body too large: JSON bodies are limited to {} MiB",
            MAX_JSON_BYTES / (1024 * 1024)
        ))
    } else {
        ApiError::bad_request(None, format!("could not read body: {e}"))
    }
}

/// Parses JSON naming the failing field path.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let msg = inner.to_string();
        // serde reports missing and unknown fields at the parent path; name them.
        let field = field_from_message(&msg).or(if path == "." { None } else { Some(path) });
        ApiError::bad_request(field.as_deref(), format!("invalid JSON body: {msg}"))
    })
}

fn field_from_message(msg: &str) -> Option<String> {
    for prefix in ["missing field `", "unknown field `", "duplicate field `"] {
        if let Some(rest) = msg.strip_prefix(prefix) {
            return rest.split('`').next().map(str::to_string);
        }
    }
    None
}

/// Query-string extractor with field-naming rejections.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let q = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(q.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(Query)
            .map_err(|e| {
                let path = e.path().to_string();
                let msg = e.into_inner().to_string();
                let field =
                    field_from_message(&msg).or(if path == "." { None } else { Some(path) });
                ApiError::bad_request(field.as_deref(), format!("invalid query string: {msg}"))
            })
    }
}

/// A UUID path parameter; a malformed one is a 400 naming `id`.
pub struct IdPath(pub uuid::Uuid);

impl<S: Send + Sync> FromRequestParts<S> for IdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(raw): axum::extract::Path<String> =
            axum::extract::Path::from_request_parts(parts, state)
                .await
                .map_err(|_| ApiError::bad_request(Some("id"), "missing path id"))?;
        raw.parse()
            .map(IdPath)
            .map_err(|_| ApiError::bad_request(Some("id"), "must be a UUID"))
    }
}
