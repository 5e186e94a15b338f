//! Form bodies with repeated fields (`channel=a&channel=b`, checkboxes), which axum's `Form`
//! (serde_urlencoded) cannot put in a `Vec`. Parsed with `form_urlencoded`, the `url` crate's
//! own parser.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Every `name=value` pair of an `application/x-www-form-urlencoded` body, in order.
pub struct Fields(Vec<(String, String)>);

impl Fields {
    pub fn parse(body: &[u8]) -> Self {
        Fields(form_urlencoded::parse(body).into_owned().collect())
    }

    /// The first value of `name`, trimmed ("" when absent).
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.trim())
    }

    /// The first value of `name`, trimmed, or `None` when absent or blank.
    pub fn opt(&self, name: &str) -> Option<String> {
        Some(self.get(name).to_string()).filter(|v| !v.is_empty())
    }

    /// Every non-blank value of `name`.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, v)| k == name && !v.trim().is_empty())
            .map(|(_, v)| v.trim().to_string())
            .collect()
    }

    /// A checkbox: present and not "off"/"false".
    pub fn checked(&self, name: &str) -> bool {
        self.0
            .iter()
            .any(|(k, v)| k == name && v != "off" && v != "false")
    }
}

impl<S: Send + Sync> FromRequest<S> for Fields {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let body = Bytes::from_request(req, state).await.map_err(|e| {
            crate::pages::error_page(StatusCode::PAYLOAD_TOO_LARGE, &e.body_text()).into_response()
        })?;
        Ok(Fields::parse(&body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_fields_and_checkboxes() {
        let f = Fields::parse(b"name=%20cpu+high%20&channel=ops&channel=&channel=noc&enabled=on");
        assert_eq!(f.get("name"), "cpu high");
        assert_eq!(f.all("channel"), vec!["ops", "noc"]);
        assert!(f.checked("enabled"));
        assert!(!f.checked("missing"));
        assert_eq!(f.opt("missing"), None);
    }
}
