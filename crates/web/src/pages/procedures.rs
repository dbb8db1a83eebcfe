//! The published procedures: each legal procedure the server enforces, as a flowchart and
//! a table of steps, drawn from the one definition in `procedures/*.toml`.

use super::{html, portal_chrome};
use crate::AppState;
use crate::error::PageError;
use crate::flowchart;
use crate::session::MaybeUser;
use crate::view::{PeriodRow, ProcedureListPage, ProcedurePage, ProcedureStepRow};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::LazyLock;
use zhifa_domain::procedure::{Procedure, ProcedureError};

/// Checked once; the definitions are compiled in, and their unit test keeps them valid.
static PROCEDURES: LazyLock<Result<Vec<Procedure>, ProcedureError>> =
    LazyLock::new(zhifa_domain::procedure::shipped);

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/procedures", get(list))
        .route("/procedures/{code}", get(show))
        .route("/procedures/{code}/flowchart.svg", get(flowchart_svg))
}

/// All shipped procedures (a definition that fails its checks is an internal error).
pub fn all() -> Result<&'static [Procedure], PageError> {
    PROCEDURES.as_deref().map_err(|e| {
        tracing::error!(error = %e, "procedure definitions");
        PageError::Internal
    })
}

/// The procedures for enforcement items of one category (行政处罚 → 普通程序, 简易程序).
pub fn for_category(label: &str) -> Vec<(String, String)> {
    all()
        .map(|ps| {
            ps.iter()
                .filter(|p| p.category == label)
                .map(|p| (p.code.clone(), p.name.clone()))
                .collect()
        })
        .unwrap_or_default()
}

fn find(code: &str) -> Result<&'static Procedure, PageError> {
    all()?
        .iter()
        .find(|p| p.code == code)
        .ok_or(PageError::NotFound)
}

async fn site_name(state: &AppState) -> Result<String, PageError> {
    let agencies = state.store.list_agencies().await?;
    Ok(agencies
        .into_iter()
        .find(|a| a.parent_id.is_none())
        .map_or_else(|| "zhifa 行政执法平台".into(), |a| a.name))
}

async fn list(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
) -> Result<Response, PageError> {
    Ok(html(&ProcedureListPage {
        chrome: portal_chrome(site_name(&state).await?, user.as_ref()),
        procedures: all()?.to_vec(),
    }))
}

async fn show(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    Path(code): Path<String>,
) -> Result<Response, PageError> {
    let p = find(&code)?;
    let ordered = flowchart::ordered_steps(p);
    let number_of = |code: &str| {
        ordered
            .iter()
            .find(|(_, s)| s.code == code)
            .map_or(0, |(n, _)| *n)
    };
    let steps = ordered
        .iter()
        .map(|(number, s)| ProcedureStepRow {
            number: *number,
            name: s.name.clone(),
            roles: s
                .roles
                .iter()
                .map(|r| r.label())
                .collect::<Vec<_>>()
                .join("、"),
            documents: s.documents.join("、"),
            basis: s.basis.clone(),
            deadline: s.deadline.as_ref().map(PeriodRow::from),
            window: s.window.as_ref().map(PeriodRow::from),
            next: p
                .transitions
                .iter()
                .filter(|t| t.from == s.code)
                .map(|t| {
                    let to = p.step(&t.to).map_or("", |s| s.name.as_str());
                    let n = number_of(&t.to);
                    match t.condition_text() {
                        c if c.is_empty() => format!("{n}. {to}"),
                        c => format!("{n}. {to}（{c}）"),
                    }
                })
                .collect(),
        })
        .collect();
    Ok(html(&ProcedurePage {
        chrome: portal_chrome(site_name(&state).await?, user.as_ref()),
        svg: flowchart::svg(p),
        procedure: p.clone(),
        steps,
    }))
}

async fn flowchart_svg(Path(code): Path<String>) -> Result<Response, PageError> {
    let p = find(&code)?;
    let mut resp = flowchart::svg(p).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("image/svg+xml; charset=utf-8"),
    );
    Ok(resp)
}
