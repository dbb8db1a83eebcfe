//! Cross-site request defence, layer one: a state-changing request from a browser must
//! come from this origin (`Sec-Fetch-Site`, `Origin`). Layer two is the per-session
//! token checked by the form extractor (for old browsers that send neither header).

use crate::AppState;
use crate::error::error_page;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

fn same_origin(req: &Request, public_origin: Option<&str>) -> bool {
    let headers = req.headers();
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && !matches!(site, "same-origin" | "none")
    {
        return false;
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        if public_origin.is_some_and(|p| p.eq_ignore_ascii_case(origin.trim_end_matches('/'))) {
            return true;
        }
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let origin_host = origin
            .split_once("://")
            .map(|(_, rest)| rest.trim_end_matches('/'))
            .unwrap_or("");
        if origin_host.is_empty() || !origin_host.eq_ignore_ascii_case(host) {
            return false;
        }
    }
    true
}

pub async fn origin_guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    // The API authenticates by bearer token, which a browser never attaches by itself.
    let api = req.uri().path().starts_with("/api/");
    if safe || api || same_origin(&req, state.config.public_origin.as_deref()) {
        return next.run(req).await;
    }
    tracing::warn!(path = %req.uri().path(), "cross-origin state change refused");
    crate::access::record_refusal(
        &state,
        None,
        "csrf.origin",
        req.method().as_str(),
        req.uri().path(),
        &req.extensions()
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip().to_string())
            .unwrap_or_default(),
    )
    .await;
    error_page(
        StatusCode::FORBIDDEN,
        Some("请求来源不可信（跨站请求），已被拒绝。请从本系统页面重新提交。".into()),
    )
}
