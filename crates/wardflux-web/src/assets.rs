//! Static assets compiled into the binary (`include_bytes!`, so debug builds are
//! self-contained too) and served under `/static/`. Each URL carries a hash of the file's
//! bytes (`/static/app.css?v=1a2b3c4d`), so responses are cached for a year as immutable and
//! a new build changes the URL. Third-party files are vendored from npm at pinned versions
//! (`assets/vendor/`, licences in `assets/vendor/LICENSES.txt`).

use std::sync::OnceLock;

use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};
use wardflux_api::AppState;

struct Asset {
    name: &'static str,
    mime: &'static str,
    bytes: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "app.css",
        mime: "text/css; charset=utf-8",
        bytes: include_bytes!("../assets/app.css"),
    },
    Asset {
        name: "app.js",
        mime: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../assets/app.js"),
    },
    Asset {
        name: "htmx.min.js",
        mime: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../assets/vendor/htmx-2.0.11.min.js"),
    },
    Asset {
        name: "htmx-sse.min.js",
        mime: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../assets/vendor/htmx-ext-sse-2.2.4.min.js"),
    },
    Asset {
        name: "uPlot.min.js",
        mime: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../assets/vendor/uPlot-1.6.32.iife.min.js"),
    },
    Asset {
        name: "uPlot.min.css",
        mime: "text/css; charset=utf-8",
        bytes: include_bytes!("../assets/vendor/uPlot-1.6.32.min.css"),
    },
    Asset {
        name: "favicon.svg",
        mime: "image/svg+xml",
        bytes: include_bytes!("../assets/favicon.svg"),
    },
];

/// `/static/<name>?v=<hash of its bytes>`: the URL templates link to.
pub fn url(name: &str) -> &'static str {
    static URLS: OnceLock<Vec<(&'static str, String)>> = OnceLock::new();
    let urls = URLS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| {
                let h = Sha256::digest(a.bytes);
                let v: String = h[..4].iter().map(|b| format!("{b:02x}")).collect();
                (a.name, format!("/static/{}?v={v}", a.name))
            })
            .collect()
    });
    urls.iter()
        .find(|(n, _)| *n == name)
        .map_or("/static/missing", |(_, u)| u.as_str())
}

async fn serve(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|a| a.name == name) {
        Some(a) => (
            [
                (header::CONTENT_TYPE, a.mime),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            a.bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/static/{name}", get(serve))
}
