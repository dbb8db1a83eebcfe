//! Cross-site request defence, layer one: a state-changing request from a browser must
//! come from this origin (`Sec-Fetch-Site`, `Origin`). Layer two is the per-session
//! token checked by the form extractor (for old browsers that send neither header).

use crate::error::error_page;
use axum::extract::Request;
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

fn same_origin(req: &Request) -> bool {
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

pub async fn origin_guard(req: Request, next: Next) -> Response {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    // The API authenticates by bearer token, which a browser never attaches by itself.
    let api = req.uri().path().starts_with("/api/");
    if safe || api || same_origin(&req) {
        return next.run(req).await;
    }
    tracing::warn!(path = %req.uri().path(), "cross-origin state change refused");
    error_page(
        StatusCode::FORBIDDEN,
        Some("请求来源不可信（跨站请求），已被拒绝。请从本系统页面重新提交。".into()),
    )
}
