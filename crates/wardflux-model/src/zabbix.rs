//! Zabbix as a data source: the connection settings (secrets write-only), the sync status
//! the API and UI show (staleness with its age), and the host records the sync mirrors into
//! the inventory.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::inventory::{FieldError, Secret};

/// Default sync interval, seconds.
pub const DEFAULT_SYNC_INTERVAL_S: u32 = 30;
/// Default timeout of one Zabbix API request, seconds.
pub const DEFAULT_TIMEOUT_S: u32 = 10;

/// How WARD FLUX logs in to Zabbix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ZabbixAuthKind {
    /// `user.login` with a user name and password.
    Password,
    /// An API token (Zabbix 5.4+), no login.
    ApiToken,
}

/// The stored Zabbix connection as the API shows it: never a password or token.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ZabbixSettings {
    /// The frontend's URL or its `api_jsonrpc.php`.
    pub url: String,
    pub auth: ZabbixAuthKind,
    /// With `auth: password`.
    pub username: Option<String>,
    pub has_password: bool,
    pub has_api_token: bool,
    pub sync_interval_s: u32,
    pub timeout_s: u32,
    pub updated_at: DateTime<Utc>,
}

/// `PUT /api/v1/settings/zabbix`: `{"url", "username", "password"}` or `{"url", "api_token"}`.
/// A change that keeps the user name and sends no password keeps the stored one.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ZabbixSettingsInput {
    pub url: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password)]
    pub password: Option<Secret>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password)]
    pub api_token: Option<Secret>,
    /// 5-3600 (default 30).
    #[serde(default)]
    pub sync_interval_s: Option<u32>,
    /// 1-120 (default 10).
    #[serde(default)]
    pub timeout_s: Option<u32>,
}

impl ZabbixSettingsInput {
    /// Checks the fields; `stored` is what is stored now (a password may be kept from it).
    /// Returns the kind of authentication the input asks for.
    pub fn validate(&self, stored: Option<&ZabbixSettings>) -> Result<ZabbixAuthKind, FieldError> {
        let url = self.url.trim();
        if url.is_empty() {
            return Err(FieldError::new("url", "required"));
        }
        let lower = url.to_ascii_lowercase();
        let rest = lower
            .strip_prefix("http://")
            .or_else(|| lower.strip_prefix("https://"))
            .ok_or_else(|| FieldError::new("url", "must start with http:// or https://"))?;
        if rest.is_empty() || rest.starts_with('/') || url.contains(char::is_whitespace) {
            return Err(FieldError::new("url", "must name a host"));
        }
        if let Some(s) = self.sync_interval_s
            && !(5..=3600).contains(&s)
        {
            return Err(FieldError::new("sync_interval_s", "must be 5 to 3600"));
        }
        if let Some(t) = self.timeout_s
            && !(1..=120).contains(&t)
        {
            return Err(FieldError::new("timeout_s", "must be 1 to 120"));
        }
        let user = self.username.as_deref().map(str::trim).unwrap_or("");
        let token = self.api_token.as_ref().filter(|t| !t.is_empty());
        match (user.is_empty(), token) {
            (false, Some(_)) => Err(FieldError::new(
                "api_token",
                "give either username and password or api_token, not both",
            )),
            (true, Some(_)) => Ok(ZabbixAuthKind::ApiToken),
            (true, None) => {
                // The token may be kept: same kind as stored, nothing new sent.
                if self.password.is_none()
                    && stored.is_some_and(|s| s.auth == ZabbixAuthKind::ApiToken && s.has_api_token)
                {
                    Ok(ZabbixAuthKind::ApiToken)
                } else {
                    Err(FieldError::new(
                        "username",
                        "give username and password, or api_token",
                    ))
                }
            }
            (false, None) => {
                if user.len() > 255 {
                    return Err(FieldError::new("username", "at most 255 characters"));
                }
                let sent = self.password.as_ref().is_some_and(|p| !p.is_empty());
                let kept = stored.is_some_and(|s| {
                    s.auth == ZabbixAuthKind::Password
                        && s.has_password
                        && s.username.as_deref() == Some(user)
                });
                if sent || kept {
                    Ok(ZabbixAuthKind::Password)
                } else {
                    Err(FieldError::new("password", "required"))
                }
            }
        }
    }
}

/// Where the mirrored data stands: when the last sync succeeded, and whether what the API
/// shows from Zabbix is stale (the last sync failed), with its age.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct ZabbixStatus {
    /// A connection is stored.
    pub configured: bool,
    /// The mode asks for Zabbix data (`zabbix` or `hybrid`).
    pub active: bool,
    /// Zabbix' version, from the last successful sync.
    pub version: Option<String>,
    pub last_sync_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    /// The Zabbix data shown is from the last successful sync, and the sync after it failed.
    pub stale: bool,
    /// Seconds since the last successful sync.
    pub age_s: Option<i64>,
    /// Why the last sync failed: its kind (`unreachable`, `timeout`, `wrong_credentials`...).
    pub error_kind: Option<String>,
    pub error: Option<String>,
    pub hosts: usize,
    pub problems: usize,
    /// API requests of the last sync.
    pub api_calls: u64,
    pub duration_ms: Option<u64>,
}

/// One Zabbix host as the sync writes it into the inventory (`source: zabbix`).
#[derive(Debug, Clone, PartialEq)]
pub struct MirrorHost {
    pub host_id: u64,
    /// The visible name.
    pub name: String,
    /// The technical host name.
    pub hostname: String,
    pub ip: std::net::IpAddr,
    pub enabled: bool,
    /// Host group names.
    pub groups: Vec<String>,
}

/// What a mirror write changed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct MirrorReport {
    /// Zabbix-only hosts added as `source: zabbix` devices.
    pub created: usize,
    pub updated: usize,
    pub removed: usize,
    /// Hosts matched to a standalone device (same IP, else host name) for the first time.
    pub matched: usize,
    /// Standalone devices whose Zabbix host is gone.
    pub unlinked: usize,
    pub unchanged: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(url: &str) -> ZabbixSettingsInput {
        ZabbixSettingsInput {
            url: url.into(),
            username: Some("Admin".into()),
            password: Some(Secret::new("zabbix")),
            ..Default::default()
        }
    }

    #[test]
    fn validation_names_the_field() {
        assert_eq!(
            input("http://z/zabbix").validate(None),
            Ok(ZabbixAuthKind::Password)
        );
        assert_eq!(input("ftp://z").validate(None).unwrap_err().field, "url");
        assert_eq!(input("http://").validate(None).unwrap_err().field, "url");
        let mut i = input("http://z");
        i.password = None;
        assert_eq!(i.validate(None).unwrap_err().field, "password");
        i.api_token = Some(Secret::new("t"));
        assert_eq!(i.validate(None).unwrap_err().field, "api_token");
        i.username = None;
        assert_eq!(i.validate(None), Ok(ZabbixAuthKind::ApiToken));
        let mut i = input("https://z");
        i.sync_interval_s = Some(1);
        assert_eq!(i.validate(None).unwrap_err().field, "sync_interval_s");
    }

    #[test]
    fn a_stored_password_is_kept_for_the_same_user_only() {
        let stored = ZabbixSettings {
            url: "http://z".into(),
            auth: ZabbixAuthKind::Password,
            username: Some("Admin".into()),
            has_password: true,
            has_api_token: false,
            sync_interval_s: 30,
            timeout_s: 10,
            updated_at: Utc::now(),
        };
        let mut i = input("http://z2");
        i.password = None;
        assert_eq!(i.validate(Some(&stored)), Ok(ZabbixAuthKind::Password));
        i.username = Some("other".into());
        assert_eq!(i.validate(Some(&stored)).unwrap_err().field, "password");
    }
}
