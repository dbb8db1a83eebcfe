//! What this node knows of its own health, for `/healthz` and the administrators' home
//! page: the checks that stop every change of record (a log behind what was signed, a
//! damaged database), and how the last checkpoint signing went.

use crate::Store;
use crate::error::StoreError;
use std::collections::BTreeMap;

/// A check that can stop changes of record on this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Concern {
    /// A log is behind, or forked from, what was signed (`rollback.rs`).
    Rollback,
    /// The database failed its integrity check (`Store::quick_check`).
    Database,
}

#[derive(Debug, Default)]
pub struct Health {
    halted: BTreeMap<Concern, Vec<String>>,
    /// When the checkpointer last ran, and what went wrong, if anything.
    checkpoint: Option<(i64, Option<String>)>,
    /// When each witness was last asked to cosign, and what went wrong, if anything. A
    /// witness's refusal is reported, not obeyed: its answers are not signed, so a
    /// network that lies must not be able to stop this node's work.
    witnessing: BTreeMap<String, (i64, Option<String>)>,
    /// The background check of rows against their entries (`row_sweep.rs`): when it last
    /// ran, how many rows it checked then, and how many mismatches it has found.
    row_sweep: Option<RowSweepStatus>,
}

#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct RowSweepStatus {
    pub last_run_ms: i64,
    pub checked: usize,
    pub found: usize,
    /// When the sweep last finished a round of every table (`None`: not yet).
    pub last_round_ms: Option<i64>,
}

impl Store {
    /// Stops (with the reasons) or resumes every change of record on this node, as far as
    /// the check `concern` is concerned.
    pub fn set_halted(&self, concern: Concern, reasons: Vec<String>) {
        let mut h = self.health.write().expect("not poisoned");
        let before = h.halted.get(&concern).cloned().unwrap_or_default();
        if before == reasons {
            return;
        }
        if reasons.is_empty() {
            tracing::info!(?concern, "the check passes again; changes resume");
            h.halted.remove(&concern);
        } else {
            for r in &reasons {
                tracing::error!(?concern, "{r}");
            }
            h.halted.insert(concern, reasons);
        }
    }

    /// Why changes of record are refused on this node (empty: they are not).
    pub fn halted(&self) -> Vec<String> {
        let h = self.health.read().expect("not poisoned");
        h.halted.values().flatten().cloned().collect()
    }

    /// Notes how a run of the checkpointer went.
    pub fn record_checkpoint_run(&self, at: i64, error: Option<String>) {
        self.health.write().expect("not poisoned").checkpoint = Some((at, error));
    }

    /// When the checkpointer last ran, and its error if it failed (`None`: it has not run
    /// on this node).
    pub fn checkpoint_run(&self) -> Option<(i64, Option<String>)> {
        self.health.read().expect("not poisoned").checkpoint.clone()
    }

    /// Notes a run of the background row check.
    pub fn record_row_sweep(&self, at: i64, checked: usize, found: usize, wrapped: bool) {
        let mut h = self.health.write().expect("not poisoned");
        let before = h.row_sweep;
        h.row_sweep = Some(RowSweepStatus {
            last_run_ms: at,
            checked,
            found: before.map(|b| b.found).unwrap_or(0) + found,
            last_round_ms: if wrapped {
                Some(at)
            } else {
                before.and_then(|b| b.last_round_ms)
            },
        });
    }

    /// How the background row check went last (`None`: it has not run on this node).
    pub fn row_sweep(&self) -> Option<RowSweepStatus> {
        self.health.read().expect("not poisoned").row_sweep
    }

    /// Notes how asking a witness went.
    pub fn record_witness_run(&self, witness: &str, at: i64, error: Option<String>) {
        self.health
            .write()
            .expect("not poisoned")
            .witnessing
            .insert(witness.to_owned(), (at, error));
    }

    /// Each witness asked on this node: (name, when, the problem if any).
    pub fn witness_runs(&self) -> Vec<(String, i64, Option<String>)> {
        let h = self.health.read().expect("not poisoned");
        h.witnessing
            .iter()
            .map(|(w, (at, e))| (w.clone(), *at, e.clone()))
            .collect()
    }

    /// SQLite's `PRAGMA quick_check` (the run-time check: the full `integrity_check` of a
    /// backup also compares indexes with their tables, and takes longer): the problems it
    /// finds in the database file (empty when none, and always on PostgreSQL, which checks
    /// its pages itself).
    pub async fn quick_check(&self) -> Result<Vec<String>, StoreError> {
        if self.backend() != crate::Backend::Sqlite {
            return Ok(vec![]);
        }
        // A page damaged badly enough makes the check itself fail with SQLITE_CORRUPT (11)
        // or SQLITE_NOTADB (26): that is its finding, not an error of the check.
        let rows: Vec<String> = match sqlx::query_scalar("PRAGMA quick_check")
            .fetch_all(&self.pool)
            .await
        {
            Ok(rows) => rows,
            Err(sqlx::Error::Database(e))
                if e.code()
                    .and_then(|c| c.parse::<i32>().ok())
                    .is_some_and(|c| matches!(c & 0xff, 11 | 26)) =>
            {
                vec![e.message().to_owned()]
            }
            Err(e) => return Err(e.into()),
        };
        let mut damage: Vec<String> = rows
            .into_iter()
            .filter(|r| r != "ok")
            .map(|r| format!("数据库文件损坏 / database damaged: {r}"))
            .collect();
        if !damage.is_empty() {
            let tables = self.damaged_tables().await;
            if !tables.is_empty() {
                damage.insert(
                    0,
                    format!("损坏的数据表 / damaged tables: {}", tables.join("、")),
                );
            }
        }
        Ok(damage)
    }

    /// Which tables a damaged file's bad pages belong to: SQLite checks one table (with its
    /// indexes) when named, so an operator learns what is at stake (a case table, the log)
    /// rather than a page number. Tables that cannot even be listed are left out.
    async fn damaged_tables(&self) -> Vec<String> {
        let Ok(tables) = sqlx::query_scalar::<_, String>(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await
        else {
            return vec![];
        };
        let mut damaged = Vec::new();
        for t in tables {
            // Names come from the schema, quoted as identifiers.
            let sql = format!("PRAGMA quick_check(\"{}\")", t.replace('"', "\"\""));
            let bad = match sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql))
                .fetch_all(&self.pool)
                .await
            {
                Ok(lines) => lines.iter().any(|l| l != "ok"),
                Err(_) => true,
            };
            if bad {
                damaged.push(t);
            }
        }
        damaged
    }
}
