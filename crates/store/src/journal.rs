//! Reading the journal: the readable side of the log entries (changes, logins, denials).

use crate::db::Store;
use crate::error::StoreError;
use serde::Serialize;
use sqlx::Row;

#[derive(Debug, Clone, Serialize)]
pub struct JournalEntry {
    /// The log (agency id, or 0 for the installation's own log) and position in it.
    pub log_id: i64,
    pub seq: i64,
    pub agency_id: Option<i64>,
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

const COLS: &str =
    "j.log_id, j.seq, j.agency_id, j.at, j.actor, j.action, j.subject_kind, j.subject_id,
    j.payload, n.hash AS leaf_hash";
const FROM: &str =
    "journal j LEFT JOIN ledger_nodes n ON n.log_id = j.log_id AND n.level = 0 AND n.idx = j.seq";

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
        rows.iter().map(decode).collect()
    }

    /// Entries about one subject, oldest first (a record's history).
    pub async fn journal_for_subject(
        &self,
        subject_kind: &str,
        subject_id: &str,
    ) -> Result<Vec<JournalEntry>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM {FROM} WHERE j.subject_kind = $1 AND j.subject_id = $2 ORDER BY j.at, j.log_id, j.seq"
        )))
        .bind(subject_kind.to_owned())
        .bind(subject_id.to_owned())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(decode).collect()
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
}

fn decode(r: &sqlx::any::AnyRow) -> Result<JournalEntry, StoreError> {
    Ok(JournalEntry {
        log_id: r.try_get("log_id")?,
        seq: r.try_get("seq")?,
        agency_id: r.try_get("agency_id")?,
        at: r.try_get("at")?,
        actor: r.try_get("actor")?,
        action: r.try_get("action")?,
        subject_kind: r.try_get("subject_kind")?,
        subject_id: r.try_get("subject_id")?,
        payload: r.try_get("payload")?,
        leaf_hash: r.try_get("leaf_hash")?,
    })
}
