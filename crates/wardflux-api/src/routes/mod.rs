//! Route handlers, one module per area of the API. Each module exports `router()`: its
//! routes with their OpenAPI description; [`all`] merges them. A new area is a new
//! module plus one line in [`all`].

pub mod alerts;
pub mod auth;
pub mod config;
pub mod devices;
pub mod discovery;
pub mod groups;
pub mod icmp;
pub mod monitoring;
pub mod settings;
pub mod snmp;
pub mod system;
pub mod templates;
pub mod users;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

/// A measured number as the API shows it: three decimals, so a duration in milliseconds is
/// rounded to the microsecond (`0.045172000000000004` is `0.045`, the resolution the
/// measurements have) and a percentage to a thousandth.
pub fn display_ms(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}

/// Every API module's routes (no fallback, no state yet).
pub fn all() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(system::router())
        .merge(auth::router())
        .merge(users::router())
        .merge(devices::router())
        .merge(groups::router())
        .merge(monitoring::router())
        .merge(icmp::router())
        .merge(snmp::router())
        .merge(alerts::router())
        .merge(templates::router())
        .merge(discovery::router())
        .merge(settings::router())
        .merge(config::router())
}
