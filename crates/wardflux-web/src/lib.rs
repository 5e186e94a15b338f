//! The web UI: the screen a NOC keeps open all day.
//!
//! Server-rendered HTML (askama templates under `templates/`, checked at compile time) from
//! the same axum server and the same users, roles and sessions as the REST API. Pages are
//! plain HTML forms and links that work without JavaScript; htmx adds partial updates, and
//! one server-sent-event stream per page (`/ui/events`, fed by [`LiveFeed`]) tells the page
//! when device states change so it re-fetches its live fragment. Charts are drawn by uPlot
//! from the Prometheus query API. Every asset (CSS, JS) is compiled into the binary
//! (`assets.rs`) and served with cache headers: no CDN, no request leaves the server.
//!
//! Security, on the server for every route: a page needs a session (else a redirect to
//! `/login`), each action its role (viewers get 403 even if they forge the form), and every
//! form post a CSRF token (`csrf.rs`; 403 without it). The CSP allows only this origin.
//!
//! Layout (one module per area, as the API's `routes/`): `pages/*.rs` hold the handlers and
//! their template structs; `view.rs` the formatting shared by the templates (durations,
//! times, states).

// Handlers and their checks return `Result<_, Response>` (an error page is a response, as in
// axum's own examples); the size of `Response` on the error path does not matter here.
#![allow(clippy::result_large_err)]

mod assets;
mod csrf;
mod form;
mod inventory;
mod live;
mod pages;
mod session;
pub mod view;

use axum::Router;
use wardflux_api::AppState;

pub use live::LiveFeed;

/// The UI's routes, to merge beside the API's (`wardflux_api::app`) before
/// `wardflux_api::finish`. Paths: `/`, `/login`, `/logout`, `/monitor`, `/devices`,
/// `/devices/{id}`, `/alerts`, `/alerts/rules`, `/templates`, `/settings`, `/static/*`,
/// `/ui/*` (fragments and the event stream).
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(pages::router())
        .merge(assets::router())
        .merge(live::router())
        .layer(axum::middleware::from_fn(session::security_headers))
        .with_state(state)
}
