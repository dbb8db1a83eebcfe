//! The single write path.
//!
//! A [`WriteTx`] wraps one database transaction. Its mutation methods (defined next to
//! the tables they touch, in `org`, `accounts`, …) are the only code that writes ledgered
//! tables, and each of them records what it changed; [`WriteTx::commit`] appends one
//! entry per change to the agency's Merkle log and commits the change and the entries
//! together. Nothing outside this crate can reach the transaction, so a change without
//! its entry cannot be written from elsewhere.

use crate::db::{Backend, Store};
use crate::error::StoreError;
use crate::ledger;
use crate::snapshot;
use crate::time::now_ms;
use serde::Serialize;
use sqlx::{Any, AnyConnection, Transaction};
use std::collections::HashSet;

/// Who causes a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A signed-in user (or an API token's user).
    User(i64),
    /// An unauthenticated visitor (e.g. a failed login).
    Anonymous,
    /// zhifa itself or its command line, with the command's name.
    System(&'static str),
}

impl Actor {
    /// Canonical text form stored in entries: `user:12`, `anonymous`, `system:demo`.
    pub fn encode(&self) -> String {
        match self {
            Actor::User(id) => format!("user:{id}"),
            Actor::Anonymous => "anonymous".into(),
            Actor::System(what) => format!("system:{what}"),
        }
    }
}

/// A change waiting for its entry.
pub(crate) struct Pending {
    /// The log the entry goes to ([`ledger::log_for`]).
    pub log_id: i64,
    pub agency_id: Option<i64>,
    pub action: &'static str,
    pub subject_kind: &'static str,
    pub subject_id: String,
    pub payload: String,
    pub snapshot: bool,
}

/// One transaction that changes state and records why.
pub struct WriteTx {
    tx: Transaction<'static, Any>,
    /// SQLite: this process's turn to write, held until the transaction ends (declared
    /// after `tx`, so it is released after the rollback or commit).
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
    backend: Backend,
    actor: Actor,
    now: i64,
    pending: Vec<Pending>,
    /// The rows this transaction checked against their last entries (`guard.rs`): only
    /// these may get a new snapshot, besides rows it creates.
    guarded: HashSet<(&'static str, i64)>,
    /// The rows this transaction created: no earlier entry may name them (checked at
    /// commit), and later changes to them in this transaction build on its own writes.
    created: HashSet<(&'static str, i64)>,
    /// The store this transaction writes to (its key, its caches, and where an alert goes).
    store: Store,
}

impl Store {
    /// SQLite: this process's turn to write, to hold across a write transaction (every
    /// transaction that writes takes it, so none waits in SQLite's busy handler behind
    /// another of this process); `None` on PostgreSQL, whose writers lock rows.
    pub(crate) async fn sqlite_turn(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        match self.backend() {
            Backend::Sqlite => Some(self.write_turn.clone().lock_owned().await),
            Backend::Postgres => None,
        }
    }

    /// Starts a write. On SQLite the transaction takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so concurrent writers queue instead of failing on upgrade.
    ///
    /// SQLite has one writer at a time; the writers of this process queue for their turn
    /// here, before taking a connection, rather than in SQLite's busy handler (which
    /// sleeps, and would hold a pooled connection while it waits).
    pub async fn write(&self, actor: Actor) -> Result<WriteTx, StoreError> {
        let turn = self.sqlite_turn().await;
        let tx = match (&self.writer, self.backend()) {
            (Some(w), _) => w.pool().begin_with("BEGIN IMMEDIATE").await?,
            (None, Backend::Sqlite) => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            (None, Backend::Postgres) => self.pool.begin().await?,
        };
        Ok(WriteTx {
            tx,
            _turn: turn,
            backend: self.backend(),
            actor,
            now: now_ms(),
            pending: Vec::new(),
            guarded: HashSet::new(),
            created: HashSet::new(),
            store: self.clone(),
        })
    }

    /// Runs a whole write — its reads, checks and commit — on SQLite's writer thread, where
    /// its statements reach the database without crossing cores (`writer.rs`); elsewhere
    /// (PostgreSQL, an in-memory database) on the caller's task.
    pub(crate) async fn on_writer<T, F, Fut>(&self, work: F) -> Result<T, StoreError>
    where
        F: FnOnce(Store) -> Fut,
        Fut: std::future::Future<Output = Result<T, StoreError>> + Send + 'static,
        T: Send + 'static,
    {
        let work = work(self.clone());
        match &self.writer {
            Some(w) => w.run(work).await,
            None => work.await,
        }
    }
}

impl WriteTx {
    pub(crate) fn conn(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }

    /// Locks a log's head row for the rest of the transaction — the same lock appending
    /// takes (`FOR UPDATE` on PostgreSQL; SQLite's writer lock already covers it).
    pub(crate) async fn lock_log_head(
        &mut self,
        log_id: i64,
    ) -> Result<ledger::LogHead, StoreError> {
        let (backend, now) = (self.backend, self.now);
        ledger::lock_head(&mut self.tx, backend, log_id, now).await
    }

    /// The time of this transaction, used for every row it touches.
    pub fn now(&self) -> i64 {
        self.now
    }

    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    pub(crate) fn mark_guarded(&mut self, kind: &'static str, id: i64) {
        self.guarded.insert((kind, id));
    }

    /// Whether the row needs no check before a change: checked already, or created by
    /// this transaction.
    pub(crate) fn is_guarded(&self, kind: &'static str, id: i64) -> bool {
        self.guarded.contains(&(kind, id)) || self.created.contains(&(kind, id))
    }

    /// Marks a row this transaction inserted (an upsert that found no row).
    pub(crate) fn mark_created(&mut self, kind: &'static str, id: i64) {
        self.created.insert((kind, id));
    }

    /// Records a change of a ledgered row: the entry commits to the row's state after
    /// the change (or to "deleted"). Called by every mutation method after its SQL.
    pub(crate) async fn record_row(
        &mut self,
        agency_id: i64,
        action: &'static str,
        subject_kind: &'static str,
        id: i64,
    ) -> Result<(), StoreError> {
        self.record_row_in(Some(agency_id), action, subject_kind, id)
            .await
    }

    /// Like [`WriteTx::record_row`] for a row of the installation itself (its entry goes
    /// to the installation's log), e.g. the working-day calendar all agencies share.
    pub(crate) async fn record_row_in(
        &mut self,
        agency_id: Option<i64>,
        action: &'static str,
        subject_kind: &'static str,
        id: i64,
    ) -> Result<(), StoreError> {
        let payload = snapshot::read(self.conn(), subject_kind, id)
            .await?
            .unwrap_or_else(snapshot::deleted);
        self.push_snapshot(agency_id, action, subject_kind, id, payload)
    }

    /// Like [`WriteTx::record_row`] with the row as the statement that wrote it returned
    /// it (`RETURNING` [`snapshot::returning`]): the same snapshot, one read fewer.
    pub(crate) fn record_written_row(
        &mut self,
        agency_id: i64,
        action: &'static str,
        subject_kind: &'static str,
        row: &sqlx::any::AnyRow,
    ) -> Result<(), StoreError> {
        use sqlx::Row;
        let id: i64 = row.try_get("id")?;
        let payload = snapshot::of_row(subject_kind, row)?;
        self.push_snapshot(Some(agency_id), action, subject_kind, id, payload)
    }

    /// A row's snapshot waiting for its entry. A row that existed before must have been
    /// checked against its last entry first (`guard.rs`), or the act could launder a
    /// change made behind zhifa's back into a genuine entry.
    fn push_snapshot(
        &mut self,
        agency_id: Option<i64>,
        action: &'static str,
        subject_kind: &'static str,
        id: i64,
        payload: String,
    ) -> Result<(), StoreError> {
        debug_assert!(
            snapshot::is_row_action(action),
            "{action} is not a row action"
        );
        if snapshot::creates(action) {
            self.created.insert((subject_kind, id));
        } else if !self.is_guarded(subject_kind, id) {
            return Err(StoreError::Corrupt(format!(
                "{action} on {subject_kind} {id} without checking the row first"
            )));
        }
        self.pending.push(Pending {
            log_id: ledger::log_for(agency_id, action),
            agency_id,
            action,
            subject_kind,
            subject_id: id.to_string(),
            payload,
            snapshot: true,
        });
        Ok(())
    }

    /// Records an event that changes no ledgered row (a login, a failure, a denial); a
    /// security event goes to the security log, any other to its agency's log.
    pub(crate) fn record_event(
        &mut self,
        agency_id: Option<i64>,
        action: &'static str,
        subject_kind: &'static str,
        subject_id: impl ToString,
        payload: impl Serialize,
    ) {
        let log_id = ledger::log_for(agency_id, action);
        self.record_event_in(log_id, agency_id, action, subject_kind, subject_id, payload);
    }

    /// Like [`WriteTx::record_event`], into the log `log_id` (an event about a log itself).
    pub(crate) fn record_event_in(
        &mut self,
        log_id: i64,
        agency_id: Option<i64>,
        action: &'static str,
        subject_kind: &'static str,
        subject_id: impl ToString,
        payload: impl Serialize,
    ) {
        debug_assert!(!snapshot::is_row_action(action), "{action} is a row action");
        let value = serde_json::to_value(&payload).expect("payloads are plain data");
        self.pending.push(Pending {
            log_id,
            agency_id,
            action,
            subject_kind,
            subject_id: subject_id.to_string(),
            payload: snapshot::canonical_value(&value),
            snapshot: false,
        });
    }

    /// Appends the entries to their logs and commits. Returns `(log, seq)` of each entry.
    pub async fn commit(mut self) -> Result<Vec<(i64, u64)>, StoreError> {
        // A node whose logs are behind what was signed changes no record (`rollback.rs`);
        // logins, refusals and alerts are still recorded.
        if self.pending.iter().any(|p| p.snapshot) {
            let halted = self.store.halted();
            if !halted.is_empty() {
                return Err(StoreError::Halted(halted.join("；")));
            }
        }
        if !self.created.is_empty() {
            let created = self.created.iter().copied().collect();
            self.guard_creations(created).await?;
        }
        let pending = std::mem::take(&mut self.pending);
        // What this transaction commits is, once committed, what the entries say.
        let written: Vec<(&'static str, i64, String)> = pending
            .iter()
            .filter(|p| p.snapshot && p.payload != snapshot::deleted())
            .filter_map(|p| {
                Some((
                    p.subject_kind,
                    p.subject_id.parse().ok()?,
                    p.payload.clone(),
                ))
            })
            .collect();
        let actor = self.actor.encode();
        let (now, backend) = (self.now, self.backend);
        let store = self.store.clone();
        let ids = ledger::append(
            &mut self.tx,
            backend,
            &store.frontiers,
            store.entry_key.as_deref(),
            &actor,
            now,
            pending,
        )
        .await?;
        self.tx.commit().await?;
        if backend == crate::Backend::Sqlite {
            store.intact.learn(written.into_iter());
        }
        Ok(ids)
    }
}

#[cfg(feature = "testing")]
impl WriteTx {
    /// Appends an event that changes nothing to an agency's log, for tests and benchmarks
    /// that need long logs (they used denials, which now go to the security log).
    pub fn record_test_event(&mut self, agency_id: i64, payload: impl Serialize) {
        self.record_event(Some(agency_id), "test.event", "test", agency_id, payload)
    }
}
