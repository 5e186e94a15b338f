//! `/templates`: the template library (import), and `/templates/{id}`: one template with its
//! items, discovery rules and triggers, its JSON in an editor, clone, export, delete, and
//! the devices it is applied to (apply by name, IP or group; remove). Templates are checked
//! by the API's own `check_template` (every problem listed), so the page and the REST API
//! accept the same documents.

use std::collections::BTreeMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use uuid::Uuid;
use wardflux_api::AppState;
use wardflux_api::error::ApiError;
use wardflux_api::routes::templates::{self as api, TemplatesError};
use wardflux_model::inventory::{DeviceQuery, Role};
use wardflux_template::records::MonitoringTemplate;

use super::{Chrome, action, api_error, error_page, store_error};
use crate::form::Fields;
use crate::session::Page;
use crate::view;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/templates", get(list))
        .route("/templates/import", post(import))
        .route("/templates/{id}", get(detail))
        .route("/templates/{id}/save", post(save))
        .route("/templates/{id}/clone", post(clone))
        .route("/templates/{id}/export", get(export))
        .route("/templates/{id}/apply", post(apply))
        .route("/templates/{id}/devices/{device_id}/remove", post(remove))
        .route("/templates/{id}/delete", post(delete))
}

struct TemplateRow {
    id: Uuid,
    name: String,
    builtin: bool,
    description: String,
    types: String,
    items: usize,
    discovery: usize,
    triggers: usize,
    devices: usize,
}

#[derive(Template, WebTemplate)]
#[template(path = "templates.html")]
struct Templates {
    chrome: Chrome,
    templates: Vec<TemplateRow>,
    can_edit: bool,
    flash: Option<String>,
    error: Option<String>,
    /// What was pasted into the import box, kept when it was refused.
    pasted: String,
}

#[derive(Deserialize)]
struct Flash {
    done: Option<String>,
    error: Option<String>,
}

async fn library(
    st: &AppState,
    page: &Page,
    headers: &HeaderMap,
    status: StatusCode,
    flash: Flash,
    pasted: String,
) -> Response {
    match st.store.list_templates().await {
        Ok(ts) => {
            let page = Templates {
                chrome: Chrome::new(page, headers, "templates"),
                templates: ts
                    .into_iter()
                    .map(|t| TemplateRow {
                        id: t.id,
                        name: t.name,
                        builtin: t.builtin.is_some(),
                        description: t.template.description.unwrap_or_default(),
                        types: t.template.device_types.join(", "),
                        items: t.template.items.len(),
                        discovery: t.template.discovery.len(),
                        triggers: t.template.triggers.len(),
                        devices: t.devices.len(),
                    })
                    .collect(),
                can_edit: page.can(Role::Operator),
                flash: flash.done,
                error: flash.error,
                pasted,
            };
            (status, page).into_response()
        }
        Err(e) => store_error(e),
    }
}

async fn list(
    State(st): State<AppState>,
    page: Page,
    headers: HeaderMap,
    Query(f): Query<Flash>,
) -> Response {
    library(&st, &page, &headers, StatusCode::OK, f, String::new()).await
}

/// A refused template as one message: the JSON's syntax error with its line, or every
/// problem the checks found, each with its path (`items[2].oid: ...`).
fn template_error(e: TemplatesError) -> Result<String, Response> {
    match e {
        TemplatesError::Template(errs) => Ok(errs
            .0
            .iter()
            .map(|p| format!("{}: {}", p.path, p.message))
            .collect::<Vec<_>>()
            .join("; ")),
        TemplatesError::Api(e) if e.status().is_server_error() => Err(api_error(e)),
        TemplatesError::Api(e) => Ok(e.to_string()),
    }
}

fn parse_json(text: &str) -> Result<serde_json::Value, String> {
    if text.trim().is_empty() {
        return Err("Template JSON: empty; paste a template or choose a file".into());
    }
    serde_json::from_str(text).map_err(|e| {
        format!(
            "Template JSON, line {} column {}: {}",
            e.line(),
            e.column(),
            e
        )
    })
}

/// `POST /templates/import` (operator): creates the template, or replaces the one of the
/// same name (keeping its devices).
async fn import(
    State(st): State<AppState>,
    page: Page,
    headers: HeaderMap,
    f: Fields,
) -> Result<Response, Response> {
    page.check_csrf(f.get("csrf"))?;
    page.require(Role::Operator)?;
    let text = f.get("json").to_string();
    let refused = |msg: String| Flash {
        done: None,
        error: Some(msg),
    };
    let body = match parse_json(&text) {
        Ok(b) => b,
        Err(msg) => {
            return Ok(library(
                &st,
                &page,
                &headers,
                StatusCode::UNPROCESSABLE_ENTITY,
                refused(msg),
                text,
            )
            .await);
        }
    };
    let t = match api::check_template(body) {
        Ok(t) => t,
        Err(e) => {
            let msg = template_error(e)?;
            return Ok(library(
                &st,
                &page,
                &headers,
                StatusCode::UNPROCESSABLE_ENTITY,
                refused(msg),
                text,
            )
            .await);
        }
    };
    match st.store.import_template(&page.user.actor(), t).await {
        Ok((t, created)) => {
            api::reload(&st);
            let msg = if created {
                format!("Template {} imported.", t.name)
            } else {
                format!("Template {} replaced; its devices keep it.", t.name)
            };
            Ok(Redirect::to(&format!(
                "/templates/{}?done={}",
                t.id,
                view::query_escape(&msg)
            ))
            .into_response())
        }
        Err(e) => {
            let e = ApiError::from(e);
            if e.status().is_server_error() {
                return Err(api_error(e));
            }
            Ok(library(
                &st,
                &page,
                &headers,
                e.status(),
                refused(e.to_string()),
                text,
            )
            .await)
        }
    }
}

struct ItemRow {
    name: String,
    key: String,
    oid: String,
    interval: String,
    units: String,
}

struct DeviceRow {
    id: Uuid,
    name: String,
    ip: String,
    macros: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "template.html")]
struct Detail {
    chrome: Chrome,
    id: Uuid,
    name: String,
    builtin: bool,
    description: String,
    types: String,
    macros: Vec<(String, String)>,
    items: Vec<ItemRow>,
    discovery: Vec<(String, String, usize)>,
    triggers: Vec<(String, String, String)>,
    devices: Vec<DeviceRow>,
    more_devices: usize,
    groups: Vec<(Uuid, String)>,
    json: String,
    can_edit: bool,
    flash: Option<String>,
    error: Option<String>,
}

/// How many of a template's devices the page names (the rest are counted).
const DEVICE_ROWS: usize = 200;

async fn render(
    st: &AppState,
    page: &Page,
    headers: &HeaderMap,
    status: StatusCode,
    t: MonitoringTemplate,
    json: Option<String>,
    flash: Flash,
) -> Response {
    let shown: Vec<_> = t.devices.iter().take(DEVICE_ROWS).collect();
    let found =
        futures::future::join_all(shown.iter().map(|a| st.store.get_device(a.device_id))).await;
    let devices = shown
        .iter()
        .zip(found)
        .map(|(a, d)| {
            let (name, ip) = d.map_or_else(
                |_| ("(deleted)".into(), String::new()),
                |d| (d.name, d.ip.to_string()),
            );
            DeviceRow {
                id: a.device_id,
                name,
                ip,
                macros: a
                    .macros
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            }
        })
        .collect();
    let groups = match st.store.list_groups().await {
        Ok(g) => g.into_iter().map(|g| (g.id, g.name)).collect(),
        Err(e) => return store_error(e),
    };
    let tpl = &t.template;
    let page = Detail {
        chrome: Chrome::new(page, headers, "templates"),
        id: t.id,
        name: t.name.clone(),
        builtin: t.builtin.is_some(),
        description: tpl.description.clone().unwrap_or_default(),
        types: tpl.device_types.join(", "),
        macros: tpl
            .macros
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        items: tpl
            .items
            .iter()
            .map(|i| ItemRow {
                name: i.name.clone(),
                key: i.key.clone().unwrap_or_default(),
                oid: i.oid.clone(),
                interval: i.interval.as_ref().map_or_else(
                    || "60 (default)".into(),
                    |v| {
                        serde_json::to_value(v)
                            .map(|v| v.to_string().trim_matches('"').to_string())
                            .unwrap_or_default()
                    },
                ),
                units: i.units.clone().unwrap_or_default(),
            })
            .collect(),
        discovery: tpl
            .discovery
            .iter()
            .map(|d| {
                let v = serde_json::to_value(d).unwrap_or_default();
                let walk = v
                    .get("columns")
                    .and_then(|c| c.as_object())
                    .map(|c| {
                        c.iter()
                            .map(|(k, o)| format!("{k} {}", o.as_str().unwrap_or_default()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default();
                let items = v
                    .get("items")
                    .and_then(|i| i.as_array())
                    .map_or(0, Vec::len);
                (d.name.clone(), walk, items)
            })
            .collect(),
        triggers: tpl
            .triggers
            .iter()
            .map(|t| (t.name.clone(), t.expression.clone(), t.severity.clone()))
            .collect(),
        devices,
        more_devices: t.devices.len().saturating_sub(DEVICE_ROWS),
        groups,
        json: json.unwrap_or_else(|| serde_json::to_string_pretty(&t.template).unwrap_or_default()),
        can_edit: page.can(Role::Operator),
        flash: flash.done,
        error: flash.error,
    };
    (status, page).into_response()
}

fn template_id(id: &str) -> Result<Uuid, Response> {
    id.parse()
        .map_err(|_| error_page(StatusCode::NOT_FOUND, "No such template."))
}

async fn detail(
    State(st): State<AppState>,
    page: Page,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(f): Query<Flash>,
) -> Result<Response, Response> {
    let t = st
        .store
        .get_template(template_id(&id)?)
        .await
        .map_err(store_error)?;
    Ok(render(&st, &page, &headers, StatusCode::OK, t, None, f).await)
}

/// `POST /templates/{id}/save` (operator): the edited JSON replaces the template; its
/// devices' items and its alert rules follow. A refused document stays in the editor.
async fn save(
    State(st): State<AppState>,
    page: Page,
    headers: HeaderMap,
    Path(id): Path<String>,
    f: Fields,
) -> Result<Response, Response> {
    let id = action(&page, f.get("csrf"), Role::Operator, &id, "template")?;
    let text = f.get("json").to_string();
    let checked = parse_json(&text).and_then(|b| {
        api::check_template(b).map_err(|e| match template_error(e) {
            Ok(m) => m,
            Err(_) => "the template could not be checked".into(),
        })
    });
    let result = match checked {
        Ok(t) => st
            .store
            .update_template(&page.user.actor(), id, t)
            .await
            .map_err(ApiError::from)
            .map_err(|e| {
                if e.status().is_server_error() {
                    Err(api_error(e))
                } else {
                    Ok(e.to_string())
                }
            }),
        Err(msg) => Err(Ok(msg)),
    };
    match result {
        Ok(t) => {
            api::reload(&st);
            Ok(
                Redirect::to(&format!("/templates/{}?done=Template%20saved.", t.id))
                    .into_response(),
            )
        }
        Err(Err(r)) => Err(r),
        Err(Ok(msg)) => {
            let t = st.store.get_template(id).await.map_err(store_error)?;
            let flash = Flash {
                done: None,
                error: Some(msg),
            };
            Ok(render(
                &st,
                &page,
                &headers,
                StatusCode::UNPROCESSABLE_ENTITY,
                t,
                Some(text),
                flash,
            )
            .await)
        }
    }
}

fn back(id: Uuid, r: Result<String, ApiError>) -> Response {
    super::outcome(&format!("/templates/{id}"), r)
}

/// `POST /templates/{id}/clone` (operator): a copy without devices, opened next.
async fn clone(
    State(st): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    f: Fields,
) -> Result<Response, Response> {
    let id = action(&page, f.get("csrf"), Role::Operator, &id, "template")?;
    match st
        .store
        .clone_template(&page.user.actor(), id, f.opt("name"))
        .await
    {
        Ok(t) => Ok(Redirect::to(&format!(
            "/templates/{}?done={}",
            t.id,
            view::query_escape(&format!("Copied as {}.", t.name))
        ))
        .into_response()),
        Err(e) => Ok(back(id, Err(e.into()))),
    }
}

/// `GET /templates/{id}/export`: the template's JSON as a file (what import takes).
async fn export(
    State(st): State<AppState>,
    _page: Page,
    Path(id): Path<String>,
) -> Result<Response, Response> {
    let t = st
        .store
        .get_template(template_id(&id)?)
        .await
        .map_err(store_error)?;
    let file: String = t
        .name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let body = serde_json::to_string_pretty(&t.template).unwrap_or_default();
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}.json\""),
            ),
        ],
        body,
    )
        .into_response())
}

/// The devices named in the apply form: names or IP addresses (exact, separated by commas,
/// spaces or new lines) and every device of the chosen groups.
async fn chosen_devices(st: &AppState, f: &Fields) -> Result<Vec<Uuid>, ApiError> {
    let mut ids = Vec::new();
    for token in f
        .get("devices")
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
    {
        let q = DeviceQuery {
            search: Some(token.to_string()),
            limit: Some(100),
            ..DeviceQuery::default()
        };
        let found = st.store.list_devices(&q).await?;
        let hit = found
            .items
            .iter()
            .find(|d| d.name == token || d.ip.to_string() == token)
            .ok_or_else(|| {
                ApiError::bad_request(
                    Some("devices"),
                    format!(
                        "devices: no device is named or has the address {:?}",
                        view::clip(token, 64)
                    ),
                )
            })?;
        ids.push(hit.id);
    }
    for g in f.all("group") {
        let gid: Uuid = g
            .parse()
            .map_err(|_| ApiError::bad_request(Some("group"), "group: unknown group"))?;
        // The store pages by at most 1000.
        let mut offset = 0;
        loop {
            let q = DeviceQuery {
                group_id: Some(gid),
                limit: Some(1000),
                offset: Some(offset),
                ..DeviceQuery::default()
            };
            let page = st.store.list_devices(&q).await?.items;
            let n = page.len() as u64;
            ids.extend(page.into_iter().map(|d| d.id));
            if n < 1000 {
                break;
            }
            offset += n;
        }
    }
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return Err(ApiError::bad_request(
            Some("devices"),
            "devices: name at least one device or choose a group",
        ));
    }
    Ok(ids)
}

/// `{$NAME}=value` lines of the apply form.
fn macro_overrides(text: &str) -> Result<BTreeMap<String, String>, ApiError> {
    let mut out = BTreeMap::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (k, v) = line.split_once('=').ok_or_else(|| {
            ApiError::bad_request(
                Some("macros"),
                format!("macros: {:?} is not {{$NAME}}=value", view::clip(line, 64)),
            )
        })?;
        out.insert(k.trim().to_string(), v.trim().to_string());
    }
    Ok(out)
}

/// `POST /templates/{id}/apply` (operator).
async fn apply(
    State(st): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    f: Fields,
) -> Result<Response, Response> {
    let id = action(&page, f.get("csrf"), Role::Operator, &id, "template")?;
    let r = async {
        let devices = chosen_devices(&st, &f).await?;
        let macros = macro_overrides(f.get("macros"))?;
        st.store
            .apply_template(&page.user.actor(), id, &devices, &macros)
            .await?;
        api::reload(&st);
        Ok(format!("Applied to {} devices.", devices.len()))
    }
    .await;
    Ok(back(id, r))
}

/// `POST /templates/{id}/devices/{device_id}/remove` (operator).
async fn remove(
    State(st): State<AppState>,
    page: Page,
    Path((id, device_id)): Path<(String, String)>,
    f: Fields,
) -> Result<Response, Response> {
    let id = action(&page, f.get("csrf"), Role::Operator, &id, "template")?;
    let Ok(device_id) = device_id.parse::<Uuid>() else {
        return Err(error_page(StatusCode::NOT_FOUND, "No such device."));
    };
    let r = st
        .store
        .unapply_template(&page.user.actor(), id, device_id)
        .await
        .map(|()| {
            api::reload(&st);
            "Removed from the device.".to_string()
        })
        .map_err(ApiError::from);
    Ok(back(id, r))
}

/// `POST /templates/{id}/delete` (operator): the template and what it added.
async fn delete(
    State(st): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    f: Fields,
) -> Result<Response, Response> {
    let id = action(&page, f.get("csrf"), Role::Operator, &id, "template")?;
    match st.store.delete_template(&page.user.actor(), id).await {
        Ok(()) => {
            api::reload(&st);
            Ok(Redirect::to("/templates?done=Template%20deleted.").into_response())
        }
        Err(e) => Ok(back(id, Err(e.into()))),
    }
}
