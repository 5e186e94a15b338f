//! What can go wrong talking to Zabbix, sorted into the few kinds a user can act on
//! ([`ZabbixError::kind`]): the API shows the kind and the message, the settings page's
//! "test" button shows the same.

use std::time::Duration;

/// An error of the Zabbix client. Transport errors keep their `reqwest` cause, decoding
/// errors their `serde_json` cause; JSON-RPC error objects keep Zabbix's own code, message
/// and data, with the method that failed.
#[derive(Debug, thiserror::Error)]
pub enum ZabbixError {
    /// The configured URL is not an http(s) URL.
    #[error("invalid Zabbix URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    /// Nothing answered at the address (connection refused, no route, DNS failure).
    #[error("cannot reach Zabbix at {url}")]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// A connection was made but no complete answer came within the configured timeout.
    #[error("no answer from Zabbix at {url} within {timeout:?}")]
    Timeout {
        url: String,
        timeout: Duration,
        #[source]
        source: reqwest::Error,
    },
    /// Something answered, but not a Zabbix JSON-RPC API (an HTML page, another service...).
    #[error("{url} is not a Zabbix API ({detail})")]
    NotZabbix { url: String, detail: String },
    /// `user.login` refused the user name and password, or the API token was refused.
    #[error("Zabbix refused the credentials: {message}")]
    WrongCredentials { message: String },
    /// The account is blocked (too many failed logins), as Zabbix says.
    #[error("the Zabbix account is blocked: {message}")]
    Blocked { message: String },
    /// The session ended (logged out, expired) and logging in again did not help.
    #[error(
        "the Zabbix session ended during {method} and logging in again did not help: {message}"
    )]
    SessionExpired { method: String, message: String },
    /// A JSON-RPC error object: Zabbix refused the call.
    #[error("Zabbix API error in {method}: {message} {data} (code {code})")]
    Api {
        method: String,
        code: i64,
        message: String,
        data: String,
    },
    /// The answer was JSON-RPC but its `result` did not have the expected shape.
    #[error("cannot decode Zabbix's answer to {method}")]
    Decode {
        method: String,
        #[source]
        source: serde_json::Error,
    },
    /// A named object (a host group...) does not exist in Zabbix.
    #[error("Zabbix has no {what}")]
    NotFound { what: String },
    /// The server's version or the request is outside what this client handles.
    #[error("unsupported: {0}")]
    Unsupported(String),
}

impl ZabbixError {
    /// A stable one-word kind for the API and the UI: `unreachable`, `timeout`, `not_zabbix`,
    /// `wrong_credentials`, `blocked`, `session_expired`, `api`, `decode`, `unsupported`,
    /// `invalid_url`, `not_found`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::InvalidUrl { .. } => "invalid_url",
            Self::Unreachable { .. } => "unreachable",
            Self::Timeout { .. } => "timeout",
            Self::NotZabbix { .. } => "not_zabbix",
            Self::WrongCredentials { .. } => "wrong_credentials",
            Self::Blocked { .. } => "blocked",
            Self::SessionExpired { .. } => "session_expired",
            Self::Api { .. } => "api",
            Self::Decode { .. } => "decode",
            Self::Unsupported(_) => "unsupported",
            Self::NotFound { .. } => "not_found",
        }
    }
}
