//! The dashboard (`/`) and the Monitor page (`/monitor`): device states from the ICMP
//! monitor's live table, joined with the inventory (region, type), and active alerts. Both
//! have a fragment route under `/ui/` that the page re-fetches on each `state` event.
//! In `zabbix` and `hybrid` mode, devices only Zabbix watches take their state from its
//! `icmpping` (as of the last sync), and where both watch a device, Zabbix' answer is shown
//! beside ours (never instead of it), as `GET /api/v1/monitoring/icmp/status` does.

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::Utc;
use serde::Deserialize;
use uuid::Uuid;
use wardflux_api::AppState;
use wardflux_collect::icmp::{DeviceStatus, IcmpMonitor};
use wardflux_model::DeviceState;
use wardflux_store::alerts::AlertQuery;
use wardflux_zabbix::source::{ZabbixPing, ZabbixSource};

use super::{Chrome, store_error};
use crate::inventory::{Facts, FactsMap};
use crate::session::Page;
use crate::view;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(dashboard))
        .route("/ui/dashboard", get(dashboard_fragment))
        .route("/monitor", get(monitor))
        .route("/ui/monitor", get(monitor_fragment))
}

/// The state a row shows: flapping wins over up/down (it is what the operator must see).
fn shown_state(d: &DeviceStatus) -> &'static str {
    if d.flapping {
        "flapping"
    } else {
        d.state.as_str()
    }
}

fn rank(state: &str) -> u8 {
    match state {
        "down" => 0,
        "flapping" => 1,
        "unknown" => 2,
        _ => 3,
    }
}

/// Region and type per device: from the live feed's cache when the binary runs one.
pub async fn facts(st: &AppState) -> Result<FactsMap, Response> {
    match st.services.get::<crate::LiveFeed>() {
        Ok(feed) => feed.inventory.facts(&st.store).await,
        Err(_) => crate::inventory::load(&st.store)
            .await
            .map(std::sync::Arc::new),
    }
    .map_err(store_error)
}

/// What Zabbix' `icmpping` says per device (empty in standalone mode).
fn zabbix_pings(st: &AppState) -> HashMap<Uuid, ZabbixPing> {
    st.services
        .get::<ZabbixSource>()
        .map(|z| z.ping_states())
        .unwrap_or_default()
}

/// The monitor's table (with the devices only Zabbix watches), or why there is none.
fn snapshot(
    st: &AppState,
    facts: &HashMap<Uuid, Facts>,
    zabbix: &HashMap<Uuid, ZabbixPing>,
) -> Result<Vec<DeviceStatus>, String> {
    let mut ours = match st.services.get::<IcmpMonitor>() {
        Ok(m) => m.snapshot(),
        Err(e) if zabbix.is_empty() => return Err(e.to_string()),
        Err(_) => Vec::new(),
    };
    let watched: std::collections::HashSet<Uuid> = ours.iter().map(|d| d.device_id).collect();
    for (id, z) in zabbix {
        let Some(f) = facts.get(id).filter(|f| f.zabbix_only) else {
            continue;
        };
        if watched.contains(id) {
            continue;
        }
        ours.push(DeviceStatus {
            device_id: *id,
            name: f.name.clone(),
            ip: f.ip,
            state: if z.up {
                DeviceState::Up
            } else {
                DeviceState::Down
            },
            since: z.clock,
            down_since: (!z.up).then_some(z.clock),
            last_check: Some(z.clock),
            last_rtt_ms: None,
            loss: None,
            flapping: false,
        });
    }
    Ok(ours)
}

// --- dashboard --------------------------------------------------------------------------

pub struct RegionRow {
    pub name: String,
    pub down: usize,
    pub up: usize,
    pub total: usize,
}

pub struct Summary {
    pub monitoring: bool,
    pub monitoring_why: String,
    pub up: usize,
    pub down: usize,
    pub flapping: usize,
    pub unknown: usize,
    /// Active alerts per severity, most severe first (all severities, zeros included).
    pub alerts: Vec<(&'static str, usize)>,
    pub regions: Vec<RegionRow>,
    pub at_iso: String,
    pub at_short: String,
}

async fn summary(st: &AppState) -> Result<Summary, Response> {
    let facts = facts(st).await?;
    let (statuses, why) = match snapshot(st, &facts, &zabbix_pings(st)) {
        Ok(s) => (s, String::new()),
        Err(why) => (Vec::new(), why),
    };
    let mut s = Summary {
        monitoring: why.is_empty(),
        monitoring_why: why,
        up: 0,
        down: 0,
        flapping: 0,
        unknown: 0,
        alerts: Vec::new(),
        regions: Vec::new(),
        at_iso: String::new(),
        at_short: String::new(),
    };
    let mut regions: BTreeMap<String, RegionRow> = BTreeMap::new();
    for d in &statuses {
        match shown_state(d) {
            "down" => s.down += 1,
            "flapping" => s.flapping += 1,
            "up" => s.up += 1,
            _ => s.unknown += 1,
        }
        let region = facts
            .get(&d.device_id)
            .map(|f| f.region.clone())
            .filter(|r| !r.is_empty());
        if let Some(name) = region {
            let row = regions.entry(name.clone()).or_insert(RegionRow {
                name,
                down: 0,
                up: 0,
                total: 0,
            });
            row.total += 1;
            match d.state {
                DeviceState::Down => row.down += 1,
                DeviceState::Up => row.up += 1,
                _ => {}
            }
        }
    }
    // Regions with devices down first, then by name.
    let mut regions: Vec<RegionRow> = regions.into_values().collect();
    regions.sort_by(|a, b| b.down.cmp(&a.down).then(a.name.cmp(&b.name)));
    s.regions = regions;
    let mut active = st
        .store
        .list_active_alerts(&AlertQuery::default())
        .await
        .map_err(store_error)?;
    if let Ok(z) = st.services.get::<ZabbixSource>() {
        active.extend(z.alerts());
    }
    s.alerts = ["critical", "high", "medium", "low", "info"]
        .into_iter()
        .map(|sev| {
            (
                sev,
                active.iter().filter(|a| a.severity.as_str() == sev).count(),
            )
        })
        .collect();
    let now = Utc::now();
    s.at_iso = view::iso(now);
    s.at_short = view::short(now);
    Ok(s)
}

#[derive(Template, WebTemplate)]
#[template(path = "dashboard.html")]
struct Dashboard {
    chrome: Chrome,
    s: Summary,
}

#[derive(Template, WebTemplate)]
#[template(path = "dashboard_summary.html")]
struct DashboardSummary {
    s: Summary,
}

async fn dashboard(State(st): State<AppState>, page: Page, headers: HeaderMap) -> Response {
    match summary(&st).await {
        Ok(s) => Dashboard {
            chrome: Chrome::new(&page, &headers, "dashboard"),
            s,
        }
        .into_response(),
        Err(r) => r,
    }
}

async fn dashboard_fragment(State(st): State<AppState>, _page: Page) -> Response {
    match summary(&st).await {
        Ok(s) => DashboardSummary { s }.into_response(),
        Err(r) => r,
    }
}

// --- monitor ----------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
pub struct Filters {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub region: String,
    #[serde(default, rename = "type")]
    pub type_: String,
    /// A device group's name.
    #[serde(default)]
    pub group: String,
}

pub struct Row {
    pub id: Uuid,
    pub name: String,
    pub ip: String,
    pub state: &'static str,
    pub region: String,
    /// How long it has been in this state ("3d 4h 12m"; for down: since the first failed check).
    pub duration: String,
    pub rtt: String,
    pub loss: String,
    /// (ISO, UTC text) of the last check.
    pub last_check: Option<(String, String)>,
    /// Who decided `state`: `standalone` (our ICMP monitor) or `zabbix` (its `icmpping`).
    pub source: &'static str,
    /// Zabbix' `icmpping` beside our state (`up`/`down`), where both watch the device.
    pub zabbix: &'static str,
}

pub struct Table {
    pub rows: Vec<Row>,
    pub up: usize,
    pub down: usize,
    pub flapping: usize,
    pub unknown: usize,
    /// Up devices left out to keep the page small (a filter shows them).
    pub truncated: usize,
}

/// At most this many up devices are rendered without a filter: down, flapping and unknown
/// devices are always all shown (they are what the page is for).
const MAX_UP_ROWS: usize = 500;

fn table(
    statuses: Vec<DeviceStatus>,
    facts: &HashMap<Uuid, Facts>,
    zabbix: &HashMap<Uuid, ZabbixPing>,
    f: &Filters,
) -> Table {
    let now = Utc::now();
    let needle = f.q.trim().to_lowercase();
    let mut t = Table {
        rows: Vec::new(),
        up: 0,
        down: 0,
        flapping: 0,
        unknown: 0,
        truncated: 0,
    };
    let mut rows: Vec<(u8, i64, Row)> = Vec::new();
    for d in statuses {
        let state = shown_state(&d);
        let fact = facts.get(&d.device_id);
        let region = fact.map(|x| x.region.as_str()).unwrap_or("");
        let dtype = fact.map(|x| x.device_type.as_str()).unwrap_or("");
        if (!f.state.is_empty() && f.state != state)
            || (!f.region.is_empty() && f.region != region)
            || (!f.type_.is_empty() && f.type_ != dtype)
            || (!f.group.is_empty() && !fact.is_some_and(|x| x.groups.contains(&f.group)))
            || (!needle.is_empty()
                && !d.name.to_lowercase().contains(&needle)
                && !d.ip.to_string().contains(&needle))
        {
            continue;
        }
        match state {
            "down" => t.down += 1,
            "flapping" => t.flapping += 1,
            "up" => t.up += 1,
            _ => t.unknown += 1,
        }
        let since = if d.state == DeviceState::Down {
            d.down_since.unwrap_or(d.since)
        } else {
            d.since
        };
        rows.push((
            rank(state),
            // Newest outage first: sort by the negated start.
            -since.timestamp(),
            Row {
                id: d.device_id,
                name: d.name,
                ip: d.ip.to_string(),
                state,
                region: region.to_string(),
                duration: view::since(since, now),
                rtt: d.last_rtt_ms.map_or("–".into(), |r| format!("{r:.1} ms")),
                loss: d.loss.map_or("–".into(), |l| format!("{l:.0} %")),
                last_check: d.last_check.map(|c| (view::iso(c), view::short(c))),
                source: if fact.is_some_and(|x| x.zabbix_only) {
                    "zabbix"
                } else {
                    "standalone"
                },
                zabbix: match zabbix.get(&d.device_id) {
                    Some(z) if !fact.is_some_and(|x| x.zabbix_only) => {
                        if z.up {
                            "up"
                        } else {
                            "down"
                        }
                    }
                    _ => "",
                },
            },
        ));
    }
    // Down first (newest outage first), then flapping, unknown, up (by name).
    rows.sort_by(|a, b| {
        a.0.cmp(&b.0).then_with(|| {
            if a.0 == 3 {
                a.2.name.cmp(&b.2.name)
            } else {
                a.1.cmp(&b.1)
            }
        })
    });
    let mut up_shown = 0;
    for (r, _, row) in rows {
        if r == 3 {
            up_shown += 1;
            if up_shown > MAX_UP_ROWS {
                t.truncated += 1;
                continue;
            }
        }
        t.rows.push(row);
    }
    t
}

#[derive(Template, WebTemplate)]
#[template(path = "monitor.html")]
struct Monitor {
    chrome: Chrome,
    f: Filters,
    regions: Vec<String>,
    types: Vec<String>,
    groups: Vec<String>,
    m: Table,
}

#[derive(Template, WebTemplate)]
#[template(path = "monitor_rows.html")]
struct MonitorRows {
    m: Table,
}

async fn monitor(
    State(st): State<AppState>,
    page: Page,
    headers: HeaderMap,
    Query(f): Query<Filters>,
) -> Response {
    let facts = match facts(&st).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mut regions: Vec<String> = facts.values().map(|x| x.region.clone()).collect();
    let mut types: Vec<String> = facts.values().map(|x| x.device_type.clone()).collect();
    let mut groups: Vec<String> = facts
        .values()
        .flat_map(|x| x.groups.iter().cloned())
        .collect();
    for v in [&mut regions, &mut types, &mut groups] {
        v.retain(|s| !s.is_empty());
        v.sort();
        v.dedup();
    }
    let zabbix = zabbix_pings(&st);
    let m = table(
        snapshot(&st, &facts, &zabbix).unwrap_or_default(),
        &facts,
        &zabbix,
        &f,
    );
    Monitor {
        chrome: Chrome::new(&page, &headers, "monitor"),
        f,
        regions,
        types,
        groups,
        m,
    }
    .into_response()
}

async fn monitor_fragment(
    State(st): State<AppState>,
    _page: Page,
    Query(f): Query<Filters>,
) -> Response {
    let render = |facts: &HashMap<Uuid, Facts>| {
        let zabbix = zabbix_pings(&st);
        MonitorRows {
            m: table(
                snapshot(&st, facts, &zabbix).unwrap_or_default(),
                facts,
                &zabbix,
                &f,
            ),
        }
        .render()
    };
    let facts = match facts(&st).await {
        Ok(facts) => facts,
        Err(r) => return r,
    };
    let html = match st.services.get::<crate::LiveFeed>() {
        // Shared by every open page with these filters (see `live::FragmentCache`).
        Ok(feed) => {
            let key = format!(
                "{}\0{}\0{}\0{}\0{}",
                f.q, f.state, f.region, f.type_, f.group
            );
            feed.fragments
                .get_or_render(&key, || render(&facts))
                .map(|h| h.as_str().to_owned())
        }
        Err(_) => render(&facts),
    };
    match html {
        Ok(h) => axum::response::Html(h).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "monitor fragment did not render");
            super::error_page(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "The table did not render.",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn status(name: &str, state: DeviceState, since_min: i64, flapping: bool) -> DeviceStatus {
        let since = Utc::now() - Duration::minutes(since_min);
        DeviceStatus {
            device_id: Uuid::new_v4(),
            name: name.into(),
            ip: "127.0.0.1".parse().unwrap(),
            state,
            since,
            down_since: (state == DeviceState::Down).then_some(since),
            last_check: None,
            last_rtt_ms: None,
            loss: None,
            flapping,
        }
    }

    #[test]
    fn down_first_newest_outage_first_then_flapping_then_up_by_name() {
        let t = table(
            vec![
                status("b-up", DeviceState::Up, 5, false),
                status("old-down", DeviceState::Down, 600, false),
                status("a-up", DeviceState::Up, 5, false),
                status("flap", DeviceState::Up, 1, true),
                status("new-down", DeviceState::Down, 3, false),
            ],
            &HashMap::new(),
            &HashMap::new(),
            &Filters::default(),
        );
        let names: Vec<_> = t.rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["new-down", "old-down", "flap", "a-up", "b-up"]);
        assert_eq!((t.down, t.flapping, t.up), (2, 1, 2));
        assert!(
            t.rows[1].duration.starts_with("10h 0m"),
            "{}",
            t.rows[1].duration
        );
        let only_down = table(
            vec![
                status("x", DeviceState::Up, 5, false),
                status("y", DeviceState::Down, 5, false),
            ],
            &HashMap::new(),
            &HashMap::new(),
            &Filters {
                state: "down".into(),
                ..Filters::default()
            },
        );
        assert_eq!(only_down.rows.len(), 1);
    }

    #[test]
    fn the_group_filter_keeps_the_group_members_only() {
        let a = status("branch-a", DeviceState::Down, 5, false);
        let b = status("branch-b", DeviceState::Up, 5, false);
        let mut facts = HashMap::new();
        facts.insert(
            a.device_id,
            Facts {
                name: "branch-a".into(),
                ip: "127.0.0.1".parse().unwrap(),
                zabbix_only: false,
                region: "west".into(),
                device_type: "router".into(),
                groups: vec!["atm-network".into()],
            },
        );
        let t = table(
            vec![a, b],
            &facts,
            &HashMap::new(),
            &Filters {
                group: "atm-network".into(),
                ..Filters::default()
            },
        );
        let names: Vec<_> = t.rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["branch-a"]);
        assert_eq!((t.down, t.up), (1, 0));
    }
}
