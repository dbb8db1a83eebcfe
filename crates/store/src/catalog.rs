//! 执法事项清单: items and their dated versions. Reads on [`Store`] answer "which version
//! is in force on a day"; changes on [`WriteTx`] add items and versions, each an entry of
//! the agency's log.

use crate::db::Store;
use crate::error::{StoreError, unique_as_field};
use crate::write::WriteTx;
use chrono::NaiveDate;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;
use zhifa_domain::catalog::{ItemCategory, ItemContent, NewItemVersion};

/// One version of an item, with the item's identity.
#[derive(Debug, Clone, Serialize)]
pub struct ItemVersion {
    pub item_id: i64,
    pub agency_id: i64,
    pub code: String,
    /// The item row's version (optimistic concurrency for adding a version).
    pub item_version: i64,
    pub version_no: i64,
    pub effective_from: String,
    pub content: ItemContent,
    pub created_at: i64,
}

/// Filters of the public list.
#[derive(Debug, Clone, Default)]
pub struct ItemFilter {
    /// Words in the name or code.
    pub q: Option<String>,
    pub category: Option<ItemCategory>,
    pub department: Option<String>,
}

const COLS: &str = "i.id AS item_id, i.agency_id, i.code, i.version AS item_version, v.version_no,
    v.effective_from, v.content, v.created_at";

fn version(r: &AnyRow) -> Result<ItemVersion, StoreError> {
    let content: String = r.try_get("content")?;
    Ok(ItemVersion {
        item_id: r.try_get("item_id")?,
        agency_id: r.try_get("agency_id")?,
        code: r.try_get("code")?,
        item_version: r.try_get("item_version")?,
        version_no: r.try_get("version_no")?,
        effective_from: r.try_get("effective_from")?,
        content: serde_json::from_str(&content)
            .map_err(|e| StoreError::Corrupt(format!("item content: {e}")))?,
        created_at: r.try_get("created_at")?,
    })
}

/// `%…%` for LIKE, with the pattern characters of the user's words escaped.
pub(crate) fn like(words: &str) -> String {
    let escaped: String = words
        .chars()
        .flat_map(|c| match c {
            '\\' | '%' | '_' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    format!("%{escaped}%")
}

impl Store {
    /// The items of an agency as in force on `day`, by code, filtered.
    pub async fn items_in_force(
        &self,
        agency_id: i64,
        day: NaiveDate,
        filter: &ItemFilter,
    ) -> Result<Vec<ItemVersion>, StoreError> {
        let (items, _) = self
            .items_in_force_page(agency_id, day, filter, 0, i64::MAX)
            .await?;
        Ok(items)
    }

    /// One page (`limit` items from `offset`) of [`Store::items_in_force`], with the number
    /// of items that match in all.
    pub async fn items_in_force_page(
        &self,
        agency_id: i64,
        day: NaiveDate,
        filter: &ItemFilter,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<ItemVersion>, i64), StoreError> {
        let mut cond = String::from(
            "i.agency_id = $1 AND v.effective_from <= $2
               AND NOT EXISTS (SELECT 1 FROM catalog_item_versions w WHERE w.item_id = i.id
                   AND w.effective_from <= $2 AND w.effective_from > v.effective_from)",
        );
        let mut n = 2;
        let mut next = |clause: &str, cond: &mut String| {
            n += 1;
            cond.push_str(&clause.replace("$N", &format!("${n}")));
        };
        if filter.category.is_some() {
            next(" AND v.category = $N", &mut cond);
        }
        if filter.department.is_some() {
            next(" AND v.department = $N", &mut cond);
        }
        if filter.q.is_some() {
            next(
                " AND (v.name LIKE $N ESCAPE '\\' OR i.code LIKE $N ESCAPE '\\')",
                &mut cond,
            );
        }
        let from = "catalog_items i JOIN catalog_item_versions v ON v.item_id = i.id";
        let bind_all = |sql: String| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(agency_id)
                .bind(day.to_string());
            if let Some(c) = filter.category {
                q = q.bind(c.code());
            }
            if let Some(d) = &filter.department {
                q = q.bind(d.clone());
            }
            if let Some(words) = &filter.q {
                q = q.bind(like(words));
            }
            q
        };
        let total: i64 = bind_all(format!("SELECT COUNT(*) AS n FROM {from} WHERE {cond}"))
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?;
        // The page's versions are chosen from the indexes alone, then only they are read
        // (their content is the bulk of a row). Page bounds are integers we computed.
        let rows = bind_all(format!(
            "SELECT {COLS} FROM {from} WHERE v.id IN
                (SELECT v.id FROM {from} WHERE {cond} ORDER BY i.code LIMIT {} OFFSET {})
             ORDER BY i.code",
            limit.clamp(0, i64::MAX / 2),
            offset.max(0)
        ))
        .fetch_all(&self.pool)
        .await?;
        let items = rows.iter().map(version).collect::<Result<_, _>>()?;
        Ok((items, total))
    }

    /// Every version of one item (by its code in the agency's list), oldest first.
    pub async fn item_versions(
        &self,
        agency_id: i64,
        code: &str,
    ) -> Result<Vec<ItemVersion>, StoreError> {
        // PostgreSQL refuses text containing NUL; no code contains one.
        if code.contains('\0') {
            return Err(StoreError::NotFound);
        }
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM catalog_items i JOIN catalog_item_versions v ON v.item_id = i.id
             WHERE i.agency_id = $1 AND i.code = $2 ORDER BY v.effective_from"
        )))
        .bind(agency_id)
        .bind(code.to_owned())
        .fetch_all(&self.pool)
        .await?;
        let versions: Vec<ItemVersion> = rows.iter().map(version).collect::<Result<_, _>>()?;
        if versions.is_empty() {
            return Err(StoreError::NotFound);
        }
        Ok(versions)
    }

    /// Every version of one item by its id, oldest first.
    pub async fn item_versions_by_id(&self, item_id: i64) -> Result<Vec<ItemVersion>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM catalog_items i JOIN catalog_item_versions v ON v.item_id = i.id
             WHERE i.id = $1 ORDER BY v.effective_from"
        )))
        .bind(item_id)
        .fetch_all(&self.pool)
        .await?;
        let versions: Vec<ItemVersion> = rows.iter().map(version).collect::<Result<_, _>>()?;
        if versions.is_empty() {
            return Err(StoreError::NotFound);
        }
        Ok(versions)
    }

    /// The newest version of every item of an agency (whatever its date), by code.
    pub async fn latest_item_versions(
        &self,
        agency_id: i64,
    ) -> Result<Vec<ItemVersion>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM catalog_items i JOIN catalog_item_versions v ON v.item_id = i.id
             WHERE i.agency_id = $1 AND v.version_no =
                (SELECT MAX(w.version_no) FROM catalog_item_versions w WHERE w.item_id = i.id)
             ORDER BY i.code"
        )))
        .bind(agency_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(version).collect()
    }

    /// The departments named by an agency's items (for the list's filter).
    pub async fn item_departments(&self, agency_id: i64) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT v.department FROM catalog_item_versions v
             WHERE v.item_id IN (SELECT id FROM catalog_items WHERE agency_id = $1)
             ORDER BY v.department",
        )
        .bind(agency_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// When the agency's list last changed (epoch ms), if it has items.
    pub async fn items_last_changed(&self, agency_id: i64) -> Result<Option<i64>, StoreError> {
        // An item's row is touched by every version added to it.
        Ok(
            sqlx::query_scalar("SELECT MAX(updated_at) FROM catalog_items WHERE agency_id = $1")
                .bind(agency_id)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// The newest versions added to an agency's list, newest first (the change feed).
    pub async fn recent_item_versions(
        &self,
        agency_id: i64,
        limit: i64,
    ) -> Result<Vec<ItemVersion>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM catalog_items i JOIN catalog_item_versions v ON v.item_id = i.id
             WHERE i.agency_id = $1 ORDER BY v.created_at DESC, v.id DESC LIMIT $2"
        )))
        .bind(agency_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(version).collect()
    }
}

impl WriteTx {
    async fn insert_version(
        &mut self,
        agency_id: i64,
        item_id: i64,
        version_no: i64,
        v: &NewItemVersion,
    ) -> Result<(), StoreError> {
        let content = serde_json::to_value(&v.content).expect("item content is plain data");
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO catalog_item_versions (item_id, version_no, effective_from, name, category,
                department, content, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(item_id)
        .bind(version_no)
        .bind(v.effective_from.to_string())
        .bind(v.content.name.clone())
        .bind(v.content.category.code())
        .bind(v.content.department.clone())
        .bind(crate::snapshot::canonical_value(&content))
        .bind(self.now())
        .fetch_one(self.conn())
        .await
        .map_err(|e| unique_as_field(e, "effective_from", "该事项在这一天已有生效的版本"))?;
        self.record_row(agency_id, "item_version.create", "catalog_item_version", id)
            .await
    }

    /// Adds an item to the agency's list, with its first version.
    pub async fn create_item(
        &mut self,
        agency_id: i64,
        v: &NewItemVersion,
    ) -> Result<i64, StoreError> {
        let now = self.now();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO catalog_items (agency_id, code, created_at, updated_at)
             VALUES ($1, $2, $3, $3) RETURNING id",
        )
        .bind(agency_id)
        .bind(v.code.clone())
        .bind(now)
        .fetch_one(self.conn())
        .await
        .map_err(|e| unique_as_field(e, "code", "本单位清单中已有该事项编码"))?;
        self.record_row(agency_id, "item.create", "catalog_item", id)
            .await?;
        self.insert_version(agency_id, id, 1, v).await?;
        Ok(id)
    }

    /// Adds a version in force from a later date than every existing version (versions
    /// never overlap and history is never rewritten). `item_version` is the item row's
    /// version the form was loaded with.
    pub async fn add_item_version(
        &mut self,
        item_id: i64,
        item_version: i64,
        v: &NewItemVersion,
    ) -> Result<(), StoreError> {
        let row = sqlx::query("SELECT agency_id, code FROM catalog_items WHERE id = $1")
            .bind(item_id)
            .fetch_optional(self.conn())
            .await?
            .ok_or(StoreError::NotFound)?;
        let agency_id: i64 = row.try_get("agency_id")?;
        let code: String = row.try_get("code")?;
        if code != v.code {
            return Err(StoreError::field("code", "事项编码不能在新版本中修改"));
        }
        self.guard_row("catalog_item", item_id).await?;
        self.guard_rows_where("catalog_item_version", "item_id = $1", item_id)
            .await?;
        let latest = sqlx::query(
            "SELECT MAX(version_no) AS n, MAX(effective_from) AS d FROM catalog_item_versions WHERE item_id = $1",
        )
        .bind(item_id)
        .fetch_one(self.conn())
        .await?;
        let n: Option<i64> = latest.try_get("n")?;
        let d: Option<String> = latest.try_get("d")?;
        if let Some(d) = d
            && v.effective_from.to_string() <= d
        {
            return Err(StoreError::field(
                "effective_from",
                format!("新版本的生效日期须晚于现有最新版本的生效日期 {d}"),
            ));
        }
        let done = sqlx::query(
            "UPDATE catalog_items SET version = version + 1, updated_at = $1 WHERE id = $2 AND version = $3",
        )
        .bind(self.now())
        .bind(item_id)
        .bind(item_version)
        .execute(self.conn())
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Stale);
        }
        self.record_row(agency_id, "item.version", "catalog_item", item_id)
            .await?;
        self.insert_version(agency_id, item_id, n.unwrap_or(0) + 1, v)
            .await
    }
}

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub items_created: usize,
    pub versions_added: usize,
}

/// Why an import was refused (nothing was written).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The row (as the caller numbers it) that the stored list refuses.
    #[error("第 {row} 行：{error}")]
    Row { row: usize, error: StoreError },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// Imports item versions into an agency's list in one transaction: a code not in the
    /// list adds an item, a code already there (or earlier in `rows`) adds a version. Any
    /// refusal rolls back every row.
    pub async fn import_items(
        &self,
        actor: crate::Actor,
        agency_id: i64,
        rows: &[(usize, NewItemVersion)],
    ) -> Result<ImportSummary, ImportError> {
        let mut known: std::collections::HashMap<String, (i64, i64)> =
            sqlx::query("SELECT id, code, version FROM catalog_items WHERE agency_id = $1")
                .bind(agency_id)
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::from)?
                .iter()
                .map(|r| -> Result<_, StoreError> {
                    Ok((
                        r.try_get::<String, _>("code")?,
                        (r.try_get::<i64, _>("id")?, r.try_get::<i64, _>("version")?),
                    ))
                })
                .collect::<Result<_, _>>()?;
        let mut summary = ImportSummary::default();
        let mut tx = self.write(actor).await?;
        for (row, v) in rows {
            let result = match known.get_mut(&v.code) {
                Some((id, version)) => {
                    let r = tx.add_item_version(*id, *version, v).await;
                    *version += 1;
                    summary.versions_added += 1;
                    r
                }
                None => match tx.create_item(agency_id, v).await {
                    Ok(id) => {
                        known.insert(v.code.clone(), (id, 1));
                        summary.items_created += 1;
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
