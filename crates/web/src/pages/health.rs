use crate::AppState;
use crate::error::Rendered;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz))
}

/// 200 when the database answers, 503 when it does not (for load balancers).
async fn healthz(State(state): State<AppState>) -> Response {
    let halted = state.store.halted();
    // The checkpointer's last run on this node (absent where none runs).
    let checkpoint = state.store.checkpoint_run().map(|(at, error)| {
        serde_json::json!({ "last_run_ms": at, "ok": error.is_none(), "error": error })
    });
    // Each witness's last answer: a refusal is the township's rollback or fork seen from
    // outside, which monitoring must see too.
    let witnesses: Vec<serde_json::Value> = state
        .store
        .witness_runs()
        .into_iter()
        .map(|(w, at, error)| {
            serde_json::json!({ "witness": w, "last_run_ms": at, "ok": error.is_none(), "error": error })
        })
        .collect();
    let mut resp = match state.store.ping().await {
        // Reachable, but behind what was signed: changes are refused until an
        // administrator acts (monitoring must see it, so not 200).
        Ok(()) if !halted.is_empty() => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({
                "status": "degraded",
                "database": state.store.backend().name(),
                "writes": "suspended",
                "reasons": halted,
                "checkpoint": checkpoint,
                "witnesses": witnesses,
                "row_check": state.store.row_sweep(),
            })),
        ),
        Ok(()) => (
            StatusCode::OK,
            axum::Json(serde_json::json!({
                "status": "ok",
                "database": state.store.backend().name(),
                "checkpoint": checkpoint,
                "witnesses": witnesses,
                "row_check": state.store.row_sweep(),
            })),
        ),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(serde_json::json!({ "status": "unavailable", "database": state.store.backend().name() })),
            )
        }
    }
    .into_response();
    resp.extensions_mut().insert(Rendered);
    resp
}
