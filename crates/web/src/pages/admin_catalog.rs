//! Maintaining the 执法事项清单 (`ManageLists`): new items, and revisions published as new
//! versions with an effective date — an earlier version is never edited in place, so the
//! public history shows exactly what applied when.

use super::admin_org::{agency_context, requested_agency};
use super::workbench::{AgencyQuery, history};
use super::{app_chrome, form_errors, form_version, html, html_status};
use crate::AppState;
use crate::error::PageError;
use crate::forms::{FormData, UserForm};
use crate::session::CurrentUser;
use crate::view::{
    AgencyContext, CategoryChoice, ImportPage, ItemAdminListPage, ItemFormPage, PreviewRow,
    today_beijing,
};
use axum::Router;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use zhifa_domain::catalog::{
    DEFAULT_REMEDY, DiscretionRow, ItemCategory, ItemInput, NewItemVersion,
};
use zhifa_domain::{Capability, FieldErrors};
use zhifa_store::catalog::{ImportError, ItemVersion};
use zhifa_store::{Actor, StoreError};

/// A workbook may be this large (5,000 items are about 0.2 MB).
pub(super) const MAX_WORKBOOK_BYTES: usize = 8 * 1024 * 1024;
/// The import form's body limit: the confirmation carries the workbook again as base64,
/// a third larger.
pub(super) const MAX_UPLOAD_BYTES: usize = MAX_WORKBOOK_BYTES / 3 * 4 + 64 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/app/admin/items/import",
            get(import_form)
                .post(import)
                .layer(axum::extract::DefaultBodyLimit::max(MAX_UPLOAD_BYTES)),
        )
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

/// Shown when someone else saved the record since the form was opened.
const STALE: &str = "该事项已被他人修订，未保存。请重新打开后再改。";

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
                Err(e) => form_errors(e, STALE)?,
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

/// The empty import page of the 执法事项清单.
fn items_import_page(user: &CurrentUser, ctx: AgencyContext) -> ImportPage {
    ImportPage {
        chrome: app_chrome(user, "/app/admin/items"),
        title: "执法事项清单",
        action: format!("/app/admin/items/import?agency={}", ctx.current.id),
        back: format!("/app/admin/items?agency={}", ctx.current.id),
        hint: "格式与导出的文件相同：工作表“执法事项清单”，第 1 行为表头，每行一个事项；编码已存在的行作为该事项的新版本。".into(),
        links: vec![
            ("/templates/items.xlsx".into(), "下载模板"),
            (
                format!("/agencies/{}/items.xlsx", ctx.current.slug),
                "导出现行清单",
            ),
        ],
        ctx,
        errors: vec![],
        preview: vec![],
        data: String::new(),
        done: None,
    }
}

async fn import_form(
    State(state): State<AppState>,
    user: CurrentUser,
    method: Method,
    uri: Uri,
    Query(q): Query<AgencyQuery>,
) -> Result<Response, PageError> {
    let agency_id = requested_agency(&q, &user)?;
    let ctx = lists_context(&state, &user, method, uri, agency_id).await?;
    Ok(html(&items_import_page(&user, ctx)))
}

/// The checked workbook as the confirmation form carries it.
pub(super) fn carried(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The import page after a step: its problems (400), a preview, or the result.
pub(super) fn import_outcome(
    mut page: ImportPage,
    errors: Vec<String>,
    preview: Vec<PreviewRow>,
    data: String,
    done: Option<String>,
) -> Response {
    let failed = !errors.is_empty();
    page.errors = errors;
    page.preview = preview;
    page.data = data;
    page.done = done;
    if failed {
        html_status(StatusCode::BAD_REQUEST, &page)
    } else {
        html(&page)
    }
}

/// The fields of the import form (multipart: a file input needs it).
#[derive(Default)]
pub(super) struct ImportForm {
    pub step: String,
    /// The uploaded file's name and bytes (empty when none was chosen).
    pub file_name: String,
    pub file: Vec<u8>,
    pub data: String,
}

impl ImportForm {
    /// The workbook: the uploaded file, or (on confirmation) the checked file carried back.
    pub fn workbook(&self) -> Result<Vec<u8>, PageError> {
        let bytes = if self.step == "import" {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .decode(self.data.trim())
                .map_err(|_| PageError::BadRequest("确认表单已损坏，请重新选择文件".into()))?
        } else {
            self.file.clone()
        };
        if bytes.len() > MAX_WORKBOOK_BYTES {
            return Err(PageError::BadRequest(format!(
                "文件超过 {} MB，请分成几个文件导入",
                MAX_WORKBOOK_BYTES / 1024 / 1024
            )));
        }
        Ok(bytes)
    }

    /// What to say when the workbook is empty: an empty file is named, a missing one asked for.
    pub fn empty_message(&self) -> String {
        if self.file_name.is_empty() {
            "请选择要导入的 Excel 文件".into()
        } else {
            format!(
                "文件“{}”是空文件（0 字节），未导入任何内容，请重新选择文件",
                self.file_name
            )
        }
    }
}

/// Reads the multipart import form, its CSRF token checked before its file is read.
pub(super) async fn read_checked_import_form(
    state: &AppState,
    user: &CurrentUser,
    uri: &Uri,
    mp: Multipart,
) -> Result<ImportForm, PageError> {
    let form =
        crate::multipart::read_checked(state, user, uri.path(), mp, "未导入任何内容").await?;
    let (file_name, file) = form
        .file
        .as_ref()
        .map(|f| (f.name.clone(), f.bytes.clone()))
        .unwrap_or_default();
    Ok(ImportForm {
        step: form.text("step").to_owned(),
        data: form.text("data").to_owned(),
        file_name,
        file,
    })
}

/// The store's refusal of one imported row as (field, message).
pub(super) fn refusal(error: StoreError) -> Result<(String, String), PageError> {
    match &error {
        StoreError::Invalid(f) => Ok(f
            .iter()
            .next()
            .map(|e| (e.field.clone(), e.message.clone()))
            .unwrap_or_default()),
        StoreError::Stale => Ok((String::new(), "清单在导入期间被修改，请重新上传".into())),
        _ => Err(error.into()),
    }
}

pub(super) fn sheet_errors(errors: Vec<zhifa_sheets::SheetError>) -> Vec<String> {
    errors.iter().map(ToString::to_string).collect()
}

/// Checks an uploaded workbook and shows what it would import (step "preview"), or imports
/// the checked workbook carried back by the confirmation form (step "import"). Either way
/// every row is checked again; any problem imports nothing.
async fn import(
    State(state): State<AppState>,
    user: CurrentUser,
    method: Method,
    uri: Uri,
    Query(q): Query<AgencyQuery>,
    mp: Multipart,
) -> Result<Response, PageError> {
    let agency_id = requested_agency(&q, &user)?;
    let ctx = lists_context(&state, &user, method, uri.clone(), agency_id).await?;
    let form = read_checked_import_form(&state, &user, &uri, mp).await?;
    let bytes = form.workbook()?;
    let agency_id = ctx.current.id;
    let page = items_import_page(&user, ctx);
    if bytes.is_empty() {
        let errors = vec![form.empty_message()];
        return Ok(import_outcome(page, errors, vec![], String::new(), None));
    }
    let rows = match zhifa_sheets::read_items(&bytes) {
        Ok(rows) => rows,
        Err(errors) => {
            let errors = sheet_errors(errors);
            return Ok(import_outcome(page, errors, vec![], String::new(), None));
        }
    };
    if form.step != "import" {
        let existing: std::collections::HashSet<String> = state
            .store
            .latest_item_versions(agency_id)
            .await?
            .into_iter()
            .map(|v| v.code)
            .collect();
        let mut seen = std::collections::HashSet::new();
        let preview = rows
            .iter()
            .map(|r| PreviewRow {
                row: r.row,
                code: r.version.code.clone(),
                text: format!(
                    "{}（{}，自 {} 起施行）",
                    r.version.content.name,
                    r.version.content.category.label(),
                    r.version.effective_from
                ),
                action: if existing.contains(&r.version.code)
                    || !seen.insert(r.version.code.clone())
                {
                    "新增版本"
                } else {
                    "新增事项"
                },
            })
            .collect();
        return Ok(import_outcome(page, vec![], preview, carried(&bytes), None));
    }
    let rows: Vec<_> = rows.into_iter().map(|r| (r.row, r.version)).collect();
    match state
        .store
        .import_items(Actor::User(user.principal.user_id), agency_id, &rows)
        .await
    {
        Ok(s) => {
            let done = format!(
                "已导入：新增事项 {} 项，新增版本 {} 个。",
                s.items_created, s.versions_added
            );
            Ok(import_outcome(
                page,
                vec![],
                vec![],
                String::new(),
                Some(done),
            ))
        }
        Err(ImportError::Row { row, error }) => {
            let (field, message) = refusal(error)?;
            let errors = vec![zhifa_sheets::row_error(row, &field, message).to_string()];
            Ok(import_outcome(page, errors, vec![], String::new(), None))
        }
        Err(ImportError::Store(e)) => Err(e.into()),
    }
}
