//! Evidence of a case (证据): its kind as the law names them, what it is, where it came
//! from, when and by whom it was collected, and optionally the file that holds it (a
//! photo, a scan, a recording). A penalty may not rest on facts without evidence
//! (行政处罚法 第四十条), so the investigation of a penalty case needs at least one item.

use crate::validation::{
    FieldErrors, is_invisible_format, optional_line, required_multiline, required_text,
};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The kinds of evidence (行政处罚法 第四十六条第一款; 行政诉讼法 第三十三条).
pub const KINDS: &[(&str, &str)] = &[
    ("documentary", "书证"),
    ("physical", "物证"),
    ("audiovisual", "视听资料"),
    ("electronic", "电子数据"),
    ("witness", "证人证言"),
    ("party_statement", "当事人的陈述"),
    ("expert_opinion", "鉴定意见"),
    ("record", "勘验笔录、现场笔录"),
];

/// The label of a kind code ("书证"); the code itself when unknown.
pub fn kind_label(code: &str) -> &str {
    KINDS
        .iter()
        .find(|(k, _)| *k == code)
        .map(|(_, l)| *l)
        .unwrap_or(code)
}

/// The largest evidence file accepted: a phone photo or a short clip, not a whole
/// surveillance recording (those stay on the agency's recording system, cited by name).
pub const MAX_FILE_BYTES: usize = 20 * 1024 * 1024;

/// Evidence as entered.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct EvidenceInput {
    pub kind: String,
    pub name: String,
    /// 来源: how and where it was obtained.
    pub source: String,
    /// For a thing (物证): 规格 and 数量 (with its unit), for the 查封扣押 清单.
    pub spec: String,
    pub quantity: String,
    pub collected_on: String,
}

/// An attached file as uploaded.
#[derive(Debug, Clone)]
pub struct EvidenceFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// Checked evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvidence {
    pub kind: &'static str,
    pub name: String,
    pub source: String,
    pub spec: String,
    pub quantity: String,
    pub collected_on: NaiveDate,
    /// The file's name (as uploaded, cleaned) and its bytes.
    pub file: Option<(String, Vec<u8>)>,
}

impl NewEvidence {
    /// Every problem at once. `opened_on` and `today` bound the day of collection (evidence
    /// collected before the case opened — e.g. at the inspection that led to it — is
    /// allowed from the 30 days before; a day after today is not).
    pub fn parse(
        input: &EvidenceInput,
        file: Option<EvidenceFile>,
        opened_on: NaiveDate,
        today: NaiveDate,
    ) -> Result<NewEvidence, FieldErrors> {
        let mut e = FieldErrors::new();
        let kind = KINDS.iter().find(|(k, _)| *k == input.kind.trim());
        if kind.is_none() {
            e.add("kind", "请选择证据种类");
        }
        let name = required_text(&mut e, "name", "证据名称", &input.name, 100);
        let source = required_multiline(&mut e, "source", "证据来源", &input.source, 500);
        let spec = optional_line(&mut e, "spec", "规格", &input.spec, 50);
        let quantity = optional_line(&mut e, "quantity", "数量", &input.quantity, 50);
        let collected_on = match NaiveDate::parse_from_str(input.collected_on.trim(), "%Y-%m-%d") {
            Err(_) => {
                e.add("collected_on", "请填写收集日期（年-月-日）");
                None
            }
            Ok(d) if d > today => {
                e.add("collected_on", format!("收集日期 {d} 晚于今天"));
                None
            }
            Ok(d) if d < opened_on - chrono::Duration::days(30) => {
                e.add(
                    "collected_on",
                    format!("收集日期 {d} 早于立案日期 {opened_on} 三十日以上"),
                );
                None
            }
            Ok(d) => Some(d),
        };
        let file = match file {
            None => None,
            Some(f) if f.bytes.len() > MAX_FILE_BYTES => {
                e.add(
                    "file",
                    format!(
                        "文件过大（{:.1} MB），证据文件不能超过 {} MB",
                        f.bytes.len() as f64 / 1_048_576.0,
                        MAX_FILE_BYTES / 1_048_576
                    ),
                );
                None
            }
            // A right-to-left override would show "报告\u{202E}fdp.exe" as "报告exe.pdf".
            Some(f) if f.name.chars().any(is_invisible_format) => {
                e.add(
                    "file",
                    "文件名含有不可见的格式字符（如从右至左标记），请重命名文件后再上传",
                );
                None
            }
            // An empty file is a failed upload or a mistake, never "no file": no file is
            // `None`.
            Some(f) if f.bytes.is_empty() => {
                e.add(
                    "file",
                    format!(
                        "文件“{}”是空文件（0 字节），请重新选择文件",
                        clean_file_name(&f.name)
                    ),
                );
                None
            }
            Some(f) => Some((clean_file_name(&f.name), f.bytes)),
        };
        e.into_result(|| NewEvidence {
            kind: kind.expect("checked").0,
            name,
            source,
            spec,
            quantity,
            collected_on: collected_on.expect("checked"),
            file,
        })
    }
}

/// A file name safe to put in an archive and a download header: the last path component,
/// without control characters or separators, at most 80 characters; "证据文件" when
/// nothing is left.
pub fn clean_file_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | ':' | '*' | '?' | '<' | '>' | '|'))
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim();
    let mut out: String = cleaned.chars().rev().take(80).collect();
    out = out.chars().rev().collect();
    if out.is_empty() {
        "证据文件".into()
    } else {
        out
    }
}

/// Evidence as the archive's list shows it.
#[derive(Debug, Clone, Serialize)]
pub struct EvidenceLine {
    pub kind: String,
    pub name: String,
    pub source: String,
    pub collected_on: String,
    pub collected_by: String,
    pub file: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn input(kind: &str, on: &str) -> EvidenceInput {
        EvidenceInput {
            kind: kind.into(),
            name: "现场照片".into(),
            source: "执法人员在现场拍摄".into(),
            collected_on: on.into(),
            ..Default::default()
        }
    }

    #[test]
    fn good_evidence_is_taken_with_its_file() {
        let f = EvidenceFile {
            name: "C:\\Users\\x\\IMG_001.jpg".into(),
            bytes: vec![1, 2, 3],
        };
        let e = NewEvidence::parse(
            &input("audiovisual", "2026-03-02"),
            Some(f),
            day("2026-03-01"),
            day("2026-03-05"),
        )
        .unwrap();
        assert_eq!(e.kind, "audiovisual");
        assert_eq!(e.file.unwrap().0, "IMG_001.jpg");
    }

    #[test]
    fn an_empty_file_is_refused_by_its_name_not_dropped() {
        let f = EvidenceFile {
            name: "现场照片.jpg".into(),
            bytes: Vec::new(),
        };
        let err = NewEvidence::parse(
            &input("audiovisual", "2026-03-02"),
            Some(f),
            day("2026-03-01"),
            day("2026-03-05"),
        )
        .unwrap_err();
        let msg = err.get("file").unwrap();
        assert!(
            msg.contains("现场照片.jpg") && msg.contains("空文件"),
            "{msg}"
        );
    }

    #[test]
    fn a_file_name_that_would_show_another_extension_is_refused() {
        let f = EvidenceFile {
            name: "现场照片\u{202E}gpj.exe".into(),
            bytes: vec![1],
        };
        let err = NewEvidence::parse(
            &input("audiovisual", "2026-03-02"),
            Some(f),
            day("2026-03-01"),
            day("2026-03-05"),
        )
        .unwrap_err();
        assert!(err.get("file").unwrap().contains("格式字符"));
    }

    #[test]
    fn every_problem_is_named() {
        let err = NewEvidence::parse(
            &EvidenceInput {
                kind: "rumour".into(),
                name: " ".into(),
                source: String::new(),
                collected_on: "2026-03-09".into(),
                ..Default::default()
            },
            None,
            day("2026-03-01"),
            day("2026-03-05"),
        )
        .unwrap_err();
        let fields: Vec<_> = err.iter().map(|f| f.field.clone()).collect();
        for f in ["kind", "name", "source", "collected_on"] {
            assert!(fields.iter().any(|x| x == f), "{f} in {fields:?}");
        }
        let too_early = NewEvidence::parse(
            &input("physical", "2026-01-01"),
            None,
            day("2026-03-01"),
            day("2026-03-05"),
        );
        assert!(too_early.is_err());
    }

    #[test]
    fn file_names_cannot_escape_the_archive() {
        assert_eq!(clean_file_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_file_name("..\\a\\..\\.."), "证据文件");
        assert_eq!(clean_file_name("照片\u{0}1.jpg"), "照片1.jpg");
        assert_eq!(clean_file_name(""), "证据文件");
        assert_eq!(clean_file_name(&"长".repeat(200)).chars().count(), 80);
    }
}
