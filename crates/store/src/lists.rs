//! The other published lists (see `zhifa_domain::lists`): reads on [`Store`], changes on
//! [`WriteTx`], each an entry of the agency's log.

use crate::db::Store;
use crate::error::{StoreError, unique_as_field};
use crate::write::WriteTx;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;
use zhifa_domain::lists::{ListEntry, ListKind};

/// An entry as stored.
#[derive(Debug, Clone, Serialize)]
pub struct StoredEntry {
    pub id: i64,
    pub agency_id: i64,
    pub kind: ListKind,
    pub entry: ListEntry,
    pub withdrawn: bool,
    pub version: i64,
    pub updated_at: i64,
}

fn stored(r: &AnyRow) -> Result<StoredEntry, StoreError> {
    let kind: String = r.try_get("kind")?;
    let content: String = r.try_get("content")?;
    Ok(StoredEntry {
        id: r.try_get("id")?,
        agency_id: r.try_get("agency_id")?,
        kind: ListKind::from_code(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown list {kind}")))?,
        entry: ListEntry {
            code: r.try_get("code")?,
            values: serde_json::from_str(&content)
                .map_err(|e| StoreError::Corrupt(format!("list entry: {e}")))?,
        },
        withdrawn: r.try_get::<i64, _>("withdrawn")? != 0,
        version: r.try_get("version")?,
        updated_at: r.try_get("updated_at")?,
    })
}

const COLS: &str = "id, agency_id, kind, code, content, withdrawn, version, updated_at";

impl Store {
    /// The entries of one list of an agency, by code (withdrawn ones only when asked).
    pub async fn list_entries(
        &self,
        agency_id: i64,
        kind: ListKind,
        with_withdrawn: bool,
    ) -> Result<Vec<StoredEntry>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM list_entries WHERE agency_id = $1 AND kind = $2 AND (withdrawn = 0 OR $3 = 1)
             ORDER BY code"
        )))
        .bind(agency_id)
        .bind(kind.code())
        .bind(i64::from(with_withdrawn))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(stored).collect()
    }

    pub async fn list_entry(&self, id: i64) -> Result<StoredEntry, StoreError> {
        let r = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM list_entries WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        stored(&r)
    }

    /// When one list of an agency last changed (epoch ms).
    pub async fn list_last_changed(
        &self,
        agency_id: i64,
        kind: ListKind,
    ) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT MAX(updated_at) FROM list_entries WHERE agency_id = $1 AND kind = $2",
        )
        .bind(agency_id)
        .bind(kind.code())
        .fetch_one(&self.pool)
        .await?)
    }
}

fn content(e: &ListEntry) -> String {
    let v = serde_json::to_value(&e.values).expect("list values are plain data");
    crate::snapshot::canonical_value(&v)
}

impl WriteTx {
    pub async fn create_list_entry(
        &mut self,
        agency_id: i64,
        kind: ListKind,
        e: &ListEntry,
    ) -> Result<i64, StoreError> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO list_entries (agency_id, kind, code, content, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
        )
        .bind(agency_id)
        .bind(kind.code())
        .bind(e.code.clone())
        .bind(content(e))
        .bind(self.now())
        .fetch_one(self.conn())
        .await
        .map_err(|err| unique_as_field(err, "code", "该清单中已有此编码"))?;
        self.record_row(agency_id, "list_entry.create", "list_entry", id)
            .await?;
        Ok(id)
    }

    async fn entry_agency(&mut self, id: i64) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT agency_id FROM list_entries WHERE id = $1")
            .bind(id)
            .fetch_optional(self.conn())
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// Changes an entry (its code included); a withdrawn entry saved again is restored.
    pub async fn update_list_entry(
        &mut self,
        id: i64,
        version: i64,
        e: &ListEntry,
    ) -> Result<(), StoreError> {
        let agency_id = self.entry_agency(id).await?;
        self.guard_row("list_entry", id).await?;
        let done = sqlx::query(
            "UPDATE list_entries SET code = $1, content = $2, withdrawn = 0, updated_at = $3,
                version = version + 1 WHERE id = $4 AND version = $5",
        )
        .bind(e.code.clone())
        .bind(content(e))
        .bind(self.now())
        .bind(id)
        .bind(version)
        .execute(self.conn())
        .await
        .map_err(|err| unique_as_field(err, "code", "该清单中已有此编码"))?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Stale);
        }
        self.record_row(agency_id, "list_entry.update", "list_entry", id)
            .await
    }

    /// Withdraws an entry from the published list (kept, with its history).
    pub async fn withdraw_list_entry(&mut self, id: i64, version: i64) -> Result<(), StoreError> {
        let agency_id = self.entry_agency(id).await?;
        self.guard_row("list_entry", id).await?;
        let done = sqlx::query(
            "UPDATE list_entries SET withdrawn = 1, updated_at = $1, version = version + 1
             WHERE id = $2 AND version = $3",
        )
        .bind(self.now())
        .bind(id)
        .bind(version)
        .execute(self.conn())
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Stale);
        }
        self.record_row(agency_id, "list_entry.withdraw", "list_entry", id)
            .await
    }
}

/// What a list import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListImportSummary {
    pub created: usize,
    pub updated: usize,
}

impl Store {
    /// Imports entries into one list of an agency in one transaction: a new code adds an
    /// entry, a known code replaces that entry's values (restoring it if withdrawn). Any
    /// refusal rolls back every row; the error names the caller's row number.
    pub async fn import_list(
        &self,
        actor: crate::Actor,
        agency_id: i64,
        kind: ListKind,
        rows: &[(usize, ListEntry)],
    ) -> Result<ListImportSummary, crate::catalog::ImportError> {
        use crate::catalog::ImportError;
        let mut known: std::collections::HashMap<String, (i64, i64)> = self
            .list_entries(agency_id, kind, true)
            .await?
            .into_iter()
            .map(|e| (e.entry.code.clone(), (e.id, e.version)))
            .collect();
        let mut summary = ListImportSummary::default();
        let mut tx = self.write(actor).await?;
        for (row, entry) in rows {
            let result = match known.get_mut(&entry.code) {
                Some((id, version)) => {
                    let r = tx.update_list_entry(*id, *version, entry).await;
                    *version += 1;
                    summary.updated += 1;
                    r
                }
                None => match tx.create_list_entry(agency_id, kind, entry).await {
                    Ok(id) => {
                        known.insert(entry.code.clone(), (id, 1));
                        summary.created += 1;
                        Ok(())
                    }
                    Err(e) => Err(e),
                },
            };
            if let Err(error) = result {
                return Err(ImportError::Row { row: *row, error });
            }
        }
        tx.commit().await?;
        Ok(summary)
    }
}
