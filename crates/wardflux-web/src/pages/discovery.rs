//! `/discovery`: discovery rules (add, run now, delete), an ad-hoc scan, recent jobs with
//! live progress (`/ui/discovery/jobs`, re-fetched every second while one runs), and the
//! results with filters and "add selected". Every action goes through the API's own
//! functions and the discovery service, so the same checks hold (ranges, the /16 guard,
//! cron, credentials, all-or-nothing adds).

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use uuid::Uuid;
use wardflux_api::AppState;
use wardflux_api::error::ApiError;
use wardflux_api::routes::discovery;
use wardflux_discovery::service::Discovery;
use wardflux_model::discovery::{
    CandidateInput, DiscoveryAction, DiscoveryRuleInput, DiscoveryRun, ResultQuery, RunState,
};
use wardflux_model::inventory::{FieldError, Role};

use super::{Chrome, action, outcome, store_error};
use crate::form::Fields;
use crate::session::Page;
use crate::view;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/discovery", get(discovery))
        .route("/ui/discovery/jobs", get(jobs_fragment))
        .route("/discovery/rules", post(add_rule))
        .route("/discovery/rules/{id}/run", post(run_rule))
        .route("/discovery/rules/{id}/delete", post(delete_rule))
        .route("/discovery/scan", post(scan))
        .route("/discovery/add", post(add_selected))
}

struct RuleRow {
    id: Uuid,
    name: String,
    ranges: String,
    schedule: String,
    action: &'static str,
    credentials: String,
    last_run: String,
    running: bool,
}

struct JobRow {
    id: Uuid,
    rule: String,
    state: &'static str,
    progress: String,
    found: String,
    started: String,
    started_iso: String,
    error: String,
}

struct ResultRow {
    id: Uuid,
    ip: String,
    more: usize,
    sys_name: String,
    vendor: String,
    os: String,
    device_type: String,
    rule: String,
    confidence: String,
    credential: String,
    snmp: bool,
    device_id: Option<Uuid>,
    last_seen: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "discovery.html")]
struct DiscoveryPage {
    chrome: Chrome,
    is_admin: bool,
    is_operator: bool,
    rules: Vec<RuleRow>,
    jobs: JobsFragment,
    results: Vec<ResultRow>,
    total: u64,
    /// Filter choices and current values.
    rule_choices: Vec<(Uuid, String)>,
    choices: super::snmp::Choices,
    f: Filters,
    flash: Option<String>,
    error: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "discovery_jobs.html")]
struct JobsFragment {
    jobs: Vec<JobRow>,
    /// Re-fetch every second while a job runs.
    live: bool,
}

#[derive(Debug, Default, Deserialize)]
struct Filters {
    #[serde(default)]
    rule: String,
    #[serde(default)]
    job: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    vendor: String,
    #[serde(default)]
    device_type: String,
    done: Option<String>,
    error: Option<String>,
}

fn rule_names(
    rules: &[wardflux_model::discovery::DiscoveryRule],
) -> std::collections::HashMap<Uuid, String> {
    rules.iter().map(|r| (r.id, r.name.clone())).collect()
}

async fn job_rows(
    st: &AppState,
    names: &std::collections::HashMap<Uuid, String>,
) -> Result<JobsFragment, Response> {
    let mut runs = st
        .store
        .list_discovery_runs(None, 10)
        .await
        .map_err(store_error)?;
    if let Ok(svc) = st.services.get::<Discovery>() {
        for r in runs.iter_mut().filter(|r| r.state == RunState::Running) {
            if let Ok(live) = svc.job(r.id).await {
                *r = live;
            }
        }
    }
    let live = runs.iter().any(|r| r.state == RunState::Running);
    let jobs = runs.into_iter().map(|r| job_row(r, names)).collect();
    Ok(JobsFragment { jobs, live })
}

fn job_row(r: DiscoveryRun, names: &std::collections::HashMap<Uuid, String>) -> JobRow {
    let progress = match r.state {
        RunState::Running if r.done < r.total => {
            format!("ping {}/{} ({} alive)", r.done, r.total, r.alive)
        }
        RunState::Running => format!("SNMP: {} of {} alive answered", r.snmp, r.alive),
        _ => format!(
            "{} addresses, {} alive, {} SNMP{}",
            r.total,
            r.alive,
            r.snmp,
            r.duration_ms
                .map(|ms| format!(", {:.1} s", ms as f64 / 1000.0))
                .unwrap_or_default()
        ),
    };
    JobRow {
        id: r.id,
        rule: r
            .rule_id
            .map(|id| {
                names
                    .get(&id)
                    .cloned()
                    .unwrap_or_else(|| "(deleted rule)".into())
            })
            .unwrap_or_else(|| "ad hoc".into()),
        state: r.state.as_str(),
        progress,
        found: if r.state == RunState::Done {
            format!(
                "{} ({} new{})",
                r.found,
                r.new,
                if r.added > 0 {
                    format!(", {} added", r.added)
                } else {
                    String::new()
                }
            )
        } else {
            String::new()
        },
        started: view::short(r.started_at),
        started_iso: view::iso(r.started_at),
        error: r.error.unwrap_or_default(),
    }
}

async fn discovery(
    State(st): State<AppState>,
    page: Page,
    headers: HeaderMap,
    Query(f): Query<Filters>,
) -> Response {
    let rules = match st.store.list_discovery_rules().await {
        Ok(r) => r,
        Err(e) => return store_error(e),
    };
    let names = rule_names(&rules);
    let running = st
        .services
        .get::<Discovery>()
        .map(|s| s.running_rules())
        .unwrap_or_default();
    let jobs = match job_rows(&st, &names).await {
        Ok(j) => j,
        Err(r) => return r,
    };
    let q = ResultQuery {
        rule_id: f.rule.parse().ok(),
        job_id: f.job.parse().ok(),
        status: Some(f.status.clone()).filter(|s| !s.is_empty()),
        vendor: Some(f.vendor.clone()).filter(|s| !s.is_empty()),
        device_type: Some(f.device_type.clone()).filter(|s| !s.is_empty()),
        limit: Some(500),
        offset: None,
    };
    let (results, total) = match st.store.list_discovery_results(&q).await {
        Ok(p) => {
            let total = p.total;
            let rows = p
                .items
                .into_iter()
                .map(|r| {
                    let d = |s: &Option<String>| s.clone().unwrap_or_default();
                    ResultRow {
                        id: r.id,
                        ip: r.finding.ip.map(|i| i.to_string()).unwrap_or_default(),
                        more: r.finding.addresses.len().saturating_sub(1),
                        sys_name: d(&r.finding.sys_name),
                        vendor: d(&r.finding.class.vendor),
                        os: d(&r.finding.class.os),
                        device_type: d(&r.finding.class.device_type),
                        rule: d(&r.finding.class.rule),
                        confidence: if r.finding.snmp {
                            format!("{:.0} %", r.finding.class.confidence * 100.0)
                        } else {
                            String::new()
                        },
                        credential: d(&r.finding.credential),
                        snmp: r.finding.snmp,
                        device_id: r.device_id,
                        last_seen: view::short(r.last_seen),
                    }
                })
                .collect();
            (rows, total)
        }
        Err(e) => return store_error(e),
    };
    DiscoveryPage {
        chrome: Chrome::new(&page, &headers, "discovery"),
        is_admin: page.can(Role::Admin),
        is_operator: page.can(Role::Operator),
        rules: rules
            .iter()
            .map(|r| RuleRow {
                id: r.id,
                name: r.name.clone(),
                ranges: r.ranges.join(", ")
                    + &if r.exclusions.is_empty() {
                        String::new()
                    } else {
                        format!(" (except {})", r.exclusions.join(", "))
                    },
                schedule: r.schedule.clone().unwrap_or_else(|| "on demand".into()),
                action: match r.action {
                    DiscoveryAction::Record => "record",
                    DiscoveryAction::Add => "add and monitor",
                },
                credentials: r
                    .credentials
                    .iter()
                    .map(|c| c.name.clone())
                    .collect::<Vec<_>>()
                    .join(", "),
                last_run: r
                    .last_run
                    .map(view::short)
                    .unwrap_or_else(|| "never".into()),
                running: running.contains(&r.id),
            })
            .collect(),
        rule_choices: rules.iter().map(|r| (r.id, r.name.clone())).collect(),
        choices: super::snmp::Choices::default(),
        jobs,
        results,
        total,
        flash: f.done.clone().filter(|m| !m.is_empty()),
        error: f.error.clone(),
        f,
    }
    .into_response()
}

async fn jobs_fragment(State(st): State<AppState>, _page: Page) -> Response {
    let rules = match st.store.list_discovery_rules().await {
        Ok(r) => r,
        Err(e) => return store_error(e),
    };
    match job_rows(&st, &rule_names(&rules)).await {
        Ok(j) => j.into_response(),
        Err(r) => r,
    }
}

fn lines(s: &str) -> Vec<String> {
    s.split(['\n', ','])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// The form's credentials: its communities in order, then the v3 user if one is named.
fn candidates(f: &Fields) -> Result<Vec<CandidateInput>, ApiError> {
    use super::snmp::pick;
    let mut out = CandidateInput::communities(lines(f.get("communities")));
    if let Some(user) = f.opt("v3_user") {
        let secret = |k: &str| f.opt(k).map(wardflux_model::inventory::Secret::new);
        out.push(CandidateInput {
            name: format!("v3 {user}"),
            version: Some(wardflux_model::snmp::SnmpVersion::V3),
            username: Some(user),
            auth_protocol: pick(f, "v3_auth_protocol")?,
            auth_key: secret("v3_auth_key"),
            priv_protocol: pick(f, "v3_priv_protocol")?,
            priv_key: secret("v3_priv_key"),
            ..CandidateInput::default()
        });
    }
    Ok(out)
}

fn number(f: &Fields, name: &str) -> Result<Option<u32>, ApiError> {
    match f.get(name).trim() {
        "" => Ok(None),
        s => s
            .parse()
            .map(Some)
            .map_err(|_| FieldError::new(name, "must be a whole number").into()),
    }
}

fn service(st: &AppState) -> Result<Discovery, ApiError> {
    st.services.get::<Discovery>()
}

/// `POST /discovery/rules` (admin).
async fn add_rule(State(st): State<AppState>, page: Page, f: Fields) -> Result<Response, Response> {
    page.check_csrf(f.get("csrf"))?;
    page.require(Role::Admin)?;
    let r = async {
        let input = DiscoveryRuleInput {
            name: f.get("name").to_string(),
            ranges: lines(f.get("ranges")),
            exclusions: lines(f.get("exclusions")),
            credentials: candidates(&f)?,
            schedule: f.opt("schedule"),
            enabled: Some(true),
            rate_limit: number(&f, "rate_limit")?,
            concurrency: number(&f, "concurrency")?,
            action: Some(if f.get("action") == "add" {
                DiscoveryAction::Add
            } else {
                DiscoveryAction::Record
            }),
            allow_large: Some(f.checked("allow_large")),
        };
        let rule = discovery::create_rule(&st, &page.user.actor(), input).await?;
        Ok(format!("Rule {} saved.", rule.name))
    }
    .await;
    Ok(outcome("/discovery", r))
}

/// `POST /discovery/rules/{id}/run` (operator): starts it now.
async fn run_rule(
    State(st): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    f: Fields,
) -> Result<Response, Response> {
    let id = action(&page, f.get("csrf"), Role::Operator, &id, "rule")?;
    let r = async {
        let job = service(&st)?.start_rule(id).await?;
        Ok(format!("Scan started (job {job})."))
    }
    .await;
    Ok(outcome("/discovery#jobs", r))
}

/// `POST /discovery/rules/{id}/delete` (admin).
async fn delete_rule(
    State(st): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    f: Fields,
) -> Result<Response, Response> {
    let id = action(&page, f.get("csrf"), Role::Admin, &id, "rule")?;
    let r = discovery::delete_rule(&st, &page.user.actor(), id)
        .await
        .map(|()| "Rule deleted.".to_string());
    Ok(outcome("/discovery", r))
}

/// `POST /discovery/scan` (admin): an ad-hoc scan with its own communities.
async fn scan(State(st): State<AppState>, page: Page, f: Fields) -> Result<Response, Response> {
    page.check_csrf(f.get("csrf"))?;
    page.require(Role::Admin)?;
    let r = async {
        let candidates = candidates(&f)?;
        let job = service(&st)?
            .start_adhoc(
                &lines(f.get("ranges")),
                &lines(f.get("exclusions")),
                candidates,
                f.checked("allow_large"),
                None,
                None,
            )
            .await?;
        Ok(format!("Scan started (job {job})."))
    }
    .await;
    Ok(outcome("/discovery#jobs", r))
}

/// `POST /discovery/add` (admin): the checked results become devices, all or nothing.
async fn add_selected(
    State(st): State<AppState>,
    page: Page,
    f: Fields,
) -> Result<Response, Response> {
    page.check_csrf(f.get("csrf"))?;
    page.require(Role::Admin)?;
    let r = async {
        let ids: Vec<Uuid> = f
            .all("result")
            .iter()
            .filter_map(|s| s.parse().ok())
            .collect();
        if ids.is_empty() {
            return Err(FieldError::new("result", "select at least one result").into());
        }
        let devices = service(&st)?.add_devices(&page.user.actor(), &ids).await?;
        wardflux_api::routes::templates::reload(&st);
        let names: Vec<String> = devices.iter().map(|d| d.name.clone()).collect();
        let s = if devices.len() == 1 { "" } else { "s" };
        Ok(format!(
            "Added {} device{s}: {}.",
            devices.len(),
            names.join(", ")
        ))
    }
    .await;
    Ok(outcome("/discovery#results", r))
}
