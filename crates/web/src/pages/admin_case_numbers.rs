//! How an agency numbers its cases (案件编号): one pattern per procedure, with `{年}` and
//! `{号}` (e.g. 朱堂综执罚〔{年}〕{号}号). A change applies to cases opened afterwards;
//! numbers already given never change. Kept by the agency's list administrators.

use super::admin_org::{agency_context, requested_agency};
use super::workbench::AgencyQuery;
use super::{app_chrome, html, html_status};
use crate::AppState;
use crate::error::PageError;
use crate::forms::UserForm;
use crate::session::CurrentUser;
use crate::view::{AgencyContext, CaseNumberRow, CaseNumbersPage};
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::Response;
use axum::routing::get;
use zhifa_domain::case::NumberPattern;
use zhifa_domain::procedure;
use zhifa_domain::{Capability, FieldErrors};
use zhifa_store::Actor;

pub fn router() -> Router<AppState> {
    Router::new().route("/app/admin/case-numbers", get(page).post(save))
}

async fn context(
    state: &AppState,
    user: &CurrentUser,
    method: Method,
    uri: Uri,
    q: &AgencyQuery,
) -> Result<AgencyContext, PageError> {
    let agency_id = requested_agency(q, user)?;
    agency_context(state, user, method, uri, Capability::ManageLists, agency_id).await
}

async fn render(
    state: &AppState,
    user: &CurrentUser,
    ctx: AgencyContext,
    errors: FieldErrors,
    saved: Option<String>,
) -> Result<CaseNumbersPage, PageError> {
    let year = chrono::Datelike::year(&crate::view::today_beijing());
    let mut rows = Vec::new();
    for p in procedure::all() {
        let pattern = state.store.case_number_pattern(ctx.current.id, p).await?;
        rows.push(CaseNumberRow {
            code: p.code.clone(),
            name: p.name.clone(),
            example: pattern.render(year, 1),
            pattern: pattern.as_str().to_owned(),
        });
    }
    Ok(CaseNumbersPage {
        chrome: app_chrome(user, "/app/admin/case-numbers"),
        ctx,
        rows,
        errors,
        saved,
    })
}

async fn page(
    State(state): State<AppState>,
    user: CurrentUser,
    method: Method,
    uri: Uri,
    Query(q): Query<AgencyQuery>,
) -> Result<Response, PageError> {
    let ctx = context(&state, &user, method, uri, &q).await?;
    Ok(html(
        &render(&state, &user, ctx, FieldErrors::new(), None).await?,
    ))
}

async fn save(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    Query(q): Query<AgencyQuery>,
    UserForm { user, form }: UserForm,
) -> Result<Response, PageError> {
    let ctx = context(&state, &user, method, uri, &q).await?;
    let code = form.get("procedure").unwrap_or_default();
    let Some(proc) = procedure::find(&code) else {
        let errors = FieldErrors::single("procedure", "未知的办理程序");
        let page = render(&state, &user, ctx, errors, None).await?;
        return Ok(html_status(StatusCode::BAD_REQUEST, &page));
    };
    let field = format!("pattern_{}", proc.code);
    let pattern = match NumberPattern::parse(&form.get("pattern").unwrap_or_default()) {
        Ok(p) => p,
        Err(e) => {
            let errors = FieldErrors::single(&field, e);
            let page = render(&state, &user, ctx, errors, None).await?;
            return Ok(html_status(StatusCode::BAD_REQUEST, &page));
        }
    };
    // Counters are per procedure: two procedures with one pattern would give one number
    // twice.
    for other in procedure::all().iter().filter(|o| o.code != proc.code) {
        if state
            .store
            .case_number_pattern(ctx.current.id, other)
            .await?
            == pattern
        {
            let errors = FieldErrors::single(
                &field,
                format!("与“{}”的编号格式相同，案件编号会重复", other.name),
            );
            let page = render(&state, &user, ctx, errors, None).await?;
            return Ok(html_status(StatusCode::BAD_REQUEST, &page));
        }
    }
    let mut tx = state
        .store
        .write(Actor::User(user.principal.user_id))
        .await?;
    tx.set_case_number_pattern(ctx.current.id, &proc.code, &pattern)
        .await?;
    tx.commit().await?;
    let year = chrono::Datelike::year(&crate::view::today_beijing());
    let note = format!(
        "已保存“{}”的案件编号格式，此后立案的案件编号如：{}。已有案件的编号不变。",
        proc.name,
        pattern.render(year, 1)
    );
    let page = render(&state, &user, ctx, FieldErrors::new(), Some(note)).await?;
    Ok(html(&page))
}
