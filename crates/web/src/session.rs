//! Sessions: a random id in an HttpOnly cookie, its hash in the database (shared by all
//! app nodes), idle and absolute timeouts, and a per-session CSRF token.

use crate::AppState;
use crate::error::PageError;
use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use zhifa_domain::Principal;
use zhifa_store::accounts::secret_hash;
use zhifa_store::now_ms;

pub const SESSION_COOKIE: &str = "zhifa_session";
pub const LOGIN_CSRF_COOKIE: &str = "zhifa_login_csrf";

/// Activity is written back at most this often, so that pages stay read-only on the
/// database; idle timeout precision is therefore one minute.
const TOUCH_INTERVAL_MS: i64 = 60_000;

/// Reads a cookie by name from the request headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// A `Set-Cookie` value with zhifa's attributes.
pub fn set_cookie(state: &AppState, name: &str, value: &str, max_age_secs: Option<u64>) -> String {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age_secs {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if state.config.secure_cookies {
        c.push_str("; Secure");
    }
    c
}

pub fn clear_cookie(state: &AppState, name: &str) -> String {
    set_cookie(state, name, "", Some(0))
}

/// The signed-in user of a page request.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub principal: Principal,
    pub csrf_token: String,
    pub session_hash: String,
    pub agency_name: String,
    pub department_name: Option<String>,
    /// The address the request came from, for the record of what it was refused.
    pub client_ip: String,
}

/// Compares secrets in time independent of where they differ (the store's one comparison).
pub use zhifa_store::guard::same_secret as constant_time_eq;

impl CurrentUser {
    /// Resolves the session cookie, enforcing timeouts; `None` when not signed in.
    pub async fn resolve(parts: &Parts, state: &AppState) -> Result<Option<Self>, PageError> {
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Ok(None);
        };
        let hash = secret_hash(&token);
        let Some(rec) = state.store.session(&hash).await? else {
            return Ok(None);
        };
        let now = now_ms();
        let idle = state.config.idle_timeout.as_millis() as i64;
        let absolute = state.config.absolute_timeout.as_millis() as i64;
        if rec.user_disabled || now - rec.last_seen_at > idle || now - rec.created_at > absolute {
            state.store.expire_session(&hash).await?;
            return Ok(None);
        }
        if now - rec.last_seen_at > TOUCH_INTERVAL_MS {
            state.store.touch_session(&hash, now).await?;
        }
        Ok(Some(CurrentUser {
            principal: rec.principal,
            csrf_token: rec.csrf_token,
            session_hash: hash,
            agency_name: rec.agency_name,
            department_name: rec.department_name,
            client_ip: client_ip(parts),
        }))
    }
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        match CurrentUser::resolve(parts, state).await? {
            Some(u) => Ok(u),
            None => Err(PageError::LoginRequired {
                next: parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str().to_owned())
                    .unwrap_or_else(|| "/app".into()),
            }),
        }
    }
}

/// The signed-in user if any (public pages show a workbench link).
pub struct MaybeUser(pub Option<CurrentUser>);

impl FromRequestParts<AppState> for MaybeUser {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        Ok(MaybeUser(CurrentUser::resolve(parts, state).await?))
    }
}

/// The client address for the record: the socket peer (a proxy's own header is not trusted).
pub fn client_ip(parts: &Parts) -> String {
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_default()
}
