//! The background check of stored rows against their entries: every ledgered row, a
//! slice at a time, round and round, so that a row changed behind zhifa's back is found
//! within hours even if nobody acts on it (an act on it is refused at once: `guard.rs`).
//! Each row found is reported once — a tamper alert on the administrators' home page —
//! and the run is noted for `/healthz`.

use crate::Store;
use crate::error::StoreError;
use crate::guard::{Checked, Tampered};
use crate::snapshot::{self, LEDGERED};
use crate::write::Actor;

/// Where the sweep stands: which table, and the last id checked in it.
#[derive(Debug, Clone, Copy, Default)]
pub struct SweepCursor {
    table: usize,
    after_id: i64,
}

/// What one run found.
#[derive(Debug, Default)]
pub struct SweepRun {
    pub checked: usize,
    /// Rows found not to match their entries (each reported once per process).
    pub tampered: Vec<Tampered>,
    /// The sweep went round every table since the previous run.
    pub wrapped: bool,
}

/// The rows reported already, by (kind, id, finding).
pub(crate) type Reported = std::collections::HashSet<(&'static str, i64, &'static str)>;

/// Rows read and checked per statement.
const BATCH: i64 = 200;

impl Store {
    /// Checks up to `limit` rows from `cursor` on, and moves it.
    pub async fn sweep_rows(
        &self,
        cursor: &mut SweepCursor,
        limit: usize,
    ) -> Result<SweepRun, StoreError> {
        let mut run = SweepRun::default();
        let mut conn = self.pool.acquire().await?;
        while run.checked < limit {
            let (kind, table) = LEDGERED[cursor.table];
            let cols = snapshot::returning(kind).expect("a ledgered kind");
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {cols} FROM {table} WHERE id > $1 ORDER BY id LIMIT {BATCH}"
            )))
            .bind(cursor.after_id)
            .fetch_all(&mut *conn)
            .await?;
            let mut checked: Vec<Checked> = Vec::with_capacity(rows.len());
            for r in &rows {
                use sqlx::Row;
                checked.push((kind, r.try_get("id")?, Some(snapshot::of_row(kind, r)?)));
            }
            if let Some(last) = checked.last() {
                cursor.after_id = last.1;
            }
            if (checked.len() as i64) < BATCH {
                cursor.table = (cursor.table + 1) % LEDGERED.len();
                cursor.after_id = 0;
                run.wrapped |= cursor.table == 0;
            }
            run.checked += checked.len();
            // The check stops at the first mismatch; the rest of the batch is checked
            // again without it. A mismatch is read once more before it counts: an act
            // may have committed between the row's read and its entry's.
            while !checked.is_empty() {
                let Some(t) = self
                    .find_tampered(&mut conn, checked.clone(), false)
                    .await?
                else {
                    break;
                };
                let i = checked
                    .iter()
                    .position(|(k, id, _)| *k == t.kind && *id == t.id)
                    .expect("a row of the batch");
                let (k, id, _) = checked.remove(i);
                let again = snapshot::read(&mut conn, k, id).await?;
                if self
                    .find_tampered(&mut conn, vec![(k, id, again)], false)
                    .await?
                    .is_some()
                    && self.first_sighting(&t)
                {
                    run.tampered.push(t);
                }
            }
            if run.wrapped {
                break;
            }
        }
        for t in &run.tampered {
            let message = format!(
                "例行核查发现数据被绕过系统修改：{}（编号 {}）{}。请运行 zhifa verify 核查，并查明修改来源。",
                snapshot::label(t.kind),
                t.id,
                t.finding.text()
            );
            tracing::error!(kind = t.kind, id = t.id, "{message}");
            if let Err(e) = self.record_alert(Actor::System("sweep"), t, message).await {
                tracing::error!("could not record the tamper alert: {e}");
            }
        }
        Ok(run)
    }

    /// Whether this is the first time this process finds `t` (a row found again on the
    /// next round is not alerted again).
    fn first_sighting(&self, t: &Tampered) -> bool {
        self.swept
            .lock()
            .expect("not poisoned")
            .insert((t.kind, t.id, t.finding.code()))
    }
}
