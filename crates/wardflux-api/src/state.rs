//! What every handler can reach: the configuration store and the running services.
//!
//! The binary decides which services run and registers their handles in [`Services`], a
//! map keyed by type: a route module asks for the handle type it needs
//! (`st.services.get::<IcmpMonitor>()?`) and gets a 503 naming the service when it is off.
//! A new service is registered by the binary and used by its route module; nothing here
//! changes. Each service also reports its health for `/healthz` through [`Component`].

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use serde::Serialize;
use utoipa::ToSchema;
use wardflux_store::Store;

use crate::auth::LoginLimiter;
use crate::error::ApiError;

/// Shared by all requests; cheap to clone (everything inside is `Arc` or a handle).
#[derive(Clone)]
pub struct AppState {
    /// Configuration store; its pool handles concurrency.
    pub store: Store,
    /// Failed-login throttling, shared by the login route and basic auth.
    pub limiter: Arc<LoginLimiter>,
    /// Recently verified basic-auth credentials (see `BasicAuthCache`).
    pub basic_cache: Arc<crate::auth::BasicAuthCache>,
    /// Recently verified bearer and session tokens (see `CredentialCache`).
    pub token_cache: Arc<crate::auth::TokenCache>,
    /// Renders the process-wide metrics registry for `/metrics`.
    pub metrics: Option<PrometheusHandle>,
    /// Whether to mark the session cookie `Secure` (when served behind TLS).
    pub secure_cookies: bool,
    /// Session lifetime for `POST /auth/login`.
    pub session_ttl: chrono::Duration,
    /// The services the binary started (or registered as off). Built before serving and
    /// never changed afterwards, so an `Arc` without a lock.
    pub services: Arc<Services>,
}

impl AppState {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            limiter: Arc::new(LoginLimiter::default()),
            basic_cache: Arc::new(crate::auth::BasicAuthCache::default()),
            token_cache: Arc::new(crate::auth::TokenCache::default()),
            metrics: None,
            secure_cookies: false,
            session_ttl: chrono::Duration::hours(12),
            services: Arc::new(Services::default()),
        }
    }
}

impl AppState {
    /// Forgets every cached credential (basic auth and tokens): call after any change to a
    /// user (password, role, disabled, deleted) or a token (revoked, logged out), so the
    /// change takes effect at once on this server.
    pub fn credentials_changed(&self) {
        self.basic_cache.clear();
        self.token_cache.clear();
    }
}

/// Health of one component, for `/healthz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// Running and answering.
    Up,
    /// Configured but not answering (the server is degraded).
    Down,
    /// Not started on purpose or for a reason given in `detail` (e.g. no ICMP permission).
    Disabled,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ComponentHealth {
    pub name: String,
    pub status: HealthStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Something `/healthz` reports on.
#[async_trait::async_trait]
pub trait Component: Send + Sync {
    fn name(&self) -> &str;
    async fn health(&self) -> ComponentHealth;
}

struct Entry {
    name: &'static str,
    /// The handle, or why the service is off.
    handle: Result<Box<dyn Any + Send + Sync>, String>,
}

/// The running services' handles, by type, plus their health reporters.
#[derive(Default)]
pub struct Services {
    entries: HashMap<TypeId, Entry>,
    components: Vec<Arc<dyn Component>>,
}

impl Services {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a running service's handle under its type. Registered services report
    /// `up` unless a [`Component`] for the same name says otherwise.
    pub fn insert<T: Any + Clone + Send + Sync>(&mut self, name: &'static str, handle: T) {
        self.entries.insert(
            TypeId::of::<T>(),
            Entry {
                name,
                handle: Ok(Box::new(handle)),
            },
        );
    }

    /// Registers a service as off: routes that need it answer 503 with `name` and `reason`.
    pub fn off<T: Any>(&mut self, name: &'static str, reason: impl Into<String>) {
        self.entries.insert(
            TypeId::of::<T>(),
            Entry {
                name,
                handle: Err(reason.into()),
            },
        );
    }

    /// Adds a health reporter shown by `/healthz`.
    pub fn add_component(&mut self, c: Arc<dyn Component>) {
        self.components.push(c);
    }

    /// The handle of a running service, or 503 naming it.
    pub fn get<T: Any + Clone>(&self) -> Result<T, ApiError> {
        match self.entries.get(&TypeId::of::<T>()) {
            Some(Entry {
                handle: Ok(h),
                name,
            }) => h
                .downcast_ref::<T>()
                .cloned()
                .ok_or_else(|| ApiError::Unavailable(format!("{name} is not running"))),
            Some(Entry {
                handle: Err(why),
                name,
            }) => Err(ApiError::Unavailable(format!(
                "{name} is not running: {why}"
            ))),
            None => Err(ApiError::Unavailable(format!(
                "{} is not running in this server",
                short_type_name::<T>()
            ))),
        }
    }

    /// Every registered service and component, for `/healthz`, sorted by name.
    pub async fn health(&self) -> Vec<ComponentHealth> {
        let mut out: Vec<ComponentHealth> = Vec::new();
        for c in &self.components {
            out.push(c.health().await);
        }
        for e in self.entries.values() {
            if out.iter().any(|h| h.name == e.name) {
                continue;
            }
            out.push(match &e.handle {
                Ok(_) => ComponentHealth {
                    name: e.name.to_string(),
                    status: HealthStatus::Up,
                    detail: None,
                },
                Err(why) => ComponentHealth {
                    name: e.name.to_string(),
                    status: HealthStatus::Disabled,
                    detail: Some(why.clone()),
                },
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }
}

fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    full.rsplit("::").next().unwrap_or(full)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq)]
    struct Icmp(u32);
    #[derive(Clone)]
    struct Snmp;

    #[tokio::test]
    async fn services_by_type_with_their_name_when_off() {
        let mut s = Services::new();
        s.insert("icmp monitor", Icmp(3));
        s.off::<Snmp>("snmp engine", "no socket");
        assert_eq!(s.get::<Icmp>().unwrap(), Icmp(3));
        let e = s.get::<Snmp>().err().unwrap();
        assert_eq!(e.to_string(), "snmp engine is not running: no socket");
        assert!(s.get::<u64>().is_err());
        let h = s.health().await;
        assert_eq!(h.len(), 2);
        assert_eq!(h[0].name, "icmp monitor");
        assert_eq!(h[0].status, HealthStatus::Up);
        assert_eq!(h[1].status, HealthStatus::Disabled);
        assert_eq!(h[1].detail.as_deref(), Some("no socket"));
    }
}
