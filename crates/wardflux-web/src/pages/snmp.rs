//! SNMP credentials from the UI (admin): one per device on the device page, shared ones on
//! Settings (used by every device without its own). Secrets are write-only: the pages say
//! whether a community or key is set, never what it is. Replacing a device's credential
//! stores the new one first and only then removes the old one, so a refused form loses
//! nothing.

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::post;
use uuid::Uuid;
use wardflux_api::AppState;
use wardflux_api::error::ApiError;
use wardflux_model::inventory::{Role, Secret, SnmpCredential, SnmpCredentialInput};
use wardflux_model::snmp::{AuthProtocol, PrivProtocol, SecurityLevel, SnmpVersion};

use super::action;
use crate::form::Fields;
use crate::session::Page;
use crate::view;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/devices/{id}/snmp", post(set_for_device))
        .route("/devices/{id}/snmp/delete", post(clear_for_device))
        .route("/settings/snmp", post(add_shared))
        .route("/settings/snmp/{id}/delete", post(delete_shared))
}

/// The options of the credential form's selects.
pub struct Choices {
    pub versions: Vec<&'static str>,
    pub levels: Vec<&'static str>,
    pub auth: Vec<&'static str>,
    pub privacy: Vec<&'static str>,
}

impl Default for Choices {
    fn default() -> Self {
        Self {
            versions: SnmpVersion::ALL.iter().map(|v| v.as_str()).collect(),
            levels: SecurityLevel::ALL.iter().map(|v| v.as_str()).collect(),
            auth: AuthProtocol::ALL.iter().map(|v| v.as_str()).collect(),
            privacy: PrivProtocol::ALL.iter().map(|v| v.as_str()).collect(),
        }
    }
}

/// A credential as the pages show it: what it is and which secrets are set.
pub fn describe(c: &SnmpCredential) -> String {
    match c.version {
        SnmpVersion::V3 => format!(
            "v3, user {}, {}{}{}",
            c.username.as_deref().unwrap_or("?"),
            c.security_level.map_or("noAuthNoPriv", |l| l.as_str()),
            c.auth_protocol
                .map(|p| format!(
                    ", auth {p}{}",
                    if c.has_auth_key { " (key set)" } else { "" }
                ))
                .unwrap_or_default(),
            c.priv_protocol
                .map(|p| format!(
                    ", privacy {p}{}",
                    if c.has_priv_key { " (key set)" } else { "" }
                ))
                .unwrap_or_default(),
        ),
        v => format!(
            "{v}, community {}",
            if c.has_community { "set" } else { "not set" }
        ),
    }
}

pub(super) fn pick<T: std::str::FromStr>(
    f: &Fields,
    field: &'static str,
) -> Result<Option<T>, ApiError> {
    match f.opt(field) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| {
            ApiError::bad_request(
                Some(field),
                format!("{field}: unknown value {:?}", view::clip(&v, 32)),
            )
        }),
    }
}

/// The form's fields as the API's input (the store validates the combination).
fn input(f: &Fields, device_id: Option<Uuid>) -> Result<SnmpCredentialInput, ApiError> {
    let secret = |k: &str| f.opt(k).map(Secret::new);
    Ok(SnmpCredentialInput {
        name: f.get("name").to_string(),
        device_id,
        version: pick(f, "version")?,
        community: secret("community"),
        username: f.opt("username"),
        security_level: pick(f, "security_level")?,
        auth_protocol: pick(f, "auth_protocol")?,
        auth_key: secret("auth_key"),
        priv_protocol: pick(f, "priv_protocol")?,
        priv_key: secret("priv_key"),
        context: f.opt("context"),
    })
}

/// `POST /devices/{id}/snmp` (admin): the device's own credential, replacing any older one.
async fn set_for_device(
    State(st): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    f: Fields,
) -> Result<Response, Response> {
    let id = action(&page, f.get("csrf"), Role::Admin, &id, "device")?;
    let actor = page.user.actor();
    let r = async {
        let new = st
            .store
            .create_snmp_credential(&actor, input(&f, Some(id))?)
            .await?;
        for old in st.store.list_snmp_credentials().await? {
            if old.device_id == Some(id) && old.id != new.id {
                st.store.delete_snmp_credential(&actor, old.id).await?;
            }
        }
        Ok(format!("SNMP credential saved: {}.", describe(&new)))
    }
    .await;
    Ok(super::outcome(&format!("/devices/{id}"), r))
}

/// `POST /devices/{id}/snmp/delete` (admin): the device falls back to the shared credential.
async fn clear_for_device(
    State(st): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    f: Fields,
) -> Result<Response, Response> {
    let id = action(&page, f.get("csrf"), Role::Admin, &id, "device")?;
    let actor = page.user.actor();
    let r = async {
        let mut n = 0;
        for old in st.store.list_snmp_credentials().await? {
            if old.device_id == Some(id) {
                st.store.delete_snmp_credential(&actor, old.id).await?;
                n += 1;
            }
        }
        Ok(if n == 0 {
            "The device had no credential of its own.".to_string()
        } else {
            "The device's own SNMP credential is removed; it uses the shared one.".to_string()
        })
    }
    .await;
    Ok(super::outcome(&format!("/devices/{id}"), r))
}

/// `POST /settings/snmp` (admin): a shared credential (named).
async fn add_shared(
    State(st): State<AppState>,
    page: Page,
    f: Fields,
) -> Result<Response, Response> {
    page.check_csrf(f.get("csrf"))?;
    page.require(Role::Admin)?;
    let r = async {
        let c = st
            .store
            .create_snmp_credential(&page.user.actor(), input(&f, None)?)
            .await?;
        Ok(format!("SNMP credential {} saved.", c.name))
    }
    .await;
    Ok(super::outcome("/settings", r))
}

/// `POST /settings/snmp/{id}/delete` (admin).
async fn delete_shared(
    State(st): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    f: Fields,
) -> Result<Response, Response> {
    let id = action(&page, f.get("csrf"), Role::Admin, &id, "credential")?;
    let r = st
        .store
        .delete_snmp_credential(&page.user.actor(), id)
        .await
        .map(|()| "SNMP credential deleted.".to_string())
        .map_err(ApiError::from);
    Ok(super::outcome("/settings", r))
}
