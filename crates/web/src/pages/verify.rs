//! 记录核验: the portal page that explains the log and checks a record's inclusion — on
//! the server (works without JavaScript) and, with JavaScript, again in the browser.

use super::{html, portal_chrome};
use crate::AppState;
use crate::error::PageError;
use crate::session::MaybeUser;
use crate::view::{
    CheckResult, ConflictRow, LogRow, VerifyPage, WitnessSection, WitnessedRow, action_label,
    fmt_time,
};
use axum::Router;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;
use zhifa_ledger::entry::Entry;
use zhifa_ledger::note::{Checkpoint, NoteVerifier, open};
use zhifa_ledger::tree::{inclusion_plan, verify_inclusion};
use zhifa_store::ledger::LogHead;

pub fn router() -> Router<AppState> {
    Router::new().route("/verify", get(page))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Q {
    agency: String,
    hash: String,
}

async fn page(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    Query(q): Query<Q>,
) -> Result<Response, PageError> {
    let agencies = state.store.list_agencies().await?;
    let mut logs = Vec::new();
    for a in &agencies {
        let size = state
            .store
            .latest_checkpoint(a.id)
            .await?
            .map(|c| c.0)
            .unwrap_or(0);
        let key = state
            .store
            .log_keys(a.id)
            .await?
            .into_iter()
            .rev()
            .find(|(_, retired)| !retired)
            .map(|(k, _)| k);
        let witnessed = state
            .store
            .log_cosignatures(a.id)
            .await?
            .into_iter()
            .map(|(w, size, at)| format!("{w} 已副署至第 {size} 条（{}）", fmt_time(at)))
            .collect();
        logs.push(LogRow {
            name: a.name.clone(),
            slug: a.slug.clone(),
            size,
            key,
            witnessed,
        });
    }
    let hash = q.hash.trim().chars().take(100).collect::<String>();
    let result = if hash.is_empty() {
        None
    } else {
        // Only the chosen agency's head is needed.
        Some(match agencies.iter().find(|a| a.slug == q.agency) {
            None => failed("请选择执法主体"),
            Some(a) => check(&state, &state.store.log_head(a.id).await?, &hash).await?,
        })
    };
    let site = agencies
        .iter()
        .find(|a| a.parent_id.is_none())
        .map(|a| a.name.clone())
        .unwrap_or_else(|| "zhifa 行政执法平台".into());
    Ok(html(&VerifyPage {
        chrome: portal_chrome(site, user.as_ref()),
        agency: if q.agency.is_empty() {
            logs.first().map(|l| l.slug.clone()).unwrap_or_default()
        } else {
            q.agency
        },
        logs,
        witness: witness_section(&state).await?,
        hash,
        result,
    }))
}

/// What this installation witnesses, when it is a witness.
async fn witness_section(state: &AppState) -> Result<Option<WitnessSection>, PageError> {
    let key = match &state.keys {
        Some(k) => k.cosigner()?.map(|c| c.verifier_key()),
        None => None,
    };
    let witnessed = state.store.witnessed_logs().await?;
    if key.is_none() && witnessed.is_empty() {
        return Ok(None);
    }
    let name_of = |origin: &str| {
        witnessed
            .iter()
            .find(|l| l.origin == origin)
            .map(|l| l.name.clone())
            .unwrap_or_default()
    };
    let conflicts = state
        .store
        .witness_conflicts(20)
        .await?
        .into_iter()
        .map(|c| ConflictRow {
            time: fmt_time(c.received_at),
            name: name_of(&c.origin),
            summary: format!(
                "已副署至第 {} 条；送来的第 {} 条树头不是它的延续：日志被回滚或出现分叉，本见证方拒绝副署",
                c.cosigned_size, c.size
            ),
            origin: c.origin,
            reason: c.reason,
            checkpoint: c.checkpoint,
        })
        .collect();
    let logs = witnessed
        .iter()
        .filter(|l| l.genuine)
        .map(|l| WitnessedRow {
            name: l.name.clone(),
            origin: l.origin.clone(),
            cosigned: match &l.cosigned {
                Some((size, at, _)) => format!("第 {size} 条（{}）", fmt_time(*at)),
                None => "尚未副署".into(),
            },
            hash: zhifa_store::witness::origin_hash(&l.origin),
        })
        .collect();
    Ok(Some(WitnessSection {
        key,
        logs,
        conflicts,
    }))
}

fn failed(message: &str) -> CheckResult {
    CheckResult {
        verified: false,
        message: message.to_owned(),
        origin: String::new(),
        index: 0,
        size: 0,
        time: String::new(),
        action: "",
        subject: String::new(),
        actor: String::new(),
        root: String::new(),
        proof: vec![],
    }
}

/// Finds the record by leaf hash and checks its inclusion in the newest signed checkpoint.
async fn check(state: &AppState, head: &LogHead, raw: &str) -> Result<CheckResult, PageError> {
    let Some(hash) = zhifa_ledger::hash::from_hex(raw).filter(|h| h.len() == 32) else {
        return Ok(failed("叶哈希应为 64 位十六进制字符"));
    };
    let Some((_, note)) = state.store.latest_checkpoint(head.log_id).await? else {
        return Ok(failed("该日志尚未签发树头"));
    };
    let keys: Vec<NoteVerifier> = state
        .store
        .log_keys(head.log_id)
        .await?
        .iter()
        .filter_map(|(k, _)| NoteVerifier::parse(k).ok())
        .collect();
    let Ok((text, _)) = open(&note, &keys) else {
        return Ok(failed("树头签名无效"));
    };
    let Ok(cp) = Checkpoint::parse(text) else {
        return Ok(failed("树头格式无效"));
    };
    let Some(index) = state.store.leaf_index(head.log_id, &hash).await? else {
        return Ok(failed("日志中没有这个哈希的记录"));
    };
    if index >= cp.size {
        return Ok(failed("该记录尚未被签名树头覆盖，请稍后（一分钟内）再试"));
    }
    let Ok(plan) = inclusion_plan(index, cp.size) else {
        return Ok(failed("无法生成证明"));
    };
    let nodes = state.store.log_nodes(head.log_id, &plan.nodes()).await?;
    let Ok(proof) = plan.assemble(head.alg, |id| nodes.get(&id).copied()) else {
        return Ok(failed("证明所需的树节点缺失"));
    };
    let entry_bytes = state
        .store
        .log_entries(head.log_id, index, index + 1)
        .await?;
    let entry = entry_bytes.first().and_then(|(_, b)| Entry::decode(b).ok());
    let leaf_ok = entry_bytes
        .first()
        .is_some_and(|(_, b)| head.alg.leaf(b).as_slice() == hash.as_slice());
    let verified =
        leaf_ok && verify_inclusion(head.alg, index, cp.size, &hash, &proof, &cp.root).is_ok();
    Ok(CheckResult {
        verified,
        message: if verified {
            String::new()
        } else {
            "核验未通过：证明与已签名的树头不符".into()
        },
        origin: cp.origin,
        index,
        size: cp.size,
        time: entry
            .as_ref()
            .map(|e| fmt_time(e.time_ms))
            .unwrap_or_default(),
        action: entry
            .as_ref()
            .map(|e| action_label(&e.action))
            .unwrap_or(""),
        subject: entry
            .as_ref()
            .map(|e| format!("{} {}", e.subject_kind, e.subject_id))
            .unwrap_or_default(),
        actor: entry.map(|e| e.actor).unwrap_or_default(),
        root: zhifa_ledger::hash::to_hex(&cp.root),
        proof: proof
            .iter()
            .map(|h| zhifa_ledger::hash::to_hex(h))
            .collect(),
    })
}
