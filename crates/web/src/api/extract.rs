//! API request parts: the bearer principal and size-limited JSON bodies.

use crate::AppState;
use crate::access;
use crate::error::ApiError;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, Uri, header};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use zhifa_domain::{Capability, Principal, Scope};

/// The user behind a valid `Authorization: Bearer` token.
pub struct ApiUser {
    pub principal: Principal,
    method: Method,
    uri: Uri,
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
        let principal = state
            .store
            .principal_for_token(token)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        Ok(ApiUser {
            principal,
            method: parts.method.clone(),
            uri: parts.uri.clone(),
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
        )
        .await
        .map_err(ApiError::from)
    }
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
        serde_json::from_slice(&bytes)
            .map(ApiJson)
            .map_err(|e| ApiError::BadJson(format!("请求体不是有效的 JSON 或字段类型不符：{e}")))
    }
}
