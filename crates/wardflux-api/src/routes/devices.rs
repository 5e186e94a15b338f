//! `/api/v1/devices`: the device inventory, with filter/search/sort/pagination and bulk
//! CSV/JSON import and export.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use wardflux_model::inventory::{Device, DeviceInput, DeviceQuery, ImportReport, Page, RowError};

use crate::auth::{Admin, Viewer};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{IdPath, Json, Query};
use crate::state::AppState;
use utoipa_axum::{router::OpenApiRouter, routes};

/// Largest import body (about 100k CSV rows).
pub const MAX_IMPORT_BYTES: usize = 16 * 1024 * 1024;

/// List devices: ours and, in `zabbix` and `hybrid` mode, Zabbix' hosts (one record per
/// device, `sources` naming who knows it). A `Warning: 110` header says when the Zabbix part
/// is stale (the last sync failed) and how old it is.
#[utoipa::path(get, path = "/api/v1/devices", tag = "devices", params(DeviceQuery),
    responses((status = 200, body = Page<Device>), (status = 400, body = ErrorBody)))]
pub async fn list_devices(
    State(st): State<AppState>,
    _: Viewer,
    Query(q): Query<DeviceQuery>,
) -> ApiResult<(axum::http::HeaderMap, axum::Json<Page<Device>>)> {
    let page = st.store.list_devices(&q).await?;
    Ok((super::settings::stale_warning(&st), axum::Json(page)))
}

/// Create a device. The IP must be unique within the device's source (409 `ip`
/// otherwise); names need not be unique (two sites may each have a `core-1`): a device is
/// identified by its id.
#[utoipa::path(post, path = "/api/v1/devices", tag = "devices", request_body = DeviceInput,
    responses((status = 201, body = Device), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_device(
    State(st): State<AppState>,
    Admin(me): Admin,
    Json(input): Json<DeviceInput>,
) -> ApiResult<(StatusCode, axum::Json<Device>)> {
    let d = st.store.create_device(&me.actor(), input).await?;
    Ok((StatusCode::CREATED, axum::Json(d)))
}

/// Get a device.
#[utoipa::path(get, path = "/api/v1/devices/{id}", tag = "devices", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = Device), (status = 404, body = ErrorBody)))]
pub async fn get_device(
    State(st): State<AppState>,
    _: Viewer,
    IdPath(id): IdPath,
) -> ApiResult<axum::Json<Device>> {
    Ok(axum::Json(st.store.get_device(id).await?))
}

/// Replace a device: a full replacement, like a create. Every field not given takes its
/// default (optional fields are cleared, `enabled` becomes true, intervals and ports their
/// defaults; `source` is kept). To change a few fields, use PATCH.
#[utoipa::path(put, path = "/api/v1/devices/{id}", operation_id = "replace_device", tag = "devices", params(("id" = uuid::Uuid, Path)),
    request_body = DeviceInput,
    responses((status = 200, body = Device), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_device(
    State(st): State<AppState>,
    Admin(me): Admin,
    IdPath(id): IdPath,
    Json(input): Json<DeviceInput>,
) -> ApiResult<axum::Json<Device>> {
    let d = st.store.update_device(&me.actor(), id, input).await?;
    Ok(axum::Json(d))
}

/// Change some of a device's fields (JSON merge patch, RFC 7396): a field that is absent
/// keeps its value, `null` clears an optional field (`enabled`, `icmp_interval_s`,
/// `snmp_port` go back to their defaults; `source` is kept), any other value replaces it
/// (`tags` as a whole). `name` and `ip` cannot be cleared. Send `application/json` or
/// `application/merge-patch+json`.
#[utoipa::path(patch, path = "/api/v1/devices/{id}", operation_id = "update_device", tag = "devices", params(("id" = uuid::Uuid, Path)),
    request_body(content = Object, description = "Some fields of DeviceInput; null clears an optional one",
        content_type = "application/merge-patch+json"),
    responses((status = 200, body = Device), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn patch_device(
    State(st): State<AppState>,
    Admin(me): Admin,
    IdPath(id): IdPath,
    Json(patch): Json<serde_json::Value>,
) -> ApiResult<axum::Json<Device>> {
    let serde_json::Value::Object(fields) = &patch else {
        return Err(ApiError::bad_request(
            None,
            "expected a JSON object with the fields to change",
        ));
    };
    for required in ["name", "ip"] {
        if fields.get(required).is_some_and(serde_json::Value::is_null) {
            return Err(wardflux_model::inventory::FieldError::new(
                required,
                "cannot be cleared (every device has one)",
            )
            .into());
        }
    }
    let current = st.store.get_device(id).await?;
    let mut merged = serde_json::to_value(DeviceInput::from(&current))
        .map_err(|e| ApiError::Unexpected(e.into()))?;
    json_patch::merge(&mut merged, &patch);
    let input: DeviceInput = crate::extract::from_json_value(merged)?;
    let d = st.store.update_device(&me.actor(), id, input).await?;
    Ok(axum::Json(d))
}

/// Delete a device.
#[utoipa::path(delete, path = "/api/v1/devices/{id}", tag = "devices", params(("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_device(
    State(st): State<AppState>,
    Admin(me): Admin,
    IdPath(id): IdPath,
) -> ApiResult<StatusCode> {
    st.store.delete_device(&me.actor(), id).await?;
    // The alert rules of the device's templates were narrowed to the remaining devices.
    if let Ok(h) = st.services.get::<wardflux_alert::driver::AlertHandle>() {
        h.reload();
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ImportParams {
    /// csv or json; default from Content-Type.
    pub format: Option<String>,
    /// Import the valid rows even when some are invalid.
    #[serde(default)]
    pub partial: bool,
    /// Check every row and report what would be created, without writing anything.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportFailure {
    pub error: &'static str,
    pub message: String,
    pub field: &'static str,
    pub report: ImportReport,
}

/// CSV columns, in export order. `tags` are separated by `;`.
pub const CSV_COLUMNS: &[&str] = &[
    "name",
    "ip",
    "hostname",
    "vendor",
    "device_type",
    "model",
    "location",
    "region",
    "branch",
    "tags",
    "enabled",
    "parent_id",
    "source",
    "icmp_interval_s",
    "snmp_port",
];

/// Bulk import devices from CSV or a JSON array of DeviceInput objects.
/// Nothing is written if any row is invalid, unless `partial=true`.
///
/// CSV: a header row naming some of these columns (any order; the export writes all of
/// them in this order), then one device per row: `name`, `ip`, `hostname`, `vendor`,
/// `device_type`, `model`, `location`, `region`, `branch`, `tags`, `enabled`, `parent_id`,
/// `source`, `icmp_interval_s`, `snmp_port`. `name` and `ip` are required; `tags` are
/// separated by `;`; `enabled` is true/false (also 1/0, yes/no); an empty cell is the
/// default. A device's IP must be unique within its source (409 per row otherwise).
#[utoipa::path(post, path = "/api/v1/devices/import", tag = "devices", params(ImportParams),
    request_body(content = Vec<DeviceInput>, description = "JSON array, or text/csv with a header row"),
    responses((status = 200, body = ImportReport), (status = 400, body = ErrorBody), (status = 422, body = ImportFailure)))]
pub async fn import_devices(
    State(st): State<AppState>,
    Admin(me): Admin,
    Query(p): Query<ImportParams>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let format = match p.format.as_deref() {
        Some(f @ ("csv" | "json")) => f,
        Some(_) => return Err(ApiError::bad_request(Some("format"), "must be csv or json")),
        None if ct.starts_with("text/csv") => "csv",
        None if ct.starts_with("application/json") => "json",
        None => {
            return Err(ApiError::bad_request(
                Some("format"),
                "send Content-Type text/csv or application/json, or ?format=",
            ));
        }
    };
    let report = import_body(&st, &me.actor(), format, &body, p.partial, p.dry_run).await?;
    if p.dry_run {
        return Ok(axum::Json(report).into_response());
    }
    if !report.committed || (!p.partial && !report.errors.is_empty()) {
        return Ok(failure(report));
    }
    Ok(axum::Json(report).into_response())
}

/// Parses an import body (`format` csv or json), checks every row and imports the valid
/// ones: all or nothing unless `partial`; nothing at all with `dry_run` (the report then
/// says how many rows would be created). Row numbers are the body's (the CSV header is not
/// a row). Shared by the API and the UI's import page.
pub async fn import_body(
    st: &AppState,
    actor: &wardflux_model::inventory::Actor,
    format: &str,
    body: &[u8],
    partial: bool,
    dry_run: bool,
) -> ApiResult<ImportReport> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            None,
            if format == "csv" {
                "empty body: expected CSV with a header row (see the columns in the API document)"
            } else {
                "empty body: expected a JSON array of devices"
            },
        ));
    }
    let (rows, mut errors) = if format == "csv" {
        parse_csv(body)?
    } else {
        parse_json_rows(body)?
    };
    if rows.is_empty() && errors.is_empty() {
        return Err(ApiError::bad_request(None, "no rows to import"));
    }
    // Rows that failed to parse never reach the store; the store numbers the rows it gets
    // from 1, so map its row numbers back to ours.
    if !errors.is_empty() && !partial && !dry_run {
        for (n, mut input) in rows {
            if let Err(fe) = input.validate() {
                errors.push(RowError {
                    row: n,
                    field: fe.field,
                    message: fe.message,
                });
            }
        }
        errors.sort_by_key(|e| e.row);
        return Ok(ImportReport {
            created: 0,
            committed: false,
            errors,
        });
    }
    let numbers: Vec<u64> = rows.iter().map(|(n, _)| *n).collect();
    let inputs: Vec<DeviceInput> = rows.into_iter().map(|(_, d)| d).collect();
    let mut report = if dry_run {
        st.store.check_device_import(inputs).await?
    } else {
        st.store.import_devices(actor, inputs, partial).await?
    };
    for e in &mut report.errors {
        if let Some(n) = numbers.get((e.row as usize).wrapping_sub(1)) {
            e.row = *n;
        }
    }
    report.errors.extend(errors);
    report.errors.sort_by_key(|e| e.row);
    Ok(report)
}

/// The rows of a CSV body with their row numbers, for showing them (see [`import_body`]).
pub fn csv_rows(body: &[u8]) -> ApiResult<Vec<(u64, DeviceInput)>> {
    Ok(parse_csv(body)?.0)
}

fn failure(report: ImportReport) -> Response {
    let n = report.errors.len();
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        axum::Json(ImportFailure {
            error: "validation_error",
            message: format!("{n} invalid row(s); nothing was imported"),
            field: "rows",
            report,
        }),
    )
        .into_response()
}

type Parsed = (Vec<(u64, DeviceInput)>, Vec<RowError>);

fn parse_json_rows(body: &[u8]) -> ApiResult<Parsed> {
    let values: Vec<serde_json::Value> = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(None, format!("expected a JSON array of devices: {e}"))
    })?;
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for (i, v) in values.into_iter().enumerate() {
        let n = i as u64 + 1;
        match serde_path_to_error::deserialize::<_, DeviceInput>(v) {
            Ok(d) => rows.push((n, d)),
            Err(e) => {
                let path = e.path().to_string();
                let msg = e.into_inner().to_string();
                errors.push(RowError {
                    row: n,
                    field: field_of(&msg).unwrap_or(path),
                    message: crate::extract::plain_message(&msg),
                });
            }
        }
    }
    Ok((rows, errors))
}

fn field_of(msg: &str) -> Option<String> {
    ["missing field `", "unknown field `"]
        .iter()
        .find_map(|p| msg.strip_prefix(p))
        .and_then(|r| r.split('`').next())
        .map(str::to_string)
}

fn parse_csv(body: &[u8]) -> ApiResult<Parsed> {
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(body);
    let headers = rdr
        .headers()
        .map_err(|e| ApiError::bad_request(None, format!("unreadable CSV header: {e}")))?
        .clone();
    for h in headers.iter() {
        if !CSV_COLUMNS.contains(&h) {
            // Echoed shortened: the header is the client's (possibly megabytes).
            let h = wardflux_model::inventory::truncate_for_display(h);
            return Err(ApiError::bad_request(
                Some(&h),
                format!(
                    "unknown CSV column {h:?}; expected some of {}",
                    CSV_COLUMNS.join(",")
                ),
            ));
        }
    }
    for required in ["name", "ip"] {
        if !headers.iter().any(|h| h == required) {
            return Err(ApiError::bad_request(
                Some(required),
                format!("the CSV header must have a {required} column"),
            ));
        }
    }
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let n = i as u64 + 1;
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                errors.push(RowError {
                    row: n,
                    field: "row".into(),
                    message: e.to_string(),
                });
                continue;
            }
        };
        match csv_row(&headers, &rec) {
            Ok(d) => rows.push((n, d)),
            Err((field, message)) => errors.push(RowError {
                row: n,
                field,
                message,
            }),
        }
    }
    Ok((rows, errors))
}

fn csv_row(
    headers: &csv::StringRecord,
    rec: &csv::StringRecord,
) -> Result<DeviceInput, (String, String)> {
    let mut d = DeviceInput::default();
    for (h, v) in headers.iter().zip(rec.iter()) {
        let opt = || (!v.is_empty()).then(|| v.to_string());
        match h {
            "name" => d.name = v.to_string(),
            "ip" => d.ip = v.to_string(),
            "hostname" => d.hostname = opt(),
            "vendor" => d.vendor = opt(),
            "device_type" => d.device_type = opt(),
            "model" => d.model = opt(),
            "location" => d.location = opt(),
            "region" => d.region = opt(),
            "branch" => d.branch = opt(),
            "source" => {
                d.source =
                    match v {
                        "" => None,
                        v => Some(v.parse().map_err(
                            |e: wardflux_model::inventory::FieldError| (h.to_string(), e.message),
                        )?),
                    }
            }
            "tags" => {
                d.tags = v
                    .split(';')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_string)
                    .collect()
            }
            "enabled" => {
                d.enabled = match v.to_ascii_lowercase().as_str() {
                    "" => None,
                    "true" | "1" | "yes" => Some(true),
                    "false" | "0" | "no" => Some(false),
                    _ => return Err(("enabled".into(), "must be true or false".into())),
                }
            }
            "parent_id" => {
                d.parent_id = match v {
                    "" => None,
                    s => Some(
                        s.parse()
                            .map_err(|_| ("parent_id".to_string(), "must be a UUID".to_string()))?,
                    ),
                }
            }
            "snmp_port" => {
                d.snmp_port = match v {
                    "" => None,
                    s => Some(s.parse().map_err(|_| {
                        ("snmp_port".to_string(), "must be an integer".to_string())
                    })?),
                }
            }
            "icmp_interval_s" => {
                d.icmp_interval_s = match v {
                    "" => None,
                    s => Some(s.parse().map_err(|_| {
                        (
                            "icmp_interval_s".to_string(),
                            "must be an integer".to_string(),
                        )
                    })?),
                }
            }
            _ => {}
        }
    }
    Ok(d)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ExportParams {
    /// csv (default) or json
    pub format: Option<String>,
}

/// Export every device as CSV (import-compatible) or JSON.
#[utoipa::path(get, path = "/api/v1/devices/export", tag = "devices", params(ExportParams),
    responses((status = 200, body = Vec<Device>, description = "JSON array, or text/csv")))]
pub async fn export_devices(
    State(st): State<AppState>,
    _: Viewer,
    Query(p): Query<ExportParams>,
) -> ApiResult<Response> {
    let devices = st.store.all_devices().await?;
    match p.format.as_deref().unwrap_or("csv") {
        "json" => Ok(axum::Json(&*devices).into_response()),
        "csv" => {
            let mut w = csv::Writer::from_writer(Vec::new());
            let io = |e: csv::Error| ApiError::Unexpected(e.into());
            w.write_record(CSV_COLUMNS).map_err(io)?;
            for d in devices.iter() {
                let o = |s: &Option<String>| s.clone().unwrap_or_default();
                w.write_record([
                    d.name.clone(),
                    d.ip.to_string(),
                    o(&d.hostname),
                    o(&d.vendor),
                    o(&d.device_type),
                    o(&d.model),
                    o(&d.location),
                    o(&d.region),
                    o(&d.branch),
                    d.tags.join(";"),
                    d.enabled.to_string(),
                    d.parent_id.map(|p| p.to_string()).unwrap_or_default(),
                    d.source.to_string(),
                    d.icmp_interval_s.to_string(),
                    d.snmp_port.to_string(),
                ])
                .map_err(io)?;
            }
            let bytes = w.into_inner().map_err(|e| ApiError::Unexpected(e.into()))?;
            Ok((
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                    (
                        header::CONTENT_DISPOSITION,
                        "attachment; filename=\"devices.csv\"",
                    ),
                ],
                bytes,
            )
                .into_response())
        }
        _ => Err(ApiError::bad_request(Some("format"), "must be csv or json")),
    }
}

/// This module's routes and their OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_devices, create_device))
        .routes(routes!(export_devices))
        .routes({
            let (schemas, paths, method) = routes!(import_devices);
            (
                schemas,
                paths,
                method.layer(axum::extract::DefaultBodyLimit::max(MAX_IMPORT_BYTES)),
            )
        })
        .routes(routes!(
            get_device,
            update_device,
            patch_device,
            delete_device
        ))
}
