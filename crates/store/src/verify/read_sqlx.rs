//! Reading logs for verification through the shared sqlx pool (PostgreSQL, and SQLite
//! when it was opened by a URL that names no file): each log's stretches side by side,
//! each read once for both the tree and the journal replay.

use super::pieces::{Piece, PieceResult, Split, merge};
use super::replay::{JournalReplay, JournalRow, TreeReplay, chunk_entries, stored_run};
use super::{
    Findings, Job, Replayed, Report, SQL_ENTRY_CHUNKS, SQL_HASH_CHUNK, SQL_HASH_CHUNKS,
    SQL_JOURNAL_SCAN,
};
use crate::db::Store;
use crate::error::StoreError;
use crate::log_chunks::{self, chunk_span};
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
            // A chunk that does not reach the node counts as missing: the log is then
            // read whole, and the replay names the chunk.
            let s = log_chunks::source(id);
            let hash: Option<Hash> = sqlx::query(SQL_HASH_CHUNK)
                .bind(job.head.log_id)
                .bind(s.level as i64)
                .bind(s.chunk as i64)
                .fetch_optional(&store.pool)
                .await?
                .and_then(|r| r.try_get::<Vec<u8>, _>(0).ok())
                .and_then(|v| log_chunks::node_from(job.head.alg, id, &v));
            stored.insert(id, hash);
        }
        pieces.extend(split.pieces(j, job, |id| {
            Ok::<_, StoreError>(stored.get(&id).copied().flatten())
        })?);
    }
    // Each stretch holds two connections while it streams and takes a third to compare
    // nodes: never more stretches at once than the pool can serve that way.
    let pool_max = store.pool.options().get_max_connections() as usize;
    let at_once = split.workers.min(pool_max / 3).max(1);
    // One copy of the jobs (their checkpoints may be many) shared by the tasks.
    let shared: Arc<[Job]> = jobs.into();
    let results: Vec<_> =
        futures_util::stream::iter(pieces.iter().cloned())
            .map(|piece| {
                let (store, jobs) = (store.clone(), shared.clone());
                tokio::spawn(async move { replay_piece(&store, &jobs[piece.job], &piece).await })
            })
            .buffered(at_once)
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
    head: &crate::ledger::LogHead,
    report: &mut Report,
) -> Result<(), StoreError> {
    for run in replay.take_runs() {
        let to = run.from + run.hashes.len() as u64;
        let (first, end) = chunk_span(run.from, to);
        let chunks: Vec<(i64, Vec<u8>)> = sqlx::query(SQL_HASH_CHUNKS)
            .bind(head.log_id)
            .bind(run.level as i64)
            .bind(first)
            .bind(end)
            .fetch_all(&store.pool)
            .await?
            .into_iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_, StoreError>>()?;
        let stored = stored_run(
            head,
            run.level,
            run.from,
            to,
            chunks.iter().map(|(c, b)| (*c, b.as_slice())),
            report,
        );
        replay.compare(report, &run, &stored);
    }
    Ok(())
}

/// Replays one stretch: an ordered read of its entry chunks merged with an ordered read of its
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
        let (first, end) = chunk_span(piece.from(), piece.to);
        let mut chunks = sqlx::query(SQL_ENTRY_CHUNKS)
            .bind(head.log_id)
            .bind(first)
            .bind(end)
            .fetch(&store.pool);
        let mut journal_scan = sqlx::query(SQL_JOURNAL_SCAN)
            .bind(head.log_id)
            .bind(piece.journal_from())
            .bind(piece.to as i64)
            .fetch(&store.pool);
        let mut j = journal_scan.try_next().await?;
        let (mut tree_on, mut journal_on) = (true, true);
        'chunks: while let Some(c) = chunks.try_next().await? {
            let (chunk, entries, codes): (i64, Vec<u8>, Vec<u8>) =
                (c.try_get(0)?, c.try_get(1)?, c.try_get(2)?);
            let Some(items) = chunk_entries(head, chunk, &entries, &codes, &mut f.report) else {
                break;
            };
            for (seq, bytes, code) in items {
                if seq < piece.from() as i64 {
                    continue;
                }
                if seq >= piece.to as i64 {
                    break 'chunks;
                }
                let leaf = head.alg.leaf(bytes);
                if tree_on {
                    tree_on = tree.entry(&mut f.report, seq, bytes, leaf, code);
                    if tree_on && tree.compare_due() {
                        compare(store, &mut tree, head, &mut f.report).await?;
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
                    let (action, kind, id, payload) = (text(1)?, text(2)?, text(3)?, text(4)?);
                    let salt: Option<Vec<u8>> = matched.map_or(Ok(None), |r| r.try_get(5))?;
                    let row = match matched {
                        None => None,
                        Some(r) => Some(JournalRow {
                            action: action.as_deref().unwrap_or_default().as_bytes(),
                            subject_kind: kind.as_deref().unwrap_or_default().as_bytes(),
                            subject_id: id.as_deref().unwrap_or_default().as_bytes(),
                            payload: payload.as_deref().map(str::as_bytes),
                            salt: salt.as_deref(),
                            // NULL (a row from before leaf keys) never matches a key.
                            leaf_key: r.try_get::<Option<i64>, _>(6)?.unwrap_or(i64::MIN),
                        }),
                    };
                    let had_row = row.is_some();
                    journal_on = journal.entry(&mut f, seq, bytes, &leaf, row);
                    if journal_on && had_row {
                        journal_rows += 1;
                        j = journal_scan.try_next().await?;
                    }
                }
                if !tree_on && !journal_on {
                    break 'chunks;
                }
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
        compare(store, &mut tree, head, &mut f.report).await?;
    }
    let replayed = tree.finish(&mut f.report);
    journal.finish(&mut f, journal_rows);
    Ok(PieceResult {
        findings: f,
        replayed,
    })
}
