//! The mainland working-day calendar and the rules for counting legal periods.
//!
//! - A period counted in days does not include the day it starts from (期间开始之日不计算在内:
//!   行政处罚法 第八十五条 refers to the civil-procedure rules; 民事诉讼法 第八十五条 第二款).
//! - A period in working days (工作日) counts only working days: weekdays that are not statutory
//!   holidays, plus the weekend days the State Council makes working days (调休). 行政许可法
//!   第八十二条 counts its periods this way, and 行政处罚法 第八十五条 reads its “二日”“三日”
//!   “五日”“七日” as working days.
//! - A period in calendar days (日) that ends on a rest day ends on the next working day
//!   (期间届满的最后一日是法定休假日的，以法定休假日后的第一日为期间届满的日期: 民事诉讼法
//!   第八十五条 第三款).
//!
//! The calendar knows only the years its data covers; a question about any other year is
//! refused with a clear message, never guessed.

use chrono::{Datelike, NaiveDate, Weekday};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

/// One year of the State Council's notice.
#[derive(Debug, Clone, Deserialize)]
pub struct YearData {
    pub year: i32,
    /// The notice (title and number) the year's days come from.
    pub notice: String,
    /// Days off (dates or FROM..TO ranges).
    pub holidays: Vec<String>,
    /// Weekend days made working days (调休上班).
    #[serde(default)]
    pub workdays: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct CalendarFile {
    years: Vec<YearData>,
}

/// Why the calendar data cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarDataError {
    #[error("节假日数据格式错误：{0}")]
    Format(String),
    #[error("{year} 年的日期 {date} 不在该年内")]
    WrongYear { year: i32, date: NaiveDate },
    #[error("{0} 既被列为放假又被列为调休上班")]
    Both(NaiveDate),
    #[error("{0} 是工作日，不能列为调休上班")]
    WorkdayNotWeekend(NaiveDate),
    #[error("节假日数据的年份不连续：缺少 {0} 年")]
    Gap(i32),
    #[error("节假日数据为空")]
    Empty,
}

/// Why a date cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error(
        "{date} 所在的 {year} 年尚无国务院节假日安排数据（现有 {first}–{last} 年），无法计算期限；请管理员在公布后补充该年数据"
    )]
    OutOfRange {
        date: NaiveDate,
        year: i32,
        first: i32,
        last: i32,
    },
}

/// The calendar of the years its data covers.
#[derive(Debug, Clone)]
pub struct Calendar {
    first: i32,
    last: i32,
    holidays: BTreeSet<NaiveDate>,
    workdays: BTreeSet<NaiveDate>,
    notices: BTreeMap<i32, String>,
}

fn parse_days(year: i32, items: &[String]) -> Result<Vec<NaiveDate>, CalendarDataError> {
    let date = |s: &str| {
        NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
            .map_err(|_| CalendarDataError::Format(format!("{s} 不是 YYYY-MM-DD 日期")))
    };
    let mut out = Vec::new();
    for item in items {
        let (from, to) = match item.split_once("..") {
            Some((a, b)) => (date(a)?, date(b)?),
            None => {
                let d = date(item)?;
                (d, d)
            }
        };
        if to < from {
            return Err(CalendarDataError::Format(format!(
                "{item} 的结束日期早于开始日期"
            )));
        }
        let mut d = from;
        while d <= to {
            if d.year() != year {
                return Err(CalendarDataError::WrongYear { year, date: d });
            }
            out.push(d);
            d = d.succ_opt().expect("a date in range");
        }
    }
    Ok(out)
}

fn is_weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

impl Calendar {
    /// Builds a calendar from the years' data, checking it.
    pub fn from_years(years: &[YearData]) -> Result<Calendar, CalendarDataError> {
        let mut sorted: Vec<&YearData> = years.iter().collect();
        sorted.sort_by_key(|y| y.year);
        let (first, last) = match (sorted.first(), sorted.last()) {
            (Some(a), Some(b)) => (a.year, b.year),
            _ => return Err(CalendarDataError::Empty),
        };
        for w in sorted.windows(2) {
            if w[1].year != w[0].year + 1 {
                return Err(CalendarDataError::Gap(w[0].year + 1));
            }
        }
        let mut holidays = BTreeSet::new();
        let mut workdays = BTreeSet::new();
        let mut notices = BTreeMap::new();
        for y in sorted {
            holidays.extend(parse_days(y.year, &y.holidays)?);
            for d in parse_days(y.year, &y.workdays)? {
                if !is_weekend(d) {
                    return Err(CalendarDataError::WorkdayNotWeekend(d));
                }
                workdays.insert(d);
            }
            notices.insert(y.year, y.notice.clone());
        }
        if let Some(d) = holidays.intersection(&workdays).next() {
            return Err(CalendarDataError::Both(*d));
        }
        Ok(Calendar {
            first,
            last,
            holidays,
            workdays,
            notices,
        })
    }

    /// Parses the calendar file (`data/calendar/mainland.toml`).
    pub fn from_toml(text: &str) -> Result<Calendar, CalendarDataError> {
        let file: CalendarFile =
            toml::from_str(text).map_err(|e| CalendarDataError::Format(e.to_string()))?;
        Calendar::from_years(&file.years)
    }

    /// The mainland calendar as shipped (`data/calendar/mainland.toml`, embedded).
    pub fn mainland() -> Calendar {
        Calendar::from_years(&Calendar::mainland_years())
            .expect("the shipped calendar is checked by its tests")
    }

    /// The shipped years' data (for laying an installation's own years over them).
    pub fn mainland_years() -> Vec<YearData> {
        static YEARS: std::sync::LazyLock<Vec<YearData>> = std::sync::LazyLock::new(|| {
            let file: CalendarFile =
                toml::from_str(include_str!("../../../data/calendar/mainland.toml"))
                    .expect("the shipped calendar is checked by its tests");
            file.years
        });
        YEARS.clone()
    }

    /// The years the data covers.
    pub fn years(&self) -> (i32, i32) {
        (self.first, self.last)
    }

    /// The notice a year's days come from.
    pub fn notice(&self, year: i32) -> Option<&str> {
        self.notices.get(&year).map(String::as_str)
    }

    fn check(&self, d: NaiveDate) -> Result<(), CalendarError> {
        if (self.first..=self.last).contains(&d.year()) {
            Ok(())
        } else {
            Err(CalendarError::OutOfRange {
                date: d,
                year: d.year(),
                first: self.first,
                last: self.last,
            })
        }
    }

    /// Whether `d` is a working day.
    pub fn is_working_day(&self, d: NaiveDate) -> Result<bool, CalendarError> {
        self.check(d)?;
        Ok(if self.workdays.contains(&d) {
            true
        } else {
            !is_weekend(d) && !self.holidays.contains(&d)
        })
    }

    /// The `n`th working day strictly after `from` (the start day is not counted); `n = 0`
    /// gives `from` itself. Refused when a year without data is reached.
    pub fn add_working_days(&self, from: NaiveDate, n: u32) -> Result<NaiveDate, CalendarError> {
        self.check(from)?;
        let mut d = from;
        let mut left = n;
        while left > 0 {
            d = d.succ_opt().expect("a date in range");
            if self.is_working_day(d)? {
                left -= 1;
            }
        }
        Ok(d)
    }

    /// The last day of a period of `n` calendar days from `from` (the start day is not
    /// counted); when that day is a rest day, the next working day.
    pub fn add_days(&self, from: NaiveDate, n: u32) -> Result<NaiveDate, CalendarError> {
        self.check(from)?;
        let end = from
            .checked_add_days(chrono::Days::new(u64::from(n)))
            .unwrap_or(NaiveDate::MAX);
        // Far beyond the data: refused like any year without it.
        self.check(end)?;
        let mut d = end;
        while !self.is_working_day(d)? {
            d = d.succ_opt().expect("a date in range");
        }
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn the_shipped_calendar_covers_2019_to_2026() {
        let c = Calendar::mainland();
        assert_eq!(c.years(), (2019, 2026));
        assert!(c.notice(2026).unwrap().contains("2026"));
    }

    #[test]
    fn holidays_and_make_up_days() {
        let c = Calendar::mainland();
        // 2026 春节: 2-16..2-23 off, Saturday 2-14 and 2-28 working.
        assert!(!c.is_working_day(d("2026-02-16")).unwrap());
        assert!(c.is_working_day(d("2026-02-14")).unwrap());
        assert!(c.is_working_day(d("2026-02-28")).unwrap());
        assert!(!c.is_working_day(d("2026-03-01")).unwrap());
        assert!(c.is_working_day(d("2026-03-02")).unwrap());
    }

    #[test]
    fn working_days_do_not_count_the_start_day_or_holidays() {
        let c = Calendar::mainland();
        // Friday 2026-02-13: the next working day is Saturday 2-14 (调休), then the
        // holiday runs to 2-23, so the 2nd working day is Tuesday 2-24.
        assert_eq!(
            c.add_working_days(d("2026-02-13"), 1).unwrap(),
            d("2026-02-14")
        );
        assert_eq!(
            c.add_working_days(d("2026-02-13"), 2).unwrap(),
            d("2026-02-24")
        );
        assert_eq!(
            c.add_working_days(d("2026-02-13"), 0).unwrap(),
            d("2026-02-13")
        );
        // 行政许可法: 20 working days from Monday 2025-09-22 across 国庆: 10-1..10-8 off,
        // Sunday 9-28 and Saturday 10-11 working.
        assert_eq!(
            c.add_working_days(d("2025-09-22"), 20).unwrap(),
            d("2025-10-24")
        );
    }

    #[test]
    fn a_calendar_day_period_ending_on_a_rest_day_moves_to_the_next_working_day() {
        let c = Calendar::mainland();
        // 7 days from 2026-09-24 end on 10-01 (国庆) → the first working day after: 10-08.
        assert_eq!(c.add_days(d("2026-09-24"), 7).unwrap(), d("2026-10-08"));
        // Ending on a plain working day stays.
        assert_eq!(c.add_days(d("2026-03-02"), 7).unwrap(), d("2026-03-09"));
    }

    #[test]
    fn a_year_without_data_is_refused_not_guessed() {
        let c = Calendar::mainland();
        let e = c.add_working_days(d("2026-12-25"), 10).unwrap_err();
        assert!(
            e.to_string().contains("2027 年尚无国务院节假日安排数据"),
            "{e}"
        );
        assert!(c.is_working_day(d("2018-12-31")).is_err());
        assert!(c.add_days(d("2026-01-01"), u32::MAX).is_err());
    }

    #[test]
    fn bad_data_is_refused() {
        let y = |year, holidays: &[&str], workdays: &[&str]| YearData {
            year,
            notice: "n".into(),
            holidays: holidays.iter().map(|s| (*s).to_owned()).collect(),
            workdays: workdays.iter().map(|s| (*s).to_owned()).collect(),
        };
        assert_eq!(
            Calendar::from_years(&[y(2025, &["2025-01-01"], &["2025-01-01"])]).unwrap_err(),
            CalendarDataError::WorkdayNotWeekend(d("2025-01-01"))
        );
        assert_eq!(
            Calendar::from_years(&[y(2025, &["2025-02-08"], &["2025-02-08"])]).unwrap_err(),
            CalendarDataError::Both(d("2025-02-08"))
        );
        assert!(matches!(
            Calendar::from_years(&[y(2025, &["2024-12-31"], &[])]).unwrap_err(),
            CalendarDataError::WrongYear { .. }
        ));
        assert_eq!(
            Calendar::from_years(&[y(2024, &[], &[]), y(2026, &[], &[])]).unwrap_err(),
            CalendarDataError::Gap(2025)
        );
        assert!(Calendar::from_years(&[y(2025, &["2025-13-01"], &[])]).is_err());
    }
}
