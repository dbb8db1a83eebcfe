//! DOCX: the document model as WordprocessingML, written directly (one `document.xml` in a
//! ZIP with fixed timestamps, so the same document gives the same bytes). Same page and
//! type as the PDF: A4, GB/T 9704 margins, title 二号, body 三号 仿宋 (with the OFL Noto
//! faces named as the alternative for machines without the 公文 fonts).

use crate::model::{Block, Document};
use std::io::Write;

#[derive(Debug, thiserror::Error)]
#[error("生成 DOCX 失败：{0}")]
pub struct DocxError(String);

const CONTENT_TYPES: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"#;

const RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>"#;

fn esc(s: &str) -> String {
    s.chars()
        // XML 1.0 allows neither control characters (but the line break we turn into
        // <w:br/>) nor U+FFFE / U+FFFF.
        .filter(|c| (!c.is_control() || *c == '\n') && !matches!(*c, '\u{FFFE}' | '\u{FFFF}'))
        .collect::<String>()
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[derive(Clone, Copy)]
enum Face {
    Title,
    Body,
    Head,
}

/// One run of text (line breaks kept) in a face and size (half-points).
fn run(text: &str, face: Face, half_points: u32, bold: bool) -> String {
    let (latin, east) = match face {
        Face::Title => ("FZXiaoBiaoSong-B05S", "方正小标宋简体"),
        Face::Body => ("FangSong_GB2312", "仿宋_GB2312"),
        Face::Head => ("SimHei", "黑体"),
    };
    let props = format!(
        r#"<w:rPr><w:rFonts w:ascii="{latin}" w:hAnsi="{latin}" w:eastAsia="{east}" w:cs="{latin}"/>{}<w:sz w:val="{half_points}"/><w:szCs w:val="{half_points}"/></w:rPr>"#,
        if bold { "<w:b/>" } else { "" }
    );
    text.split('\n')
        .enumerate()
        .map(|(i, line)| {
            let br = if i > 0 { "<w:br/>" } else { "" };
            format!(
                r#"<w:r>{props}{br}<w:t xml:space="preserve">{}</w:t></w:r>"#,
                esc(line)
            )
        })
        .collect()
}

fn para(props: &str, runs: String) -> String {
    format!(
        r#"<w:p><w:pPr><w:spacing w:line="578" w:lineRule="exact" w:after="0"/>{props}</w:pPr>{runs}</w:p>"#
    )
}

fn table(columns: &[String], rows: &[Vec<String>]) -> String {
    let cell = |t: &str, head: bool| {
        format!(
            r#"<w:tc><w:p><w:pPr><w:jc w:val="center"/></w:pPr>{}</w:p></w:tc>"#,
            run(t, if head { Face::Head } else { Face::Body }, 24, false)
        )
    };
    let border = r#"w:val="single" w:sz="4" w:space="0" w:color="000000""#;
    let mut out = format!(
        r#"<w:tbl><w:tblPr><w:tblW w:w="5000" w:type="pct"/><w:tblBorders><w:top {border}/><w:left {border}/><w:bottom {border}/><w:right {border}/><w:insideH {border}/><w:insideV {border}/></w:tblBorders></w:tblPr>"#
    );
    out.push_str("<w:tr>");
    for c in columns {
        out.push_str(&cell(c, true));
    }
    out.push_str("</w:tr>");
    for r in rows {
        out.push_str("<w:tr>");
        for i in 0..columns.len() {
            out.push_str(&cell(r.get(i).map(String::as_str).unwrap_or(""), false));
        }
        out.push_str("</w:tr>");
    }
    out.push_str("</w:tbl>");
    out
}

/// The `word/document.xml` of a document.
pub fn document_xml(doc: &Document) -> String {
    let mut body = String::new();
    let lines: Vec<&str> = doc.title.split('\n').collect();
    for (i, line) in lines.iter().enumerate() {
        let size = if i == 0 && lines.len() > 1 { 36 } else { 44 };
        body.push_str(&para(
            r#"<w:jc w:val="center"/>"#,
            run(line, Face::Title, size, true),
        ));
    }
    if !doc.subtitle.is_empty() {
        body.push_str(&para(
            r#"<w:jc w:val="center"/>"#,
            run(&doc.subtitle, Face::Body, 32, false),
        ));
    }
    if !doc.number.is_empty() {
        body.push_str(&para(
            r#"<w:jc w:val="right"/>"#,
            run(&doc.number, Face::Body, 32, false),
        ));
    }
    for b in &doc.blocks {
        match b {
            Block::Para(t) => body.push_str(&para(
                r#"<w:ind w:firstLineChars="200" w:firstLine="640"/><w:jc w:val="both"/>"#,
                run(t, Face::Body, 32, false),
            )),
            Block::Line(t) => body.push_str(&para(
                r#"<w:ind w:left="640" w:hanging="640"/>"#,
                run(t, Face::Body, 32, false),
            )),
            Block::Heading(t) => body.push_str(&para("", run(t, Face::Head, 32, false))),
            Block::Right(t) => body.push_str(&para(
                r#"<w:jc w:val="right"/><w:ind w:right="640"/>"#,
                run(t, Face::Body, 32, false),
            )),
            Block::Gap => body.push_str(&para("", String::new())),
            Block::Table { columns, rows } => body.push_str(&table(columns, rows)),
        }
    }
    // A4; margins of GB/T 9704 (37/35/28/26 mm) in twentieths of a point.
    format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>{body}<w:sectPr><w:pgSz w:w="11906" w:h="16838"/><w:pgMar w:top="2098" w:right="1474" w:bottom="1984" w:left="1588" w:header="851" w:footer="992" w:gutter="0"/></w:sectPr></w:body></w:document>"#
    )
}

/// The DOCX file of a document.
pub fn render(doc: &Document) -> Result<Vec<u8>, DocxError> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default());
    let e = |e: &dyn std::fmt::Display| DocxError(e.to_string());
    for (name, content) in [
        ("[Content_Types].xml", CONTENT_TYPES.to_owned()),
        ("_rels/.rels", RELS.to_owned()),
        ("word/document.xml", document_xml(doc)),
    ] {
        zip.start_file(name, options).map_err(|x| e(&x))?;
        zip.write_all(content.as_bytes()).map_err(|x| e(&x))?;
    }
    Ok(zip.finish().map_err(|x| e(&x))?.into_inner())
}
