//! Procedures as data (`procedures/*.toml`, embedded): the steps of a legal procedure, who
//! may perform each, the documents it produces, its deadline and the statute behind it,
//! and the transitions between steps with the conditions a case must meet to take them.
//! One definition drives what the server allows and the flowchart the portal publishes.
//!
//! Definitions are checked when loaded: unknown roles, units, conditions or steps, a
//! start that is not a step, a step that cannot be reached, a cycle — each refused with a
//! message naming the procedure and the step.

use crate::Role;
use crate::catalog::DayUnit;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

/// A condition a case establishes before it may take a transition.
pub const CONDITIONS: &[(&str, &str)] = &[
    ("major", "属于重大执法决定"),
    ("not_major", "非重大执法决定"),
    ("collective", "需集体讨论"),
    ("not_collective", "无需集体讨论"),
    ("hearing_requested", "当事人申请听证"),
    ("no_hearing", "未申请听证"),
    ("granted", "准予许可"),
    ("refused", "不予许可"),
];

/// What a case must have recorded before a step may be completed.
pub const NEEDS: &[(&str, &str)] = &[
    ("penalty", "拟作出的处罚（处罚内容和罚款金额）"),
    (
        "evidence",
        "至少一项登记的证据（行政处罚法第四十条：违法事实不清、证据不足的，不得给予行政处罚）",
    ),
];

/// A ceiling on the fine a procedure may impose (e.g. 简易程序, 行政处罚法 第五十一条).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FineLimit {
    /// For a natural person (公民), in yuan.
    pub person: u64,
    /// For a legal person or other organisation, in yuan.
    pub organisation: u64,
    pub basis: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPeriod {
    #[serde(default)]
    from: String,
    days: u32,
    unit: String,
    #[serde(default)]
    label: String,
    basis: String,
    extension: Option<RawExtension>,
    #[serde(default)]
    pauses: Vec<RawPause>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExtension {
    days: u32,
    unit: String,
    approver: String,
    basis: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPause {
    code: String,
    label: String,
    basis: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    code: String,
    name: String,
    roles: Vec<String>,
    #[serde(default)]
    documents: Vec<String>,
    basis: String,
    deadline: Option<RawPeriod>,
    window: Option<RawPeriod>,
    #[serde(default)]
    investigative: bool,
    #[serde(default)]
    needs: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReopen {
    roles: Vec<String>,
    basis: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTransition {
    from: String,
    to: String,
    #[serde(default)]
    when: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProcedure {
    code: String,
    name: String,
    category: String,
    basis: String,
    start: String,
    /// The word of the case number (朱堂综执**罚**〔2026〕3号).
    number_word: String,
    fine_limit: Option<FineLimit>,
    reopen: RawReopen,
    steps: Vec<RawStep>,
    #[serde(default)]
    transitions: Vec<RawTransition>,
}

/// A period attached to a step, counted on the working-day calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    /// `None`: from the case's start; `Some(step)`: from the day that step was completed.
    pub from: Option<String>,
    pub days: u32,
    pub unit: DayUnit,
    pub label: String,
    pub basis: String,
    /// How much longer the period may be made, by whose approval (a reason is required).
    pub extension: Option<Extension>,
    /// Time the period does not count (e.g. 行政许可法 第四十五条: hearing, testing,
    /// expert review), each started and ended by a recorded event of the case.
    pub pauses: Vec<Pause>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    pub days: u32,
    pub unit: DayUnit,
    pub approver: Role,
    pub basis: String,
}

impl Extension {
    pub fn display(&self) -> String {
        format!(
            "可延长 {}（经{}批准，须说明理由）",
            span(self.days, self.unit),
            self.approver.label()
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pause {
    pub code: String,
    pub label: String,
    pub basis: String,
}

fn span(days: u32, unit: DayUnit) -> String {
    match unit {
        DayUnit::WorkingDays => format!("{days} 个工作日"),
        DayUnit::Days => format!("{days} 日"),
    }
}

impl Period {
    /// "20 个工作日", "30 日".
    pub fn span(&self) -> String {
        span(self.days, self.unit)
    }

    pub fn display(&self) -> String {
        let span = span(self.days, self.unit);
        if self.label.is_empty() {
            span
        } else {
            format!("{}：{span}", self.label)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub code: String,
    pub name: String,
    pub roles: Vec<Role>,
    pub documents: Vec<String>,
    pub basis: String,
    /// The step must be completed within this period.
    pub deadline: Option<Period>,
    /// A period the case waits in this step (e.g. the party's time to ask for a hearing).
    pub window: Option<Period>,
    /// An act of investigation or enforcement on the spot: at least two officers with
    /// valid credentials, who showed them (行政处罚法 第四十二条、第五十五条; 行政强制法
    /// 第十八条).
    pub investigative: bool,
    /// What the case must have recorded before this step is completed ([`NEEDS`]).
    pub needs: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub from: String,
    pub to: String,
    /// Condition codes from [`CONDITIONS`], all required.
    pub when: Vec<String>,
}

impl Transition {
    /// The conditions in Chinese, joined ("未申请听证，属于重大执法决定").
    pub fn condition_text(&self) -> String {
        self.when
            .iter()
            .filter_map(|c| CONDITIONS.iter().find(|(k, _)| k == c).map(|(_, l)| *l))
            .collect::<Vec<_>>()
            .join("，")
    }
}

/// Who may reopen a closed case, and on what ground (a closed case is frozen; reopening
/// is an act of its own, with a recorded reason).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reopen {
    pub roles: Vec<Role>,
    pub basis: String,
}

/// A checked procedure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Procedure {
    pub code: String,
    pub name: String,
    pub category: String,
    pub basis: String,
    pub start: String,
    pub number_word: String,
    pub fine_limit: Option<FineLimit>,
    pub reopen: Reopen,
    pub steps: Vec<Step>,
    pub transitions: Vec<Transition>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("流程定义 {procedure}：{message}")]
pub struct ProcedureError {
    pub procedure: String,
    pub message: String,
}

impl Procedure {
    /// Parses and checks one definition.
    pub fn from_toml(text: &str) -> Result<Procedure, ProcedureError> {
        let raw: RawProcedure = toml::from_str(text).map_err(|e| ProcedureError {
            procedure: "?".into(),
            message: format!("格式错误：{e}"),
        })?;
        let fail = |message: String| ProcedureError {
            procedure: raw.code.clone(),
            message,
        };
        let mut codes = BTreeSet::new();
        let mut steps = Vec::new();
        for s in &raw.steps {
            if !codes.insert(s.code.clone()) {
                return Err(fail(format!("步骤编码 {} 重复", s.code)));
            }
            let roles = s
                .roles
                .iter()
                .map(|r| {
                    Role::from_code(r)
                        .ok_or_else(|| fail(format!("步骤 {} 的角色 {r} 不存在", s.code)))
                })
                .collect::<Result<Vec<_>, _>>()?;
            if roles.is_empty() {
                return Err(fail(format!("步骤 {} 没有可办理的角色", s.code)));
            }
            if s.basis.trim().is_empty() {
                return Err(fail(format!("步骤 {} 缺少依据", s.code)));
            }
            if let Some(n) = s.needs.iter().find(|n| !NEEDS.iter().any(|(k, _)| k == n)) {
                return Err(fail(format!("步骤 {} 的前提 {n} 未定义", s.code)));
            }
            let period = |p: &Option<RawPeriod>| -> Result<Option<Period>, ProcedureError> {
                let Some(p) = p else { return Ok(None) };
                let unit = DayUnit::parse(&p.unit)
                    .ok_or_else(|| fail(format!("步骤 {} 的期限单位 {} 无效", s.code, p.unit)))?;
                if p.days == 0 || p.basis.trim().is_empty() {
                    return Err(fail(format!("步骤 {} 的期限须有天数和依据", s.code)));
                }
                let extension = match &p.extension {
                    None => None,
                    Some(e) => {
                        let unit = DayUnit::parse(&e.unit).ok_or_else(|| {
                            fail(format!("步骤 {} 的延长期限单位 {} 无效", s.code, e.unit))
                        })?;
                        let approver = Role::from_code(&e.approver).ok_or_else(|| {
                            fail(format!(
                                "步骤 {} 的延长批准角色 {} 不存在",
                                s.code, e.approver
                            ))
                        })?;
                        if e.days == 0 || e.basis.trim().is_empty() {
                            return Err(fail(format!("步骤 {} 的延长须有天数和依据", s.code)));
                        }
                        Some(Extension {
                            days: e.days,
                            unit,
                            approver,
                            basis: e.basis.clone(),
                        })
                    }
                };
                let mut pause_codes = BTreeSet::new();
                for pause in &p.pauses {
                    if pause.code.trim().is_empty()
                        || pause.label.trim().is_empty()
                        || pause.basis.trim().is_empty()
                    {
                        return Err(fail(format!(
                            "步骤 {} 的期限中止须有编码、说明和依据",
                            s.code
                        )));
                    }
                    if !pause_codes.insert(pause.code.as_str()) {
                        return Err(fail(format!(
                            "步骤 {} 的期限中止编码 {} 重复",
                            s.code, pause.code
                        )));
                    }
                }
                Ok(Some(Period {
                    from: match p.from.trim() {
                        "" | "start" => None,
                        step => Some(step.to_owned()),
                    },
                    days: p.days,
                    unit,
                    label: p.label.clone(),
                    basis: p.basis.clone(),
                    extension,
                    pauses: p
                        .pauses
                        .iter()
                        .map(|x| Pause {
                            code: x.code.clone(),
                            label: x.label.clone(),
                            basis: x.basis.clone(),
                        })
                        .collect(),
                }))
            };
            steps.push(Step {
                code: s.code.clone(),
                name: s.name.clone(),
                roles,
                documents: s.documents.clone(),
                basis: s.basis.clone(),
                deadline: period(&s.deadline)?,
                window: period(&s.window)?,
                investigative: s.investigative,
                needs: s.needs.clone(),
            });
        }
        let word = raw.number_word.trim();
        if word.is_empty() || word.chars().count() > 4 {
            return Err(fail("案件编号用字（number_word）应为 1–4 个字".into()));
        }
        if let Some(l) = &raw.fine_limit
            && l.basis.trim().is_empty()
        {
            return Err(fail("罚款限额须注明依据".into()));
        }
        let reopen_roles = raw
            .reopen
            .roles
            .iter()
            .map(|r| Role::from_code(r).ok_or_else(|| fail(format!("重新开启的角色 {r} 不存在"))))
            .collect::<Result<Vec<_>, _>>()?;
        if reopen_roles.is_empty() || raw.reopen.basis.trim().is_empty() {
            return Err(fail("重新开启须有角色和依据".into()));
        }
        if !codes.contains(&raw.start) {
            return Err(fail(format!("起始步骤 {} 不存在", raw.start)));
        }
        for s in &steps {
            for p in [&s.deadline, &s.window].into_iter().flatten() {
                if let Some(from) = &p.from
                    && !codes.contains(from)
                {
                    return Err(fail(format!(
                        "步骤 {} 的期限起算步骤 {from} 不存在",
                        s.code
                    )));
                }
            }
        }
        let mut transitions = Vec::new();
        for t in &raw.transitions {
            for end in [&t.from, &t.to] {
                if !codes.contains(end) {
                    return Err(fail(format!(
                        "流转 {} → {} 引用了不存在的步骤 {end}",
                        t.from, t.to
                    )));
                }
            }
            for c in &t.when {
                if !CONDITIONS.iter().any(|(k, _)| k == c) {
                    return Err(fail(format!(
                        "流转 {} → {} 的条件 {c} 未定义",
                        t.from, t.to
                    )));
                }
            }
            transitions.push(Transition {
                from: t.from.clone(),
                to: t.to.clone(),
                when: t.when.clone(),
            });
        }
        let p = Procedure {
            code: raw.code.clone(),
            name: raw.name.clone(),
            category: raw.category.clone(),
            basis: raw.basis.clone(),
            start: raw.start.clone(),
            number_word: word.to_owned(),
            fine_limit: raw.fine_limit.clone(),
            reopen: Reopen {
                roles: reopen_roles,
                basis: raw.reopen.basis.clone(),
            },
            steps,
            transitions,
        };
        // Every step reachable from the start, and no way back (a procedure moves forward;
        // reopening a case is recorded separately).
        let depth = p.depths().ok_or_else(|| fail("流程中存在回路".into()))?;
        if let Some(s) = p.steps.iter().find(|s| !depth.contains_key(&s.code)) {
            return Err(fail(format!("步骤 {} 无法从起始步骤到达", s.code)));
        }
        Ok(p)
    }

    /// Each step's layer: the longest path from the start (`None` when there is a cycle).
    pub fn depths(&self) -> Option<BTreeMap<String, usize>> {
        let mut depth: BTreeMap<String, usize> = BTreeMap::new();
        depth.insert(self.start.clone(), 0);
        // Relax edges |steps| times; still changing after that means a cycle.
        for round in 0..=self.steps.len() {
            let mut changed = false;
            for t in &self.transitions {
                if let Some(&d) = depth.get(&t.from)
                    && depth.get(&t.to).is_none_or(|&e| e < d + 1)
                {
                    depth.insert(t.to.clone(), d + 1);
                    changed = true;
                }
            }
            if !changed {
                return Some(depth);
            }
            if round == self.steps.len() {
                return None;
            }
        }
        Some(depth)
    }

    pub fn step(&self, code: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.code == code)
    }

    /// A step with no way on: completing it ends the case.
    pub fn is_last(&self, step: &str) -> bool {
        !self.transitions.iter().any(|t| t.from == step)
    }

    /// Every transition out of `step`, whatever its conditions.
    pub fn out_of<'a>(&'a self, step: &'a str) -> impl Iterator<Item = &'a Transition> {
        self.transitions.iter().filter(move |t| t.from == step)
    }

    /// The transitions out of `step` whose conditions the case meets.
    pub fn next<'a>(&'a self, step: &str, met: &'a [&str]) -> impl Iterator<Item = &'a Transition> {
        self.transitions
            .iter()
            .filter(move |t| t.from == step && t.when.iter().all(|c| met.contains(&c.as_str())))
    }
}

static SHIPPED: std::sync::LazyLock<Vec<Procedure>> =
    std::sync::LazyLock::new(|| shipped().unwrap_or_else(|e| panic!("{e}")));

/// The shipped procedures, checked once. The definitions are compiled in and kept valid
/// by their tests; `zhifa serve` also checks them at start and stops with the message.
pub fn all() -> &'static [Procedure] {
    &SHIPPED
}

/// A shipped procedure by its code.
pub fn find(code: &str) -> Option<&'static Procedure> {
    all().iter().find(|p| p.code == code)
}

/// The procedures shipped in `procedures/`, checked.
pub fn shipped() -> Result<Vec<Procedure>, ProcedureError> {
    [
        include_str!("../../../procedures/penalty-ordinary.toml"),
        include_str!("../../../procedures/penalty-summary.toml"),
        include_str!("../../../procedures/inspection.toml"),
        include_str!("../../../procedures/licensing.toml"),
        include_str!("../../../procedures/seizure.toml"),
    ]
    .into_iter()
    .map(Procedure::from_toml)
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_procedures_check() {
        let all = shipped().unwrap();
        assert_eq!(all.len(), 5);
        let p = all.iter().find(|p| p.code == "penalty-ordinary").unwrap();
        // 行政处罚法 第六十条: the decision within 90 days of 立案.
        let d = p.step("decision").unwrap().deadline.clone().unwrap();
        assert_eq!((d.from, d.days, d.unit), (None, 90, DayUnit::Days));
        assert!(d.basis.contains("第六十条"));
        // Only a legal reviewer performs the 法制审核; only a leader decides.
        assert_eq!(
            p.step("legal_review").unwrap().roles,
            vec![Role::LegalReviewer]
        );
        assert_eq!(p.step("decision").unwrap().roles, vec![Role::Leader]);
    }

    #[test]
    fn a_major_case_cannot_skip_legal_review() {
        let all = shipped().unwrap();
        let p = all.iter().find(|p| p.code == "penalty-ordinary").unwrap();
        let to =
            |met: &[&str]| -> Vec<String> { p.next("notice", met).map(|t| t.to.clone()).collect() };
        assert_eq!(to(&["no_hearing", "major"]), vec!["legal_review"]);
        assert_eq!(
            to(&["no_hearing", "not_major", "not_collective"]),
            vec!["decision"]
        );
        // After a hearing the only way on is legal review (行政处罚法 第五十八条).
        let after: Vec<_> = p.next("hearing", &[]).map(|t| t.to.as_str()).collect();
        assert_eq!(after, vec!["legal_review"]);
    }

    #[test]
    fn bad_definitions_are_refused_with_the_reason() {
        let base = include_str!("../../../procedures/inspection.toml");
        let seizure = include_str!("../../../procedures/seizure.toml");
        for (change, expected) in [
            (
                base.replace("start = \"draw\"", "start = \"nowhere\""),
                "起始步骤 nowhere 不存在",
            ),
            (
                base.replace("roles = [\"officer\"]", "roles = [\"janitor\"]"),
                "角色 janitor 不存在",
            ),
            (
                format!("{base}\n[[transitions]]\nfrom = \"publication\"\nto = \"draw\"\n"),
                "回路",
            ),
            (
                format!(
                    "{base}\n[[transitions]]\nfrom = \"check\"\nto = \"handling\"\nwhen = [\"moon\"]\n"
                ),
                "条件 moon 未定义",
            ),
            (
                base.replace(
                    "[[transitions]]\nfrom = \"handling\"\nto = \"publication\"\n",
                    "",
                ),
                "步骤 publication 无法从起始步骤到达",
            ),
            (
                seizure.replace("approver = \"leader\"", "approver = \"mayor\""),
                "延长批准角色 mayor 不存在",
            ),
            (
                seizure.replace("code = \"testing\"", "code = \"\""),
                "期限中止须有编码、说明和依据",
            ),
            (
                seizure.replace(
                    "[steps.deadline.extension]\ndays = 30",
                    "[steps.deadline.extension]\ndays = 0",
                ),
                "延长须有天数和依据",
            ),
            (
                seizure.replace("approver = \"leader\"", "approver = \"leader\"\nhours = 1"),
                "格式错误",
            ),
        ] {
            let e = Procedure::from_toml(&change).unwrap_err().to_string();
            assert!(e.contains(expected), "{expected}: {e}");
        }
    }
}
