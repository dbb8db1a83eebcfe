//! The other published lists (随机抽查事项清单, 重大执法决定法制审核目录清单, 音像记录事项清单):
//! their public pages and open data, and their administration (`ManageLists`). Every page
//! follows the columns the domain declares for the list.

use super::admin_catalog::{carried, import_outcome, sheet_errors};
use super::admin_org::{agency_context, requested_agency};
use super::workbench::{AgencyQuery, history};
use super::{
    XLSX, agency_by_slug, app_chrome, csv_field, download, form_version, html, html_status,
    portal_chrome, rfc3339, xml_escape,
};
use crate::AppState;
use crate::error::PageError;
use crate::forms::{FormData, UserForm};
use crate::session::{CurrentUser, MaybeUser};
use crate::view::{
    AgencyContext, FormField, ImportPage, ListAdminPage, ListFormPage, ListRow, PreviewRow,
    PublicListPage, fmt_time,
};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use zhifa_domain::lists::{EntryInput, FieldKind, ListEntry, ListKind, parse_entry};
use zhifa_domain::{Capability, FieldErrors};
use zhifa_store::lists::StoredEntry;
use zhifa_store::{Actor, StoreError};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/agencies/{slug}/lists/{kind}", get(public_list))
        .route("/agencies/{slug}/lists/{kind}/data.json", get(open_json))
        .route("/agencies/{slug}/lists/{kind}/data.csv", get(open_csv))
        .route("/agencies/{slug}/lists/{kind}/data.xlsx", get(open_xlsx))
        .route("/agencies/{slug}/lists/{kind}/changes.atom", get(atom))
        .route(
            "/app/admin/lists/{kind}/import",
            get(import_form)
                .post(import)
                .layer(axum::extract::DefaultBodyLimit::max(
                    super::admin_catalog::MAX_UPLOAD_BYTES,
                )),
        )
        .route("/app/admin/lists/{kind}", get(admin_list))
        .route("/app/admin/lists/{kind}/new", get(new_form).post(create))
        .route("/app/admin/lists/{kind}/{id}", get(edit).post(update))
        .route("/app/admin/lists/{kind}/{id}/withdraw", post(withdraw))
}

fn kind_of(code: &str) -> Result<ListKind, PageError> {
    ListKind::from_code(code).ok_or(PageError::NotFound)
}

fn row_of(kind: ListKind, e: &StoredEntry) -> ListRow {
    ListRow {
        id: e.id,
        code: e.entry.code.clone(),
        cells: kind.fields().iter().map(|f| e.entry.display(f)).collect(),
        withdrawn: e.withdrawn,
    }
}

async fn public_list(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    Path((slug, kind)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let kind = kind_of(&kind)?;
    let agency = agency_by_slug(&state, &slug).await?;
    let entries = state.store.list_entries(agency.id, kind, false).await?;
    let updated = state
        .store
        .list_last_changed(agency.id, kind)
        .await?
        .map(fmt_time)
        .unwrap_or_else(|| "尚未公布".into());
    Ok(html(&PublicListPage {
        chrome: portal_chrome(agency.name.clone(), user.as_ref()),
        kind_code: kind.code(),
        title: kind.label(),
        about: kind.about(),
        headers: kind.fields().iter().map(|f| f.label).collect(),
        rows: entries.iter().map(|e| row_of(kind, e)).collect(),
        updated,
        agency,
    }))
}

async fn open_json(
    State(state): State<AppState>,
    Path((slug, kind)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let kind = kind_of(&kind)?;
    let agency = agency_by_slug(&state, &slug).await?;
    let entries = state.store.list_entries(agency.id, kind, false).await?;
    let columns: Vec<_> = kind
        .fields()
        .iter()
        .map(|f| serde_json::json!({ "key": f.key, "label": f.label }))
        .collect();
    Ok(axum::Json(serde_json::json!({
        "agency": agency.name,
        "list": kind.label(),
        "columns": columns,
        "entries": entries.iter().map(|e| serde_json::json!({
            "code": e.entry.code,
            "values": e.entry.values,
        })).collect::<Vec<_>>(),
    }))
    .into_response())
}

async fn open_csv(
    State(state): State<AppState>,
    Path((slug, kind)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let kind = kind_of(&kind)?;
    let agency = agency_by_slug(&state, &slug).await?;
    let entries = state.store.list_entries(agency.id, kind, false).await?;
    let mut out = String::from("\u{feff}编码");
    for f in kind.fields() {
        out.push(',');
        out.push_str(&csv_field(f.label));
    }
    out.push_str("\r\n");
    for e in &entries {
        out.push_str(&csv_field(&e.entry.code));
        for f in kind.fields() {
            out.push(',');
            out.push_str(&csv_field(&e.entry.display(f)));
        }
        out.push_str("\r\n");
    }
    let mut resp = out.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    Ok(resp)
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

async fn admin_list(
    State(state): State<AppState>,
    user: CurrentUser,
    method: Method,
    uri: Uri,
    Path(kind): Path<String>,
    Query(q): Query<AgencyQuery>,
) -> Result<Response, PageError> {
    let kind = kind_of(&kind)?;
    let agency_id = requested_agency(&q, &user)?;
    let ctx = lists_context(&state, &user, method, uri, agency_id).await?;
    let entries = state.store.list_entries(ctx.current.id, kind, true).await?;
    Ok(html(&ListAdminPage {
        chrome: app_chrome(&user, &format!("/app/admin/lists/{}", kind.code())),
        ctx,
        kind_code: kind.code(),
        title: kind.label(),
        headers: kind.fields().iter().map(|f| f.label).collect(),
        rows: entries.iter().map(|e| row_of(kind, e)).collect(),
    }))
}

/// The form's inputs from entered (or stored) values, with their errors.
fn form_fields(kind: ListKind, input: &EntryInput, errors: &FieldErrors) -> Vec<FormField> {
    kind.fields()
        .iter()
        .map(|f| {
            let value = input.values.get(f.key).cloned().unwrap_or_default();
            let (widget, options) = match f.kind {
                FieldKind::Choice(choices) => (
                    "choice",
                    choices
                        .iter()
                        .map(|(c, l)| (*c, *l, *c == value || *l == value))
                        .collect(),
                ),
                FieldKind::Multiline => ("area", vec![]),
                _ => ("text", vec![]),
            };
            FormField {
                key: f.key,
                label: f.label,
                hint: f.hint,
                required: f.required,
                widget,
                options,
                error: errors.get(f.key).map(str::to_owned),
                value,
            }
        })
        .collect()
}

fn input_of(e: &ListEntry) -> EntryInput {
    EntryInput {
        code: e.code.clone(),
        values: e.values.clone(),
    }
}

#[allow(clippy::too_many_arguments)]
async fn form_page(
    state: &AppState,
    user: &CurrentUser,
    ctx: AgencyContext,
    kind: ListKind,
    current: Option<&StoredEntry>,
    input: &EntryInput,
    errors: FieldErrors,
) -> Result<ListFormPage, PageError> {
    Ok(ListFormPage {
        chrome: app_chrome(user, &format!("/app/admin/lists/{}", kind.code())),
        ctx,
        kind_code: kind.code(),
        title: kind.label(),
        id: current.map(|c| c.id),
        version: current.map(|c| c.version).unwrap_or(0),
        withdrawn: current.is_some_and(|c| c.withdrawn),
        code: input.code.clone(),
        code_error: errors.get("code").map(str::to_owned),
        fields: form_fields(kind, input, &errors),
        errors,
        history: match current {
            Some(c) => history(state, "list_entry", c.id).await?,
            None => vec![],
        },
    })
}

async fn new_form(
    State(state): State<AppState>,
    user: CurrentUser,
    method: Method,
    uri: Uri,
    Path(kind): Path<String>,
    Query(q): Query<AgencyQuery>,
) -> Result<Response, PageError> {
    let kind = kind_of(&kind)?;
    let agency_id = requested_agency(&q, &user)?;
    let ctx = lists_context(&state, &user, method, uri, agency_id).await?;
    let page = form_page(
        &state,
        &user,
        ctx,
        kind,
        None,
        &EntryInput::default(),
        FieldErrors::new(),
    )
    .await?;
    Ok(html(&page))
}

async fn save(
    state: &AppState,
    user: &CurrentUser,
    ctx: AgencyContext,
    kind: ListKind,
    current: Option<StoredEntry>,
    form: FormData,
) -> Result<Response, PageError> {
    let version = if current.is_some() {
        form_version(&form)?
    } else {
        0
    };
    let input: EntryInput = form.decode()?;
    let errors = match parse_entry(kind, &input) {
        Err(e) => e,
        Ok(entry) => {
            let mut tx = state
                .store
                .write(Actor::User(user.principal.user_id))
                .await?;
            let result = match &current {
                Some(c) => tx.update_list_entry(c.id, version, &entry).await,
                None => tx
                    .create_list_entry(ctx.current.id, kind, &entry)
                    .await
                    .map(|_| ()),
            };
            match result {
                Ok(()) => {
                    tx.commit().await?;
                    return Ok(Redirect::to(&format!(
                        "/app/admin/lists/{}?agency={}",
                        kind.code(),
                        ctx.current.id
                    ))
                    .into_response());
                }
                Err(StoreError::Invalid(f)) => f,
                Err(StoreError::Stale) => {
                    FieldErrors::single("version", "该条目已被他人修改，未保存。请重新打开后再改。")
                }
                Err(e) => return Err(e.into()),
            }
        }
    };
    let page = form_page(state, user, ctx, kind, current.as_ref(), &input, errors).await?;
    Ok(html_status(StatusCode::BAD_REQUEST, &page))
}

async fn create(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    Path(kind): Path<String>,
    Query(q): Query<AgencyQuery>,
    UserForm { user, form }: UserForm,
) -> Result<Response, PageError> {
    let kind = kind_of(&kind)?;
    let agency_id = requested_agency(&q, &user)?;
    let ctx = lists_context(&state, &user, method, uri, agency_id).await?;
    save(&state, &user, ctx, kind, None, form).await
}

/// The stored entry `id`, which must belong to the list in the path.
async fn entry_of(state: &AppState, kind: ListKind, id: i64) -> Result<StoredEntry, PageError> {
    let e = state.store.list_entry(id).await?;
    if e.kind != kind {
        return Err(PageError::NotFound);
    }
    Ok(e)
}

async fn edit(
    State(state): State<AppState>,
    user: CurrentUser,
    method: Method,
    uri: Uri,
    Path((kind, id)): Path<(String, i64)>,
) -> Result<Response, PageError> {
    let kind = kind_of(&kind)?;
    let e = entry_of(&state, kind, id).await?;
    let ctx = lists_context(&state, &user, method, uri, e.agency_id).await?;
    let input = input_of(&e.entry);
    let page = form_page(
        &state,
        &user,
        ctx,
        kind,
        Some(&e),
        &input,
        FieldErrors::new(),
    )
    .await?;
    Ok(html(&page))
}

async fn update(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    Path((kind, id)): Path<(String, i64)>,
    UserForm { user, form }: UserForm,
) -> Result<Response, PageError> {
    let kind = kind_of(&kind)?;
    let e = entry_of(&state, kind, id).await?;
    let ctx = lists_context(&state, &user, method, uri, e.agency_id).await?;
    save(&state, &user, ctx, kind, Some(e), form).await
}

async fn withdraw(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    Path((kind, id)): Path<(String, i64)>,
    UserForm { user, form }: UserForm,
) -> Result<Response, PageError> {
    let kind = kind_of(&kind)?;
    let e = entry_of(&state, kind, id).await?;
    lists_context(&state, &user, method, uri, e.agency_id).await?;
    let version = form_version(&form)?;
    let mut tx = state
        .store
        .write(Actor::User(user.principal.user_id))
        .await?;
    match tx.withdraw_list_entry(id, version).await {
        Ok(()) => {
            tx.commit().await?;
        }
        Err(StoreError::Stale) => {
            return Err(PageError::BadRequest(
                "该条目已被他人修改，请刷新后重试".into(),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    Ok(Redirect::to(&format!(
        "/app/admin/lists/{}?agency={}",
        kind.code(),
        e.agency_id
    ))
    .into_response())
}

async fn open_xlsx(
    State(state): State<AppState>,
    Path((slug, kind)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let kind = kind_of(&kind)?;
    let agency = agency_by_slug(&state, &slug).await?;
    let entries: Vec<ListEntry> = state
        .store
        .list_entries(agency.id, kind, false)
        .await?
        .into_iter()
        .map(|e| e.entry)
        .collect();
    let bytes = zhifa_sheets::write_list(kind, &entries).map_err(|e| {
        tracing::error!(error = %e, "xlsx export failed");
        PageError::Internal
    })?;
    Ok(download(bytes, XLSX, "attachment; filename=\"list.xlsx\""))
}

/// The empty import page of one of the other lists.
fn list_import_page(user: &CurrentUser, ctx: AgencyContext, kind: ListKind) -> ImportPage {
    ImportPage {
        chrome: app_chrome(user, &format!("/app/admin/lists/{}", kind.code())),
        title: kind.label(),
        action: format!(
            "/app/admin/lists/{}/import?agency={}",
            kind.code(),
            ctx.current.id
        ),
        back: format!("/app/admin/lists/{}?agency={}", kind.code(), ctx.current.id),
        hint: format!(
            "格式与导出的文件相同：工作表“{}”，第 1 行为表头；编码已有的行会替换该条目的内容。",
            kind.label()
        ),
        links: vec![(
            format!(
                "/agencies/{}/lists/{}/data.xlsx",
                ctx.current.slug,
                kind.code()
            ),
            "导出现行清单（可作模板）",
        )],
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
    Path(kind): Path<String>,
    Query(q): Query<AgencyQuery>,
) -> Result<Response, PageError> {
    let kind = kind_of(&kind)?;
    let agency_id = requested_agency(&q, &user)?;
    let ctx = lists_context(&state, &user, method, uri, agency_id).await?;
    Ok(html(&list_import_page(&user, ctx, kind)))
}

/// Checks an uploaded workbook and previews it, or imports the checked workbook carried
/// back by the confirmation; any problem imports nothing.
async fn import(
    State(state): State<AppState>,
    user: CurrentUser,
    method: Method,
    uri: Uri,
    Path(kind): Path<String>,
    Query(q): Query<AgencyQuery>,
    mp: axum::extract::Multipart,
) -> Result<Response, PageError> {
    let kind = kind_of(&kind)?;
    let agency_id = requested_agency(&q, &user)?;
    let ctx = lists_context(&state, &user, method, uri.clone(), agency_id).await?;
    let form = super::admin_catalog::read_checked_import_form(&state, &user, &uri, mp).await?;
    let bytes = form.workbook()?;
    let agency_id = ctx.current.id;
    let page = list_import_page(&user, ctx, kind);
    if bytes.is_empty() {
        let errors = vec![form.empty_message()];
        return Ok(import_outcome(page, errors, vec![], String::new(), None));
    }
    let rows = match zhifa_sheets::read_list(kind, &bytes) {
        Ok(rows) => rows,
        Err(errors) => {
            let errors = sheet_errors(errors);
            return Ok(import_outcome(page, errors, vec![], String::new(), None));
        }
    };
    if form.step != "import" {
        let existing: std::collections::HashSet<String> = state
            .store
            .list_entries(agency_id, kind, true)
            .await?
            .into_iter()
            .map(|e| e.entry.code)
            .collect();
        let first = kind.fields()[0];
        let preview = rows
            .iter()
            .map(|(row, e)| PreviewRow {
                row: *row,
                code: e.code.clone(),
                text: e.display(&first),
                action: if existing.contains(&e.code) {
                    "替换现有条目"
                } else {
                    "新增条目"
                },
            })
            .collect();
        return Ok(import_outcome(page, vec![], preview, carried(&bytes), None));
    }
    match state
        .store
        .import_list(Actor::User(user.principal.user_id), agency_id, kind, &rows)
        .await
    {
        Ok(s) => {
            let done = format!("已导入：新增 {} 条，替换 {} 条。", s.created, s.updated);
            Ok(import_outcome(
                page,
                vec![],
                vec![],
                String::new(),
                Some(done),
            ))
        }
        Err(zhifa_store::catalog::ImportError::Row { row, error }) => {
            let (field, message) = super::admin_catalog::refusal(error)?;
            let errors = vec![zhifa_sheets::list_row_error(kind, row, &field, message).to_string()];
            Ok(import_outcome(page, errors, vec![], String::new(), None))
        }
        Err(zhifa_store::catalog::ImportError::Store(e)) => Err(e.into()),
    }
}

/// A list's changes as an Atom feed (RFC 4287): the 50 most recently changed entries, with
/// what they now say (or that they were withdrawn).
async fn atom(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Path((slug, kind)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let kind = kind_of(&kind)?;
    let agency = agency_by_slug(&state, &slug).await?;
    let mut entries = state.store.list_entries(agency.id, kind, true).await?;
    entries.sort_by_key(|e| std::cmp::Reverse(e.updated_at));
    entries.truncate(50);
    let base = format!(
        "{}/agencies/{}/lists/{}",
        super::public_origin(&state, &headers),
        agency.slug,
        kind.code()
    );
    let updated = entries
        .first()
        .map(|e| rfc3339(e.updated_at))
        .unwrap_or_else(|| rfc3339(agency.updated_at));
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n<title>{} {}变更</title>\n<id>{base}</id>\n<link rel=\"alternate\" href=\"{base}\"/>\n<link rel=\"self\" href=\"{base}/changes.atom\"/>\n<updated>{updated}</updated>\n<author><name>{}</name></author>\n",
        xml_escape(&agency.name),
        kind.label(),
        xml_escape(&agency.name)
    );
    for e in &entries {
        let state_text = if e.withdrawn {
            "已撤下"
        } else if e.version > 1 {
            "已修改"
        } else {
            "新增"
        };
        let summary: Vec<String> = kind
            .fields()
            .iter()
            .map(|f| format!("{}：{}", f.label, e.entry.display(f)))
            .collect();
        out.push_str(&format!(
            "<entry>\n<title>{} {}（{state_text}）</title>\n<id>{base}#{}-v{}</id>\n<link href=\"{base}\"/>\n<updated>{}</updated>\n<summary>{}</summary>\n</entry>\n",
            xml_escape(&e.entry.code),
            xml_escape(&e.entry.display(&kind.fields()[0])),
            xml_escape(&e.entry.code),
            e.version,
            rfc3339(e.updated_at),
            xml_escape(&summary.join("；"))
        ));
    }
    out.push_str("</feed>\n");
    Ok(download(
        out.into_bytes(),
        "application/atom+xml; charset=utf-8",
        "inline",
    ))
}
