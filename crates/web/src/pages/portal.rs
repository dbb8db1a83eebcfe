//! The public portal: the agency, its departments, its leadership group.
//! Nothing internal (phones, accounts) is ever read here.

use super::{html, portal_chrome};
use crate::AppState;
use crate::error::PageError;
use crate::session::MaybeUser;
use crate::view::{LeadershipGroups, PortalEmpty, PortalHome, fmt_time};
use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use zhifa_store::org::Agency;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/agencies/{slug}", get(agency_page))
}

/// The home page shows the top agency of this installation (a township's government,
/// or the county that holds the townships).
async fn home(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
) -> Result<Response, PageError> {
    let agencies = state.store.list_agencies().await?;
    let Some(root) = agencies.iter().find(|a| a.parent_id.is_none()).cloned() else {
        return Ok(html(&PortalEmpty {
            chrome: portal_chrome("zhifa 行政执法平台".into(), user.as_ref()),
        }));
    };
    render_agency(&state, user.as_ref(), root, &agencies).await
}

async fn agency_page(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    let agencies = state.store.list_agencies().await?;
    let agency = agencies
        .iter()
        .find(|a| a.slug == slug)
        .cloned()
        .ok_or(PageError::NotFound)?;
    render_agency(&state, user.as_ref(), agency, &agencies).await
}

async fn render_agency(
    state: &AppState,
    user: Option<&crate::session::CurrentUser>,
    agency: Agency,
    all: &[Agency],
) -> Result<Response, PageError> {
    let departments = state.store.list_departments(agency.id).await?;
    let leadership = state.store.list_leadership(agency.id).await?;
    let parent = agency
        .parent_id
        .and_then(|p| all.iter().find(|a| a.id == p).cloned());
    let children = all
        .iter()
        .filter(|a| a.parent_id == Some(agency.id))
        .cloned()
        .collect();
    // Other top-level agencies of this installation are linked from every top-level page.
    let others = if agency.parent_id.is_none() {
        all.iter()
            .filter(|a| a.parent_id.is_none() && a.id != agency.id)
            .cloned()
            .collect()
    } else {
        vec![]
    };
    Ok(html(&PortalHome {
        chrome: portal_chrome(agency.name.clone(), user),
        updated: fmt_time(agency.updated_at),
        agency,
        parent,
        children,
        others,
        departments,
        leadership: LeadershipGroups::from(leadership),
    }))
}
