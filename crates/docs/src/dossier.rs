//! The 卷宗 of a closed case as one ZIP: a cover (封面), the catalogue (卷内目录), the
//! issued documents in their legal order, the evidence list (证据清单) and the evidence
//! files, a plain-text note on how to verify, and the log proofs. This module lays out
//! the generated pages and writes the ZIP; which files go in, and the proofs, come from
//! the caller.

use crate::model::{Block, Document};
use std::io::Write;

/// What the cover shows.
#[derive(Debug, Clone, Default)]
pub struct Cover {
    pub agency: String,
    pub number: String,
    pub cause: String,
    pub procedure: String,
    pub department: String,
    pub parties: String,
    pub item: String,
    pub officers: String,
    pub opened_on: String,
    pub closed_on: String,
    pub archived_by: String,
    pub archived_on: String,
    /// How many files the archive holds (documents and evidence), for the cover's 件数.
    pub files: usize,
}

/// A line of the catalogue.
#[derive(Debug, Clone)]
pub struct CatalogueLine {
    pub name: String,
    pub date: String,
    pub path: String,
}

/// A line of the evidence list.
#[derive(Debug, Clone)]
pub struct EvidenceLine {
    pub kind: String,
    pub name: String,
    pub source: String,
    pub collected_on: String,
    pub collected_by: String,
    /// The file in the archive, or "" when the evidence has none (e.g. an object kept).
    pub path: String,
}

pub fn cover(c: &Cover) -> Document {
    let line = |label: &str, value: &str| Block::Line(format!("{label}：{value}"));
    Document {
        title: format!("{}\n行政执法案卷", c.agency),
        subtitle: String::new(),
        number: c.number.clone(),
        blocks: vec![
            Block::Gap,
            line("案由", &c.cause),
            line("程序", &c.procedure),
            line("当事人", &c.parties),
            line("执法事项", &c.item),
            line("承办部门", &c.department),
            line("承办人员", &c.officers),
            line("立案日期", &c.opened_on),
            line("结案日期", &c.closed_on),
            line("卷内文件", &format!("{} 件", c.files)),
            Block::Gap,
            line("立卷人", &c.archived_by),
            line("立卷日期", &c.archived_on),
            Block::Gap,
            Block::Para(
                "本卷宗由 zhifa 从执法记录生成。卷内文书和证据文件与机关执法记录（防篡改日志）中的哈希逐一对应，核验方法见卷内《核验说明》。".into(),
            ),
        ],
    }
}

pub fn catalogue(agency: &str, number: &str, lines: &[CatalogueLine]) -> Document {
    Document {
        title: format!("{agency}\n卷内目录"),
        subtitle: String::new(),
        number: number.to_owned(),
        blocks: vec![Block::Table {
            columns: vec![
                "序号".into(),
                "文件名称".into(),
                "日期".into(),
                "卷内文件".into(),
            ],
            rows: lines
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    vec![
                        (i + 1).to_string(),
                        l.name.clone(),
                        l.date.clone(),
                        l.path.clone(),
                    ]
                })
                .collect(),
        }],
    }
}

pub fn evidence_list(agency: &str, number: &str, lines: &[EvidenceLine]) -> Document {
    let mut blocks = vec![Block::Para(
        "证据种类依《中华人民共和国行政处罚法》第四十六条。附有文件的证据，其文件在卷宗“证据”目录中，哈希记入执法记录。".into(),
    )];
    if lines.is_empty() {
        blocks.push(Block::Line("本案未登记证据。".into()));
    } else {
        blocks.push(Block::Table {
            columns: vec![
                "序号".into(),
                "种类".into(),
                "证据名称".into(),
                "来源".into(),
                "收集日期".into(),
                "收集人".into(),
                "文件".into(),
            ],
            rows: lines
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    vec![
                        (i + 1).to_string(),
                        l.kind.clone(),
                        l.name.clone(),
                        l.source.clone(),
                        l.collected_on.clone(),
                        l.collected_by.clone(),
                        if l.path.is_empty() {
                            "—".into()
                        } else {
                            l.path.clone()
                        },
                    ]
                })
                .collect(),
        });
    }
    Document {
        title: format!("{agency}\n证据清单"),
        subtitle: String::new(),
        number: number.to_owned(),
        blocks,
    }
}

/// The plain-text note on how to verify the archive.
pub fn readme(number: &str, origin: &str, keys: &[String], proofs_path: &str) -> String {
    format!(
        "{number} 卷宗核验说明\r\n\
         \r\n\
         本卷宗中的每一份文书和每一个证据文件，都在出具或登记时把 SHA-256 哈希写入了\r\n\
         本机关的执法记录（防篡改日志 {origin}）。{proofs_path} 载有本案的全部记录条目、\r\n\
         它们在日志中的包含证明和签名树头。\r\n\
         \r\n\
         核验方法：\r\n\
         1. 用 zhifa 命令行：zhifa verify --archive 本文件.zip --trusted-key \"<公钥>\"\r\n\
            公钥请从本机关门户的“记录核验”页或 /log/<机关>/key 获取，不要只信卷宗自带的公钥。\r\n\
         2. 或按 {proofs_path} 的格式说明（zhifa-entry-proofs/1）自行计算：\r\n\
            文件的 SHA-256 应等于所绑定条目记录中的哈希；记录内容加盐的哈希应等于条目中的承诺；\r\n\
            条目的叶子哈希经包含证明应得到签名树头中的根哈希（RFC 9162）。\r\n\
         \r\n\
         封面、卷内目录、证据清单和本说明在导出时生成，内容取自上述记录。\r\n\
         \r\n\
         本卷宗自带的公钥：\r\n{}\r\n",
        keys.iter()
            .map(|k| format!("  {k}"))
            .collect::<Vec<_>>()
            .join("\r\n")
    )
}

/// Writes a ZIP one file at a time, so that a 卷宗 of many large evidence files is never
/// held in memory whole: `W` is a temporary file when serving one. Files keep the order
/// they are added in; all are dated `date` (the same files give the same bytes).
pub struct Packer<W: Write + std::io::Seek> {
    zip: zip::ZipWriter<W>,
    when: zip::DateTime,
}

impl<W: Write + std::io::Seek> Packer<W> {
    pub fn new(out: W, date: (i32, u8, u8)) -> Self {
        let (y, m, d) = date;
        Packer {
            zip: zip::ZipWriter::new(out),
            when: zip::DateTime::from_date_and_time(y.clamp(1980, 2107) as u16, m, d, 0, 0, 0)
                .unwrap_or_default(),
        }
    }

    pub fn add(&mut self, name: &str, bytes: &[u8]) -> Result<(), DossierError> {
        // PDFs and media are compressed already; text and JSON shrink well.
        let method = if name.ends_with(".json") || name.ends_with(".txt") {
            zip::CompressionMethod::Deflated
        } else {
            zip::CompressionMethod::Stored
        };
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(method)
            .last_modified_time(self.when);
        self.zip.start_file(name, options).map_err(error)?;
        self.zip.write_all(bytes).map_err(error)
    }

    /// Writes the central directory; returns the output.
    pub fn finish(self) -> Result<W, DossierError> {
        self.zip.finish().map_err(error)
    }
}

fn error(e: impl std::fmt::Display) -> DossierError {
    DossierError(e.to_string())
}

#[derive(Debug, thiserror::Error)]
#[error("卷宗打包失败：{0}")]
pub struct DossierError(String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_zip_holds_the_files_in_order_under_their_chinese_names() {
        let files = vec![
            ("00-封面.pdf".to_owned(), b"%PDF cover".to_vec()),
            ("文书/01-立案审批表.pdf".to_owned(), b"%PDF a".to_vec()),
            ("核验说明.txt".to_owned(), "说明".as_bytes().to_vec()),
        ];
        let pack = || {
            let mut p = Packer::new(std::io::Cursor::new(Vec::new()), (2026, 11, 30));
            for (name, bytes) in &files {
                p.add(name, bytes).unwrap();
            }
            p.finish().unwrap().into_inner()
        };
        let bytes = pack();
        assert_eq!(bytes, pack(), "deterministic");
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        let names: Vec<String> = (0..archive.len())
            .map(|i| archive.by_index(i).unwrap().name().unwrap().to_string())
            .collect();
        assert_eq!(
            names,
            ["00-封面.pdf", "文书/01-立案审批表.pdf", "核验说明.txt"]
        );
    }

    #[test]
    fn the_generated_pages_carry_the_case() {
        let c = cover(&Cover {
            agency: "朱堂乡人民政府".into(),
            number: "朱堂综执罚〔2026〕3号".into(),
            cause: "露天焚烧秸秆".into(),
            files: 9,
            ..Cover::default()
        });
        assert!(c.title.contains("行政执法案卷"));
        assert!(c.blocks.contains(&Block::Line("卷内文件：9 件".into())));
        let e = evidence_list("朱堂乡人民政府", "", &[]);
        assert!(e.blocks.contains(&Block::Line("本案未登记证据。".into())));
    }
}
