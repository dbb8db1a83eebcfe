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
use axum::http::{Method, Uri};
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

async fn add(
    State(state): State<AppState>,
    user: CurrentUser,
    method: Method,
    uri: Uri,
    Path(id): Path<i64>,
    mp: Multipart,
) -> Result<Response, PageError> {
    // Who may act on this case is decided before the body is read, and the form's token
    // (its first part) before its file: a refused upload is never read.
    let path = uri.path().to_owned();
    let (file, actor) = acting_on(&state, &user, method, uri, id).await?;
    let form = crate::multipart::read_checked(&state, &user, &path, mp, "未登记任何内容").await?;
    let text = |name: &str| form.text(name).chars().take(2000).collect::<String>();
    let input = EvidenceInput {
        kind: text("kind"),
        name: text("name"),
        source: text("source"),
        spec: text("spec"),
        quantity: text("quantity"),
        collected_on: text("collected_on"),
    };
    let upload = form.file.map(|f| EvidenceFile {
        name: f.name,
        bytes: f.bytes,
    });
    let opened = chrono::NaiveDate::parse_from_str(&file.case.opened_on, "%Y-%m-%d")
        .map_err(|_| PageError::Internal)?;
    let result = match NewEvidence::parse(&input, upload, opened, today_beijing()) {
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
