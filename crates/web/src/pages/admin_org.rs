//! Administration of agencies, departments, people and the leadership group.
//! Every handler asks the gate for `ManageOrganisation` on the agency it touches.

use super::workbench::{AgencyQuery, history};
use super::{AgencyTree, Gate, app_chrome, form_errors, form_version, html, html_status};
use crate::AppState;
use crate::error::PageError;
use crate::forms::{FormData, UserForm};
use crate::session::CurrentUser;
use crate::view::{
    AgencyContext, AgencyFormPage, AgencyListPage, DepartmentFormPage, DepartmentListPage,
    LeadershipFormPage, LeadershipGroups, LeadershipListPage, PeopleListPage, PersonFormPage,
};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use zhifa_domain::org::{AgencyInput, DepartmentInput, LeadershipInput, PersonInput};
use zhifa_domain::{
    Capability, FieldErrors, NewAgency, NewDepartment, NewLeadershipMember, NewPerson, Scope,
};
use zhifa_store::Actor;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/app/admin/agencies", get(agencies))
        .route(
            "/app/admin/agencies/new",
            get(agency_new).post(agency_create),
        )
        .route(
            "/app/admin/agencies/{id}",
            get(agency_edit).post(agency_update),
        )
        .route("/app/admin/departments", get(departments))
        .route(
            "/app/admin/departments/new",
            get(department_new).post(department_create),
        )
        .route(
            "/app/admin/departments/{id}",
            get(department_edit).post(department_update),
        )
        .route("/app/admin/people", get(people))
        .route("/app/admin/people/new", get(person_new).post(person_create))
        .route(
            "/app/admin/people/{id}",
            get(person_edit).post(person_update),
        )
        .route("/app/admin/leadership", get(leadership))
        .route(
            "/app/admin/leadership/new",
            get(leadership_new).post(leadership_create),
        )
        .route(
            "/app/admin/leadership/{id}",
            get(leadership_edit).post(leadership_update),
        )
        .route("/app/admin/leadership/{id}/remove", post(leadership_remove))
}

/// The agency named by `?agency=`, or the user's own.
pub fn requested_agency(q: &AgencyQuery, user: &CurrentUser) -> Result<i64, PageError> {
    match q.agency.as_deref().map(str::trim) {
        None | Some("") => Ok(user.principal.agency_id),
        Some(s) => s
            .parse()
            .map_err(|_| PageError::BadRequest("执法主体参数无效".into())),
    }
}

/// Checks `capability` on `agency_id` and returns the page context.
pub async fn agency_context(
    state: &AppState,
    user: &CurrentUser,
    method: Method,
    uri: Uri,
    capability: Capability,
    agency_id: i64,
) -> Result<AgencyContext, PageError> {
    let tree = AgencyTree::load(state).await?;
    let current = tree.get(agency_id).cloned().ok_or(PageError::NotFound)?;
    let gate = Gate {
        state,
        user,
        method,
        uri,
    };
    gate.require(capability, &Scope::Agency(tree.scope(agency_id)))
        .await?;
    Ok(AgencyContext {
        current,
        choices: tree.subtree(user.principal.agency_id),
        tree,
    })
}

/// The agency named by `?agency=` (or the user's own), checked for 管理组织机构.
async fn org_context(
    state: &AppState,
    user: &CurrentUser,
    method: Method,
    uri: Uri,
    q: &AgencyQuery,
) -> Result<AgencyContext, PageError> {
    let agency_id = requested_agency(q, user)?;
    agency_context(
        state,
        user,
        method,
        uri,
        Capability::ManageOrganisation,
        agency_id,
    )
    .await
}

/// Shown when someone else saved the record since the form was opened.
const STALE: &str = "该记录已被他人修改，未保存。请返回列表重新打开后再改。";

fn see_other(path: String) -> Response {
    Redirect::to(&path).into_response()
}

// ---------- agencies ----------

async fn agencies(
    State(state): State<AppState>,
    user: CurrentUser,
    method: Method,
    uri: Uri,
) -> Result<Response, PageError> {
    let ctx = agency_context(
        &state,
        &user,
        method,
        uri,
        Capability::ManageOrganisation,
        user.principal.agency_id,
    )
    .await?;
    let AgencyContext { choices, tree, .. } = ctx;
    let agencies = choices
        .into_iter()
        .map(|a| {
            let parent = a
                .parent_id
                .and_then(|p| tree.get(p))
                .map(|p| p.name.clone())
                .unwrap_or_else(|| "—".into());
            (a, parent)
        })
        .collect();
    Ok(html(&AgencyListPage {
        chrome: app_chrome(&user, "/app/admin/agencies"),
        agencies,
    }))
}

async fn agency_new(
    State(state): State<AppState>,
    user: CurrentUser,
    method: Method,
    uri: Uri,
) -> Result<Response, PageError> {
    let ctx = agency_context(
        &state,
        &user,
        method,
        uri,
        Capability::ManageOrganisation,
        user.principal.agency_id,
    )
    .await?;
    Ok(html(&AgencyFormPage {
        chrome: app_chrome(&user, "/app/admin/agencies"),
        id: None,
        version: 0,
        form: AgencyInput {
            kind: "administrative_organ".into(),
            parent_id: user.principal.agency_id.to_string(),
            ..Default::default()
        },
        cryptos: crate::view::crypto_choices(),
        crypto_fixed: None,
        errors: FieldErrors::new(),
        parents: ctx.choices,
        history: vec![],
    }))
}

/// The parent an admin names must be an agency they manage.
async fn check_parent(
    state: &AppState,
    user: &CurrentUser,
    method: &Method,
    uri: &Uri,
    tree: &AgencyTree,
    parent: Option<i64>,
    current_parent: Option<Option<i64>>,
) -> Result<Option<FieldErrors>, PageError> {
    match parent {
        // An unchanged parent needs no permission over it (a township's administrator
        // does not manage the county above).
        Some(p) if current_parent == Some(Some(p)) => Ok(None),
        Some(p) => {
            if tree.get(p).is_none() {
                return Ok(Some(FieldErrors::single("parent_id", "上级执法主体不存在")));
            }
            Gate {
                state,
                user,
                method: method.clone(),
                uri: uri.clone(),
            }
            .require(
                Capability::ManageOrganisation,
                &Scope::Agency(tree.scope(p)),
            )
            .await?;
            Ok(None)
        }
        // Only an agency that is already at the top may stay there; new top-level
        // agencies are created with `zhifa init`.
        None if current_parent == Some(None) => Ok(None),
        None => Ok(Some(FieldErrors::single("parent_id", "请选择上级执法主体"))),
    }
}

async fn agency_create(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    UserForm { user, form }: UserForm,
) -> Result<Response, PageError> {
    let ctx = agency_context(
        &state,
        &user,
        method.clone(),
        uri.clone(),
        Capability::ManageOrganisation,
        user.principal.agency_id,
    )
    .await?;
    let input: AgencyInput = form.decode()?;
    let result: Result<(), FieldErrors> = match NewAgency::parse(&input) {
        Err(e) => Err(e),
        Ok(a) => {
            match check_parent(&state, &user, &method, &uri, &ctx.tree, a.parent_id, None).await? {
                Some(e) => Err(e),
                None => {
                    let mut tx = state
                        .store
                        .write(Actor::User(user.principal.user_id))
                        .await?;
                    match tx.create_agency(&a).await {
                        Ok(id) => {
                            tx.commit().await?;
                            return Ok(see_other(format!("/app/admin/agencies/{id}")));
                        }
                        Err(e) => Err(form_errors(e, STALE)?),
                    }
                }
            }
        }
    };
    let errors = result.expect_err("success returned above");
    Ok(html_status(
        StatusCode::BAD_REQUEST,
        &AgencyFormPage {
            chrome: app_chrome(&user, "/app/admin/agencies"),
            id: None,
            version: 0,
            form: input,
            cryptos: crate::view::crypto_choices(),
            crypto_fixed: None,
            errors,
            parents: ctx.choices,
            history: vec![],
        },
    ))
}

async fn agency_edit(
    State(state): State<AppState>,
    user: CurrentUser,
    method: Method,
    uri: Uri,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let ctx = agency_context(
        &state,
        &user,
        method,
        uri,
        Capability::ManageOrganisation,
        id,
    )
    .await?;
    let a = ctx.current.clone();
    let parents = parent_choices(&ctx, id);
    Ok(html(&AgencyFormPage {
        chrome: app_chrome(&user, "/app/admin/agencies"),
        id: Some(id),
        version: a.version,
        form: AgencyInput {
            name: a.name,
            slug: a.slug,
            kind: a.kind.code().into(),
            credit_code: a.credit_code,
            legal_basis: a.legal_basis,
            address: a.address,
            parent_id: a.parent_id.map(|p| p.to_string()).unwrap_or_default(),
            crypto: String::new(),
        },
        cryptos: vec![],
        crypto_fixed: Some(a.crypto.label()),
        errors: FieldErrors::new(),
        parents,
        history: history(&state, "agency", id).await?,
    }))
}

async fn agency_update(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    Path(id): Path<i64>,
    UserForm { user, form }: UserForm,
) -> Result<Response, PageError> {
    let ctx = agency_context(
        &state,
        &user,
        method.clone(),
        uri.clone(),
        Capability::ManageOrganisation,
        id,
    )
    .await?;
    let version = form_version(&form)?;
    let input: AgencyInput = form.decode()?;
    let parents = parent_choices(&ctx, id);
    let errors = match NewAgency::parse(&input) {
        Err(e) => e,
        Ok(a) => match check_parent(
            &state,
            &user,
            &method,
            &uri,
            &ctx.tree,
            a.parent_id,
            Some(ctx.current.parent_id),
        )
        .await?
        {
            Some(e) => e,
            None => {
                let mut tx = state
                    .store
                    .write(Actor::User(user.principal.user_id))
                    .await?;
                match tx.update_agency(id, version, &a).await {
                    Ok(()) => {
                        tx.commit().await?;
                        return Ok(see_other("/app/admin/agencies".into()));
                    }
                    Err(e) => form_errors(e, STALE)?,
                }
            }
        },
    };
    Ok(html_status(
        StatusCode::BAD_REQUEST,
        &AgencyFormPage {
            chrome: app_chrome(&user, "/app/admin/agencies"),
            id: Some(id),
            version,
            form: input,
            cryptos: vec![],
            crypto_fixed: Some(ctx.current.crypto.label()),
            errors,
            parents,
            history: history(&state, "agency", id).await?,
        },
    ))
}

/// Agencies that may be named as the parent of `id`: those the user manages (except
/// `id` itself) plus its current parent, which the user may not manage but may keep.
fn parent_choices(ctx: &AgencyContext, id: i64) -> Vec<zhifa_store::org::Agency> {
    let mut parents: Vec<_> = ctx.choices.iter().filter(|p| p.id != id).cloned().collect();
    if let Some(current) = ctx.current.parent_id
        && !parents.iter().any(|p| p.id == current)
        && let Some(p) = ctx.tree.get(current)
    {
        parents.insert(0, p.clone());
    }
    parents
}

// ---------- departments ----------

async fn departments(
    State(state): State<AppState>,
    user: CurrentUser,
    method: Method,
    uri: Uri,
    Query(q): Query<AgencyQuery>,
) -> Result<Response, PageError> {
    let ctx = org_context(&state, &user, method, uri, &q).await?;
    let agency_id = ctx.current.id;
    let departments = state.store.list_departments(agency_id).await?;
    Ok(html(&DepartmentListPage {
        chrome: app_chrome(&user, "/app/admin/departments"),
        ctx,
        departments,
    }))
}

async fn department_new(
    State(state): State<AppState>,
    user: CurrentUser,
    method: Method,
    uri: Uri,
    Query(q): Query<AgencyQuery>,
) -> Result<Response, PageError> {
    let ctx = org_context(&state, &user, method, uri, &q).await?;
    Ok(html(&DepartmentFormPage {
        chrome: app_chrome(&user, "/app/admin/departments"),
        ctx,
        id: None,
        version: 0,
        form: DepartmentInput::default(),
        errors: FieldErrors::new(),
        history: vec![],
    }))
}

async fn save_department(
    state: &AppState,
    user: &CurrentUser,
    ctx: AgencyContext,
    id: Option<i64>,
    form: FormData,
) -> Result<Response, PageError> {
    let version = if id.is_some() {
        form_version(&form)?
    } else {
        0
    };
    let input: DepartmentInput = form.decode()?;
    let errors = match NewDepartment::parse(&input) {
        Err(e) => e,
        Ok(d) => {
            let mut tx = state
                .store
                .write(Actor::User(user.principal.user_id))
                .await?;
            let result = match id {
                Some(id) => tx.update_department(id, version, &d).await,
                None => tx.create_department(ctx.current.id, &d).await.map(|_| ()),
            };
            match result {
                Ok(()) => {
                    tx.commit().await?;
                    return Ok(see_other(format!(
                        "/app/admin/departments?agency={}",
                        ctx.current.id
                    )));
                }
                Err(e) => form_errors(e, STALE)?,
            }
        }
    };
    let history = match id {
        Some(i) => history(state, "department", i).await?,
        None => vec![],
    };
    Ok(html_status(
        StatusCode::BAD_REQUEST,
        &DepartmentFormPage {
            chrome: app_chrome(user, "/app/admin/departments"),
            ctx,
            id,
            version,
            form: input,
            errors,
            history,
        },
    ))
}

async fn department_create(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    Query(q): Query<AgencyQuery>,
    UserForm { user, form }: UserForm,
) -> Result<Response, PageError> {
    let ctx = org_context(&state, &user, method, uri, &q).await?;
    save_department(&state, &user, ctx, None, form).await
}

async fn department_edit(
    State(state): State<AppState>,
    user: CurrentUser,
    method: Method,
    uri: Uri,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let d = state.store.department(id).await?;
    let ctx = agency_context(
        &state,
        &user,
        method,
        uri,
        Capability::ManageOrganisation,
        d.agency_id,
    )
    .await?;
    Ok(html(&DepartmentFormPage {
        chrome: app_chrome(&user, "/app/admin/departments"),
        ctx,
        id: Some(id),
        version: d.version,
        form: DepartmentInput {
            name: d.name,
            duties: d.duties,
            sort_order: d.sort_order.to_string(),
        },
        errors: FieldErrors::new(),
        history: history(&state, "department", id).await?,
    }))
}

async fn department_update(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    Path(id): Path<i64>,
    UserForm { user, form }: UserForm,
) -> Result<Response, PageError> {
    let d = state.store.department(id).await?;
    let ctx = agency_context(
        &state,
        &user,
        method,
        uri,
        Capability::ManageOrganisation,
        d.agency_id,
    )
    .await?;
    save_department(&state, &user, ctx, Some(id), form).await
}

// ---------- people ----------

async fn people(
    State(state): State<AppState>,
    user: CurrentUser,
    method: Method,
    uri: Uri,
    Query(q): Query<AgencyQuery>,
) -> Result<Response, PageError> {
    let ctx = org_context(&state, &user, method, uri, &q).await?;
    let agency_id = ctx.current.id;
    let people = state.store.list_people(agency_id, None).await?;
    Ok(html(&PeopleListPage {
        chrome: app_chrome(&user, "/app/admin/people"),
        ctx,
        people,
    }))
}

async fn person_new(
    State(state): State<AppState>,
    user: CurrentUser,
    method: Method,
    uri: Uri,
    Query(q): Query<AgencyQuery>,
) -> Result<Response, PageError> {
    let ctx = org_context(&state, &user, method, uri, &q).await?;
    let agency_id = ctx.current.id;
    let departments = state.store.list_departments(agency_id).await?;
    Ok(html(&PersonFormPage {
        chrome: app_chrome(&user, "/app/admin/people"),
        ctx,
        id: None,
        version: 0,
        form: PersonInput::default(),
        active: true,
        departments,
        errors: FieldErrors::new(),
        history: vec![],
    }))
}

async fn save_person(
    state: &AppState,
    user: &CurrentUser,
    ctx: AgencyContext,
    id: Option<i64>,
    form: FormData,
) -> Result<Response, PageError> {
    let version = if id.is_some() {
        form_version(&form)?
    } else {
        0
    };
    let active = id.is_none() || form.get("active").is_some();
    let input: PersonInput = form.decode()?;
    let errors = match NewPerson::parse(&input) {
        Err(e) => e,
        Ok(p) => {
            let mut tx = state
                .store
                .write(Actor::User(user.principal.user_id))
                .await?;
            let result = match id {
                Some(id) => tx.update_person(id, version, &p, active).await,
                None => tx.create_person(ctx.current.id, &p).await.map(|_| ()),
            };
            match result {
                Ok(()) => {
                    tx.commit().await?;
                    return Ok(see_other(format!(
                        "/app/admin/people?agency={}",
                        ctx.current.id
                    )));
                }
                Err(e) => form_errors(e, STALE)?,
            }
        }
    };
    let departments = state.store.list_departments(ctx.current.id).await?;
    let history = match id {
        Some(i) => history(state, "person", i).await?,
        None => vec![],
    };
    Ok(html_status(
        StatusCode::BAD_REQUEST,
        &PersonFormPage {
            chrome: app_chrome(user, "/app/admin/people"),
            ctx,
            id,
            version,
            form: input,
            active,
            departments,
            errors,
            history,
        },
    ))
}

async fn person_create(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    Query(q): Query<AgencyQuery>,
    UserForm { user, form }: UserForm,
) -> Result<Response, PageError> {
    let ctx = org_context(&state, &user, method, uri, &q).await?;
    save_person(&state, &user, ctx, None, form).await
}

async fn person_edit(
    State(state): State<AppState>,
    user: CurrentUser,
    method: Method,
    uri: Uri,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let p = state.store.person(id).await?;
    let ctx = agency_context(
        &state,
        &user,
        method,
        uri,
        Capability::ManageOrganisation,
        p.agency_id,
    )
    .await?;
    let departments = state.store.list_departments(p.agency_id).await?;
    Ok(html(&PersonFormPage {
        chrome: app_chrome(&user, "/app/admin/people"),
        ctx,
        id: Some(id),
        version: p.version,
        form: PersonInput {
            name: p.name,
            department_id: p.department_id.map(|d| d.to_string()).unwrap_or_default(),
            position: p.position,
            phone: p.phone.unwrap_or_default(),
            id_number: p.id_number.unwrap_or_default(),
        },
        active: p.active,
        departments,
        errors: FieldErrors::new(),
        history: history(&state, "person", id).await?,
    }))
}

async fn person_update(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    Path(id): Path<i64>,
    UserForm { user, form }: UserForm,
) -> Result<Response, PageError> {
    let p = state.store.person(id).await?;
    let ctx = agency_context(
        &state,
        &user,
        method,
        uri,
        Capability::ManageOrganisation,
        p.agency_id,
    )
    .await?;
    save_person(&state, &user, ctx, Some(id), form).await
}

// ---------- leadership group ----------

async fn leadership(
    State(state): State<AppState>,
    user: CurrentUser,
    method: Method,
    uri: Uri,
    Query(q): Query<AgencyQuery>,
) -> Result<Response, PageError> {
    let ctx = org_context(&state, &user, method, uri, &q).await?;
    let agency_id = ctx.current.id;
    let groups = LeadershipGroups::from(state.store.list_leadership(agency_id).await?);
    Ok(html(&LeadershipListPage {
        chrome: app_chrome(&user, "/app/admin/leadership"),
        ctx,
        groups,
    }))
}

async fn leadership_new(
    State(state): State<AppState>,
    user: CurrentUser,
    method: Method,
    uri: Uri,
    Query(q): Query<AgencyQuery>,
) -> Result<Response, PageError> {
    let ctx = org_context(&state, &user, method, uri, &q).await?;
    Ok(html(&LeadershipFormPage {
        chrome: app_chrome(&user, "/app/admin/leadership"),
        ctx,
        id: None,
        version: 0,
        form: LeadershipInput {
            rank: "member".into(),
            ..Default::default()
        },
        errors: FieldErrors::new(),
    }))
}

async fn save_leadership(
    state: &AppState,
    user: &CurrentUser,
    ctx: AgencyContext,
    id: Option<i64>,
    form: FormData,
) -> Result<Response, PageError> {
    let version = if id.is_some() {
        form_version(&form)?
    } else {
        0
    };
    let input: LeadershipInput = form.decode()?;
    let errors = match NewLeadershipMember::parse(&input) {
        Err(e) => e,
        Ok(m) => {
            let mut tx = state
                .store
                .write(Actor::User(user.principal.user_id))
                .await?;
            let result = match id {
                Some(id) => tx.update_leadership_member(id, version, &m).await,
                None => tx
                    .create_leadership_member(ctx.current.id, &m)
                    .await
                    .map(|_| ()),
            };
            match result {
                Ok(()) => {
                    tx.commit().await?;
                    return Ok(see_other(format!(
                        "/app/admin/leadership?agency={}",
                        ctx.current.id
                    )));
                }
                Err(e) => form_errors(e, STALE)?,
            }
        }
    };
    Ok(html_status(
        StatusCode::BAD_REQUEST,
        &LeadershipFormPage {
            chrome: app_chrome(user, "/app/admin/leadership"),
            ctx,
            id,
            version,
            form: input,
            errors,
        },
    ))
}

async fn leadership_create(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    Query(q): Query<AgencyQuery>,
    UserForm { user, form }: UserForm,
) -> Result<Response, PageError> {
    let ctx = org_context(&state, &user, method, uri, &q).await?;
    save_leadership(&state, &user, ctx, None, form).await
}

async fn leadership_edit(
    State(state): State<AppState>,
    user: CurrentUser,
    method: Method,
    uri: Uri,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let m = state.store.leadership_member(id).await?;
    let ctx = agency_context(
        &state,
        &user,
        method,
        uri,
        Capability::ManageOrganisation,
        m.agency_id,
    )
    .await?;
    Ok(html(&LeadershipFormPage {
        chrome: app_chrome(&user, "/app/admin/leadership"),
        ctx,
        id: Some(id),
        version: m.version,
        form: LeadershipInput {
            name: m.name,
            rank: m.rank.code().into(),
            post: m.post,
            sort_order: m.sort_order.to_string(),
        },
        errors: FieldErrors::new(),
    }))
}

async fn leadership_update(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    Path(id): Path<i64>,
    UserForm { user, form }: UserForm,
) -> Result<Response, PageError> {
    let m = state.store.leadership_member(id).await?;
    let ctx = agency_context(
        &state,
        &user,
        method,
        uri,
        Capability::ManageOrganisation,
        m.agency_id,
    )
    .await?;
    save_leadership(&state, &user, ctx, Some(id), form).await
}

async fn leadership_remove(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    Path(id): Path<i64>,
    UserForm { user, form }: UserForm,
) -> Result<Response, PageError> {
    let m = state.store.leadership_member(id).await?;
    agency_context(
        &state,
        &user,
        method,
        uri,
        Capability::ManageOrganisation,
        m.agency_id,
    )
    .await?;
    let version = form_version(&form)?;
    let mut tx = state
        .store
        .write(Actor::User(user.principal.user_id))
        .await?;
    tx.remove_leadership_member(id, version).await?;
    tx.commit().await?;
    Ok(see_other(format!(
        "/app/admin/leadership?agency={}",
        m.agency_id
    )))
}
