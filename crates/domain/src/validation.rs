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

/// Characters that change how text is shown without being seen: the bidirectional
/// embeddings, overrides and isolates (U+202A–202E, U+2066–2069) and marks (U+200E,
/// U+200F, U+061C), the zero-width space, joiners and word joiner (U+200B–200D, U+2060),
/// and the byte-order mark (U+FEFF). A right-to-left override in a party's name would
/// print the name reversed in an official document; a zero-width space would hide a
/// party from search. None of them belongs in a name, a cause or an address.
pub fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}'
        | '\u{061C}'
        | '\u{FEFF}')
}

/// Why a text cannot be taken as typed, if it cannot: a control character (line breaks
/// and tabs are allowed where `multiline`) or an invisible format character.
fn hidden_characters(v: &str, label: &str, multiline: bool) -> Option<String> {
    let line_break = |c: char| multiline && matches!(c, '\n' | '\r' | '\t');
    if v.chars().any(|c| c.is_control() && !line_break(c)) {
        Some(format!("{label}含有不可见的控制字符"))
    } else if v.chars().any(is_invisible_format) {
        Some(format!(
            "{label}含有不可见的格式字符（如从右至左标记或零宽空格），请删除后重新输入"
        ))
    } else {
        None
    }
}

/// The text in Unicode normalisation form C, trimmed: the same name typed on two
/// keyboards (a precomposed or a combining accent) is then stored, searched and printed
/// the same way.
pub fn normalized(value: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    value.trim().nfc().collect()
}

/// Trims and normalises a one-line text field and checks it is present, not longer than
/// `max` characters, and free of control and invisible format characters.
pub fn required_text(
    errors: &mut FieldErrors,
    field: &str,
    label: &str,
    value: &str,
    max: usize,
) -> String {
    let v = normalized(value);
    if v.is_empty() {
        errors.add(field, format!("请填写{label}"));
    } else {
        check_text(errors, field, label, &v, max, false);
    }
    v
}

/// Like [`required_text`] for multi-line text (line breaks and tabs allowed).
pub fn required_multiline(
    errors: &mut FieldErrors,
    field: &str,
    label: &str,
    value: &str,
    max: usize,
) -> String {
    let v = normalized(value);
    if v.is_empty() {
        errors.add(field, format!("请填写{label}"));
    } else {
        check_text(errors, field, label, &v, max, true);
    }
    v
}

/// Like [`required_multiline`] but empty is allowed.
pub fn optional_text(
    errors: &mut FieldErrors,
    field: &str,
    label: &str,
    value: &str,
    max: usize,
) -> String {
    let v = normalized(value);
    check_text(errors, field, label, &v, max, true);
    v
}

/// Like [`required_text`] but empty is allowed.
pub fn optional_line(
    errors: &mut FieldErrors,
    field: &str,
    label: &str,
    value: &str,
    max: usize,
) -> String {
    let v = normalized(value);
    check_text(errors, field, label, &v, max, false);
    v
}

fn check_text(
    errors: &mut FieldErrors,
    field: &str,
    label: &str,
    v: &str,
    max: usize,
    multiline: bool,
) {
    if v.chars().count() > max {
        errors.add(field, format!("{label}不能超过 {max} 个字"));
    } else if let Some(why) = hidden_characters(v, label, multiline) {
        errors.add(field, why);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(v: &str) -> Result<String, FieldErrors> {
        let mut e = FieldErrors::new();
        let out = required_text(&mut e, "name", "姓名", v, 50);
        e.into_result(|| out)
    }

    #[test]
    fn bidi_overrides_zero_width_and_control_characters_are_refused() {
        for bad in [
            "王\u{202E}某某",
            "王\u{2066}某\u{2069}",
            "王\u{200B}某",
            "王\u{200D}某",
            "王\u{2060}某",
            "\u{FEFF}王某",
            "王\u{0}某",
            "王\u{1B}某",
            "王\u{7F}某",
            "王\n某",
        ] {
            let e = line(bad).unwrap_err();
            assert!(e.get("name").is_some(), "{bad:?} was accepted");
        }
        // Line breaks are allowed only where the field is multi-line.
        let mut e = FieldErrors::new();
        optional_text(&mut e, "facts", "事实", "第一行\n第二行", 100);
        assert!(e.is_empty());
        optional_text(&mut e, "facts", "事实", "隐藏\u{202E}文字", 100);
        assert!(e.get("facts").unwrap().contains("格式字符"));
    }

    #[test]
    fn text_is_normalised_to_nfc_and_rare_characters_are_kept() {
        // "é" typed as e + combining acute becomes the precomposed character.
        assert_eq!(line("  Jose\u{301}  ").unwrap(), "Jos\u{E9}");
        // Characters beyond the BMP (CJK Extension B) are names, not format characters.
        assert_eq!(line("\u{20000}\u{2A6A5}").unwrap(), "\u{20000}\u{2A6A5}");
    }
}
