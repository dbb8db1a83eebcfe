//! Replaying a log, or one stretch of it, from its stored entries in order. Two checks
//! see every entry:
//! - [`TreeReplay`] rebuilds the tree from the entries, compares it with the stored nodes
//!   and the head, and remembers the roots that checkpoints name;
//! - [`JournalReplay`] checks each entry against its journal row and payload commitment,
//!   and remembers the newest snapshot entry of each ledgered row.
//!
//! A stretch `[from, to)` starts from the tree's compact range at `from` (the stored nodes
//! there, which the stretch before checks: see `pieces.rs`), so a long log is replayed in
//! pieces side by side, one per core.
//!
//! Knows no SQL: a backend's reader feeds both the same entries in order.

use super::{Findings, Latest, Replayed, Report};
use crate::ledger::{LogHead, SYSTEM_LOG};
use crate::log_chunks;
use crate::snapshot;
use std::collections::BTreeMap;
use zhifa_ledger::Hash;
use zhifa_ledger::auth::{Authenticity, EntryKey};
use zhifa_ledger::entry::{EntryRef, commitment};
use zhifa_ledger::tree::CompactRange;

/// The journal row read beside an entry (`None` when it is missing).
#[derive(Debug, Clone, Copy)]
pub(crate) struct JournalRow<'a> {
    pub action: &'a [u8],
    pub subject_kind: &'a [u8],
    pub subject_id: &'a [u8],
    /// Only hashed: compared as bytes, never decoded.
    pub payload: Option<&'a [u8]>,
    pub salt: Option<&'a [u8]>,
    /// The key kept for finding the entry by its leaf hash.
    pub leaf_key: i64,
}

/// Entries replayed between two comparisons of recomputed and stored nodes; bounds the
/// memory a replay holds, whatever the log's size.
pub(crate) const COMPARE_EVERY: u64 = 16_384;

/// Nodes recomputed at one level since the last comparison: indices `from..`.
pub(crate) struct LevelRun {
    pub level: u8,
    pub from: u64,
    pub hashes: Vec<Hash>,
}

pub(crate) struct TreeReplay<'h> {
    head: &'h LogHead,
    /// Where this replay ends (the head's size when it replays the whole log).
    to: u64,
    key: Option<&'h EntryKey>,
    /// The last entry with no authentication code (accepted only below the size the log
    /// had when the entry key was created).
    uncoded_last: Option<u64>,
    range: CompactRange,
    /// Sizes named by checkpoints, with the root the entries give at that size.
    roots: BTreeMap<u64, Option<Hash>>,
    /// Recomputed nodes not yet compared, by level.
    runs: Vec<LevelRun>,
    nodes_bad: bool,
    stopped: bool,
}

impl<'h> TreeReplay<'h> {
    /// Replays the entries from `start.size()` up to `to`, continuing the tree from
    /// `start`; keeps the roots of the checkpointed sizes within the stretch.
    pub fn stretch(
        head: &'h LogHead,
        key: Option<&'h EntryKey>,
        checkpoint_sizes: impl Iterator<Item = u64>,
        start: CompactRange,
        to: u64,
    ) -> Self {
        // The root at a stretch's start is the stretch before's to record: computed from
        // its entries, not from the stored nodes this one starts from.
        let from = start.size();
        let mut roots: BTreeMap<u64, Option<Hash>> = checkpoint_sizes
            .filter(|s| (*s == 0 && from == 0) || (*s > from && *s <= to))
            .map(|s| (s, None))
            .collect();
        if let Some(slot) = roots.get_mut(&0) {
            *slot = Some(head.alg.empty_root());
        }
        TreeReplay {
            head,
            to,
            key,
            uncoded_last: None,
            range: start,
            roots,
            runs: Vec::new(),
            nodes_bad: false,
            stopped: false,
        }
    }

    /// True once the replay cannot go on (a gap or an unreadable entry).
    pub fn stopped(&self) -> bool {
        self.stopped
    }

    /// Whether the recomputed nodes are due for comparison with the stored ones.
    pub fn compare_due(&self) -> bool {
        !self.nodes_bad && self.range.size().is_multiple_of(COMPARE_EVERY) && !self.runs.is_empty()
    }

    /// Feeds the next stored entry, its leaf hash and its authentication code. Returns
    /// false when the replay has to stop.
    pub fn entry(
        &mut self,
        report: &mut Report,
        seq: i64,
        bytes: &[u8],
        leaf: Hash,
        code: Option<&[u8]>,
    ) -> bool {
        let name = &self.head.name;
        let expected = self.range.size();
        if seq < 0 || seq as u64 != expected {
            report.fail(format!(
                "日志 {name}：缺少第 {expected} 条记录（下一条是第 {seq} 条）/ log {name}: entry {expected} missing"
            ));
            self.stopped = true;
            return false;
        }
        // The journal replay decodes the whole entry and reports one it cannot read.
        let Ok((entry_seq, agency)) = EntryRef::header(bytes) else {
            self.stopped = true;
            return false;
        };
        if agency == name && entry_seq > expected {
            report.fail(format!(
                "日志 {name}：缺少第 {expected} 条记录（该位置存的是第 {entry_seq} 条）/ log {name}: entry {expected} missing (entry {entry_seq} is stored in its place)"
            ));
        } else if entry_seq != expected || agency != name {
            report.fail(format!(
                "日志 {name} 第 {seq} 条：序号或所属日志与内容不符（被移动或调换）/ log {name} entry {seq}: names seq {entry_seq} of log {agency}"
            ));
        }
        if let Some(key) = self.key {
            match code.map(|c| key.check(bytes, &leaf, c)) {
                Some(Authenticity::Genuine) => {}
                Some(Authenticity::OtherKey(id)) => report.fail(format!(
                    "日志 {name} 第 {seq} 条：由本机没有的密钥 {} 认证（各节点应共用同一认证密钥）/ log {name} entry {seq}: authenticated by key {}, which is not here",
                    zhifa_ledger::hash::to_hex(&id),
                    zhifa_ledger::hash::to_hex(&id)
                )),
                Some(Authenticity::Wrong) => report.fail(format!(
                    "日志 {name} 第 {seq} 条：认证码不符（条目在 zhifa 之外写入或被改动）/ log {name} entry {seq}: authentication code does not match (written or changed outside zhifa)"
                )),
                None => {
                    self.uncoded_last = Some(expected);
                }
            }
        }
        let alg = self.head.alg;
        let runs = &mut self.runs;
        let record = !self.nodes_bad;
        self.range.append_with(alg, leaf, |id, h| {
            // Only some levels are stored (`log_chunks.rs`); the others are checked through
            // the stored nodes they lead to.
            if !record || !log_chunks::is_stored(id.level) {
                return;
            }
            let level = id.level as usize;
            while runs.len() <= level {
                runs.push(LevelRun {
                    level: runs.len() as u8,
                    from: id.index,
                    hashes: Vec::new(),
                });
            }
            let run = &mut runs[level];
            if run.hashes.is_empty() {
                run.from = id.index;
            }
            run.hashes.push(h);
        });
        report.entries += 1;
        if let Some(slot) = self.roots.get_mut(&self.range.size()) {
            *slot = Some(self.range.root(alg));
        }
        true
    }

    /// The recomputed nodes since the last comparison, to be read back from storage and
    /// handed to [`TreeReplay::compare`].
    pub fn take_runs(&mut self) -> Vec<LevelRun> {
        std::mem::take(&mut self.runs)
            .into_iter()
            .filter(|r| !r.hashes.is_empty())
            .collect()
    }

    /// Compares one run of recomputed nodes with the stored ones of the same range.
    pub fn compare(&mut self, report: &mut Report, run: &LevelRun, stored: &[Hash]) {
        if self.nodes_bad {
            return;
        }
        if stored != run.hashes.as_slice() {
            // Name the first node that differs (or is missing).
            let at = run.from
                + run
                    .hashes
                    .iter()
                    .zip(stored)
                    .take_while(|(a, b)| a == b)
                    .count() as u64;
            let (name, level) = (&self.head.name, run.level);
            report.fail(format!(
                "日志 {name}：存储的树节点（第 {level} 层第 {at} 个）与记录不符或缺失 / log {name}: stored tree node {at} at level {level} does not match the entries or is missing"
            ));
            self.nodes_bad = true;
        }
    }

    /// Ends the replay: the head must match the entries (or, for a stretch short of the
    /// head, the entries must reach its end). Returns the roots at the checkpointed sizes
    /// and the last entry without an authentication code.
    pub fn finish(self, report: &mut Report) -> Replayed {
        let head = self.head;
        let name = &head.name;
        let done = Replayed {
            roots: self.roots,
            uncoded_last: self.uncoded_last,
        };
        if self.stopped {
            return done;
        }
        if self.to < head.size {
            let size = self.range.size();
            if size != self.to {
                report.fail(format!(
                    "日志 {name}：缺少第 {size} 条记录 / log {name}: entry {size} missing"
                ));
            }
        } else if self.range.size() != head.size {
            report.fail(format!(
                "日志 {name}：头部记录 {} 条，实际 {} 条 / log {name}: head says size {}, entries give {}",
                head.size,
                self.range.size(),
                head.size,
                self.range.size()
            ));
        } else if self.range.root(head.alg) != head.root {
            report.fail(format!(
                "日志 {name}：根哈希与记录不符 / log {name}: stored root does not match the entries"
            ));
        }
        done
    }
}

/// An entry read from a chunk: sequence number, bytes, authentication code.
pub(crate) type ChunkEntry<'a> = (i64, &'a [u8], Option<&'a [u8]>);

/// The entries of one stored entry chunk with their sequence numbers and codes, or
/// `None` (reported) when the chunk cannot be read (`log_chunks::chunk_items`). Entries
/// past the head (appended while verification runs) are the reader's to skip.
pub(crate) fn chunk_entries<'a>(
    head: &LogHead,
    chunk: i64,
    entries: &'a [u8],
    codes: &'a [u8],
    report: &mut Report,
) -> Option<Vec<ChunkEntry<'a>>> {
    let name = &head.name;
    let first = chunk.max(0) as u64 * log_chunks::CHUNK;
    let items = match log_chunks::chunk_items(entries, codes) {
        Some(items) if chunk >= 0 => items,
        _ => {
            report.fail(format!(
                "日志 {name}：第 {chunk} 块条目（第 {first} 条起）损坏 / log {name}: entry chunk {chunk} (entries from {first}) is damaged"
            ));
            return None;
        }
    };
    Some(
        items
            .into_iter()
            .enumerate()
            .map(|(i, (e, c))| ((first + i as u64) as i64, e, c))
            .collect(),
    )
}

/// The stored nodes `[from, to)` of `level` from the hash chunks read for them (in chunk
/// order). Each chunk must hold exactly the nodes the head implies — the last one may hold
/// more, appended while verification runs — or it is named and its hashes count as
/// missing.
pub(crate) fn stored_run<'a>(
    head: &LogHead,
    level: u8,
    from: u64,
    to: u64,
    chunks: impl IntoIterator<Item = (i64, &'a [u8])>,
    report: &mut Report,
) -> Vec<Hash> {
    let name = &head.name;
    let at_level = head.size >> level;
    let (first, _) = log_chunks::chunk_of(from);
    let mut all: Vec<Hash> = Vec::new();
    for (expect, (chunk, bytes)) in (first..).zip(chunks) {
        let should = at_level
            .saturating_sub(expect * log_chunks::CHUNK)
            .min(log_chunks::CHUNK);
        let hashes = log_chunks::hashes(bytes).filter(|h| {
            let n = h.len() as u64;
            n == should || (should < n && n <= log_chunks::CHUNK && should < log_chunks::CHUNK)
        });
        match hashes {
            Some(h) if chunk == expect as i64 => all.extend(h),
            _ => {
                report.fail(format!(
                    "日志 {name}：存储的树节点块（第 {level} 层第 {chunk} 块）长度不符或缺失 / log {name}: stored node chunk {chunk} at level {level} has the wrong length or is missing"
                ));
                break;
            }
        }
    }
    let skip = (from - first * log_chunks::CHUNK) as usize;
    all.into_iter()
        .skip(skip)
        .take((to - from) as usize)
        .collect()
}

pub(crate) struct JournalReplay<'h> {
    head: &'h LogHead,
    next: u64,
    journal_rows: u64,
}

impl<'h> JournalReplay<'h> {
    /// Replays the entries from `from` on.
    pub fn stretch(head: &'h LogHead, from: u64) -> Self {
        JournalReplay {
            head,
            next: from,
            journal_rows: 0,
        }
    }

    /// Feeds the next stored entry and its journal row. Returns false at a gap (which
    /// [`TreeReplay`] reports) or an unreadable entry.
    pub fn entry(
        &mut self,
        f: &mut Findings,
        seq: i64,
        bytes: &[u8],
        leaf: &Hash,
        journal: Option<JournalRow<'_>>,
    ) -> bool {
        if seq < 0 || seq as u64 != self.next {
            return false;
        }
        let entry = match EntryRef::decode(bytes) {
            Ok(e) => e,
            Err(e) => {
                let name = &self.head.name;
                f.report.fail(format!(
                    "日志 {name} 第 {seq} 条：无法解析 / log {name} entry {seq}: {e}"
                ));
                return false;
            }
        };
        self.next += 1;
        self.check_journal(f, self.next - 1, &entry, leaf, journal);
        if self.head.log_id == SYSTEM_LOG
            && entry.action == "ledger.log_create"
            && let Ok(id) = entry.subject_id.parse()
        {
            f.announced.insert(id);
        }
        true
    }

    fn check_journal(
        &mut self,
        f: &mut Findings,
        seq: u64,
        entry: &EntryRef<'_>,
        leaf: &Hash,
        journal: Option<JournalRow<'_>>,
    ) {
        let name = &self.head.name;
        let Some(j) = journal else {
            f.report.fail(format!(
                "日志 {name} 第 {seq} 条：操作记录缺失 / log {name} entry {seq}: journal row missing"
            ));
            return;
        };
        self.journal_rows += 1;
        let same = j.action == entry.action.as_bytes()
            && j.subject_kind == entry.subject_kind.as_bytes()
            && j.subject_id == entry.subject_id.as_bytes();
        if !same {
            f.report.fail(format!(
                "日志 {name} 第 {seq} 条：操作记录（操作或对象）与日志不符 / log {name} entry {seq}: journal row differs from the entry"
            ));
        }
        if j.leaf_key != log_chunks::leaf_key(leaf) {
            f.report.fail(format!(
                "日志 {name} 第 {seq} 条：操作记录中的叶哈希索引与条目不符（按哈希查找会找不到）/ log {name} entry {seq}: the journal row's leaf key is not the entry's"
            ));
        }
        match (j.payload, j.salt) {
            (Some(p), Some(s)) => {
                if commitment(self.head.alg, s, p) != entry.commitment {
                    f.report.fail(format!(
                        "日志 {name} 第 {seq} 条：内容与承诺哈希不符（{} {} 被改动）/ log {name} entry {seq}: payload does not match its commitment",
                        entry.subject_kind, entry.subject_id
                    ));
                }
            }
            // Erasure (de-identification) removes the payload but keeps the salt, so the
            // row can still be checked against the commitment; a missing salt is damage.
            (_, None) => f.report.fail(format!(
                "日志 {name} 第 {seq} 条：盐值缺失，无法核对内容 / log {name} entry {seq}: salt missing"
            )),
            (None, Some(_)) => {}
        }
        // Which entries are snapshots is decided by the action the entry itself carries.
        if snapshot::is_row_action(entry.action) {
            f.follow(
                name,
                seq,
                (entry.subject_kind.to_owned(), entry.subject_id.to_owned()),
                entry.action,
                j.payload
                    .and_then(|p| std::str::from_utf8(p).ok())
                    .map(str::to_owned),
            );
            f.latest.insert(
                (entry.subject_kind.to_owned(), entry.subject_id.to_owned()),
                Latest {
                    log_id: self.head.log_id,
                    seq,
                    alg: self.head.alg,
                    action: entry.action.to_owned(),
                    commitment: entry.commitment,
                    salt: j.salt.map(<[u8]>::to_vec),
                },
            );
        }
    }

    /// Ends the replay: every journal row of the replayed range (`journal_rows`, counted
    /// by the reader) must belong to an entry.
    pub fn finish(self, f: &mut Findings, journal_rows: i64) {
        let name = &self.head.name;
        let orphans = journal_rows - self.journal_rows as i64;
        if orphans > 0 {
            f.report.fail(format!(
                "日志 {name}：{orphans} 条操作记录没有对应的日志条目 / log {name}: {orphans} journal rows without an entry"
            ));
        }
    }
}
