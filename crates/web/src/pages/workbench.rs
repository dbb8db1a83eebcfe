//! The workbench home, the user's own password, department staff and the audit log.

use super::{AgencyTree, Gate, app_chrome, html, html_status};
use crate::AppState;
use crate::error::PageError;
use crate::forms::UserForm;
use crate::session::CurrentUser;
use crate::view::{
    AppHome, CapabilityLink, DepartmentStaffPage, JournalRow, PasswordPage, StaffPage,
};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;
use std::collections::HashMap;
use zhifa_domain::{Capability, FieldErrors, Password, Scope, Username};
use zhifa_store::{Actor, password};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/app", get(home))
        .route("/app/password", get(password_form).post(change_password))
        .route("/app/my-department", get(my_department))
        .route("/app/departments/{id}", get(department_staff))
        .route("/app/staff", get(staff))
}

fn capability_href(c: Capability, user: &CurrentUser) -> String {
    match c {
        Capability::ManageOrganisation => "/app/admin/departments".into(),
        Capability::ManageAccounts | Capability::ManageRoles => "/app/admin/users".into(),
        Capability::ViewDepartmentStaff => match user.principal.department_id {
            Some(d) => format!("/app/departments/{d}"),
            None => "/app/staff".into(),
        },
        Capability::ViewAgencyStaff => "/app/staff".into(),
        Capability::ViewAuditLog => "/app/audit".into(),
        Capability::ManageCredentials => "/app/admin/credentials".into(),
        Capability::ManageLists => "/app/admin/items".into(),
        Capability::ViewCases => "/app/cases".into(),
        Capability::HandleCases => "/app/cases/new".into(),
    }
}

async fn home(State(state): State<AppState>, user: CurrentUser) -> Result<Response, PageError> {
    let p = &user.principal;
    let expiring = if p.can(Capability::ManageCredentials) {
        let today = crate::view::today_beijing();
        state
            .store
            .list_credentials(p.agency_id)
            .await?
            .into_iter()
            .map(|c| crate::view::CredentialRow::on(c, today))
            .filter(|r| r.expires_in.is_some())
            .collect()
    } else {
        vec![]
    };
    let mut capabilities: Vec<CapabilityLink> = p
        .capabilities()
        .into_iter()
        // A department-bound user without a department has no staff page to open.
        .filter(|&c| {
            !(c == Capability::ViewDepartmentStaff
                && p.department_id.is_none()
                && !p.can(Capability::ViewAgencyStaff))
        })
        .map(|c| CapabilityLink {
            label: c.label(),
            href: capability_href(c, &user),
        })
        .collect();
    // Two capabilities on one page (管理账号, 分配账号角色) make one link, named by the first.
    let mut seen = std::collections::HashSet::new();
    capabilities.retain(|c| seen.insert(c.href.clone()));
    let tamper_alerts = if p.sees_system_alerts() {
        state
            .store
            .tamper_alerts(p.agency_id, 10)
            .await?
            .into_iter()
            .map(|(at, message)| (crate::view::fmt_time(at), message))
            .collect()
    } else {
        vec![]
    };
    capabilities.push(CapabilityLink {
        label: "修改本人密码",
        href: "/app/password".into(),
    });
    Ok(html(&AppHome {
        chrome: app_chrome(&user, "/app"),
        display_name: p.display_name.clone(),
        username: p.username.clone(),
        roles: p.roles.iter().map(|r| r.label()).collect(),
        agency_name: user.agency_name.clone(),
        department_name: user.department_name.clone(),
        capabilities,
        expiring,
        cases: super::cases::dashboard(&state, &user).await?,
        tamper_alerts,
        halted: if p.sees_system_alerts() {
            state.store.halted()
        } else {
            vec![]
        },
        witness_problems: if p.sees_system_alerts() {
            state
                .store
                .witness_runs()
                .into_iter()
                .filter_map(|(w, at, problem)| {
                    problem.map(|p| format!("{}　见证方 {w}：{p}", crate::view::fmt_time(at)))
                })
                .collect()
        } else {
            vec![]
        },
    }))
}

async fn password_form(user: CurrentUser) -> Response {
    html(&PasswordPage {
        chrome: app_chrome(&user, ""),
        errors: FieldErrors::new(),
        done: false,
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PasswordForm {
    current: String,
    new: String,
    confirm: String,
}

async fn change_password(
    State(state): State<AppState>,
    UserForm { user, form }: UserForm,
) -> Result<Response, PageError> {
    let f: PasswordForm = form.decode()?;
    let mut errors = FieldErrors::new();
    let (account, hash) = state
        .store
        .login_candidate(&user.principal.username)
        .await?
        .ok_or(PageError::NotFound)?;
    if !password::verify(&f.current, Some(hash)).await {
        errors.add("current", "当前密码不正确");
    }
    let username = Username::parse(&account.username).ok();
    let new = match Password::parse(&f.new, username.as_ref()) {
        Ok(p) => Some(p),
        Err(e) => {
            errors.add("new", e.to_string());
            None
        }
    };
    if f.new != f.confirm {
        errors.add("confirm", "两次输入的新密码不一致");
    }
    if !f.new.is_empty() && f.new == f.current {
        errors.add("new", "新密码不能与当前密码相同");
    }
    if !errors.is_empty() {
        return Ok(html_status(
            StatusCode::BAD_REQUEST,
            &PasswordPage {
                chrome: app_chrome(&user, ""),
                errors,
                done: false,
            },
        ));
    }
    let hash = password::hash(new.expect("checked").expose()).await;
    let mut tx = state.store.write(Actor::User(account.id)).await?;
    tx.set_user_password(account.id, &hash).await?;
    tx.commit().await?;
    // Changing the password ends every session, this one included.
    Ok(Redirect::to("/login?expired=").into_response())
}

async fn my_department(user: CurrentUser) -> Result<Response, PageError> {
    match user.principal.department_id {
        Some(d) => Ok(Redirect::to(&format!("/app/departments/{d}")).into_response()),
        None => Err(PageError::NotFound),
    }
}

async fn department_staff(
    State(state): State<AppState>,
    user: CurrentUser,
    method: Method,
    uri: Uri,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let department = state.store.department(id).await?;
    let tree = AgencyTree::load(&state).await?;
    let scope = Scope::Department {
        agency: tree.scope(department.agency_id),
        department_id: id,
    };
    let gate = Gate {
        state: &state,
        user: &user,
        method,
        uri,
    };
    gate.require(Capability::ViewDepartmentStaff, &scope)
        .await?;
    let people = state
        .store
        .list_people(department.agency_id, Some(id))
        .await?;
    let agency = tree
        .get(department.agency_id)
        .cloned()
        .ok_or(PageError::NotFound)?;
    Ok(html(&DepartmentStaffPage {
        chrome: app_chrome(&user, &format!("/app/departments/{id}")),
        agency,
        department,
        people,
    }))
}

async fn staff(
    State(state): State<AppState>,
    user: CurrentUser,
    method: Method,
    uri: Uri,
) -> Result<Response, PageError> {
    let tree = AgencyTree::load(&state).await?;
    let agency_id = user.principal.agency_id;
    let gate = Gate {
        state: &state,
        user: &user,
        method,
        uri,
    };
    gate.require(
        Capability::ViewAgencyStaff,
        &Scope::Agency(tree.scope(agency_id)),
    )
    .await?;
    let agency = tree.get(agency_id).cloned().ok_or(PageError::NotFound)?;
    let people = state.store.list_people(agency_id, None).await?;
    Ok(html(&StaffPage {
        chrome: app_chrome(&user, "/app/staff"),
        agency,
        people,
    }))
}

/// Names for the actors of journal entries (`user:12` → 张三).
pub async fn actor_names(state: &AppState) -> Result<HashMap<String, String>, PageError> {
    Ok(state
        .store
        .all_users()
        .await?
        .into_iter()
        .map(|u| (format!("user:{}", u.id), u.display_name))
        .collect())
}

pub fn actor_label(names: &HashMap<String, String>, actor: &str) -> String {
    match actor {
        "anonymous" => "未登录访客".into(),
        a if a.starts_with("system:") => format!("系统（{}）", &a[7..]),
        a => names.get(a).cloned().unwrap_or_else(|| a.to_owned()),
    }
}

/// A record's history from the log (its changes; not the logins and denials of an account,
/// which the audit trail shows): who, when, what — and for each entry whether a signed
/// checkpoint covers it yet, with a link to check its inclusion on the public 记录核验 page.
pub async fn history(state: &AppState, kind: &str, id: i64) -> Result<Vec<JournalRow>, PageError> {
    let names = actor_names(state).await?;
    // Logins, failures and denials are the audit trail's, read by the audit roles only.
    let entries: Vec<_> = state
        .store
        .journal_for_subject(kind, &id.to_string())
        .await?
        .into_iter()
        .filter(|e| !zhifa_domain::audit::is_security_event(&e.action))
        .collect();
    let slugs: HashMap<i64, String> = state
        .store
        .list_agencies()
        .await?
        .into_iter()
        .map(|a| (a.id, a.slug))
        .collect();
    let mut signed_sizes: HashMap<i64, i64> = HashMap::new();
    let mut rows = Vec::with_capacity(entries.len());
    for e in &entries {
        let signed_size = match signed_sizes.get(&e.log_id) {
            Some(s) => *s,
            None => {
                let s = state
                    .store
                    .latest_checkpoint(e.log_id)
                    .await?
                    .map(|(size, _)| size as i64)
                    .unwrap_or(0);
                signed_sizes.insert(e.log_id, s);
                s
            }
        };
        let mut row = JournalRow::from(e, actor_label(&names, &e.actor));
        row.signed = e.seq < signed_size;
        row.verify_href = match (slugs.get(&e.log_id), &e.leaf_hash) {
            (Some(slug), Some(h)) => Some(format!(
                "/verify?agency={slug}&hash={}",
                zhifa_ledger::hash::to_hex(h)
            )),
            _ => None,
        };
        rows.push(row);
    }
    Ok(rows)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct AgencyQuery {
    pub agency: Option<String>,
}
