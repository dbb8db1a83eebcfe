//! Witnessing over HTTP: asking each witness to cosign this installation's newest
//! checkpoints (after every checkpointer run), the `zhifa witness` commands, and fetching
//! a witness's own view of our logs for `zhifa verify --witness-url`.
//!
//! What to send and what to keep are the store's (`witnessing.rs`); the witness's decision
//! is on its own installation. A witness that refuses is reported (`/healthz`, the
//! administrators' home page), never obeyed blindly: its answers are not signed.

use crate::config::WitnessCommand;
use anyhow::{anyhow, bail};
use std::time::Duration;
use zhifa_ledger::witness::{CosignatureVerifier, parse_size};
use zhifa_store::keys::KeyStore;
use zhifa_store::ledger::LogHead;
use zhifa_store::witnessing::LogWitness;
use zhifa_store::{Actor, Store, now_ms};

/// The HTTP client for witnesses: short timeouts, so a witness that is down delays
/// nothing else for long.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(15))
        .user_agent(concat!("zhifa/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("a client without TLS or proxies builds")
}

/// Asks every witness to cosign every log's newest checkpoint, and notes how each went.
pub async fn submit_all(store: &Store, client: &reqwest::Client) {
    let witnesses = match store.log_witnesses().await {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(error = %e, "could not read the witnesses");
            return;
        }
    };
    if witnesses.is_empty() {
        return;
    }
    let heads = match store.log_heads().await {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!(error = %e, "could not read the logs");
            return;
        }
    };
    for w in witnesses {
        let problems = if w.genuine {
            let mut problems = Vec::new();
            for head in &heads {
                if let Err(e) = submit(store, client, &w, head).await {
                    tracing::warn!(witness = %w.name, log = %head.origin, "{e}");
                    problems.push(format!("{}：{e}", head.origin));
                }
            }
            problems
        } else {
            vec!["这条见证方配置不是本系统写入的（数据库被直接修改？），未使用 / the witness's row was not written by zhifa; not used".into()]
        };
        let problem = (!problems.is_empty()).then(|| problems.join("；"));
        store.record_witness_run(&w.name, now_ms(), problem);
    }
}

/// Asks one witness to cosign one log's newest checkpoint. A 409 says which size the
/// witness cosigned last: the request is made again with a proof from there.
async fn submit(
    store: &Store,
    client: &reqwest::Client,
    w: &LogWitness,
    head: &LogHead,
) -> Result<(), String> {
    let verifier = w.verifier().map_err(|e| e.to_string())?;
    let mut old = None;
    for _ in 0..3 {
        let req = match store.witness_request(head.log_id, &w.name, old).await {
            Ok(Some(r)) => r,
            Ok(None) => return Ok(()),
            Err(e) => return Err(e.to_string()),
        };
        let resp = client
            .post(format!("{}/add-checkpoint", w.url))
            .header("content-type", "text/plain; charset=utf-8")
            .body(req.body())
            .send()
            .await
            .map_err(|e| format!("无法连接见证方 / cannot reach the witness: {e}"))?;
        let status = resp.status().as_u16();
        let body = resp.text().await.unwrap_or_default();
        let said: String = body.trim().chars().take(300).collect();
        match status {
            200 => {
                let kept = store
                    .store_cosignatures(head.log_id, &verifier, &req, &body)
                    .await
                    .map_err(|e| e.to_string())?;
                if kept == 0 {
                    return Err("见证方的回复中没有其公钥的有效副署 / no valid cosignature in the witness's answer".into());
                }
                return Ok(());
            }
            409 => {
                old = Some(parse_size(&body).ok_or_else(|| {
                    format!("见证方的 409 回复格式不正确 / malformed 409 body: {said}")
                })?);
            }
            404 => {
                return Err(
                    "见证方未登记本日志（请见证方管理员用 zhifa witness trust 登记本日志的公钥）/ the witness does not witness this log".into(),
                );
            }
            403 => {
                return Err(
                    "见证方无法以其登记的公钥核验本日志的树头签名（公钥已更换？）/ the witness cannot verify this log's signature".into(),
                );
            }
            422 => {
                return Err(format!(
                    "见证方拒绝副署：本日志与其已副署的树头不一致，日志被回滚或分叉 / the witness refused: this log does not extend what it cosigned ({said})"
                ));
            }
            s => return Err(format!("见证方返回 {s} / the witness answered {s}: {said}")),
        }
    }
    Err("见证方反复报告大小冲突 / the witness kept answering 409".into())
}

/// The witness's own newest cosigned checkpoint of each of our logs, checked with its
/// key, as claims the logs must meet (`zhifa verify --witness-url`), and the logs it has
/// none of.
pub async fn fetch_claims(
    store: &Store,
    witness: &CosignatureVerifier,
    url: &str,
) -> anyhow::Result<(Vec<zhifa_store::rollback::SignedHead>, Vec<String>)> {
    let client = client();
    let mut claims = Vec::new();
    let mut missing = Vec::new();
    for head in store.log_heads().await? {
        let hash = zhifa_store::witness::origin_hash(&head.origin);
        let resp = client
            .get(format!("{}/{hash}/checkpoint", url.trim_end_matches('/')))
            .send()
            .await
            .map_err(|e| anyhow!("无法连接见证方 / cannot reach the witness at {url}: {e}"))?;
        if resp.status().as_u16() == 404 {
            missing.push(format!(
                "见证方 {} 没有日志 {} 的副署 / the witness has no cosigned checkpoint of {}",
                witness.name, head.origin, head.origin
            ));
            continue;
        }
        if !resp.status().is_success() {
            bail!(
                "见证方返回 {} / the witness answered {}",
                resp.status(),
                resp.status()
            );
        }
        let note = resp.text().await?;
        witness.cosigned_at(&note).map_err(|e| {
            anyhow!(
                "见证方返回的日志 {} 树头没有其有效副署 / the witness's checkpoint of {} does not carry its valid cosignature: {e}",
                head.origin,
                head.origin
            )
        })?;
        let cp = zhifa_ledger::note::split(&note)
            .and_then(|(text, _)| zhifa_ledger::note::Checkpoint::parse(text))
            .map_err(|e| anyhow!("见证方返回的树头格式错误 / malformed checkpoint: {e}"))?;
        if cp.origin != head.origin {
            bail!("见证方返回了另一个日志的树头 / the witness answered for another log");
        }
        claims.push(zhifa_store::rollback::SignedHead {
            origin: cp.origin,
            size: cp.size,
            root: cp.root,
            source: format!(
                "见证方 {}（在线）/ witness {} online",
                witness.name, witness.name
            ),
        });
    }
    Ok((claims, missing))
}

/// `zhifa witness …`
pub async fn command(
    store: Store,
    keys: Option<KeyStore>,
    cmd: WitnessCommand,
) -> anyhow::Result<()> {
    let by = Actor::System("witness");
    let need_keys = || {
        keys.clone()
            .ok_or_else(|| anyhow!("请用 --key-dir 指定密钥目录 / use --key-dir"))
    };
    match cmd {
        WitnessCommand::Key { name } => {
            let keys = need_keys()?;
            let cosigner = match (keys.cosigner()?, name) {
                (Some(c), _) => c,
                (None, Some(name)) => keys.create_cosigner(&name)?,
                (None, None) => bail!(
                    "本系统尚无见证密钥：首次请用 --name 指定见证方名称（如 county.example/witness）\n\
                     no witness key yet: give --name to create one"
                ),
            };
            println!("{}", cosigner.verifier_key());
        }
        WitnessCommand::Trust { key, name } => {
            if need_keys()?.cosigner()?.is_none() {
                bail!(
                    "请先用 zhifa witness key --name … 创建见证密钥 / create the witness key first"
                );
            }
            let origin = store.trust_witnessed_log(by, &key, &name).await?;
            println!("已登记，将为日志 {origin} 副署 / now witnessing {origin}");
        }
        WitnessCommand::Reset { origin, confirm } => {
            let keys = need_keys()?;
            if !confirm {
                bail!(
                    "将忘记已为 {origin} 副署的树头并从头见证（冲突记录保留，操作记入系统日志）；确认请加 --confirm\n\
                     add --confirm to forget what was cosigned for {origin}"
                );
            }
            match store.reset_witnessed_log(by, &keys, &origin).await {
                Ok(size) => println!(
                    "已重置；此前副署至第 {} 条 / reset; it had been cosigned up to size {}",
                    size.unwrap_or(0),
                    size.unwrap_or(0)
                ),
                Err(zhifa_store::StoreError::NotFound) => {
                    bail!("本系统不见证日志 {origin} / not witnessing {origin}")
                }
                Err(e) => return Err(e.into()),
            }
        }
        WitnessCommand::Use { key, url } => {
            let name = store.use_witness(by, &key, &url).await?;
            println!("已登记见证方 {name}，将在每次签发树头后请其副署 / witness {name} added");
        }
        WitnessCommand::Drop { name } => match store.drop_witness(by, &name).await {
            Ok(()) => println!("已移除见证方 {name} / witness {name} dropped"),
            Err(zhifa_store::StoreError::NotFound) => {
                bail!("没有见证方 {name} / no witness {name}")
            }
            Err(e) => return Err(e.into()),
        },
        WitnessCommand::List => {
            if let Some(c) = keys.as_ref().map(|k| k.cosigner()).transpose()?.flatten() {
                println!(
                    "本系统见证密钥 / this installation's witness key: {}",
                    c.verifier_key()
                );
            }
            for l in store.witnessed_logs().await? {
                let cosigned = l
                    .cosigned
                    .map(|(s, at, _)| format!("size={s} at={at}"))
                    .unwrap_or_else(|| "尚未副署 / none yet".into());
                let flag = if l.genuine {
                    ""
                } else {
                    "  【配置非本系统写入，未使用】"
                };
                println!(
                    "见证 / witnessing {}  ({})  {cosigned}{flag}",
                    l.origin, l.name
                );
            }
            for c in store.witness_conflicts(20).await? {
                println!(
                    "冲突 / conflict {}  at={}  old={} size={} cosigned={}  {}",
                    c.origin, c.received_at, c.old_size, c.size, c.cosigned_size, c.reason
                );
            }
            for w in store.log_witnesses().await? {
                let flag = if w.genuine {
                    ""
                } else {
                    "  【配置非本系统写入，未使用】"
                };
                println!("见证方 / witness {}  {}{flag}", w.name, w.url);
                for head in store.log_heads().await? {
                    println!(
                        "    {}  cosigned up to {}",
                        head.origin,
                        store.cosigned_size(head.log_id, &w.name).await?
                    );
                }
            }
        }
        WitnessCommand::Submit => {
            submit_all(&store, &client()).await;
            let mut failed = false;
            for (name, _, problem) in store.witness_runs() {
                match problem {
                    None => println!("见证方 {name}：已副署 / cosigned"),
                    Some(p) => {
                        failed = true;
                        println!("见证方 {name}：{p}");
                    }
                }
            }
            if failed {
                bail!("部分见证未成功 / some witnessing failed");
            }
        }
    }
    Ok(())
}
