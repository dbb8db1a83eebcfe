//! Form bodies of signed-in users: size-limited, parsed, and CSRF-checked before the
//! handler runs, so no handler can forget the token.

use crate::AppState;
use crate::error::PageError;
use crate::session::{CurrentUser, constant_time_eq};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use bytes::Bytes;
use serde::de::DeserializeOwned;

/// Reads a body, mapping the size limit to 413.
pub async fn read_body(req: Request, state: &AppState) -> Result<Bytes, PageError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            PageError::TooLarge
        } else {
            PageError::BadRequest("无法读取提交的内容".into())
        }
    })
}

/// A url-encoded form.
pub struct FormData {
    bytes: Bytes,
}

impl FormData {
    pub fn new(bytes: Bytes) -> Self {
        FormData { bytes }
    }

    /// Decodes the form into `T` (whose fields are strings with defaults).
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, PageError> {
        serde_urlencoded::from_bytes(&self.bytes)
            .map_err(|_| PageError::BadRequest("表单格式无效，请从本系统页面重新提交".into()))
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<String> {
        form_urlencoded::parse(&self.bytes)
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    /// Every value of `name` (checkbox groups).
    pub fn all(&self, name: &str) -> Vec<String> {
        form_urlencoded::parse(&self.bytes)
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .collect()
    }
}

/// A form posted by the signed-in user, with its CSRF token verified.
pub struct UserForm {
    pub user: CurrentUser,
    pub form: FormData,
}

impl FromRequest<AppState> for UserForm {
    type Rejection = PageError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, PageError> {
        let (mut parts, body) = req.into_parts();
        let path = parts.uri.path().to_owned();
        let user = CurrentUser::from_request_parts(&mut parts, state).await?;
        let form = FormData::new(read_body(Request::from_parts(parts, body), state).await?);
        if form_urlencoded::parse(&form.bytes).any(|(_, v)| v.contains('\0')) {
            return Err(PageError::BadRequest(crate::middleware::NUL_MESSAGE.into()));
        }
        let token = form.get("csrf_token").unwrap_or_default();
        check_token(state, &user, &path, &token, "未保存任何内容").await?;
        Ok(UserForm { user, form })
    }
}

/// Checks a posted form's CSRF token against the session's; a mismatch is logged as a
/// refusal and answered in Chinese, saying what was not done (`unchanged`). Forms read
/// here pass through it; a multipart form (a file upload) calls it itself.
pub async fn check_token(
    state: &AppState,
    user: &CurrentUser,
    path: &str,
    token: &str,
    unchanged: &str,
) -> Result<(), PageError> {
    if constant_time_eq(token, &user.csrf_token) {
        return Ok(());
    }
    crate::access::record_refusal(
        state,
        Some(&user.principal),
        "csrf.token",
        "POST",
        path,
        &user.client_ip,
    )
    .await;
    Err(PageError::Forbidden(format!(
        "表单已过期或来源不可信（CSRF 校验失败），{unchanged}。请返回、刷新页面后重试。"
    )))
}
