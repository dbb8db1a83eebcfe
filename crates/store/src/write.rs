//! The single write path.
//!
//! A [`WriteTx`] wraps one database transaction. Its mutation methods (defined next to
//! the tables they touch, in `org`, `accounts`, …) are the only code that writes ledgered
//! tables, and each of them records a journal entry; [`WriteTx::commit`] writes the
//! entries and the changes atomically. Nothing outside this crate can reach the
//! transaction, so a change without its entry cannot be written from elsewhere.

use crate::db::{Backend, Store};
use crate::error::StoreError;
use crate::time::now_ms;
use serde::Serialize;
use sqlx::{Any, AnyConnection, Transaction};

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
    /// Canonical text form stored in the journal: `user:12`, `anonymous`, `system:demo`.
    pub fn encode(&self) -> String {
        match self {
            Actor::User(id) => format!("user:{id}"),
            Actor::Anonymous => "anonymous".into(),
            Actor::System(what) => format!("system:{what}"),
        }
    }
}

pub(crate) struct Entry {
    agency_id: Option<i64>,
    action: &'static str,
    subject_kind: &'static str,
    subject_id: String,
    payload: String,
}

/// One transaction that changes state and records why.
pub struct WriteTx {
    tx: Transaction<'static, Any>,
    actor: Actor,
    now: i64,
    entries: Vec<Entry>,
}

impl Store {
    /// Starts a write. On SQLite the transaction takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so concurrent writers queue instead of failing on upgrade.
    pub async fn write(&self, actor: Actor) -> Result<WriteTx, StoreError> {
        let tx = match self.backend() {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        Ok(WriteTx {
            tx,
            actor,
            now: now_ms(),
            entries: Vec::new(),
        })
    }
}

impl WriteTx {
    pub(crate) fn conn(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }

    /// The time of this transaction, used for every row it touches.
    pub fn now(&self) -> i64 {
        self.now
    }

    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// Records a change; called by every mutation method after its SQL succeeded.
    pub(crate) fn record(
        &mut self,
        agency_id: Option<i64>,
        action: &'static str,
        subject_kind: &'static str,
        subject_id: impl ToString,
        payload: impl Serialize,
    ) {
        let payload = serde_json::to_string(&payload).expect("payloads are plain data");
        self.entries.push(Entry {
            agency_id,
            action,
            subject_kind,
            subject_id: subject_id.to_string(),
            payload,
        });
    }

    /// Writes the journal entries and commits. Returns the journal ids, in order.
    pub async fn commit(mut self) -> Result<Vec<i64>, StoreError> {
        let mut ids = Vec::with_capacity(self.entries.len());
        let actor = self.actor.encode();
        for e in std::mem::take(&mut self.entries) {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO journal (agency_id, at, actor, action, subject_kind, subject_id, payload)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(e.agency_id)
            .bind(self.now)
            .bind(&actor)
            .bind(e.action)
            .bind(e.subject_kind)
            .bind(e.subject_id)
            .bind(e.payload)
            .fetch_one(&mut *self.tx)
            .await?;
            ids.push(id);
        }
        self.tx.commit().await?;
        Ok(ids)
    }
}
