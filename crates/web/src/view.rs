//! Page models: one askama template struct per page, plus the frame (`Chrome`) every
//! page shares. UI text lives in the templates.

use askama::Template;
use zhifa_domain::FieldErrors;
use zhifa_domain::org::{AgencyInput, DepartmentInput, LeadershipInput, PersonInput};
use zhifa_store::accounts::User;
use zhifa_store::journal::JournalEntry;
use zhifa_store::org::{Agency, Department, LeadershipMember, Person};

/// Formats epoch milliseconds as Beijing time (UTC+8, no daylight saving).
pub fn fmt_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms + 8 * 3600 * 1000)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

pub struct NavLink {
    pub href: String,
    pub label: &'static str,
    pub active: bool,
}

/// Whether this installation is the demo (set once when the app is built): every page
/// then says that its accounts and codes are fictional.
pub static DEMO: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The frame of every page: site name, navigation, the signed-in user.
pub struct Chrome {
    pub site_name: String,
    pub workbench: bool,
    pub nav: Vec<NavLink>,
    pub user_name: Option<String>,
    pub csrf_token: String,
}

impl Chrome {
    pub fn demo(&self) -> bool {
        DEMO.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// A page that can be rendered to HTML; a template failure is logged and shown as 500.
pub trait Page: Template {
    fn render_html(&self) -> String {
        self.render().unwrap_or_else(|e| {
            tracing::error!(error = %e, "template failed");
            "<!doctype html><meta charset=utf-8><title>系统错误</title><p>页面生成失败，已记录。"
                .into()
        })
    }
}
impl<T: Template> Page for T {}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub status: u16,
    pub title: &'static str,
    pub message: String,
}

pub struct LeadershipGroups {
    pub leaders: Vec<LeadershipMember>,
    pub deputies: Vec<LeadershipMember>,
    pub members: Vec<LeadershipMember>,
}

impl LeadershipGroups {
    pub fn from(members: Vec<LeadershipMember>) -> Self {
        use zhifa_domain::LeadershipRank::*;
        let mut g = LeadershipGroups {
            leaders: vec![],
            deputies: vec![],
            members: vec![],
        };
        for m in members {
            match m.rank {
                Leader => g.leaders.push(m),
                DeputyLeader => g.deputies.push(m),
                Member => g.members.push(m),
            }
        }
        g
    }

    pub fn is_empty(&self) -> bool {
        self.leaders.is_empty() && self.deputies.is_empty() && self.members.is_empty()
    }
}

#[derive(Template)]
#[template(path = "portal/home.html")]
pub struct PortalHome {
    pub chrome: Chrome,
    pub agency: Agency,
    pub parent: Option<Agency>,
    pub children: Vec<Agency>,
    pub others: Vec<Agency>,
    pub departments: Vec<Department>,
    pub leadership: LeadershipGroups,
    pub updated: String,
}

#[derive(Template)]
#[template(path = "portal/empty.html")]
pub struct PortalEmpty {
    pub chrome: Chrome,
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub chrome: Chrome,
    pub csrf_token: String,
    pub username: String,
    pub next: String,
    pub error: Option<String>,
    pub notice: Option<&'static str>,
    pub lockout_failures: i64,
    pub lockout_minutes: u64,
}

pub struct CapabilityLink {
    pub label: &'static str,
    pub href: String,
}

#[derive(Template)]
#[template(path = "app/home.html")]
pub struct AppHome {
    pub chrome: Chrome,
    pub display_name: String,
    pub username: String,
    pub roles: Vec<&'static str>,
    pub agency_name: String,
    pub department_name: Option<String>,
    pub capabilities: Vec<CapabilityLink>,
    /// For those who manage credentials: credentials of the agency ending within the
    /// warning period.
    pub expiring: Vec<CredentialRow>,
    pub cases: Option<CaseDashboard>,
    /// For those who read the audit log: acts refused because a record was changed behind
    /// zhifa's back, newest first (time, message).
    pub tamper_alerts: Vec<(String, String)>,
    /// For the same: why this node refuses changes (its logs are behind what was signed).
    pub halted: Vec<String>,
    /// Witnesses that did not cosign on their last request, with why.
    pub witness_problems: Vec<String>,
}

/// The cases a user's home page watches: counts and the most urgent ones.
pub struct CaseDashboard {
    pub scope_label: String,
    pub counts: (i64, i64, i64),
    pub urgent: Vec<CaseListRow>,
}

#[derive(Template)]
#[template(path = "app/password.html")]
pub struct PasswordPage {
    pub chrome: Chrome,
    pub errors: FieldErrors,
    pub done: bool,
}

#[derive(Template)]
#[template(path = "app/department_staff.html")]
pub struct DepartmentStaffPage {
    pub chrome: Chrome,
    pub agency: Agency,
    pub department: Department,
    pub people: Vec<Person>,
}

#[derive(Template)]
#[template(path = "app/staff.html")]
pub struct StaffPage {
    pub chrome: Chrome,
    pub agency: Agency,
    pub people: Vec<Person>,
}

pub struct JournalRow {
    pub id: i64,
    /// `/verify?…` link for the entry, when its leaf hash is known.
    pub verify_href: Option<String>,
    /// Covered by a signed checkpoint already.
    pub signed: bool,
    pub at: String,
    pub actor: String,
    pub action: &'static str,
}

impl JournalRow {
    pub fn from(e: &JournalEntry, actor_name: String) -> Self {
        JournalRow {
            id: e.seq,
            verify_href: None,
            signed: false,
            at: fmt_time(e.at),
            actor: actor_name,
            action: action_label(&e.action),
        }
    }
}

pub use zhifa_domain::audit::action_label;

#[derive(Template)]
#[template(path = "app/audit.html")]
pub struct AuditPage {
    pub chrome: Chrome,
    pub ctx: AgencyContext,
    pub users: Vec<Choice>,
    pub actions: Vec<Choice>,
    pub results: Vec<Choice>,
    pub from: String,
    pub to: String,
    pub errors: FieldErrors,
    pub rows: Vec<AuditRow>,
    pub page: usize,
    /// Whether a next page holds more.
    pub more: bool,
    /// The filter as a query string (without the page), for the pager.
    pub filter_query: String,
    pub export_href: String,
    pub retention_months: u32,
}

/// One entry of the audit trail as shown and exported.
pub struct AuditRow {
    pub at: String,
    pub actor: String,
    pub action: &'static str,
    pub subject: String,
    pub result: &'static str,
    pub failed: bool,
    pub client_ip: String,
    /// What was refused, or why a login failed.
    pub detail: String,
    /// Which log holds the entry.
    pub log: String,
}

/// Which agency an admin page acts on, and the others the user may switch to.
pub struct AgencyContext {
    pub current: Agency,
    pub choices: Vec<Agency>,
    /// The hierarchy the access check used, kept so a handler need not load it again.
    pub tree: crate::scope::AgencyTree,
}

#[derive(Template)]
#[template(path = "admin/agencies.html")]
pub struct AgencyListPage {
    pub chrome: Chrome,
    pub agencies: Vec<(Agency, String)>,
}

#[derive(Template)]
#[template(path = "admin/agency_form.html")]
pub struct AgencyFormPage {
    pub chrome: Chrome,
    pub id: Option<i64>,
    pub version: i64,
    pub form: AgencyInput,
    /// The cryptographies a new agency may choose: (code, label).
    pub cryptos: Vec<(&'static str, &'static str)>,
    /// An existing agency's cryptography (fixed at creation), by its label.
    pub crypto_fixed: Option<&'static str>,
    pub errors: FieldErrors,
    pub parents: Vec<Agency>,
    pub history: Vec<JournalRow>,
}

#[derive(Template)]
#[template(path = "admin/departments.html")]
pub struct DepartmentListPage {
    pub chrome: Chrome,
    pub ctx: AgencyContext,
    pub departments: Vec<Department>,
}

#[derive(Template)]
#[template(path = "admin/department_form.html")]
pub struct DepartmentFormPage {
    pub chrome: Chrome,
    pub ctx: AgencyContext,
    pub id: Option<i64>,
    pub version: i64,
    pub form: DepartmentInput,
    pub errors: FieldErrors,
    pub history: Vec<JournalRow>,
}

#[derive(Template)]
#[template(path = "admin/people.html")]
pub struct PeopleListPage {
    pub chrome: Chrome,
    pub ctx: AgencyContext,
    pub people: Vec<Person>,
}

#[derive(Template)]
#[template(path = "admin/person_form.html")]
pub struct PersonFormPage {
    pub chrome: Chrome,
    pub ctx: AgencyContext,
    pub id: Option<i64>,
    pub version: i64,
    pub form: PersonInput,
    pub active: bool,
    pub departments: Vec<Department>,
    pub errors: FieldErrors,
    pub history: Vec<JournalRow>,
}

#[derive(Template)]
#[template(path = "admin/leadership.html")]
pub struct LeadershipListPage {
    pub chrome: Chrome,
    pub ctx: AgencyContext,
    pub groups: LeadershipGroups,
}

#[derive(Template)]
#[template(path = "admin/leadership_form.html")]
pub struct LeadershipFormPage {
    pub chrome: Chrome,
    pub ctx: AgencyContext,
    pub id: Option<i64>,
    pub version: i64,
    pub form: LeadershipInput,
    pub errors: FieldErrors,
}

pub struct RoleChoice {
    pub code: &'static str,
    pub label: &'static str,
    pub checked: bool,
    /// Whether the viewer may change it (`Principal::may_grant`).
    pub grantable: bool,
    pub needs_security_admin: bool,
}

#[derive(Template)]
#[template(path = "admin/users.html")]
pub struct UserListPage {
    pub chrome: Chrome,
    pub ctx: AgencyContext,
    pub users: Vec<(User, String)>,
    /// Whether the viewer may create accounts (the 系统管理员).
    pub manages_accounts: bool,
}

#[derive(Template)]
#[template(path = "admin/user_form.html")]
pub struct UserFormPage {
    pub chrome: Chrome,
    pub ctx: AgencyContext,
    pub user: Option<User>,
    pub username: String,
    pub display_name: String,
    pub person_id: String,
    pub people: Vec<Person>,
    pub roles: Vec<RoleChoice>,
    /// Whether the viewer may reset the password and disable the account (the 系统管理员).
    pub manages_accounts: bool,
    /// Why the password of this account is not reset here (an account of the 三员), from
    /// the rule the server applies (`Principal::check_password_reset`).
    pub no_reset: Option<String>,
    pub errors: FieldErrors,
    pub notice: Option<&'static str>,
    pub history: Vec<JournalRow>,
}

/// One log as listed on the 记录核验 page.
pub struct LogRow {
    pub name: String,
    pub slug: String,
    pub size: u64,
    pub key: Option<String>,
    /// The witnesses' newest cosignatures: "县司法局见证 已副署至第 N 条（时间）".
    pub witnessed: Vec<String>,
}

/// This installation as a witness, on the 记录核验 page: its key, the logs it cosigns,
/// and the checkpoints it refused because they did not extend what it cosigned.
pub struct WitnessSection {
    pub key: Option<String>,
    pub logs: Vec<WitnessedRow>,
    pub conflicts: Vec<ConflictRow>,
}

pub struct WitnessedRow {
    pub name: String,
    pub origin: String,
    pub cosigned: String,
    pub hash: String,
}

pub struct ConflictRow {
    pub time: String,
    pub name: String,
    pub origin: String,
    /// In words: which size was cosigned and what came instead.
    pub summary: String,
    pub reason: String,
    pub checkpoint: String,
}

/// The server's check of one record, shown under the form.
pub struct CheckResult {
    pub verified: bool,
    pub message: String,
    pub origin: String,
    pub index: u64,
    pub size: u64,
    pub time: String,
    pub action: &'static str,
    pub subject: String,
    pub actor: String,
    pub root: String,
    pub proof: Vec<String>,
}

#[derive(Template)]
#[template(path = "portal/verify.html")]
pub struct VerifyPage {
    pub chrome: Chrome,
    pub logs: Vec<LogRow>,
    pub witness: Option<WitnessSection>,
    pub agency: String,
    pub hash: String,
    pub result: Option<CheckResult>,
}

pub use zhifa_store::today_beijing;

/// A day as the document renderer dates its files (year, month, day).
pub fn doc_date(d: chrono::NaiveDate) -> (i32, u8, u8) {
    use chrono::Datelike;
    (d.year(), d.month() as u8, d.day() as u8)
}

/// A credential as a list or page shows it, judged on one day.
pub struct CredentialRow {
    pub c: zhifa_store::credentials::Credential,
    pub day_status: zhifa_domain::credential::DayStatus,
    /// Days left when it ends within the warning period.
    pub expires_in: Option<i64>,
}

impl CredentialRow {
    /// "今日到期" / "N 天后到期" within the warning period.
    pub fn expiry_label(&self) -> Option<String> {
        self.expires_in.map(|n| match n {
            0 => "今日到期".to_owned(),
            n => format!("{n} 天后到期"),
        })
    }

    pub fn on(c: zhifa_store::credentials::Credential, day: chrono::NaiveDate) -> Self {
        let v = c.validity();
        CredentialRow {
            day_status: v.on(day),
            expires_in: v.expires_soon(day),
            c,
        }
    }
}

#[derive(Template)]
#[template(path = "admin/credentials.html")]
pub struct CredentialListPage {
    pub chrome: Chrome,
    pub ctx: AgencyContext,
    pub rows: Vec<CredentialRow>,
    pub today: String,
}

pub struct PersonChoice {
    pub id: i64,
    pub label: String,
}

#[derive(Template)]
#[template(path = "admin/credential_form.html")]
pub struct CredentialFormPage {
    pub chrome: Chrome,
    pub ctx: AgencyContext,
    pub id: Option<i64>,
    pub version: i64,
    pub form: zhifa_domain::credential::CredentialInput,
    pub errors: FieldErrors,
    pub people: Vec<PersonChoice>,
    /// On an existing credential: its state, the status form and its history.
    pub current: Option<CredentialRow>,
    pub status_form: zhifa_domain::credential::StatusInput,
    pub status_errors: FieldErrors,
    pub qr_svg: String,
    pub check_url: String,
    pub status_events: Vec<StatusEvent>,
    pub history: Vec<JournalRow>,
}

/// One status a credential had, from its log entries (registration and each change).
pub struct StatusEvent {
    pub at: String,
    pub actor: String,
    pub status: &'static str,
    pub reason: String,
}

#[derive(Template)]
#[template(path = "admin/credential_card.html")]
pub struct CredentialCardPage {
    pub chrome: Chrome,
    pub row: CredentialRow,
    pub qr_svg: String,
    pub check_url: String,
}

#[derive(Template)]
#[template(path = "portal/credential_check.html")]
pub struct CredentialCheckPage {
    pub chrome: Chrome,
    pub row: CredentialRow,
    pub checked_at: String,
}

#[derive(Template)]
#[template(path = "portal/credential_invalid.html")]
pub struct CredentialInvalidPage {
    pub chrome: Chrome,
    pub checked_at: String,
}

#[derive(Template)]
#[template(path = "portal/officers.html")]
pub struct OfficersPage {
    pub chrome: Chrome,
    pub agency: Agency,
    pub rows: Vec<CredentialRow>,
    pub today: String,
}

/// One item as the public list shows it.
pub struct ItemListRow {
    pub code: String,
    pub name: String,
    pub category: &'static str,
    pub department: String,
    pub basis: String,
    pub time_limit: String,
    pub versions_note: String,
}

pub struct CategoryChoice {
    pub code: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

pub struct DepartmentChoice {
    pub name: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "portal/items.html")]
pub struct ItemListPage {
    pub chrome: Chrome,
    pub agency: Agency,
    pub rows: Vec<ItemListRow>,
    pub q: String,
    pub categories: Vec<CategoryChoice>,
    pub departments: Vec<DepartmentChoice>,
    pub filtered: bool,
    pub today: String,
    pub updated: String,
    pub total: i64,
    pub page: i64,
    pub pages: i64,
    pub prev_href: Option<String>,
    pub next_href: Option<String>,
}

/// One version in an item's history, with what it changed.
pub struct ItemHistoryRow {
    pub version_no: i64,
    pub effective_from: String,
    pub published: String,
    pub in_force: bool,
    pub changes: Vec<String>,
}

#[derive(Template)]
#[template(path = "portal/item.html")]
pub struct ItemPage {
    pub chrome: Chrome,
    pub agency: Agency,
    pub code: String,
    pub current: zhifa_domain::catalog::ItemContent,
    pub basis: Vec<String>,
    pub effective_from: String,
    pub upcoming: Option<String>,
    pub history: Vec<ItemHistoryRow>,
    /// The procedures that apply to items of this category: (code, name).
    pub procedures: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "admin/items.html")]
pub struct ItemAdminListPage {
    pub chrome: Chrome,
    pub ctx: AgencyContext,
    pub rows: Vec<zhifa_store::catalog::ItemVersion>,
}

#[derive(Template)]
#[template(path = "admin/item_form.html")]
pub struct ItemFormPage {
    pub chrome: Chrome,
    pub ctx: AgencyContext,
    /// `Some` when adding a version to an existing item.
    pub item_id: Option<i64>,
    pub item_version: i64,
    pub latest_effective: Option<String>,
    pub form: zhifa_domain::catalog::ItemInput,
    pub errors: FieldErrors,
    pub categories: Vec<CategoryChoice>,
    pub history: Vec<JournalRow>,
}

/// A column of a published list, as a form input.
pub struct FormField {
    pub key: &'static str,
    pub label: &'static str,
    pub hint: &'static str,
    pub required: bool,
    /// "text", "area" or "choice".
    pub widget: &'static str,
    pub value: String,
    pub options: Vec<(&'static str, &'static str, bool)>,
    pub error: Option<String>,
}

/// A published list's entry, as a table row: its code and each column's text.
pub struct ListRow {
    pub id: i64,
    pub code: String,
    pub cells: Vec<String>,
    pub withdrawn: bool,
}

#[derive(Template)]
#[template(path = "portal/list.html")]
pub struct PublicListPage {
    pub chrome: Chrome,
    pub agency: Agency,
    pub kind_code: &'static str,
    pub title: &'static str,
    pub about: &'static str,
    pub headers: Vec<&'static str>,
    pub rows: Vec<ListRow>,
    pub updated: String,
}

#[derive(Template)]
#[template(path = "admin/lists.html")]
pub struct ListAdminPage {
    pub chrome: Chrome,
    pub ctx: AgencyContext,
    pub kind_code: &'static str,
    pub title: &'static str,
    pub headers: Vec<&'static str>,
    pub rows: Vec<ListRow>,
}

#[derive(Template)]
#[template(path = "admin/list_form.html")]
pub struct ListFormPage {
    pub chrome: Chrome,
    pub ctx: AgencyContext,
    pub kind_code: &'static str,
    pub title: &'static str,
    pub id: Option<i64>,
    pub version: i64,
    pub withdrawn: bool,
    pub code: String,
    pub code_error: Option<String>,
    pub fields: Vec<FormField>,
    pub errors: FieldErrors,
    pub history: Vec<JournalRow>,
}

/// One row of an import preview.
pub struct PreviewRow {
    pub row: usize,
    pub code: String,
    pub text: String,
    /// 新增… or 新增版本 / 替换….
    pub action: &'static str,
}

/// Importing a list from Excel: the upload form, the preview with its confirmation, the
/// problems found, or the result.
#[derive(Template)]
#[template(path = "admin/import.html")]
pub struct ImportPage {
    pub chrome: Chrome,
    pub ctx: AgencyContext,
    pub title: &'static str,
    /// Where the form posts (with `?agency=`).
    pub action: String,
    /// The list's administration page.
    pub back: String,
    /// Layout help shown under the file input.
    pub hint: String,
    /// (address, label) of templates and exports.
    pub links: Vec<(String, &'static str)>,
    pub errors: Vec<String>,
    pub preview: Vec<PreviewRow>,
    /// The checked file, base64, carried by the confirmation form.
    pub data: String,
    pub done: Option<String>,
}

/// One year of the working-day calendar as the administration page lists it.
pub struct CalendarYearRow {
    pub year: i32,
    pub notice: String,
    pub holidays: usize,
    pub workdays: usize,
    /// Added or corrected here (rather than shipped with zhifa).
    pub local: bool,
}

#[derive(Template)]
#[template(path = "admin/calendar.html")]
pub struct CalendarPage {
    pub chrome: Chrome,
    pub years: Vec<CalendarYearRow>,
    pub form_year: String,
    pub form_notice: String,
    pub form_holidays: String,
    pub form_workdays: String,
    pub version: i64,
    pub errors: FieldErrors,
    pub saved: Option<String>,
}

#[derive(Template)]
#[template(path = "portal/procedures.html")]
pub struct ProcedureListPage {
    pub chrome: Chrome,
    pub procedures: Vec<zhifa_domain::procedure::Procedure>,
}

/// A step's period as published: its span, statute, extension and the time it does not count.
pub struct PeriodRow {
    pub text: String,
    pub basis: String,
    /// (what may be extended, by whom, its statute)
    pub extension: Option<(String, String)>,
    /// (what is not counted, its statute)
    pub pauses: Vec<(String, String)>,
}

impl PeriodRow {
    pub fn from(p: &zhifa_domain::procedure::Period) -> Self {
        PeriodRow {
            text: p.display(),
            basis: p.basis.clone(),
            extension: p.extension.as_ref().map(|e| (e.display(), e.basis.clone())),
            pauses: p
                .pauses
                .iter()
                .map(|x| (x.label.clone(), x.basis.clone()))
                .collect(),
        }
    }
}

/// One step of a published procedure, in reading order.
pub struct ProcedureStepRow {
    pub number: usize,
    pub name: String,
    pub roles: String,
    pub documents: String,
    pub basis: String,
    pub deadline: Option<PeriodRow>,
    pub window: Option<PeriodRow>,
    pub next: Vec<String>,
}

#[derive(Template)]
#[template(path = "portal/procedure.html")]
pub struct ProcedurePage {
    pub chrome: Chrome,
    pub procedure: zhifa_domain::procedure::Procedure,
    pub steps: Vec<ProcedureStepRow>,
    /// Generated by `flowchart::svg`, every text in it escaped.
    pub svg: String,
}

/// A case as the case list shows it.
pub struct CaseListRow {
    pub id: i64,
    pub number: String,
    pub procedure: String,
    pub cause: String,
    pub department: String,
    pub step: String,
    pub closed: bool,
    pub due: Option<DueView>,
    pub opened_on: String,
}

/// A deadline as shown: the date, the days left and what it is for.
pub struct DueView {
    pub date: String,
    pub days_left: i64,
    pub what: String,
    pub basis: String,
}

impl DueView {
    pub fn overdue(&self) -> bool {
        self.days_left < 0
    }

    pub fn soon(&self) -> bool {
        (0..=7).contains(&self.days_left)
    }

    pub fn label(&self) -> String {
        match self.days_left {
            d if d < 0 => format!("已逾期 {} 天", -d),
            0 => "今天到期".into(),
            d => format!("剩 {d} 天"),
        }
    }
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "app/cases.html")]
pub struct CaseListPage {
    pub chrome: Chrome,
    pub rows: Vec<CaseListRow>,
    pub total: i64,
    pub counts: (i64, i64, i64),
    pub scope_label: String,
    pub statuses: Vec<Choice>,
    pub departments: Vec<Choice>,
    pub procedures: Vec<Choice>,
    pub q: String,
    pub mine: bool,
    pub can_open: bool,
    pub page: i64,
    pub pages: i64,
    pub query: String,
}

#[derive(Template)]
#[template(path = "app/case_new.html")]
pub struct CaseNewPage {
    pub chrome: Chrome,
    pub errors: zhifa_domain::FieldErrors,
    pub procedures: Vec<Choice>,
    pub departments: Vec<Choice>,
    pub items: Vec<Choice>,
    pub officers: Vec<Choice>,
    pub cause: String,
    pub opened_on: String,
    pub parties: Vec<PartyForm>,
}

/// One party's inputs on the new-case form (`p0_…`, `p1_…`).
pub struct PartyForm {
    pub prefix: String,
    pub kind: String,
    pub name: String,
    pub id_code: String,
    pub address: String,
}

pub struct PartyView {
    pub kind: &'static str,
    pub name: String,
    pub id_code: String,
    pub address: String,
}

pub struct CaseOfficerView {
    pub name: String,
    pub credential: String,
    pub credential_ok: bool,
    pub declared_on: Option<String>,
    /// The signed-in user is this officer and has not declared yet.
    pub may_declare: bool,
}

pub struct EventView {
    pub on_day: String,
    pub what: String,
    pub detail: String,
    pub by: String,
}

/// A next step the user may take, as a form.
pub struct NextAction {
    /// `None`: completing the last step ends the case.
    pub to: Option<String>,
    pub label: String,
    pub condition: String,
}

pub struct DiscretionChoice {
    pub index: usize,
    pub circumstance: String,
    pub severity: &'static str,
    pub measure: String,
    pub fine: String,
    pub selected: bool,
}

pub struct PauseChoice {
    pub code: String,
    pub label: String,
}

#[derive(Template)]
#[template(path = "app/case.html")]
pub struct CasePage {
    pub chrome: Chrome,
    pub id: i64,
    pub version: i64,
    pub number: String,
    pub procedure_code: String,
    pub procedure_name: String,
    pub cause: String,
    pub department: String,
    pub item: Option<String>,
    pub opened_on: String,
    pub closed_on: Option<String>,
    pub step_name: String,
    pub step_roles: String,
    pub step_basis: String,
    pub due: Option<DueView>,
    pub due_note: Option<String>,
    pub window: Option<String>,
    pub flowchart: String,
    pub parties: Vec<PartyView>,
    pub officers: Vec<CaseOfficerView>,
    pub penalty: Option<String>,
    pub penalty_detail: Vec<String>,
    pub major: Vec<String>,
    pub is_penalty_case: bool,
    pub may_set_penalty: bool,
    pub discretion: Vec<DiscretionChoice>,
    pub penalty_form: zhifa_domain::case::PenaltyInput,
    pub next: Vec<NextAction>,
    pub next_by: String,
    pub investigative: bool,
    pub assigned: Vec<Choice>,
    pub may_waive: bool,
    pub extension: Option<String>,
    pub pauses: Vec<PauseChoice>,
    pub paused: bool,
    pub today: String,
    pub errors: zhifa_domain::FieldErrors,
    pub events: Vec<EventView>,
    pub history: Vec<JournalRow>,
    /// Documents the user may issue now, and those issued.
    pub issuable: Vec<Choice>,
    pub documents: Vec<IssuedView>,
    pub evidence: Vec<EvidenceView>,
    pub evidence_kinds: Vec<Choice>,
    pub may_add_evidence: bool,
    /// A closed case: whether this user may reopen it, and who may.
    pub may_reopen: bool,
    pub reopen_by: String,
    /// The current step's deadline (passed) when this user may approve a late act.
    pub may_approve_late: Option<String>,
    pub reopen_basis: String,
}

/// Evidence on the case page.
pub struct EvidenceView {
    pub kind: String,
    pub name: String,
    /// A thing's specification and quantity ("塑料桶装 · 12 桶"), or "".
    pub thing: String,
    pub source: String,
    pub collected_on: String,
    pub by: String,
    /// Where its file downloads, when it has one, and its name and size.
    pub href: Option<String>,
    pub file: String,
}

/// "1.2 MB", "830 KB", "12 字节".
pub fn fmt_bytes(n: i64) -> String {
    if n >= 1_048_576 {
        format!("{:.1} MB", n as f64 / 1_048_576.0)
    } else if n >= 1024 {
        format!("{} KB", n / 1024)
    } else {
        format!("{n} 字节")
    }
}

/// An issued 执法文书: its files and the SHA-256 of the PDF the log commits to.
pub struct IssuedView {
    pub href: String,
    pub name: String,
    pub step: String,
    pub at: String,
    pub sha256: String,
}

/// One procedure's case number pattern on the administration page.
pub struct CaseNumberRow {
    pub code: String,
    pub name: String,
    pub pattern: String,
    pub example: String,
}

#[derive(Template)]
#[template(path = "admin/case_numbers.html")]
pub struct CaseNumbersPage {
    pub chrome: Chrome,
    pub ctx: AgencyContext,
    pub rows: Vec<CaseNumberRow>,
    pub errors: FieldErrors,
    pub saved: Option<String>,
}

/// The cryptography choices of the agency form, as (code, label).
pub fn crypto_choices() -> Vec<(&'static str, &'static str)> {
    zhifa_domain::Crypto::ALL
        .iter()
        .map(|c| (c.code(), c.label()))
        .collect()
}
