//! 执法证件: their administration (`ManageCredentials`), printable cards with a QR code,
//! the public check page a QR code opens (`/v/{token}`, 亮证), and each agency's public
//! list of officers. The check page judges the credential at the moment of scanning.

use super::admin_org::{agency_context, requested_agency};
use super::workbench::{AgencyQuery, actor_label, actor_names, history};
use super::{app_chrome, form_errors, form_version, html, html_status, portal_chrome};
use crate::AppState;
use crate::error::PageError;
use crate::forms::{FormData, UserForm};
use crate::session::{CurrentUser, MaybeUser};
use crate::view::{
    AgencyContext, CredentialCardPage, CredentialCheckPage, CredentialFormPage,
    CredentialInvalidPage, CredentialListPage, CredentialRow, OfficersPage, PersonChoice,
    StatusEvent, fmt_time, today_beijing,
};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use zhifa_domain::credential::{
    CredentialInput, CredentialKind, NewCredential, StatusChange, StatusInput, StoredStatus,
};
use zhifa_domain::{Capability, FieldErrors};
use zhifa_store::credentials::Credential;
use zhifa_store::{Actor, StoreError};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/app/admin/credentials", get(list))
        .route("/app/admin/credentials/new", get(new_form).post(create))
        .route("/app/admin/credentials/{id}", get(edit).post(update))
        .route("/app/admin/credentials/{id}/status", post(change_status))
        .route("/app/admin/credentials/{id}/token", post(reissue_token))
        .route("/app/admin/credentials/{id}/card", get(card))
        .route("/app/admin/credentials/{id}/qr.svg", get(qr_svg))
        .route("/app/admin/credentials/{id}/card.{format}", get(card_file))
        .route("/v/{token}", get(check))
        .route("/agencies/{slug}/officers", get(officers))
}

/// The address a credential's QR code opens: the configured public origin, or the
/// address this request came to.
fn check_url(state: &AppState, headers: &HeaderMap, token: &str) -> String {
    format!("{}/v/{token}", super::public_origin(state, headers))
}

fn qr_of(url: &str, number: &str) -> String {
    crate::qr::svg(url, &format!("执法证件 {number} 核验二维码")).unwrap_or_default()
}

fn see_other(path: String) -> Response {
    Redirect::to(&path).into_response()
}

async fn credentials_context(
    state: &AppState,
    user: &CurrentUser,
    method: Method,
    uri: Uri,
    agency_id: i64,
) -> Result<AgencyContext, PageError> {
    agency_context(
        state,
        user,
        method,
        uri,
        Capability::ManageCredentials,
        agency_id,
    )
    .await
}

async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    method: Method,
    uri: Uri,
    Query(q): Query<AgencyQuery>,
) -> Result<Response, PageError> {
    let agency_id = requested_agency(&q, &user)?;
    let ctx = credentials_context(&state, &user, method, uri, agency_id).await?;
    let today = today_beijing();
    let rows = state
        .store
        .list_credentials(ctx.current.id)
        .await?
        .into_iter()
        .map(|c| CredentialRow::on(c, today))
        .collect();
    Ok(html(&CredentialListPage {
        chrome: app_chrome(&user, "/app/admin/credentials"),
        ctx,
        rows,
        today: today.to_string(),
    }))
}

async fn people_choices(state: &AppState, agency_id: i64) -> Result<Vec<PersonChoice>, PageError> {
    Ok(state
        .store
        .list_people(agency_id, None)
        .await?
        .into_iter()
        .filter(|p| p.active)
        .map(|p| PersonChoice {
            id: p.id,
            label: match p.department_name {
                Some(d) => format!("{}（{d}）", p.name),
                None => p.name,
            },
        })
        .collect())
}

/// Everything the credential page shows besides the form itself.
struct Extras {
    current: Option<CredentialRow>,
    qr_svg: String,
    check_url: String,
    status_events: Vec<StatusEvent>,
    history: Vec<crate::view::JournalRow>,
}

async fn extras(
    state: &AppState,
    headers: &HeaderMap,
    c: Option<Credential>,
) -> Result<Extras, PageError> {
    let Some(c) = c else {
        return Ok(Extras {
            current: None,
            qr_svg: String::new(),
            check_url: String::new(),
            status_events: vec![],
            history: vec![],
        });
    };
    let url = check_url(state, headers, &c.qr_token);
    let names = actor_names(state).await?;
    // The status each entry recorded, with its reason (the row's snapshot at the time).
    let status_events = state
        .store
        .journal_for_subject("credential", &c.id.to_string())
        .await?
        .iter()
        .filter(|e| e.action == "credential.create" || e.action == "credential.status")
        .filter_map(|e| {
            let v: serde_json::Value = serde_json::from_str(e.payload.as_deref()?).ok()?;
            Some(StatusEvent {
                at: fmt_time(e.at),
                actor: actor_label(&names, &e.actor),
                status: StoredStatus::from_code(v["status"].as_str()?)?.label(),
                reason: v["status_reason"].as_str().unwrap_or_default().to_owned(),
            })
        })
        .collect();
    Ok(Extras {
        qr_svg: qr_of(&url, &c.number),
        check_url: url,
        status_events,
        history: history(state, "credential", c.id).await?,
        current: Some(CredentialRow::on(c, today_beijing())),
    })
}

#[allow(clippy::too_many_arguments)]
async fn form_page(
    state: &AppState,
    user: &CurrentUser,
    headers: &HeaderMap,
    ctx: AgencyContext,
    current: Option<Credential>,
    form: CredentialInput,
    errors: FieldErrors,
    status_form: StatusInput,
    status_errors: FieldErrors,
) -> Result<CredentialFormPage, PageError> {
    let people = people_choices(state, ctx.current.id).await?;
    let (id, version) = current
        .as_ref()
        .map(|c| (Some(c.id), c.version))
        .unwrap_or((None, 0));
    let x = extras(state, headers, current).await?;
    Ok(CredentialFormPage {
        chrome: app_chrome(user, "/app/admin/credentials"),
        ctx,
        id,
        version,
        form,
        errors,
        people,
        current: x.current,
        status_form,
        status_errors,
        qr_svg: x.qr_svg,
        check_url: x.check_url,
        status_events: x.status_events,
        history: x.history,
    })
}

fn input_of(c: &Credential) -> CredentialInput {
    CredentialInput {
        person_id: c.person_id.to_string(),
        kind: c.kind.code().into(),
        number: c.number.clone(),
        issuer: c.issuer.clone(),
        area: c.area.clone(),
        valid_from: c.valid_from.clone(),
        valid_to: c.valid_to.clone(),
    }
}

/// Shown when someone else saved the record since the form was opened.
const STALE: &str = "该证件已被他人修改，未保存。请重新打开后再改。";

async fn new_form(
    State(state): State<AppState>,
    user: CurrentUser,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<AgencyQuery>,
) -> Result<Response, PageError> {
    let agency_id = requested_agency(&q, &user)?;
    let ctx = credentials_context(&state, &user, method, uri, agency_id).await?;
    let form = CredentialInput {
        kind: CredentialKind::Enforcement.code().into(),
        area: ctx.current.name.clone(),
        ..Default::default()
    };
    let page = form_page(
        &state,
        &user,
        &headers,
        ctx,
        None,
        form,
        FieldErrors::new(),
        StatusInput::default(),
        FieldErrors::new(),
    )
    .await?;
    Ok(html(&page))
}

/// Saves the particulars (new or corrected); on refusal shows the form again.
async fn save(
    state: &AppState,
    user: &CurrentUser,
    headers: &HeaderMap,
    ctx: AgencyContext,
    current: Option<Credential>,
    form: FormData,
) -> Result<Response, PageError> {
    let version = if current.is_some() {
        form_version(&form)?
    } else {
        0
    };
    let input: CredentialInput = form.decode()?;
    let errors = match NewCredential::parse(&input) {
        Err(e) => e,
        Ok(c) => {
            let mut tx = state
                .store
                .write(Actor::User(user.principal.user_id))
                .await?;
            let result = match &current {
                Some(cur) => tx
                    .update_credential(cur.id, version, &c)
                    .await
                    .map(|_| cur.id),
                None => tx.create_credential(ctx.current.id, &c).await,
            };
            match result {
                Ok(id) => {
                    tx.commit().await?;
                    return Ok(see_other(format!("/app/admin/credentials/{id}")));
                }
                Err(e) => form_errors(e, STALE)?,
            }
        }
    };
    let page = form_page(
        state,
        user,
        headers,
        ctx,
        current,
        input,
        errors,
        StatusInput::default(),
        FieldErrors::new(),
    )
    .await?;
    Ok(html_status(StatusCode::BAD_REQUEST, &page))
}

async fn create(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<AgencyQuery>,
    UserForm { user, form }: UserForm,
) -> Result<Response, PageError> {
    let agency_id = requested_agency(&q, &user)?;
    let ctx = credentials_context(&state, &user, method, uri, agency_id).await?;
    save(&state, &user, &headers, ctx, None, form).await
}

async fn edit(
    State(state): State<AppState>,
    user: CurrentUser,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let c = state.store.credential(id).await?;
    let ctx = credentials_context(&state, &user, method, uri, c.agency_id).await?;
    let form = input_of(&c);
    let page = form_page(
        &state,
        &user,
        &headers,
        ctx,
        Some(c),
        form,
        FieldErrors::new(),
        StatusInput::default(),
        FieldErrors::new(),
    )
    .await?;
    Ok(html(&page))
}

async fn update(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(id): Path<i64>,
    UserForm { user, form }: UserForm,
) -> Result<Response, PageError> {
    let c = state.store.credential(id).await?;
    let ctx = credentials_context(&state, &user, method, uri, c.agency_id).await?;
    save(&state, &user, &headers, ctx, Some(c), form).await
}

async fn change_status(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(id): Path<i64>,
    UserForm { user, form }: UserForm,
) -> Result<Response, PageError> {
    let c = state.store.credential(id).await?;
    let ctx = credentials_context(&state, &user, method, uri, c.agency_id).await?;
    let version = form_version(&form)?;
    let input: StatusInput = form.decode()?;
    let errors = match StatusChange::parse(&input) {
        Err(e) => e,
        Ok(change) => {
            let mut tx = state
                .store
                .write(Actor::User(user.principal.user_id))
                .await?;
            match tx.change_credential_status(id, version, &change).await {
                Ok(()) => {
                    tx.commit().await?;
                    return Ok(see_other(format!("/app/admin/credentials/{id}")));
                }
                Err(e) => form_errors(e, STALE)?,
            }
        }
    };
    let form = input_of(&c);
    let page = form_page(
        &state,
        &user,
        &headers,
        ctx,
        Some(c),
        form,
        FieldErrors::new(),
        input,
        errors,
    )
    .await?;
    Ok(html_status(StatusCode::BAD_REQUEST, &page))
}

async fn reissue_token(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    Path(id): Path<i64>,
    UserForm { user, form }: UserForm,
) -> Result<Response, PageError> {
    let c = state.store.credential(id).await?;
    credentials_context(&state, &user, method, uri, c.agency_id).await?;
    let version = form_version(&form)?;
    let mut tx = state
        .store
        .write(Actor::User(user.principal.user_id))
        .await?;
    match tx.reissue_credential_token(id, version).await {
        Ok(()) => tx.commit().await?,
        Err(StoreError::Stale) => {
            return Err(PageError::BadRequest(
                "该证件已被他人修改，请刷新后重试".into(),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    Ok(see_other(format!("/app/admin/credentials/{id}")))
}

async fn card(
    State(state): State<AppState>,
    user: CurrentUser,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let c = state.store.credential(id).await?;
    credentials_context(&state, &user, method, uri, c.agency_id).await?;
    let url = check_url(&state, &headers, &c.qr_token);
    Ok(html(&CredentialCardPage {
        chrome: app_chrome(&user, "/app/admin/credentials"),
        qr_svg: qr_of(&url, &c.number),
        check_url: url,
        row: CredentialRow::on(c, today_beijing()),
    }))
}

/// The card as a file: PDF (print at actual size) or PNG (300 dpi), laid out by
/// zhifa-docs from the same values as the card page.
async fn card_file(
    State(state): State<AppState>,
    user: CurrentUser,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path((id, format)): Path<(i64, String)>,
) -> Result<Response, PageError> {
    let png = match format.as_str() {
        "pdf" => false,
        "png" => true,
        _ => return Err(PageError::NotFound),
    };
    let c = state.store.credential(id).await?;
    credentials_context(&state, &user, method, uri, c.agency_id).await?;
    let url = check_url(&state, &headers, &c.qr_token);
    let card = zhifa_docs::card::Card {
        kind: c.kind.label().to_owned(),
        agency: c.agency_name.clone(),
        holder: c.holder.clone(),
        department: c.department.clone().unwrap_or_default(),
        number: c.number.clone(),
        area: c.area.clone(),
        valid: format!("{} 至 {}", c.valid_from, c.valid_to),
        issuer: c.issuer.clone(),
        qr_svg: qr_of(&url, &c.number),
        check_url: url,
    };
    let today = today_beijing();
    let date = crate::view::doc_date(today);
    // typst lays out on a blocking thread.
    let bytes = tokio::task::spawn_blocking(move || {
        if png {
            zhifa_docs::card::png(&card, date)
        } else {
            zhifa_docs::card::pdf(&card, date)
        }
    })
    .await
    .map_err(|_| PageError::Internal)?
    .map_err(|e| {
        tracing::error!(error = %e, "credential card could not be laid out");
        PageError::Unavailable
    })?;
    Ok(super::case_docs::file_response(
        bytes,
        if png { "image/png" } else { "application/pdf" },
        &format!("执法证件-{}.{}", c.number, if png { "png" } else { "pdf" }),
        !png,
    ))
}

async fn qr_svg(
    State(state): State<AppState>,
    user: CurrentUser,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let c = state.store.credential(id).await?;
    credentials_context(&state, &user, method, uri, c.agency_id).await?;
    let url = check_url(&state, &headers, &c.qr_token);
    let svg = qr_of(&url, &c.number);
    let mut resp = svg.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("image/svg+xml; charset=utf-8"),
    );
    if let Ok(v) =
        HeaderValue::from_str(&format!("attachment; filename=\"credential-{}.svg\"", c.id))
    {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

/// The page a credential's QR code opens: its status now, in large type. Any token that
/// is not a credential's — forged, truncated, reissued — gets the 无效 page (404).
async fn check(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    let checked_at = fmt_time(zhifa_store::now_ms());
    let mut resp = match state.store.credential_by_token(&token).await {
        Ok(c) => html(&CredentialCheckPage {
            chrome: portal_chrome(c.agency_name.clone(), user.as_ref()),
            row: CredentialRow::on(c, today_beijing()),
            checked_at,
        }),
        Err(StoreError::NotFound) => html_status(
            StatusCode::NOT_FOUND,
            &CredentialInvalidPage {
                chrome: portal_chrome("执法证件核验".into(), user.as_ref()),
                checked_at,
            },
        ),
        Err(e) => return Err(e.into()),
    };
    // Checked at the moment of scanning: never from a cache.
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

async fn officers(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    let agency = state
        .store
        .agency_by_slug(&slug)
        .await
        .map_err(|_| PageError::NotFound)?;
    let today = today_beijing();
    let rows = state
        .store
        .list_credentials(agency.id)
        .await?
        .into_iter()
        .filter(|c| c.kind == CredentialKind::Enforcement)
        .map(|c| CredentialRow::on(c, today))
        .collect();
    Ok(html(&OfficersPage {
        chrome: portal_chrome(agency.name.clone(), user.as_ref()),
        agency,
        rows,
        today: today.to_string(),
    }))
}
