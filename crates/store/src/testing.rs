//! Test support: a fresh, migrated database per test on SQLite (always) and on
//! PostgreSQL (when `ZHIFA_TEST_DATABASE_URL` names a server). Each PostgreSQL test gets
//! its own database, dropped when the test ends, even when it fails.

use crate::db::Store;
use std::sync::atomic::{AtomicU32, Ordering};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh entry-authentication key: every test store authenticates its entries, as
/// zhifa's own nodes do.
pub fn test_entry_key() -> zhifa_ledger::auth::EntryKey {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).expect("randomness");
    zhifa_ledger::auth::EntryKey::from_secret(secret)
}

/// The stretch unit of test stores' verification: small enough that a test's agency log
/// is read in several pieces (one chunk of entries, the smallest cut).
pub const TEST_VERIFY_SPLIT: u64 = 16;

/// A migrated database that cleans up after itself.
pub struct TestDb {
    pub store: Store,
    pub url: String,
    /// Keeps the SQLite directory alive for the test's duration.
    pub dir: Option<tempfile::TempDir>,
    pg_admin: Option<(String, String)>,
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        Self::sqlite_at(i64::MAX).await
    }

    /// A SQLite database migrated only up to version `last` (tests of upgrades).
    pub async fn sqlite_at(last: i64) -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        // Verification reads even the tests' short logs in stretches side by side, as it
        // reads a long log (`verify/pieces.rs`).
        let store = Store::open_data_dir(dir.path())
            .await
            .expect("open sqlite")
            .with_entry_key(test_entry_key())
            .with_verify_split(TEST_VERIFY_SPLIT);
        if last == i64::MAX {
            store.migrate().await.expect("migrate sqlite");
        } else {
            store.migrate_to(last).await.expect("migrate sqlite");
        }
        let url = format!("sqlite://{}/zhifa.db?mode=rwc", dir.path().display());
        TestDb {
            store,
            url,
            dir: Some(dir),
            pg_admin: None,
        }
    }

    /// `None` when `ZHIFA_TEST_DATABASE_URL` is not set.
    pub async fn postgres() -> Option<TestDb> {
        Self::postgres_at(i64::MAX).await
    }

    /// A PostgreSQL database migrated only up to version `last` (`None` as above).
    pub async fn postgres_at(last: i64) -> Option<TestDb> {
        let admin_url = std::env::var("ZHIFA_TEST_DATABASE_URL").ok()?;
        let mut rnd = [0u8; 4];
        getrandom::fill(&mut rnd).expect("randomness");
        let name = format!(
            "zhifa_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst),
            u32::from_le_bytes(rnd)
        );
        let admin = Store::connect(&admin_url)
            .await
            .expect("ZHIFA_TEST_DATABASE_URL must reach a PostgreSQL server");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin.pool)
            .await
            .expect("create test database");
        admin.close().await;
        let url = replace_database(&admin_url, &name);
        let store = Store::connect(&url)
            .await
            .expect("connect test database")
            .with_entry_key(test_entry_key())
            .with_verify_split(TEST_VERIFY_SPLIT);
        if last == i64::MAX {
            store.migrate().await.expect("migrate postgres");
        } else {
            store.migrate_to(last).await.expect("migrate postgres");
        }
        Some(TestDb {
            store,
            url,
            dir: None,
            pg_admin: Some((admin_url, name)),
        })
    }
}

/// Replaces the database name in a `postgres://user@host:port/db?params` URL.
pub fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_part_end = base[scheme_end..]
        .find('/')
        .map(|i| i + scheme_end)
        .unwrap_or(base.len());
    let mut out = format!("{}/{}", &base[..host_part_end], name);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = self.pg_admin.take() {
            let store = self.store.clone();
            // Drop runs outside async; use a private runtime on a plain thread.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async move {
                    store.close().await;
                    if let Ok(admin) = Store::connect(&admin_url).await {
                        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        )))
                        .execute(&admin.pool)
                        .await;
                        admin.close().await;
                    }
                });
            })
            .join();
        }
    }
}

/// Generates `mod NAME { sqlite, postgres }` tests that run `async fn NAME(TestDb)`
/// against each backend.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let db = $crate::testing::TestDb::sqlite().await;
                    super::$name(db).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    match $crate::testing::TestDb::postgres().await {
                        Some(db) => super::$name(db).await,
                        None => eprintln!("ZHIFA_TEST_DATABASE_URL not set: PostgreSQL variant skipped"),
                    }
                }
            }
        )*
    };
}

/// A stored entry as a database administrator sees it: canonical bytes and the
/// authentication code (`None`: none).
pub type RawEntry = (Vec<u8>, Option<Vec<u8>>);

/// Stands in for a database administrator rewriting a log's entries with a SQL shell:
/// `edit` gets every stored entry of `log_id` in order, and what it leaves is written
/// back as the log's entry chunks (an entry's place in the list is its position).
pub async fn tamper_entries(store: &Store, log_id: i64, edit: impl FnOnce(&mut Vec<RawEntry>)) {
    use crate::log_chunks::ChunkAppends;
    let mut entries: Vec<RawEntry> = store
        .log_entries_with_codes(log_id, 0, u64::MAX >> 1)
        .await
        .expect("entries")
        .into_iter()
        .map(|(_, e, c)| (e, c))
        .collect();
    edit(&mut entries);
    let mut appends = ChunkAppends::default();
    for (i, (e, c)) in entries.iter().enumerate() {
        appends.entry(i as u64, e, c.as_deref()).expect("framed");
    }
    rewrite(store, log_id, "ledger_entry_chunks", None, appends).await;
}

/// The same for the stored tree nodes of one `level` (a multiple of 4).
pub async fn tamper_hashes(
    store: &Store,
    log_id: i64,
    level: u8,
    edit: impl FnOnce(&mut Vec<zhifa_ledger::Hash>),
) {
    use crate::log_chunks::ChunkAppends;
    let mut conn = store.pool.acquire().await.expect("connection");
    let mut hashes = crate::log_chunks::node_range(&mut conn, log_id, level, 0, u64::MAX >> 1)
        .await
        .expect("hashes");
    drop(conn);
    edit(&mut hashes);
    let mut appends = ChunkAppends::default();
    for (i, h) in hashes.iter().enumerate() {
        let id = zhifa_ledger::tree::NodeId {
            level,
            index: i as u64,
        };
        appends.node(id, h);
    }
    rewrite(store, log_id, "ledger_hash_chunks", Some(level), appends).await;
}

async fn rewrite(
    store: &Store,
    log_id: i64,
    table: &str,
    level: Option<u8>,
    appends: crate::log_chunks::ChunkAppends,
) {
    let mut tx = store.pool.begin().await.expect("transaction");
    let level_cond = level
        .map(|l| format!(" AND level = {l}"))
        .unwrap_or_default();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DELETE FROM {table} WHERE log_id = {log_id}{level_cond}"
    )))
    .execute(&mut *tx)
    .await
    .expect("delete");
    appends
        .write(&mut tx, store.backend(), log_id)
        .await
        .expect("write");
    tx.commit().await.expect("commit");
}

/// Stands in for a modified zhifa that holds the entry key: runs `sql` and writes an entry
/// of `action` with the row's new snapshot, genuine in every way, without the guard. What
/// `zhifa verify` must still catch when the entry says more than its action may.
pub async fn act_unchecked(
    store: &Store,
    agency_id: i64,
    action: &'static str,
    kind: &'static str,
    id: i64,
    sql: &str,
) {
    let mut tx = store
        .write(crate::Actor::System("test"))
        .await
        .expect("a transaction");
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(tx.conn())
        .await
        .expect("the change");
    tx.mark_guarded(kind, id);
    tx.record_row(agency_id, action, kind, id)
        .await
        .expect("the entry");
    tx.commit().await.expect("committed");
}

#[cfg(test)]
mod tests {
    #[test]
    fn replaces_database_name() {
        assert_eq!(
            super::replace_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            super::replace_database("postgres://u@h/db?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
        assert_eq!(
            super::replace_database("postgres://u@h", "x"),
            "postgres://u@h/x"
        );
    }
}
