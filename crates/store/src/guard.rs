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
    pub fn text(&self) -> String {
        match self {
            Finding::Differs => "与其最后一条日志记录不符".into(),
            Finding::NoEntry => "没有任何日志记录".into(),
            Finding::Deleted => "已被删除，而日志记录其仍存在".into(),
            Finding::IdReused => "其编号属于一条已被删除的记录".into(),
            Finding::BadEntry(why) => format!("其日志记录无法核验（{why}）"),
        }
    }

    pub fn code(&self) -> &'static str {
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

/// Rows known to match their last entry, by the snapshot they had then: found so by a
/// check, or committed by this node. The guard skips the log for a row that still reads
/// the same; a row changed behind zhifa's back reads otherwise and is checked in full.
/// Only on SQLite, where one server holds the data directory: and there all is forgotten
/// whenever SQLite's `data_version` says another connection wrote the file (a command
/// line, or SQL typed by hand), so a row put back to a state this node once knew is
/// checked too. Several PostgreSQL nodes write each other's rows: no such memory there.
/// (Bounded: forgotten all at once past `INTACT_LIMIT` rows, then relearnt.)
#[derive(Debug, Default)]
pub struct Intact {
    rows: std::sync::Mutex<HashMap<(&'static str, i64), String>>,
    /// SQLite's `data_version` on the writer's connection when the rows were learnt.
    version: std::sync::Mutex<Option<i64>>,
}

const INTACT_LIMIT: usize = 100_000;

impl Intact {
    pub(crate) fn holds(&self, kind: &'static str, id: i64, snapshot: &str) -> bool {
        let map = self.rows.lock().expect("not poisoned");
        map.get(&(kind, id)).is_some_and(|s| s == snapshot)
    }

    /// Forgets everything when the file was written by another connection since.
    fn note_data_version(&self, version: i64) {
        let mut seen = self.version.lock().expect("not poisoned");
        if *seen != Some(version) {
            self.rows.lock().expect("not poisoned").clear();
            *seen = Some(version);
        }
    }

    pub(crate) fn learn(&self, rows: impl Iterator<Item = (&'static str, i64, String)>) {
        let mut map = self.rows.lock().expect("not poisoned");
        for (kind, id, snapshot) in rows {
            if map.len() >= INTACT_LIMIT {
                map.clear();
            }
            map.insert((kind, id), snapshot);
        }
    }
}

/// A row to check: its kind, id and current snapshot (`None`: not there).
pub(crate) type Checked = (&'static str, i64, Option<String>);

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
        let backend = self.store().backend();
        let row = snapshot::read_locked(self.conn(), kind, id, backend).await?;
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
        let rows = self.rows_where(kind, condition, value).await?;
        self.guard_many(rows).await
    }

    /// The rows of `kind` that `condition` selects, as rows to check.
    async fn rows_where(
        &mut self,
        kind: &'static str,
        condition: &'static str,
        value: i64,
    ) -> Result<Vec<Checked>, StoreError> {
        let rows = snapshot::read_where(self.conn(), kind, condition, value).await?;
        Ok(rows
            .into_iter()
            .map(|(id, s)| (kind, id, Some(s)))
            .collect())
    }

    /// Checks a case and everything an act on it decides from: the case row, its parties,
    /// its officers and its events — read as an act reads them
    /// (`WriteTx::case_file_guarded`), then checked together.
    pub(crate) async fn guard_case(&mut self, case_id: i64) -> Result<(), StoreError> {
        self.case_file_guarded(case_id).await.map(|_| ())
    }

    /// Checks the people assigned to a case and their credentials, whose names and numbers
    /// its documents print and whose validity its investigative acts depend on (the reads
    /// of `WriteTx::officer_credentials_guarded`).
    pub(crate) async fn guard_case_officers(&mut self, case_id: i64) -> Result<(), StoreError> {
        self.officer_credentials_guarded(case_id, &[])
            .await
            .map(|_| ())
    }

    /// Checks each `(id, snapshot)` of `kind` — `None` for a row that is not there —
    /// against the last entry of its subject, and marks it guarded for this transaction.
    pub(crate) async fn guard_rows(
        &mut self,
        kind: &'static str,
        rows: Vec<(i64, Option<String>)>,
    ) -> Result<(), StoreError> {
        self.guard_many(rows.into_iter().map(|(id, s)| (kind, id, s)).collect())
            .await
    }

    /// Checks rows an act has read already (`(kind, id, snapshot)`), as
    /// [`WriteTx::guard_rows`] does.
    pub(crate) async fn guard_checked(&mut self, rows: Vec<Checked>) -> Result<(), StoreError> {
        self.guard_many(rows).await
    }

    /// Like [`WriteTx::guard_rows`] for rows of several kinds at once.
    async fn guard_many(&mut self, rows: Vec<Checked>) -> Result<(), StoreError> {
        // A row this transaction checked or created before may since have been changed by
        // it: its entry is still pending, so it is not checked (again).
        let rows: Vec<Checked> = rows
            .into_iter()
            .filter(|(kind, id, _)| !self.is_guarded(kind, *id))
            .collect();
        if rows.is_empty() {
            return Ok(());
        }
        let store = self.store().clone();
        let subjects: Vec<(&'static str, i64)> = rows.iter().map(|(k, id, _)| (*k, *id)).collect();
        if let Some(t) = store.find_tampered(self.conn(), rows, true).await? {
            return Err(self.refuse(t));
        }
        for (kind, id) in subjects {
            self.mark_guarded(kind, id);
        }
        Ok(())
    }

    /// Checks that no earlier entry names the subject of any pending creation.
    pub(crate) async fn guard_creations(
        &mut self,
        created: Vec<(&'static str, i64)>,
    ) -> Result<(), StoreError> {
        if let Some((&(kind, id), l)) = last_entries(self.conn(), &created).await?.iter().next() {
            return Err(self.refuse(Tampered {
                kind,
                id,
                finding: Finding::IdReused,
                agency_id: crate::ledger::agency_of(l.log_id),
            }));
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
        // Outside a transaction the row and its journal are read by two statements, and an
        // act committing between them would look like tampering: a mismatch is read again.
        let mut found = None;
        for _ in 0..2 {
            let row = snapshot::read(&mut conn, kind, id).await?;
            found = self
                .find_tampered(&mut conn, vec![(kind, id, row)], false)
                .await?;
            if found.is_none() {
                return Ok(());
            }
        }
        match found {
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

    /// The first of `rows` (`(kind, id, snapshot)`, `None` for a row not there) that is
    /// not what the last entry of its subject committed to — an entry that must carry a
    /// genuine authentication code. Three queries whatever the rows: the journal, the
    /// logs, the entry chunks.
    pub(crate) async fn find_tampered(
        &self,
        conn: &mut sqlx::AnyConnection,
        rows: Vec<Checked>,
        writer: bool,
    ) -> Result<Option<Tampered>, StoreError> {
        let remembered = self.backend() == crate::Backend::Sqlite;
        // Only the writer's connection counts other connections' writes (each connection
        // numbers its own `data_version`).
        if remembered && writer {
            let version: i64 = sqlx::query_scalar("PRAGMA data_version")
                .fetch_one(&mut *conn)
                .await?;
            self.intact.note_data_version(version);
        }
        let rows: Vec<Checked> = rows
            .into_iter()
            .filter(|(k, id, s)| {
                !(remembered && s.as_deref().is_some_and(|s| self.intact.holds(k, *id, s)))
            })
            .collect();
        if rows.is_empty() {
            return Ok(None);
        }
        let subjects: Vec<(&'static str, i64)> = rows.iter().map(|(k, id, _)| (*k, *id)).collect();
        let last = last_entries(conn, &subjects).await?;
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
        for &(kind, id, ref row) in &rows {
            let l = last.get(&(kind, id));
            let finding = match l {
                None if row.is_none() => None,
                None => Some(Finding::NoEntry),
                Some(l) => self.check_against(kind, id, row.as_deref(), l, &logs, &entries),
            };
            if let Some(finding) = finding {
                let agency_id = l.and_then(|l| crate::ledger::agency_of(l.log_id));
                return Ok(Some(Tampered {
                    kind,
                    id,
                    finding,
                    agency_id,
                }));
            }
        }
        if remembered {
            self.intact.learn(
                rows.into_iter()
                    .filter_map(|(kind, id, s)| Some((kind, id, s?))),
            );
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
        self.record_alert(actor, t, t.to_string()).await
    }

    /// Writes a tamper alert with `message` (in the installation's log when no entry names
    /// the row).
    pub(crate) async fn record_alert(
        &self,
        actor: Actor,
        t: &Tampered,
        message: String,
    ) -> Result<(), StoreError> {
        let mut tx = self.write(actor).await?;
        // The alert's subject is the alert, not the row: an entry naming the row would
        // look to a `verify` running meanwhile like a change of that row by zhifa.
        tx.record_event(
            t.agency_id,
            TAMPER_ACTION,
            "integrity",
            format!("{}:{}", t.kind, t.id),
            json!({ "finding": t.finding.code(), "message": message }),
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

/// Compares two secrets (codes, tokens) without stopping at the first difference.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// The last entry of each subject that the journal knows (one query for all of them: the
/// kinds and ids are matched as sets, the pairs then picked out here).
async fn last_entries(
    conn: &mut sqlx::AnyConnection,
    subjects: &[(&'static str, i64)],
) -> Result<BTreeMap<(&'static str, i64), Last>, StoreError> {
    let mut out: BTreeMap<(&'static str, i64), Last> = BTreeMap::new();
    let wanted: BTreeSet<(&'static str, i64)> = subjects.iter().copied().collect();
    let kinds: BTreeSet<&'static str> = subjects.iter().map(|(k, _)| *k).collect();
    let ids: BTreeSet<i64> = subjects.iter().map(|(_, id)| *id).collect();
    let ids: Vec<i64> = ids.into_iter().collect();
    for part in ids.chunks(200) {
        let kind_marks: Vec<String> = (1..=kinds.len()).map(|i| format!("${i}")).collect();
        let id_marks: Vec<String> = (0..part.len())
            .map(|i| format!("${}", kinds.len() + i + 1))
            .collect();
        let sql = format!(
            "SELECT subject_kind, subject_id, log_id, seq, salt FROM journal
             WHERE subject_kind IN ({}) AND subject_id IN ({}) AND snapshot = 1",
            kind_marks.join(", "),
            id_marks.join(", ")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for k in &kinds {
            q = q.bind(k.to_string());
        }
        for id in part {
            q = q.bind(id.to_string());
        }
        for r in q.fetch_all(&mut *conn).await? {
            let kind: String = r.try_get("subject_kind")?;
            let subject: String = r.try_get("subject_id")?;
            let (Some(&kind), Ok(id)) = (kinds.get(kind.as_str()), subject.parse::<i64>()) else {
                continue;
            };
            if !wanted.contains(&(kind, id)) {
                continue;
            }
            let l = Last {
                log_id: r.try_get("log_id")?,
                seq: r.try_get("seq")?,
                salt: r.try_get("salt")?,
            };
            // A subject lives in one log; should the journal say otherwise, the entry
            // checked is still the newest the journal names, and it must name this row.
            match out.get(&(kind, id)) {
                Some(had) if (had.log_id, had.seq) >= (l.log_id, l.seq) => {}
                _ => {
                    out.insert((kind, id), l);
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
    let logs: BTreeSet<i64> = logs.collect();
    let mut out = HashMap::new();
    if logs.is_empty() {
        return Ok(out);
    }
    let list: Vec<String> = logs.iter().map(i64::to_string).collect();
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT log_id, hash_alg, size, origin FROM ledger_logs WHERE log_id IN ({})",
        list.join(", ")
    )))
    .fetch_all(&mut *conn)
    .await?;
    for r in rows {
        let alg: String = r.try_get("hash_alg")?;
        let Some(alg) = HashAlg::from_code(&alg) else {
            continue;
        };
        out.insert(
            r.try_get("log_id")?,
            LogFacts {
                alg,
                size: r.try_get::<i64, _>("size")? as u64,
                origin: r.try_get("origin")?,
            },
        );
    }
    Ok(out)
}

/// The stored entries (with codes) at `seqs` of one log: their chunks in one query.
async fn entries_at(
    conn: &mut sqlx::AnyConnection,
    log_id: i64,
    seqs: &BTreeSet<u64>,
) -> Result<Vec<log_chunks::StoredEntry>, StoreError> {
    let chunks: BTreeSet<u64> = seqs.iter().map(|s| log_chunks::chunk_of(*s).0).collect();
    let list: Vec<String> = chunks.iter().map(u64::to_string).collect();
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT chunk, entries, codes FROM ledger_entry_chunks WHERE log_id = $1 AND chunk IN ({})",
        list.join(", ")
    )))
    .bind(log_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::new();
    for r in rows {
        let chunk = r.try_get::<i64, _>("chunk")? as u64;
        let entries: Vec<u8> = r.try_get("entries")?;
        let codes: Vec<u8> = r.try_get("codes")?;
        // A chunk that does not frame is damage: its entries are missing here, and the
        // rows that need them are refused as unverifiable.
        let Some(items) = log_chunks::chunk_items(&entries, &codes) else {
            continue;
        };
        for (i, (e, c)) in items.into_iter().enumerate() {
            let seq = chunk * log_chunks::CHUNK + i as u64;
            if seqs.contains(&seq) {
                out.push((seq, e.to_vec(), c.map(<[u8]>::to_vec)));
            }
        }
    }
    Ok(out)
}
