//! Reading logs for verification through the shared sqlx pool (PostgreSQL, and SQLite
//! when it was opened by a URL that names no file): the tree and the journal replays run
//! side by side on two connections.

use super::replay::{JournalReplay, JournalRow, TreeReplay};
use super::{Findings, Job, Replayed, Report, SQL_ENTRIES, SQL_JOURNAL_COUNT, SQL_NODE_RANGE};
use crate::db::Store;
use crate::error::StoreError;
use futures_util::TryStreamExt;
use sqlx::Row;
use zhifa_ledger::Hash;

pub(super) async fn replay_all(
    store: &Store,
    jobs: &[Job],
    f: &mut Findings,
) -> Result<Vec<Replayed>, StoreError> {
    let tree = async {
        let mut report = Report::default();
        let mut roots = Vec::with_capacity(jobs.len());
        for job in jobs {
            roots.push(replay_tree(store, job, &mut report).await?);
        }
        Ok::<_, StoreError>((report, roots))
    };
    let journal = async {
        for job in jobs {
            replay_journal(store, job, f).await?;
        }
        Ok::<_, StoreError>(())
    };
    let (tree, journal) = tokio::join!(tree, journal);
    let (report, roots) = tree?;
    journal?;
    f.report.absorb_first(report);
    Ok(roots)
}

async fn compare(
    store: &Store,
    replay: &mut TreeReplay<'_>,
    log_id: i64,
    report: &mut Report,
) -> Result<(), StoreError> {
    for run in replay.take_runs() {
        let to = run.from + run.hashes.len() as u64;
        let stored: Vec<Hash> = sqlx::query(SQL_NODE_RANGE)
            .bind(log_id)
            .bind(run.level as i64)
            .bind(run.from as i64)
            .bind(to as i64)
            .fetch_all(&store.pool)
            .await?
            .into_iter()
            .map(|r| {
                let v: Vec<u8> = r.try_get(0)?;
                Ok(v.try_into().unwrap_or([0; 32]))
            })
            .collect::<Result<_, StoreError>>()?;
        replay.compare(report, &run, &stored);
    }
    Ok(())
}

async fn replay_tree(
    store: &Store,
    job: &Job,
    report: &mut Report,
) -> Result<Replayed, StoreError> {
    let head = &job.head;
    let mut replay = TreeReplay::new(
        head,
        job.key.as_deref(),
        job.checkpoints.iter().map(|(s, _)| *s),
    );
    {
        let mut rows = sqlx::query(SQL_ENTRIES)
            .bind(head.log_id)
            .bind(0i64)
            .bind(head.size as i64)
            .fetch(&store.pool);
        while let Some(r) = rows.try_next().await? {
            let bytes: Vec<u8> = r.try_get(1)?;
            let code: Option<Vec<u8>> = r.try_get(2)?;
            if !replay.entry(report, r.try_get(0)?, &bytes, code.as_deref()) {
                break;
            }
            if replay.compare_due() {
                compare(store, &mut replay, head.log_id, report).await?;
            }
        }
    }
    if !replay.stopped() {
        compare(store, &mut replay, head.log_id, report).await?;
    }
    Ok(replay.finish(report))
}

async fn replay_journal(store: &Store, job: &Job, f: &mut Findings) -> Result<(), StoreError> {
    let head = &job.head;
    let mut replay = JournalReplay::new(head);
    {
        let mut rows = sqlx::query(SQL_ENTRIES_WITH_JOURNAL)
            .bind(head.log_id)
            .bind(0i64)
            .bind(head.size as i64)
            .fetch(&store.pool);
        while let Some(r) = rows.try_next().await? {
            let seq: i64 = r.try_get(0)?;
            let bytes: Vec<u8> = r.try_get(1)?;
            let text = |i: usize| r.try_get::<Option<String>, _>(i);
            let (actor, action, kind, id, payload) =
                (text(4)?, text(5)?, text(6)?, text(7)?, text(8)?);
            let salt: Option<Vec<u8>> = r.try_get(9)?;
            let journal = match r.try_get::<Option<i64>, _>(2)? {
                None => None,
                Some(_) => Some(JournalRow {
                    at: r.try_get::<Option<i64>, _>(3)?.unwrap_or_default(),
                    actor: actor.as_deref().unwrap_or_default().as_bytes(),
                    action: action.as_deref().unwrap_or_default().as_bytes(),
                    subject_kind: kind.as_deref().unwrap_or_default().as_bytes(),
                    subject_id: id.as_deref().unwrap_or_default().as_bytes(),
                    payload: payload.as_deref().map(str::as_bytes),
                    salt: salt.as_deref(),
                }),
            };
            if !replay.entry(f, seq, &bytes, journal) {
                break;
            }
        }
    }
    let journal_rows: i64 = sqlx::query_scalar(SQL_JOURNAL_COUNT)
        .bind(head.log_id)
        .bind(replay.replayed() as i64)
        .fetch_one(&store.pool)
        .await?;
    replay.finish(f, journal_rows);
    Ok(())
}

/// The entries of a log in order, each with its journal row.
const SQL_ENTRIES_WITH_JOURNAL: &str =
    "SELECT e.seq, e.entry, j.seq AS jseq, j.at, j.actor, j.action, j.subject_kind,
        j.subject_id, j.payload, j.salt
 FROM ledger_entries e
 LEFT JOIN journal j ON j.log_id = e.log_id AND j.seq = e.seq
 WHERE e.log_id = $1 AND e.seq >= $2 AND e.seq < $3 ORDER BY e.seq";
