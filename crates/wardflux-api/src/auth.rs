//! Authentication (bearer token, session cookie, basic auth) and role checks.
//!
//! Every handler names the role it needs in its signature (`Viewer`, `Operator`,
//! `Admin` extractors), so a route cannot forget its check and a reader sees the rule
//! next to the code. Roles are ordered: admin > operator > viewer.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::HeaderValue;
use axum::http::request::Parts;
use base64::Engine as _;
use wardflux_model::inventory::{Actor, Role, Secret, User, truncate_for_display};

use crate::error::ApiError;
use crate::state::AppState;

/// Name of the session cookie set by `POST /api/v1/auth/login`.
pub const SESSION_COOKIE: &str = "wardflux_session";

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub user: User,
    /// The token (API or session) the request came with, if any (basic auth has none).
    pub token_id: Option<uuid::Uuid>,
}

impl CurrentUser {
    pub fn actor(&self) -> Actor {
        Actor {
            user_id: Some(self.user.id),
            name: self.user.username.clone(),
        }
    }
}

/// The value of cookie `name` in the request, if it came with one.
pub fn cookie_value<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

pub fn client_ip(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(cached) = parts.extensions.get::<CurrentUser>() {
            return Ok(cached.clone());
        }
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .map(|h| h.to_str().unwrap_or("").to_string());
        let current = match header {
            Some(h) => {
                let (scheme, value) = h.split_once(' ').unwrap_or((h.as_str(), ""));
                if scheme.eq_ignore_ascii_case("bearer") {
                    token_user(state, value.trim()).await?
                } else if scheme.eq_ignore_ascii_case("basic") {
                    basic_user(state, parts, value.trim()).await?
                } else {
                    return Err(ApiError::Unauthorized(
                        "unsupported Authorization scheme; use Bearer or Basic",
                    ));
                }
            }
            None => match cookie_value(parts, SESSION_COOKIE) {
                Some(tok) => token_user(state, tok).await?,
                None => return Err(ApiError::Unauthorized("authentication required")),
            },
        };
        parts.extensions.insert(current.clone());
        Ok(current)
    }
}

async fn token_user(state: &AppState, token: &str) -> Result<CurrentUser, ApiError> {
    if let Some((current, expires)) = state.token_cache.get(&[token])
        && expires.is_none_or(|e| e > chrono::Utc::now())
    {
        return Ok(current);
    }
    match state.store.authenticate_token(token).await? {
        Some((tok, user)) => {
            let current = CurrentUser {
                user,
                token_id: Some(tok.id),
            };
            state
                .token_cache
                .put(&[token], (current.clone(), tok.expires_at));
            Ok(current)
        }
        None => Err(ApiError::Unauthorized("invalid or expired token")),
    }
}

async fn basic_user(state: &AppState, parts: &Parts, value: &str) -> Result<CurrentUser, ApiError> {
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(value)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or(ApiError::Unauthorized("malformed basic credentials"))?;
    let (username, password) = decoded
        .split_once(':')
        .ok_or(ApiError::Unauthorized("malformed basic credentials"))?;
    let ip = client_ip(parts);
    state.limiter.check(username, ip)?;
    if let Some(user) = state.basic_cache.get(&[username, password]) {
        return Ok(CurrentUser {
            user,
            token_id: None,
        });
    }
    match state
        .store
        .verify_password(username, &Secret::new(password))
        .await?
    {
        Some(user) => {
            state.limiter.success(username, ip);
            state.basic_cache.put(&[username, password], user.clone());
            Ok(CurrentUser {
                user,
                token_id: None,
            })
        }
        None => {
            let engaged = state.limiter.failure(username, ip);
            report_failure(state, "basic auth", username, ip, engaged).await;
            Err(ApiError::Unauthorized("invalid username or password"))
        }
    }
}

/// A session opened by a password login (the API's `POST /auth/login` and the UI's form).
pub struct Session {
    pub user: User,
    /// The session token (shown once; only its hash is stored).
    pub token: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    /// `Set-Cookie` value carrying the token as the session cookie.
    pub cookie: HeaderValue,
}

/// `Set-Cookie` value that ends the session cookie.
pub const CLEAR_SESSION_COOKIE: &str =
    "wardflux_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0";

/// Checks a password login (throttled per account and client address, failures logged
/// and throttles audited: see [`LoginLimiter`]) and
/// opens a session token for it.
pub async fn open_session(
    st: &AppState,
    username: &str,
    password: &Secret,
    ip: IpAddr,
) -> Result<Session, ApiError> {
    if username.is_empty() {
        return Err(ApiError::bad_request(Some("username"), "must not be empty"));
    }
    st.limiter.check(username, Some(ip))?;
    let Some(user) = st.store.verify_password(username, password).await? else {
        let engaged = st.limiter.failure(username, Some(ip));
        report_failure(st, "password", username, Some(ip), engaged).await;
        return Err(ApiError::Unauthorized("invalid username or password"));
    };
    st.limiter.success(username, Some(ip));
    let expires_at = chrono::Utc::now() + st.session_ttl;
    let actor = CurrentUser {
        user: user.clone(),
        token_id: None,
    }
    .actor();
    let (_tok, token) = st
        .store
        .create_token(
            &actor,
            user.id,
            "login session",
            "session",
            Some(expires_at),
        )
        .await?;
    let mut cookie = format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
        st.session_ttl.num_seconds()
    );
    if st.secure_cookies {
        cookie.push_str("; Secure");
    }
    let cookie = HeaderValue::from_str(&cookie).map_err(|e| ApiError::Unexpected(e.into()))?;
    tracing::info!(username = %user.username, "login");
    Ok(Session {
        user,
        token,
        expires_at,
        cookie,
    })
}

macro_rules! role_extractor {
    ($name:ident, $role:expr, $why:literal) => {
        #[doc = concat!("An authenticated caller whose role allows `", stringify!($role), "`.")]
        #[derive(Debug, Clone)]
        pub struct $name(pub CurrentUser);

        impl FromRequestParts<AppState> for $name {
            type Rejection = ApiError;

            async fn from_request_parts(
                parts: &mut Parts,
                state: &AppState,
            ) -> Result<Self, ApiError> {
                let u = CurrentUser::from_request_parts(parts, state).await?;
                if u.user.role.allows($role) {
                    Ok($name(u))
                } else {
                    Err(ApiError::Forbidden($why))
                }
            }
        }
    };
}

role_extractor!(Viewer, Role::Viewer, "this action needs the viewer role");
role_extractor!(
    Operator,
    Role::Operator,
    "this action needs the operator or admin role"
);
role_extractor!(Admin, Role::Admin, "this action needs the admin role");

/// Failed-login throttling, in memory, shared by password logins and basic auth.
///
/// An attacker must slow himself, not the admin, so the main throttle is keyed on the
/// account *and* the client address: after [`LoginLimiter::FREE_FAILURES`] wrong passwords
/// from one address for one account, that pair waits 2 s, then 4 s, 8 s ... (at most 15 min)
/// before its next attempt; the same account from another address is not slowed. Two
/// ceilings bound what many pairs can do together:
/// - per address, across accounts ([`LoginLimiter::MAX_PER_ADDRESS`] failures in 5 min):
///   one client spraying many usernames;
/// - global ([`LoginLimiter::MAX_GLOBAL`] failures in 5 min): a distributed spray (and the
///   CPU that argon2 would burn on it). While it holds, only account and address pairs that
///   logged in successfully in the last day may try a password; API tokens are never
///   throttled, which is why Grafana should use one.
///
/// Each throttle that engages is reported once (the caller logs and audits it).
///
/// A `std::sync::Mutex` suffices: the critical sections are a few map operations and
/// never cross an `.await`.
pub struct LoginLimiter {
    window: Duration,
    max_per_address: usize,
    max_global: usize,
    state: Mutex<LimiterState>,
}

#[derive(Default)]
struct LimiterState {
    /// (lower-cased username, address) -> consecutive failures.
    pairs: HashMap<(String, Option<IpAddr>), PairFailures>,
    /// Failure times per address and overall, within the window.
    per_address: HashMap<IpAddr, VecDeque<Instant>>,
    global: VecDeque<Instant>,
    /// Pairs that logged in successfully, and when (exempt from the global ceiling).
    known_good: HashMap<(String, Option<IpAddr>), Instant>,
}

struct PairFailures {
    count: u32,
    last: Instant,
    blocked_until: Option<Instant>,
}

/// A throttle that engaged with a failure: what to log and audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Throttled {
    /// `account+address`, `address` or `global`.
    pub scope: &'static str,
    /// Failures counted in that scope.
    pub failures: usize,
    pub retry_after_s: u64,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        Self::new(
            Duration::from_secs(300),
            Self::MAX_PER_ADDRESS,
            Self::MAX_GLOBAL,
        )
    }
}

impl LoginLimiter {
    /// Wrong passwords a pair may send before it has to wait.
    pub const FREE_FAILURES: u32 = 3;
    /// The first wait; each further failure doubles it.
    const FIRST_DELAY: Duration = Duration::from_secs(2);
    const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
    /// A pair's failures are forgotten this long after its last one.
    const FORGET_AFTER: Duration = Duration::from_secs(30 * 60);
    /// How long a successful login exempts its pair from the global ceiling.
    const KNOWN_GOOD_FOR: Duration = Duration::from_secs(24 * 3600);
    pub const MAX_PER_ADDRESS: usize = 30;
    pub const MAX_GLOBAL: usize = 1000;
    /// Bound on remembered pairs (the global ceiling keeps the growth per window small).
    const MAX_ENTRIES: usize = 100_000;

    /// `window` is the span of both ceilings.
    pub fn new(window: Duration, max_per_address: usize, max_global: usize) -> Self {
        Self {
            window,
            max_per_address,
            max_global,
            state: Mutex::new(LimiterState::default()),
        }
    }

    fn key(username: &str, ip: Option<IpAddr>) -> (String, Option<IpAddr>) {
        (username.to_lowercase(), ip)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LimiterState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn trim(q: &mut VecDeque<Instant>, now: Instant, window: Duration) {
        while q.front().is_some_and(|t| now.duration_since(*t) > window) {
            q.pop_front();
        }
    }

    fn retry(&self, q: &VecDeque<Instant>, now: Instant) -> u64 {
        let oldest = q.front().copied().unwrap_or(now);
        let left = self.window.saturating_sub(now.duration_since(oldest));
        secs_up(left)
    }

    /// Refuses the attempt (429 with Retry-After) while a throttle holds for it.
    pub fn check(&self, username: &str, ip: Option<IpAddr>) -> Result<(), ApiError> {
        self.check_at(username, ip, Instant::now())
    }

    fn check_at(&self, username: &str, ip: Option<IpAddr>, now: Instant) -> Result<(), ApiError> {
        let key = Self::key(username, ip);
        let mut st = self.lock();
        if let Some(until) = st.pairs.get(&key).and_then(|p| p.blocked_until)
            && until > now
        {
            return Err(ApiError::TooManyRequests {
                retry_after_s: secs_up(until - now),
            });
        }
        if let Some(ip) = ip
            && let Some(q) = st.per_address.get_mut(&ip)
        {
            Self::trim(q, now, self.window);
            if q.len() >= self.max_per_address {
                return Err(ApiError::TooManyRequests {
                    retry_after_s: self.retry(q, now),
                });
            }
        }
        let window = self.window;
        Self::trim(&mut st.global, now, window);
        if st.global.len() >= self.max_global {
            let known = st
                .known_good
                .get(&key)
                .is_some_and(|t| now.duration_since(*t) < Self::KNOWN_GOOD_FOR);
            if !known {
                return Err(ApiError::TooManyRequests {
                    retry_after_s: self.retry(&st.global, now),
                });
            }
        }
        Ok(())
    }

    /// Counts a wrong password; returns the throttle it engaged, if any (once per engagement).
    pub fn failure(&self, username: &str, ip: Option<IpAddr>) -> Option<Throttled> {
        metrics::counter!("wardflux_login_failures_total").increment(1);
        self.failure_at(username, ip, Instant::now())
    }

    fn failure_at(&self, username: &str, ip: Option<IpAddr>, now: Instant) -> Option<Throttled> {
        let mut st = self.lock();
        if st.pairs.len() > Self::MAX_ENTRIES {
            st.pairs
                .retain(|_, p| now.duration_since(p.last) < Self::FORGET_AFTER);
            st.per_address.retain(|_, q| {
                q.back()
                    .is_some_and(|t| now.duration_since(*t) <= self.window)
            });
        }
        if st.known_good.len() > Self::MAX_ENTRIES {
            st.known_good.clear();
        }
        let mut engaged = None;
        let pair = st
            .pairs
            .entry(Self::key(username, ip))
            .or_insert(PairFailures {
                count: 0,
                last: now,
                blocked_until: None,
            });
        if now.duration_since(pair.last) >= Self::FORGET_AFTER {
            pair.count = 0;
        }
        pair.count += 1;
        pair.last = now;
        if pair.count > Self::FREE_FAILURES {
            let doublings = (pair.count - Self::FREE_FAILURES - 1).min(20);
            let delay = Self::FIRST_DELAY
                .saturating_mul(1 << doublings)
                .min(Self::MAX_DELAY);
            pair.blocked_until = Some(now + delay);
            if pair.count == Self::FREE_FAILURES + 1 {
                engaged = Some(Throttled {
                    scope: "account+address",
                    failures: pair.count as usize,
                    retry_after_s: secs_up(delay),
                });
            }
        }
        if let Some(ip) = ip {
            let q = st.per_address.entry(ip).or_default();
            Self::trim(q, now, self.window);
            q.push_back(now);
            if q.len() == self.max_per_address {
                engaged = Some(Throttled {
                    scope: "address",
                    failures: q.len(),
                    retry_after_s: secs_up(self.window),
                });
            }
        }
        let window = self.window;
        Self::trim(&mut st.global, now, window);
        st.global.push_back(now);
        if st.global.len() == self.max_global {
            engaged = Some(Throttled {
                scope: "global",
                failures: st.global.len(),
                retry_after_s: secs_up(self.window),
            });
        }
        engaged
    }

    /// A correct password: the pair's failures are forgotten and it is known good.
    pub fn success(&self, username: &str, ip: Option<IpAddr>) {
        let key = Self::key(username, ip);
        let mut st = self.lock();
        st.pairs.remove(&key);
        st.known_good.insert(key, Instant::now());
    }
}

fn secs_up(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// Logs and audits a failed password check and the throttle it engaged, if any.
async fn report_failure(
    st: &AppState,
    how: &'static str,
    username: &str,
    ip: Option<IpAddr>,
    engaged: Option<Throttled>,
) {
    let shown = truncate_for_display(username);
    let client = ip.map_or_else(|| "unknown".to_string(), |ip| ip.to_string());
    tracing::warn!(username = %shown, client = %client, how, "failed login");
    let Some(t) = engaged else { return };
    tracing::warn!(
        username = %shown, client = %client, scope = t.scope, failures = t.failures,
        retry_after_s = t.retry_after_s, "login throttled"
    );
    let actor = Actor {
        user_id: None,
        name: format!("client {client}"),
    };
    let details = serde_json::json!({
        "scope": t.scope,
        "client": client,
        "failures": t.failures,
        "retry_after_s": t.retry_after_s,
    });
    if let Err(e) = st
        .store
        .record_audit_event(&actor, "auth.throttle", "user", Some(shown), details)
        .await
    {
        tracing::error!(error = %e, "could not audit a login throttle");
    }
}

/// Recently verified credentials, so a client that authenticates every request costs
/// one verification per [`CredentialCache::TTL`], not one per request: basic auth
/// (Grafana's Prometheus data source) would otherwise run argon2 (slow and memory-hungry by
/// design) each time, and a bearer token two SQL queries (the profile of Grafana's small
/// calls put those queries at most of the request's time).
///
/// Keyed by SHA-256 of a per-process random key and the credential's parts (username and
/// password, or the token): the credential itself is never kept. Only successful
/// verifications are cached. Any user or token change made through this server (password,
/// role, disable, delete, logout, token revocation) clears both caches
/// ([`AppState::credentials_changed`](crate::AppState::credentials_changed)); a change made
/// by another process (the CLI) takes effect within the TTL.
///
/// A std mutex: held for one map operation, never across an `.await`.
pub struct CredentialCache<V> {
    key: [u8; 32],
    entries: Mutex<HashMap<[u8; 32], (V, Instant)>>,
}

/// Verified basic-auth credentials (username, password) and their user.
pub type BasicAuthCache = CredentialCache<User>;

/// Verified bearer or session tokens: the caller and the token's expiry.
pub type TokenCache = CredentialCache<(CurrentUser, Option<chrono::DateTime<chrono::Utc>>)>;

impl<V> Default for CredentialCache<V> {
    fn default() -> Self {
        Self {
            key: rand::random(),
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl<V: Clone> CredentialCache<V> {
    /// How long a verified credential is trusted without a new verification.
    pub const TTL: Duration = Duration::from_secs(60);
    /// At most this many credentials are remembered (the map is emptied when full).
    const MAX: usize = 1024;

    fn digest(&self, parts: &[&str]) -> [u8; 32] {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(self.key);
        for p in parts {
            h.update((p.len() as u64).to_le_bytes());
            h.update(p.as_bytes());
        }
        h.finalize().into()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], (V, Instant)>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The value cached for this credential, if verified less than [`Self::TTL`] ago.
    pub fn get(&self, parts: &[&str]) -> Option<V> {
        let d = self.digest(parts);
        let mut map = self.lock();
        match map.get(&d) {
            Some((v, at)) if at.elapsed() < Self::TTL => Some(v.clone()),
            Some(_) => {
                map.remove(&d);
                None
            }
            None => None,
        }
    }

    /// Remembers a successfully verified credential.
    pub fn put(&self, parts: &[&str], v: V) {
        let d = self.digest(parts);
        let mut map = self.lock();
        if map.len() >= Self::MAX {
            map.clear();
        }
        map.insert(d, (v, Instant::now()));
    }

    /// Forgets every credential (after any user or token change).
    pub fn clear(&self) {
        self.lock().clear();
    }
}

#[cfg(test)]
mod limiter_tests {
    use super::*;

    const A: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2)));
    const B: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 3)));

    fn retry(r: Result<(), ApiError>) -> u64 {
        match r {
            Err(ApiError::TooManyRequests { retry_after_s }) => retry_after_s,
            other => panic!("expected 429, got {other:?}"),
        }
    }

    #[test]
    fn backoff_doubles_per_pair_and_spares_other_addresses() {
        let l = LoginLimiter::default();
        let t0 = Instant::now();
        for _ in 0..LoginLimiter::FREE_FAILURES {
            assert_eq!(l.failure_at("admin", A, t0), None);
            l.check_at("admin", A, t0).unwrap();
        }
        let t = l.failure_at("admin", A, t0).expect("engaged");
        assert_eq!((t.scope, t.retry_after_s), ("account+address", 2));
        assert_eq!(retry(l.check_at("Admin", A, t0)), 2);
        l.check_at("admin", B, t0).unwrap();
        l.check_at("oper", A, t0).unwrap();
        // After the wait, the next failure waits twice as long, then four times.
        let t1 = t0 + Duration::from_secs(2);
        l.check_at("admin", A, t1).unwrap();
        assert_eq!(l.failure_at("admin", A, t1), None, "reported once");
        assert_eq!(retry(l.check_at("admin", A, t1)), 4);
        let t2 = t1 + Duration::from_secs(4);
        l.failure_at("admin", A, t2);
        assert_eq!(retry(l.check_at("admin", A, t2)), 8);
        // A success from the address clears its record.
        l.success("admin", A);
        l.check_at("admin", A, t2).unwrap();
    }

    #[test]
    fn the_ceilings_hold_per_address_and_globally_except_for_known_good_pairs() {
        let l = LoginLimiter::new(Duration::from_secs(60), 5, 8);
        let t0 = Instant::now();
        let mut engaged = vec![];
        for i in 0..5 {
            engaged.extend(l.failure_at(&format!("u{i}"), A, t0));
        }
        assert_eq!(engaged.len(), 1);
        assert_eq!(engaged[0].scope, "address");
        assert!(l.check_at("fresh", A, t0).is_err(), "address sprayed");
        l.check_at("fresh", B, t0).unwrap();
        l.success("admin", B);
        let t = (0..3).filter_map(|i| l.failure_at(&format!("v{i}"), B, t0));
        assert_eq!(t.map(|t| t.scope).collect::<Vec<_>>(), ["global"]);
        let c = Some(IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 4)));
        assert!(l.check_at("admin", c, t0).is_err(), "global ceiling");
        l.check_at("admin", B, t0)
            .expect("a pair that logged in before passes the global ceiling");
        l.check_at("admin", c, t0 + Duration::from_secs(61))
            .expect("the window passes");
    }
}
