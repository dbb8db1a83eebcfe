//! Templates of the 执法文书: TOML files (built in, or an administrator's copy in the data
//! directory that overrides one) whose text names the case's fields in braces —
//! `当事人：{当事人}`. A template is checked when loaded: a field the document kind does not
//! offer, an unknown block kind or a table over a list that does not exist is refused with
//! the template and the field named, so a typo never reaches a printed decision.

use crate::model::{Block, Document, Fields, Value};
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("文书模板 {template} 格式错误：{message}")]
    Syntax { template: String, message: String },
    #[error("文书模板 {template} 引用了不存在的字段 {{{field}}}（可用字段：{available}）")]
    UnknownField {
        template: String,
        field: String,
        available: String,
    },
    #[error("文书模板 {template} 的第 {index} 段：{message}")]
    Block {
        template: String,
        index: usize,
        message: String,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTemplate {
    title: String,
    #[serde(default)]
    subtitle: String,
    #[serde(default)]
    number: String,
    #[serde(default, rename = "block")]
    blocks: Vec<RawBlock>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBlock {
    kind: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    columns: Vec<String>,
    #[serde(default)]
    rows: String,
}

/// A checked template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub code: String,
    title: String,
    subtitle: String,
    number: String,
    blocks: Vec<RawBlockChecked>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum RawBlockChecked {
    Para(String),
    Line(String),
    Heading(String),
    Right(String),
    Table { columns: Vec<String>, rows: String },
    Gap,
}

/// The `{name}` references of a text, in order (`{{` and `}}` are literal braces).
fn references(text: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
            }
            '{' => {
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some('{') | None => return Err("花括号不成对".into()),
                        Some(c) => name.push(c),
                    }
                }
                if name.trim().is_empty() {
                    return Err("空的字段名 {}".into());
                }
                out.push(name.trim().to_owned());
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
            }
            '}' => return Err("花括号不成对".into()),
            _ => {}
        }
    }
    Ok(out)
}

/// `text` with each `{name}` replaced by its text value.
fn fill(text: &str, fields: &Fields) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '{' => {
                let mut name = String::new();
                for c in chars.by_ref() {
                    if c == '}' {
                        break;
                    }
                    name.push(c);
                }
                if let Some(Value::Text(v)) = fields.get(name.trim()) {
                    out.push_str(v);
                }
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            c => out.push(c),
        }
    }
    out
}

impl Template {
    /// Parses and checks a template against the fields its document kind offers
    /// (`text_fields` for `{…}` in text, `list_fields` for tables).
    pub fn parse(
        code: &str,
        text: &str,
        text_fields: &[&str],
        list_fields: &[&str],
    ) -> Result<Template, TemplateError> {
        let raw: RawTemplate = toml::from_str(text).map_err(|e| TemplateError::Syntax {
            template: code.to_owned(),
            message: e.to_string(),
        })?;
        let check = |t: &str| -> Result<(), TemplateError> {
            let refs = references(t).map_err(|message| TemplateError::Syntax {
                template: code.to_owned(),
                message: format!("“{t}”：{message}"),
            })?;
            for r in refs {
                if !text_fields.contains(&r.as_str()) {
                    return Err(TemplateError::UnknownField {
                        template: code.to_owned(),
                        field: r,
                        available: text_fields.join("、"),
                    });
                }
            }
            Ok(())
        };
        check(&raw.title)?;
        check(&raw.subtitle)?;
        check(&raw.number)?;
        let mut blocks = Vec::new();
        for (i, b) in raw.blocks.iter().enumerate() {
            let fail = |message: String| TemplateError::Block {
                template: code.to_owned(),
                index: i + 1,
                message,
            };
            check(&b.text)?;
            let block = match b.kind.as_str() {
                "para" => RawBlockChecked::Para(b.text.clone()),
                "line" => RawBlockChecked::Line(b.text.clone()),
                "heading" => RawBlockChecked::Heading(b.text.clone()),
                "right" => RawBlockChecked::Right(b.text.clone()),
                "gap" => RawBlockChecked::Gap,
                "table" => {
                    if !list_fields.contains(&b.rows.as_str()) {
                        return Err(TemplateError::UnknownField {
                            template: code.to_owned(),
                            field: b.rows.clone(),
                            available: list_fields.join("、"),
                        });
                    }
                    if b.columns.is_empty() {
                        return Err(fail("表格须列出表头 columns".into()));
                    }
                    RawBlockChecked::Table {
                        columns: b.columns.clone(),
                        rows: b.rows.clone(),
                    }
                }
                other => {
                    return Err(fail(format!(
                        "未知的段落类型 {other}（可用：para、line、heading、right、table、gap）"
                    )));
                }
            };
            blocks.push(block);
        }
        Ok(Template {
            code: code.to_owned(),
            title: raw.title,
            subtitle: raw.subtitle,
            number: raw.number,
            blocks,
        })
    }

    /// The document this template makes from `fields`. A paragraph whose every field is
    /// empty is left out (an optional element, e.g. no 从轻 circumstances).
    pub fn fill(&self, fields: &Fields) -> Document {
        let text = |t: &str| fill(t, fields);
        let empty_refs = |t: &str| {
            let refs = references(t).unwrap_or_default();
            !refs.is_empty()
                && refs.iter().all(|r| match fields.get(r) {
                    Some(Value::Text(v)) => v.trim().is_empty(),
                    _ => true,
                })
        };
        let mut blocks = Vec::new();
        for b in &self.blocks {
            match b {
                RawBlockChecked::Para(t) if !empty_refs(t) => blocks.push(Block::Para(text(t))),
                RawBlockChecked::Line(t) if !empty_refs(t) => blocks.push(Block::Line(text(t))),
                RawBlockChecked::Heading(t) => blocks.push(Block::Heading(text(t))),
                RawBlockChecked::Right(t) => blocks.push(Block::Right(text(t))),
                RawBlockChecked::Gap => blocks.push(Block::Gap),
                RawBlockChecked::Table { columns, rows } => {
                    let rows = match fields.get(rows) {
                        Some(Value::Rows(r)) => r.clone(),
                        _ => vec![],
                    };
                    blocks.push(Block::Table {
                        columns: columns.clone(),
                        rows,
                    });
                }
                _ => {}
            }
        }
        Document {
            title: text(&self.title),
            subtitle: text(&self.subtitle),
            number: text(&self.number),
            blocks,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_and_broken_braces_are_refused_with_their_names() {
        let ok = "title = \"决定书\"\n[[block]]\nkind = \"para\"\ntext = \"当事人：{当事人}\"\n";
        assert!(Template::parse("t", ok, &["当事人"], &[]).is_ok());
        let e = Template::parse("t", &ok.replace("{当事人}", "{当世人}"), &["当事人"], &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("不存在的字段 {当世人}") && e.contains("可用字段：当事人"),
            "{e}"
        );
        let e = Template::parse("t", &ok.replace("{当事人}", "{当事人"), &["当事人"], &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("花括号不成对"), "{e}");
        let e = Template::parse("t", &ok.replace("para", "poem"), &["当事人"], &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("未知的段落类型 poem"), "{e}");
        let e = Template::parse("t", &format!("{ok}extra = 1\n"), &["当事人"], &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("格式错误"), "{e}");
    }

    #[test]
    fn filling_replaces_fields_and_drops_empty_optional_paragraphs() {
        let t = Template::parse(
            "t",
            "title = \"{机关}决定书\"\n[[block]]\nkind = \"para\"\ntext = \"当事人：{当事人}，{{原文}}\"\n[[block]]\nkind = \"para\"\ntext = \"从轻情节：{从轻}\"\n",
            &["机关", "当事人", "从轻"],
            &[],
        )
        .unwrap();
        let mut f = Fields::new();
        f.insert("机关".into(), Value::Text("朱堂乡人民政府".into()));
        f.insert("当事人".into(), Value::Text("张某".into()));
        f.insert("从轻".into(), Value::Text(String::new()));
        let d = t.fill(&f);
        assert_eq!(d.title, "朱堂乡人民政府决定书");
        assert_eq!(d.blocks, vec![Block::Para("当事人：张某，{原文}".into())]);
    }
}
