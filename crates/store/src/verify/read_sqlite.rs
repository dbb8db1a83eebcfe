//! Reading logs for verification straight from the SQLite file, on two read-only
//! connections side by side: one replays the tree, the other the journal.
//!
//! Verification reads every entry, journal row and tree node: millions of rows. Through
//! sqlx's `Any` driver each row costs about 1.7 µs (a worker-thread hop and a copy of every
//! value), which made `zhifa verify` 28 times slower than hashing the same bytes; direct
//! read-only connections step the same tables at a fraction of that (BENCHMARKS.md).
//! Each connection reads in one transaction; both stop at the sizes of the heads read
//! before they started, and a log never changes below its head.

use super::replay::{JournalReplay, JournalRow, TreeReplay};
use super::{Findings, Job, Replayed, Report, SQL_ENTRIES, SQL_JOURNAL_COUNT, SQL_NODE_RANGE};
use crate::error::StoreError;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, params};
use std::path::Path;
use zhifa_ledger::Hash;

/// The journal rows of a log in order.
const SQL_JOURNAL_SCAN: &str =
    "SELECT seq, at, actor, action, subject_kind, subject_id, payload, salt
 FROM journal WHERE log_id = $1 AND seq >= $2 AND seq < $3 ORDER BY seq";

// A value of the wrong type (written behind zhifa's back) must become a finding, not end
// verification: bytes read as empty, integers as an impossible number, and the checks
// that follow report the entry, node or journal row.
fn bytes(v: ValueRef<'_>) -> &[u8] {
    match v {
        ValueRef::Blob(b) | ValueRef::Text(b) => b,
        _ => &[],
    }
}

fn bytes_or_null(v: ValueRef<'_>) -> Option<&[u8]> {
    match v {
        ValueRef::Null => None,
        other => Some(bytes(other)),
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

/// Replays every job's log from the database file at `path`.
pub(super) fn replay_all(
    path: &Path,
    jobs: &[Job],
    f: &mut Findings,
) -> Result<Vec<Replayed>, StoreError> {
    let (tree, journal) = std::thread::scope(|scope| {
        let tree = scope.spawn(|| -> Result<(Report, Vec<Replayed>), StoreError> {
            let conn = open(path)?;
            let mut report = Report::default();
            let mut roots = Vec::with_capacity(jobs.len());
            for job in jobs {
                roots.push(replay_tree(&conn, job, &mut report).map_err(err)?);
            }
            Ok((report, roots))
        });
        let journal = (|| -> Result<(), StoreError> {
            let conn = open(path)?;
            for job in jobs {
                replay_journal(&conn, job, f).map_err(err)?;
            }
            Ok(())
        })();
        (tree.join(), journal)
    });
    let (report, roots) =
        tree.map_err(|_| StoreError::Corrupt("the tree replay failed".into()))??;
    journal?;
    f.report.absorb_first(report);
    Ok(roots)
}

fn replay_tree(conn: &Connection, job: &Job, report: &mut Report) -> rusqlite::Result<Replayed> {
    let head = &job.head;
    let mut replay = TreeReplay::new(
        head,
        job.key.as_deref(),
        job.checkpoints.iter().map(|(s, _)| *s),
    );
    let mut nodes = conn.prepare(SQL_NODE_RANGE)?;
    let mut compare = |replay: &mut TreeReplay<'_>, report: &mut Report| -> rusqlite::Result<()> {
        for run in replay.take_runs() {
            let to = run.from + run.hashes.len() as u64;
            let mut stored: Vec<Hash> = Vec::with_capacity(run.hashes.len());
            let mut rows = nodes.query(params![
                head.log_id,
                run.level as i64,
                run.from as i64,
                to as i64
            ])?;
            while let Some(r) = rows.next()? {
                // A stored value that is not 32 bytes never equals a recomputed hash.
                stored.push(bytes(r.get_ref(0)?).try_into().unwrap_or([0; 32]));
            }
            replay.compare(report, &run, &stored);
        }
        Ok(())
    };
    {
        let mut entries = conn.prepare(SQL_ENTRIES)?;
        let mut rows = entries.query(params![head.log_id, 0i64, head.size as i64])?;
        while let Some(e) = rows.next()? {
            if !replay.entry(
                report,
                int(e.get_ref(0)?),
                bytes(e.get_ref(1)?),
                bytes_or_null(e.get_ref(2)?),
            ) {
                break;
            }
            if replay.compare_due() {
                compare(&mut replay, report)?;
            }
        }
    }
    if !replay.stopped() {
        compare(&mut replay, report)?;
    }
    Ok(replay.finish(report))
}

fn replay_journal(conn: &Connection, job: &Job, f: &mut Findings) -> rusqlite::Result<()> {
    let head = &job.head;
    let mut replay = JournalReplay::new(head);
    {
        // Two ordered scans merged here rather than a join: a join looks each journal
        // row up by key (a B-tree descent per entry); the scans walk both tables in order.
        let bounds = params![head.log_id, 0i64, head.size as i64];
        let mut entries = conn.prepare(SQL_ENTRIES)?;
        let mut journal = conn.prepare(SQL_JOURNAL_SCAN)?;
        let mut entry_rows = entries.query(bounds)?;
        let mut journal_rows = journal.query(bounds)?;
        let mut j = journal_rows.next()?;
        while let Some(e) = entry_rows.next()? {
            let seq = int(e.get_ref(0)?);
            // Journal rows before this entry belong to no entry: counted at the end.
            while let Some(row) = j
                && int(row.get_ref(0)?) < seq
            {
                j = journal_rows.next()?;
            }
            let row = match j {
                Some(row) if int(row.get_ref(0)?) == seq => Some(JournalRow {
                    at: int(row.get_ref(1)?),
                    actor: bytes(row.get_ref(2)?),
                    action: bytes(row.get_ref(3)?),
                    subject_kind: bytes(row.get_ref(4)?),
                    subject_id: bytes(row.get_ref(5)?),
                    payload: bytes_or_null(row.get_ref(6)?),
                    salt: bytes_or_null(row.get_ref(7)?),
                }),
                _ => None,
            };
            if !replay.entry(f, seq, bytes(e.get_ref(1)?), row) {
                break;
            }
        }
    }
    let journal_rows: i64 = conn.query_row(
        SQL_JOURNAL_COUNT,
        params![head.log_id, replay.replayed() as i64],
        |r| r.get(0),
    )?;
    replay.finish(f, journal_rows);
    Ok(())
}
