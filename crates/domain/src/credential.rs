//! 执法证件: enforcement credentials (行政执法证) and the 法律职业资格 certificates of legal
//! reviewers, their status on a given day, and the rule that only an officer holding a
//! valid credential on the day may be assigned to an act of enforcement (持证上岗、亮证执法).
//!
//! A credential's stored status is what an administrator decided (有效, 暂扣, 注销); what
//! the public and the rules see is its status *on a day*: a credential past its validity
//! is 过期 on that day whatever is stored, one not yet in force is 未生效. Dates are
//! calendar dates in Beijing time, chosen by the caller (this crate has no clock).

use crate::validation::{FieldErrors, required_text};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// How long before its end a credential is flagged in the workbench. A working habit,
/// not a legal period: renewal takes about a month at the issuing 司法行政部门.
pub const EXPIRY_WARNING_DAYS: i64 = 30;

/// The kind of certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    /// 行政执法证 (the officer's enforcement credential).
    Enforcement,
    /// 法律职业资格证书 (required of 法制审核人员 first appointed since 2018,
    /// 《法律职业资格管理办法》; recorded for legal reviewers).
    LegalQualification,
}

impl CredentialKind {
    pub const ALL: [CredentialKind; 2] = [
        CredentialKind::Enforcement,
        CredentialKind::LegalQualification,
    ];

    pub fn code(self) -> &'static str {
        match self {
            CredentialKind::Enforcement => "enforcement",
            CredentialKind::LegalQualification => "legal_qualification",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            CredentialKind::Enforcement => "行政执法证",
            CredentialKind::LegalQualification => "法律职业资格证书",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }
}

/// The status an administrator sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StoredStatus {
    /// 有效
    Valid,
    /// 暂扣 (withheld, e.g. during an investigation of the holder)
    Suspended,
    /// 注销 (revoked for good)
    Revoked,
}

impl StoredStatus {
    pub const ALL: [StoredStatus; 3] = [
        StoredStatus::Valid,
        StoredStatus::Suspended,
        StoredStatus::Revoked,
    ];

    pub fn code(self) -> &'static str {
        match self {
            StoredStatus::Valid => "valid",
            StoredStatus::Suspended => "suspended",
            StoredStatus::Revoked => "revoked",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            StoredStatus::Valid => "有效",
            StoredStatus::Suspended => "暂扣",
            StoredStatus::Revoked => "注销",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() == code)
    }
}

/// The status of a credential on a given day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DayStatus {
    Valid,
    Suspended,
    Revoked,
    /// 过期: the day is after the last day of validity.
    Expired,
    /// 未生效: the day is before the first day of validity.
    NotYetValid,
}

impl DayStatus {
    pub fn label(self) -> &'static str {
        match self {
            DayStatus::Valid => "有效",
            DayStatus::Suspended => "暂扣",
            DayStatus::Revoked => "注销",
            DayStatus::Expired => "过期",
            DayStatus::NotYetValid => "未生效",
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            DayStatus::Valid => "valid",
            DayStatus::Suspended => "suspended",
            DayStatus::Revoked => "revoked",
            DayStatus::Expired => "expired",
            DayStatus::NotYetValid => "not_yet_valid",
        }
    }

    pub fn is_valid(self) -> bool {
        self == DayStatus::Valid
    }
}

/// What the rules need to know about a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    pub status: StoredStatus,
    pub valid_from: NaiveDate,
    pub valid_to: NaiveDate,
}

impl Validity {
    /// The status on `day`: a withheld or revoked credential stays so; otherwise the dates
    /// decide (both ends inclusive).
    pub fn on(&self, day: NaiveDate) -> DayStatus {
        match self.status {
            StoredStatus::Suspended => DayStatus::Suspended,
            StoredStatus::Revoked => DayStatus::Revoked,
            StoredStatus::Valid if day < self.valid_from => DayStatus::NotYetValid,
            StoredStatus::Valid if day > self.valid_to => DayStatus::Expired,
            StoredStatus::Valid => DayStatus::Valid,
        }
    }

    /// Days from `day` to the last day of validity, when the credential is valid on `day`
    /// and ends within [`EXPIRY_WARNING_DAYS`].
    pub fn expires_soon(&self, day: NaiveDate) -> Option<i64> {
        let left = (self.valid_to - day).num_days();
        (self.on(day).is_valid() && left <= EXPIRY_WARNING_DAYS).then_some(left)
    }
}

/// Why an officer may not be assigned to an act of enforcement on a day.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotAssignable {
    #[error("{name} 没有行政执法证，不能从事执法活动（持证上岗）")]
    NoCredential { name: String },
    #[error("{name} 的行政执法证 {number} 在 {day} 的状态为“{status}”，不能从事执法活动")]
    NotValid {
        name: String,
        number: String,
        day: NaiveDate,
        status: &'static str,
    },
}

/// The rule of 持证上岗: `holder` may be assigned to an act of enforcement on `day` only
/// when one of their enforcement credentials is valid that day. Later capabilities (cases,
/// inspections) call this for every officer of every investigative act.
pub fn check_assignable(
    holder: &str,
    enforcement_credentials: &[(String, Validity)],
    day: NaiveDate,
) -> Result<(), NotAssignable> {
    let mut first_problem = None;
    for (number, v) in enforcement_credentials {
        let status = v.on(day);
        if status.is_valid() {
            return Ok(());
        }
        first_problem.get_or_insert(NotAssignable::NotValid {
            name: holder.to_owned(),
            number: number.clone(),
            day,
            status: status.label(),
        });
    }
    Err(first_problem.unwrap_or(NotAssignable::NoCredential {
        name: holder.to_owned(),
    }))
}

/// A credential number as printed on the card: letters, digits and hyphens, optionally
/// after a province's one-character abbreviation (e.g. 豫), 4 to 32 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CredentialNumber(String);

impl CredentialNumber {
    pub fn parse(input: &str) -> Result<Self, String> {
        let s: String = input.trim().to_uppercase();
        let count = s.chars().count();
        if !(4..=32).contains(&count) {
            return Err("证件编号应为 4–32 个字符".into());
        }
        let mut chars = s.chars();
        let first = chars.next().expect("non-empty");
        let first_ok = first.is_ascii_alphanumeric() || is_cjk(first);
        if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err("证件编号只能包含字母、数字和连字符（开头可以是省份简称，如“豫”）".into());
        }
        Ok(CredentialNumber(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_cjk(c: char) -> bool {
    ('\u{4e00}'..='\u{9fff}').contains(&c)
}

/// Parses `YYYY-MM-DD` with a year from 1900 to 2999 (dates are compared as text in
/// storage, so the form is exactly ten characters).
pub fn parse_date(input: &str) -> Option<NaiveDate> {
    let t = input.trim();
    if t.len() != 10 || !t.is_ascii() {
        return None;
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .ok()
        .filter(|d| (1900..=2999).contains(&chrono::Datelike::year(d)))
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CredentialInput {
    pub person_id: String,
    pub kind: String,
    pub number: String,
    pub issuer: String,
    pub area: String,
    pub valid_from: String,
    pub valid_to: String,
}

/// A credential as entered by an administrator (its status is set separately).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCredential {
    pub person_id: i64,
    pub kind: CredentialKind,
    pub number: CredentialNumber,
    /// 发证机关, e.g. 河南省人民政府.
    pub issuer: String,
    /// 执法区域 / 执法类别, e.g. 罗山县朱堂乡 · 综合行政执法.
    pub area: String,
    pub valid_from: NaiveDate,
    pub valid_to: NaiveDate,
}

impl NewCredential {
    pub fn parse(input: &CredentialInput) -> Result<Self, FieldErrors> {
        let mut e = FieldErrors::new();
        let person_id = match input.person_id.trim().parse::<i64>() {
            Ok(v) if v > 0 => Some(v),
            _ => {
                e.add("person_id", "请选择持证人");
                None
            }
        };
        let kind = CredentialKind::from_code(input.kind.trim());
        if kind.is_none() {
            e.add("kind", "请选择证件种类：行政执法证或法律职业资格证书");
        }
        let number = CredentialNumber::parse(&input.number)
            .map_err(|m| e.add("number", m))
            .ok();
        let issuer = required_text(&mut e, "issuer", "发证机关", &input.issuer, 60);
        let area = required_text(&mut e, "area", "执法区域或类别", &input.area, 100);
        let from = parse_date(&input.valid_from);
        if from.is_none() {
            e.add(
                "valid_from",
                "请按 年-月-日 填写有效期起始日，如 2024-01-01",
            );
        }
        let to = parse_date(&input.valid_to);
        if to.is_none() {
            e.add("valid_to", "请按 年-月-日 填写有效期截止日，如 2029-12-31");
        }
        if let (Some(f), Some(t)) = (from, to)
            && t < f
        {
            e.add("valid_to", "有效期截止日不能早于起始日");
        }
        e.into_result(|| NewCredential {
            person_id: person_id.expect("checked"),
            kind: kind.expect("checked"),
            number: number.expect("checked"),
            issuer,
            area,
            valid_from: from.expect("checked"),
            valid_to: to.expect("checked"),
        })
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct StatusInput {
    pub status: String,
    pub reason: String,
}

/// A change of a credential's stored status, with its reason (kept in the record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    pub status: StoredStatus,
    pub reason: String,
}

impl StatusChange {
    pub fn parse(input: &StatusInput) -> Result<Self, FieldErrors> {
        let mut e = FieldErrors::new();
        let status = StoredStatus::from_code(input.status.trim());
        if status.is_none() {
            e.add("status", "请选择状态：有效、暂扣或注销");
        }
        let reason = required_text(&mut e, "reason", "变更原因", &input.reason, 200);
        e.into_result(|| StatusChange {
            status: status.expect("checked"),
            reason,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        parse_date(s).unwrap()
    }

    fn validity(status: StoredStatus) -> Validity {
        Validity {
            status,
            valid_from: d("2024-01-01"),
            valid_to: d("2026-12-31"),
        }
    }

    #[test]
    fn status_on_a_day_follows_the_dates_both_ends_inclusive() {
        let v = validity(StoredStatus::Valid);
        assert_eq!(v.on(d("2023-12-31")), DayStatus::NotYetValid);
        assert_eq!(v.on(d("2024-01-01")), DayStatus::Valid);
        assert_eq!(v.on(d("2026-12-31")), DayStatus::Valid);
        assert_eq!(v.on(d("2027-01-01")), DayStatus::Expired);
        // Withheld or revoked stays so, whatever the dates.
        assert_eq!(
            validity(StoredStatus::Suspended).on(d("2025-06-01")),
            DayStatus::Suspended
        );
        assert_eq!(
            validity(StoredStatus::Revoked).on(d("2030-01-01")),
            DayStatus::Revoked
        );
    }

    #[test]
    fn expiry_warning_starts_thirty_days_before_the_last_day() {
        let v = validity(StoredStatus::Valid);
        assert_eq!(v.expires_soon(d("2026-11-30")), None);
        assert_eq!(v.expires_soon(d("2026-12-01")), Some(30));
        assert_eq!(v.expires_soon(d("2026-12-31")), Some(0));
        assert_eq!(v.expires_soon(d("2027-01-01")), None);
        assert_eq!(
            validity(StoredStatus::Revoked).expires_soon(d("2026-12-20")),
            None
        );
    }

    #[test]
    fn only_a_valid_credential_on_the_day_allows_assignment() {
        let creds = vec![("豫A0001".to_owned(), validity(StoredStatus::Valid))];
        assert!(check_assignable("张三", &creds, d("2026-12-31")).is_ok());
        // Expired yesterday: refused, and the message names the number and the day.
        let err = check_assignable("张三", &creds, d("2027-01-01")).unwrap_err();
        assert!(err.to_string().contains("豫A0001") && err.to_string().contains("过期"));
        assert_eq!(
            check_assignable("李四", &[], d("2026-01-01")),
            Err(NotAssignable::NoCredential {
                name: "李四".into()
            })
        );
        // One valid credential among others is enough.
        let mixed = vec![
            ("A1".to_owned(), validity(StoredStatus::Revoked)),
            ("A2".to_owned(), validity(StoredStatus::Valid)),
        ];
        assert!(check_assignable("王五", &mixed, d("2025-01-01")).is_ok());
    }

    #[test]
    fn only_plain_four_digit_year_dates_are_dates() {
        assert!(parse_date(" 2026-01-01 ").is_some());
        for bad in [
            "+10000-01-01",
            "-0001-01-01",
            "2026-1-1",
            "1899-12-31",
            "3000-01-01",
            "２０２６-01-01",
        ] {
            assert!(parse_date(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn numbers_are_checked_and_normalised() {
        assert_eq!(
            CredentialNumber::parse(" 豫a1234-56 ").unwrap().as_str(),
            "豫A1234-56"
        );
        for bad in ["", "A1", "A 1234", "A1234/5", "豫豫1234", &"1".repeat(33)] {
            assert!(CredentialNumber::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let e = NewCredential::parse(&CredentialInput {
            person_id: "x".into(),
            kind: "passport".into(),
            number: "A".into(),
            issuer: "".into(),
            area: "".into(),
            valid_from: "2026-02-30".into(),
            valid_to: "tomorrow".into(),
        })
        .unwrap_err();
        for f in [
            "person_id",
            "kind",
            "number",
            "issuer",
            "area",
            "valid_from",
            "valid_to",
        ] {
            assert!(e.get(f).is_some(), "{f}");
        }
        let e = NewCredential::parse(&CredentialInput {
            person_id: "3".into(),
            kind: "enforcement".into(),
            number: "41150012345".into(),
            issuer: "河南省人民政府".into(),
            area: "罗山县朱堂乡 综合行政执法".into(),
            valid_from: "2026-01-01".into(),
            valid_to: "2025-12-31".into(),
        })
        .unwrap_err();
        assert_eq!(e.get("valid_to"), Some("有效期截止日不能早于起始日"));
    }

    #[test]
    fn a_status_change_needs_a_known_status_and_a_reason() {
        assert!(
            StatusChange::parse(&StatusInput {
                status: "revoked".into(),
                reason: "调离执法岗位".into()
            })
            .is_ok()
        );
        let e = StatusChange::parse(&StatusInput {
            status: "expired".into(),
            reason: " ".into(),
        })
        .unwrap_err();
        assert!(e.get("status").is_some() && e.get("reason").is_some());
    }
}
