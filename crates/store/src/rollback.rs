//! Rollback and forks caught.
//!
//! A database put back to an older copy beside the current key directory holds a log
//! shorter than what was signed and published: entries the public, a court or a witness
//! has seen are gone. The signer's records (`keys/*.signed`, written outside the database
//! after each checkpoint) and any checkpoint obtained elsewhere (`--trusted-checkpoint`)
//! each claim "this log had this size with this root". A claim the stored log does not
//! meet — the log is shorter, or its tree at that size has another root — is a rollback
//! or a fork. `zhifa verify` fails on it; a server that finds it reports it in `/healthz`
//! and on the administrators' home page and refuses every change of record
//! (`Store::halted`, `health.rs`, checked in `WriteTx::commit`) until an administrator re-bases the
//! signer with `zhifa ledger rebase`, an act written to the installation's log that names
//! the signed entries lost.

use crate::error::StoreError;
use crate::keys::KeyStore;
use crate::ledger::LogHead;
use crate::{Actor, Store};
use zhifa_ledger::Hash;

/// A log's size and root as someone signed them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHead {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    /// Where the claim comes from, for messages ("签名记录", a file name).
    pub source: String,
}

/// A claim the stored log does not meet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmet {
    pub claim: SignedHead,
    /// The log's size now (`None`: the log is gone).
    pub size_now: Option<u64>,
}

impl std::fmt::Display for Unmet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c = &self.claim;
        match self.size_now {
            None => write!(
                f,
                "日志 {} 已签名至第 {} 条（{}），但数据库中已没有这个日志 / log {} was signed at size {} but is gone",
                c.origin, c.size, c.source, c.origin, c.size
            ),
            Some(now) if now < c.size => write!(
                f,
                "日志 {} 现有 {now} 条，而已签名至 {} 条（{}）：已签名的记录丢失，数据库被回滚到旧副本？/ log {} has {now} entries but was signed at size {}: rolled back",
                c.origin, c.size, c.source, c.origin, c.size
            ),
            Some(_) => write!(
                f,
                "日志 {} 在第 {} 条处的根哈希与已签名的不同（{}）：日志被改写或分叉 / log {} differs from its signed root at size {}: forked",
                c.origin, c.size, c.source, c.origin, c.size
            ),
        }
    }
}

impl KeyStore {
    /// What this key store signed for each of `heads` (logs it never signed are absent),
    /// and for the installation's own logs even when `heads` lacks them: an agency log is
    /// announced in the installation's log (`zhifa verify` misses none), but nothing
    /// announces the installation's logs, so one deleted whole is found here.
    pub fn signed_heads(&self, heads: &[LogHead]) -> Result<Vec<SignedHead>, StoreError> {
        let mut origins: Vec<String> = heads.iter().map(|h| h.origin.clone()).collect();
        for origin in crate::ledger::installation_origins() {
            if !origins.contains(&origin) {
                origins.push(origin);
            }
        }
        let mut out = Vec::new();
        for origin in origins {
            if let Some((size, root)) = self.last_signed(&origin)? {
                out.push(SignedHead {
                    origin,
                    size,
                    root,
                    source: "签名记录 / signer's record".into(),
                });
            }
        }
        Ok(out)
    }
}

impl Store {
    /// The claims that the stored logs do not meet.
    pub async fn unmet_claims(&self, claims: &[SignedHead]) -> Result<Vec<Unmet>, StoreError> {
        let heads = self.log_heads().await?;
        let mut out = Vec::new();
        for c in claims {
            let Some(head) = heads.iter().find(|h| h.origin == c.origin) else {
                out.push(Unmet {
                    claim: c.clone(),
                    size_now: None,
                });
                continue;
            };
            let met = head.size >= c.size
                && match self.log_root_at(head.log_id, head.alg, c.size).await {
                    Ok(root) => root == c.root,
                    Err(StoreError::Corrupt(_)) => false,
                    Err(e) => return Err(e),
                };
            if !met {
                out.push(Unmet {
                    claim: c.clone(),
                    size_now: Some(head.size),
                });
            }
        }
        Ok(out)
    }

    /// The signer's records that the stored logs do not meet.
    pub async fn rollback_findings(&self, keys: &KeyStore) -> Result<Vec<Unmet>, StoreError> {
        let heads = self.log_heads().await?;
        self.unmet_claims(&keys.signed_heads(&heads)?).await
    }

    /// Accepts that the logs are behind what was signed: for each unmet record, writes an
    /// entry to the installation's log naming the signed entries lost, and records the
    /// log's current head as the signer's starting point, so that signing resumes from
    /// what the database holds. Returns what was accepted. An explicit act of an
    /// administrator (`zhifa ledger rebase`), never done by itself.
    pub async fn rebase_signer(&self, keys: &KeyStore, by: &str) -> Result<Vec<Unmet>, StoreError> {
        let unmet = self.rollback_findings(keys).await?;
        if unmet.is_empty() {
            return Ok(unmet);
        }
        let heads = self.log_heads().await?;
        // The signer's starting points first, at the heads as they stand: the entry that
        // records the act then extends them, and is signed with what follows.
        for u in &unmet {
            if let Some(h) = heads.iter().find(|h| h.origin == u.claim.origin) {
                let root = self.log_root_at(h.log_id, h.alg, h.size).await?;
                keys.rebase_signed(&h.origin, h.size, &root)?;
            }
        }
        let mut tx = self.write(Actor::System("rebase")).await?;
        for u in &unmet {
            tx.record_event(
                None,
                "ledger.rebase",
                "log",
                &u.claim.origin,
                serde_json::json!({
                    "by": by,
                    "signed_size": u.claim.size,
                    "signed_root": zhifa_ledger::hash::to_hex(&u.claim.root),
                    "size_now": u.size_now,
                    "lost": u.size_now.map(|n| u.claim.size.saturating_sub(n)),
                    "finding": u.to_string(),
                }),
            );
        }
        tx.commit().await?;
        self.set_halted(crate::health::Concern::Rollback, Vec::new());
        Ok(unmet)
    }
}
