use crate::error::StoreError;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, ConnectOptions, Executor};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Which database is behind the pool. SQL is shared; only DDL types, transaction start
/// and locks differ, and only in this crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

/// The database handle shared by all requests.
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) pool: AnyPool,
    /// SQLite: the thread and connection every write transaction uses (`writer.rs`).
    pub(crate) writer: Option<std::sync::Arc<crate::writer::Writer>>,
    backend: Backend,
    /// Upper tree nodes, which never change once written (see `ledger::NodeCache`).
    pub(crate) node_cache: std::sync::Arc<crate::ledger::NodeCache>,
    /// Each log's frontier after this process's last append (spares a read per write).
    pub(crate) frontiers: std::sync::Arc<crate::ledger::FrontierCache>,
    /// SQLite: whose turn it is to write (see `Store::write`).
    pub(crate) write_turn: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// The working-day calendar, rebuilt only when the stored years change (`calendar.rs`).
    pub(crate) calendar_cache: std::sync::Arc<crate::calendar::CalendarCache>,
    /// The SQLite database file, for verification's direct reads (`None` on PostgreSQL).
    pub(crate) sqlite_file: Option<PathBuf>,
    /// The key that authenticates every entry this node writes, and that the checkpointer
    /// and `verify` check entries with (`None`: entries get no code and none are checked).
    pub(crate) entry_key: Option<std::sync::Arc<zhifa_ledger::auth::EntryKey>>,
    /// Each log's size when the entry key was created (entries below it may have no code).
    pub(crate) entry_legacy: std::sync::Arc<std::collections::HashMap<String, u64>>,
    /// This node's health: why it refuses changes of record, if it does (`health.rs`).
    pub(crate) health: std::sync::Arc<std::sync::RwLock<crate::health::Health>>,
    /// Rows the background sweep reported already (`row_sweep.rs`): each is alerted once.
    pub(crate) swept: std::sync::Arc<std::sync::Mutex<crate::row_sweep::Reported>>,
    /// Rows known to match their last entry, by their snapshot then (`guard.rs`): checked
    /// against the log, or written by this node. A row that still reads the same needs no
    /// look at the log; any other state of it does.
    pub(crate) intact: std::sync::Arc<crate::guard::Intact>,
    /// `verify` cuts a log into stretches starting at multiples of this many entries,
    /// read side by side (`verify/pieces.rs`).
    pub(crate) verify_split: u64,
}

/// The file a `sqlite://PATH?…` URL names, undoing the escapes `open_data_dir` applies;
/// `None` for an in-memory database.
fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    let path = path
        .replace("%20", " ")
        .replace("%23", "#")
        .replace("%3F", "?")
        .replace("%25", "%");
    Some(PathBuf::from(path))
}

/// The `sqlite://` URL of a database file, with the characters that mean something in a
/// URL escaped so that any directory works (`sqlite_file` undoes them).
fn sqlite_url(path: &Path, mode: &str) -> String {
    let escaped: String = path
        .to_string_lossy()
        .chars()
        .map(|c| match c {
            '%' => "%25".to_owned(),
            '?' => "%3F".to_owned(),
            '#' => "%23".to_owned(),
            ' ' => "%20".to_owned(),
            c => c.to_string(),
        })
        .collect();
    format!("sqlite://{escaped}?mode={mode}")
}

impl Store {
    /// Opens (creating if needed) `DIR/zhifa.db`, after checking that `DIR` is writable.
    /// `DIR` is made 0700 and the database 0600 — created so, before SQLite opens it, so
    /// that its WAL and shared-memory files, which SQLite gives the database's mode, are
    /// 0600 too (`files`).
    pub async fn open_data_dir(dir: &Path) -> Result<Store, StoreError> {
        let not_writable =
            |e: std::io::Error| StoreError::DataDirNotWritable(format!("{}：{e}", dir.display()));
        crate::files::private_dir(dir).map_err(not_writable)?;
        let probe = dir.join(".zhifa-write-check");
        std::fs::write(&probe, b"ok")
            .and_then(|_| std::fs::remove_file(&probe))
            .map_err(not_writable)?;
        let db = dir.join("zhifa.db");
        crate::files::create_private(&db, false).map_err(not_writable)?;
        for side in ["zhifa.db-wal", "zhifa.db-shm", "zhifa.db-journal"] {
            crate::files::tighten(&dir.join(side)).map_err(not_writable)?;
        }
        Self::connect(&sqlite_url(&db, "rwc")).await
    }

    /// Opens an existing SQLite database file for reading only — a live installation's,
    /// to copy it, or a copy, to check it: no writer thread, no migration, and none of the
    /// pragmas that would write (the journal mode is left as the file has it).
    pub async fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        install_default_drivers();
        if !path.is_file() {
            return Err(StoreError::NoDatabase(path.display().to_string()));
        }
        let url = sqlite_url(path, "ro");
        // Its statements are long on purpose (a whole copy, a whole integrity check): no
        // slow-statement warnings in the operator's output.
        let options = <sqlx::any::AnyConnectOptions as std::str::FromStr>::from_str(&url)?
            .disable_statement_logging();
        let pool = AnyPoolOptions::new()
            .acquire_timeout(Duration::from_secs(5))
            .max_connections(4)
            .test_before_acquire(false)
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute("PRAGMA busy_timeout = 5000").await?;
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        Ok(Store::assemble(
            pool,
            None,
            Backend::Sqlite,
            Some(path.to_owned()),
        ))
    }

    /// Connects to `sqlite://…` or `postgres://…`.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        install_default_drivers();
        let backend = if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        };
        let options = AnyPoolOptions::new()
            .acquire_timeout(Duration::from_secs(5))
            .max_connections(match backend {
                Backend::Sqlite => 8,
                Backend::Postgres => 16,
            })
            // A pooled SQLite connection is an open file: it cannot go stale the way a
            // network connection can, and the ping before each use would be one more
            // round trip to the driver's worker thread per statement.
            .test_before_acquire(backend == Backend::Postgres);
        let options = if backend == Backend::Sqlite {
            options.after_connect(|conn, _meta| {
                Box::pin(async move {
                    // WAL lets readers run beside the single writer; NORMAL sync is
                    // durable across process crashes in WAL mode.
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA synchronous = NORMAL").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    conn.execute("PRAGMA busy_timeout = 5000").await?;
                    // Reads through memory-mapped pages rather than a read() per page
                    // miss (the OS page cache is shared by every connection).
                    conn.execute("PRAGMA mmap_size = 268435456").await?;
                    Ok(())
                })
            })
        } else {
            options
        };
        // Only a database file has a writer of its own: a second pool on an in-memory
        // database would open a second, empty database.
        let sqlite_file = match backend {
            Backend::Sqlite => sqlite_file(url),
            Backend::Postgres => None,
        };
        let writer = match &sqlite_file {
            Some(_) => Some(std::sync::Arc::new(
                crate::writer::Writer::start(url, options.clone()).await?,
            )),
            None => None,
        };
        let pool = options.connect(url).await?;
        Ok(Store::assemble(pool, writer, backend, sqlite_file))
    }

    fn assemble(
        pool: AnyPool,
        writer: Option<std::sync::Arc<crate::writer::Writer>>,
        backend: Backend,
        sqlite_file: Option<PathBuf>,
    ) -> Store {
        Store {
            pool,
            writer,
            backend,
            node_cache: Default::default(),
            frontiers: Default::default(),
            write_turn: Default::default(),
            calendar_cache: Default::default(),
            sqlite_file,
            entry_key: None,
            entry_legacy: Default::default(),
            intact: Default::default(),
            health: Default::default(),
            swept: Default::default(),
            verify_split: crate::verify::SPLIT_UNIT,
        }
    }

    /// Makes `verify` cut logs into stretches at multiples of `unit` entries instead of
    /// the default (tests use a small unit so that their short logs are read
    /// in pieces too). Rounded up to whole chunks of entries (`log_chunks.rs`).
    pub fn with_verify_split(mut self, unit: u64) -> Store {
        self.verify_split = unit.max(1).next_multiple_of(crate::log_chunks::CHUNK);
        self
    }

    /// Authenticates every entry this store writes with `key`, and checks entries with it
    /// when signing checkpoints and verifying. Every node of an installation needs the
    /// same key (`KeyStore::entry_key`).
    pub fn with_entry_key(mut self, key: zhifa_ledger::auth::EntryKey) -> Store {
        self.entry_key = Some(std::sync::Arc::new(key));
        self
    }

    /// The logs' sizes when the entry key was created (`KeyStore::entry_legacy`).
    pub fn with_entry_legacy(mut self, sizes: std::collections::HashMap<String, u64>) -> Store {
        self.entry_legacy = std::sync::Arc::new(sizes);
        self
    }

    /// Entries of the log `origin` below this position may have no code.
    /// The code binding a row of operational state to this installation's key (empty
    /// without a key: nothing is then bound, and nothing checked).
    pub(crate) fn state_code(&self, label: &str, fields: &[&str]) -> String {
        self.entry_key
            .as_deref()
            .map(|k| k.state_code(label, fields))
            .unwrap_or_default()
    }

    pub(crate) fn entry_legacy_size(&self, origin: &str) -> u64 {
        self.entry_legacy.get(origin).copied().unwrap_or(0)
    }

    /// Whether this store authenticates and checks entries.
    pub fn authenticates_entries(&self) -> bool {
        self.entry_key.is_some()
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Answers when the database can be queried (for `/healthz`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Makes every committed transaction durable against power loss (SQLite: a passive WAL
    /// checkpoint, which syncs the WAL; PostgreSQL commits are already synced).
    pub async fn make_durable(&self) -> Result<(), StoreError> {
        if self.backend == Backend::Sqlite {
            sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// Applies pending migrations; returns the versions applied.
    /// Applies the migrations up to version `last` only: a database as an earlier
    /// release left it, for tests of upgrades.
    #[cfg(feature = "testing")]
    pub async fn migrate_to(&self, last: i64) -> Result<Vec<i64>, StoreError> {
        crate::migrate::run_to(self, last).await
    }

    pub async fn migrate(&self) -> Result<Vec<i64>, StoreError> {
        let applied = crate::migrate::run(self).await?;
        // The search index is derived in Rust from the cases already there: built after
        // the migration that made it — and again at any start that finds cases but no
        // index (a build interrupted before it committed).
        if self.case_words_missing().await? {
            self.rebuild_case_words().await?;
        }
        Ok(applied)
    }

    /// Runs arbitrary SQL outside the write path. For tests that play a database
    /// administrator tampering with the data; nothing in zhifa calls it.
    #[cfg(feature = "testing")]
    pub async fn raw_execute(&self, sql: &str) -> Result<(), StoreError> {
        sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Runs statements in one transaction outside the write path (benchmarks' ceiling).
    #[cfg(feature = "testing")]
    pub async fn raw_transaction(&self, statements: &[String]) -> Result<(), StoreError> {
        let mut tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        for s in statements {
            sqlx::query(sqlx::AssertSqlSafe(s.clone()))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn close(&self) {
        if let Some(w) = &self.writer {
            w.close().await;
        }
        self.pool.close().await;
    }
}
