//! Login and logout.

use super::{html_status, portal_chrome};
use crate::AppState;
use crate::error::PageError;
use crate::forms::{FormData, UserForm, read_body};
use crate::session::{
    CurrentUser, LOGIN_CSRF_COOKIE, SESSION_COOKIE, clear_cookie, client_ip, constant_time_eq,
    cookie, set_cookie,
};
use crate::view::LoginPage;
use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use zhifa_store::accounts::{LoginAttempt, new_secret, secret_hash};
use zhifa_store::{Actor, now_ms, password};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct LoginQuery {
    next: String,
    logged_out: String,
    expired: String,
}

/// Only local paths made of plain URL characters are followed after login: no scheme,
/// no `//` or `\\` (which browsers read as another host), no control characters or
/// spaces (which browsers strip, turning `/\t/evil` into `//evil`).
pub(crate) fn safe_next(next: &str) -> String {
    let plain = next.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
    if plain
        && next.starts_with('/')
        && !next.starts_with("//")
        && next.len() <= 512
        && next.parse::<axum::http::uri::PathAndQuery>().is_ok()
    {
        next.to_owned()
    } else {
        "/app".to_owned()
    }
}

fn login_page(
    state: &AppState,
    status: StatusCode,
    token: &str,
    username: &str,
    next: &str,
    error: Option<String>,
    notice: Option<&'static str>,
) -> Response {
    let page = LoginPage {
        chrome: portal_chrome("zhifa 行政执法平台".into(), None),
        csrf_token: token.to_owned(),
        username: username.to_owned(),
        next: next.to_owned(),
        error,
        notice,
        lockout_failures: state.config.lockout_failures,
        lockout_minutes: state.config.lockout_window.as_secs() / 60,
    };
    let mut resp = html_status(status, &page);
    if let Ok(v) = set_cookie(state, LOGIN_CSRF_COOKIE, token, None).parse() {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

async fn login_form(
    State(state): State<AppState>,
    Query(q): Query<LoginQuery>,
    req: Request,
) -> Result<Response, PageError> {
    let (parts, _) = req.into_parts();
    if CurrentUser::resolve(&parts, &state).await?.is_some() {
        return Ok(Redirect::to(&safe_next(&q.next)).into_response());
    }
    let notice = if !q.logged_out.is_empty() {
        Some("您已安全退出。")
    } else if !q.expired.is_empty() {
        Some("登录已超时，请重新登录。")
    } else {
        None
    };
    // Reuse the visitor's token if present so that two open tabs both work.
    let token = cookie(&parts.headers, LOGIN_CSRF_COOKIE)
        .filter(|t| t.len() == 43)
        .unwrap_or_else(new_secret);
    Ok(login_page(
        &state,
        StatusCode::OK,
        &token,
        "",
        &safe_next(&q.next),
        None,
        notice,
    ))
}

async fn login(State(state): State<AppState>, req: Request) -> Result<Response, PageError> {
    let (parts, body) = req.into_parts();
    let ip = client_ip(&parts);
    let cookie_token = cookie(&parts.headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    let old_session = cookie(&parts.headers, SESSION_COOKIE).map(|s| secret_hash(&s));
    let form = FormData::new(read_body(Request::from_parts(parts, body), &state).await?);
    let form_token = form.get("csrf_token").unwrap_or_default();
    let next = safe_next(&form.get("next").unwrap_or_default());
    if cookie_token.is_empty() || !constant_time_eq(&cookie_token, &form_token) {
        return Err(PageError::Forbidden(
            "登录页面已过期或来源不可信（CSRF 校验失败）。请重新打开登录页面后再试。".into(),
        ));
    }
    let raw_username: String = form
        .get("username")
        .unwrap_or_default()
        .trim()
        .to_lowercase()
        .chars()
        .take(64)
        .collect();
    let password_input = form.get("password").unwrap_or_default();
    let fresh_token = new_secret();
    let again = |message: String| {
        login_page(
            &state,
            StatusCode::UNAUTHORIZED,
            &fresh_token,
            &raw_username,
            &next,
            Some(message),
            None,
        )
    };
    if raw_username.is_empty() || password_input.is_empty() {
        return Ok(again("请输入用户名和密码。".into()));
    }

    let window = state.config.lockout_window.as_millis() as i64;
    let limit = state.config.lockout_failures;
    let now = now_ms();
    let candidate = state.store.login_candidate(&raw_username).await?;
    let known = candidate.as_ref().map(|(u, _)| u.clone());
    // Count this attempt before checking the password, atomically, so that parallel
    // guesses cannot exceed the limit; a locked account's attempts are recorded but do
    // not extend the lock.
    let attempt = match state
        .store
        .reserve_login_attempt(&raw_username, &ip, now, window, limit)
        .await?
    {
        LoginAttempt::Locked { until } => {
            record_failure(&state, &raw_username, known.as_ref(), &ip, "locked", false).await?;
            let minutes = ((until - now) / 60_000).max(1);
            return Ok(again(format!(
                "该账号因连续 {limit} 次登录失败已被锁定，请约 {minutes} 分钟后再试，或联系管理员。"
            )));
        }
        LoginAttempt::Busy => {
            return Ok(again("此账号正有多个登录请求在核验中，请稍后再试。".into()));
        }
        LoginAttempt::Reserved { attempt } => attempt,
    };

    let hash = candidate.as_ref().map(|(_, h)| h.clone());
    let ok = password::verify(&password_input, hash).await;
    match (ok, known) {
        (true, Some(user)) if !user.disabled => {
            let session = new_secret();
            let csrf = new_secret();
            let mut tx = state.store.write(Actor::User(user.id)).await?;
            tx.create_session(
                &user,
                &secret_hash(&session),
                &csrf,
                &ip,
                old_session.as_deref(),
                Some(attempt),
            )
            .await?;
            tx.commit().await?;
            tracing::info!(user = %user.username, "login");
            let mut resp = Redirect::to(&next).into_response();
            let h = resp.headers_mut();
            if let Ok(v) = set_cookie(&state, SESSION_COOKIE, &session, None).parse() {
                h.append(header::SET_COOKIE, v);
            }
            if let Ok(v) = clear_cookie(&state, LOGIN_CSRF_COOKIE).parse() {
                h.append(header::SET_COOKIE, v);
            }
            Ok(resp)
        }
        (true, Some(user)) => {
            state
                .store
                .confirm_login_failure(attempt, &raw_username, window)
                .await?;
            record_failure(&state, &raw_username, Some(&user), &ip, "disabled", false).await?;
            Ok(again("该账号已停用，请联系管理员。".into()))
        }
        (_, known) => {
            let failures = state
                .store
                .confirm_login_failure(attempt, &raw_username, window)
                .await?;
            // The failure that reaches the limit locks the account (and is the one
            // recorded as the lockout), however many were checked at once.
            let locked_now = failures == limit;
            let prior = failures - 1;
            let reason = if known.is_some() {
                "bad_password"
            } else {
                "unknown_user"
            };
            record_failure(
                &state,
                &raw_username,
                known.as_ref(),
                &ip,
                reason,
                locked_now,
            )
            .await?;
            tracing::warn!(username = ?raw_username, reason, "login failed");
            let message = if locked_now {
                format!("用户名或密码错误。连续失败已达 {limit} 次，账号已锁定，请稍后再试。")
            } else {
                let left = limit - prior - 1;
                format!("用户名或密码错误。再失败 {left} 次，账号将被锁定。")
            };
            Ok(again(message))
        }
    }
}

async fn record_failure(
    state: &AppState,
    username: &str,
    user: Option<&zhifa_store::accounts::User>,
    ip: &str,
    reason: &'static str,
    locked_now: bool,
) -> Result<(), PageError> {
    let mut tx = state.store.write(Actor::Anonymous).await?;
    tx.record_login_failure(username, user, ip, reason, locked_now)
        .await?;
    tx.commit().await?;
    Ok(())
}

async fn logout(
    State(state): State<AppState>,
    UserForm { user, .. }: UserForm,
) -> Result<Response, PageError> {
    let mut tx = state
        .store
        .write(Actor::User(user.principal.user_id))
        .await?;
    tx.end_session(&user.principal, &user.session_hash).await?;
    tx.commit().await?;
    let mut resp = Redirect::to("/login?logged_out=1").into_response();
    if let Ok(v) = clear_cookie(&state, SESSION_COOKIE).parse() {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_is_a_local_path_or_the_workbench() {
        for ok in ["/app", "/app/admin/users?agency=2", "/"] {
            assert_eq!(safe_next(ok), ok);
        }
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "/\n/evil",
            "https://evil.example",
            "evil",
            "",
            "/\u{1}",
            "/ /x",
            "/工作台",
        ] {
            assert_eq!(safe_next(bad), "/app", "{bad:?}");
        }
    }
}
