//! What every handler can reach: the configuration store and the running services.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use wardflux_store::Store;

use crate::auth::LoginLimiter;

/// Shared by all requests; cheap to clone (everything inside is `Arc` or a handle).
#[derive(Clone)]
pub struct AppState {
    /// Configuration store; its pool handles concurrency.
    pub store: Store,
    /// Failed-login throttling, shared by the login route and basic auth.
    pub limiter: Arc<LoginLimiter>,
    /// Renders the process-wide metrics registry for `/metrics`.
    pub metrics: Option<PrometheusHandle>,
    /// Whether to mark the session cookie `Secure` (when served behind TLS).
    pub secure_cookies: bool,
    /// Session lifetime for `POST /auth/login`.
    pub session_ttl: chrono::Duration,
    /// The running monitoring services (absent ones answer 503).
    pub services: Services,
    /// The metric store (embedded or VictoriaMetrics); absent: metric routes answer 503.
    pub tsdb: Option<Arc<dyn wardflux_tsdb::MetricStore>>,
}

/// Handles to the monitoring services the binary started. Each is cheap to clone.
#[derive(Clone, Default)]
pub struct Services {
    pub icmp: Option<wardflux_collect::icmp::IcmpMonitor>,
    pub pinger: Option<wardflux_icmp::Pinger>,
    /// The shared SNMP engine (one socket per address family for every request).
    pub snmp: Option<wardflux_snmp::SnmpClient>,
    /// The alert driver: told to reload after rule/channel/maintenance changes.
    pub alerts: Option<wardflux_alert::driver::AlertHandle>,
    /// Woken after every inventory change, so monitors reload their targets.
    pub inventory_changed: Arc<tokio::sync::Notify>,
}

impl AppState {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            limiter: Arc::new(LoginLimiter::default()),
            metrics: None,
            secure_cookies: false,
            session_ttl: chrono::Duration::hours(12),
            services: Services::default(),
            tsdb: None,
        }
    }
}
