//! Cross-cutting layers: request ids and tracing, body limit, panic catching, the
//! origin guard, security headers, and Chinese pages for every error status.

use crate::error::{Rendered, error_page};
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{Next, from_fn};
use axum::response::{IntoResponse, Response};
use std::sync::atomic::{AtomicU64, Ordering};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::{DefaultOnFailure, DefaultOnResponse, TraceLayer};
use tracing::Level;

static REQUEST_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Request ids: a random 32-bit prefix per process and a counter (cheap, and distinct
/// across nodes in practice).
#[derive(Clone)]
struct Ids {
    prefix: String,
}

static COUNTER: AtomicU64 = AtomicU64::new(1);

impl MakeRequestId for Ids {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        HeaderValue::from_str(&format!("{}-{n}", self.prefix))
            .ok()
            .map(RequestId::new)
    }
}

fn process_prefix() -> String {
    let mut b = [0u8; 4];
    getrandom::fill(&mut b).expect("the operating system provides randomness");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Renders a Chinese page (or JSON under /api) for error responses that zhifa did not
/// render itself: 404/405 from routing, 413 from limits, 500 from a caught panic.
async fn error_pages(req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api/");
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error())
        || resp.extensions().get::<Rendered>().is_some()
    {
        return resp;
    }
    if api {
        let code = match status.as_u16() {
            400 => "bad_request",
            404 => "not_found",
            405 => "method_not_allowed",
            413 => "too_large",
            415 => "unsupported_media_type",
            s if s >= 500 => "internal",
            _ => "error",
        };
        let body =
            serde_json::json!({ "error": { "code": code, "message": status_message(status) } });
        let mut r = (status, axum::Json(body)).into_response();
        r.extensions_mut().insert(Rendered);
        return r;
    }
    error_page(status, None)
}

fn status_message(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "请求参数无效：路径或查询参数的格式不正确",
        404 => "地址不存在",
        405 => "此地址不支持该请求方式",
        413 => "请求体超过允许的大小",
        415 => "内容类型不支持",
        _ if status.is_server_error() => "系统错误，已记录",
        _ => "请求未完成",
    }
}

/// Request ids are ours: an id sent by the client is dropped before a fresh one is set,
/// so logs cannot be seeded with forged ids.
async fn drop_client_request_id(mut req: Request, next: Next) -> Response {
    req.headers_mut().remove("x-request-id");
    next.run(req).await
}

/// The answer to a form field holding a NUL: no text anyone typed, and PostgreSQL
/// refuses it in any string (`forms.rs`).
pub const NUL_MESSAGE: &str = "提交的内容含有空字符（NUL），无法处理；请删除后重试";

async fn security_headers(req: Request, next: Next) -> Response {
    // Signed-in pages and the API hold what a shared or back-buttoned browser must not
    // show the next person: never stored by a browser or proxy.
    let private = ["/app", "/api/", "/login", "/logout"]
        .iter()
        .any(|p| req.uri().path().starts_with(p));
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    if private {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    resp
}

pub fn apply(router: Router, state: crate::AppState) -> Router {
    let ids = Ids {
        prefix: process_prefix(),
    };
    router
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::csrf::origin_guard,
        ))
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(CatchPanicLayer::new())
        .layer(from_fn(error_pages))
        .layer(from_fn(security_headers))
        .layer(PropagateRequestIdLayer::new(REQUEST_HEADER.clone()))
        .layer(
            TraceLayer::new_for_http()
                .on_response(DefaultOnResponse::new().level(Level::INFO))
                .on_failure(DefaultOnFailure::new().level(Level::WARN))
                .make_span_with(|req: &axum::http::Request<_>| {
                let id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path())
            }),
        )
        .layer(SetRequestIdLayer::new(REQUEST_HEADER.clone(), ids))
        .layer(from_fn(drop_client_request_id))
}
