//! zhifa's storage: one SQL code path over SQLite (default) and PostgreSQL.
//!
//! Reads are methods on [`Store`]. Every change of state goes through a [`WriteTx`]
//! obtained from [`Store::write`]: its mutation methods record a journal entry for each
//! change, and the entries are written in the same database transaction as the change.

mod db;
mod error;
mod migrate;
mod time;
mod writer;

pub mod accounts;
pub mod backup;
pub mod calendar;
pub mod case_archive;
pub mod case_evidence;
pub mod case_search;
pub mod cases;
pub mod catalog;
pub mod credentials;
pub mod files;
pub mod guard;
pub mod health;
pub mod journal;
pub mod keys;
pub mod ledger;
pub mod lists;
mod log_chunks;
pub mod org;
pub mod password;
pub mod rollback;
pub mod row_sweep;
pub mod snapshot;
pub mod verify;
pub mod witness;
pub mod witnessing;
pub mod write;

#[cfg(feature = "testing")]
pub mod testing;

pub use db::{Backend, Store};
pub use error::StoreError;
pub use time::{now_ms, today_beijing};
pub use write::{Actor, WriteTx};
