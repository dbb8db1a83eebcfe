//! PDF through typst: the document model written as typst markup (every text as a string
//! literal, so nothing a user typed is read as markup), laid out on A4 with the margins
//! and type sizes of GB/T 9704 (党政机关公文格式): title in 二号 (22 pt), body in 三号 (16 pt),
//! 22 lines of 28 characters. The same document and date give byte-identical files.

use crate::fonts;
use crate::model::{Block, Document};
use typst::diag::{FileError, FileResult};
use typst::foundations::{Bytes, Datetime, Duration, Smart};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World};

/// The faces asked for, best first: the 公文 fonts, then the OFL Noto CJK faces, and last
/// the font zhifa ships (`fonts::SHIPPED_FAMILY`).
const TITLE_FONTS: &str = r#"("FZXiaoBiaoSong-B05S", "方正小标宋简体", "FZXiaoBiaoSong-B05", "SimHei", "黑体", "Noto Serif CJK SC", "Noto Sans CJK SC", "Noto Serif CJK SC GB2312")"#;
const BODY_FONTS: &str = r#"("FangSong_GB2312", "仿宋_GB2312", "FangSong", "仿宋", "STFangsong", "Noto Serif CJK SC", "Source Han Serif SC", "Noto Sans CJK SC", "Noto Serif CJK SC GB2312")"#;
const HEAD_FONTS: &str =
    r#"("SimHei", "黑体", "Noto Sans CJK SC", "Source Han Sans SC", "Noto Serif CJK SC GB2312")"#;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PdfError {
    #[error(
        "未找到可用的中文字体：请安装公文字体或 fonts-noto-cjk，或将字体文件放入 ZHIFA_FONT_DIR 指定的目录"
    )]
    NoFont,
    #[error("文书排版失败：{0}")]
    Layout(String),
}

/// A typst string literal of `s`.
pub(crate) fn lit(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\r' => {}
            '\t' => out.push(' '),
            c if c.is_control() && c != '\n' => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Text as content: lines joined by line breaks.
fn text(s: &str) -> String {
    s.split('\n')
        .map(|l| format!("#{}", lit(l)))
        .collect::<Vec<_>>()
        .join(" #linebreak() ")
}

/// The typst source of a document.
pub fn markup(doc: &Document, date: (i32, u8, u8)) -> String {
    let (y, m, d) = date;
    let mut s = format!(
        "#set document(title: {title}, date: datetime(year: {y}, month: {m}, day: {d}))\n\
         #set page(paper: \"a4\", margin: (top: 37mm, bottom: 35mm, left: 28mm, right: 26mm),\n\
           footer: context align(center, text(size: 14pt)[— #counter(page).display() —]))\n\
         #set text(font: {BODY_FONTS}, size: 16pt, lang: \"zh\", region: \"cn\")\n\
         #set par(justify: true, leading: 0.78em, spacing: 0.78em, first-line-indent: (amount: 2em, all: true))\n\
         #set table(stroke: 0.5pt)\n",
        title = lit(&doc.title.replace('\n', "")),
    );
    for (i, line) in doc.title.split('\n').enumerate() {
        let size = if i == 0 && doc.title.contains('\n') {
            "18pt"
        } else {
            "22pt"
        };
        s.push_str(&format!(
            "#align(center, text(font: {TITLE_FONTS}, size: {size}, weight: \"bold\")[{}])\n",
            text(line)
        ));
    }
    if !doc.subtitle.is_empty() {
        s.push_str(&format!("#align(center)[{}]\n", text(&doc.subtitle)));
    }
    if !doc.number.is_empty() {
        s.push_str(&format!(
            "#v(0.3em)\n#align(right)[{}]\n#v(0.6em)\n",
            text(&doc.number)
        ));
    }
    for b in &doc.blocks {
        match b {
            Block::Para(t) => s.push_str(&format!("#par[{}]\n", text(t))),
            Block::Line(t) => s.push_str(&format!(
                "#par(first-line-indent: 0em, hanging-indent: 2em, justify: false)[{}]\n",
                text(t)
            )),
            Block::Heading(t) => s.push_str(&format!(
                "#par(first-line-indent: 0em)[#text(font: {HEAD_FONTS})[{}]]\n",
                text(t)
            )),
            Block::Right(t) => s.push_str(&format!(
                "#align(right, block(inset: (right: 2em))[{}])\n",
                text(t)
            )),
            Block::Gap => s.push_str("#v(1.2em)\n"),
            Block::Table { columns, rows } => {
                let mut cells = Vec::new();
                for c in columns {
                    cells.push(format!("text(font: {HEAD_FONTS})[{}]", text(c)));
                }
                for r in rows {
                    for i in 0..columns.len() {
                        cells.push(format!(
                            "[{}]",
                            text(r.get(i).map(String::as_str).unwrap_or(""))
                        ));
                    }
                }
                s.push_str(&format!(
                    "#block(width: 100%)[#set text(size: 12pt)\n#set par(first-line-indent: 0em, justify: false)\n#table(columns: {}, align: center + horizon, inset: 5pt, {})]\n",
                    columns.len(),
                    cells.join(", ")
                ));
            }
        }
    }
    s
}

struct DocWorld {
    library: LazyHash<Library>,
    book: &'static LazyHash<FontBook>,
    fonts: &'static [Font],
    main: Source,
    today: Option<Datetime>,
}

impl World for DocWorld {
    fn library(&self) -> &LazyHash<Library> {
        &self.library
    }
    fn book(&self) -> &LazyHash<FontBook> {
        self.book
    }
    fn main(&self) -> FileId {
        self.main.id()
    }
    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == self.main.id() {
            Ok(self.main.clone())
        } else {
            Err(FileError::AccessDenied)
        }
    }
    fn file(&self, _: FileId) -> FileResult<Bytes> {
        Err(FileError::AccessDenied)
    }
    fn font(&self, i: usize) -> Option<Font> {
        self.fonts.get(i).cloned()
    }
    fn today(&self, _: Option<Duration>) -> Option<Datetime> {
        self.today
    }
}

/// Renders a document dated `date` to PDF.
pub fn render(doc: &Document, date: (i32, u8, u8)) -> Result<Vec<u8>, PdfError> {
    let ident = if doc.number.is_empty() {
        doc.title.clone()
    } else {
        doc.number.clone()
    };
    let paged = layout(markup(doc, date), date)?;
    export(&paged, &ident, date)
}

/// Lays out typst markup (zhifa's own, with every user text a string literal).
pub(crate) fn layout(
    markup: String,
    date: (i32, u8, u8),
) -> Result<typst_layout::PagedDocument, PdfError> {
    let set = fonts::get();
    if !set.book.families().any(|(name, _)| {
        name.contains("CJK")
            || name.contains("仿宋")
            || name.contains("Song")
            || name.contains("Hei")
    }) {
        return Err(PdfError::NoFont);
    }
    let id = RootedPath::new(
        VirtualRoot::Project,
        VirtualPath::new("main.typ").map_err(|e| PdfError::Layout(format!("{e:?}")))?,
    )
    .intern();
    let (y, m, d) = date;
    let today = Datetime::from_ymd(y, m, d);
    let world = DocWorld {
        library: LazyHash::new(Library::default()),
        book: &set.book,
        fonts: &set.fonts,
        main: Source::new(id, markup),
        today,
    };
    let compiled = typst::compile::<typst_layout::PagedDocument>(&world).output;
    // typst memoizes layout work across calls; in a long-running server, forget what was
    // not reused in the last few renders so memory stays bounded.
    typst::comemo::evict(10);
    compiled.map_err(|errors| {
        PdfError::Layout(
            errors
                .iter()
                .map(|e| e.message.to_string())
                .collect::<Vec<_>>()
                .join("；"),
        )
    })
}

/// A laid-out document as PDF, identified by `ident` and dated `date` (no clock read).
pub(crate) fn export(
    paged: &typst_layout::PagedDocument,
    ident: &str,
    date: (i32, u8, u8),
) -> Result<Vec<u8>, PdfError> {
    let (y, m, d) = date;
    typst_pdf::pdf(
        paged,
        &typst_pdf::PdfOptions {
            ident: Smart::Custom(ident.to_owned()),
            timestamp: Datetime::from_ymd_hms(y, m, d, 0, 0, 0).map(typst_pdf::Timestamp::new_utc),
            ..Default::default()
        },
    )
    .map_err(|errors| {
        PdfError::Layout(
            errors
                .iter()
                .map(|e| e.message.to_string())
                .collect::<Vec<_>>()
                .join("；"),
        )
    })
}
