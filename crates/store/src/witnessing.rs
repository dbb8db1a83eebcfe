//! This installation's logs witnessed by others (C2SP `tlog-witness`, the log's side):
//! the witnesses an administrator chose, what to send each one (the newest checkpoint with
//! a consistency proof from the size it cosigned last), and the cosignatures obtained,
//! served with the checkpoint. Sending is the caller's (the server's checkpointer);
//! deciding is the witness's (`witness.rs` on its installation).

use crate::db::Store;
use crate::error::StoreError;
use crate::write::Actor;
use sqlx::Row;
use zhifa_ledger::witness::{AddCheckpoint, CosignatureVerifier};

/// A witness this installation's logs ask for cosignatures.
#[derive(Debug, Clone)]
pub struct LogWitness {
    /// Its key name (e.g. `county.example/witness`).
    pub name: String,
    pub vkey: String,
    /// Its submission prefix: requests go to `<url>/add-checkpoint`.
    pub url: String,
    pub added_at: i64,
    /// Whether the row is bound to this installation's entry key.
    pub genuine: bool,
}

impl LogWitness {
    pub fn verifier(&self) -> Result<CosignatureVerifier, StoreError> {
        CosignatureVerifier::parse(&self.vkey)
            .map_err(|e| StoreError::Corrupt(format!("witness key {}: {e}", self.name)))
    }
}

fn witness_code(store: &Store, vkey: &str, url: &str) -> String {
    store.state_code("log_witness", &[vkey, url])
}

/// A submission prefix: an http(s) URL without spaces, query or fragment.
fn valid_url(url: &str) -> bool {
    (url.starts_with("http://") || url.starts_with("https://"))
        && url.len() > "https://".len()
        && url.len() <= 500
        && !url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '?' || c == '#')
}

impl Store {
    /// Asks a witness to cosign this installation's logs from now on (an administrator's
    /// act, written to the installation's log). Returns the witness's name.
    pub async fn use_witness(
        &self,
        actor: Actor,
        vkey: &str,
        url: &str,
    ) -> Result<String, StoreError> {
        let verifier = CosignatureVerifier::parse(vkey).map_err(|e| {
            StoreError::field(
                "key",
                format!("见证方公钥格式不正确（{e}）：应为见证方提供的 cosignature/v1 公钥"),
            )
        })?;
        let url = url.trim().trim_end_matches('/');
        if !valid_url(url) {
            return Err(StoreError::field(
                "url",
                "见证方地址应为 http:// 或 https:// 开头的网址（例如 https://县.example/witness）",
            ));
        }
        let vkey = vkey.trim();
        let mut tx = self.write(actor).await?;
        sqlx::query(
            "INSERT INTO log_witnesses (vkey, name, url, added_at, mac) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (vkey) DO UPDATE SET url = excluded.url, mac = excluded.mac",
        )
        .bind(vkey.to_owned())
        .bind(verifier.name.clone())
        .bind(url.to_owned())
        .bind(tx.now())
        .bind(witness_code(self, vkey, url))
        .execute(tx.conn())
        .await?;
        tx.record_event(
            None,
            "witness.use",
            "log_witness",
            verifier.name.clone(),
            serde_json::json!({ "key": vkey, "url": url }),
        );
        tx.commit().await?;
        Ok(verifier.name)
    }

    /// Stops asking a witness (by its name). The cosignatures it gave stay.
    pub async fn drop_witness(&self, actor: Actor, name: &str) -> Result<(), StoreError> {
        let mut tx = self.write(actor).await?;
        let gone = sqlx::query("DELETE FROM log_witnesses WHERE name = $1")
            .bind(name.to_owned())
            .execute(tx.conn())
            .await?
            .rows_affected();
        if gone == 0 {
            return Err(StoreError::NotFound);
        }
        tx.record_event(
            None,
            "witness.drop",
            "log_witness",
            name,
            serde_json::json!({}),
        );
        tx.commit().await?;
        Ok(())
    }

    /// The witnesses this installation's logs ask, by name.
    pub async fn log_witnesses(&self) -> Result<Vec<LogWitness>, StoreError> {
        let rows = sqlx::query(
            "SELECT vkey, name, url, added_at, mac FROM log_witnesses ORDER BY name, added_at",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let vkey: String = r.try_get("vkey")?;
                let url: String = r.try_get("url")?;
                let mac: String = r.try_get("mac")?;
                Ok(LogWitness {
                    genuine: mac == witness_code(self, &vkey, &url),
                    name: r.try_get("name")?,
                    vkey,
                    url,
                    added_at: r.try_get("added_at")?,
                })
            })
            .collect()
    }

    /// The size of a log's newest checkpoint that `witness` cosigned.
    pub async fn cosigned_size(&self, log_id: i64, witness: &str) -> Result<u64, StoreError> {
        Ok(self.cosigned(log_id, witness).await?.unwrap_or(0))
    }

    /// Like [`Store::cosigned_size`], `None` when the witness cosigned nothing of the log
    /// (not even its empty tree).
    async fn cosigned(&self, log_id: i64, witness: &str) -> Result<Option<u64>, StoreError> {
        let size: Option<i64> = sqlx::query_scalar(
            "SELECT MAX(size) FROM ledger_cosignatures WHERE log_id = $1 AND witness = $2",
        )
        .bind(log_id)
        .bind(witness.to_owned())
        .fetch_one(&self.pool)
        .await?;
        Ok(size.map(|s| s as u64))
    }

    /// The request that asks a witness to cosign a log's newest checkpoint, with a proof
    /// from `old` (the size the witness cosigned last; by default, the newest size this
    /// database holds a cosignature of). `None` when the newest checkpoint is already
    /// cosigned, or none is signed yet. An `old` beyond the newest checkpoint is a witness
    /// that has seen more of this log than the database holds.
    pub async fn witness_request(
        &self,
        log_id: i64,
        witness: &str,
        old: Option<u64>,
    ) -> Result<Option<AddCheckpoint>, StoreError> {
        let Some((size, note)) = self.latest_checkpoint(log_id).await? else {
            return Ok(None);
        };
        let old = match old {
            Some(o) => o,
            // A log signed only at size 0 (an installation log nothing was written to yet)
            // is sent too: the witness then knows it, and verify finds its cosignature.
            None => match self.cosigned(log_id, witness).await? {
                Some(cosigned) if cosigned == size => return Ok(None),
                Some(cosigned) => cosigned,
                None => 0,
            },
        };
        if old > size {
            return Err(StoreError::Corrupt(format!(
                "见证方 {witness} 已副署本日志至第 {old} 条，而本地最新树头只有 {size} 条：数据库被回滚到旧副本？ / the witness cosigned size {old}, beyond this log's {size}"
            )));
        }
        let proof = if old == 0 || old == size {
            vec![]
        } else {
            let alg = self.log_head(log_id).await?.alg;
            let plan = zhifa_ledger::tree::consistency_plan(old, size)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let nodes = self.log_nodes(log_id, &plan.nodes()).await?;
            plan.assemble(alg, |id| nodes.get(&id).copied())
                .map_err(|e| StoreError::Corrupt(e.to_string()))?
        };
        Ok(Some(AddCheckpoint {
            old_size: old,
            proof,
            checkpoint: note,
        }))
    }

    /// Keeps the cosignatures a witness returned for a request, after checking each line
    /// with the witness's key (lines of other keys are ignored). Returns how many were kept.
    pub async fn store_cosignatures(
        &self,
        log_id: i64,
        witness: &CosignatureVerifier,
        request: &AddCheckpoint,
        response: &str,
    ) -> Result<usize, StoreError> {
        let (text, _) = zhifa_ledger::note::split(&request.checkpoint)
            .map_err(|e| StoreError::Corrupt(format!("stored checkpoint: {e}")))?;
        let size = zhifa_ledger::note::Checkpoint::parse(text)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?
            .size;
        let mut kept = 0;
        for line in response.lines().filter(|l| !l.is_empty()) {
            let Ok(Some(_)) = witness.check_line(text, line) else {
                continue;
            };
            sqlx::query(
                "INSERT INTO ledger_cosignatures (log_id, size, witness, line, cosigned_at)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (log_id, witness, size) DO NOTHING",
            )
            .bind(log_id)
            .bind(size as i64)
            .bind(witness.name.clone())
            .bind(format!("{line}\n"))
            .bind(crate::now_ms())
            .execute(&self.pool)
            .await?;
            kept += 1;
        }
        Ok(kept)
    }

    /// A checkpoint with the cosignature lines obtained for it appended (what clients and
    /// monitors fetch: one note, the log's signature and the witnesses').
    pub async fn cosigned_note(
        &self,
        log_id: i64,
        size: u64,
        note: String,
    ) -> Result<String, StoreError> {
        let lines: Vec<String> = sqlx::query_scalar(
            "SELECT line FROM ledger_cosignatures WHERE log_id = $1 AND size = $2 ORDER BY witness",
        )
        .bind(log_id)
        .bind(size as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(lines.into_iter().fold(note, |mut n, l| {
            n.push_str(&l);
            n
        }))
    }

    /// The newest cosignature of each witness on a log: (witness, size, time in ms).
    pub async fn log_cosignatures(
        &self,
        log_id: i64,
    ) -> Result<Vec<(String, u64, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT c.witness, c.size, c.cosigned_at FROM ledger_cosignatures c
             WHERE c.log_id = $1 AND c.size = (SELECT MAX(size) FROM ledger_cosignatures d
                 WHERE d.log_id = c.log_id AND d.witness = c.witness)
             ORDER BY c.witness",
        )
        .bind(log_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("witness")?,
                    r.try_get::<i64, _>("size")? as u64,
                    r.try_get("cosigned_at")?,
                ))
            })
            .collect()
    }
}

/// What a witness's cosignatures held by this database say, for `zhifa verify --witness`.
#[derive(Debug, Default)]
pub struct WitnessFindings {
    /// Each cosigned checkpoint: the log must contain it.
    pub claims: Vec<crate::rollback::SignedHead>,
    /// Logs without a cosignature of the witness, and cosignatures that do not verify.
    pub failures: Vec<String>,
}

impl Store {
    /// Checks every stored cosignature of `witness` against the checkpoint it is on, and
    /// returns each cosigned checkpoint as a claim the log must meet.
    pub async fn witness_findings(
        &self,
        witness: &CosignatureVerifier,
    ) -> Result<WitnessFindings, StoreError> {
        let mut out = WitnessFindings::default();
        for head in self.log_heads().await? {
            let checkpoints: std::collections::HashMap<u64, String> =
                self.checkpoints(head.log_id).await?.into_iter().collect();
            if checkpoints.is_empty() {
                continue;
            }
            let rows = sqlx::query(
                "SELECT size, line FROM ledger_cosignatures WHERE log_id = $1 AND witness = $2 ORDER BY size",
            )
            .bind(head.log_id)
            .bind(witness.name.clone())
            .fetch_all(&self.pool)
            .await?;
            if rows.is_empty() {
                out.failures.push(format!(
                    "日志 {} 没有见证方 {} 的副署 / log {} has no cosignature of {}",
                    head.origin, witness.name, head.origin, witness.name
                ));
                continue;
            }
            for r in &rows {
                let size = r.try_get::<i64, _>("size")? as u64;
                let line: String = r.try_get("line")?;
                let text = checkpoints
                    .get(&size)
                    .and_then(|note| zhifa_ledger::note::split(note).ok())
                    .map(|(t, _)| t);
                let verified = text.map(|t| witness.check_line(t, &line));
                match (text, verified) {
                    (Some(text), Some(Ok(Some(_)))) => {
                        let cp = zhifa_ledger::note::Checkpoint::parse(text)
                            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                        out.claims.push(crate::rollback::SignedHead {
                            origin: cp.origin,
                            size: cp.size,
                            root: cp.root,
                            source: format!("见证方 {} 的副署 / cosigned by {}", witness.name, witness.name),
                        });
                    }
                    _ => out.failures.push(format!(
                        "日志 {} 第 {size} 条处的见证副署无效或其树头缺失 / the cosignature of {} at size {size} does not verify",
                        head.origin, witness.name
                    )),
                }
            }
        }
        Ok(out)
    }
}
