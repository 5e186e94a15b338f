//! SNMP on demand: test a device's agent, poll OIDs now. Credentials come from the
//! encrypted store (the device's own, else the newest global one, or one named by id);
//! secrets are decrypted only to build the request and never returned.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use wardflux_collect::snmp::SnmpPoller;
use wardflux_model::inventory::FieldError;
use wardflux_snmp::{Oid, SnmpClient, Target};

use crate::auth::Operator;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Json, Query};
use crate::state::AppState;
use utoipa_axum::{router::OpenApiRouter, routes};

/// A typed failure: timeout, auth_failure, unknown_user, unknown_engine_id,
/// not_in_time_window, decryption_error, error_status, io, ...
#[derive(Debug, Serialize, ToSchema)]
pub struct SnmpFailure {
    pub kind: String,
    pub message: String,
}

/// Result of `POST /api/v1/monitoring/snmp/test`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SnmpTestAnswer {
    pub device_id: Uuid,
    pub ip: String,
    pub port: u16,
    pub credential_id: Uuid,
    pub reachable: bool,
    pub sys_descr: Option<String>,
    pub sys_object_id: Option<String>,
    /// sysUpTime.0 in hundredths of a second.
    pub sys_uptime_ticks: Option<u32>,
    pub rtt_ms: Option<f64>,
    pub error: Option<SnmpFailure>,
}

/// One variable binding as polled.
#[derive(Debug, Serialize, ToSchema)]
pub struct VarBindOut {
    pub oid: String,
    /// integer, octet_string, oid, ip_address, counter32, gauge32, timeticks, opaque,
    /// counter64, null, no_such_object, no_such_instance, end_of_mib_view
    #[serde(rename = "type")]
    pub type_: String,
    /// A number for integers, counters, gauges and timeticks; a string otherwise.
    #[schema(value_type = Object)]
    pub value: serde_json::Value,
    /// net-snmp's rendering (`snmpget -On`).
    pub text: String,
}

/// Result of `POST /api/v1/monitoring/snmp/poll`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SnmpPollAnswer {
    pub device_id: Uuid,
    pub ip: String,
    pub port: u16,
    /// The credential used (absent for an items poll: the poller holds the device's).
    pub credential_id: Option<Uuid>,
    /// The OIDs asked for, when `oids` was given.
    pub varbinds: Vec<VarBindOut>,
    /// Without `oids`: every item of the device (its templates' items and discovered rows),
    /// polled now, with its state and value.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<wardflux_model::ItemState>,
    pub error: Option<SnmpFailure>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestParams {
    pub device_id: Uuid,
    /// Use this stored credential instead of the device's.
    pub credential_id: Option<Uuid>,
    /// UDP port (default 161).
    pub port: Option<u16>,
    /// Per-attempt timeout in ms, 100-10000 (default 2000).
    pub timeout_ms: Option<u64>,
    /// Retries after the first attempt, 0-5 (default 1).
    pub retries: Option<u32>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PollRequest {
    pub device_id: Uuid,
    /// Numeric OIDs, e.g. `1.3.6.1.2.1.1.3.0`; 1-128 of them. Absent or empty: poll the
    /// device's items (from its templates) now and return them.
    #[serde(default)]
    pub oids: Vec<String>,
    #[serde(default)]
    pub credential_id: Option<Uuid>,
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    #[serde(default)]
    pub retries: Option<u32>,
}

struct Prepared {
    client: SnmpClient,
    target: Target,
    ip: String,
    credential_id: Uuid,
}

async fn prepare(
    st: &AppState,
    device_id: Uuid,
    credential_id: Option<Uuid>,
    port: Option<u16>,
    timeout_ms: Option<u64>,
    retries: Option<u32>,
) -> ApiResult<Prepared> {
    if port == Some(0) {
        return Err(FieldError::new("port", "must be 1-65535").into());
    }
    let timeout_ms = timeout_ms.unwrap_or(2000);
    if !(100..=10_000).contains(&timeout_ms) {
        return Err(FieldError::new("timeout_ms", "must be between 100 and 10000").into());
    }
    let retries = retries.unwrap_or(1);
    if retries > 5 {
        return Err(FieldError::new("retries", "must be between 0 and 5").into());
    }
    let device = st.store.get_device(device_id).await?;
    let port = port.unwrap_or(device.snmp_port);
    let cred = match credential_id {
        Some(id) => st.store.get_snmp_credential(id).await.map_err(|e| match e {
            wardflux_store::StoreError::NotFound { .. } => {
                FieldError::new("credential_id", "no SNMP credential with this id").into()
            }
            other => ApiError::from(other),
        })?,
        None => st
            .store
            .snmp_credential_for_device(device_id)
            .await?
            .ok_or_else(|| {
                ApiError::from(FieldError::new(
                    "credential_id",
                    "no SNMP credential for this device: create one (POST /api/v1/monitoring/snmp/credentials) or name one",
                ))
            })?,
    };
    let secrets = st.store.snmp_secrets(cred.id).await?;
    let ip = device.ip;
    let mut target = Target::from_model(SocketAddr::new(ip, port), &cred, &secrets)
        .map_err(|e| ApiError::Unexpected(format!("stored credential is unusable: {e}").into()))?;
    target.timeout = Duration::from_millis(timeout_ms);
    target.retries = retries;
    let client = st.services.get::<SnmpClient>()?;
    Ok(Prepared {
        client,
        target,
        ip: device.ip.to_string(),
        credential_id: cred.id,
    })
}

/// Test a device's SNMP agent now (operator): reachability, sysDescr, sysObjectID,
/// sysUpTime and round-trip time, or a typed reason. A timeout is an answer
/// (`reachable: false`, `error.kind: timeout`), not a failure of the request.
#[utoipa::path(post, path = "/api/v1/monitoring/snmp/test", operation_id = "test_snmp_agent", tag = "monitoring", request_body = TestParams,
    responses((status = 200, body = SnmpTestAnswer), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn test_agent(
    State(st): State<AppState>,
    _: Operator,
    Json(p): Json<TestParams>,
) -> ApiResult<axum::Json<SnmpTestAnswer>> {
    run_test(&st, p).await
}

/// The same test as `POST /api/v1/monitoring/snmp/test` with its parameters in the query
/// string (kept for links and existing scripts; prefer POST: a test sends traffic).
#[utoipa::path(get, path = "/api/v1/monitoring/snmp/test", operation_id = "test_snmp_agent_by_query", tag = "monitoring", params(TestParams),
    responses((status = 200, body = SnmpTestAnswer), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn test(
    State(st): State<AppState>,
    _: Operator,
    Query(p): Query<TestParams>,
) -> ApiResult<axum::Json<SnmpTestAnswer>> {
    run_test(&st, p).await
}

async fn run_test(st: &AppState, p: TestParams) -> ApiResult<axum::Json<SnmpTestAnswer>> {
    let pr = prepare(
        st,
        p.device_id,
        p.credential_id,
        p.port,
        p.timeout_ms,
        p.retries,
    )
    .await?;
    let r = wardflux_snmp::probe(&pr.client, &pr.target).await;
    Ok(axum::Json(SnmpTestAnswer {
        device_id: p.device_id,
        ip: pr.ip,
        port: pr.target.addr.port(),
        credential_id: pr.credential_id,
        reachable: r.reachable,
        sys_descr: r.sys_descr,
        sys_object_id: r.sys_object_id,
        sys_uptime_ticks: r.sys_uptime_ticks,
        rtt_ms: r.rtt_ms.map(super::display_ms),
        error: r.error.map(|e| SnmpFailure {
            kind: e.kind,
            message: e.message,
        }),
    }))
}

/// Poll the given OIDs on a device now (operator).
#[utoipa::path(post, path = "/api/v1/monitoring/snmp/poll", operation_id = "poll_snmp_now", tag = "monitoring", request_body = PollRequest,
    responses((status = 200, body = SnmpPollAnswer), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn poll(
    State(st): State<AppState>,
    _: Operator,
    Json(req): Json<PollRequest>,
) -> ApiResult<axum::Json<SnmpPollAnswer>> {
    if req.oids.is_empty() {
        return poll_items(&st, req.device_id).await;
    }
    if req.oids.len() > 128 {
        return Err(FieldError::new("oids", "give 1-128 OIDs").into());
    }
    let mut oids = Vec::with_capacity(req.oids.len());
    for (i, s) in req.oids.iter().enumerate() {
        let o: Oid = s.trim().parse().map_err(|_| {
            ApiError::from(FieldError::new(
                format!("oids[{i}]"),
                "must be a numeric OID such as 1.3.6.1.2.1.1.3.0",
            ))
        })?;
        oids.push(o);
    }
    let pr = prepare(
        &st,
        req.device_id,
        req.credential_id,
        req.port,
        req.timeout_ms,
        req.retries,
    )
    .await?;
    let (varbinds, error) = match wardflux_snmp::poll(&pr.client, &pr.target, &oids).await {
        Ok(v) => (
            v.into_iter()
                .map(|v| VarBindOut {
                    oid: v.oid,
                    type_: v.type_.to_string(),
                    value: v.value,
                    text: v.text,
                })
                .collect(),
            None,
        ),
        Err(e) => (
            Vec::new(),
            Some(SnmpFailure {
                kind: e.kind().to_string(),
                message: e.to_string(),
            }),
        ),
    };
    Ok(axum::Json(SnmpPollAnswer {
        device_id: req.device_id,
        ip: pr.ip,
        port: pr.target.addr.port(),
        credential_id: Some(pr.credential_id),
        varbinds,
        items: Vec::new(),
        error,
    }))
}

/// Polls every item of a device now through the poller (samples written, states updated,
/// as a scheduled poll would).
async fn poll_items(st: &AppState, device_id: Uuid) -> ApiResult<axum::Json<SnmpPollAnswer>> {
    let device = st.store.get_device(device_id).await?;
    let poller = st.services.get::<SnmpPoller>()?;
    let items = poller.poll_now(device_id).await.map_err(|_| {
        ApiError::from(FieldError::new(
            "oids",
            "the device has no SNMP items to poll (apply a template, or give oids)",
        ))
    })?;
    let error = items
        .iter()
        .all(|i| i.status != wardflux_model::ItemStatus::Ok)
        .then(|| items.iter().find_map(|i| i.error.clone()))
        .flatten()
        .map(|message| SnmpFailure {
            kind: "items".into(),
            message,
        });
    Ok(axum::Json(SnmpPollAnswer {
        device_id,
        ip: device.ip.to_string(),
        port: device.snmp_port,
        credential_id: None,
        varbinds: Vec::new(),
        items,
        error,
    }))
}

/// This module's routes and their OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(test_agent, test))
        .routes(routes!(poll))
}
