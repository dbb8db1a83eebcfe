//! Reading the journal: the readable side of the log entries (changes, logins, denials).

use crate::db::Store;
use crate::error::StoreError;
use serde::Serialize;
use sqlx::Row;
use std::collections::BTreeMap;
use zhifa_ledger::entry::EntryRef;

#[derive(Debug, Clone, Serialize)]
pub struct JournalEntry {
    /// The log (agency id, or 0 for the installation's own log) and position in it.
    pub log_id: i64,
    pub seq: i64,
    pub agency_id: Option<i64>,
    /// When and by whom, from the log entry (0 and [`UNREADABLE`] when it cannot be read).
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub subject_kind: String,
    pub subject_id: String,
    /// `None` once erased (de-identification); the log entry stays verifiable.
    pub payload: Option<String>,
    /// The entry's leaf hash in its log's Merkle tree.
    pub leaf_hash: Option<Vec<u8>>,
}

/// The actor shown for a journal row whose log entry cannot be read.
pub const UNREADABLE: &str = "（日志条目无法读取）";

const COLS: &str =
    "j.log_id, j.seq, j.agency_id, j.action, j.subject_kind, j.subject_id, j.payload";
const FROM: &str = "journal j";

impl Store {
    /// The newest `limit` entries of an agency's log, newest first.
    pub async fn journal_for_agency(
        &self,
        agency_id: i64,
        limit: i64,
    ) -> Result<Vec<JournalEntry>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM {FROM} WHERE j.log_id = $1 ORDER BY j.seq DESC LIMIT $2"
        )))
        .bind(agency_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        self.with_entries(&rows).await
    }

    /// Entries about one subject, oldest first (a record's history).
    pub async fn journal_for_subject(
        &self,
        subject_kind: &str,
        subject_id: &str,
    ) -> Result<Vec<JournalEntry>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM {FROM} WHERE j.subject_kind = $1 AND j.subject_id = $2 ORDER BY j.log_id, j.seq"
        )))
        .bind(subject_kind.to_owned())
        .bind(subject_id.to_owned())
        .fetch_all(&self.pool)
        .await?;
        let mut entries = self.with_entries(&rows).await?;
        // A subject's entries may lie in two logs (the agency's and the installation's);
        // unreadable ones (no time) go last rather than first.
        entries.sort_by_key(|e| (e.leaf_hash.is_none(), e.at, e.log_id, e.seq));
        Ok(entries)
    }

    /// Number of entries with `action` (tests and statistics).
    pub async fn journal_count(&self, action: &str) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM journal WHERE action = $1")
                .bind(action.to_owned())
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// The journal rows completed from their log entries: when, by whom and the leaf hash
    /// come from the entry itself. A row whose entry cannot be read (the log was damaged:
    /// `zhifa verify` names it) is kept, with [`UNREADABLE`] as its actor and no time or
    /// hash.
    async fn with_entries(
        &self,
        rows: &[sqlx::any::AnyRow],
    ) -> Result<Vec<JournalEntry>, StoreError> {
        let mut wanted: BTreeMap<i64, Vec<u64>> = BTreeMap::new();
        for r in rows {
            let seq: i64 = r.try_get("seq")?;
            wanted
                .entry(r.try_get("log_id")?)
                .or_default()
                .push(seq.max(0) as u64);
        }
        let mut entries = BTreeMap::new();
        for (log_id, seqs) in wanted {
            // A log without a head, or entries that cannot be read as bytes, leave their
            // rows unreadable here (`zhifa verify` names the damage); the page still shows.
            let Ok(alg) = self.log_alg(log_id).await else {
                continue;
            };
            let Ok(found) = self.log_entries_at(log_id, &seqs).await else {
                tracing::warn!(log_id, "journal: the log's entries cannot be read");
                continue;
            };
            for (seq, bytes) in found {
                if let Ok(e) = EntryRef::decode(&bytes) {
                    let found = (e.time_ms, e.actor.to_owned(), alg.leaf(&bytes).to_vec());
                    entries.insert((log_id, seq as i64), found);
                }
            }
        }
        rows.iter()
            .map(|r| {
                let (log_id, seq): (i64, i64) = (r.try_get("log_id")?, r.try_get("seq")?);
                let (at, actor, leaf_hash) = match entries.remove(&(log_id, seq)) {
                    Some((at, actor, leaf)) => (at, actor, Some(leaf)),
                    None => (0, UNREADABLE.to_owned(), None),
                };
                Ok(JournalEntry {
                    log_id,
                    seq,
                    agency_id: r.try_get("agency_id")?,
                    at,
                    actor,
                    action: r.try_get("action")?,
                    subject_kind: r.try_get("subject_kind")?,
                    subject_id: r.try_get("subject_id")?,
                    payload: r.try_get("payload")?,
                    leaf_hash,
                })
            })
            .collect()
    }
}
