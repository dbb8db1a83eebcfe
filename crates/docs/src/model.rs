//! A 执法文书 as zhifa lays it out, independent of the file format: a title, the document
//! number, and blocks of text. The PDF and DOCX renderings are made from the same value.

use std::collections::BTreeMap;

/// The values a template may name: texts, and lists of rows for tables.
pub type Fields = BTreeMap<String, Value>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(String),
    Rows(Vec<Vec<String>>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// The title (the issuing agency's name on the first line, when the template puts it).
    pub title: String,
    pub subtitle: String,
    /// The document number (文号), right-aligned under the title.
    pub number: String,
    pub blocks: Vec<Block>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// A body paragraph, first line indented two characters.
    Para(String),
    /// A "label：value" line, not indented (当事人：…).
    Line(String),
    /// A bold line (a section of a form).
    Heading(String),
    /// Right-aligned (the issuing agency and date at the foot).
    Right(String),
    Table {
        columns: Vec<String>,
        rows: Vec<Vec<String>>,
    },
    /// Vertical space.
    Gap,
}
