//! The other published lists of the plan's 公示 section, each a table whose columns are
//! declared here once — the forms, the portal table, the open data and the spreadsheet
//! all follow the same declaration:
//! - 随机抽查事项清单 (双随机、一公开: who checks what, on what basis, how, how many, how often);
//! - 重大执法决定法制审核目录清单 (which decisions are major: each row a configurable rule,
//!   read by [`major_reasons`] — 行政处罚法 第五十八条);
//! - 音像记录事项清单 (which steps are recorded on audio/video, and how — 国办发〔2018〕118号).

use crate::catalog::ItemCategory;
use crate::validation::{
    FieldErrors, optional_line, optional_text, required_multiline, required_text,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The kind of a column's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// One line of text.
    Text,
    /// Several lines.
    Multiline,
    /// A percentage, 0–100 (decimals allowed).
    Percent,
    /// Whole yuan (or empty).
    Yuan,
    /// One of the listed codes (shown by label).
    Choice(&'static [(&'static str, &'static str)]),
}

/// One column of a list.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub key: &'static str,
    pub label: &'static str,
    pub kind: FieldKind,
    pub required: bool,
    pub hint: &'static str,
}

const fn f(
    key: &'static str,
    label: &'static str,
    kind: FieldKind,
    required: bool,
    hint: &'static str,
) -> Field {
    Field {
        key,
        label,
        kind,
        required,
        hint,
    }
}

/// What a 法制审核 rule looks at.
pub const RULE_KINDS: &[(&str, &str)] = &[
    ("fine", "罚款数额较大"),
    ("confiscation", "没收违法所得或者非法财物价值较大"),
    ("revocation", "吊销许可证件、降低资质等级"),
    ("closure", "责令停产停业、责令关闭、限制从业"),
    ("demolition", "强制拆除建筑物、构筑物"),
    ("hearing", "经过听证程序"),
    ("complex", "案件情况疑难复杂、涉及多个法律关系"),
    ("public_interest", "涉及重大公共利益"),
    ("other", "法律、法规规定应当法制审核的其他情形"),
];

/// Which decisions a rule applies to: a category of the 执法事项清单, or all.
pub const RULE_SCOPES: &[(&str, &str)] = &[
    ("all", "全部执法决定"),
    ("penalty", "行政处罚"),
    ("licensing", "行政许可"),
    ("coercion", "行政强制"),
    ("levy", "行政征收"),
    ("adjudication", "行政裁决"),
];

pub const RECORD_MODES: &[(&str, &str)] = &[
    ("full", "全过程音像记录"),
    ("key", "关键环节音像记录"),
    ("text", "文字记录为主，必要时音像记录"),
];

pub const CHECK_METHODS: &[(&str, &str)] = &[
    ("onsite", "现场检查"),
    ("documents", "书面检查"),
    ("online", "网络监测"),
    ("sampling", "抽样检测"),
];

/// The lists, with their columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListKind {
    SpotCheck,
    MajorReview,
    AvRecord,
}

impl ListKind {
    pub const ALL: [ListKind; 3] = [
        ListKind::SpotCheck,
        ListKind::MajorReview,
        ListKind::AvRecord,
    ];

    pub fn code(self) -> &'static str {
        match self {
            ListKind::SpotCheck => "spot-checks",
            ListKind::MajorReview => "major-review",
            ListKind::AvRecord => "av-records",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ListKind::SpotCheck => "随机抽查事项清单",
            ListKind::MajorReview => "重大执法决定法制审核目录清单",
            ListKind::AvRecord => "音像记录事项清单",
        }
    }

    pub fn about(self) -> &'static str {
        match self {
            ListKind::SpotCheck => {
                "依照“双随机、一公开”要求，随机抽取检查对象、随机选派执法检查人员，抽查情况及查处结果及时向社会公开。"
            }
            ListKind::MajorReview => {
                "符合下列任一情形的执法决定，在作出决定前必须经法制审核；未经法制审核或者审核未通过的，不得作出决定（《中华人民共和国行政处罚法》第五十八条）。"
            }
            ListKind::AvRecord => {
                "对查封扣押财产、强制拆除等直接涉及人身自由、生命健康、重大财产权益的现场执法活动和执法办案场所，推行全程音像记录（国办发〔2018〕118号）。"
            }
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }

    /// The columns after the entry's code.
    pub fn fields(self) -> &'static [Field] {
        match self {
            ListKind::SpotCheck => SPOT_CHECK_FIELDS,
            ListKind::MajorReview => MAJOR_REVIEW_FIELDS,
            ListKind::AvRecord => AV_RECORD_FIELDS,
        }
    }
}

use FieldKind::{Choice, Multiline, Percent, Text, Yuan};

const SPOT_CHECK_FIELDS: &[Field] = &[
    f(
        "item",
        "抽查事项",
        Text,
        true,
        "如：食品经营者落实食品安全主体责任情况的检查",
    ),
    f("subject", "抽查主体", Text, true, "执法主体及承办机构"),
    f("basis", "抽查依据", Multiline, true, "法律、法规、规章条款"),
    f("target", "抽查对象", Text, true, "如：辖区内食品经营者"),
    f("content", "抽查内容", Multiline, true, ""),
    f("method", "抽查方式", Choice(CHECK_METHODS), true, ""),
    f("ratio", "抽查比例（%）", Percent, true, "0–100"),
    f("frequency", "抽查频次", Text, true, "如：每年不少于 1 次"),
];

const MAJOR_REVIEW_FIELDS: &[Field] = &[
    f("rule", "情形", Choice(RULE_KINDS), true, ""),
    f("scope", "适用范围", Choice(RULE_SCOPES), true, ""),
    f(
        "person_yuan",
        "公民（元，以上）",
        Yuan,
        false,
        "金额类情形：对公民达到此数额",
    ),
    f(
        "org_yuan",
        "法人或其他组织（元，以上）",
        Yuan,
        false,
        "金额类情形：对法人或者其他组织达到此数额",
    ),
    f("description", "具体标准", Multiline, true, ""),
    f("basis", "依据", Multiline, true, ""),
];

const AV_RECORD_FIELDS: &[Field] = &[
    f("step", "执法环节", Text, true, "如：查封、扣押财物"),
    f("mode", "记录方式", Choice(RECORD_MODES), true, ""),
    f("place", "记录场所", Text, true, ""),
    f("device", "记录设备", Text, true, "如：执法记录仪"),
    f("span", "起止时点", Text, true, "从何时开始、到何时结束"),
    f("content", "记录内容", Multiline, true, ""),
    f("basis", "依据", Multiline, true, ""),
];

/// An entry as entered: its code and the values by column key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryInput {
    pub code: String,
    #[serde(flatten)]
    pub values: BTreeMap<String, String>,
}

/// A checked entry: normalised values by column key (empty optional values omitted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListEntry {
    pub code: String,
    pub values: BTreeMap<String, String>,
}

impl ListEntry {
    pub fn value(&self, key: &str) -> &str {
        self.values.get(key).map(String::as_str).unwrap_or_default()
    }

    /// The value as the public reads it (a choice by its label).
    pub fn display(&self, field: &Field) -> String {
        let v = self.value(field.key);
        match field.kind {
            FieldKind::Choice(choices) => choices
                .iter()
                .find(|(c, _)| *c == v)
                .map(|(_, l)| (*l).to_owned())
                .unwrap_or_else(|| v.to_owned()),
            FieldKind::Yuan if !v.is_empty() => match v.parse::<u64>() {
                Ok(n) => format!("{} 元", crate::catalog::group_thousands(n)),
                Err(_) => format!("{v} 元"),
            },
            FieldKind::Percent if !v.is_empty() => format!("{v}%"),
            _ => v.to_owned(),
        }
    }
}

/// Checks an entry against the list's columns; every problem at once.
pub fn parse_entry(kind: ListKind, input: &EntryInput) -> Result<ListEntry, FieldErrors> {
    let mut e = FieldErrors::new();
    let code = input.code.trim().to_owned();
    if code.is_empty()
        || code.chars().count() > 40
        || !code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        // "." and ".." would be path segments in the item's address.
        || !code.chars().any(|c| c.is_ascii_alphanumeric())
    {
        e.add("code", "编码应为 1–40 位字母、数字或 - _ .");
    }
    let mut values = BTreeMap::new();
    for field in kind.fields() {
        let raw = input
            .values
            .get(field.key)
            .map(String::as_str)
            .unwrap_or("");
        let value = match field.kind {
            FieldKind::Text if field.required => {
                required_text(&mut e, field.key, field.label, raw, 200)
            }
            FieldKind::Text => optional_line(&mut e, field.key, field.label, raw, 200),
            FieldKind::Multiline if field.required => {
                required_multiline(&mut e, field.key, field.label, raw, 2000)
            }
            FieldKind::Multiline => optional_text(&mut e, field.key, field.label, raw, 2000),
            FieldKind::Percent => {
                let t = raw.trim().trim_end_matches('%');
                match t.parse::<f64>() {
                    Ok(p) if (0.0..=100.0).contains(&p) => {
                        // 5, 5.5 — never 5.0000001.
                        let s = format!("{:.2}", p);
                        s.trim_end_matches('0').trim_end_matches('.').to_owned()
                    }
                    _ if t.is_empty() && !field.required => String::new(),
                    _ => {
                        e.add(field.key, format!("{}应为 0 到 100 之间的数", field.label));
                        String::new()
                    }
                }
            }
            FieldKind::Yuan => {
                let t = raw.trim().trim_end_matches('元').replace(',', "");
                if t.is_empty() {
                    String::new()
                } else {
                    match t.parse::<u64>() {
                        Ok(n) => n.to_string(),
                        Err(_) => {
                            e.add(field.key, format!("{}应为整数元", field.label));
                            String::new()
                        }
                    }
                }
            }
            FieldKind::Choice(choices) => {
                let t = raw.trim();
                match choices.iter().find(|(c, l)| *c == t || *l == t) {
                    Some((c, _)) => (*c).to_owned(),
                    None => {
                        let labels: Vec<&str> = choices.iter().map(|(_, l)| *l).collect();
                        e.add(
                            field.key,
                            format!("{}应为：{}", field.label, labels.join("、")),
                        );
                        String::new()
                    }
                }
            }
        };
        if !value.is_empty() {
            values.insert(field.key.to_owned(), value);
        }
    }
    // A 法制审核 rule about an amount needs at least one threshold.
    if kind == ListKind::MajorReview
        && matches!(
            values.get("rule").map(String::as_str),
            Some("fine" | "confiscation")
        )
        && !values.contains_key("person_yuan")
        && !values.contains_key("org_yuan")
    {
        e.add("person_yuan", "金额类情形请至少填写一个数额标准");
    }
    e.into_result(|| ListEntry { code, values })
}

/// Who a decision is addressed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PartyKind {
    Person,
    Organisation,
}

/// What the 法制审核 rules look at in a proposed decision.
#[derive(Debug, Clone, Default)]
pub struct DecisionFacts {
    pub category: Option<ItemCategory>,
    pub party: Option<PartyKind>,
    pub fine_yuan: u64,
    pub confiscation_yuan: u64,
    pub revocation: bool,
    pub closure: bool,
    pub demolition: bool,
    pub hearing_held: bool,
    pub complex: bool,
    pub public_interest: bool,
}

/// Why a decision is major: the rules of the agency's 法制审核目录清单 that it meets, each
/// as "code：情形（标准）". Empty when none applies. The list is data: an agency changes its
/// thresholds by editing its list, not the code.
pub fn major_reasons(rules: &[ListEntry], d: &DecisionFacts) -> Vec<String> {
    let mut out = Vec::new();
    for r in rules {
        let scope = r.value("scope");
        if scope != "all" && d.category.map(|c| c.code()) != Some(scope) {
            continue;
        }
        let threshold = |amount: u64| -> bool {
            let limit = match d.party {
                Some(PartyKind::Person) => r.value("person_yuan"),
                Some(PartyKind::Organisation) => r.value("org_yuan"),
                None => "",
            };
            limit.parse::<u64>().is_ok_and(|l| amount >= l)
        };
        let met = match r.value("rule") {
            "fine" => threshold(d.fine_yuan),
            "confiscation" => threshold(d.confiscation_yuan),
            "revocation" => d.revocation,
            "closure" => d.closure,
            "demolition" => d.demolition,
            "hearing" => d.hearing_held,
            "complex" => d.complex,
            "public_interest" => d.public_interest,
            _ => false,
        };
        if met {
            let label = RULE_KINDS
                .iter()
                .find(|(c, _)| *c == r.value("rule"))
                .map(|(_, l)| *l)
                .unwrap_or("其他");
            out.push(format!(
                "{}：{}（{}）",
                r.code,
                label,
                r.value("description")
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(code: &str, pairs: &[(&str, &str)]) -> EntryInput {
        EntryInput {
            code: code.into(),
            values: pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    fn fine_rule() -> ListEntry {
        parse_entry(
            ListKind::MajorReview,
            &input(
                "FS-01",
                &[
                    ("rule", "罚款数额较大"),
                    ("scope", "penalty"),
                    ("person_yuan", "5,000元"),
                    ("org_yuan", "50000"),
                    (
                        "description",
                        "对公民罚款 5000 元以上、对组织罚款 5 万元以上",
                    ),
                    (
                        "basis",
                        "《中华人民共和国行政处罚法》第五十八条第一款第（四）项",
                    ),
                ],
            ),
        )
        .unwrap()
    }

    #[test]
    fn choices_accept_code_or_label_and_amounts_are_normalised() {
        let r = fine_rule();
        assert_eq!(r.value("rule"), "fine");
        assert_eq!(r.value("person_yuan"), "5000");
        let spot = parse_entry(
            ListKind::SpotCheck,
            &input(
                "CC-01",
                &[
                    ("item", "食品经营检查"),
                    ("subject", "朱堂乡人民政府"),
                    ("basis", "食品安全法第一百一十条"),
                    ("target", "食品经营者"),
                    ("content", "许可证照、进货查验记录"),
                    ("method", "现场检查"),
                    ("ratio", "5.50%"),
                    ("frequency", "每年 1 次"),
                ],
            ),
        )
        .unwrap();
        assert_eq!(spot.value("ratio"), "5.5");
        assert_eq!(spot.display(&ListKind::SpotCheck.fields()[6]), "5.5%");
    }

    #[test]
    fn every_bad_field_is_named() {
        let e = parse_entry(
            ListKind::SpotCheck,
            &input("bad code", &[("method", "电话抽查"), ("ratio", "120")]),
        )
        .unwrap_err();
        for f in ["code", "item", "subject", "method", "ratio", "frequency"] {
            assert!(e.get(f).is_some(), "{f}: {e}");
        }
        let e = parse_entry(
            ListKind::MajorReview,
            &input(
                "FS-02",
                &[
                    ("rule", "fine"),
                    ("scope", "all"),
                    ("description", "x"),
                    ("basis", "y"),
                ],
            ),
        )
        .unwrap_err();
        assert!(e.get("person_yuan").is_some());
    }

    #[test]
    fn a_decision_is_major_by_the_lists_rules_not_by_the_code() {
        let hearing = parse_entry(
            ListKind::MajorReview,
            &input(
                "FS-05",
                &[
                    ("rule", "hearing"),
                    ("scope", "all"),
                    ("description", "经过听证程序"),
                    ("basis", "行政处罚法第五十八条第一款第（二）项"),
                ],
            ),
        )
        .unwrap();
        let rules = vec![fine_rule(), hearing];
        let person = |fine| DecisionFacts {
            category: Some(ItemCategory::Penalty),
            party: Some(PartyKind::Person),
            fine_yuan: fine,
            ..Default::default()
        };
        assert!(major_reasons(&rules, &person(4_999)).is_empty());
        assert_eq!(major_reasons(&rules, &person(5_000)).len(), 1);
        // The same amount against an organisation is below its threshold.
        let org = DecisionFacts {
            party: Some(PartyKind::Organisation),
            ..person(20_000)
        };
        assert!(major_reasons(&rules, &org).is_empty());
        // A fine rule scoped to 行政处罚 does not catch a 行政许可 decision.
        let licence = DecisionFacts {
            category: Some(ItemCategory::Licensing),
            ..person(9_000)
        };
        assert!(major_reasons(&rules, &licence).is_empty());
        let heard = DecisionFacts {
            hearing_held: true,
            ..person(100)
        };
        let reasons = major_reasons(&rules, &heard);
        assert_eq!(reasons.len(), 1);
        assert!(reasons[0].starts_with("FS-05：经过听证程序"));
    }
}
