//! End-to-end tests of zhifa: the real router on a real socket, driven by a real HTTP
//! client, on SQLite and (when `ZHIFA_TEST_DATABASE_URL` is set) PostgreSQL.

mod api;
mod app;
mod audit_trail;
mod backup;
mod browser;
mod cases;
mod catalog;
mod cli;
mod credentials;
mod durability;
mod harness;
mod integrity;
mod lists;
mod log;
mod logins;
mod procedures;
mod rollback;
mod security;
mod separation;
mod uploads;
mod witness;
