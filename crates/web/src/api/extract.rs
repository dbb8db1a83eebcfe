//! API request parts: the bearer principal and size-limited JSON bodies.

use crate::AppState;
use crate::access;
use crate::error::ApiError;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, Uri, header};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use zhifa_domain::token::TokenRefusal;
use zhifa_domain::{Capability, FieldErrors, Principal, Scope};

/// The user behind a valid `Authorization: Bearer` token.
pub struct ApiUser {
    pub principal: Principal,
    method: Method,
    uri: Uri,
    client_ip: String,
}

impl FromRequestParts<AppState> for ApiUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= 128)
            .ok_or(ApiError::Unauthorized)?;
        let Some(grant) = state.store.token_grant(token).await? else {
            crate::access::record_refusal(
                state,
                None,
                "api.token",
                parts.method.as_str(),
                parts.uri.path(),
                &crate::session::client_ip(parts),
            )
            .await;
            return Err(ApiError::Unauthorized);
        };
        // The token's terms: not expired, and a read-only token only reads.
        let changes_state = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if let Err(refusal) = grant.check(changes_state, zhifa_store::now_ms()) {
            let (action, error) = match refusal {
                TokenRefusal::Expired(_) => (
                    "api.token_expired",
                    ApiError::TokenExpired(refusal.to_string()),
                ),
                TokenRefusal::ReadOnly => (
                    "api.token_read_only",
                    ApiError::ReadOnlyToken(refusal.to_string()),
                ),
            };
            crate::access::record_refusal(
                state,
                Some(&grant.principal),
                action,
                parts.method.as_str(),
                parts.uri.path(),
                &crate::session::client_ip(parts),
            )
            .await;
            return Err(error);
        }
        Ok(ApiUser {
            principal: grant.principal,
            method: parts.method.clone(),
            uri: parts.uri.clone(),
            client_ip: crate::session::client_ip(parts),
        })
    }
}

impl ApiUser {
    /// The one access gate, with denials recorded.
    pub async fn require(
        &self,
        state: &AppState,
        capability: Capability,
        scope: &Scope,
    ) -> Result<(), ApiError> {
        access::require(
            state,
            &self.principal,
            capability,
            scope,
            self.method.as_str(),
            self.uri.path(),
            &self.client_ip,
        )
        .await
        .map_err(ApiError::from)
    }
}

/// A Chinese message for serde's type errors (the English original names Rust types).
fn type_message(serde: &str) -> String {
    if serde.starts_with("missing field") {
        return "缺少此字段".into();
    }
    if serde.starts_with("unknown variant") {
        return "取值不在允许的范围内".into();
    }
    let expected = serde.split("expected ").nth(1).unwrap_or("");
    let kind =
        if expected.contains("i64") || expected.contains("integer") || expected.contains("u64") {
            "整数"
        } else if expected.contains("string") {
            "字符串"
        } else if expected.contains("bool") {
            "true 或 false"
        } else if expected.contains("sequence") {
            "数组"
        } else if expected.contains("struct") || expected.contains("map") {
            "对象"
        } else {
            "正确的类型"
        };
    format!("类型不正确，应为{kind}")
}

/// A JSON body: `application/json`, within the size limit, well-formed.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.starts_with("application/json"))
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::BadJson(
                "请求须为 JSON，并带有 Content-Type: application/json".into(),
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::TooLarge
            } else {
                ApiError::BadJson("无法读取请求体".into())
            }
        })?;
        let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::BadJson(format!(
                "请求体不是有效的 JSON（第 {} 行第 {} 列）",
                e.line(),
                e.column()
            ))
        })?;
        serde_path_to_error::deserialize(value)
            .map(ApiJson)
            .map_err(|e| {
                let field = e.path().to_string();
                let field = if field == "." {
                    "body".to_owned()
                } else {
                    field
                };
                ApiError::Invalid(FieldErrors::single(
                    &field,
                    type_message(&e.into_inner().to_string()),
                ))
            })
    }
}
