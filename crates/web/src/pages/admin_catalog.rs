//! Maintaining the 执法事项清单 (`ManageLists`): new items, and revisions published as new
//! versions with an effective date — an earlier version is never edited in place, so the
//! public history shows exactly what applied when.

use super::admin_org::{agency_context, requested_agency};
use super::workbench::{AgencyQuery, history};
use super::{app_chrome, form_version, html, html_status};
use crate::AppState;
use crate::error::PageError;
use crate::forms::{FormData, UserForm};
use crate::session::CurrentUser;
use crate::view::{AgencyContext, CategoryChoice, ItemAdminListPage, ItemFormPage, today_beijing};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use zhifa_domain::catalog::{
    DEFAULT_REMEDY, DiscretionRow, ItemCategory, ItemInput, NewItemVersion,
};
use zhifa_domain::{Capability, FieldErrors};
use zhifa_store::catalog::ItemVersion;
use zhifa_store::{Actor, StoreError};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/app/admin/items", get(list))
        .route("/app/admin/items/new", get(new_form).post(create))
        .route("/app/admin/items/{id}", get(revise_form).post(revise))
}

async fn lists_context(
    state: &AppState,
    user: &CurrentUser,
    method: Method,
    uri: Uri,
    agency_id: i64,
) -> Result<AgencyContext, PageError> {
    agency_context(state, user, method, uri, Capability::ManageLists, agency_id).await
}

fn categories(selected: &str) -> Vec<CategoryChoice> {
    let chosen = ItemCategory::parse(selected);
    ItemCategory::ALL
        .iter()
        .map(|c| CategoryChoice {
            code: c.code(),
            label: c.label(),
            selected: chosen == Some(*c),
        })
        .collect()
}

/// The form filled from a stored version (the starting point of a revision).
fn input_of(v: &ItemVersion) -> ItemInput {
    let c = &v.content;
    ItemInput {
        code: v.code.clone(),
        name: c.name.clone(),
        category: c.category.code().into(),
        basis: c
            .basis
            .iter()
            .map(|b| b.line())
            .collect::<Vec<_>>()
            .join("\n"),
        basis_text: c.basis_text.clone(),
        discretion: c
            .discretion
            .iter()
            .map(DiscretionRow::line)
            .collect::<Vec<_>>()
            .join("\n"),
        department: c.department.clone(),
        time_limit: c
            .time_limit
            .map(|t| t.amount.to_string())
            .unwrap_or_default(),
        time_unit: c
            .time_limit
            .map(|t| t.unit.label().to_owned())
            .unwrap_or_default(),
        remedy: c.remedy.clone(),
        // A revision takes effect on a date the administrator chooses.
        effective_from: String::new(),
    }
}

fn form_errors(e: StoreError) -> Result<FieldErrors, PageError> {
    match e {
        StoreError::Invalid(f) => Ok(f),
        StoreError::Stale => Ok(FieldErrors::single(
            "version",
            "该事项已被他人修订，未保存。请重新打开后再改。",
        )),
        other => Err(other.into()),
    }
}

async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    method: Method,
    uri: Uri,
    Query(q): Query<AgencyQuery>,
) -> Result<Response, PageError> {
    let agency_id = requested_agency(&q, &user)?;
    let ctx = lists_context(&state, &user, method, uri, agency_id).await?;
    let rows = state.store.latest_item_versions(ctx.current.id).await?;
    Ok(html(&ItemAdminListPage {
        chrome: app_chrome(&user, "/app/admin/items"),
        ctx,
        rows,
    }))
}

async fn new_form(
    State(state): State<AppState>,
    user: CurrentUser,
    method: Method,
    uri: Uri,
    Query(q): Query<AgencyQuery>,
) -> Result<Response, PageError> {
    let agency_id = requested_agency(&q, &user)?;
    let ctx = lists_context(&state, &user, method, uri, agency_id).await?;
    let form = ItemInput {
        remedy: DEFAULT_REMEDY.into(),
        effective_from: today_beijing().to_string(),
        ..Default::default()
    };
    Ok(html(&ItemFormPage {
        chrome: app_chrome(&user, "/app/admin/items"),
        categories: categories(&form.category),
        ctx,
        item_id: None,
        item_version: 0,
        latest_effective: None,
        form,
        errors: FieldErrors::new(),
        history: vec![],
    }))
}

/// Saves a new item or a new version; on refusal shows the form again with its errors.
async fn save(
    state: &AppState,
    user: &CurrentUser,
    ctx: AgencyContext,
    existing: Option<Vec<ItemVersion>>,
    form: FormData,
) -> Result<Response, PageError> {
    let item_version = if existing.is_some() {
        form_version(&form)?
    } else {
        0
    };
    let input: ItemInput = form.decode()?;
    let item_id = existing.as_ref().and_then(|v| v.first()).map(|v| v.item_id);
    let errors = match NewItemVersion::parse(&input) {
        Err(e) => e,
        Ok(v) => {
            let mut tx = state
                .store
                .write(Actor::User(user.principal.user_id))
                .await?;
            let result = match item_id {
                Some(id) => tx.add_item_version(id, item_version, &v).await,
                None => tx.create_item(ctx.current.id, &v).await.map(|_| ()),
            };
            match result {
                Ok(()) => {
                    tx.commit().await?;
                    return Ok(Redirect::to(&format!(
                        "/agencies/{}/items/{}",
                        ctx.current.slug, v.code
                    ))
                    .into_response());
                }
                Err(e) => form_errors(e)?,
            }
        }
    };
    let latest_effective = existing
        .as_ref()
        .and_then(|v| v.last())
        .map(|v| v.effective_from.clone());
    let history = match item_id {
        Some(id) => history(state, "catalog_item", id).await?,
        None => vec![],
    };
    Ok(html_status(
        StatusCode::BAD_REQUEST,
        &ItemFormPage {
            chrome: app_chrome(user, "/app/admin/items"),
            categories: categories(&input.category),
            ctx,
            item_id,
            item_version,
            latest_effective,
            form: input,
            errors,
            history,
        },
    ))
}

async fn create(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    Query(q): Query<AgencyQuery>,
    UserForm { user, form }: UserForm,
) -> Result<Response, PageError> {
    let agency_id = requested_agency(&q, &user)?;
    let ctx = lists_context(&state, &user, method, uri, agency_id).await?;
    save(&state, &user, ctx, None, form).await
}

async fn revise_form(
    State(state): State<AppState>,
    user: CurrentUser,
    method: Method,
    uri: Uri,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let versions = state.store.item_versions_by_id(id).await?;
    let latest = versions.last().expect("an item has a version");
    let ctx = lists_context(&state, &user, method, uri, latest.agency_id).await?;
    let form = input_of(latest);
    Ok(html(&ItemFormPage {
        chrome: app_chrome(&user, "/app/admin/items"),
        categories: categories(&form.category),
        ctx,
        item_id: Some(id),
        item_version: latest.item_version,
        latest_effective: Some(latest.effective_from.clone()),
        form,
        errors: FieldErrors::new(),
        history: history(&state, "catalog_item", id).await?,
    }))
}

async fn revise(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    Path(id): Path<i64>,
    UserForm { user, form }: UserForm,
) -> Result<Response, PageError> {
    let versions = state.store.item_versions_by_id(id).await?;
    let agency_id = versions[0].agency_id;
    let ctx = lists_context(&state, &user, method, uri, agency_id).await?;
    save(&state, &user, ctx, Some(versions), form).await
}
