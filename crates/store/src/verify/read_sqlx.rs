//! Reading logs for verification through the shared sqlx pool (PostgreSQL, and SQLite
//! when it was opened by a URL that names no file): each log's stretches side by side,
//! each read once for both the tree and the journal replay.

use super::pieces::{Piece, PieceResult, Split, merge};
use super::replay::{JournalReplay, JournalRow, TreeReplay};
use super::{
    Findings, Job, Replayed, Report, SQL_ENTRIES, SQL_JOURNAL_SCAN, SQL_NODE, SQL_NODE_RANGE,
};
use crate::db::Store;
use crate::error::StoreError;
use futures_util::{StreamExt, TryStreamExt};
use sqlx::Row;
use std::collections::HashMap;
use std::sync::Arc;
use zhifa_ledger::Hash;

/// Replays every job's log: each cut into stretches (`pieces.rs`), `split.workers`
/// stretches at a time, each on a task of its own (rows are decoded on this side, so
/// one task per core) with its own connections.
pub(super) async fn replay_all(
    store: &Store,
    jobs: &[Job],
    f: &mut Findings,
    split: Split,
) -> Result<Vec<Replayed>, StoreError> {
    let mut pieces = Vec::new();
    for (j, job) in jobs.iter().enumerate() {
        let mut stored = HashMap::new();
        for id in split.frontier_nodes(job.head.size) {
            // A value that is not a 32-byte hash counts as missing: the log is then read
            // whole, and the replay names the node.
            let hash: Option<Hash> = sqlx::query(SQL_NODE)
                .bind(job.head.log_id)
                .bind(id.level as i64)
                .bind(id.index as i64)
                .fetch_optional(&store.pool)
                .await?
                .and_then(|r| r.try_get::<Vec<u8>, _>(0).ok())
                .and_then(|v| v.try_into().ok());
            stored.insert(id, hash);
        }
        pieces.extend(split.pieces(j, job, |id| {
            Ok::<_, StoreError>(stored.get(&id).copied().flatten())
        })?);
    }
    // One copy of the jobs (their checkpoints may be many) shared by the tasks.
    let shared: Arc<[Job]> = jobs.into();
    let results: Vec<_> =
        futures_util::stream::iter(pieces.iter().cloned())
            .map(|piece| {
                let (store, jobs) = (store.clone(), shared.clone());
                tokio::spawn(async move { replay_piece(&store, &jobs[piece.job], &piece).await })
            })
            .buffered(split.workers.max(1))
            .map(|joined| {
                Some(joined.unwrap_or_else(|e| {
                    Err(StoreError::Corrupt(format!("verification task: {e}")))
                }))
            })
            .collect()
            .await;
    merge(&pieces, results, jobs.len(), f)
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

/// Replays one stretch: an ordered read of its entries merged with an ordered read of its
/// journal rows (on PostgreSQL a join of the two made a hash join of both tables, sorted
/// afterwards: three times slower), each entry fed to both checks; the stored nodes
/// compared every `COMPARE_EVERY` entries.
async fn replay_piece(store: &Store, job: &Job, piece: &Piece) -> Result<PieceResult, StoreError> {
    let head = &job.head;
    let mut f = Findings::default();
    let mut tree = TreeReplay::stretch(
        head,
        job.key.as_deref(),
        job.checkpoints.iter().map(|(s, _)| *s),
        piece.start.clone(),
        piece.to,
    );
    let mut journal = JournalReplay::stretch(head, piece.from());
    // Journal rows of the stretch seen so far below the journal replay's position.
    let mut journal_rows = 0i64;
    {
        let mut entries = sqlx::query(SQL_ENTRIES)
            .bind(head.log_id)
            .bind(piece.from() as i64)
            .bind(piece.to as i64)
            .fetch(&store.pool);
        let mut journal_scan = sqlx::query(SQL_JOURNAL_SCAN)
            .bind(head.log_id)
            .bind(piece.journal_from())
            .bind(piece.to as i64)
            .fetch(&store.pool);
        let mut j = journal_scan.try_next().await?;
        let (mut tree_on, mut journal_on) = (true, true);
        while let Some(e) = entries.try_next().await? {
            let seq: i64 = e.try_get(0)?;
            let bytes: Vec<u8> = e.try_get(1)?;
            if tree_on {
                let code: Option<Vec<u8>> = e.try_get(2)?;
                tree_on = tree.entry(&mut f.report, seq, &bytes, code.as_deref());
                if tree_on && tree.compare_due() {
                    compare(store, &mut tree, head.log_id, &mut f.report).await?;
                }
            }
            if journal_on {
                // Journal rows before this entry belong to no entry: counted at the end.
                while let Some(row) = &j
                    && row.try_get::<i64, _>(0)? < seq
                {
                    journal_rows += 1;
                    j = journal_scan.try_next().await?;
                }
                let matched = match &j {
                    Some(row) if row.try_get::<i64, _>(0)? == seq => Some(row),
                    _ => None,
                };
                let text = |i: usize| -> Result<Option<String>, sqlx::Error> {
                    matched.map_or(Ok(None), |r| r.try_get(i))
                };
                let (actor, action, kind, id, payload) =
                    (text(2)?, text(3)?, text(4)?, text(5)?, text(6)?);
                let salt: Option<Vec<u8>> = match matched {
                    Some(r) => r.try_get(7)?,
                    None => None,
                };
                let row = match matched {
                    None => None,
                    Some(r) => Some(JournalRow {
                        at: r.try_get::<i64, _>(1)?,
                        actor: actor.as_deref().unwrap_or_default().as_bytes(),
                        action: action.as_deref().unwrap_or_default().as_bytes(),
                        subject_kind: kind.as_deref().unwrap_or_default().as_bytes(),
                        subject_id: id.as_deref().unwrap_or_default().as_bytes(),
                        payload: payload.as_deref().map(str::as_bytes),
                        salt: salt.as_deref(),
                    }),
                };
                let had_row = row.is_some();
                journal_on = journal.entry(&mut f, seq, &bytes, row);
                if journal_on && had_row {
                    journal_rows += 1;
                    j = journal_scan.try_next().await?;
                }
            }
            if !tree_on && !journal_on {
                break;
            }
        }
        if journal_on {
            // Rows after the last entry of the stretch belong to no entry either.
            while j.is_some() {
                journal_rows += 1;
                j = journal_scan.try_next().await?;
            }
        }
    }
    if !tree.stopped() {
        compare(store, &mut tree, head.log_id, &mut f.report).await?;
    }
    let replayed = tree.finish(&mut f.report);
    journal.finish(&mut f, journal_rows);
    Ok(PieceResult {
        findings: f,
        replayed,
    })
}
