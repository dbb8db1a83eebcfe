//! 公民身份号码 — the citizen identity number (GB 11643-1999).
//!
//! 18 characters: address code (6), date of birth YYYYMMDD (8), order code (3), check
//! character (1). The check character is ISO 7064 MOD 11-2 over the first 17 digits with
//! weights 2^(17-i) mod 11 (7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2), mapped through
//! 1 0 X 9 8 7 6 5 4 3 2 (GB 11643-1999 §8).
//!
//! Personal data: stored for internal checks only, never shown on the portal, never in a
//! log entry (entries carry salted commitments).

use chrono::NaiveDate;
use std::fmt;

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

/// A 公民身份号码 whose date of birth and check character are right.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdNumber(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdNumberError {
    #[error("公民身份号码应为 18 位，当前为 {0} 位")]
    Length(usize),
    #[error("公民身份号码前 17 位应为数字")]
    Digits,
    #[error("公民身份号码中的出生日期 {0} 不存在")]
    Birth(String),
    #[error("公民身份号码校验位错误：按 GB 11643 应为“{expected}”，实际为“{found}”")]
    Check { expected: char, found: char },
}

/// The check character for the first 17 digits.
pub fn check_character(first17: &str) -> Result<char, IdNumberError> {
    let mut sum = 0u32;
    for (i, c) in first17.chars().enumerate() {
        sum += c.to_digit(10).ok_or(IdNumberError::Digits)? * WEIGHTS[i];
    }
    Ok(CHECK[(sum % 11) as usize])
}

impl IdNumber {
    /// Parses a number; a lower-case x and surrounding spaces are accepted.
    pub fn parse(input: &str) -> Result<Self, IdNumberError> {
        let s: String = input.trim().to_ascii_uppercase();
        let n = s.chars().count();
        if n != 18 {
            return Err(IdNumberError::Length(n));
        }
        // Byte positions below are character positions only for ASCII.
        if !s.is_ascii() {
            return Err(IdNumberError::Digits);
        }
        let (first17, last) = s.split_at(17);
        if !first17.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IdNumberError::Digits);
        }
        let birth = &first17[6..14];
        if NaiveDate::parse_from_str(birth, "%Y%m%d").is_err() || birth < "18000101" {
            return Err(IdNumberError::Birth(birth.to_owned()));
        }
        let expected = check_character(first17)?;
        let found = last.chars().next().expect("18 characters");
        if found != expected {
            return Err(IdNumberError::Check { expected, found });
        }
        Ok(IdNumber(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// For lists shown to staff: 4101**********123X.
    pub fn masked(&self) -> String {
        format!("{}**********{}", &self.0[..4], &self.0[14..])
    }
}

/// Serialized masked: the full number never leaves through a JSON view by accident.
impl serde::Serialize for IdNumber {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.masked())
    }
}

impl fmt::Display for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_standards_example_is_valid() {
        // GB 11643-1999 Appendix A: 11010519491231002X.
        assert_eq!(
            IdNumber::parse("11010519491231002x").unwrap().as_str(),
            "11010519491231002X"
        );
        assert_eq!(
            IdNumber::parse("11010519491231002X").unwrap().masked(),
            "1101**********002X"
        );
    }

    #[test]
    fn bad_numbers_are_refused_with_the_reason() {
        assert_eq!(
            IdNumber::parse("110105194912310021"),
            Err(IdNumberError::Check {
                expected: 'X',
                found: '1'
            })
        );
        assert_eq!(
            IdNumber::parse("1101051949123100"),
            Err(IdNumberError::Length(16))
        );
        assert_eq!(
            IdNumber::parse("11010519490231002X"),
            Err(IdNumberError::Birth("19490231".into()))
        );
        assert_eq!(
            IdNumber::parse("1101A519491231002X"),
            Err(IdNumberError::Digits)
        );
        // 18 characters, not 18 bytes: refused, never split inside a character.
        assert_eq!(
            IdNumber::parse("1234567890123456中7"),
            Err(IdNumberError::Digits)
        );
    }

    proptest! {
        /// Any 17 digits with a real date take exactly one check character.
        #[test]
        fn exactly_one_check_character_fits(area in 110000u32..660000, day in 0i64..40000, order in 0u32..1000) {
            let birth = NaiveDate::from_ymd_opt(1920, 1, 1).unwrap() + chrono::Duration::days(day);
            let first17 = format!("{area:06}{}{order:03}", birth.format("%Y%m%d"));
            let good = check_character(&first17).unwrap();
            for c in CHECK {
                let r = IdNumber::parse(&format!("{first17}{c}"));
                prop_assert_eq!(r.is_ok(), c == good);
            }
        }
    }
}
