//! Multipart forms (a file upload), read in order with the CSRF token first: the token is
//! checked before any other part is read, so a forged or missing token is refused while
//! the file is still unsent. The caller checks the session (the `CurrentUser` extractor)
//! and the record's scope before calling [`read_checked`], so nothing of the body is read
//! for a request that would be refused anyway.

use crate::AppState;
use crate::error::PageError;
use crate::session::CurrentUser;
use axum::extract::Multipart;
use axum::extract::multipart::MultipartError;
use axum::http::StatusCode;

/// The longest CSRF token read; ours are far shorter, so a longer one is forged.
const MAX_TOKEN_BYTES: usize = 256;

/// A multipart form whose token checked: its text fields and at most one file.
#[derive(Default)]
pub struct UploadForm {
    fields: Vec<(String, String)>,
    /// The file part, if one was chosen. An empty file that has a name is kept (the
    /// caller refuses it, naming it); a part with neither name nor bytes is a file input
    /// left empty and is `None`.
    pub file: Option<UploadedFile>,
}

/// The file of an upload as sent.
pub struct UploadedFile {
    /// The name the browser gave (not yet cleaned).
    pub name: String,
    pub bytes: Vec<u8>,
}

impl UploadForm {
    /// A text field's value (the last one sent under that name), or "".
    pub fn text(&self, name: &str) -> &str {
        self.fields
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    }
}

fn unreadable(e: MultipartError) -> PageError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        PageError::TooLarge
    } else {
        PageError::BadRequest("上传的表单无法读取，请重新选择文件后提交".into())
    }
}

/// Reads a multipart form whose first part is `csrf_token`, checking it against the
/// session's before reading on (any other first part is a missing token: 403). A second
/// file part — a part with a file name — is refused (400) without being read; `unchanged`
/// says what was not done, as in [`crate::forms::check_token`].
pub async fn read_checked(
    state: &AppState,
    user: &CurrentUser,
    path: &str,
    mut mp: Multipart,
    unchanged: &str,
) -> Result<UploadForm, PageError> {
    let mut token = String::new();
    if let Some(mut field) = mp.next_field().await.map_err(unreadable)?
        && field.name() == Some("csrf_token")
    {
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(unreadable)? {
            bytes.extend_from_slice(&chunk);
            if bytes.len() > MAX_TOKEN_BYTES {
                bytes.clear();
                break;
            }
        }
        token = String::from_utf8(bytes).unwrap_or_default();
    }
    crate::forms::check_token(state, user, path, &token, unchanged).await?;
    let mut form = UploadForm::default();
    while let Some(field) = mp.next_field().await.map_err(unreadable)? {
        let name = field.name().unwrap_or_default().to_owned();
        match field.file_name().map(str::to_owned) {
            Some(file_name) => {
                if form.file.is_some() {
                    return Err(PageError::BadRequest(format!(
                        "一次只能上传一个文件，{unchanged}。请只选择一个文件后重新提交。"
                    )));
                }
                let bytes = field.bytes().await.map_err(unreadable)?;
                if file_name.is_empty() && bytes.is_empty() {
                    continue;
                }
                form.file = Some(UploadedFile {
                    name: file_name,
                    bytes: bytes.to_vec(),
                });
            }
            None => {
                let bytes = field.bytes().await.map_err(unreadable)?;
                form.fields
                    .push((name, String::from_utf8_lossy(&bytes).into_owned()));
            }
        }
    }
    Ok(form)
}
