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
        // application/json, and the +json types such as application/merge-patch+json.
        let media = ct.split(';').next().unwrap_or("").trim();
        let json = media == "application/json"
            || (media.starts_with("application/") && media.ends_with("+json"));
        if !json {
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

/// Parses JSON naming the failing field path, in the user's terms (see [`plain_message`]).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            None,
            "empty body: expected a JSON object",
        ));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::bad_request(None, format!("the body is not valid JSON: {inner}"));
        }
        json_error(&path, &inner.to_string())
    })
}

/// Deserialises an already parsed JSON value (a merged PATCH body), with the same errors
/// as [`parse_json`].
pub fn from_json_value<T: DeserializeOwned>(v: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        json_error(&path, &e.into_inner().to_string())
    })
}

fn json_error(path: &str, serde_msg: &str) -> ApiError {
    // serde reports missing and unknown fields at the parent path; name them.
    let field = field_from_message(serde_msg).or(if path == "." {
        None
    } else {
        Some(path.to_string())
    });
    let msg = plain_message(serde_msg);
    let message = match &field {
        Some(f) => format!("{f}: {msg}"),
        None => format!("body: {msg}"),
    };
    ApiError::bad_request(field.as_deref(), message)
}

/// serde's wording (`invalid type: string "x", expected i32`, `invalid length 0, expected
/// struct DeviceInput with 14 elements`) in the words of someone writing JSON by hand:
/// what the field must be and what it got. Messages of our own deserialisers (vocabularies,
/// UUIDs) pass through.
pub fn plain_message(serde_msg: &str) -> String {
    // serde_json appends the position when parsing text; the field path says more.
    let msg = match serde_msg.rfind(" at line ") {
        Some(i) if serde_msg[i..].contains(" column ") => &serde_msg[..i],
        _ => serde_msg,
    };
    if msg.starts_with("missing field `") {
        return "is required".into();
    }
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        return match rest.split_once(", expected one of ") {
            Some((_, accepted)) => format!(
                "is not a field here; the fields are {}",
                accepted.replace('`', "")
            ),
            None => "is not a field here".into(),
        };
    }
    if let Some(rest) = msg.strip_prefix("unknown variant `")
        && let Some((got, expected)) = rest.split_once("`, expected ")
    {
        return format!(
            "must be {} (got {:?})",
            truncate(&expected.replace('`', ""), 200),
            truncate(got, 64)
        );
    }
    if msg.starts_with("duplicate field `") {
        return "is given twice".into();
    }
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = msg.strip_prefix(prefix)
            && let Some((got, expected)) = rest.rsplit_once(", expected ")
        {
            return format!(
                "must be {} (got {})",
                plain_expected(expected),
                plain_got(got)
            );
        }
    }
    if let Some(rest) = msg.strip_prefix("invalid length ")
        && let Some((_, expected)) = rest.split_once(", expected ")
    {
        if expected.starts_with("struct ") {
            return "must be a JSON object with named fields, not a list".into();
        }
        return format!("must be {}", plain_expected(expected));
    }
    // Query strings: the value is text parsed with FromStr.
    if msg == "invalid digit found in string" || msg.starts_with("number too large") {
        return "must be a whole number in range".into();
    }
    if msg == "invalid float literal" {
        return "must be a number".into();
    }
    if msg == "provided string was not `true` or `false`" {
        return "must be true or false".into();
    }
    if msg.starts_with("UUID parsing failed") || msg.starts_with("invalid character") {
        return "must be a UUID such as 0b6c1a32-4c1e-4f7e-9d1a-2f4e5c6b7a80".into();
    }
    truncate(msg, 200)
}

fn plain_expected(expected: &str) -> String {
    let e = expected.trim();
    match e {
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number".into(),
        "u8" => "a whole number from 0 to 255".into(),
        "u16" => "a whole number from 0 to 65535".into(),
        "u32" | "u64" | "usize" => "a whole number, 0 or more".into(),
        "f32" | "f64" => "a number".into(),
        "a string" | "a borrowed string" => "a string".into(),
        "a boolean" => "true or false".into(),
        "a sequence" => "a list (JSON array)".into(),
        "a map" => "a JSON object".into(),
        "a UUID string" => "a UUID such as 0b6c1a32-4c1e-4f7e-9d1a-2f4e5c6b7a80".into(),
        "a formatted date and time string or a unix timestamp"
        | "a formatted date and time string" => {
            "a date and time such as 2026-01-31T12:00:00Z".into()
        }
        _ if e.starts_with("struct ") => "a JSON object".into(),
        _ if e.starts_with("a sequence") || e.starts_with("a tuple") => {
            "a list (JSON array)".into()
        }
        _ => truncate(e, 200),
    }
}

fn plain_got(got: &str) -> String {
    let g = got.trim();
    if let Some(s) = g.strip_prefix("string ") {
        return format!("the string {}", truncate(s, 64));
    }
    for (prefix, word) in [
        ("integer ", "the number "),
        ("floating point ", "the number "),
    ] {
        if let Some(n) = g.strip_prefix(prefix) {
            return format!("{word}{}", n.trim_matches('`'));
        }
    }
    match g {
        "null" => "null".into(),
        "map" => "an object".into(),
        "sequence" => "a list".into(),
        "boolean `true`" => "true".into(),
        "boolean `false`" => "false".into(),
        _ => truncate(g, 64),
    }
}

/// At most `max` characters of user input echoed back, marked when cut.
fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
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
                let plain = plain_message(&msg);
                let message = match &field {
                    Some(f) => format!("query parameter {f}: {plain}"),
                    None => format!("query string: {plain}"),
                };
                ApiError::bad_request(field.as_deref(), message)
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
