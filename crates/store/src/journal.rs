//! Reading the journal: the readable side of the log entries (changes, logins, denials).

use crate::db::Store;
use crate::error::StoreError;
use serde::Serialize;
use sqlx::Row;
use std::collections::{BTreeMap, VecDeque};
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

/// Which entries the audit trail shows.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// The agency: its log, and the security events of its accounts.
    pub agency_id: i64,
    /// Also the installation's entries that belong to no agency: its own log, and the
    /// security events of no account (failed logins of unknown names, refused requests
    /// of visitors).
    pub installation: bool,
    /// Entries by this account, and the security events about it (a failed login of
    /// its name is made by an anonymous visitor).
    pub user_id: Option<i64>,
    /// Only these actions (`None`: all).
    pub actions: Option<Vec<&'static str>>,
    /// From this time (inclusive) until that (exclusive), epoch ms.
    pub from_ms: Option<i64>,
    pub until_ms: Option<i64>,
}

/// An entry's time is taken when its transaction begins and its place in the log when it
/// commits, so within a log times run backwards by at most a transaction's length; a
/// reading newest-first stops once entries are this much older than the range.
const OUT_OF_ORDER_MS: i64 = 3_600_000;

/// Rows read at a time from one log.
const AUDIT_BATCH: i64 = 256;

/// One log read newest-first, as far as the filter lets entries through.
struct Stream {
    log_id: i64,
    /// The agency condition on the journal rows (the security log holds every agency's).
    agency: Option<(i64, bool)>,
    /// Sequence numbers below this are still to read.
    before: i64,
    done: bool,
    /// The order key (time) of the last readable entry: an unreadable entry keeps its
    /// place in its log instead of sinking to the end.
    last_at: i64,
    buf: VecDeque<(i64, JournalEntry)>,
}

impl Store {
    /// The audit trail: the entries `filter` lets through, newest first across the logs it
    /// reads, `skip` of them skipped and at most `take` returned, and whether more follow.
    /// Actor and time are read from the entries themselves (the journal holds neither),
    /// so a filter on them reads each log back only as far as it reaches.
    pub async fn audit_trail(
        &self,
        filter: &AuditFilter,
        skip: usize,
        take: usize,
    ) -> Result<(Vec<JournalEntry>, bool), StoreError> {
        use crate::ledger::{SECURITY_LOG, SYSTEM_LOG};
        if filter.actions.as_ref().is_some_and(|a| a.is_empty()) {
            return Ok((vec![], false));
        }
        let stream = |log_id, agency| Stream {
            log_id,
            agency,
            before: i64::MAX,
            done: false,
            last_at: i64::MAX,
            buf: VecDeque::new(),
        };
        let mut streams = vec![
            stream(filter.agency_id, None),
            stream(SECURITY_LOG, Some((filter.agency_id, filter.installation))),
        ];
        if filter.installation {
            streams.push(stream(SYSTEM_LOG, None));
        }
        let mut found = Vec::new();
        let mut seen = 0usize;
        loop {
            for s in streams.iter_mut() {
                while s.buf.is_empty() && !s.done {
                    self.read_back(s, filter).await?;
                }
            }
            // The newest head among the logs (ties: the later log position).
            let Some(i) = streams
                .iter()
                .enumerate()
                .filter_map(|(i, s)| s.buf.front().map(|(k, e)| (i, (*k, e.seq))))
                .max_by_key(|(_, k)| *k)
                .map(|(i, _)| i)
            else {
                return Ok((found, false));
            };
            let (_, e) = streams[i].buf.pop_front().expect("a head");
            if found.len() == take {
                return Ok((found, true));
            }
            if seen >= skip {
                found.push(e);
            }
            seen += 1;
        }
    }

    /// Reads the next batch of a stream, newest first, keeping what the filter passes.
    async fn read_back(&self, s: &mut Stream, filter: &AuditFilter) -> Result<(), StoreError> {
        let mut sql = format!("SELECT {COLS} FROM {FROM} WHERE j.log_id = $1 AND j.seq < $2");
        let mut n = 2;
        if let Some((_, installation)) = s.agency {
            n += 1;
            sql.push_str(&if installation {
                format!(" AND (j.agency_id = ${n} OR j.agency_id IS NULL)")
            } else {
                format!(" AND j.agency_id = ${n}")
            });
        }
        if let Some(actions) = &filter.actions {
            let marks: Vec<String> = (0..actions.len())
                .map(|k| format!("${}", n + 1 + k))
                .collect();
            sql.push_str(&format!(" AND j.action IN ({})", marks.join(", ")));
        }
        sql.push_str(&format!(" ORDER BY j.seq DESC LIMIT {AUDIT_BATCH}"));
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(s.log_id)
            .bind(s.before);
        if let Some((agency, _)) = s.agency {
            q = q.bind(agency);
        }
        for a in filter.actions.iter().flatten() {
            q = q.bind(a.to_string());
        }
        let rows = q.fetch_all(&self.pool).await?;
        if (rows.len() as i64) < AUDIT_BATCH {
            s.done = true;
        }
        if let Some(last) = rows.last() {
            s.before = last.try_get("seq")?;
        }
        let user = filter
            .user_id
            .map(|id| (format!("user:{id}"), id.to_string()));
        for e in self.with_entries(&rows).await? {
            let readable = e.leaf_hash.is_some();
            if readable {
                s.last_at = e.at;
                if filter
                    .from_ms
                    .is_some_and(|from| e.at < from - OUT_OF_ORDER_MS)
                {
                    s.done = true;
                    break;
                }
            }
            // An entry whose time or actor cannot be read passes no filter on them.
            let in_time = filter.from_ms.is_none_or(|from| readable && e.at >= from)
                && filter.until_ms.is_none_or(|until| readable && e.at < until);
            let by_user = user.as_ref().is_none_or(|(actor, id)| {
                (readable && e.actor == *actor)
                    || (zhifa_domain::audit::is_security_event(&e.action)
                        && e.subject_kind == "user"
                        && e.subject_id == *id)
            });
            if in_time && by_user {
                s.buf.push_back((s.last_at, e));
            }
        }
        Ok(())
    }

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
