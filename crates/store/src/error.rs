use zhifa_domain::FieldErrors;

/// Errors of the store, for callers to map to responses.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("记录不存在")]
    NotFound,
    /// Input that the rules accept but the stored state does not (e.g. a duplicate code).
    #[error("{0}")]
    Invalid(FieldErrors),
    /// The record changed since the form was loaded (optimistic concurrency).
    #[error("该记录已被他人修改，请刷新后重试")]
    Stale,
    #[error("数据目录不可写：{0}")]
    DataDirNotWritable(String),
    #[error("数据库文件不存在：{0}")]
    NoDatabase(String),
    /// A backup step that cannot be done here (e.g. `VACUUM INTO` on PostgreSQL).
    #[error("备份：{0}")]
    Backup(String),
    #[error("数据库版本 {found} 比本程序支持的 {supported} 新，请升级 zhifa")]
    SchemaTooNew { found: i64, supported: i64 },
    #[error("签名密钥：{0}")]
    Keys(String),
    /// Stored data that cannot be right (a tampered or damaged database).
    #[error("数据不一致：{0}")]
    Corrupt(String),
    /// A ledgered row changed behind zhifa's back: the act was refused (`guard.rs`).
    #[error("{0}")]
    Tampered(crate::guard::Tampered),
    /// A check stops changes of record on this node (a log behind what was signed, a
    /// damaged database): they wait for an administrator (`health.rs`).
    #[error("系统已暂停写入，请系统管理员处理：{0}")]
    Halted(String),
    #[error("数据库错误：{0}")]
    Database(#[from] sqlx::Error),
}

impl StoreError {
    pub(crate) fn field(field: &str, message: impl Into<String>) -> Self {
        StoreError::Invalid(FieldErrors::single(field, message))
    }

    /// True when the database is unreachable or refusing work for now (connection lost,
    /// server shutting down or starting, SQLite busy beyond its timeout): a 503, not a bug.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Database(
                sqlx::Error::Io(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed,
            ) => true,
            StoreError::Database(sqlx::Error::Database(db)) => {
                let code = db.code().unwrap_or_default();
                // PostgreSQL: 08xxx connection exceptions, 57P0x operator intervention,
                // 53xxx insufficient resources, 40001/40P01 serialization failure or
                // deadlock (safe to retry). SQLite: 5 BUSY, 6 LOCKED.
                code == "40001"
                    || code == "40P01"
                    || code.starts_with("08")
                    || code.starts_with("57P")
                    || code.starts_with("53")
                    || code == "5"
                    || code == "6"
                    || code == "517"
            }
            _ => false,
        }
    }
}

/// Maps a unique-constraint violation to a field error, other errors unchanged.
pub(crate) fn unique_as_field(err: sqlx::Error, field: &str, message: &str) -> StoreError {
    if let sqlx::Error::Database(db) = &err
        && db.is_unique_violation()
    {
        return StoreError::field(field, message);
    }
    StoreError::Database(err)
}
