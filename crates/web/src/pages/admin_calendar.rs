//! The working-day calendar's administration: the years in use (shipped or added here) and
//! a form to add the next year once the State Council publishes it, or correct one. Only an
//! administrator of a top-level agency may change it: every agency of the installation
//! counts its periods on it.

use super::workbench::AgencyQuery;
use super::{AgencyTree, Gate, app_chrome, html, html_status};
use crate::AppState;
use crate::error::PageError;
use crate::forms::UserForm;
use crate::session::CurrentUser;
use crate::view::{CalendarPage, CalendarYearRow};
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;
use zhifa_domain::calendar::YearData;
use zhifa_domain::validation::required_text;
use zhifa_domain::{Capability, FieldErrors, Scope};
use zhifa_store::{Actor, StoreError};

pub fn router() -> Router<AppState> {
    Router::new().route("/app/admin/calendar", get(page).post(save))
}

/// The calendar belongs to the installation: its top-level agencies' administrators keep it.
async fn require(
    state: &AppState,
    user: &CurrentUser,
    method: Method,
    uri: Uri,
) -> Result<(), PageError> {
    let tree = AgencyTree::load(state).await?;
    let own = user.principal.agency_id;
    let gate = Gate {
        state,
        user,
        method,
        uri,
    };
    gate.require(Capability::ManageLists, &Scope::Agency(tree.scope(own)))
        .await?;
    match tree.get(own) {
        Some(a) if a.parent_id.is_none() => Ok(()),
        _ => Err(PageError::Forbidden(
            "工作日历由本平台最上级执法主体的管理员维护".into(),
        )),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct YearQuery {
    year: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct YearForm {
    year: String,
    notice: String,
    holidays: String,
    workdays: String,
}

fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

async fn render(
    state: &AppState,
    user: &CurrentUser,
    form: YearForm,
    version: i64,
    errors: FieldErrors,
    saved: Option<String>,
) -> Result<CalendarPage, PageError> {
    let stored = state.store.calendar_years().await?;
    let local: Vec<i32> = stored.iter().map(|s| s.data.year).collect();
    let mut years: Vec<CalendarYearRow> = zhifa_domain::calendar::Calendar::mainland_years()
        .into_iter()
        .filter(|y| !local.contains(&y.year))
        .map(|y| (y, false))
        .chain(stored.into_iter().map(|s| (s.data, true)))
        .map(|(y, local)| {
            let count = |items: &[String]| {
                items
                    .iter()
                    .map(|i| match i.split_once("..") {
                        Some((a, b)) => {
                            let d =
                                |s: &str| chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d");
                            match (d(a), d(b)) {
                                (Ok(a), Ok(b)) => (b - a).num_days().max(0) as usize + 1,
                                _ => 1,
                            }
                        }
                        None => 1,
                    })
                    .sum()
            };
            CalendarYearRow {
                year: y.year,
                holidays: count(&y.holidays),
                workdays: count(&y.workdays),
                notice: y.notice,
                local,
            }
        })
        .collect();
    years.sort_by_key(|y| y.year);
    Ok(CalendarPage {
        chrome: app_chrome(user, "/app/admin/calendar"),
        years,
        form_year: form.year,
        form_notice: form.notice,
        form_holidays: form.holidays,
        form_workdays: form.workdays,
        version,
        errors,
        saved,
    })
}

async fn page(
    State(state): State<AppState>,
    user: CurrentUser,
    method: Method,
    uri: Uri,
    Query(q): Query<YearQuery>,
) -> Result<Response, PageError> {
    require(&state, &user, method, uri).await?;
    // Editing a year starts from what is in use for it.
    let (form, version) = match q.year.trim().parse::<i32>() {
        Ok(year) => {
            let stored = state
                .store
                .calendar_years()
                .await?
                .into_iter()
                .find(|s| s.data.year == year);
            let data = stored.as_ref().map(|s| s.data.clone()).or_else(|| {
                zhifa_domain::calendar::Calendar::mainland_years()
                    .into_iter()
                    .find(|y| y.year == year)
            });
            match data {
                Some(y) => (
                    YearForm {
                        year: y.year.to_string(),
                        notice: y.notice,
                        holidays: y.holidays.join("\n"),
                        workdays: y.workdays.join("\n"),
                    },
                    stored.map(|s| s.version).unwrap_or(0),
                ),
                None => (YearForm::default(), 0),
            }
        }
        Err(_) => (YearForm::default(), 0),
    };
    Ok(html(
        &render(&state, &user, form, version, FieldErrors::new(), None).await?,
    ))
}

async fn save(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    Query(_): Query<AgencyQuery>,
    UserForm { user, form }: UserForm,
) -> Result<Response, PageError> {
    require(&state, &user, method, uri).await?;
    let version: i64 = form
        .get("version")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let input: YearForm = form.decode()?;
    let mut errors = FieldErrors::new();
    let year = match input.year.trim().parse::<i32>() {
        Ok(y) if (2000..=2100).contains(&y) => Some(y),
        _ => {
            errors.add("year", "年份应为 2000 到 2100 之间的整数");
            None
        }
    };
    let notice = required_text(&mut errors, "notice", "依据", &input.notice, 200);
    if lines(&input.holidays).is_empty() {
        errors.add("holidays", "请填写放假日");
    }
    if let (Some(year), true) = (year, errors.is_empty()) {
        let data = YearData {
            year,
            notice,
            holidays: lines(&input.holidays),
            workdays: lines(&input.workdays),
        };
        let others: Vec<YearData> = state
            .store
            .calendar_years()
            .await?
            .into_iter()
            .map(|s| s.data)
            .collect();
        let mut tx = state
            .store
            .write(Actor::User(user.principal.user_id))
            .await?;
        match tx.save_calendar_year(&data, version, &others).await {
            Ok(()) => {
                tx.commit().await?;
                // Deadlines of open cases may now fall in (or move within) this year.
                // The year is saved; recomputing is a service on top (each case's next
                // act recomputes its deadline anyway), so its failure is reported, not a 500.
                let note = match state
                    .store
                    .refresh_case_deadlines(Actor::User(user.principal.user_id), year)
                    .await
                {
                    Ok(0) => format!("已保存 {year} 年的节假日安排。"),
                    Ok(moved) => format!(
                        "已保存 {year} 年的节假日安排，{moved} 件办理中案件的期限已按新日历重新计算。"
                    ),
                    Err(e) => {
                        tracing::warn!(error = %e, "case deadlines not recomputed");
                        format!(
                            "已保存 {year} 年的节假日安排；办理中案件的期限未能全部重新计算，将在各案件下一次办理时按新日历更新。"
                        )
                    }
                };
                let page = render(
                    &state,
                    &user,
                    YearForm::default(),
                    0,
                    FieldErrors::new(),
                    Some(note),
                )
                .await?;
                return Ok(html(&page));
            }
            Err(StoreError::Invalid(f)) => errors = f,
            Err(StoreError::Stale) => errors.add(
                "year",
                "该年已被他人录入或修改，未保存。请从列表中点“修改”后再改。",
            ),
            Err(e) => return Err(e.into()),
        }
    }
    let page = render(&state, &user, input, version, errors, None).await?;
    Ok(html_status(StatusCode::BAD_REQUEST, &page))
}
