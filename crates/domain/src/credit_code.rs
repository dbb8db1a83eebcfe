//! 统一社会信用代码 — the unified social credit code of an organisation (GB 32100-2015).
//!
//! 18 characters: registration authority (1), organisation kind (1), administrative
//! division (6), organisation code (9), check character (1). The alphabet is the digits
//! and the capital letters without I, O, Z, S, V; the check character is computed over
//! the first 17 with weights 3^i mod 31 (GB 32100-2015 §5).

use serde::{Serialize, Serializer};
use std::fmt;

const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// A 统一社会信用代码 whose check character is right.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CreditCode(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreditCodeError {
    #[error("统一社会信用代码应为 18 位，当前为 {0} 位")]
    Length(usize),
    #[error(
        "统一社会信用代码第 {position} 位“{found}”不是允许的字符（数字或除 I、O、Z、S、V 以外的大写字母）"
    )]
    Character { position: usize, found: char },
    #[error("统一社会信用代码校验位错误：按 GB 32100 应为“{expected}”，实际为“{found}”")]
    Check { expected: char, found: char },
}

fn value_of(c: char) -> Option<u32> {
    ALPHABET
        .iter()
        .position(|&a| a as char == c)
        .map(|p| p as u32)
}

/// The check character for the first 17 characters (which must be in the alphabet).
pub fn check_character(first17: &str) -> Result<char, CreditCodeError> {
    let mut sum = 0u32;
    for (i, c) in first17.chars().enumerate() {
        let v = value_of(c).ok_or(CreditCodeError::Character {
            position: i + 1,
            found: c,
        })?;
        sum += v * WEIGHTS[i];
    }
    let check = (31 - sum % 31) % 31;
    Ok(ALPHABET[check as usize] as char)
}

impl CreditCode {
    /// Parses a code; lower-case letters and surrounding spaces are accepted and normalised.
    pub fn parse(input: &str) -> Result<Self, CreditCodeError> {
        let s: String = input.trim().to_ascii_uppercase();
        let n = s.chars().count();
        if n != 18 {
            return Err(CreditCodeError::Length(n));
        }
        let first17: String = s.chars().take(17).collect();
        let expected = check_character(&first17)?;
        let found = s.chars().nth(17).expect("18 characters");
        if value_of(found).is_none() {
            return Err(CreditCodeError::Character {
                position: 18,
                found,
            });
        }
        if found != expected {
            return Err(CreditCodeError::Check { expected, found });
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CreditCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for CreditCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // Published codes of real organisations (from their public business licences).
    #[test]
    fn accepts_published_codes() {
        for code in [
            "914403001922038216", // 华为技术有限公司
            "91110000802100433B", // 中国石油化工股份有限公司
        ] {
            CreditCode::parse(code).unwrap_or_else(|e| panic!("{code}: {e}"));
        }
    }

    #[test]
    fn rejects_wrong_check_character_with_the_expected_one() {
        let err = CreditCode::parse("914403001922038217").unwrap_err();
        assert_eq!(
            err,
            CreditCodeError::Check {
                expected: '6',
                found: '7'
            }
        );
        assert!(err.to_string().contains("校验位"));
    }

    #[test]
    fn rejects_length_and_forbidden_letters() {
        assert_eq!(
            CreditCode::parse("91440300"),
            Err(CreditCodeError::Length(8))
        );
        assert!(matches!(
            CreditCode::parse("9144030019220382I6"),
            Err(CreditCodeError::Character { position: 17, .. })
        ));
        assert!(CreditCode::parse("９１４４０３００１９２２０３８２１６").is_err());
    }

    #[test]
    fn normalises_case_and_space() {
        assert_eq!(
            CreditCode::parse(" 91110000802100433b ").unwrap().as_str(),
            "91110000802100433B"
        );
    }

    proptest! {
        // Every 17-character prefix completed with its check character parses, and
        // every other final character is rejected.
        #[test]
        fn check_character_round_trip(idx in proptest::collection::vec(0usize..31, 17), other in 0usize..31) {
            let first17: String = idx.iter().map(|&i| ALPHABET[i] as char).collect();
            let check = check_character(&first17).unwrap();
            let good = format!("{first17}{check}");
            prop_assert!(CreditCode::parse(&good).is_ok());
            let alt = ALPHABET[other] as char;
            if alt != check {
                let bad = format!("{first17}{alt}");
                let is_check_error = matches!(CreditCode::parse(&bad), Err(CreditCodeError::Check { .. }));
                prop_assert!(is_check_error);
            }
        }
    }
}
