//! The working-day calendar (`zhifa_domain::calendar`, with the years an administrator
//! added): public, no token needed — it is the State Council's published calendar, and
//! anyone may check a deadline with it.

use crate::AppState;
use crate::error::ApiError;
use axum::Json;
use axum::extract::RawQuery;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use zhifa_domain::FieldErrors;

pub fn routes(r: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    r.routes(routes!(add_working_days))
}

/// The `n`th working day after a date.
#[derive(Serialize, ToSchema)]
pub struct WorkingDays {
    pub from: String,
    pub days: u32,
    /// The `days`th working day strictly after `from` (the start day is not counted).
    pub date: String,
    /// The State Council notice of the result's year.
    pub notice: String,
}

#[utoipa::path(get, path = "/api/v1/calendar/add-working-days", tag = "工作日",
    params(("from" = String, Query, description = "起算日 YYYY-MM-DD（不计入）"),
           ("days" = u32, Query, description = "工作日数，0–3650")),
    responses((status = 200, body = WorkingDays), (status = 400, description = "参数无效或年份无数据")))]
async fn add_working_days(
    axum::extract::State(state): axum::extract::State<AppState>,
    RawQuery(q): RawQuery,
) -> Result<Json<WorkingDays>, ApiError> {
    let params: Vec<(String, String)> =
        serde_urlencoded::from_str(q.as_deref().unwrap_or("")).unwrap_or_default();
    let get = |k: &str| {
        params
            .iter()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    };
    let mut e = FieldErrors::new();
    let from = chrono::NaiveDate::parse_from_str(&get("from"), "%Y-%m-%d")
        .map_err(|_| e.add("from", "起算日应为 YYYY-MM-DD 格式的日期"))
        .ok();
    let days = match get("days").parse::<u32>() {
        Ok(n) if n <= 3650 => Some(n),
        _ => {
            e.add("days", "工作日数应为 0 到 3650 之间的整数");
            None
        }
    };
    let (Some(from), Some(days)) = (from, days) else {
        return Err(ApiError::Invalid(e));
    };
    let calendar = state.store.calendar().await?;
    let date = calendar
        .add_working_days(from, days)
        .map_err(|err| ApiError::Invalid(FieldErrors::single("from", err.to_string())))?;
    Ok(Json(WorkingDays {
        from: from.to_string(),
        days,
        notice: calendar
            .notice(chrono::Datelike::year(&date))
            .unwrap_or_default()
            .to_owned(),
        date: date.to_string(),
    }))
}
