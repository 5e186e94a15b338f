//! The WARD FLUX REST API under `/api/v1`, plus `/healthz` and `/metrics`.
//!
//! [`router`] builds the whole HTTP surface from an [`AppState`]; [`serve`] runs it on a
//! listener the caller binds, until the caller's shutdown future completes (so tests
//! bind port 0 and control shutdown). Handlers talk to the configuration store and the
//! running services only through `AppState`; they never open connections of their own.

pub mod auth;
pub mod error;
pub mod extract;
pub mod routes;
pub mod state;

use std::future::Future;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::Arc;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

pub use error::{ApiError, ErrorBody};
pub use state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "WARD FLUX API",
        description = "Network monitoring: device inventory, SNMP, ICMP, metrics. \
                       Authenticate with `POST /api/v1/auth/login`, then send `Authorization: Bearer <token>`.",
    ),
    modifiers(&SecurityAddon),
    security(("bearer" = []), ("basic" = [])),
    tags(
        (name = "auth"), (name = "users"), (name = "devices"), (name = "device-groups"),
        (name = "monitoring"), (name = "alerts"), (name = "templates"), (name = "metrics"), (name = "system")
    )
)]
struct ApiDoc;

struct SecurityAddon;

impl Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let c = openapi.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        c.add_security_scheme(
            "basic",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)),
        );
    }
}

/// The REST API's routes and their OpenAPI description, before state is attached.
pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi()).merge(routes::all())
}

/// The OpenAPI document of every route (served at `/api/v1/openapi.json`): the REST API,
/// the Prometheus-compatible API (from `wardflux_tsdb::http::ROUTES`) and the document itself.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, mut api) = api_router().split_for_parts();
    add_extra_docs(&mut api);
    api
}

fn add_extra_docs(api: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
    use utoipa::openapi::{ResponseBuilder, security::SecurityRequirement};
    for info in wardflux_tsdb::http::ROUTES {
        let mut item: Option<PathItem> = None;
        for m in info.methods {
            let method = if *m == "get" {
                HttpMethod::Get
            } else {
                HttpMethod::Post
            };
            let mut b = OperationBuilder::new()
                .summary(Some(info.summary))
                .operation_id(Some(prometheus_operation_id(info.path, m)))
                .tag("metrics")
                .response(
                    "200",
                    ResponseBuilder::new().description("Prometheus API JSON: {status, data}"),
                )
                .response(
                    "400",
                    ResponseBuilder::new()
                        .description("bad query: {status: error, errorType, error}"),
                )
                .response(
                    "401",
                    ResponseBuilder::new().description("authentication required"),
                )
                .response("403", ResponseBuilder::new().description("role too low"))
                .response(
                    "503",
                    ResponseBuilder::new().description("metric store not running"),
                );
            if info.writes {
                b = b.response(
                    "204",
                    ResponseBuilder::new().description("all lines stored"),
                );
            }
            if info.path.contains("{name}") {
                b = b.parameter(
                    utoipa::openapi::path::ParameterBuilder::new()
                        .name("name")
                        .parameter_in(utoipa::openapi::path::ParameterIn::Path)
                        .required(utoipa::openapi::Required::True)
                        .schema(Some(
                            utoipa::openapi::ObjectBuilder::new()
                                .schema_type(utoipa::openapi::schema::Type::String),
                        )),
                );
            }
            let op = b.build();
            match &mut item {
                None => item = Some(PathItem::new(method, op)),
                Some(it) => {
                    if method == HttpMethod::Post {
                        it.post = Some(op);
                    } else {
                        it.get = Some(op);
                    }
                }
            }
        }
        if let Some(it) = item {
            api.paths.paths.insert(info.path.to_string(), it);
        }
    }
    let op = OperationBuilder::new()
        .summary(Some("This OpenAPI 3.1 document"))
        .operation_id(Some("get_openapi_document"))
        .tag("system")
        .security(SecurityRequirement::default())
        .response(
            "200",
            ResponseBuilder::new().description("OpenAPI document"),
        )
        .build();
    api.paths.paths.insert(
        "/api/v1/openapi.json".into(),
        PathItem::new(HttpMethod::Get, op),
    );
    describe_responses(api);
}

/// OpenAPI requires a description on every response; the handlers' annotations give one
/// only where it says more than the status. Fill the rest with what the status means here
/// (every error answer is the JSON `ErrorBody`).
fn describe_responses(api: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::RefOr;
    for item in api.paths.paths.values_mut() {
        let ops = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
            &mut item.head,
        ];
        for op in ops.into_iter().flatten() {
            for (status, resp) in op.responses.responses.iter_mut() {
                if let RefOr::T(r) = resp
                    && r.description.is_empty()
                {
                    r.description = status_description(status).to_string();
                }
            }
        }
    }
}

/// What a status means in this API.
fn status_description(status: &str) -> &'static str {
    match status {
        "200" => "success",
        "201" => "created",
        "202" => "accepted",
        "204" => "done (no body)",
        "400" => {
            "malformed input: bad JSON, wrong type, unknown field or bad query string (the error names the field)"
        }
        "401" => "authentication required",
        "403" => "the user's role does not allow this",
        "404" => "no such object",
        "409" => "conflict: a value that must be unique is taken (the error names the field)",
        "413" => "body too large",
        "422" => "well-formed input that breaks a rule (the error names the field)",
        "429" => "too many failed attempts; see Retry-After",
        "501" => "not implemented yet",
        "503" => "a service this route needs is not running",
        _ => "see the JSON body",
    }
}

/// `prometheus_query_range_get` etc.: unique, readable ids for the generated operations.
fn prometheus_operation_id(path: &str, method: &str) -> String {
    let words: Vec<&str> = path
        .trim_start_matches("/api/v1/")
        .split(['/', '_'])
        .filter(|w| !w.is_empty() && !w.starts_with('{'))
        .collect();
    format!("prometheus_{}_{method}", words.join("_"))
}

/// The REST API, the Prometheus-compatible API and the OpenAPI document, with state
/// attached. No fallback: the binary merges further routers (the web UI) and then calls
/// [`finish`].
pub fn app(state: AppState) -> Router {
    let (router, mut api) = api_router().split_for_parts();
    add_extra_docs(&mut api);
    let doc = std::sync::Arc::new(api);
    let prometheus = match state.services.get::<Arc<dyn wardflux_tsdb::MetricStore>>() {
        Ok(tsdb) => wardflux_tsdb::http::router(tsdb),
        Err(e) => {
            // Every Prometheus route answers 503 naming the metric store.
            let why = e.to_string();
            wardflux_tsdb::http::ROUTES
                .iter()
                .fold(Router::new(), |r, info| {
                    let why = why.clone();
                    r.route(
                        info.path,
                        axum::routing::any(move || async move { ApiError::Unavailable(why) }),
                    )
                })
        }
    }
    .layer(axum::middleware::from_fn_with_state(
        state.clone(),
        prometheus_auth,
    ));
    router
        .route(
            "/api/v1/openapi.json",
            get(move || {
                let doc = doc.clone();
                async move { axum::Json((*doc).clone()) }
            }),
        )
        .with_state(state)
        .merge(prometheus)
}

/// What every served router gets last: JSON 404/405 fallbacks, the JSON body limit,
/// JSON bodies for the framework's own rejections, request metrics and tracing.
pub fn finish(router: Router) -> Router {
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(extract::MAX_JSON_BYTES))
        .layer(axum::middleware::from_fn(json_errors))
        .layer(axum::middleware::from_fn(track_requests))
        .layer(tower_http::trace::TraceLayer::new_for_http())
}

/// The whole HTTP surface of the API alone (`finish(app(state))`), as tests serve it.
pub fn router(state: AppState) -> Router {
    finish(app(state))
}

/// Role check for the Prometheus-compatible routes, which `wardflux_tsdb` serves without
/// knowing about users: reading needs viewer, the import (a write) needs operator.
async fn prometheus_auth(
    axum::extract::State(st): axum::extract::State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    use axum::extract::FromRequestParts;
    let (mut parts, body) = req.into_parts();
    let user = match auth::CurrentUser::from_request_parts(&mut parts, &st).await {
        Ok(u) => u,
        Err(e) => return e.into_response(),
    };
    let writes = wardflux_tsdb::http::ROUTES
        .iter()
        .any(|r| r.writes && r.path == parts.uri.path());
    let needed = if writes {
        wardflux_model::inventory::Role::Operator
    } else {
        wardflux_model::inventory::Role::Viewer
    };
    if !user.user.role.allows(needed) {
        return ApiError::Forbidden("this action needs the operator or admin role").into_response();
    }
    next.run(Request::from_parts(parts, body)).await
}

async fn not_found() -> ApiError {
    ApiError::NotFound("route".into())
}

async fn method_not_allowed() -> Response {
    (
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        axum::Json(ErrorBody {
            error: "method_not_allowed",
            message: "method not allowed on this route".into(),
            field: None,
            errors: Vec::new(),
        }),
    )
        .into_response()
}

/// Gives the framework's plain-text rejections under `/api/` (an over-limit body on a
/// route that reads raw bytes, a malformed path, an unsupported form ...) the JSON error
/// body every other error has, with the text shortened. UI pages keep their HTML.
async fn json_errors(req: Request, next: Next) -> Response {
    use axum::http::{StatusCode, header};
    let api = req.uri().path().starts_with("/api/");
    let resp = next.run(req).await;
    let status = resp.status();
    let plain = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/plain"));
    if !api || !plain || !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let (error, message) = match status {
        StatusCode::PAYLOAD_TOO_LARGE => (
            "payload_too_large",
            "request body too large for this route".to_string(),
        ),
        s if s.is_server_error() => ("internal_error", "internal error".to_string()),
        s => {
            let text = axum::body::to_bytes(resp.into_body(), 64 * 1024)
                .await
                .unwrap_or_default();
            let text = String::from_utf8_lossy(&text);
            let kind = match s {
                StatusCode::NOT_FOUND => "not_found",
                StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
                StatusCode::UNPROCESSABLE_ENTITY => "validation_error",
                _ => "bad_request",
            };
            let text = text.trim();
            let text = if text.chars().count() > 200 {
                let cut: String = text.chars().take(200).collect();
                format!("{cut}…")
            } else {
                text.to_string()
            };
            (kind, text)
        }
    };
    (
        status,
        axum::Json(ErrorBody {
            error,
            message,
            field: None,
            errors: Vec::new(),
        }),
    )
        .into_response()
}

/// Counts requests and their latency by route template and status.
async fn track_requests(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let t0 = Instant::now();
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    metrics::counter!("wardflux_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status).increment(1);
    metrics::histogram!("wardflux_http_request_duration_seconds", "method" => method, "route" => route)
        .record(t0.elapsed().as_secs_f64());
    resp
}

/// Serves `router` on `listener` until `shutdown` completes, then drains connections.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
