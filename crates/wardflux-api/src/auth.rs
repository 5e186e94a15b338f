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
use wardflux_model::inventory::{Actor, Role, Secret, User};

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
            state.limiter.success(username);
            state.basic_cache.put(&[username, password], user.clone());
            Ok(CurrentUser {
                user,
                token_id: None,
            })
        }
        None => {
            state.limiter.failure(username, ip);
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

/// Checks a password login (throttled per user and client address, failures logged) and
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
        st.limiter.failure(username, Some(ip));
        tracing::warn!(username = %username, client = %ip, "failed login");
        return Err(ApiError::Unauthorized("invalid username or password"));
    };
    st.limiter.success(username);
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

/// Failed-login throttling: per username and per client address, in memory.
///
/// A `std::sync::Mutex` suffices: the critical sections are a few map operations and
/// never cross an `.await`.
pub struct LoginLimiter {
    window: Duration,
    max_per_user: usize,
    max_per_ip: usize,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        Self::new(Duration::from_secs(300), 5, 20)
    }
}

impl LoginLimiter {
    pub fn new(window: Duration, max_per_user: usize, max_per_ip: usize) -> Self {
        Self {
            window,
            max_per_user,
            max_per_ip,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn keys(username: &str, ip: Option<IpAddr>) -> [Option<String>; 2] {
        [
            Some(format!("u:{}", username.to_lowercase())),
            ip.map(|ip| format!("ip:{ip}")),
        ]
    }

    /// Refuses the attempt when the username or the address has too many recent failures.
    pub fn check(&self, username: &str, ip: Option<IpAddr>) -> Result<(), ApiError> {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        for (i, key) in Self::keys(username, ip).into_iter().enumerate() {
            let Some(key) = key else { continue };
            let max = if i == 0 {
                self.max_per_user
            } else {
                self.max_per_ip
            };
            if let Some(q) = map.get_mut(&key) {
                while q
                    .front()
                    .is_some_and(|t| now.duration_since(*t) > self.window)
                {
                    q.pop_front();
                }
                if q.len() >= max {
                    let oldest = *q.front().expect("non-empty");
                    let retry = self.window.saturating_sub(now.duration_since(oldest));
                    return Err(ApiError::TooManyRequests {
                        retry_after_s: retry.as_secs().max(1),
                    });
                }
            }
        }
        Ok(())
    }

    pub fn failure(&self, username: &str, ip: Option<IpAddr>) {
        metrics::counter!("wardflux_login_failures_total").increment(1);
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        // Bound memory: a flood of random usernames must not grow the map forever.
        if map.len() > 100_000 {
            map.retain(|_, q| {
                q.back()
                    .is_some_and(|t| now.duration_since(*t) <= self.window)
            });
        }
        for key in Self::keys(username, ip).into_iter().flatten() {
            map.entry(key).or_default().push_back(now);
        }
    }

    pub fn success(&self, username: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&format!("u:{}", username.to_lowercase()));
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
