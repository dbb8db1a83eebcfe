//! API 令牌 — the terms of an API token: when it stops working, and whether it may change
//! anything or only read. Chosen when the token is made; decided at every request here.

use crate::FieldErrors;
use chrono::{DateTime, Duration, FixedOffset};

/// How long a token lives when its maker says nothing.
pub const DEFAULT_DAYS: i64 = 90;
/// The longest a token may live: a token is a password that never asks twice, so it must
/// be renewed at least once a year.
pub const MAX_DAYS: i64 = 365;

const DAY_MS: i64 = 86_400_000;

/// A token's terms, checked: it expires 1 to [`MAX_DAYS`] days after it was issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenTerms {
    expires_at: i64,
    read_only: bool,
}

impl TokenTerms {
    /// `days` as typed ("" for [`DEFAULT_DAYS`]), `issued_at` in epoch milliseconds.
    pub fn parse(days: &str, read_only: bool, issued_at: i64) -> Result<Self, FieldErrors> {
        let days = days.trim();
        let days = if days.is_empty() {
            DEFAULT_DAYS
        } else {
            match days.parse::<i64>() {
                Ok(d) if (1..=MAX_DAYS).contains(&d) => d,
                _ => {
                    return Err(FieldErrors::single(
                        "days",
                        format!("有效期须为 1 至 {MAX_DAYS} 天的整数（不填为 {DEFAULT_DAYS} 天）"),
                    ));
                }
            }
        };
        Ok(TokenTerms {
            expires_at: issued_at + days * DAY_MS,
            read_only,
        })
    }

    /// When the token stops working, in epoch milliseconds.
    pub fn expires_at(&self) -> i64 {
        self.expires_at
    }

    /// Whether the token may only read.
    pub fn read_only(&self) -> bool {
        self.read_only
    }
}

/// Why a token may not make a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenRefusal {
    #[error("API 令牌已于 {0}（北京时间）过期，请向管理员申请新的令牌")]
    Expired(String),
    #[error("此 API 令牌为只读令牌，只能读取数据，不能新增、修改或删除；未做任何更改")]
    ReadOnly,
}

/// When a token expires: its own term, or — for a token made before tokens had terms —
/// [`MAX_DAYS`] after it was made.
pub fn expiry(created_at: i64, expires_at: Option<i64>) -> i64 {
    expires_at.unwrap_or(created_at + MAX_DAYS * DAY_MS)
}

/// The one decision whether a token may make a request at `now`: not once it has
/// expired, and a read-only token nothing that changes state.
pub fn check_use(
    created_at: i64,
    expires_at: Option<i64>,
    read_only: bool,
    changes_state: bool,
    now: i64,
) -> Result<(), TokenRefusal> {
    let expires = expiry(created_at, expires_at);
    if now >= expires {
        return Err(TokenRefusal::Expired(beijing_minute(expires)));
    }
    if read_only && changes_state {
        return Err(TokenRefusal::ReadOnly);
    }
    Ok(())
}

/// An epoch-millisecond time as `YYYY-MM-DD HH:MM` in Beijing.
pub fn beijing_minute(ms: i64) -> String {
    let beijing = FixedOffset::east_opt(8 * 3600).expect("a valid offset");
    DateTime::from_timestamp_millis(ms)
        .map(|t| {
            (t.with_timezone(&beijing))
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

/// Days from `from` to `to`, rounded up (what a list shows as "n 天后过期").
pub fn days_left(from: i64, to: i64) -> i64 {
    let left = Duration::milliseconds(to - from);
    (left.num_milliseconds() + DAY_MS - 1).div_euclid(DAY_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_767_225_600_000; // 2026-01-01 08:00 北京时间

    #[test]
    fn a_token_lives_ninety_days_unless_told_and_never_over_a_year() {
        let t = TokenTerms::parse("", false, T0).unwrap();
        assert_eq!(t.expires_at(), T0 + 90 * DAY_MS);
        assert!(!t.read_only());
        let t = TokenTerms::parse(" 365 ", true, T0).unwrap();
        assert_eq!(t.expires_at(), T0 + 365 * DAY_MS);
        assert!(t.read_only());
        for bad in ["0", "366", "-1", "三十", "1.5", "99999999999999999999"] {
            let e = TokenTerms::parse(bad, false, T0).unwrap_err();
            assert!(e.get("days").unwrap().contains("1 至 365 天"), "{bad}");
        }
    }

    #[test]
    fn an_expired_token_is_refused_with_its_expiry_and_a_read_only_one_may_only_read() {
        let t = TokenTerms::parse("1", true, T0).unwrap();
        let e = t.expires_at();
        assert_eq!(check_use(T0, Some(e), true, false, e - 1), Ok(()));
        assert_eq!(
            check_use(T0, Some(e), true, true, e - 1),
            Err(TokenRefusal::ReadOnly)
        );
        assert_eq!(check_use(T0, Some(e), false, true, e - 1), Ok(()));
        let refusal = check_use(T0, Some(e), false, false, e).unwrap_err();
        assert_eq!(refusal, TokenRefusal::Expired("2026-01-02 08:00".into()));
        assert!(
            refusal
                .to_string()
                .contains("已于 2026-01-02 08:00（北京时间）过期")
        );
    }

    #[test]
    fn a_token_made_before_terms_expires_a_year_after_it_was_made() {
        assert_eq!(expiry(T0, None), T0 + 365 * DAY_MS);
        assert!(check_use(T0, None, false, true, T0 + 364 * DAY_MS).is_ok());
        assert!(check_use(T0, None, false, false, T0 + 365 * DAY_MS).is_err());
    }

    #[test]
    fn days_left_round_up() {
        assert_eq!(days_left(T0, T0 + 1), 1);
        assert_eq!(days_left(T0, T0 + DAY_MS), 1);
        assert_eq!(days_left(T0, T0 + DAY_MS + 1), 2);
        assert_eq!(days_left(T0, T0), 0);
    }
}
