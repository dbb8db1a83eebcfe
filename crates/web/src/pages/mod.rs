//! Server-rendered pages: portal, login, workbench, administration.

mod admin_calendar;
mod admin_case_numbers;
mod admin_catalog;
mod admin_org;
mod admin_users;
mod audit;
mod auth;
mod case_archive;
pub(crate) mod case_docs;
mod case_evidence;
pub mod cases;
mod catalog;
mod credentials;
mod health;
mod lists;
mod portal;
mod procedures;
mod verify;
mod workbench;

use crate::AppState;
use crate::access;
use crate::error::PageError;
pub use crate::scope::AgencyTree;
use crate::session::CurrentUser;
use crate::view::{Chrome, NavLink};
use axum::Router;
use axum::http::{Method, Uri};
use axum::response::{Html, IntoResponse, Response};
use zhifa_domain::{Capability, Scope};

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(portal::router())
        .merge(verify::router())
        .merge(auth::router())
        .merge(health::router())
        .merge(workbench::router())
        .merge(audit::router())
        .merge(admin_org::router())
        .merge(admin_users::router())
        .merge(credentials::router())
        .merge(catalog::router())
        .merge(admin_catalog::router())
        .merge(lists::router())
        .merge(admin_calendar::router())
        .merge(admin_case_numbers::router())
        .merge(procedures::router())
        .merge(cases::router())
        .merge(case_docs::router())
        .merge(case_evidence::router())
        .merge(case_archive::router())
}

/// 404 for unknown paths: JSON under `/api/`, a Chinese page elsewhere.
pub async fn not_found(uri: Uri) -> Response {
    if uri.path().starts_with("/api/") {
        crate::error::ApiError::NotFound.into_response()
    } else {
        PageError::NotFound.into_response()
    }
}

pub fn html(page: &impl crate::view::Page) -> Response {
    Html(page.render_html()).into_response()
}

/// The same page with an error status (a form shown again with its errors).
/// Marked as rendered so that the error-page layer keeps it.
pub fn html_status(status: axum::http::StatusCode, page: &impl crate::view::Page) -> Response {
    let mut resp = (status, Html(page.render_html())).into_response();
    resp.extensions_mut().insert(crate::error::Rendered);
    resp
}

pub fn portal_chrome(site_name: String, user: Option<&CurrentUser>) -> Chrome {
    Chrome {
        site_name,
        workbench: false,
        nav: vec![],
        user_name: user.map(|u| u.principal.display_name.clone()),
        csrf_token: user.map(|u| u.csrf_token.clone()).unwrap_or_default(),
    }
}

/// The workbench frame, whose menu offers only what the user may do.
pub fn app_chrome(user: &CurrentUser, active: &str) -> Chrome {
    let p = &user.principal;
    let mut nav: Vec<(String, &'static str)> = vec![("/app".into(), "首页")];
    if p.can(Capability::ViewCases) {
        nav.push(("/app/cases".into(), "执法案件"));
    }
    if let Some(d) = p.department_id
        && p.can(Capability::ViewDepartmentStaff)
    {
        nav.push((format!("/app/departments/{d}"), "本部门"));
    }
    if p.can(Capability::ViewAgencyStaff) {
        nav.push(("/app/staff".into(), "本单位人员"));
    }
    if p.can(Capability::ManageOrganisation) {
        nav.extend([
            ("/app/admin/agencies".into(), "执法主体"),
            ("/app/admin/departments".into(), "承办机构"),
            ("/app/admin/people".into(), "人员"),
            ("/app/admin/leadership".into(), "领导小组"),
        ]);
    }
    if p.can(Capability::ManageCredentials) {
        nav.push(("/app/admin/credentials".into(), "执法证件"));
    }
    if p.can(Capability::ManageLists) {
        nav.push(("/app/admin/items".into(), "事项清单"));
        nav.push(("/app/admin/lists/spot-checks".into(), "抽查清单"));
        nav.push(("/app/admin/lists/major-review".into(), "法制审核目录"));
        nav.push(("/app/admin/lists/av-records".into(), "音像记录清单"));
        nav.push(("/app/admin/calendar".into(), "工作日历"));
        nav.push(("/app/admin/case-numbers".into(), "案件编号"));
    }
    if p.can(Capability::ManageRoles) {
        nav.push(("/app/admin/users".into(), "账号与角色"));
    }
    if p.can(Capability::ViewAuditLog) {
        nav.push(("/app/audit".into(), "审计记录"));
    }
    nav.push(("/".into(), "公示网站"));
    Chrome {
        site_name: user.agency_name.clone(),
        workbench: true,
        nav: nav
            .into_iter()
            .map(|(href, label)| NavLink {
                active: href == active,
                href,
                label,
            })
            .collect(),
        user_name: Some(p.display_name.clone()),
        csrf_token: user.csrf_token.clone(),
    }
}

/// One request's access context: who, what they tried, and the one gate.
pub struct Gate<'a> {
    pub state: &'a AppState,
    pub user: &'a CurrentUser,
    pub method: Method,
    pub uri: Uri,
}

impl Gate<'_> {
    pub async fn require(&self, capability: Capability, scope: &Scope) -> Result<(), PageError> {
        access::require(
            self.state,
            &self.user.principal,
            capability,
            scope,
            self.method.as_str(),
            self.uri.path(),
            &self.user.client_ip,
        )
        .await
        .map_err(PageError::from)
    }
}

/// The agency published under `slug` (404 for any other).
pub async fn agency_by_slug(
    state: &AppState,
    slug: &str,
) -> Result<zhifa_store::org::Agency, PageError> {
    match state.store.agency_by_slug(slug).await {
        Ok(a) => Ok(a),
        Err(zhifa_store::StoreError::NotFound) => Err(PageError::NotFound),
        Err(e) => Err(e.into()),
    }
}

/// The address browsers use for this installation: `--public-url`, or the address this
/// request came to (a `Host` header of host-name characters only).
pub fn public_origin(state: &AppState, headers: &axum::http::HeaderMap) -> String {
    let origin = state.config.public_origin.clone().unwrap_or_else(|| {
        let host = headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| {
                h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
            })
            .unwrap_or("127.0.0.1");
        format!("http://{host}")
    });
    origin.trim_end_matches('/').to_owned()
}

pub fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// RFC 3339 in Beijing time.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| {
            t.with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("UTC+8"))
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
        })
        .unwrap_or_default()
}

/// A CSV field, quoted when it must be (RFC 4180). A field a spreadsheet would take for a
/// formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage return — "=HYPERLINK(…)"
/// in a published list) gets a leading apostrophe, so it is shown as the text it is
/// (OWASP, CSV injection).
pub fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// One CSV record: each field through [`csv_field`], comma-separated, ending in CRLF.
pub fn csv_row<S: AsRef<str>>(fields: &[S]) -> String {
    let mut line: String = fields
        .iter()
        .map(|f| csv_field(f.as_ref()))
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

pub const CSV: &str = "text/csv; charset=utf-8";

/// A file download: its bytes, content type and `Content-Disposition`.
pub fn download(bytes: Vec<u8>, content_type: &'static str, disposition: &'static str) -> Response {
    use axum::http::{HeaderValue, header};
    let mut resp = bytes.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static(disposition),
    );
    resp
}

pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// Maps a store refusal on a form to field errors shown beside the inputs; `stale` is
/// the message for an edit that lost the race (shown at the form's version field).
pub fn form_errors(
    e: zhifa_store::StoreError,
    stale: &'static str,
) -> Result<zhifa_domain::FieldErrors, PageError> {
    match e {
        zhifa_store::StoreError::Invalid(f) => Ok(f),
        zhifa_store::StoreError::Stale => Ok(zhifa_domain::FieldErrors::single("version", stale)),
        other => Err(other.into()),
    }
}

/// Parses the hidden `version` field of an edit form.
pub fn form_version(form: &crate::forms::FormData) -> Result<i64, PageError> {
    form.get("version")
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| PageError::BadRequest("表单缺少版本号，请从本系统页面重新提交".into()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn csv_fields_that_look_like_formulas_are_shown_as_text() {
        use super::csv_field;
        assert_eq!(
            csv_field("=HYPERLINK(\"http://x\")"),
            "\"'=HYPERLINK(\"\"http://x\"\")\""
        );
        assert_eq!(csv_field("+86 138"), "'+86 138");
        assert_eq!(csv_field("-1"), "'-1");
        assert_eq!(csv_field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_field("朱堂乡, 罗山县"), "\"朱堂乡, 罗山县\"");
        assert_eq!(csv_field("ZT-CF-001"), "ZT-CF-001");
    }
}
