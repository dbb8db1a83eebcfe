//! Administration of accounts: creation, roles, password reset, disabling.

use super::admin_org::{agency_context, requested_agency};
use super::workbench::{AgencyQuery, history};
use super::{app_chrome, form_version, html, html_status};
use crate::AppState;
use crate::error::PageError;
use crate::forms::{FormData, UserForm};
use crate::session::CurrentUser;
use crate::view::{AgencyContext, RoleChoice, UserFormPage, UserListPage};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use zhifa_domain::{Capability, FieldErrors, Password, Role, Username};
use zhifa_store::accounts::User;
use zhifa_store::{Actor, StoreError, password};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/app/admin/users", get(users))
        .route("/app/admin/users/new", get(user_new).post(user_create))
        .route("/app/admin/users/{id}", get(user_manage))
        .route("/app/admin/users/{id}/roles", post(user_roles))
        .route("/app/admin/users/{id}/password", post(user_password))
        .route("/app/admin/users/{id}/disable", post(user_disable))
        .route("/app/admin/users/{id}/enable", post(user_enable))
}

/// The roles form: every role, ticked as `selected`; those `principal` may not grant
/// ([`zhifa_domain::Principal::may_grant`], the rule the handlers check) are shown but
/// cannot be changed (a ticked one is sent unchanged).
fn role_choices(principal: &zhifa_domain::Principal, selected: &[Role]) -> Vec<RoleChoice> {
    Role::ALL
        .into_iter()
        .map(|r| RoleChoice {
            code: r.code(),
            label: r.label(),
            checked: selected.contains(&r),
            grantable: principal.may_grant(r),
            needs_security_admin: r.needs_security_admin(),
        })
        .collect()
}

fn parse_roles(form: &FormData, errors: &mut FieldErrors) -> Vec<Role> {
    let mut roles = Vec::new();
    for code in form.all("roles") {
        match Role::from_code(&code) {
            Some(r) => roles.push(r),
            None => errors.add("roles", "角色选择无效"),
        }
    }
    roles
}

fn roles_text(roles: &[Role]) -> String {
    if roles.is_empty() {
        "（无）".into()
    } else {
        roles
            .iter()
            .map(|r| r.label())
            .collect::<Vec<_>>()
            .join("、")
    }
}

async fn users(
    State(state): State<AppState>,
    user: CurrentUser,
    method: Method,
    uri: Uri,
    Query(q): Query<AgencyQuery>,
) -> Result<Response, PageError> {
    let agency_id = requested_agency(&q, &user)?;
    let ctx = agency_context(
        &state,
        &user,
        method,
        uri,
        Capability::ManageRoles,
        agency_id,
    )
    .await?;
    let users = state
        .store
        .list_users(agency_id)
        .await?
        .into_iter()
        .map(|u| {
            let r = roles_text(&u.roles);
            (u, r)
        })
        .collect();
    Ok(html(&UserListPage {
        chrome: app_chrome(&user, "/app/admin/users"),
        ctx,
        users,
        manages_accounts: user.principal.can(Capability::ManageAccounts),
    }))
}

async fn new_page(
    state: &AppState,
    user: &CurrentUser,
    ctx: AgencyContext,
    status: StatusCode,
    values: (String, String, String, Vec<Role>),
    errors: FieldErrors,
) -> Result<Response, PageError> {
    let people = state.store.list_people(ctx.current.id, None).await?;
    let (username, display_name, person_id, roles) = values;
    Ok(html_status(
        status,
        &UserFormPage {
            chrome: app_chrome(user, "/app/admin/users"),
            ctx,
            user: None,
            username,
            display_name,
            person_id,
            people: people.into_iter().filter(|p| p.active).collect(),
            roles: role_choices(&user.principal, &roles),
            manages_accounts: true,
            no_reset: None,
            errors,
            notice: None,
            history: vec![],
        },
    ))
}

async fn user_new(
    State(state): State<AppState>,
    user: CurrentUser,
    method: Method,
    uri: Uri,
    Query(q): Query<AgencyQuery>,
) -> Result<Response, PageError> {
    let agency_id = requested_agency(&q, &user)?;
    let ctx = agency_context(
        &state,
        &user,
        method,
        uri,
        Capability::ManageAccounts,
        agency_id,
    )
    .await?;
    new_page(
        &state,
        &user,
        ctx,
        StatusCode::OK,
        (
            String::new(),
            String::new(),
            String::new(),
            vec![Role::Officer],
        ),
        FieldErrors::new(),
    )
    .await
}

async fn user_create(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    Query(q): Query<AgencyQuery>,
    UserForm { user, form }: UserForm,
) -> Result<Response, PageError> {
    let agency_id = requested_agency(&q, &user)?;
    let ctx = agency_context(
        &state,
        &user,
        method,
        uri,
        Capability::ManageAccounts,
        agency_id,
    )
    .await?;
    let mut errors = FieldErrors::new();
    let username_raw = form.get("username").unwrap_or_default();
    let display_raw = form
        .get("display_name")
        .unwrap_or_default()
        .trim()
        .to_owned();
    let person_raw = form.get("person_id").unwrap_or_default().trim().to_owned();
    let roles = parse_roles(&form, &mut errors);
    if let Err(e) = user.principal.check_role_change(None, &[], &roles) {
        errors.add("roles", e.to_string());
    }
    let username = Username::parse(&username_raw)
        .map_err(|m| errors.add("username", m))
        .ok();
    let password_input = form.get("password").unwrap_or_default();
    let pw = Password::parse(&password_input, username.as_ref())
        .map_err(|e| errors.add("password", e.to_string()))
        .ok();
    let person_id = if person_raw.is_empty() {
        None
    } else {
        match person_raw.parse::<i64>() {
            Ok(v) => Some(v),
            Err(_) => {
                errors.add("person_id", "人员选择无效");
                None
            }
        }
    };
    let display_name = if !display_raw.is_empty() {
        display_raw.clone()
    } else if let Some(p) = person_id {
        match state.store.person(p).await {
            Ok(p) => p.name,
            Err(StoreError::NotFound) => {
                errors.add("person_id", "所选人员不存在");
                String::new()
            }
            Err(e) => return Err(e.into()),
        }
    } else {
        errors.add("display_name", "不关联人员时请填写显示姓名");
        String::new()
    };
    let display_name = if display_name.is_empty() {
        display_name
    } else {
        match zhifa_domain::account::display_name(&display_name) {
            Ok(n) => n,
            Err(m) => {
                errors.add("display_name", m);
                String::new()
            }
        }
    };
    if errors.is_empty() {
        let hash = password::hash(pw.expect("checked").expose()).await;
        let mut tx = state
            .store
            .write(Actor::User(user.principal.user_id))
            .await?;
        match tx
            .create_user(
                ctx.current.id,
                person_id,
                username.as_ref().expect("checked"),
                &display_name,
                &hash,
                &roles,
            )
            .await
        {
            Ok(id) => {
                tx.commit().await?;
                return Ok(Redirect::to(&format!("/app/admin/users/{id}")).into_response());
            }
            Err(StoreError::Invalid(f)) => errors = f,
            Err(e) => return Err(e.into()),
        }
    }
    new_page(
        &state,
        &user,
        ctx,
        StatusCode::BAD_REQUEST,
        (username_raw, display_raw, person_raw, roles),
        errors,
    )
    .await
}

async fn manage_page(
    state: &AppState,
    user: &CurrentUser,
    ctx: AgencyContext,
    target: User,
    status: StatusCode,
    errors: FieldErrors,
    notice: Option<&'static str>,
) -> Result<Response, PageError> {
    let history = history(state, "user", target.id).await?;
    Ok(html_status(
        status,
        &UserFormPage {
            chrome: app_chrome(user, "/app/admin/users"),
            ctx,
            roles: role_choices(&user.principal, &target.roles),
            manages_accounts: user.principal.can(Capability::ManageAccounts),
            no_reset: user
                .principal
                .check_password_reset(target.id, &target.roles)
                .err()
                .map(|r| r.to_string()),
            user: Some(target),
            username: String::new(),
            display_name: String::new(),
            person_id: String::new(),
            people: vec![],
            errors,
            notice,
            history,
        },
    ))
}

/// Loads the target account and checks `capability` on its agency.
async fn target(
    state: &AppState,
    user: &CurrentUser,
    method: Method,
    uri: Uri,
    id: i64,
    capability: Capability,
) -> Result<(User, AgencyContext), PageError> {
    let target = state.store.user(id).await?;
    let ctx = agency_context(state, user, method, uri, capability, target.agency_id).await?;
    Ok((target, ctx))
}

async fn user_manage(
    State(state): State<AppState>,
    user: CurrentUser,
    method: Method,
    uri: Uri,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let (t, ctx) = target(&state, &user, method, uri, id, Capability::ManageRoles).await?;
    manage_page(
        &state,
        &user,
        ctx,
        t,
        StatusCode::OK,
        FieldErrors::new(),
        None,
    )
    .await
}

async fn user_roles(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    Path(id): Path<i64>,
    UserForm { user, form }: UserForm,
) -> Result<Response, PageError> {
    let (t, ctx) = target(&state, &user, method, uri, id, Capability::ManageRoles).await?;
    let version = form_version(&form)?;
    let mut errors = FieldErrors::new();
    let roles = parse_roles(&form, &mut errors);
    if errors.is_empty()
        && let Err(e) = user
            .principal
            .check_role_change(Some(t.id), &t.roles, &roles)
    {
        errors.add("roles", e.to_string());
    }
    if errors.is_empty() {
        let mut tx = state
            .store
            .write(Actor::User(user.principal.user_id))
            .await?;
        match tx.set_user_roles(id, version, &roles).await {
            Ok(()) => {
                tx.commit().await?;
                let t = state.store.user(id).await?;
                return manage_page(
                    &state,
                    &user,
                    ctx,
                    t,
                    StatusCode::OK,
                    errors,
                    Some("角色已保存。"),
                )
                .await;
            }
            Err(StoreError::Stale) => {
                errors.add("roles", "该账号已被他人修改，未保存，请刷新后重试")
            }
            Err(e) => return Err(e.into()),
        }
    }
    manage_page(&state, &user, ctx, t, StatusCode::BAD_REQUEST, errors, None).await
}

async fn user_password(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    Path(id): Path<i64>,
    UserForm { user, form }: UserForm,
) -> Result<Response, PageError> {
    let (t, ctx) = target(&state, &user, method, uri, id, Capability::ManageAccounts).await?;
    if let Err(refusal) = user.principal.check_password_reset(id, &t.roles) {
        let errors = FieldErrors::single("password", refusal.to_string());
        return manage_page(&state, &user, ctx, t, StatusCode::FORBIDDEN, errors, None).await;
    }
    let username = Username::parse(&t.username).ok();
    match Password::parse(&form.get("password").unwrap_or_default(), username.as_ref()) {
        Ok(pw) => {
            let hash = password::hash(pw.expose()).await;
            let mut tx = state
                .store
                .write(Actor::User(user.principal.user_id))
                .await?;
            tx.set_user_password(id, &hash).await?;
            tx.commit().await?;
            if id == user.principal.user_id {
                return Ok(Redirect::to("/login?expired=1").into_response());
            }
            let t = state.store.user(id).await?;
            manage_page(
                &state,
                &user,
                ctx,
                t,
                StatusCode::OK,
                FieldErrors::new(),
                Some("密码已重置，该用户的会话已全部失效。"),
            )
            .await
        }
        Err(e) => {
            let errors = FieldErrors::single("password", e.to_string());
            manage_page(&state, &user, ctx, t, StatusCode::BAD_REQUEST, errors, None).await
        }
    }
}

async fn set_disabled(
    state: AppState,
    method: Method,
    uri: Uri,
    id: i64,
    user: CurrentUser,
    disabled: bool,
) -> Result<Response, PageError> {
    let (t, ctx) = target(&state, &user, method, uri, id, Capability::ManageAccounts).await?;
    if disabled && t.id == user.principal.user_id {
        let errors = FieldErrors::single("disabled", "不能停用自己的账号");
        return manage_page(&state, &user, ctx, t, StatusCode::BAD_REQUEST, errors, None).await;
    }
    let mut tx = state
        .store
        .write(Actor::User(user.principal.user_id))
        .await?;
    tx.set_user_disabled(id, disabled).await?;
    tx.commit().await?;
    let t = state.store.user(id).await?;
    let notice = if disabled {
        "账号已停用，其会话已立即结束。"
    } else {
        "账号已启用。"
    };
    manage_page(
        &state,
        &user,
        ctx,
        t,
        StatusCode::OK,
        FieldErrors::new(),
        Some(notice),
    )
    .await
}

async fn user_disable(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    Path(id): Path<i64>,
    UserForm { user, .. }: UserForm,
) -> Result<Response, PageError> {
    set_disabled(state, method, uri, id, user, true).await
}

async fn user_enable(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    Path(id): Path<i64>,
    UserForm { user, .. }: UserForm,
) -> Result<Response, PageError> {
    set_disabled(state, method, uri, id, user, false).await
}
