//! Reading logs for verification straight from the SQLite file, on read-only connections
//! side by side: each long log is cut into stretches, one per core, and each stretch is
//! read once, its entries fed to both the tree and the journal replay.
//!
//! Verification reads every entry, journal row and tree node: millions of rows. Through
//! sqlx's `Any` driver each row costs about 1.7 µs (a worker-thread hop and a copy of every
//! value), which made `zhifa verify` 28 times slower than hashing the same bytes; direct
//! read-only connections step the same tables at a fraction of that (BENCHMARKS.md).
//! Each connection reads in one transaction; all stop at the sizes of the heads read
//! before they started, and a log never changes below its head.

use super::pieces::{Piece, PieceResult, Split, merge};
use super::raw_scan::RawScan;
use super::replay::{JournalReplay, JournalRow, TreeReplay, chunk_entries, stored_run};
use super::{
    Findings, Job, Replayed, Report, SQL_ENTRY_CHUNKS, SQL_HASH_CHUNK, SQL_HASH_CHUNKS,
    SQL_JOURNAL_SCAN,
};
use crate::error::StoreError;
use crate::log_chunks::{self, chunk_span};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

// A value of the wrong type (written behind zhifa's back) must become a finding, not end
// verification: a chunk that is not a blob reads as one byte (which no chunk can be),
// an integer that is not one as an impossible number, and the checks that follow name
// the chunk or row. The bulk scans (`raw_scan.rs`) read the same way.
fn blob(v: ValueRef<'_>) -> &[u8] {
    match v {
        ValueRef::Blob(b) => b,
        _ => &[0],
    }
}

fn int(v: ValueRef<'_>) -> i64 {
    match v {
        ValueRef::Integer(i) => i,
        _ => i64::MIN,
    }
}

fn err(e: rusqlite::Error) -> StoreError {
    StoreError::Corrupt(format!("SQLite: {e}"))
}

fn open(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(err)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(err)?;
    // A larger page cache and memory-mapped reads: these connections only scan.
    conn.execute_batch("PRAGMA cache_size = -32768; PRAGMA mmap_size = 1073741824; BEGIN")
        .map_err(err)?;
    Ok(conn)
}

/// Replays every job's log from the database file at `path`: each log cut into stretches
/// (`pieces.rs`), the stretches handed out in order to one thread per worker, each with
/// its own read-only connection.
pub(super) fn replay_all(
    path: &Path,
    jobs: &[Job],
    f: &mut Findings,
    split: Split,
) -> Result<Vec<Replayed>, StoreError> {
    let first = open(path)?;
    let mut pieces = Vec::new();
    {
        let mut chunk = first.prepare(SQL_HASH_CHUNK).map_err(err)?;
        for (j, job) in jobs.iter().enumerate() {
            let alg = job.head.alg;
            pieces.extend(
                split
                    .pieces(j, job, |id| {
                        let s = log_chunks::source(id);
                        chunk
                            .query_row(
                                params![job.head.log_id, s.level as i64, s.chunk as i64],
                                |r| Ok(log_chunks::node_from(alg, id, blob(r.get_ref(0)?))),
                            )
                            .optional()
                            .map(Option::flatten)
                    })
                    .map_err(err)?,
            );
        }
    }
    let next = AtomicUsize::new(0);
    let results: Vec<Mutex<Option<Result<PieceResult, StoreError>>>> =
        pieces.iter().map(|_| Mutex::new(None)).collect();
    let work = |conn: Connection| {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(piece) = pieces.get(i) else { break };
            let result = replay_piece(&conn, &jobs[piece.job], piece).map_err(err);
            let failed = result.is_err();
            *results[i].lock().expect("not poisoned") = Some(result);
            if failed {
                // The others stop at their next piece.
                next.store(pieces.len(), Ordering::Relaxed);
                break;
            }
        }
    };
    std::thread::scope(|scope| -> Result<(), StoreError> {
        for _ in 1..split.workers.min(pieces.len()) {
            let conn = open(path)?;
            scope.spawn(|| work(conn));
        }
        work(first);
        Ok(())
    })?;
    let results = results
        .into_iter()
        .map(|r| r.into_inner().expect("not poisoned"))
        .collect();
    merge(&pieces, results, jobs.len(), f)
}

/// Replays one stretch: a single ordered walk of its entry chunks merged with its journal
/// rows, each entry fed to both checks, the stored nodes compared every `COMPARE_EVERY`
/// entries.
fn replay_piece(conn: &Connection, job: &Job, piece: &Piece) -> rusqlite::Result<PieceResult> {
    let head = &job.head;
    let from = piece.from();
    let mut f = Findings::default();
    let mut tree = TreeReplay::stretch(
        head,
        job.key.as_deref(),
        job.checkpoints.iter().map(|(s, _)| *s),
        piece.start.clone(),
        piece.to,
    );
    let mut journal = JournalReplay::stretch(head, from);
    let mut hash_chunks = conn.prepare(SQL_HASH_CHUNKS)?;
    let mut compare = |tree: &mut TreeReplay<'_>, report: &mut Report| -> rusqlite::Result<()> {
        for run in tree.take_runs() {
            let to = run.from + run.hashes.len() as u64;
            let (first, end) = chunk_span(run.from, to);
            let mut rows = hash_chunks.query(params![head.log_id, run.level as i64, first, end])?;
            let mut chunks: Vec<(i64, Vec<u8>)> = Vec::new();
            while let Some(r) = rows.next()? {
                chunks.push((int(r.get_ref(0)?), blob(r.get_ref(1)?).to_vec()));
            }
            let stored = stored_run(
                head,
                run.level,
                run.from,
                to,
                chunks.iter().map(|(c, b)| (*c, b.as_slice())),
                report,
            );
            tree.compare(report, &run, &stored);
        }
        Ok(())
    };
    // Journal rows of the stretch seen so far below the journal replay's position.
    let mut journal_rows = 0i64;
    {
        // Two ordered scans merged here rather than a join: a join looks each journal
        // row up by key (a B-tree descent per entry); the scans walk both tables in order.
        let (first, end) = chunk_span(from, piece.to);
        let mut chunks = RawScan::new(conn, SQL_ENTRY_CHUNKS, &[head.log_id, first, end])?;
        let mut journal_scan = RawScan::new(
            conn,
            SQL_JOURNAL_SCAN,
            &[head.log_id, piece.journal_from(), piece.to as i64],
        )?;
        // Whether the journal scan stands on a row.
        let mut j = journal_scan.step()?;
        let (mut tree_on, mut journal_on) = (true, true);
        'chunks: while chunks.step()? {
            let Some(items) = chunk_entries(
                head,
                chunks.int(0),
                chunks.blob(1),
                chunks.blob(2),
                &mut f.report,
            ) else {
                break;
            };
            for (seq, entry, code) in items {
                if seq < from as i64 {
                    continue;
                }
                if seq >= piece.to as i64 {
                    break 'chunks;
                }
                let leaf = head.alg.leaf(entry);
                if tree_on {
                    tree_on = tree.entry(&mut f.report, seq, entry, leaf, code);
                    if tree_on && tree.compare_due() {
                        compare(&mut tree, &mut f.report)?;
                    }
                }
                if journal_on {
                    // Journal rows before this entry belong to no entry: counted at the end.
                    while j && journal_scan.int(0) < seq {
                        journal_rows += 1;
                        j = journal_scan.step()?;
                    }
                    let row = (j && journal_scan.int(0) == seq).then(|| JournalRow {
                        action: journal_scan.bytes(1).unwrap_or_default(),
                        subject_kind: journal_scan.bytes(2).unwrap_or_default(),
                        subject_id: journal_scan.bytes(3).unwrap_or_default(),
                        payload: journal_scan.bytes(4),
                        salt: journal_scan.bytes(5),
                        leaf_key: journal_scan.int(6),
                    });
                    let had_row = row.is_some();
                    journal_on = journal.entry(&mut f, seq, entry, &leaf, row);
                    if journal_on && had_row {
                        journal_rows += 1;
                        j = journal_scan.step()?;
                    }
                }
                if !tree_on && !journal_on {
                    break 'chunks;
                }
            }
        }
        if journal_on {
            // Rows after the last entry of the stretch belong to no entry either.
            while j {
                journal_rows += 1;
                j = journal_scan.step()?;
            }
        }
    }
    if !tree.stopped() {
        compare(&mut tree, &mut f.report)?;
    }
    let replayed = tree.finish(&mut f.report);
    journal.finish(&mut f, journal_rows);
    Ok(PieceResult {
        findings: f,
        replayed,
    })
}
