//! The public log: C2SP `tlog-checkpoint` and `tlog-tiles` read paths, the verifier key,
//! and JSON inclusion and consistency proofs. Everything here is public by design: log
//! entries hold ids and commitments, never personal data.

use crate::AppState;
use crate::error::Rendered;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Deserialize;
use zhifa_ledger::tiles;
use zhifa_ledger::tree::{consistency_plan, inclusion_plan};
use zhifa_store::StoreError;
use zhifa_store::ledger::LogHead;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/log/{agency}/checkpoint", get(checkpoint))
        .route("/log/{agency}/key", get(key))
        .route("/log/{agency}/tile/{*rest}", get(tile))
        .route("/log/{agency}/proof/inclusion", get(inclusion))
        .route("/log/{agency}/proof/consistency", get(consistency))
}

/// A plain-text or JSON answer that the error-page layer leaves alone.
fn answer(
    status: StatusCode,
    content_type: &'static str,
    cache: &'static str,
    body: impl Into<axum::body::Body>,
) -> Response {
    let mut r = (
        status,
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, cache),
        ],
        body.into(),
    )
        .into_response();
    r.extensions_mut().insert(Rendered);
    r
}

/// A refused or failed log request, answered as JSON.
#[derive(Debug)]
struct LogError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl IntoResponse for LogError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": { "code": self.code, "message": self.message } });
        answer(
            self.status,
            "application/json",
            "no-store",
            body.to_string(),
        )
    }
}

fn bad_request(message: &str) -> LogError {
    LogError {
        status: StatusCode::BAD_REQUEST,
        code: "bad_request",
        message: message.to_owned(),
    }
}

fn not_found(message: &str) -> LogError {
    LogError {
        status: StatusCode::NOT_FOUND,
        code: "not_found",
        message: message.to_owned(),
    }
}

fn store_error(e: StoreError) -> LogError {
    tracing::error!(error = %e, "log read failed");
    if e.is_unavailable() {
        LogError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "unavailable",
            message: "数据库暂不可用".into(),
        }
    } else {
        LogError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message: "系统错误，已记录".into(),
        }
    }
}

type LogResult = Result<Response, LogError>;

/// The log named in the path: an agency slug, or `_system` for the installation's log.
async fn head(state: &AppState, name: &str) -> Result<LogHead, LogError> {
    let log_id = match state.store.log_id_by_name(name).await {
        Ok(id) => id,
        Err(StoreError::NotFound) => return Err(not_found("没有这个执法主体的日志")),
        Err(e) => return Err(store_error(e)),
    };
    match state.store.log_head(log_id).await {
        Ok(h) => Ok(h),
        Err(StoreError::NotFound) => Err(not_found("该日志尚无记录")),
        Err(e) => Err(store_error(e)),
    }
}

/// The size clients may rely on: that of the newest signed checkpoint.
async fn signed_size(state: &AppState, head: &LogHead) -> Result<u64, LogError> {
    match state.store.latest_checkpoint(head.log_id).await {
        Ok(Some((size, _))) => Ok(size),
        Ok(None) => Err(not_found("该日志尚未签发树头")),
        Err(e) => Err(store_error(e)),
    }
}

async fn checkpoint(State(state): State<AppState>, Path(agency): Path<String>) -> LogResult {
    let head = head(&state, &agency).await?;
    // With the witnesses' cosignatures on it: one note a client checks against the log's
    // key and the witnesses it trusts.
    match state.store.latest_checkpoint(head.log_id).await {
        Ok(Some((size, note))) => match state.store.cosigned_note(head.log_id, size, note).await {
            Ok(note) => Ok(answer(
                StatusCode::OK,
                "text/plain; charset=utf-8",
                "public, max-age=5",
                note,
            )),
            Err(e) => Err(store_error(e)),
        },
        Ok(None) => Err(not_found("该日志尚未签发树头")),
        Err(e) => Err(store_error(e)),
    }
}

async fn key(State(state): State<AppState>, Path(agency): Path<String>) -> LogResult {
    let head = head(&state, &agency).await?;
    match state.store.log_keys(head.log_id).await {
        Ok(keys) => match keys.into_iter().rev().find(|(_, retired)| !retired) {
            Some((k, _)) => Ok(answer(
                StatusCode::OK,
                "text/plain; charset=utf-8",
                "public, max-age=60",
                format!("{k}\n"),
            )),
            None => Err(not_found("该日志尚无公钥")),
        },
        Err(e) => Err(store_error(e)),
    }
}

async fn tile(
    State(state): State<AppState>,
    Path((agency, rest)): Path<(String, String)>,
) -> LogResult {
    let tile = match tiles::parse(&rest) {
        Ok(t) => t,
        Err(e) => return Err(bad_request(&format!("瓦片路径格式错误：{e}"))),
    };
    let head = head(&state, &agency).await?;
    let size = signed_size(&state, &head).await?;
    if !tiles::available(&tile, size) {
        return Err(not_found("该瓦片不存在（超出已签发的日志大小）"));
    }
    let body = state
        .store
        .tile_data(head.log_id, &tile)
        .await
        .map_err(store_error)?;
    // Tile contents never change: full tiles forever, partial ones until replaced.
    let cache = if tile.width.is_none() {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=3600"
    };
    Ok(answer(
        StatusCode::OK,
        "application/octet-stream",
        cache,
        body,
    ))
}

#[derive(Deserialize)]
struct InclusionQuery {
    index: Option<String>,
    /// Hex or base64 leaf hash, instead of `index`.
    hash: Option<String>,
    size: Option<String>,
}

fn number(raw: Option<&str>, name: &str) -> Result<Option<u64>, LogError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => s
            .parse::<u64>()
            .map(Some)
            .map_err(|_| bad_request(&format!("参数 {name} 应为非负整数"))),
    }
}

fn decode_hash(raw: &str) -> Option<Vec<u8>> {
    let raw = raw.trim();
    zhifa_ledger::hash::from_hex(raw)
        .or_else(|| B64.decode(raw).ok())
        .filter(|h| h.len() == 32)
}

async fn inclusion(
    State(state): State<AppState>,
    Path(agency): Path<String>,
    Query(q): Query<InclusionQuery>,
) -> LogResult {
    let head = head(&state, &agency).await?;
    let signed = signed_size(&state, &head).await?;
    let explicit_size = match number(q.size.as_deref(), "size") {
        Ok(s) => s,
        Err(r) => return Err(r),
    };
    let size = explicit_size.unwrap_or(signed);
    if size == 0 || size > signed {
        return Err(bad_request(&format!(
            "参数 size 应在 1 到 {signed}（最新签发的日志大小）之间"
        )));
    }
    let index = match (number(q.index.as_deref(), "index"), q.hash.as_deref()) {
        (Err(r), _) => return Err(r),
        (Ok(Some(i)), _) => i,
        (Ok(None), Some(h)) => {
            let Some(hash) = decode_hash(h) else {
                return Err(bad_request(
                    "参数 hash 应为 64 位十六进制或 base64 编码的 32 字节哈希",
                ));
            };
            match state.store.leaf_index(head.log_id, &hash).await {
                Ok(Some(i)) => i,
                Ok(None) => return Err(not_found("日志中没有这个哈希的记录")),
                Err(e) => return Err(store_error(e)),
            }
        }
        (Ok(None), None) => return Err(bad_request("请提供 index 或 hash 参数")),
    };
    if index >= size {
        return Err(bad_request("参数 index 应小于 size"));
    }
    let plan = match inclusion_plan(index, size) {
        Ok(p) => p,
        Err(e) => return Err(bad_request(&e.to_string())),
    };
    let mut ids = plan.nodes();
    let leaf_id = zhifa_ledger::tree::NodeId { level: 0, index };
    ids.push(leaf_id);
    let nodes = match state.store.log_nodes(head.log_id, &ids).await {
        Ok(n) => n,
        Err(e) => return Err(store_error(e)),
    };
    let proof = match plan.assemble(head.alg, |id| nodes.get(&id).copied()) {
        Ok(p) => p,
        Err(e) => return Err(store_error(StoreError::Corrupt(e.to_string()))),
    };
    let root = match root_at(&state, &head, size).await {
        Ok(r) => r,
        Err(r) => return Err(r),
    };
    let entry = match state.store.log_entries(head.log_id, index, index + 1).await {
        Ok(mut e) => e.pop().map(|(_, b)| B64.encode(b)),
        Err(e) => return Err(store_error(e)),
    };
    let body = serde_json::json!({
        "log": head.origin,
        "hash_algorithm": head.alg.code(),
        "index": index,
        "size": size,
        "leaf_hash": nodes.get(&leaf_id).map(|h| B64.encode(h)),
        "entry": entry,
        "proof": proof.iter().map(|h| B64.encode(h)).collect::<Vec<_>>(),
        "root": B64.encode(root),
    });
    // A proof for a stated size never changes; one for "the newest size" does.
    let cache = if explicit_size.is_some() {
        "public, max-age=86400"
    } else {
        "no-cache"
    };
    Ok(answer(
        StatusCode::OK,
        "application/json",
        cache,
        body.to_string(),
    ))
}

/// The root of the first `size` entries (from stored nodes).
async fn root_at(
    state: &AppState,
    head: &LogHead,
    size: u64,
) -> Result<zhifa_ledger::Hash, LogError> {
    state
        .store
        .log_root_at(head.log_id, head.alg, size)
        .await
        .map_err(store_error)
}

#[derive(Deserialize)]
struct ConsistencyQuery {
    from: Option<String>,
    to: Option<String>,
}

async fn consistency(
    State(state): State<AppState>,
    Path(agency): Path<String>,
    Query(q): Query<ConsistencyQuery>,
) -> LogResult {
    let head = head(&state, &agency).await?;
    let signed = signed_size(&state, &head).await?;
    let (from, to) = match (
        number(q.from.as_deref(), "from"),
        number(q.to.as_deref(), "to"),
    ) {
        (Ok(Some(f)), Ok(t)) => (f, t.unwrap_or(signed)),
        (Ok(None), _) => return Err(bad_request("请提供 from 参数")),
        (Err(r), _) | (_, Err(r)) => return Err(r),
    };
    if from == 0 || from > to || to > signed {
        return Err(bad_request(&format!("参数应满足 1 ≤ from ≤ to ≤ {signed}")));
    }
    let plan = match consistency_plan(from, to) {
        Ok(p) => p,
        Err(e) => return Err(bad_request(&e.to_string())),
    };
    let nodes = match state.store.log_nodes(head.log_id, &plan.nodes()).await {
        Ok(n) => n,
        Err(e) => return Err(store_error(e)),
    };
    let proof = match plan.assemble(head.alg, |id| nodes.get(&id).copied()) {
        Ok(p) => p,
        Err(e) => return Err(store_error(StoreError::Corrupt(e.to_string()))),
    };
    let (r1, r2) = match (
        root_at(&state, &head, from).await,
        root_at(&state, &head, to).await,
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(r), _) | (_, Err(r)) => return Err(r),
    };
    let body = serde_json::json!({
        "log": head.origin,
        "hash_algorithm": head.alg.code(),
        "from": from,
        "to": to,
        "proof": proof.iter().map(|h| B64.encode(h)).collect::<Vec<_>>(),
        "root_from": B64.encode(r1),
        "root_to": B64.encode(r2),
    });
    Ok(answer(
        StatusCode::OK,
        "application/json",
        "public, max-age=60",
        body.to_string(),
    ))
}
