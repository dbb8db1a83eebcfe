//! Organisation resources: agencies, departments, people, leadership group, users.

use super::extract::{ApiJson, ApiUser};
use super::views::*;
use crate::AppState;
use crate::error::ApiError;
use crate::scope::AgencyTree;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use zhifa_domain::org::{AgencyInput, DepartmentInput, LeadershipInput, PersonInput};
use zhifa_domain::{
    Capability, FieldErrors, NewAgency, NewDepartment, NewLeadershipMember, NewPerson, Password,
    Role, Scope, Username,
};
use zhifa_store::Actor;

pub fn routes(r: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    r.routes(routes!(me))
        .routes(routes!(list_agencies, create_agency))
        .routes(routes!(get_agency, update_agency))
        .routes(routes!(list_departments, create_department))
        .routes(routes!(get_department, update_department))
        .routes(routes!(list_people, create_person))
        .routes(routes!(get_person, update_person))
        .routes(routes!(list_leadership, create_leadership))
        .routes(routes!(update_leadership, delete_leadership))
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user))
        .routes(routes!(set_user_roles))
        .routes(routes!(set_user_disabled))
}

type ApiResult<T> = Result<T, ApiError>;

async fn agency_scope(state: &AppState, agency_id: i64) -> ApiResult<(AgencyTree, Scope)> {
    let tree = AgencyTree::load(state).await?;
    if tree.get(agency_id).is_none() {
        return Err(ApiError::NotFound);
    }
    let scope = Scope::Agency(tree.scope(agency_id));
    Ok((tree, scope))
}

/// The one check before changing an agency's organisation through the API.
async fn require_manage(state: &AppState, user: &ApiUser, agency_id: i64) -> ApiResult<()> {
    let (_, scope) = agency_scope(state, agency_id).await?;
    user.require(state, Capability::ManageOrganisation, &scope)
        .await
}

fn require_version(v: Option<i64>) -> ApiResult<i64> {
    v.ok_or_else(|| {
        ApiError::Invalid(FieldErrors::single(
            "version",
            "更新时须提供读取时的 version",
        ))
    })
}

/// The signed-in user, roles and capabilities.
#[utoipa::path(get, path = "/api/v1/me", tag = "账号", security(("bearer" = [])),
    responses((status = 200, body = MeView), (status = 401, body = ErrorBody)))]
async fn me(user: ApiUser) -> Json<MeView> {
    let p = &user.principal;
    Json(MeView {
        user_id: p.user_id,
        username: p.username.clone(),
        display_name: p.display_name.clone(),
        agency_id: p.agency_id,
        department_id: p.department_id,
        roles: p.roles.iter().map(|r| r.code().into()).collect(),
        capabilities: p.capabilities().iter().map(|c| c.code().into()).collect(),
    })
}

/// All agencies (public information).
#[utoipa::path(get, path = "/api/v1/agencies", tag = "执法主体", security(("bearer" = [])),
    responses((status = 200, body = Vec<AgencyView>), (status = 401, body = ErrorBody)))]
async fn list_agencies(
    State(state): State<AppState>,
    _user: ApiUser,
) -> ApiResult<Json<Vec<AgencyView>>> {
    Ok(Json(
        state
            .store
            .list_agencies()
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

/// Creates an agency below one the caller administers.
#[utoipa::path(post, path = "/api/v1/agencies", tag = "执法主体", security(("bearer" = [])),
    request_body = AgencyRequest,
    responses((status = 201, body = AgencyView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn create_agency(
    State(state): State<AppState>,
    user: ApiUser,
    ApiJson(body): ApiJson<AgencyRequest>,
) -> ApiResult<(StatusCode, Json<AgencyView>)> {
    let a = NewAgency::parse(&agency_input(&body)).map_err(ApiError::Invalid)?;
    let parent = a.parent_id.ok_or_else(|| {
        ApiError::Invalid(FieldErrors::single(
            "parent_id",
            "请指定上级执法主体（顶级主体用 zhifa init 创建）",
        ))
    })?;
    let (_, scope) = agency_scope(&state, parent).await.map_err(|e| match e {
        ApiError::NotFound => {
            ApiError::Invalid(FieldErrors::single("parent_id", "上级执法主体不存在"))
        }
        other => other,
    })?;
    user.require(&state, Capability::ManageOrganisation, &scope)
        .await?;
    let mut tx = state
        .store
        .write(Actor::User(user.principal.user_id))
        .await?;
    let id = tx.create_agency(&a).await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(state.store.agency(id).await?.into()),
    ))
}

fn agency_input(b: &AgencyRequest) -> AgencyInput {
    AgencyInput {
        name: b.name.clone(),
        slug: b.slug.clone(),
        kind: b.kind.clone(),
        credit_code: b.credit_code.clone(),
        legal_basis: b.legal_basis.clone(),
        address: b.address.clone(),
        parent_id: b.parent_id.map(|p| p.to_string()).unwrap_or_default(),
        crypto: b.crypto.clone(),
    }
}

#[utoipa::path(get, path = "/api/v1/agencies/{id}", tag = "执法主体", security(("bearer" = [])),
    params(("id" = i64, Path, description = "执法主体 id")),
    responses((status = 200, body = AgencyView), (status = 404, body = ErrorBody)))]
async fn get_agency(
    State(state): State<AppState>,
    _user: ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<AgencyView>> {
    Ok(Json(state.store.agency(id).await?.into()))
}

#[utoipa::path(put, path = "/api/v1/agencies/{id}", tag = "执法主体", security(("bearer" = [])),
    params(("id" = i64, Path, description = "执法主体 id")), request_body = AgencyRequest,
    responses((status = 200, body = AgencyView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn update_agency(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<AgencyRequest>,
) -> ApiResult<Json<AgencyView>> {
    let (tree, scope) = agency_scope(&state, id).await?;
    user.require(&state, Capability::ManageOrganisation, &scope)
        .await?;
    let version = require_version(body.version)?;
    let a = NewAgency::parse(&agency_input(&body)).map_err(ApiError::Invalid)?;
    let current_parent = tree.get(id).and_then(|x| x.parent_id);
    match a.parent_id {
        Some(p) if Some(p) != current_parent => {
            if tree.get(p).is_none() {
                return Err(ApiError::Invalid(FieldErrors::single(
                    "parent_id",
                    "上级执法主体不存在",
                )));
            }
            user.require(
                &state,
                Capability::ManageOrganisation,
                &Scope::Agency(tree.scope(p)),
            )
            .await?;
        }
        None if current_parent.is_some() => {
            return Err(ApiError::Invalid(FieldErrors::single(
                "parent_id",
                "不能取消上级执法主体",
            )));
        }
        _ => {}
    }
    let mut tx = state
        .store
        .write(Actor::User(user.principal.user_id))
        .await?;
    tx.update_agency(id, version, &a).await?;
    tx.commit().await?;
    Ok(Json(state.store.agency(id).await?.into()))
}

/// Departments of an agency (public information).
#[utoipa::path(get, path = "/api/v1/agencies/{id}/departments", tag = "承办机构", security(("bearer" = [])),
    params(("id" = i64, Path, description = "执法主体 id")),
    responses((status = 200, body = Vec<DepartmentView>), (status = 404, body = ErrorBody)))]
async fn list_departments(
    State(state): State<AppState>,
    _user: ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<DepartmentView>>> {
    state.store.agency(id).await?;
    Ok(Json(
        state
            .store
            .list_departments(id)
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

fn department_input(b: &DepartmentRequest) -> DepartmentInput {
    DepartmentInput {
        name: b.name.clone(),
        duties: b.duties.clone(),
        sort_order: b.sort_order.to_string(),
    }
}

#[utoipa::path(post, path = "/api/v1/agencies/{id}/departments", tag = "承办机构", security(("bearer" = [])),
    params(("id" = i64, Path, description = "执法主体 id")), request_body = DepartmentRequest,
    responses((status = 201, body = DepartmentView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn create_department(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<DepartmentRequest>,
) -> ApiResult<(StatusCode, Json<DepartmentView>)> {
    require_manage(&state, &user, id).await?;
    let d = NewDepartment::parse(&department_input(&body)).map_err(ApiError::Invalid)?;
    let mut tx = state
        .store
        .write(Actor::User(user.principal.user_id))
        .await?;
    let did = tx.create_department(id, &d).await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(state.store.department(did).await?.into()),
    ))
}

#[utoipa::path(get, path = "/api/v1/departments/{id}", tag = "承办机构", security(("bearer" = [])),
    params(("id" = i64, Path, description = "承办机构 id")),
    responses((status = 200, body = DepartmentView), (status = 404, body = ErrorBody)))]
async fn get_department(
    State(state): State<AppState>,
    _user: ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<DepartmentView>> {
    Ok(Json(state.store.department(id).await?.into()))
}

#[utoipa::path(put, path = "/api/v1/departments/{id}", tag = "承办机构", security(("bearer" = [])),
    params(("id" = i64, Path, description = "承办机构 id")), request_body = DepartmentRequest,
    responses((status = 200, body = DepartmentView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn update_department(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<DepartmentRequest>,
) -> ApiResult<Json<DepartmentView>> {
    let current = state.store.department(id).await?;
    require_manage(&state, &user, current.agency_id).await?;
    let version = require_version(body.version)?;
    let d = NewDepartment::parse(&department_input(&body)).map_err(ApiError::Invalid)?;
    let mut tx = state
        .store
        .write(Actor::User(user.principal.user_id))
        .await?;
    tx.update_department(id, version, &d).await?;
    tx.commit().await?;
    Ok(Json(state.store.department(id).await?.into()))
}

/// Staff of an agency with phone numbers (needs 查看本单位全体人员).
#[utoipa::path(get, path = "/api/v1/agencies/{id}/people", tag = "人员", security(("bearer" = [])),
    params(("id" = i64, Path, description = "执法主体 id")),
    responses((status = 200, body = Vec<PersonView>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_people(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<PersonView>>> {
    let (_, scope) = agency_scope(&state, id).await?;
    user.require(&state, Capability::ViewAgencyStaff, &scope)
        .await?;
    Ok(Json(
        state
            .store
            .list_people(id, None)
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

fn person_input(b: &PersonRequest) -> PersonInput {
    PersonInput {
        name: b.name.clone(),
        department_id: b.department_id.map(|d| d.to_string()).unwrap_or_default(),
        position: b.position.clone(),
        phone: b.phone.clone().unwrap_or_default(),
        id_number: b.id_number.clone().unwrap_or_default(),
    }
}

#[utoipa::path(post, path = "/api/v1/agencies/{id}/people", tag = "人员", security(("bearer" = [])),
    params(("id" = i64, Path, description = "执法主体 id")), request_body = PersonRequest,
    responses((status = 201, body = PersonView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn create_person(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<PersonRequest>,
) -> ApiResult<(StatusCode, Json<PersonView>)> {
    require_manage(&state, &user, id).await?;
    let p = NewPerson::parse(&person_input(&body)).map_err(ApiError::Invalid)?;
    let mut tx = state
        .store
        .write(Actor::User(user.principal.user_id))
        .await?;
    let pid = tx.create_person(id, &p).await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(state.store.person(pid).await?.into()),
    ))
}

/// One member of staff: visible to their own department and to agency-wide roles.
#[utoipa::path(get, path = "/api/v1/people/{id}", tag = "人员", security(("bearer" = [])),
    params(("id" = i64, Path, description = "人员 id")),
    responses((status = 200, body = PersonView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_person(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<PersonView>> {
    let p = state.store.person(id).await?;
    let (tree, agency_scope) = agency_scope(&state, p.agency_id).await?;
    let scope = match p.department_id {
        Some(d) => Scope::Department {
            agency: tree.scope(p.agency_id),
            department_id: d,
        },
        None => agency_scope,
    };
    let cap = if p.department_id.is_some() {
        Capability::ViewDepartmentStaff
    } else {
        Capability::ViewAgencyStaff
    };
    user.require(&state, cap, &scope).await?;
    Ok(Json(p.into()))
}

#[utoipa::path(put, path = "/api/v1/people/{id}", tag = "人员", security(("bearer" = [])),
    params(("id" = i64, Path, description = "人员 id")), request_body = PersonRequest,
    responses((status = 200, body = PersonView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn update_person(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<PersonRequest>,
) -> ApiResult<Json<PersonView>> {
    let current = state.store.person(id).await?;
    require_manage(&state, &user, current.agency_id).await?;
    let version = require_version(body.version)?;
    let p = NewPerson::parse(&person_input(&body)).map_err(ApiError::Invalid)?;
    let mut tx = state
        .store
        .write(Actor::User(user.principal.user_id))
        .await?;
    // Without `active` the person keeps their current status.
    tx.update_person(id, version, &p, body.active.unwrap_or(current.active))
        .await?;
    tx.commit().await?;
    Ok(Json(state.store.person(id).await?.into()))
}

/// The leadership group of an agency (public information).
#[utoipa::path(get, path = "/api/v1/agencies/{id}/leadership", tag = "领导小组", security(("bearer" = [])),
    params(("id" = i64, Path, description = "执法主体 id")),
    responses((status = 200, body = Vec<LeadershipView>), (status = 404, body = ErrorBody)))]
async fn list_leadership(
    State(state): State<AppState>,
    _user: ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<LeadershipView>>> {
    state.store.agency(id).await?;
    Ok(Json(
        state
            .store
            .list_leadership(id)
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

fn leadership_input(b: &LeadershipRequest) -> LeadershipInput {
    LeadershipInput {
        name: b.name.clone(),
        rank: b.rank.clone(),
        post: b.post.clone(),
        sort_order: b.sort_order.to_string(),
    }
}

#[utoipa::path(post, path = "/api/v1/agencies/{id}/leadership", tag = "领导小组", security(("bearer" = [])),
    params(("id" = i64, Path, description = "执法主体 id")), request_body = LeadershipRequest,
    responses((status = 201, body = LeadershipView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn create_leadership(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<LeadershipRequest>,
) -> ApiResult<(StatusCode, Json<LeadershipView>)> {
    require_manage(&state, &user, id).await?;
    let m = NewLeadershipMember::parse(&leadership_input(&body)).map_err(ApiError::Invalid)?;
    let mut tx = state
        .store
        .write(Actor::User(user.principal.user_id))
        .await?;
    let mid = tx.create_leadership_member(id, &m).await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(state.store.leadership_member(mid).await?.into()),
    ))
}

#[utoipa::path(put, path = "/api/v1/leadership/{id}", tag = "领导小组", security(("bearer" = [])),
    params(("id" = i64, Path, description = "成员 id")), request_body = LeadershipRequest,
    responses((status = 200, body = LeadershipView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn update_leadership(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<LeadershipRequest>,
) -> ApiResult<Json<LeadershipView>> {
    let current = state.store.leadership_member(id).await?;
    require_manage(&state, &user, current.agency_id).await?;
    let version = require_version(body.version)?;
    let m = NewLeadershipMember::parse(&leadership_input(&body)).map_err(ApiError::Invalid)?;
    let mut tx = state
        .store
        .write(Actor::User(user.principal.user_id))
        .await?;
    tx.update_leadership_member(id, version, &m).await?;
    tx.commit().await?;
    Ok(Json(state.store.leadership_member(id).await?.into()))
}

#[utoipa::path(delete, path = "/api/v1/leadership/{id}", tag = "领导小组", security(("bearer" = [])),
    params(("id" = i64, Path, description = "成员 id")), request_body = VersionRequest,
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn delete_leadership(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<VersionRequest>,
) -> ApiResult<StatusCode> {
    let current = state.store.leadership_member(id).await?;
    require_manage(&state, &user, current.agency_id).await?;
    let mut tx = state
        .store
        .write(Actor::User(user.principal.user_id))
        .await?;
    tx.remove_leadership_member(id, body.version).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Accounts of an agency (needs 分配账号角色).
#[utoipa::path(get, path = "/api/v1/agencies/{id}/users", tag = "账号", security(("bearer" = [])),
    params(("id" = i64, Path, description = "执法主体 id")),
    responses((status = 200, body = Vec<UserView>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_users(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<UserView>>> {
    let (_, scope) = agency_scope(&state, id).await?;
    user.require(&state, Capability::ManageRoles, &scope)
        .await?;
    Ok(Json(
        state
            .store
            .list_users(id)
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

/// Creates an account (needs 管理账号; its roles, [`zhifa_domain::Principal::check_role_change`]).
/// The password must meet the policy.
#[utoipa::path(post, path = "/api/v1/agencies/{id}/users", tag = "账号", security(("bearer" = [])),
    params(("id" = i64, Path, description = "执法主体 id")), request_body = UserRequest,
    responses((status = 201, body = UserView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn create_user(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<UserRequest>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    let (_, scope) = agency_scope(&state, id).await?;
    user.require(&state, Capability::ManageAccounts, &scope)
        .await?;
    let mut errors = FieldErrors::new();
    let username = Username::parse(&body.username)
        .map_err(|m| errors.add("username", m))
        .ok();
    let display_name = zhifa_domain::account::display_name(&body.display_name)
        .map_err(|m| errors.add("display_name", m))
        .ok();
    let password = Password::parse(&body.password, username.as_ref())
        .map_err(|e| errors.add("password", e.to_string()))
        .ok();
    let roles = parse_roles(&body.roles, &mut errors);
    if let Err(e) = user.principal.check_role_change(None, &[], &roles) {
        errors.add("roles", e.to_string());
    }
    let (Some(username), Some(display_name), Some(password)) = (username, display_name, password)
    else {
        return Err(ApiError::Invalid(errors));
    };
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let hash = zhifa_store::password::hash(password.expose()).await;
    let mut tx = state
        .store
        .write(Actor::User(user.principal.user_id))
        .await?;
    let uid = tx
        .create_user(id, body.person_id, &username, &display_name, &hash, &roles)
        .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(state.store.user(uid).await?.into()),
    ))
}

fn parse_roles(codes: &[String], errors: &mut FieldErrors) -> Vec<Role> {
    let mut roles = Vec::new();
    for c in codes {
        match Role::from_code(c) {
            Some(r) => roles.push(r),
            None => errors.add("roles", format!("未知角色：{c}")),
        }
    }
    roles
}

/// Loads an account and checks `capability` on its agency.
async fn target_user(
    state: &AppState,
    user: &ApiUser,
    id: i64,
    capability: Capability,
) -> ApiResult<zhifa_store::accounts::User> {
    let target = state.store.user(id).await?;
    let (_, scope) = agency_scope(state, target.agency_id).await?;
    user.require(state, capability, &scope).await?;
    Ok(target)
}

#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "账号", security(("bearer" = [])),
    params(("id" = i64, Path, description = "账号 id")),
    responses((status = 200, body = UserView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_user(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<UserView>> {
    Ok(Json(
        target_user(&state, &user, id, Capability::ManageRoles)
            .await?
            .into(),
    ))
}

/// Replaces an account's roles.
#[utoipa::path(put, path = "/api/v1/users/{id}/roles", tag = "账号", security(("bearer" = [])),
    params(("id" = i64, Path, description = "账号 id")), request_body = RolesRequest,
    responses((status = 200, body = UserView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn set_user_roles(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<RolesRequest>,
) -> ApiResult<Json<UserView>> {
    let target = target_user(&state, &user, id, Capability::ManageRoles).await?;
    let mut errors = FieldErrors::new();
    let roles = parse_roles(&body.roles, &mut errors);
    if errors.is_empty()
        && let Err(e) = user
            .principal
            .check_role_change(Some(target.id), &target.roles, &roles)
    {
        errors.add("roles", e.to_string());
    }
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let mut tx = state
        .store
        .write(Actor::User(user.principal.user_id))
        .await?;
    tx.set_user_roles(id, body.version, &roles).await?;
    tx.commit().await?;
    Ok(Json(state.store.user(id).await?.into()))
}

/// Disables (ending its sessions and tokens) or re-enables an account.
#[utoipa::path(put, path = "/api/v1/users/{id}/disabled", tag = "账号", security(("bearer" = [])),
    params(("id" = i64, Path, description = "账号 id")), request_body = DisabledRequest,
    responses((status = 200, body = UserView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn set_user_disabled(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<DisabledRequest>,
) -> ApiResult<Json<UserView>> {
    let target = target_user(&state, &user, id, Capability::ManageAccounts).await?;
    if body.disabled && target.id == user.principal.user_id {
        return Err(ApiError::Invalid(FieldErrors::single(
            "disabled",
            "不能停用自己的账号",
        )));
    }
    let mut tx = state
        .store
        .write(Actor::User(user.principal.user_id))
        .await?;
    tx.set_user_disabled(id, body.disabled).await?;
    tx.commit().await?;
    Ok(Json(state.store.user(id).await?.into()))
}
