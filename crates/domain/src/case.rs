//! Cases: the rules an act on a case must meet before the server records it.
//!
//! A case sits in one step of its procedure ([`crate::procedure`]). An act completes that
//! step and moves the case along one of the step's transitions (or, at the last step,
//! ends it). [`check_act`] is the one decision whether an act is lawful: the transition
//! exists and its conditions hold, the actor holds the step's role, the day is possible,
//! the step's deadline has not passed, the party's window is closed or waived, what the
//! step needs is recorded, and an investigative act has two officers with valid
//! credentials who showed them and declared they need not withdraw. Deadlines are counted
//! on the working-day calendar ([`due_date`]).

use crate::Role;
use crate::calendar::{Calendar, CalendarError};
use crate::catalog::{DayUnit, DiscretionRow, group_thousands};
use crate::credential::{Validity, check_assignable};
use crate::credit_code::CreditCode;
use crate::id_number::IdNumber;
use crate::lists::PartyKind;
use crate::procedure::{Period, Procedure, Step};
use crate::validation::{FieldErrors, optional_line, optional_text, required_text};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How an agency numbers the cases of one procedure: a pattern with `{年}` (the year) and
/// `{号}` (the number within the year), e.g. `朱堂综执罚〔{年}〕{号}号`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NumberPattern(String);

impl NumberPattern {
    pub fn parse(input: &str) -> Result<Self, String> {
        let s = input.trim();
        if s.chars().count() > 40 {
            return Err("案件编号格式不能超过 40 个字".into());
        }
        if s.matches("{年}").count() != 1 || s.matches("{号}").count() != 1 {
            return Err("案件编号格式须各含一次 {年} 和 {号}，如：朱堂综执罚〔{年}〕{号}号".into());
        }
        let rest = s.replace("{年}", "").replace("{号}", "");
        if rest.contains('{') || rest.contains('}') {
            return Err("案件编号格式只能使用 {年} 和 {号} 两个占位符".into());
        }
        Ok(NumberPattern(s.to_owned()))
    }

    /// The pattern when the agency has set none: its name's stem and the procedure's word,
    /// e.g. 朱堂乡人民政府 + 罚 → 朱堂乡罚〔{年}〕{号}号.
    pub fn default_for(agency_name: &str, word: &str) -> Self {
        let stem = agency_name.trim_end_matches("人民政府");
        NumberPattern(format!("{stem}{word}〔{{年}}〕{{号}}号"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn render(&self, year: i32, seq: i64) -> String {
        self.0
            .replace("{年}", &year.to_string())
            .replace("{号}", &seq.to_string())
    }
}

/// A party as entered (当事人).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PartyInput {
    /// `person` or `organisation`.
    pub kind: String,
    pub name: String,
    /// 公民身份号码 or 统一社会信用代码.
    pub id_code: String,
    pub address: String,
}

/// A checked party: a natural person with a GB 11643-valid ID number, or an organisation
/// with a GB 32100-valid 统一社会信用代码.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewParty {
    pub kind: PartyKind,
    pub name: String,
    pub id_code: String,
    pub address: String,
}

impl NewParty {
    /// Fields are reported as `{prefix}kind`, `{prefix}name`… so that a form with several
    /// parties can show each error beside its input.
    pub fn parse(input: &PartyInput, prefix: &str) -> Result<NewParty, FieldErrors> {
        let mut e = FieldErrors::new();
        let f = |name: &str| format!("{prefix}{name}");
        let kind = match input.kind.trim() {
            "person" => Some(PartyKind::Person),
            "organisation" => Some(PartyKind::Organisation),
            _ => {
                e.add(&f("kind"), "请选择当事人类型（公民或单位）");
                None
            }
        };
        let name = required_text(&mut e, &f("name"), "当事人名称", &input.name, 100);
        let id_code = match kind {
            Some(PartyKind::Person) => match IdNumber::parse(&input.id_code) {
                Ok(n) => Some(n.as_str().to_owned()),
                Err(err) => {
                    e.add(&f("id_code"), format!("公民身份号码有误：{err}"));
                    None
                }
            },
            Some(PartyKind::Organisation) => match CreditCode::parse(&input.id_code) {
                Ok(c) => Some(c.as_str().to_owned()),
                Err(err) => {
                    e.add(&f("id_code"), format!("统一社会信用代码有误：{err}"));
                    None
                }
            },
            None => None,
        };
        let address = optional_line(&mut e, &f("address"), "地址", &input.address, 200);
        e.into_result(|| NewParty {
            kind: kind.expect("checked"),
            name,
            id_code: id_code.expect("checked"),
            address,
        })
    }
}

pub fn party_kind_label(kind: PartyKind) -> &'static str {
    match kind {
        PartyKind::Person => "公民",
        PartyKind::Organisation => "法人或其他组织",
    }
}

pub fn party_kind_code(kind: PartyKind) -> &'static str {
    match kind {
        PartyKind::Person => "person",
        PartyKind::Organisation => "organisation",
    }
}

pub fn party_kind_from_code(code: &str) -> Option<PartyKind> {
    match code {
        "person" => Some(PartyKind::Person),
        "organisation" => Some(PartyKind::Organisation),
        _ => None,
    }
}

/// A penalty as proposed (拟作出的处罚), with the 裁量基准 row it follows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Penalty {
    /// What is imposed, e.g. 警告, 责令改正并处罚款.
    pub measure: String,
    /// 0 when there is no fine.
    pub fine_yuan: u64,
    /// The 裁量基准 row (by position in the item's table) the officer applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discretion_row: Option<usize>,
    /// Why the penalty leaves the 裁量基准 (required when it does).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub deviation_reason: String,
    /// 从重/从轻/减轻 facts, the 违法事实 summary: free text.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub facts: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PenaltyInput {
    pub measure: String,
    pub fine_yuan: String,
    pub discretion_row: String,
    pub deviation_reason: String,
    pub facts: String,
}

impl Penalty {
    pub fn fine_text(&self) -> String {
        if self.fine_yuan == 0 {
            "无罚款".into()
        } else {
            format!("罚款 {} 元", group_thousands(self.fine_yuan))
        }
    }
}

/// Where a penalty stands against the item's 裁量基准.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiscretionFit {
    /// Within the chosen row (or no row has a fine range and none is chosen).
    Within,
    /// Outside the chosen row's fine range, or no row chosen while the item has a
    /// table: a warning, and a reason is required.
    Outside(String),
}

/// Checks a proposed penalty: the form's fields, the 裁量基准 (outside it a reason is
/// required) and the procedure's fine ceiling for the case's parties (简易程序).
pub fn check_penalty(
    input: &PenaltyInput,
    discretion: &[DiscretionRow],
    limit: Option<&crate::procedure::FineLimit>,
    parties: &[PartyKind],
) -> Result<(Penalty, DiscretionFit), FieldErrors> {
    let mut e = FieldErrors::new();
    let measure = required_text(&mut e, "measure", "处罚内容", &input.measure, 200);
    let fine = input.fine_yuan.trim().replace([',', '，'], "");
    let fine = fine.trim_end_matches('元');
    let fine_yuan = if fine.is_empty() {
        Some(0)
    } else {
        match fine.parse::<u64>() {
            Ok(n) if n <= 100_000_000_000 => Some(n),
            _ => {
                e.add("fine_yuan", "罚款金额应为不小于 0 的整数（元）");
                None
            }
        }
    };
    let row = match input.discretion_row.trim() {
        "" => None,
        s => match s.parse::<usize>() {
            Ok(i) if i < discretion.len() => Some(i),
            _ => {
                e.add("discretion_row", "所选裁量基准不存在");
                None
            }
        },
    };
    // 行政处罚法 第五十一条: on the spot only a warning or a fine (责令改正 is not a
    // penalty, 第二十八条, and may accompany them).
    const NOT_ON_THE_SPOT: &[&str] = &[
        "没收",
        "暂扣",
        "吊销",
        "降低资质",
        "停产",
        "停业",
        "关闭",
        "限制",
        "拘留",
        "拆除",
    ];
    if limit.is_some()
        && let Some(word) = NOT_ON_THE_SPOT.iter().find(|w| measure.contains(*w))
    {
        e.add(
            "measure",
            format!(
                "简易程序只能当场给予警告或者罚款，“{word}”须适用普通程序（行政处罚法第五十一条）"
            ),
        );
    }
    if let (Some(limit), Some(fine)) = (limit, fine_yuan) {
        let person = parties.contains(&PartyKind::Person);
        let ceiling = if person {
            limit.person
        } else {
            limit.organisation
        };
        if fine > ceiling {
            e.add(
                "fine_yuan",
                format!(
                    "简易程序只能对{}处以 {} 元以下罚款（{}）；请改用普通程序",
                    if person { "公民" } else { "单位" },
                    group_thousands(ceiling),
                    limit.basis
                ),
            );
        }
    }
    let reason = optional_text(
        &mut e,
        "deviation_reason",
        "偏离理由",
        &input.deviation_reason,
        1000,
    );
    let facts = optional_text(&mut e, "facts", "违法事实", &input.facts, 2000);
    let (reason, facts) = (reason.as_str(), facts.as_str());
    let fit = match (row, fine_yuan) {
        (_, None) => DiscretionFit::Within,
        (Some(i), Some(fine)) => {
            let r = &discretion[i];
            match (r.fine_min, r.fine_max) {
                (Some(lo), Some(hi)) if fine < lo || fine > hi => DiscretionFit::Outside(format!(
                    "罚款 {} 元不在所选裁量基准（{}，{}）的范围 {} 内",
                    group_thousands(fine),
                    r.circumstance,
                    r.severity.label(),
                    r.fine_text()
                )),
                _ => DiscretionFit::Within,
            }
        }
        (None, Some(_)) if !discretion.is_empty() => {
            DiscretionFit::Outside("未选择适用的裁量基准".into())
        }
        (None, Some(_)) => DiscretionFit::Within,
    };
    if let DiscretionFit::Outside(why) = &fit
        && reason.is_empty()
    {
        e.add(
            "deviation_reason",
            format!("{why}；偏离裁量基准的，须说明理由"),
        );
    }
    e.into_result(|| {
        (
            Penalty {
                measure,
                fine_yuan: fine_yuan.expect("checked"),
                discretion_row: row,
                deviation_reason: reason.to_owned(),
                facts: facts.to_owned(),
            },
            fit,
        )
    })
}

/// A pause of a step's deadline (e.g. 检测期间不计入), from `start` to `end` (the day it
/// ended; `None` while it runs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PauseSpan {
    pub step: String,
    pub code: String,
    pub start: NaiveDate,
    pub end: Option<NaiveDate>,
}

/// What the rules know of a case.
#[derive(Debug, Clone)]
pub struct CaseState {
    pub opened_on: NaiveDate,
    pub step: String,
    /// The day the case entered its current step.
    pub entered_on: NaiveDate,
    pub closed: bool,
    /// The day each completed step was completed.
    pub completed: BTreeMap<String, NaiveDate>,
    /// Steps whose deadline was extended.
    pub extended: Vec<String>,
    /// Steps whose deadline had passed and whose late completion a leader approved, with
    /// the reason on record.
    pub late_approved: Vec<String>,
    pub pauses: Vec<PauseSpan>,
    /// The party waived the current step's window in writing (行政处罚法 第六十二条).
    pub window_waived: bool,
    pub has_penalty: bool,
    /// Items of evidence registered on the case.
    pub evidence: usize,
    /// The proposed decision meets a rule of the agency's 法制审核目录清单.
    pub major: bool,
}

/// A deadline as computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    On(NaiveDate),
    /// Stopped: a pause is running.
    Paused,
    /// The period has not started (its starting step is not yet completed).
    NotStarted,
    /// The end lies in a year without calendar data.
    Unknown(CalendarError),
}

impl Due {
    pub fn date(&self) -> Option<NaiveDate> {
        match self {
            Due::On(d) => Some(*d),
            _ => None,
        }
    }
}

fn add(cal: &Calendar, from: NaiveDate, n: u32, unit: DayUnit) -> Result<NaiveDate, CalendarError> {
    match unit {
        DayUnit::WorkingDays => cal.add_working_days(from, n),
        DayUnit::Days => cal.add_days(from, n),
    }
}

/// The days a finished pause does not count, in the period's unit: working days for a
/// period of working days, calendar days otherwise (the first day not counted).
fn paused_days(
    cal: &Calendar,
    start: NaiveDate,
    end: NaiveDate,
    unit: DayUnit,
) -> Result<u32, CalendarError> {
    let mut n = 0;
    let mut d = start;
    while d < end {
        d = d.succ_opt().expect("a date in range");
        if unit == DayUnit::Days || cal.is_working_day(d)? {
            n += 1;
        }
    }
    Ok(n)
}

/// The last day of `period` of `step` for a case: counted from the case's opening or from
/// the day its starting step was completed, lengthened by an approved extension and by
/// the time its pauses did not count.
pub fn due_date(cal: &Calendar, step: &Step, period: &Period, case: &CaseState) -> Due {
    let start = match &period.from {
        None => case.opened_on,
        Some(s) => match case.completed.get(s) {
            Some(d) => *d,
            None => return Due::NotStarted,
        },
    };
    let mut days = period.days;
    let mut paused = 0;
    for p in case.pauses.iter().filter(|p| p.step == step.code) {
        match p.end {
            None => return Due::Paused,
            Some(end) => match paused_days(cal, p.start, end, period.unit) {
                Ok(n) => paused += n,
                Err(e) => return Due::Unknown(e),
            },
        }
    }
    days += paused;
    let mut end = add(cal, start, days, period.unit);
    if let Some(ext) = &period.extension
        && case.extended.contains(&step.code)
    {
        end = if ext.unit == period.unit {
            add(cal, start, days + ext.days, period.unit)
        } else {
            end.and_then(|d| add(cal, d, ext.days, ext.unit))
        };
    }
    match end {
        Ok(d) => Due::On(d),
        Err(e) => Due::Unknown(e),
    }
}

/// An officer taking part in an act, as the rules see them.
#[derive(Debug, Clone)]
pub struct OfficerOnAct {
    pub person_id: i64,
    pub name: String,
    pub credentials: Vec<(String, Validity)>,
    /// Assigned to the case (承办人员).
    pub assigned: bool,
    /// Declared that no ground of withdrawal applies (行政处罚法 第四十三条).
    pub declared: bool,
}

/// An act on a case: complete the current step and go to `to` (`None` at the last step).
#[derive(Debug, Clone)]
pub struct Act {
    pub to: Option<String>,
    pub day: NaiveDate,
    pub today: NaiveDate,
    pub roles: Vec<Role>,
    pub actor_person: Option<i64>,
    pub officers: Vec<OfficerOnAct>,
    pub credentials_shown: bool,
}

/// Why an act is refused: every reason, in Chinese.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.join("；"))]
pub struct Refused(pub Vec<String>);

/// The one decision whether an act on a case is lawful.
pub fn check_act(
    cal: &Calendar,
    proc: &Procedure,
    case: &CaseState,
    act: &Act,
) -> Result<(), Refused> {
    let mut why = Vec::new();
    if case.closed {
        return Err(Refused(vec!["案件已办结归档，不能再办理".into()]));
    }
    let Some(step) = proc.step(&case.step) else {
        return Err(Refused(vec![format!(
            "案件所处步骤 {} 不在流程“{}”中",
            case.step, proc.name
        )]));
    };
    // The transition and its conditions.
    match &act.to {
        None if !proc.is_last(&step.code) => {
            why.push(format!("“{}”之后还须办理下一步骤", step.name));
        }
        None => {}
        Some(to) => match proc.out_of(&step.code).find(|t| &t.to == to) {
            None => {
                let name = proc.step(to).map(|s| s.name.as_str()).unwrap_or(to);
                why.push(format!("流程不允许从“{}”转到“{name}”", step.name));
            }
            Some(t) => {
                for c in &t.when {
                    match c.as_str() {
                        "major" if !case.major => why.push(
                            "本案不属于重大执法决定（未达法制审核目录清单的标准），不经法制审核"
                                .into(),
                        ),
                        "not_major" if case.major => why.push(
                            "本案属于重大执法决定，必须经法制审核后才能作出决定（行政处罚法第五十八条）"
                                .into(),
                        ),
                        _ => {}
                    }
                }
                if let Some(w) = &step.window {
                    let close = due_date(cal, step, w, case);
                    let open = match &close {
                        Due::On(d) => act.day <= *d,
                        Due::Unknown(_) | Due::Paused | Due::NotStarted => true,
                    };
                    let requested = t.when.iter().any(|c| c == "hearing_requested");
                    if requested && !open {
                        why.push(format!(
                            "{}已于 {} 届满，逾期提出的听证要求不予受理",
                            w.label,
                            close.date().map(|d| d.to_string()).unwrap_or_default()
                        ));
                    }
                    if !requested && open && !case.window_waived {
                        let until = match &close {
                            Due::On(d) => format!("至 {d} 届满"),
                            Due::Unknown(e) => e.to_string(),
                            _ => "尚未届满".into(),
                        };
                        why.push(format!(
                            "{}（{until}）尚未届满，当事人也未书面放弃，不能进入下一步（行政处罚法第六十二条）",
                            w.label
                        ));
                    }
                }
            }
        },
    }
    // The role.
    if !step.roles.iter().any(|r| act.roles.contains(r)) {
        let roles: Vec<&str> = step.roles.iter().map(|r| r.label()).collect();
        why.push(format!("“{}”须由{}办理", step.name, roles.join("或")));
    }
    // The day.
    if act.day < case.opened_on {
        why.push(format!(
            "办理日期 {} 早于立案日期 {}",
            act.day, case.opened_on
        ));
    } else if act.day < case.entered_on {
        why.push(format!(
            "办理日期 {} 早于上一步骤的办理日期 {}",
            act.day, case.entered_on
        ));
    }
    if act.day > act.today {
        why.push(format!("办理日期 {} 晚于今天，不能预先登记", act.day));
    }
    // The deadline of the step being completed (past it, only with a leader's recorded
    // approval of the late act; a running pause stops the step either way).
    if let Some(p) = &step.deadline {
        let late_approved = case.late_approved.contains(&step.code);
        match due_date(cal, step, p, case) {
            Due::On(d) if act.day > d && !late_approved => {
                let ext = match &p.extension {
                    Some(e) if !case.extended.contains(&step.code) => {
                        format!("；可在期限届满前经{}批准延长", e.approver.label())
                    }
                    _ => String::new(),
                };
                why.push(format!(
                    "“{}”的期限已于 {d} 届满（{}）{ext}；确需逾期办理的，须先由{}登记逾期原因并批准",
                    step.name,
                    p.basis,
                    LATE_APPROVER.label()
                ));
            }
            Due::Paused => why.push(format!("“{}”的期限正在中止，请先登记中止结束", step.name)),
            _ => {}
        }
    }
    // What the step needs.
    for n in &step.needs {
        if n == "penalty" && !case.has_penalty {
            why.push(format!("完成“{}”前须先登记拟作出的处罚", step.name));
        }
        if n == "evidence" && case.evidence == 0 {
            why.push(format!(
                "完成“{}”前须至少登记一项证据（行政处罚法第四十条：证据不足的，不得给予行政处罚）",
                step.name
            ));
        }
    }
    // 两人以上、持证、亮证、回避.
    if step.investigative {
        let mut ids: Vec<i64> = act.officers.iter().map(|o| o.person_id).collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.len() < 2 {
            why.push(format!(
                "“{}”须由两名以上执法人员办理（行政处罚法第四十二条、行政强制法第十八条）",
                step.name
            ));
        }
        for o in &act.officers {
            if !o.assigned {
                why.push(format!("{} 不是本案承办人员", o.name));
            } else if !o.declared {
                why.push(format!(
                    "{} 尚未就本案作出回避声明（行政处罚法第四十三条）",
                    o.name
                ));
            }
            if let Err(e) = check_assignable(&o.name, &o.credentials, act.day) {
                why.push(e.to_string());
            }
        }
        if act
            .actor_person
            .is_none_or(|p| !act.officers.iter().any(|o| o.person_id == p))
        {
            why.push("登记人须是到场的执法人员之一".into());
        }
        if !act.credentials_shown {
            why.push("须确认已向当事人出示执法证件（行政处罚法第五十五条）".into());
        }
    }
    if why.is_empty() {
        Ok(())
    } else {
        Err(Refused(why))
    }
}

/// Whether a closed case may be reopened: it is closed, the actor holds a role the
/// procedure names for reopening, a reason is given, and the day lies between the day it
/// closed and today.
pub fn check_reopen(
    proc: &Procedure,
    case: &CaseState,
    closed_on: Option<NaiveDate>,
    roles: &[Role],
    day: NaiveDate,
    today: NaiveDate,
    reason: &str,
) -> Result<(), Refused> {
    let mut why = Vec::new();
    let Some(closed_on) = closed_on.filter(|_| case.closed) else {
        return Err(Refused(vec!["案件尚未办结，无须重新开启".into()]));
    };
    if !proc.reopen.roles.iter().any(|r| roles.contains(r)) {
        let names: Vec<&str> = proc.reopen.roles.iter().map(|r| r.label()).collect();
        why.push(format!(
            "重新开启已归档的案件须由{}决定（{}）",
            names.join("或"),
            proc.reopen.basis
        ));
    }
    let reason = reason.trim();
    if reason.chars().count() < 5 {
        why.push("请写明重新开启的理由（至少 5 个字），理由将记入执法记录".into());
    } else if reason.chars().count() > 500 {
        why.push("重新开启的理由不能超过 500 个字".into());
    }
    if day < closed_on {
        why.push(format!("重新开启日期 {day} 早于归档日期 {closed_on}"));
    }
    if day > today {
        why.push(format!("重新开启日期 {day} 晚于今天"));
    }
    if why.is_empty() {
        Ok(())
    } else {
        Err(Refused(why))
    }
}

/// Who approves completing a step after its deadline (the agency's leader — the
/// 行政机关负责人 who answers for the delay).
pub const LATE_APPROVER: Role = Role::Leader;

/// Whether a leader may approve completing the current step late: its deadline has passed
/// (judged on `today`), no such approval is on record yet, and a reason is given. The
/// delay stays on the record: the case stays overdue until the step is done, and the
/// approval and its reason are in the timeline and the archive.
pub fn check_late_approval(
    cal: &Calendar,
    proc: &Procedure,
    case: &CaseState,
    roles: &[Role],
    today: NaiveDate,
    reason: &str,
) -> Result<NaiveDate, Refused> {
    if case.closed {
        return Err(Refused(vec!["案件已办结归档，不能再办理".into()]));
    }
    let step = proc.step(&case.step);
    let due = match step.and_then(|s| s.deadline.as_ref().map(|p| (s, p))) {
        Some((s, p)) => due_date(cal, s, p, case),
        None => return Err(Refused(vec!["当前步骤没有法定期限".into()])),
    };
    let mut why = Vec::new();
    let due = match due {
        Due::On(d) if today > d => d,
        Due::On(d) => {
            return Err(Refused(vec![format!(
                "当前步骤的期限至 {d} 届满，尚未逾期"
            )]));
        }
        _ => return Err(Refused(vec!["当前步骤的期限尚未届满".into()])),
    };
    if case.late_approved.contains(&case.step) {
        why.push("已登记过本步骤的逾期办理批准".into());
    }
    if !roles.contains(&LATE_APPROVER) {
        why.push(format!("逾期办理须由{}批准", LATE_APPROVER.label()));
    }
    if reason.trim().chars().count() < 5 {
        why.push("请写明逾期的原因（至少 5 个字），原因将记入执法记录".into());
    }
    if why.is_empty() {
        Ok(due)
    } else {
        Err(Refused(why))
    }
}

/// Whether the deadline of `step` may be extended by `roles` now: the period allows it,
/// it has not been extended, it has not already passed, and the approver's role is held.
pub fn check_extension(
    cal: &Calendar,
    proc: &Procedure,
    case: &CaseState,
    roles: &[Role],
    day: NaiveDate,
    reason: &str,
) -> Result<(), Refused> {
    let mut why = Vec::new();
    if case.closed {
        return Err(Refused(vec!["案件已办结归档，不能再办理".into()]));
    }
    let step = proc.step(&case.step);
    let period = step.and_then(|s| s.deadline.as_ref());
    let (Some(step), Some(period), Some(ext)) =
        (step, period, period.and_then(|p| p.extension.as_ref()))
    else {
        return Err(Refused(vec!["当前步骤的期限依法不能延长".into()]));
    };
    if case.extended.contains(&step.code) {
        why.push("当前步骤的期限已经延长过，不能再次延长".into());
    }
    if !roles.contains(&ext.approver) {
        why.push(format!("延长期限须经{}批准", ext.approver.label()));
    }
    if reason.trim().chars().count() < 4 {
        why.push("须写明延长的理由（至少 4 个字）".into());
    }
    if let Due::On(d) = due_date(cal, step, period, case)
        && day > d
    {
        why.push(format!("期限已于 {d} 届满，届满后不能再延长"));
    }
    if why.is_empty() {
        Ok(())
    } else {
        Err(Refused(why))
    }
}

/// The deadline that runs out first among the steps a case has not completed and whose
/// period has started — e.g. while a penalty case is still being investigated, the 90 days
/// of 行政处罚法 第六十条 for the decision. `None` for a closed case or one with no running
/// period.
pub fn next_deadline<'p>(
    cal: &Calendar,
    proc: &'p Procedure,
    case: &CaseState,
) -> Option<(&'p Step, Due)> {
    if case.closed {
        return None;
    }
    // Only steps still ahead of the case: a branch not taken (不予许可 skips 颁发) has no
    // deadline running.
    let mut ahead = std::collections::BTreeSet::from([case.step.as_str()]);
    let mut frontier = vec![case.step.as_str()];
    while let Some(at) = frontier.pop() {
        for t in proc.out_of(at) {
            if ahead.insert(t.to.as_str()) {
                frontier.push(t.to.as_str());
            }
        }
    }
    let mut best: Option<(&Step, Due)> = None;
    for step in &proc.steps {
        if case.completed.contains_key(&step.code) || !ahead.contains(step.code.as_str()) {
            continue;
        }
        let Some(p) = &step.deadline else { continue };
        let due = due_date(cal, step, p, case);
        let better = match (&due, best.as_ref().map(|(_, d)| d)) {
            (Due::NotStarted, _) => false,
            (_, None) => true,
            (Due::On(a), Some(Due::On(b))) => a < b,
            // A known date wins over a paused clock or an end beyond the calendar.
            (Due::On(_), Some(_)) => true,
            _ => false,
        };
        if better {
            best = Some((step, due));
        }
    }
    best
}

/// Days from `today` to `due` (negative when overdue).
pub fn days_left(today: NaiveDate, due: NaiveDate) -> i64 {
    (due - today).num_days()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credential::StoredStatus;
    use crate::procedure::shipped;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn penalty_ordinary() -> Procedure {
        shipped()
            .unwrap()
            .into_iter()
            .find(|p| p.code == "penalty-ordinary")
            .unwrap()
    }

    fn state(step: &str, opened: &str) -> CaseState {
        CaseState {
            opened_on: d(opened),
            step: step.into(),
            entered_on: d(opened),
            closed: false,
            completed: BTreeMap::new(),
            extended: vec![],
            late_approved: vec![],
            pauses: vec![],
            window_waived: false,
            has_penalty: false,
            evidence: 1,
            major: false,
        }
    }

    fn officer(id: i64, valid_to: &str) -> OfficerOnAct {
        OfficerOnAct {
            person_id: id,
            name: format!("执法人员{id}"),
            credentials: vec![(
                format!("Z{id:04}"),
                Validity {
                    status: StoredStatus::Valid,
                    valid_from: d("2020-01-01"),
                    valid_to: d(valid_to),
                },
            )],
            assigned: true,
            declared: true,
        }
    }

    fn act(to: &str, day: &str, roles: &[Role], officers: Vec<OfficerOnAct>) -> Act {
        Act {
            to: Some(to.into()),
            day: d(day),
            today: d("2026-11-29"),
            roles: roles.to_vec(),
            actor_person: officers.first().map(|o| o.person_id),
            officers,
            credentials_shown: true,
        }
    }

    fn refused(r: Result<(), Refused>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn case_numbers_follow_the_pattern() {
        let p = NumberPattern::parse("朱堂综执罚〔{年}〕{号}号").unwrap();
        assert_eq!(p.render(2026, 3), "朱堂综执罚〔2026〕3号");
        assert!(NumberPattern::parse("朱堂〔{年}〕号").is_err());
        assert!(NumberPattern::parse("{年}{号}{月}").is_err());
        assert_eq!(
            NumberPattern::default_for("朱堂乡人民政府", "罚").render(2026, 1),
            "朱堂乡罚〔2026〕1号"
        );
    }

    #[test]
    fn an_investigative_act_needs_two_credentialed_officers_who_showed_them() {
        let cal = Calendar::mainland();
        let p = penalty_ordinary();
        let case = state("investigation", "2026-11-02");
        let ok = act(
            "investigation_end",
            "2026-11-10",
            &[Role::Officer],
            vec![officer(1, "2028-01-01"), officer(2, "2028-01-01")],
        );
        assert!(check_act(&cal, &p, &case, &ok).is_ok());
        // One officer alone.
        let alone = act(
            "investigation_end",
            "2026-11-10",
            &[Role::Officer],
            vec![officer(1, "2028-01-01")],
        );
        assert!(refused(check_act(&cal, &p, &case, &alone)).contains("两名以上执法人员"));
        // The same officer twice is still one.
        let twice = act(
            "investigation_end",
            "2026-11-10",
            &[Role::Officer],
            vec![officer(1, "2028-01-01"), officer(1, "2028-01-01")],
        );
        assert!(refused(check_act(&cal, &p, &case, &twice)).contains("两名以上执法人员"));
        // A credential that expired the day before.
        let expired = act(
            "investigation_end",
            "2026-11-10",
            &[Role::Officer],
            vec![officer(1, "2028-01-01"), officer(2, "2026-11-09")],
        );
        assert!(refused(check_act(&cal, &p, &case, &expired)).contains("过期"));
        // Credentials not shown; no 回避 declaration.
        let mut hidden = ok.clone();
        hidden.credentials_shown = false;
        assert!(refused(check_act(&cal, &p, &case, &hidden)).contains("出示执法证件"));
        let mut undeclared = ok.clone();
        undeclared.officers[1].declared = false;
        assert!(refused(check_act(&cal, &p, &case, &undeclared)).contains("回避声明"));
        // No evidence registered (行政处罚法 第四十条).
        let mut bare = case.clone();
        bare.evidence = 0;
        assert!(refused(check_act(&cal, &p, &bare, &ok)).contains("至少登记一项证据"));
    }

    #[test]
    fn only_a_leader_reopens_a_closed_case_with_a_reason() {
        let p = penalty_ordinary();
        let mut case = state("archive", "2026-10-08");
        let today = d("2026-11-29");
        let closed = Some(d("2026-11-20"));
        let why = "复查发现罚款金额计算有误，需更正决定书";
        // Not closed: nothing to reopen.
        assert!(
            refused(check_reopen(
                &p,
                &case,
                None,
                &[Role::Leader],
                today,
                today,
                why
            ))
            .contains("尚未办结")
        );
        case.closed = true;
        assert!(check_reopen(&p, &case, closed, &[Role::Leader], today, today, why).is_ok());
        let r = refused(check_reopen(
            &p,
            &case,
            closed,
            &[Role::Officer, Role::DepartmentHead],
            today,
            today,
            "理由",
        ));
        assert!(r.contains("乡领导"), "{r}");
        assert!(r.contains("理由"), "{r}");
        assert!(
            refused(check_reopen(
                &p,
                &case,
                closed,
                &[Role::Leader],
                d("2026-11-19"),
                today,
                why
            ))
            .contains("早于归档日期")
        );
        // A closed case takes no act.
        let act = act("investigation", "2026-11-29", &[Role::Leader], vec![]);
        let cal = Calendar::mainland();
        assert!(refused(check_act(&cal, &p, &case, &act)).contains("归档"));
    }

    #[test]
    fn the_wrong_step_role_or_day_is_refused() {
        let cal = Calendar::mainland();
        let p = penalty_ordinary();
        let case = state("filing", "2026-11-02");
        let pair = || vec![officer(1, "2028-01-01"), officer(2, "2028-01-01")];
        // 立案 is approved by a department head, not an officer.
        let r = refused(check_act(
            &cal,
            &p,
            &case,
            &act("investigation", "2026-11-03", &[Role::Officer], pair()),
        ));
        assert!(r.contains("须由部门负责人办理"), "{r}");
        // No jump from 立案 to 决定.
        let r = refused(check_act(
            &cal,
            &p,
            &case,
            &act("decision", "2026-11-03", &[Role::DepartmentHead], pair()),
        ));
        assert!(r.contains("流程不允许"), "{r}");
        // Before the case opened; in the future.
        let r = refused(check_act(
            &cal,
            &p,
            &case,
            &act(
                "investigation",
                "2026-11-01",
                &[Role::DepartmentHead],
                pair(),
            ),
        ));
        assert!(r.contains("早于立案日期"), "{r}");
        let r = refused(check_act(
            &cal,
            &p,
            &case,
            &act(
                "investigation",
                "2026-12-01",
                &[Role::DepartmentHead],
                pair(),
            ),
        ));
        assert!(r.contains("晚于今天"), "{r}");
    }

    #[test]
    fn no_decision_while_the_window_is_open_unless_waived() {
        let cal = Calendar::mainland();
        let p = penalty_ordinary();
        let mut case = state("notice", "2026-10-09");
        case.completed.insert("review".into(), d("2026-11-16"));
        case.entered_on = d("2026-11-16");
        case.has_penalty = true;
        // Window: 5 days from 11-16 → 11-21 is a Saturday → 11-23.
        let to_decision = |day: &str| act("decision", day, &[Role::Officer], vec![]);
        let r = refused(check_act(&cal, &p, &case, &to_decision("2026-11-20")));
        assert!(
            r.contains("至 2026-11-23 届满") && r.contains("第六十二条"),
            "{r}"
        );
        assert!(check_act(&cal, &p, &case, &to_decision("2026-11-24")).is_ok());
        case.window_waived = true;
        assert!(check_act(&cal, &p, &case, &to_decision("2026-11-20")).is_ok());
        // A hearing asked for in time, and too late.
        case.window_waived = false;
        assert!(
            check_act(
                &cal,
                &p,
                &case,
                &act("hearing", "2026-11-23", &[Role::Officer], vec![])
            )
            .is_ok()
        );
        let r = refused(check_act(
            &cal,
            &p,
            &case,
            &act("hearing", "2026-11-24", &[Role::Officer], vec![]),
        ));
        assert!(r.contains("逾期提出的听证要求"), "{r}");
    }

    #[test]
    fn a_major_case_cannot_reach_the_decision_without_legal_review() {
        let cal = Calendar::mainland();
        let p = penalty_ordinary();
        let mut case = state("notice", "2026-10-09");
        case.completed.insert("review".into(), d("2026-11-02"));
        case.entered_on = d("2026-11-02");
        case.major = true;
        let r = refused(check_act(
            &cal,
            &p,
            &case,
            &act("decision", "2026-11-20", &[Role::Officer], vec![]),
        ));
        assert!(r.contains("必须经法制审核"), "{r}");
        assert!(
            check_act(
                &cal,
                &p,
                &case,
                &act("legal_review", "2026-11-20", &[Role::Officer], vec![])
            )
            .is_ok()
        );
    }

    #[test]
    fn deadlines_count_on_the_calendar_with_extensions_and_pauses() {
        let cal = Calendar::mainland();
        let all = shipped().unwrap();
        let seizure = all.iter().find(|p| p.code == "seizure").unwrap();
        let step = seizure.step("disposal").unwrap();
        let period = step.deadline.as_ref().unwrap();
        let mut case = state("disposal", "2026-09-01");
        case.completed.insert("enforcement".into(), d("2026-09-01"));
        // 30 days from 09-01 → 10-01 is in the National Day holiday → 10-09 (a make-up
        // working day is 10-10, Saturday; 10-09 is Friday and a working day).
        let base = due_date(&cal, step, period, &case).date().unwrap();
        assert_eq!(base, cal.add_days(d("2026-09-01"), 30).unwrap());
        // A finished pause of 5 days (检测) adds 5 calendar days.
        case.pauses.push(PauseSpan {
            step: "disposal".into(),
            code: "testing".into(),
            start: d("2026-09-10"),
            end: Some(d("2026-09-15")),
        });
        assert_eq!(
            due_date(&cal, step, period, &case).date().unwrap(),
            cal.add_days(d("2026-09-01"), 35).unwrap()
        );
        case.extended.push("disposal".into());
        assert_eq!(
            due_date(&cal, step, period, &case).date().unwrap(),
            cal.add_days(d("2026-09-01"), 65).unwrap()
        );
        // A running pause stops the clock.
        case.pauses.push(PauseSpan {
            step: "disposal".into(),
            code: "testing".into(),
            start: d("2026-10-20"),
            end: None,
        });
        assert_eq!(due_date(&cal, step, period, &case), Due::Paused);
        // A period that reaches a year without data says so.
        let mut late = state("disposal", "2026-12-20");
        late.completed.insert("enforcement".into(), d("2026-12-20"));
        assert!(matches!(
            due_date(&cal, step, period, &late),
            Due::Unknown(_)
        ));
    }

    #[test]
    fn a_branch_not_taken_has_no_deadline_running() {
        let cal = Calendar::mainland();
        let all = shipped().unwrap();
        let licensing = all.iter().find(|p| p.code == "licensing").unwrap();
        let mut case = state("licence_decision", "2026-09-01");
        case.completed.insert("application".into(), d("2026-09-01"));
        case.completed.insert("acceptance".into(), d("2026-09-02"));
        case.completed.insert("examination".into(), d("2026-09-10"));
        // Deciding: the 20 working days of 第四十二条 run.
        let (step, _) = next_deadline(&cal, licensing, &case).unwrap();
        assert_eq!(step.code, "licence_decision");
        // Refused: the case goes to 公开; the 10 days to 颁发 (from the decision) do not run.
        case.completed
            .insert("licence_decision".into(), d("2026-09-20"));
        case.step = "publication".into();
        assert!(next_deadline(&cal, licensing, &case).is_none());
        // Granted: they do.
        case.step = "issue".into();
        assert_eq!(
            next_deadline(&cal, licensing, &case).unwrap().0.code,
            "issue"
        );
    }

    /// A 查封扣押 case at 处置 since 2026-09-02 (its 30 days run to mid-October).
    fn seizure_in_disposal() -> (Calendar, Procedure, CaseState) {
        let seizure = shipped()
            .unwrap()
            .into_iter()
            .find(|p| p.code == "seizure")
            .unwrap();
        let mut case = state("disposal", "2026-09-01");
        case.completed.insert("enforcement".into(), d("2026-09-01"));
        case.entered_on = d("2026-09-02");
        (Calendar::mainland(), seizure, case)
    }

    #[test]
    fn an_act_after_the_deadline_needs_an_extension_first() {
        let (cal, seizure, mut case) = seizure_in_disposal();
        let seizure = &seizure;
        let late = act("archive", "2026-10-20", &[Role::Leader], vec![]);
        let r = refused(check_act(&cal, seizure, &case, &late));
        assert!(r.contains("期限已于") && r.contains("批准延长"), "{r}");
        // Extending after expiry is refused; before it, by a leader with a reason, allowed.
        let r = refused(check_extension(
            &cal,
            seizure,
            &case,
            &[Role::Leader],
            d("2026-10-20"),
            "情况复杂需要检测",
        ));
        assert!(r.contains("届满后不能再延长"), "{r}");
        assert!(
            check_extension(
                &cal,
                seizure,
                &case,
                &[Role::Officer],
                d("2026-09-20"),
                "情况复杂"
            )
            .is_err()
        );
        assert!(
            check_extension(&cal, seizure, &case, &[Role::Leader], d("2026-09-20"), "").is_err()
        );
        assert!(
            check_extension(
                &cal,
                seizure,
                &case,
                &[Role::Leader],
                d("2026-09-20"),
                "情况复杂需要检测"
            )
            .is_ok()
        );
        case.extended.push("disposal".into());
        assert!(check_act(&cal, seizure, &case, &late).is_ok());
    }

    #[test]
    fn a_late_act_needs_a_leaders_recorded_approval() {
        let (cal, seizure, mut case) = seizure_in_disposal();
        let seizure = &seizure;
        let late = act("archive", "2026-11-20", &[Role::Leader], vec![]);
        let r = refused(check_act(&cal, seizure, &case, &late));
        assert!(r.contains("须先由乡领导登记逾期原因"), "{r}");
        // Not before the deadline passed; not by an officer; not without a reason.
        let early = check_late_approval(
            &cal,
            seizure,
            &case,
            &[Role::Leader],
            d("2026-09-10"),
            "当事人下落不明，无法送达",
        )
        .unwrap_err()
        .to_string();
        assert!(early.contains("尚未逾期"), "{early}");
        let r = check_late_approval(
            &cal,
            seizure,
            &case,
            &[Role::Officer],
            d("2026-11-20"),
            "短",
        )
        .unwrap_err()
        .to_string();
        assert!(
            r.contains("须由乡领导批准") && r.contains("逾期的原因"),
            "{r}"
        );
        let due = check_late_approval(
            &cal,
            seizure,
            &case,
            &[Role::Leader],
            d("2026-11-20"),
            "检测机构延迟出具报告",
        )
        .unwrap();
        assert!(due < d("2026-11-20"));
        case.late_approved.push("disposal".into());
        assert!(check_act(&cal, seizure, &case, &late).is_ok());
        assert!(
            check_late_approval(
                &cal,
                seizure,
                &case,
                &[Role::Leader],
                d("2026-11-20"),
                "再次批准逾期"
            )
            .is_err()
        );
    }

    #[test]
    fn summary_fines_are_capped_and_discretion_deviations_need_a_reason() {
        let all = shipped().unwrap();
        let summary = all.iter().find(|p| p.code == "penalty-summary").unwrap();
        let limit = summary.fine_limit.as_ref();
        let input = |fine: &str, row: &str, reason: &str| PenaltyInput {
            measure: "罚款".into(),
            fine_yuan: fine.into(),
            discretion_row: row.into(),
            deviation_reason: reason.into(),
            facts: String::new(),
        };
        let e = check_penalty(&input("201", "", ""), &[], limit, &[PartyKind::Person]).unwrap_err();
        assert!(e.get("fine_yuan").unwrap().contains("200 元以下"));
        assert!(check_penalty(&input("200", "", ""), &[], limit, &[PartyKind::Person]).is_ok());
        assert!(
            check_penalty(
                &input("3000", "", ""),
                &[],
                limit,
                &[PartyKind::Organisation]
            )
            .is_ok()
        );
        assert!(
            check_penalty(
                &input("3001", "", ""),
                &[],
                limit,
                &[PartyKind::Organisation]
            )
            .is_err()
        );
        let mut revoke = input("", "", "");
        revoke.measure = "吊销营业执照".into();
        let e = check_penalty(&revoke, &[], limit, &[PartyKind::Organisation]).unwrap_err();
        assert!(
            e.get("measure")
                .unwrap()
                .contains("只能当场给予警告或者罚款")
        );
        assert!(check_penalty(&revoke, &[], None, &[PartyKind::Organisation]).is_ok());
        let rows =
            vec![DiscretionRow::parse_line("首次违法|一般|责令改正，处罚款|1000|5000").unwrap()];
        let (_, fit) =
            check_penalty(&input("2000", "0", ""), &rows, None, &[PartyKind::Person]).unwrap();
        assert_eq!(fit, DiscretionFit::Within);
        let e =
            check_penalty(&input("8000", "0", ""), &rows, None, &[PartyKind::Person]).unwrap_err();
        assert!(e.get("deviation_reason").unwrap().contains("须说明理由"));
        let (_, fit) = check_penalty(
            &input("8000", "0", "从重情节：拒不改正"),
            &rows,
            None,
            &[PartyKind::Person],
        )
        .unwrap();
        assert!(matches!(fit, DiscretionFit::Outside(_)));
        assert!(check_penalty(&input("-5", "", ""), &rows, None, &[]).is_err());
        assert!(check_penalty(&input("10", "7", ""), &rows, None, &[]).is_err());
    }

    #[test]
    fn parties_need_valid_identifiers() {
        let person = PartyInput {
            kind: "person".into(),
            name: "张三".into(),
            id_code: "11010519491231002X".into(),
            address: "朱堂乡".into(),
        };
        assert!(NewParty::parse(&person, "").is_ok());
        let mut bad = person.clone();
        bad.id_code = "110105194912310021".into();
        let e = NewParty::parse(&bad, "p0_").unwrap_err();
        assert!(e.get("p0_id_code").unwrap().contains("公民身份号码有误"));
        let org = PartyInput {
            kind: "organisation".into(),
            name: "某某有限公司".into(),
            id_code: "91350100M000100Y43".into(),
            address: String::new(),
        };
        assert!(NewParty::parse(&org, "").is_ok());
        let mut bad = org.clone();
        bad.id_code = "91350100M000100Y44".into();
        assert!(NewParty::parse(&bad, "").is_err());
        let mut bad = org;
        bad.kind = "alien".into();
        assert!(NewParty::parse(&bad, "").is_err());
    }
}
