//! Field-level validation errors, shown next to the offending input.

use serde::Serialize;

/// Errors of a submitted form or JSON body, keyed by field name, in Chinese.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct FieldErrors {
    errors: Vec<FieldError>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn single(field: &str, message: impl Into<String>) -> Self {
        let mut e = Self::new();
        e.add(field, message);
        e
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError {
            field: field.to_owned(),
            message: message.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &FieldError> {
        self.errors.iter()
    }

    /// The first message for `field`, if any (templates show it under the input).
    pub fn get(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }

    /// Ok when empty, so validators can end with `errors.into_result(value)`.
    pub fn into_result<T>(self, value: impl FnOnce() -> T) -> Result<T, FieldErrors> {
        if self.is_empty() {
            Ok(value())
        } else {
            Err(self)
        }
    }
}

impl std::fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .errors
            .iter()
            .map(|e| format!("{}：{}", e.field, e.message))
            .collect();
        f.write_str(&parts.join("；"))
    }
}

impl std::error::Error for FieldErrors {}

/// Trims a one-line text field and checks it is present and not longer than `max`
/// characters.
pub fn required_text(
    errors: &mut FieldErrors,
    field: &str,
    label: &str,
    value: &str,
    max: usize,
) -> String {
    let v = value.trim();
    if v.is_empty() {
        errors.add(field, format!("请填写{label}"));
    } else if v.chars().count() > max {
        errors.add(field, format!("{label}不能超过 {max} 个字"));
    } else if v.chars().any(|c| c.is_control()) {
        errors.add(field, format!("{label}含有不可见的控制字符"));
    }
    v.to_owned()
}

/// Like [`required_text`] for multi-line text (line breaks and tabs allowed).
pub fn required_multiline(
    errors: &mut FieldErrors,
    field: &str,
    label: &str,
    value: &str,
    max: usize,
) -> String {
    let v = value.trim();
    if v.is_empty() {
        errors.add(field, format!("请填写{label}"));
    } else {
        return optional_text(errors, field, label, v, max);
    }
    v.to_owned()
}

/// Like [`required_text`] but empty is allowed.
pub fn optional_text(
    errors: &mut FieldErrors,
    field: &str,
    label: &str,
    value: &str,
    max: usize,
) -> String {
    let v = value.trim();
    if v.chars().count() > max {
        errors.add(field, format!("{label}不能超过 {max} 个字"));
    } else if v
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        errors.add(field, format!("{label}含有不可见的控制字符"));
    }
    v.to_owned()
}
