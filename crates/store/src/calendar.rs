//! The working-day calendar as this installation uses it: the years shipped with zhifa,
//! with the years an administrator added or corrected (stored, ledgered in the
//! installation's log) laid over them.

use crate::db::Store;
use crate::error::StoreError;
use crate::write::WriteTx;
use sqlx::Row;
use zhifa_domain::calendar::{Calendar, CalendarDataError, YearData};

/// A year as an administrator entered it, with its row version.
#[derive(Debug, Clone)]
pub struct StoredYear {
    pub data: YearData,
    pub version: i64,
    pub updated_at: i64,
}

fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

impl Store {
    /// The years stored by administrators, oldest first.
    pub async fn calendar_years(&self) -> Result<Vec<StoredYear>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, notice, holidays, workdays, version, updated_at FROM calendar_years ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(StoredYear {
                    data: YearData {
                        year: r.try_get::<i64, _>("id")? as i32,
                        notice: r.try_get("notice")?,
                        holidays: lines(&r.try_get::<String, _>("holidays")?),
                        workdays: lines(&r.try_get::<String, _>("workdays")?),
                    },
                    version: r.try_get("version")?,
                    updated_at: r.try_get("updated_at")?,
                })
            })
            .collect()
    }

    /// The calendar in use: the shipped years with the stored ones laid over them. Built
    /// again only when the stored years changed (one small query tells), since every act
    /// on a case and every deadline shown asks for it.
    pub async fn calendar(&self) -> Result<std::sync::Arc<Calendar>, StoreError> {
        let r = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {CALENDAR_STAMP}")))
            .fetch_one(&self.pool)
            .await?;
        self.calendar_at((r.try_get("cal_n")?, r.try_get("cal_at")?))
            .await
    }

    /// The calendar for a stamp read with other data (`CALENDAR_STAMP` in the same
    /// query spares a round trip): the cached one while the stamp matches.
    pub(crate) async fn calendar_at(
        &self,
        stamp: Stamp,
    ) -> Result<std::sync::Arc<Calendar>, StoreError> {
        if let Some((s, c)) = self.calendar_cache.0.lock().expect("not poisoned").as_ref()
            && *s == stamp
        {
            return Ok(c.clone());
        }
        let stored = self.calendar_years().await?;
        let calendar = std::sync::Arc::new(
            merged(stored.into_iter().map(|y| y.data))
                .map_err(|e| StoreError::Corrupt(format!("stored calendar: {e}")))?,
        );
        *self.calendar_cache.0.lock().expect("not poisoned") = Some((stamp, calendar.clone()));
        Ok(calendar)
    }
}

/// Columns telling whether the stored years changed: how many, and the latest change.
pub(crate) const CALENDAR_STAMP: &str = "(SELECT COUNT(*) FROM calendar_years) AS cal_n,
    (SELECT COALESCE(MAX(updated_at), 0) FROM calendar_years) AS cal_at";

/// The last calendar built, with the stamp (count, latest change) of the stored years.
#[derive(Default, Debug)]
pub struct CalendarCache(std::sync::Mutex<Option<(Stamp, std::sync::Arc<Calendar>)>>);

/// How many years are stored and when the last one changed.
pub(crate) type Stamp = (i64, i64);

/// The shipped years with `extra` laid over them (a stored year replaces a shipped one).
pub fn merged(extra: impl IntoIterator<Item = YearData>) -> Result<Calendar, CalendarDataError> {
    let mut years: std::collections::BTreeMap<i32, YearData> = Calendar::mainland_years()
        .into_iter()
        .map(|y| (y.year, y))
        .collect();
    for y in extra {
        years.insert(y.year, y);
    }
    Calendar::from_years(&years.into_values().collect::<Vec<_>>())
}

impl WriteTx {
    /// Adds or corrects one year of the calendar. The merged calendar must still check
    /// (dates in the year, make-up days on weekends, no gap between years); otherwise the
    /// year is refused with the reason. `version` is 0 for a year not stored yet.
    pub async fn save_calendar_year(
        &mut self,
        year: &YearData,
        version: i64,
        others: &[YearData],
    ) -> Result<(), StoreError> {
        let mut all: Vec<YearData> = others
            .iter()
            .filter(|o| o.year != year.year)
            .cloned()
            .collect();
        all.push(year.clone());
        merged(all).map_err(|e| StoreError::field("holidays", e.to_string()))?;
        self.guard_row("calendar_year", i64::from(year.year))
            .await?;
        let now = self.now();
        let done = if version == 0 {
            sqlx::query(
                "INSERT INTO calendar_years (id, notice, holidays, workdays, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (id) DO NOTHING",
            )
            .bind(i64::from(year.year))
            .bind(year.notice.clone())
            .bind(year.holidays.join("\n"))
            .bind(year.workdays.join("\n"))
            .bind(now)
            .execute(self.conn())
            .await?
        } else {
            sqlx::query(
                "UPDATE calendar_years SET notice = $1, holidays = $2, workdays = $3, updated_at = $4,
                    version = version + 1 WHERE id = $5 AND version = $6",
            )
            .bind(year.notice.clone())
            .bind(year.holidays.join("\n"))
            .bind(year.workdays.join("\n"))
            .bind(now)
            .bind(i64::from(year.year))
            .bind(version)
            .execute(self.conn())
            .await?
        };
        if done.rows_affected() != 1 {
            return Err(StoreError::Stale);
        }
        self.record_row_in(None, "calendar.year", "calendar_year", i64::from(year.year))
            .await
    }
}
