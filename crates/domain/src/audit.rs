//! The audit trail's vocabulary: every action the log records, with its Chinese name;
//! which of them are security events; and which record a failure.
//!
//! GB/T 22239-2019 8.1.4.3 b): 审计记录应包括事件的日期和时间、用户、事件类型、事件是否成功
//! 及其他与审计相关的信息 — the type is the action below, success or failure is
//! [`outcome`].

use crate::FieldErrors;
use chrono::NaiveDate;
use serde::Serialize;

/// Every action a log entry may carry, with the name the audit trail shows.
pub const ACTIONS: &[(&str, &str)] = &[
    ("agency.create", "新建执法主体"),
    ("agency.update", "修改执法主体"),
    ("department.create", "新建承办机构"),
    ("department.update", "修改承办机构"),
    ("person.create", "新建人员"),
    ("person.update", "修改人员"),
    ("leadership.create", "增加领导小组成员"),
    ("leadership.update", "修改领导小组成员"),
    ("leadership.remove", "移除领导小组成员"),
    ("user.create", "新建账号"),
    ("user.roles", "调整角色"),
    ("user.password", "修改密码"),
    ("user.disable", "停用账号"),
    ("user.enable", "启用账号"),
    ("auth.login", "登录"),
    ("auth.logout", "退出登录"),
    ("auth.login_failed", "登录失败"),
    ("auth.locked", "账号锁定"),
    ("access.denied", "越权访问被拒绝"),
    ("token.create", "创建 API 令牌"),
    ("token.revoke", "吊销 API 令牌"),
    ("auth.unlock", "解除登录锁定"),
    ("access.refused", "请求被拒绝（来源或令牌无效）"),
    ("ledger.key_rotate", "更换日志签名密钥"),
    ("credential.create", "登记执法证件"),
    ("credential.update", "修改执法证件"),
    ("credential.status", "变更证件状态"),
    ("credential.token", "重新生成证件二维码"),
    ("item.create", "新建执法事项"),
    ("item.version", "修订执法事项"),
    ("item_version.create", "新增执法事项版本"),
    ("list_entry.create", "新增清单条目"),
    ("list_entry.update", "修改清单条目"),
    ("list_entry.withdraw", "撤回清单条目"),
    ("calendar.year", "导入年度工作日历"),
    ("case_number.pattern", "设定案件编号规则"),
    ("case.open", "登记案件"),
    ("case.act", "办理案件环节"),
    ("case.deadline", "重算办案期限"),
    ("case_officer.assign", "指派承办人员"),
    ("case_officer.declare", "承办人员作出声明"),
    ("case_party.add", "登记当事人"),
    ("case_event.record", "记录执法过程"),
    ("case_evidence.add", "登记证据"),
    ("case_document.issue", "制作执法文书"),
    ("ledger.log_create", "建立执法记录日志"),
    ("integrity.tampered", "拒绝在被篡改的记录上操作"),
    ("ledger.rebase", "确认日志回退并重设签名基线"),
    ("witness.trust", "登记为其见证的日志"),
    ("witness.reset", "重置对某日志的见证"),
    ("witness.use", "登记见证方"),
    ("witness.drop", "移除见证方"),
];

/// The name shown for `action`.
pub fn action_label(action: &str) -> &'static str {
    ACTIONS
        .iter()
        .find(|(code, _)| *code == action)
        .map(|(_, label)| *label)
        .unwrap_or("其他操作")
}

/// An action named in a filter: one of [`ACTIONS`], or refused with a message.
pub fn parse_action(code: &str) -> Result<&'static str, String> {
    ACTIONS
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(c, _)| *c)
        .ok_or_else(|| {
            format!(
                "没有“{}”这种操作，请从列表中选择",
                code.chars().take(40).collect::<String>()
            )
        })
}

/// Authentication and access-control events (logins, logouts, failures, lockouts,
/// denials, refused requests, unlocks). They say who worked when and from where, which is
/// nobody else's business: they are kept in the installation's security log, which only
/// the audit roles read, instead of the agency's public log (GB/T 22239-2019 8.1.4.3 c)
/// 应对审计记录进行保护; 8.1.4.11 b) 应禁止未授权访问和非法使用用户个人信息).
pub fn is_security_event(action: &str) -> bool {
    action.starts_with("auth.") || action.starts_with("access.")
}

/// Whether an entry records something done or something refused or failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Failure,
}

impl Outcome {
    pub fn code(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Outcome::Success => "成功",
            Outcome::Failure => "失败或被拒绝",
        }
    }

    pub fn parse(code: &str) -> Result<Self, String> {
        match code {
            "success" => Ok(Outcome::Success),
            "failure" => Ok(Outcome::Failure),
            _ => Err("结果只能是“成功”或“失败或被拒绝”".into()),
        }
    }
}

/// The actions that record a failure or a refusal: a wrong password, a lockout, a denied
/// or refused request, an act refused on a tampered row. Every other entry records an
/// act that was done.
pub const FAILURES: &[&str] = &[
    "auth.login_failed",
    "auth.locked",
    "access.denied",
    "access.refused",
    "integrity.tampered",
];

pub fn outcome(action: &str) -> Outcome {
    if FAILURES.contains(&action) {
        Outcome::Failure
    } else {
        Outcome::Success
    }
}

/// The actions of one outcome (for a filter the database applies).
pub fn actions_with(outcome_wanted: Outcome) -> Vec<&'static str> {
    ACTIONS
        .iter()
        .map(|(c, _)| *c)
        .filter(|c| outcome(c) == outcome_wanted)
        .collect()
}

/// How long audit data must be kept at least: 网络安全法 第二十一条（三）“采取监测、记录
/// 网络运行状态、网络安全事件的技术措施，并按照规定留存相关的网络日志不少于六个月”.
pub const RETENTION_MONTHS: u32 = 6;

/// Entries on one page of the audit trail.
pub const PAGE_SIZE: usize = 50;

/// The furthest page: a reading of older records goes by date instead (each page is read
/// from the newest entry back, so a deep page costs what all the pages before it cost).
pub const MAX_PAGE: usize = 2000;

/// The most entries one CSV export holds.
pub const EXPORT_LIMIT: usize = 50_000;

/// The audit trail's filter as typed (query parameters; empty means "any").
#[derive(Debug, Clone, Default)]
pub struct TrailInput {
    pub user: String,
    pub action: String,
    pub result: String,
    pub from: String,
    pub to: String,
    pub page: String,
}

/// The audit trail's filter, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailQuery {
    /// The account's user name (the caller finds the account).
    pub user: Option<String>,
    pub action: Option<&'static str>,
    pub result: Option<Outcome>,
    /// From the start of `from` to the end of `to`, Beijing time (epoch ms, the end
    /// exclusive).
    pub from_ms: Option<i64>,
    pub until_ms: Option<i64>,
    pub page: usize,
}

/// Midnight at the start of `day`, Beijing time (UTC+8, no daylight saving), epoch ms.
fn beijing_midnight_ms(day: NaiveDate) -> i64 {
    day.and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc()
        .timestamp_millis()
        - 8 * 3_600_000
}

fn parse_day(s: &str, field: &str, errors: &mut FieldErrors) -> Option<NaiveDate> {
    if s.is_empty() {
        return None;
    }
    match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        Ok(d) if (2000..=2100).contains(&chrono::Datelike::year(&d)) => Some(d),
        Ok(_) => {
            errors.add(field, "日期应在 2000 年至 2100 年之间");
            None
        }
        Err(_) => {
            errors.add(field, "日期格式应为“年-月-日”，如 2026-01-31");
            None
        }
    }
}

impl TrailQuery {
    /// Checks every field at once; each problem is named in Chinese by its field.
    pub fn parse(input: &TrailInput) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let user = Some(input.user.trim().to_owned()).filter(|u| !u.is_empty());
        let action = match input.action.trim() {
            "" => None,
            a => parse_action(a).map_err(|m| errors.add("action", m)).ok(),
        };
        let result = match input.result.trim() {
            "" => None,
            r => Outcome::parse(r).map_err(|m| errors.add("result", m)).ok(),
        };
        let from = parse_day(input.from.trim(), "from", &mut errors);
        let to = parse_day(input.to.trim(), "to", &mut errors);
        if let (Some(f), Some(t)) = (from, to)
            && f > t
        {
            errors.add("to", "结束日期不能早于开始日期");
        }
        let page = match input.page.trim() {
            "" => 1,
            p if !p.chars().all(|c| c.is_ascii_digit()) || p.trim_start_matches('0').is_empty() => {
                errors.add("page", "页码应为正整数");
                1
            }
            p => match p.parse::<usize>() {
                Ok(n) if n <= MAX_PAGE => n,
                _ => {
                    errors.add(
                        "page",
                        format!("页码过大（最多 {MAX_PAGE} 页）：请按日期缩小范围后查看更早的记录"),
                    );
                    1
                }
            },
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(TrailQuery {
            user,
            action,
            result,
            from_ms: from.map(beijing_midnight_ms),
            until_ms: to.and_then(|t| t.succ_opt()).map(beijing_midnight_ms),
            page,
        })
    }

    /// The actions the trail is limited to (`None`: all); empty when the action and the
    /// result chosen exclude each other.
    pub fn actions(&self) -> Option<Vec<&'static str>> {
        match (self.action, self.result) {
            (None, None) => None,
            (Some(a), None) => Some(vec![a]),
            (None, Some(r)) => Some(actions_with(r)),
            (Some(a), Some(r)) => Some(if outcome(a) == r { vec![a] } else { vec![] }),
        }
    }

    /// Entries before this page.
    pub fn skip(&self) -> usize {
        (self.page - 1) * PAGE_SIZE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_is_named_once() {
        let mut codes: Vec<&str> = ACTIONS.iter().map(|(c, _)| *c).collect();
        codes.sort_unstable();
        let n = codes.len();
        codes.dedup();
        assert_eq!(codes.len(), n, "an action listed twice");
        for (c, label) in ACTIONS {
            assert_eq!(action_label(c), *label);
            assert_eq!(parse_action(c), Ok(*c));
        }
        assert_eq!(action_label("no.such"), "其他操作");
        assert!(
            parse_action("no.such")
                .unwrap_err()
                .contains("没有“no.such”这种操作")
        );
        for f in FAILURES {
            assert!(ACTIONS.iter().any(|(c, _)| c == f), "{f} has no name");
        }
    }

    #[test]
    fn logins_failures_and_denials_are_security_events_and_changes_are_not() {
        for a in [
            "auth.login",
            "auth.logout",
            "auth.login_failed",
            "auth.locked",
            "auth.unlock",
            "access.denied",
            "access.refused",
        ] {
            assert!(is_security_event(a), "{a}");
        }
        for a in [
            "user.roles",
            "case.act",
            "ledger.log_create",
            "integrity.tampered",
        ] {
            assert!(!is_security_event(a), "{a}");
        }
    }

    #[test]
    fn failures_and_refusals_are_told_from_acts() {
        assert_eq!(outcome("auth.login_failed"), Outcome::Failure);
        assert_eq!(outcome("access.denied"), Outcome::Failure);
        assert_eq!(outcome("auth.login"), Outcome::Success);
        assert_eq!(outcome("case.act"), Outcome::Success);
        let failures = actions_with(Outcome::Failure);
        let successes = actions_with(Outcome::Success);
        assert_eq!(failures.len(), FAILURES.len());
        assert_eq!(failures.len() + successes.len(), ACTIONS.len());
        assert_eq!(Outcome::parse("failure"), Ok(Outcome::Failure));
        assert!(Outcome::parse("maybe").is_err());
    }

    fn input(f: impl FnOnce(&mut TrailInput)) -> TrailInput {
        let mut i = TrailInput::default();
        f(&mut i);
        i
    }

    #[test]
    fn a_trail_query_is_checked_field_by_field() {
        let q = TrailQuery::parse(&TrailInput::default()).unwrap();
        assert_eq!((q.page, q.skip(), q.actions()), (1, 0, None));
        let q = TrailQuery::parse(&input(|i| {
            i.user = " officer ".into();
            i.action = "auth.login".into();
            i.from = "2026-03-01".into();
            i.to = "2026-03-01".into();
            i.page = "3".into();
        }))
        .unwrap();
        assert_eq!(q.user.as_deref(), Some("officer"));
        assert_eq!(q.actions(), Some(vec!["auth.login"]));
        // 2026-03-01 00:00 in Beijing is 2026-02-28 16:00 UTC; the day is 24 hours.
        assert_eq!(q.from_ms, Some(1_772_294_400_000));
        assert_eq!(q.until_ms, Some(1_772_294_400_000 + 86_400_000));
        assert_eq!(q.skip(), 2 * PAGE_SIZE);
        let e = TrailQuery::parse(&input(|i| {
            i.action = "drop.table".into();
            i.result = "maybe".into();
            i.from = "2026-13-01".into();
            i.to = "yesterday".into();
            i.page = "0".into();
        }))
        .unwrap_err();
        assert!(
            e.get("action")
                .unwrap()
                .contains("没有“drop.table”这种操作")
        );
        assert!(e.get("result").is_some());
        assert!(e.get("from").unwrap().contains("2026-01-31"));
        assert!(e.get("to").is_some());
        assert_eq!(e.get("page"), Some("页码应为正整数"));
        for huge in ["2001", "99999999999999999999999"] {
            let e = TrailQuery::parse(&input(|i| i.page = huge.into())).unwrap_err();
            assert!(e.get("page").unwrap().contains("页码过大"), "{huge}");
        }
        let e = TrailQuery::parse(&input(|i| i.page = "-1".into())).unwrap_err();
        assert_eq!(e.get("page"), Some("页码应为正整数"));
        let e = TrailQuery::parse(&input(|i| {
            i.from = "2026-03-02".into();
            i.to = "2026-03-01".into();
        }))
        .unwrap_err();
        assert_eq!(e.get("to"), Some("结束日期不能早于开始日期"));
        let e = TrailQuery::parse(&input(|i| i.from = "1970-01-01".into())).unwrap_err();
        assert!(e.get("from").unwrap().contains("2000"));
    }

    #[test]
    fn an_action_and_a_result_that_exclude_each_other_find_nothing() {
        let q = TrailQuery::parse(&input(|i| {
            i.action = "auth.login".into();
            i.result = "failure".into();
        }))
        .unwrap();
        assert_eq!(q.actions(), Some(vec![]));
        let q = TrailQuery::parse(&input(|i| i.result = "failure".into())).unwrap();
        assert_eq!(q.actions(), Some(actions_with(Outcome::Failure)));
    }
}
