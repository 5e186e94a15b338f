//! Route handlers, one module per area of the API. Each module exports `router()`: its
//! routes with their OpenAPI description; [`all`] merges them. A new area is a new
//! module plus one line in [`all`].

pub mod alerts;
pub mod auth;
pub mod devices;
pub mod groups;
pub mod icmp;
pub mod monitoring;
pub mod snmp;
pub mod system;
pub mod templates;
pub mod users;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

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
}
