//! No write over a tampered row.
//!
//! `zhifa verify` finds a ledgered row changed behind zhifa's back by comparing it with
//! its last entry. That finding would not survive the next ordinary act on the row: the
//! act's new snapshot would commit to whatever the row holds, and the tampered value would
//! stand in a genuine, signed entry. So before an act changes a row, or decides from it,
//! the row's stored state is checked here against the commitment of its last entry — an
//! entry whose authentication code proves zhifa wrote it — and a row that differs stops
//! the act, which then changes nothing (`StoreError::Tampered`). Every row action but a
//! creation must have been guarded in its transaction (`WriteTx::push_snapshot` refuses
//! otherwise), and a creation must find no earlier entry for its id (a row deleted behind
//! zhifa's back whose id is taken again). The administrators are told through an
//! `integrity.tampered` event in the installation's log, written after the refused
//! transaction has ended.

use crate::Store;
use crate::error::StoreError;
use crate::ledger::SYSTEM_LOG;
use crate::log_chunks;
use crate::snapshot;
use crate::write::{Actor, WriteTx};
use serde_json::json;
use sqlx::Row;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use zhifa_ledger::auth::Authenticity;
use zhifa_ledger::entry::{EntryRef, commitment};
use zhifa_ledger::hash::HashAlg;

/// The event that tells the administrators of a refused act on a tampered row.
pub const TAMPER_ACTION: &str = "integrity.tampered";

/// How a row was found changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// The row is not what its last entry committed to.
    Differs,
    /// The row exists, but no entry ever recorded it.
    NoEntry,
    /// The row is gone, but its last entry recorded it as present.
    Deleted,
    /// A new row got the id of a row with entries (deleted behind zhifa's back).
    IdReused,
    /// The entry the row is checked against cannot be trusted (named in the text).
    BadEntry(String),
}

impl Finding {
    fn text(&self) -> String {
        match self {
            Finding::Differs => "与其最后一条日志记录不符".into(),
            Finding::NoEntry => "没有任何日志记录".into(),
            Finding::Deleted => "已被删除，而日志记录其仍存在".into(),
            Finding::IdReused => "其编号属于一条已被删除的记录".into(),
            Finding::BadEntry(why) => format!("其日志记录无法核验（{why}）"),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Finding::Differs => "differs",
            Finding::NoEntry => "no_entry",
            Finding::Deleted => "deleted",
            Finding::IdReused => "id_reused",
            Finding::BadEntry(_) => "bad_entry",
        }
    }
}

/// A ledgered row found changed behind zhifa's back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tampered {
    pub kind: &'static str,
    pub id: i64,
    pub finding: Finding,
    /// The agency whose log recorded the row (`None`: no entry names it).
    pub agency_id: Option<i64>,
}

impl std::fmt::Display for Tampered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "数据被绕过系统修改：{}（编号 {}）{}。本次操作未执行，已通知管理员。",
            snapshot::label(self.kind),
            self.id,
            self.finding.text()
        )
    }
}

/// The last entry of a subject, as the journal finds it.
struct Last {
    log_id: i64,
    seq: i64,
    salt: Option<Vec<u8>>,
}

/// Stored entries by (log, sequence number): the bytes and the authentication code.
type EntriesAt = HashMap<(i64, u64), (Vec<u8>, Option<Vec<u8>>)>;

/// What the guard needs of a log.
struct LogFacts {
    alg: HashAlg,
    size: u64,
    origin: String,
}

impl WriteTx {
    /// Checks the row `kind`/`id` as stored now (or its absence) against its last entry.
    pub(crate) async fn guard_row(
        &mut self,
        kind: &'static str,
        id: i64,
    ) -> Result<(), StoreError> {
        let row = snapshot::read(self.conn(), kind, id).await?;
        self.guard_rows(kind, vec![(id, row)]).await
    }

    /// Checks the rows of `kind` that `condition` selects with `value` as `$1` (a case's
    /// parties: `case_id = $1`).
    pub(crate) async fn guard_rows_where(
        &mut self,
        kind: &'static str,
        condition: &'static str,
        value: i64,
    ) -> Result<(), StoreError> {
        let rows = snapshot::read_where(self.conn(), kind, condition, value).await?;
        self.guard_rows(
            kind,
            rows.into_iter().map(|(id, s)| (id, Some(s))).collect(),
        )
        .await
    }

    /// Checks a case and everything an act on it decides from: the case row, its parties,
    /// its officers and its events.
    pub(crate) async fn guard_case(&mut self, case_id: i64) -> Result<(), StoreError> {
        self.guard_row("case", case_id).await?;
        for kind in ["case_party", "case_officer", "case_event"] {
            self.guard_rows_where(kind, "case_id = $1", case_id).await?;
        }
        Ok(())
    }

    /// Checks the people assigned to a case and their credentials, whose names and numbers
    /// its documents print and whose validity its investigative acts depend on.
    pub(crate) async fn guard_case_officers(&mut self, case_id: i64) -> Result<(), StoreError> {
        const ASSIGNED: &str = "id IN (SELECT person_id FROM case_officers WHERE case_id = $1)";
        const THEIRS: &str =
            "person_id IN (SELECT person_id FROM case_officers WHERE case_id = $1)";
        self.guard_rows_where("person", ASSIGNED, case_id).await?;
        self.guard_rows_where("credential", THEIRS, case_id).await
    }

    /// Checks each `(id, snapshot)` of `kind` — `None` for a row that is not there —
    /// against the last entry of its subject, and marks it guarded for this transaction.
    pub(crate) async fn guard_rows(
        &mut self,
        kind: &'static str,
        rows: Vec<(i64, Option<String>)>,
    ) -> Result<(), StoreError> {
        // A row this transaction checked or created before may since have been changed by
        // it: its entry is still pending, so it is not checked (again).
        let rows: Vec<(i64, Option<String>)> = rows
            .into_iter()
            .filter(|(id, _)| !self.is_guarded(kind, *id))
            .collect();
        if rows.is_empty() {
            return Ok(());
        }
        let store = self.store().clone();
        let ids: Vec<i64> = rows.iter().map(|(id, _)| *id).collect();
        if let Some(t) = store.find_tampered(self.conn(), kind, rows).await? {
            return Err(self.refuse(t));
        }
        for id in ids {
            self.mark_guarded(kind, id);
        }
        Ok(())
    }

    /// Checks that no earlier entry names the subject of any pending creation.
    pub(crate) async fn guard_creations(
        &mut self,
        created: Vec<(&'static str, i64)>,
    ) -> Result<(), StoreError> {
        let mut by_kind: BTreeMap<&'static str, Vec<i64>> = BTreeMap::new();
        for (kind, id) in created {
            by_kind.entry(kind).or_default().push(id);
        }
        for (kind, ids) in by_kind {
            if let Some((&id, l)) = last_entries(self.conn(), kind, &ids).await?.iter().next() {
                return Err(self.refuse(Tampered {
                    kind,
                    id,
                    finding: Finding::IdReused,
                    agency_id: Some(l.log_id).filter(|l| *l != SYSTEM_LOG),
                }));
            }
        }
        Ok(())
    }

    /// The error that refuses the act, after arranging for the administrators to be told
    /// once this transaction has ended (it holds the write lock the alert needs).
    fn refuse(&self, t: Tampered) -> StoreError {
        self.store().refuse(self.actor().clone(), t)
    }
}

impl Store {
    /// Checks one row as stored now against its last entry, outside any write: for reads
    /// that grant something (the user behind a session or a token). A mismatch is refused
    /// and reported like a refused act.
    pub async fn check_row(
        &self,
        actor: Actor,
        kind: &'static str,
        id: i64,
    ) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        let row = snapshot::read(&mut conn, kind, id).await?;
        match self.find_tampered(&mut conn, kind, vec![(id, row)]).await? {
            Some(t) => Err(self.refuse(actor, t)),
            None => Ok(()),
        }
    }

    /// The error that refuses an act on a tampered row, after arranging for the
    /// administrators to be told (in a task of its own: a refused write transaction
    /// still holds the write lock the alert needs).
    fn refuse(&self, actor: Actor, t: Tampered) -> StoreError {
        tracing::error!(kind = t.kind, id = t.id, finding = t.finding.code(), "{t}");
        let (store, alert) = (self.clone(), t.clone());
        tokio::spawn(async move {
            if let Err(e) = store.record_tamper_alert(actor, &alert).await {
                tracing::error!("could not record the tamper alert: {e}");
            }
        });
        StoreError::Tampered(t)
    }

    /// The first of `rows` (`(id, snapshot)` of `kind`, `None` for a row not there) that
    /// is not what the last entry of its subject committed to — an entry that must carry
    /// a genuine authentication code.
    async fn find_tampered(
        &self,
        conn: &mut sqlx::AnyConnection,
        kind: &'static str,
        rows: Vec<(i64, Option<String>)>,
    ) -> Result<Option<Tampered>, StoreError> {
        let ids: Vec<i64> = rows.iter().map(|(id, _)| *id).collect();
        let last = last_entries(conn, kind, &ids).await?;
        let logs = log_facts(conn, last.values().map(|l| l.log_id)).await?;
        let mut wanted: BTreeMap<i64, BTreeSet<u64>> = BTreeMap::new();
        for l in last.values() {
            wanted.entry(l.log_id).or_default().insert(l.seq as u64);
        }
        let mut entries: EntriesAt = HashMap::new();
        for (log_id, seqs) in wanted {
            for (seq, bytes, code) in entries_at(conn, log_id, &seqs).await? {
                entries.insert((log_id, seq), (bytes, code));
            }
        }
        for (id, row) in rows {
            let finding = match last.get(&id) {
                None if row.is_none() => None,
                None => Some(Finding::NoEntry),
                Some(l) => self.check_against(kind, id, row.as_deref(), l, &logs, &entries),
            };
            if let Some(finding) = finding {
                let agency_id = last.get(&id).map(|l| l.log_id).filter(|l| *l != SYSTEM_LOG);
                return Ok(Some(Tampered {
                    kind,
                    id,
                    finding,
                    agency_id,
                }));
            }
        }
        Ok(None)
    }

    /// What is wrong with `row` (the current snapshot of `kind`/`id`) against its last
    /// entry `l`, if anything.
    fn check_against(
        &self,
        kind: &str,
        id: i64,
        row: Option<&str>,
        l: &Last,
        logs: &HashMap<i64, LogFacts>,
        entries: &EntriesAt,
    ) -> Option<Finding> {
        let bad = |why: String| Some(Finding::BadEntry(why));
        let Some(log) = logs.get(&l.log_id) else {
            return bad(format!("日志 {} 不存在", l.log_id));
        };
        let seq = l.seq as u64;
        if seq >= log.size {
            return bad(format!("第 {seq} 条在日志之外"));
        }
        let Some((bytes, code)) = entries.get(&(l.log_id, seq)) else {
            return bad(format!("第 {seq} 条缺失"));
        };
        let Ok(entry) = EntryRef::decode(bytes) else {
            return bad(format!("第 {seq} 条无法解读"));
        };
        if entry.seq != seq
            || entry.subject_kind != kind
            || entry.subject_id != id.to_string()
            || !snapshot::is_row_action(entry.action)
        {
            return bad(format!("第 {seq} 条记录的不是此对象"));
        }
        if let Some(key) = self.entry_key.as_deref() {
            let leaf = log.alg.leaf(bytes);
            match code.as_deref().map(|c| key.check(bytes, &leaf, c)) {
                Some(Authenticity::Genuine) => {}
                None if seq < self.entry_legacy_size(&log.origin) => {}
                _ => return bad(format!("第 {seq} 条没有真实的认证码")),
            }
        }
        let Some(salt) = &l.salt else {
            return bad(format!("第 {seq} 条的盐值缺失"));
        };
        let deleted = snapshot::deleted();
        let state = row.unwrap_or(&deleted);
        if commitment(log.alg, salt, state.as_bytes()) == entry.commitment {
            return None;
        }
        Some(if row.is_none() {
            Finding::Deleted
        } else {
            Finding::Differs
        })
    }

    /// Writes the alert of a refused act to the log of the row's agency (the
    /// installation's when no entry names the row).
    async fn record_tamper_alert(&self, actor: Actor, t: &Tampered) -> Result<(), StoreError> {
        let mut tx = self.write(actor).await?;
        // The alert's subject is the alert, not the row: an entry naming the row would
        // look to a `verify` running meanwhile like a change of that row by zhifa.
        tx.record_event(
            t.agency_id,
            TAMPER_ACTION,
            "integrity",
            format!("{}:{}", t.kind, t.id),
            json!({ "finding": t.finding.code(), "message": t.to_string() }),
        );
        tx.commit().await?;
        Ok(())
    }

    /// The newest tamper alerts about an agency's records (and those no entry named),
    /// newest first: (time, message).
    pub async fn tamper_alerts(
        &self,
        agency_id: i64,
        limit: i64,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT log_id, seq, payload FROM journal WHERE action = $1 AND log_id IN ($2, $3)",
        )
        .bind(TAMPER_ACTION)
        .bind(SYSTEM_LOG)
        .bind(agency_id)
        .fetch_all(&self.pool)
        .await?;
        let mut found = Vec::new();
        for r in &rows {
            let (log_id, seq): (i64, i64) = (r.try_get("log_id")?, r.try_get("seq")?);
            let payload: Option<String> = r.try_get("payload")?;
            found.push((log_id, seq as u64, payload));
        }
        let mut entries = HashMap::new();
        for log_id in [SYSTEM_LOG, agency_id] {
            let seqs: Vec<u64> = found
                .iter()
                .filter(|f| f.0 == log_id)
                .map(|f| f.1)
                .collect();
            for (seq, e) in self.log_entries_at(log_id, &seqs).await? {
                entries.insert((log_id, seq), e);
            }
        }
        let mut out = Vec::new();
        for (log_id, seq, payload) in found {
            let message = payload
                .and_then(|p| serde_json::from_str::<serde_json::Value>(&p).ok())
                .and_then(|v| v["message"].as_str().map(str::to_owned))
                .unwrap_or_else(|| "数据被绕过系统修改（详情已删除）".into());
            let at = entries
                .get(&(log_id, seq))
                .and_then(|e| EntryRef::decode(e).ok())
                .map(|e| e.time_ms)
                .unwrap_or_default();
            out.push((at, message));
        }
        out.sort_by_key(|a| std::cmp::Reverse(a.0));
        out.truncate(limit.max(0) as usize);
        Ok(out)
    }
}

/// Compares two codes without stopping at the first difference.
pub(crate) fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// The last entry of each of `ids` (of `kind`) that the journal knows.
async fn last_entries(
    conn: &mut sqlx::AnyConnection,
    kind: &str,
    ids: &[i64],
) -> Result<BTreeMap<i64, Last>, StoreError> {
    let mut out: BTreeMap<i64, Last> = BTreeMap::new();
    for part in ids.chunks(200) {
        let marks: Vec<String> = (0..part.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "SELECT subject_id, log_id, seq, salt FROM journal
             WHERE subject_kind = $1 AND subject_id IN ({}) AND snapshot = 1",
            marks.join(", ")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(kind.to_owned());
        for id in part {
            q = q.bind(id.to_string());
        }
        for r in q.fetch_all(&mut *conn).await? {
            let subject: String = r.try_get("subject_id")?;
            let Ok(id) = subject.parse::<i64>() else {
                continue;
            };
            let l = Last {
                log_id: r.try_get("log_id")?,
                seq: r.try_get("seq")?,
                salt: r.try_get("salt")?,
            };
            // A subject lives in one log; should the journal say otherwise, the entry
            // checked is still the newest the journal names, and it must name this row.
            match out.get(&id) {
                Some(had) if (had.log_id, had.seq) >= (l.log_id, l.seq) => {}
                _ => {
                    out.insert(id, l);
                }
            }
        }
    }
    Ok(out)
}

async fn log_facts(
    conn: &mut sqlx::AnyConnection,
    logs: impl Iterator<Item = i64>,
) -> Result<HashMap<i64, LogFacts>, StoreError> {
    let mut out = HashMap::new();
    for log_id in logs.collect::<BTreeSet<_>>() {
        let r = sqlx::query("SELECT hash_alg, size, origin FROM ledger_logs WHERE log_id = $1")
            .bind(log_id)
            .fetch_optional(&mut *conn)
            .await?;
        if let Some(r) = r {
            let alg: String = r.try_get("hash_alg")?;
            let Some(alg) = HashAlg::from_code(&alg) else {
                continue;
            };
            out.insert(
                log_id,
                LogFacts {
                    alg,
                    size: r.try_get::<i64, _>("size")? as u64,
                    origin: r.try_get("origin")?,
                },
            );
        }
    }
    Ok(out)
}

/// The stored entries (with codes) at `seqs` of one log, each chunk read once.
async fn entries_at(
    conn: &mut sqlx::AnyConnection,
    log_id: i64,
    seqs: &BTreeSet<u64>,
) -> Result<Vec<log_chunks::StoredEntry>, StoreError> {
    let mut out = Vec::new();
    let chunks: BTreeSet<u64> = seqs.iter().map(|s| log_chunks::chunk_of(*s).0).collect();
    for chunk in chunks {
        let (from, to) = (chunk * log_chunks::CHUNK, (chunk + 1) * log_chunks::CHUNK);
        for e in log_chunks::entries(conn, log_id, from, to).await? {
            if seqs.contains(&e.0) {
                out.push(e);
            }
        }
    }
    Ok(out)
}
