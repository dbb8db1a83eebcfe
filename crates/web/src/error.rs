//! Errors at the HTTP edge: a Chinese page for browsers, a JSON body for the API.
//! A user never sees internals; the log does.

use crate::view::{ErrorPage, Page};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use zhifa_domain::FieldErrors;
use zhifa_store::StoreError;

/// Marks a response whose body zhifa rendered itself, so the error-page middleware
/// leaves it alone.
#[derive(Clone, Copy)]
pub struct Rendered;

#[derive(Debug)]
pub enum PageError {
    /// Not signed in (or the session ended): go to the login page, then come back.
    LoginRequired {
        next: String,
    },
    BadRequest(String),
    Forbidden(String),
    NotFound,
    TooLarge,
    Conflict(String),
    Unavailable,
    /// Changes are suspended on this node, for the reason given (503).
    Suspended(String),
    Internal,
}

impl PageError {
    pub fn status(&self) -> StatusCode {
        match self {
            PageError::LoginRequired { .. } => StatusCode::SEE_OTHER,
            PageError::BadRequest(_) => StatusCode::BAD_REQUEST,
            PageError::Forbidden(_) => StatusCode::FORBIDDEN,
            PageError::NotFound => StatusCode::NOT_FOUND,
            PageError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            PageError::Conflict(_) => StatusCode::CONFLICT,
            PageError::Unavailable | PageError::Suspended(_) => StatusCode::SERVICE_UNAVAILABLE,
            PageError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => PageError::NotFound,
            StoreError::Stale => PageError::Conflict(e.to_string()),
            StoreError::Invalid(f) => PageError::BadRequest(f.to_string()),
            // Refused: a row it would build on was changed behind zhifa's back.
            StoreError::Tampered(t) => PageError::Conflict(t.to_string()),
            StoreError::Halted(_) => PageError::Suspended(e.to_string()),
            other if other.is_unavailable() => {
                tracing::error!(error = %other, "database unavailable");
                PageError::Unavailable
            }
            other => {
                tracing::error!(error = %other, "store error");
                PageError::Internal
            }
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        if let PageError::LoginRequired { next } = &self {
            let target = format!("/login?next={}", urlencode(next));
            return Redirect::to(&target).into_response();
        }
        let status = self.status();
        let detail = match self {
            PageError::BadRequest(m)
            | PageError::Forbidden(m)
            | PageError::Conflict(m)
            | PageError::Suspended(m) => Some(m),
            _ => None,
        };
        error_page(status, detail)
    }
}

/// A Chinese error page for any status.
pub fn error_page(status: StatusCode, detail: Option<String>) -> Response {
    let (title, default_message) = match status.as_u16() {
        400 => ("请求有误", "提交的内容无法处理，请检查后重试。"),
        401 => ("需要登录", "请先登录。"),
        403 => ("无权访问", "您没有执行此操作的权限。此次访问已被记录。"),
        404 => ("页面不存在", "您访问的页面不存在或已被移除。"),
        405 => ("请求方式不支持", "此地址不支持该请求方式。"),
        409 => ("内容已变化", "该记录已被他人修改，请刷新后重试。"),
        413 => ("提交内容过大", "提交的内容超过了允许的大小，请精简后重试。"),
        415 => ("内容类型不支持", "提交的内容类型不受支持。"),
        503 => ("服务暂不可用", "系统暂时无法访问数据库或存储，请稍后再试。"),
        500..=599 => (
            "系统错误",
            "系统处理请求时出错，已记录，请稍后再试或联系管理员。",
        ),
        _ => ("请求未完成", "请求未能完成。"),
    };
    let page = ErrorPage {
        status: status.as_u16(),
        title,
        message: detail.unwrap_or_else(|| default_message.to_owned()),
    };
    let mut resp = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page.render_html(),
    )
        .into_response();
    resp.extensions_mut().insert(Rendered);
    resp
}

/// Errors of the JSON API: `{"error": {"code", "message", "fields"?}}`.
#[derive(Debug)]
pub enum ApiError {
    Unauthorized,
    /// The token has expired (401), saying when.
    TokenExpired(String),
    Forbidden,
    /// A read-only token asked to change something (403).
    ReadOnlyToken(String),
    NotFound,
    Invalid(FieldErrors),
    BadJson(String),
    TooLarge,
    Conflict(String),
    Unavailable,
    /// Changes are suspended on this node, for the reason given (503).
    Suspended(String),
    Internal,
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound,
            StoreError::Stale => ApiError::Conflict(e.to_string()),
            StoreError::Invalid(f) => ApiError::Invalid(f),
            StoreError::Tampered(t) => ApiError::Conflict(t.to_string()),
            StoreError::Halted(_) => ApiError::Suspended(e.to_string()),
            other if other.is_unavailable() => ApiError::Unavailable,
            other => {
                tracing::error!(error = %other, "store error");
                ApiError::Internal
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message, fields) = match self {
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "需要有效的 API 令牌（Authorization: Bearer …）".to_owned(),
                None,
            ),
            ApiError::TokenExpired(m) => (StatusCode::UNAUTHORIZED, "token_expired", m, None),
            ApiError::ReadOnlyToken(m) => (StatusCode::FORBIDDEN, "read_only_token", m, None),
            ApiError::Forbidden => (
                StatusCode::FORBIDDEN,
                "forbidden",
                "无权执行此操作，此次访问已被记录".to_owned(),
                None,
            ),
            ApiError::NotFound => (
                StatusCode::NOT_FOUND,
                "not_found",
                "记录不存在".to_owned(),
                None,
            ),
            ApiError::Invalid(f) => (
                StatusCode::BAD_REQUEST,
                "invalid_fields",
                "提交的字段有误".to_owned(),
                Some(f),
            ),
            ApiError::BadJson(m) => (StatusCode::BAD_REQUEST, "invalid_json", m, None),
            ApiError::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                "请求体超过允许的大小".to_owned(),
                None,
            ),
            ApiError::Conflict(m) => (StatusCode::CONFLICT, "conflict", m, None),
            ApiError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "数据库暂不可用".to_owned(),
                None,
            ),
            ApiError::Suspended(m) => (StatusCode::SERVICE_UNAVAILABLE, "suspended", m, None),
            ApiError::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "系统错误，已记录".to_owned(),
                None,
            ),
        };
        let body =
            serde_json::json!({ "error": { "code": code, "message": message, "fields": fields } });
        let mut resp = (status, axum::Json(body)).into_response();
        resp.extensions_mut().insert(Rendered);
        resp
    }
}

pub fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_status_has_a_chinese_page() {
        for (status, title) in [
            (StatusCode::FORBIDDEN, "无权访问"),
            (StatusCode::NOT_FOUND, "页面不存在"),
            (StatusCode::PAYLOAD_TOO_LARGE, "提交内容过大"),
            (StatusCode::INTERNAL_SERVER_ERROR, "系统错误"),
            (StatusCode::SERVICE_UNAVAILABLE, "服务暂不可用"),
        ] {
            let page = ErrorPage {
                status: status.as_u16(),
                title,
                message: "说明".into(),
            }
            .render_html();
            assert!(page.contains("<html lang=\"zh-CN\">") && page.contains(title));
            let resp = error_page(status, None);
            assert_eq!(resp.status(), status);
            assert!(resp.extensions().get::<Rendered>().is_some());
        }
    }
}
