//! The kinds of 执法文书 zhifa produces, the fields a template may name, and the built-in
//! templates (`templates/*.toml`). An administrator changes the wording by placing a file
//! of the same name in the data directory's `templates/` (checked when loaded: an unknown
//! field is refused with its name); no rebuild.

use crate::template::{Template, TemplateError};

/// A kind of document: its code (the template's file name), its name, and the steps of the
/// procedures that produce it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocKind {
    pub code: &'static str,
    pub name: &'static str,
    /// (procedure, step) pairs where the document belongs.
    pub steps: &'static [(&'static str, &'static str)],
    builtin: &'static str,
}

pub const KINDS: &[DocKind] = &[
    DocKind {
        code: "filing-approval",
        name: "立案审批表",
        steps: &[("penalty-ordinary", "filing")],
        builtin: include_str!("../templates/filing-approval.toml"),
    },
    DocKind {
        code: "inspection-record",
        name: "现场检查笔录",
        steps: &[
            ("penalty-ordinary", "investigation"),
            ("inspection", "check"),
            ("seizure", "enforcement"),
        ],
        builtin: include_str!("../templates/inspection-record.toml"),
    },
    DocKind {
        code: "inquiry-record",
        name: "询问笔录",
        steps: &[("penalty-ordinary", "investigation")],
        builtin: include_str!("../templates/inquiry-record.toml"),
    },
    DocKind {
        code: "rectification-notice",
        name: "责令改正通知书",
        steps: &[
            ("inspection", "handling"),
            ("penalty-ordinary", "investigation"),
        ],
        builtin: include_str!("../templates/rectification-notice.toml"),
    },
    DocKind {
        code: "penalty-notice",
        name: "行政处罚事先告知书",
        steps: &[("penalty-ordinary", "notice")],
        builtin: include_str!("../templates/penalty-notice.toml"),
    },
    DocKind {
        code: "hearing-notice",
        name: "听证告知书",
        steps: &[("penalty-ordinary", "notice")],
        builtin: include_str!("../templates/hearing-notice.toml"),
    },
    DocKind {
        code: "penalty-decision",
        name: "行政处罚决定书",
        steps: &[("penalty-ordinary", "decision")],
        builtin: include_str!("../templates/penalty-decision.toml"),
    },
    DocKind {
        code: "on-site-decision",
        name: "当场处罚决定书",
        steps: &[("penalty-summary", "on_site_decision")],
        builtin: include_str!("../templates/on-site-decision.toml"),
    },
    DocKind {
        code: "service-receipt",
        name: "送达回证",
        steps: &[("penalty-ordinary", "service"), ("seizure", "delivery")],
        builtin: include_str!("../templates/service-receipt.toml"),
    },
    DocKind {
        code: "closing-approval",
        name: "结案审批表",
        steps: &[("penalty-ordinary", "closing")],
        builtin: include_str!("../templates/closing-approval.toml"),
    },
    DocKind {
        code: "seizure-decision",
        name: "查封扣押决定书",
        steps: &[("seizure", "delivery")],
        builtin: include_str!("../templates/seizure-decision.toml"),
    },
];

/// The text fields every template may name, filled from the case.
pub const TEXT_FIELDS: &[&str] = &[
    "机关名称",
    "案号",
    "案由",
    "立案日期",
    "文书日期",
    "当事人",
    "当事人类型",
    "证件号码",
    "住所",
    "执法事项",
    "违法事实",
    "证据",
    "法律依据",
    "依据条文",
    "裁量基准",
    "处罚内容",
    "罚款金额",
    "偏离裁量基准理由",
    "执法人员",
    "执法证号",
    "承办机构",
    "办理情况",
    "陈述申辩期限",
    "听证申请期限",
    "履行方式和期限",
    "救济途径",
    "查封扣押期限",
];

/// The lists a table may show.
pub const LIST_FIELDS: &[&str] = &["物品清单", "当事人清单", "办理经过", "文书清单"];

impl DocKind {
    pub fn find(code: &str) -> Option<&'static DocKind> {
        KINDS.iter().find(|k| k.code == code)
    }

    /// The kinds a step of a procedure produces.
    pub fn for_step(procedure: &str, step: &str) -> Vec<&'static DocKind> {
        KINDS
            .iter()
            .filter(|k| k.steps.iter().any(|(p, s)| *p == procedure && *s == step))
            .collect()
    }

    /// The built-in template (checked by the tests).
    pub fn builtin(&self) -> Result<Template, TemplateError> {
        Template::parse(self.code, self.builtin, TEXT_FIELDS, LIST_FIELDS)
    }

    /// The template in force: `dir/{code}.toml` when an administrator placed one there,
    /// the built-in one otherwise.
    pub fn template(&self, dir: Option<&std::path::Path>) -> Result<Template, TemplateError> {
        if let Some(dir) = dir {
            let path = dir.join(format!("{}.toml", self.code));
            if let Ok(text) = std::fs::read_to_string(&path) {
                return Template::parse(self.code, &text, TEXT_FIELDS, LIST_FIELDS);
            }
        }
        self.builtin()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_template_checks() {
        for k in KINDS {
            k.builtin().unwrap_or_else(|e| panic!("{}: {e}", k.code));
        }
        assert_eq!(KINDS.len(), 11);
    }

    #[test]
    fn an_administrators_template_overrides_and_is_checked() {
        let dir = std::env::temp_dir().join(format!("zhifa-docs-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let k = DocKind::find("penalty-decision").unwrap();
        std::fs::write(
            dir.join("penalty-decision.toml"),
            "title = \"{机关名称}\\n行政处罚决定书\"\n[[block]]\nkind = \"para\"\ntext = \"{当事人}，经查，{违法事实}。\"\n",
        )
        .unwrap();
        assert!(k.template(Some(&dir)).is_ok());
        std::fs::write(
            dir.join("penalty-decision.toml"),
            "title = \"行政处罚决定书\"\n[[block]]\nkind = \"para\"\ntext = \"{当事人姓名}\"\n",
        )
        .unwrap();
        let e = k.template(Some(&dir)).unwrap_err().to_string();
        assert!(e.contains("{当事人姓名}"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
