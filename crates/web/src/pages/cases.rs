//! Cases in the workbench: the list with its filters and the due-soon and overdue counts,
//! opening a case (立案), and the case page — its flowchart with the current step, the
//! next deadline, parties, officers, the proposed penalty against the 裁量基准, the next
//! steps the user may take, and the timeline. Every rule is the domain's, asked by the
//! store; a refused act is shown with its reasons and changes nothing.

use super::workbench::history;
use super::{Gate, app_chrome, form_errors, form_version, html, html_status};
use crate::AppState;
use crate::error::PageError;
use crate::flowchart;
use crate::forms::{FormData, UserForm};
use crate::session::CurrentUser;
use crate::view::{
    CaseListPage, CaseListRow, CaseNewPage, CaseOfficerView, CasePage, Choice, DiscretionChoice,
    DueView, EventView, NextAction, PartyForm, PartyView, PauseChoice, today_beijing,
};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::NaiveDate;
use serde::Deserialize;
use zhifa_domain::case::{
    Due, NewParty, PartyInput, PenaltyInput, days_left, next_deadline, party_kind_label,
};
use zhifa_domain::credential::{CredentialKind, check_assignable};
use zhifa_domain::id_number::IdNumber;
use zhifa_domain::lists::PartyKind;
use zhifa_domain::procedure::{self, Procedure};
use zhifa_domain::{Capability, FieldErrors, Role, Scope};
use zhifa_store::cases::{
    Advance, CaseActor, CaseFile, CaseFilter, CaseStatusFilter, OpenCase, Record,
};
use zhifa_store::catalog::ItemFilter;

const STALE: &str =
    "本案已被他人办理或修改（可能是同事刚刚完成了这一步），请刷新页面查看最新状态后再办理";
const PAGE_SIZE: i64 = 50;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/app/cases", get(list))
        .route("/app/cases/new", get(new_form).post(create))
        .route("/app/cases/{id}", get(show))
        .route("/app/cases/{id}/advance", post(advance))
        .route("/app/cases/{id}/penalty", post(penalty))
        .route("/app/cases/{id}/record", post(record))
        .route("/app/cases/{id}/declare", post(declare))
        .route("/app/cases/{id}/reopen", post(reopen))
}

fn parse_day(s: &str) -> Option<NaiveDate> {
    zhifa_domain::credential::parse_date(s.trim())
}

/// The scope of the cases a user may see: the whole agency for agency-wide roles, their
/// own department otherwise (`None` when they have neither).
fn list_scope(user: &CurrentUser, agency: zhifa_domain::access::AgencyScope) -> Option<Scope> {
    let p = &user.principal;
    let wide = Scope::Agency(agency.clone());
    if p.authorize(Capability::ViewCases, &wide).is_ok() {
        return Some(wide);
    }
    p.department_id.map(|d| Scope::Department {
        agency,
        department_id: d,
    })
}

async fn case_scope(state: &AppState, file: &CaseFile) -> Result<Scope, PageError> {
    Ok(Scope::Department {
        agency: state.store.agency_scope(file.case.agency_id).await?,
        department_id: file.case.department_id,
    })
}

/// The user as an actor on `file`: a department-bound role (执法人员, 部门负责人) counts
/// only on cases of the user's own department, so that a user who is also, say, a legal
/// reviewer (agency-wide) does not act as an officer in another department.
pub(super) async fn case_actor(
    state: &AppState,
    user: &CurrentUser,
    file: &CaseFile,
) -> Result<CaseActor, PageError> {
    let mut a = actor(state, user).await?;
    let own = user.principal.department_id == Some(file.case.department_id);
    a.roles
        .retain(|r| own || !matches!(r, Role::Officer | Role::DepartmentHead));
    Ok(a)
}

pub(super) async fn actor(state: &AppState, user: &CurrentUser) -> Result<CaseActor, PageError> {
    let u = state.store.user(user.principal.user_id).await?;
    Ok(CaseActor {
        user_id: u.id,
        person_id: u.person_id,
        roles: user.principal.roles.clone(),
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ListQuery {
    status: String,
    department: String,
    procedure: String,
    q: String,
    mine: String,
    page: String,
}

async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    method: Method,
    uri: Uri,
    Query(q): Query<ListQuery>,
) -> Result<Response, PageError> {
    let p = &user.principal;
    let agency = state.store.agency_scope(p.agency_id).await?;
    let scope = list_scope(&user, agency).ok_or(PageError::Forbidden(
        "您的账号未关联承办机构，不能查看案件".into(),
    ))?;
    let gate = Gate {
        state: &state,
        user: &user,
        method,
        uri,
    };
    gate.require(Capability::ViewCases, &scope).await?;
    let forced_department = match &scope {
        Scope::Department { department_id, .. } => Some(*department_id),
        Scope::Agency(_) => None,
    };
    let departments = state.store.list_departments(p.agency_id).await?;
    let department_id = forced_department.or_else(|| q.department.parse().ok());
    let status = CaseStatusFilter::from_code(&q.status);
    let mine = q.mine == "1";
    let person = state.store.user(p.user_id).await?.person_id;
    let procedure = procedure::find(&q.procedure).map(|p| p.code.clone());
    let filter = CaseFilter {
        status,
        department_id,
        officer: if mine { person.or(Some(-1)) } else { None },
        procedure: procedure.clone(),
        q: Some(q.q.chars().take(50).collect()),
    };
    let page = q.page.parse::<i64>().unwrap_or(1).clamp(1, 10_000);
    let today = today_beijing();
    let key = format!(
        "list\n{}\n{department_id:?}\n{:?}\n{:?}\n{:?}",
        status.code(),
        filter.officer,
        filter.procedure,
        filter.q
    );
    let store = &state.store;
    let known = state
        .projections
        .counts(store, p.agency_id, today, key, || async {
            Ok(vec![store.list_cases(p.agency_id, &filter, 0, 0).await?.1])
        })
        .await?;
    let (cases, total) = state
        .store
        .list_cases_counted(
            p.agency_id,
            &filter,
            PAGE_SIZE,
            (page - 1) * PAGE_SIZE,
            known.first().copied(),
        )
        .await?;
    let counts = cached_counts(&state, p.agency_id, department_id).await?;
    let rows = list_rows(cases);
    let scope_label = match forced_department.or(department_id) {
        Some(d) => departments
            .iter()
            .find(|x| x.id == d)
            .map(|x| x.name.clone())
            .unwrap_or_default(),
        None => user.agency_name.clone(),
    };
    let statuses = [
        ("", "全部"),
        ("open", "办理中"),
        ("due_soon", "7 日内到期"),
        ("overdue", "已逾期"),
        ("closed", "已办结"),
    ]
    .into_iter()
    .map(|(v, l)| Choice {
        value: v.into(),
        label: l.into(),
        selected: status.code() == v,
    })
    .collect();
    let department_choices = departments
        .iter()
        .filter(|d| forced_department.is_none_or(|f| f == d.id))
        .map(|d| Choice {
            value: d.id.to_string(),
            label: d.name.clone(),
            selected: department_id == Some(d.id),
        })
        .collect();
    let procedures = procedure::all()
        .iter()
        .map(|x| Choice {
            value: x.code.clone(),
            label: x.name.clone(),
            selected: procedure.as_deref() == Some(x.code.as_str()),
        })
        .collect();
    let query = serde_urlencoded::to_string([
        ("status", status.code()),
        (
            "department",
            &department_id.map(|d| d.to_string()).unwrap_or_default(),
        ),
        ("procedure", procedure.as_deref().unwrap_or("")),
        ("q", q.q.as_str()),
        ("mine", if mine { "1" } else { "" }),
    ])
    .unwrap_or_default();
    Ok(html(&CaseListPage {
        chrome: app_chrome(&user, "/app/cases"),
        rows,
        total,
        counts,
        scope_label,
        statuses,
        departments: department_choices,
        procedures,
        q: q.q,
        mine,
        can_open: p.can(Capability::HandleCases),
        page,
        pages: (total + PAGE_SIZE - 1) / PAGE_SIZE,
        query,
    }))
}

/// (open, due soon, overdue) of an agency or one department, kept while nothing changes.
async fn cached_counts(
    state: &AppState,
    agency_id: i64,
    department_id: Option<i64>,
) -> Result<(i64, i64, i64), PageError> {
    let store = &state.store;
    let v = state
        .projections
        .counts(
            store,
            agency_id,
            today_beijing(),
            format!("counts\n{department_id:?}"),
            || async {
                let (a, b, c) = store.case_counts(agency_id, department_id).await?;
                Ok(vec![a, b, c])
            },
        )
        .await?;
    Ok((v[0], v[1], v[2]))
}

/// Cases as list rows, judged today.
pub fn list_rows(cases: Vec<zhifa_store::cases::CaseRow>) -> Vec<CaseListRow> {
    let today = today_beijing();
    cases
        .into_iter()
        .map(|c| {
            let proc = procedure::find(&c.procedure);
            let due = c.due_on.as_deref().and_then(parse_day).map(|d| DueView {
                date: d.to_string(),
                days_left: days_left(today, d),
                what: String::new(),
                basis: String::new(),
            });
            CaseListRow {
                id: c.id,
                number: c.number,
                procedure: proc.map(|p| p.name.clone()).unwrap_or_default(),
                cause: c.cause,
                department: c.department,
                step: proc
                    .and_then(|p| p.step(&c.step))
                    .map(|s| s.name.clone())
                    .unwrap_or(c.step),
                closed: c.closed_on.is_some(),
                due: if c.closed_on.is_some() { None } else { due },
                opened_on: c.opened_on,
            }
        })
        .collect()
}

/// The home page's case watch: the user's scope, its counts, and up to ten cases that
/// are overdue or due within seven days, the most urgent first.
pub async fn dashboard(
    state: &AppState,
    user: &CurrentUser,
) -> Result<Option<crate::view::CaseDashboard>, PageError> {
    let p = &user.principal;
    if !p.can(Capability::ViewCases) {
        return Ok(None);
    }
    let agency = state.store.agency_scope(p.agency_id).await?;
    let Some(scope) = list_scope(user, agency) else {
        return Ok(None);
    };
    let department_id = match &scope {
        Scope::Department { department_id, .. } => Some(*department_id),
        Scope::Agency(_) => None,
    };
    let counts = cached_counts(state, p.agency_id, department_id).await?;
    let mut urgent = Vec::new();
    for status in [CaseStatusFilter::Overdue, CaseStatusFilter::DueSoon] {
        let filter = CaseFilter {
            status,
            department_id,
            ..Default::default()
        };
        let (rows, _) = state.store.list_cases(p.agency_id, &filter, 10, 0).await?;
        urgent.extend(rows);
    }
    urgent.truncate(10);
    let scope_label = match department_id {
        Some(_) => user.department_name.clone().unwrap_or_default(),
        None => user.agency_name.clone(),
    };
    Ok(Some(crate::view::CaseDashboard {
        scope_label,
        counts,
        urgent: list_rows(urgent),
    }))
}

/// The inputs of the new-case form.
#[derive(Default)]
struct NewCaseInput {
    procedure: String,
    department_id: String,
    item_id: String,
    cause: String,
    opened_on: String,
    officers: Vec<String>,
    parties: Vec<PartyInput>,
}

impl NewCaseInput {
    fn from_form(form: &FormData) -> Self {
        let get = |k: &str| form.get(k).unwrap_or_default();
        NewCaseInput {
            procedure: get("procedure"),
            department_id: get("department_id"),
            item_id: get("item_id"),
            cause: get("cause"),
            opened_on: get("opened_on"),
            officers: form.all("officers"),
            parties: (0..2)
                .map(|i| PartyInput {
                    kind: get(&format!("p{i}_kind")),
                    name: get(&format!("p{i}_name")),
                    id_code: get(&format!("p{i}_id_code")),
                    address: get(&format!("p{i}_address")),
                })
                .collect(),
        }
    }
}

async fn new_page(
    state: &AppState,
    user: &CurrentUser,
    input: NewCaseInput,
    errors: FieldErrors,
) -> Result<CaseNewPage, PageError> {
    let p = &user.principal;
    let today = today_beijing();
    let agency = state.store.agency_scope(p.agency_id).await?;
    let departments = state
        .store
        .list_departments(p.agency_id)
        .await?
        .into_iter()
        .filter(|d| {
            p.authorize(
                Capability::HandleCases,
                &Scope::Department {
                    agency: agency.clone(),
                    department_id: d.id,
                },
            )
            .is_ok()
        })
        .map(|d| Choice {
            selected: input.department_id == d.id.to_string()
                || (input.department_id.is_empty() && p.department_id == Some(d.id)),
            value: d.id.to_string(),
            label: d.name,
        })
        .collect();
    let items = state
        .store
        .items_in_force(p.agency_id, today, &ItemFilter::default())
        .await?
        .into_iter()
        .map(|v| Choice {
            selected: input.item_id == v.item_id.to_string(),
            value: v.item_id.to_string(),
            label: format!(
                "{} {}（{}）",
                v.code,
                v.content.name,
                v.content.category.label()
            ),
        })
        .collect();
    // Officers who may be assigned today: enforcement credential valid (持证上岗).
    let mut officers = Vec::new();
    for person in state.store.list_people(p.agency_id, None).await? {
        if !person.active {
            continue;
        }
        let creds: Vec<_> = state
            .store
            .credentials_of_person(person.id)
            .await?
            .into_iter()
            .filter(|c| c.kind == CredentialKind::Enforcement)
            .map(|c| (c.number.clone(), c.validity()))
            .collect();
        if check_assignable(&person.name, &creds, today).is_err() {
            continue;
        }
        officers.push(Choice {
            selected: input.officers.contains(&person.id.to_string()),
            value: person.id.to_string(),
            label: match person.department_name {
                Some(d) => format!("{}（{d}，{}）", person.name, creds[0].0),
                None => person.name,
            },
        });
    }
    let procedures = procedure::all()
        .iter()
        .map(|x| Choice {
            value: x.code.clone(),
            label: x.name.clone(),
            selected: input.procedure == x.code,
        })
        .collect();
    let parties = input
        .parties
        .iter()
        .enumerate()
        .map(|(i, x)| PartyForm {
            prefix: format!("p{i}_"),
            kind: x.kind.clone(),
            name: x.name.clone(),
            id_code: x.id_code.clone(),
            address: x.address.clone(),
        })
        .collect();
    Ok(CaseNewPage {
        chrome: app_chrome(user, "/app/cases"),
        errors,
        procedures,
        departments,
        items,
        officers,
        cause: input.cause,
        opened_on: if input.opened_on.is_empty() {
            today.to_string()
        } else {
            input.opened_on
        },
        parties,
    })
}

async fn new_form(
    State(state): State<AppState>,
    user: CurrentUser,
    method: Method,
    uri: Uri,
) -> Result<Response, PageError> {
    let gate = Gate {
        state: &state,
        user: &user,
        method,
        uri,
    };
    let agency = state.store.agency_scope(user.principal.agency_id).await?;
    let scope = list_scope(&user, agency).ok_or(PageError::Forbidden(
        "您的账号未关联承办机构，不能办理案件".into(),
    ))?;
    gate.require(Capability::HandleCases, &scope).await?;
    let input = NewCaseInput {
        parties: vec![PartyInput::default(), PartyInput::default()],
        ..Default::default()
    };
    Ok(html(
        &new_page(&state, &user, input, FieldErrors::new()).await?,
    ))
}

async fn create(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    UserForm { user, form }: UserForm,
) -> Result<Response, PageError> {
    let input = NewCaseInput::from_form(&form);
    let p = &user.principal;
    let mut errors = FieldErrors::new();
    let department_id = input.department_id.parse::<i64>().ok();
    let agency = state.store.agency_scope(p.agency_id).await?;
    let scope = match department_id {
        Some(d) => Scope::Department {
            agency,
            department_id: d,
        },
        None => {
            errors.add("department_id", "请选择承办机构");
            Scope::Agency(agency)
        }
    };
    let gate = Gate {
        state: &state,
        user: &user,
        method,
        uri,
    };
    // Without a department chosen, the agency-wide check still refuses a user who may
    // not open cases at all; one who may is shown the form again with the error.
    if department_id.is_some() || !p.can(Capability::HandleCases) {
        gate.require(Capability::HandleCases, &scope).await?;
    }
    let opened_on = parse_day(&input.opened_on);
    if opened_on.is_none() {
        errors.add("opened_on", "请填写立案日期（如 2026-11-02）");
    }
    let mut parties = Vec::new();
    for (i, x) in input.parties.iter().enumerate() {
        // The second party is optional: left blank, it is not there.
        if i > 0 && x.name.trim().is_empty() && x.id_code.trim().is_empty() {
            continue;
        }
        match NewParty::parse(x, &format!("p{i}_")) {
            Ok(party) => parties.push(party),
            Err(e) => {
                for f in e.iter() {
                    errors.add(&f.field, format!("当事人{}：{}", i + 1, f.message));
                }
            }
        }
    }
    let officers: Vec<i64> = input
        .officers
        .iter()
        .filter_map(|o| o.parse().ok())
        .collect();
    let item_id = match input.item_id.trim() {
        "" => None,
        s => match s.parse::<i64>() {
            Ok(i) => Some(i),
            Err(_) => {
                errors.add("item_id", "所选执法事项不存在");
                None
            }
        },
    };
    if errors.is_empty() {
        let open = OpenCase {
            agency_id: p.agency_id,
            department_id: department_id.expect("checked"),
            procedure: input.procedure.clone(),
            item_id,
            cause: input.cause.clone(),
            opened_on: opened_on.expect("checked"),
            parties,
            officers,
        };
        let actor = actor(&state, &user).await?;
        match state.store.open_case(&actor, &open).await {
            Ok((id, _)) => return Ok(Redirect::to(&format!("/app/cases/{id}")).into_response()),
            Err(e) => errors = form_errors(e, STALE)?,
        }
    }
    let page = new_page(&state, &user, input, errors).await?;
    Ok(html_status(StatusCode::BAD_REQUEST, &page))
}

/// Loads a case the user may see (404 for a case of another agency: no existence oracle).
pub(super) async fn load(
    state: &AppState,
    gate: &Gate<'_>,
    id: i64,
    capability: Capability,
) -> Result<CaseFile, PageError> {
    let file = match state.store.case_file(id).await {
        Ok(f) => f,
        Err(zhifa_store::StoreError::NotFound) => return Err(PageError::NotFound),
        Err(e) => return Err(e.into()),
    };
    if file.case.agency_id != gate.user.principal.agency_id {
        return Err(PageError::NotFound);
    }
    let scope = case_scope(state, &file).await?;
    // A case the user may not even see is not there for them (404, no existence oracle;
    // the denial is still recorded); one they see but may not act on is a 403.
    if capability != Capability::ViewCases
        && gate
            .user
            .principal
            .authorize(Capability::ViewCases, &scope)
            .is_err()
    {
        return match gate.require(Capability::ViewCases, &scope).await {
            Err(PageError::Forbidden(_)) => Err(PageError::NotFound),
            other => other.map(|_| file),
        };
    }
    match gate.require(capability, &scope).await {
        Err(PageError::Forbidden(_)) if capability == Capability::ViewCases => {
            Err(PageError::NotFound)
        }
        other => other.map(|_| file),
    }
}

fn event_label(kind: &str) -> &'static str {
    match kind {
        "open" => "立案登记",
        "advance" => "完成",
        "penalty" => "登记拟作出的处罚",
        "waiver" => "当事人书面放弃陈述申辩、听证",
        "extend" => "延长期限",
        "pause" => "期限中止",
        "resume" => "期限恢复计算",
        "document" => "出具文书",
        "evidence" => "登记证据",
        "reopen" => "重新开启",
        "late" => "批准逾期办理",
        _ => "记录",
    }
}

async fn case_page(
    state: &AppState,
    user: &CurrentUser,
    file: CaseFile,
    errors: FieldErrors,
    penalty_form: Option<PenaltyInput>,
) -> Result<CasePage, PageError> {
    let proc: &Procedure = file.procedure()?;
    let case_state = file.state()?;
    let calendar = state.store.calendar().await?;
    let today = today_beijing();
    let step = proc.step(&file.case.step).ok_or(PageError::Internal)?;
    let step_name = |code: &str| {
        proc.step(code)
            .map(|s| s.name.clone())
            .unwrap_or_else(|| code.to_owned())
    };
    let (due, due_note) = match next_deadline(&calendar, proc, &case_state) {
        Some((s, Due::On(d))) => (
            Some(DueView {
                date: d.to_string(),
                days_left: days_left(today, d),
                what: s.name.clone(),
                basis: s
                    .deadline
                    .as_ref()
                    .map(|p| p.basis.clone())
                    .unwrap_or_default(),
            }),
            None,
        ),
        Some((s, Due::Paused)) => (None, Some(format!("“{}”的期限中止中，暂停计算", s.name))),
        Some((s, Due::Unknown(e))) => (None, Some(format!("“{}”的期限：{e}", s.name))),
        _ => (None, None),
    };
    let window = match (&step.window, case_state.closed) {
        (Some(w), false) => Some(if case_state.window_waived {
            format!("{}：当事人已书面放弃", w.label)
        } else {
            match zhifa_domain::case::due_date(&calendar, step, w, &case_state) {
                Due::On(d) if d >= today => format!("{}：至 {d} 届满（{}）", w.label, w.basis),
                Due::On(d) => format!("{}：已于 {d} 届满", w.label),
                Due::Unknown(e) => format!("{}：{e}", w.label),
                _ => w.label.clone(),
            }
        }),
        _ => None,
    };
    let done: Vec<&str> = case_state.completed.keys().map(String::as_str).collect();
    let flowchart = flowchart::svg_marked(
        proc,
        (!case_state.closed).then_some(file.case.step.as_str()),
        &done,
    );
    let parties = file
        .parties
        .iter()
        .map(|x| PartyView {
            kind: party_kind_label(x.kind),
            name: x.name.clone(),
            // Staff see an ID number masked; a 统一社会信用代码 is public anyway.
            id_code: match x.kind {
                PartyKind::Person => IdNumber::parse(&x.id_code)
                    .map(|n| n.masked())
                    .unwrap_or_default(),
                PartyKind::Organisation => x.id_code.clone(),
            },
            address: x.address.clone(),
        })
        .collect();
    let actor = case_actor(state, user, &file).await?;
    let mut officers = Vec::new();
    for o in &file.officers {
        let creds: Vec<_> = state
            .store
            .credentials_of_person(o.person_id)
            .await?
            .into_iter()
            .filter(|c| c.kind == CredentialKind::Enforcement)
            .collect();
        let best = creds
            .iter()
            .find(|c| c.validity().on(today).is_valid())
            .or(creds.first());
        officers.push(CaseOfficerView {
            name: o.name.clone(),
            credential: best
                .map(|c| format!("{}（{}）", c.number, c.validity().on(today).label()))
                .unwrap_or_else(|| "无执法证".into()),
            credential_ok: best.is_some_and(|c| c.validity().on(today).is_valid()),
            declared_on: o.declared_on.clone(),
            may_declare: o.declared_on.is_none()
                && Some(o.person_id) == actor.person_id
                && !case_state.closed,
        });
    }
    let may_handle = user.principal.can(Capability::HandleCases);
    let may_step = may_handle && step.roles.iter().any(|r| actor.roles.contains(r));
    let next: Vec<NextAction> = if case_state.closed || !may_step {
        vec![]
    } else if proc.is_last(&step.code) {
        vec![NextAction {
            to: None,
            label: format!("完成“{}”，办结本案", step.name),
            condition: String::new(),
        }]
    } else {
        proc.out_of(&step.code)
            .map(|t| NextAction {
                to: Some(t.to.clone()),
                label: format!("完成“{}”，转入“{}”", step.name, step_name(&t.to)),
                condition: t.condition_text(),
            })
            .collect()
    };
    let next_by = step
        .roles
        .iter()
        .map(|r| r.label())
        .collect::<Vec<_>>()
        .join("或");
    let is_penalty_case = proc.category == "行政处罚";
    let decided = case_state.completed.contains_key("decision")
        || case_state.completed.contains_key("on_site_decision");
    let may_set_penalty = is_penalty_case
        && !decided
        && !case_state.closed
        && actor
            .roles
            .iter()
            .any(|r| matches!(r, Role::Officer | Role::DepartmentHead));
    // The item in force when the case opened: its name and its 裁量基准, read once.
    let item_version = state.store.case_item(&file.case).await?;
    let discretion_rows = item_version
        .as_ref()
        .map(|v| v.content.discretion.clone())
        .unwrap_or_default();
    let penalty_form = penalty_form.unwrap_or_else(|| match &file.case.penalty {
        Some(p) => PenaltyInput {
            measure: p.measure.clone(),
            fine_yuan: if p.fine_yuan == 0 {
                String::new()
            } else {
                p.fine_yuan.to_string()
            },
            discretion_row: p.discretion_row.map(|i| i.to_string()).unwrap_or_default(),
            deviation_reason: p.deviation_reason.clone(),
            facts: p.facts.clone(),
        },
        None => PenaltyInput::default(),
    });
    let discretion = discretion_rows
        .iter()
        .enumerate()
        .map(|(i, r)| DiscretionChoice {
            index: i,
            circumstance: r.circumstance.clone(),
            severity: r.severity.label(),
            measure: r.measure.clone(),
            fine: r.fine_text(),
            selected: penalty_form.discretion_row == i.to_string(),
        })
        .collect();
    let (penalty, penalty_detail) = match &file.case.penalty {
        Some(p) => {
            let mut detail = Vec::new();
            if let Some(i) = p.discretion_row
                && let Some(r) = discretion_rows.get(i)
            {
                detail.push(format!(
                    "适用裁量基准：{}（{}）{}",
                    r.circumstance,
                    r.severity.label(),
                    r.fine_text()
                ));
            }
            if !p.deviation_reason.is_empty() {
                detail.push(format!("偏离裁量基准的理由：{}", p.deviation_reason));
            }
            if !p.facts.is_empty() {
                detail.push(format!("违法事实：{}", p.facts));
            }
            (Some(format!("{}；{}", p.measure, p.fine_text())), detail)
        }
        None => (None, vec![]),
    };
    let period = step.deadline.as_ref();
    let extension = match (period.and_then(|p| p.extension.as_ref()), case_state.closed) {
        (Some(e), false)
            if !case_state.extended.contains(&step.code) && actor.roles.contains(&e.approver) =>
        {
            Some(format!("{}（{}）", e.display(), e.basis))
        }
        _ => None,
    };
    let paused = case_state
        .pauses
        .iter()
        .any(|p| p.step == step.code && p.end.is_none());
    let pauses = if case_state.closed || !may_handle {
        vec![]
    } else {
        period
            .map(|p| {
                p.pauses
                    .iter()
                    .map(|x| PauseChoice {
                        code: x.code.clone(),
                        label: x.label.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let assigned = file
        .officers
        .iter()
        .map(|o| Choice {
            value: o.person_id.to_string(),
            label: o.name.clone(),
            selected: Some(o.person_id) == actor.person_id,
        })
        .collect();
    let events = file
        .events
        .iter()
        .map(|e| {
            let what = match (e.kind.as_str(), &e.to_step) {
                ("advance", Some(to)) => {
                    format!("完成“{}”，转入“{}”", step_name(&e.step), step_name(to))
                }
                ("advance", None) => format!("完成“{}”，本案办结", step_name(&e.step)),
                ("reopen", _) => format!("重新开启，回到“{}”", step_name(&e.step)),
                (k, _) => format!("{}（{}）", event_label(k), step_name(&e.step)),
            };
            let mut detail = Vec::new();
            if let Some(list) = e.detail["officers"].as_array()
                && !list.is_empty()
                && e.kind == "advance"
            {
                let names: Vec<String> = list
                    .iter()
                    .filter_map(|v| v.as_i64())
                    .map(|pid| {
                        file.officers
                            .iter()
                            .find(|o| o.person_id == pid)
                            .map(|o| o.name.clone())
                            .unwrap_or_else(|| pid.to_string())
                    })
                    .collect();
                detail.push(format!("执法人员：{}", names.join("、")));
            }
            if e.detail["credentials_shown"].as_bool() == Some(true) {
                detail.push("已出示执法证件".into());
            }
            for key in ["note", "reason", "label", "outside_discretion"] {
                if let Some(s) = e.detail[key].as_str()
                    && !s.is_empty()
                {
                    detail.push(s.to_owned());
                }
            }
            if let Some(p) = e.detail["penalty"].as_object() {
                let measure = p.get("measure").and_then(|v| v.as_str()).unwrap_or("");
                let fine = p.get("fine_yuan").and_then(|v| v.as_u64()).unwrap_or(0);
                detail.push(if fine > 0 {
                    format!(
                        "{measure}，罚款 {} 元",
                        zhifa_domain::catalog::group_thousands(fine)
                    )
                } else {
                    measure.to_owned()
                });
            }
            EventView {
                on_day: e.on_day.clone(),
                what,
                detail: detail.join("；"),
                by: e.user_name.clone().unwrap_or_default(),
            }
        })
        .collect();
    let item = item_version.map(|v| format!("{} {}", v.code, v.content.name));
    let issuable = if case_state.closed || !may_handle {
        vec![]
    } else {
        super::case_docs::available(proc, &file)
            .into_iter()
            .map(|k| Choice {
                value: k.code.to_owned(),
                label: k.name.to_owned(),
                selected: false,
            })
            .collect()
    };
    let documents = state
        .store
        .case_documents(file.case.id)
        .await?
        .into_iter()
        .map(|d| crate::view::IssuedView {
            href: format!("/app/cases/{}/documents/{}", file.case.id, d.id),
            name: d.name,
            step: step_name(&d.step),
            at: crate::view::fmt_time(d.created_at),
            sha256: d.pdf_sha256,
        })
        .collect();
    let evidence = state
        .store
        .case_evidence(file.case.id)
        .await?
        .into_iter()
        .map(|e| crate::view::EvidenceView {
            kind: zhifa_domain::evidence::kind_label(&e.kind).to_owned(),
            href: e
                .file_name
                .as_ref()
                .map(|_| format!("/app/cases/{}/evidence/{}", file.case.id, e.id)),
            file: e
                .file_name
                .map(|n| format!("{n}（{}）", crate::view::fmt_bytes(e.file_size)))
                .unwrap_or_default(),
            thing: [e.spec.as_str(), e.quantity.as_str()]
                .into_iter()
                .filter(|x| !x.is_empty())
                .collect::<Vec<_>>()
                .join(" · "),
            name: e.name,
            source: e.source,
            collected_on: e.collected_on,
            by: e.collected_by.unwrap_or_default(),
        })
        .collect();
    let may_add_evidence = !case_state.closed
        && actor
            .roles
            .iter()
            .any(|r| matches!(r, Role::Officer | Role::DepartmentHead));
    let evidence_kinds = zhifa_domain::evidence::KINDS
        .iter()
        .map(|(code, label)| Choice {
            value: (*code).to_owned(),
            label: (*label).to_owned(),
            selected: false,
        })
        .collect();
    let may_reopen = case_state.closed && proc.reopen.roles.iter().any(|r| actor.roles.contains(r));
    // The form shows when the rules would take it (its reason is written in the form).
    let may_approve_late = zhifa_domain::case::check_late_approval(
        &calendar,
        proc,
        &case_state,
        &actor.roles,
        today,
        "逾期原因待填写",
    )
    .ok()
    .map(|d| d.to_string());
    Ok(CasePage {
        issuable,
        documents,
        evidence,
        evidence_kinds,
        may_add_evidence,
        may_reopen,
        may_approve_late,
        reopen_by: proc
            .reopen
            .roles
            .iter()
            .map(|r| r.label())
            .collect::<Vec<_>>()
            .join("或"),
        reopen_basis: proc.reopen.basis.clone(),
        chrome: app_chrome(user, "/app/cases"),
        id: file.case.id,
        version: file.case.version,
        number: file.case.number.clone(),
        procedure_code: proc.code.clone(),
        procedure_name: proc.name.clone(),
        cause: file.case.cause.clone(),
        department: file.case.department.clone(),
        item,
        opened_on: file.case.opened_on.clone(),
        closed_on: file.case.closed_on.clone(),
        step_name: step.name.clone(),
        step_roles: next_by.clone(),
        step_basis: step.basis.clone(),
        due,
        due_note,
        window,
        flowchart,
        parties,
        officers,
        penalty,
        penalty_detail,
        major: file.case.major.clone(),
        is_penalty_case,
        may_set_penalty,
        discretion,
        penalty_form,
        next,
        next_by,
        investigative: step.investigative,
        assigned,
        may_waive: step.window.is_some()
            && !case_state.window_waived
            && !case_state.closed
            && may_handle,
        extension,
        pauses,
        paused,
        today: today.to_string(),
        errors,
        events,
        history: history(state, "case", file.case.id).await?,
    })
}

async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
    method: Method,
    uri: Uri,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let file = viewing(&state, &user, method, uri, id).await?;
    Ok(html(
        &case_page(&state, &user, file, FieldErrors::new(), None).await?,
    ))
}

/// The case a page shows or a file of it (the user may see it).
pub(super) async fn viewing(
    state: &AppState,
    user: &CurrentUser,
    method: Method,
    uri: Uri,
    id: i64,
) -> Result<CaseFile, PageError> {
    let gate = Gate {
        state,
        user,
        method,
        uri,
    };
    load(state, &gate, id, Capability::ViewCases).await
}

/// The case a posted form acts on (the user may handle it), and the user as its actor.
pub(super) async fn acting_on(
    state: &AppState,
    user: &CurrentUser,
    method: Method,
    uri: Uri,
    id: i64,
) -> Result<(CaseFile, CaseActor), PageError> {
    let gate = Gate {
        state,
        user,
        method,
        uri,
    };
    let file = load(state, &gate, id, Capability::HandleCases).await?;
    let actor = case_actor(state, user, &file).await?;
    Ok((file, actor))
}

/// The case page again with the reasons an act was refused (400).
pub(super) async fn show_with_errors(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
    errors: FieldErrors,
) -> Result<Response, PageError> {
    let file = state.store.case_file(id).await?;
    let page = case_page(state, user, file, errors, None).await?;
    Ok(html_status(StatusCode::BAD_REQUEST, &page))
}

/// After an act: back to the case, or the case again with the reasons it was refused.
async fn done(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
    result: Result<(), zhifa_store::StoreError>,
    penalty_form: Option<PenaltyInput>,
) -> Result<Response, PageError> {
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/app/cases/{id}")).into_response()),
        Err(e) => {
            let errors = form_errors(e, STALE)?;
            let file = state.store.case_file(id).await?;
            let page = case_page(state, user, file, errors, penalty_form).await?;
            Ok(html_status(StatusCode::BAD_REQUEST, &page))
        }
    }
}

fn form_day(form: &FormData) -> Result<NaiveDate, zhifa_store::StoreError> {
    parse_day(&form.get("on_day").unwrap_or_default()).ok_or_else(|| {
        zhifa_store::StoreError::Invalid(FieldErrors::single(
            "on_day",
            "请填写办理日期（如 2026-11-02）",
        ))
    })
}

async fn advance(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    Path(id): Path<i64>,
    UserForm { user, form }: UserForm,
) -> Result<Response, PageError> {
    let (file, actor) = acting_on(&state, &user, method, uri, id).await?;
    let version = form_version(&form)?;
    let result = match form_day(&form) {
        Err(e) => Err(e),
        Ok(day) => {
            let to = form.get("to").filter(|t| !t.is_empty());
            let a = Advance {
                to,
                day,
                officers: form
                    .all("officers")
                    .iter()
                    .filter_map(|o| o.parse().ok())
                    .collect(),
                credentials_shown: form.get("credentials_shown").as_deref() == Some("1"),
                note: form
                    .get("note")
                    .unwrap_or_default()
                    .chars()
                    .take(1000)
                    .collect(),
            };
            state
                .store
                .advance_case(&actor, file.case.id, version, &a)
                .await
        }
    };
    done(&state, &user, id, result, None).await
}

async fn penalty(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    Path(id): Path<i64>,
    UserForm { user, form }: UserForm,
) -> Result<Response, PageError> {
    let (file, actor) = acting_on(&state, &user, method, uri, id).await?;
    let version = form_version(&form)?;
    let input: PenaltyInput = form.decode()?;
    let result = match form_day(&form) {
        Err(e) => Err(e),
        Ok(day) => state
            .store
            .set_penalty(&actor, file.case.id, version, day, &input)
            .await
            .map(|_| ()),
    };
    done(&state, &user, id, result, Some(input)).await
}

async fn record(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    Path(id): Path<i64>,
    UserForm { user, form }: UserForm,
) -> Result<Response, PageError> {
    let (file, actor) = acting_on(&state, &user, method, uri, id).await?;
    let version = form_version(&form)?;
    let text = |k: &str| -> String { form.get(k).unwrap_or_default().chars().take(1000).collect() };
    let result = match form_day(&form) {
        Err(e) => Err(e),
        Ok(day) => {
            let r = match form.get("kind").as_deref() {
                Some("waiver") => Some(Record::Waiver {
                    day,
                    note: text("note"),
                }),
                Some("extension") => Some(Record::Extension {
                    day,
                    reason: text("reason"),
                }),
                Some("pause") => Some(Record::Pause {
                    code: text("code"),
                    day,
                    note: text("note"),
                }),
                Some("resume") => Some(Record::Resume { day }),
                Some("late") => Some(Record::LateApproval {
                    day,
                    reason: text("reason"),
                }),
                _ => None,
            };
            match r {
                Some(r) => {
                    state
                        .store
                        .record_on_case(&actor, file.case.id, version, &r)
                        .await
                }
                None => Err(zhifa_store::StoreError::Invalid(FieldErrors::single(
                    "kind",
                    "未知的登记类型",
                ))),
            }
        }
    };
    done(&state, &user, id, result, None).await
}

async fn declare(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    Path(id): Path<i64>,
    UserForm { user, form: _ }: UserForm,
) -> Result<Response, PageError> {
    let (file, actor) = acting_on(&state, &user, method, uri, id).await?;
    let result = state
        .store
        .declare_no_conflict(&actor, file.case.id, today_beijing())
        .await;
    done(&state, &user, id, result, None).await
}

async fn reopen(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    Path(id): Path<i64>,
    UserForm { user, form }: UserForm,
) -> Result<Response, PageError> {
    let (file, actor) = acting_on(&state, &user, method, uri, id).await?;
    let version = form_version(&form)?;
    let result = match form_day(&form) {
        Err(e) => Err(e),
        Ok(day) => {
            let reason: String = form
                .get("reason")
                .unwrap_or_default()
                .chars()
                .take(1000)
                .collect();
            state
                .store
                .reopen_case(&actor, file.case.id, version, day, &reason)
                .await
        }
    };
    done(&state, &user, id, result, None).await
}
