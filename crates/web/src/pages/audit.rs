//! The audit trail (审计记录): every entry of an agency — changes, logins, failures,
//! denials — paged, filtered by user, action, time and result, and exported as CSV. Read
//! by the 审计管理员 and the 监督人员 (`Capability::ViewAuditLog`).

use super::admin_org::{agency_context, requested_agency};
use super::workbench::AgencyQuery;
use super::{CSV, app_chrome, csv_row, download, html_status};
use crate::AppState;
use crate::error::PageError;
use crate::session::CurrentUser;
use crate::view::{AuditPage, AuditRow, Choice, action_label, fmt_time};
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;
use std::collections::HashMap;
use zhifa_domain::audit::{
    ACTIONS, EXPORT_LIMIT, Outcome, PAGE_SIZE, RETENTION_MONTHS, TrailInput, TrailQuery, outcome,
};
use zhifa_domain::{Capability, FieldErrors};
use zhifa_store::accounts::User;
use zhifa_store::journal::{AuditFilter, JournalEntry};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/app/audit", get(page))
        .route("/app/audit.csv", get(export))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Params {
    agency: Option<String>,
    user: String,
    action: String,
    result: String,
    from: String,
    to: String,
    page: String,
}

impl Params {
    fn input(&self) -> TrailInput {
        TrailInput {
            user: self.user.clone(),
            action: self.action.clone(),
            result: self.result.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
            page: self.page.clone(),
        }
    }

    /// The filter as a query string, without the page (for the pager and the export).
    fn filter_query(&self, agency_id: i64) -> String {
        serde_urlencoded::to_string([
            ("agency", agency_id.to_string().as_str()),
            ("user", self.user.trim()),
            ("action", self.action.trim()),
            ("result", self.result.trim()),
            ("from", self.from.trim()),
            ("to", self.to.trim()),
        ])
        .unwrap_or_default()
    }
}

/// What the request asks for, checked: the agency (access checked), its accounts, and the
/// filter (or the reasons it is refused).
struct Asked {
    ctx: crate::view::AgencyContext,
    users: Vec<User>,
    filter: Result<(TrailQuery, AuditFilter), FieldErrors>,
}

async fn ask(
    state: &AppState,
    user: &CurrentUser,
    method: Method,
    uri: Uri,
    p: &Params,
) -> Result<Asked, PageError> {
    let agency_id = requested_agency(
        &AgencyQuery {
            agency: p.agency.clone(),
        },
        user,
    )?;
    let ctx = agency_context(
        state,
        user,
        method,
        uri,
        Capability::ViewAuditLog,
        agency_id,
    )
    .await?;
    let users = state.store.list_users(agency_id).await?;
    let filter = TrailQuery::parse(&p.input()).and_then(|q| {
        let user_id = match &q.user {
            None => None,
            Some(name) => match users.iter().find(|u| u.username == *name) {
                Some(u) => Some(u.id),
                None => {
                    let name: String = name.chars().take(40).collect();
                    return Err(FieldErrors::single(
                        "user",
                        format!("本单位没有用户名为“{name}”的账号"),
                    ));
                }
            },
        };
        let f = AuditFilter {
            agency_id,
            // The installation's own entries (failed logins of unknown names) belong to
            // the top of the hierarchy.
            installation: ctx.tree.scope(agency_id).ancestors.is_empty(),
            user_id,
            actions: q.actions(),
            from_ms: q.from_ms,
            until_ms: q.until_ms,
        };
        Ok((q, f))
    });
    Ok(Asked { ctx, users, filter })
}

async fn page(
    State(state): State<AppState>,
    user: CurrentUser,
    method: Method,
    uri: Uri,
    Query(p): Query<Params>,
) -> Result<Response, PageError> {
    let asked = ask(&state, &user, method, uri, &p).await?;
    let (status, errors, rows, page, more) = match &asked.filter {
        Ok((q, f)) => {
            let (entries, more) = state.store.audit_trail(f, q.skip(), PAGE_SIZE).await?;
            let names = names(&state).await?;
            let rows = entries.iter().map(|e| row(e, &names)).collect();
            (StatusCode::OK, FieldErrors::new(), rows, q.page, more)
        }
        Err(errors) => (StatusCode::BAD_REQUEST, errors.clone(), vec![], 1, false),
    };
    let filter_query = p.filter_query(asked.ctx.current.id);
    Ok(html_status(
        status,
        &AuditPage {
            chrome: app_chrome(&user, "/app/audit"),
            users: asked
                .users
                .iter()
                .map(|u| Choice {
                    value: u.username.clone(),
                    label: format!("{}（{}）", u.display_name, u.username),
                    selected: p.user.trim() == u.username,
                })
                .collect(),
            actions: ACTIONS
                .iter()
                .map(|(code, label)| Choice {
                    value: (*code).to_owned(),
                    label: (*label).to_owned(),
                    selected: p.action.trim() == *code,
                })
                .collect(),
            results: [Outcome::Success, Outcome::Failure]
                .into_iter()
                .map(|o| Choice {
                    value: o.code().to_owned(),
                    label: o.label().to_owned(),
                    selected: p.result.trim() == o.code(),
                })
                .collect(),
            from: p.from.trim().to_owned(),
            to: p.to.trim().to_owned(),
            ctx: asked.ctx,
            errors,
            rows,
            page,
            more,
            export_href: format!("/app/audit.csv?{filter_query}"),
            filter_query,
            retention_months: RETENTION_MONTHS,
        },
    ))
}

async fn export(
    State(state): State<AppState>,
    user: CurrentUser,
    method: Method,
    uri: Uri,
    Query(p): Query<Params>,
) -> Result<Response, PageError> {
    let asked = ask(&state, &user, method, uri, &p).await?;
    let (_, f) = asked.filter.map_err(|errors| {
        let reasons: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
        PageError::BadRequest(format!("无法导出：{}", reasons.join("；")))
    })?;
    let (entries, more) = state.store.audit_trail(&f, 0, EXPORT_LIMIT).await?;
    if more {
        return Err(PageError::BadRequest(format!(
            "符合条件的记录超过 {EXPORT_LIMIT} 条，请按日期缩小范围后分段导出。"
        )));
    }
    let names = names(&state).await?;
    // A byte-order mark, so that Excel opens the UTF-8 file as UTF-8.
    let mut out = String::from("\u{feff}时间,用户,操作,对象,结果,来源地址,详情,日志,序号\r\n");
    for e in &entries {
        let r = row(e, &names);
        let fields = [
            r.at,
            r.actor,
            r.action.to_owned(),
            r.subject,
            r.result.to_owned(),
            r.client_ip,
            r.detail,
            r.log,
            e.seq.to_string(),
        ];
        out.push_str(&csv_row(&fields));
    }
    Ok(download(
        out.into_bytes(),
        CSV,
        "attachment; filename=\"audit.csv\"",
    ))
}

/// Every account by its actor code (`user:12`) and id: name and user name.
async fn names(state: &AppState) -> Result<HashMap<String, String>, PageError> {
    Ok(state
        .store
        .all_users()
        .await?
        .into_iter()
        .map(|u| {
            (
                u.id.to_string(),
                format!("{}（{}）", u.display_name, u.username),
            )
        })
        .collect())
}

fn actor(names: &HashMap<String, String>, actor: &str) -> String {
    match actor.strip_prefix("user:") {
        Some(id) => names.get(id).cloned().unwrap_or_else(|| actor.to_owned()),
        None => super::workbench::actor_label(&HashMap::new(), actor),
    }
}

fn text<'a>(payload: &'a serde_json::Value, key: &str) -> &'a str {
    payload.get(key).and_then(|v| v.as_str()).unwrap_or("")
}

/// What the entry's payload says about a login or a refusal.
fn detail(e: &JournalEntry, payload: &serde_json::Value) -> String {
    let request = || format!("{} {}", text(payload, "method"), text(payload, "path"));
    match e.action.as_str() {
        "access.denied" => {
            let code = text(payload, "capability");
            let what = Capability::ALL
                .into_iter()
                .find(|c| c.code() == code)
                .map(|c| c.label())
                .unwrap_or(code);
            format!("无权：{what}（{}）", request())
        }
        "access.refused" => {
            let check = match text(payload, "check") {
                "csrf.token" => "表单令牌无效",
                "csrf.origin" => "跨站来源",
                "api.token" => "API 令牌无效",
                other => other,
            };
            format!("{check}（{}）", request())
        }
        "auth.login_failed" | "auth.locked" => {
            let reason = match text(payload, "reason") {
                "bad_password" => "密码错误",
                "unknown_user" => "用户名不存在",
                "locked" => "账号已锁定",
                "disabled" => "账号已停用",
                "" => "连续失败，账号锁定",
                other => other,
            };
            let typed = text(payload, "username");
            if e.subject_kind == "user" || typed.is_empty() {
                reason.to_owned()
            } else {
                format!("{reason}；输入的用户名：{typed}")
            }
        }
        _ => String::new(),
    }
}

fn row(e: &JournalEntry, names: &HashMap<String, String>) -> AuditRow {
    let payload: Option<serde_json::Value> = e
        .payload
        .as_deref()
        .and_then(|p| serde_json::from_str(p).ok());
    let (client_ip, detail) = match &payload {
        Some(v) => (text(v, "client_ip").to_owned(), detail(e, v)),
        None => (String::new(), "（内容已按规定删除）".to_owned()),
    };
    let subject = match e.subject_kind.as_str() {
        "user" => format!(
            "账号 {}",
            names
                .get(&e.subject_id)
                .cloned()
                .unwrap_or_else(|| e.subject_id.clone())
        ),
        "username" => "未知账号".to_owned(),
        kind => format!("{} {}", zhifa_store::snapshot::label(kind), e.subject_id),
    };
    let log = match e.log_id {
        zhifa_store::ledger::SECURITY_LOG => "安全日志".to_owned(),
        zhifa_store::ledger::SYSTEM_LOG => "系统日志".to_owned(),
        _ => "本单位日志".to_owned(),
    };
    let result = outcome(&e.action);
    AuditRow {
        at: if e.leaf_hash.is_some() {
            fmt_time(e.at)
        } else {
            "—".into()
        },
        actor: actor(names, &e.actor),
        action: action_label(&e.action),
        subject,
        failed: result == Outcome::Failure,
        result: match result {
            Outcome::Success => "成功",
            _ if e.action.starts_with("access.") => "拒绝",
            _ => "失败",
        },
        client_ip,
        detail,
        log,
    }
}
