//! Agencies, departments, people and the leadership group: reads on [`Store`],
//! changes on [`WriteTx`].

use crate::db::Store;
use crate::error::{StoreError, unique_as_field};
use crate::write::WriteTx;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;
use zhifa_domain::access::AgencyScope;
use zhifa_domain::{
    AgencyKind, Crypto, LeadershipRank, NewAgency, NewDepartment, NewLeadershipMember, NewPerson,
};
use zhifa_ledger::HashAlg;

/// 执法主体 as stored.
#[derive(Debug, Clone, Serialize)]
pub struct Agency {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub kind: AgencyKind,
    pub credit_code: String,
    pub legal_basis: String,
    pub address: String,
    pub parent_id: Option<i64>,
    pub version: i64,
    pub updated_at: i64,
    /// Its log's cryptography.
    pub crypto: Crypto,
}

/// 承办机构 as stored, with its head count.
#[derive(Debug, Clone, Serialize)]
pub struct Department {
    pub id: i64,
    pub agency_id: i64,
    pub name: String,
    pub duties: String,
    pub sort_order: i64,
    pub version: i64,
    pub people_count: i64,
}

/// A member of staff as stored. `phone` is internal.
#[derive(Debug, Clone, Serialize)]
pub struct Person {
    pub id: i64,
    pub agency_id: i64,
    pub department_id: Option<i64>,
    pub department_name: Option<String>,
    pub name: String,
    pub position: String,
    pub phone: Option<String>,
    /// 公民身份号码, internal (show it masked).
    pub id_number: Option<String>,
    pub active: bool,
    pub version: i64,
}

/// A member of the 领导小组 as stored.
#[derive(Debug, Clone, Serialize)]
pub struct LeadershipMember {
    pub id: i64,
    pub agency_id: i64,
    pub name: String,
    pub rank: LeadershipRank,
    pub post: String,
    pub sort_order: i64,
    pub version: i64,
}

const AGENCY_COLS: &str =
    "id, slug, name, kind, credit_code, legal_basis, address, parent_id, version, updated_at,
     (SELECT l.hash_alg FROM ledger_logs l WHERE l.log_id = agencies.id) AS hash_alg";

/// The log hash function of a [`Crypto`] choice (its signatures follow: SM2 with SM3,
/// Ed25519 with SHA-256, `keys.rs`).
pub fn hash_alg(c: Crypto) -> HashAlg {
    match c {
        Crypto::International => HashAlg::Sha256,
        Crypto::Guomi => HashAlg::Sm3,
    }
}

/// The [`Crypto`] of a log's hash function.
pub fn crypto_of(alg: HashAlg) -> Crypto {
    match alg {
        HashAlg::Sha256 => Crypto::International,
        HashAlg::Sm3 => Crypto::Guomi,
    }
}

fn agency(r: &AnyRow) -> Result<Agency, StoreError> {
    let kind: String = r.try_get("kind")?;
    Ok(Agency {
        id: r.try_get("id")?,
        slug: r.try_get("slug")?,
        name: r.try_get("name")?,
        kind: AgencyKind::from_code(&kind).unwrap_or(AgencyKind::AdministrativeOrgan),
        credit_code: r.try_get("credit_code")?,
        legal_basis: r.try_get("legal_basis")?,
        address: r.try_get("address")?,
        parent_id: r.try_get("parent_id")?,
        version: r.try_get("version")?,
        updated_at: r.try_get("updated_at")?,
        crypto: r
            .try_get::<Option<String>, _>("hash_alg")?
            .as_deref()
            .and_then(HashAlg::from_code)
            .map(crypto_of)
            .unwrap_or(Crypto::International),
    })
}

fn department(r: &AnyRow) -> Result<Department, StoreError> {
    Ok(Department {
        id: r.try_get("id")?,
        agency_id: r.try_get("agency_id")?,
        name: r.try_get("name")?,
        duties: r.try_get("duties")?,
        sort_order: r.try_get("sort_order")?,
        version: r.try_get("version")?,
        people_count: r.try_get("people_count")?,
    })
}

fn person(r: &AnyRow) -> Result<Person, StoreError> {
    Ok(Person {
        id: r.try_get("id")?,
        agency_id: r.try_get("agency_id")?,
        department_id: r.try_get("department_id")?,
        department_name: r.try_get("department_name")?,
        name: r.try_get("name")?,
        position: r.try_get("position")?,
        phone: r.try_get("phone")?,
        id_number: r.try_get("id_number")?,
        active: r.try_get::<i64, _>("active")? != 0,
        version: r.try_get("version")?,
    })
}

fn leadership(r: &AnyRow) -> Result<LeadershipMember, StoreError> {
    let rank: String = r.try_get("rank")?;
    Ok(LeadershipMember {
        id: r.try_get("id")?,
        agency_id: r.try_get("agency_id")?,
        name: r.try_get("name")?,
        rank: LeadershipRank::from_code(&rank).unwrap_or(LeadershipRank::Member),
        post: r.try_get("post")?,
        sort_order: r.try_get("sort_order")?,
        version: r.try_get("version")?,
    })
}

const DEPARTMENT_SELECT: &str = "SELECT d.id, d.agency_id, d.name, d.duties, d.sort_order, d.version,
        (SELECT COUNT(*) FROM people p WHERE p.department_id = d.id AND p.active = 1) AS people_count
     FROM departments d";

const PERSON_SELECT: &str =
    "SELECT p.id, p.agency_id, p.department_id, d.name AS department_name, p.name,
        p.position, p.phone, p.id_number, p.active, p.version
     FROM people p LEFT JOIN departments d ON d.id = p.department_id";

impl Store {
    pub async fn list_agencies(&self) -> Result<Vec<Agency>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {AGENCY_COLS} FROM agencies ORDER BY id"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(agency).collect()
    }

    pub async fn agency(&self, id: i64) -> Result<Agency, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {AGENCY_COLS} FROM agencies WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref()
            .map(agency)
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    pub async fn agency_by_slug(&self, slug: &str) -> Result<Agency, StoreError> {
        // PostgreSQL refuses text containing NUL; no slug contains one.
        if slug.contains('\0') {
            return Err(StoreError::NotFound);
        }
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {AGENCY_COLS} FROM agencies WHERE slug = $1"
        )))
        .bind(slug.to_owned())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref()
            .map(agency)
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    /// The agency with its chain of ancestors, for access decisions.
    pub async fn agency_scope(&self, agency_id: i64) -> Result<AgencyScope, StoreError> {
        let mut ancestors = Vec::new();
        let mut current = self.agency(agency_id).await?.parent_id;
        // The depth is bounded (province → city → county → township); the bound also
        // stops a cycle that someone wrote into the database behind our back.
        while let Some(id) = current {
            if ancestors.len() >= 16 || ancestors.contains(&id) {
                break;
            }
            ancestors.push(id);
            current = self.agency(id).await?.parent_id;
        }
        Ok(AgencyScope {
            agency_id,
            ancestors,
        })
    }

    pub async fn list_departments(&self, agency_id: i64) -> Result<Vec<Department>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{DEPARTMENT_SELECT} WHERE d.agency_id = $1 ORDER BY d.sort_order, d.id"
        )))
        .bind(agency_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(department).collect()
    }

    pub async fn department(&self, id: i64) -> Result<Department, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{DEPARTMENT_SELECT} WHERE d.id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref()
            .map(department)
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    /// People of an agency, optionally of one department, active first.
    pub async fn list_people(
        &self,
        agency_id: i64,
        department_id: Option<i64>,
    ) -> Result<Vec<Person>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{PERSON_SELECT} WHERE p.agency_id = $1 AND ($2 = 0 OR p.department_id = $2)
             ORDER BY p.active DESC, d.sort_order IS NULL, d.sort_order, p.id"
        )))
        .bind(agency_id)
        .bind(department_id.unwrap_or(0))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(person).collect()
    }

    pub async fn person(&self, id: i64) -> Result<Person, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{PERSON_SELECT} WHERE p.id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref()
            .map(person)
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    /// The leadership group in the order of the plan: 组长, 副组长, 组员.
    pub async fn list_leadership(
        &self,
        agency_id: i64,
    ) -> Result<Vec<LeadershipMember>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, agency_id, name, rank, post, sort_order, version FROM leadership_members
             WHERE agency_id = $1 ORDER BY sort_order, id",
        )
        .bind(agency_id)
        .fetch_all(&self.pool)
        .await?;
        let mut members: Vec<LeadershipMember> =
            rows.iter().map(leadership).collect::<Result<_, _>>()?;
        members.sort_by_key(|m| (m.rank, m.sort_order, m.id));
        Ok(members)
    }

    pub async fn leadership_member(&self, id: i64) -> Result<LeadershipMember, StoreError> {
        let row = sqlx::query(
            "SELECT id, agency_id, name, rank, post, sort_order, version FROM leadership_members WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref()
            .map(leadership)
            .transpose()?
            .ok_or(StoreError::NotFound)
    }
}

/// Fails with `Stale` when an UPDATE guarded by `version` touched no row.
fn expect_one(rows: u64) -> Result<(), StoreError> {
    if rows == 1 {
        Ok(())
    } else {
        Err(StoreError::Stale)
    }
}

impl WriteTx {
    async fn check_agency_unique(
        &mut self,
        a: &NewAgency,
        except: Option<i64>,
    ) -> Result<(), StoreError> {
        let except = except.unwrap_or(0);
        let code_taken: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM agencies WHERE credit_code = $1 AND id <> $2")
                .bind(a.credit_code.as_str().to_owned())
                .bind(except)
                .fetch_one(self.conn())
                .await?;
        if code_taken > 0 {
            return Err(StoreError::field(
                "credit_code",
                format!("统一社会信用代码 {} 已被其他执法主体使用", a.credit_code),
            ));
        }
        let slug_taken: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM agencies WHERE slug = $1 AND id <> $2")
                .bind(a.slug.as_str().to_owned())
                .bind(except)
                .fetch_one(self.conn())
                .await?;
        // A log keeps the name (and origin) its agency had at creation, so a slug once
        // used by any log stays taken.
        let log_name_taken: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM ledger_logs WHERE name = $1 AND log_id <> $2")
                .bind(a.slug.as_str().to_owned())
                .bind(except)
                .fetch_one(self.conn())
                .await?;
        if slug_taken > 0 || log_name_taken > 0 {
            return Err(StoreError::field(
                "slug",
                "该标识已被其他执法主体使用（或曾被使用）",
            ));
        }
        if let Some(parent) = a.parent_id {
            let exists: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM agencies WHERE id = $1")
                .bind(parent)
                .fetch_one(self.conn())
                .await?;
            if exists == 0 {
                return Err(StoreError::field("parent_id", "上级执法主体不存在"));
            }
        }
        Ok(())
    }

    /// Creates an agency with its own log, on the cryptography it chose, or else its
    /// parent's (SHA-256 for a top-level agency).
    pub async fn create_agency(&mut self, a: &NewAgency) -> Result<i64, StoreError> {
        let alg = match (a.crypto, a.parent_id) {
            (Some(c), _) => hash_alg(c),
            (None, Some(p)) => {
                let code: Option<String> =
                    sqlx::query_scalar("SELECT hash_alg FROM ledger_logs WHERE log_id = $1")
                        .bind(p)
                        .fetch_optional(self.conn())
                        .await?;
                code.as_deref()
                    .and_then(HashAlg::from_code)
                    .unwrap_or(HashAlg::Sha256)
            }
            (None, None) => HashAlg::Sha256,
        };
        self.create_agency_with(a, alg).await
    }

    /// Creates an agency whose log uses `alg` (SM3 for 国密 deployments). The choice is
    /// permanent: one log never mixes hash functions.
    pub async fn create_agency_with(
        &mut self,
        a: &NewAgency,
        alg: HashAlg,
    ) -> Result<i64, StoreError> {
        self.check_agency_unique(a, None).await?;
        let now = self.now();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO agencies (slug, name, kind, credit_code, legal_basis, address, parent_id, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
        )
        .bind(a.slug.as_str().to_owned())
        .bind(a.name.clone())
        .bind(a.kind.code())
        .bind(a.credit_code.as_str().to_owned())
        .bind(a.legal_basis.clone())
        .bind(a.address.clone())
        .bind(a.parent_id)
        .bind(now)
        .fetch_one(self.conn())
        .await
        .map_err(|e| unique_as_field(e, "credit_code", "统一社会信用代码或标识与已有执法主体重复"))?;
        crate::ledger::create_log(self.conn(), id, a.slug.as_str(), alg, now).await?;
        // The first agency of an installation decides its own log's cryptography too, so
        // that a 国密 installation has no log of another kind.
        crate::ledger::create_system_log(self.conn(), alg, now).await?;
        // The installation's own log records that this log exists, so that deleting an
        // agency together with its whole log does not go unnoticed.
        self.record_log_created(id, a.slug.as_str(), alg);
        self.record_row(id, "agency.create", "agency", id).await?;
        Ok(id)
    }

    pub async fn update_agency(
        &mut self,
        id: i64,
        version: i64,
        a: &NewAgency,
    ) -> Result<(), StoreError> {
        // Take the agency's log head first: a commit appending to this log takes the head
        // and then needs a key-share lock on the agency row (journal's foreign key), so
        // the opposite order deadlocks on PostgreSQL.
        let head = self.lock_log_head(id).await?;
        if let Some(c) = a.crypto
            && hash_alg(c) != head.alg
        {
            return Err(StoreError::field(
                "crypto",
                format!(
                    "密码算法在创建执法主体时选定，之后不能更改（本单位为{}）",
                    crypto_of(head.alg).label()
                ),
            ));
        }
        self.check_agency_unique(a, Some(id)).await?;
        // A parent must not be the agency itself or one of its descendants.
        let mut cursor = a.parent_id;
        let mut steps = 0;
        while let Some(p) = cursor {
            if p == id || steps > 16 {
                return Err(StoreError::field(
                    "parent_id",
                    "上级执法主体不能是本单位或其下级单位",
                ));
            }
            cursor = sqlx::query_scalar("SELECT parent_id FROM agencies WHERE id = $1")
                .bind(p)
                .fetch_optional(self.conn())
                .await?
                .flatten();
            steps += 1;
        }
        self.guard_row("agency", id).await?;
        let now = self.now();
        let done = sqlx::query(
            "UPDATE agencies SET slug = $1, name = $2, kind = $3, credit_code = $4, legal_basis = $5,
                address = $6, parent_id = $7, updated_at = $8, version = version + 1
             WHERE id = $9 AND version = $10",
        )
        .bind(a.slug.as_str().to_owned())
        .bind(a.name.clone())
        .bind(a.kind.code())
        .bind(a.credit_code.as_str().to_owned())
        .bind(a.legal_basis.clone())
        .bind(a.address.clone())
        .bind(a.parent_id)
        .bind(now)
        .bind(id)
        .bind(version)
        .execute(self.conn())
        .await
        .map_err(|e| unique_as_field(e, "credit_code", "统一社会信用代码或标识与已有执法主体重复"))?;
        expect_one(done.rows_affected())?;
        self.record_row(id, "agency.update", "agency", id).await?;
        Ok(())
    }

    pub async fn create_department(
        &mut self,
        agency_id: i64,
        d: &NewDepartment,
    ) -> Result<i64, StoreError> {
        let now = self.now();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO departments (agency_id, name, duties, sort_order, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
        )
        .bind(agency_id)
        .bind(d.name.clone())
        .bind(d.duties.clone())
        .bind(d.sort_order)
        .bind(now)
        .fetch_one(self.conn())
        .await
        .map_err(|e| unique_as_field(e, "name", "本单位已有同名部门"))?;
        self.record_row(agency_id, "department.create", "department", id)
            .await?;
        Ok(id)
    }

    pub async fn update_department(
        &mut self,
        id: i64,
        version: i64,
        d: &NewDepartment,
    ) -> Result<(), StoreError> {
        let agency_id: i64 = sqlx::query_scalar("SELECT agency_id FROM departments WHERE id = $1")
            .bind(id)
            .fetch_optional(self.conn())
            .await?
            .ok_or(StoreError::NotFound)?;
        self.guard_row("department", id).await?;
        let done = sqlx::query(
            "UPDATE departments SET name = $1, duties = $2, sort_order = $3, updated_at = $4,
                version = version + 1 WHERE id = $5 AND version = $6",
        )
        .bind(d.name.clone())
        .bind(d.duties.clone())
        .bind(d.sort_order)
        .bind(self.now())
        .bind(id)
        .bind(version)
        .execute(self.conn())
        .await
        .map_err(|e| unique_as_field(e, "name", "本单位已有同名部门"))?;
        expect_one(done.rows_affected())?;
        self.record_row(agency_id, "department.update", "department", id)
            .await?;
        Ok(())
    }

    /// Validates that a department belongs to the agency (a form may name any id).
    async fn check_department_of(
        &mut self,
        agency_id: i64,
        department_id: Option<i64>,
    ) -> Result<(), StoreError> {
        if let Some(d) = department_id {
            let n: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM departments WHERE id = $1 AND agency_id = $2",
            )
            .bind(d)
            .bind(agency_id)
            .fetch_one(self.conn())
            .await?;
            if n == 0 {
                return Err(StoreError::field("department_id", "所选部门不属于本单位"));
            }
        }
        Ok(())
    }

    pub async fn create_person(
        &mut self,
        agency_id: i64,
        p: &NewPerson,
    ) -> Result<i64, StoreError> {
        self.check_department_of(agency_id, p.department_id).await?;
        let now = self.now();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO people (agency_id, department_id, name, position, phone, id_number, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
        )
        .bind(agency_id)
        .bind(p.department_id)
        .bind(p.name.clone())
        .bind(p.position.clone())
        .bind(p.phone.as_ref().map(|x| x.as_str().to_owned()))
        .bind(p.id_number.as_ref().map(|x| x.as_str().to_owned()))
        .bind(now)
        .fetch_one(self.conn())
        .await?;
        self.record_row(agency_id, "person.create", "person", id)
            .await?;
        Ok(id)
    }

    pub async fn update_person(
        &mut self,
        id: i64,
        version: i64,
        p: &NewPerson,
        active: bool,
    ) -> Result<(), StoreError> {
        let agency_id: i64 = sqlx::query_scalar("SELECT agency_id FROM people WHERE id = $1")
            .bind(id)
            .fetch_optional(self.conn())
            .await?
            .ok_or(StoreError::NotFound)?;
        self.check_department_of(agency_id, p.department_id).await?;
        self.guard_row("person", id).await?;
        let done = sqlx::query(
            "UPDATE people SET department_id = $1, name = $2, position = $3, phone = $4, active = $5,
                updated_at = $6, version = version + 1, id_number = $9 WHERE id = $7 AND version = $8",
        )
        .bind(p.department_id)
        .bind(p.name.clone())
        .bind(p.position.clone())
        .bind(p.phone.as_ref().map(|x| x.as_str().to_owned()))
        .bind(i64::from(active))
        .bind(self.now())
        .bind(id)
        .bind(version)
        .bind(p.id_number.as_ref().map(|x| x.as_str().to_owned()))
        .execute(self.conn())
        .await?;
        expect_one(done.rows_affected())?;
        self.record_row(agency_id, "person.update", "person", id)
            .await?;
        Ok(())
    }

    pub async fn create_leadership_member(
        &mut self,
        agency_id: i64,
        m: &NewLeadershipMember,
    ) -> Result<i64, StoreError> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO leadership_members (agency_id, name, rank, post, sort_order, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
        )
        .bind(agency_id)
        .bind(m.name.clone())
        .bind(m.rank.code())
        .bind(m.post.clone())
        .bind(m.sort_order)
        .bind(self.now())
        .fetch_one(self.conn())
        .await?;
        self.record_row(agency_id, "leadership.create", "leadership_member", id)
            .await?;
        Ok(id)
    }

    pub async fn update_leadership_member(
        &mut self,
        id: i64,
        version: i64,
        m: &NewLeadershipMember,
    ) -> Result<(), StoreError> {
        let agency_id: i64 =
            sqlx::query_scalar("SELECT agency_id FROM leadership_members WHERE id = $1")
                .bind(id)
                .fetch_optional(self.conn())
                .await?
                .ok_or(StoreError::NotFound)?;
        self.guard_row("leadership_member", id).await?;
        let done = sqlx::query(
            "UPDATE leadership_members SET name = $1, rank = $2, post = $3, sort_order = $4,
                updated_at = $5, version = version + 1 WHERE id = $6 AND version = $7",
        )
        .bind(m.name.clone())
        .bind(m.rank.code())
        .bind(m.post.clone())
        .bind(m.sort_order)
        .bind(self.now())
        .bind(id)
        .bind(version)
        .execute(self.conn())
        .await?;
        expect_one(done.rows_affected())?;
        self.record_row(agency_id, "leadership.update", "leadership_member", id)
            .await?;
        Ok(())
    }

    pub async fn remove_leadership_member(
        &mut self,
        id: i64,
        version: i64,
    ) -> Result<(), StoreError> {
        let agency_id: i64 =
            sqlx::query_scalar("SELECT agency_id FROM leadership_members WHERE id = $1")
                .bind(id)
                .fetch_optional(self.conn())
                .await?
                .ok_or(StoreError::NotFound)?;
        self.guard_row("leadership_member", id).await?;
        let done = sqlx::query("DELETE FROM leadership_members WHERE id = $1 AND version = $2")
            .bind(id)
            .bind(version)
            .execute(self.conn())
            .await?;
        expect_one(done.rows_affected())?;
        self.record_row(agency_id, "leadership.remove", "leadership_member", id)
            .await?;
        Ok(())
    }
}
