//! 执法文书: the templates (`templates/*.toml`, or an administrator's copy in the data
//! directory), the document model they fill, and its two renderings — PDF through typst
//! (A4, GB/T 9704 margins, 公文 fonts when the system has them) and DOCX (WordprocessingML
//! written directly). The same inputs give byte-identical files: no clock, no randomness.
//!
//! **Invariants:** no database, no HTTP; fields in, bytes out.

pub mod card;
pub mod docx;
pub mod dossier;
pub mod fonts;
pub mod kinds;
pub mod model;
pub mod pdf;
pub mod template;

pub use kinds::{DocKind, KINDS};
pub use model::{Block, Document, Fields, Value, rmb_upper};
pub use template::{Template, TemplateError};

/// SHA-256 of rendered bytes, as lowercase hex (what the case's ledger entry commits to).
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A decision as a case fills it (fictional party).
    pub(crate) fn sample_fields() -> Fields {
        let mut f = Fields::new();
        let mut t = |k: &str, v: &str| {
            f.insert(k.to_owned(), Value::Text(v.to_owned()));
        };
        t("机关名称", "朱堂乡人民政府");
        t("案号", "朱堂综执罚〔2026〕3号");
        t("案由", "在朱堂村北地块露天焚烧秸秆");
        t("立案日期", "2026年9月11日");
        t("文书日期", "2026年10月2日");
        t("当事人", "张某");
        t("当事人类型", "公民");
        t("证件号码", "411521198003150016");
        t("住所", "罗山县朱堂乡朱堂村");
        t(
            "违法事实",
            "当事人于2026年9月10日在其承包地内露天焚烧秸秆约两亩，产生烟尘污染。",
        );
        t("证据", "现场检查笔录、询问笔录、现场照片 6 张。");
        t("法律依据", "《中华人民共和国大气污染防治法》第七十七条");
        t(
            "依据条文",
            "《中华人民共和国大气污染防治法》第一百一十九条第一款规定：……露天焚烧秸秆、落叶等产生烟尘污染的物质的，由县级以上地方人民政府确定的监督管理部门责令改正，并可以处五百元以上二千元以下的罚款。",
        );
        t("裁量基准", "焚烧面积较小，未造成明显污染（一般）");
        t("处罚内容", "责令改正，并处罚款");
        t("罚款金额", "罚款人民币 800 元（大写：捌佰元整）。");
        t(
            "履行方式和期限",
            "自收到本决定书之日起十五日内，到指定银行缴纳罚款。到期不缴纳罚款的，每日按罚款数额的百分之三加处罚款。",
        );
        t(
            "救济途径",
            "如不服本处罚决定，可以在收到本决定书之日起六十日内向罗山县人民政府申请行政复议，或者在六个月内向罗山县人民法院提起行政诉讼。",
        );
        t(
            "办理情况",
            "当事人在规定期限内未提出陈述、申辩，未要求听证。",
        );
        f
    }

    #[test]
    fn a_decision_renders_to_identical_pdfs_and_a_docx() {
        let k = DocKind::find("penalty-decision").unwrap();
        let doc = k.builtin().unwrap().fill(&sample_fields());
        let a = pdf::render(&doc, (2026, 10, 2)).unwrap();
        let b = pdf::render(&doc, (2026, 10, 2)).unwrap();
        assert!(a.starts_with(b"%PDF-"));
        assert_eq!(
            sha256_hex(&a),
            sha256_hex(&b),
            "the same inputs give the same bytes"
        );
        let docx = docx::render(&doc).unwrap();
        assert!(docx.starts_with(b"PK"));
        assert_eq!(docx, docx::render(&doc).unwrap());
        let xml = docx::document_xml(&doc);
        assert!(xml.contains("朱堂综执罚〔2026〕3号") && xml.contains("仿宋_GB2312"));
        // For a look: target/documents/.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/documents");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("penalty-decision.pdf"), &a).unwrap();
        std::fs::write(dir.join("penalty-decision.docx"), &docx).unwrap();
    }

    #[test]
    fn text_that_looks_like_markup_is_printed_as_typed() {
        let mut f = sample_fields();
        f.insert(
            "违法事实".into(),
            Value::Text(
                "#set page(width: 1cm) *粗体* $x$ \"引号\" \\反斜杠 <标签> @引用 [括号]".into(),
            ),
        );
        let doc = DocKind::find("penalty-decision")
            .unwrap()
            .builtin()
            .unwrap()
            .fill(&f);
        let m = pdf::markup(&doc, (2026, 10, 2));
        assert!(m.contains(
            r#"#"经查明：#set page(width: 1cm) *粗体* $x$ \"引号\" \\反斜杠 <标签> @引用 [括号]""#
        ));
        assert!(pdf::render(&doc, (2026, 10, 2)).is_ok());
    }
}
