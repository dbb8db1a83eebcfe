//! Snapshots of ledgered rows: the canonical payload an entry commits to, and what
//! `verify` recomputes from the current row to find changes made behind zhifa's back.
//!
//! A snapshot is canonical JSON: keys sorted, no whitespace, integers and strings only.
//! Secrets are not copied: a password hash enters as its SHA-256.

use crate::accounts::secret_hash;
use crate::error::StoreError;
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

/// The kinds of ledgered rows, with their tables.
pub const LEDGERED: &[(&str, &str)] = &[
    ("agency", "agencies"),
    ("department", "departments"),
    ("person", "people"),
    ("leadership_member", "leadership_members"),
    ("user", "users"),
    ("api_token", "api_tokens"),
    ("credential", "credentials"),
    ("catalog_item", "catalog_items"),
    ("catalog_item_version", "catalog_item_versions"),
    ("list_entry", "list_entries"),
    ("calendar_year", "calendar_years"),
    ("case_number_pattern", "case_number_patterns"),
    ("case", "cases"),
    ("case_party", "case_parties"),
    ("case_officer", "case_officers"),
    ("case_event", "case_events"),
    ("case_document", "case_documents"),
    ("case_evidence", "case_evidence"),
];

/// The actions whose entries commit to a row's full state. Which entries are snapshots is
/// decided by the action, which the signed entry itself carries, never by a journal flag.
pub const ROW_ACTIONS: &[&str] = &[
    "agency.create",
    "agency.update",
    "department.create",
    "department.update",
    "person.create",
    "person.update",
    "leadership.create",
    "leadership.update",
    "leadership.remove",
    "user.create",
    "user.roles",
    "user.password",
    "user.disable",
    "user.enable",
    "token.create",
    "token.revoke",
    "credential.create",
    "credential.update",
    "credential.status",
    "credential.token",
    "item.create",
    "item.version",
    "item_version.create",
    "list_entry.create",
    "list_entry.update",
    "list_entry.withdraw",
    "calendar.year",
    "case_number.pattern",
    "case.open",
    "case.act",
    "case.deadline",
    "case_party.add",
    "case_officer.assign",
    "case_officer.declare",
    "case_event.record",
    "case_document.issue",
    "case_evidence.add",
];

pub fn is_row_action(action: &str) -> bool {
    ROW_ACTIONS.contains(&action)
}

/// The row actions that make a new row: it has no earlier entry to be checked against,
/// and must have none (an entry of the same subject would mean the row it recorded was
/// deleted behind zhifa's back and its id taken again). Every other row action changes or
/// removes a row that `WriteTx::guard_rows` checked first (`write.rs`).
pub const CREATING_ACTIONS: &[&str] = &[
    "agency.create",
    "department.create",
    "person.create",
    "leadership.create",
    "user.create",
    "token.create",
    "credential.create",
    "item.create",
    "item_version.create",
    "list_entry.create",
    "case.open",
    "case_party.add",
    "case_officer.assign",
    "case_event.record",
    "case_document.issue",
    "case_evidence.add",
];

pub fn creates(action: &str) -> bool {
    CREATING_ACTIONS.contains(&action)
}

/// The fields an action may change in its row, beyond the row's `version` and
/// `updated_at` (which every change moves). `zhifa verify` compares each snapshot with the
/// row's previous one: a change outside this list is an entry that says more than its
/// action — a role slipped in with a password reset, a party's case number moved by a step
/// — whoever wrote it. Each list is what the action's statement writes (`org.rs`,
/// `accounts.rs`, `credentials.rs`, `catalog.rs`, `lists.rs`, `calendar.rs`, `cases.rs`).
/// `None`: the action creates its row or removes it, so there is nothing to compare.
pub fn may_change(action: &str) -> Option<&'static [&'static str]> {
    Some(match action {
        "agency.update" => &[
            "slug",
            "name",
            "kind",
            "credit_code",
            "legal_basis",
            "address",
            "parent_id",
        ],
        "department.update" => &["name", "duties", "sort_order"],
        // The 身份证号 is written too, but kept out of the snapshot (personal data).
        "person.update" => &["department_id", "name", "position", "phone", "active"],
        "leadership.update" => &["name", "rank", "post", "sort_order"],
        "user.roles" => &["roles"],
        "user.password" => &["password_hash_sha256"],
        "user.disable" | "user.enable" => &["disabled"],
        "token.revoke" => &["revoked"],
        "credential.update" => &[
            "person_id",
            "kind",
            "number",
            "issuer",
            "area",
            "valid_from",
            "valid_to",
        ],
        "credential.status" => &["status", "status_reason"],
        "credential.token" => &["qr_token"],
        // A new version of an item is its own row; the item only counts it.
        "item.version" => &[],
        "list_entry.update" => &["code", "content", "withdrawn"],
        "list_entry.withdraw" => &["withdrawn"],
        "calendar.year" => &["notice", "holidays", "workdays"],
        "case_number.pattern" => &["pattern"],
        "case.act" => &[
            "step",
            "entered_on",
            "closed_on",
            "due_on",
            "penalty",
            "major",
            "window_waived",
        ],
        "case.deadline" => &["due_on"],
        "case_officer.declare" => &["declared_on"],
        _ => return None,
    })
}

/// The fields of `after` that differ from `before` and that `action` may not change
/// (both canonical snapshots of one row); empty when the change is within the action's
/// reach, or when either side is not a row's snapshot (a removal, an unreadable payload).
pub fn overreach(action: &str, before: &str, after: &str) -> Vec<String> {
    let Some(allowed) = may_change(action) else {
        return vec![];
    };
    let (Ok(Value::Object(before)), Ok(Value::Object(after))) = (
        serde_json::from_str::<Value>(before),
        serde_json::from_str::<Value>(after),
    ) else {
        return vec![];
    };
    if before.contains_key("deleted") || after.contains_key("deleted") {
        return vec![];
    }
    let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| !matches!(k.as_str(), "version" | "updated_at"))
        .filter(|k| !allowed.contains(&k.as_str()))
        .filter(|k| before.get(*k) != after.get(*k))
        .cloned()
        .collect()
}

/// What a subject kind is called in messages to people (and on the audit pages).
pub fn label(kind: &str) -> &'static str {
    match kind {
        // Subjects of events, not rows: a user name typed at a failed login, an alert.
        "username" => "用户名",
        "integrity" => "数据完整性",
        "agency" => "执法主体",
        "department" => "承办机构",
        "person" => "人员",
        "leadership_member" => "领导小组成员",
        "user" => "账号",
        "api_token" => "令牌",
        "credential" => "执法证件",
        "catalog_item" => "执法事项",
        "catalog_item_version" => "执法事项版本",
        "list_entry" => "清单条目",
        "calendar_year" => "工作日历",
        "case_number_pattern" => "案件编号规则",
        "case" => "案件",
        "case_party" => "当事人",
        "case_officer" => "承办人员",
        "case_event" => "执法过程记录",
        "case_document" => "执法文书",
        "case_evidence" => "证据",
        _ => "记录",
    }
}

/// Canonical JSON of `fields` (sorted by key).
pub fn canonical(fields: Vec<(&'static str, Value)>) -> String {
    canonical_value(&Value::Object(
        fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
    ))
}

/// Canonical JSON of any value: object keys sorted at every depth.
pub fn canonical_value(v: &Value) -> String {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let body: Vec<String> = keys
                .iter()
                .map(|k| {
                    format!(
                        "{}:{}",
                        Value::String((*k).clone()),
                        canonical_value(&map[*k])
                    )
                })
                .collect();
            format!("{{{}}}", body.join(","))
        }
        Value::Array(items) => {
            let body: Vec<String> = items.iter().map(canonical_value).collect();
            format!("[{}]", body.join(","))
        }
        other => other.to_string(),
    }
}

/// What a deleted row's last entry commits to.
pub fn deleted() -> String {
    canonical(vec![("deleted", Value::Bool(true))])
}

fn int(r: &AnyRow, c: &str) -> Result<Value, StoreError> {
    Ok(r.try_get::<Option<i64>, _>(c)?
        .map(Value::from)
        .unwrap_or(Value::Null))
}

fn text(r: &AnyRow, c: &str) -> Result<Value, StoreError> {
    Ok(r.try_get::<Option<String>, _>(c)?
        .map(Value::from)
        .unwrap_or(Value::Null))
}

fn query(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "agency" => {
            "SELECT id, slug, name, kind, credit_code, legal_basis, address, parent_id, version, created_at, updated_at FROM agencies"
        }
        "department" => {
            "SELECT id, agency_id, name, duties, sort_order, version, created_at, updated_at FROM departments"
        }
        "person" => {
            "SELECT id, agency_id, department_id, name, position, phone, id_number, active, version, created_at, updated_at FROM people"
        }
        "leadership_member" => {
            "SELECT id, agency_id, name, rank, post, sort_order, version, created_at, updated_at FROM leadership_members"
        }
        "user" => {
            "SELECT id, agency_id, person_id, username, display_name, password_hash, roles, disabled, version, created_at, updated_at FROM users"
        }
        "api_token" => {
            "SELECT id, user_id, name, token_hash, revoked, created_at, expires_at, read_only FROM api_tokens"
        }
        "catalog_item" => {
            "SELECT id, agency_id, code, version, created_at, updated_at FROM catalog_items"
        }
        "list_entry" => {
            "SELECT id, agency_id, kind, code, content, withdrawn, version, created_at, updated_at FROM list_entries"
        }
        "calendar_year" => {
            "SELECT id, notice, holidays, workdays, version, created_at, updated_at FROM calendar_years"
        }
        "case_number_pattern" => {
            "SELECT id, agency_id, procedure, pattern, version, created_at, updated_at FROM case_number_patterns"
        }
        "case" => {
            "SELECT id, agency_id, department_id, procedure, number, year, seq, item_id, cause, step, entered_on, opened_on, closed_on, due_on, penalty, major, window_waived, version, created_at, updated_at FROM cases"
        }
        "case_party" => {
            "SELECT id, case_id, kind, name, id_code, address, created_at FROM case_parties"
        }
        "case_officer" => {
            "SELECT id, case_id, person_id, declared_on, version, created_at, updated_at FROM case_officers"
        }
        "case_event" => {
            "SELECT id, case_id, kind, step, to_step, on_day, user_id, detail, created_at FROM case_events"
        }
        "case_document" => {
            "SELECT id, case_id, kind, name, step, pdf, docx, created_by, created_at FROM case_documents"
        }
        "case_evidence" => {
            "SELECT id, case_id, kind, name, source, spec, quantity, collected_on, user_id, file_name, file, created_at FROM case_evidence"
        }
        "catalog_item_version" => {
            "SELECT id, item_id, version_no, effective_from, name, category, department, content, created_at FROM catalog_item_versions"
        }
        "credential" => {
            "SELECT id, agency_id, person_id, kind, number, issuer, area, valid_from, valid_to, status, status_reason, qr_token, version, created_at, updated_at FROM credentials"
        }
        _ => return None,
    })
}

/// The snapshot of one decoded row of `kind`.
pub fn of_row(kind: &str, r: &AnyRow) -> Result<String, StoreError> {
    let t = |c: &'static str| text(r, c).map(|v| (c, v));
    let i = |c: &'static str| int(r, c).map(|v| (c, v));
    let fields = match kind {
        "agency" => vec![
            i("id")?,
            t("slug")?,
            t("name")?,
            t("kind")?,
            t("credit_code")?,
            t("legal_basis")?,
            t("address")?,
            i("parent_id")?,
            i("version")?,
            i("created_at")?,
            i("updated_at")?,
        ],
        "department" => vec![
            i("id")?,
            i("agency_id")?,
            t("name")?,
            t("duties")?,
            i("sort_order")?,
            i("version")?,
            i("created_at")?,
            i("updated_at")?,
        ],
        "person" => vec![
            i("id")?,
            i("agency_id")?,
            i("department_id")?,
            t("name")?,
            t("position")?,
            t("phone")?,
            i("active")?,
            i("version")?,
            i("created_at")?,
            i("updated_at")?,
        ],
        "leadership_member" => vec![
            i("id")?,
            i("agency_id")?,
            t("name")?,
            t("rank")?,
            t("post")?,
            i("sort_order")?,
            i("version")?,
            i("created_at")?,
            i("updated_at")?,
        ],
        "user" => {
            let hash: String = r.try_get("password_hash")?;
            vec![
                i("id")?,
                i("agency_id")?,
                i("person_id")?,
                t("username")?,
                t("display_name")?,
                ("password_hash_sha256", Value::from(secret_hash(&hash))),
                t("roles")?,
                i("disabled")?,
                i("version")?,
                i("created_at")?,
                i("updated_at")?,
            ]
        }
        "api_token" => vec![
            i("id")?,
            i("user_id")?,
            t("name")?,
            t("token_hash")?,
            i("revoked")?,
            i("created_at")?,
        ],
        "calendar_year" => vec![
            i("id")?,
            t("notice")?,
            t("holidays")?,
            t("workdays")?,
            i("version")?,
            i("created_at")?,
            i("updated_at")?,
        ],
        "list_entry" => vec![
            i("id")?,
            i("agency_id")?,
            t("kind")?,
            t("code")?,
            t("content")?,
            i("withdrawn")?,
            i("version")?,
            i("created_at")?,
            i("updated_at")?,
        ],
        "catalog_item" => vec![
            i("id")?,
            i("agency_id")?,
            t("code")?,
            i("version")?,
            i("created_at")?,
            i("updated_at")?,
        ],
        "catalog_item_version" => vec![
            i("id")?,
            i("item_id")?,
            i("version_no")?,
            t("effective_from")?,
            t("name")?,
            t("category")?,
            t("department")?,
            t("content")?,
            i("created_at")?,
        ],
        "credential" => vec![
            i("id")?,
            i("agency_id")?,
            i("person_id")?,
            t("kind")?,
            t("number")?,
            t("issuer")?,
            t("area")?,
            t("valid_from")?,
            t("valid_to")?,
            t("status")?,
            t("status_reason")?,
            t("qr_token")?,
            i("version")?,
            i("created_at")?,
            i("updated_at")?,
        ],
        "case_number_pattern" => vec![
            i("id")?,
            i("agency_id")?,
            t("procedure")?,
            t("pattern")?,
            i("version")?,
            i("created_at")?,
            i("updated_at")?,
        ],
        "case" => vec![
            i("id")?,
            i("agency_id")?,
            i("department_id")?,
            t("procedure")?,
            t("number")?,
            i("year")?,
            i("seq")?,
            i("item_id")?,
            t("cause")?,
            t("step")?,
            t("entered_on")?,
            t("opened_on")?,
            t("closed_on")?,
            t("due_on")?,
            t("penalty")?,
            t("major")?,
            i("window_waived")?,
            i("version")?,
            i("created_at")?,
            i("updated_at")?,
        ],
        "case_party" => vec![
            i("id")?,
            i("case_id")?,
            t("kind")?,
            t("name")?,
            t("id_code")?,
            t("address")?,
            i("created_at")?,
        ],
        "case_officer" => vec![
            i("id")?,
            i("case_id")?,
            i("person_id")?,
            t("declared_on")?,
            i("version")?,
            i("created_at")?,
            i("updated_at")?,
        ],
        "case_event" => vec![
            i("id")?,
            i("case_id")?,
            t("kind")?,
            t("step")?,
            t("to_step")?,
            t("on_day")?,
            i("user_id")?,
            t("detail")?,
            i("created_at")?,
        ],
        "case_document" => {
            // The files enter as their SHA-256: the entry commits to exactly these bytes.
            let digest = |c: &str| -> Result<Value, StoreError> {
                let bytes: Vec<u8> = r.try_get(c)?;
                use sha2::Digest;
                Ok(Value::from(zhifa_ledger::hash::to_hex(
                    &sha2::Sha256::digest(&bytes),
                )))
            };
            vec![
                i("id")?,
                i("case_id")?,
                t("kind")?,
                t("name")?,
                t("step")?,
                ("pdf_sha256", digest("pdf")?),
                ("docx_sha256", digest("docx")?),
                i("created_by")?,
                i("created_at")?,
            ]
        }
        "case_evidence" => {
            // The file enters as its SHA-256 ("" when the evidence has no file).
            let file: Option<Vec<u8>> = r.try_get("file")?;
            let digest = file.map(|b| {
                use sha2::Digest;
                zhifa_ledger::hash::to_hex(&sha2::Sha256::digest(&b))
            });
            vec![
                i("id")?,
                i("case_id")?,
                t("kind")?,
                t("name")?,
                t("source")?,
                t("spec")?,
                t("quantity")?,
                t("collected_on")?,
                i("user_id")?,
                t("file_name")?,
                ("file_sha256", Value::from(digest.unwrap_or_default())),
                i("created_at")?,
            ]
        }
        _ => return Err(StoreError::NotFound),
    };
    let mut fields = fields;
    // Added in migration 0006: left out while empty, so that people recorded before it
    // still match their entries.
    if kind == "person"
        && let Some(n) = r.try_get::<Option<String>, _>("id_number")?
    {
        fields.push(("id_number", Value::from(n)));
    }
    // Added in migration 0017: a token's terms, left out while NULL / 0 (tokens made
    // before it), so that every other value is in the snapshot and changes it.
    if kind == "api_token" {
        if let Some(at) = r.try_get::<Option<i64>, _>("expires_at")? {
            fields.push(("expires_at", Value::from(at)));
        }
        if r.try_get::<i64, _>("read_only")? != 0 {
            fields.push(("read_only", Value::from(1)));
        }
    }
    Ok(canonical(fields))
}

/// The columns a snapshot of `kind` reads, for a `RETURNING` clause: a statement that
/// writes a row can hand back exactly what [`of_row`] needs, sparing a read.
pub fn returning(kind: &str) -> Option<&'static str> {
    let sql = query(kind)?;
    let cols = sql.strip_prefix("SELECT ")?;
    cols.rfind(" FROM ").map(|i| &cols[..i])
}

/// The current snapshot of the row `kind`/`id`, locked for the rest of the transaction
/// (PostgreSQL: `FOR UPDATE`; SQLite's writer holds the whole file already). A check of the
/// row against its entry must not see the row before a concurrent act committed and the
/// journal after it: waiting for the lock, it reads both after.
pub async fn read_locked(
    conn: &mut AnyConnection,
    kind: &str,
    id: i64,
    backend: crate::Backend,
) -> Result<Option<String>, StoreError> {
    let sql = query(kind).ok_or(StoreError::NotFound)?;
    let lock = match backend {
        crate::Backend::Postgres => " FOR UPDATE",
        crate::Backend::Sqlite => "",
    };
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("{sql} WHERE id = $1{lock}")))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.map(|r| of_row(kind, &r)).transpose()
}

/// The current snapshot of the row `kind`/`id`, or `None` when it does not exist.
pub async fn read(
    conn: &mut AnyConnection,
    kind: &str,
    id: i64,
) -> Result<Option<String>, StoreError> {
    let sql = query(kind).ok_or(StoreError::NotFound)?;
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("{sql} WHERE id = $1")))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.map(|r| of_row(kind, &r)).transpose()
}

/// The rows of `kind` that `condition` (SQL with one parameter, `$1`) selects — a case's
/// parties: `case_id = $1` — with their snapshots, in id order.
pub async fn read_where(
    conn: &mut AnyConnection,
    kind: &str,
    condition: &'static str,
    value: i64,
) -> Result<Vec<(i64, String)>, StoreError> {
    let sql = query(kind).ok_or(StoreError::NotFound)?;
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{sql} WHERE {condition} ORDER BY id"
    )))
    .bind(value)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get::<i64, _>("id")?, of_row(kind, r)?)))
        .collect()
}

/// Every row of `kind` with its snapshot (for `verify`).
pub async fn all(conn: &mut AnyConnection, kind: &str) -> Result<Vec<(i64, String)>, StoreError> {
    let sql = query(kind).ok_or(StoreError::NotFound)?;
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!("{sql} ORDER BY id")))
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get::<i64, _>("id")?, of_row(kind, r)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returning_lists_the_snapshot_columns() {
        assert_eq!(
            returning("case_event"),
            Some("id, case_id, kind, step, to_step, on_day, user_id, detail, created_at")
        );
        assert_eq!(returning("nothing"), None);
    }

    #[test]
    fn creating_actions_are_row_actions_and_every_kind_has_a_label() {
        assert!(CREATING_ACTIONS.iter().all(|a| is_row_action(a)));
        assert!(LEDGERED.iter().all(|(kind, _)| label(kind) != "记录"));
    }

    #[test]
    fn an_action_may_change_only_its_fields() {
        let before =
            r#"{"id":7,"password_hash_sha256":"aa","roles":"officer","updated_at":1,"version":1}"#;
        let reset =
            r#"{"id":7,"password_hash_sha256":"bb","roles":"officer","updated_at":2,"version":2}"#;
        assert!(overreach("user.password", before, reset).is_empty());
        let slipped =
            r#"{"id":7,"password_hash_sha256":"bb","roles":"admin","updated_at":2,"version":2}"#;
        assert_eq!(overreach("user.password", before, slipped), vec!["roles"]);
        assert!(overreach("user.roles", before, slipped).len() == 1);
        // A field that appears or disappears counts as a change.
        let extra = r#"{"id":7,"password_hash_sha256":"aa","roles":"officer","x":1}"#;
        assert_eq!(overreach("user.roles", before, extra), vec!["x"]);
        // Removals and creations are not compared.
        assert!(overreach("leadership.remove", before, &deleted()).is_empty());
        assert!(overreach("user.create", before, slipped).is_empty());
        // Every action that changes a row has its list; every listed action is a row action.
        for a in ROW_ACTIONS {
            let changes = !creates(a) && *a != "leadership.remove";
            assert_eq!(may_change(a).is_some(), changes, "{a}");
        }
    }

    #[test]
    fn canonical_json_sorts_keys_and_escapes() {
        let s = canonical(vec![
            ("name", Value::from("司法所 \"A\"")),
            ("id", Value::from(3)),
            ("parent_id", Value::Null),
        ]);
        assert_eq!(s, r#"{"id":3,"name":"司法所 \"A\"","parent_id":null}"#);
    }
}
