//! Store stories, each run on SQLite and (when configured) PostgreSQL.

mod audit;
mod backup;
mod guard;
mod ledger;
mod org;
mod upgrade;
mod verify;
mod witness;
