//! `zhifa verify`: recomputes every log from its stored entries and checks that the
//! stored tree, the heads, the signed checkpoints, the readable journal and every
//! ledgered row agree with it. Reports the first failures by name.

use crate::db::Store;
use crate::error::StoreError;
use crate::ledger::LogHead;
use crate::snapshot::{self, LEDGERED};
use sqlx::Row;
use std::collections::{BTreeMap, HashMap};
use zhifa_ledger::entry::{Entry, commitment};
use zhifa_ledger::note::{Checkpoint, NoteVerifier, open};
use zhifa_ledger::tree::CompactRange;
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
}

const MAX_FAILURES: usize = 50;
const BATCH: i64 = 5_000;

impl Report {
    pub fn ok(&self) -> bool {
        self.failures.is_empty()
    }

    fn fail(&mut self, message: String) {
        if self.failures.len() < MAX_FAILURES {
            self.failures.push(message);
        } else {
            self.more_failures += 1;
        }
    }
}

/// The last snapshot entry seen for a ledgered row.
struct Latest {
    log_id: i64,
    seq: u64,
    alg: HashAlg,
    action: String,
    commitment: Hash,
    salt: Option<Vec<u8>>,
}

impl Store {
    /// Verifies everything; `trusted` adds verifier keys known out of band (they must
    /// then sign every checkpoint of their log), on top of the keys published in the
    /// database.
    pub async fn verify(&self, trusted: &[String]) -> Result<Report, StoreError> {
        let mut report = Report::default();
        let mut latest: HashMap<(String, String), Latest> = HashMap::new();
        let heads = self.log_heads().await?;
        for k in trusted {
            match NoteVerifier::parse(k) {
                Ok(v) if heads.iter().any(|h| h.origin == v.name) => {}
                _ => report.fail(format!(
                    "可信公钥不对应任何日志 / trusted key names no log: {k}"
                )),
            }
        }
        let mut announced: std::collections::HashSet<i64> = Default::default();
        for head in &heads {
            report.logs += 1;
            self.verify_log(head, trusted, &mut latest, &mut announced, &mut report)
                .await?;
        }
        // Every agency log is announced in the installation's log, and every announced
        // log still exists.
        for head in heads
            .iter()
            .filter(|h| h.log_id != crate::ledger::SYSTEM_LOG)
        {
            if !announced.contains(&head.log_id) {
                report.fail(format!(
                    "日志 {} 未在系统日志中登记 / log {} is not announced in the installation's log",
                    head.name, head.name
                ));
            }
        }
        for id in &announced {
            if !heads.iter().any(|h| h.log_id == *id) {
                report.fail(format!(
                    "系统日志登记的日志 {id} 已不存在（整个执法主体的日志被删除）/ announced log {id} is gone"
                ));
            }
        }
        let sizes: HashMap<i64, u64> = heads.iter().map(|h| (h.log_id, h.size)).collect();
        self.verify_rows(&latest, &sizes, &mut report).await?;
        Ok(report)
    }

    async fn verify_log(
        &self,
        head: &LogHead,
        trusted: &[String],
        latest: &mut HashMap<(String, String), Latest>,
        announced: &mut std::collections::HashSet<i64>,
        report: &mut Report,
    ) -> Result<(), StoreError> {
        let name = &head.name;
        let alg = head.alg;
        // Checkpoints name the sizes whose roots we must remember while replaying.
        let checkpoints: Vec<(u64, String)> = self
            .checkpoints(head.log_id)
            .await?
            .into_iter()
            .filter(|(s, _)| *s <= head.size)
            .collect();
        let mut roots_wanted: BTreeMap<u64, Option<Hash>> =
            checkpoints.iter().map(|(s, _)| (*s, None)).collect();
        if let Some(slot) = roots_wanted.get_mut(&0) {
            *slot = Some(alg.empty_root());
        }

        let mut range = CompactRange::empty();
        let mut next: u64 = 0;
        loop {
            let rows = sqlx::query(
                "SELECT e.seq, e.entry, j.seq AS jseq, j.at, j.actor, j.action, j.subject_kind,
                        j.subject_id, j.snapshot, j.payload, j.salt
                 FROM ledger_entries e
                 LEFT JOIN journal j ON j.log_id = e.log_id AND j.seq = e.seq
                 WHERE e.log_id = $1 AND e.seq >= $2 AND e.seq < $4 ORDER BY e.seq LIMIT $3",
            )
            .bind(head.log_id)
            .bind(next as i64)
            .bind(BATCH)
            .bind(head.size as i64)
            .fetch_all(&self.pool)
            .await?;
            if rows.is_empty() {
                break;
            }
            let batch_start = range.size();
            let mut created: Vec<(u8, u64, Hash)> = Vec::new();
            for r in &rows {
                let seq = r.try_get::<i64, _>("seq")? as u64;
                if seq != range.size() {
                    report.fail(format!(
                        "日志 {name}：缺少第 {} 条记录（下一条是第 {seq} 条）/ log {name}: entry {} missing",
                        range.size(),
                        range.size()
                    ));
                    // Continue from what is there so later checks still run.
                    return Ok(());
                }
                let bytes: Vec<u8> = r.try_get("entry")?;
                let entry = match Entry::decode(&bytes) {
                    Ok(e) => e,
                    Err(e) => {
                        report.fail(format!(
                            "日志 {name} 第 {seq} 条：无法解析 / log {name} entry {seq}: {e}"
                        ));
                        return Ok(());
                    }
                };
                if entry.seq != seq || &entry.agency != name {
                    report.fail(format!(
                        "日志 {name} 第 {seq} 条：序号或所属日志与内容不符（被移动或调换）/ log {name} entry {seq}: names seq {} of log {}",
                        entry.seq, entry.agency
                    ));
                }
                self.check_journal(head, seq, &entry, r, latest, report)?;
                if head.log_id == crate::ledger::SYSTEM_LOG
                    && entry.action == "ledger.log_create"
                    && let Ok(id) = entry.subject_id.parse()
                {
                    announced.insert(id);
                }
                for (id, h) in range.append(alg, alg.leaf(&bytes)) {
                    created.push((id.level, id.index, h));
                }
                report.entries += 1;
                if let Some(slot) = roots_wanted.get_mut(&range.size()) {
                    *slot = Some(range.root(alg));
                }
            }
            next = range.size();
            self.compare_nodes(head, batch_start, &created, report)
                .await?;
        }

        if range.size() != head.size {
            report.fail(format!(
                "日志 {name}：头部记录 {} 条，实际 {} 条 / log {name}: head says size {}, entries give {}",
                head.size,
                range.size(),
                head.size,
                range.size()
            ));
        } else if range.root(alg) != head.root {
            report.fail(format!(
                "日志 {name}：根哈希与记录不符 / log {name}: stored root does not match the entries"
            ));
        }
        // Only nodes of the replayed size count: appends running meanwhile add more.
        let levels: Vec<String> = (0..64u32)
            .take_while(|l| head.size >> l > 0)
            .map(|l| format!("(level = {l} AND idx < {})", head.size >> l))
            .collect();
        let stored_nodes: i64 = if levels.is_empty() {
            0
        } else {
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT COUNT(*) FROM ledger_nodes WHERE log_id = $1 AND ({})",
                levels.join(" OR ")
            )))
            .bind(head.log_id)
            .fetch_one(&self.pool)
            .await?
        };
        let expected: u64 = (0..64).map(|l| range.size() >> l).sum();
        if stored_nodes as u64 != expected {
            report.fail(format!(
                "日志 {name}：树节点数量不符（{stored_nodes} ≠ {expected}）/ log {name}: {stored_nodes} tree nodes stored, {expected} expected"
            ));
        }
        let orphans: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM journal j WHERE j.log_id = $1 AND j.seq < $2 AND NOT EXISTS
               (SELECT 1 FROM ledger_entries e WHERE e.log_id = j.log_id AND e.seq = j.seq)",
        )
        .bind(head.log_id)
        .bind(head.size as i64)
        .fetch_one(&self.pool)
        .await?;
        if orphans > 0 {
            report.fail(format!(
                "日志 {name}：{orphans} 条操作记录没有对应的日志条目 / log {name}: {orphans} journal rows without an entry"
            ));
        }
        self.check_checkpoints(head, alg, trusted, &checkpoints, &roots_wanted, report)
            .await
    }

    fn check_journal(
        &self,
        head: &LogHead,
        seq: u64,
        entry: &Entry,
        r: &sqlx::any::AnyRow,
        latest: &mut HashMap<(String, String), Latest>,
        report: &mut Report,
    ) -> Result<(), StoreError> {
        let name = &head.name;
        if r.try_get::<Option<i64>, _>("jseq")?.is_none() {
            report.fail(format!("日志 {name} 第 {seq} 条：操作记录缺失 / log {name} entry {seq}: journal row missing"));
            return Ok(());
        }
        let same = r.try_get::<i64, _>("at")? == entry.time_ms
            && r.try_get::<String, _>("actor")? == entry.actor
            && r.try_get::<String, _>("action")? == entry.action
            && r.try_get::<String, _>("subject_kind")? == entry.subject_kind
            && r.try_get::<String, _>("subject_id")? == entry.subject_id;
        if !same {
            report.fail(format!(
                "日志 {name} 第 {seq} 条：操作记录（时间、操作人、操作或对象）与日志不符 / log {name} entry {seq}: journal row differs from the entry"
            ));
        }
        let payload: Option<String> = r.try_get("payload")?;
        let salt: Option<Vec<u8>> = r.try_get("salt")?;
        match (&payload, &salt) {
            (Some(p), Some(s)) => {
                if commitment(head.alg, s, p.as_bytes()) != entry.commitment {
                    report.fail(format!(
                        "日志 {name} 第 {seq} 条：内容与承诺哈希不符（{} {} 被改动）/ log {name} entry {seq}: payload does not match its commitment",
                        entry.subject_kind, entry.subject_id
                    ));
                }
            }
            // Erasure (de-identification) removes the payload but keeps the salt, so the
            // row can still be checked against the commitment; a missing salt is damage.
            (_, None) => report.fail(format!(
                "日志 {name} 第 {seq} 条：盐值缺失，无法核对内容 / log {name} entry {seq}: salt missing"
            )),
            (None, Some(_)) => {}
        }
        if snapshot::is_row_action(&entry.action) {
            latest.insert(
                (entry.subject_kind.clone(), entry.subject_id.clone()),
                Latest {
                    log_id: head.log_id,
                    seq,
                    alg: head.alg,
                    action: entry.action.clone(),
                    commitment: entry.commitment,
                    salt,
                },
            );
        }
        Ok(())
    }

    /// Compares the nodes a batch created with the stored ones, level by level.
    async fn compare_nodes(
        &self,
        head: &LogHead,
        batch_start: u64,
        created: &[(u8, u64, Hash)],
        report: &mut Report,
    ) -> Result<(), StoreError> {
        let mut by_level: BTreeMap<u8, Vec<(u64, Hash)>> = BTreeMap::new();
        for (l, i, h) in created {
            by_level.entry(*l).or_default().push((*i, *h));
        }
        for (level, nodes) in by_level {
            let from = nodes.first().map(|n| n.0).unwrap_or(0);
            let to = nodes.last().map(|n| n.0 + 1).unwrap_or(0);
            let stored = self.log_node_range(head.log_id, level, from, to).await?;
            let ok =
                stored.len() == nodes.len() && stored.iter().zip(&nodes).all(|(s, (_, h))| s == h);
            if !ok {
                report.fail(format!(
                    "日志 {} 第 {batch_start} 条起：存储的树节点（第 {level} 层）与记录不符 / log {}: stored tree nodes at level {level} do not match the entries",
                    head.name, head.name
                ));
                return Ok(());
            }
        }
        Ok(())
    }

    async fn check_checkpoints(
        &self,
        head: &LogHead,
        alg: HashAlg,
        trusted: &[String],
        checkpoints: &[(u64, String)],
        roots: &BTreeMap<u64, Option<Hash>>,
        report: &mut Report,
    ) -> Result<(), StoreError> {
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
            }
        }
        let _ = alg;
        Ok(())
    }

    /// Whether the row got a newer entry after its log was replayed (changed while
    /// verification ran: checked on the next run, not a failure now).
    async fn changed_since(
        &self,
        kind: &str,
        id: i64,
        log_id: i64,
        sizes: &HashMap<i64, u64>,
    ) -> Result<bool, StoreError> {
        let size = sizes.get(&log_id).copied().unwrap_or(0);
        let newer: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM journal WHERE subject_kind = $1 AND subject_id = $2 AND log_id = $3 AND seq >= $4",
        )
        .bind(kind.to_owned())
        .bind(id.to_string())
        .bind(log_id)
        .bind(size as i64)
        .fetch_one(&self.pool)
        .await?;
        Ok(newer > 0)
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
                        if !matches && !self.changed_since(kind, id, l.log_id, sizes).await? {
                            report.fail(format!(
                                "{table} 表 id={id} 与日志 {} 第 {} 条不符（被绕过系统修改）/ row {table} id={id} differs from log {} entry {}",
                                l.log_id, l.seq, l.log_id, l.seq
                            ));
                        }
                    }
                }
            }
            for ((k, id), l) in latest {
                if k == kind && !present.contains(id) && !l.action.ends_with(".remove") {
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
