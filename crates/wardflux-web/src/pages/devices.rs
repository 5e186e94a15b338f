//! `/devices` (list with search, sort and paging; add) and `/devices/{id}` (state, charts,
//! SNMP items, alerts, state history; "ping now" and "poll now").

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::Utc;
use serde::Deserialize;
use uuid::Uuid;
use wardflux_api::AppState;
use wardflux_collect::icmp::IcmpMonitor;
use wardflux_collect::snmp::SnmpPoller;
use wardflux_model::inventory::{Device, DeviceInput, DeviceQuery, Role};
use wardflux_store::StoreError;
use wardflux_store::alerts::AlertQuery;

use super::alerts::AlertRow;
use super::{Chrome, action, api_error, error_page, store_error};
use crate::session::Page;
use crate::view;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/devices", get(list).post(add))
        .route("/devices/import", get(import_form).post(import_csv))
        .route("/devices/{id}", get(detail))
        .route("/devices/{id}/check", post(check_now))
        .route("/devices/{id}/poll", post(poll_now))
        .route("/devices/{id}/edit", post(edit))
        .route("/devices/{id}/delete", post(delete))
}

const PAGE: u64 = 100;

/// A device as the list shows it (absent fields as empty text).
pub struct DeviceRow {
    pub id: Uuid,
    pub name: String,
    pub ip: String,
    pub device_type: String,
    pub vendor: String,
    pub region: String,
    pub enabled: bool,
    /// `standalone`, `zabbix` or `both` (see [`view::sources`]).
    pub source: &'static str,
    /// The Zabbix host id of a mirrored or matched device, as text (empty otherwise).
    pub zabbix_hostid: String,
}

impl From<Device> for DeviceRow {
    fn from(d: Device) -> Self {
        Self {
            source: view::sources(&d.sources),
            zabbix_hostid: d.zabbix_hostid.map(|h| h.to_string()).unwrap_or_default(),
            id: d.id,
            name: d.name,
            ip: d.ip.to_string(),
            device_type: d.device_type.unwrap_or_default(),
            vendor: d.vendor.unwrap_or_default(),
            region: d.region.unwrap_or_default(),
            enabled: d.enabled,
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "devices.html")]
struct List {
    chrome: Chrome,
    q: String,
    sort: String,
    devices: Vec<DeviceRow>,
    total: u64,
    first: u64,
    last: u64,
    prev: Option<String>,
    next: Option<String>,
    regions: Vec<String>,
    types: Vec<String>,
    region: String,
    type_: String,
    can_edit: bool,
    flash: Option<String>,
    error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct ListParams {
    #[serde(default)]
    q: String,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    offset: u64,
    #[serde(default)]
    region: String,
    #[serde(default, rename = "type")]
    type_: String,
    added: Option<String>,
    done: Option<String>,
}

fn page_link(p: &ListParams, sort: &str, offset: u64) -> String {
    let enc = view::query_escape;
    format!(
        "/devices?q={}&sort={}&region={}&type={}&offset={offset}",
        enc(&p.q),
        enc(sort),
        enc(&p.region),
        enc(&p.type_)
    )
}

async fn render_list(
    st: &AppState,
    page: &Page,
    headers: &HeaderMap,
    p: ListParams,
    error: Option<String>,
) -> Response {
    let sort = if p.sort.is_empty() {
        "name".to_string()
    } else {
        p.sort.clone()
    };
    let q = DeviceQuery {
        search: Some(p.q.clone()).filter(|s| !s.trim().is_empty()),
        region: Some(p.region.clone()).filter(|s| !s.is_empty()),
        device_type: Some(p.type_.clone()).filter(|s| !s.is_empty()),
        sort: Some(sort.clone()),
        limit: Some(PAGE),
        offset: Some(p.offset),
        ..DeviceQuery::default()
    };
    let res = match st.store.list_devices(&q).await {
        Ok(r) => r,
        Err(e) => return store_error(e),
    };
    let shown = res.items.len() as u64;
    // The filter choices: every region and type in the inventory (the pages' cache).
    let (mut regions, mut types) = (Vec::new(), Vec::new());
    if let Ok(facts) = super::monitor::facts(st).await {
        regions = facts.values().map(|f| f.region.clone()).collect();
        types = facts.values().map(|f| f.device_type.clone()).collect();
        for v in [&mut regions, &mut types] {
            v.retain(|s: &String| !s.is_empty());
            v.sort();
            v.dedup();
        }
    }
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let list = List {
        chrome: Chrome::new(page, headers, "devices"),
        prev: (p.offset > 0).then(|| page_link(&p, &sort, p.offset.saturating_sub(PAGE))),
        next: (p.offset + shown < res.total).then(|| page_link(&p, &sort, p.offset + PAGE)),
        regions,
        types,
        region: p.region.clone(),
        type_: p.type_.clone(),
        q: p.q,
        sort,
        devices: res.items.into_iter().map(DeviceRow::from).collect(),
        total: res.total,
        first: p.offset + 1,
        last: p.offset + shown,
        can_edit: page.can(Role::Operator),
        flash: p.added.map(|n| format!("Device {n} added.")).or(p.done),
        error,
    };
    (status, list).into_response()
}

async fn list(
    State(st): State<AppState>,
    page: Page,
    headers: HeaderMap,
    Query(p): Query<ListParams>,
) -> Response {
    render_list(&st, &page, &headers, p, None).await
}

/// The device form of the list (add) and of the device page (edit).
#[derive(Deserialize)]
struct DeviceForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    ip: String,
    #[serde(default)]
    device_type: String,
    #[serde(default)]
    vendor: String,
    #[serde(default)]
    region: String,
    /// The edit form's checkbox: present when checked.
    enabled: Option<String>,
}

impl DeviceForm {
    /// Writes the form's fields into `input` (empty text clears a field); the enabled box
    /// only where the form has one (the edit form: absent means unchecked).
    fn apply_to(self, input: &mut DeviceInput, has_enabled_box: bool) {
        let opt = |s: String| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        input.name = self.name.trim().to_string();
        input.ip = self.ip.trim().to_string();
        input.device_type = opt(self.device_type);
        input.vendor = opt(self.vendor);
        input.region = opt(self.region);
        if has_enabled_box {
            input.enabled = Some(self.enabled.is_some());
        }
    }
}

/// `POST /devices`: operator; a validation error re-renders the list with the message.
async fn add(
    State(st): State<AppState>,
    page: Page,
    headers: HeaderMap,
    axum::Form(f): axum::Form<DeviceForm>,
) -> Response {
    if let Err(r) = page.check_csrf(&f.csrf).and(page.require(Role::Operator)) {
        return r;
    }
    let mut input = DeviceInput::default();
    f.apply_to(&mut input, false);
    match st.store.create_device(&page.user.actor(), input).await {
        Ok(d) => Redirect::to(&format!("/devices/{}?added=1", d.id)).into_response(),
        Err(e @ (StoreError::Invalid(_) | StoreError::Conflict { .. })) => {
            render_list(
                &st,
                &page,
                &headers,
                ListParams::default(),
                Some(e.to_string()),
            )
            .await
        }
        Err(e) => store_error(e),
    }
}

/// The device's live state as the page shows it.
struct StateView {
    state: &'static str,
    duration: String,
    last_check: String,
    rtt: String,
    loss: String,
}

struct ItemRow {
    name: String,
    key: String,
    state: String,
    error: String,
    value: String,
    at: String,
}

struct HistoryRow {
    at: (String, String),
    from: &'static str,
    to: &'static str,
}

#[derive(Template, WebTemplate)]
#[template(path = "device.html")]
struct Detail {
    chrome: Chrome,
    d: DeviceRow,
    st: StateView,
    snmp: String,
    templates: Vec<String>,
    items: Vec<ItemRow>,
    alerts: Vec<AlertRow>,
    history: Vec<HistoryRow>,
    can_operate: bool,
    is_admin: bool,
    /// The credential the poller uses for this device, and whether it is the device's own.
    credential: Option<(String, bool)>,
    /// Zabbix' `icmpping` for this device (`up`/`down`), or empty.
    zabbix_state: &'static str,
    choices: super::snmp::Choices,
    flash: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct DetailParams {
    added: Option<String>,
    done: Option<String>,
    error: Option<String>,
}

async fn detail(
    State(st): State<AppState>,
    page: Page,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(p): Query<DetailParams>,
) -> Response {
    let Ok(id) = id.parse::<Uuid>() else {
        return error_page(StatusCode::NOT_FOUND, "No such device.");
    };
    let device = match st.store.get_device(id).await {
        Ok(d) => d,
        Err(e) => return store_error(e),
    };
    let now = Utc::now();
    let status = st
        .services
        .get::<IcmpMonitor>()
        .ok()
        .and_then(|m| m.status(id));
    // Zabbix' icmpping (mode zabbix or hybrid): the state of a device only Zabbix watches,
    // shown beside ours where both watch it.
    let zping = st
        .services
        .get::<wardflux_zabbix::source::ZabbixSource>()
        .ok()
        .and_then(|z| z.ping_states().remove(&id));
    let zabbix_state = zping
        .as_ref()
        .map_or("", |z| if z.up { "up" } else { "down" });
    let sv = match (&status, &zping) {
        (None, Some(z)) => StateView {
            state: zabbix_state,
            duration: view::since(z.clock, now),
            last_check: view::since(z.clock, now) + " ago (Zabbix icmpping)",
            rtt: "–".into(),
            loss: "–".into(),
        },
        (Some(s), _) => StateView {
            state: if s.flapping {
                "flapping"
            } else {
                s.state.as_str()
            },
            duration: view::since(s.down_since.unwrap_or(s.since), now),
            last_check: s
                .last_check
                .map_or("never".into(), |t| view::since(t, now) + " ago"),
            rtt: s.last_rtt_ms.map_or("–".into(), |r| format!("{r:.1} ms")),
            loss: s.loss.map_or("–".into(), |l| format!("{l:.0} %")),
        },
        (None, None) => StateView {
            state: "unknown",
            duration: "–".into(),
            last_check: "not monitored".into(),
            rtt: "–".into(),
            loss: "–".into(),
        },
    };
    let snmp = match st
        .services
        .get::<SnmpPoller>()
        .ok()
        .and_then(|p| p.status(id))
    {
        Some(s) => format!(
            "{}; last poll {}; {} timeouts",
            match s.up {
                Some(true) => "answering",
                Some(false) => "not answering",
                None => "not polled yet",
            },
            s.last_poll
                .map_or("never".into(), |t| view::since(t, now) + " ago"),
            s.timeouts
        ),
        None => "not polled (no template applied, or the device is down)".into(),
    };
    let templates = match st.store.list_templates().await {
        Ok(ts) => ts
            .into_iter()
            .filter(|t| t.devices.iter().any(|a| a.device_id == id))
            .map(|t| t.name)
            .collect(),
        Err(e) => return store_error(e),
    };
    let items = match wardflux_api::routes::templates::item_states(&st, Some(id)).await {
        Ok(items) => items
            .into_iter()
            .map(|i| ItemRow {
                name: if i.labels.is_empty() {
                    i.name
                } else {
                    let l: Vec<String> = i.labels.values().cloned().collect();
                    format!("{} ({})", i.name, l.join(", "))
                },
                key: i.key,
                state: serde_json::to_value(i.status)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                error: i.error.unwrap_or_default(),
                value: i.last_value.map_or(String::new(), |v| match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                }),
                at: i
                    .last_polled
                    .map_or(String::new(), |t| view::since(t, now) + " ago"),
            })
            .collect(),
        Err(e) => return api_error(e),
    };
    let alerts = match st
        .store
        .list_active_alerts(&AlertQuery {
            device: Some(id.to_string()),
            ..AlertQuery::default()
        })
        .await
    {
        Ok(a) => a.into_iter().map(AlertRow::from).collect(),
        Err(e) => return store_error(e),
    };
    let history = match st.store.status_history(id, None, None, 1000).await {
        Ok(h) => h
            .into_iter()
            .rev()
            .take(50)
            .map(|c| HistoryRow {
                at: (view::iso(c.at), view::short(c.at)),
                from: c.from_state.as_str(),
                to: c.to_state.as_str(),
            })
            .collect(),
        Err(e) => return store_error(e),
    };
    let credential = match st.store.snmp_credential_for_device(id).await {
        Ok(c) => c.map(|c| (super::snmp::describe(&c), c.device_id == Some(id))),
        Err(e) => return store_error(e),
    };
    Detail {
        chrome: Chrome::new(&page, &headers, "devices"),
        is_admin: page.can(Role::Admin),
        credential,
        zabbix_state,
        choices: super::snmp::Choices::default(),
        error: p.error,
        d: DeviceRow::from(device),
        st: sv,
        snmp,
        templates,
        items,
        alerts,
        history,
        can_operate: page.can(Role::Operator),
        flash: p
            .added
            .map(|_| "Device added; its first check runs now.".to_string())
            .or(p.done)
            .filter(|m| !m.is_empty()),
    }
    .into_response()
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

fn back(id: Uuid, done: &str) -> Response {
    super::outcome(&format!("/devices/{id}"), Ok(done.to_string()))
}

/// `POST /devices/{id}/check`: an ICMP check now (operator).
async fn check_now(
    State(st): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    axum::Form(f): axum::Form<CsrfForm>,
) -> Result<Response, Response> {
    let id = action(&page, &f.csrf, Role::Operator, &id, "device")?;
    let mon = st.services.get::<IcmpMonitor>().map_err(api_error)?;
    match mon.check_now(id).await {
        Ok(s) => Ok(back(id, &format!("Checked now: {}.", s.state.as_str()))),
        Err(e) => Err(error_page(StatusCode::CONFLICT, &e.to_string())),
    }
}

/// `POST /devices/{id}/poll`: the device's SNMP items polled now (operator).
async fn poll_now(
    State(st): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    axum::Form(f): axum::Form<CsrfForm>,
) -> Result<Response, Response> {
    let id = action(&page, &f.csrf, Role::Operator, &id, "device")?;
    let poller = st.services.get::<SnmpPoller>().map_err(api_error)?;
    let items = poller.poll_now(id).await.map_err(|_| {
        error_page(
            StatusCode::CONFLICT,
            "This device has no SNMP items to poll: apply a template to it first.",
        )
    })?;
    let ok = items
        .iter()
        .filter(|i| i.status == wardflux_model::ItemStatus::Ok)
        .count();
    Ok(back(
        id,
        &format!("Polled now: {ok} of {} items answered.", items.len()),
    ))
}

/// `POST /devices/{id}/edit` (operator): the form's fields change, every other field is kept.
async fn edit(
    State(st): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    axum::Form(f): axum::Form<DeviceForm>,
) -> Result<Response, Response> {
    let id = action(&page, &f.csrf, Role::Operator, &id, "device")?;
    let current = st.store.get_device(id).await.map_err(store_error)?;
    let mut input = DeviceInput::from(&current);
    f.apply_to(&mut input, true);
    match st.store.update_device(&page.user.actor(), id, input).await {
        Ok(_) => Ok(back(id, "Saved.")),
        Err(e @ (StoreError::Invalid(_) | StoreError::Conflict { .. })) => Err(error_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("Not saved: {e}. Go back and correct it."),
        )),
        Err(e) => Err(store_error(e)),
    }
}

/// `POST /devices/{id}/delete` (operator).
async fn delete(
    State(st): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    axum::Form(f): axum::Form<CsrfForm>,
) -> Result<Response, Response> {
    let id = action(&page, &f.csrf, Role::Operator, &id, "device")?;
    st.store
        .delete_device(&page.user.actor(), id)
        .await
        .map_err(store_error)?;
    Ok(Redirect::to("/devices").into_response())
}

/// One row of the import preview.
struct ImportRow {
    row: u64,
    name: String,
    ip: String,
    device_type: String,
    region: String,
    problems: Vec<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "device_import.html")]
struct ImportPage {
    chrome: Chrome,
    columns: String,
    csv: String,
    error: Option<String>,
    /// After "Check": every row with its problems, how many would be created and how many
    /// rows are refused.
    preview: Option<(Vec<ImportRow>, u64, usize)>,
    more_rows: usize,
}

/// How many rows the preview lists (problems of every row are listed regardless).
const PREVIEW_ROWS: usize = 500;

/// `GET /devices/import` (admin, like the API's import).
async fn import_form(page: Page, headers: HeaderMap) -> Result<Response, Response> {
    page.require(Role::Admin)?;
    Ok(ImportPage {
        chrome: Chrome::new(&page, &headers, "devices"),
        columns: wardflux_api::routes::devices::CSV_COLUMNS.join(","),
        csv: String::new(),
        error: None,
        preview: None,
        more_rows: 0,
    }
    .into_response())
}

/// `POST /devices/import` (admin): `check` shows every row and its problems without
/// writing; `import` writes all rows or none.
async fn import_csv(
    State(st): State<AppState>,
    page: Page,
    headers: HeaderMap,
    f: crate::form::Fields,
) -> Result<Response, Response> {
    use wardflux_api::routes::devices as api;
    page.check_csrf(f.get("csrf"))?;
    page.require(Role::Admin)?;
    let csv = f.get("csv").to_string();
    let mut out = ImportPage {
        chrome: Chrome::new(&page, &headers, "devices"),
        columns: api::CSV_COLUMNS.join(","),
        csv: csv.clone(),
        error: None,
        preview: None,
        more_rows: 0,
    };
    let refused = |out: ImportPage, e: wardflux_api::error::ApiError| {
        if e.status().is_server_error() {
            return Err(api_error(e));
        }
        let mut out = out;
        out.error = Some(e.to_string());
        Ok((StatusCode::UNPROCESSABLE_ENTITY, out).into_response())
    };
    if csv.trim().is_empty() {
        out.error = Some("CSV: empty; paste rows under a header line or choose a file".into());
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, out).into_response());
    }
    let actor = page.user.actor();
    if f.get("action") == "import" {
        return match api::import_body(&st, &actor, "csv", csv.as_bytes(), false, false).await {
            Ok(r) if r.committed => Ok(Redirect::to(&format!(
                "/devices?done={}",
                view::query_escape(&format!("Imported {} devices.", r.created))
            ))
            .into_response()),
            // Refused as a whole (something changed since the check): show the rows again.
            Ok(_) => preview(&st, out, &actor, &csv).await,
            Err(e) => refused(out, e),
        };
    }
    preview(&st, out, &actor, &csv).await
}

async fn preview(
    st: &AppState,
    mut out: ImportPage,
    actor: &wardflux_model::inventory::Actor,
    csv: &str,
) -> Result<Response, Response> {
    use wardflux_api::routes::devices as api;
    let report = match api::import_body(st, actor, "csv", csv.as_bytes(), false, true).await {
        Ok(r) => r,
        Err(e) if e.status().is_server_error() => return Err(api_error(e)),
        Err(e) => {
            out.error = Some(e.to_string());
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, out).into_response());
        }
    };
    let rows = api::csv_rows(csv.as_bytes()).unwrap_or_default();
    let mut by_row: std::collections::BTreeMap<u64, ImportRow> = rows
        .into_iter()
        .map(|(n, d)| {
            (
                n,
                ImportRow {
                    row: n,
                    name: view::clip(&d.name, 80),
                    ip: view::clip(&d.ip, 64),
                    device_type: d.device_type.unwrap_or_default(),
                    region: d.region.unwrap_or_default(),
                    problems: Vec::new(),
                },
            )
        })
        .collect();
    let refused_rows: std::collections::BTreeSet<u64> =
        report.errors.iter().map(|e| e.row).collect();
    for e in report.errors {
        by_row
            .entry(e.row)
            .or_insert_with(|| ImportRow {
                row: e.row,
                name: String::new(),
                ip: String::new(),
                device_type: String::new(),
                region: String::new(),
                problems: Vec::new(),
            })
            .problems
            .push(format!("{}: {}", e.field, e.message));
    }
    // Rows with problems first, then the rest in order, up to the preview's length.
    let (mut bad, good): (Vec<_>, Vec<_>) =
        by_row.into_values().partition(|r| !r.problems.is_empty());
    let total = bad.len() + good.len();
    bad.extend(good);
    bad.truncate(PREVIEW_ROWS);
    out.more_rows = total - bad.len();
    out.preview = Some((bad, report.created, refused_rows.len()));
    Ok(out.into_response())
}
