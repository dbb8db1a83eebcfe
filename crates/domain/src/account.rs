//! Accounts: user names and the password policy for real accounts.

use serde::Serialize;
use std::fmt;

/// A login name: 3–32 characters of ASCII letters, digits, '.', '_' or '-', stored lower-case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Username(String);

impl Username {
    pub fn parse(input: &str) -> Result<Self, String> {
        let s = input.trim().to_ascii_lowercase();
        if !(3..=32).contains(&s.len()) {
            return Err("用户名须为 3–32 个字符".into());
        }
        if !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            return Err("用户名只能使用英文字母、数字和“. _ -”".into());
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The name an account is shown under: 1–40 characters, no control characters.
pub fn display_name(input: &str) -> Result<String, String> {
    let s = input.trim();
    if s.is_empty() {
        return Err("请填写显示姓名".into());
    }
    if s.chars().count() > 40 {
        return Err("显示姓名不能超过 40 个字".into());
    }
    // Control and bidirectional-override characters can disguise a name.
    if s.chars().any(|c| {
        c.is_control()
            || ('\u{202a}'..='\u{202e}').contains(&c)
            || ('\u{2066}'..='\u{2069}').contains(&c)
    }) {
        return Err("显示姓名含有不可见的控制字符".into());
    }
    Ok(s.to_owned())
}

/// A password that satisfies the policy (等保 2.0 身份鉴别: complexity requirement):
/// at least 8 characters from at least three of: lower-case, upper-case, digits, symbols.
#[derive(Clone)]
pub struct Password(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordPolicyError {
    #[error("密码至少需要 8 个字符")]
    TooShort,
    #[error("密码不能超过 128 个字符")]
    TooLong,
    #[error("密码须包含小写字母、大写字母、数字、符号中的至少三类")]
    TooFewClasses,
    #[error("密码不能包含用户名")]
    ContainsUsername,
}

impl Password {
    /// Checks the policy; `username` (if known) must not appear in the password.
    pub fn parse(input: &str, username: Option<&Username>) -> Result<Self, PasswordPolicyError> {
        let n = input.chars().count();
        if n < 8 {
            return Err(PasswordPolicyError::TooShort);
        }
        if n > 128 {
            return Err(PasswordPolicyError::TooLong);
        }
        let classes = [
            input.chars().any(|c| c.is_lowercase()),
            input.chars().any(|c| c.is_uppercase()),
            input.chars().any(|c| c.is_ascii_digit()),
            input
                .chars()
                .any(|c| !c.is_alphanumeric() && !c.is_whitespace()),
        ];
        if classes.iter().filter(|&&b| b).count() < 3 {
            return Err(PasswordPolicyError::TooFewClasses);
        }
        if let Some(u) = username
            && input.to_lowercase().contains(u.as_str())
        {
            return Err(PasswordPolicyError::ContainsUsername);
        }
        Ok(Self(input.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_password_meets_policy() {
        assert!(Password::parse("Zhifa@2026", None).is_ok());
    }

    #[test]
    fn policy_rejections() {
        assert_eq!(
            Password::parse("Ab1!", None).unwrap_err(),
            PasswordPolicyError::TooShort
        );
        assert_eq!(
            Password::parse("abcdefgh1", None).unwrap_err(),
            PasswordPolicyError::TooFewClasses
        );
        let u = Username::parse("wangwu").unwrap();
        assert_eq!(
            Password::parse("Wangwu@2026", Some(&u)).unwrap_err(),
            PasswordPolicyError::ContainsUsername
        );
    }

    #[test]
    fn display_names() {
        assert_eq!(display_name(" 张三 ").unwrap(), "张三");
        assert!(display_name("").is_err());
        assert!(display_name("张\u{202e}三").is_err());
        assert!(display_name(&"名".repeat(41)).is_err());
    }

    #[test]
    fn usernames() {
        assert_eq!(Username::parse(" Admin ").unwrap().as_str(), "admin");
        assert!(Username::parse("a").is_err());
        assert!(Username::parse("x' OR 1=1 --").is_err());
    }
}
