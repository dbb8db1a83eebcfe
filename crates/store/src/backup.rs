//! What a backup needs of the database: a consistent copy of a live SQLite database, the
//! checks of such a copy, and whether a key directory's signer could go on signing a
//! database's logs.
//!
//! A file copy of a live SQLite database is torn by the writer and misses what still sits
//! in the WAL. `VACUUM INTO` copies from one read transaction instead — one committed
//! state — while the writer goes on (WAL readers do not block it).

use crate::db::{Backend, Store};
use crate::error::StoreError;
use crate::keys::KeyStore;
use std::path::Path;

impl Store {
    /// Writes a consistent copy of the whole database to `dest`, which must not exist yet.
    /// SQLite only: a PostgreSQL database is copied with `pg_dump`.
    pub async fn vacuum_into(&self, dest: &Path) -> Result<(), StoreError> {
        if self.backend() != Backend::Sqlite {
            return Err(StoreError::Backup(
                "VACUUM INTO 只适用于 SQLite / VACUUM INTO is for SQLite only".into(),
            ));
        }
        // Bound as text, the path must be the very bytes of the file system's name.
        let dest = dest.to_str().ok_or_else(|| {
            StoreError::Backup(format!(
                "路径不是 UTF-8 / path is not UTF-8: {}",
                dest.display()
            ))
        })?;
        sqlx::query("VACUUM INTO $1")
            .bind(dest)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// SQLite's `PRAGMA integrity_check`: nothing when the file is sound, else what SQLite
    /// found (at most 100 lines).
    pub async fn integrity_check(&self) -> Result<Vec<String>, StoreError> {
        if self.backend() != Backend::Sqlite {
            return Err(StoreError::Backup(
                "integrity_check 只适用于 SQLite / integrity_check is for SQLite only".into(),
            ));
        }
        let lines: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check(100)")
            .fetch_all(&self.pool)
            .await?;
        Ok(lines.into_iter().filter(|l| l != "ok").collect())
    }

    /// The database's schema version and the newest this build knows. A copy is checked
    /// only by the code of its own version: an older or newer schema reads differently.
    pub async fn schema_versions(&self) -> Result<(i64, i64), StoreError> {
        Ok((
            crate::migrate::current(self).await?,
            crate::migrate::supported(),
        ))
    }

    /// Why `keys` could not go on signing this database's logs, one line per log (empty
    /// when it could): its record of the last signed head lies beyond the database's log
    /// or names another root there — the checkpointer would then refuse to sign that log
    /// ever again, as it must when a database is put back — or its key file is not the
    /// key the database publishes for the log.
    ///
    /// A backup takes the key directory before the database so that the records never
    /// run ahead; this checks that they did not (a key rotated between the two, or a key
    /// directory that is not the one the server signs with).
    pub async fn signer_problems(&self, keys: &KeyStore) -> Result<Vec<String>, StoreError> {
        // The records the database does not meet: the same finding as a rollback
        // (`rollback.rs`), here of a copy against the keys taken with it.
        let mut problems: Vec<String> = self
            .rollback_findings(keys)
            .await?
            .iter()
            .map(|u| format!("{u}；恢复后将无法继续签名 / a restored signer could not go on"))
            .collect();
        for head in self.log_heads().await? {
            let name = &head.name;
            let published = self
                .log_keys(head.log_id)
                .await?
                .into_iter()
                .find(|(_, retired)| !retired)
                .map(|(k, _)| k);
            let Some(published) = published else {
                continue;
            };
            match keys.signer(&head.origin)? {
                Some(s) if s.verifier_key() == published => {}
                Some(_) => problems.push(format!(
                    "日志 {name}：密钥文件不是数据库公布的公钥 / log {name}: the key file is not the key the database publishes"
                )),
                None => problems.push(format!(
                    "日志 {name}：密钥目录中没有数据库公布的公钥对应的私钥 / log {name}: no private key for the published key"
                )),
            }
        }
        Ok(problems)
    }
}
