//! Read-mostly projections of published lists, kept in memory and invalidated by the
//! agency's log: any change to the agency's records appends an entry, so the log's size is
//! a generation number that every node reads in one indexed lookup. A projection is also
//! tied to the day it was computed for (versions come into force at midnight).

use chrono::NaiveDate;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use zhifa_store::catalog::{ItemFilter, ItemVersion};
use zhifa_store::{Store, StoreError};

/// An agency's 执法事项清单 as in force on a day.
pub struct ItemsInForce {
    pub day: NaiveDate,
    pub log_size: u64,
    pub items: Vec<ItemVersion>,
    /// Each item's code and name, ASCII letters lower-cased, for searching.
    keys: Vec<String>,
    pub departments: Vec<String>,
    pub last_changed: Option<i64>,
}

impl ItemsInForce {
    /// The items that pass `filter`, by code.
    /// (Words match the code or the name, ignoring the case of Latin letters.)
    pub fn matching<'a>(
        &'a self,
        filter: &'a ItemFilter,
    ) -> impl Iterator<Item = &'a ItemVersion> + 'a {
        let q = filter.q.as_ref().map(|q| q.to_ascii_lowercase());
        self.items
            .iter()
            .zip(&self.keys)
            .filter(move |(v, key)| {
                filter.category.is_none_or(|c| v.content.category == c)
                    && filter
                        .department
                        .as_ref()
                        .is_none_or(|d| &v.content.department == d)
                    && q.as_ref().is_none_or(|q| key.contains(q.as_str()))
            })
            .map(|(v, _)| v)
    }
}

#[derive(Default)]
pub struct Projections {
    items: Mutex<HashMap<i64, Arc<ItemsInForce>>>,
    /// Case counts by what was counted.
    counts: Mutex<HashMap<String, KeptCounts>>,
}

/// Counts with the agency log size and the day they were counted at.
type KeptCounts = (u64, NaiveDate, Vec<i64>);

/// Counting 100,000 cases for each list page costs more than the page; counts are kept
/// while the agency's log has not grown (every change to a case grows it) and the day is
/// the same (due-soon and overdue depend on it).
const COUNTS_KEPT: usize = 10_000;

impl Projections {
    /// Counts under `key` for an agency, from memory when still valid, else `compute`d.
    pub async fn counts<F, Fut>(
        &self,
        store: &Store,
        agency_id: i64,
        day: NaiveDate,
        key: String,
        compute: F,
    ) -> Result<Vec<i64>, StoreError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Vec<i64>, StoreError>>,
    {
        let log_size = store.log_head(agency_id).await?.size;
        let key = format!("{agency_id}\n{key}");
        if let Some((size, d, v)) = self.counts.lock().ok().and_then(|m| m.get(&key).cloned())
            && size == log_size
            && d == day
        {
            return Ok(v);
        }
        let v = compute().await?;
        if let Ok(mut m) = self.counts.lock() {
            if m.len() >= COUNTS_KEPT {
                m.clear();
            }
            m.insert(key, (log_size, day, v.clone()));
        }
        Ok(v)
    }

    /// The agency's list in force on `day`, from memory while the agency's log has not
    /// grown since it was read.
    pub async fn items_in_force(
        &self,
        store: &Store,
        agency_id: i64,
        day: NaiveDate,
    ) -> Result<Arc<ItemsInForce>, StoreError> {
        let log_size = store.log_head(agency_id).await?.size;
        if let Some(p) = self
            .items
            .lock()
            .ok()
            .and_then(|m| m.get(&agency_id).cloned())
            && p.day == day
            && p.log_size == log_size
        {
            return Ok(p);
        }
        let items = store
            .items_in_force(agency_id, day, &ItemFilter::default())
            .await?;
        let fresh = Arc::new(ItemsInForce {
            day,
            log_size,
            keys: items
                .iter()
                .map(|v| format!("{}\n{}", v.code, v.content.name).to_ascii_lowercase())
                .collect(),
            items,
            departments: store.item_departments(agency_id).await?,
            last_changed: store.items_last_changed(agency_id).await?,
        });
        if let Ok(mut m) = self.items.lock() {
            m.insert(agency_id, fresh.clone());
        }
        Ok(fresh)
    }
}
