//! 执法事项清单: what an agency may enforce, on what legal basis, within which discretion
//! (裁量基准) and time limit. Each item is versioned by its effective date; the public sees
//! the version in effect and the history of changes.
//!
//! Legal basis is structured (law, article, paragraph, item) so that a citation can be
//! checked and linked, with the quoted text beside it. Fines are in whole yuan.

use crate::validation::{FieldErrors, optional_text, required_multiline, required_text};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The categories of the plan (行政许可 … 行政裁决) and 其他.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemCategory {
    Licensing,
    Penalty,
    Coercion,
    Levy,
    Charge,
    Inspection,
    Confirmation,
    Registration,
    Benefit,
    Adjudication,
    Other,
}

impl ItemCategory {
    pub const ALL: [ItemCategory; 11] = [
        ItemCategory::Licensing,
        ItemCategory::Penalty,
        ItemCategory::Coercion,
        ItemCategory::Levy,
        ItemCategory::Charge,
        ItemCategory::Inspection,
        ItemCategory::Confirmation,
        ItemCategory::Registration,
        ItemCategory::Benefit,
        ItemCategory::Adjudication,
        ItemCategory::Other,
    ];

    pub fn code(self) -> &'static str {
        match self {
            ItemCategory::Licensing => "licensing",
            ItemCategory::Penalty => "penalty",
            ItemCategory::Coercion => "coercion",
            ItemCategory::Levy => "levy",
            ItemCategory::Charge => "charge",
            ItemCategory::Inspection => "inspection",
            ItemCategory::Confirmation => "confirmation",
            ItemCategory::Registration => "registration",
            ItemCategory::Benefit => "benefit",
            ItemCategory::Adjudication => "adjudication",
            ItemCategory::Other => "other",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ItemCategory::Licensing => "行政许可",
            ItemCategory::Penalty => "行政处罚",
            ItemCategory::Coercion => "行政强制",
            ItemCategory::Levy => "行政征收",
            ItemCategory::Charge => "行政收费",
            ItemCategory::Inspection => "行政检查",
            ItemCategory::Confirmation => "行政确认",
            ItemCategory::Registration => "行政登记",
            ItemCategory::Benefit => "行政给付",
            ItemCategory::Adjudication => "行政裁决",
            ItemCategory::Other => "其他",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }

    /// Accepts the code or the Chinese name (import files use the name).
    pub fn parse(input: &str) -> Option<Self> {
        let s = input.trim();
        Self::ALL
            .into_iter()
            .find(|c| c.code() == s || c.label() == s)
    }
}

/// One cited provision: 《law》第 article 条[第 paragraph 款][第 item 项].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Citation {
    /// The law's full title without book-title marks, e.g. 中华人民共和国城乡规划法.
    pub law: String,
    pub article: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paragraph: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<u32>,
}

impl Citation {
    /// The citation as written in Chinese legal documents, with Chinese numerals.
    pub fn display(&self) -> String {
        let mut s = format!("《{}》第{}条", self.law, numeral(self.article));
        if let Some(p) = self.paragraph {
            s.push_str(&format!("第{}款", numeral(p)));
        }
        if let Some(i) = self.item {
            s.push_str(&format!("第（{}）项", numeral(i)));
        }
        s
    }

    /// Parses one line `法律名称|条|款|项` (款 and 项 may be empty).
    pub fn parse_line(line: &str) -> Result<Citation, String> {
        let parts: Vec<&str> = line.split('|').map(str::trim).collect();
        if parts.len() < 2 || parts.len() > 4 {
            return Err(format!(
                "依据“{line}”格式应为：法律名称|条|款|项（款、项可空）"
            ));
        }
        let law = parts[0].trim_start_matches('《').trim_end_matches('》');
        if law.is_empty() || law.chars().count() > 80 {
            return Err(format!("依据“{line}”缺少法律名称"));
        }
        let number = |s: &str, what: &str| -> Result<Option<u32>, String> {
            if s.is_empty() {
                return Ok(None);
            }
            match s.parse::<u32>() {
                Ok(n) if (1..=2000).contains(&n) => Ok(Some(n)),
                _ => Err(format!("依据“{line}”的{what}应为正整数")),
            }
        };
        let article = number(parts[1], "条")?.ok_or_else(|| format!("依据“{line}”缺少条"))?;
        let paragraph = number(parts.get(2).copied().unwrap_or(""), "款")?;
        let item = number(parts.get(3).copied().unwrap_or(""), "项")?;
        Ok(Citation {
            law: law.to_owned(),
            article,
            paragraph,
            item,
        })
    }

    /// The `法律名称|条|款|项` line form (what forms and import files hold).
    pub fn line(&self) -> String {
        let opt = |v: Option<u32>| v.map(|n| n.to_string()).unwrap_or_default();
        format!(
            "{}|{}|{}|{}",
            self.law,
            self.article,
            opt(self.paragraph),
            opt(self.item)
        )
        .trim_end_matches('|')
        .to_owned()
    }
}

/// Chinese numerals for article numbers (1–9999), as statutes print them.
pub fn numeral(n: u32) -> String {
    const DIGITS: [&str; 10] = ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九"];
    if n == 0 {
        return DIGITS[0].into();
    }
    if n >= 10_000 {
        // No statute has that many articles; shown as digits rather than guessed.
        return n.to_string();
    }
    let units = ["", "十", "百", "千"];
    let digits: Vec<usize> = n
        .to_string()
        .chars()
        .map(|c| c.to_digit(10).unwrap_or(0) as usize)
        .collect();
    let len = digits.len();
    let mut out = String::new();
    let mut zero = false;
    for (i, d) in digits.iter().enumerate() {
        let unit = units[len - 1 - i];
        if *d == 0 {
            zero = true;
            continue;
        }
        if zero && !out.is_empty() {
            out.push_str(DIGITS[0]);
        }
        zero = false;
        // 十 rather than 一十 at the front (第十条, 第十五条), as statutes write it.
        if !(*d == 1 && unit == "十" && out.is_empty()) {
            out.push_str(DIGITS[*d]);
        }
        out.push_str(unit);
    }
    out
}

/// The severity levels of a 裁量基准 table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// 轻微 (may lead to 不予处罚, 行政处罚法 art. 33)
    Minor,
    /// 一般
    Ordinary,
    /// 较重
    Serious,
    /// 严重
    Grave,
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::Minor,
        Severity::Ordinary,
        Severity::Serious,
        Severity::Grave,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Severity::Minor => "轻微",
            Severity::Ordinary => "一般",
            Severity::Serious => "较重",
            Severity::Grave => "严重",
        }
    }

    pub fn parse(input: &str) -> Option<Self> {
        let s = input.trim();
        Self::ALL.into_iter().find(|v| v.label() == s)
    }
}

/// One row of a 裁量基准: circumstance → level → what may be imposed (and a fine range).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscretionRow {
    pub circumstance: String,
    pub severity: Severity,
    /// What may be decided, e.g. 警告, 责令限期改正并处罚款, 不予处罚.
    pub measure: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fine_min: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fine_max: Option<u64>,
}

impl DiscretionRow {
    /// Parses `情形|等级|处理|最低罚款|最高罚款` (罚款 in yuan, both or neither).
    pub fn parse_line(line: &str) -> Result<DiscretionRow, String> {
        let parts: Vec<&str> = line.split('|').map(str::trim).collect();
        if parts.len() != 3 && parts.len() != 5 {
            return Err(format!(
                "裁量基准“{line}”格式应为：情形|等级|处理|最低罚款|最高罚款（罚款可省略）"
            ));
        }
        if parts[0].is_empty() || parts[0].chars().count() > 200 {
            return Err(format!("裁量基准“{line}”缺少违法情形或过长"));
        }
        let severity = Severity::parse(parts[1])
            .ok_or_else(|| format!("裁量基准“{line}”的等级应为 轻微、一般、较重 或 严重"))?;
        if parts[2].is_empty() || parts[2].chars().count() > 200 {
            return Err(format!("裁量基准“{line}”缺少处理措施或过长"));
        }
        let (fine_min, fine_max) =
            if parts.len() == 5 && !(parts[3].is_empty() && parts[4].is_empty()) {
                let yuan = |s: &str| {
                    s.trim_end_matches('元')
                        .replace(',', "")
                        .parse::<u64>()
                        .map_err(|_| format!("裁量基准“{line}”的罚款金额应为整数元"))
                };
                let (lo, hi) = (yuan(parts[3])?, yuan(parts[4])?);
                if lo > hi {
                    return Err(format!(
                        "裁量基准“{line}”的最低罚款 {lo} 元高于最高罚款 {hi} 元"
                    ));
                }
                (Some(lo), Some(hi))
            } else {
                (None, None)
            };
        Ok(DiscretionRow {
            circumstance: parts[0].to_owned(),
            severity,
            measure: parts[2].to_owned(),
            fine_min,
            fine_max,
        })
    }

    pub fn line(&self) -> String {
        match (self.fine_min, self.fine_max) {
            (Some(lo), Some(hi)) => format!(
                "{}|{}|{}|{lo}|{hi}",
                self.circumstance,
                self.severity.label(),
                self.measure
            ),
            _ => format!(
                "{}|{}|{}",
                self.circumstance,
                self.severity.label(),
                self.measure
            ),
        }
    }

    /// The fine range as shown, e.g. "1,000–5,000 元".
    pub fn fine_text(&self) -> String {
        match (self.fine_min, self.fine_max) {
            (Some(lo), Some(hi)) if lo == hi => format!("{} 元", group_thousands(lo)),
            (Some(lo), Some(hi)) => format!("{}–{} 元", group_thousands(lo), group_thousands(hi)),
            _ => String::new(),
        }
    }
}

/// 1234567 → "1,234,567" (amounts as Chinese official documents print them).
pub fn group_thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The unit of a time limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayUnit {
    /// 工作日 (the mainland working-day calendar)
    WorkingDays,
    /// 日 (calendar days)
    Days,
}

impl DayUnit {
    pub fn label(self) -> &'static str {
        match self {
            DayUnit::WorkingDays => "工作日",
            DayUnit::Days => "日",
        }
    }

    pub fn parse(input: &str) -> Option<Self> {
        match input.trim() {
            "工作日" | "working_days" => Some(DayUnit::WorkingDays),
            "日" | "天" | "自然日" | "days" => Some(DayUnit::Days),
            _ => None,
        }
    }
}

/// 办理时限: a number of days in a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeLimit {
    pub amount: u32,
    pub unit: DayUnit,
}

impl TimeLimit {
    pub fn display(&self) -> String {
        match self.unit {
            DayUnit::WorkingDays => format!("{} 个工作日", self.amount),
            DayUnit::Days => format!("{} 日", self.amount),
        }
    }
}

/// The content of one version of an item (everything but its identity and dates).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemContent {
    pub name: String,
    pub category: ItemCategory,
    pub basis: Vec<Citation>,
    /// The quoted provisions.
    pub basis_text: String,
    pub discretion: Vec<DiscretionRow>,
    /// The responsible department's name (承办机构).
    pub department: String,
    pub time_limit: Option<TimeLimit>,
    /// 救济渠道: how to seek review or sue.
    pub remedy: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ItemInput {
    pub code: String,
    pub name: String,
    pub category: String,
    /// One citation per line: 法律名称|条|款|项.
    pub basis: String,
    pub basis_text: String,
    /// One row per line: 情形|等级|处理|最低罚款|最高罚款.
    pub discretion: String,
    pub department: String,
    pub time_limit: String,
    pub time_unit: String,
    pub remedy: String,
    pub effective_from: String,
}

/// An item version as entered, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewItemVersion {
    /// The item's code in the agency's list, e.g. 330217001000.
    pub code: String,
    pub effective_from: NaiveDate,
    pub content: ItemContent,
}

/// The 救济渠道 most items share (行政复议法 2023 art. 20: 60 days; 行政诉讼法 art. 46:
/// six months), offered as the default text.
pub const DEFAULT_REMEDY: &str = "对行政行为不服的，可以自知道或者应当知道该行为之日起六十日内依法申请行政复议，或者自知道或者应当知道作出行政行为之日起六个月内依法向人民法院提起行政诉讼。";

impl NewItemVersion {
    pub fn parse(input: &ItemInput) -> Result<Self, FieldErrors> {
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
            e.add("code", "事项编码应为 1–40 位字母、数字或 - _ .");
        }
        let name = required_text(&mut e, "name", "事项名称", &input.name, 200);
        let category = ItemCategory::parse(&input.category);
        if category.is_none() {
            e.add(
                "category",
                "事项类别应为：行政许可、行政处罚、行政强制、行政征收、行政收费、行政检查、行政确认、行政登记、行政给付、行政裁决或其他",
            );
        }
        let mut basis = Vec::new();
        for line in input.basis.lines().map(str::trim).filter(|l| !l.is_empty()) {
            match Citation::parse_line(line) {
                Ok(c) => basis.push(c),
                Err(m) => e.add("basis", m),
            }
        }
        if basis.is_empty() && e.get("basis").is_none() {
            e.add("basis", "请填写至少一条法律依据（法律名称|条|款|项）");
        }
        let basis_text = optional_text(&mut e, "basis_text", "依据条文", &input.basis_text, 5000);
        let mut discretion = Vec::new();
        for line in input
            .discretion
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
        {
            match DiscretionRow::parse_line(line) {
                Ok(r) => discretion.push(r),
                Err(m) => e.add("discretion", m),
            }
        }
        let department = required_text(&mut e, "department", "承办机构", &input.department, 60);
        let time_limit = match (input.time_limit.trim(), input.time_unit.trim()) {
            ("", "") => None,
            (n, u) => {
                let unit = DayUnit::parse(u);
                if unit.is_none() {
                    e.add("time_unit", "办理时限的单位应为 工作日 或 日");
                }
                match n.parse::<u32>() {
                    Ok(a) if (1..=3650).contains(&a) => {
                        unit.map(|unit| TimeLimit { amount: a, unit })
                    }
                    _ => {
                        e.add("time_limit", "办理时限应为 1 以上的整数");
                        None
                    }
                }
            }
        };
        let remedy = required_multiline(&mut e, "remedy", "救济渠道", &input.remedy, 1000);
        let effective_from = crate::credential::parse_date(&input.effective_from);
        if effective_from.is_none() {
            e.add("effective_from", "请按 年-月-日 填写生效日期");
        }
        e.into_result(|| NewItemVersion {
            code,
            effective_from: effective_from.expect("checked"),
            content: ItemContent {
                name,
                category: category.expect("checked"),
                basis,
                basis_text,
                discretion,
                department,
                time_limit,
                remedy,
            },
        })
    }
}

/// What changed between two versions, field by field, in Chinese (for the portal's
/// 变更说明).
pub fn changes(old: &ItemContent, new: &ItemContent) -> Vec<String> {
    let mut out = Vec::new();
    if old.name != new.name {
        out.push(format!("事项名称：“{}” → “{}”", old.name, new.name));
    }
    if old.category != new.category {
        out.push(format!(
            "事项类别：{} → {}",
            old.category.label(),
            new.category.label()
        ));
    }
    if old.basis != new.basis {
        let show = |v: &[Citation]| {
            v.iter()
                .map(Citation::display)
                .collect::<Vec<_>>()
                .join("、")
        };
        out.push(format!(
            "法律依据：{} → {}",
            show(&old.basis),
            show(&new.basis)
        ));
    }
    if old.basis_text != new.basis_text {
        out.push("依据条文已修改".into());
    }
    if old.discretion != new.discretion {
        let removed: Vec<_> = old
            .discretion
            .iter()
            .filter(|r| !new.discretion.contains(r))
            .collect();
        let added: Vec<_> = new
            .discretion
            .iter()
            .filter(|r| !old.discretion.contains(r))
            .collect();
        for r in removed {
            out.push(format!(
                "裁量基准删除：{}（{}）{} {}",
                r.circumstance,
                r.severity.label(),
                r.measure,
                r.fine_text()
            ));
        }
        for r in added {
            out.push(format!(
                "裁量基准新增：{}（{}）{} {}",
                r.circumstance,
                r.severity.label(),
                r.measure,
                r.fine_text()
            ));
        }
    }
    if old.department != new.department {
        out.push(format!("承办机构：{} → {}", old.department, new.department));
    }
    if old.time_limit != new.time_limit {
        let show = |t: &Option<TimeLimit>| t.map(|t| t.display()).unwrap_or_else(|| "无".into());
        out.push(format!(
            "办理时限：{} → {}",
            show(&old.time_limit),
            show(&new.time_limit)
        ));
    }
    if old.remedy != new.remedy {
        out.push("救济渠道已修改".into());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_numerals_as_statutes_print_them() {
        for (n, s) in [
            (1, "一"),
            (10, "十"),
            (15, "十五"),
            (20, "二十"),
            (42, "四十二"),
            (100, "一百"),
            (105, "一百零五"),
            (110, "一百一十"),
            (1001, "一千零一"),
            (12345, "12345"),
        ] {
            assert_eq!(numeral(n), s, "{n}");
        }
    }

    #[test]
    fn citations_parse_and_display() {
        let c = Citation::parse_line("《中华人民共和国城乡规划法》|65").unwrap();
        assert_eq!(c.display(), "《中华人民共和国城乡规划法》第六十五条");
        let c = Citation::parse_line("中华人民共和国大气污染防治法|119|1").unwrap();
        assert_eq!(
            c.display(),
            "《中华人民共和国大气污染防治法》第一百一十九条第一款"
        );
        assert_eq!(c.line(), "中华人民共和国大气污染防治法|119|1");
        assert!(Citation::parse_line("某法").is_err());
        assert!(Citation::parse_line("某法|第五条").is_err());
        assert!(Citation::parse_line("|5").is_err());
        assert!(Citation::parse_line("某法|0").is_err());
    }

    #[test]
    fn discretion_rows_check_their_fines() {
        let r = DiscretionRow::parse_line("初次违法且及时改正|轻微|不予处罚").unwrap();
        assert_eq!(r.fine_min, None);
        let r = DiscretionRow::parse_line("面积较大|较重|责令改正并处罚款|1,000元|5000").unwrap();
        assert_eq!((r.fine_min, r.fine_max), (Some(1000), Some(5000)));
        assert_eq!(r.fine_text(), "1,000–5,000 元");
        let err = DiscretionRow::parse_line("x|一般|罚款|5000|1000").unwrap_err();
        assert!(
            err.contains("最低罚款 5000 元高于最高罚款 1000 元"),
            "{err}"
        );
        assert!(DiscretionRow::parse_line("x|很重|罚款").is_err());
        assert!(DiscretionRow::parse_line("x|一般|罚款|abc|100").is_err());
    }

    fn input() -> ItemInput {
        ItemInput {
            code: "330217001000".into(),
            name: "对在城市、镇规划区内未取得建设工程规划许可证进行建设的行政处罚".into(),
            category: "行政处罚".into(),
            basis: "中华人民共和国城乡规划法|64".into(),
            basis_text: "未取得建设工程规划许可证……".into(),
            discretion: "尚可采取改正措施消除影响|一般|限期改正并处罚款|5000|10000".into(),
            department: "综合行政执法大队".into(),
            time_limit: "90".into(),
            time_unit: "日".into(),
            remedy: DEFAULT_REMEDY.into(),
            effective_from: "2026-01-01".into(),
        }
    }

    #[test]
    fn a_complete_item_parses() {
        let v = NewItemVersion::parse(&input()).unwrap();
        assert_eq!(v.content.category, ItemCategory::Penalty);
        assert_eq!(
            v.content.time_limit,
            Some(TimeLimit {
                amount: 90,
                unit: DayUnit::Days
            })
        );
    }

    #[test]
    fn every_bad_field_is_named() {
        let bad = ItemInput {
            code: "33 02".into(),
            category: "行政奖励".into(),
            basis: "".into(),
            discretion: "x|一般|罚款|9|1".into(),
            time_limit: "0".into(),
            time_unit: "月".into(),
            effective_from: "2026-13-01".into(),
            ..input()
        };
        let e = NewItemVersion::parse(&bad).unwrap_err();
        for f in [
            "code",
            "category",
            "basis",
            "discretion",
            "time_limit",
            "time_unit",
            "effective_from",
        ] {
            assert!(e.get(f).is_some(), "{f}: {e}");
        }
    }

    #[test]
    fn changes_name_each_changed_field() {
        let a = NewItemVersion::parse(&input()).unwrap().content;
        let mut b = a.clone();
        b.time_limit = Some(TimeLimit {
            amount: 60,
            unit: DayUnit::Days,
        });
        b.discretion[0].fine_max = Some(8000);
        let c = changes(&a, &b);
        assert!(c.iter().any(|l| l == "办理时限：90 日 → 60 日"), "{c:?}");
        assert!(
            c.iter()
                .any(|l| l.starts_with("裁量基准新增") && l.contains("8,000"))
        );
        assert!(changes(&a, &a).is_empty());
    }
}
