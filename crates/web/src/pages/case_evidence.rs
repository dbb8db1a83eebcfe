//! Evidence of a case: registering it (a multipart form, since it may carry a file) and
//! downloading its file.

use super::case_docs::file_response;
use super::cases::{acting_on, show_with_errors, viewing};
use super::form_errors;
use crate::AppState;
use crate::error::PageError;
use crate::session::CurrentUser;
use crate::view::today_beijing;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use zhifa_domain::FieldErrors;
use zhifa_domain::evidence::{EvidenceFile, EvidenceInput, MAX_FILE_BYTES, NewEvidence};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/app/cases/{id}/evidence",
            post(add).layer(DefaultBodyLimit::max(MAX_FILE_BYTES + 64 * 1024)),
        )
        .route("/app/cases/{id}/evidence/{n}", get(download))
}

/// The evidence form as posted.
#[derive(Default)]
struct EvidenceForm {
    csrf_token: String,
    input: EvidenceInput,
    file: Option<EvidenceFile>,
}

async fn read_form(mut mp: Multipart) -> Result<EvidenceForm, PageError> {
    let bad = || PageError::BadRequest("上传的表单无法读取，请重新选择文件后提交".into());
    let too_large = |status: StatusCode| {
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            PageError::TooLarge
        } else {
            bad()
        }
    };
    let mut f = EvidenceForm::default();
    while let Some(field) = mp.next_field().await.map_err(|e| too_large(e.status()))? {
        let name = field.name().unwrap_or_default().to_owned();
        let file_name = field.file_name().map(str::to_owned);
        let bytes = field.bytes().await.map_err(|e| too_large(e.status()))?;
        let text = || String::from_utf8_lossy(&bytes).chars().take(2000).collect();
        match name.as_str() {
            "csrf_token" => f.csrf_token = text(),
            "kind" => f.input.kind = text(),
            "name" => f.input.name = text(),
            "source" => f.input.source = text(),
            "spec" => f.input.spec = text(),
            "quantity" => f.input.quantity = text(),
            "collected_on" => f.input.collected_on = text(),
            "file" => {
                f.file = Some(EvidenceFile {
                    name: file_name.unwrap_or_default(),
                    bytes: bytes.to_vec(),
                })
            }
            _ => {}
        }
    }
    Ok(f)
}

async fn add(
    State(state): State<AppState>,
    user: CurrentUser,
    method: Method,
    uri: Uri,
    Path(id): Path<i64>,
    mp: Multipart,
) -> Result<Response, PageError> {
    let form = read_form(mp).await?;
    // A multipart form is not read by `UserForm`: its token is checked here.
    crate::forms::check_token(
        &state,
        &user,
        uri.path(),
        &form.csrf_token,
        "未登记任何内容",
    )
    .await?;
    let (file, actor) = acting_on(&state, &user, method, uri, id).await?;
    let opened = chrono::NaiveDate::parse_from_str(&file.case.opened_on, "%Y-%m-%d")
        .map_err(|_| PageError::Internal)?;
    let result = match NewEvidence::parse(&form.input, form.file, opened, today_beijing()) {
        Err(errors) => {
            // The case page has other forms with a "kind" or "name": name these apart.
            let mut prefixed = FieldErrors::new();
            for e in errors.iter() {
                prefixed.add(&format!("ev_{}", e.field), e.message.clone());
            }
            Err(zhifa_store::StoreError::Invalid(prefixed))
        }
        Ok(e) => state
            .store
            .add_evidence(&actor, file.case.id, &e)
            .await
            .map(|_| ()),
    };
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/app/cases/{id}#h-evidence")).into_response()),
        Err(e) => {
            let errors = form_errors(e, "本案已被他人修改，请刷新后重试")?;
            show_with_errors(&state, &user, id, errors).await
        }
    }
}

async fn download(
    State(state): State<AppState>,
    user: CurrentUser,
    method: Method,
    uri: Uri,
    Path((id, n)): Path<(i64, i64)>,
) -> Result<Response, PageError> {
    let file = viewing(&state, &user, method, uri, id).await?;
    let (case_id, name, bytes) = match state.store.case_evidence_file(n).await {
        Ok(x) => x,
        Err(zhifa_store::StoreError::NotFound) => return Err(PageError::NotFound),
        Err(e) => return Err(e.into()),
    };
    if case_id != file.case.id {
        return Err(PageError::NotFound);
    }
    // Uploaded files are served as opaque downloads, never rendered by the browser.
    Ok(file_response(
        bytes,
        "application/octet-stream",
        &name,
        false,
    ))
}
