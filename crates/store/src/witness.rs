//! This installation as a witness (C2SP `tlog-witness`): a county's zhifa cosigning the
//! checkpoints of its townships' logs, so that a township's rollback or split view is seen
//! by someone its operator does not control.
//!
//! What the witness trusts (each log's public key) is an administrator's act, written to
//! the installation's log and bound to the entry key (`mac`), so the database alone cannot
//! add a log or swap its key. The newest cosigned (size, root) of each log is kept twice:
//! in the database (with the cosigned note, for the portal and the monitoring endpoint)
//! and beside the witness key (`witness/<origin>.cosigned`), so that putting back an older
//! copy of this database does not make the witness forget what it cosigned and cosign a
//! fork. The decision itself is `zhifa_ledger::witness::check`.

use crate::db::Store;
use crate::error::StoreError;
use crate::keys::KeyStore;
use crate::write::Actor;
use sqlx::Row;
use std::io::Write as _;
use zhifa_ledger::Hash;
use zhifa_ledger::note::NoteVerifier;
use zhifa_ledger::witness::{AddCheckpoint, Cosigner, Refusal, check};

const KEY_FILE: &str = "witness.key";
const KEY_KIND: &str = "cosignature/v1";

fn io(e: std::io::Error, what: &std::path::Path) -> StoreError {
    StoreError::Keys(format!("{}：{e}", what.display()))
}

/// A log this installation witnesses, as the portal lists it.
#[derive(Debug, Clone)]
pub struct WitnessedLog {
    pub origin: String,
    /// Who runs the log (e.g. 朱堂乡人民政府).
    pub name: String,
    pub vkey: String,
    pub added_at: i64,
    /// The newest cosigned checkpoint: (size, time in ms, the cosigned note).
    pub cosigned: Option<(u64, i64, String)>,
    /// Whether the row is bound to this installation's entry key (a row written with SQL
    /// alone is not trusted).
    pub genuine: bool,
}

/// A checkpoint a witnessed log signed that does not extend what was cosigned.
#[derive(Debug, Clone)]
pub struct Conflict {
    pub origin: String,
    pub received_at: i64,
    pub old_size: u64,
    pub size: u64,
    pub cosigned_size: u64,
    pub reason: String,
    /// The signed checkpoint as received: evidence anyone can check with the log's key.
    pub checkpoint: String,
}

const WITNESSED: &str =
    "SELECT l.origin, l.name, l.vkey, l.added_at, l.mac, h.size, h.cosigned_at, h.note
    FROM witnessed_logs l LEFT JOIN witness_heads h ON h.origin = l.origin";

/// SHA-256 of an origin line, hex: how the monitoring endpoint names a log.
pub fn origin_hash(origin: &str) -> String {
    use sha2::Digest;
    zhifa_ledger::hash::to_hex(&sha2::Sha256::digest(origin.as_bytes()))
}

fn trust_code(store: &Store, origin: &str, name: &str, vkey: &str) -> String {
    store.state_code("witnessed_log", &[origin, name, vkey])
}

impl KeyStore {
    /// This installation's witness key, if it has one.
    pub fn cosigner(&self) -> Result<Option<Cosigner>, StoreError> {
        let path = self.dir().join(KEY_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e, &path)),
        };
        let bad = || StoreError::Keys(format!("{}：格式错误", path.display()));
        let mut parts = text.split_whitespace();
        if parts.next() != Some(KEY_KIND) {
            return Err(bad());
        }
        let name = parts.next().ok_or_else(bad)?;
        let secret: [u8; 32] = parts
            .next()
            .and_then(zhifa_ledger::hash::from_hex)
            .and_then(|v| v.try_into().ok())
            .ok_or_else(bad)?;
        Cosigner::new(name, secret)
            .map(Some)
            .map_err(|e| StoreError::Keys(e.to_string()))
    }

    /// Creates the witness key named `name` (e.g. `county.example/witness`); an existing
    /// key is kept (a witness's key is its identity: replacing it is not a side effect).
    pub fn create_cosigner(&self, name: &str) -> Result<Cosigner, StoreError> {
        if let Some(c) = self.cosigner()? {
            return Ok(c);
        }
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).expect("the operating system provides randomness");
        let cosigner = Cosigner::new(name, secret)
            .map_err(|_| StoreError::field("name", "见证方名称不能为空，且不能含空白或“+”"))?;
        let path = self.dir().join(KEY_FILE);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut f = options.open(&path).map_err(|e| io(e, &path))?;
        writeln!(
            f,
            "{KEY_KIND} {name} {}",
            zhifa_ledger::hash::to_hex(&secret)
        )
        .map_err(|e| io(e, &path))?;
        f.sync_all().map_err(|e| io(e, &path))?;
        Ok(cosigner)
    }

    fn cosigned_path(&self, origin: &str) -> std::path::PathBuf {
        self.dir()
            .join("witness")
            .join(format!("{}.cosigned", origin_hash(origin)))
    }

    /// The newest (size, root) this witness cosigned for a log, as recorded beside its key.
    pub fn witness_record(&self, origin: &str) -> Result<Option<(u64, Hash)>, StoreError> {
        crate::keys::read_head_record(&self.cosigned_path(origin))
    }

    fn record_witnessed(&self, origin: &str, size: u64, root: &Hash) -> Result<(), StoreError> {
        let path = self.cosigned_path(origin);
        let dir = path.parent().expect("inside the key directory");
        std::fs::create_dir_all(dir).map_err(|e| io(e, dir))?;
        crate::keys::write_head_record(&path, size, root)
    }

    /// Forgets what was cosigned for a log (after `Store::reset_witnessed_log`).
    fn forget_witnessed(&self, origin: &str) -> Result<(), StoreError> {
        let path = self.cosigned_path(origin);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(e, &path)),
            _ => Ok(()),
        }
    }
}

impl Store {
    /// Trusts a log's public key: from now on this installation cosigns that log's
    /// checkpoints. The key's name is the log's origin. A new key for a known log replaces
    /// the old one (a township rotated its key), keeping what was cosigned. Written to the
    /// installation's log.
    pub async fn trust_witnessed_log(
        &self,
        actor: Actor,
        vkey: &str,
        name: &str,
    ) -> Result<String, StoreError> {
        let verifier = NoteVerifier::parse(vkey).map_err(|e| {
            StoreError::field(
                "key",
                format!("日志公钥格式不正确（{e}）：应为 名称+编号+密钥"),
            )
        })?;
        let mut errors = zhifa_domain::FieldErrors::default();
        let name = zhifa_domain::validation::required_text(
            &mut errors,
            "name",
            "运行该日志的机关",
            name,
            100,
        );
        if !errors.is_empty() {
            return Err(StoreError::Invalid(errors));
        }
        let origin = verifier.name.clone();
        let vkey = vkey.trim().to_owned();
        let mut tx = self.write(actor).await?;
        let mac = trust_code(self, &origin, &name, &vkey);
        sqlx::query(
            "INSERT INTO witnessed_logs (origin, name, vkey, added_at, mac) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (origin) DO UPDATE SET name = excluded.name, vkey = excluded.vkey, mac = excluded.mac",
        )
        .bind(origin.clone())
        .bind(name.clone())
        .bind(vkey.clone())
        .bind(tx.now())
        .bind(mac)
        .execute(tx.conn())
        .await?;
        tx.record_event(
            None,
            "witness.trust",
            "witnessed_log",
            origin.clone(),
            serde_json::json!({ "origin": origin, "name": name, "key": vkey }),
        );
        tx.commit().await?;
        Ok(origin)
    }

    /// Starts a witnessed log afresh: what was cosigned is forgotten (the conflicts stay on
    /// record). For a township that lost entries and re-based its signer, once the county
    /// has seen the evidence. An explicit act, written to the installation's log.
    pub async fn reset_witnessed_log(
        &self,
        actor: Actor,
        keys: &KeyStore,
        origin: &str,
    ) -> Result<Option<u64>, StoreError> {
        let mut tx = self.write(actor).await?;
        let had: Option<i64> =
            sqlx::query_scalar("SELECT size FROM witness_heads WHERE origin = $1")
                .bind(origin.to_owned())
                .fetch_optional(tx.conn())
                .await?;
        let exists: Option<String> =
            sqlx::query_scalar("SELECT origin FROM witnessed_logs WHERE origin = $1")
                .bind(origin.to_owned())
                .fetch_optional(tx.conn())
                .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound);
        }
        let recorded = keys.witness_record(origin)?.map(|(s, _)| s);
        sqlx::query("DELETE FROM witness_heads WHERE origin = $1")
            .bind(origin.to_owned())
            .execute(tx.conn())
            .await?;
        let forgotten = recorded.max(had.map(|s| s as u64));
        tx.record_event(
            None,
            "witness.reset",
            "witnessed_log",
            origin,
            serde_json::json!({ "origin": origin, "cosigned_size": forgotten }),
        );
        tx.commit().await?;
        keys.forget_witnessed(origin)?;
        Ok(forgotten)
    }

    /// The logs this installation witnesses, by origin.
    pub async fn witnessed_logs(&self) -> Result<Vec<WitnessedLog>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{WITNESSED} ORDER BY l.origin"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| self.witnessed_log_of(r)).collect()
    }

    /// The witnessed log of `origin`, if this installation witnesses it.
    async fn witnessed_log(&self, origin: &str) -> Result<Option<WitnessedLog>, StoreError> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "{WITNESSED} WHERE l.origin = $1"
        )))
        .bind(origin.to_owned())
        .fetch_optional(&self.pool)
        .await?
        .map(|r| self.witnessed_log_of(&r))
        .transpose()
    }

    fn witnessed_log_of(&self, r: &sqlx::any::AnyRow) -> Result<WitnessedLog, StoreError> {
        let origin: String = r.try_get("origin")?;
        let name: String = r.try_get("name")?;
        let vkey: String = r.try_get("vkey")?;
        let mac: String = r.try_get("mac")?;
        let size: Option<i64> = r.try_get("size")?;
        let cosigned = match size {
            Some(s) => Some((s as u64, r.try_get("cosigned_at")?, r.try_get("note")?)),
            None => None,
        };
        Ok(WitnessedLog {
            genuine: mac == trust_code(self, &origin, &name, &vkey),
            origin,
            name,
            vkey,
            added_at: r.try_get("added_at")?,
            cosigned,
        })
    }

    /// The conflicts recorded for witnessed logs, newest first.
    pub async fn witness_conflicts(&self, limit: i64) -> Result<Vec<Conflict>, StoreError> {
        let rows = sqlx::query(
            "SELECT origin, received_at, old_size, size, cosigned_size, reason, checkpoint
             FROM witness_conflicts ORDER BY received_at DESC, id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Conflict {
                    origin: r.try_get("origin")?,
                    received_at: r.try_get("received_at")?,
                    old_size: r.try_get::<i64, _>("old_size")? as u64,
                    size: r.try_get::<i64, _>("size")? as u64,
                    cosigned_size: r.try_get::<i64, _>("cosigned_size")? as u64,
                    reason: r.try_get("reason")?,
                    checkpoint: r.try_get("checkpoint")?,
                })
            })
            .collect()
    }

    /// The newest cosigned checkpoint of the log whose origin hashes to `hash` (the
    /// protocol's monitoring endpoint).
    pub async fn witnessed_checkpoint(&self, hash: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .witnessed_logs()
            .await?
            .into_iter()
            .filter(|l| l.genuine && origin_hash(&l.origin) == hash)
            .find_map(|l| l.cosigned.map(|(_, _, note)| note)))
    }

    /// Answers an `add-checkpoint` request: the cosignature line(s) to return, or the
    /// refusal. The check of the old size against what was cosigned and the record of the
    /// new head happen in one transaction (the protocol requires it to be atomic: two
    /// requests racing must not roll the record back), and the record beside the key is
    /// written before the answer leaves.
    pub async fn witness_add_checkpoint(
        &self,
        keys: &KeyStore,
        body: &str,
    ) -> Result<Result<String, Refusal>, StoreError> {
        let req = match AddCheckpoint::parse(body) {
            Ok(r) => r,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let Some(cosigner) = keys.cosigner()? else {
            return Ok(Err(Refusal::UnknownLog));
        };
        let origin = req.origin().to_owned();
        let Some(log) = self.witnessed_log(&origin).await? else {
            return Ok(Err(Refusal::UnknownLog));
        };
        if !log.genuine {
            tracing::error!(%origin, "the trusted key of this witnessed log was not written by zhifa; refusing");
            return Ok(Err(Refusal::UnknownLog));
        }
        let keys_of_log = match NoteVerifier::parse(&log.vkey) {
            Ok(v) => vec![v],
            Err(_) => return Ok(Err(Refusal::UnknownLog)),
        };
        let mut tx = self.write(Actor::Anonymous).await?;
        // PostgreSQL: the log's trust row (which exists before anything was cosigned) is
        // locked, so that two first requests cannot both find nothing cosigned and the
        // smaller one land last. SQLite's writer holds the whole file already.
        if self.backend() == crate::Backend::Postgres {
            sqlx::query("SELECT origin FROM witnessed_logs WHERE origin = $1 FOR UPDATE")
                .bind(origin.clone())
                .fetch_optional(tx.conn())
                .await?;
        }
        let stored = sqlx::query("SELECT size, root FROM witness_heads WHERE origin = $1")
            .bind(origin.clone())
            .fetch_optional(tx.conn())
            .await?
            .map(|r| -> Result<(u64, Hash), StoreError> {
                let root: String = r.try_get("root")?;
                let root = zhifa_ledger::hash::from_hex(&root)
                    .and_then(|v| v.try_into().ok())
                    .ok_or_else(|| StoreError::Corrupt("witness_heads.root".into()))?;
                Ok((r.try_get::<i64, _>("size")? as u64, root))
            })
            .transpose()?;
        // The record beside the key wins over a database that was put back: the witness
        // must never forget a size it cosigned.
        let latest = match (stored, keys.witness_record(&origin)?) {
            (Some(db), Some(file)) if file.0 > db.0 => Some(file),
            (Some(db), Some(file)) if file.0 == db.0 && file.1 != db.1 => {
                return Err(StoreError::Corrupt(format!(
                    "the witness's record of {origin} differs from its database"
                )));
            }
            (Some(db), _) => Some(db),
            (None, file) => file,
        };
        let (cp, text) = match check(&req, &keys_of_log, latest) {
            Ok(ok) => ok,
            Err(refusal) => {
                if let Refusal::Inconsistent(reason) = &refusal {
                    tracing::error!(%origin, %reason, "witnessed log is inconsistent with what was cosigned");
                    // Signed by the log's key: a checkpoint that parses.
                    let size = zhifa_ledger::note::split(&req.checkpoint)
                        .and_then(|(text, _)| zhifa_ledger::note::Checkpoint::parse(text))
                        .map(|c| c.size)
                        .unwrap_or(0);
                    // A log asks again every few seconds: the same checkpoint is one
                    // conflict, kept once.
                    sqlx::query(
                        "INSERT INTO witness_conflicts (origin, received_at, old_size, size, cosigned_size, reason, checkpoint)
                         SELECT $1, $2, $3, $4, $5, $6, $7
                         WHERE NOT EXISTS (SELECT 1 FROM witness_conflicts WHERE origin = $1 AND checkpoint = $7)",
                    )
                    .bind(origin.clone())
                    .bind(tx.now())
                    .bind(req.old_size as i64)
                    .bind(size as i64)
                    .bind(latest.map(|(s, _)| s as i64).unwrap_or(0))
                    .bind(reason.clone())
                    .bind(req.checkpoint.clone())
                    .execute(tx.conn())
                    .await?;
                    tx.commit().await?;
                }
                return Ok(Err(refusal));
            }
        };
        let now = tx.now();
        let line = cosigner.cosign(&text, (now / 1000) as u64);
        let note = format!("{}{line}", req.checkpoint);
        keys.record_witnessed(&origin, cp.size, &cp.root)?;
        sqlx::query(
            "INSERT INTO witness_heads (origin, size, root, note, cosigned_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (origin) DO UPDATE SET size = excluded.size, root = excluded.root,
                 note = excluded.note, cosigned_at = excluded.cosigned_at",
        )
        .bind(origin)
        .bind(cp.size as i64)
        .bind(zhifa_ledger::hash::to_hex(&cp.root))
        .bind(note)
        .bind(now)
        .execute(tx.conn())
        .await?;
        tx.commit().await?;
        Ok(Ok(line))
    }
}
