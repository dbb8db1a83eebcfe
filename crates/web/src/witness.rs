//! The witness endpoints (C2SP `tlog-witness`): `POST /witness/add-checkpoint` cosigns a
//! witnessed log's checkpoint that extends what was cosigned before, and
//! `GET /witness/<origin hash>/checkpoint` serves the newest cosigned one to monitors.
//! No session and no CSRF token: a request is authenticated by the log's signature on the
//! checkpoint, as the protocol says. The decision is the store's.

use crate::AppState;
use crate::error::Rendered;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use zhifa_ledger::witness::{Refusal, SIZE_CONTENT_TYPE};

/// A request larger than this is no checkpoint with at most 63 proof lines.
const MAX_REQUEST: usize = 16 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/witness/add-checkpoint", post(add_checkpoint))
        .route("/witness/{hash}/checkpoint", get(checkpoint))
}

fn text(status: StatusCode, content_type: &'static str, body: String) -> Response {
    let mut r = (
        status,
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response();
    r.extensions_mut().insert(Rendered);
    r
}

fn plain(status: StatusCode, body: impl Into<String>) -> Response {
    text(status, "text/plain; charset=utf-8", body.into())
}

fn failed(e: zhifa_store::StoreError) -> Response {
    tracing::error!(error = %e, "witness request failed");
    if e.is_unavailable() {
        plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "数据库暂不可用，请稍后重试\n",
        )
    } else {
        plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            "见证方内部错误，已记录\n",
        )
    }
}

async fn add_checkpoint(State(state): State<AppState>, body: axum::body::Bytes) -> Response {
    let Some(keys) = &state.keys else {
        return plain(StatusCode::NOT_FOUND, "本系统不是见证方\n");
    };
    if body.len() > MAX_REQUEST {
        return plain(StatusCode::BAD_REQUEST, "请求过大\n");
    }
    let Ok(body) = std::str::from_utf8(&body) else {
        return plain(StatusCode::BAD_REQUEST, "请求不是 UTF-8 文本\n");
    };
    match state.store.witness_add_checkpoint(keys, body).await {
        Ok(Ok(line)) => plain(StatusCode::OK, line),
        Ok(Err(Refusal::Conflict { latest })) => text(
            StatusCode::CONFLICT,
            SIZE_CONTENT_TYPE,
            format!("{latest}\n"),
        ),
        Ok(Err(refusal)) => {
            let status = StatusCode::from_u16(refusal.status()).expect("a protocol status");
            plain(status, format!("{refusal}\n"))
        }
        Err(e) => failed(e),
    }
}

async fn checkpoint(State(state): State<AppState>, Path(hash): Path<String>) -> Response {
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return plain(StatusCode::NOT_FOUND, "没有这个日志\n");
    }
    match state
        .store
        .witnessed_checkpoint(&hash.to_ascii_lowercase())
        .await
    {
        Ok(Some(note)) => plain(StatusCode::OK, note),
        Ok(None) => plain(StatusCode::NOT_FOUND, "本见证方尚未为这个日志副署\n"),
        Err(e) => failed(e),
    }
}
