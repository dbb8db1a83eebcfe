//! The public 执法事项清单: the list in force today with search and filters, each item
//! with its 裁量基准 and the history of its versions (what each changed), and the list as
//! open data (JSON, CSV). Works without JavaScript.

use super::{
    CSV, XLSX, agency_by_slug, csv_row, download, html, portal_chrome, public_origin, rfc3339,
    xml_escape,
};
use crate::AppState;
use crate::error::PageError;
use crate::session::MaybeUser;
use crate::view::{
    CategoryChoice, DepartmentChoice, ItemHistoryRow, ItemListPage, ItemListRow, ItemPage,
    fmt_time, today_beijing,
};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use zhifa_domain::catalog::{Citation, ItemCategory, ItemContent, changes};
use zhifa_store::StoreError;
use zhifa_store::catalog::{ItemFilter, ItemVersion};
use zhifa_store::org::Agency;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/agencies/{slug}/items", get(list))
        .route("/agencies/{slug}/items.json", get(open_json))
        .route("/agencies/{slug}/items.csv", get(open_csv))
        .route("/agencies/{slug}/items.xlsx", get(open_xlsx))
        .route("/agencies/{slug}/items.atom", get(atom))
        .route("/templates/items.xlsx", get(template_xlsx))
        .route("/agencies/{slug}/items/{code}", get(item))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ListQuery {
    q: String,
    category: String,
    department: String,
    page: String,
}

/// Items per page of the public list.
const PAGE_SIZE: i64 = 50;

impl ListQuery {
    /// The filter the query asks for; unknown values filter nothing (never an error).
    fn filter(&self) -> ItemFilter {
        // Control characters (NUL above all, which PostgreSQL refuses) never match.
        let clean = |s: &str, max: usize| -> String {
            s.trim()
                .chars()
                .filter(|c| !c.is_control())
                .take(max)
                .collect()
        };
        let q = clean(&self.q, 50);
        ItemFilter {
            q: (!q.is_empty()).then_some(q),
            category: ItemCategory::from_code(self.category.trim()),
            department: Some(clean(&self.department, 60)).filter(|d| !d.is_empty()),
        }
    }
}

fn basis_text(basis: &[Citation]) -> String {
    basis
        .iter()
        .map(Citation::display)
        .collect::<Vec<_>>()
        .join("；")
}

async fn list(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    Path(slug): Path<String>,
    Query(q): Query<ListQuery>,
) -> Result<Response, PageError> {
    let agency = agency_by_slug(&state, &slug).await?;
    let today = today_beijing();
    let filter = q.filter();
    let list = state
        .projections
        .items_in_force(&state.store, agency.id, today)
        .await?;
    let matching: Vec<&ItemVersion> = list.matching(&filter).collect();
    let total = matching.len() as i64;
    let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    // An unreadable or out-of-range page number shows the nearest page, never an error.
    let page: i64 = q.page.trim().parse().unwrap_or(1).clamp(1, pages);
    let items = matching
        .into_iter()
        .skip(((page - 1) * PAGE_SIZE) as usize)
        .take(PAGE_SIZE as usize)
        .cloned();
    let departments = list.departments.clone();
    let updated = list
        .last_changed
        .map(fmt_time)
        .unwrap_or_else(|| "尚未发布".into());
    // The filter as query parameters, for the page links.
    let keep = serde_urlencoded::to_string([
        ("q", filter.q.clone().unwrap_or_default()),
        (
            "category",
            filter
                .category
                .map(|c| c.code().to_owned())
                .unwrap_or_default(),
        ),
        ("department", filter.department.clone().unwrap_or_default()),
    ])
    .unwrap_or_default();
    let rows = items
        .map(|v| ItemListRow {
            basis: basis_text(&v.content.basis),
            time_limit: v
                .content
                .time_limit
                .map(|t| t.display())
                .unwrap_or_default(),
            versions_note: if v.version_no > 1 {
                format!("第 {} 版", v.version_no)
            } else {
                String::new()
            },
            category: v.content.category.label(),
            code: v.code,
            name: v.content.name,
            department: v.content.department,
        })
        .collect();
    Ok(html(&ItemListPage {
        chrome: portal_chrome(agency.name.clone(), user.as_ref()),
        rows,
        q: filter.q.clone().unwrap_or_default(),
        categories: ItemCategory::ALL
            .iter()
            .map(|c| CategoryChoice {
                code: c.code(),
                label: c.label(),
                selected: filter.category == Some(*c),
            })
            .collect(),
        departments: departments
            .into_iter()
            .map(|d| DepartmentChoice {
                selected: filter.department.as_deref() == Some(d.as_str()),
                name: d,
            })
            .collect(),
        filtered: filter.q.is_some() || filter.category.is_some() || filter.department.is_some(),
        total,
        page,
        pages,
        prev_href: (page > 1)
            .then(|| format!("/agencies/{}/items?{keep}&page={}", agency.slug, page - 1)),
        next_href: (page < pages)
            .then(|| format!("/agencies/{}/items?{keep}&page={}", agency.slug, page + 1)),
        today: today.to_string(),
        updated,
        agency,
    }))
}

async fn item(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    Path((slug, code)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let agency = agency_by_slug(&state, &slug).await?;
    let versions = match state.store.item_versions(agency.id, &code).await {
        Ok(v) => v,
        Err(StoreError::NotFound) => return Err(PageError::NotFound),
        Err(e) => return Err(e.into()),
    };
    let today = today_beijing().to_string();
    // The version in force: the newest that has started; before any has, the first.
    let current_index = versions
        .iter()
        .rposition(|v| v.effective_from <= today)
        .unwrap_or(0);
    let upcoming = versions
        .get(current_index + 1)
        .map(|v| v.effective_from.clone());
    let mut history: Vec<ItemHistoryRow> = versions
        .iter()
        .enumerate()
        .map(|(i, v)| ItemHistoryRow {
            version_no: v.version_no,
            effective_from: v.effective_from.clone(),
            published: fmt_time(v.created_at),
            in_force: i == current_index,
            changes: match i {
                0 => vec!["首次发布".into()],
                _ => changes(&versions[i - 1].content, &v.content),
            },
        })
        .collect();
    history.reverse();
    let current = versions[current_index].clone();
    Ok(html(&ItemPage {
        procedures: super::procedures::for_category(current.content.category.label()),
        chrome: portal_chrome(agency.name.clone(), user.as_ref()),
        basis: current
            .content
            .basis
            .iter()
            .map(Citation::display)
            .collect(),
        effective_from: current.effective_from,
        current: current.content,
        code: current.code,
        upcoming,
        history,
        agency,
    }))
}

/// One item of the open data, as in force today.
#[derive(Serialize)]
struct OpenItem<'a> {
    code: &'a str,
    version: i64,
    effective_from: &'a str,
    category_label: &'static str,
    basis_display: Vec<String>,
    #[serde(flatten)]
    content: &'a ItemContent,
}

async fn in_force(state: &AppState, slug: &str) -> Result<(Agency, Vec<ItemVersion>), PageError> {
    let agency = agency_by_slug(state, slug).await?;
    let items = state
        .store
        .items_in_force(agency.id, today_beijing(), &ItemFilter::default())
        .await?;
    Ok((agency, items))
}

async fn open_json(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    let (agency, items) = in_force(&state, &slug).await?;
    let body = serde_json::json!({
        "agency": agency.name,
        "credit_code": agency.credit_code,
        "as_of": today_beijing().to_string(),
        "items": items.iter().map(|v| OpenItem {
            code: &v.code,
            version: v.version_no,
            effective_from: &v.effective_from,
            category_label: v.content.category.label(),
            basis_display: v.content.basis.iter().map(Citation::display).collect(),
            content: &v.content,
        }).collect::<Vec<_>>(),
    });
    Ok(axum::Json(body).into_response())
}

async fn open_csv(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    let (_, items) = in_force(&state, &slug).await?;
    // A byte-order mark so that spreadsheet programs open the UTF-8 correctly.
    let mut out = String::from(
        "\u{feff}事项编码,事项名称,事项类别,法律依据,承办机构,办理时限,裁量基准,救济渠道,版本,生效日期\r\n",
    );
    for v in &items {
        let c = &v.content;
        let discretion = c
            .discretion
            .iter()
            .map(|r| {
                format!(
                    "{}（{}）{}{}",
                    r.circumstance,
                    r.severity.label(),
                    r.measure,
                    match r.fine_text().as_str() {
                        "" => String::new(),
                        f => format!(" {f}"),
                    }
                )
            })
            .collect::<Vec<_>>()
            .join("；");
        let fields = [
            v.code.clone(),
            c.name.clone(),
            c.category.label().to_owned(),
            basis_text(&c.basis),
            c.department.clone(),
            c.time_limit.map(|t| t.display()).unwrap_or_default(),
            discretion,
            c.remedy.clone(),
            v.version_no.to_string(),
            v.effective_from.clone(),
        ];
        out.push_str(&csv_row(&fields));
    }
    Ok(download(
        out.into_bytes(),
        CSV,
        "attachment; filename=\"items.csv\"",
    ))
}

/// The list in force as an Excel file, in the layout that import reads.
async fn open_xlsx(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    let (_, items) = in_force(&state, &slug).await?;
    let rows: Vec<[String; 11]> = items
        .iter()
        .map(|v| zhifa_sheets::item_cells(&v.code, &v.effective_from, &v.content))
        .collect();
    let bytes = zhifa_sheets::write_items(&rows).map_err(|e| {
        tracing::error!(error = %e, "xlsx export failed");
        PageError::Internal
    })?;
    Ok(download(bytes, XLSX, "attachment; filename=\"items.xlsx\""))
}

/// The import template: the header and one filled-in example row.
async fn template_xlsx() -> Result<Response, PageError> {
    let example = [
        "ZT-CF-100",
        "对露天焚烧秸秆、落叶等产生烟尘污染的物质的行政处罚",
        "行政处罚",
        "中华人民共和国大气污染防治法|119|1",
        "……并可以处五百元以上二千元以下的罚款。（摘要）",
        "焚烧面积较小，未造成明显污染|一般|责令改正，并处罚款|500|1000\n造成严重污染|严重|责令改正，并处罚款|1500|2000",
        "综合行政执法大队",
        "90",
        "日",
        zhifa_domain::catalog::DEFAULT_REMEDY,
        "2026-01-01",
    ]
    .map(str::to_owned);
    let bytes = zhifa_sheets::write_items(&[example]).map_err(|e| {
        tracing::error!(error = %e, "xlsx template failed");
        PageError::Internal
    })?;
    Ok(download(
        bytes,
        XLSX,
        "attachment; filename=\"items-template.xlsx\"",
    ))
}

/// The list's changes as an Atom feed (RFC 4287): the newest 50 versions, each linking to
/// its item's page with what it changed.
async fn atom(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    let agency = agency_by_slug(&state, &slug).await?;
    let recent = state.store.recent_item_versions(agency.id, 50).await?;
    let origin = public_origin(&state, &headers);
    let base = format!(
        "{}/agencies/{}/items",
        origin.trim_end_matches('/'),
        agency.slug
    );
    let updated = recent
        .first()
        .map(|v| rfc3339(v.created_at))
        .unwrap_or_else(|| rfc3339(agency.updated_at));
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n<title>{} 执法事项清单变更</title>\n<id>{base}</id>\n<link rel=\"alternate\" href=\"{base}\"/>\n<link rel=\"self\" href=\"{base}.atom\"/>\n<updated>{updated}</updated>\n<author><name>{}</name></author>\n",
        xml_escape(&agency.name),
        xml_escape(&agency.name)
    );
    for v in &recent {
        let previous = if v.version_no > 1 {
            state
                .store
                .item_versions(agency.id, &v.code)
                .await?
                .into_iter()
                .find(|p| p.version_no == v.version_no - 1)
        } else {
            None
        };
        let summary = match &previous {
            Some(p) => changes(&p.content, &v.content).join("；"),
            None => "首次发布".to_owned(),
        };
        let link = format!("{base}/{}", v.code);
        out.push_str(&format!(
            "<entry>\n<title>{}（第 {} 版，自 {} 起施行）</title>\n<id>{link}#v{}</id>\n<link href=\"{link}\"/>\n<updated>{}</updated>\n<summary>{}</summary>\n</entry>\n",
            xml_escape(&v.content.name),
            v.version_no,
            v.effective_from,
            v.version_no,
            rfc3339(v.created_at),
            xml_escape(&summary)
        ));
    }
    out.push_str("</feed>\n");
    let mut resp = out.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/atom+xml; charset=utf-8"),
    );
    Ok(resp)
}
