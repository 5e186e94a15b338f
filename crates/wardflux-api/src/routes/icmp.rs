//! ICMP: every device's reachability state, its history, and ping-now.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{Operator, Viewer};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{IdPath, Json, Query};
use crate::state::AppState;
use std::sync::Arc;
use utoipa_axum::{router::OpenApiRouter, routes};
use wardflux_collect::icmp::IcmpMonitor;
use wardflux_model::inventory::DeviceSource;
use wardflux_tsdb::MetricStore;
use wardflux_zabbix::source::ZabbixSource;

/// One device's reachability as the ICMP monitor sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct IcmpStatus {
    pub device_id: uuid::Uuid,
    pub name: String,
    pub ip: String,
    /// up, down or unknown (not checked yet)
    pub state: String,
    /// Since when the device is in this state.
    pub since: DateTime<Utc>,
    pub down_since: Option<DateTime<Utc>>,
    pub last_check: Option<DateTime<Utc>>,
    pub last_rtt_ms: Option<f64>,
    /// Percent of the last check's packets lost.
    pub loss: Option<f64>,
    pub flapping: bool,
    /// Who decided `state`: `standalone` (our ICMP monitor) or `zabbix` (its `icmpping`
    /// item, for a device only Zabbix watches).
    pub source: DeviceSource,
    /// What Zabbix' `icmpping` says, beside our state, where both watch the device.
    pub zabbix_state: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct StatusParams {
    /// up, down or unknown
    pub state: Option<String>,
    /// Only flapping devices (true) or only stable ones (false).
    pub flapping: Option<bool>,
    /// Case-insensitive substring of name or IP.
    pub search: Option<String>,
}

/// Every monitored device's state, since when, last RTT and loss.
#[utoipa::path(get, path = "/api/v1/monitoring/icmp/status", operation_id = "get_icmp_status", tag = "monitoring", params(StatusParams),
    responses((status = 200, body = Vec<IcmpStatus>), (status = 400, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn status(
    State(st): State<AppState>,
    _: Viewer,
    Query(p): Query<StatusParams>,
) -> ApiResult<(axum::http::HeaderMap, axum::Json<Vec<IcmpStatus>>)> {
    if let Some(s) = &p.state
        && !["up", "down", "unknown"].contains(&s.as_str())
    {
        return Err(ApiError::bad_request(
            Some("state"),
            "must be up, down or unknown",
        ));
    }
    let zabbix = st
        .services
        .get::<ZabbixSource>()
        .map(|z| z.ping_states())
        .unwrap_or_default();
    let ours = match st.services.get::<IcmpMonitor>() {
        Ok(mon) => mon.snapshot(),
        Err(e) if zabbix.is_empty() => return Err(e),
        Err(_) => Vec::new(),
    };
    let word = |up: bool| if up { "up" } else { "down" }.to_string();
    let mut rows: Vec<IcmpStatus> = Vec::with_capacity(ours.len());
    let watched: std::collections::HashSet<uuid::Uuid> = ours.iter().map(|d| d.device_id).collect();
    for d in ours {
        rows.push(IcmpStatus {
            zabbix_state: zabbix.get(&d.device_id).map(|z| word(z.up)),
            device_id: d.device_id,
            name: d.name,
            ip: d.ip.to_string(),
            state: d.state.as_str().to_string(),
            since: d.since,
            down_since: d.down_since,
            last_check: d.last_check,
            last_rtt_ms: d.last_rtt_ms.map(super::display_ms),
            loss: d.loss,
            flapping: d.flapping,
            source: DeviceSource::Standalone,
        });
    }
    // Devices only Zabbix watches: its state is the only one.
    if zabbix.keys().any(|id| !watched.contains(id)) {
        for dev in st.store.all_devices().await?.iter() {
            let Some(z) = zabbix.get(&dev.id) else {
                continue;
            };
            if watched.contains(&dev.id) {
                continue;
            }
            rows.push(IcmpStatus {
                device_id: dev.id,
                name: dev.name.clone(),
                ip: dev.ip.to_string(),
                state: word(z.up),
                since: z.clock,
                down_since: (!z.up).then_some(z.clock),
                last_check: Some(z.clock),
                last_rtt_ms: None,
                loss: None,
                flapping: false,
                source: DeviceSource::Zabbix,
                zabbix_state: Some(word(z.up)),
            });
        }
    }
    let needle = p.search.as_ref().map(|s| s.to_lowercase());
    let mut out: Vec<IcmpStatus> = rows
        .into_iter()
        .filter(|d| p.state.as_deref().is_none_or(|s| d.state == s))
        .filter(|d| p.flapping.is_none_or(|f| d.flapping == f))
        .filter(|d| {
            needle
                .as_ref()
                .is_none_or(|n| d.name.to_lowercase().contains(n) || d.ip.contains(n))
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name).then(a.ip.cmp(&b.ip)));
    Ok((super::settings::stale_warning(&st), axum::Json(out)))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PingRequest {
    /// Echo requests to send, 1-20 (default 3).
    pub count: Option<u32>,
    /// Per-request timeout in milliseconds, 50-10000 (default 1000).
    pub timeout_ms: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PingAnswer {
    pub device_id: uuid::Uuid,
    pub ip: String,
    pub alive: bool,
    pub sent: u32,
    pub received: u32,
    /// Percent lost.
    pub loss: f64,
    pub rtt_ms: Vec<f64>,
    pub rtt_avg_ms: Option<f64>,
}

/// Ping a device now (operator). Does not change its monitored state.
#[utoipa::path(post, path = "/api/v1/devices/{id}/ping", operation_id = "ping_device_now", tag = "devices", params(("id" = uuid::Uuid, Path)),
    request_body(content = Option<PingRequest>, description = "optional; defaults: 3 requests, 1000 ms"),
    responses((status = 200, body = PingAnswer), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn ping_device(
    State(st): State<AppState>,
    _: Operator,
    IdPath(id): IdPath,
    body: Option<Json<PingRequest>>,
) -> ApiResult<axum::Json<PingAnswer>> {
    let req = body.map(|Json(b)| b).unwrap_or_default();
    let count = req.count.unwrap_or(3);
    if !(1..=20).contains(&count) {
        return Err(wardflux_model::inventory::FieldError::new(
            "count",
            "must be between 1 and 20",
        )
        .into());
    }
    let timeout_ms = req.timeout_ms.unwrap_or(1000);
    if !(50..=10_000).contains(&timeout_ms) {
        return Err(wardflux_model::inventory::FieldError::new(
            "timeout_ms",
            "must be between 50 and 10000",
        )
        .into());
    }
    let device = st.store.get_device(id).await?;
    let ip = device.ip;
    let pinger = st.services.get::<wardflux_icmp::Pinger>()?;
    let r = pinger
        .ping(ip, count, std::time::Duration::from_millis(timeout_ms))
        .await
        .map_err(|e| ApiError::Unexpected(e.into()))?;
    let rtt_ms: Vec<f64> = r.rtts.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    let rtt_avg_ms = (!rtt_ms.is_empty())
        .then(|| super::display_ms(rtt_ms.iter().sum::<f64>() / rtt_ms.len() as f64));
    let rtt_ms = rtt_ms.into_iter().map(super::display_ms).collect();
    Ok(axum::Json(PingAnswer {
        device_id: id,
        ip: device.ip.to_string(),
        alive: r.received > 0,
        sent: r.sent,
        received: r.received,
        loss: super::display_ms(r.loss * 100.0),
        rtt_ms,
        rtt_avg_ms,
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct HistoryParams {
    /// Start: RFC 3339 or Unix seconds. Default: one hour before `to`.
    pub from: Option<String>,
    /// End: RFC 3339 or Unix seconds. Default: now.
    pub to: Option<String>,
    /// Resolution: seconds, or a duration such as `30s`, `5m`, `1h`. Default: range / 360, at least 10 s.
    pub step: Option<String>,
}

/// One point of a series.
#[derive(Debug, Serialize, ToSchema)]
pub struct Point {
    pub at: DateTime<Utc>,
    pub value: f64,
}

/// A device's ICMP history: metric series averaged per step, and its state changes.
#[derive(Debug, Serialize, ToSchema)]
pub struct IcmpHistory {
    pub device_id: uuid::Uuid,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub step_s: u64,
    /// `ping_rtt_ms`, average per step.
    pub rtt_ms: Vec<Point>,
    /// `ping_packet_loss` (percent, 0-100), average per step.
    pub packet_loss: Vec<Point>,
    /// `ping_availability` (1 answered, 0 not), average per step: the share of checks answered.
    pub availability: Vec<Point>,
    /// `ping_up` (0 or 1), the minimum per step: one down check marks the step down.
    pub up: Vec<Point>,
    /// Confirmed state changes in the range, oldest first.
    pub state_changes: Vec<wardflux_model::inventory::StatusChange>,
}

/// Most points one series may return.
const MAX_POINTS: i64 = 11_000;

/// `from`/`to`: RFC 3339 or Unix seconds (the Prometheus API's parser, so both read times
/// the same way).
fn parse_time(field: &str, s: &str) -> Result<DateTime<Utc>, ApiError> {
    let ms = wardflux_tsdb::http::parse_time(field, s)
        .map_err(|e| ApiError::bad_request(Some(field), e.to_string()))?;
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| ApiError::bad_request(Some(field), "out of range"))
}

/// `step`: seconds or a Prometheus duration (`30s`, `5m`, `1h`), in whole seconds.
fn parse_step(s: &str) -> Result<i64, ApiError> {
    if s.parse::<f64>().is_ok_and(|v| v <= 0.0) {
        return Err(wardflux_model::inventory::FieldError::new("step", "must be positive").into());
    }
    let ms = wardflux_tsdb::http::parse_duration("step", s)
        .map_err(|e| ApiError::bad_request(Some("step"), e.to_string()))?;
    Ok((ms / 1000).max(1))
}

/// A device's RTT, loss, availability and up/down history, plus its state changes.
/// `ping_availability` is 0 or 1 per check; each point here is its average over the step
/// (a fraction of checks answered). As a percentage over any window in PromQL:
/// `avg_over_time(ping_availability{device_id="..."}[1h]) * 100`.
#[utoipa::path(get, path = "/api/v1/monitoring/icmp/history/{device_id}", operation_id = "get_icmp_history", tag = "monitoring",
    params(("device_id" = uuid::Uuid, Path), HistoryParams),
    responses((status = 200, body = IcmpHistory), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn history(
    State(st): State<AppState>,
    _: Viewer,
    axum::extract::Path(device_id): axum::extract::Path<String>,
    Query(p): Query<HistoryParams>,
) -> ApiResult<axum::Json<IcmpHistory>> {
    use wardflux_tsdb::{Aggregation, LabelMatcher, RangeQuery};
    let device_id: uuid::Uuid = device_id
        .parse()
        .map_err(|_| ApiError::bad_request(Some("device_id"), "must be a UUID"))?;
    let to = match &p.to {
        Some(s) => parse_time("to", s)?,
        None => Utc::now(),
    };
    let from = match &p.from {
        Some(s) => parse_time("from", s)?,
        None => to - chrono::Duration::hours(1),
    };
    if from >= to {
        return Err(wardflux_model::inventory::FieldError::new("from", "must be before to").into());
    }
    let range_s = (to - from).num_seconds().max(1);
    let step_s = match &p.step {
        Some(s) => parse_step(s)?,
        None => (range_s / 360).max(10),
    };
    if range_s / step_s > MAX_POINTS {
        return Err(wardflux_model::inventory::FieldError::new(
            "step",
            format!("too small for this range: at most {MAX_POINTS} points per series"),
        )
        .into());
    }
    let device = st.store.get_device(device_id).await?;
    let tsdb = st.services.get::<Arc<dyn MetricStore>>()?;
    let id = device_id.to_string();
    let series = |metric: &'static str, agg: Aggregation| {
        let q = RangeQuery {
            matchers: vec![
                LabelMatcher::eq("__name__", metric),
                LabelMatcher::eq("device_id", id.clone()),
            ],
            start_ms: from.timestamp_millis(),
            end_ms: to.timestamp_millis(),
            step_ms: step_s * 1000,
            agg,
        };
        let tsdb = Arc::clone(&tsdb);
        async move {
            let r = tsdb
                .range(&q)
                .await
                .map_err(|e| ApiError::Unexpected(e.into()))?;
            // A device has one series per metric, unless its IP or name changed in the
            // range: merge them by time.
            let mut pts: Vec<(i64, f64)> = r.into_iter().flat_map(|s| s.points).collect();
            pts.sort_by_key(|(t, _)| *t);
            Ok::<_, ApiError>(
                pts.into_iter()
                    .filter_map(|(t, v)| {
                        Some(Point {
                            at: DateTime::from_timestamp_millis(t)?,
                            value: v,
                        })
                    })
                    .collect::<Vec<_>>(),
            )
        }
    };
    let (rtt_ms, packet_loss, availability, up) = tokio::try_join!(
        series("ping_rtt_ms", Aggregation::Avg),
        series("ping_packet_loss", Aggregation::Avg),
        series("ping_availability", Aggregation::Avg),
        series("ping_up", Aggregation::Min),
    )?;
    let (mut rtt_ms, mut packet_loss, mut availability, mut up) =
        (rtt_ms, packet_loss, availability, up);
    // A device only Zabbix watches: its history is Zabbix' (`history.get`, `trend.get` beyond
    // two days), averaged per step; the `ping_up` samples the sync wrote stay the answer
    // when Zabbix cannot be reached.
    if device.source == DeviceSource::Zabbix
        && let Some(host) = device.zabbix_hostid
        && let Ok(z) = st.services.get::<ZabbixSource>()
    {
        let step = step_s * 1000;
        let fetch = |key: &'static str, scale: f64| {
            let z = z.clone();
            async move {
                match z.item_series(host, key, from, to).await {
                    Ok(Some(pts)) => Some(per_step(&pts, from, step, scale)),
                    Ok(None) => None,
                    Err(e) => {
                        tracing::debug!(error = %e, key, "Zabbix history not read");
                        None
                    }
                }
            }
        };
        let (zup, zrtt, zloss) = tokio::join!(
            fetch("icmpping", 1.0),
            fetch("icmppingsec", 1000.0),
            fetch("icmppingloss", 1.0)
        );
        if let Some(avg) = zup {
            // as ours: availability the share answered, up the minimum of the step (of 0/1
            // values, the floor of their average)
            up = avg
                .iter()
                .map(|p| Point {
                    at: p.at,
                    value: p.value.floor(),
                })
                .collect();
            availability = avg;
        }
        if let Some(r) = zrtt {
            rtt_ms = r;
        }
        if let Some(l) = zloss {
            packet_loss = l;
        }
    }
    let state_changes = st
        .store
        .status_history(device_id, Some(from), Some(to), 10_000)
        .await?;
    Ok(axum::Json(IcmpHistory {
        device_id,
        from,
        to,
        step_s: step_s as u64,
        rtt_ms: rtt_ms
            .into_iter()
            .map(|p| Point {
                value: super::display_ms(p.value),
                ..p
            })
            .collect(),
        packet_loss,
        availability,
        up,
        state_changes,
    }))
}

/// `pts` averaged per step of `step_ms` from `from` (each point at its step's start), times
/// `scale`.
fn per_step(
    pts: &[(DateTime<Utc>, f64)],
    from: DateTime<Utc>,
    step_ms: i64,
    scale: f64,
) -> Vec<Point> {
    let mut acc: std::collections::BTreeMap<i64, (f64, u32)> = std::collections::BTreeMap::new();
    let t0 = from.timestamp_millis();
    for (t, v) in pts {
        let k = (t.timestamp_millis() - t0).div_euclid(step_ms);
        let e = acc.entry(k).or_insert((0.0, 0));
        e.0 += v * scale;
        e.1 += 1;
    }
    acc.into_iter()
        .filter_map(|(k, (sum, n))| {
            Some(Point {
                at: DateTime::from_timestamp_millis(t0 + k * step_ms)?,
                value: sum / f64::from(n),
            })
        })
        .collect()
}

/// This module's routes and their OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(status))
        .routes(routes!(ping_device))
        .routes(routes!(history))
}
