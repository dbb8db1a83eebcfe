//! `zhifa verify`: recomputes every log from its stored entries and checks that the
//! stored tree, the heads, the signed checkpoints, the readable journal and every
//! ledgered row agree with it. Reports the first failures by name.

mod pieces;
mod raw_scan;
mod read_sqlite;
mod read_sqlx;
mod replay;

use crate::db::Store;
use crate::error::StoreError;
use crate::ledger::LogHead;
use crate::snapshot::{self, LEDGERED};
use sqlx::Row;
use std::collections::{BTreeMap, HashMap, HashSet};
use zhifa_ledger::entry::commitment;
use zhifa_ledger::note::{Checkpoint, NoteVerifier, open};
use zhifa_ledger::{Hash, HashAlg};

/// What verification found.
#[derive(Debug, Default)]
pub struct Report {
    pub logs: usize,
    pub entries: u64,
    pub checkpoints: usize,
    pub rows: usize,
    /// Human-readable failures, first found first (capped).
    pub failures: Vec<String>,
    /// More failures than kept.
    pub more_failures: usize,
    /// Whether entries' authentication codes were checked (the store had the key).
    pub entries_authenticated: bool,
}

const MAX_FAILURES: usize = 50;

impl Report {
    pub fn ok(&self) -> bool {
        self.failures.is_empty()
    }

    /// Adds `later`'s findings after this report's (a later stretch of the logs).
    fn absorb(&mut self, later: Report) {
        self.entries += later.entries;
        self.more_failures += later.more_failures;
        for m in later.failures {
            self.fail(m);
        }
    }

    pub fn fail(&mut self, message: String) {
        if self.failures.len() < MAX_FAILURES {
            self.failures.push(message);
        } else {
            self.more_failures += 1;
        }
    }
}

/// The rows a read gave, or none when a value could not be decoded (text where bytes
/// belong, written by hand): then `what` is added to `wrong`. Other errors are returned.
fn unless_unreadable(
    rows: Result<Vec<sqlx::any::AnyRow>, sqlx::Error>,
    wrong: &mut Vec<String>,
    what: &str,
) -> Result<Vec<sqlx::any::AnyRow>, StoreError> {
    match rows {
        Ok(rows) => Ok(rows),
        Err(sqlx::Error::Decode(_) | sqlx::Error::ColumnDecode { .. }) => {
            wrong.push(format!("{what}（无法读取 / unreadable）"));
            Ok(Vec::new())
        }
        Err(e) => Err(e.into()),
    }
}

/// The last snapshot entry seen for a ledgered row.
pub(crate) struct Latest {
    log_id: i64,
    seq: u64,
    alg: HashAlg,
    action: String,
    commitment: Hash,
    salt: Option<Vec<u8>>,
}

/// What replaying the logs collects for the checks that follow it.
#[derive(Default)]
pub(crate) struct Findings {
    report: Report,
    /// The newest snapshot entry of each ledgered row, by (kind, id).
    latest: HashMap<(String, String), Latest>,
    /// Agency logs announced in the installation's log.
    announced: HashSet<i64>,
    /// Each changeable row's snapshots as far as this stretch saw them, to check that
    /// every action changed only what it may (`snapshot::may_change`).
    trails: HashMap<(String, String), Trail>,
}

/// A row's snapshots within one stretch: its first entry there (compared, when stretches
/// are joined, with the last snapshot of the stretch before) and its last payload.
pub(crate) struct Trail {
    log: String,
    first_seq: u64,
    first_action: String,
    first: Option<String>,
    last: Option<String>,
}

impl Findings {
    /// Checks that `action` (entry `seq` of log `log`) changed only what it may, against
    /// the row's previous snapshot (`None` when erased: nothing to compare).
    fn check_change(
        report: &mut Report,
        log: &str,
        seq: u64,
        (kind, id): &(String, String),
        action: &str,
        before: Option<&str>,
        after: Option<&str>,
    ) {
        let (Some(before), Some(after)) = (before, after) else {
            return;
        };
        let over = snapshot::overreach(action, before, after);
        if !over.is_empty() {
            report.fail(format!(
                "日志 {log} 第 {seq} 条：{}（编号 {id}）的操作“{action}”改动了它不应改动的字段 {} / log {log} entry {seq}: {action} on {kind} {id} changed {}",
                snapshot::label(kind),
                over.join("、"),
                over.join(", ")
            ));
        }
    }

    /// Follows a row to its next snapshot within a stretch.
    pub(crate) fn follow(
        &mut self,
        log: &str,
        seq: u64,
        key: (String, String),
        action: &str,
        payload: Option<String>,
    ) {
        if snapshot::may_change(action).is_none() && !snapshot::creates(action) {
            // A removal: what follows (an id taken again) is the guard's and the
            // creation check's to name.
            self.trails.remove(&key);
            return;
        }
        match self.trails.get_mut(&key) {
            Some(t) => {
                Self::check_change(
                    &mut self.report,
                    log,
                    seq,
                    &key,
                    action,
                    t.last.as_deref(),
                    payload.as_deref(),
                );
                t.last = payload;
            }
            None => {
                self.trails.insert(
                    key,
                    Trail {
                        log: log.to_owned(),
                        first_seq: seq,
                        first_action: action.to_owned(),
                        first: payload.clone(),
                        last: payload,
                    },
                );
            }
        }
    }

    /// Joins the trails of the next stretch of the same logs.
    pub(crate) fn join_trails(&mut self, later: HashMap<(String, String), Trail>) {
        for (key, t) in later {
            match self.trails.get_mut(&key) {
                Some(before) => {
                    Self::check_change(
                        &mut self.report,
                        &t.log,
                        t.first_seq,
                        &key,
                        &t.first_action,
                        before.last.as_deref(),
                        t.first.as_deref(),
                    );
                    before.last = t.last;
                }
                None => {
                    self.trails.insert(key, t);
                }
            }
        }
    }
}

/// One log to replay: its head (the replay stops at its size, so appends made meanwhile
/// are left for the next run) and its checkpoints up to that size.
#[derive(Clone)]
pub(crate) struct Job {
    head: LogHead,
    checkpoints: Vec<(u64, String)>,
    key: Option<std::sync::Arc<zhifa_ledger::auth::EntryKey>>,
}

/// What the tree replay of one log gives the checks after it.
#[derive(Default)]
pub(crate) struct Replayed {
    /// The root the entries give at each checkpointed size.
    roots: BTreeMap<u64, Option<Hash>>,
    /// The last entry without an authentication code, if any.
    uncoded_last: Option<u64>,
}

/// Where `verify` may cut a log: stretches start at multiples of this many entries, the
/// replay's unit of node comparison (a log shorter than two units is read whole). A
/// multiple of the chunk, so that no entry chunk is split between stretches.
pub(crate) const SPLIT_UNIT: u64 = replay::COMPARE_EVERY;
const _: () = assert!(SPLIT_UNIT.is_multiple_of(crate::log_chunks::CHUNK));

// SQL both readers run.
const SQL_ENTRY_CHUNKS: &str = "SELECT chunk, entries, codes FROM ledger_entry_chunks WHERE log_id = $1 AND chunk >= $2 AND chunk < $3 ORDER BY chunk";
const SQL_HASH_CHUNK: &str =
    "SELECT hashes FROM ledger_hash_chunks WHERE log_id = $1 AND level = $2 AND chunk = $3";
const SQL_HASH_CHUNKS: &str = "SELECT chunk, hashes FROM ledger_hash_chunks WHERE log_id = $1 AND level = $2 AND chunk >= $3 AND chunk < $4 ORDER BY chunk";
const SQL_JOURNAL_SCAN: &str =
    "SELECT seq, action, subject_kind, subject_id, payload, salt, leaf_key
 FROM journal WHERE log_id = $1 AND seq >= $2 AND seq < $3 ORDER BY seq";

impl Store {
    /// Verifies everything; `trusted` adds verifier keys known out of band (they must
    /// then sign every checkpoint of their log), on top of the keys published in the
    /// database.
    pub async fn verify(&self, trusted: &[String]) -> Result<Report, StoreError> {
        let mut f = Findings::default();
        let heads = self.log_heads().await?;
        for k in trusted {
            match NoteVerifier::parse(k) {
                Ok(v) if heads.iter().any(|h| h.origin == v.name) => {}
                _ => f.report.fail(format!(
                    "可信公钥不对应任何日志 / trusted key names no log: {k}"
                )),
            }
        }
        let mut jobs = Vec::with_capacity(heads.len());
        for head in &heads {
            let all = self.checkpoints(head.log_id).await?;
            // A checkpoint beyond the head is checked next time if the log has grown past
            // it meanwhile; beyond even the current head, the log was cut short.
            if let Some((size, _)) = all.last()
                && *size > head.size
            {
                let now = self
                    .log_head(head.log_id)
                    .await
                    .map(|h| h.size)
                    .unwrap_or(0);
                if *size > now {
                    f.report.fail(format!(
                        "日志 {} 已签名到第 {size} 条，但现在只有 {now} 条（日志被截短）/ log {} was signed at size {size} but now has {now} entries",
                        head.name, head.name
                    ));
                }
            }
            let checkpoints = all.into_iter().filter(|(s, _)| *s <= head.size).collect();
            jobs.push(Job {
                head: head.clone(),
                checkpoints,
                key: self.entry_key.clone(),
            });
        }
        // Replaying is the bulk of the work: on SQLite direct read-only connections do it,
        // one blocking thread per stretch; elsewhere the pool, one task per stretch.
        let split = pieces::Split::for_this_machine(self.verify_split);
        let (jobs, mut f, replayed) = match self.sqlite_file.clone() {
            Some(path) => tokio::task::spawn_blocking(move || {
                let replayed = read_sqlite::replay_all(&path, &jobs, &mut f, split);
                (jobs, f, replayed)
            })
            .await
            .map_err(|e| StoreError::Corrupt(format!("verification thread: {e}")))?,
            None => {
                let replayed = read_sqlx::replay_all(self, &jobs, &mut f, split).await;
                (jobs, f, replayed)
            }
        };
        f.report.entries_authenticated = self.entry_key.is_some();
        for (job, replayed) in jobs.iter().zip(&replayed?) {
            f.report.logs += 1;
            self.check_chunk_tails(job.head.log_id, &mut f.report)
                .await?;
            self.check_checkpoints(
                &job.head,
                trusted,
                &job.checkpoints,
                &replayed.roots,
                &mut f.report,
            )
            .await?;
            // Entries without a code predate entry authentication: they must lie below the
            // size recorded beside the key when it was created (outside the database).
            if let Some(seq) = replayed.uncoded_last
                && seq >= self.entry_legacy_size(&job.head.origin)
            {
                let name = &job.head.name;
                f.report.fail(format!(
                    "日志 {name} 第 {seq} 条：没有认证码，且晚于启用条目认证时的日志长度（可能在 zhifa 之外写入）/ log {name} entry {seq}: no authentication code, written after entry authentication began"
                ));
            }
        }
        // Every agency log is announced in the installation's log, and every announced
        // log still exists. (The installation's own logs are made on first use; a signed
        // one that disappears is caught against the signer's records, `rollback.rs`.)
        for head in heads
            .iter()
            .filter(|h| crate::ledger::agency_of(h.log_id).is_some())
        {
            if !f.announced.contains(&head.log_id) {
                f.report.fail(format!(
                    "日志 {} 未在系统日志中登记 / log {} is not announced in the installation's log",
                    head.name, head.name
                ));
            }
        }
        for id in &f.announced {
            if !heads.iter().any(|h| h.log_id == *id) {
                f.report.fail(format!(
                    "系统日志登记的日志 {id} 已不存在（整个执法主体的日志被删除）/ announced log {id} is gone"
                ));
            }
        }
        let sizes: HashMap<i64, u64> = heads.iter().map(|h| (h.log_id, h.size)).collect();
        self.verify_rows(&f.latest, &sizes, &mut f.report).await?;
        self.verify_operational_state(&mut f.report).await?;
        Ok(f.report)
    }

    /// The state kept outside the log must still be zhifa's own: each session and each
    /// counted login failure carries its code under the installation's key (`accounts.rs`),
    /// and each case-number counter stands at the highest number given (a counter wound
    /// back would give a number twice; one moved on, a gap).
    async fn verify_operational_state(&self, report: &mut Report) -> Result<(), StoreError> {
        use crate::accounts::{failure_code, session_code};
        use crate::guard::same_secret;
        if self.entry_key.is_some() {
            let rows = sqlx::query(
                "SELECT id_hash, user_id, csrf_token, created_at, mac FROM sessions ORDER BY created_at",
            )
            .fetch_all(&self.pool)
            .await?;
            for r in rows {
                let (hash, user): (String, i64) = (r.try_get("id_hash")?, r.try_get("user_id")?);
                let (csrf, at): (String, i64) =
                    (r.try_get("csrf_token")?, r.try_get("created_at")?);
                let mac: String = r.try_get("mac")?;
                if !same_secret(&mac, &session_code(self, &hash, user, &csrf, at)) {
                    report.fail(format!(
                        "sessions 表中账号 {user} 的一个会话没有有效的认证码（绕过系统写入，不能用于登录）/ a session of user {user} has no valid code"
                    ));
                }
            }
            let rows = sqlx::query(
                "SELECT id, username, at, client_ip, pending, mac FROM login_failures ORDER BY id",
            )
            .fetch_all(&self.pool)
            .await?;
            for r in rows {
                let (id, name): (i64, String) = (r.try_get("id")?, r.try_get("username")?);
                let (at, ip): (i64, String) = (r.try_get("at")?, r.try_get("client_ip")?);
                let pending = r.try_get::<i64, _>("pending")? != 0;
                let mac: String = r.try_get("mac")?;
                if !same_secret(&mac, &failure_code(self, &name, at, &ip, pending)) {
                    report.fail(format!(
                        "login_failures 表 id={id} 没有有效的认证码（绕过系统写入，不计入锁定）/ login failure {id} has no valid code"
                    ));
                }
            }
        }
        let rows = sqlx::query(
            "SELECT k.agency_id, k.procedure, k.year, k.last,
                    (SELECT MAX(c.seq) FROM cases c WHERE c.agency_id = k.agency_id
                        AND c.procedure = k.procedure AND c.year = k.year) AS highest
             FROM case_counters k ORDER BY k.agency_id, k.procedure, k.year",
        )
        .fetch_all(&self.pool)
        .await?;
        for r in rows {
            let (agency, procedure): (i64, String) =
                (r.try_get("agency_id")?, r.try_get("procedure")?);
            let (year, last): (i64, i64) = (r.try_get("year")?, r.try_get("last")?);
            let highest = r.try_get::<Option<i64>, _>("highest")?.unwrap_or(0);
            if last != highest {
                report.fail(format!(
                    "执法主体 {agency} {procedure} {year} 年的案件编号计数器为 {last}，而已编号的最大案件为第 {highest} 号（被绕过系统修改）/ case counter {agency}/{procedure}/{year} is {last}, highest case number is {highest}"
                ));
            }
        }
        let orphans: Vec<(i64, String, i64)> = sqlx::query_as(
            "SELECT DISTINCT c.agency_id, c.procedure, c.year FROM cases c
             WHERE NOT EXISTS (SELECT 1 FROM case_counters k WHERE k.agency_id = c.agency_id
                AND k.procedure = c.procedure AND k.year = c.year)",
        )
        .fetch_all(&self.pool)
        .await?;
        for (agency, procedure, year) in orphans {
            report.fail(format!(
                "执法主体 {agency} {procedure} {year} 年的案件编号计数器缺失（被绕过系统删除）/ case counter {agency}/{procedure}/{year} is missing"
            ));
        }
        Ok(())
    }

    async fn check_checkpoints(
        &self,
        head: &LogHead,
        trusted: &[String],
        checkpoints: &[(u64, String)],
        roots: &BTreeMap<u64, Option<Hash>>,
        report: &mut Report,
    ) -> Result<u64, StoreError> {
        // The largest size covered by a checkpoint that checks.
        let mut signed = 0;
        let name = &head.name;
        // Each published key with the size it was retired at: a retired key may sign no
        // checkpoint beyond that size.
        let mut keys: Vec<(NoteVerifier, Option<u64>)> = Vec::new();
        for (vkey, retired_at) in self.log_key_history(head.log_id).await? {
            match NoteVerifier::parse(&vkey) {
                Ok(v) => keys.push((v, retired_at)),
                Err(e) => report.fail(format!(
                    "日志 {name}：公钥无效 / log {name}: bad key {vkey}: {e}"
                )),
            }
        }
        let external: Vec<NoteVerifier> = trusted
            .iter()
            .filter_map(|k| NoteVerifier::parse(k).ok())
            .filter(|k| k.name == head.origin)
            .collect();
        for (size, note) in checkpoints {
            report.checkpoints += 1;
            let opened = if external.is_empty() {
                let mut result = Err("no signature from a published key".to_owned());
                for (k, retired_at) in &keys {
                    if let Ok((text, _)) = open(note, std::slice::from_ref(k)) {
                        result = match retired_at {
                            Some(limit) if size > limit => {
                                Err(format!("signed by a key retired at size {limit}"))
                            }
                            _ => Ok(text),
                        };
                        break;
                    }
                }
                result
            } else {
                open(note, &external)
                    .map(|(t, _)| t)
                    .map_err(|e| e.to_string())
            };
            let text = match opened {
                Ok(text) => text,
                Err(e) => {
                    report.fail(format!(
                        "日志 {name} 第 {size} 号签名树头：签名无效 / log {name} checkpoint {size}: {e}"
                    ));
                    continue;
                }
            };
            let cp = match Checkpoint::parse(text) {
                Ok(c) => c,
                Err(e) => {
                    report.fail(format!("日志 {name} 签名树头 {size}：{e}"));
                    continue;
                }
            };
            let expected = roots.get(&cp.size).copied().flatten();
            if cp.origin != head.origin || cp.size != *size || expected != Some(cp.root) {
                report.fail(format!(
                    "日志 {name} 第 {size} 号签名树头与日志不符（日志被改写或分叉）/ log {name}: checkpoint at size {size} does not match the log"
                ));
            } else {
                signed = signed.max(*size);
            }
        }
        Ok(signed)
    }

    /// Whether the row got a newer entry after its log was replayed (changed while
    /// verification ran: checked on the next run, not a failure now).
    async fn changed_since(
        &self,
        kind: &str,
        id: i64,
        sizes: &HashMap<i64, u64>,
    ) -> Result<bool, StoreError> {
        // Only entries appended since the replay count: past the replayed size and below
        // the log's head now (a journal row past the head is nobody's change), and only
        // those that change a row (a login names its user but changes nothing).
        let rows = sqlx::query(
            "SELECT j.log_id, j.seq, l.size FROM journal j
             JOIN ledger_logs l ON l.log_id = j.log_id
             WHERE j.subject_kind = $1 AND j.subject_id = $2 AND j.snapshot = 1",
        )
        .bind(kind.to_owned())
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await?;
        for r in rows {
            let log: i64 = r.try_get("log_id")?;
            let seq = r.try_get::<i64, _>("seq")? as u64;
            let head = r.try_get::<i64, _>("size")? as u64;
            if seq >= sizes.get(&log).copied().unwrap_or(0) && seq < head {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The stretches tolerate more in a log's last chunks than the head they started from
    /// covers (appends go on while they read). Here, in one transaction — one snapshot of
    /// the head and the chunks — the last chunk of entries and of each stored level must
    /// hold exactly what the head implies, and no chunk may lie beyond: anything put there
    /// by hand would otherwise pass now and take the place of the next genuine entry.
    async fn check_chunk_tails(&self, log_id: i64, report: &mut Report) -> Result<(), StoreError> {
        use crate::log_chunks::{CHUNK, LEVEL_STEP, chunk_items};
        let mut tx = self.pool.begin().await?;
        if self.backend() == crate::db::Backend::Postgres {
            // One snapshot for every statement below (SQLite's read transaction is one).
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                .execute(&mut *tx)
                .await?;
        }
        let head: Option<(i64, String)> =
            sqlx::query_as("SELECT size, name FROM ledger_logs WHERE log_id = $1")
                .bind(log_id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some((size, name)) = head else {
            return Ok(());
        };
        let size = size.max(0) as u64;
        let mut wrong = Vec::new();
        let first = (size / CHUNK) as i64;
        let rows = sqlx::query(
            "SELECT chunk, entries, codes FROM ledger_entry_chunks WHERE log_id = $1 AND chunk >= $2 ORDER BY chunk",
        )
        .bind(log_id)
        .bind(first)
        .fetch_all(&mut *tx)
        .await;
        for r in unless_unreadable(rows, &mut wrong, "条目块 / entry chunks")? {
            let chunk: i64 = r.try_get(0)?;
            let count = match (r.try_get::<Vec<u8>, _>(1), r.try_get::<Vec<u8>, _>(2)) {
                (Ok(e), Ok(c)) => chunk_items(&e, &c).map(|items| items.len()),
                _ => None,
            };
            let should = (size % CHUNK) as usize;
            if chunk != first || count != Some(should) {
                wrong.push(format!("条目第 {chunk} 块 / entry chunk {chunk}"));
            }
        }
        for level in (0..64u8).step_by(LEVEL_STEP as usize) {
            let at_level = size >> level;
            let first = (at_level / CHUNK) as i64;
            let rows = sqlx::query(
                "SELECT chunk, hashes FROM ledger_hash_chunks WHERE log_id = $1 AND level = $2 AND chunk >= $3 ORDER BY chunk",
            )
            .bind(log_id)
            .bind(i64::from(level))
            .bind(first)
            .fetch_all(&mut *tx)
            .await;
            let what = format!("第 {level} 层树节点块 / node chunks at level {level}");
            for r in unless_unreadable(rows, &mut wrong, &what)? {
                let chunk: i64 = r.try_get(0)?;
                let len = r.try_get::<Vec<u8>, _>(1).map(|h| h.len()).ok();
                let should = (at_level % CHUNK) as usize * 32;
                if chunk != first || len != Some(should) {
                    wrong.push(format!(
                        "第 {level} 层树节点第 {chunk} 块 / node chunk {chunk} at level {level}"
                    ));
                }
            }
        }
        tx.commit().await?;
        if !wrong.is_empty() {
            report.fail(format!(
                "日志 {name}：树头之外存有数据（{}），下一次追加会被挤错位置 / log {name}: data beyond the head in {}",
                wrong.join("、"),
                wrong.join(", ")
            ));
        }
        Ok(())
    }

    /// Every ledgered row must equal the snapshot its newest entry commits to.
    async fn verify_rows(
        &self,
        latest: &HashMap<(String, String), Latest>,
        sizes: &HashMap<i64, u64>,
        report: &mut Report,
    ) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        for (kind, table) in LEDGERED {
            let rows = snapshot::all(&mut conn, kind).await?;
            let mut present = std::collections::HashSet::new();
            for (id, snap) in rows {
                report.rows += 1;
                present.insert(id.to_string());
                match latest.get(&(kind.to_string(), id.to_string())) {
                    None if self.changed_since(kind, id, sizes).await? => {}
                    None => report.fail(format!(
                        "{table} 表 id={id} 的记录不在日志中（绕过系统写入）/ row {table} id={id} has no log entry"
                    )),
                    Some(l) if l.action.ends_with(".remove") => report.fail(format!(
                        "{table} 表 id={id} 已在日志 {} 第 {} 条删除，但数据库中仍存在 / row {table} id={id} was deleted by log {} entry {} but exists",
                        l.log_id, l.seq, l.log_id, l.seq
                    )),
                    // The row itself must hash to the entry's commitment (this holds even
                    // after the readable payload was erased).
                    Some(l) => {
                        let matches = l
                            .salt
                            .as_ref()
                            .is_some_and(|s| commitment(l.alg, s, snap.as_bytes()) == l.commitment);
                        if !matches && !self.changed_since(kind, id, sizes).await? {
                            report.fail(format!(
                                "{table} 表 id={id} 与日志 {} 第 {} 条不符（被绕过系统修改）/ row {table} id={id} differs from log {} entry {}",
                                l.log_id, l.seq, l.log_id, l.seq
                            ));
                        }
                    }
                }
            }
            for ((k, id), l) in latest {
                if k == kind
                    && !present.contains(id)
                    && !l.action.ends_with(".remove")
                    && !self
                        .changed_since(kind, id.parse().unwrap_or(-1), sizes)
                        .await?
                {
                    report.fail(format!(
                        "{table} 表 id={id} 已被绕过系统删除（日志 {} 第 {} 条仍记载它）/ row {table} id={id} deleted behind zhifa's back",
                        l.log_id, l.seq
                    ));
                }
            }
        }
        Ok(())
    }
}
