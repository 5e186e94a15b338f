//! The JSON-RPC transport and session handling, and the typed reads built on it.
//!
//! - `apiinfo.version` goes out with neither an `Authorization` header nor an `auth` field
//!   (7.4 refuses it with one); its answer decides the rest and is remembered:
//! - `user.login` takes `username` from 5.4 on, `user` before;
//! - the session (or API) token travels in the body's `auth` field before 6.4 and as
//!   `Authorization: Bearer` from 6.4 on (7.2 removed the `auth` field);
//! - a call answered "Session terminated, re-login, please." logs in again once and is
//!   retried once; a second refusal is an error, never a loop.
//!
//! Every read sends an explicit `output` field list and a `limit`; host ids go in chunks;
//! `history.get` (which has no paging) is asked for bounded time windows, and long ranges
//! are read from `trend.get`: unbounded history reads are a known way to overload a Zabbix
//! database.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use wardflux_model::inventory::Secret;

use crate::error::ZabbixError;
use crate::types::{
    HistoryPoint, HistoryValue, Host, HostGroup, ImportHost, Item, Macro, Problem, TrendPoint, de,
};

/// Host ids per `item.get` request.
pub const HOST_CHUNK: usize = 500;
/// Most host groups, hosts and macros one read returns.
pub const MAX_OBJECTS: usize = 100_000;
/// Most problems [`ZabbixClient::problems`] returns (the newest).
pub const MAX_PROBLEMS: usize = 1_000;
/// The time window of one `history.get` request, and its row limit.
pub const HISTORY_WINDOW: TimeDelta = TimeDelta::hours(6);
pub const HISTORY_LIMIT: usize = 10_000;
/// The time window of one `trend.get` request (hourly rows: at most 721 a window).
pub const TREND_WINDOW: TimeDelta = TimeDelta::days(30);
/// Up to this span [`ZabbixClient::series`] reads history, beyond it trends.
pub const HISTORY_SPAN: TimeDelta = TimeDelta::days(2);

/// Most items a prefix read takes per host (a 48-port switch has two `net.if.*` items a port).
pub const MAX_ITEMS_PER_HOST: usize = 256;

const ITEM_FIELDS: &[&str] = &[
    "itemid",
    "hostid",
    "key_",
    "name",
    "value_type",
    "units",
    "lastvalue",
    "lastclock",
    "status",
];
const HOST_FIELDS: &[&str] = &["hostid", "host", "name", "status", "maintenance_status"];
const INTERFACE_FIELDS: &[&str] = &[
    "interfaceid",
    "type",
    "main",
    "useip",
    "ip",
    "dns",
    "port",
    "details",
];

/// How the client authenticates.
#[derive(Debug, Clone)]
pub enum ZabbixAuth {
    /// `user.login`, then the session token.
    Password { username: String, password: Secret },
    /// An API token (Zabbix 5.4+), used as a session token without logging in.
    ApiToken(Secret),
}

/// Where and how to reach Zabbix. `Debug` shows no secret.
#[derive(Debug, Clone)]
pub struct ZabbixConfig {
    /// The frontend's base URL (`http://host/zabbix`) or the full `.../api_jsonrpc.php`.
    pub url: String,
    pub auth: ZabbixAuth,
    /// For each HTTP request, connecting included.
    pub timeout: Duration,
}

/// The server's version, from `apiinfo.version`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZabbixVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
    /// As the server said it (`6.0.14`, `7.0.0alpha1`).
    pub raw: String,
}

impl ZabbixVersion {
    /// Parses `6.0.14`; missing or non-numeric tails count as 0.
    pub fn parse(raw: &str) -> Option<Self> {
        let mut parts = raw.trim().split('.').map(|p| {
            let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<u32>().ok()
        });
        let major = parts.next()??;
        let minor = parts.next().flatten().unwrap_or(0);
        let patch = parts.next().flatten().unwrap_or(0);
        Some(Self {
            major,
            minor,
            patch,
            raw: raw.trim().to_string(),
        })
    }

    /// Whether this is `major.minor` or later.
    pub fn at_least(&self, major: u32, minor: u32) -> bool {
        (self.major, self.minor) >= (major, minor)
    }
}

impl std::fmt::Display for ZabbixVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.raw)
    }
}

/// A Zabbix API client. Cheap to share behind an `Arc`; calls may run concurrently (they
/// share one session: the first that needs it logs in, the others wait for it).
pub struct ZabbixClient {
    http: reqwest::Client,
    url: String,
    auth: ZabbixAuth,
    timeout: Duration,
    /// Set by the first `apiinfo.version` answer; decides login field and token transport.
    version: tokio::sync::OnceCell<ZabbixVersion>,
    /// The session token of a password login. A tokio mutex, held across `user.login`, so
    /// concurrent calls wait for one login instead of each logging in.
    session: tokio::sync::Mutex<Option<Secret>>,
    /// Requests sent (all methods), for benchmarks and the snapshot's call count.
    calls: AtomicU64,
    next_id: AtomicU64,
}

impl std::fmt::Debug for ZabbixClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZabbixClient")
            .field("url", &self.url)
            .field("auth", &self.auth)
            .field("timeout", &self.timeout)
            .field("version", &self.version.get().map(|v| v.raw.as_str()))
            .finish_non_exhaustive()
    }
}

/// The `api_jsonrpc.php` URL for a configured URL: a path ending in `.php` is kept, any other
/// path gets `/api_jsonrpc.php` appended. Only http and https, no user info.
pub fn api_url(url: &str) -> Result<String, ZabbixError> {
    let invalid = |reason: &str| ZabbixError::InvalidUrl {
        url: wardflux_model::inventory::truncate_for_display(url),
        reason: reason.to_string(),
    };
    let mut u = reqwest::Url::parse(url.trim()).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(invalid("only http and https URLs"));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err(invalid("no host"));
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(invalid(
            "credentials belong in the authentication settings, not the URL",
        ));
    }
    u.set_query(None);
    u.set_fragment(None);
    if !u.path().ends_with(".php") {
        let path = format!("{}/api_jsonrpc.php", u.path().trim_end_matches('/'));
        u.set_path(&path);
    }
    Ok(u.to_string())
}

impl ZabbixClient {
    /// A client for `cfg`; checks the URL, sends nothing.
    pub fn new(cfg: ZabbixConfig) -> Result<Self, ZabbixError> {
        let url = api_url(&cfg.url)?;
        let http = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout)
            .user_agent(concat!("wardflux/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|source| ZabbixError::Unreachable {
                url: url.clone(),
                source,
            })?;
        Ok(Self {
            http,
            url,
            auth: cfg.auth,
            timeout: cfg.timeout,
            version: tokio::sync::OnceCell::new(),
            session: tokio::sync::Mutex::new(None),
            calls: AtomicU64::new(0),
            next_id: AtomicU64::new(1),
        })
    }

    /// The `api_jsonrpc.php` URL requests go to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// HTTP requests sent so far.
    pub fn api_calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// `apiinfo.version`, sent without any authentication. Remembered for the session
    /// logic the first time.
    pub async fn version(&self) -> Result<ZabbixVersion, ZabbixError> {
        let raw = self.send("apiinfo.version", &json!([]), None).await?;
        let text = raw.as_str().ok_or_else(|| ZabbixError::NotZabbix {
            url: self.url.clone(),
            detail: format!("apiinfo.version answered {raw}"),
        })?;
        let v = ZabbixVersion::parse(text).ok_or_else(|| ZabbixError::NotZabbix {
            url: self.url.clone(),
            detail: format!("apiinfo.version answered {text:?}"),
        })?;
        if !v.at_least(5, 0) {
            return Err(ZabbixError::Unsupported(format!(
                "Zabbix {v} (5.0 or later is needed)"
            )));
        }
        let _ = self.version.set(v.clone());
        Ok(v)
    }

    /// The remembered server version, asked once.
    pub async fn server_version(&self) -> Result<ZabbixVersion, ZabbixError> {
        if let Some(v) = self.version.get() {
            return Ok(v.clone());
        }
        let v = self.version().await?;
        Ok(self.version.get().cloned().unwrap_or(v))
    }

    /// The settings page's test: the version, a fresh login (or the token), and one cheap
    /// authenticated call.
    pub async fn check(&self) -> Result<ZabbixVersion, ZabbixError> {
        let v = self.version().await?;
        if matches!(self.auth, ZabbixAuth::Password { .. }) {
            *self.session.lock().await = None;
        }
        let _: Value = self
            .call("hostgroup.get", &json!({"output": ["groupid"], "limit": 1}))
            .await?;
        Ok(v)
    }

    /// Ends the password session, if there is one (`user.logout`). API tokens stay valid.
    pub async fn logout(&self) -> Result<(), ZabbixError> {
        let token = self.session.lock().await.take();
        if let Some(t) = token {
            self.send("user.logout", &json!([]), Some(&t)).await?;
        }
        Ok(())
    }

    /// An authenticated call: logs in when there is no session yet; when Zabbix says the
    /// session ended, logs in again once and retries once.
    pub async fn call<P, R>(&self, method: &str, params: &P) -> Result<R, ZabbixError>
    where
        P: Serialize + Send + Sync + ?Sized,
        R: DeserializeOwned,
    {
        let params = serde_json::to_value(params)
            .map_err(|e| ZabbixError::Unsupported(format!("parameters of {method}: {e}")))?;
        let value = self.call_value(method, &params).await?;
        serde_json::from_value(value).map_err(|source| ZabbixError::Decode {
            method: method.to_string(),
            source,
        })
    }

    async fn call_value(&self, method: &str, params: &Value) -> Result<Value, ZabbixError> {
        self.server_version().await?;
        let mut relogged = false;
        loop {
            let token = self.token().await?;
            match self.send(method, params, Some(&token)).await {
                Err(ZabbixError::SessionExpired { message, .. })
                    if matches!(self.auth, ZabbixAuth::ApiToken(_)) =>
                {
                    return Err(ZabbixError::WrongCredentials {
                        message: format!("the API token was refused: {message}"),
                    });
                }
                Err(ZabbixError::SessionExpired { .. }) if !relogged => {
                    tracing::info!(method, "Zabbix session ended; logging in again");
                    relogged = true;
                    let mut s = self.session.lock().await;
                    if s.as_ref() == Some(&token) {
                        *s = None;
                    }
                }
                other => return other,
            }
        }
    }

    /// The token to send: the API token, or the session's (logging in if there is none).
    async fn token(&self) -> Result<Secret, ZabbixError> {
        let (username, password) = match &self.auth {
            ZabbixAuth::ApiToken(t) => return Ok(t.clone()),
            ZabbixAuth::Password { username, password } => (username, password),
        };
        let mut session = self.session.lock().await;
        if let Some(t) = session.as_ref() {
            return Ok(t.clone());
        }
        let v = self.server_version().await?;
        let field = if v.at_least(5, 4) { "username" } else { "user" };
        let params = json!({ field: username, "password": password.expose() });
        let answer = self.send("user.login", &params, None).await?;
        let token =
            answer
                .as_str()
                .filter(|t| !t.is_empty())
                .ok_or_else(|| ZabbixError::NotZabbix {
                    url: self.url.clone(),
                    detail: "user.login answered no session token".into(),
                })?;
        tracing::debug!(username, "logged in to Zabbix");
        let token = Secret::new(token);
        *session = Some(token.clone());
        Ok(token)
    }

    /// One JSON-RPC request; `token` goes as Bearer header (6.4+) or `auth` field.
    async fn send(
        &self,
        method: &str,
        params: &Value,
        token: Option<&Secret>,
    ) -> Result<Value, ZabbixError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut body = json!({"jsonrpc": "2.0", "method": method, "params": params, "id": id});
        let mut req = self
            .http
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json-rpc");
        if let Some(t) = token {
            let bearer = self.version.get().is_some_and(|v| v.at_least(6, 4));
            if bearer {
                req = req.bearer_auth(t.expose());
            } else {
                body["auth"] = Value::String(t.expose().to_string());
            }
        }
        let body = serde_json::to_vec(&body).expect("a JSON value serialises");
        self.calls.fetch_add(1, Ordering::Relaxed);
        tracing::trace!(method, id, "Zabbix request");
        let resp = req.body(body).send().await.map_err(|e| self.transport(e))?;
        let status = resp.status();
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("no content type")
            .to_string();
        let bytes = resp.bytes().await.map_err(|e| self.transport(e))?;
        let not_zabbix = |what: &str| ZabbixError::NotZabbix {
            url: self.url.clone(),
            detail: format!("HTTP {status}, {content_type}: {what}"),
        };
        let mut answer: Value =
            serde_json::from_slice(&bytes).map_err(|_| not_zabbix("the answer is not JSON"))?;
        if answer.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
            return Err(not_zabbix("the answer is not JSON-RPC 2.0"));
        }
        if let Some(err) = answer.get("error") {
            return Err(classify(method, err));
        }
        match answer.get_mut("result") {
            Some(r) => Ok(r.take()),
            None => Err(not_zabbix("a JSON-RPC answer without result or error")),
        }
    }

    fn transport(&self, source: reqwest::Error) -> ZabbixError {
        if source.is_timeout() {
            ZabbixError::Timeout {
                url: self.url.clone(),
                timeout: self.timeout,
                source,
            }
        } else {
            ZabbixError::Unreachable {
                url: self.url.clone(),
                source,
            }
        }
    }

    /// All host groups (at most [`MAX_OBJECTS`]), by name.
    pub async fn host_groups(&self) -> Result<Vec<HostGroup>, ZabbixError> {
        self.call(
            "hostgroup.get",
            &json!({"output": ["groupid", "name"], "sortfield": "name", "limit": MAX_OBJECTS}),
        )
        .await
    }

    async fn host_params(&self) -> Result<Value, ZabbixError> {
        let v = self.server_version().await?;
        let mut p = json!({
            "output": HOST_FIELDS,
            "selectInterfaces": INTERFACE_FIELDS,
            "sortfield": "hostid",
            "limit": MAX_OBJECTS,
        });
        // 6.2 split host groups from template groups: `selectGroups` became
        // `selectHostGroups` (answered as `hostgroups`) and is gone in 7.0.
        let groups = if v.at_least(6, 2) {
            "selectHostGroups"
        } else {
            "selectGroups"
        };
        p[groups] = json!(["groupid", "name"]);
        Ok(p)
    }

    /// Hosts (of the given groups, or all), with groups, interfaces and SNMP details.
    pub async fn hosts(&self, group_ids: Option<&[u64]>) -> Result<Vec<Host>, ZabbixError> {
        let mut p = self.host_params().await?;
        if let Some(ids) = group_ids {
            p["groupids"] = json!(ids);
        }
        self.call("host.get", &p).await
    }

    /// The items with key `key` of these hosts (ids sent [`HOST_CHUNK`] at a time).
    pub async fn items_by_key(
        &self,
        host_ids: &[u64],
        key: &str,
    ) -> Result<Vec<Item>, ZabbixError> {
        // a key is unique on a host: one item a host at most
        self.items_of(host_ids, json!({"filter": {"key_": key}}), 1)
            .await
    }

    /// The items of `host_ids` whose key starts with `prefix` (`net.if.`), at most
    /// [`MAX_ITEMS_PER_HOST`] a host, host ids in chunks.
    pub async fn items_by_key_prefix(
        &self,
        host_ids: &[u64],
        prefix: &str,
    ) -> Result<Vec<Item>, ZabbixError> {
        self.items_of(
            host_ids,
            json!({"search": {"key_": prefix}, "startSearch": true}),
            MAX_ITEMS_PER_HOST,
        )
        .await
    }

    /// `item.get` with `select` (a filter or search), [`HOST_CHUNK`] host ids a call, at most
    /// `per_host` items a host.
    async fn items_of(
        &self,
        host_ids: &[u64],
        select: serde_json::Value,
        per_host: usize,
    ) -> Result<Vec<Item>, ZabbixError> {
        let mut out = Vec::new();
        for chunk in host_ids.chunks(HOST_CHUNK) {
            let mut params = select.clone();
            params["output"] = json!(ITEM_FIELDS);
            params["hostids"] = json!(chunk);
            params["limit"] = json!(chunk.len() * per_host);
            let items: Vec<Item> = self.call("item.get", &params).await?;
            out.extend(items);
        }
        Ok(out)
    }

    /// The open problems (the newest [`MAX_PROBLEMS`]), with their updates and hosts
    /// (`problem.get`, then `trigger.get` for the hosts of their triggers and, when there
    /// are updates, one `user.get` for the names of their users).
    pub async fn problems(&self) -> Result<Vec<Problem>, ZabbixError> {
        let mut problems: Vec<Problem> = self
            .call(
                "problem.get",
                &json!({
                    "output": ["eventid", "objectid", "name", "severity", "clock",
                               "acknowledged", "suppressed"],
                    "source": 0,
                    "object": 0,
                    "selectAcknowledges": "extend",
                    "sortfield": ["eventid"],
                    "sortorder": "DESC",
                    "limit": MAX_PROBLEMS,
                }),
            )
            .await?;
        let trigger_ids: Vec<u64> = problems
            .iter()
            .map(|p| p.trigger_id)
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        #[derive(Deserialize)]
        struct HostRef {
            #[serde(deserialize_with = "de::id")]
            hostid: u64,
            name: String,
        }
        #[derive(Deserialize)]
        struct TriggerHosts {
            #[serde(deserialize_with = "de::id")]
            triggerid: u64,
            hosts: Vec<HostRef>,
        }
        let mut hosts: HashMap<u64, Vec<(u64, String)>> = HashMap::new();
        for chunk in trigger_ids.chunks(HOST_CHUNK) {
            let triggers: Vec<TriggerHosts> = self
                .call(
                    "trigger.get",
                    &json!({
                        "output": ["triggerid"],
                        "triggerids": chunk,
                        "selectHosts": ["hostid", "name"],
                        "limit": chunk.len(),
                    }),
                )
                .await?;
            for t in triggers {
                hosts.insert(
                    t.triggerid,
                    t.hosts.into_iter().map(|h| (h.hostid, h.name)).collect(),
                );
            }
        }
        // problem.get gives the user id of an update only; one user.get names them all
        let user_ids: Vec<u64> = problems
            .iter()
            .flat_map(|p| p.acks.iter().map(|a| a.user_id))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let mut names: HashMap<u64, String> = HashMap::new();
        if !user_ids.is_empty() {
            // `alias` before 5.4, `username` since
            let field = if self.server_version().await?.at_least(5, 4) {
                "username"
            } else {
                "alias"
            };
            let users: Vec<Value> = self
                .call(
                    "user.get",
                    &json!({"output": ["userid", field], "userids": user_ids,
                            "limit": user_ids.len()}),
                )
                .await?;
            for u in users {
                let uid = u["userid"].as_str().and_then(|s| s.parse().ok());
                if let (Some(uid), Some(name)) = (uid, u[field].as_str()) {
                    names.insert(uid, name.to_string());
                }
            }
        }
        for p in &mut problems {
            p.hosts = hosts.get(&p.trigger_id).cloned().unwrap_or_default();
            for a in &mut p.acks {
                if let Some(n) = names.get(&a.user_id) {
                    a.user = n.clone();
                }
            }
        }
        Ok(problems)
    }

    /// Acknowledges these events and adds `message` to them (`event.acknowledge`, action
    /// 2 acknowledge + 4 message).
    pub async fn acknowledge(&self, event_ids: &[u64], message: &str) -> Result<(), ZabbixError> {
        let _: Value = self
            .call(
                "event.acknowledge",
                &json!({"eventids": event_ids, "action": 2 | 4, "message": message}),
            )
            .await?;
        Ok(())
    }

    /// The item's history from `from` to `till` (inclusive, second resolution), oldest first,
    /// asked for in windows of [`HISTORY_WINDOW`] with at most [`HISTORY_LIMIT`] rows each
    /// (a full window is continued from its last second).
    pub async fn history(
        &self,
        item: &Item,
        from: DateTime<Utc>,
        till: DateTime<Utc>,
    ) -> Result<Vec<HistoryPoint>, ZabbixError> {
        #[derive(Deserialize)]
        struct Row {
            #[serde(deserialize_with = "de::num")]
            clock: i64,
            #[serde(deserialize_with = "de::num", default)]
            ns: u32,
            value: String,
        }
        let numeric = item.value_type.is_numeric();
        let end = till.timestamp();
        let mut start = from.timestamp();
        let mut out = Vec::new();
        // (clock, ns) of the rows already taken in the second a full window stopped at
        let mut seen_last_second: HashSet<(i64, u32)> = HashSet::new();
        while start <= end {
            let window_end = (start + HISTORY_WINDOW.num_seconds() - 1).min(end);
            let rows: Vec<Row> = self
                .call(
                    "history.get",
                    &json!({
                        "output": ["clock", "ns", "value"],
                        "history": item.value_type.history_code(),
                        "itemids": [item.id],
                        "time_from": start,
                        "time_till": window_end,
                        "sortfield": "clock",
                        "sortorder": "ASC",
                        "limit": HISTORY_LIMIT,
                    }),
                )
                .await?;
            let full = rows.len() >= HISTORY_LIMIT;
            let last_clock = rows.last().map(|r| r.clock);
            let mut rows = rows;
            rows.sort_by_key(|r| (r.clock, r.ns));
            for r in rows {
                if seen_last_second.contains(&(r.clock, r.ns)) {
                    continue;
                }
                let Some(clock) = DateTime::from_timestamp(r.clock, r.ns) else {
                    continue;
                };
                let value = match numeric {
                    true => match r.value.trim().parse::<f64>() {
                        Ok(v) => HistoryValue::Number(v),
                        Err(_) => HistoryValue::Text(r.value),
                    },
                    false => HistoryValue::Text(r.value),
                };
                out.push(HistoryPoint { clock, value });
            }
            match (full, last_clock) {
                (true, Some(last)) if last > start => {
                    seen_last_second = out
                        .iter()
                        .filter(|p| p.clock.timestamp() == last)
                        .map(|p| (last, p.clock.timestamp_subsec_nanos()))
                        .collect();
                    start = last;
                }
                (true, Some(_)) => {
                    tracing::warn!(
                        item = item.id,
                        second = start,
                        "more than {HISTORY_LIMIT} history values in one second; the rest skipped"
                    );
                    seen_last_second.clear();
                    start += 1;
                }
                _ => {
                    seen_last_second.clear();
                    start = window_end + 1;
                }
            }
        }
        Ok(out)
    }

    /// The item's hourly trends from `from` to `till`, oldest first, in windows of
    /// [`TREND_WINDOW`]. Only numeric items have trends.
    pub async fn trends(
        &self,
        item: &Item,
        from: DateTime<Utc>,
        till: DateTime<Utc>,
    ) -> Result<Vec<TrendPoint>, ZabbixError> {
        if !item.value_type.is_numeric() {
            return Err(ZabbixError::Unsupported(format!(
                "trends of item {} ({:?} values)",
                item.id, item.value_type
            )));
        }
        let end = till.timestamp();
        let mut start = from.timestamp();
        let mut out: Vec<TrendPoint> = Vec::new();
        let limit = TREND_WINDOW.num_hours() + 2;
        while start <= end {
            let window_end = (start + TREND_WINDOW.num_seconds() - 1).min(end);
            let rows: Vec<TrendPoint> = self
                .call(
                    "trend.get",
                    &json!({
                        "output": ["itemid", "clock", "num", "value_min", "value_avg", "value_max"],
                        "itemids": [item.id],
                        "time_from": start,
                        "time_till": window_end,
                        "limit": limit,
                    }),
                )
                .await?;
            out.extend(rows);
            start = window_end + 1;
        }
        out.sort_by_key(|p| p.clock);
        out.dedup_by_key(|p| p.clock);
        Ok(out)
    }

    /// Numeric values of the item: history up to [`HISTORY_SPAN`], hourly trend averages
    /// for longer ranges (trends hold finished hours only).
    pub async fn series(
        &self,
        item: &Item,
        from: DateTime<Utc>,
        till: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, f64)>, ZabbixError> {
        if !item.value_type.is_numeric() {
            return Err(ZabbixError::Unsupported(format!(
                "a numeric series of item {} ({:?} values)",
                item.id, item.value_type
            )));
        }
        if till - from <= HISTORY_SPAN {
            Ok(self
                .history(item, from, till)
                .await?
                .into_iter()
                .filter_map(|p| p.value.as_f64().map(|v| (p.clock, v)))
                .collect())
        } else {
            Ok(self
                .trends(item, from, till)
                .await?
                .into_iter()
                .map(|t| (t.clock, t.avg))
                .collect())
        }
    }

    /// The hosts of the named groups (all groups when `group_names` is empty) that have an
    /// SNMP interface, with their template names and the macros that apply to them (global
    /// macros overridden by the host's). A group name Zabbix does not know is an error.
    pub async fn hosts_for_import(
        &self,
        group_names: &[String],
    ) -> Result<Vec<ImportHost>, ZabbixError> {
        let mut p = self.host_params().await?;
        if !group_names.is_empty() {
            let groups: Vec<HostGroup> = self
                .call(
                    "hostgroup.get",
                    &json!({
                        "output": ["groupid", "name"],
                        "filter": {"name": group_names},
                        "limit": group_names.len(),
                    }),
                )
                .await?;
            if let Some(missing) = group_names
                .iter()
                .find(|n| !groups.iter().any(|g| &g.name == *n))
            {
                return Err(ZabbixError::NotFound {
                    what: format!("host group {missing:?}"),
                });
            }
            p["groupids"] = json!(groups.iter().map(|g| g.id).collect::<Vec<_>>());
        }
        p["selectMacros"] = json!(["macro", "value", "type"]);
        p["selectParentTemplates"] = json!(["templateid", "name"]);
        #[derive(Deserialize)]
        struct TemplateRef {
            name: String,
        }
        #[derive(Deserialize)]
        struct Raw {
            #[serde(flatten)]
            host: Host,
            #[serde(default)]
            macros: Vec<Macro>,
            #[serde(rename = "parentTemplates", default)]
            templates: Vec<TemplateRef>,
        }
        let hosts: Vec<Raw> = self.call("host.get", &p).await?;
        let globals: Vec<Macro> = self
            .call(
                "usermacro.get",
                &json!({"globalmacro": true, "output": ["macro", "value", "type"],
                        "limit": MAX_OBJECTS}),
            )
            .await?;
        let globals: BTreeMap<String, Secret> =
            globals.into_iter().map(|m| (m.name, m.value)).collect();
        Ok(hosts
            .into_iter()
            .filter(|r| r.host.interfaces.iter().any(|i| i.snmp.is_some()))
            .map(|r| {
                let mut macros = globals.clone();
                macros.extend(r.macros.into_iter().map(|m| (m.name, m.value)));
                ImportHost {
                    host: r.host,
                    templates: r.templates.into_iter().map(|t| t.name).collect(),
                    macros,
                }
            })
            .collect())
    }
}

/// A JSON-RPC error object of `method` as one of our errors. The texts are Zabbix's own
/// (6.0 and 7.x wordings).
fn classify(method: &str, err: &Value) -> ZabbixError {
    let code = err.get("code").and_then(Value::as_i64).unwrap_or(0);
    let text = |k: &str| {
        err.get(k)
            .map(|v| match v {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            })
            .unwrap_or_default()
    };
    let (message, data) = (text("message"), text("data"));
    let lower = data.to_lowercase();
    if lower.contains("session terminated") || lower.contains("not authori") {
        return ZabbixError::SessionExpired {
            method: method.to_string(),
            message: data,
        };
    }
    if method == "user.login" {
        // 6.0: "Incorrect user name or password or account is temporarily blocked." for a
        // wrong password, "Account is blocked for N seconds." once blocked.
        if lower.contains("blocked for") {
            return ZabbixError::Blocked { message: data };
        }
        if lower.contains("incorrect user name or password")
            || lower.contains("login name or password is incorrect")
        {
            return ZabbixError::WrongCredentials { message: data };
        }
    }
    ZabbixError::Api {
        method: method.to_string(),
        code,
        message,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_normalised() {
        assert_eq!(
            api_url("http://h/zabbix").unwrap(),
            "http://h/zabbix/api_jsonrpc.php"
        );
        assert_eq!(
            api_url(" https://h/zabbix/ ").unwrap(),
            "https://h/zabbix/api_jsonrpc.php"
        );
        assert_eq!(
            api_url("http://h:8080").unwrap(),
            "http://h:8080/api_jsonrpc.php"
        );
        assert_eq!(
            api_url("http://h/api_jsonrpc.php?x=1").unwrap(),
            "http://h/api_jsonrpc.php"
        );
        assert_eq!(api_url("http://h/index.php").unwrap(), "http://h/index.php");
        for bad in ["ftp://h/", "h/zabbix", "", "http://u:p@h/"] {
            assert_eq!(api_url(bad).unwrap_err().kind(), "invalid_url", "{bad}");
        }
    }

    #[test]
    fn versions() {
        let v = ZabbixVersion::parse("7.0.0alpha1").unwrap();
        assert_eq!((v.major, v.minor, v.patch), (7, 0, 0));
        assert!(v.at_least(6, 4) && !v.at_least(7, 2));
        assert!(ZabbixVersion::parse("x").is_none());
    }

    #[test]
    fn debug_redacts_secrets() {
        let c = ZabbixClient::new(ZabbixConfig {
            url: "http://127.0.0.1/".into(),
            auth: ZabbixAuth::Password {
                username: "Admin".into(),
                password: Secret::new("hunter2"),
            },
            timeout: Duration::from_secs(1),
        })
        .unwrap();
        let d = format!("{c:?}");
        assert!(!d.contains("hunter2") && d.contains("Admin"), "{d}");
        let t = format!("{:?}", ZabbixAuth::ApiToken(Secret::new("abc123")));
        assert!(!t.contains("abc123"), "{t}");
    }
}
