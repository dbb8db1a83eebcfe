//! Cases: reads on [`Store`]; opening a case and every act on it as one [`WriteTx`] each.
//!
//! The rules are the domain's (`zhifa_domain::case`): this module gathers what they need
//! — the case's state from its events, the officers' credentials, the calendar, the
//! agency's 法制审核目录清单 — asks them, and writes the act. The case row carries a
//! version: an act names the version it was decided on, so of two users finishing the
//! same step at once, one succeeds and the other is told the case changed.

use crate::case_search::Narrowing;
use crate::catalog::ItemVersion;
use crate::db::Store;
use crate::error::StoreError;
use crate::write::{Actor, WriteTx};
use chrono::NaiveDate;
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::Row;
use sqlx::any::AnyRow;
use std::collections::BTreeMap;
use zhifa_domain::case::{
    Act, CaseState, DiscretionFit, NewParty, NumberPattern, OfficerOnAct, PauseSpan, Penalty,
    PenaltyInput, Refused, check_act, check_extension, check_late_approval, check_penalty,
    check_reopen, next_deadline, party_kind_code, party_kind_from_code,
};
use zhifa_domain::catalog::{DiscretionRow, ItemCategory};
use zhifa_domain::credential::{CredentialKind, check_assignable, parse_date};
use zhifa_domain::lists::{DecisionFacts, ListKind, PartyKind, major_reasons};
use zhifa_domain::procedure::{self, Procedure};
use zhifa_domain::validation::required_text;
use zhifa_domain::{FieldErrors, Role};

/// A case as listed.
#[derive(Debug, Clone, Serialize)]
pub struct CaseRow {
    pub id: i64,
    pub agency_id: i64,
    pub department_id: i64,
    pub department: String,
    pub procedure: String,
    pub number: String,
    pub item_id: Option<i64>,
    pub cause: String,
    pub step: String,
    pub entered_on: String,
    pub opened_on: String,
    pub closed_on: Option<String>,
    pub due_on: Option<String>,
    pub penalty: Option<Penalty>,
    /// The 法制审核目录清单 rules the proposed decision meets (empty: not major).
    pub major: Vec<String>,
    pub window_waived: bool,
    pub version: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Party {
    pub id: i64,
    pub kind: PartyKind,
    pub name: String,
    pub id_code: String,
    pub address: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaseOfficer {
    pub id: i64,
    pub person_id: i64,
    pub name: String,
    /// The day the officer declared no ground of withdrawal applies (回避声明).
    pub declared_on: Option<String>,
    pub version: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaseEvent {
    pub id: i64,
    pub kind: String,
    pub step: String,
    pub to_step: Option<String>,
    pub on_day: String,
    pub user_name: Option<String>,
    pub detail: Value,
    pub created_at: i64,
}

/// A case with everything recorded on it.
#[derive(Debug, Clone, Serialize)]
pub struct CaseFile {
    pub case: CaseRow,
    pub parties: Vec<Party>,
    pub officers: Vec<CaseOfficer>,
    pub events: Vec<CaseEvent>,
    /// The calendar's stamp, read with the case (an act needs both).
    #[serde(skip)]
    calendar_stamp: crate::calendar::Stamp,
}

fn day(s: &str) -> Result<NaiveDate, StoreError> {
    parse_date(s).ok_or_else(|| StoreError::Corrupt(format!("case date {s}")))
}

impl CaseFile {
    pub fn procedure(&self) -> Result<&'static Procedure, StoreError> {
        procedure::find(&self.case.procedure).ok_or_else(|| {
            StoreError::Corrupt(format!("unknown procedure {}", self.case.procedure))
        })
    }

    /// What the rules know of the case, rebuilt from its row and events.
    pub fn state(&self) -> Result<CaseState, StoreError> {
        let mut completed = BTreeMap::new();
        let mut extended = Vec::new();
        let mut late_approved = Vec::new();
        let mut pauses: Vec<PauseSpan> = Vec::new();
        let mut evidence = 0;
        for e in &self.events {
            let on = day(&e.on_day)?;
            match e.kind.as_str() {
                "advance" => {
                    completed.insert(e.step.clone(), on);
                }
                "extend" => extended.push(e.step.clone()),
                "late" => late_approved.push(e.step.clone()),
                "evidence" => evidence += 1,
                // Reopening a closed case undoes the completion of its last step.
                "reopen" => {
                    completed.remove(&e.step);
                    // An approval of lateness was for the completion now undone.
                    late_approved.retain(|s| s != &e.step);
                }
                "pause" => pauses.push(PauseSpan {
                    step: e.step.clone(),
                    code: e.detail["code"].as_str().unwrap_or_default().to_owned(),
                    start: on,
                    end: None,
                }),
                "resume" => {
                    if let Some(p) = pauses
                        .iter_mut()
                        .rev()
                        .find(|p| p.step == e.step && p.end.is_none())
                    {
                        p.end = Some(on);
                    }
                }
                _ => {}
            }
        }
        Ok(CaseState {
            opened_on: day(&self.case.opened_on)?,
            step: self.case.step.clone(),
            entered_on: day(&self.case.entered_on)?,
            closed: self.case.closed_on.is_some(),
            completed,
            extended,
            late_approved,
            pauses,
            window_waived: self.case.window_waived,
            has_penalty: self.case.penalty.is_some(),
            evidence,
            major: !self.case.major.is_empty(),
        })
    }

    pub fn party_kinds(&self) -> Vec<PartyKind> {
        self.parties.iter().map(|p| p.kind).collect()
    }
}

const CASE_COLS: &str = "c.id, c.agency_id, c.department_id, d.name AS department, c.procedure,
    c.number, c.item_id, c.cause, c.step, c.entered_on, c.opened_on, c.closed_on, c.due_on,
    c.penalty, c.major, c.window_waived, c.version, c.updated_at";
const CASE_FROM: &str = "cases c JOIN departments d ON d.id = c.department_id";

/// The case row with the calendar's stamp (an act needs both; one query).
async fn read_case_row<'e, E>(
    e: E,
    id: i64,
) -> Result<(CaseRow, crate::calendar::Stamp), StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let r = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {CASE_COLS}, {} FROM {CASE_FROM} WHERE c.id = $1",
        crate::calendar::CALENDAR_STAMP
    )))
    .bind(id)
    .fetch_optional(e)
    .await?
    .ok_or(StoreError::NotFound)?;
    Ok((case_row(&r)?, (r.try_get("cal_n")?, r.try_get("cal_at")?)))
}

fn party_of(r: &AnyRow) -> Result<Party, StoreError> {
    let kind: String = r.try_get("kind")?;
    Ok(Party {
        id: r.try_get("id")?,
        kind: party_kind_from_code(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("party kind {kind}")))?,
        name: r.try_get("name")?,
        id_code: r.try_get("id_code")?,
        address: r.try_get("address")?,
    })
}

fn officer_of(r: &AnyRow) -> Result<CaseOfficer, StoreError> {
    Ok(CaseOfficer {
        id: r.try_get("id")?,
        person_id: r.try_get("person_id")?,
        name: r.try_get("name")?,
        declared_on: r.try_get("declared_on")?,
        version: r.try_get("version")?,
    })
}

fn event_of(r: &AnyRow) -> Result<CaseEvent, StoreError> {
    let detail: String = r.try_get("detail")?;
    Ok(CaseEvent {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        step: r.try_get("step")?,
        to_step: r.try_get("to_step")?,
        on_day: r.try_get("on_day")?,
        user_name: r.try_get("user_name")?,
        detail: serde_json::from_str(&detail)
            .map_err(|e| StoreError::Corrupt(format!("case event: {e}")))?,
        created_at: r.try_get("created_at")?,
    })
}

/// The case file as an act reads it, each statement also selecting every column of its
/// rows' snapshots, so that the rows the act decides from are the rows checked against
/// their entries (`guard.rs`), read once.
const ACT_CASE: &str = "SELECT c.id, c.agency_id, c.department_id, d.name AS department,
    c.procedure, c.number, c.year, c.seq, c.item_id, c.cause, c.step, c.entered_on,
    c.opened_on, c.closed_on, c.due_on, c.penalty, c.major, c.window_waived, c.version,
    c.created_at, c.updated_at";
const ACT_PARTIES: &str = "SELECT id, case_id, kind, name, id_code, address, created_at
    FROM case_parties WHERE case_id = $1 ORDER BY id";
const ACT_OFFICERS: &str = "SELECT o.id, o.case_id, o.person_id, p.name, o.declared_on,
    o.version, o.created_at, o.updated_at
    FROM case_officers o JOIN people p ON p.id = o.person_id WHERE o.case_id = $1 ORDER BY o.id";
const ACT_EVENTS: &str = "SELECT e.id, e.case_id, e.kind, e.step, e.to_step, e.on_day,
    e.user_id, u.display_name AS user_name, e.detail, e.created_at
    FROM case_events e LEFT JOIN users u ON u.id = e.user_id WHERE e.case_id = $1 ORDER BY e.id";

async fn read_parties<'e, E>(e: E, id: i64) -> Result<Vec<Party>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query(
        "SELECT id, kind, name, id_code, address FROM case_parties WHERE case_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(e)
    .await?
    .iter()
    .map(party_of)
    .collect()
}

async fn read_officers<'e, E>(e: E, id: i64) -> Result<Vec<CaseOfficer>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query(
        "SELECT o.id, o.person_id, p.name, o.declared_on, o.version FROM case_officers o
         JOIN people p ON p.id = o.person_id WHERE o.case_id = $1 ORDER BY o.id",
    )
    .bind(id)
    .fetch_all(e)
    .await?
    .iter()
    .map(officer_of)
    .collect()
}

async fn read_events<'e, E>(e: E, id: i64) -> Result<Vec<CaseEvent>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query(
        "SELECT e.id, e.kind, e.step, e.to_step, e.on_day, u.display_name AS user_name,
            e.detail, e.created_at
         FROM case_events e LEFT JOIN users u ON u.id = e.user_id
         WHERE e.case_id = $1 ORDER BY e.id",
    )
    .bind(id)
    .fetch_all(e)
    .await?
    .iter()
    .map(event_of)
    .collect()
}

/// Each person's name and enforcement credentials (number and validity), for the 持证上岗
/// check: one query for all of them. A person who does not exist is refused.
type OfficerCredentials =
    BTreeMap<i64, (String, Vec<(String, zhifa_domain::credential::Validity)>)>;

async fn read_officer_credentials<'e, E>(
    e: E,
    people: &[i64],
) -> Result<OfficerCredentials, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let mut out = OfficerCredentials::new();
    if people.is_empty() {
        return Ok(out);
    }
    // Ids are integers: inlined, so one statement serves any number of people.
    let ids: Vec<String> = people.iter().map(i64::to_string).collect();
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT p.id, p.name, c.number, c.valid_from, c.valid_to, c.status
         FROM people p LEFT JOIN credentials c ON c.person_id = p.id AND c.kind = '{}'
         WHERE p.id IN ({}) ORDER BY p.id, c.id",
        CredentialKind::Enforcement.code(),
        ids.join(", ")
    )))
    .fetch_all(e)
    .await?;
    for r in &rows {
        let entry = out
            .entry(r.try_get::<i64, _>("id")?)
            .or_insert_with(|| (String::new(), Vec::new()));
        entry.0 = r.try_get("name")?;
        if let Some(number) = r.try_get::<Option<String>, _>("number")? {
            let status: String = r.try_get("status")?;
            let status = zhifa_domain::credential::StoredStatus::from_code(&status)
                .ok_or_else(|| StoreError::Corrupt(format!("credential status {status}")))?;
            let from: String = r.try_get("valid_from")?;
            let to: String = r.try_get("valid_to")?;
            entry
                .1
                .push((number, crate::credentials::validity_of(status, &from, &to)));
        }
    }
    if people.iter().any(|p| !out.contains_key(p)) {
        return Err(StoreError::field("officers", "所选执法人员不存在"));
    }
    Ok(out)
}

fn case_row(r: &AnyRow) -> Result<CaseRow, StoreError> {
    let penalty: String = r.try_get("penalty")?;
    let major: String = r.try_get("major")?;
    Ok(CaseRow {
        id: r.try_get("id")?,
        agency_id: r.try_get("agency_id")?,
        department_id: r.try_get("department_id")?,
        department: r.try_get("department")?,
        procedure: r.try_get("procedure")?,
        number: r.try_get("number")?,
        item_id: r.try_get("item_id")?,
        cause: r.try_get("cause")?,
        step: r.try_get("step")?,
        entered_on: r.try_get("entered_on")?,
        opened_on: r.try_get("opened_on")?,
        closed_on: r.try_get("closed_on")?,
        due_on: r.try_get("due_on")?,
        penalty: if penalty.is_empty() {
            None
        } else {
            Some(
                serde_json::from_str(&penalty)
                    .map_err(|e| StoreError::Corrupt(format!("case penalty: {e}")))?,
            )
        },
        major: major
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
        window_waived: r.try_get::<i64, _>("window_waived")? != 0,
        version: r.try_get("version")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// Which cases a list shows.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    pub status: CaseStatusFilter,
    pub department_id: Option<i64>,
    /// Cases this person is an officer of.
    pub officer: Option<i64>,
    pub procedure: Option<String>,
    /// Words, each in the number, the cause, or a party's name or identifier (all must
    /// match).
    pub q: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CaseStatusFilter {
    #[default]
    All,
    Open,
    /// Open, with its next deadline within 7 days (today included).
    DueSoon,
    /// Open, with its next deadline passed.
    Overdue,
    Closed,
}

impl CaseStatusFilter {
    pub fn code(self) -> &'static str {
        match self {
            Self::All => "",
            Self::Open => "open",
            Self::DueSoon => "due_soon",
            Self::Overdue => "overdue",
            Self::Closed => "closed",
        }
    }

    pub fn from_code(code: &str) -> Self {
        [Self::Open, Self::DueSoon, Self::Overdue, Self::Closed]
            .into_iter()
            .find(|s| s.code() == code)
            .unwrap_or_default()
    }
}

enum Bind {
    Int(i64),
    Text(String),
}

/// Days ahead that count as "due soon" on the dashboards.
pub const DUE_SOON_DAYS: u64 = 7;

/// Today and the last day that counts as "due soon".
fn due_soon_window() -> (NaiveDate, NaiveDate) {
    let today = today();
    let soon = today
        .checked_add_days(chrono::Days::new(DUE_SOON_DAYS))
        .unwrap_or(today);
    (today, soon)
}

/// A case to open (立案).
#[derive(Debug, Clone)]
pub struct OpenCase {
    pub agency_id: i64,
    pub department_id: i64,
    pub procedure: String,
    pub item_id: Option<i64>,
    pub cause: String,
    pub opened_on: NaiveDate,
    pub parties: Vec<NewParty>,
    /// The people assigned to the case (承办人员), at least two.
    pub officers: Vec<i64>,
}

/// Who acts on a case.
#[derive(Debug, Clone)]
pub struct CaseActor {
    pub user_id: i64,
    pub person_id: Option<i64>,
    pub roles: Vec<Role>,
}

/// An act completing the current step.
#[derive(Debug, Clone)]
pub struct Advance {
    /// The next step (`None` at the last step, which ends the case).
    pub to: Option<String>,
    pub day: NaiveDate,
    /// The officers present (for an investigative step).
    pub officers: Vec<i64>,
    pub credentials_shown: bool,
    pub note: String,
}

/// Other recorded acts on a case.
#[derive(Debug, Clone)]
pub enum Record {
    /// The party waived the current step's window in writing (行政处罚法 第六十二条).
    Waiver { day: NaiveDate, note: String },
    /// The deadline of the current step extended (with its reason), by its approver.
    Extension { day: NaiveDate, reason: String },
    /// A pause of the current step's deadline begins (code from the procedure).
    Pause {
        code: String,
        day: NaiveDate,
        note: String,
    },
    /// The running pause ends.
    Resume { day: NaiveDate },
    /// The current step's deadline has passed; a leader approves completing it late, with
    /// the reason for the delay.
    LateApproval { day: NaiveDate, reason: String },
}

fn refused(r: Refused) -> StoreError {
    let mut e = FieldErrors::new();
    for m in r.0 {
        e.add("act", m);
    }
    StoreError::Invalid(e)
}

fn today() -> NaiveDate {
    crate::time::today_beijing()
}

impl Store {
    /// A case with its parties, officers and events: four reads, run at once on the
    /// pool's connections.
    pub async fn case_file(&self, id: i64) -> Result<CaseFile, StoreError> {
        let ((case, calendar_stamp), parties, officers, events) = tokio::try_join!(
            read_case_row(&self.pool, id),
            read_parties(&self.pool, id),
            read_officers(&self.pool, id),
            read_events(&self.pool, id)
        )?;
        Ok(CaseFile {
            case,
            parties,
            officers,
            events,
            calendar_stamp,
        })
    }

    /// One page of an agency's cases, newest first, with the number of all that match.
    pub async fn list_cases(
        &self,
        agency_id: i64,
        f: &CaseFilter,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<CaseRow>, i64), StoreError> {
        self.list_cases_counted(agency_id, f, limit, offset, None)
            .await
    }

    /// [`Store::list_cases`], with the number of matching cases already known (`Some`:
    /// the caller's cache, valid while the agency's log has not grown) or counted (`None`).
    pub async fn list_cases_counted(
        &self,
        agency_id: i64,
        f: &CaseFilter,
        limit: i64,
        offset: i64,
        known_total: Option<i64>,
    ) -> Result<(Vec<CaseRow>, i64), StoreError> {
        let (today, soon) = due_soon_window();
        let mut cond = vec!["c.agency_id = $1".to_owned()];
        let mut binds: Vec<Bind> = Vec::new();
        let bind = |v: Bind, binds: &mut Vec<Bind>| {
            binds.push(v);
            format!("${}", binds.len() + 1)
        };
        match f.status {
            CaseStatusFilter::All => {}
            CaseStatusFilter::Open => cond.push("c.closed_on IS NULL".into()),
            CaseStatusFilter::Closed => cond.push("c.closed_on IS NOT NULL".into()),
            CaseStatusFilter::Overdue => {
                let t = bind(Bind::Text(today.to_string()), &mut binds);
                cond.push(format!("c.closed_on IS NULL AND c.due_on < {t}"));
            }
            CaseStatusFilter::DueSoon => {
                let t = bind(Bind::Text(today.to_string()), &mut binds);
                let s = bind(Bind::Text(soon.to_string()), &mut binds);
                cond.push(format!(
                    "c.closed_on IS NULL AND c.due_on >= {t} AND c.due_on <= {s}"
                ));
            }
        }
        if let Some(d) = f.department_id {
            let p = bind(Bind::Int(d), &mut binds);
            cond.push(format!("c.department_id = {p}"));
        }
        if let Some(o) = f.officer {
            let p = bind(Bind::Int(o), &mut binds);
            cond.push(format!(
                "c.id IN (SELECT case_id FROM case_officers WHERE person_id = {p})"
            ));
        }
        if let Some(code) = &f.procedure {
            let p = bind(Bind::Text(code.clone()), &mut binds);
            cond.push(format!("c.procedure = {p}"));
        }
        // At most five words, each somewhere in the case: 案号, 案由, or a party (name,
        // 身份证号 or 统一社会信用代码 — officers look a case up by who it is about). The
        // search starts from the cases having the words' rarest piece (`case_search`);
        // each word is then checked exactly. The parties' match is one uncorrelated
        // subquery (evaluated once), not one per case.
        // Typed text is stored normalised and free of control and invisible format
        // characters (`domain::validation`), so a search is too: a NUL (which PostgreSQL
        // refuses in any string) or a zero-width space matches nothing anyway.
        let typed = zhifa_domain::validation::normalized(f.q.as_deref().unwrap_or_default());
        let typed: String = typed
            .chars()
            .map(|c| {
                if c.is_control() || zhifa_domain::validation::is_invisible_format(c) {
                    ' '
                } else {
                    c
                }
            })
            .collect();
        let words: Vec<&str> = typed.split_whitespace().take(5).collect();
        if !words.is_empty() {
            match self.narrowing(agency_id, &words).await? {
                Narrowing::Empty => return Ok((Vec::new(), 0)),
                Narrowing::None => {}
                Narrowing::From(g) => {
                    let p = bind(Bind::Text(g), &mut binds);
                    cond.push(format!(
                        "c.id IN (SELECT case_id FROM case_words WHERE agency_id = $1 AND gram = {p})"
                    ));
                }
            }
        }
        for w in words {
            let p = bind(Bind::Text(crate::catalog::like(w)), &mut binds);
            cond.push(format!(
                "(c.number LIKE {p} ESCAPE '\\' OR c.cause LIKE {p} ESCAPE '\\'
                  OR c.id IN (SELECT s.case_id FROM case_parties s
                     WHERE s.name LIKE {p} ESCAPE '\\' OR s.id_code LIKE {p} ESCAPE '\\'))"
            ));
        }
        let wh = cond.join(" AND ");
        let count_sql = format!("SELECT COUNT(*) FROM cases c WHERE {wh}");
        let mut count =
            sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(count_sql)).bind(agency_id);
        for b in &binds {
            count = match b {
                Bind::Int(i) => count.bind(*i),
                Bind::Text(t) => count.bind(t.clone()),
            };
        }
        let total = match known_total {
            Some(t) => t,
            None => count.fetch_one(&self.pool).await?,
        };
        let order = match f.status {
            CaseStatusFilter::Overdue | CaseStatusFilter::DueSoon => "c.due_on, c.id",
            _ => "c.id DESC",
        };
        // The page's ids first, from the cases table alone (an index walk when it can be):
        // an OFFSET deep into the list then skips index entries, not joined, decoded rows.
        let sql = format!(
            "SELECT {CASE_COLS} FROM {CASE_FROM} WHERE c.id IN
               (SELECT c.id FROM cases c WHERE {wh} ORDER BY {order} LIMIT {limit} OFFSET {offset})
             ORDER BY {order}"
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(agency_id);
        for b in &binds {
            q = match b {
                Bind::Int(i) => q.bind(*i),
                Bind::Text(t) => q.bind(t.clone()),
            };
        }
        let rows = q.fetch_all(&self.pool).await?;
        let rows = rows.iter().map(case_row).collect::<Result<Vec<_>, _>>()?;
        Ok((rows, total))
    }

    /// Counts of an agency's open cases: (open, due within 7 days, overdue), for one
    /// department or all.
    pub async fn case_counts(
        &self,
        agency_id: i64,
        department_id: Option<i64>,
    ) -> Result<(i64, i64, i64), StoreError> {
        let (today, soon) = due_soon_window();
        // Three counts, each a range of one index (no row is read).
        let dept = match department_id {
            Some(_) => "AND department_id = $2",
            None => "AND $2 = 0",
        };
        let count = |cond: &'static str, a: Option<String>, b: Option<String>| {
            let sql = format!(
                "SELECT COUNT(*) FROM cases WHERE agency_id = $1 {dept} AND closed_on IS NULL {cond}"
            );
            let pool = self.pool.clone();
            async move {
                let mut q = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
                    .bind(agency_id)
                    .bind(department_id.unwrap_or(0));
                for v in [a, b].into_iter().flatten() {
                    q = q.bind(v);
                }
                q.fetch_one(&pool).await
            }
        };
        let open = count("", None, None).await?;
        let due_soon = count(
            "AND due_on >= $3 AND due_on <= $4",
            Some(today.to_string()),
            Some(soon.to_string()),
        )
        .await?;
        let overdue = count("AND due_on < $3", Some(today.to_string()), None).await?;
        Ok((open, due_soon, overdue))
    }

    /// The pattern of case numbers of one procedure in an agency.
    pub async fn case_number_pattern(
        &self,
        agency_id: i64,
        proc: &Procedure,
    ) -> Result<NumberPattern, StoreError> {
        let stored: Option<String> = sqlx::query_scalar(
            "SELECT pattern FROM case_number_patterns WHERE agency_id = $1 AND procedure = $2",
        )
        .bind(agency_id)
        .bind(proc.code.clone())
        .fetch_optional(&self.pool)
        .await?;
        match stored {
            Some(p) => NumberPattern::parse(&p).map_err(StoreError::Corrupt),
            None => {
                let name: String = sqlx::query_scalar("SELECT name FROM agencies WHERE id = $1")
                    .bind(agency_id)
                    .fetch_one(&self.pool)
                    .await?;
                Ok(NumberPattern::default_for(&name, &proc.number_word))
            }
        }
    }

    /// 立案: checks the input against the agency's records, numbers the case and records
    /// it with its parties and officers. Returns the case's id and number.
    pub async fn open_case(
        &self,
        actor: &CaseActor,
        c: &OpenCase,
    ) -> Result<(i64, String), StoreError> {
        let (actor, c) = (actor.clone(), c.clone());
        self.on_writer(move |s| async move { s.open_case_here(&actor, &c).await })
            .await
    }

    async fn open_case_here(
        &self,
        actor: &CaseActor,
        c: &OpenCase,
    ) -> Result<(i64, String), StoreError> {
        let proc = procedure::find(&c.procedure)
            .ok_or_else(|| StoreError::field("procedure", "请选择办案程序"))?;
        let mut e = FieldErrors::new();
        let today = today();
        if c.opened_on > today {
            e.add("opened_on", "立案日期不能晚于今天");
        }
        let calendar = self.calendar().await?;
        if let Err(err) = calendar.is_working_day(c.opened_on) {
            e.add("opened_on", err.to_string());
        }
        let dept: Option<i64> =
            sqlx::query_scalar("SELECT agency_id FROM departments WHERE id = $1")
                .bind(c.department_id)
                .fetch_optional(&self.pool)
                .await?;
        if dept != Some(c.agency_id) {
            e.add("department_id", "请选择本单位的承办机构");
        }
        if let Some(item) = c.item_id {
            match self.item_in_force(c.agency_id, item, c.opened_on).await? {
                None => e.add("item_id", "所选执法事项不属于本单位或在立案日尚未生效"),
                Some(v) if v.content.category.label() != proc.category => e.add(
                    "item_id",
                    format!(
                        "所选事项属于{}，不能适用“{}”",
                        v.content.category.label(),
                        proc.name
                    ),
                ),
                Some(_) => {}
            }
        } else if proc.category == "行政处罚" {
            e.add(
                "item_id",
                "请选择本案适用的执法事项（行政处罚须有法定依据）",
            );
        }
        if c.parties.is_empty() {
            e.add("parties", "请至少登记一名当事人");
        }
        let mut officers = c.officers.clone();
        officers.sort_unstable();
        officers.dedup();
        if officers.len() < 2 {
            e.add(
                "officers",
                "请指派两名以上执法人员承办（行政处罚法第四十二条）",
            );
        }
        let in_agency: i64 = if officers.is_empty() {
            0
        } else {
            let ids: Vec<String> = officers.iter().map(i64::to_string).collect();
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT COUNT(*) FROM people WHERE agency_id = $1 AND id IN ({})",
                ids.join(",")
            )))
            .bind(c.agency_id)
            .fetch_one(&self.pool)
            .await?
        };
        if in_agency != officers.len() as i64 {
            e.add("officers", "所选执法人员不属于本单位");
        } else {
            // Only people of the agency are looked up (names and credentials of another
            // agency's staff never appear in a message).
            let creds = read_officer_credentials(&self.pool, &officers).await?;
            for (name, list) in creds.values() {
                if let Err(err) = check_assignable(name, list, c.opened_on) {
                    e.add("officers", err.to_string());
                }
            }
        }
        // The 案由 is checked like every other text field (it took NUL, ESC and DEL).
        let cause = required_text(&mut e, "cause", "案由", &c.cause, 200);
        let cause = cause.as_str();
        if !e.is_empty() {
            return Err(StoreError::Invalid(e));
        }
        let pattern = self.case_number_pattern(c.agency_id, proc).await?;
        let state = CaseState {
            opened_on: c.opened_on,
            step: proc.start.clone(),
            entered_on: c.opened_on,
            closed: false,
            completed: BTreeMap::new(),
            extended: vec![],
            late_approved: vec![],
            pauses: vec![],
            window_waived: false,
            has_penalty: false,
            evidence: 0,
            major: false,
        };
        let due = next_deadline(&calendar, proc, &state).and_then(|(_, d)| d.date());
        let mut tx = self.write(Actor::User(actor.user_id)).await?;
        let year = chrono::Datelike::year(&c.opened_on);
        let seq = tx.next_case_seq(c.agency_id, &proc.code, year).await?;
        let number = pattern.render(year, seq);
        let id = tx
            .insert_case(c, proc, &number, year, seq, cause, due)
            .await?;
        for p in &c.parties {
            tx.insert_party(c.agency_id, id, p).await?;
        }
        // What a search finds the case by, all fixed from now on.
        let mut texts = vec![number.as_str(), cause];
        for p in &c.parties {
            texts.push(&p.name);
            texts.push(&p.id_code);
        }
        tx.index_case(c.agency_id, id, &texts).await?;
        for &o in &officers {
            tx.assign_officer(c.agency_id, id, o).await?;
        }
        // Their credentials allowed the assignment (持证上岗): they must be as recorded.
        tx.guard_case_officers(id).await?;
        tx.insert_event(
            c.agency_id,
            id,
            "open",
            &proc.start,
            None,
            c.opened_on,
            actor.user_id,
            json!({ "number": number, "officers": officers }),
        )
        .await?;
        tx.commit().await?;
        Ok((id, number))
    }

    /// The category and 裁量基准 of an item's version in force on `day`, when the item is
    /// the agency's.
    async fn item_in_force(
        &self,
        agency_id: i64,
        item_id: i64,
        day: NaiveDate,
    ) -> Result<Option<ItemVersion>, StoreError> {
        let versions = match self.item_versions_by_id(item_id).await {
            Ok(v) => v,
            Err(StoreError::NotFound) => return Ok(None),
            Err(e) => return Err(e),
        };
        let day = day.to_string();
        Ok(versions
            .into_iter()
            .filter(|v| v.agency_id == agency_id && v.effective_from <= day)
            .max_by(|a, b| a.effective_from.cmp(&b.effective_from)))
    }

    /// The case's 执法事项 as in force on the day the case opened (its basis, remedy and
    /// 裁量基准 are the ones the case is judged by).
    pub async fn case_item(&self, case: &CaseRow) -> Result<Option<ItemVersion>, StoreError> {
        match case.item_id {
            Some(item) => {
                self.item_in_force(case.agency_id, item, day(&case.opened_on)?)
                    .await
            }
            None => Ok(None),
        }
    }

    /// The 裁量基准 that applies to a case.
    pub async fn case_discretion(&self, case: &CaseRow) -> Result<Vec<DiscretionRow>, StoreError> {
        Ok(self
            .case_item(case)
            .await?
            .map(|v| v.content.discretion)
            .unwrap_or_default())
    }

    /// Starts an act: the write transaction, and the case read inside it as the user's
    /// form saw it (`Stale` when it has changed since). Deciding on what the transaction
    /// itself read leaves no gap between the check and the write, and on SQLite reads the
    /// writer's own, warm page cache.
    async fn begin_act(
        &self,
        actor: &CaseActor,
        id: i64,
        version: i64,
    ) -> Result<(WriteTx, CaseFile), StoreError> {
        let mut tx = self.write(Actor::User(actor.user_id)).await?;
        // The act is decided from the case's rows: they must be as their entries recorded.
        let file = tx.case_file_guarded(id).await?;
        if file.case.version != version {
            return Err(StoreError::Stale);
        }
        Ok((tx, file))
    }

    /// Finishes an act: the case's new state (if still at `version`) and its event, two
    /// entries of the agency's log, committed with what the transaction already holds.
    async fn finish_act(
        &self,
        mut tx: WriteTx,
        actor: &CaseActor,
        case: &CaseRow,
        version: i64,
        update: &CaseUpdate,
        event: Event<'_>,
    ) -> Result<(), StoreError> {
        tx.update_case(case.agency_id, case.id, version, update)
            .await?;
        tx.insert_event(
            case.agency_id,
            case.id,
            event.kind,
            event.step,
            event.to_step,
            event.on,
            actor.user_id,
            event.detail,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Completes the current step of a case (moving it to `a.to`, or ending it), when the
    /// domain's rules allow it.
    pub async fn advance_case(
        &self,
        actor: &CaseActor,
        id: i64,
        version: i64,
        a: &Advance,
    ) -> Result<(), StoreError> {
        let (actor, a) = (actor.clone(), a.clone());
        self.on_writer(move |s| async move { s.advance_case_here(&actor, id, version, &a).await })
            .await
    }

    async fn advance_case_here(
        &self,
        actor: &CaseActor,
        id: i64,
        version: i64,
        a: &Advance,
    ) -> Result<(), StoreError> {
        let (mut tx, file) = self.begin_act(actor, id, version).await?;
        let calendar = self.calendar_at(file.calendar_stamp).await?;
        let proc = file.procedure()?;
        let state = file.state()?;
        let step = proc
            .step(&state.step)
            .ok_or_else(|| StoreError::Corrupt(format!("step {}", state.step)))?;
        if a.officers
            .iter()
            .any(|p| !file.officers.iter().any(|o| o.person_id == *p))
        {
            return Err(StoreError::field(
                "officers",
                "所选执法人员不是本案承办人员",
            ));
        }
        let officers = if step.investigative {
            // Their credentials decide whether the act is lawful (持证执法): read once,
            // for the check against their entries and for the decision.
            let creds = tx.officer_credentials_guarded(id, &a.officers).await?;
            creds
                .into_iter()
                .map(|(person_id, (name, credentials))| {
                    let assigned = file.officers.iter().find(|o| o.person_id == person_id);
                    OfficerOnAct {
                        person_id,
                        name,
                        credentials,
                        assigned: assigned.is_some(),
                        // Declared on or before the day of the act.
                        declared: assigned
                            .and_then(|o| o.declared_on.as_deref())
                            .and_then(parse_date)
                            .is_some_and(|d| d <= a.day),
                    }
                })
                .collect()
        } else {
            vec![]
        };
        let act = Act {
            to: a.to.clone(),
            day: a.day,
            today: today(),
            roles: actor.roles.clone(),
            actor_person: actor.person_id,
            officers,
            credentials_shown: a.credentials_shown,
        };
        check_act(&calendar, proc, &state, &act).map_err(refused)?;
        // The state after the act, for the next deadline.
        let mut after = state.clone();
        after.completed.insert(state.step.clone(), a.day);
        let closed_on = match &a.to {
            Some(to) => {
                after.step = to.clone();
                after.entered_on = a.day;
                None
            }
            None => {
                after.closed = true;
                Some(a.day)
            }
        };
        // A step entered afresh starts with its window unwaived.
        after.window_waived = false;
        let due = next_deadline(&calendar, proc, &after).and_then(|(_, d)| d.date());
        let mut major = file.case.major.clone();
        if a.to.as_deref() == Some("legal_review") && state.step == "hearing" && major.is_empty() {
            // A decision after a hearing goes to 法制审核 (行政处罚法 第五十八条).
            major.push("举行听证的案件（行政处罚法第五十八条第一款第（二）项）".into());
        }
        let mut present = a.officers.clone();
        present.sort_unstable();
        present.dedup();
        self.finish_act(
            tx,
            actor,
            &file.case,
            version,
            &CaseUpdate {
                step: after.step.clone(),
                entered_on: after.entered_on,
                closed_on,
                due_on: due,
                penalty: file.case.penalty.clone(),
                major,
                window_waived: false,
            },
            Event {
                kind: "advance",
                step: &state.step,
                to_step: a.to.as_deref(),
                on: a.day,
                detail: json!({
                    "officers": if step.investigative { present } else { vec![] },
                    "credentials_shown": step.investigative && a.credentials_shown,
                    "note": a.note.trim(),
                }),
            },
        )
        .await
    }

    /// Records the proposed penalty (拟作出的处罚) of a penalty case: checked against the
    /// item's 裁量基准 and the procedure's ceiling; whether it is a major decision is read
    /// from the agency's 法制审核目录清单.
    pub async fn set_penalty(
        &self,
        actor: &CaseActor,
        id: i64,
        version: i64,
        on: NaiveDate,
        input: &PenaltyInput,
    ) -> Result<DiscretionFit, StoreError> {
        let (actor, input) = (actor.clone(), input.clone());
        self.on_writer(
            move |s| async move { s.set_penalty_here(&actor, id, version, on, &input).await },
        )
        .await
    }

    async fn set_penalty_here(
        &self,
        actor: &CaseActor,
        id: i64,
        version: i64,
        on: NaiveDate,
        input: &PenaltyInput,
    ) -> Result<DiscretionFit, StoreError> {
        let (tx, file) = self.begin_act(actor, id, version).await?;
        let proc = file.procedure()?;
        let state = file.state()?;
        if state.closed {
            return Err(StoreError::field("act", "案件已办结归档，不能再办理"));
        }
        if proc.category != "行政处罚" {
            return Err(StoreError::field("act", "只有行政处罚案件登记拟作出的处罚"));
        }
        // Once a step that needed the penalty is done (审核, 当场告知), the party has been
        // told of it and its review is past: a different penalty needs the case reopened.
        if let Some(done) = proc.steps.iter().find(|st| {
            st.needs.iter().any(|n| n == "penalty") && state.completed.contains_key(&st.code)
        }) {
            return Err(StoreError::field(
                "act",
                format!("“{}”已经完成，拟作出的处罚不能再修改", done.name),
            ));
        }
        if !actor
            .roles
            .iter()
            .any(|r| matches!(r, Role::Officer | Role::DepartmentHead))
        {
            return Err(StoreError::field(
                "act",
                "拟作出的处罚由执法人员或部门负责人登记",
            ));
        }
        if on < state.opened_on || on > today() {
            return Err(StoreError::field(
                "on_day",
                "登记日期须在立案日期和今天之间",
            ));
        }
        let discretion = self.case_discretion(&file.case).await?;
        let (penalty, fit) = check_penalty(
            input,
            &discretion,
            proc.fine_limit.as_ref(),
            &file.party_kinds(),
        )
        .map_err(StoreError::Invalid)?;
        let rules: Vec<_> = self
            .list_entries(file.case.agency_id, ListKind::MajorReview, false)
            .await?
            .into_iter()
            .map(|e| e.entry)
            .collect();
        let mut major = Vec::new();
        for kind in file.party_kinds() {
            let m = &penalty.measure;
            let facts = DecisionFacts {
                category: Some(ItemCategory::Penalty),
                party: Some(kind),
                fine_yuan: penalty.fine_yuan,
                // What the measure's words say (吊销, 责令停产停业/关闭, 拆除).
                revocation: m.contains("吊销"),
                closure: m.contains("停产停业") || m.contains("关闭"),
                demolition: m.contains("拆除"),
                hearing_held: state.completed.contains_key("hearing"),
                ..Default::default()
            };
            for r in major_reasons(&rules, &facts) {
                if !major.contains(&r) {
                    major.push(r);
                }
            }
        }
        let calendar = self.calendar_at(file.calendar_stamp).await?;
        let due = next_deadline(&calendar, proc, &state).and_then(|(_, d)| d.date());
        let detail = json!({
            "penalty": penalty,
            "outside_discretion": match &fit { DiscretionFit::Outside(w) => w.as_str(), DiscretionFit::Within => "" },
            "major": major,
        });
        self.finish_act(
            tx,
            actor,
            &file.case,
            version,
            &CaseUpdate {
                step: state.step.clone(),
                entered_on: state.entered_on,
                closed_on: None,
                due_on: due,
                penalty: Some(penalty),
                major,
                window_waived: state.window_waived,
            },
            Event {
                kind: "penalty",
                step: &state.step,
                to_step: None,
                on,
                detail,
            },
        )
        .await?;
        Ok(fit)
    }

    /// Records a waiver, an extension or a pause on the current step.
    pub async fn record_on_case(
        &self,
        actor: &CaseActor,
        id: i64,
        version: i64,
        r: &Record,
    ) -> Result<(), StoreError> {
        let (actor, r) = (actor.clone(), r.clone());
        self.on_writer(move |s| async move { s.record_on_case_here(&actor, id, version, &r).await })
            .await
    }

    async fn record_on_case_here(
        &self,
        actor: &CaseActor,
        id: i64,
        version: i64,
        r: &Record,
    ) -> Result<(), StoreError> {
        let (tx, file) = self.begin_act(actor, id, version).await?;
        let proc = file.procedure()?;
        let mut state = file.state()?;
        if state.closed {
            return Err(StoreError::field("act", "案件已办结归档，不能再办理"));
        }
        let step = proc
            .step(&state.step)
            .ok_or_else(|| StoreError::Corrupt(format!("step {}", state.step)))?;
        let calendar = self.calendar_at(file.calendar_stamp).await?;
        let on = match r {
            Record::Waiver { day, .. }
            | Record::Extension { day, .. }
            | Record::Pause { day, .. }
            | Record::LateApproval { day, .. }
            | Record::Resume { day } => *day,
        };
        if on < state.entered_on || on > today() {
            return Err(StoreError::field(
                "on_day",
                format!("日期须在进入本步骤之日（{}）和今天之间", state.entered_on),
            ));
        }
        let is_officer = actor
            .roles
            .iter()
            .any(|r| matches!(r, Role::Officer | Role::DepartmentHead));
        let (kind, detail) = match r {
            Record::Waiver { note, .. } => {
                if step.window.is_none() {
                    return Err(StoreError::field(
                        "act",
                        "当前步骤没有当事人的陈述申辩或听证申请期",
                    ));
                }
                if !is_officer {
                    return Err(StoreError::field("act", "当事人的书面放弃由执法人员登记"));
                }
                if note.trim().chars().count() < 4 {
                    return Err(StoreError::field(
                        "note",
                        "请写明当事人书面放弃的情况（如：当事人于某日签署放弃陈述申辩和听证的书面声明）",
                    ));
                }
                state.window_waived = true;
                ("waiver", json!({ "note": note.trim() }))
            }
            Record::Extension { reason, .. } => {
                // Whether the period has run out is judged today: an approval dated back
                // cannot revive an expired period.
                check_extension(
                    &calendar,
                    proc,
                    &state,
                    &actor.roles,
                    on.max(today()),
                    reason,
                )
                .map_err(refused)?;
                state.extended.push(state.step.clone());
                ("extend", json!({ "reason": reason.trim() }))
            }
            Record::Pause { code, note, .. } => {
                let pause = step
                    .deadline
                    .as_ref()
                    .and_then(|p| p.pauses.iter().find(|x| &x.code == code));
                let Some(pause) = pause else {
                    return Err(StoreError::field("code", "当前步骤的期限没有这种中止情形"));
                };
                if !is_officer {
                    return Err(StoreError::field("act", "期限中止由执法人员登记"));
                }
                if state
                    .pauses
                    .iter()
                    .any(|p| p.step == state.step && p.end.is_none())
                {
                    return Err(StoreError::field("act", "期限已在中止中"));
                }
                state.pauses.push(PauseSpan {
                    step: state.step.clone(),
                    code: code.clone(),
                    start: on,
                    end: None,
                });
                (
                    "pause",
                    json!({ "code": code, "label": pause.label, "note": note.trim() }),
                )
            }
            Record::LateApproval { reason, .. } => {
                // Judged today, like an extension: the record cannot be dated back.
                let due = check_late_approval(
                    &calendar,
                    proc,
                    &state,
                    &actor.roles,
                    on.max(today()),
                    reason,
                )
                .map_err(refused)?;
                if on <= due {
                    return Err(StoreError::field(
                        "on_day",
                        format!("逾期办理的批准日期须在期限届满（{due}）之后"),
                    ));
                }
                state.late_approved.push(state.step.clone());
                (
                    "late",
                    json!({ "reason": reason.trim(), "due": due.to_string() }),
                )
            }
            Record::Resume { day } => {
                if !is_officer {
                    return Err(StoreError::field("act", "期限中止结束由执法人员登记"));
                }
                let Some(p) = state
                    .pauses
                    .iter_mut()
                    .find(|p| p.step == state.step && p.end.is_none())
                else {
                    return Err(StoreError::field("act", "期限没有在中止中"));
                };
                if *day < p.start {
                    return Err(StoreError::field("on_day", "中止结束日期不能早于开始日期"));
                }
                p.end = Some(*day);
                ("resume", json!({}))
            }
        };
        let due = next_deadline(&calendar, proc, &state).and_then(|(_, d)| d.date());
        self.finish_act(
            tx,
            actor,
            &file.case,
            version,
            &CaseUpdate {
                step: state.step.clone(),
                entered_on: state.entered_on,
                closed_on: None,
                due_on: due,
                penalty: file.case.penalty.clone(),
                major: file.case.major.clone(),
                window_waived: state.window_waived,
            },
            Event {
                kind,
                step: &state.step,
                to_step: None,
                on,
                detail,
            },
        )
        .await
    }

    /// An assigned officer declares, on `on`, that no ground of withdrawal applies to them
    /// (行政处罚法 第四十三条): only for themselves.
    pub async fn declare_no_conflict(
        &self,
        actor: &CaseActor,
        id: i64,
        on: NaiveDate,
    ) -> Result<(), StoreError> {
        let actor = actor.clone();
        self.on_writer(move |s| async move { s.declare_no_conflict_here(&actor, id, on).await })
            .await
    }

    async fn declare_no_conflict_here(
        &self,
        actor: &CaseActor,
        id: i64,
        on: NaiveDate,
    ) -> Result<(), StoreError> {
        let file = self.case_file(id).await?;
        if file.case.closed_on.is_some() {
            return Err(StoreError::field(
                "act",
                "案件已办结归档，不能再办理；如需补正，须由负责人说明理由重新开启",
            ));
        }
        if on < day(&file.case.opened_on)? || on > today() {
            return Err(StoreError::field(
                "on_day",
                "声明日期须在立案日期和今天之间",
            ));
        }
        let Some(o) = file
            .officers
            .iter()
            .find(|o| Some(o.person_id) == actor.person_id)
        else {
            return Err(StoreError::field(
                "act",
                "只有本案承办人员本人可以作出回避声明",
            ));
        };
        if o.declared_on.is_some() {
            return Err(StoreError::field("act", "您已就本案作出回避声明"));
        }
        let mut tx = self.write(Actor::User(actor.user_id)).await?;
        tx.hold_open_case(id, "回避声明").await?;
        tx.declare(file.case.agency_id, o.id, o.version, on).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Recomputes the next deadline of every open case after the calendar changed (a year
    /// added or corrected): a deadline that fell in a year without data becomes a date,
    /// and one moved by a correction moves. Each changed case is one transaction and one
    /// entry (`case.deadline`); a case acted on meanwhile is left to that act, which
    /// computed its deadline with the new calendar. Returns how many changed.
    ///
    /// Only cases whose deadline could move are read: those with none (it may have
    /// reached a year without data) and those due on or after 1 January of `year`, the
    /// year that changed — a period that ended before it never counted a day of it.
    pub async fn refresh_case_deadlines(
        &self,
        actor: Actor,
        year: i32,
    ) -> Result<usize, StoreError> {
        self.on_writer(move |s| async move { s.refresh_case_deadlines_here(actor, year).await })
            .await
    }

    async fn refresh_case_deadlines_here(
        &self,
        actor: Actor,
        year: i32,
    ) -> Result<usize, StoreError> {
        let calendar = self.calendar().await?;
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM cases WHERE closed_on IS NULL AND (due_on IS NULL OR due_on >= $1)
             ORDER BY id",
        )
        .bind(format!("{year:04}-01-01"))
        .fetch_all(&self.pool)
        .await?;
        let mut changed = 0;
        for id in ids {
            let file = self.case_file(id).await?;
            let state = file.state()?;
            let due =
                next_deadline(&calendar, file.procedure()?, &state).and_then(|(_, d)| d.date());
            let stored = file.case.due_on.as_deref().map(day).transpose()?;
            if due == stored {
                continue;
            }
            let mut tx = self.write(actor.clone()).await?;
            match tx.guard_case(id).await {
                // Refused and reported (`guard.rs`); the other cases still move.
                Err(StoreError::Tampered(_)) => continue,
                other => other?,
            }
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE cases SET due_on = $1, updated_at = $2, version = version + 1
                 WHERE id = $3 AND version = $4 AND closed_on IS NULL RETURNING {}",
                crate::snapshot::returning("case").expect("a ledgered kind")
            )))
            .bind(due.map(|d| d.to_string()))
            .bind(tx.now())
            .bind(id)
            .bind(file.case.version)
            .fetch_optional(tx.conn())
            .await?;
            if let Some(row) = row {
                tx.record_written_row(file.case.agency_id, "case.deadline", "case", &row)?;
                tx.commit().await?;
                changed += 1;
            }
        }
        Ok(changed)
    }

    /// Reopens a closed case, by a role the procedure names, with a reason: the case
    /// stands again at its last step, open, and every act on it is allowed as before; the
    /// reason is an event of the case (and so an entry of the log).
    pub async fn reopen_case(
        &self,
        actor: &CaseActor,
        id: i64,
        version: i64,
        on: NaiveDate,
        reason: &str,
    ) -> Result<(), StoreError> {
        let (actor, reason) = (actor.clone(), reason.to_owned());
        self.on_writer(move |s| async move {
            s.reopen_case_here(&actor, id, version, on, &reason).await
        })
        .await
    }

    async fn reopen_case_here(
        &self,
        actor: &CaseActor,
        id: i64,
        version: i64,
        on: NaiveDate,
        reason: &str,
    ) -> Result<(), StoreError> {
        let (tx, file) = self.begin_act(actor, id, version).await?;
        let proc = file.procedure()?;
        let state = file.state()?;
        let closed_on = file.case.closed_on.as_deref().map(day).transpose()?;
        check_reopen(proc, &state, closed_on, &actor.roles, on, today(), reason)
            .map_err(refused)?;
        let mut after = state.clone();
        after.closed = false;
        after.completed.remove(&state.step);
        after.entered_on = on;
        let calendar = self.calendar_at(file.calendar_stamp).await?;
        let due = next_deadline(&calendar, proc, &after).and_then(|(_, d)| d.date());
        self.finish_act(
            tx,
            actor,
            &file.case,
            version,
            &CaseUpdate {
                step: state.step.clone(),
                entered_on: on,
                closed_on: None,
                due_on: due,
                penalty: file.case.penalty.clone(),
                major: file.case.major.clone(),
                window_waived: file.case.window_waived,
            },
            Event {
                kind: "reopen",
                step: &state.step,
                to_step: Some(&state.step),
                on,
                detail: json!({
                    "reason": reason.trim(),
                    "closed_on": file.case.closed_on,
                }),
            },
        )
        .await
    }
}

/// An open case held by a transaction (`WriteTx::hold_open_case`).
pub(crate) struct HeldCase {
    pub agency_id: i64,
    pub step: String,
}

/// The event an act records.
struct Event<'a> {
    kind: &'a str,
    step: &'a str,
    to_step: Option<&'a str>,
    on: NaiveDate,
    detail: Value,
}

/// The case row's changeable state.
struct CaseUpdate {
    step: String,
    entered_on: NaiveDate,
    closed_on: Option<NaiveDate>,
    due_on: Option<NaiveDate>,
    penalty: Option<Penalty>,
    major: Vec<String>,
    window_waived: bool,
}

impl WriteTx {
    /// A case as this transaction sees it (the same four reads, one after another on the
    /// transaction's connection).
    /// The people assigned to a case with their credentials, checked against their entries
    /// (as `WriteTx::guard_case_officers` does), and the enforcement credentials of
    /// `people` among them as the 持证执法 check needs them — from the same two reads.
    pub(crate) async fn officer_credentials_guarded(
        &mut self,
        case_id: i64,
        people: &[i64],
    ) -> Result<OfficerCredentials, StoreError> {
        use crate::snapshot::{of_row, returning};
        const ASSIGNED: &str = "(SELECT person_id FROM case_officers WHERE case_id = $1)";
        let person_rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {} FROM people WHERE id IN {ASSIGNED}",
            returning("person").expect("a ledgered kind")
        )))
        .bind(case_id)
        .fetch_all(self.conn())
        .await?;
        let credential_rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {} FROM credentials WHERE person_id IN {ASSIGNED} ORDER BY id",
            returning("credential").expect("a ledgered kind")
        )))
        .bind(case_id)
        .fetch_all(self.conn())
        .await?;
        let mut checked = Vec::new();
        for r in &person_rows {
            checked.push(("person", r.try_get("id")?, Some(of_row("person", r)?)));
        }
        for r in &credential_rows {
            checked.push((
                "credential",
                r.try_get("id")?,
                Some(of_row("credential", r)?),
            ));
        }
        self.guard_checked(checked).await?;
        let mut out = OfficerCredentials::new();
        for r in &person_rows {
            let id: i64 = r.try_get("id")?;
            if people.contains(&id) {
                out.insert(id, (r.try_get("name")?, Vec::new()));
            }
        }
        for r in &credential_rows {
            let kind: String = r.try_get("kind")?;
            let Some(entry) = out.get_mut(&r.try_get::<i64, _>("person_id")?) else {
                continue;
            };
            if kind != CredentialKind::Enforcement.code() {
                continue;
            }
            let status: String = r.try_get("status")?;
            let status = zhifa_domain::credential::StoredStatus::from_code(&status)
                .ok_or_else(|| StoreError::Corrupt(format!("credential status {status}")))?;
            let from: String = r.try_get("valid_from")?;
            let to: String = r.try_get("valid_to")?;
            entry.1.push((
                r.try_get("number")?,
                crate::credentials::validity_of(status, &from, &to),
            ));
        }
        if people.iter().any(|p| !out.contains_key(p)) {
            return Err(StoreError::field("officers", "所选执法人员不存在"));
        }
        Ok(out)
    }

    /// The case file an act decides from, its rows checked against their entries: the
    /// rows are read once, for both (the case row first and locked, as in
    /// `WriteTx::guard_case`).
    pub(crate) async fn case_file_guarded(&mut self, id: i64) -> Result<CaseFile, StoreError> {
        use crate::snapshot::of_row;
        let lock = match self.store().backend() {
            crate::Backend::Postgres => " FOR UPDATE OF c",
            crate::Backend::Sqlite => "",
        };
        let r = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{ACT_CASE}, {} FROM {CASE_FROM} WHERE c.id = $1{lock}",
            crate::calendar::CALENDAR_STAMP
        )))
        .bind(id)
        .fetch_optional(self.conn())
        .await?
        .ok_or(StoreError::NotFound)?;
        let mut checked = vec![("case", id, Some(of_row("case", &r)?))];
        let case = case_row(&r)?;
        let calendar_stamp = (r.try_get("cal_n")?, r.try_get("cal_at")?);
        let mut read = async |sql: &'static str, kind: &'static str| {
            let rows = sqlx::query(sql).bind(id).fetch_all(self.conn()).await?;
            for r in &rows {
                checked.push((kind, r.try_get("id")?, Some(of_row(kind, r)?)));
            }
            Ok::<_, StoreError>(rows)
        };
        let parties = read(ACT_PARTIES, "case_party").await?;
        let officers = read(ACT_OFFICERS, "case_officer").await?;
        let events = read(ACT_EVENTS, "case_event").await?;
        self.guard_checked(checked).await?;
        Ok(CaseFile {
            case,
            parties: parties.iter().map(party_of).collect::<Result<_, _>>()?,
            officers: officers.iter().map(officer_of).collect::<Result<_, _>>()?,
            events: events.iter().map(event_of).collect::<Result<_, _>>()?,
            calendar_stamp,
        })
    }

    /// Sets how an agency numbers the cases of a procedure.
    pub async fn set_case_number_pattern(
        &mut self,
        agency_id: i64,
        procedure: &str,
        pattern: &NumberPattern,
    ) -> Result<(), StoreError> {
        let existing: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM case_number_patterns WHERE agency_id = $1 AND procedure = $2",
        )
        .bind(agency_id)
        .bind(procedure.to_owned())
        .fetch_optional(self.conn())
        .await?;
        if let Some(id) = existing {
            self.guard_row("case_number_pattern", id).await?;
        }
        let now = self.now();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO case_number_patterns (agency_id, procedure, pattern, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $4)
             ON CONFLICT (agency_id, procedure) DO UPDATE SET pattern = excluded.pattern,
                updated_at = excluded.updated_at, version = case_number_patterns.version + 1
             RETURNING id",
        )
        .bind(agency_id)
        .bind(procedure.to_owned())
        .bind(pattern.as_str().to_owned())
        .bind(now)
        .fetch_one(self.conn())
        .await?;
        if existing.is_none() {
            self.mark_created("case_number_pattern", id);
        }
        self.record_row(agency_id, "case_number.pattern", "case_number_pattern", id)
            .await
    }

    /// The next number of the year, gapless: the counter row is written in this
    /// transaction, so concurrent openings queue on it and a rollback returns the number.
    async fn next_case_seq(
        &mut self,
        agency_id: i64,
        procedure: &str,
        year: i32,
    ) -> Result<i64, StoreError> {
        sqlx::query(
            "INSERT INTO case_counters (agency_id, procedure, year, last) VALUES ($1, $2, $3, 0)
             ON CONFLICT (agency_id, procedure, year) DO NOTHING",
        )
        .bind(agency_id)
        .bind(procedure.to_owned())
        .bind(i64::from(year))
        .execute(self.conn())
        .await?;
        Ok(sqlx::query_scalar(
            "UPDATE case_counters SET last = last + 1
             WHERE agency_id = $1 AND procedure = $2 AND year = $3 RETURNING last",
        )
        .bind(agency_id)
        .bind(procedure.to_owned())
        .bind(i64::from(year))
        .fetch_one(self.conn())
        .await?)
    }

    #[allow(clippy::too_many_arguments)]
    async fn insert_case(
        &mut self,
        c: &OpenCase,
        proc: &Procedure,
        number: &str,
        year: i32,
        seq: i64,
        cause: &str,
        due: Option<NaiveDate>,
    ) -> Result<i64, StoreError> {
        let now = self.now();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO cases (agency_id, department_id, procedure, number, year, seq, item_id,
                cause, step, entered_on, opened_on, due_on, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11, $12, $12) RETURNING id",
        )
        .bind(c.agency_id)
        .bind(c.department_id)
        .bind(proc.code.clone())
        .bind(number.to_owned())
        .bind(i64::from(year))
        .bind(seq)
        .bind(c.item_id)
        .bind(cause.to_owned())
        .bind(proc.start.clone())
        .bind(c.opened_on.to_string())
        .bind(due.map(|d| d.to_string()))
        .bind(now)
        .fetch_one(self.conn())
        .await
        .map_err(|e| match &e {
            // Two procedures numbered by the same pattern give the same number.
            sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::field(
                "procedure",
                format!(
                    "案件编号 {number} 已被本机关的另一件案件使用：请管理员检查各程序的案件编号格式是否相同"
                ),
            ),
            _ => e.into(),
        })?;
        self.record_row(c.agency_id, "case.open", "case", id)
            .await?;
        Ok(id)
    }

    async fn insert_party(
        &mut self,
        agency_id: i64,
        case_id: i64,
        p: &NewParty,
    ) -> Result<(), StoreError> {
        let now = self.now();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO case_parties (case_id, kind, name, id_code, address, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(case_id)
        .bind(party_kind_code(p.kind))
        .bind(p.name.clone())
        .bind(p.id_code.clone())
        .bind(p.address.clone())
        .bind(now)
        .fetch_one(self.conn())
        .await?;
        self.record_row(agency_id, "case_party.add", "case_party", id)
            .await
    }

    async fn assign_officer(
        &mut self,
        agency_id: i64,
        case_id: i64,
        person_id: i64,
    ) -> Result<(), StoreError> {
        let now = self.now();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO case_officers (case_id, person_id, created_at, updated_at)
             VALUES ($1, $2, $3, $3) RETURNING id",
        )
        .bind(case_id)
        .bind(person_id)
        .bind(now)
        .fetch_one(self.conn())
        .await?;
        self.record_row(agency_id, "case_officer.assign", "case_officer", id)
            .await
    }

    async fn declare(
        &mut self,
        agency_id: i64,
        officer_row: i64,
        version: i64,
        on: NaiveDate,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE case_officers SET declared_on = $1, updated_at = $2, version = version + 1
             WHERE id = $3 AND version = $4 AND declared_on IS NULL",
        )
        .bind(on.to_string())
        .bind(self.now())
        .bind(officer_row)
        .bind(version)
        .execute(self.conn())
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Stale);
        }
        self.record_row(
            agency_id,
            "case_officer.declare",
            "case_officer",
            officer_row,
        )
        .await
    }

    /// Holds the case open for this transaction: refuses when it is closed, and (on
    /// PostgreSQL) locks its row so that it cannot be closed before this commits. Returns
    /// the case's agency and current step, as this transaction sees them.
    pub(crate) async fn hold_open_case(
        &mut self,
        case_id: i64,
        what: &str,
    ) -> Result<HeldCase, StoreError> {
        let held = sqlx::query(
            "UPDATE cases SET updated_at = updated_at WHERE id = $1 AND closed_on IS NULL
             RETURNING agency_id, step",
        )
        .bind(case_id)
        .fetch_optional(self.conn())
        .await?;
        match held {
            Some(r) => {
                // What is written next (a document, evidence, a declaration) is made from
                // the case as it stands: it must be as its entries recorded it.
                self.guard_case(case_id).await?;
                self.guard_case_officers(case_id).await?;
                Ok(HeldCase {
                    agency_id: r.try_get("agency_id")?,
                    step: r.try_get("step")?,
                })
            }
            None => {
                let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM cases WHERE id = $1")
                    .bind(case_id)
                    .fetch_optional(self.conn())
                    .await?;
                match exists {
                    None => Err(StoreError::NotFound),
                    Some(_) => Err(StoreError::field(
                        "act",
                        format!(
                            "案件已办结归档，不能再登记{what}；如需补正，须由负责人说明理由重新开启"
                        ),
                    )),
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn insert_event(
        &mut self,
        agency_id: i64,
        case_id: i64,
        kind: &str,
        step: &str,
        to_step: Option<&str>,
        on: NaiveDate,
        user_id: i64,
        detail: Value,
    ) -> Result<(), StoreError> {
        let now = self.now();
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO case_events (case_id, kind, step, to_step, on_day, user_id, detail, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {}",
            crate::snapshot::returning("case_event").expect("a ledgered kind")
        )))
        .bind(case_id)
        .bind(kind.to_owned())
        .bind(step.to_owned())
        .bind(to_step.map(str::to_owned))
        .bind(on.to_string())
        .bind(user_id)
        .bind(crate::snapshot::canonical_value(&detail))
        .bind(now)
        .fetch_one(self.conn())
        .await?;
        self.record_written_row(agency_id, "case_event.record", "case_event", &row)
    }

    /// Writes the case's new state, if it is still at `version`.
    async fn update_case(
        &mut self,
        agency_id: i64,
        id: i64,
        version: i64,
        u: &CaseUpdate,
    ) -> Result<(), StoreError> {
        let penalty = match &u.penalty {
            Some(p) => {
                crate::snapshot::canonical_value(&serde_json::to_value(p).expect("plain data"))
            }
            None => String::new(),
        };
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE cases SET step = $1, entered_on = $2, closed_on = $3, due_on = $4,
                penalty = $5, major = $6, window_waived = $7, updated_at = $8,
                version = version + 1
             WHERE id = $9 AND version = $10 RETURNING {}",
            crate::snapshot::returning("case").expect("a ledgered kind")
        )))
        .bind(u.step.clone())
        .bind(u.entered_on.to_string())
        .bind(u.closed_on.map(|d| d.to_string()))
        .bind(u.due_on.map(|d| d.to_string()))
        .bind(penalty)
        .bind(u.major.join("\n"))
        .bind(i64::from(u.window_waived))
        .bind(self.now())
        .bind(id)
        .bind(version)
        .fetch_optional(self.conn())
        .await?
        .ok_or(StoreError::Stale)?;
        self.record_written_row(agency_id, "case.act", "case", &row)
    }
}

/// A document issued for a case (the files are fetched separately).
#[derive(Debug, Clone, Serialize)]
pub struct IssuedDocument {
    pub id: i64,
    pub kind: String,
    pub name: String,
    pub step: String,
    pub pdf_sha256: String,
    pub created_at: i64,
}

impl Store {
    /// The documents issued for a case, oldest first.
    pub async fn case_documents(&self, case_id: i64) -> Result<Vec<IssuedDocument>, StoreError> {
        Ok(self
            .documents_with_pdf(case_id)
            .await?
            .into_iter()
            .map(|(d, _)| d)
            .collect())
    }

    /// The documents issued for a case with their PDFs, oldest first (one read: the PDF
    /// gives the hash the page shows, and the 卷宗 takes the file).
    pub(crate) async fn documents_with_pdf(
        &self,
        case_id: i64,
    ) -> Result<Vec<(IssuedDocument, Vec<u8>)>, StoreError> {
        use sha2::Digest;
        let rows = sqlx::query(
            "SELECT id, kind, name, step, pdf, created_at FROM case_documents
             WHERE case_id = $1 ORDER BY id",
        )
        .bind(case_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let pdf: Vec<u8> = r.try_get("pdf")?;
                Ok((
                    IssuedDocument {
                        id: r.try_get("id")?,
                        kind: r.try_get("kind")?,
                        name: r.try_get("name")?,
                        step: r.try_get("step")?,
                        pdf_sha256: zhifa_ledger::hash::to_hex(&sha2::Sha256::digest(&pdf)),
                        created_at: r.try_get("created_at")?,
                    },
                    pdf,
                ))
            })
            .collect()
    }

    /// One issued file: (case id, name, bytes) of the PDF or the DOCX.
    pub async fn case_document_file(
        &self,
        id: i64,
        docx: bool,
    ) -> Result<(i64, String, Vec<u8>), StoreError> {
        let sql = if docx {
            "SELECT case_id, name, docx AS file FROM case_documents WHERE id = $1"
        } else {
            "SELECT case_id, name, pdf AS file FROM case_documents WHERE id = $1"
        };
        let r = sqlx::query(sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok((
            r.try_get("case_id")?,
            r.try_get("name")?,
            r.try_get("file")?,
        ))
    }

    /// Records a document issued for a case (its files as handed out): an entry for the
    /// document row (committing to both files' SHA-256) and one for the event.
    #[allow(clippy::too_many_arguments)]
    pub async fn issue_document(
        &self,
        actor: &CaseActor,
        case_id: i64,
        kind: &str,
        name: &str,
        on: NaiveDate,
        pdf: &[u8],
        docx: &[u8],
    ) -> Result<i64, StoreError> {
        use sha2::Digest;
        let mut tx = self.write(Actor::User(actor.user_id)).await?;
        let case = tx.hold_open_case(case_id, "文书").await?;
        let now = tx.now();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO case_documents (case_id, kind, name, step, pdf, docx, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(case_id)
        .bind(kind.to_owned())
        .bind(name.to_owned())
        .bind(case.step.clone())
        .bind(pdf.to_vec())
        .bind(docx.to_vec())
        .bind(actor.user_id)
        .bind(now)
        .fetch_one(tx.conn())
        .await?;
        tx.record_row(case.agency_id, "case_document.issue", "case_document", id)
            .await?;
        tx.insert_event(
            case.agency_id,
            case_id,
            "document",
            &case.step,
            None,
            on,
            actor.user_id,
            json!({
                "document": id,
                "label": name,
                "pdf_sha256": zhifa_ledger::hash::to_hex(&sha2::Sha256::digest(pdf)),
                "docx_sha256": zhifa_ledger::hash::to_hex(&sha2::Sha256::digest(docx)),
            }),
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }
}
